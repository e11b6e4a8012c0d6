#include "cache/entry.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cache/http_date.hpp"

namespace bulwark::cache {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;
using Fields = std::vector<std::pair<std::string, std::string>>;

// 1994-11-06T08:49:37Z, the RFC's example date.
constexpr sys_seconds kT0{seconds{784111777}};

sys_seconds at(int64_t offset) {
  return kT0 + seconds{offset};
}

std::string date(int64_t offset) {
  return format_http_date(at(offset));
}

Entry entry_with(Fields fields, unsigned status = 200) {
  Entry e;
  e.status = status;
  e.fields = std::move(fields);
  e.body = std::make_shared<const std::string>("hello");
  e.request_time = kT0;
  e.response_time = kT0;
  return e;
}

Entry derived(Fields fields, bool heuristic = false, unsigned status = 200) {
  Entry e = entry_with(std::move(fields), status);
  derive_metadata(e, heuristic);
  return e;
}

// ---- field() ---------------------------------------------------------------------------------

TEST(EntryField, FirstLineCaseInsensitive) {
  const Entry e = entry_with({{"X-A", "1"}, {"x-a", "2"}, {"Other", "3"}});
  EXPECT_EQ(e.field("x-A"), "1");
  EXPECT_EQ(e.field("OTHER"), "3");
}

TEST(EntryField, AbsentIsNullopt) {
  const Entry e = entry_with({{"X-A", "1"}});
  EXPECT_EQ(e.field("X-B"), std::nullopt);
  EXPECT_EQ(e.field("X-"), std::nullopt);
}

TEST(EntryField, EmptyValueIsPresent) {
  const Entry e = entry_with({{"X-Empty", ""}});
  ASSERT_TRUE(e.field("x-empty").has_value());
  EXPECT_EQ(*e.field("x-empty"), "");
}

// ---- charge() --------------------------------------------------------------------------------

TEST(EntryCharge, CountsBodyFieldsKeysReasonAndOverhead) {
  Entry e = entry_with({{"Content-Type", "text/plain"}, {"ETag", "\"x\""}});
  e.uri_key = "example.com/a";  // 13
  e.variant_key =
      "\x01"
      "3:bob";  // 6
  e.identity =
      "\x01"
      "3:bob";      // 6
  e.reason = "OK";  // 2
  // body 5, fields 12 + 10 + 4 + 3
  EXPECT_EQ(e.charge(), kEntryOverheadBytes + 5 + 29 + 13 + 6 + 6 + 2);
}

TEST(EntryCharge, EmptyEntryIsTheOverhead) {
  Entry e;
  e.body = std::make_shared<const std::string>();
  EXPECT_EQ(e.charge(), kEntryOverheadBytes);
}

TEST(EntryCharge, NullBodyCountsNothing) {
  Entry e;
  e.reason = "OK";
  EXPECT_EQ(e.charge(), kEntryOverheadBytes + 2);
}

TEST(EntryCharge, GrowsWithEveryLine) {
  Entry e = entry_with({{"A", "1"}});
  const uint64_t before = e.charge();
  e.fields.emplace_back("A", "22");
  EXPECT_EQ(e.charge(), before + 3);
}

// ---- derive_metadata: directives -------------------------------------------------------------

TEST(DeriveMetadata, CacheControlLinesJoined) {
  const Entry e = derived({{"Cache-Control", "max-age=60"}, {"cache-control", "s-maxage=5"}});
  EXPECT_EQ(e.directives.max_age, seconds{60});
  EXPECT_EQ(e.directives.s_maxage, seconds{5});
  EXPECT_EQ(e.lifetime.lifetime, seconds{5});  // shared cache: s-maxage wins
  EXPECT_EQ(e.lifetime.source, FreshnessSource::s_maxage);
}

TEST(DeriveMetadata, ConflictingMaxAgeAcrossLinesIsStale) {
  const Entry e = derived({{"Cache-Control", "max-age=60"}, {"Cache-Control", "max-age=30"}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{0});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::max_age);
}

TEST(DeriveMetadata, NoCacheControlMeansNoDirectives) {
  const Entry e = derived({{"Content-Type", "text/plain"}});
  EXPECT_FALSE(e.directives.no_cache);
  EXPECT_FALSE(e.directives.max_age.has_value());
  EXPECT_EQ(e.lifetime.source, FreshnessSource::none);
  EXPECT_EQ(e.lifetime.lifetime, seconds{0});
}

TEST(DeriveMetadata, PragmaIsIgnoredInResponses) {
  const Entry e = derived({{"Pragma", "no-cache"}, {"Cache-Control", "max-age=10"}});
  EXPECT_FALSE(e.directives.no_cache);
  EXPECT_EQ(e.lifetime.lifetime, seconds{10});
}

// ---- derive_metadata: Date -------------------------------------------------------------------

TEST(DeriveMetadata, ValidDate) {
  const Entry e = derived({{"Date", date(-100)}});
  EXPECT_EQ(e.date, at(-100));
  EXPECT_EQ(e.age_at(kT0), seconds{100});  // apparent age
}

TEST(DeriveMetadata, MissingDateIsAbsent) {
  const Entry e = derived({});
  EXPECT_EQ(e.date, std::nullopt);
  EXPECT_EQ(e.age_at(at(7)), seconds{7});
}

TEST(DeriveMetadata, InvalidDateIsAbsent) {
  const Entry e = derived({{"Date", "yesterday"}});
  EXPECT_EQ(e.date, std::nullopt);
}

TEST(DeriveMetadata, DateOnTwoLinesIsInvalid) {
  const Entry e = derived({{"Date", date(-100)}, {"Date", date(-100)}});
  EXPECT_EQ(e.date, std::nullopt);
}

TEST(DeriveMetadata, ExpiresCountsFromDate) {
  const Entry e = derived({{"Date", date(-100)}, {"Expires", date(500)}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{600});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::expires);
}

TEST(DeriveMetadata, ExpiresCountsFromReceiptWithoutDate) {
  const Entry e = derived({{"Expires", date(500)}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{500});
}

TEST(DeriveMetadata, ExpiresCountsFromReceiptWithInvalidDate) {
  const Entry e = derived({{"Date", "garbage"}, {"Expires", date(300)}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{300});
}

TEST(DeriveMetadata, ExpiresOnTwoLinesIsExpired) {
  const Entry e = derived({{"Expires", date(500)}, {"Expires", date(500)}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{0});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::expires);
}

TEST(DeriveMetadata, InvalidExpiresIsExpired) {
  const Entry e = derived({{"Expires", "0"}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{0});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::expires);
}

TEST(DeriveMetadata, MaxAgeBeatsExpires) {
  const Entry e = derived({{"Expires", date(500)}, {"Cache-Control", "max-age=20"}});
  EXPECT_EQ(e.lifetime.lifetime, seconds{20});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::max_age);
}

// ---- derive_metadata: Age --------------------------------------------------------------------

TEST(DeriveMetadata, AgeIsReadAndRemoved) {
  const Entry e = derived({{"Age", "100"}, {"X-A", "1"}});
  EXPECT_EQ(e.age_field, seconds{100});
  EXPECT_EQ(e.field("age"), std::nullopt);
  EXPECT_EQ(e.fields, (Fields{{"X-A", "1"}}));
  EXPECT_EQ(e.age_at(at(5)), seconds{105});
}

TEST(DeriveMetadata, AgeListUsesFirstMember) {
  EXPECT_EQ(derived({{"Age", "10, 20"}}).age_field, seconds{10});
}

TEST(DeriveMetadata, AgeOnTwoLinesUsesFirst) {
  const Entry e = derived({{"age", "5"}, {"AGE", "7"}});
  EXPECT_EQ(e.age_field, seconds{5});
  EXPECT_TRUE(e.fields.empty());
}

TEST(DeriveMetadata, InvalidAgeReadsAsAbsentAndIsRemoved) {
  Entry e = entry_with({{"Age", "-1"}});
  e.age_field = seconds{9};
  derive_metadata(e, false);
  EXPECT_EQ(e.age_field, std::nullopt);
  EXPECT_TRUE(e.fields.empty());
}

TEST(DeriveMetadata, WithoutAgeLineAgeFieldIsKept) {
  Entry e = entry_with({{"Cache-Control", "max-age=60"}});
  e.age_field = seconds{30};
  derive_metadata(e, false);
  EXPECT_EQ(e.age_field, seconds{30});
}

TEST(DeriveMetadata, SecondRunKeepsEverything) {
  Entry e = derived({{"Age", "40"}, {"Date", date(-3)}, {"ETag", "\"a\""}});
  const Entry once = e;
  derive_metadata(e, false);
  EXPECT_EQ(e.age_field, once.age_field);
  EXPECT_EQ(e.date, once.date);
  EXPECT_EQ(e.etag, once.etag);
  EXPECT_EQ(e.fields, once.fields);
}

// ---- derive_metadata: validators -------------------------------------------------------------

TEST(DeriveMetadata, EtagFirstLineTrimmed) {
  const Entry e = derived({{"ETag", " W/\"a\"\t"}, {"ETag", "\"b\""}});
  EXPECT_EQ(e.etag, "W/\"a\"");
}

TEST(DeriveMetadata, EtagKeptRawEvenWhenInvalid) {
  EXPECT_EQ(derived({{"etag", "abc"}}).etag, "abc");
}

TEST(DeriveMetadata, NoEtagIsEmpty) {
  EXPECT_EQ(derived({{"X", "y"}}).etag, "");
}

TEST(DeriveMetadata, LastModified) {
  EXPECT_EQ(derived({{"Last-Modified", date(-3600)}}).last_modified, at(-3600));
  EXPECT_EQ(derived({{"Last-Modified", "Sunday, 06-Nov-94 07:49:37 GMT"}}).last_modified,
            at(-3600));
}

TEST(DeriveMetadata, InvalidLastModifiedIsAbsent) {
  EXPECT_EQ(derived({{"Last-Modified", "never"}}).last_modified, std::nullopt);
  EXPECT_EQ(derived({{"Last-Modified", date(-1)}, {"Last-Modified", date(-1)}}).last_modified,
            std::nullopt);
}

// ---- derive_metadata: heuristic freshness ----------------------------------------------------

TEST(DeriveMetadata, HeuristicWhenAllowed) {
  const Entry e = derived({{"Date", date(0)}, {"Last-Modified", date(-36000)}}, true);
  EXPECT_EQ(e.lifetime.lifetime, seconds{3600});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::heuristic);
}

TEST(DeriveMetadata, NoHeuristicWhenNotAllowed) {
  const Entry e = derived({{"Date", date(0)}, {"Last-Modified", date(-36000)}}, false);
  EXPECT_EQ(e.lifetime.lifetime, seconds{0});
  EXPECT_EQ(e.lifetime.source, FreshnessSource::none);
}

TEST(DeriveMetadata, HeuristicUsesReceiptTimeWithoutDate) {
  const Entry e = derived({{"Last-Modified", date(-1000)}}, true);
  EXPECT_EQ(e.lifetime.lifetime, seconds{100});
}

TEST(DeriveMetadata, HeuristicFollowsStatus) {
  const Fields fields{{"Date", date(0)}, {"Last-Modified", date(-36000)}};
  EXPECT_EQ(derived(fields, true, 404).lifetime.lifetime, seconds{3600});
  EXPECT_EQ(derived(fields, true, 302).lifetime.source, FreshnessSource::none);
}

}  // namespace
}  // namespace bulwark::cache
