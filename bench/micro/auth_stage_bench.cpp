// What authentication adds to a request once its token is known: the whole auth stage
// (find the Authorization field, parse Bearer, verified-token cache, route requirements,
// forwarded claims) on a cached HS256 and ES256 token, beside the cold verify of the same
// token through the Authenticator (signature + claims, cache disabled).
// BENCHMARK_MAIN lives in jws_bench.cpp.

#include <benchmark/benchmark.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "auth/authenticator.hpp"
#include "auth/base64url.hpp"
#include "auth/signing_key.hpp"
#include "gateway/auth_stage.hpp"

namespace {

using namespace bulwark;

const std::string kSecret = "bench-secret-bench-secret-bench-secret-0123456789";
constexpr const char* kIssuer = "https://bench.local";

auth::SigningKey es256_signing_key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return auth::SigningKey::from_private_pem(pem, auth::Algorithm::ES256).value();
}

std::string make_token(const auth::SigningKey& key, auth::Algorithm alg) {
  boost::json::object header{{"alg", auth::algorithm_name(alg)}, {"typ", "JWT"}};
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  boost::json::object payload{{"iss", kIssuer},           {"sub", "user-1234"}, {"aud", "api"},
                              {"scope", "read write"},    {"iat", now},         {"exp", now + 3600},
                              {"jti", "0123456789abcdef"}};
  return auth::sign_compact(boost::json::serialize(header), boost::json::serialize(payload), key)
      .value();
}

struct Fixture {
  auth::KeyGeneration generation;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::string token;

  Fixture(auth::Algorithm alg, std::size_t cache_entries) {
    auth::Issuer issuer;
    issuer.name = "bench";
    issuer.policy.issuer = kIssuer;
    issuer.policy.audiences = {"api"};
    if (alg == auth::Algorithm::HS256) {
      auto signer = auth::SigningKey::from_hmac_secret(kSecret, alg).value();
      issuer.keys.push_back(auth::VerificationKey::from_hmac_secret(kSecret, alg).value());
      token = make_token(signer, alg);
    } else {
      auto signer = es256_signing_key();
      issuer.keys.push_back(signer.verification_key().value());
      token = make_token(signer, alg);
    }
    std::vector<auth::Issuer> issuers;
    issuers.push_back(std::move(issuer));
    authenticator =
        std::make_unique<auth::Authenticator>(std::move(issuers), generation, cache_entries);
  }
};

gateway::RouteAuthPolicy route_policy() {
  gateway::RouteAuthPolicy policy;
  policy.requirements.scopes = {"read"};
  policy.forward_claims.push_back({auth::claim_path("sub"), "X-User-Id"});
  return policy;
}

void run_stage(benchmark::State& state, auth::Algorithm alg) {
  Fixture fixture(alg, 1000);
  auto policy = route_policy();
  std::string authorization = "Bearer " + fixture.token;
  std::vector<http::HeaderField> fields = {{"Host", "api.example.com"},
                                           {"User-Agent", "wrk"},
                                           {"Accept", "*/*"},
                                           {"Authorization", authorization}};
  std::array<uint8_t, 16> client{};
  gateway::AuthRequest request{.fields = fields,
                               .client = client,
                               .client_ip = "127.0.0.1",
                               .route = "api",
                               .request_id = "r1"};
  gateway::AuthServices services{fixture.authenticator.get(), nullptr};
  gateway::AuthDecision decision;
  // The first request verifies and fills the cache; the loop measures the requests after.
  gateway::run_auth_stage(policy, services, request, std::chrono::system_clock::now(), decision);
  for (auto _ : state) {
    gateway::run_auth_stage(policy, services, request, std::chrono::system_clock::now(), decision);
    benchmark::DoNotOptimize(decision.pass);
  }
  if (!decision.pass || !decision.cache_hit) {
    state.SkipWithError("not a cache hit");
  }
}

void BM_AuthStageCachedHS256(benchmark::State& state) {
  run_stage(state, auth::Algorithm::HS256);
}
void BM_AuthStageCachedES256(benchmark::State& state) {
  run_stage(state, auth::Algorithm::ES256);
}

void cold(benchmark::State& state, auth::Algorithm alg) {
  Fixture fixture(alg, 0);
  for (auto _ : state) {
    auto result = fixture.authenticator->authenticate(fixture.token, auth::kAllIssuers,
                                                      std::chrono::system_clock::now());
    if (!result) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(result);
  }
}

void BM_AuthenticatorColdHS256(benchmark::State& state) {
  cold(state, auth::Algorithm::HS256);
}
void BM_AuthenticatorColdES256(benchmark::State& state) {
  cold(state, auth::Algorithm::ES256);
}

BENCHMARK(BM_AuthStageCachedHS256);
BENCHMARK(BM_AuthStageCachedES256);
BENCHMARK(BM_AuthenticatorColdHS256);
BENCHMARK(BM_AuthenticatorColdES256);

}  // namespace
