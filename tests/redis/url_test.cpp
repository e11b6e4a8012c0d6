#include "redis/url.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "config/units.hpp"

namespace bulwark::redis {
namespace {

using namespace std::chrono_literals;

RedisUrl parse_ok(std::string_view text) {
  std::string why;
  const auto url = parse_redis_url(text, &why);
  EXPECT_TRUE(url) << text << ": " << why;
  EXPECT_EQ(why, "");
  return url.value_or(RedisUrl{});
}

std::string error_of(std::string_view text) {
  std::string why;
  EXPECT_FALSE(parse_redis_url(text, &why)) << text;
  return why;
}

// --- forms ---

TEST(RedisUrl, HostOnlyTakesTheDefaults) {
  const auto url = parse_ok("redis://localhost");
  EXPECT_EQ(url.host, "localhost");
  EXPECT_EQ(url.port, 6379);
  EXPECT_EQ(url.db, 0);
  EXPECT_EQ(url.username, "");
  EXPECT_EQ(url.password, "");
  EXPECT_FALSE(url.needs_auth());
  EXPECT_EQ(url.connect_timeout, kDefaultConnectTimeout);
  EXPECT_EQ(url.command_timeout, kDefaultCommandTimeout);
}

TEST(RedisUrl, HostAndPort) {
  const auto url = parse_ok("redis://cache.internal:6380");
  EXPECT_EQ(url.host, "cache.internal");
  EXPECT_EQ(url.port, 6380);
}

TEST(RedisUrl, PortBounds) {
  EXPECT_EQ(parse_ok("redis://h:1").port, 1);
  EXPECT_EQ(parse_ok("redis://h:65535").port, 65535);
  EXPECT_EQ(parse_ok("redis://h:06379").port, 6379);
}

TEST(RedisUrl, Ipv4) {
  const auto url = parse_ok("redis://127.0.0.1:7000");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 7000);
}

TEST(RedisUrl, Ipv6InBrackets) {
  const auto url = parse_ok("redis://[::1]");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 6379);
  const auto full = parse_ok("redis://u:p@[2001:db8::7]:6380/3");
  EXPECT_EQ(full.host, "2001:db8::7");
  EXPECT_EQ(full.port, 6380);
  EXPECT_EQ(full.db, 3);
}

TEST(RedisUrl, UserAndPassword) {
  const auto url = parse_ok("redis://app:s3cret@redis:6379/2");
  EXPECT_EQ(url.username, "app");
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_TRUE(url.needs_auth());
  EXPECT_EQ(url.host, "redis");
  EXPECT_EQ(url.db, 2);
}

TEST(RedisUrl, PasswordAlone) {
  const auto url = parse_ok("redis://:s3cret@redis");
  EXPECT_EQ(url.username, "");
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_TRUE(url.needs_auth());
}

TEST(RedisUrl, PercentDecoding) {
  const auto url = parse_ok("redis://us%3Aer%40x:p%25a%2Fs%23s%20w%3ad@h");
  EXPECT_EQ(url.username, "us:er@x");
  EXPECT_EQ(url.password, "p%a/s#s w:d");
}

TEST(RedisUrl, PasswordWithUnencodedSpecials) {
  // The user info ends at the last '@'; the first ':' splits user from password.
  const auto url = parse_ok("redis://app:p@ss:w/o?r#d@h:1/1");
  EXPECT_EQ(url.username, "app");
  EXPECT_EQ(url.password, "p@ss:w/o?r#d");
  EXPECT_EQ(url.host, "h");
  EXPECT_EQ(url.port, 1);
  EXPECT_EQ(url.db, 1);
}

TEST(RedisUrl, PercentDecodedBinaryPassword) {
  EXPECT_EQ(parse_ok("redis://:%00%FF%0d%0A@h").password, std::string("\0\xff\r\n", 4));
}

