#pragma once
// One HTTP/1.1 GET of a small document over http:// or https://, for background fetches (a
// JWKS): bounded end to end by one deadline (resolve, connect, TLS handshake, request,
// response), with a bounded body, redirects not followed, `Connection: close`.
//
// https:// verifies the peer: TLS 1.2 or later, the chain against the system's trust store
// (or only the PEM CAs of `ca_file`), the host name (or IP address) of the URL against the
// certificate, with SNI for host names. Verification cannot be turned off.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace bulwark::server {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // the whole fetch
  std::size_t max_body_bytes = 1024 * 1024;
  std::optional<std::string> ca_file;  // https: trust only these PEM CAs; else the system's
  std::string accept = "application/json";
};

struct HttpGetResult {
  // Empty when a response head arrived (whatever its status) and, for 200, its whole body.
  // Otherwise why not, one short phrase for logs: "timed out after 5s (connecting)",
  // "connect 10.0.0.7:443: Connection refused", "TLS: certificate verify failed: Hostname
  // mismatch", "response body over 1 MiB", "cancelled".
  std::string error;
  unsigned status = 0;
  std::string body;           // read only when status is 200
  std::string cache_control;  // every Cache-Control line, joined with ", "
  std::string age;            // the Age field value, if any
  std::string location;       // the Location field value, if any (for a redirect's message)
};

class HttpGet {
 public:
  HttpGet(boost::asio::any_io_executor executor, std::string url, HttpGetOptions options);
  ~HttpGet();
  HttpGet(const HttpGet&) = delete;
  HttpGet& operator=(const HttpGet&) = delete;

  // Call once; the object must outlive it. Network and protocol trouble end up in
  // HttpGetResult::error, never in an exception.
  boost::asio::awaitable<HttpGetResult> run();

  // On the executor's thread: ends a run() in progress promptly with error "cancelled"
  // (closes the socket; a pending name resolution is left behind).
  void cancel();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace bulwark::server
