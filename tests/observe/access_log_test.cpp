#include "observe/access_log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace bulwark::observe {
namespace {

AccessRecord sample_record() {
  AccessRecord r;
  r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764189296123));
  r.request_id = "abc123";
  r.client_ip = "127.0.0.1";
  r.method = "GET";
  r.path = "/api/x";
  r.route = "api";
  r.status = 200;
  r.bytes_sent = 42;
  r.bytes_received = 7;
  r.duration_us = 1500;
  r.upstream_us = 1200;
  r.upstream = "127.0.0.1:8081";
  return r;
}

TEST(AccessLog, LineIsOneJsonObjectWithEveryField) {
  auto line = format_access_record(sample_record());
  auto value = boost::json::parse(line).as_object();
  EXPECT_EQ(value.at("time").as_string(), "2025-11-26T20:34:56.123Z");
  EXPECT_EQ(value.at("request_id").as_string(), "abc123");
  EXPECT_EQ(value.at("client_ip").as_string(), "127.0.0.1");
  EXPECT_EQ(value.at("method").as_string(), "GET");
  EXPECT_EQ(value.at("path").as_string(), "/api/x");
  EXPECT_EQ(value.at("route").as_string(), "api");
  EXPECT_EQ(value.at("status").as_int64(), 200);
  EXPECT_EQ(value.at("bytes").as_int64(), 42);
  EXPECT_EQ(value.at("bytes_received").as_int64(), 7);
  EXPECT_EQ(value.at("duration_us").as_int64(), 1500);
  EXPECT_EQ(value.at("upstream_us").as_int64(), 1200);
  EXPECT_EQ(value.at("upstream").as_string(), "127.0.0.1:8081");
  EXPECT_TRUE(value.at("error").is_null());
  EXPECT_TRUE(value.at("auth").is_null());
  EXPECT_TRUE(value.at("limit").is_null());
  EXPECT_TRUE(value.at("cache").is_null());
}

TEST(AccessLog, NoUpstreamAndNoRouteAreNull) {
  auto r = sample_record();
  r.route = "";
  r.upstream = "";
  r.upstream_us = -1;
  r.error = "not_found";
  auto value = boost::json::parse(format_access_record(r)).as_object();
  EXPECT_TRUE(value.at("route").is_null());
  EXPECT_TRUE(value.at("upstream").is_null());
  EXPECT_TRUE(value.at("upstream_us").is_null());
  EXPECT_EQ(value.at("error").as_string(), "not_found");
}

TEST(AccessLog, HostilePathCannotBreakTheLine) {
  auto r = sample_record();
  std::string path = "/a\"b\\c\nd\r\te\x01\x7f\xff";
  r.path = path;
  auto line = format_access_record(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  auto value = boost::json::parse(line).as_object();
  EXPECT_EQ(value.at("path").as_string(), "/a\"b\\c\nd\r\te\x01\x7f\u00ff");
}

TEST(AccessLog, JsonStringEscapesControlBytes) {
  std::string out;
  append_json_string(out, std::string_view("a\0b", 3));
  EXPECT_EQ(out, "\"a\\u0000b\"");
}

TEST(AccessLog, OffSinkIsDisabled) {
  auto sink = AccessLogSink::open("off");
  EXPECT_FALSE(sink->enabled());
  AccessLogBuffer buffer;
  buffer.set_sink(sink);
  EXPECT_FALSE(buffer.enabled());
}

TEST(AccessLog, FileSinkReceivesOneLinePerRecordOnFlush) {
  char path[] = "/tmp/bulwark-access-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    AccessLogBuffer buffer;
    buffer.set_sink(AccessLogSink::open(path));
    buffer.append(sample_record());
    buffer.append(sample_record());
    buffer.flush();
  }
  FILE* f = fopen(path, "r");
  ASSERT_NE(f, nullptr);
  char line[4096];
  int lines = 0;
  while (fgets(line, sizeof line, f)) {
    ++lines;
    EXPECT_NO_THROW(boost::json::parse(line));
  }
  fclose(f);
  unlink(path);
  EXPECT_EQ(lines, 2);
}

TEST(AccessLog, UnwritableFileIsAnError) {
  EXPECT_THROW(AccessLogSink::open("/nonexistent-dir/access.log"), std::runtime_error);
}

}  // namespace
}  // namespace bulwark::observe
