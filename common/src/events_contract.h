// events_contract.h — private to the events module: the contract compiled from schemas/
// (events.cc builds it), which the envelope parser (events_parse.cc) and the code-list lookups
// (events_codes.cc) read.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "careledger/common.h"
#include "careledger/events.h"
#include "schema.h"

namespace careledger::events_detail {

// EventType's values, as events.cc's kTypes lists them.
inline constexpr size_t kEventTypeCount = 19;

// EventData's fields by the names the schemas give them. Extraction fills a field only when
// the type's schema declares it, so nothing unvalidated reaches the projections.
using Slot = std::variant<std::string EventData::*, std::optional<bool> EventData::*,
                          std::optional<int> EventData::*, std::optional<Date> EventData::*,
                          std::optional<Timestamp> EventData::*>;
struct SlotRow {
  std::string_view name;
  Slot slot;
};
// Defined in events.cc, beside the types and upcasters.
extern const SlotRow kSlots[];

// Upcasters: (type, from_version) -> what turns that version's EventData into the next
// version's. Reading an old event runs the chain up to the type's current version.
struct Upcaster {
  EventType type;
  int from_version;
  void (*apply)(EventData&);
};
// The upcaster from `from_version` of `type` to the next version; null when there is none.
const Upcaster* FindUpcaster(EventType type, int from_version);

// A type's schema at one version, with each declared property's EventData field.
struct DataPlan {
  const schema::Node* node = nullptr;
  std::vector<int8_t> slot;  // per property of `node`: index into kSlots, or -1
};

struct TypePlan {
  std::vector<DataPlan> versions;  // [0] is version 1
};

// The compiled contract: immutable once built, shared by every parser in the process.
struct Contract {
  Status status;
  std::unique_ptr<schema::SchemaSet> schemas;
  std::array<TypePlan, kEventTypeCount> types;
  const schema::CodeList* event_types = nullptr;
  std::vector<EventType> type_of_entry;  // per entry of codes/event_type.json
  const schema::CodeList* legal_status = nullptr;
  // The CLA fold asks for every spell; a two-entry list beats a code-list lookup.
  std::vector<uint64_t> short_breaks;  // schema::PackCode of each
  const schema::CodeList* disposal = nullptr;
  const schema::CodeList* ethnicity = nullptr;
  const schema::CodeList* home_office_outcome = nullptr;
};

// Built from the embedded files on first use; its status says whether they compiled.
const Contract& BuiltInContract();

}  // namespace careledger::events_detail

namespace careledger {
using namespace events_detail;  // NOLINT(google-build-using-namespace): the events module's own
}  // namespace careledger
