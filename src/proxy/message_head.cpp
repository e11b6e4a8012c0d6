#include "proxy/message_head.hpp"

#include <array>
#include <charconv>

#include "http/forwarded_headers.hpp"

namespace bulwark::proxy {
namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

// Fields named by Connection are connection-specific too (RFC 9110 §7.6.1).
bool named_by_connection(std::span<const http::HeaderField> fields, std::string_view name) {
  for (const auto& field : fields) {
    if (!http::iequals(field.name, "connection")) continue;
    bool named = false;
    http::for_each_list_token(field.value, [&](std::string_view token) {
      if (http::iequals(token, name)) named = true;
    });
    if (named) return true;
  }
  return false;
}

bool has_connection_field(std::span<const http::HeaderField> fields) {
  for (const auto& field : fields) {
    if (http::iequals(field.name, "connection")) return true;
  }
  return false;
}

// Framing is always written by bulwark from what its parser understood, never copied: a
// field list (Connection: content-length) or a duplicate must not change what the next
// hop takes as the end of the message.
bool is_framing_field(std::string_view name) {
  return http::iequals(name, "content-length") || http::iequals(name, "transfer-encoding");
}

void append_content_length(std::string& out, std::optional<uint64_t> length) {
  if (!length) return;
  std::array<char, 24> digits{};
  auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), *length);
  out += "Content-Length: ";
  out.append(digits.data(), end);
  out += "\r\n";
}

// Whether an incoming field is passed on as it is. Gateway-set fields are re-created below.
bool forwarded_as_is(const http::HeaderField& field, std::span<const http::HeaderField> fields,
                     bool check_connection, bool peer_trusted) {
  std::string_view name = field.name;
  if (http::is_hop_by_hop(name) || is_framing_field(name)) return false;
  if (http::iequals(name, "x-request-id")) return false;
  // A name with '_' reaches CGI-style upstreams as the same variable as its '-' twin
  // (X_Forwarded_For = X-Forwarded-For): dropped, as nginx does by default.
  if (name.find('_') != std::string_view::npos) return false;
  // Host identifies what was routed: a Connection list cannot remove it.
  if (http::iequals(name, "host")) return true;
  if (http::is_gateway_set_header(name)) {
    bool rewritten = http::iequals(name, "x-forwarded-for") ||
                     http::iequals(name, "x-forwarded-proto") ||
                     http::iequals(name, "x-forwarded-host");
    if (rewritten || !peer_trusted) return false;
  }
  return !(check_connection && named_by_connection(fields, name));
}

}  // namespace

std::optional<uint64_t> parse_max_forwards(std::string_view value) {
  uint64_t hops = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), hops);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
    return std::nullopt;
  }
  return hops;
}

void write_upstream_request_head(const UpstreamRequestHead& head, std::string& out) {
  out.clear();
  out += head.method;
  out += ' ';
  out += head.path;
  if (head.has_query) {
    out += '?';
    out += head.query;
  }
  out += " HTTP/1.1\r\n";

  bool check_connection = has_connection_field(head.fields);
  std::string_view forwarded_proto;
  std::string_view forwarded_host;
  std::string_view host;
  size_t xff_start = std::string::npos;
  for (const auto& field : head.fields) {
    if (http::iequals(field.name, "host")) host = field.value;
    if (head.peer_trusted && http::iequals(field.name, "x-forwarded-proto")) {
      forwarded_proto = field.value;
    }
    if (head.peer_trusted && http::iequals(field.name, "x-forwarded-host")) {
      forwarded_host = field.value;
    }
    if (!head.authority.empty() && http::iequals(field.name, "host")) continue;
    if (!forwarded_as_is(field, head.fields, check_connection, head.peer_trusted)) continue;
    if (http::iequals(field.name, "max-forwards") && http::iequals(head.method, "OPTIONS")) {
      // RFC 9110 §7.6.2: decremented by each intermediary (0 is answered by bulwark).
      if (auto hops = parse_max_forwards(field.value); hops && *hops > 0) {
        append_field(out, field.name, std::to_string(*hops - 1));
        continue;
      }
    }
    append_field(out, field.name, field.value);
  }
  if (!head.authority.empty()) {
    host = head.authority;
    append_field(out, "Host", head.authority);
  }

  // X-Forwarded-For: a trusted peer's chain (every field, in order), then the peer.
  out += "X-Forwarded-For: ";
  xff_start = out.size();
  if (head.peer_trusted) {
    for (const auto& field : head.fields) {
      if (!http::iequals(field.name, "x-forwarded-for") || field.value.empty()) continue;
      if (out.size() > xff_start) out += ", ";
      out += field.value;
    }
  }
  if (out.size() > xff_start) out += ", ";
  out += head.peer_ip;
  out += "\r\n";
  append_field(out, "X-Forwarded-Proto", forwarded_proto.empty() ? "http" : forwarded_proto);
  if (!forwarded_host.empty() || !host.empty()) {
    append_field(out, "X-Forwarded-Host", forwarded_host.empty() ? host : forwarded_host);
  }
  append_field(out, "X-Request-Id", head.request_id);
  for (const auto& field : head.gateway_fields) append_field(out, field.name, field.value);
  if (head.framing == BodyFraming::content_length) append_content_length(out, head.content_length);
  // RFC 9110 §7.6.3: a gateway MUST send Via in each inbound request it forwards; a Via the
  // client sent is forwarded above, and this field line extends that list.
  out += "Via: 1.1 bulwark\r\n";
  if (head.framing == BodyFraming::chunked) out += "Transfer-Encoding: chunked\r\n";
  out += "\r\n";
}

void write_client_response_head(const ClientResponseHead& head, std::string& out) {
  out.clear();
  out += "HTTP/1.1 ";
  std::array<char, 8> digits{};
  auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), head.status);
  out.append(digits.data(), end);
  out += ' ';
  out += head.reason;
  out += "\r\n";

  bool check_connection = has_connection_field(head.fields);
  bool has_date = false;
  for (const auto& field : head.fields) {
    std::string_view name = field.name;
    if (http::is_hop_by_hop(name) || is_framing_field(name)) continue;
    if (http::iequals(name, "x-request-id")) continue;
    if (check_connection && named_by_connection(head.fields, name)) continue;
    has_date = has_date || http::iequals(name, "date");
    append_field(out, name, field.value);
  }
  // RFC 9110 §6.6.1: a recipient with a clock adds Date when the origin sent none.
  if (!has_date && !head.date.empty()) append_field(out, "Date", head.date);
  append_content_length(out, head.content_length);
  append_field(out, "X-Request-Id", head.request_id);
  out += head.gateway_lines;
  if (head.framing == BodyFraming::chunked) out += "Transfer-Encoding: chunked\r\n";
  if (!head.keep_alive) {
    out += "Connection: close\r\n";
  } else if (head.client_http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

size_t write_chunk_size_line(size_t size, char (&line)[20]) {
  auto [end, ec] = std::to_chars(line, line + 16, size, 16);
  *end++ = '\r';
  *end++ = '\n';
  return static_cast<size_t>(end - line);
}

}  // namespace bulwark::proxy
