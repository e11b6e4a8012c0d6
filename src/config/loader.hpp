#pragma once
// YAML → typed Config, with every error collected (not just the first) so that
// `bulwark check` can print them all.

#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace bulwark::config {

struct ConfigError {
  std::string file;
  unsigned line = 0;  // 1-based; 0 when unknown
  std::string key;    // dotted path, e.g. "server.limits.max_header_bytes"
  std::string message;

  // "file:line: key: message"
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;  // set only when errors is empty
  std::vector<ConfigError> errors;

  bool ok() const { return errors.empty(); }
};

LoadResult load_config_file(const std::string& path);
// `source_name` is used in error messages in place of a file path.
LoadResult load_config_text(const std::string& yaml, const std::string& source_name);

}  // namespace bulwark::config
