#include "auth/base64url.hpp"

#include <array>
#include <cstdint>

namespace bulwark::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kInvalid = 0x80;

// Sextet value of each byte, or kInvalid: one table lookup per character, and one branch
// per four characters (invalid values OR together into the high bit).
constexpr std::array<uint8_t, 256> kSextets = [] {
  std::array<uint8_t, 256> table{};
  table.fill(kInvalid);
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = i;
  return table;
}();

uint8_t sextet(char c) {
  return kSextets[static_cast<uint8_t>(c)];
}

}  // namespace

void base64url_encode_append(std::string_view bytes, std::string& out) {
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  const std::size_t start = out.size();
  out.resize(start + (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1));
  char* p = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
  }
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  base64url_encode_append(bytes, out);
  return out;
}

bool base64url_decode_into(std::string_view text, std::string& out) {
  const std::size_t n = text.size();
  const std::size_t tail = n % 4;
  if (tail == 1) return false;  // 6 bits cannot make a byte
  out.resize((n / 4) * 3 + (tail == 0 ? 0 : tail - 1));
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  const char* s = text.data();
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint8_t a = sextet(s[i]), b = sextet(s[i + 1]), c = sextet(s[i + 2]),
                  d = sextet(s[i + 3]);
    if ((a | b | c | d) & kInvalid) return false;
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    *p++ = static_cast<uint8_t>(v >> 16);
    *p++ = static_cast<uint8_t>(v >> 8);
    *p++ = static_cast<uint8_t>(v);
  }
  if (tail == 2) {
    const uint8_t a = sextet(s[i]), b = sextet(s[i + 1]);
    if ((a | b) & kInvalid) return false;
    if (b & 0x0F) return false;  // non-canonical: unused low bits must be zero
    *p = static_cast<uint8_t>((a << 2) | (b >> 4));
  } else if (tail == 3) {
    const uint8_t a = sextet(s[i]), b = sextet(s[i + 1]), c = sextet(s[i + 2]);
    if ((a | b | c) & kInvalid) return false;
    if (c & 0x03) return false;  // non-canonical: unused low bits must be zero
    const uint32_t v = (uint32_t{a} << 10) | (uint32_t{b} << 4) | (c >> 2);
    *p++ = static_cast<uint8_t>(v >> 8);
    *p = static_cast<uint8_t>(v);
  }
  return true;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  if (!base64url_decode_into(text, out)) return std::nullopt;
  return out;
}

}  // namespace bulwark::auth
