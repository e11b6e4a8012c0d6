// The cache events instances send each other through a Redis stream: the commands, and the
// strict reading of XREAD / XREVRANGE answers (Redis is not trusted: nothing malformed is
// applied).

#include <gtest/gtest.h>

#include "cache/cache_events.hpp"

namespace bulwark::cache {
namespace {

using redis::Reply;

Reply text(std::string s) {
  return Reply::string(std::move(s));
}

Reply fields(std::vector<std::string> items) {
  std::vector<Reply> out;
  for (auto& item : items) out.push_back(text(std::move(item)));
  return Reply::array(std::move(out));
}

Reply entry(std::string id, Reply values) {
  std::vector<Reply> items;
  items.push_back(text(std::move(id)));
  items.push_back(std::move(values));
  return Reply::array(std::move(items));
}

Reply xread(std::vector<Reply> entries) {
  std::vector<Reply> stream;
  stream.push_back(text("bw:c:{events}"));
  stream.push_back(Reply::array(std::move(entries)));
  std::vector<Reply> out;
  out.push_back(Reply::array(std::move(stream)));
  return Reply::array(std::move(out));
}

TEST(CacheEventCommand, Invalidate) {
  const CacheEvent event{.kind = CacheEvent::Kind::invalidate, .source = "a1", .uri_key = "h/x"};
  EXPECT_EQ(cache_event_command("s", event),
            (std::vector<std::string>{"XADD", "s", "MAXLEN", "~", "10000", "*", "src", "a1", "op",
                                      "invalidate", "key", "h/x"}));
}

TEST(CacheEventCommand, Purge) {
  const CacheEvent event{.kind = CacheEvent::Kind::purge,
                         .source = "a1",
                         .uri_key = {},
                         .host = "",
                         .path = "/api/",
                         .prefix = true};
  EXPECT_EQ(cache_event_command("s", event),
            (std::vector<std::string>{"XADD", "s", "MAXLEN", "~", "10000", "*", "src", "a1", "op",
                                      "purge", "host", "", "path", "/api/", "prefix", "1"}));
}

TEST(CacheEventCommand, ReadAndTail) {
  EXPECT_EQ(cache_events_read_command("s", "5-1"),
            (std::vector<std::string>{"XREAD", "COUNT", "512", "STREAMS", "s", "5-1"}));
  EXPECT_EQ(cache_events_tail_command("s"),
            (std::vector<std::string>{"XREVRANGE", "s", "+", "-", "COUNT", "1"}));
}

TEST(ParseCacheEvents, NilIsNothingNew) {
  std::string why;
  auto batch = parse_cache_events(Reply::nil(), true, &why);
  ASSERT_TRUE(batch) << why;
  EXPECT_TRUE(batch->events.empty());
  EXPECT_EQ(batch->last_id, "");
}

TEST(ParseCacheEvents, RoundTripOfBothKinds) {
  const CacheEvent invalidate{.kind = CacheEvent::Kind::invalidate, .source = "a", .uri_key = "k"};
  const CacheEvent purge{.kind = CacheEvent::Kind::purge,
                         .source = "b",
                         .uri_key = {},
                         .host = "h",
                         .path = "/p",
                         .prefix = false};
  std::vector<Reply> entries;
  for (const auto& [id, event] : {std::pair{"1-0", invalidate}, std::pair{"2-0", purge}}) {
    auto command = cache_event_command("s", event);
    entries.push_back(entry(id, fields({command.begin() + 6, command.end()})));
  }
  std::string why;
  auto batch = parse_cache_events(xread(std::move(entries)), true, &why);
  ASSERT_TRUE(batch) << why;
  EXPECT_EQ(batch->events, (std::vector<CacheEvent>{invalidate, purge}));
  EXPECT_EQ(batch->last_id, "2-0");
  EXPECT_EQ(batch->skipped, 0u);
}

TEST(ParseCacheEvents, ForeignEntriesAreSkippedButAdvanceTheId) {
  std::vector<Reply> entries;
  entries.push_back(entry("1-0", fields({"op", "invalidate"})));           // no key
  entries.push_back(entry("2-0", fields({"op", "purge", "host", "h"})));   // no path
  entries.push_back(entry("3-0", fields({"op", "explode", "key", "k"})));  // unknown op
  entries.push_back(entry("4-0", fields({"odd"})));                        // odd field list
  std::string why;
  auto batch = parse_cache_events(xread(std::move(entries)), true, &why);
  ASSERT_TRUE(batch) << why;
  EXPECT_TRUE(batch->events.empty());
  EXPECT_EQ(batch->skipped, 4u);
  EXPECT_EQ(batch->last_id, "4-0");
}

TEST(ParseCacheEvents, TailGivesTheLastId) {
  std::vector<Reply> entries;
  entries.push_back(entry("9-3", fields({"op", "invalidate", "key", "k", "src", "x"})));
  std::string why;
  auto batch = parse_cache_events(Reply::array(std::move(entries)), false, &why);
  ASSERT_TRUE(batch) << why;
  EXPECT_EQ(batch->last_id, "9-3");
}

TEST(ParseCacheEvents, MalformedAnswersAreRefused) {
  std::string why;
  EXPECT_FALSE(parse_cache_events(Reply::of_integer(3), true, &why));
  EXPECT_NE(why.find("expected an array"), std::string::npos) << why;
  EXPECT_FALSE(parse_cache_events(Reply::array({}), true, &why));
  EXPECT_NE(why.find("expected [[stream, entries]]"), std::string::npos) << why;
  std::vector<Reply> bad;
  bad.push_back(Reply::of_integer(1));
  EXPECT_FALSE(parse_cache_events(xread(std::move(bad)), true, &why));
  EXPECT_NE(why.find("entries not shaped"), std::string::npos) << why;
  std::vector<Reply> numeric_id;
  numeric_id.push_back(entry("1-0", fields({})));
  numeric_id.back().elements[0] = Reply::of_integer(1);
  EXPECT_FALSE(parse_cache_events(xread(std::move(numeric_id)), true, &why));
  EXPECT_FALSE(parse_cache_events(Reply::error("ERR wrong"), true, &why));
}

}  // namespace
}  // namespace bulwark::cache
