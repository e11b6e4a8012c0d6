// bulwark-origin: the example API behind the gateway (quickstart, integration tests, load
// benchmarks). Flags and signals only; the server lives in server.cpp, the data in database.cpp.
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "database.hpp"
#include "server.hpp"

namespace {

struct Flags {
  std::string listen = "127.0.0.1:8081";
  std::string db = ":memory:";
  int query_delay_ms = 0;
  int threads = 1;
  int db_threads = 4;
};

// HOST:PORT, or [V6]:PORT.
origin::ServerOptions parse_listen(const std::string& listen) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("HOST:PORT expected");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::size_t used = 0;
  unsigned long port = std::stoul(listen.substr(colon + 1), &used);
  if (used != listen.size() - colon - 1 || port > 65535)
    throw std::invalid_argument("bad port in " + listen);
  origin::ServerOptions options;
  options.host = host;
  options.port = static_cast<std::uint16_t>(port);
  return options;
}

int run(const Flags& flags) {
  origin::ServerOptions options = parse_listen(flags.listen);
  options.io_threads = flags.threads;
  options.db_threads = flags.db_threads;
  origin::Database db({flags.db, std::chrono::milliseconds(flags.query_delay_ms)});

  // A background job of a non-interactive shell starts with SIGINT ignored, and an ignored
  // signal never reaches sigwait: restore the default before blocking.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  origin::Server server(options, db);
  std::string where = server.start();
  std::printf("bulwark-origin listening on %s\n", where.c_str());
  std::fflush(stdout);  // tests and scripts wait for this line
  int signal = 0;
  sigwait(&stop_signals, &signal);
  server.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"bulwark-origin: the example API and database behind the bulwark gateway"};
  app.add_option("--listen", flags.listen, "HOST:PORT to serve (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--db", flags.db, "SQLite database path")->capture_default_str();
  app.add_option("--query-delay-ms", flags.query_delay_ms, "added latency per SQL query")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  app.add_option("--threads", flags.threads, "I/O threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--db-threads", flags.db_threads, "threads running SQL queries")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(flags);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bulwark-origin: %s\n", e.what());
    return 1;
  }
}
