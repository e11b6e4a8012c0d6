#pragma once
// The heads bulwark writes: the request head sent upstream and the response head sent to
// the client. Written by hand into a reused buffer (one contiguous write, no per-field
// allocation); the rules of what is forwarded live here, as pure functions.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/framing.hpp"

namespace bulwark::proxy {

enum class BodyFraming {
  none,            // no body follows the head
  content_length,  // the Content-Length field (kept from the incoming head) frames it
  chunked,         // bulwark writes chunked framing (Transfer-Encoding: chunked added)
  until_close,     // HTTP/1.0 client: the body ends when the connection closes
};

struct UpstreamRequestHead {
  std::string_view method;
  std::string_view path;  // normalized
  std::string_view query;
  bool has_query = false;
  std::string_view authority;  // from an absolute-form target: replaces Host
  std::span<const http::HeaderField> fields;
  // Fields the gateway sets (verified claims): written as given, after the client's fields,
  // so nothing the client sends (a Connection list naming them) can remove them.
  std::span<const http::HeaderField> gateway_fields;
  bool peer_trusted = false;  // the peer is in server.trusted_proxies
  std::string_view peer_ip;
  std::string_view request_id;
  BodyFraming framing = BodyFraming::none;
  std::optional<uint64_t> content_length;  // written when framing is content_length
};

// HTTP/1.1 request head for the upstream: hop-by-hop fields (and those named in
// Connection, but never Host) dropped; names with '_' dropped; framing written from
// `framing` and `content_length`, never copied; X-Forwarded-For/-Proto/-Host set (kept or extended
// only from a trusted peer); Forwarded and X-Real-IP kept only from a trusted peer; X-Request-Id
// replaced by `request_id`.
void write_upstream_request_head(const UpstreamRequestHead& head, std::string& out);

struct ClientResponseHead {
  unsigned status = 200;
  std::string_view reason;
  std::span<const http::HeaderField> fields;
  std::string_view request_id;
  BodyFraming framing = BodyFraming::none;  // chunked: Transfer-Encoding: chunked is added
  std::optional<uint64_t> content_length;   // written when set (incoming ones never are)
  bool keep_alive = true;
  bool client_http10 = false;      // keep-alive must then be said explicitly
  std::string_view date;           // added when the upstream sent no Date
  std::string_view gateway_lines;  // whole "Name: value\r\n" lines bulwark adds (rate limits)
};

// HTTP/1.1 response head for the client: hop-by-hop and framing fields dropped (framing is
// rewritten from `framing` and `content_length`), X-Request-Id set, Date added when
// missing, Connection: close when the connection ends after this response.
void write_client_response_head(const ClientResponseHead& head, std::string& out);

// The value of a Max-Forwards field (RFC 9110 §7.6.2), or nullopt when it is not 1*DIGIT.
std::optional<uint64_t> parse_max_forwards(std::string_view value);

// "1a2b\r\n": the chunk-size line for `size` bytes (RFC 9112 §7.1). Returns its length.
size_t write_chunk_size_line(size_t size, char (&line)[20]);

}  // namespace bulwark::proxy
