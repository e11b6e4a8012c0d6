#pragma once
// RESP encoding of commands: every command goes out as an array of bulk strings
// ("*N\r\n$len\r\narg\r\n..."), which is binary-safe, unlike the inline command form.

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace bulwark::redis {

// Appends one encoded command to `out`, so that many commands can be batched into one write.
// Arguments may be empty or hold any bytes (CR, LF, NUL). An empty argument list appends
// "*0\r\n", which a server answers with an error: callers pass at least the command name.
void append_command(std::string& out, std::span<const std::string_view> args);
void append_command(std::string& out, std::initializer_list<std::string_view> args);

// The encoding of one command as a fresh string.
std::string encode_command(std::span<const std::string_view> args);
std::string encode_command(std::initializer_list<std::string_view> args);

}  // namespace bulwark::redis
