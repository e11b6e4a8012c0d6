// The origin's database: a small SQLite key/value table standing in for the user's data.
// Blocking calls by design; the server runs them on a thread pool, never on an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace origin {

struct Row {
  std::string value;
  std::int64_t version = 0;   // changes on every write, never reused: a strong validator
  std::int64_t modified = 0;  // unix seconds of the last write
};

class Database {
 public:
  struct Options {
    std::string path = ":memory:";
    std::chrono::milliseconds query_delay{0};  // simulated query latency
  };

  explicit Database(const Options& options);  // throws std::runtime_error
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Each call runs exactly one SQL statement and counts it.
  std::optional<Row> get(std::string_view key);
  Row put(std::string_view key, std::string_view value);
  bool remove(std::string_view key);

  std::uint64_t queries() const { return queries_.load(std::memory_order_relaxed); }
  void reset_queries() { queries_.store(0, std::memory_order_relaxed); }

 private:
  void init(const std::string& path);
  void close();
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  void begin_query();
  [[noreturn]] void fail(const char* what);

  std::chrono::milliseconds query_delay_;
  std::mutex mutex_;  // one connection, shared by the pool threads
  sqlite3* db_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* remove_ = nullptr;
  std::atomic<std::uint64_t> queries_{0};
};

}  // namespace origin
