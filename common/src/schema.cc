#include "schema.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace careledger::schema {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

std::optional<std::string_view> CodeEntry::Extra(std::string_view keyword) const {
  for (const auto& [k, v] : extras) {
    if (k == keyword) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<uint64_t> PackCode(std::string_view code) {
  if (code.size() > 7) return std::nullopt;
  // A loop, not a variable-length memcpy, which would be a library call per lookup.
  uint64_t v = uint64_t(code.size()) << 56;
  for (size_t i = 0; i < code.size(); ++i) v |= uint64_t(uint8_t(code[i])) << (8 * i);
  return v;
}

namespace {
// For codes of 8 bytes or more: their first and last 8 bytes and their length, mixed. Constant
// time; a collision only costs one more compare.
uint64_t LongCodeHash(std::string_view code) {
  uint64_t first = 0, last = 0;
  std::memcpy(&first, code.data(), 8);
  std::memcpy(&last, code.data() + code.size() - 8, 8);
  uint64_t h = (first * 0x9e3779b97f4a7c15ull) ^ (last * 0xc2b2ae3d27d4eb4full) ^ code.size();
  return h ^ (h >> 29);
}
}  // namespace

const CodeEntry* CodeList::Find(std::string_view code) const {
  using Row = std::pair<uint64_t, uint16_t>;
  auto key = PackCode(code);
  const auto& table = key ? packed : hashed;
  const uint64_t k = key ? *key : LongCodeHash(code);
  auto it = std::lower_bound(table.begin(), table.end(), Row{k, 0});
  for (; it != table.end() && it->first == k; ++it) {
    if (key || entries[it->second].code == code) return &entries[it->second];
  }
  return nullptr;
}

const CodeEntry* CodeList::Find(int64_t code) const {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, code);
  if (ec != std::errc()) return nullptr;
  return Find(std::string_view(buf, size_t(end - buf)));
}

int Node::FindProperty(std::string_view name) const {
  for (size_t i = 0; i < properties.size(); ++i) {
    const std::string& p = properties[i].name;
    // Length and first byte rule out nearly every other name before a memcmp.
    if (p.size() == name.size() && !p.empty() && p[0] == name[0] &&
        std::memcmp(p.data(), name.data(), p.size()) == 0) {
      return int(i);
    }
  }
  return -1;
}

std::string PathName(const Path* path) {
  std::vector<std::string_view> parts;
  for (const Path* p = path; p; p = p->parent) parts.push_back(p->name);
  std::string out;
  std::reverse(parts.begin(), parts.end());  // root first
  for (std::string_view part : parts) {
    if (!out.empty()) out += '.';
    out += part;
  }
  return out;
}

const CodeList* SchemaSet::Codes(std::string_view name) const {
  for (const auto& c : codes_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// ---- Compiling ----------------------------------------------------------------------------

namespace {

bool IsAnnotation(std::string_view key) {
  return key == "$schema" || key == "title" || key == "description" || key == "$comment" ||
         key.starts_with("x-");
}

std::string Directory(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash + 1));
}

// "events/../codes/sex.json" -> "codes/sex.json". Only what relative $refs need.
std::string Normalise(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string Stem(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  return std::string(path.substr(0, path.find('.')));
}

std::string ScalarText(element v) {
  switch (v.type()) {
    case element_type::STRING:
      return std::string(std::string_view(v.get_string()));
    case element_type::BOOL:
      return bool(v.get_bool()) ? "true" : "false";
    case element_type::INT64:
      return std::to_string(int64_t(v.get_int64()));
    case element_type::UINT64:
      return std::to_string(uint64_t(v.get_uint64()));
    case element_type::DOUBLE: {
      std::string s = std::to_string(double(v.get_double()));
      return s;
    }
    default:
      return {};
  }
}

}  // namespace

class Compiler {
 public:
  explicit Compiler(SchemaSet& set) : set_(set) {}

  Status AddFile(const ContractFile& file) {
    auto& doc = docs_[std::string(file.path)];
    doc.text = simdjson::padded_string(file.text);
    if (auto err = doc.parser.parse(doc.text).get(doc.root)) {
      return Status::Fatal("schemas/" + std::string(file.path) +
                           ": not valid JSON: " + simdjson::error_message(err));
    }
    return Status::Ok();
  }

  Result<const Node*> CompileFile(const std::string& path) {
    if (auto it = compiled_.find(path); it != compiled_.end()) {
      if (!it->second) return Error(path, "", "$ref cycle");
      return it->second;
    }
    auto doc = docs_.find(path);
    if (doc == docs_.end()) return Status::Fatal("schemas/" + path + ": no such file");
    compiled_[path] = nullptr;
    object root;
    if (doc->second.root.get_object().get(root)) return Error(path, "", "not a JSON object");
    auto node = Compile(root, path, "", true);
    if (!node.ok()) return node.status();
    compiled_[path] = *node;
    return *node;
  }

  std::vector<std::string> Paths() const {
    std::vector<std::string> out;
    for (const auto& [p, d] : docs_) out.push_back(p);
    return out;
  }

 private:
  struct Doc {
    simdjson::padded_string text;
    simdjson::dom::parser parser;
    element root;
  };

  static Status Error(std::string_view file, std::string_view where, std::string_view what) {
    std::string msg = "schemas/";
    msg += file;
    msg += where.empty() ? std::string_view(" (root)") : std::string_view(" at ");
    msg += where;
    msg += ": ";
    msg += what;
    return Status::Fatal(std::move(msg));
  }

  static bool NonNegativeInt(element v, uint32_t& out) {
    int64_t i = 0;
    if (v.get_int64().get(i) || i < 0 || i > int64_t(UINT32_MAX)) return false;
    out = uint32_t(i);
    return true;
  }

  Result<const Node*> Compile(object obj, const std::string& file, const std::string& where,
                              bool file_root) {
    Node& node = set_.nodes_.emplace_back();
    // $ref: draft 7 ignores every sibling keyword, so a sibling that constrains would be a
    // rule that silently does not apply; only annotations may sit beside it.
    element ref;
    if (obj["$ref"].get(ref) == simdjson::SUCCESS) {
      std::string_view target;
      if (ref.get_string().get(target)) return Error(file, where, "$ref must be a string");
      for (auto [key, value] : obj) {
        if (key != "$ref" && !IsAnnotation(key)) {
          return Error(file, where,
                       "keyword '" + std::string(key) +
                           "' beside $ref is ignored "
                           "by draft 7; move it into the referenced schema");
        }
      }
      if (target.find('#') != std::string_view::npos) {
        return Error(file, where, "$ref may only name a whole file");
      }
      std::string resolved = Normalise(Directory(file) + std::string(target));
      auto referenced = CompileFile(resolved);
      if (!referenced.ok()) return referenced.status();
      node = **referenced;
      element description;
      if (obj["description"].get(description) == simdjson::SUCCESS) {
        node.description = ScalarText(description);
      }
      return &node;
    }

    for (auto [key, value] : obj) {
      std::string at = where.empty() ? std::string(key) : where + "/" + std::string(key);
      if (key == "description") {
        node.description = ScalarText(value);
      } else if (IsAnnotation(key)) {
        continue;
      } else if (key == "type") {
        CARELEDGER_RETURN_IF_ERROR(CompileType(value, file, at, node));
      } else if (key == "minLength" || key == "maxLength") {
        uint32_t n = 0;
        if (!NonNegativeInt(value, n)) return Error(file, at, "must be a non-negative integer");
        (key == "minLength" ? node.min_length : node.max_length) = n;
      } else if (key == "minimum" || key == "maximum") {
        double d = 0;
        if (value.get_double().get(d)) return Error(file, at, "must be a number");
        (key == "minimum" ? node.minimum : node.maximum) = d;
      } else if (key == "format") {
        std::string_view f;
        if (value.get_string().get(f)) return Error(file, at, "must be a string");
        node.format = FormatOf(f);
        if (node.format == Format::kNone) {
          return Error(file, at, "format '" + std::string(f) + "' is not supported");
        }
      } else if (key == "required") {
        simdjson::dom::array names;
        if (value.get_array().get(names)) return Error(file, at, "must be an array");
        for (element n : names) {
          std::string_view name;
          if (n.get_string().get(name)) return Error(file, at, "names must be strings");
          node.required.push_back(PropertyIndex(node, name));
        }
      } else if (key == "properties") {
        object props;
        if (value.get_object().get(props)) return Error(file, at, "must be an object");
        for (auto [name, sub] : props) {
          object sub_obj;
          if (sub.get_object().get(sub_obj)) return Error(file, at, "each must be a schema");
          auto child = Compile(sub_obj, file, at + "/" + std::string(name), false);
          if (!child.ok()) return child.status();
          node.properties[PropertyIndex(node, name)].node = *child;
        }
      } else if (key == "additionalProperties") {
        // Unknown fields are kept but ignored (spec/events.md); anything stricter would need
        // code that is not here.
        bool b = false;
        if (value.get_bool().get(b) || !b) return Error(file, at, "only `true` is supported");
      } else if (key == "oneOf") {
        if (!file_root) return Error(file, at, "oneOf is supported only as a code list's root");
        CARELEDGER_RETURN_IF_ERROR(CompileCodeList(value, obj, file, at, node));
      } else if (key == "anyOf") {
        CARELEDGER_RETURN_IF_ERROR(CompileAnyOf(value, file, at, node));
      } else {
        return Error(file, at, "unsupported keyword '" + std::string(key) + "'");
      }
    }
    if (node.properties.size() > 64) return Error(file, where, "more than 64 properties");
    if (node.codes && node.types != (node.codes->integer ? kInteger : kString)) {
      return Error(file, where, "a code list's type must be that of its consts");
    }
    // Requirements that name no declared property accept any value there.
    for (auto& p : node.properties) {
      if (!p.node) p.node = &set_.nodes_.emplace_back();
    }
    return &node;
  }

  static Format FormatOf(std::string_view f) {
    if (f == "date") return Format::kDate;
    if (f == "date-time") return Format::kDateTime;
    return Format::kNone;
  }

  static uint8_t PropertyIndex(Node& node, std::string_view name) {
    int i = node.FindProperty(name);
    if (i >= 0) return uint8_t(i);
    node.properties.push_back({std::string(name), nullptr});
    return uint8_t(node.properties.size() - 1);
  }

  Status CompileType(element value, const std::string& file, const std::string& at, Node& node) {
    auto bit = [](std::string_view t) -> uint8_t {
      if (t == "string") return kString;
      if (t == "integer") return kInteger;
      if (t == "number") return kNumber;
      if (t == "boolean") return kBoolean;
      if (t == "object") return kObject;
      if (t == "array") return kArray;
      if (t == "null") return kNull;
      return 0;
    };
    std::string_view one;
    simdjson::dom::array many;
    if (value.get_string().get(one) == simdjson::SUCCESS) {
      node.types = bit(one);
      if (!node.types) return Error(file, at, "unknown type '" + std::string(one) + "'");
    } else if (value.get_array().get(many) == simdjson::SUCCESS) {
      for (element t : many) {
        std::string_view name;
        uint8_t b = t.get_string().get(name) ? 0 : bit(name);
        if (!b) return Error(file, at, "unknown type");
        node.types |= b;
      }
    } else {
      return Error(file, at, "must be a string or an array");
    }
    return Status::Ok();
  }

  Status CompileCodeList(element value, object root, const std::string& file, const std::string& at,
                         Node& node) {
    simdjson::dom::array entries;
    if (value.get_array().get(entries)) return Error(file, at, "must be an array");
    CodeList& list = set_.codes_.emplace_back();
    list.name = Stem(file);
    element text;
    if (root["title"].get(text) == simdjson::SUCCESS) list.title = ScalarText(text);
    if (root["description"].get(text) == simdjson::SUCCESS) list.description = ScalarText(text);
    bool first = true;
    for (element e : entries) {
      object entry;
      if (e.get_object().get(entry)) return Error(file, at, "entries must be objects");
      CodeEntry& ce = list.entries.emplace_back();
      bool has_const = false;
      for (auto [key, v] : entry) {
        if (key == "const") {
          bool integer = v.type() == element_type::INT64 || v.type() == element_type::UINT64;
          if (!integer && v.type() != element_type::STRING) {
            return Error(file, at, "const must be a string or an integer");
          }
          if (!first && integer != list.integer) return Error(file, at, "consts of mixed types");
          list.integer = integer;
          first = false;
          ce.code = ScalarText(v);
          has_const = true;
        } else if (key == "title") {
          ce.title = ScalarText(v);
        } else if (key.starts_with("x-")) {
          ce.extras.emplace_back(std::string(key), ScalarText(v));
        } else if (key != "$comment" && key != "description") {
          return Error(
              file, at,
              "code entries support const, title and x- keywords, not '" + std::string(key) + "'");
        }
      }
      if (!has_const) return Error(file, at, "an entry has no const");
    }
    if (list.entries.size() > UINT16_MAX) return Error(file, at, "too many codes");
    for (size_t i = 0; i < list.entries.size(); ++i) list.by_code.push_back(uint16_t(i));
    std::sort(list.by_code.begin(), list.by_code.end(),
              [&](uint16_t a, uint16_t b) { return list.entries[a].code < list.entries[b].code; });
    for (size_t i = 0; i < list.entries.size(); ++i) {
      if (auto key = PackCode(list.entries[i].code)) {
        list.packed.emplace_back(*key, i);
      } else {
        list.hashed.emplace_back(LongCodeHash(list.entries[i].code), i);
      }
    }
    std::sort(list.packed.begin(), list.packed.end());
    std::sort(list.hashed.begin(), list.hashed.end());
    for (size_t i = 1; i < list.by_code.size(); ++i) {
      if (list.entries[list.by_code[i]].code == list.entries[list.by_code[i - 1]].code) {
        return Error(file, at, "duplicate code");
      }
    }
    node.codes = &list;
    return Status::Ok();
  }

  // Two shapes only: every branch is {"required": [...]} (at least one group present), or
  // every branch is {"format": ...} (a date or a date-time).
  Status CompileAnyOf(element value, const std::string& file, const std::string& at, Node& node) {
    simdjson::dom::array branches;
    if (value.get_array().get(branches)) return Error(file, at, "must be an array");
    bool formats = false, requireds = false;
    Format format = Format::kNone;
    for (element b : branches) {
      object branch;
      if (b.get_object().get(branch) || branch.size() != 1) {
        return Error(file, at, "each branch must hold exactly one of `required` or `format`");
      }
      auto [key, v] = *branch.begin();
      if (key == "required") {
        simdjson::dom::array names;
        if (v.get_array().get(names)) return Error(file, at, "required must be an array");
        std::vector<uint8_t> group;
        for (element n : names) {
          std::string_view name;
          if (n.get_string().get(name)) return Error(file, at, "names must be strings");
          group.push_back(PropertyIndex(node, name));
        }
        node.any_of_required.push_back(std::move(group));
        requireds = true;
      } else if (key == "format") {
        std::string_view f;
        Format one = v.get_string().get(f) ? Format::kNone : FormatOf(f);
        if (one == Format::kNone) return Error(file, at, "unsupported format");
        format = format == Format::kNone || format == one ? one : Format::kDateOrDateTime;
        formats = true;
      } else {
        return Error(file, at, "branches support only `required` or `format`");
      }
    }
    if (formats && requireds) return Error(file, at, "cannot mix `required` and `format`");
    if (formats) {
      if (node.format != Format::kNone) return Error(file, at, "format given twice");
      node.format = format;
    }
    return Status::Ok();
  }

  SchemaSet& set_;
  std::map<std::string, Doc> docs_;
  std::map<std::string, const Node*> compiled_;
};

Result<std::unique_ptr<SchemaSet>> SchemaSet::Load(std::span<const ContractFile> files) {
  auto set = std::make_unique<SchemaSet>();
  Compiler compiler(*set);
  for (const auto& f : files) {
    if (f.path.starts_with("reference/")) continue;
    CARELEDGER_RETURN_IF_ERROR(compiler.AddFile(f));
  }
  for (const auto& path : compiler.Paths()) {
    auto node = compiler.CompileFile(path);
    if (!node.ok()) return node.status();
    if (path == "envelope.schema.json") {
      set->envelope_ = *node;
    } else if (path.starts_with("events/")) {
      // events/<type>.v<N>.schema.json
      constexpr std::string_view kSuffix = ".schema.json";
      std::string_view name = std::string_view(path).substr(7);
      auto v = name.rfind(".v");
      int version = 0;
      if (!name.ends_with(kSuffix) || v == std::string_view::npos ||
          std::from_chars(name.data() + v + 2, name.data() + name.size() - kSuffix.size(), version)
                  .ptr != name.data() + name.size() - kSuffix.size() ||
          version < 1) {
        return Status::Fatal("schemas/" + path + ": name must be events/<type>.v<N>.schema.json");
      }
      set->events_[{std::string(name.substr(0, v)), version}] = *node;
    } else if (!path.starts_with("codes/")) {
      return Status::Fatal("schemas/" + path + ": not part of the layout (see schemas/README.md)");
    }
  }
  if (!set->envelope_) return Status::Fatal("schemas/envelope.schema.json: missing");
  return set;
}

// ---- Validating ---------------------------------------------------------------------------

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
