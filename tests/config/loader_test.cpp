// The loader on valid files (every value read, defaults) and on files that are wrong as a
// whole (syntax, empty, several errors). Key-by-key errors: loader_errors_test.cpp and
// routes_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/units.hpp"
#include "loader_test_support.hpp"

namespace bulwark::config {
namespace {

using namespace std::chrono_literals;
using testing::all_errors;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kValidTail;
using testing::load;
using testing::load_valid;

IpNetwork network(std::string_view text) {
  return parse_ip_network(text).value();
}

// Every key this version knows, none at its default.
constexpr char kFullConfig[] = R"(server:
  listen: 0.0.0.0:8443
  workers: 8
  trusted_proxies: [10.0.0.0/8, "2001:db8::/32", 192.168.1.10]
  limits:
    max_header_bytes: 32KiB
    max_body_bytes: 1MB
    header_timeout: 5s
    idle_timeout: 2m
    max_connections: 500
  drain_timeout: 1h
admin:
  listen: "[::1]:9000"
log:
  level: debug
  access: /var/log/bulwark/access.log
upstreams:
  api:
    targets: [127.0.0.1:8081, "[::1]:8082", backend.internal:80]
    connect_timeout: 250ms
    timeout: 1m
    max_idle_per_target: 0
  auth:
    targets:
      - 127.0.0.1:9000
routes:
  - name: login
    match:
      host: Auth.Example.COM
      path: /login
      methods: [POST]
    upstream: auth
  - name: public
    match: {host: "*.example.com", path_prefix: /api/public/, methods: [GET, HEAD]}
    upstream: api
  - name: default
    upstream: api
)";

TEST(LoaderValid, FullConfigReadsServer) {
  const Config config = load_valid(kFullConfig);
  EXPECT_EQ(config.source_path, "test.yaml");
  EXPECT_EQ(config.server.listen, (Endpoint{"0.0.0.0", 8443}));
  EXPECT_EQ(config.server.workers, 8u);
  EXPECT_THAT(
      config.server.trusted_proxies,
      ElementsAre(network("10.0.0.0/8"), network("2001:db8::/32"), network("192.168.1.10/32")));
  EXPECT_EQ(config.server.limits.max_header_bytes, 32u * 1024);
  EXPECT_EQ(config.server.limits.max_body_bytes, 1'000'000u);
  EXPECT_EQ(config.server.limits.header_timeout, 5s);
  EXPECT_EQ(config.server.limits.idle_timeout, 2min);
  EXPECT_EQ(config.server.limits.max_connections, 500u);
  EXPECT_EQ(config.server.drain_timeout, 1h);
}

TEST(LoaderValid, FullConfigReadsAdminAndLog) {
  const Config config = load_valid(kFullConfig);
  EXPECT_EQ(config.admin.listen, (Endpoint{"::1", 9000}));
  EXPECT_EQ(config.log.level, LogLevel::debug);
  EXPECT_EQ(config.log.access, "/var/log/bulwark/access.log");
}

TEST(LoaderValid, FullConfigReadsUpstreamsInFileOrder) {
  const Config config = load_valid(kFullConfig);
  ASSERT_EQ(config.upstreams.size(), 2u);
  const Upstream& api = config.upstreams[0];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.line, 18u);
  EXPECT_THAT(api.targets, ElementsAre(Endpoint{"127.0.0.1", 8081}, Endpoint{"::1", 8082},
                                       Endpoint{"backend.internal", 80}));
  EXPECT_EQ(api.connect_timeout, 250ms);
  EXPECT_EQ(api.timeout, 1min);
  EXPECT_EQ(api.max_idle_per_target, 0u);
  const Upstream& auth = config.upstreams[1];
  EXPECT_EQ(auth.name, "auth");
  EXPECT_EQ(auth.line, 23u);
  EXPECT_THAT(auth.targets, ElementsAre(Endpoint{"127.0.0.1", 9000}));
  EXPECT_EQ(config.find_upstream("auth"), &auth);
}

