#include "cache/entry_codec.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cache/conditional.hpp"
#include "cache/field_lines.hpp"
#include "cache/http_date.hpp"
#include "cache/key.hpp"
#include "cache/reuse.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;
using Lines = std::vector<FieldLine>;
using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr sys_seconds kT0{seconds{784111777}};

sys_seconds at(int64_t offset) {
  return kT0 + seconds{offset};
}

// A response as the cache stores it: fields in, metadata derived.
Entry response(Fields fields, std::string body = "body", unsigned status = 200) {
  Entry e;
  e.uri_key = "api.example/items?a=1";
  e.status = status;
  e.reason = "OK";
  e.fields = std::move(fields);
  e.body = std::make_shared<const std::string>(std::move(body));
  e.request_time = at(-2);
  e.response_time = kT0;
  derive_metadata(e, true);
  const auto vary = joined_field(e.fields, "vary");
  e.vary = parse_vary(vary.value_or(""));
  return e;
}

auto directives_tuple(const ResponseDirectives& d) {
  return std::tie(d.max_age, d.s_maxage, d.no_cache, d.no_cache_fields, d.no_store, d.private_,
                  d.private_fields, d.public_, d.must_revalidate, d.proxy_revalidate,
                  d.must_understand, d.no_transform, d.stale_while_revalidate, d.stale_if_error);
}

void expect_same(const Entry& a, const Entry& b) {
  EXPECT_EQ(a.uri_key, b.uri_key);
  EXPECT_EQ(a.variant_key, b.variant_key);
  EXPECT_EQ(a.identity, b.identity);
  EXPECT_EQ(a.vary.any, b.vary.any);
  EXPECT_EQ(a.vary.names, b.vary.names);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.fields, b.fields);
  ASSERT_TRUE(b.body);
  EXPECT_EQ(a.body ? *a.body : std::string(), *b.body);
  EXPECT_EQ(a.date, b.date);
  EXPECT_EQ(a.age_field, b.age_field);
  EXPECT_EQ(a.request_time, b.request_time);
  EXPECT_EQ(a.response_time, b.response_time);
  EXPECT_EQ(a.lifetime.lifetime, b.lifetime.lifetime);
  EXPECT_EQ(a.lifetime.source, b.lifetime.source);
  EXPECT_TRUE(directives_tuple(a.directives) == directives_tuple(b.directives));
  EXPECT_EQ(a.etag, b.etag);
  EXPECT_EQ(a.last_modified, b.last_modified);
  EXPECT_EQ(a.charge(), b.charge());
}

Entry round_trip(const Entry& e) {
  std::string why;
  const std::optional<Entry> out = decode_entry(encode_entry(e), &why);
  EXPECT_TRUE(out) << why;
  return out.value_or(Entry{});
}

// The requests whose reuse decisions are compared.
std::vector<Lines> requests() {
  return {{},
          {{"Cache-Control", "no-cache"}},
          {{"Pragma", "no-cache"}},
          {{"Cache-Control", "max-age=5"}},
          {{"Cache-Control", "min-fresh=30"}},
          {{"Cache-Control", "max-stale"}},
          {{"Cache-Control", "max-stale=100"}},
          {{"If-None-Match", "\"v1\""}},
          {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}};
}

// Every decision the cache takes from a stored entry, at many times and for many requests,
// is the same for the decoded copy.
void expect_same_decisions(const Entry& a, const Entry& b) {
  for (int64_t t = -10; t < 5000; t += 7) {
    const sys_seconds now = at(t);
    ASSERT_EQ(a.age_at(now), b.age_at(now)) << t;
    ASSERT_EQ(may_serve_on_error(a.directives, a.age_at(now), a.lifetime.lifetime),
              may_serve_on_error(b.directives, b.age_at(now), b.lifetime.lifetime));
    for (const Lines& request : requests()) {
      const auto cc = joined_field(request, "cache-control");
      const RequestDirectives rd = parse_request_directives(cc.value_or(""));
      const auto decide = [&](const Entry& e) {
        return decide_reuse({.request = &rd,
                             .response = &e.directives,
                             .pragma_no_cache = joined_field(request, "pragma").has_value(),
                             .has_cache_control = cc.has_value(),
                             .age = e.age_at(now),
                             .lifetime = e.lifetime.lifetime});
      };
      ASSERT_EQ(decide(a), decide(b)) << t;
      ASSERT_EQ(not_modified(a, request, now), not_modified(b, request, now)) << t;
    }
  }
  EXPECT_EQ(validation_fields(a), validation_fields(b));
  EXPECT_EQ(not_modified_response_fields(a), not_modified_response_fields(b));
  EXPECT_EQ(a.field("content-type"), b.field("content-type"));
}

