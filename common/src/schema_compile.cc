// Compiling schemas/ into nodes and code lists: the subset of JSON Schema draft 7 the files
// use, each keyword checked as it is read, and SchemaSet::Load over the whole layout.
#include <algorithm>
#include <charconv>

#include "schema.h"

namespace careledger::schema {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

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
    element ref;
    if (obj["$ref"].get(ref) == simdjson::SUCCESS) return CompileRef(ref, obj, file, where, node);
    for (auto [key, value] : obj) {
      std::string at = where.empty() ? std::string(key) : where + "/" + std::string(key);
      CARELEDGER_RETURN_IF_ERROR(CompileKeyword(key, value, obj, file, at, file_root, node));
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

  // `node` becomes a copy of the referenced file's root, with this place's description.
  Result<const Node*> CompileRef(element ref, object obj, const std::string& file,
                                 const std::string& where, Node& node) {
    // $ref: draft 7 ignores every sibling keyword, so a sibling that constrains would be a
    // rule that silently does not apply; only annotations may sit beside it.
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

  // One keyword of a schema object (not $ref) into `node`; `at` is where it stands.
  Status CompileKeyword(std::string_view key, element value, object obj, const std::string& file,
                        const std::string& at, bool file_root, Node& node) {
    if (key == "description") {
      node.description = ScalarText(value);
    } else if (IsAnnotation(key)) {
      return Status::Ok();
    } else if (key == "type") {
      return CompileType(value, file, at, node);
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
      return CompileProperties(value, file, at, node);
    } else if (key == "additionalProperties") {
      // Unknown fields are kept but ignored (spec/events.md); anything stricter would need
      // code that is not here.
      bool b = false;
      if (value.get_bool().get(b) || !b) return Error(file, at, "only `true` is supported");
    } else if (key == "oneOf") {
      if (!file_root) return Error(file, at, "oneOf is supported only as a code list's root");
      return CompileCodeList(value, obj, file, at, node);
    } else if (key == "anyOf") {
      return CompileAnyOf(value, file, at, node);
    } else {
      return Error(file, at, "unsupported keyword '" + std::string(key) + "'");
    }
    return Status::Ok();
  }

  Status CompileProperties(element value, const std::string& file, const std::string& at,
                           Node& node) {
    object props;
    if (value.get_object().get(props)) return Error(file, at, "must be an object");
    for (auto [name, sub] : props) {
      object sub_obj;
      if (sub.get_object().get(sub_obj)) return Error(file, at, "each must be a schema");
      auto child = Compile(sub_obj, file, at + "/" + std::string(name), false);
      if (!child.ok()) return child.status();
      node.properties[PropertyIndex(node, name)].node = *child;
    }
    return Status::Ok();
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

}  // namespace careledger::schema
