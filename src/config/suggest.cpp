#include "config/suggest.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace bulwark::config {
namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one
// substring): a swap of two neighbours counts as one edit, the commonest typo in keys.
// Case is ignored so that "Listen" still finds "listen".
size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t columns = b.size() + 1;
  std::vector<size_t> d((a.size() + 1) * columns);
  auto at = [&](size_t i, size_t j) -> size_t& { return d[i * columns + j]; };
  for (size_t i = 0; i <= a.size(); ++i) at(i, 0) = i;
  for (size_t j = 0; j <= b.size(); ++j) at(0, j) = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same = ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]);
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (same ? 0 : 1)});
      const bool swapped = i > 1 && j > 1 && ascii_lower(a[i - 1]) == ascii_lower(b[j - 2]) &&
                           ascii_lower(a[i - 2]) == ascii_lower(b[j - 1]);
      if (swapped) at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(a.size(), b.size());
}

// One word starts the other, and the shorter is long enough to carry meaning.
bool is_prefix_pair(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (a.size() < 3) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  std::string_view best_prefix;
  size_t best_prefix_distance = SIZE_MAX;
  for (std::string_view candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
    if (distance < best_prefix_distance && is_prefix_pair(word, candidate)) {
      best_prefix = candidate;
      best_prefix_distance = distance;
    }
  }
  // Longer words tolerate more typos; a suggestion that rewrites the whole word is noise.
  const size_t threshold = std::max<size_t>(2, word.size() / 3);
  const size_t longest = std::max(word.size(), best.size());
  if (best_distance <= threshold && best_distance < longest) return std::string(best);
  // A shortened or lengthened name ("warning" for "warn") is far in edits but plainly meant.
  return std::string(best_prefix);
}

}  // namespace bulwark::config