void expect_round_trip(const Entry& e) {
  const Entry out = round_trip(e);
  expect_same(e, out);
  expect_same_decisions(e, out);
}

// ---- round trips -----------------------------------------------------------------------------

TEST(EntryCodec, PlainResponse) {
  expect_round_trip(response({{"Content-Type", "application/json"},
                              {"Cache-Control", "max-age=60"},
                              {"Date", format_http_date(at(-1))},
                              {"ETag", "\"v1\""}}));
}

TEST(EntryCodec, BinaryBody) {
  std::string body;
  for (int i = 0; i < 4096; ++i) body += static_cast<char>(i * 7 % 256);
  body += std::string(3, '\0');
  expect_round_trip(response({{"Cache-Control", "max-age=60"}}, body));
}

TEST(EntryCodec, EmptyBody) {
  expect_round_trip(response({{"Cache-Control", "max-age=60"}}, "", 204));
}

TEST(EntryCodec, NullBodyDecodesAsEmpty) {
  Entry e = response({});
  e.body = nullptr;
  const Entry out = round_trip(e);
  ASSERT_TRUE(out.body);
  EXPECT_EQ(*out.body, "");
}

TEST(EntryCodec, EveryOptionalAbsent) {
  Entry e = response({});
  EXPECT_FALSE(e.date || e.age_field || e.last_modified || e.directives.max_age);
  EXPECT_TRUE(e.etag.empty());
  expect_round_trip(e);
}

TEST(EntryCodec, EveryOptionalPresent) {
  Entry e = response({{"Date", format_http_date(at(-30))},
                      {"Age", "12"},
                      {"Last-Modified", format_http_date(at(-86400))},
                      {"ETag", "W/\"weak\""},
                      {"Expires", format_http_date(at(600))},
                      {"Cache-Control",
                       "max-age=100, s-maxage=50, stale-while-revalidate=30, "
                       "stale-if-error=300, no-cache=\"set-cookie, x-a\", "
                       "private=\"x-b\", public, must-revalidate, proxy-revalidate, "
                       "must-understand, no-transform, no-store"},
                      {"Vary", "Accept-Encoding, Accept-Language"}});
  EXPECT_TRUE(e.date && e.age_field && e.last_modified);
  const ResponseDirectives& d = e.directives;
  EXPECT_TRUE(d.max_age && d.s_maxage && d.stale_while_revalidate && d.stale_if_error);
  EXPECT_TRUE(d.no_cache && d.private_ && d.public_ && d.must_revalidate && d.proxy_revalidate &&
              d.must_understand && d.no_transform && d.no_store);
  EXPECT_EQ(d.no_cache_fields.size(), 2u);
  e.identity = identity_prefix("alice");
  const Lines request = {{"Accept-Encoding", "gzip"}};
  e.variant_key = e.identity + vary_key(e.vary, request).value();
  expect_round_trip(e);
}

TEST(EntryCodec, StaleGrantsWithoutStaleForbidders) {
  expect_round_trip(response({{"Cache-Control",
                               "max-age=10, stale-while-revalidate=100, "
                               "stale-if-error=1000"},
                              {"Last-Modified", format_http_date(at(-5000))}}));
}

TEST(EntryCodec, HeuristicAndExpiresLifetimes) {
  expect_round_trip(response({{"Last-Modified", format_http_date(at(-50000))}}));
  expect_round_trip(response({{"Expires", format_http_date(at(300))}}));
  expect_round_trip(response({{"Expires", "0"}}));
}

TEST(EntryCodec, VaryStar) {
  Entry e = response({{"Vary", "*"}, {"Cache-Control", "max-age=5"}});
  EXPECT_TRUE(e.vary.any);
  expect_round_trip(e);
}

TEST(EntryCodec, NotModifiedMergedEntry) {
  const Entry stored = response({{"Cache-Control", "max-age=10"},
                                 {"ETag", "\"v1\""},
                                 {"X-Old", "1"},
                                 {"Date", format_http_date(at(-1))}});
  const std::string date = format_http_date(at(100));  // the lines below point into it
  const Lines not_modified_fields = {{"Cache-Control", "max-age=500, stale-if-error=60"},
                                     {"ETag", "\"v1\""},
                                     {"Age", "3"},
                                     {"Date", date}};
  ASSERT_TRUE(freshens(stored, not_modified_fields));
  const auto merged = freshen(stored, not_modified_fields, at(99), at(101), false);
  EXPECT_EQ(merged->age_field, seconds{3});
  expect_round_trip(*merged);
}

