#include "database.hpp"

#include <sqlite3.h>

#include <ctime>
#include <stdexcept>
#include <thread>

namespace origin {
namespace {

// AUTOINCREMENT ids are never reused, and REPLACE gives a rewritten row a new id, so the id
// is a version that changes on every write, even across delete and re-create: a strong ETag.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS kv ("
    " version INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL UNIQUE,"
    " value BLOB NOT NULL,"
    " modified INTEGER NOT NULL)";

// A new table's versions start from the clock (microseconds), so an in-memory origin that
// restarts never reuses a tag a shared cache may still hold for other bytes.
constexpr const char* kStartVersions =
    "INSERT INTO sqlite_sequence (name, seq)"
    " SELECT 'kv', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
    " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv')";

constexpr const char* kGet = "SELECT value, version, modified FROM kv WHERE key = ?1";
constexpr const char* kPut =
    "INSERT OR REPLACE INTO kv (key, value, modified) VALUES (?1, ?2, ?3) RETURNING version";
constexpr const char* kRemove = "DELETE FROM kv WHERE key = ?1";

// Clears bindings and state on every exit path, so a statement is always ready for reuse.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  ~Statement() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  sqlite3_stmt* get() const { return s_; }
  void bind(int i, std::string_view text) {
    sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void bind_blob(int i, std::string_view bytes) {
    // A zero-length blob needs a non-null pointer, or SQLite stores NULL.
    sqlite3_bind_blob(s_, i, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()),
                      SQLITE_STATIC);
  }

 private:
  sqlite3_stmt* s_;
};

}  // namespace

Database::Database(const Options& options) : query_delay_(options.query_delay) {
  if (sqlite3_open_v2(options.path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = "cannot open database " + options.path + ": " + sqlite3_errmsg(db_);
    sqlite3_close(db_);
    throw std::runtime_error(message);
  }
  try {
    init(options.path);
  } catch (...) {
    close();
    throw;
  }
}

void Database::init(const std::string& path) {
  sqlite3_busy_timeout(db_, 5000);
  if (path != ":memory:") exec("PRAGMA journal_mode=WAL");
  exec(kSchema);
  exec(kStartVersions);
  // Seed only missing keys, so a file database keeps what was written to it.
  exec(
      "INSERT OR IGNORE INTO kv (key, value, modified) VALUES"
      " ('hello', 'world', strftime('%s','now')), ('answer', '42', strftime('%s','now'))");
  get_ = prepare(kGet);
  put_ = prepare(kPut);
  remove_ = prepare(kRemove);
}

Database::~Database() {
  close();
}

void Database::close() {
  sqlite3_finalize(get_);
  sqlite3_finalize(put_);
  sqlite3_finalize(remove_);
  sqlite3_close(db_);
}

std::optional<Row> Database::get(std::string_view key) {
  begin_query();
  std::lock_guard lock(mutex_);
  Statement st(get_);
  st.bind(1, key);
  int rc = sqlite3_step(st.get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) fail("select");
  Row row;
  auto* bytes = static_cast<const char*>(sqlite3_column_blob(st.get(), 0));
  row.value.assign(bytes ? bytes : "", static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 0)));
  row.version = sqlite3_column_int64(st.get(), 1);
  row.modified = sqlite3_column_int64(st.get(), 2);
  return row;
}

Row Database::put(std::string_view key, std::string_view value) {
  begin_query();
  Row row;
  row.modified = static_cast<std::int64_t>(std::time(nullptr));
  std::lock_guard lock(mutex_);
  Statement st(put_);
  st.bind(1, key);
  st.bind_blob(2, value);
  sqlite3_bind_int64(st.get(), 3, row.modified);
  if (sqlite3_step(st.get()) != SQLITE_ROW) fail("insert");
  row.version = sqlite3_column_int64(st.get(), 0);
  return row;
}

bool Database::remove(std::string_view key) {
  begin_query();
  std::lock_guard lock(mutex_);
  Statement st(remove_);
  st.bind(1, key);
  if (sqlite3_step(st.get()) != SQLITE_DONE) fail("delete");
  return sqlite3_changes(db_) > 0;
}

// The delay is taken outside the lock: it stands for the query's own latency, so concurrent
// queries overlap as they would on a real database server.
void Database::begin_query() {
  queries_.fetch_add(1, std::memory_order_relaxed);
  if (query_delay_.count() > 0) std::this_thread::sleep_for(query_delay_);
}

void Database::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = std::string("sqlite: ") + (error ? error : "unknown error");
    sqlite3_free(error);
    throw std::runtime_error(message);
  }
}

sqlite3_stmt* Database::prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
    fail("prepare");
  return stmt;
}

void Database::fail(const char* what) {
  throw std::runtime_error(std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_));
}

}  // namespace origin
