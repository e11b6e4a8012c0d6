// The value syntaxes: durations, sizes, rates and endpoints. IP networks are in
// ip_network_test.cpp.

#include "config/units.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace bulwark::config {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// gtest names parameterized cases after `name`, so each row reads as one behaviour.
template <class Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// A refused value: the input and words its explanation must hold.
struct Refusal {
  std::string name;
  std::string text;
  std::vector<std::string> hints;
};

void PrintTo(const Refusal& c, std::ostream* os) {
  *os << c.name << " '" << c.text << "'";
}

template <class T, class Parse>
void expect_refused(const Refusal& c, Parse parse) {
  std::string why;
  const std::optional<T> parsed = parse(c.text, &why);
  EXPECT_FALSE(parsed.has_value()) << c.text;
  for (const std::string& hint : c.hints) EXPECT_THAT(why, HasSubstr(hint)) << c.text;
}

// --- Durations ------------------------------------------------------------------------------

struct DurationCase {
  std::string name;
  std::string text;
  Duration expected;
};

void PrintTo(const DurationCase& c, std::ostream* os) {
  *os << c.name;
}

class DurationAccepted : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationAccepted, Parses) {
  std::string why;
  const auto parsed = parse_duration(GetParam().text, &why);
  ASSERT_TRUE(parsed.has_value()) << why;
  EXPECT_EQ(*parsed, GetParam().expected);
}

constexpr auto kMaxMs = std::numeric_limits<Duration::rep>::max();

INSTANTIATE_TEST_SUITE_P(
    Units, DurationAccepted,
    ::testing::Values(
        DurationCase{"Milliseconds", "250ms", 250ms}, DurationCase{"Seconds", "10s", 10s},
        DurationCase{"Minutes", "5m", 5min}, DurationCase{"Hours", "1h", 1h},
        DurationCase{"Days", "1d", 24h}, DurationCase{"Zero", "0s", 0ms},
        DurationCase{"SurroundingSpacesIgnored", "  10s ", 10s},
        DurationCase{"SurroundingTabsAndNewlinesIgnored", "\t1h\n", 1h},
        DurationCase{"LargestMilliseconds", "9223372036854775807ms", Duration(kMaxMs)},
        DurationCase{"LargestDays", "106751991167d", Duration(106751991167LL * 86'400'000LL)}),
    case_name<DurationCase>);

class DurationRefused : public ::testing::TestWithParam<Refusal> {};

