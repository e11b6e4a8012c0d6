#include "observe/access_log.hpp"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace bulwark::observe {

void append_json_time(std::string& out, std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(ms);
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  fmt::format_to(std::back_inserter(out), "\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\"", tm,
                 int((ms - secs).count()));
}

namespace {

// ,"key":"value" — or ,"key":null for an empty value when `nullable`.
void append_string_field(std::string& out, std::string_view key, std::string_view value,
                         bool nullable) {
  out += ",\"";
  out += key;
  out += "\":";
  if (nullable && value.empty()) {
    out += "null";
  } else {
    append_json_string(out, value);
  }
}

void append_record(std::string& out, const AccessRecord& r) {
  out += "{\"time\":";
  append_json_time(out, r.time);
  append_string_field(out, "request_id", r.request_id, false);
  append_string_field(out, "client_ip", r.client_ip, false);
  append_string_field(out, "method", r.method, false);
  append_string_field(out, "path", r.path, false);
  append_string_field(out, "route", r.route, true);
  fmt::format_to(std::back_inserter(out),
                 ",\"status\":{},\"bytes\":{},\"bytes_received\":{},\"duration_us\":{}", r.status,
                 r.bytes_sent, r.bytes_received, r.duration_us);
  if (r.upstream_us < 0) {
    out += ",\"upstream_us\":null";
  } else {
    fmt::format_to(std::back_inserter(out), ",\"upstream_us\":{}", r.upstream_us);
  }
  append_string_field(out, "upstream", r.upstream, true);
  append_string_field(out, "error", r.error, true);
  append_string_field(out, "auth", r.auth, true);
  append_string_field(out, "limit", r.limit, true);
  append_string_field(out, "cache", r.cache, true);
  out += '}';
}

}  // namespace

void append_json_string(std::string& out, std::string_view value) {
  out += '"';
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        // Control bytes and non-ASCII bytes are escaped so that a hostile request can
        // never break the line or produce invalid UTF-8 in the log.
        if (c < 0x20 || c >= 0x7f) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", unsigned(c));
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

std::string format_access_record(const AccessRecord& record) {
  std::string out;
  append_record(out, record);
  return out;
}

std::shared_ptr<AccessLogSink> AccessLogSink::open(const std::string& destination) {
  if (destination == "off") return std::shared_ptr<AccessLogSink>(new AccessLogSink(-1, false));
  if (destination == "stdout") return std::shared_ptr<AccessLogSink>(new AccessLogSink(1, false));
  if (destination == "stderr") return std::shared_ptr<AccessLogSink>(new AccessLogSink(2, false));
  int fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    throw std::runtime_error(
        fmt::format("cannot open access log '{}': {}", destination, std::strerror(errno)));
  }
  return std::shared_ptr<AccessLogSink>(new AccessLogSink(fd, true));
}

AccessLogSink::~AccessLogSink() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

void AccessLogSink::write(std::string_view lines) {
  if (fd_ < 0) return;
  std::lock_guard lock(mutex_);
  while (!lines.empty()) {
    ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk or closed pipe must not stop the gateway
    lines.remove_prefix(size_t(n));
  }
}

void AccessLogBuffer::set_sink(std::shared_ptr<AccessLogSink> sink) {
  flush();
  sink_ = std::move(sink);
}

void AccessLogBuffer::append(const AccessRecord& record) {
  if (!enabled()) return;
  append_record(buffer_, record);
  buffer_ += '\n';
  if (buffer_.size() >= kFlushBytes) flush();
}

void AccessLogBuffer::flush() {
  if (buffer_.empty()) return;
  if (sink_) sink_->write(buffer_);
  buffer_.clear();
}

}  // namespace bulwark::observe
