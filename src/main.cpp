// bulwark's command line: serve, check, keys, token, --version, --help.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "bulwark/version.hpp"
#include "cli/keys_command.hpp"
#include "cli/token_command.hpp"
#include "config/loader.hpp"
#include "gateway/auth_setup.hpp"
#include "server/gateway_server.hpp"

namespace {

void print_errors(const std::vector<bulwark::config::ConfigError>& errors) {
  for (const auto& error : errors) std::cerr << error.to_string() << "\n";
  std::cerr << errors.size() << " error(s)\n";
}

int check(const std::string& path) {
  auto result = bulwark::config::load_config_file(path);
  if (!result.ok()) {
    print_errors(result.errors);
    return 1;
  }
  // Key material too: a config that names a missing secret or a bad PEM would not start.
  bulwark::gateway::AuthEnvironment environment;
  auto auth = bulwark::gateway::build_auth(*result.config, environment);
  if (!auth.errors.empty()) {
    print_errors(auth.errors);
    return 1;
  }
  for (const auto& warning : auth.warnings) std::cerr << "warning: " << warning.to_string() << "\n";
  std::cout << "OK: " << path << " (" << result.config->routes.size() << " route(s), "
            << result.config->upstreams.size() << " upstream(s))\n";
  return 0;
}

int serve(const std::string& path) {
  auto result = bulwark::config::load_config_file(path);
  if (!result.ok()) {
    print_errors(result.errors);
    return 1;
  }
  bulwark::server::GatewayServer server(std::move(*result.config), path);
  return server.run();
}

void setup_logging() {
  auto logger = spdlog::stderr_color_mt("bulwark");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  // A client closing early must not kill the process; errors are handled where they occur.
  std::signal(SIGPIPE, SIG_IGN);
  setup_logging();

  CLI::App app{"bulwark: JWT authentication, rate limiting and caching in front of any HTTP API"};
  app.set_version_flag("--version", std::string("bulwark ") + bulwark::kVersion);
  app.require_subcommand(1);

  std::string serve_config;
  auto* serve_cmd = app.add_subcommand("serve", "Run the gateway");
  serve_cmd->add_option("-c,--config", serve_config, "Config file (YAML)")->required();

  std::string check_config;
  auto* check_cmd = app.add_subcommand("check", "Validate a config file: prints OK or every error");
  check_cmd->add_option("config", check_config, "Config file (YAML)");
  check_cmd->add_option("-c,--config", check_config, "Config file (YAML)");

  bulwark::cli::KeysCommand keys_command;
  bulwark::cli::add_keys_command(app, keys_command);
  bulwark::cli::TokenCommand token_command;
  bulwark::cli::add_token_command(app, token_command);

  CLI11_PARSE(app, argc, argv);

  if (*serve_cmd) return serve(serve_config);
  if (*check_cmd) {
    if (check_config.empty()) {
      std::cerr << "bulwark check: give the config file: bulwark check FILE\n";
      return 2;
    }
    return check(check_config);
  }
  if (*keys_command.keys) return bulwark::cli::run_keys_command(keys_command);
  if (*token_command.token) return bulwark::cli::run_token_command(token_command);
  return 0;
}