TEST_P(DurationRefused, ExplainsWhy) {
  expect_refused<Duration>(GetParam(), [](std::string_view text, std::string* why) {
    return parse_duration(text, why);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Units, DurationRefused,
    ::testing::Values(Refusal{"BareNumberNeedsAUnit", "10", {"has no unit", "'10s'", "'10ms'"}},
                      Refusal{"BareZeroNeedsAUnit", "0", {"has no unit", "'0s'"}},
                      Refusal{"Empty", "", {"empty"}}, Refusal{"OnlySpaces", "   ", {"empty"}},
                      Refusal{"Negative", "-5s", {"negative"}},
                      Refusal{"PlusSign", "+5s", {"not a number"}},
                      Refusal{"SpaceBeforeUnit", "10 s", {"no spaces", "'10s'"}},
                      Refusal{"Fraction", "1.5s", {"whole numbers", "smaller unit"}},
                      Refusal{"UpperCaseUnit", "10S", {"case-sensitive", "'10s'"}},
                      Refusal{"UpperCaseMs", "250MS", {"case-sensitive", "'250ms'"}},
                      Refusal{"UnknownUnit", "10sec", {"unknown unit 'sec'", "ms, s, m, h or d"}},
                      Refusal{"Microseconds", "10us", {"unknown unit 'us'"}},
                      Refusal{"CompoundUnits", "1h30m", {"single unit", "90m"}},
                      Refusal{"UnitWithoutNumber", "s", {"not a number"}},
                      Refusal{"Words", "ten seconds", {"no spaces"}},
                      Refusal{"OverflowInMilliseconds", "9223372036854775808ms", {"too large"}},
                      Refusal{"OverflowAfterScaling", "106751991168d", {"too large"}},
                      Refusal{"OverflowOfTheDigits", "99999999999999999999999s", {"too large"}}),
    case_name<Refusal>);

TEST(Duration, RefusesWithoutAReasonSlot) {
  EXPECT_FALSE(parse_duration("10").has_value());
  EXPECT_FALSE(parse_duration("").has_value());
}

// --- Sizes ----------------------------------------------------------------------------------

struct SizeCase {
  std::string name;
  std::string text;
  uint64_t expected;
};

void PrintTo(const SizeCase& c, std::ostream* os) {
  *os << c.name;
}

class SizeAccepted : public ::testing::TestWithParam<SizeCase> {};

TEST_P(SizeAccepted, Parses) {
  std::string why;
  const auto parsed = parse_size(GetParam().text, &why);
  ASSERT_TRUE(parsed.has_value()) << why;
  EXPECT_EQ(*parsed, GetParam().expected);
}

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

INSTANTIATE_TEST_SUITE_P(Units, SizeAccepted,
                         ::testing::Values(SizeCase{"BareNumberIsBytes", "512", 512},
                                           SizeCase{"Zero", "0", 0}, SizeCase{"Bytes", "512B", 512},
                                           SizeCase{"KibiBytes", "16KiB", 16 * 1024},
                                           SizeCase{"MebiBytes", "10MiB", 10 * 1024 * 1024},
                                           SizeCase{"GibiBytes", "1GiB", 1024ULL * 1024 * 1024},
                                           SizeCase{"KiloBytesArePowersOf1000", "1KB", 1000},
                                           SizeCase{"MegaBytes", "10MB", 10'000'000},
                                           SizeCase{"GigaBytes", "2GB", 2'000'000'000},
                                           SizeCase{"SurroundingSpacesIgnored", " 1KiB ", 1024},
                                           SizeCase{"LargestBare", "18446744073709551615", kMaxU64},
                                           SizeCase{"LargestGibiBytes", "17179869183GiB",
                                                    17179869183ULL * 1024 * 1024 * 1024}),
                         case_name<SizeCase>);

class SizeRefused : public ::testing::TestWithParam<Refusal> {};

TEST_P(SizeRefused, ExplainsWhy) {
  expect_refused<uint64_t>(
      GetParam(), [](std::string_view text, std::string* why) { return parse_size(text, why); });
}

INSTANTIATE_TEST_SUITE_P(
    Units, SizeRefused,
    ::testing::Values(Refusal{"Empty", "", {"empty"}}, Refusal{"Negative", "-1", {"negative"}},
                      Refusal{"OverflowBare", "18446744073709551616", {"too large"}},
                      Refusal{"OverflowAfterScaling", "17179869184GiB", {"too large"}},
                      Refusal{"LowerCaseBinaryUnit", "16kib", {"case-sensitive", "'16KiB'"}},
                      Refusal{"LowerCaseDecimalUnit", "16kb", {"case-sensitive", "'16KB'"}},
                      Refusal{"SpaceBeforeUnit", "10 MiB", {"no spaces", "'10MiB'"}},
                      Refusal{"Fraction", "1.5MiB", {"whole numbers"}},
                      Refusal{"UnitLetterOnly", "16K", {"unknown unit 'K'", "KiB"}},
                      Refusal{"TebiBytesNotSupported", "1TiB", {"unknown unit 'TiB'"}},
                      Refusal{"UnitWithoutNumber", "KiB", {"not a number"}}),
    case_name<Refusal>);

// --- Rates ----------------------------------------------------------------------------------

struct RateCase {
  std::string name;
  std::string text;
  Rate expected;
};

void PrintTo(const RateCase& c, std::ostream* os) {
  *os << c.name;
}

class RateAccepted : public ::testing::TestWithParam<RateCase> {};

TEST_P(RateAccepted, Parses) {
  std::string why;
  const auto parsed = parse_rate(GetParam().text, &why);
  ASSERT_TRUE(parsed.has_value()) << why;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Units, RateAccepted,
    ::testing::Values(RateCase{"PerSecond", "100/s", {100, 1s}},
                      RateCase{"PerMinute", "600/m", {600, 1min}},
                      RateCase{"PerHour", "10000/h", {10000, 1h}},
                      RateCase{"PerDay", "100000/d", {100000, 24h}},
                      RateCase{"CountOne", "1/s", {1, 1s}},
                      RateCase{"SurroundingSpacesIgnored", " 5/m ", {5, 1min}},
                      RateCase{"LargestCount", "18446744073709551615/s", {kMaxU64, 1s}}),
    case_name<RateCase>);

class RateRefused : public ::testing::TestWithParam<Refusal> {};

TEST_P(RateRefused, ExplainsWhy) {
  expect_refused<Rate>(
      GetParam(), [](std::string_view text, std::string* why) { return parse_rate(text, why); });
}

INSTANTIATE_TEST_SUITE_P(
    Units, RateRefused,
    ::testing::Values(Refusal{"ZeroCount", "0/s", {"at least 1"}},
                      Refusal{"NoPeriod", "100", {"count per period", "'100/s'"}},
                      Refusal{"EmptyPeriod", "100/", {"period is missing", "'100/s'"}},
                      Refusal{"NoCount", "/s", {"not a whole number"}},
                      Refusal{"NegativeCount", "-1/s", {"negative"}},
                      Refusal{"FractionCount", "1.5/s", {"not a whole number"}},
                      Refusal{"MillisecondPeriod", "100/ms", {"unknown unit 'ms'", "s, m, h or d"}},
                      Refusal{"UpperCasePeriod", "100/S", {"case-sensitive", "'100/s'"}},
                      Refusal{"SpacesAroundSlash", "100 / s", {"no spaces", "'100/s'"}},
                      Refusal{"CountOverflow", "18446744073709551616/s", {"too large"}},
                      Refusal{"Empty", "", {"empty"}}),
    case_name<Refusal>);

// --- Endpoints ------------------------------------------------------------------------------

struct EndpointCase {
  std::string name;
  std::string text;
  Endpoint expected;
};

void PrintTo(const EndpointCase& c, std::ostream* os) {
  *os << c.name;
}

class EndpointAccepted : public ::testing::TestWithParam<EndpointCase> {};

TEST_P(EndpointAccepted, Parses) {
  std::string why;
  const auto parsed = parse_endpoint(GetParam().text, &why);
  ASSERT_TRUE(parsed.has_value()) << why;
  EXPECT_EQ(*parsed, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Units, EndpointAccepted,
    ::testing::Values(
        EndpointCase{"Ipv4", "127.0.0.1:8080", {"127.0.0.1", 8080}},
        EndpointCase{"Ipv6InBrackets", "[::1]:8080", {"::1", 8080}},
        EndpointCase{"Ipv6Full", "[2001:db8::1]:80", {"2001:db8::1", 80}},
        EndpointCase{"Ipv4MappedIpv6", "[::ffff:10.0.0.1]:80", {"::ffff:10.0.0.1", 80}},
        EndpointCase{"HostName", "localhost:8081", {"localhost", 8081}},
        EndpointCase{"DottedHostName", "api.internal:443", {"api.internal", 443}},
        EndpointCase{"UnderscoreHostName", "my_service:80", {"my_service", 80}},
        EndpointCase{"AnyInterface", "0.0.0.0:1", {"0.0.0.0", 1}},
        EndpointCase{"HighestPort", "host:65535", {"host", 65535}},
        EndpointCase{"SurroundingSpacesIgnored", " localhost:80 ", {"localhost", 80}}),
    case_name<EndpointCase>);

class EndpointRefused : public ::testing::TestWithParam<Refusal> {};

TEST_P(EndpointRefused, ExplainsWhy) {
  expect_refused<Endpoint>(GetParam(), [](std::string_view text, std::string* why) {
    return parse_endpoint(text, why);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Units, EndpointRefused,
    ::testing::Values(Refusal{"NoPort", "localhost", {"port is missing", "'localhost:8080'"}},
                      Refusal{"EmptyPort", "127.0.0.1:", {"port is missing"}},
                      Refusal{"PortZero", "127.0.0.1:0", {"from 1 to 65535"}},
                      Refusal{"PortTooHigh", "127.0.0.1:65536", {"from 1 to 65535"}},
                      Refusal{
                          "PortOverflow", "127.0.0.1:99999999999999999999", {"from 1 to 65535"}},
                      Refusal{"PortName", "127.0.0.1:http", {"'http' is not a number"}},
                      Refusal{"Ipv6WithoutBrackets", "::1:8080", {"brackets", "[::1]:8080"}},
                      Refusal{"Ipv6WithoutPort", "[::1]", {"port is missing", "[::1]:8080"}},
                      Refusal{"Ipv6MissingClose", "[::1:8080", {"missing ']'"}},
                      Refusal{"Ipv4InBrackets", "[1.2.3.4]:80", {"not an IPv6 address"}},
                      Refusal{"Ipv6JunkAfterBracket", "[::1]x80", {"port is missing"}},
                      Refusal{"NoHost", ":8080", {"host is missing", "0.0.0.0"}},
                      Refusal{"BadIpv4", "999.1.1.1:80", {"not an IPv4 address"}},
                      Refusal{"Ipv4LeadingZero", "010.0.0.1:80", {"not an IPv4 address"}},
                      Refusal{"HyphenStartsLabel", "-bad.example:80", {"not a valid host name"}},
                      Refusal{"EmptyLabel", "a..b:80", {"not a valid host name"}},
                      Refusal{"SpaceInside", "bad host:80", {"no spaces"}},
                      Refusal{"Empty", "", {"empty"}}),
    case_name<Refusal>);

TEST(Endpoint, ToStringWritesHostAndPort) {
  EXPECT_EQ((Endpoint{"127.0.0.1", 8080}).to_string(), "127.0.0.1:8080");
  EXPECT_EQ((Endpoint{"localhost", 80}).to_string(), "localhost:80");
}

TEST(Endpoint, ToStringBracketsIpv6) {
  EXPECT_EQ((Endpoint{"::1", 8080}).to_string(), "[::1]:8080");
}

TEST(Endpoint, ToStringRoundTripsThroughParse) {
  for (const char* text : {"127.0.0.1:8080", "[2001:db8::1]:443", "api.internal:81"}) {
    const auto parsed = parse_endpoint(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(parsed->to_string(), text);
  }
}

// --- Host names -----------------------------------------------------------------------------

TEST(HostName, AcceptsDnsNamesInAnyCase) {
  for (const char* name : {"localhost", "api.example.com", "API.Example.COM", "a-b.c_d", "x1"}) {
    EXPECT_TRUE(is_hostname(name)) << name;
  }
}

TEST(HostName, RefusesMalformedNames) {
  const std::string long_label(64, 'a');
  const std::vector<std::string> names = {"",       ".",   "a..b",    "-a.com", "a-.com",
                                          "a.com.", "a b", "*.a.com", "a:80",   long_label};
  for (const std::string& name : names) {
    EXPECT_FALSE(is_hostname(name)) << name;
  }
}

TEST(HostName, RefusesNamesLongerThan253) {
  std::string name;
  while (name.size() < 254) name += "abcdefghi.";
  name.resize(254);
  EXPECT_FALSE(is_hostname(name));
  EXPECT_TRUE(is_hostname(name.substr(0, 253)));
}

}  // namespace
}  // namespace bulwark::config
