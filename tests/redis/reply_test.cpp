#include "redis/reply.hpp"

#include "redis/command.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::redis {

void PrintTo(const Reply& reply, std::ostream* os) {
  *os << describe(reply);
}

namespace {

using namespace std::string_literals;

struct Outcome {
  std::vector<Reply> replies;
  std::string error;
};

Outcome drain(ReplyReader& reader, Outcome outcome = {}) {
  while (auto reply = reader.next()) outcome.replies.push_back(std::move(*reply));
  outcome.error = reader.error();
  return outcome;
}

// Feeds `chunks` one after another, taking replies after each feed as a client would.
Outcome read_chunks(const std::vector<std::string_view>& chunks, ReaderLimits limits = {}) {
  ReplyReader reader(limits);
  Outcome outcome;
  for (const auto chunk : chunks) {
    reader.feed(chunk);
    outcome = drain(reader, std::move(outcome));
  }
  return outcome;
}

Outcome read_all(std::string_view bytes, ReaderLimits limits = {}) {
  return read_chunks({bytes}, limits);
}

std::vector<Reply> read_ok(std::string_view bytes) {
  auto outcome = read_all(bytes);
  EXPECT_EQ(outcome.error, "");
  return outcome.replies;
}

Reply read_one(std::string_view bytes) {
  auto replies = read_ok(bytes);
  EXPECT_EQ(replies.size(), 1u) << bytes;
  return replies.empty() ? Reply::error("no reply") : replies.front();
}

// The same replies come out however the bytes are split in two, and byte by byte.
void expect_split_invariant(std::string_view bytes) {
  const auto whole = read_all(bytes);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    const auto split = read_chunks({bytes.substr(0, cut), bytes.substr(cut)});
    EXPECT_EQ(split.replies, whole.replies) << "cut at " << cut;
    EXPECT_EQ(split.error, whole.error) << "cut at " << cut;
  }
  std::vector<std::string_view> bytewise;
  for (size_t i = 0; i < bytes.size(); ++i) bytewise.push_back(bytes.substr(i, 1));
  const auto single = read_chunks(bytewise);
  EXPECT_EQ(single.replies, whole.replies);
  EXPECT_EQ(single.error, whole.error);
}

// --- every reply type ---

TEST(RedisReply, Status) {
  EXPECT_EQ(read_one("+OK\r\n"), Reply::status("OK"));
}

TEST(RedisReply, EmptyStatus) {
  EXPECT_EQ(read_one("+\r\n"), Reply::status(""));
}

TEST(RedisReply, Error) {
  EXPECT_EQ(read_one("-ERR unknown command 'FOO'\r\n"), Reply::error("ERR unknown command 'FOO'"));
  EXPECT_TRUE(read_one("-WRONGTYPE x\r\n").is_error());
}

TEST(RedisReply, ErrorReplyIsNotAReaderFailure) {
  ReplyReader reader;
  reader.feed("-NOAUTH Authentication required.\r\n+OK\r\n");
  EXPECT_EQ(reader.next(), Reply::error("NOAUTH Authentication required."));
  EXPECT_EQ(reader.next(), Reply::status("OK"));
  EXPECT_FALSE(reader.failed());
}

TEST(RedisReply, Integers) {
  EXPECT_EQ(read_one(":0\r\n"), Reply::of_integer(0));
  EXPECT_EQ(read_one(":42\r\n"), Reply::of_integer(42));
  EXPECT_EQ(read_one(":-1\r\n"), Reply::of_integer(-1));
  EXPECT_EQ(read_one(":-9223372036854775808\r\n"), Reply::of_integer(INT64_MIN));
  EXPECT_EQ(read_one(":9223372036854775807\r\n"), Reply::of_integer(INT64_MAX));
}

TEST(RedisReply, BulkString) {
  EXPECT_EQ(read_one("$5\r\nhello\r\n"), Reply::string("hello"));
}

TEST(RedisReply, EmptyBulkString) {
  const auto reply = read_one("$0\r\n\r\n");
  EXPECT_EQ(reply, Reply::string(""));
  EXPECT_FALSE(reply.is_nil());
}

TEST(RedisReply, BinaryBulkStringKeepsCrLfAndNul) {
  EXPECT_EQ(read_one("$7\r\na\r\n\0b\xff\r\r\n"s), Reply::string("a\r\n\0b\xff\r"s));
}

TEST(RedisReply, NilBulkString) {
  EXPECT_TRUE(read_one("$-1\r\n").is_nil());
}

TEST(RedisReply, NilArray) {
  EXPECT_TRUE(read_one("*-1\r\n").is_nil());
}

