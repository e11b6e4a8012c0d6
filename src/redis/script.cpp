#include "redis/script.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace bulwark::redis {

Script make_script(std::string source) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(source.data(), source.size(), digest, &length, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("redis script: SHA-1 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return Script{.source = std::move(source), .sha1 = std::move(hex)};
}

}  // namespace bulwark::redis
