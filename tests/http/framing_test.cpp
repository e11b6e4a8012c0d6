#include "http/framing.hpp"

#include <gtest/gtest.h>

#include "support/case_name.hpp"

#include <ostream>

#include <string_view>
#include <vector>

namespace bulwark::http {
namespace {

using namespace std::string_view_literals;

using testing_support::case_name;

// ---- check_raw_head ----

struct RawCase {
  std::string_view name;
  std::string_view head;
  int status;
  std::string_view reason;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const RawCase& c, std::ostream* os) {
  *os << c.name;
}

class RawHead : public testing::TestWithParam<RawCase> {};

TEST_P(RawHead, Verdict) {
  const auto& c = GetParam();
  auto verdict = check_raw_head(c.head);
  EXPECT_EQ(verdict.status, c.status);
  EXPECT_EQ(verdict.reason, c.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Accepted, RawHead,
    testing::Values(
        RawCase{"GetWithHost", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, ""},
        RawCase{"NoFields", "GET / HTTP/1.0\r\n\r\n", 0, ""},
        RawCase{"LeadingEmptyLine", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, ""},
        RawCase{"BodyBytesAfterHead", "POST / HTTP/1.1\r\nHost: a\r\n\r\nbody\n\r\0"sv, 0, ""},
        RawCase{"ValueWithInnerSpaceAndTab", "GET / HTTP/1.1\r\nX: a b\tc\r\n\r\n", 0, ""},
        RawCase{"ValueWithColon", "GET / HTTP/1.1\r\nHost: a:80\r\n\r\n", 0, ""},
        RawCase{"EmptyValue", "GET / HTTP/1.1\r\nX:\r\n\r\n", 0, ""}),
    case_name<RawCase>);

constexpr std::string_view kFold = "obs-fold in head";
constexpr std::string_view kBareLf = "bare LF in head";
constexpr std::string_view kBareCr = "bare CR in head";
constexpr std::string_view kNul = "NUL in head";
constexpr std::string_view kColonSpace = "whitespace before colon";
constexpr std::string_view kIncomplete = "incomplete head";

INSTANTIATE_TEST_SUITE_P(
    Refused, RawHead,
    testing::Values(
        RawCase{"ObsFoldSpace", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, kFold},
        RawCase{"ObsFoldTab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400, kFold},
        RawCase{"ObsFoldOfHost", "GET / HTTP/1.1\r\nHost: a\r\n .evil\r\n\r\n", 400, kFold},
        RawCase{"WhitespaceAfterRequestLine", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, kFold},
        RawCase{"BareLfEverywhere", "GET / HTTP/1.1\nHost: a\n\n", 400, kBareLf},
        RawCase{"BareLfAfterRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, kBareLf},
        RawCase{"BareLfBetweenFields", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, kBareLf},
        RawCase{"BareLfEmptyLine", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, kBareLf},
        RawCase{"BareLfFirst", "\nGET / HTTP/1.1\r\n\r\n", 400, kBareLf},
        RawCase{"BareCrInValue", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, kBareCr},
        RawCase{"BareCrAsLineEnd", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400, kBareCr},
        RawCase{"BareCrBeforeCrlf", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 400, kBareCr},
        RawCase{"NulInValue", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv, 400, kNul},
        RawCase{"NulInRequestLine", "GET /\0 HTTP/1.1\r\n\r\n"sv, 400, kNul},
        RawCase{"NulInName", "GET / HTTP/1.1\r\nX\0: b\r\n\r\n"sv, 400, kNul},
        RawCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, kColonSpace},
        RawCase{"TabBeforeColon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, kColonSpace},
        RawCase{"SpaceInName", "GET / HTTP/1.1\r\nTransfer Encoding: chunked\r\n\r\n", 400,
                kColonSpace},
        RawCase{"NoColon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400, "field line without colon"},
        RawCase{"NoEmptyLine", "GET / HTTP/1.1\r\nHost: a\r\n", 400, kIncomplete},
        RawCase{"UnterminatedLine", "GET / HTTP/1.1\r\nHost: a", 400, kIncomplete},
        RawCase{"Empty", "", 400, kIncomplete},
        RawCase{"OnlyEmptyLines", "\r\n\r\n", 400, kIncomplete}),
    case_name<RawCase>);

// ---- check_request_head ----

struct HeadCase {
  std::string_view name;
  unsigned version;
  std::vector<HeaderField> fields;
  int status;
  std::string_view reason;
};

// ctest shows the case's name rather than its bytes.
void PrintTo(const HeadCase& c, std::ostream* os) {
  *os << c.name;
}

class RequestHead : public testing::TestWithParam<HeadCase> {};

TEST_P(RequestHead, Verdict) {
  const auto& c = GetParam();
  auto verdict = check_request_head(c.version, c.fields);
  EXPECT_EQ(verdict.status, c.status);
  EXPECT_EQ(verdict.reason, c.reason);
}

const HeaderField kHost{"Host", "example.com"};

HeadCase te(std::string_view name, std::vector<std::string_view> values, int status,
            std::string_view reason) {
  HeadCase c{name, 11, {kHost}, status, reason};
  for (auto value : values) c.fields.push_back({"Transfer-Encoding", value});
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Accepted, RequestHead,
    testing::Values(
        HeadCase{"GetWithHost", 11, {kHost}, 0, ""},
        HeadCase{"HostAnyNameCase", 11, {{"hOST", "example.com"}}, 0, ""},
        HeadCase{"HostWithPort", 11, {{"Host", "Example.com:8080"}}, 0, ""},
        HeadCase{"HostIpv6", 11, {{"Host", "[::1]:80"}}, 0, ""},
        HeadCase{"PostContentLength", 11, {kHost, {"Content-Length", "42"}}, 0, ""},
        HeadCase{"ContentLengthZero", 11, {kHost, {"content-length", "0"}}, 0, ""},
        te("PostChunked", {"chunked"}, 0, ""), te("ChunkedUpperCase", {"CHUNKED"}, 0, ""),
        te("ChunkedMixedCase", {"Chunked"}, 0, ""), te("ChunkedWithOws", {" chunked\t"}, 0, ""),
        HeadCase{"Http10WithoutHost", 10, {}, 0, ""},
        HeadCase{"Http10WithHost", 10, {kHost}, 0, ""},
        HeadCase{"Http10ContentLength", 10, {{"Content-Length", "3"}}, 0, ""},
        HeadCase{"Http12AsHttp11", 12, {kHost}, 0, ""},
        HeadCase{"Http19AsHttp11", 19, {kHost}, 0, ""},
        HeadCase{"ValueWithTab", 11, {kHost, {"X-A", "a\tb"}}, 0, ""},
        HeadCase{"ValueWithObsText", 11, {kHost, {"X-A", "caf\xc3\xa9"}}, 0, ""},
        HeadCase{"EmptyValue", 11, {kHost, {"X-A", ""}}, 0, ""},
        HeadCase{"NameWithAllTcharSymbols", 11, {kHost, {"!#$%&'*+-.^_`|~09aZ", "v"}}, 0, ""}),
    case_name<HeadCase>);

constexpr std::string_view kBadTe = "malformed Transfer-Encoding";
constexpr std::string_view kNotLast = "chunked is not the final transfer coding";
constexpr std::string_view kUnknown = "unsupported transfer coding";
constexpr std::string_view kVersion = "HTTP version not supported";

INSTANTIATE_TEST_SUITE_P(Versions, RequestHead,
                         testing::Values(HeadCase{"Http09", 9, {kHost}, 505, kVersion},
                                         HeadCase{"Http00", 0, {kHost}, 505, kVersion},
                                         HeadCase{"Http20", 20, {kHost}, 505, kVersion},
                                         HeadCase{"Http21", 21, {kHost}, 505, kVersion},
                                         HeadCase{"Http30", 30, {kHost}, 505, kVersion},
                                         HeadCase{"Http99", 99, {kHost}, 505, kVersion},
                                         HeadCase{
                                             "Http12StillNeedsHost", 12, {}, 400, "missing Host"}),
                         case_name<HeadCase>);

INSTANTIATE_TEST_SUITE_P(
    Hosts, RequestHead,
    testing::Values(HeadCase{"MissingHost", 11, {}, 400, "missing Host"},
                    HeadCase{"TwoEqualHosts", 11, {kHost, kHost}, 400, "duplicate Host"},
                    HeadCase{"TwoHosts", 11, {kHost, {"host", "evil.com"}}, 400, "duplicate Host"},
                    HeadCase{"TwoHostsOnHttp10", 10, {kHost, kHost}, 400, "duplicate Host"},
                    HeadCase{"EmptyHostIsValid", 11, {{"Host", ""}}, 0, ""},
                    HeadCase{"HostUserinfo", 11, {{"Host", "u@example.com"}}, 400, "invalid Host"},
                    HeadCase{"HostBadPort", 11, {{"Host", "example.com:x"}}, 400, "invalid Host"},
                    HeadCase{"HostList", 11, {{"Host", "a.com, b.com"}}, 400, "invalid Host"},
                    HeadCase{"HostWithPath", 11, {{"Host", "a.com/x"}}, 400, "invalid Host"},
                    HeadCase{"BadHostOnHttp10", 10, {{"Host", "a b"}}, 400, "invalid Host"}),
    case_name<HeadCase>);

INSTANTIATE_TEST_SUITE_P(
    ContentLength, RequestHead,
    testing::Values(
        HeadCase{"DuplicateEqual",
                 11,
                 {kHost, {"Content-Length", "5"}, {"Content-Length", "5"}},
                 400,
                 "duplicate Content-Length"},
        HeadCase{"DuplicateDiffering",
                 11,
                 {kHost, {"Content-Length", "5"}, {"content-length", "6"}},
                 400,
                 "duplicate Content-Length"},
        HeadCase{
            "ListValue", 11, {kHost, {"Content-Length", "5, 5"}}, 400, "invalid Content-Length"},
        HeadCase{"Plus", 11, {kHost, {"Content-Length", "+5"}}, 400, "invalid Content-Length"},
        HeadCase{"Negative", 11, {kHost, {"Content-Length", "-1"}}, 400, "invalid Content-Length"},
        HeadCase{"Hex", 11, {kHost, {"Content-Length", "0x10"}}, 400, "invalid Content-Length"},
        HeadCase{"Empty", 11, {kHost, {"Content-Length", ""}}, 400, "invalid Content-Length"},
        HeadCase{
            "InnerSpace", 11, {kHost, {"Content-Length", "1 0"}}, 400, "invalid Content-Length"},
        HeadCase{"TooManyDigits",
                 11,
                 {kHost, {"Content-Length", "12345678901234567890"}},
                 400,
                 "invalid Content-Length"},
        HeadCase{"WithTransferEncoding",
                 11,
                 {kHost, {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}},
                 400,
                 "Content-Length with Transfer-Encoding"},
        HeadCase{"WithTransferEncodingFirst",
                 11,
                 {kHost, {"Transfer-Encoding", "chunked"}, {"Content-Length", "0"}},
                 400,
                 "Content-Length with Transfer-Encoding"}),
    case_name<HeadCase>);

INSTANTIATE_TEST_SUITE_P(
    TransferEncoding, RequestHead,
    testing::Values(HeadCase{"OnHttp10",
                             10,
                             {{"Transfer-Encoding", "chunked"}},
                             400,
                             "Transfer-Encoding on HTTP/1.0"},
                    te("XChunked", {"xchunked"}, 501, kUnknown),
                    te("Identity", {"identity"}, 501, kUnknown),
                    te("Gzip", {"gzip"}, 501, kUnknown),
                    te("GzipThenChunked", {"gzip, chunked"}, 501, kUnknown),
                    te("GzipWithParameterThenChunked", {"gzip;level=9, chunked"}, 501, kUnknown),
                    te("IdentityThenChunked", {"identity, chunked"}, 501, kUnknown),
                    te("GzipThenChunkedTwoFields", {"gzip", "chunked"}, 501, kUnknown),
                    te("ChunkedThenGzip", {"chunked, gzip"}, 400, kNotLast),
                    te("ChunkedTwice", {"chunked, chunked"}, 400, kNotLast),
                    te("ChunkedTwiceTwoFields", {"chunked", "chunked"}, 400, kNotLast),
                    te("ChunkedThenGzipTwoFields", {"chunked", "gzip"}, 400, kNotLast),
                    te("ChunkedThenIdentity", {"chunked, identity"}, 400, kNotLast),
                    te("ChunkedSpaceCommaIdentity", {"chunked , identity"}, 400, kNotLast),
                    te("ChunkedSpaceCommaNoSpace", {"chunked ,identity"}, 400, kNotLast),
                    te("ChunkedNoSpaceComma", {"chunked,identity"}, 400, kNotLast),
                    te("ChunkedTabsAroundComma", {"chunked\t,\tidentity"}, 400, kNotLast),
                    te("UpperChunkedThenIdentity", {"CHUNKED, IDENTITY"}, 400, kNotLast),
                    te("GzipChunkedGzip", {"gzip, chunked, gzip"}, 400, kNotLast),
                    te("EmptyValue", {""}, 400, kBadTe), te("OnlyComma", {","}, 400, kBadTe),
                    te("TrailingComma", {"chunked,"}, 400, kBadTe),
                    te("LeadingComma", {", chunked"}, 400, kBadTe),
                    te("DoubleComma", {"gzip,,chunked"}, 400, kBadTe),
                    te("EmptySecondField", {"chunked", ""}, 400, kBadTe),
                    te("ChunkedWithParameter", {"chunked;q=1"}, 400, kBadTe),
                    te("NotAToken", {"chu nked"}, 400, kBadTe),
                    te("Quoted", {"\"chunked\""}, 400, kBadTe),
                    te("SemicolonOnly", {";"}, 400, kBadTe)),
    case_name<HeadCase>);

INSTANTIATE_TEST_SUITE_P(
    Fields, RequestHead,
    testing::Values(
        HeadCase{"NameWithSpace", 11, {kHost, {"X A", "v"}}, 400, "invalid field name"},
        HeadCase{"NameWithParen", 11, {kHost, {"X(A)", "v"}}, 400, "invalid field name"},
        HeadCase{"NameWithColon", 11, {kHost, {"X:A", "v"}}, 400, "invalid field name"},
        HeadCase{"EmptyName", 11, {kHost, {"", "v"}}, 400, "invalid field name"},
        HeadCase{"NameNonAscii", 11, {kHost, {"X-\xc3\xa9", "v"}}, 400, "invalid field name"},
        HeadCase{"ValueNul", 11, {kHost, {"X-A", "a\0b"sv}}, 400, "invalid field value"},
        HeadCase{"ValueCr", 11, {kHost, {"X-A", "a\rb"}}, 400, "invalid field value"},
        HeadCase{"ValueLf", 11, {kHost, {"X-A", "a\nb"}}, 400, "invalid field value"},
        HeadCase{"ValueControl", 11, {kHost, {"X-A", "a\x01"}}, 400, "invalid field value"},
        HeadCase{"ValueEscape", 11, {kHost, {"X-A", "\x1b[31m"}}, 400, "invalid field value"},
        HeadCase{"ValueDelete", 11, {kHost, {"X-A", "a\x7f"}}, 400, "invalid field value"},
        HeadCase{"BadFieldBeforeHostChecks", 11, {{"X A", "v"}}, 400, "invalid field name"}),
    case_name<HeadCase>);

}  // namespace
}  // namespace bulwark::http
