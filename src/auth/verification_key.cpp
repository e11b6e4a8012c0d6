#include "auth/verification_key.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/ecdsa_signature.hpp"
#include "auth/key_requirements.hpp"
#include "auth/openssl_handles.hpp"

namespace bulwark::auth {

struct VerificationKey::State {
  Algorithm alg{};
  std::optional<std::string> kid;
  ossl::PkeyPtr public_key;        // RSA, EC or Ed25519
  ossl::MdCtxPtr verify_template;  // digest, padding and key set up once; copied per call
  std::string secret;              // HMAC secret bytes, wiped on destruction
  ossl::MacCtxPtr hmac;            // keyed with `secret` once; duplicated per verification

  ~State() { OPENSSL_cleanse(secret.data(), secret.size()); }
};

namespace {

AuthError crypto_failure(const char* what) {
  return auth_error(AuthFailure::crypto_error, ossl::take_error(what));
}

AuthError bad_signature(std::string detail) {
  return auth_error(AuthFailure::bad_signature, std::move(detail));
}

Result<void> verify_hmac(const EVP_MAC_CTX* keyed, std::string_view input,
                         std::string_view signature) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  ossl::MacCtxPtr ctx(EVP_MAC_CTX_dup(keyed));
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac, &length, sizeof mac) != 1) {
    return crypto_failure("HMAC computation failed");
  }
  // The length is public (the hash size); only the bytes are compared in constant time.
  if (signature.size() != length || CRYPTO_memcmp(mac, signature.data(), length) != 0) {
    return bad_signature("HMAC does not match");
  }
  return {};
}

// The signature as OpenSSL wants it, after the shape checks JWA asks for.
Result<void> check_signature_shape(Algorithm alg, const EVP_PKEY* key, std::string_view signature,
                                   std::string& der) {
  switch (algorithm_family(alg)) {
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss: {
      const auto modulus_bytes = static_cast<std::size_t>(EVP_PKEY_get_size(key));
      if (signature.size() != modulus_bytes) {
        return bad_signature("RSA signature must be " + std::to_string(modulus_bytes) +
                             " bytes (the modulus size), got " + std::to_string(signature.size()));
      }
      return {};
    }
    case AlgorithmFamily::ecdsa: {
      // RFC 7518 §3.4: R||S of exactly twice the field size. A DER signature (what OpenSSL
      // and many libraries emit natively) is refused, not guessed at.
      const std::size_t expected = ecdsa_signature_bytes(alg);
      if (signature.size() != expected) {
        return bad_signature(std::string(algorithm_name(alg)) + " signature must be " +
                             std::to_string(expected) + " bytes of raw R||S, got " +
                             std::to_string(signature.size()) +
                             " (DER-encoded signatures are refused, RFC 7518 §3.4)");
      }
      if (!ecdsa_raw_to_der(signature, der)) return crypto_failure("ECDSA signature encoding");
      return {};
    }
    case AlgorithmFamily::eddsa:
      if (signature.size() != 64) {
        return bad_signature("Ed25519 signature must be 64 bytes, got " +
                             std::to_string(signature.size()));
      }
      return {};
    case AlgorithmFamily::hmac:
      break;
  }
  return {};
}

// A verification context with digest, padding and key already set: copying it per call
// skips OpenSSL's per-init algorithm lookups (about 2 us of a 17 us RSA-2048 verify).
Result<ossl::MdCtxPtr> make_verify_template(Algorithm alg, EVP_PKEY* key) {
  const AlgorithmFamily family = algorithm_family(alg);
  // EdDSA hashes internally: no digest, one-shot EVP_DigestVerify (RFC 8037 §3.1).
  const EVP_MD* md =
      family == AlgorithmFamily::eddsa ? nullptr : ossl::sha2_digest(hash_size_bytes(alg));
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1) {
    return crypto_failure("signature verification setup failed");
  }
  if (family == AlgorithmFamily::rsa_pss) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
      return crypto_failure("RSA-PSS setup failed");
    }
  } else if (family == AlgorithmFamily::rsa_pkcs1) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return crypto_failure("RSA PKCS#1 setup failed");
    }
  }
  return ctx;
}

