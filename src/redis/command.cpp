#include "redis/command.hpp"

#include <charconv>

namespace bulwark::redis {
namespace {

// "<marker><count>\r\n" without a temporary string per argument.
void append_header(std::string& out, char marker, size_t count) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, count).ptr;
  out.push_back(marker);
  out.append(digits, end);
  out.append("\r\n");
}

size_t encoded_size(std::span<const std::string_view> args) {
  size_t size = 16;  // "*N\r\n" with room for a long count
  for (const auto arg : args) size += arg.size() + 16;
  return size;
}

}  // namespace

void append_command(std::string& out, std::span<const std::string_view> args) {
  out.reserve(out.size() + encoded_size(args));
  append_header(out, '*', args.size());
  for (const auto arg : args) {
    append_header(out, '$', arg.size());
    out.append(arg);
    out.append("\r\n");
  }
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

std::string encode_command(std::span<const std::string_view> args) {
  std::string out;
  append_command(out, args);
  return out;
}

std::string encode_command(std::initializer_list<std::string_view> args) {
  return encode_command(std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace bulwark::redis