TEST(EntryCodec, ManyFieldsAndRepeatedNames) {
  Fields fields;
  for (int i = 0; i < 200; ++i) fields.emplace_back("X-Repeat", std::to_string(i));
  fields.emplace_back("Set-Thing", std::string("a\0b", 3));
  fields.emplace_back("", "");
  expect_round_trip(response(fields));
}

TEST(EntryCodec, ExtremeValues) {
  Entry e = response({{"Cache-Control", "max-age=99999999999"}});
  EXPECT_EQ(e.directives.max_age, kMaxDeltaSeconds);
  e.status = 599;
  e.age_field = kMaxDeltaSeconds;
  e.request_time = sys_seconds(seconds(-(int64_t{1} << 40)));
  e.response_time = sys_seconds(seconds(int64_t{1} << 40));
  expect_same(e, round_trip(e));
  e.status = 100;
  expect_same(e, round_trip(e));
}

TEST(EntryCodec, EncodingIsDeterministic) {
  const Entry e = response({{"Cache-Control", "max-age=60"}, {"ETag", "\"x\""}});
  EXPECT_EQ(encode_entry(e), encode_entry(round_trip(e)));
}

// ---- the format, spelled out independently ----------------------------------------------------

std::string le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}
std::string str(std::string_view s) {
  return le(s.size(), 4) + std::string(s);
}
std::string none() {
  return le(0, 1);
}
std::string some(int64_t v) {
  return le(1, 1) + le(static_cast<uint64_t>(v), 8);
}

enum Part {
  kMagicPart,
  kVersion,
  kUri,
  kVariant,
  kIdentity,
  kVaryAny,
  kVaryNames,
  kStatus,
  kReason,
  kFields,
  kBody,
  kDate,
  kAge,
  kRequestTime,
  kResponseTime,
  kLifetime,
  kSource,
  kMaxAge,
  kSMaxAge,
  kSwr,
  kSie,
  kFlags,
  kNoCacheFields,
  kPrivateFields,
  kEtag,
  kLastModified,
  kPartCount
};

std::vector<std::string> valid_parts() {
  std::vector<std::string> p(kPartCount);
  p[kMagicPart] = "BWCE";
  p[kVersion] = le(1, 1);
  p[kUri] = str("h/p");
  p[kVariant] = str("idv");
  p[kIdentity] = str("id");
  p[kVaryAny] = le(0, 1);
  p[kVaryNames] = le(1, 4) + str("accept");
  p[kStatus] = le(200, 2);
  p[kReason] = str("OK");
  p[kFields] = le(1, 4) + str("ETag") + str("\"e\"");
  p[kBody] = le(4, 8) + "body";
  p[kDate] = some(1000);
  p[kAge] = none();
  p[kRequestTime] = le(999, 8);
  p[kResponseTime] = le(1000, 8);
  p[kLifetime] = le(60, 8);
  p[kSource] = le(1, 1);  // max_age
  p[kMaxAge] = some(60);
  p[kSMaxAge] = none();
  p[kSwr] = some(5);
  p[kSie] = none();
  p[kFlags] = le(1 << 3, 2);  // public
  p[kNoCacheFields] = le(0, 4);
  p[kPrivateFields] = le(0, 4);
  p[kEtag] = str("\"e\"");
  p[kLastModified] = none();
  return p;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += p;
  return out;
}

TEST(EntryCodec, FormatIsPinned) {
  const std::optional<Entry> e = decode_entry(join(valid_parts()));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->uri_key, "h/p");
  EXPECT_EQ(e->variant_key, "idv");
  EXPECT_EQ(e->identity, "id");
  EXPECT_EQ(e->vary.names, std::vector<std::string>{"accept"});
  EXPECT_EQ(e->status, 200u);
  EXPECT_EQ(e->fields, (Fields{{"ETag", "\"e\""}}));
  EXPECT_EQ(*e->body, "body");
  EXPECT_EQ(e->date, sys_seconds(seconds(1000)));
  EXPECT_FALSE(e->age_field);
  EXPECT_EQ(e->lifetime.lifetime, seconds(60));
  EXPECT_EQ(e->lifetime.source, FreshnessSource::max_age);
  EXPECT_EQ(e->directives.stale_while_revalidate, seconds(5));
  EXPECT_TRUE(e->directives.public_);
  EXPECT_FALSE(e->directives.no_store);
  EXPECT_EQ(encode_entry(*e), join(valid_parts()));
}

