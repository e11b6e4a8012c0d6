#include "auth/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace bulwark::auth {
namespace {

namespace json = boost::json;

// Builds the value like Boost.JSON's own parser handler, and counts member names. Building
// an object keeps the last of duplicate names (boost/json/impl/object.ipp), so the built
// tree holds fewer members than were read exactly when some name was repeated: no name is
// stored or compared twice here.
class MemberCountingHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  MemberCountingHandler(unsigned char* temp, std::size_t temp_size) : stack({}, temp, temp_size) {}

  json::value_stack stack;
  std::size_t members_read = 0;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    stack.push_key(s);
    ++members_read;
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// Members held by the built tree (depth is bounded by the parser's max_depth).
std::size_t members_held(const json::value& value) {
  std::size_t count = 0;
  if (const auto* object = value.if_object()) {
    count += object->size();
    for (const auto& member : *object) count += members_held(member.value());
  } else if (const auto* array = value.if_array()) {
    for (const auto& item : *array) count += members_held(item);
  }
  return count;
}

}  // namespace

std::optional<boost::json::object> parse_strict_json_object(std::string_view text, std::string* why,
                                                            json::storage_ptr storage) {
  auto fail = [&](const char* reason) -> std::optional<boost::json::object> {
    if (why) *why = reason;
    return std::nullopt;
  };
  // Scratch space for the value stack: token headers and claims fit without a heap trip.
  unsigned char temp[2048];
  // Default options: standard JSON only (no comments, no trailing commas, valid UTF-8),
  // nesting depth at most 32.
  json::basic_parser<MemberCountingHandler> parser{json::parse_options{}, temp, sizeof temp};
  parser.handler().stack.reset(std::move(storage));
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return fail("not valid JSON");
  if (used != text.size()) return fail("data after the JSON value");
  json::value value = parser.handler().stack.release();
  if (!value.is_object()) return fail("not a JSON object");
  if (members_held(value) != parser.handler().members_read) {
    return fail("duplicate member name");
  }
  return std::move(value.as_object());
}

}  // namespace bulwark::auth
