// Validating a parsed document against a compiled node: types, lengths, ranges, formats,
// code lists and required fields, with messages that name the field and never its value.
#include <cmath>

#include "schema.h"

namespace careledger::schema {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

namespace {

Status FieldError(const Path* path, std::string_view rule) {
  std::string msg = "field '";
  msg += PathName(path);
  msg += "': ";
  msg += rule;
  return Status::BadInput(std::move(msg));
}

const char* TypeRule(uint8_t types) {
  switch (types) {
    case kString:
      return "must be a string";
    case kInteger:
      return "must be an integer";
    case kNumber:
    case kNumber | kInteger:
      return "must be a number";
    case kBoolean:
      return "must be a boolean";
    case kObject:
      return "must be an object";
    case kArray:
      return "must be an array";
    case kNull:
      return "must be null";
    default:
      return "has the wrong JSON type";
  }
}

uint8_t TypeOf(element_type t) {
  switch (t) {
    case element_type::STRING:
      return kString;
    case element_type::INT64:
    case element_type::UINT64:
      return kInteger | kNumber;
    case element_type::DOUBLE:
      return kNumber;
    case element_type::BOOL:
      return kBoolean;
    case element_type::OBJECT:
      return kObject;
    case element_type::ARRAY:
      return kArray;
    default:
      return kNull;
  }
}

// Code points, as JSON Schema counts length; simdjson has already checked the UTF-8.
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Range(std::string_view what, double lo, double hi, bool has_lo, bool has_hi) {
  auto num = [](double d) {
    return d == std::floor(d) && std::abs(d) < 1e15 ? std::to_string(int64_t(d))
                                                    : std::to_string(d);
  };
  std::string s(what);
  if (has_lo && has_hi) return s + " must be " + num(lo) + "–" + num(hi);
  if (has_lo) return s + " must be at least " + num(lo);
  return s + " must be at most " + num(hi);
}

Status CheckString(std::string_view s, const Node& node, const Path* path) {
  // Code points never exceed bytes, so only a string near a limit needs counting.
  bool fits = s.size() <= node.max_length && s.size() >= node.min_length && node.min_length <= 1;
  if (!fits) {
    size_t n = CodePoints(s);
    if (n < node.min_length || n > node.max_length) {
      return FieldError(path, Range("length", node.min_length, node.max_length, true,
                                    node.max_length != UINT32_MAX));
    }
  }
  if (node.format != Format::kNone) {
    // RFC 3339 lets applications use a space for the T; JSON Schema's date-time does not.
    if (s.size() > 10 && s[10] != 'T' && s[10] != 't') {
      return FieldError(path, "not an RFC 3339 date-time");
    }
    auto ts = ParseTimestamp(s);
    if (!ts.ok()) return FieldError(path, ts.status().message());
    if (node.format == Format::kDateTime && !ts->has_time) {
      return FieldError(path, "must be a date-time, not a date");
    }
    if (node.format == Format::kDate && ts->has_time) {
      return FieldError(path, "must be a date, not a date-time");
    }
  }
  if (node.codes && !node.codes->Find(s)) {
    return FieldError(path, "not in code list " + node.codes->name);
  }
  return Status::Ok();
}

Status CheckObject(object obj, const Node& node, const Path* path) {
  uint64_t seen = 0;
  for (auto [key, value] : obj) {
    int i = node.FindProperty(key);
    if (i < 0) continue;  // unknown fields are kept but ignored
    seen |= uint64_t{1} << i;
    Path child{path, key};
    CARELEDGER_RETURN_IF_ERROR(Validate(value, *node.properties[size_t(i)].node, &child));
  }
  for (uint8_t i : node.required) {
    if (!(seen & (uint64_t{1} << i))) {
      Path child{path, node.properties[i].name};
      return FieldError(&child, "required");
    }
  }
  if (!node.any_of_required.empty()) {
    for (const auto& group : node.any_of_required) {
      bool all = true;
      for (uint8_t i : group) all = all && (seen & (uint64_t{1} << i));
      if (all) return Status::Ok();
    }
    std::string rule = "needs ";
    for (size_t g = 0; g < node.any_of_required.size(); ++g) {
      if (g) rule += g + 1 == node.any_of_required.size() ? " or " : ", ";
      for (size_t k = 0; k < node.any_of_required[g].size(); ++k) {
        if (k) rule += " and ";
        rule += node.properties[node.any_of_required[g][k]].name;
      }
    }
    return FieldError(path, rule);
  }
  return Status::Ok();
}

}  // namespace

Status Validate(element value, const Node& node, const Path* path) {
  const element_type et = value.type();
  if (node.types && !(node.types & TypeOf(et))) return FieldError(path, TypeRule(node.types));
  switch (et) {
    case element_type::STRING:
      return CheckString(std::string_view(value.get_string()), node, path);
    case element_type::OBJECT:
      return CheckObject(object(value.get_object()), node, path);
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: {
      double d = double(value.get_double());  // simdjson converts integers
      if ((node.minimum && d < *node.minimum) || (node.maximum && d > *node.maximum)) {
        return FieldError(path, Range("value", node.minimum.value_or(0), node.maximum.value_or(0),
                                      node.minimum.has_value(), node.maximum.has_value()));
      }
      if (node.codes) {
        int64_t i = 0;
        if (value.get_int64().get(i) || !node.codes->Find(i)) {
          return FieldError(path, "not in code list " + node.codes->name);
        }
      }
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace careledger::schema
