#include "gateway/revocation_request.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "auth/strict_json.hpp"

namespace bulwark::gateway {
namespace {

// Boost.JSON writes the (valid UTF-8) values as they are; observe's log escaping would not.
void append_string(std::string& out, std::string_view value) {
  out += boost::json::serialize(boost::json::string_view(value.data(), value.size()));
}

RevokeReply bad_request(std::string_view detail) {
  RevokeReply reply{
      .status = 400, .body = "{\"error\":\"bad_request\",\"detail\":", .revocation = {}};
  append_string(reply.body, detail);
  reply.body += '}';
  return reply;
}

// Why the member is unacceptable, or empty.
std::string check_member(std::string_view key, const boost::json::value& value) {
  std::string problem = "field \"";
  problem += key;
  if (key != "jti" && key != "sub" && key != "iss") {
    return problem += "\" is unknown: use jti or sub, and iss";
  }
  if (!value.is_string()) return problem += "\" must be a string";
  const auto size = value.get_string().size();
  if (size == 0) return problem += "\" must not be empty";
  if (size > kMaxRevocationValueBytes) return problem += "\" is longer than 1024 bytes";
  return {};
}

// Reads the body into `out`; the error's text when it is not a revocation request.
std::string read_request(std::string_view body, auth::Revocation& out) {
  std::string why;
  auto object = auth::parse_strict_json_object(body, &why);
  if (!object) return "the body must be a JSON object: {\"jti\": \"...\"} (" + why + ")";
  for (const auto& member : *object) {
    if (auto problem = check_member(member.key(), member.value()); !problem.empty()) {
      return problem;
    }
  }
  const bool has_jti = object->contains("jti");
  if (has_jti == object->contains("sub")) return "give exactly one of \"jti\" and \"sub\"";
  out.kind = has_jti ? auth::Revocation::Kind::jti : auth::Revocation::Kind::subject;
  out.value = object->at(has_jti ? "jti" : "sub").get_string();
  if (const auto* iss = object->if_contains("iss")) out.issuer = iss->get_string();
  return {};
}

}  // namespace

std::string revocation_reply_body(const auth::Revocation& r) {
  std::string body = "{\"revoked\":{";
  body += r.kind == auth::Revocation::Kind::jti ? "\"jti\":" : "\"sub\":";
  append_string(body, r.value);
  if (!r.issuer.empty()) {
    body += ",\"iss\":";
    append_string(body, r.issuer);
  }
  body += "},\"until\":";
  body += std::to_string(r.expires_at_s);
  body += '}';
  return body;
}

RevokeReply parse_revocation(std::string_view body, int64_t now_s, int64_t lifetime_s) {
  auth::Revocation revocation;
  if (auto problem = read_request(body, revocation); !problem.empty()) return bad_request(problem);
  revocation.revoked_at_s = now_s;
  revocation.expires_at_s = now_s + lifetime_s;
  return {.status = 200, .body = revocation_reply_body(revocation), .revocation = revocation};
}

}  // namespace bulwark::gateway
