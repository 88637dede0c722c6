// careledger/events.h — the event contract in C++: event types, their topics, and the envelope
// parser that producers (before publishing) and consumers (before appending) both run, so the
// topic is never trusted and the two sides cannot disagree.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
};

std::optional<EventType> EventTypeFromName(std::string_view name);
std::string_view EventTypeName(EventType type);
// The topic a type is published to (spec/events.md); event.retracted goes with social care
// unless the publisher is told otherwise, which is safe because the topics are co-partitioned.
std::string_view TopicFor(EventType type);

// What the projections read from `data`. Fields a type does not carry stay empty. Codes are
// kept as the source wrote them, after validation against the code lists.
struct EventData {
  std::optional<Date> dob;
  std::string sex, ethnicity;
  std::string legal_status, placement, provider, home_id, reason;
  std::optional<bool> out_of_area;
};

struct Envelope {
  std::string event_id;
  EventType type = EventType::kChildRegistered;
  int schema_version = 0;
  std::string source;
  std::string child_id;
  Timestamp occurred_at;
  Timestamp recorded_at;
  std::string supersedes;  // empty when absent
  EventData data;
};

// Parses and validates one envelope. Errors are BadInput and name the field and the rule,
// never the payload (it may be personal data). Reusable: keeps its buffers between calls.
class EnvelopeParser {
 public:
  EnvelopeParser();
  ~EnvelopeParser();
  EnvelopeParser(const EnvelopeParser&) = delete;
  EnvelopeParser& operator=(const EnvelopeParser&) = delete;

  Status Parse(std::string_view json, Envelope& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Code-list membership used by validation and by the CLA rule (V3/V4 are short breaks).
bool IsShortBreakLegalStatus(std::string_view legal_status);

}  // namespace careledger
