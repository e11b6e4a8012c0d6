#pragma once
// JWS carries an ECDSA signature as R||S, each big-endian and left-padded to the curve's
// field size (RFC 7518 §3.4); OpenSSL's EVP interface speaks DER (ECDSA-Sig-Value,
// RFC 3279 §2.2.3). Internal to src/auth/.

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark::auth {

// `raw` is R||S of even length; false only when OpenSSL cannot allocate.
bool ecdsa_raw_to_der(std::string_view raw, std::string& der);

// False when `der` is not one DER signature or R or S does not fit `field_bytes`.
bool ecdsa_der_to_raw(std::string_view der, std::size_t field_bytes, std::string& raw);

}  // namespace bulwark::auth