TEST(RedisUrl, Db) {
  EXPECT_EQ(parse_ok("redis://h/0").db, 0);
  EXPECT_EQ(parse_ok("redis://h/15").db, 15);
  EXPECT_EQ(parse_ok("redis://h:1/7").db, 7);
  EXPECT_EQ(parse_ok("redis://h/").db, 0);
  EXPECT_EQ(parse_ok("redis://h/007").db, 7);
}

TEST(RedisUrl, Timeouts) {
  const auto url = parse_ok("redis://h?connect_timeout=250ms&command_timeout=100ms");
  EXPECT_EQ(url.connect_timeout, 250ms);
  EXPECT_EQ(url.command_timeout, 100ms);
}

TEST(RedisUrl, TimeoutsInSeconds) {
  const auto url = parse_ok("redis://h:1/2?command_timeout=2s");
  EXPECT_EQ(url.command_timeout, 2s);
  EXPECT_EQ(url.connect_timeout, kDefaultConnectTimeout);
}

TEST(RedisUrl, EmptyQueryAndEmptyPairs) {
  EXPECT_EQ(parse_ok("redis://h?").command_timeout, kDefaultCommandTimeout);
  EXPECT_EQ(parse_ok("redis://h/?&connect_timeout=1s&").connect_timeout, 1s);
}

TEST(RedisUrl, SchemeIsCaseInsensitive) {
  EXPECT_EQ(parse_ok("REDIS://h").host, "h");
}

TEST(RedisUrl, EverythingTogether) {
  const auto url =
      parse_ok("redis://default:pw@10.0.0.5:6390/15?command_timeout=50ms&connect_timeout=2s");
  EXPECT_EQ(url, (RedisUrl{"10.0.0.5", 6390, "default", "pw", 15, 2s, 50ms}));
}

TEST(RedisUrl, WhyIsOptional) {
  EXPECT_TRUE(parse_redis_url("redis://h"));
  EXPECT_FALSE(parse_redis_url("redis://h:0"));
}

// --- errors ---

TEST(RedisUrl, Empty) {
  EXPECT_EQ(error_of(""), "redis URL: the URL is empty (write redis://host:6379)");
}

TEST(RedisUrl, TlsRefused) {
  EXPECT_EQ(error_of("rediss://h:6380"),
            "redis URL: TLS to Redis is not supported yet (rediss://); use redis:// on a trusted "
            "network or through a local TLS tunnel");
  EXPECT_NE(error_of("REDISS://h").find("TLS to Redis is not supported yet"), std::string::npos);
}

TEST(RedisUrl, OtherSchemes) {
  EXPECT_EQ(error_of("http://h"), "redis URL: scheme 'http' is not supported; write redis://");
  EXPECT_EQ(error_of("unix:///tmp/redis.sock"),
            "redis URL: scheme 'unix' is not supported; write redis://");
  EXPECT_EQ(error_of("localhost:6379"),
            "redis URL: expected redis://host[:port][/db], the URL does not start with redis://");
  EXPECT_EQ(error_of("redis:/h"),
            "redis URL: expected redis://host[:port][/db], the URL does not start with redis://");
}

TEST(RedisUrl, SpacesAndControls) {
  const std::string message =
      "redis URL: the URL contains a space or control character (percent-encode it)";
  EXPECT_EQ(error_of(" redis://h"), message);
  EXPECT_EQ(error_of("redis://h "), message);
  EXPECT_EQ(error_of("redis://:pass word@h"), message);
  EXPECT_EQ(error_of("redis://h\n"), message);
  EXPECT_EQ(error_of(std::string_view("redis://h\0", 10)), message);
}

TEST(RedisUrl, MissingHost) {
  EXPECT_EQ(error_of("redis://"), "redis URL: the host is missing (write redis://host:6379)");
  EXPECT_EQ(error_of("redis://:6379"), "redis URL: the host is missing (write redis://host:6379)");
  EXPECT_EQ(error_of("redis:///0"), "redis URL: the host is missing (write redis://host:6379)");
  EXPECT_EQ(error_of("redis://:pw@"), "redis URL: the host is missing (write redis://host:6379)");
}