TEST(RedisReply, EmptyArrayIsNotNil) {
  const auto reply = read_one("*0\r\n");
  EXPECT_EQ(reply.type, ReplyType::array);
  EXPECT_TRUE(reply.elements.empty());
}

TEST(RedisReply, ArrayOfEveryType) {
  const auto reply = read_one("*6\r\n+OK\r\n-ERR no\r\n:-7\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n");
  EXPECT_EQ(reply, Reply::array({Reply::status("OK"), Reply::error("ERR no"), Reply::of_integer(-7),
                                 Reply::string("abc"), Reply::nil(), Reply::nil()}));
}

TEST(RedisReply, NestedArrays) {
  const auto reply = read_one("*3\r\n*2\r\n:1\r\n*0\r\n$1\r\nx\r\n*1\r\n*1\r\n:2\r\n");
  EXPECT_EQ(reply, Reply::array({Reply::array({Reply::of_integer(1), Reply::array({})}),
                                 Reply::string("x"),
                                 Reply::array({Reply::array({Reply::of_integer(2)})})}));
}

TEST(RedisReply, ExecStyleReply) {
  const auto reply = read_one("*2\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(describe(reply), R"([1, ["a", "b"]])");
}

// --- framing ---

TEST(RedisReply, SeveralRepliesInOneFeed) {
  const auto replies = read_ok("+OK\r\n:1\r\n$1\r\na\r\n*0\r\n$-1\r\n");
  EXPECT_EQ(replies, (std::vector<Reply>{Reply::status("OK"), Reply::of_integer(1),
                                         Reply::string("a"), Reply::array({}), Reply::nil()}));
}

TEST(RedisReply, NothingBeforeTheLastByte) {
  ReplyReader reader;
  reader.feed("$5\r\nhello\r");
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.failed());
  reader.feed("\n");
  EXPECT_EQ(reader.next(), Reply::string("hello"));
  EXPECT_FALSE(reader.next());
}

TEST(RedisReply, EmptyFeedIsHarmless) {
  ReplyReader reader;
  EXPECT_TRUE(reader.feed(""));
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.failed());
}

