#pragma once
// The running gateway: workers, the admin listener, signals (SIGTERM/SIGINT drain,
// SIGHUP reload). Kept free of Asio types so that main.cpp stays cheap to compile.

#include <memory>
#include <string>

#include "config/config.hpp"

namespace bulwark::server {

class GatewayServer {
 public:
  // `config` is the validated config loaded from `config_path` (reloads read that path).
  GatewayServer(config::Config config, std::string config_path);
  ~GatewayServer();

  // Binds, serves until SIGTERM/SIGINT, drains, and returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bulwark::server
