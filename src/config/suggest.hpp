#pragma once
// "Did you mean" hints for misspelled keys.

#include <span>
#include <string>
#include <string_view>

namespace bulwark::config {

// The closest candidate by edit distance when it is close enough to be a likely typo,
// else an empty string.
std::string closest_match(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace bulwark::config
