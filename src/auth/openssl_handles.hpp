#pragma once
// Owning handles for the OpenSSL 3 objects the auth layer uses (EVP APIs only), and the
// one place that turns OpenSSL's thread-local error queue into text. Internal to src/auth/.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>

namespace bulwark::auth::ossl {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Deleter<EVP_MD_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// The most recent queued OpenSSL error as text (or `fallback`), and an emptied queue:
// a failure must not leave stale entries for the next call on this thread.
inline std::string take_error(const char* fallback) {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return fallback;
  char text[256];
  ERR_error_string_n(last, text, sizeof text);
  return text;
}

// A refused signature leaves entries in the queue too; drop them without formatting.
inline void clear_errors() {
  ERR_clear_error();
}

// PEM password callback that refuses: encrypted PEM is not supported, and OpenSSL's default
// callback would prompt on the terminal.
inline int no_passphrase(char*, int, int, void*) {
  return -1;
}

// SHA-256/384/512 by JWA hash size, fetched once per process.
inline const EVP_MD* sha2_digest(std::size_t hash_bytes) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  switch (hash_bytes) {
    case 32:
      return sha256;
    case 48:
      return sha384;
    case 64:
      return sha512;
    default:
      return nullptr;
  }
}

}  // namespace bulwark::auth::ossl
