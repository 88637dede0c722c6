// The compiled schemas' lookups: a code list's entries by code, a node's properties by name,
// a field's path as messages name it.
#include "schema.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace careledger::schema {

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

}  // namespace careledger::schema
