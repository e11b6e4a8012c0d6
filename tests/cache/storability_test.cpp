#include "cache/storability.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string_view>

#include "support/case_name.hpp"

namespace bulwark::cache {
namespace {

using testing_support::case_name;
using R = StoreRefusal;

struct StoreCase {
  std::string_view name;
  std::string_view method;
  int status;
  std::string_view request_cc;
  std::string_view response_cc;
  bool authorization;
  bool set_cookie;
  bool expires;
  bool private_allowed;
  StoreRefusal expected;
};

void PrintTo(const StoreCase& c, std::ostream* os) {
  *os << c.name;
}

class StorabilityTest : public testing::TestWithParam<StoreCase> {};

TEST_P(StorabilityTest, Decides) {
  const auto& c = GetParam();
  const RequestDirectives req = parse_request_directives(c.request_cc);
  const ResponseDirectives res = parse_response_directives(c.response_cc);
  const StorabilityInput in{.method = c.method,
                            .status = c.status,
                            .request = &req,
                            .response = &res,
                            .has_authorization = c.authorization,
                            .has_set_cookie = c.set_cookie,
                            .has_expires = c.expires,
                            .private_allowed = c.private_allowed};
  EXPECT_EQ(storable(in), c.expected) << to_string(storable(in));
}

// clang-format off
const StoreCase kStoreCases[] = {
  // name                        method   status req-cc        resp-cc                       auth   cookie expires priv   expected
  {"Get200",                     "GET",   200, "",            "",                           false, false, false, false, R::none},
  {"Head200",                    "HEAD",  200, "",            "max-age=5",                  false, false, false, false, R::none},
  {"Post",                       "POST",  200, "",            "max-age=5",                  false, false, false, false, R::method},
  {"LowercaseGet",               "get",   200, "",            "max-age=5",                  false, false, false, false, R::method},
  {"Put",                        "PUT",   200, "",            "public",                     false, false, false, false, R::method},
  {"Status100",                  "GET",   100, "",            "max-age=5",                  false, false, false, false, R::status},
  {"Status304",                  "GET",   304, "",            "max-age=5",                  false, false, false, false, R::status},
  {"Status600",                  "GET",   600, "",            "max-age=5",                  false, false, false, false, R::status},
  {"Status206",                  "GET",   206, "",            "max-age=5",                  false, false, false, false, R::partial_content},
  {"RequestNoStore",             "GET",   200, "no-store",    "max-age=5",                  false, false, false, false, R::request_no_store},
  {"ResponseNoStore",            "GET",   200, "",            "max-age=5, no-store",        false, false, false, false, R::response_no_store},
  {"MustUnderstandUnderstood",   "GET",   200, "",            "must-understand, no-store, max-age=5", false, false, false, false, R::none},
  {"MustUnderstandUnknown",      "GET",   299, "",            "must-understand, no-store, max-age=5", false, false, false, false, R::status},
  {"MustUnderstand302",          "GET",   302, "",            "must-understand, max-age=5", false, false, false, false, R::status},
  {"RequestNoCacheStorable",     "GET",   200, "no-cache",    "",                           false, false, false, false, R::none},
  {"ResponseNoCacheStorable",    "GET",   200, "",            "no-cache",                   false, false, false, false, R::none},
  {"Private",                    "GET",   200, "",            "private, max-age=5",         false, false, false, false, R::private_response},
  {"PrivateQualified",           "GET",   200, "",            "private=\"x-user\"",         false, false, false, false, R::private_response},
  {"PrivatePerIdentity",         "GET",   200, "",            "private, max-age=5",         false, false, false, true,  R::none},
  {"PrivatePerIdentity302",      "GET",   302, "",            "private",                    false, false, false, true,  R::none},
  {"SetCookie",                  "GET",   200, "",            "public, max-age=5",          false, true,  false, false, R::set_cookie},
  {"SetCookiePerIdentity",       "GET",   200, "",            "private, max-age=5",         false, true,  false, true,  R::set_cookie},
  {"AuthPlain",                  "GET",   200, "",            "max-age=5",                  true,  false, false, false, R::authorization},
  {"AuthExpiresOnly",            "GET",   200, "",            "",                           true,  false, true,  false, R::authorization},
  {"AuthPublic",                 "GET",   200, "",            "public",                     true,  false, false, false, R::none},
  {"AuthSMaxAge",                "GET",   200, "",            "s-maxage=5",                 true,  false, false, false, R::none},
  {"AuthMustRevalidate",         "GET",   200, "",            "must-revalidate",            true,  false, false, false, R::none},
  {"AuthProxyRevalidateNo",      "GET",   200, "",            "proxy-revalidate, max-age=5", true, false, false, false, R::authorization},
  {"AuthPerIdentity",            "GET",   200, "",            "private, max-age=5",         true,  false, false, true,  R::none},
  {"AuthPublicButPrivate",       "GET",   200, "",            "public, private",            true,  false, false, false, R::private_response},
  {"Status302NoFreshness",       "GET",   302, "",            "",                           false, false, false, false, R::no_freshness},
  {"Status302MaxAge",            "GET",   302, "",            "max-age=5",                  false, false, false, false, R::none},
  {"Status302SMaxAge",           "GET",   302, "",            "s-maxage=5",                 false, false, false, false, R::none},
  {"Status302Expires",           "GET",   302, "",            "",                           false, false, true,  false, R::none},
  {"Status302Public",            "GET",   302, "",            "public",                     false, false, false, false, R::none},
  {"Status500NoFreshness",       "GET",   500, "",            "",                           false, false, false, false, R::no_freshness},
  {"Status500MaxAge",            "GET",   500, "",            "max-age=5",                  false, false, false, false, R::none},
  {"Status503InvalidMaxAge",     "GET",   503, "",            "max-age=abc",                false, false, false, false, R::none},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Matrix, StorabilityTest, testing::ValuesIn(kStoreCases),
                         case_name<StoreCase>);

TEST(Storability, HeuristicallyCacheableCodes) {
  for (int s : {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501}) {
    EXPECT_TRUE(heuristically_cacheable(s)) << s;
  }
  for (int s : {100, 201, 202, 205, 302, 303, 304, 307, 400, 401, 403, 500, 502, 503, 504}) {
    EXPECT_FALSE(heuristically_cacheable(s)) << s;
  }
}

TEST(Storability, ReasonNames) {
  EXPECT_EQ(to_string(R::none), "none");
  EXPECT_EQ(to_string(R::set_cookie), "set-cookie");
  EXPECT_EQ(to_string(R::authorization), "authorization");
  EXPECT_EQ(to_string(R::no_freshness), "no-freshness");
}

}  // namespace
}  // namespace bulwark::cache
