// careledger/events.h — the event contract in C++: event types, their topics, and the envelope
// parser that producers (before publishing) and consumers (before appending) both run, so the
// topic is never trusted and the two sides cannot disagree.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"

namespace careledger {

inline constexpr std::string_view kTopicSocialCare = "careledger.socialcare.v1";
inline constexpr std::string_view kTopicPolice = "careledger.police.v1";
inline constexpr std::string_view kTopicYjs = "careledger.yjs.v1";
inline constexpr std::string_view kTopicDeadLetter = "careledger.deadletter.v1";
inline constexpr std::string_view kSourceTopics[] = {kTopicSocialCare, kTopicPolice, kTopicYjs};

enum class EventType : uint8_t {
  kChildRegistered,
  kCarePeriodStarted,
  kCarePlacementChanged,
  kCareLegalStatusChanged,
  kCarePeriodEnded,
  kCareLeaverContactRecorded,
  kExploitationRiskAssessed,
  kPlacementPoliceCallout,
  kMissingReported,
  kMissingReturned,
  kMissingReturnInterview,
  kOffenceRecorded,
  kOutcomeRecorded,
  kArrestRecorded,
  kYjsCaseOpened,
  kYjsCaseClosed,
  kCourtOutcomeRecorded,
  kEventRetracted,
  kCourtRemandDecided,  // after the rest: a stored fact keeps its type's number
};

std::optional<EventType> EventTypeFromName(std::string_view name);
std::string_view EventTypeName(EventType type);
// The topic a type is published to (spec/events.md); event.retracted goes with social care
// unless the publisher is told otherwise, which is safe because the topics are co-partitioned.
std::string_view TopicFor(EventType type);

// What the projections read from `data`: the fields of every type, as the type's current schema
// version has them (older versions are upcast on read). Fields a type does not carry stay
// empty. Codes are kept as the source wrote them, after validation against schemas/codes/.
struct EventData {
  // child.registered
  std::optional<Date> dob;
  std::string sex, ethnicity;
  std::optional<int> prior_formal_outcomes;
  std::string responsible_la;
  // care.*; `reason` is also the call-out reason and the retraction reason
  std::string legal_status, placement, provider, home_id, reason;
  std::optional<bool> out_of_area;
  // care_leaver.contact_recorded, child.exploitation_risk_assessed
  std::string in_touch, activity, accommodation;
  std::string kind, level;
  // missing.*
  std::string episode_id, category, risk, from_home_id, reported_by;
  std::optional<bool> offered, accepted;
  std::optional<Timestamp> held_at;
  // offence.recorded, outcome.recorded, arrest.recorded, court.outcome_recorded
  std::string offence_id, offence_group, offence_type;
  std::optional<bool> knife_related, at_placement;
  std::optional<int> home_office_outcome;
  std::string disposal;
  std::optional<Timestamp> decided_at, arrested_at;
  // court.remand_decided (with offence_id, decided_at)
  std::string remanded_to;
  // yjs.case_opened, yjs.case_closed
  std::string case_id, intervention;
  // event.retracted
  std::string target_event_id;
};

struct Envelope {
  std::string event_id;
  EventType type = EventType::kChildRegistered;
  int schema_version = 0;  // as the source wrote it; `data` is always at the current version
  std::string source;
  std::string child_id;
  Timestamp occurred_at;
  Timestamp recorded_at;
  std::string supersedes;  // empty when absent
  std::string source_key;  // empty when absent: the record this event is a version of
  EventData data;
};

inline constexpr size_t kMaxEnvelopeBytes = 1 << 20;  // checked before parsing

struct ParserOptions {
  // The receiver's clock, for the rule that recorded_at is at most 24 h ahead of it. Unset:
  // the system clock at each call. Tests set it.
  std::optional<Instant> now;
};

// Parses and validates one envelope against the schemas compiled into the library from
// schemas/, then the rules no schema can state (size, UTF-8, clocks, supported version).
// Errors are BadInput and name the field and the rule, never the payload (it may be personal
// data); Fatal if the built-in schemas did not load. Reusable: keeps its buffers between calls.
class EnvelopeParser {
 public:
  EnvelopeParser();
  explicit EnvelopeParser(ParserOptions options);
  ~EnvelopeParser();
  EnvelopeParser(const EnvelopeParser&) = delete;
  EnvelopeParser& operator=(const EnvelopeParser&) = delete;

  // On failure, `kind` (when given) says why, as the dead-letter store records it.
  Status Parse(std::string_view json, Envelope& out, RejectKind* kind = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The newest schema_version of a type: what EventData holds after upcasting.
int CurrentSchemaVersion(EventType type);

// ---- The contract as data (schemas/) ------------------------------------------------------
// One file of schemas/: its path there ("codes/disposal.json") and its bytes.
struct ContractFile {
  std::string_view path;
  std::string_view text;
};
// The files compiled into this library at build time.
std::span<const ContractFile> EmbeddedContractFiles();
// Whether a set of contract files compiles: an unsupported keyword, a dangling $ref, a type
// without schema or upcaster... is a Fatal error naming the file and the place in it.
Status CheckContract(std::span<const ContractFile> files);

// Code-list metadata, read from schemas/codes/*.json ("x-" keywords). nullopt for a code that
// is not in the list.
std::optional<std::string_view> CodeTitle(std::string_view list, std::string_view code);
std::optional<std::string_view> CodeAttribute(std::string_view list, std::string_view code,
                                              std::string_view keyword);
std::optional<std::string_view> DisposalTier(std::string_view disposal);  // "informal", …
// out_of_court_formal, every court tier, and absolute_discharge.
bool IsFormalDisposal(std::string_view disposal);
std::optional<std::string_view> EthnicityGroup(std::string_view ethnicity);  // "White", …
// The disposal a Home Office outcome code maps into ("youth_caution", "nfa", …); nullopt for
// 1 (charged: the court decides) and for codes that are not a disposal for the child.
std::optional<std::string_view> HomeOfficeOutcomeDisposal(int code);
// V3/V4: agreed series of short breaks, which the CLA count leaves out.
bool IsShortBreakLegalStatus(std::string_view legal_status);
// A care leaver's contact, as its code lists say (x-in-touch, x-suitable, x-eet): in touch,
// in suitable accommodation, in education, employment or training. False for a code not in
// the list (and for X, custody, which has no suitability).
bool IsInTouch(std::string_view in_touch);
bool IsSuitableAccommodation(std::string_view accommodation);
bool IsInEducationEmploymentOrTraining(std::string_view activity);

// The national comparator in schemas/reference/youth_offences_with_outcome_2021.json: youth
// offences with an outcome in England and Wales by offence group (in the file's order), their
// total, and the population aged 10–17.
struct NationalOffenceProfile {
  int year = 0;
  std::vector<std::pair<std::string, int64_t>> by_group;
  int64_t total = 0;
  int64_t population_aged_10_17 = 0;
};
// Read from the embedded file once; Fatal if it does not say what is above.
const Result<NationalOffenceProfile>& NationalYouthOffences();

// Whether two valid envelopes say the same thing but for recorded_at. A re-extract stamps its
// new extract time on rows that did not change, and such a re-send is a duplicate, not a
// conflict. Any other difference, in any member, is a conflict. BadInput when either is not a
// JSON object.
[[nodiscard]] Result<bool> SameEventButForRecordedAt(std::string_view a, std::string_view b);

}  // namespace careledger
