#pragma once
// Redis replies as owned values, and a reader that turns bytes from the socket into them.
// The RESP2 parsing is hiredis's (0.14) redisReader; the values are built by our own object
// functions (redisReaderCreateWithFunctions), so every limit is checked before anything is
// allocated and no redisReply/freeReplyObject round trip is needed.
//
// What hiredis 0.14's reader does and does not do (checked against 0.14.1):
// - It buffers every fed byte until a reply is complete, with no size bound: redisReader's
//   `maxbuf` (16 KiB) only decides when an emptied buffer is given back, so the bound on
//   buffered bytes is ours (ReaderLimits::max_reply_bytes, checked in next()).
// - It refuses a 9th nested array ("No support for nested multi bulk replies with depth > 7",
//   although 8 levels pass); ours is ReaderLimits::max_depth, 7 by default.
// - It checks integers, bulk and array lengths ("Bad integer value", "Bulk string length out
//   of range", ...) and refuses RESP3 type bytes; it does not check the CRLF after a bulk
//   string nor bare CR/LF in a status line: we refuse both.
// - After 1 KiB of consumed input it moves the rest of its buffer to the front, once per reply
//   taken: feed socket reads of moderate size (say 16-64 KiB) rather than megabytes at once.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::redis {

enum class ReplyType { nil, integer, status, error, string, array };

// One RESP2 reply. `text` holds the bytes of a status ("+OK"), an error ("-ERR ...") or a bulk
// string (binary-safe); `elements` those of an array. RESP2 has one nil for both "$-1" and
// "*-1"; an empty array ("*0") is an array, not nil.
struct Reply {
  ReplyType type = ReplyType::nil;
  int64_t integer = 0;
  std::string text;
  std::vector<Reply> elements;

  static Reply nil() { return {}; }
  static Reply of_integer(int64_t value) { return {ReplyType::integer, value, {}, {}}; }
  static Reply status(std::string text) { return {ReplyType::status, 0, std::move(text), {}}; }
  static Reply error(std::string text) { return {ReplyType::error, 0, std::move(text), {}}; }
  static Reply string(std::string bytes) { return {ReplyType::string, 0, std::move(bytes), {}}; }
  static Reply array(std::vector<Reply> items) {
    return {ReplyType::array, 0, {}, std::move(items)};
  }

  bool is_nil() const { return type == ReplyType::nil; }
  bool is_error() const { return type == ReplyType::error; }

  friend bool operator==(const Reply&, const Reply&) = default;
};

// A short rendering for logs and test failures: 5, nil, +OK, -ERR x, "bytes", [a, b].
// Bulk strings are quoted with non-printable bytes as \xHH.
std::string describe(const Reply& reply);

struct ReaderLimits {
  // The most one reply may cost: the bytes buffered while it is incomplete plus what its values
  // hold (string bytes, and sizeof(Reply) per array element, charged before the allocation).
  size_t max_reply_bytes = size_t{64} << 20;
  // Arrays inside arrays: "*1\r\n:1\r\n" has depth 1. hiredis 0.14 itself refuses more than 8
  // (its message says "depth > 7"), so larger values act as 8.
  int max_depth = 7;
};

// Feed bytes as they arrive (split anywhere), then call next() until it returns nullopt.
// A protocol error or a broken limit puts the reader in a failed state for good: the
// connection's byte stream can no longer be trusted and must be closed.
class ReplyReader {
 public:
  explicit ReplyReader(ReaderLimits limits = {});
  ~ReplyReader();
  ReplyReader(ReplyReader&&) noexcept;
  ReplyReader& operator=(ReplyReader&&) noexcept;

  // False when the reader has failed (now or earlier); the bytes are then ignored.
  bool feed(std::string_view bytes);
  // The next complete reply; nullopt when more bytes are needed or the reader has failed.
  // Checks max_reply_bytes against what is buffered, so call it after every feed().
  std::optional<Reply> next();

  bool failed() const;
  // Why the reader failed, e.g. "redis protocol error: Bad integer value"; empty if it has not.
  const std::string& error() const;
  // Bytes received but not yet turned into replies.
  size_t buffered_bytes() const;

  struct State;  // opaque; public only so that hiredis's callbacks in reply.cpp can name it

 private:
  std::unique_ptr<State> state_;
};

}  // namespace bulwark::redis
