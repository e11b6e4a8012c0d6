#pragma once
// One JSON line per request. Each worker formats into its own buffer and flushes whole
// lines with one write(2) when the buffer is large or on the worker's periodic tick, so the
// hot path never takes a lock or makes a syscall per request.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace bulwark::observe {

// What a request leaves behind. auth/limit/cache are filled by their stages (later
// layers); empty means "not involved" and is logged as null.
struct AccessRecord {
  std::chrono::system_clock::time_point time;
  std::string_view request_id;
  std::string_view client_ip;
  std::string_view method;
  std::string_view path;
  std::string_view route;  // empty: no route matched
  unsigned status = 0;
  uint64_t bytes_sent = 0;      // response body bytes written to the client
  uint64_t bytes_received = 0;  // request body bytes read from the client
  uint64_t duration_us = 0;
  int64_t upstream_us = -1;   // -1: no upstream exchange
  std::string_view upstream;  // target address, empty when none
  std::string_view error;     // why bulwark answered itself (e.g. "header timeout")
  std::string_view auth;
  std::string_view limit;
  std::string_view cache;
};

// Where lines go: a file descriptor shared by all workers. Thread-safe.
class AccessLogSink {
 public:
  // "stdout", "stderr", "off" or a file path (opened for append). Throws on open failure.
  static std::shared_ptr<AccessLogSink> open(const std::string& destination);
  ~AccessLogSink();

  bool enabled() const { return fd_ >= 0; }
  void write(std::string_view lines);

 private:
  explicit AccessLogSink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
  std::mutex mutex_;
};

// Per-worker buffer in front of a sink. Not thread-safe: one per worker.
class AccessLogBuffer {
 public:
  static constexpr size_t kFlushBytes = 32 * 1024;

  void set_sink(std::shared_ptr<AccessLogSink> sink);
  bool enabled() const { return sink_ && sink_->enabled(); }
  void append(const AccessRecord& record);
  void flush();

 private:
  std::shared_ptr<AccessLogSink> sink_;
  std::string buffer_;
};

// Appends `t` as a quoted RFC 3339 UTC time with milliseconds: "2026-11-26T22:45:51.123Z".
void append_json_time(std::string& out, std::chrono::system_clock::time_point t);
// Appends `value` as a JSON string literal (with quotes) to `out`.
void append_json_string(std::string& out, std::string_view value);
// The line for `record`, without the trailing newline.
std::string format_access_record(const AccessRecord& record);

}  // namespace bulwark::observe
