#include "auth/ecdsa_signature.hpp"

#include "auth/openssl_handles.hpp"

namespace bulwark::auth {

bool ecdsa_raw_to_der(std::string_view raw, std::string& der) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  const int half = static_cast<int>(raw.size() / 2);
  ossl::BignumPtr r(BN_bin2bn(bytes, half, nullptr));
  ossl::BignumPtr s(BN_bin2bn(bytes + half, half, nullptr));
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
  r.release();  // owned by sig now
  s.release();
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return false;
  der.resize(static_cast<std::size_t>(length));
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  return i2d_ECDSA_SIG(sig.get(), &out) == length;
}

bool ecdsa_der_to_raw(std::string_view der, std::size_t field_bytes, std::string& raw) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size())));
  if (!sig || in != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return false;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  raw.resize(2 * field_bytes);
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  const int width = static_cast<int>(field_bytes);
  return BN_bn2binpad(r, out, width) == width && BN_bn2binpad(s, out + field_bytes, width) == width;
}

}  // namespace bulwark::auth
