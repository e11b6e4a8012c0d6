#include "cli/keys_command.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "auth/algorithm.hpp"
#include "auth/base64url.hpp"
#include "auth/jwk.hpp"
#include "auth/signing_key.hpp"
#include "auth/verification_key.hpp"
#include "cli/support.hpp"

namespace bulwark::cli {

namespace {

using auth::Algorithm;
using auth::AlgorithmFamily;

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// RSA sizes grow with the hash so the key is not the weak link.
std::size_t rsa_bits(Algorithm alg) {
  switch (auth::hash_size_bytes(alg)) {
    case 48:
      return 3072;
    case 64:
      return 4096;
    default:
      return 2048;
  }
}

PkeyPtr generate_key(Algorithm alg) {
  switch (auth::algorithm_family(alg)) {
    case AlgorithmFamily::rsa_pkcs1:
    case AlgorithmFamily::rsa_pss:
      return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", rsa_bits(alg)));
    case AlgorithmFamily::ecdsa: {
      const char* curve = alg == Algorithm::ES256   ? "P-256"
                          : alg == Algorithm::ES384 ? "P-384"
                                                    : "P-521";
      return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
    }
    case AlgorithmFamily::eddsa:
      return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case AlgorithmFamily::hmac:
      break;
  }
  return nullptr;
}

std::optional<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) return std::nullopt;
  return std::string(data, static_cast<std::size_t>(size));
}

std::optional<std::string> private_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return std::nullopt;
  }
  return bio_text(bio.get());
}

std::optional<std::string> public_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return std::nullopt;
  return bio_text(bio.get());
}

int fail(const std::string& message) {
  std::cerr << "bulwark keys generate: " << message << "\n";
  return 1;
}

// Every file is checked before the first is written, so a refusal leaves nothing half-done.
bool refuse_existing(const std::vector<std::string>& paths) {
  bool refused = false;
  for (const auto& path : paths) {
    std::error_code ec;
    if (std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found) {
      std::cerr << "bulwark keys generate: " << path
                << " already exists: refusing to overwrite it (move it away or choose another "
                   "--out)\n";
      refused = true;
    }
  }
  return refused;
}

int generate_secret(Algorithm alg, const std::string& dir) {
  const std::string path = dir + "/secret";
  if (refuse_existing({path})) return 1;
  const std::size_t size = auth::hash_size_bytes(alg);
  const auto bytes = random_bytes(size);
  if (!bytes) return fail("the random number generator failed");
  std::string why;
  if (!write_new_file(path, auth::base64url_encode(*bytes), 0600, why)) return fail(why);
  const std::string name(auth::algorithm_name(alg));
  std::cout << "wrote " << path << " (" << name << " secret: " << size
            << " random bytes as base64url text, mode 0600)\n"
            << "use it through an environment variable; its text, as is, is the HMAC key:\n"
            << "  export BULWARK_SECRET=\"$(cat " << path << ")\"\n"
            << "  bulwark token sign --secret-env BULWARK_SECRET --alg " << name
            << " --iss ISSUER --sub SUBJECT --ttl 10m\n"
            << "  bulwark token verify TOKEN --secret-env BULWARK_SECRET --alg " << name << "\n";
  return 0;
}

int generate_key_pair(Algorithm alg, const std::string& dir, const std::string& kid) {
  const std::string private_path = dir + "/private.pem";
  const std::string public_path = dir + "/public.pem";
  const std::string jwks_path = dir + "/jwks.json";
  if (refuse_existing({private_path, public_path, jwks_path})) return 1;

  PkeyPtr key = generate_key(alg);
  if (!key) return fail("OpenSSL could not generate the key");
  const auto private_text = private_pem(key.get());
  const auto public_text = public_pem(key.get());
  if (!private_text || !public_text) return fail("OpenSSL could not write the key as PEM");

  // Round-trip through the auth kernel: the files are exactly what bulwark accepts.
  auto signing = auth::SigningKey::from_private_pem(*private_text, alg, kid);
  if (!signing) return fail("the generated private key was refused: " + signing.error().detail);
  auto verification = auth::VerificationKey::from_public_pem(*public_text, alg, kid);
  if (!verification) {
    return fail("the generated public key was refused: " + verification.error().detail);
  }
  const auto jwk = auth::public_jwk(*verification);
  if (!jwk) return fail("the generated public key has no JWK form");
  boost::json::object jwks;
  jwks["keys"] = boost::json::array{boost::json::value(*jwk)};
  const std::string jwks_text = pretty_json(jwks) + "\n";

  std::string why;
  if (!write_new_file(private_path, *private_text, 0600, why)) return fail(why);
  if (!write_new_file(public_path, *public_text, 0644, why)) return fail(why);
  if (!write_new_file(jwks_path, jwks_text, 0644, why)) return fail(why);

  const std::string name(auth::algorithm_name(alg));
  std::cout << "wrote " << private_path << " (" << name << " private key, PKCS#8 PEM, mode 0600)\n"
            << "wrote " << public_path << " (public key, PEM)\n"
            << "wrote " << jwks_path << " (JWKS: kid \"" << kid << "\", alg " << name
            << ", use sig)\n"
            << "sign:   bulwark token sign --key " << private_path << " --alg " << name << " --kid "
            << kid << " --iss ISSUER --sub SUBJECT --ttl 10m\n"
            << "verify: bulwark token verify TOKEN --jwks " << jwks_path << "\n";
  return 0;
}

}  // namespace

void add_keys_command(CLI::App& app, KeysCommand& command) {
  command.keys = app.add_subcommand("keys", "Generate signing keys and secrets");
  command.keys->require_subcommand(1);
  command.generate = command.keys->add_subcommand(
      "generate",
      "Write a new key into a directory: for RS*/PS*/ES*/EdDSA private.pem (mode 0600), "
      "public.pem and jwks.json; for HS* a random secret (mode 0600, base64url text whose "
      "bytes, as is, are the HMAC key). Never overwrites a file.");
  command.generate
      ->add_option("--alg", command.alg,
                   "HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 "
                   "EdDSA")
      ->required();
  command.generate->add_option("--out", command.out_dir, "Directory (created when missing)")
      ->required();
  command.generate->add_option("--kid", command.kid,
                               "Key id in jwks.json (default: a short random id)");
}

int run_keys_command(const KeysCommand& command) {
  if (!command.generate || !*command.generate) return fail("give a subcommand: keys generate");
  const auto alg = auth::algorithm_from_name(command.alg);
  if (!alg) {
    return fail("unknown --alg '" + command.alg +
                "' (HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 "
                "EdDSA)");
  }
  std::error_code ec;
  std::filesystem::create_directories(command.out_dir, ec);
  if (ec) return fail("cannot create " + command.out_dir + ": " + ec.message());

  if (auth::algorithm_family(*alg) == AlgorithmFamily::hmac) {
    if (!command.kid.empty()) std::cerr << "note: --kid is not stored with an HMAC secret\n";
    return generate_secret(*alg, command.out_dir);
  }
  std::string kid = command.kid;
  if (kid.empty()) {
    const auto bytes = random_bytes(6);
    if (!bytes) return fail("the random number generator failed");
    kid = auth::base64url_encode(*bytes);
  }
  return generate_key_pair(*alg, command.out_dir, kid);
}

}  // namespace bulwark::cli