TEST(LoaderValid, FullConfigReadsRoutesInFileOrder) {
  const Config config = load_valid(kFullConfig);
  ASSERT_EQ(config.routes.size(), 3u);
  const Route& login = config.routes[0];
  EXPECT_EQ(login.name, "login");
  EXPECT_EQ(login.line, 27u);
  EXPECT_EQ(login.match.host, "auth.example.com");  // hosts match case-insensitively
  EXPECT_EQ(login.match.path, "/login");
  EXPECT_EQ(login.match.path_prefix, std::nullopt);
  EXPECT_THAT(login.match.methods, ElementsAre("POST"));
  EXPECT_EQ(login.upstream, "auth");
  const Route& pub = config.routes[1];
  EXPECT_EQ(pub.name, "public");
  EXPECT_EQ(pub.line, 33u);
  EXPECT_EQ(pub.match.host, "*.example.com");
  EXPECT_EQ(pub.match.path, std::nullopt);
  EXPECT_EQ(pub.match.path_prefix, "/api/public/");
  EXPECT_THAT(pub.match.methods, ElementsAre("GET", "HEAD"));
  EXPECT_EQ(pub.upstream, "api");
  const Route& fallback = config.routes[2];
  EXPECT_EQ(fallback.name, "default");
  EXPECT_EQ(fallback.line, 36u);
  EXPECT_EQ(fallback.match.host, std::nullopt);
  EXPECT_EQ(fallback.match.path, std::nullopt);
  EXPECT_EQ(fallback.match.path_prefix, std::nullopt);
  EXPECT_TRUE(fallback.match.methods.empty());
}

constexpr char kMinimalConfig[] = R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
routes:
  - name: all
    upstream: api
)";

TEST(LoaderDefaults, ServerDefaults) {
  const Config config = load_valid(kMinimalConfig);
  EXPECT_EQ(config.server.listen, (Endpoint{"127.0.0.1", 8080}));
  EXPECT_EQ(config.server.workers, 0u);  // auto
  EXPECT_TRUE(config.server.trusted_proxies.empty());
  EXPECT_EQ(config.server.drain_timeout, 15s);
}

TEST(LoaderDefaults, ServerLimitDefaults) {
  const ServerLimits limits = load_valid(kMinimalConfig).server.limits;
  EXPECT_EQ(limits.max_header_bytes, 16u * 1024);
  EXPECT_EQ(limits.max_body_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(limits.header_timeout, 10s);
  EXPECT_EQ(limits.idle_timeout, 60s);
  EXPECT_EQ(limits.max_connections, 10000u);
}

TEST(LoaderDefaults, AdminAndLogDefaults) {
  const Config config = load_valid(kMinimalConfig);
  EXPECT_EQ(config.admin.listen, (Endpoint{"127.0.0.1", 9901}));
  EXPECT_EQ(config.log.level, LogLevel::info);
  EXPECT_EQ(config.log.access, "stdout");
}

TEST(LoaderDefaults, UpstreamDefaults) {
  const Config config = load_valid(kMinimalConfig);
  ASSERT_EQ(config.upstreams.size(), 1u);
  EXPECT_EQ(config.upstreams[0].connect_timeout, 1s);
  EXPECT_EQ(config.upstreams[0].timeout, 30s);
  EXPECT_EQ(config.upstreams[0].max_idle_per_target, 64u);
}

TEST(LoaderDefaults, RouteWithoutMatchMatchesEverything) {
  const Config config = load_valid(kMinimalConfig);
  ASSERT_EQ(config.routes.size(), 1u);
  EXPECT_EQ(config.routes[0].line, 5u);
  EXPECT_FALSE(config.routes[0].match.host || config.routes[0].match.path ||
               config.routes[0].match.path_prefix);
  EXPECT_TRUE(config.routes[0].match.methods.empty());
}

TEST(LoaderDefaults, EmptySectionsKeepDefaults) {
  const Config config = load_valid(std::string("server:\nadmin:\nlog:\n") + kMinimalConfig);
  EXPECT_EQ(config.server.listen, (Endpoint{"127.0.0.1", 8080}));
  EXPECT_EQ(config.admin.listen, (Endpoint{"127.0.0.1", 9901}));
}

TEST(LoaderDefaults, UnusedUpstreamIsAllowed) {
  const Config config = load_valid(R"(upstreams:
  api:
    targets: [127.0.0.1:8081]
  spare:
    targets: [127.0.0.1:8089]
routes:
  - {name: all, upstream: api}
)");
  EXPECT_EQ(config.upstreams.size(), 2u);
}

// --- Value variants -------------------------------------------------------------------------

TEST(LoaderValues, WorkersAuto) {
  EXPECT_EQ(load_valid(std::string("server: {workers: auto}") + kValidTail).server.workers, 0u);
}

TEST(LoaderValues, WorkersBoundaries) {
  EXPECT_EQ(load_valid(std::string("server: {workers: 1}") + kValidTail).server.workers, 1u);
  EXPECT_EQ(load_valid(std::string("server: {workers: 256}") + kValidTail).server.workers, 256u);
}

TEST(LoaderValues, MaxHeaderBytesBoundaries) {
  const auto header_bytes = [](const std::string& value) {
    return load_valid("server: {limits: {max_header_bytes: " + value + "}}" + kValidTail)
        .server.limits.max_header_bytes;
  };
  EXPECT_EQ(header_bytes("1KiB"), 1024u);
  EXPECT_EQ(header_bytes("1024"), 1024u);
  EXPECT_EQ(header_bytes("1MiB"), 1024u * 1024);
}

TEST(LoaderValues, MaxBodyBytesMayBeZero) {
  EXPECT_EQ(load_valid(std::string("server: {limits: {max_body_bytes: 0}}") + kValidTail)
                .server.limits.max_body_bytes,
            0u);
}

TEST(LoaderValues, DrainTimeoutMayBeZero) {
  EXPECT_EQ(
      load_valid(std::string("server: {drain_timeout: 0s}") + kValidTail).server.drain_timeout, 0s);
}

TEST(LoaderValues, MaxIdlePerTargetBoundaries) {
  const auto idle = [](const std::string& value) {
    return load_valid(R"(upstreams:
  api: {targets: [127.0.0.1:8081], max_idle_per_target: )" +
                      value + R"(}
routes:
  - {name: all, upstream: api}
)")
        .upstreams[0]
        .max_idle_per_target;
  };
  EXPECT_EQ(idle("0"), 0u);
  EXPECT_EQ(idle("10000"), 10000u);
}

TEST(LoaderValues, MaxConnectionsLargest) {
  EXPECT_EQ(load_valid(std::string("server: {limits: {max_connections: 4294967295}}") + kValidTail)
                .server.limits.max_connections,
            4294967295u);
}

TEST(LoaderValues, AdminListenOff) {
  EXPECT_EQ(load_valid(std::string("admin: {listen: off}") + kValidTail).admin.listen,
            std::nullopt);
}

TEST(LoaderValues, AdminMayShareHostWithServerOnAnotherPort) {
  const Config config = load_valid(std::string("server: {listen: 0.0.0.0:8080}\n"
                                               "admin: {listen: 127.0.0.1:8081}") +
                                   kValidTail);
  EXPECT_EQ(config.admin.listen, (Endpoint{"127.0.0.1", 8081}));
}

TEST(LoaderValues, EveryLogLevel) {
  const std::pair<const char*, LogLevel> levels[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off}};
  for (const auto& [name, level] : levels) {
    EXPECT_EQ(load_valid("log: {level: " + std::string(name) + "}" + kValidTail).log.level, level)
        << name;
  }
}

