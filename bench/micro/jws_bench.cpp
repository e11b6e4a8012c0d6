// Cold verification of one token, per algorithm: what a request costs when the verified-token
// cache misses. "Cold" = parse_compact + verify_signature + validate_claims on a typical
// access token (~300 bytes); keys are loaded once, as at config load. Separate rows isolate
// parsing and claims, so the crypto share is visible.

#include <benchmark/benchmark.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "auth/algorithm.hpp"
#include "auth/base64url.hpp"
#include "auth/claims.hpp"
#include "auth/jws.hpp"
#include "auth/signing_key.hpp"
#include "auth/verification_key.hpp"

namespace {

using namespace bulwark::auth;

constexpr int64_t kNow = 1'700'000'000;

template <typename T>
T unwrap(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().detail);
  return std::move(result).value();
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return pem;
}

SigningKey make_signing_key(Algorithm alg) {
  if (algorithm_family(alg) == AlgorithmFamily::hmac) {
    return unwrap(SigningKey::from_hmac_secret(std::string(hash_size_bytes(alg), 'k'), alg));
  }
  EVP_PKEY* key = nullptr;
  switch (algorithm_family(alg)) {
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
      break;
    case AlgorithmFamily::ecdsa:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC",
                              alg == Algorithm::ES256   ? "P-256"
                              : alg == Algorithm::ES384 ? "P-384"
                                                        : "P-521");
      break;
    default:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  const std::string pem = pem_of(key);
  EVP_PKEY_free(key);
  return unwrap(SigningKey::from_private_pem(pem, alg));
}

struct Fixture {
  std::string token;
  VerificationKey key;
  ClaimsPolicy policy;
};

const Fixture& fixture(Algorithm alg) {
  static std::map<Algorithm, std::unique_ptr<Fixture>> fixtures;
  auto& slot = fixtures[alg];
  if (!slot) {
    const SigningKey signer = make_signing_key(alg);
    const std::string header = R"({"alg":")" + std::string(algorithm_name(alg)) +
                               R"(","typ":"JWT","kid":"2024-05-key-1"})";
    const std::string claims =
        R"({"iss":"https://auth.example.com/","sub":"user-8a6e0804-2bd0-4672-b79d-d97027f9071a",)"
        R"("aud":["https://api.example.com","orders"],"iat":)" +
        std::to_string(kNow) + R"(,"nbf":)" + std::to_string(kNow) + R"(,"exp":)" +
        std::to_string(kNow + 600) +
        R"(,"jti":"4f1g23a12aa","scope":"orders:read orders:write profile"})";
    ClaimsPolicy policy;
    policy.issuer = "https://auth.example.com/";
    policy.audiences = {"orders"};
    policy.max_lifetime = std::chrono::minutes(15);
    slot = std::make_unique<Fixture>(Fixture{unwrap(sign_compact(header, claims, signer)),
                                             unwrap(signer.verification_key()), std::move(policy)});
  }
  return *slot;
}

const auto kClock = std::chrono::system_clock::time_point(std::chrono::seconds(kNow + 60));

void BM_VerifyCold(benchmark::State& state, Algorithm alg) {
  const Fixture& f = fixture(alg);
  for (auto _ : state) {
    auto jws = parse_compact(f.token);
    auto verified = verify_signature(*jws, f.key);
    auto claims = validate_claims(jws->payload, f.policy, kClock);
    if (!verified || !claims) state.SkipWithError("token refused");
    benchmark::DoNotOptimize(claims);
  }
  state.SetLabel(std::to_string(f.token.size()) + " B token");
}

void BM_ParseCompact(benchmark::State& state) {
  const Fixture& f = fixture(Algorithm::HS256);
  for (auto _ : state) benchmark::DoNotOptimize(parse_compact(f.token));
}

void BM_ValidateClaims(benchmark::State& state) {
  const Fixture& f = fixture(Algorithm::HS256);
  const std::string payload = unwrap(parse_compact(f.token)).payload;
  for (auto _ : state) benchmark::DoNotOptimize(validate_claims(payload, f.policy, kClock));
}

void BM_SignatureOnly(benchmark::State& state, Algorithm alg) {
  const Fixture& f = fixture(alg);
  const ParsedJws jws = unwrap(parse_compact(f.token));
  for (auto _ : state) benchmark::DoNotOptimize(verify_signature(jws, f.key));
}

void BM_Base64urlDecode(benchmark::State& state) {
  const std::string text =
      base64url_encode(std::string(static_cast<std::size_t>(state.range(0)), 'x'));
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(base64url_decode_into(text, out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// One row per family at its common size, plus the other EC curves (their cost differs most).
BENCHMARK_CAPTURE(BM_VerifyCold, HS256, Algorithm::HS256);
BENCHMARK_CAPTURE(BM_VerifyCold, HS512, Algorithm::HS512);
BENCHMARK_CAPTURE(BM_VerifyCold, RS256, Algorithm::RS256);
BENCHMARK_CAPTURE(BM_VerifyCold, PS256, Algorithm::PS256);
BENCHMARK_CAPTURE(BM_VerifyCold, ES256, Algorithm::ES256);
BENCHMARK_CAPTURE(BM_VerifyCold, ES384, Algorithm::ES384);
BENCHMARK_CAPTURE(BM_VerifyCold, ES512, Algorithm::ES512);
BENCHMARK_CAPTURE(BM_VerifyCold, EdDSA, Algorithm::EdDSA);
BENCHMARK(BM_ParseCompact);
BENCHMARK(BM_ValidateClaims);
BENCHMARK_CAPTURE(BM_SignatureOnly, HS256, Algorithm::HS256);
BENCHMARK_CAPTURE(BM_SignatureOnly, ES256, Algorithm::ES256);
BENCHMARK(BM_Base64urlDecode)->Arg(256)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
