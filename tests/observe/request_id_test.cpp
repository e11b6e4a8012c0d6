#include "observe/request_id.hpp"

#include <gtest/gtest.h>

#include <set>

namespace bulwark::observe {
namespace {

TEST(RequestId, GeneratedIdsAre32LowerHexDigits) {
  for (int i = 0; i < 100; ++i) {
    auto id = generate_request_id();
    ASSERT_EQ(id.size(), 32u);
    for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
    EXPECT_TRUE(is_acceptable_request_id(id));
  }
}

TEST(RequestId, GeneratedIdsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(generate_request_id());
  EXPECT_EQ(seen.size(), 10000u);
}

struct IdCase {
  const char* name;
  std::string id;
  bool acceptable;
};

TEST(RequestId, AcceptableIncomingIds) {
  const IdCase cases[] = {
      {"uuid", "123e4567-e89b-12d3-a456-426614174000", true},
      {"dotted", "req.1:2_3", true},
      {"single char", "a", true},
      {"max length", std::string(128, 'x'), true},
      {"empty", "", false},
      {"too long", std::string(129, 'x'), false},
      {"space", "a b", false},
      {"newline injection", "a\r\nX-Evil: 1", false},
      {"quote", "a\"b", false},
      {"non ascii", "caf\xc3\xa9", false},
      {"slash", "a/b", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(is_acceptable_request_id(c.id), c.acceptable) << c.name;
  }
}

}  // namespace
}  // namespace bulwark::observe
