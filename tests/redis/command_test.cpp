#include "redis/command.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace bulwark::redis {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

TEST(RedisCommand, SingleArgument) {
  EXPECT_EQ(encode_command({"PING"}), "*1\r\n$4\r\nPING\r\n");
}

TEST(RedisCommand, SeveralArguments) {
  EXPECT_EQ(encode_command({"SET", "key", "value"}),
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
}

TEST(RedisCommand, EmptyArgument) {
  EXPECT_EQ(encode_command({"SET", "k", ""}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(RedisCommand, OnlyEmptyArguments) {
  EXPECT_EQ(encode_command({"", ""}), "*2\r\n$0\r\n\r\n$0\r\n\r\n");
}

TEST(RedisCommand, NoArguments) {
  EXPECT_EQ(encode_command(std::vector<std::string_view>{}), "*0\r\n");
}

TEST(RedisCommand, BinaryArgumentKeepsEveryByte) {
  const std::string binary = "a\r\nb\0c$*\xff"s;
  EXPECT_EQ(encode_command({"SET", binary}), "*2\r\n$3\r\nSET\r\n$9\r\n" + binary + "\r\n");
}

TEST(RedisCommand, CrLfInsideArgumentIsNotAFrameBoundary) {
  EXPECT_EQ(encode_command({"\r\n"}), "*1\r\n$2\r\n\r\n\r\n");
}

TEST(RedisCommand, NulOnlyArgument) {
  EXPECT_EQ(encode_command({"\0"sv}), "*1\r\n$1\r\n\0\r\n"s);
}

TEST(RedisCommand, MultiDigitLengths) {
  const std::string big(12345, 'x');
  EXPECT_EQ(encode_command({big}), "*1\r\n$12345\r\n" + big + "\r\n");
}

TEST(RedisCommand, MultiDigitArgumentCount) {
  std::vector<std::string_view> args(12, "a");
  std::string expected = "*12\r\n";
  for (int i = 0; i < 12; ++i) expected += "$1\r\na\r\n";
  EXPECT_EQ(encode_command(args), expected);
}

TEST(RedisCommand, AppendBatchesCommandsInOrder) {
  std::string out = "prefix";
  append_command(out, {"MULTI"});
  append_command(out, {"INCR", "n"});
  append_command(out, {"EXEC"});
  EXPECT_EQ(out, "prefix*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n");
}

TEST(RedisCommand, SpanOverStrings) {
  const std::vector<std::string> owned = {"GET", "user:42"};
  const std::vector<std::string_view> args(owned.begin(), owned.end());
  EXPECT_EQ(encode_command(args), "*2\r\n$3\r\nGET\r\n$7\r\nuser:42\r\n");
}

TEST(RedisCommand, Utf8CountsBytesNotCharacters) {
  EXPECT_EQ(encode_command({"é"}), "*1\r\n$2\r\né\r\n");
}

}  // namespace
}  // namespace bulwark::redis
