#pragma once
// What a route asks of a verified token beyond its validity (scopes, claim conditions), and
// how claims are handed to the upstream as header values. Pure functions on the claims set.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::auth {

// A claim by name ("sub") or by a dotted path into nested objects ("realm_access.roles").
// A name that itself holds a dot is found as a whole first ("https://example.com/roles").
struct ClaimPath {
  std::string text;                // as configured, for messages
  std::vector<std::string> parts;  // text split on '.'
};
ClaimPath claim_path(std::string_view text);
const boost::json::value* find_claim(const boost::json::object& claims, const ClaimPath& path);

struct ClaimRequirement {
  enum class Op { equals, contains };
  ClaimPath claim;
  Op op = Op::equals;
  std::string value;  // the configured scalar, as text
};

struct Requirements {
  std::vector<std::string> scopes;  // every one must be granted
  std::vector<ClaimRequirement> claims;
  bool empty() const { return scopes.empty() && claims.empty(); }
};

// The scopes the token grants: "scope" split on spaces (RFC 8693 §4.2, RFC 9068 §2.2.3),
// else "scp" (a string or an array of strings, as Azure AD and Okta send it).
bool grants_scope(const boost::json::object& claims, std::string_view scope);

// equals: a string claim equal to `value`; a number or boolean whose JSON text is `value`.
// contains: an array with an element that equals `value`, or a string whose space-separated
// words include it.
bool satisfies(const boost::json::object& claims, const ClaimRequirement& requirement);

struct Denial {
  std::string description;    // for error_description and the body; never a claim's value
  std::string missing_scope;  // the scopes the route requires, for the scope attribute
};

// nullopt when the claims meet every requirement.
std::optional<Denial> authorize(const boost::json::object& claims, const Requirements& required);

// The header value for a forwarded claim: strings as they are; numbers and booleans as JSON
// text; an array of strings joined with ", "; anything else as compact JSON. nullopt when the
// value would not be a safe field value (control characters, over 4 KiB) or is null.
std::optional<std::string> forwarded_claim_value(const boost::json::value& value);

}  // namespace bulwark::auth