struct Malformed {
  std::string_view name;
  Part part;
  std::string bytes;  // replaces that part
  std::string_view reason;
};

std::vector<Malformed> malformed_cases() {
  const uint64_t max32 = 0xffffffffu;
  const int64_t big = (int64_t{1} << 40) + 1;
  return {
      {"wrong_magic", kMagicPart, "XWCE", "not an encoded entry"},
      {"short_magic", kMagicPart, "BW", "not an encoded entry"},
      {"version_0", kVersion, le(0, 1), "unknown version 0"},
      {"version_2", kVersion, le(2, 1), "unknown version 2"},
      {"version_255", kVersion, le(255, 1), "unknown version 255"},
      {"uri_length_huge", kUri, le(max32, 4), "uri key length"},
      {"uri_length_two_bytes", kUri, le(3, 2), "uri key length"},
      {"variant_length_past_end", kVariant, le(100000, 4) + "x", "variant key length"},
      {"variant_without_identity", kVariant, str("xv"), "does not start with the identity"},
      {"identity_longer_than_variant", kIdentity, str("idvv"), "does not start"},
      {"vary_any_2", kVaryAny, le(2, 1), "vary any is not 0 or 1"},
      {"vary_names_count_huge", kVaryNames, le(max32, 4), "vary names count"},
      {"vary_names_count_1001", kVaryNames, le(1001, 4) + std::string(8000, '\0'), "count"},
      {"vary_names_short", kVaryNames, le(2, 4) + str("accept"), "past the end"},
      {"status_0", kStatus, le(0, 2), "status out of range"},
      {"status_99", kStatus, le(99, 2), "status out of range"},
      {"status_600", kStatus, le(600, 2), "status out of range"},
      {"status_65535", kStatus, le(65535, 2), "status out of range"},
      {"reason_past_end", kReason, le(max32 - 1, 4), "reason length"},
      {"fields_count_cap", kFields, le(10001, 4) + std::string(100000, '\0'), "field count"},
      {"fields_count_huge", kFields, le(max32, 4), "field count"},
      {"fields_fewer_than_counted", kFields, le(3, 4) + str("a") + str("b"), ""},
      {"field_value_past_end", kFields, le(1, 4) + str("a") + le(1 << 20, 4), "field value"},
      {"body_length_max", kBody, le(~uint64_t{0}, 8), "body length"},
      {"body_one_short", kBody, le(5, 8) + "body", ""},
      {"date_flag_2", kDate, le(2, 1) + le(0, 8), "date is not 0 or 1"},
      {"date_far_future", kDate, le(1, 1) + le(big, 8), "date out of range"},
      {"date_far_past", kDate, le(1, 1) + le(static_cast<uint64_t>(-big), 8), "date out of"},
      {"date_truncated", kDate, le(1, 1) + le(0, 4), ""},
      {"age_negative", kAge, some(-1), "age out of range"},
      {"age_over_2_31", kAge, some((int64_t{1} << 31) + 1), "age out of range"},
      {"request_time_huge", kRequestTime, le(big, 8), "request time out of range"},
      {"response_time_min", kResponseTime, le(uint64_t{1} << 63, 8), "response time out of"},
      {"lifetime_negative", kLifetime, le(static_cast<uint64_t>(-5), 8), "lifetime out of"},
      {"lifetime_huge", kLifetime, le(uint64_t{1} << 50, 8), "lifetime out of range"},
      {"source_5", kSource, le(5, 1), "unknown lifetime source"},
      {"max_age_flag_7", kMaxAge, le(7, 1) + le(0, 8), "max-age is not 0 or 1"},
      {"s_maxage_negative", kSMaxAge, some(-100), "s-maxage out of range"},
      {"swr_negative", kSwr, some(-1), "stale-while-revalidate out of range"},
      {"sie_huge", kSie, some(int64_t{1} << 62), "stale-if-error out of range"},
      {"flags_bit_8", kFlags, le(1 << 8, 2), "unknown directive flags"},
      {"flags_top_bit", kFlags, le(0x8000, 2), "unknown directive flags"},
      {"no_cache_fields_huge", kNoCacheFields, le(max32, 4), "no-cache fields count"},
      {"private_fields_past_end", kPrivateFields, le(1, 4) + le(50, 4), "private fields"},
      {"etag_past_end", kEtag, le(10, 4) + "\"e\"", "etag length"},
      {"last_modified_truncated", kLastModified, le(1, 1) + le(0, 3), "truncated"},
      {"last_modified_flag_3", kLastModified, le(3, 1), "last-modified is not 0 or 1"},
      {"one_trailing_byte", kLastModified, none() + "x", "1 trailing bytes"},
      {"many_trailing_bytes", kLastModified, none() + std::string(100, 'x'), "100 trailing"},
  };
}

