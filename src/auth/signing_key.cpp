#include "auth/signing_key.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auth/base64url.hpp"
#include "auth/ecdsa_signature.hpp"
#include "auth/jws.hpp"
#include "auth/key_requirements.hpp"
#include "auth/openssl_handles.hpp"
#include "auth/strict_json.hpp"

namespace bulwark::auth {

struct SigningKey::State {
  Algorithm alg{};
  std::optional<std::string> kid;
  ossl::PkeyPtr private_key;  // RSA, EC or Ed25519
  std::string secret;         // HMAC secret bytes, wiped on destruction

  ~State() { OPENSSL_cleanse(secret.data(), secret.size()); }
};

namespace {

AuthError crypto_failure(const char* what) {
  return auth_error(AuthFailure::crypto_error, ossl::take_error(what));
}

Result<std::string> sign_hmac(Algorithm alg, const std::string& secret, std::string_view input) {
  const EVP_MD* md = ossl::sha2_digest(hash_size_bytes(alg));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                             OSSL_MAC_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
                         OSSL_PARAM_construct_end()};
  ossl::MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  ossl::MacCtxPtr ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  std::string out(EVP_MAX_MD_SIZE, '\0');
  std::size_t length = 0;
  if (!ctx ||
      EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                   params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length, out.size()) !=
          1) {
    return crypto_failure("HMAC computation failed");
  }
  out.resize(length);
  return out;
}

Result<std::string> sign_with_private_key(Algorithm alg, EVP_PKEY* key, std::string_view input) {
  const AlgorithmFamily family = algorithm_family(alg);
  const EVP_MD* md =
      family == AlgorithmFamily::eddsa ? nullptr : ossl::sha2_digest(hash_size_bytes(alg));
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) != 1) {
    return crypto_failure("signing setup failed");
  }
  if (family == AlgorithmFamily::rsa_pss &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)) {
    return crypto_failure("RSA-PSS setup failed");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) != 1) {
    return crypto_failure("signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     input.size()) != 1) {
    return crypto_failure("signing failed");
  }
  signature.resize(length);
  if (family != AlgorithmFamily::ecdsa) return signature;
  std::string raw;
  if (!ecdsa_der_to_raw(signature, ecdsa_signature_bytes(alg) / 2, raw)) {
    return crypto_failure("ECDSA signature conversion failed");
  }
  return raw;
}

}  // namespace

SigningKey::SigningKey(std::unique_ptr<State> state) : state_(std::move(state)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::from_hmac_secret(std::string_view secret, Algorithm alg,
                                                std::optional<std::string> kid) {
  if (auto fit = check_hmac_secret(secret, alg); !fit) return std::move(fit).error();
  auto state = std::make_unique<State>();
  state->alg = alg;
  state->kid = std::move(kid);
  state->secret.assign(secret);
  return SigningKey(std::move(state));
}

Result<SigningKey> SigningKey::from_private_pem(std::string_view pem, Algorithm alg,
                                                std::optional<std::string> kid) {
  if (pem.size() > static_cast<std::size_t>(INT32_MAX)) {
    return auth_error(AuthFailure::invalid_key, "PEM is too large");
  }
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return crypto_failure("out of memory");
  ossl::PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, ossl::no_passphrase, nullptr));
  if (!key) {
    return auth_error(AuthFailure::invalid_key,
                      "not an unencrypted PEM private key: " + ossl::take_error("no key found"));
  }
  ossl::clear_errors();  // OpenSSL's decoders may queue errors even when one succeeds
  if (auto fit = check_key_fits(key.get(), alg); !fit) return std::move(fit).error();
  auto state = std::make_unique<State>();
  state->alg = alg;
  state->kid = std::move(kid);
  state->private_key = std::move(key);
  return SigningKey(std::move(state));
}

Algorithm SigningKey::algorithm() const noexcept {
  return state_->alg;
}

const std::optional<std::string>& SigningKey::kid() const noexcept {
  return state_->kid;
}

Result<std::string> SigningKey::sign(std::string_view signing_input) const {
  if (!state_->private_key) return sign_hmac(state_->alg, state_->secret, signing_input);
  return sign_with_private_key(state_->alg, state_->private_key.get(), signing_input);
}

Result<VerificationKey> SigningKey::verification_key() const {
  if (!state_->private_key) {
    return VerificationKey::from_hmac_secret(state_->secret, state_->alg, state_->kid);
  }
  // Round trip through SubjectPublicKeyInfo DER: a key object without the private part.
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(state_->private_key.get(), &der);
  if (length <= 0) return crypto_failure("public key export failed");
  const unsigned char* in = der;
  EVP_PKEY* public_key = d2i_PUBKEY(nullptr, &in, length);
  OPENSSL_free(der);
  if (!public_key) return crypto_failure("public key import failed");
  return VerificationKey::from_public_key(public_key, state_->alg, state_->kid);
}

Result<std::string> sign_compact(std::string_view header_json, std::string_view payload_json,
                                 const SigningKey& key) {
  auto header = parse_jws_header(header_json);
  if (!header) return std::move(header).error();
  if (header->alg != key.algorithm()) {
    return auth_error(AuthFailure::alg_mismatch, "header alg " +
                                                     std::string(algorithm_name(header->alg)) +
                                                     " does not match the key's " +
                                                     std::string(algorithm_name(key.algorithm())));
  }
  std::string why;
  if (!parse_strict_json_object(payload_json, &why)) {
    return auth_error(AuthFailure::malformed, "payload is not a valid JSON object: " + why);
  }
  std::string token;
  token.reserve((header_json.size() + payload_json.size()) * 4 / 3 + 200);
  base64url_encode_append(header_json, token);
  token.push_back('.');
  base64url_encode_append(payload_json, token);
  auto signature = key.sign(token);
  if (!signature) return std::move(signature).error();
  token.push_back('.');
  base64url_encode_append(*signature, token);
  return token;
}

}  // namespace bulwark::auth
