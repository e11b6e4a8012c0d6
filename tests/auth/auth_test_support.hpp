#pragma once
// Helpers shared by the auth tests: keys generated in-process (EVP_PKEY_Q_keygen), PEM
// export, and a raw token builder that signs whatever bytes it is given (for malformed
// headers that sign_compact would refuse to produce).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <chrono>
#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/base64url.hpp"
#include "auth/error.hpp"
#include "auth/signing_key.hpp"
#include "auth/verification_key.hpp"

namespace bulwark::auth {

// gtest prints these in failure messages.
inline std::ostream& operator<<(std::ostream& os, AuthFailure reason) {
  return os << reason_name(reason);
}
inline std::ostream& operator<<(std::ostream& os, Algorithm alg) {
  return os << algorithm_name(alg);
}

namespace testing_support {

template <typename T>
T unwrap(Result<T> result) {
  if (!result) {
    throw std::runtime_error(std::string(reason_name(result.error().reason)) + ": " +
                             result.error().detail);
  }
  return std::move(result).value();
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

inline Pkey generate_rsa(std::size_t bits) {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}
inline Pkey generate_ec(const char* curve) {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}
inline Pkey generate_ed25519() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return text;
}
inline std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  return bio_text(bio);
}
inline std::string private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio);
}

inline std::string random_bytes(std::size_t n) {
  std::string bytes(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n));
  return bytes;
}

// A fresh key of the right type for `alg`, as PEM text (or a secret for HS algorithms).
struct KeyMaterial {
  std::string private_pem;  // empty for HS
  std::string public_pem;   // empty for HS
  std::string secret;       // HS only
};

inline Pkey generate_for(Algorithm alg) {
  switch (algorithm_family(alg)) {
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss:
      return generate_rsa(2048);
    case AlgorithmFamily::ecdsa:
      return generate_ec(alg == Algorithm::ES256   ? "P-256"
                         : alg == Algorithm::ES384 ? "P-384"
                                                   : "P-521");
    case AlgorithmFamily::eddsa:
      return generate_ed25519();
    case AlgorithmFamily::hmac:
      break;
  }
  return nullptr;
}

inline KeyMaterial fresh_key_material(Algorithm alg) {
  KeyMaterial material;
  if (algorithm_family(alg) == AlgorithmFamily::hmac) {
    material.secret = random_bytes(hash_size_bytes(alg));
    return material;
  }
  Pkey key = generate_for(alg);
  material.private_pem = private_pem(key.get());
  material.public_pem = public_pem(key.get());
  return material;
}

// RSA keygen is slow: one RSA key serves every RS* and PS* test of a process.
inline const KeyMaterial& key_material(Algorithm alg) {
  static std::map<Algorithm, KeyMaterial> cache;
  const AlgorithmFamily family = algorithm_family(alg);
  const Algorithm slot =
      (family == AlgorithmFamily::rsa_pkcs1 || family == AlgorithmFamily::rsa_pss)
          ? Algorithm::RS256  // all RS* and PS* share one RSA key
          : alg;
  auto it = cache.find(slot);
  if (it == cache.end()) it = cache.emplace(slot, fresh_key_material(alg)).first;
  return it->second;
}

inline SigningKey signing_key(const KeyMaterial& m, Algorithm alg) {
  if (!m.secret.empty()) return unwrap(SigningKey::from_hmac_secret(m.secret, alg));
  return unwrap(SigningKey::from_private_pem(m.private_pem, alg));
}
inline VerificationKey verification_key(const KeyMaterial& m, Algorithm alg) {
  if (!m.secret.empty()) return unwrap(VerificationKey::from_hmac_secret(m.secret, alg));
  return unwrap(VerificationKey::from_public_pem(m.public_pem, alg));
}

inline std::string b64(std::string_view bytes) {
  return base64url_encode(bytes);
}

// header.payload.signature with no checks on the header: signs exactly these bytes.
inline std::string raw_token(std::string_view header_json, std::string_view payload_json,
                             const SigningKey& key) {
  std::string input = b64(header_json) + "." + b64(payload_json);
  return input + "." + b64(unwrap(key.sign(input)));
}

// 2023-11-14T22:13:20Z: the tests' clock.
inline constexpr int64_t kNow = 1'700'000'000;
inline std::chrono::system_clock::time_point now_plus(int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(kNow + seconds));
}

}  // namespace testing_support
}  // namespace bulwark::auth
