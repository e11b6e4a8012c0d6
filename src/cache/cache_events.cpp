#include "cache/cache_events.hpp"

namespace bulwark::cache {
namespace {

using redis::Reply;
using redis::ReplyType;

bool is_text(const Reply& reply) {
  return reply.type == ReplyType::string || reply.type == ReplyType::status;
}

// One entry's field list ("op", "invalidate", "src", ..., ...) as an event.
std::optional<CacheEvent> event_of(const Reply& fields) {
  if (fields.type != ReplyType::array || fields.elements.size() % 2 != 0) return std::nullopt;
  CacheEvent event;
  std::string op;
  for (std::size_t i = 0; i < fields.elements.size(); i += 2) {
    const Reply& name = fields.elements[i];
    const Reply& value = fields.elements[i + 1];
    if (!is_text(name) || !is_text(value)) return std::nullopt;
    if (name.text == "op") op = value.text;
    if (name.text == "src") event.source = value.text;
    if (name.text == "key") event.uri_key = value.text;
    if (name.text == "host") event.host = value.text;
    if (name.text == "path") event.path = value.text;
    if (name.text == "prefix") event.prefix = value.text == "1";
  }
  if (op == "invalidate" && !event.uri_key.empty()) {
    event.kind = CacheEvent::Kind::invalidate;
    return event;
  }
  if (op == "purge" && !event.path.empty()) {
    event.kind = CacheEvent::Kind::purge;
    return event;
  }
  return std::nullopt;
}

// [id, [field, value, ...]] entries, in order.
bool read_entries(const Reply& entries, CacheEventBatch& batch) {
  if (entries.type != ReplyType::array) return false;
  for (const Reply& entry : entries.elements) {
    if (entry.type != ReplyType::array || entry.elements.size() != 2 ||
        !is_text(entry.elements[0])) {
      return false;
    }
    batch.last_id = entry.elements[0].text;
    if (auto event = event_of(entry.elements[1])) {
      batch.events.push_back(std::move(*event));
    } else {
      ++batch.skipped;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> cache_event_command(std::string_view stream, const CacheEvent& event) {
  std::vector<std::string> out = {
      "XADD", std::string(stream), "MAXLEN", "~", std::to_string(kCacheEventsKept), "*",
      "src",  event.source};
  if (event.kind == CacheEvent::Kind::invalidate) {
    out.insert(out.end(), {"op", "invalidate", "key", event.uri_key});
  } else {
    out.insert(out.end(), {"op", "purge", "host", event.host, "path", event.path, "prefix",
                           event.prefix ? "1" : "0"});
  }
  return out;
}

std::vector<std::string> cache_events_read_command(std::string_view stream,
                                                   std::string_view after) {
  return {"XREAD",
          "COUNT",
          std::to_string(kCacheEventsPerRead),
          "STREAMS",
          std::string(stream),
          std::string(after)};
}

std::vector<std::string> cache_events_tail_command(std::string_view stream) {
  return {"XREVRANGE", std::string(stream), "+", "-", "COUNT", "1"};
}

std::optional<CacheEventBatch> parse_cache_events(const Reply& reply, bool xread,
                                                  std::string* why) {
  CacheEventBatch batch;
  auto refuse = [&](const char* what) -> std::optional<CacheEventBatch> {
    if (why) *why = std::string("cache events: ") + what + ", got " + redis::describe(reply);
    return std::nullopt;
  };
  if (reply.is_nil()) return batch;
  if (reply.type != ReplyType::array) return refuse("expected an array");
  // XREAD: [[stream, entries]]; XREVRANGE: entries.
  if (xread &&
      !(reply.elements.size() == 1 && reply.elements[0].type == ReplyType::array &&
        reply.elements[0].elements.size() == 2 && is_text(reply.elements[0].elements[0]))) {
    return refuse("expected [[stream, entries]]");
  }
  if (!read_entries(xread ? reply.elements[0].elements[1] : reply, batch)) {
    return refuse("entries not shaped [id, [field, value...]]");
  }
  return batch;
}

}  // namespace bulwark::cache