TEST(RedisReply, CompleteReplyThenPartOfTheNext) {
  ReplyReader reader;
  reader.feed(":1\r\n*2\r\n:2\r\n:34");
  EXPECT_EQ(reader.next(), Reply::of_integer(1));
  EXPECT_FALSE(reader.next());
  // Elements already read are values, not bytes; hiredis has taken the type byte ':' too.
  EXPECT_EQ(reader.buffered_bytes(), 2u);
  reader.feed("\r\n");
  EXPECT_EQ(reader.next(), Reply::array({Reply::of_integer(2), Reply::of_integer(34)}));
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(RedisReply, SplitAtEveryByteBoundary) {
  expect_split_invariant("+OK\r\n");
  expect_split_invariant("-ERR x\r\n");
  expect_split_invariant(":-123\r\n");
  expect_split_invariant("$10\r\n0123\r\n6789\r\n");
  expect_split_invariant("$0\r\n\r\n");
  expect_split_invariant("$-1\r\n*-1\r\n*0\r\n");
  expect_split_invariant("*3\r\n*2\r\n:1\r\n*0\r\n$1\r\nx\r\n*1\r\n*1\r\n$-1\r\n+OK\r\n:5\r\n");
}

TEST(RedisReply, SplitInsideGarbageGivesTheSameError) {
  expect_split_invariant("+OK\r\n:12x\r\n");
  expect_split_invariant("$1\r\nab\r\n");
}

TEST(RedisReply, ManyRepliesFromABatch) {
  std::string bytes;
  for (int i = 0; i < 2000; ++i) ((bytes += ':') += std::to_string(i)) += "\r\n";
  const auto replies = read_ok(bytes);
  ASSERT_EQ(replies.size(), 2000u);
  EXPECT_EQ(replies.back(), Reply::of_integer(1999));
}

TEST(RedisReply, LargeBulkStringAcrossManyFeeds) {
  const std::string value(1 << 20, 'v');
  const std::string bytes = "$1048576\r\n" + value + "\r\n";
  std::vector<std::string_view> chunks;
  for (size_t at = 0; at < bytes.size(); at += 4096)
    chunks.push_back(std::string_view(bytes).substr(at, 4096));
  const auto outcome = read_chunks(chunks);
  ASSERT_EQ(outcome.replies.size(), 1u);
  EXPECT_EQ(outcome.replies[0].text, value);
}

TEST(RedisReply, ReaderCanBeMoved) {
  ReplyReader first;
  first.feed("*2\r\n:1\r\n");
  ReplyReader second = std::move(first);
  second.feed(":2\r\n");
  EXPECT_EQ(second.next(), Reply::array({Reply::of_integer(1), Reply::of_integer(2)}));
}

TEST(RedisReply, DestroyedWithAnUnfinishedReply) {
  ReplyReader reader;
  reader.feed("*3\r\n$1\r\na\r\n*2\r\n+x\r\n");
  EXPECT_FALSE(reader.next());  // no leak under asan: hiredis frees the partial root
}

// --- garbage ---

void expect_protocol_error(std::string_view bytes, std::string_view message) {
  const auto outcome = read_all(bytes);
  EXPECT_EQ(outcome.error, "redis protocol error: " + std::string(message)) << bytes;
}

TEST(RedisReply, UnknownTypeByte) {
  expect_protocol_error("hello\r\n", "Protocol error, got \"h\" as reply type byte");
}

TEST(RedisReply, Resp3TypesAreRefused) {
  expect_protocol_error("%1\r\n", "Protocol error, got \"%\" as reply type byte");
  expect_protocol_error("_\r\n", "Protocol error, got \"_\" as reply type byte");
  expect_protocol_error("#t\r\n", "Protocol error, got \"#\" as reply type byte");
}

TEST(RedisReply, BadIntegers) {
  for (const auto bytes :
       {":abc\r\n", ":\r\n", ": 5\r\n", ":+5\r\n", ":1.5\r\n", ":9223372036854775808\r\n"}) {
    expect_protocol_error(bytes, "Bad integer value");
  }
}

TEST(RedisReply, BadBulkLengths) {
  expect_protocol_error("$abc\r\n", "Bad bulk string length");
  expect_protocol_error("$\r\n", "Bad bulk string length");
  expect_protocol_error("$99999999999999999999\r\n", "Bad bulk string length");
  expect_protocol_error("$-2\r\n", "Bulk string length out of range");
}

TEST(RedisReply, BadArrayLengths) {
  expect_protocol_error("*-2\r\n", "Multi-bulk length out of range");
  expect_protocol_error("*2147483648\r\n", "Multi-bulk length out of range");
  expect_protocol_error("*x\r\n", "Bad multi-bulk length");
}

TEST(RedisReply, BulkStringWithoutCrLf) {
  expect_protocol_error("$1\r\nab\r\n", "bulk string of 1 bytes without CRLF");
  expect_protocol_error("$3\r\nabcXY", "bulk string of 3 bytes without CRLF");
}

TEST(RedisReply, BareLfInsideStatus) {
  expect_protocol_error("+a\nb\r\n", "CR or LF inside a status or error line");
  expect_protocol_error("-a\rb\r\n", "CR or LF inside a status or error line");
}

TEST(RedisReply, RepliesBeforeGarbageStillComeOut) {
  const auto outcome = read_all("+OK\r\n:1\r\n!garbage\r\n");
  EXPECT_EQ(outcome.replies, (std::vector<Reply>{Reply::status("OK"), Reply::of_integer(1)}));
  EXPECT_NE(outcome.error, "");
}

TEST(RedisReply, FailureIsFinal) {
  ReplyReader reader;
  reader.feed("?\r\n");
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.failed());
  EXPECT_FALSE(reader.feed("+OK\r\n"));
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.failed());
}

TEST(RedisReply, GarbageInsideAnArrayFreesThePartialReply) {
  expect_protocol_error("*3\r\n$1\r\na\r\n*1\r\n:x\r\n", "Bad integer value");
}

// --- limits ---

std::string nested(int depth, std::string_view leaf = ":1\r\n") {
  std::string bytes;
  for (int i = 0; i < depth; ++i) bytes += "*1\r\n";
  return bytes + std::string(leaf);
}

TEST(RedisReply, DepthUpToTheLimit) {
  const auto reply = read_one(nested(7));
  const Reply* at = &reply;
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(at->type, ReplyType::array);
    at = &at->elements[0];
  }
  EXPECT_EQ(*at, Reply::of_integer(1));
}

TEST(RedisReply, DepthOverTheLimit) {
  expect_protocol_error(nested(8), "arrays nested deeper than 7");
}

TEST(RedisReply, DepthLimitIsConfigurable) {
  EXPECT_EQ(read_all(nested(2), {.max_depth = 2}).error, "");
  EXPECT_EQ(read_all(nested(3), {.max_depth = 2}).error,
            "redis protocol error: arrays nested deeper than 2");
  EXPECT_EQ(read_all(nested(1), {.max_depth = 0}).error,
            "redis protocol error: arrays nested deeper than 0");
  EXPECT_EQ(read_all(":1\r\n", {.max_depth = 0}).error, "");
}

TEST(RedisReply, DepthLimitNeverAboveHiredis) {
  EXPECT_EQ(read_all(nested(8), {.max_depth = 100}).error, "");
  // hiredis checks this one itself, before calling our functions.
  EXPECT_EQ(read_all(nested(9), {.max_depth = 100}).error,
            "redis protocol error: No support for nested multi bulk replies with depth > 7");
}

