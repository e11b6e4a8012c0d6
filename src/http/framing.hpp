#pragma once
// Checks of a request's header block that Beast's parser does not make (DESIGN.md: no
// request smuggling through bulwark). Run once the header is read, before anything else.

#include <span>
#include <string_view>

namespace bulwark::http {

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

struct FramingVerdict {
  int status = 0;           // 0: acceptable; else 400, 501 or 505, and the connection closes
  std::string_view reason;  // short and stable, for the JSON error body and the log
  bool ok() const { return status == 0; }
};

// The raw bytes of a request head, from the request line up to and including the empty
// line. Refuses obs-fold (a field line starting with SP/HTAB), a bare LF or CR, NUL, and
// a space or tab before a field's colon. Beast silently unfolds obs-fold, hence this scan.
FramingVerdict check_raw_head(std::string_view head);

// The parsed head: `version` as Beast gives it (11 for HTTP/1.1).
// Refuses: versions other than HTTP/1.x (505; 1.2..1.9 count as 1.1, RFC 9112 §2.3);
// Transfer-Encoding on HTTP/1.0; any transfer coding but a single final "chunked" (501 for an
// unknown coding, 400 for a malformed list or chunked not last); Content-Length together with
// Transfer-Encoding; more than one Content-Length field or a list value, even when equal; a
// Content-Length that is not digits; missing Host on HTTP/1.1; more than one Host; invalid field
// names or values.
FramingVerdict check_request_head(unsigned version, std::span<const HeaderField> fields);

}  // namespace bulwark::http
