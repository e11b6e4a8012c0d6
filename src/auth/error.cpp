#include "auth/error.hpp"

namespace bulwark::auth {

std::string_view reason_name(AuthFailure reason) {
  switch (reason) {
    case AuthFailure::malformed:
      return "malformed";
    case AuthFailure::token_too_large:
      return "token_too_large";
    case AuthFailure::encrypted_token:
      return "encrypted_token";
    case AuthFailure::unsupported_alg:
      return "unsupported_alg";
    case AuthFailure::unsupported_crit:
      return "unsupported_crit";
    case AuthFailure::alg_mismatch:
      return "alg_mismatch";
    case AuthFailure::unknown_key:
      return "unknown_key";
    case AuthFailure::bad_signature:
      return "bad_signature";
    case AuthFailure::invalid_claim:
      return "invalid_claim";
    case AuthFailure::missing_claim:
      return "missing_claim";
    case AuthFailure::expired:
      return "expired";
    case AuthFailure::not_yet_valid:
      return "not_yet_valid";
    case AuthFailure::issued_in_future:
      return "issued_in_future";
    case AuthFailure::issuer_mismatch:
      return "issuer_mismatch";
    case AuthFailure::audience_mismatch:
      return "audience_mismatch";
    case AuthFailure::lifetime_too_long:
      return "lifetime_too_long";
    case AuthFailure::invalid_key:
      return "invalid_key";
    case AuthFailure::crypto_error:
      return "crypto_error";
    case AuthFailure::revoked:
      return "revoked";
  }
  return "unknown";
}

}  // namespace bulwark::auth
