#include "proxy/message_head.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace bulwark::proxy {
namespace {

using http::HeaderField;

UpstreamRequestHead base_request(const std::vector<HeaderField>& fields) {
  return UpstreamRequestHead{.method = "GET",
                             .path = "/api/x",
                             .query = "",
                             .has_query = false,
                             .authority = "",
                             .fields = fields,
                             .peer_trusted = false,
                             .peer_ip = "192.0.2.7",
                             .request_id = "rid-1",
                             .framing = BodyFraming::none};
}

std::string request_head(const UpstreamRequestHead& head) {
  std::string out;
  write_upstream_request_head(head, out);
  return out;
}

TEST(UpstreamRequestHead, PlainGetGetsForwardingFields) {
  std::vector<HeaderField> fields = {{"Host", "api.example.com"}, {"Accept", "*/*"}};
  EXPECT_EQ(request_head(base_request(fields)),
            "GET /api/x HTTP/1.1\r\n"
            "Host: api.example.com\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 192.0.2.7\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: api.example.com\r\n"
            "X-Request-Id: rid-1\r\n"
            "Via: 1.1 bulwark\r\n"
            "\r\n");
}

TEST(UpstreamRequestHead, IncomingViaIsKeptAndExtended) {
  std::vector<HeaderField> fields = {{"Host", "h"}, {"Via", "1.0 fred"}};
  auto out = request_head(base_request(fields));
  EXPECT_NE(out.find("Via: 1.0 fred\r\n"), std::string::npos) << out;
  EXPECT_LT(out.find("Via: 1.0 fred\r\n"), out.find("Via: 1.1 bulwark\r\n")) << out;
}

TEST(UpstreamRequestHead, OptionsMaxForwardsIsDecremented) {
  std::vector<HeaderField> fields = {{"Host", "h"}, {"Max-Forwards", "3"}};
  auto head = base_request(fields);
  head.method = "OPTIONS";
  EXPECT_NE(request_head(head).find("Max-Forwards: 2\r\n"), std::string::npos);
  head.method = "GET";  // only OPTIONS (and TRACE, refused earlier) use it
  EXPECT_NE(request_head(head).find("Max-Forwards: 3\r\n"), std::string::npos);
}

TEST(MaxForwards, Parse) {
  EXPECT_EQ(parse_max_forwards("0"), 0u);
  EXPECT_EQ(parse_max_forwards("10"), 10u);
  EXPECT_EQ(parse_max_forwards(""), std::nullopt);
  EXPECT_EQ(parse_max_forwards("-1"), std::nullopt);
  EXPECT_EQ(parse_max_forwards("1x"), std::nullopt);
  EXPECT_EQ(parse_max_forwards("99999999999999999999999"), std::nullopt);
}

TEST(UpstreamRequestHead, QueryIsKeptRaw) {
  std::vector<HeaderField> fields = {{"Host", "h"}};
  auto head = base_request(fields);
  head.query = "b=2&a=%20";
  head.has_query = true;
  EXPECT_TRUE(request_head(head).starts_with("GET /api/x?b=2&a=%20 HTTP/1.1\r\n"));
  head.query = "";
  EXPECT_TRUE(request_head(head).starts_with("GET /api/x? HTTP/1.1\r\n"));
}

TEST(UpstreamRequestHead, HopByHopAndConnectionNamedFieldsAreDropped) {
  std::vector<HeaderField> fields = {{"Host", "h"},
                                     {"Connection", "keep-alive, X-Secret"},
                                     {"X-Secret", "1"},
                                     {"Keep-Alive", "timeout=5"},
                                     {"Proxy-Connection", "keep-alive"},
                                     {"TE", "trailers"},
                                     {"Trailer", "X-T"},
                                     {"Upgrade", "websocket"},
                                     {"Expect", "100-continue"},
                                     {"Transfer-Encoding", "chunked"},
                                     {"X-Kept", "yes"}};
  auto out = request_head(base_request(fields));
  for (const char* dropped : {"Connection:", "X-Secret", "Keep-Alive", "Proxy-Connection",
                              "TE:", "Trailer", "Upgrade", "Expect", "Transfer-Encoding"}) {
    EXPECT_EQ(out.find(dropped), std::string::npos) << dropped << " in\n" << out;
  }
  EXPECT_NE(out.find("X-Kept: yes\r\n"), std::string::npos);
}

TEST(UpstreamRequestHead, UntrustedPeerCannotForgeForwardingFields) {
  std::vector<HeaderField> fields = {{"Host", "h"},
                                     {"X-Forwarded-For", "1.2.3.4"},
                                     {"X-Forwarded-Proto", "https"},
                                     {"X-Forwarded-Host", "evil"},
                                     {"Forwarded", "for=1.2.3.4"},
                                     {"X-Real-IP", "1.2.3.4"},
                                     {"X-Request-Id", "client-id"}};
  auto out = request_head(base_request(fields));
  EXPECT_NE(out.find("X-Forwarded-For: 192.0.2.7\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: http\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-Host: h\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Request-Id: rid-1\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("1.2.3.4"), std::string::npos) << out;
  EXPECT_EQ(out.find("evil"), std::string::npos) << out;
  EXPECT_EQ(out.find("https"), std::string::npos) << out;
  EXPECT_EQ(out.find("client-id"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, TrustedPeerChainIsExtended) {
  std::vector<HeaderField> fields = {{"Host", "h"},
                                     {"X-Forwarded-For", "203.0.113.1, 10.0.0.2"},
                                     {"X-Forwarded-For", "10.0.0.3"},
                                     {"X-Forwarded-Proto", "https"},
                                     {"X-Forwarded-Host", "public.example"},
                                     {"Forwarded", "for=203.0.113.1"}};
  auto head = base_request(fields);
  head.peer_trusted = true;
  auto out = request_head(head);
  EXPECT_NE(out.find("X-Forwarded-For: 203.0.113.1, 10.0.0.2, 10.0.0.3, 192.0.2.7\r\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: https\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-Host: public.example\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Forwarded: for=203.0.113.1\r\n"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, AbsoluteFormAuthorityReplacesHost) {
  std::vector<HeaderField> fields = {{"Host", "other"}};
  auto head = base_request(fields);
  head.authority = "example.com:8080";
  auto out = request_head(head);
  EXPECT_NE(out.find("Host: example.com:8080\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Host: other"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, ChunkedBodyIsReframed) {
  std::vector<HeaderField> fields = {{"Host", "h"}, {"Transfer-Encoding", "chunked"}};
  auto head = base_request(fields);
  head.method = "POST";
  head.framing = BodyFraming::chunked;
  auto out = request_head(head);
  EXPECT_TRUE(out.ends_with("Transfer-Encoding: chunked\r\n\r\n")) << out;
  EXPECT_EQ(out.find("Transfer-Encoding"), out.rfind("Transfer-Encoding")) << out;
}

TEST(UpstreamRequestHead, ContentLengthIsKept) {
  std::vector<HeaderField> fields = {{"Host", "h"}, {"Content-Length", "5"}};
  auto head = base_request(fields);
  head.method = "PUT";
  head.framing = BodyFraming::content_length;
  head.content_length = 5;
  auto out = request_head(head);
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Content-Length"), out.rfind("Content-Length")) << out;
}

std::string response_head(const ClientResponseHead& head) {
  std::string out;
  write_client_response_head(head, out);
  return out;
}

TEST(ClientResponseHead, KeepAliveResponse) {
  std::vector<HeaderField> fields = {{"Content-Type", "application/json"},
                                     {"Content-Length", "2"},
                                     {"Connection", "keep-alive"},
                                     {"Keep-Alive", "timeout=5"}};
  EXPECT_EQ(response_head({.status = 200,
                           .reason = "OK",
                           .fields = fields,
                           .request_id = "r",
                           .framing = BodyFraming::content_length,
                           .content_length = 2,
                           .keep_alive = true,
                           .client_http10 = false,
                           .date = "Thu, 26 Nov 2026 21:00:00 GMT"}),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Date: Thu, 26 Nov 2026 21:00:00 GMT\r\n"
            "Content-Length: 2\r\n"
            "X-Request-Id: r\r\n"
            "\r\n");
}

TEST(ClientResponseHead, UpstreamDateIsKept) {
  std::vector<HeaderField> fields = {{"Date", "Mon, 01 Jan 2024 00:00:00 GMT"}};
  auto out = response_head({.status = 200,
                            .reason = "OK",
                            .fields = fields,
                            .request_id = "r",
                            .framing = BodyFraming::none,
                            .content_length = std::nullopt,
                            .keep_alive = true,
                            .client_http10 = false,
                            .date = "Thu, 26 Nov 2026 21:00:00 GMT"});
  EXPECT_NE(out.find("Date: Mon, 01 Jan 2024"), std::string::npos) << out;
  EXPECT_EQ(out.find("2026"), std::string::npos) << out;
}

TEST(ClientResponseHead, FramingIsRewrittenNeverCopied) {
  // Connection naming Content-Length, duplicates and lists: the client only ever sees the
  // length bulwark's parser used.
  std::vector<HeaderField> fields = {{"Connection", "content-length"},
                                     {"Content-Length", "3"},
                                     {"Content-Length", "3"},
                                     {"Transfer-Encoding", "chunked"}};
  auto out = response_head({.status = 200,
                            .reason = "OK",
                            .fields = fields,
                            .request_id = "r",
                            .framing = BodyFraming::content_length,
                            .content_length = 3,
                            .keep_alive = true,
                            .client_http10 = false});
  EXPECT_EQ(out.find("Content-Length: 3"), out.rfind("Content-Length: 3")) << out;
  EXPECT_NE(out.find("Content-Length: 3\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, ConnectionCannotRemoveFramingOrHost) {
  std::vector<HeaderField> fields = {
      {"Host", "h"}, {"Connection", "content-length, host"}, {"Content-Length", "70"}};
  auto head = base_request(fields);
  head.method = "POST";
  head.framing = BodyFraming::content_length;
  head.content_length = 70;
  auto out = request_head(head);
  EXPECT_NE(out.find("Content-Length: 70\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Host: h\r\n"), std::string::npos) << out;
}

TEST(UpstreamRequestHead, UnderscoreNamesAreDropped) {
  std::vector<HeaderField> fields = {
      {"Host", "h"}, {"X_Forwarded_For", "6.6.6.6"}, {"X_Real_IP", "6.6.6.6"}, {"X-Ok", "1"}};
  auto out = request_head(base_request(fields));
  EXPECT_EQ(out.find("6.6.6.6"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Ok: 1\r\n"), std::string::npos) << out;
}

TEST(ClientResponseHead, CloseAndHttp10KeepAlive) {
  std::vector<HeaderField> fields = {{"Content-Length", "0"}};
  ClientResponseHead head{.status = 204,
                          .reason = "No Content",
                          .fields = fields,
                          .request_id = "r",
                          .framing = BodyFraming::none,
                          .keep_alive = false,
                          .client_http10 = false};
  EXPECT_TRUE(response_head(head).ends_with("Connection: close\r\n\r\n"));
  head.keep_alive = true;
  head.client_http10 = true;
  EXPECT_TRUE(response_head(head).ends_with("Connection: keep-alive\r\n\r\n"));
}

TEST(ClientResponseHead, ChunkedUpstreamToHttp10ClientIsCloseDelimited) {
  std::vector<HeaderField> fields = {{"Transfer-Encoding", "chunked"}, {"X-A", "1"}};
  auto out = response_head({.status = 200,
                            .reason = "OK",
                            .fields = fields,
                            .request_id = "r",
                            .framing = BodyFraming::until_close,
                            .keep_alive = false,
                            .client_http10 = true});
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
}

TEST(ClientResponseHead, FieldsNamedByConnectionAndUpstreamRequestIdAreDropped) {
  std::vector<HeaderField> fields = {
      {"Connection", "X-Internal"}, {"X-Internal", "secret"}, {"X-Request-Id", "upstream-id"}};
  auto out = response_head({.status = 200,
                            .reason = "OK",
                            .fields = fields,
                            .request_id = "ours",
                            .framing = BodyFraming::chunked,
                            .keep_alive = true,
                            .client_http10 = false});
  EXPECT_EQ(out.find("secret"), std::string::npos) << out;
  EXPECT_EQ(out.find("upstream-id"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Request-Id: ours\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
}

TEST(ChunkSizeLine, HexWithCrlf) {
  char line[20];
  EXPECT_EQ(std::string_view(line, write_chunk_size_line(1, line)), "1\r\n");
  EXPECT_EQ(std::string_view(line, write_chunk_size_line(16384, line)), "4000\r\n");
  EXPECT_EQ(std::string_view(line, write_chunk_size_line(255, line)), "ff\r\n");
}

}  // namespace
}  // namespace bulwark::proxy
