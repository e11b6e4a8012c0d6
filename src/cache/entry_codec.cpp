#include "cache/entry_codec.hpp"

#include <cstring>

namespace bulwark::cache {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

constexpr std::string_view kMagic = "BWCE";
// Caps far above anything a real response carries; they bound the work a hostile value
// can cause even when its bytes are all there.
constexpr uint32_t kMaxFields = 10000;
constexpr uint32_t kMaxNames = 1000;
constexpr int64_t kMaxTime = int64_t{1} << 40;

enum Flag : uint16_t {
  kNoCache = 1 << 0,
  kNoStore = 1 << 1,
  kPrivate = 1 << 2,
  kPublic = 1 << 3,
  kMustRevalidate = 1 << 4,
  kProxyRevalidate = 1 << 5,
  kMustUnderstand = 1 << 6,
  kNoTransform = 1 << 7,
};
constexpr uint16_t kKnownFlags = (1 << 8) - 1;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void list(const std::vector<std::string>& items) {
    u32(static_cast<uint32_t>(items.size()));
    for (const std::string& s : items) str(s);
  }
  void opt(const std::optional<seconds>& v) {
    u8(v ? 1 : 0);
    if (v) i64(v->count());
  }
  void opt(const std::optional<sys_seconds>& v) {
    u8(v ? 1 : 0);
    if (v) i64(v->time_since_epoch().count());
  }

 private:
  void put(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string& out_;
};

// Reads with a bound check before every access; the first failure sticks (later reads
// return zeros), so decoding code checks ok() once per section instead of per field.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t left() const { return in_.size(); }
  void fail(std::string why) {
    if (ok()) error_ = std::move(why);
    in_ = {};
  }

  uint8_t u8() { return static_cast<uint8_t>(get(1, "u8")); }
  uint16_t u16() { return static_cast<uint16_t>(get(2, "u16")); }
  uint32_t u32() { return static_cast<uint32_t>(get(4, "u32")); }
  uint64_t u64() { return get(8, "u64"); }
  int64_t i64() { return static_cast<int64_t>(get(8, "i64")); }

  std::string_view bytes(uint64_t n, const char* what) {
    if (n > in_.size()) {
      fail(std::string(what) + " length " + std::to_string(n) + " past the end");
      return {};
    }
    const std::string_view out = in_.substr(0, n);
    in_.remove_prefix(n);
    return out;
  }
  std::string str(const char* what) { return std::string(bytes(u32(), what)); }

  // A count of items each at least `min_bytes` long: refused before anything is reserved
  // when the bytes left could not hold them.
  uint32_t count(uint32_t cap, size_t min_bytes, const char* what) {
    const uint32_t n = u32();
    if (n > cap || n > left() / min_bytes) {
      fail(std::string(what) + " count " + std::to_string(n) + " out of range");
      return 0;
    }
    return n;
  }
  std::vector<std::string> list(const char* what) {
    const uint32_t n = count(kMaxNames, 4, what);
    std::vector<std::string> out;
    out.reserve(n);
    for (uint32_t i = 0; i < n && ok(); ++i) out.push_back(str(what));
    return out;
  }
  bool flag(const char* what) {
    const uint8_t v = u8();
    if (v > 1) fail(std::string(what) + " is not 0 or 1");
    return v == 1;
  }
  // 0..2^31 s, as every delta-seconds value the cache computes.
  seconds duration(const char* what) {
    const int64_t v = i64();
    if (v < 0 || v > kMaxDeltaSeconds.count()) fail(std::string(what) + " out of range");
    return seconds(v);
  }
  sys_seconds time(const char* what) {
    const int64_t v = i64();
    if (v < -kMaxTime || v > kMaxTime) fail(std::string(what) + " out of range");
    return sys_seconds(seconds(v));
  }
  std::optional<seconds> opt_duration(const char* what) {
    if (!flag(what)) return std::nullopt;
    return duration(what);
  }
  std::optional<sys_seconds> opt_time(const char* what) {
    if (!flag(what)) return std::nullopt;
    return time(what);
  }

