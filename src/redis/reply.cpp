#include "redis/reply.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <new>
#include <utility>

namespace bulwark::redis {

// hiredis 0.14 keeps 9 read tasks; a 9th nested array is refused by the reader itself.
constexpr int kHiredisMaxDepth = 8;

struct ReplyReader::State {
  ReaderLimits limits;
  redisReader* reader = nullptr;
  size_t charged = 0;       // what the reply being built holds so far
  std::string limit_error;  // set by the object functions, which can only return NULL
  std::string error;
  ~State() {
    if (reader) redisReaderFree(reader);
  }
};

namespace {

using State = ReplyReader::State;

State& state_of(const redisReadTask* task) {
  return *static_cast<State*>(task->privdata);
}

int depth_of(const redisReadTask* task) {
  int depth = 0;
  for (auto* parent = task->parent; parent; parent = parent->parent) ++depth;
  return depth;
}

// Refuses (returns false) when the reply would hold more than max_reply_bytes. A root task
// starts a new reply, so the count starts over.
bool charge(const redisReadTask* task, size_t bytes) {
  State& state = state_of(task);
  if (!task->parent) state.charged = 0;
  if (bytes >
      state.limits.max_reply_bytes - std::min(state.charged, state.limits.max_reply_bytes)) {
    state.limit_error = "redis reply is larger than the limit of " +
                        std::to_string(state.limits.max_reply_bytes) + " bytes";
    return false;
  }
  state.charged += bytes;
  return true;
}

bool refuse(const redisReadTask* task, std::string why) {
  state_of(task).limit_error = "redis protocol error: " + std::move(why);
  return false;
}

// An element goes into the slot its parent array reserved; a root reply is heap-allocated and
// owned by hiredis until redisReaderGetReply hands it over (or free_reply on an error).
void* place(const redisReadTask* task, Reply&& value) {
  if (!task->parent) return new Reply(std::move(value));
  auto& parent = *static_cast<Reply*>(task->parent->obj);
  Reply& slot = parent.elements[static_cast<size_t>(task->idx)];
  slot = std::move(value);
  return &slot;
}

// The object functions run inside hiredis's C code: no exception may leave them. NULL makes
// hiredis fail with "Out of memory", which next() replaces with limit_error.
template <typename Make>
void* build(const redisReadTask* task, Make&& make) noexcept {
  try {
    return place(task, make());
  } catch (const std::bad_alloc&) {
    state_of(task).limit_error = "out of memory while reading a redis reply";
    return nullptr;
  }
}

// hiredis does not check that a bulk string ends in CRLF (it skips two bytes), and takes any
// bytes up to CRLF as a status line; Redis never sends either, so they mean a broken stream.
bool well_formed(const redisReadTask* task, const char* text, size_t length) {
  if (task->type == REDIS_REPLY_STRING) {
    // hiredis calls this only once length + 2 bytes are buffered, so both bytes are readable.
    if (text[length] == '\r' && text[length + 1] == '\n') return true;
    return refuse(task, "bulk string of " + std::to_string(length) + " bytes without CRLF");
  }
  if (std::string_view(text, length).find_first_of("\r\n") == std::string_view::npos) return true;
  return refuse(task, "CR or LF inside a status or error line");
}

ReplyType type_of_line(int hiredis_type) {
  switch (hiredis_type) {
    case REDIS_REPLY_STATUS:
      return ReplyType::status;
    case REDIS_REPLY_ERROR:
      return ReplyType::error;
    default:
      return ReplyType::string;
  }
}

void* create_string(const redisReadTask* task, char* text, size_t length) {
  if (!well_formed(task, text, length) || !charge(task, length)) return nullptr;
  return build(task, [&] {
    return Reply{type_of_line(task->type), 0, std::string(text, length), {}};
  });
}

void* create_array(const redisReadTask* task, int count) {
  const int depth = depth_of(task) + 1;
  const int max_depth = std::min(state_of(task).limits.max_depth, kHiredisMaxDepth);
  if (depth > max_depth) {
    refuse(task, "arrays nested deeper than " + std::to_string(max_depth));
    return nullptr;
  }
  // Charged before the allocation: "*2147483647\r\n" must not reserve 150 GB.
  const auto elements = static_cast<size_t>(count);
  if (!charge(task, elements * sizeof(Reply))) return nullptr;
  return build(task, [&] { return Reply::array(std::vector<Reply>(elements)); });
}

void* create_integer(const redisReadTask* task, long long value) {
  return build(task, [&] { return Reply::of_integer(value); });
}

void* create_nil(const redisReadTask* task) {
  return build(task, [] { return Reply::nil(); });
}

// hiredis frees only root objects (an unfinished reply on error, or at redisReaderFree);
// elements live inside their parent.
void free_reply(void* reply) {
  delete static_cast<Reply*>(reply);
}

redisReplyObjectFunctions kFunctions = {create_string, create_array, create_integer, create_nil,
                                        free_reply};

}  // namespace

ReplyReader::ReplyReader(ReaderLimits limits) : state_(std::make_unique<State>()) {
  state_->limits = limits;
  state_->reader = redisReaderCreateWithFunctions(&kFunctions);
  if (!state_->reader) throw std::bad_alloc();
  state_->reader->privdata = state_.get();  // hiredis copies it into every read task
}

ReplyReader::~ReplyReader() = default;
ReplyReader::ReplyReader(ReplyReader&&) noexcept = default;
ReplyReader& ReplyReader::operator=(ReplyReader&&) noexcept = default;

bool ReplyReader::feed(std::string_view bytes) {
  if (failed()) return false;
  if (bytes.empty()) return true;  // hiredis ignores empty feeds too
  if (redisReaderFeed(state_->reader, bytes.data(), bytes.size()) != REDIS_OK) {
    state_->error = "out of memory while buffering a redis reply";
    return false;
  }
  return true;
}

std::optional<Reply> ReplyReader::next() {
  if (failed()) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(state_->reader, &raw) != REDIS_OK) {
    state_->error = !state_->limit_error.empty()
                        ? state_->limit_error
                        : "redis protocol error: " + std::string(state_->reader->errstr);
    return std::nullopt;
  }
  if (raw) {
    std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
    state_->charged = 0;
    return std::move(*reply);
  }
  // Incomplete: what waits in hiredis's buffer (a long bulk string, a line without CRLF) counts.
  if (buffered_bytes() >
      state_->limits.max_reply_bytes - std::min(state_->charged, state_->limits.max_reply_bytes)) {
    state_->error = "redis reply is larger than the limit of " +
                    std::to_string(state_->limits.max_reply_bytes) + " bytes";
  }
  return std::nullopt;
}

bool ReplyReader::failed() const {
  return !state_->error.empty();
}

const std::string& ReplyReader::error() const {
  return state_->error;
}

size_t ReplyReader::buffered_bytes() const {
  return state_->reader->len - state_->reader->pos;
}

namespace {

void describe_bytes(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  out.push_back('"');
}

void describe_into(std::string& out, const Reply& reply) {
  switch (reply.type) {
    case ReplyType::nil:
      out += "nil";
      return;
    case ReplyType::integer:
      out += std::to_string(reply.integer);
      return;
    case ReplyType::status:
      out += "+" + reply.text;
      return;
    case ReplyType::error:
      out += "-" + reply.text;
      return;
    case ReplyType::string:
      describe_bytes(out, reply.text);
      return;
    case ReplyType::array:
      out.push_back('[');
      for (size_t i = 0; i < reply.elements.size(); ++i) {
        if (i) out += ", ";
        describe_into(out, reply.elements[i]);
      }
      out.push_back(']');
      return;
  }
}

}  // namespace

std::string describe(const Reply& reply) {
  std::string out;
  describe_into(out, reply);
  return out;
}

}  // namespace bulwark::redis
