#include "observe/metrics.hpp"

#include <gtest/gtest.h>

namespace bulwark::observe {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(Metrics, RequestsAreSummedAcrossShardsByRouteAndClass) {
  Metrics metrics(2);
  auto api = metrics.route_slot("api");
  metrics.shard(0).record_request(api, 200, 100);
  metrics.shard(1).record_request(api, 204, 100);
  metrics.shard(1).record_request(api, 502, 100);
  auto text = metrics.render_prometheus();
  EXPECT_TRUE(contains(text, "bulwark_requests_total{route=\"api\",status=\"2xx\"} 2\n")) << text;
  EXPECT_TRUE(contains(text, "bulwark_requests_total{route=\"api\",status=\"5xx\"} 1\n")) << text;
  EXPECT_FALSE(contains(text, "status=\"4xx\"")) << text;
}

TEST(Metrics, SlotsAreStableAcrossReloads) {
  Metrics metrics(1);
  auto a = metrics.route_slot("a");
  auto b = metrics.route_slot("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(metrics.route_slot("a"), a);
  EXPECT_NE(a, 0u);  // slot 0 is "no route"
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics metrics(1);
  auto r = metrics.route_slot("r");
  metrics.shard(0).record_request(r, 200, 400);       // 0.4 ms
  metrics.shard(0).record_request(r, 200, 3000);      // 3 ms
  metrics.shard(0).record_request(r, 200, 20000000);  // 20 s
  auto text = metrics.render_prometheus();
  EXPECT_TRUE(
      contains(text, "bulwark_request_duration_seconds_bucket{route=\"r\",le=\"0.0005\"} 1\n"));
  EXPECT_TRUE(
      contains(text, "bulwark_request_duration_seconds_bucket{route=\"r\",le=\"0.005\"} 2\n"));
  EXPECT_TRUE(contains(text, "bulwark_request_duration_seconds_bucket{route=\"r\",le=\"10\"} 2\n"));
  EXPECT_TRUE(
      contains(text, "bulwark_request_duration_seconds_bucket{route=\"r\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(contains(text, "bulwark_request_duration_seconds_count{route=\"r\"} 3\n"));
  EXPECT_TRUE(contains(text, "bulwark_request_duration_seconds_sum{route=\"r\"} 20.003400\n"));
}

TEST(Metrics, UpstreamErrorsAndConnections) {
  Metrics metrics(2);
  auto u = metrics.upstream_slot("origin");
  metrics.shard(0).record_upstream_error(u, UpstreamError::connect);
  metrics.shard(1).record_upstream_error(u, UpstreamError::connect);
  metrics.shard(1).record_upstream_error(u, UpstreamError::timeout);
  metrics.shard(0).connection_opened();
  metrics.shard(1).connection_opened();
  metrics.shard(1).connection_closed();
  auto text = metrics.render_prometheus();
  EXPECT_TRUE(
      contains(text, "bulwark_upstream_errors_total{upstream=\"origin\",kind=\"connect\"} 2\n"));
  EXPECT_TRUE(
      contains(text, "bulwark_upstream_errors_total{upstream=\"origin\",kind=\"timeout\"} 1\n"));
  EXPECT_TRUE(contains(text, "bulwark_open_connections 1\n"));
  EXPECT_TRUE(contains(text, "bulwark_connections_total 2\n"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics metrics(1);
  auto r = metrics.route_slot("a\"b");
  metrics.shard(0).record_request(r, 200, 1);
  EXPECT_TRUE(contains(metrics.render_prometheus(), "route=\"a\\\"b\""));
}

}  // namespace
}  // namespace bulwark::observe
