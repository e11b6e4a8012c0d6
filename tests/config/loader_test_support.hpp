#pragma once
// Shared by the loader tests: load inline YAML, print errors, and a table row for "this
// file gives exactly this one error".

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace bulwark::config::testing {

inline constexpr char kSource[] = "test.yaml";

// Appended after the lines a test is about, so those keep their line numbers, to make the
// rest of the file valid.
inline constexpr char kValidTail[] = R"(
upstreams:
  api:
    targets: [127.0.0.1:8081]
routes:
  - {name: all, upstream: api}
)";

inline LoadResult load(const std::string& yaml) {
  return load_config_text(yaml, kSource);
}

inline std::string all_errors(const LoadResult& result) {
  std::string text;
  for (const ConfigError& error : result.errors) text += "\n  " + error.to_string();
  return text.empty() ? "no errors" : "errors:" + text;
}

// Loads `yaml` and fails the test (with every error printed) unless it is valid.
inline Config load_valid(const std::string& yaml) {
  LoadResult result = load(yaml);
  EXPECT_TRUE(result.ok()) << all_errors(result);
  EXPECT_EQ(result.config.has_value(), result.ok());
  if (!result.config) return Config{};
  return std::move(*result.config);
}

struct ErrorCase {
  std::string name;  // the behaviour, in CamelCase: it names the test
  std::string yaml;
  unsigned line;
  std::string key;
  std::vector<std::string> hints;  // each must appear in the message
};

inline void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

inline std::string error_case_name(const ::testing::TestParamInfo<ErrorCase>& info) {
  return info.param.name;
}

inline void expect_single_error(const ErrorCase& c) {
  const LoadResult result = load(c.yaml);
  EXPECT_FALSE(result.config.has_value());
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  const ConfigError& error = result.errors.front();
  EXPECT_EQ(error.file, kSource);
  EXPECT_EQ(error.line, c.line) << error.to_string();
  EXPECT_EQ(error.key, c.key) << error.to_string();
  for (const std::string& hint : c.hints) {
    EXPECT_THAT(error.message, ::testing::HasSubstr(hint)) << error.to_string();
  }
}

}  // namespace bulwark::config::testing