TEST(RedisReply, DepthCountsOnlyTheChain) {
  // Wide is fine: three arrays side by side at depth 2.
  EXPECT_EQ(read_all("*3\r\n*1\r\n:1\r\n*1\r\n:2\r\n*0\r\n", {.max_depth = 2}).error, "");
}

TEST(RedisReply, OversizedBulkIsRefusedBeforeItArrives) {
  ReplyReader reader({.max_reply_bytes = 1024});
  reader.feed("$1000000000\r\n" + std::string(2000, 'x'));
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.error(), "redis reply is larger than the limit of 1024 bytes");
}

TEST(RedisReply, BulkAtTheLimitPasses) {
  const std::string value(1000, 'x');
  const auto outcome = read_all("$1000\r\n" + value + "\r\n", {.max_reply_bytes = 1024});
  EXPECT_EQ(outcome.error, "");
  ASSERT_EQ(outcome.replies.size(), 1u);
  EXPECT_EQ(outcome.replies[0].text, value);
}

TEST(RedisReply, LineWithoutCrLfIsBounded) {
  ReplyReader reader({.max_reply_bytes = 100});
  reader.feed("+" + std::string(200, 'a'));
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.failed());
}

TEST(RedisReply, HugeArrayCountIsRefusedBeforeAllocation) {
  EXPECT_EQ(read_all("*2147483647\r\n").error,
            "redis reply is larger than the limit of 67108864 bytes");
}

TEST(RedisReply, LimitCountsTheWholeReply) {
  // Each string fits, together they do not.
  std::string bytes = "*3\r\n";
  for (int i = 0; i < 3; ++i) bytes += "$400\r\n" + std::string(400, 'a') + "\r\n";
  EXPECT_EQ(read_all(bytes, {.max_reply_bytes = 1024}).error,
            "redis reply is larger than the limit of 1024 bytes");
}

TEST(RedisReply, LimitStartsOverForEachReply) {
  std::string bytes;
  for (int i = 0; i < 10; ++i) bytes += "$600\r\n" + std::string(600, 'a') + "\r\n";
  const auto outcome = read_all(bytes, {.max_reply_bytes = 1024});
  EXPECT_EQ(outcome.error, "");
  EXPECT_EQ(outcome.replies.size(), 10u);
}

TEST(RedisReply, LimitWhenFedByteByByte) {
  ReplyReader reader({.max_reply_bytes = 64});
  const std::string bytes = "$100\r\n" + std::string(100, 'z') + "\r\n";
  size_t fed = 0;
  for (; fed < bytes.size() && !reader.failed(); ++fed) {
    reader.feed(std::string_view(bytes).substr(fed, 1));
    drain(reader);
  }
  EXPECT_TRUE(reader.failed());
  EXPECT_LE(fed, 80u);
}

// --- round trip and noise ---

TEST(RedisReply, EncodedCommandReadsBackAsAnArrayOfStrings) {
  // A command is itself valid RESP: an array of bulk strings.
  const std::string binary("\0\r\n\xff", 4);
  std::string bytes;
  append_command(bytes, {"SET", "", binary});
  append_command(bytes, {"PING"});
  const auto replies = read_ok(bytes);
  EXPECT_EQ(replies, (std::vector<Reply>{Reply::array({Reply::string("SET"), Reply::string(""),
                                                       Reply::string(binary)}),
                                         Reply::array({Reply::string("PING")})}));
}

TEST(RedisReply, RandomBytesNeverCrash) {
  std::mt19937 random(20261127);
  const std::string alphabet = "+-:$*\r\n0123456789-abc\x00";
  for (int round = 0; round < 3000; ++round) {
    std::string bytes(random() % 64, '\0');
    for (auto& c : bytes) c = alphabet[random() % alphabet.size()];
    ReplyReader reader({.max_reply_bytes = 4096, .max_depth = 3});
    for (size_t at = 0; at < bytes.size();) {
      const size_t take = 1 + random() % 8;
      reader.feed(std::string_view(bytes).substr(at, take));
      drain(reader);
      at += take;
    }
  }
}

// --- describe ---

TEST(RedisReply, Describe) {
  EXPECT_EQ(describe(Reply::array({Reply::nil(), Reply::of_integer(-3), Reply::status("OK"),
                                   Reply::error("ERR x"), Reply::string("a\"\\\n\x01")})),
            R"([nil, -3, +OK, -ERR x, "a\x22\x5c\x0a\x01"])");
  EXPECT_EQ(describe(Reply::array({})), "[]");
}

}  // namespace
}  // namespace bulwark::redis
