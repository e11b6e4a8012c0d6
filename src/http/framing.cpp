#include "http/framing.hpp"

#include "http/router.hpp"  // host_without_port: one definition of a valid Host

namespace bulwark::http {
namespace {

constexpr FramingVerdict kAccept{};

constexpr FramingVerdict bad_request(std::string_view reason) {
  return {400, reason};
}

constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

// `lower_b` is already lower case.
bool iequals(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

// tchar (RFC 9110 §5.6.2).
constexpr bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// field-value (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB; no other control, no DEL.
bool is_field_value(std::string_view s) {
  for (char c : s) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7F) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// ---- the raw head ----

// Bytes no line may hold: NUL, and a CR that does not end the line (RFC 9112 §2.2).
FramingVerdict check_line_bytes(std::string_view line) {
  for (char c : line) {
    if (c == '\0') return bad_request("NUL in head");
    if (c == '\r') return bad_request("bare CR in head");
  }
  return kAccept;
}

// A field line (RFC 9112 §5): no leading whitespace (obs-fold, §5.2), a colon, and no
// whitespace in the name before it (§5.1: such a request MUST be rejected with 400).
FramingVerdict check_field_line(std::string_view line) {
  if (is_ows(line.front())) return bad_request("obs-fold in head");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bad_request("field line without colon");
  for (char c : line.substr(0, colon)) {
    if (is_ows(c)) return bad_request("whitespace before colon");
  }
  return kAccept;
}

// ---- the parsed head ----

// Transfer-Encoding elements, in order across all TE fields (RFC 9110 §5.3: one list).
struct TransferCodings {
  bool any = false;
  bool chunked = false;
  bool malformed = false;   // empty element, bad token, chunked with parameters
  bool misordered = false;  // chunked twice or not last (RFC 9112 §6.1: 400)
  bool unknown = false;     // any coding but chunked: we decode none (RFC 9112 §6.1: 501)

  void add_element(std::string_view element);
  void add_field(std::string_view value);
  FramingVerdict verdict() const;
};

void TransferCodings::add_element(std::string_view element) {
  size_t semicolon = element.find(';');
  std::string_view coding = trim_ows(element.substr(0, semicolon));
  bool has_parameters = semicolon != std::string_view::npos;
  if (!is_token(coding)) {
    malformed = true;
  } else if (iequals(coding, "chunked")) {
    misordered |= chunked;
    malformed |= has_parameters;  // chunked takes no parameters (RFC 9112 §7)
    chunked = true;
  } else {
    misordered |= chunked;
    unknown = true;
  }
}

void TransferCodings::add_field(std::string_view value) {
  any = true;
  for (;;) {
    size_t comma = value.find(',');
    std::string_view element = trim_ows(value.substr(0, comma));
    if (element.empty())
      malformed = true;  // stricter than §5.6.1, on purpose: framing
    else
      add_element(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

FramingVerdict TransferCodings::verdict() const {
  if (malformed) return bad_request("malformed Transfer-Encoding");
  if (misordered) return bad_request("chunked is not the final transfer coding");
  if (unknown) return {501, "unsupported transfer coding"};
  return kAccept;
}

struct HeadSummary {
  unsigned host_count = 0;
  std::string_view host;
  unsigned content_length_count = 0;
  std::string_view content_length;
  TransferCodings codings;

  void add(const HeaderField& field);
};

void HeadSummary::add(const HeaderField& field) {
  if (iequals(field.name, "host")) {
    ++host_count;
    host = field.value;
  } else if (iequals(field.name, "content-length")) {
    ++content_length_count;
    content_length = field.value;
  } else if (iequals(field.name, "transfer-encoding")) {
    codings.add_field(field.value);
  }
}

// 1*DIGIT (RFC 9110 §8.6), and small enough for a uint64.
bool valid_content_length(std::string_view value) {
  if (value.empty() || value.size() > 19) return false;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// RFC 9112 §3.2: exactly one Host on HTTP/1.1, and it must be valid.
FramingVerdict check_host(const HeadSummary& head, bool http11) {
  if (head.host_count > 1) return bad_request("duplicate Host");
  if (head.host_count == 0) return http11 ? bad_request("missing Host") : kAccept;
  // RFC 9112 §3.2: an empty Host is valid (the target URI has no authority).
  if (!head.host.empty() && !host_without_port(head.host)) return bad_request("invalid Host");
  return kAccept;
}

// RFC 9112 §6.3: one Content-Length, digits only; a list or a repeat is refused even when
// equal, as upstreams disagree on how to read them.
FramingVerdict check_content_length(const HeadSummary& head) {
  if (head.content_length_count > 1) return bad_request("duplicate Content-Length");
  if (head.content_length_count == 1 && !valid_content_length(head.content_length)) {
    return bad_request("invalid Content-Length");
  }
  return kAccept;
}

// RFC 9112 §6.1: TE on HTTP/1.0 is faulty framing; TE with CL is a smuggling attempt.
FramingVerdict check_transfer_encoding(const HeadSummary& head, bool http11) {
  if (!head.codings.any) return kAccept;
  if (!http11) return bad_request("Transfer-Encoding on HTTP/1.0");
  if (head.content_length_count > 0) return bad_request("Content-Length with Transfer-Encoding");
  return head.codings.verdict();
}

}  // namespace

FramingVerdict check_raw_head(std::string_view head) {
  size_t pos = 0;
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
  while (head.substr(pos).starts_with("\r\n")) pos += 2;
  bool request_line = true;
  while (pos < head.size()) {
    size_t lf = head.find('\n', pos);
    if (lf == std::string_view::npos) break;
    if (lf == pos || head[lf - 1] != '\r') return bad_request("bare LF in head");
    std::string_view line = head.substr(pos, lf - 1 - pos);
    if (auto verdict = check_line_bytes(line); !verdict.ok()) return verdict;
    if (line.empty()) return request_line ? bad_request("incomplete head") : kAccept;
    if (!request_line) {
      if (auto verdict = check_field_line(line); !verdict.ok()) return verdict;
    }
    request_line = false;
    pos = lf + 1;
  }
  return bad_request("incomplete head");
}

FramingVerdict check_request_head(unsigned version, std::span<const HeaderField> fields) {
  // RFC 9112 §2.3: HTTP/1.x with a higher minor version is answered as HTTP/1.1.
  if (version < 10 || version > 19) return {505, "HTTP version not supported"};
  bool http11 = version >= 11;
  HeadSummary head;
  for (const auto& field : fields) {
    if (!is_token(field.name)) return bad_request("invalid field name");
    if (!is_field_value(field.value)) return bad_request("invalid field value");
    head.add(field);
  }
  if (auto verdict = check_host(head, http11); !verdict.ok()) return verdict;
  if (auto verdict = check_content_length(head); !verdict.ok()) return verdict;
  return check_transfer_encoding(head, http11);
}

}  // namespace bulwark::http