TEST(EntryCodec, MalformedInputsAreRefusedWithAReason) {
  const std::vector<Malformed> cases = malformed_cases();
  EXPECT_GE(cases.size(), 30u);
  for (const Malformed& c : cases) {
    std::vector<std::string> parts = valid_parts();
    parts[c.part] = c.bytes;
    std::string why;
    EXPECT_FALSE(decode_entry(join(parts), &why)) << c.name;
    EXPECT_TRUE(why.starts_with("bad cache entry: ")) << c.name << ": " << why;
    EXPECT_NE(why.find(c.reason), std::string::npos) << c.name << ": " << why;
  }
}

TEST(EntryCodec, NotEntriesAtAll) {
  for (const std::string_view bytes :
       {std::string_view(), std::string_view("hello"), std::string_view("BWCE"),
        std::string_view("\x00\x00\x00\x00\x00", 5), std::string_view("+OK\r\n")}) {
    std::string why;
    EXPECT_FALSE(decode_entry(bytes, &why)) << bytes;
    EXPECT_FALSE(why.empty());
  }
}

TEST(EntryCodec, EveryTruncationIsRefused) {
  const std::string valid = encode_entry(response(
      {{"Cache-Control", "max-age=60, stale-if-error=5"}, {"ETag", "\"v\""}}, "0123456789"));
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_FALSE(decode_entry(std::string_view(valid).substr(0, n))) << n;
  }
  EXPECT_TRUE(decode_entry(valid));
}

// Random edits of valid encodings: never a crash or an over-read (the ASan build checks the
// reads), and whatever decodes satisfies the invariants and encodes back to itself.
TEST(EntryCodec, MutationFuzz) {
  std::vector<std::string> seeds = {
      join(valid_parts()),
      encode_entry(response({{"Cache-Control", "max-age=60, stale-if-error=5, private=\"x\""},
                             {"ETag", "\"v\""},
                             {"Vary", "accept"},
                             {"Date", format_http_date(at(-3))}},
                            std::string(64, 'b'))),
      encode_entry(response({}, "")),
  };
  std::mt19937_64 rng(20240611);
  const auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  size_t decoded = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string bytes = seeds[pick(seeds.size())];
    const int edits = 1 + static_cast<int>(pick(4));
    for (int i = 0; i < edits; ++i) {
      switch (pick(6)) {
        case 0:  // flip a bit
          if (!bytes.empty()) bytes[pick(bytes.size())] ^= static_cast<char>(1 << pick(8));
          break;
        case 1:  // a random byte
          if (!bytes.empty()) bytes[pick(bytes.size())] = static_cast<char>(rng());
          break;
        case 2:  // insert
          bytes.insert(bytes.begin() + static_cast<long>(pick(bytes.size() + 1)),
                       static_cast<char>(rng()));
          break;
        case 3:  // erase
          if (!bytes.empty()) bytes.erase(pick(bytes.size()), 1 + pick(8));
          break;
        case 4:  // truncate
          bytes.resize(pick(bytes.size() + 1));
          break;
        case 5:  // a large little-endian length somewhere
          if (bytes.size() >= 4) {
            const size_t at = pick(bytes.size() - 3);
            for (int b = 0; b < 4; ++b) bytes[at + b] = static_cast<char>(0x7f + pick(0x80));
          }
          break;
      }
    }
    std::string why;
    const std::optional<Entry> e = decode_entry(bytes, &why);
    if (!e) {
      ASSERT_FALSE(why.empty());
      continue;
    }
    ++decoded;
    ASSERT_GE(e->status, 100u);
    ASSERT_LE(e->status, 599u);
    ASSERT_TRUE(e->variant_key.starts_with(e->identity));
    ASSERT_TRUE(e->body);
    ASSERT_EQ(encode_entry(*e), bytes);
  }
  EXPECT_GT(decoded, 0u);  // some edits (body bytes, say) leave a valid entry
}

}  // namespace
}  // namespace bulwark::cache
