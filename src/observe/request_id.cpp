#include "observe/request_id.hpp"

#include <cstdint>
#include <random>

namespace bulwark::observe {
namespace {

// xoshiro256** : fast, good statistical quality; ids need uniqueness, not secrecy.
struct Xoshiro256 {
  uint64_t s[4];
  Xoshiro256() {
    std::random_device rd;
    for (auto& x : s) x = (uint64_t(rd()) << 32) ^ rd();
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

}  // namespace

bool is_acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void generate_request_id(std::string& out) {
  thread_local Xoshiro256 rng;
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(32);
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng.next();
    for (int i = 0; i < 16; ++i) out[half * 16 + i] = kHex[(v >> (i * 4)) & 0xf];
  }
}

std::string generate_request_id() {
  std::string id;
  generate_request_id(id);
  return id;
}

}  // namespace bulwark::observe
