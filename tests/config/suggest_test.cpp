// "Did you mean" hints.

#include "config/suggest.hpp"

#include <gtest/gtest.h>

#include <array>

namespace bulwark::config {
namespace {

constexpr std::array<std::string_view, 5> kServerKeys = {"listen", "workers", "trusted_proxies",
                                                         "limits", "drain_timeout"};
constexpr std::array<std::string_view, 5> kLimitKeys = {
    "max_header_bytes", "max_body_bytes", "header_timeout", "idle_timeout", "max_connections"};

struct SuggestCase {
  std::string name;
  std::string word;
  std::vector<std::string_view> candidates;
  std::string expected;  // empty: no suggestion
};

void PrintTo(const SuggestCase& c, std::ostream* os) {
  *os << c.name;
}

class Suggest : public ::testing::TestWithParam<SuggestCase> {};

TEST_P(Suggest, FindsTheLikelyTypo) {
  EXPECT_EQ(closest_match(GetParam().word, GetParam().candidates), GetParam().expected);
}

const std::vector<std::string_view> server_keys(kServerKeys.begin(), kServerKeys.end());
const std::vector<std::string_view> limit_keys(kLimitKeys.begin(), kLimitKeys.end());

INSTANTIATE_TEST_SUITE_P(
    Config, Suggest,
    ::testing::Values(
        SuggestCase{"MissingLetter", "lisen", server_keys, "listen"},
        SuggestCase{"ExtraLetter", "listenn", server_keys, "listen"},
        SuggestCase{"WrongLetter", "wirkers", server_keys, "workers"},
        SuggestCase{"SwappedNeighboursCountOnce", "lsiten", server_keys, "listen"},
        SuggestCase{"CaseIgnored", "Listen", server_keys, "listen"},
        SuggestCase{"ExactMatch", "limits", server_keys, "limits"},
        SuggestCase{"PicksTheClosest", "header_timeot", limit_keys, "header_timeout"},
        SuggestCase{"LongWordsTolerateMoreEdits", "trusted_prxys", server_keys, "trusted_proxies"},
        SuggestCase{"ShortenedName", "max_header", limit_keys, "max_header_bytes"},
        SuggestCase{
            "LengthenedName", "warning", {"trace", "debug", "info", "warn", "error"}, "warn"},
        SuggestCase{"FarWordGetsNothing", "frobnicate", server_keys, ""},
        SuggestCase{"ShortWordFarGetsNothing", "xyz", {"log"}, ""},
        SuggestCase{"WholeWordRewriteGetsNothing", "ab", {"cd"}, ""},
        SuggestCase{"TwoLetterPrefixIsNotEnough", "li", server_keys, ""},
        SuggestCase{"NoCandidates", "listen", {}, ""},
        SuggestCase{"EmptyWord", "", server_keys, ""},
        SuggestCase{"TieGoesToTheFirstCandidate", "cat", {"bat", "hat"}, "bat"}),
    [](const auto& info) { return info.param.name; });

// The threshold is max(2, length / 3) edits.
TEST(SuggestThreshold, NineLettersAllowThreeEdits) {
  const std::array<std::string_view, 1> candidates = {"abcxyzghi"};
  EXPECT_EQ(closest_match("abcdefghi", candidates), "abcxyzghi");
}

TEST(SuggestThreshold, EightLettersAllowTwoEdits) {
  const std::array<std::string_view, 1> candidates = {"abcxyzgh"};
  EXPECT_EQ(closest_match("abcdefgh", candidates), "");
}

}  // namespace
}  // namespace bulwark::config