TEST(RedisUrl, BadHost) {
  EXPECT_EQ(error_of("redis://bad_host!"),
            "redis URL: host 'bad_host!' is not a valid host name or address");
  EXPECT_EQ(error_of("redis://-h"), "redis URL: host '-h' is not a valid host name or address");
}

TEST(RedisUrl, BadPorts) {
  EXPECT_EQ(error_of("redis://h:99999"), "redis URL: port '99999' is out of range (1..65535)");
  EXPECT_EQ(error_of("redis://h:65536"), "redis URL: port '65536' is out of range (1..65535)");
  EXPECT_EQ(error_of("redis://h:0"), "redis URL: port '0' is out of range (1..65535)");
  EXPECT_EQ(error_of("redis://h:99999999999999999999999"),
            "redis URL: port '99999999999999999999999' is out of range (1..65535)");
  EXPECT_EQ(error_of("redis://h:abc"), "redis URL: port 'abc' is not a number");
  EXPECT_EQ(error_of("redis://h:-1"), "redis URL: port '-1' is not a number");
  EXPECT_EQ(error_of("redis://h:+1"), "redis URL: port '+1' is not a number");
  EXPECT_EQ(error_of("redis://h:"),
            "redis URL: the port after ':' is empty (leave out ':' for 6379)");
  EXPECT_EQ(error_of("redis://[::1]:"),
            "redis URL: the port after ':' is empty (leave out ':' for 6379)");
  EXPECT_EQ(error_of("redis://[::1]:70000"), "redis URL: port '70000' is out of range (1..65535)");
}

TEST(RedisUrl, BadIpv6) {
  EXPECT_EQ(error_of("redis://::1"),
            "redis URL: write an IPv6 address in brackets, as in redis://[::1]:6379");
  EXPECT_EQ(error_of("redis://[::1"), "redis URL: the IPv6 address has no closing ']'");
  EXPECT_EQ(error_of("redis://[1.2.3.4]"), "redis URL: '[1.2.3.4]' is not an IPv6 address");
  EXPECT_EQ(error_of("redis://[::g]"), "redis URL: '[::g]' is not an IPv6 address");
  EXPECT_EQ(error_of("redis://[]"), "redis URL: '[]' is not an IPv6 address");
  EXPECT_EQ(error_of("redis://[::1]x"), "redis URL: unexpected 'x' after the IPv6 address");
}

TEST(RedisUrl, BadDb) {
  EXPECT_EQ(error_of("redis://h/16"), "redis URL: db '16' is out of range (0..15)");
  EXPECT_EQ(error_of("redis://h/99999999999999999999999"),
            "redis URL: db '99999999999999999999999' is out of range (0..15)");
  EXPECT_EQ(error_of("redis://h/x"), "redis URL: db 'x' is not a number (0..15)");
  EXPECT_EQ(error_of("redis://h/-1"), "redis URL: db '-1' is not a number (0..15)");
  EXPECT_EQ(error_of("redis://h/1/2"), "redis URL: db '1/2' is not a number (0..15)");
}

TEST(RedisUrl, BadUserInfo) {
  EXPECT_EQ(error_of("redis://@h"),
            "redis URL: nothing before '@': drop the '@' or write :password@");
  EXPECT_EQ(error_of("redis://s3cret@h"),
            "redis URL: the part before '@' has no ':'; write redis://user:password@host, or "
            "redis://:password@host for a password alone");
  EXPECT_EQ(error_of("redis://app:@h"),
            "redis URL: the password after ':' is empty (leave out 'user:@' for no AUTH)");
  EXPECT_EQ(error_of("redis://:@h"),
            "redis URL: the password after ':' is empty (leave out 'user:@' for no AUTH)");
}