Result<void> verify_with_public_key(Algorithm alg, const EVP_PKEY* key,
                                    const EVP_MD_CTX* verify_template, std::string_view input,
                                    std::string_view signature) {
  std::string der;
  if (auto shape = check_signature_shape(alg, key, signature, der); !shape) return shape;
  if (!der.empty()) signature = der;

  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), verify_template) != 1) {
    return crypto_failure("signature verification setup failed");
  }
  const int verdict = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(input.data()), input.size());
  if (verdict != 1) {
    // 0 is a wrong signature; negative is a signature OpenSSL could not even decode.
    ossl::clear_errors();
    return bad_signature("signature does not verify");
  }
  return {};
}

}  // namespace

VerificationKey::VerificationKey(std::unique_ptr<State> state) : state_(std::move(state)) {}
VerificationKey::VerificationKey(VerificationKey&&) noexcept = default;
VerificationKey& VerificationKey::operator=(VerificationKey&&) noexcept = default;
VerificationKey::~VerificationKey() = default;

Result<VerificationKey> VerificationKey::from_hmac_secret(std::string_view secret, Algorithm alg,
                                                          std::optional<std::string> kid) {
  if (auto fit = check_hmac_secret(secret, alg); !fit) return std::move(fit).error();
  auto state = std::make_unique<State>();
  state->alg = alg;
  state->kid = std::move(kid);
  state->secret.assign(secret);

  ossl::MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return crypto_failure("HMAC is not available");
  state->hmac.reset(EVP_MAC_CTX_new(mac.get()));  // holds its own reference to `mac`
  const EVP_MD* md = ossl::sha2_digest(hash_size_bytes(alg));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                             OSSL_MAC_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
                         OSSL_PARAM_construct_end()};
  if (!state->hmac ||
      EVP_MAC_init(state->hmac.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                   secret.size(), params) != 1) {
    return crypto_failure("HMAC key setup failed");
  }
  return VerificationKey(std::move(state));
}

Result<VerificationKey> VerificationKey::from_public_pem(std::string_view pem, Algorithm alg,
                                                         std::optional<std::string> kid) {
  if (pem.find("PRIVATE KEY") != std::string_view::npos) {
    return auth_error(AuthFailure::invalid_key,
                      "PEM holds a private key; configure the public key "
                      "(openssl pkey -in KEY -pubout)");
  }
  if (pem.size() > static_cast<std::size_t>(INT32_MAX)) {
    return auth_error(AuthFailure::invalid_key, "PEM is too large");
  }
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return crypto_failure("out of memory");
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, ossl::no_passphrase, nullptr);
  if (!key) {
    return auth_error(AuthFailure::invalid_key,
                      "not a PEM public key (expected -----BEGIN PUBLIC KEY-----): " +
                          ossl::take_error("no key found"));
  }
  ossl::clear_errors();  // OpenSSL's decoders may queue errors even when one succeeds
  return from_public_key(key, alg, std::move(kid));
}

Result<VerificationKey> VerificationKey::from_public_key(EVP_PKEY* public_key, Algorithm alg,
                                                         std::optional<std::string> kid) {
  ossl::PkeyPtr owned(public_key);
  if (!owned) return auth_error(AuthFailure::invalid_key, "no key");
  if (auto fit = check_key_fits(owned.get(), alg); !fit) return std::move(fit).error();
  auto verify_template = make_verify_template(alg, owned.get());
  if (!verify_template) return std::move(verify_template).error();
  auto state = std::make_unique<State>();
  state->alg = alg;
  state->kid = std::move(kid);
  state->public_key = std::move(owned);
  state->verify_template = std::move(verify_template).value();
  return VerificationKey(std::move(state));
}

Algorithm VerificationKey::algorithm() const noexcept {
  return state_->alg;
}

const std::optional<std::string>& VerificationKey::kid() const noexcept {
  return state_->kid;
}

bool VerificationKey::is_hmac() const noexcept {
  return state_->hmac != nullptr;
}

const EVP_PKEY* VerificationKey::public_key() const noexcept {
  return state_->public_key.get();
}

Result<void> VerificationKey::verify(std::string_view signing_input,
                                     std::string_view signature) const {
  if (state_->hmac) return verify_hmac(state_->hmac.get(), signing_input, signature);
  return verify_with_public_key(state_->alg, state_->public_key.get(),
                                state_->verify_template.get(), signing_input, signature);
}

}  // namespace bulwark::auth
