// schema.h — private to the events module: a compiler for exactly the subset of JSON Schema
// draft 7 that schemas/ uses (schema_compile.cc), and a validator that runs the compiled form
// over a simdjson DOM element that has already been parsed (schema_validate.cc). A keyword
// outside the subset is a load error, so the schemas can never say more than this code checks.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "careledger/common.h"
#include "careledger/events.h"

namespace careledger::schema {

enum TypeBit : uint8_t {
  kString = 1,
  kInteger = 2,
  kNumber = 4,  // any number, integers included
  kBoolean = 8,
  kObject = 16,
  kArray = 32,
  kNull = 64,
};

enum class Format : uint8_t { kNone, kDate, kDateTime, kDateOrDateTime };

// One entry of a code list file: {"const": ..., "title": ..., "x-...": ...}.
struct CodeEntry {
  std::string code;  // integer codes as decimal text
  std::string title;
  // The x- keywords, value as text: strings as written, booleans "true"/"false", numbers in
  // decimal. Metrics read tiers, groups and mappings from here.
  std::vector<std::pair<std::string, std::string>> extras;

  std::optional<std::string_view> Extra(std::string_view keyword) const;
};

// A code list file (schemas/codes/NAME.json): a schema whose root is `oneOf` of consts.
struct CodeList {
  std::string name;  // the file's stem, which is how errors and callers name the list
  std::string title, description;
  bool integer = false;
  std::vector<CodeEntry> entries;  // in file order
  std::vector<uint16_t> by_code;   // entry indexes sorted by code, for lookup
  // Codes of up to 7 bytes (nearly all) packed into an integer with their length, sorted:
  // the hot-path lookup is then integer compares, not memcmp.
  std::vector<std::pair<uint64_t, uint16_t>> packed;
  // Longer codes by a hash of their ends and length, sorted: one compare confirms a match.
  std::vector<std::pair<uint64_t, uint16_t>> hashed;

  const CodeEntry* Find(std::string_view code) const;
  const CodeEntry* Find(int64_t code) const;
  size_t IndexOf(const CodeEntry& entry) const { return size_t(&entry - entries.data()); }
};

struct Node;

struct Property {
  std::string name;
  const Node* node = nullptr;  // never null: a name only `required` mentions gets an any-node
};

// A code of up to 7 bytes as one integer (its bytes and its length); nullopt if longer.
std::optional<uint64_t> PackCode(std::string_view code);

// For codes of 8 bytes or more: their first and last 8 bytes and their length, mixed. Constant
// time; a collision only costs one more compare. Inline: CodeList::Find runs it per lookup, and
// the compiler (schema_compile.cc) indexes code lists by it.
inline uint64_t LongCodeHash(std::string_view code) {
  uint64_t first = 0, last = 0;
  std::memcpy(&first, code.data(), 8);
  std::memcpy(&last, code.data() + code.size() - 8, 8);
  uint64_t h = (first * 0x9e3779b97f4a7c15ull) ^ (last * 0xc2b2ae3d27d4eb4full) ^ code.size();
  return h ^ (h >> 29);
}

struct Node {
  uint8_t types = 0;  // TypeBit mask; 0 accepts any JSON type
  uint32_t min_length = 0;
  uint32_t max_length = UINT32_MAX;
  std::optional<double> minimum, maximum;
  Format format = Format::kNone;
  const CodeList* codes = nullptr;
  std::vector<Property> properties;  // at most 64, so that presence fits one word
  std::vector<uint8_t> required;     // indexes into properties
  // anyOf of `required`: at least one of these groups must be wholly present.
  std::vector<std::vector<uint8_t>> any_of_required;
  std::string description;

  int FindProperty(std::string_view name) const;
};

// A field's place in the document, for messages: "data.legal_status". Lives on the stack of
// the caller; the message is built only when there is an error.
struct Path {
  const Path* parent = nullptr;
  std::string_view name;
};
std::string PathName(const Path* path);

class SchemaSet {
 public:
  // Compiles envelope.schema.json, events/*.schema.json and codes/*.json (reference/ is data,
  // not schema, and is skipped). Errors name the file, the place in it, and the keyword.
  static Result<std::unique_ptr<SchemaSet>> Load(std::span<const ContractFile> files);

  const Node& envelope() const { return *envelope_; }
  // events/<type>.v<version>.schema.json, keyed by (type, version).
  const std::map<std::pair<std::string, int>, const Node*>& events() const { return events_; }
  const CodeList* Codes(std::string_view name) const;

 private:
  friend class Compiler;
  std::deque<Node> nodes_;
  std::deque<CodeList> codes_;
  const Node* envelope_ = nullptr;
  std::map<std::pair<std::string, int>, const Node*> events_;
};

// Checks `value` against `node`. BadInput "field 'PATH': RULE", never quoting the value.
Status Validate(simdjson::dom::element value, const Node& node, const Path* path);

}  // namespace careledger::schema