TEST(RedisUrl, BadPercentEncoding) {
  const std::string in_password = "redis URL: bad '%' in the password (write '%' as %25)";
  EXPECT_EQ(error_of("redis://:100%@h"), in_password);
  EXPECT_EQ(error_of("redis://:a%4@h"), in_password);
  EXPECT_EQ(error_of("redis://:a%zz@h"), in_password);
  EXPECT_EQ(error_of("redis://a%g1:pw@h"),
            "redis URL: bad '%' in the user name (write '%' as %25)");
}

TEST(RedisUrl, BadParameters) {
  EXPECT_EQ(error_of("redis://h?timeout=1s"),
            "redis URL: unknown parameter 'timeout' (known: connect_timeout, command_timeout)");
  EXPECT_EQ(error_of("redis://h?conect_timeout=1s"),
            "redis URL: unknown parameter 'conect_timeout': did you mean 'connect_timeout'? "
            "(known: connect_timeout, command_timeout)");
  EXPECT_EQ(error_of("redis://h?command_timeout"),
            "redis URL: 'command_timeout' has no value (write command_timeout=250ms)");
  EXPECT_EQ(error_of("redis://h?command_timeout="),
            "redis URL: 'command_timeout' has no value (write command_timeout=250ms)");
  EXPECT_EQ(error_of("redis://h?command_timeout=1s&command_timeout=2s"),
            "redis URL: 'command_timeout' is given twice");
  EXPECT_EQ(error_of("redis://h?connect_timeout=0ms"),
            "redis URL: connect_timeout must be more than 0");
}

TEST(RedisUrl, BadDurationsUseTheConfigMessages) {
  std::string expected;
  ASSERT_FALSE(config::parse_duration("fast", &expected));
  EXPECT_EQ(error_of("redis://h?connect_timeout=fast"), "redis URL: connect_timeout: " + expected);
  ASSERT_FALSE(config::parse_duration("5y", &expected));
  EXPECT_EQ(error_of("redis://h?command_timeout=5y"), "redis URL: command_timeout: " + expected);
}

TEST(RedisUrl, Fragment) {
  EXPECT_EQ(error_of("redis://h/1#x"), "redis URL: a '#fragment' is not allowed");
}

TEST(RedisUrl, ErrorsNeverShowThePassword) {
  const char* bad[] = {
      "redis://app:Hunter2pw@h:99999", "redis://app:Hunter2pw@h:x",
      "redis://app:Hunter2pw@",        "redis://app:Hunter2pw@::1",
      "redis://app:Hunter2pw@h/99",    "redis://app:Hunter2pw@h?x=1",
      "redis://Hunter2pw@h",           "rediss://app:Hunter2pw@h",
      "http://app:Hunter2pw@h",        "app:Hunter2pw@h",
      "redis://app:Hunter2pw%@h",      "redis://app:Hunter2pw@bad!host",
      "redis://app:Hunter2pw@h#frag",  "redis://app:Hunter2pw@h?connect_timeout=fast",
      "redis://app:Hunter2pw/x@h:0",   "redis://:Hunter2pw@[::1",
  };
  for (const auto* text : bad) {
    const auto why = error_of(text);
    EXPECT_EQ(why.find("Hunter2"), std::string::npos) << why;
    EXPECT_EQ(why.rfind("redis URL: ", 0), 0u) << why;
  }
}

// --- redacted ---

TEST(RedisUrl, Redacted) {
  EXPECT_EQ(redacted(parse_ok("redis://h")), "redis://h:6379");
  EXPECT_EQ(redacted(parse_ok("redis://app:s3cret@h:1/2")), "redis://app:***@h:1/2");
  EXPECT_EQ(redacted(parse_ok("redis://:s3cret@[::1]")), "redis://:***@[::1]:6379");
}

}  // namespace
}  // namespace bulwark::redis