TEST(LoaderValues, LogAccessKeywordsAndPaths) {
  for (const char* access : {"stdout", "stderr", "off", "access.log", "/var/log/a.log"}) {
    EXPECT_EQ(load_valid("log: {access: " + std::string(access) + "}" + kValidTail).log.access,
              access);
  }
}

TEST(LoaderValues, QuotedScalarsReadLikePlainOnes) {
  const Config config = load_valid(std::string(R"(server:
  listen: "127.0.0.1:9090"
  workers: "4"
  limits: {header_timeout: '3s'}
)") + kValidTail);
  EXPECT_EQ(config.server.listen.port, 9090);
  EXPECT_EQ(config.server.workers, 4u);
  EXPECT_EQ(config.server.limits.header_timeout, 3s);
}

TEST(LoaderValues, UnquotedIpv6NetworkInFlowList) {
  const Config config =
      load_valid(std::string("server: {trusted_proxies: [2001:db8::/32, ::1]}") + kValidTail);
  EXPECT_THAT(config.server.trusted_proxies,
              ElementsAre(network("2001:db8::/32"), network("::1/128")));
}

TEST(LoaderValues, AliasOfAWholeUpstream) {
  const Config config = load_valid(R"(upstreams:
  api: &api
    targets: [127.0.0.1:8081]
    timeout: 5s
  api_copy: *api
routes:
  - {name: all, upstream: api_copy}
)");
  ASSERT_EQ(config.upstreams.size(), 2u);
  EXPECT_EQ(config.upstreams[1].name, "api_copy");
  EXPECT_EQ(config.upstreams[1].timeout, 5s);
}

// --- The file as a whole --------------------------------------------------------------------

TEST(LoaderFile, SyntaxErrorGivesItsLine) {
  const LoadResult result = load("server:\n  workers: 4\n  listen: a: b\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].line, 3u);
  EXPECT_EQ(result.errors[0].key, "");
  EXPECT_THAT(result.errors[0].message, HasSubstr("YAML syntax error"));
  EXPECT_THAT(result.errors[0].message, HasSubstr("column"));
}

TEST(LoaderFile, UnclosedFlowListGivesALine) {
  const LoadResult result = load("routes: [\n  {name: a, upstream: b}\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_GE(result.errors[0].line, 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("YAML syntax error"));
}

TEST(LoaderFile, EmptyFile) {
  const LoadResult result = load("");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].line, 0u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("empty"));
  EXPECT_THAT(result.errors[0].message, HasSubstr("routes"));
}

TEST(LoaderFile, CommentsOnlyIsEmpty) {
  const LoadResult result = load("# nothing yet\n\n# still nothing\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_THAT(result.errors[0].message, HasSubstr("empty"));
}

TEST(LoaderFile, RootMustBeAMapping) {
  const LoadResult result = load("- server\n- routes\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].line, 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("expected a mapping of sections"));
  EXPECT_THAT(result.errors[0].message, HasSubstr("got a list"));
}

TEST(LoaderFile, SeveralDocumentsRefused) {
  const LoadResult result = load(std::string(kMinimalConfig) + "---\nserver: {}\n");
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].line, 8u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("2 YAML documents"));
}

TEST(LoaderFile, EveryErrorIsReportedInLineOrder) {
  const LoadResult result = load(R"(server:
  listen: localhost
  workers: many
  limits:
    header_timeout: 10
log:
  level: loud
upstreams:
  api:
    targets: []
routes:
  - name: all
    upstream: nowhere
    cache: {scope: everyone}
)");
  std::vector<std::pair<unsigned, std::string>> where;
  for (const ConfigError& error : result.errors) where.emplace_back(error.line, error.key);
  EXPECT_THAT(
      where,
      ElementsAre(std::pair(2u, "server.listen"), std::pair(3u, "server.workers"),
                  std::pair(5u, "server.limits.header_timeout"), std::pair(7u, "log.level"),
                  std::pair(10u, "upstreams.api.targets"), std::pair(13u, "routes[0].upstream"),
                  std::pair(14u, "routes[0].cache.scope")))
      << all_errors(result);
  EXPECT_FALSE(result.config.has_value());
}

TEST(LoaderFile, ReadsAFileFromDisk) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("bulwark_loader_test_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << kFullConfig;
  const LoadResult result = load_config_file(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(result.ok()) << all_errors(result);
  EXPECT_EQ(result.config->source_path, path.string());
  EXPECT_EQ(result.config->routes.size(), 3u);
}

TEST(LoaderFile, ErrorsNameTheFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("bulwark_loader_test_bad_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << "server:\n  workers: 0\n" << kValidTail;
  const LoadResult result = load_config_file(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(result.errors.size(), 1u) << all_errors(result);
  EXPECT_EQ(result.errors[0].file, path.string());
  EXPECT_EQ(result.errors[0].line, 2u);
}

TEST(LoaderFile, MissingFile) {
  const LoadResult result = load_config_file("/nonexistent/bulwark.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].file, "/nonexistent/bulwark.yaml");
  EXPECT_EQ(result.errors[0].line, 0u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("No such file"));
}

TEST(LoaderFile, DirectoryInsteadOfFile) {
  const LoadResult result = load_config_file(std::filesystem::temp_directory_path().string());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("is a directory"));
}

// --- Error text -----------------------------------------------------------------------------

TEST(ConfigErrorText, FileLineKeyMessage) {
  const ConfigError error{"bulwark.yaml", 12, "server.limits.max_header_bytes", "too small"};
  EXPECT_EQ(error.to_string(), "bulwark.yaml:12: server.limits.max_header_bytes: too small");
}

TEST(ConfigErrorText, LineOmittedWhenUnknown) {
  const ConfigError error{"bulwark.yaml", 0, "routes", "missing"};
  EXPECT_EQ(error.to_string(), "bulwark.yaml: routes: missing");
}

TEST(ConfigErrorText, KeyOmittedWhenNone) {
  const ConfigError error{"bulwark.yaml", 3, "", "YAML syntax error"};
  EXPECT_EQ(error.to_string(), "bulwark.yaml:3: YAML syntax error");
}

TEST(ConfigLookup, FindUpstreamByName) {
  Config config;
  for (const char* name : {"api", "auth"}) {
    Upstream upstream;
    upstream.name = name;
    config.upstreams.push_back(upstream);
  }
  EXPECT_EQ(config.find_upstream("auth"), &config.upstreams[1]);
  EXPECT_EQ(config.find_upstream("nope"), nullptr);
  EXPECT_EQ(config.find_upstream(""), nullptr);
}

}  // namespace
}  // namespace bulwark::config
