#pragma once
// Small helpers shared by the `bulwark keys` and `bulwark token` commands: files, randomness,
// pretty JSON.

#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::cli {

// The whole file, or nullopt with `why` set.
std::optional<std::string> read_file(const std::string& path, std::string& why);

// Creates `path` with `mode` and writes `content`; never replaces an existing file (O_EXCL).
// Returns false with `why` set.
bool write_new_file(const std::string& path, std::string_view content, unsigned mode,
                    std::string& why);

// `count` bytes from the OpenSSL CSPRNG, or nullopt when it fails.
std::optional<std::string> random_bytes(std::size_t count);

// JSON with two-space indentation, one member or element a line.
std::string pretty_json(const boost::json::value& value);

}  // namespace bulwark::cli