 private:
  uint64_t get(size_t n, const char* what) {
    if (n > in_.size()) {
      fail(std::string("truncated at ") + what);
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(n);
    return v;
  }

  std::string_view in_;
  std::string error_;
};

uint16_t flags_of(const ResponseDirectives& d) {
  uint16_t f = 0;
  if (d.no_cache) f |= kNoCache;
  if (d.no_store) f |= kNoStore;
  if (d.private_) f |= kPrivate;
  if (d.public_) f |= kPublic;
  if (d.must_revalidate) f |= kMustRevalidate;
  if (d.proxy_revalidate) f |= kProxyRevalidate;
  if (d.must_understand) f |= kMustUnderstand;
  if (d.no_transform) f |= kNoTransform;
  return f;
}

void set_flags(ResponseDirectives& d, uint16_t f) {
  d.no_cache = (f & kNoCache) != 0;
  d.no_store = (f & kNoStore) != 0;
  d.private_ = (f & kPrivate) != 0;
  d.public_ = (f & kPublic) != 0;
  d.must_revalidate = (f & kMustRevalidate) != 0;
  d.proxy_revalidate = (f & kProxyRevalidate) != 0;
  d.must_understand = (f & kMustUnderstand) != 0;
  d.no_transform = (f & kNoTransform) != 0;
}

void write_directives(Writer& w, const ResponseDirectives& d) {
  w.opt(d.max_age);
  w.opt(d.s_maxage);
  w.opt(d.stale_while_revalidate);
  w.opt(d.stale_if_error);
  w.u16(flags_of(d));
  w.list(d.no_cache_fields);
  w.list(d.private_fields);
}

void read_directives(Reader& r, ResponseDirectives& d) {
  d.max_age = r.opt_duration("max-age");
  d.s_maxage = r.opt_duration("s-maxage");
  d.stale_while_revalidate = r.opt_duration("stale-while-revalidate");
  d.stale_if_error = r.opt_duration("stale-if-error");
  const uint16_t flags = r.u16();
  if ((flags & ~kKnownFlags) != 0) r.fail("unknown directive flags");
  set_flags(d, flags);
  d.no_cache_fields = r.list("no-cache fields");
  d.private_fields = r.list("private fields");
}

bool read_header(Reader& r) {
  if (r.bytes(kMagic.size(), "magic") != kMagic) {
    r.fail("not an encoded entry");
    return false;
  }
  const uint8_t version = r.u8();
  if (r.ok() && version != kEntryCodecVersion) r.fail("unknown version " + std::to_string(version));
  return r.ok();
}

void read_keys(Reader& r, Entry& e) {
  e.uri_key = r.str("uri key");
  e.variant_key = r.str("variant key");
  e.identity = r.str("identity");
  if (r.ok() && !e.variant_key.starts_with(e.identity))
    r.fail("variant key does not start with the identity");
  e.vary.any = r.flag("vary any");
  e.vary.names = r.list("vary names");
}

void read_message(Reader& r, Entry& e) {
  e.status = r.u16();
  if (r.ok() && (e.status < 100 || e.status > 599)) r.fail("status out of range");
  e.reason = r.str("reason");
  const uint32_t n = r.count(kMaxFields, 8, "field");
  e.fields.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string name = r.str("field name");
    e.fields.emplace_back(std::move(name), r.str("field value"));
  }
  const std::string_view body = r.bytes(r.u64(), "body");
  e.body = std::make_shared<const std::string>(body);
}

void read_metadata(Reader& r, Entry& e) {
  e.date = r.opt_time("date");
  e.age_field = r.opt_duration("age");
  e.request_time = r.time("request time");
  e.response_time = r.time("response time");
  e.lifetime.lifetime = r.duration("lifetime");
  const uint8_t source = r.u8();
  if (source > static_cast<uint8_t>(FreshnessSource::none)) r.fail("unknown lifetime source");
  e.lifetime.source = static_cast<FreshnessSource>(source);
  read_directives(r, e.directives);
  e.etag = r.str("etag");
  e.last_modified = r.opt_time("last-modified");
}

}  // namespace

std::string encode_entry(const Entry& e) {
  std::string out;
  out.reserve(static_cast<size_t>(e.charge()) + 64);
  Writer w(out);
  out += kMagic;
  w.u8(kEntryCodecVersion);
  w.str(e.uri_key);
  w.str(e.variant_key);
  w.str(e.identity);
  w.u8(e.vary.any ? 1 : 0);
  w.list(e.vary.names);
  w.u16(static_cast<uint16_t>(e.status));
  w.str(e.reason);
  w.u32(static_cast<uint32_t>(e.fields.size()));
  for (const auto& [name, value] : e.fields) {
    w.str(name);
    w.str(value);
  }
  const std::string_view body = e.body ? std::string_view(*e.body) : std::string_view();
  w.u64(body.size());
  out += body;
  w.opt(e.date);
  w.opt(e.age_field);
  w.i64(e.request_time.time_since_epoch().count());
  w.i64(e.response_time.time_since_epoch().count());
  w.i64(e.lifetime.lifetime.count());
  w.u8(static_cast<uint8_t>(e.lifetime.source));
  write_directives(w, e.directives);
  w.str(e.etag);
  w.opt(e.last_modified);
  return out;
}

std::optional<Entry> decode_entry(std::string_view bytes, std::string* why) {
  Reader r(bytes);
  Entry e;
  if (read_header(r)) {
    read_keys(r, e);
    read_message(r, e);
    read_metadata(r, e);
  }
  if (r.ok() && r.left() != 0) r.fail(std::to_string(r.left()) + " trailing bytes");
  if (!r.ok()) {
    if (why != nullptr) *why = "bad cache entry: " + r.error();
    return std::nullopt;
  }
  return e;
}

}  // namespace bulwark::cache
