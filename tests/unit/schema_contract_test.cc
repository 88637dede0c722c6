// The contract's files themselves: code-list metadata, load-time refusal of what the interpreter
// does not support, a cross-check of every example against valijson (a reference JSON Schema
// validator reading the same files) and the reference data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "careledger/events.h"
#include "schema_test_support.h"

namespace careledger {
namespace {

// The valid and invalid examples and what builds them: schema_test_support.h.
using namespace schema_test;

using ::testing::HasSubstr;
using ::testing::Not;

// ---- Code lists as data -------------------------------------------------------------------

TEST(CodeLists, DisposalTiersAndFormality) {
  EXPECT_EQ(DisposalTier("nfa"), "no_sanction");
  EXPECT_EQ(DisposalTier("community_resolution_yjs"), "informal");
  EXPECT_EQ(DisposalTier("youth_conditional_caution"), "out_of_court_formal");
  EXPECT_EQ(DisposalTier("referral_order"), "first_tier");
  EXPECT_EQ(DisposalTier("yro_intensive_supervision"), "community");
  EXPECT_EQ(DisposalTier("long_term_detention"), "custody");
  EXPECT_EQ(DisposalTier("caution"), std::nullopt);
  EXPECT_TRUE(IsFormalDisposal("absolute_discharge"));  // a conviction without sanction
  EXPECT_TRUE(IsFormalDisposal("youth_caution"));
  EXPECT_TRUE(IsFormalDisposal("fine"));
  EXPECT_FALSE(IsFormalDisposal("dismissed"));
  EXPECT_FALSE(IsFormalDisposal("outcome_22"));
  EXPECT_FALSE(IsFormalDisposal("no_such_disposal"));
}

TEST(CodeLists, EthnicityGroups) {
  EXPECT_EQ(EthnicityGroup("WBRI"), "White");
  EXPECT_EQ(EthnicityGroup("MWAS"), "Mixed");
  EXPECT_EQ(EthnicityGroup("ABAN"), "Asian");
  EXPECT_EQ(EthnicityGroup("BCRB"), "Black");
  EXPECT_EQ(EthnicityGroup("OOTH"), "Other");
  // spec/metrics.md: GRT = WIRT + WROM, and "Refused/not obtained" as a group of its own.
  EXPECT_EQ(EthnicityGroup("REFU"), "Refused/not obtained");
  EXPECT_EQ(EthnicityGroup("NOBT"), "Refused/not obtained");
  EXPECT_EQ(EthnicityGroup("WIRT"), "GRT");
  EXPECT_EQ(EthnicityGroup("WROM"), "GRT");
  EXPECT_EQ(EthnicityGroup("WBR"), std::nullopt);
}

TEST(CodeLists, HomeOfficeOutcomesMapIntoDisposals) {
  EXPECT_EQ(HomeOfficeOutcomeDisposal(1), std::nullopt);  // charged: the court decides
  EXPECT_EQ(HomeOfficeOutcomeDisposal(2), "youth_caution");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(3), "youth_conditional_caution");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(8), "community_resolution_police");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(22), "outcome_22");
  for (int nfa : {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21}) {
    EXPECT_EQ(HomeOfficeOutcomeDisposal(nfa), "nfa") << nfa;
  }
  for (int not_child : {4, 6, 7, 19}) {
    EXPECT_EQ(HomeOfficeOutcomeDisposal(not_child), std::nullopt) << not_child;
    EXPECT_EQ(CodeAttribute("home_office_outcome", std::to_string(not_child), "x-outcome"),
              "not_child_disposal");
  }
  EXPECT_EQ(CodeAttribute("home_office_outcome", "1", "x-outcome"), "charged");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(0), std::nullopt);
  EXPECT_EQ(HomeOfficeOutcomeDisposal(23), std::nullopt);
}

TEST(CodeLists, ShortBreaksTitlesAndSuitability) {
  EXPECT_TRUE(IsShortBreakLegalStatus("V3"));
  EXPECT_TRUE(IsShortBreakLegalStatus("V4"));
  EXPECT_FALSE(IsShortBreakLegalStatus("V2"));
  EXPECT_FALSE(IsShortBreakLegalStatus("XX"));
  EXPECT_EQ(CodeTitle("legal_status", "C2"), "Full care order");
  EXPECT_EQ(CodeTitle("legal_status", "C9"), std::nullopt);
  EXPECT_EQ(CodeAttribute("accommodation", "Z2", "x-suitable"), "false");
  EXPECT_EQ(CodeAttribute("accommodation", "X", "x-suitable"), std::nullopt);
  EXPECT_EQ(CodeAttribute("event_type", "court.outcome_recorded", "x-topic"), kTopicYjs);
}

// A care leaver's contact is judged by its code lists' keywords, not by the codes' letters.
TEST(CodeLists, CareLeaverContactCodes) {
  EXPECT_TRUE(IsInTouch("YES"));
  for (const char* not_in_touch : {"NO", "DIED", "REFU", "NREQ", "RHOM", "yes", ""}) {
    EXPECT_FALSE(IsInTouch(not_in_touch)) << not_in_touch;
  }
  for (const char* suitable :
       {"B1", "C1", "D1", "E1", "G1", "H1", "K1", "R1", "S1", "T1", "U1", "V1", "W1", "Y1", "Z1"}) {
    EXPECT_TRUE(IsSuitableAccommodation(suitable)) << suitable;
  }
  for (const char* not_suitable : {"B2", "Z2", "X", "0", "B"}) {
    EXPECT_FALSE(IsSuitableAccommodation(not_suitable)) << not_suitable;
  }
  for (const char* eet : {"F1", "P1", "F2", "P2", "F3", "P3", "F4", "P4", "F5", "P5"}) {
    EXPECT_TRUE(IsInEducationEmploymentOrTraining(eet)) << eet;
  }
  for (const char* neet : {"G4", "G5", "G6", "0", "F9", "F"}) {
    EXPECT_FALSE(IsInEducationEmploymentOrTraining(neet)) << neet;
  }
}

// ---- Loading ---------------------------------------------------------------------------------

std::vector<ContractFile> FilesWith(const std::string& path, const std::string* text) {
  std::vector<ContractFile> files;
  bool replaced = false;
  for (const auto& f : EmbeddedContractFiles()) {
    if (f.path == path) {
      replaced = true;
      if (text) files.push_back({f.path, *text});
    } else {
      files.push_back(f);
    }
  }
  if (!replaced && text) files.push_back({path, *text});
  return files;
}

TEST(ContractLoading, TheBuiltInContractLoads) {
  EXPECT_TRUE(CheckContract(EmbeddedContractFiles()).ok());
  int events = 0, codes = 0;
  for (const auto& f : EmbeddedContractFiles()) {
    events += f.path.starts_with("events/");
    codes += f.path.starts_with("codes/");
  }
  EXPECT_EQ(events, 20);  // 19 types, missing.reported twice
  EXPECT_EQ(codes, 22);
}

struct BadContract {
  std::string name, path, text, message;
};

class ContractRefused : public ::testing::TestWithParam<BadContract> {};

TEST_P(ContractRefused, AtLoadNamingTheFileAndTheReason) {
  Status s = CheckContract(FilesWith(GetParam().path, &GetParam().text));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_class(), ErrorClass::kFatal);
  EXPECT_EQ(s.message(), GetParam().message);
}

const char kReturned[] = "events/missing.returned.v1.schema.json";

std::vector<BadContract> BadContracts() {
  return {
      {"UnsupportedKeyword", kReturned,
       R"({"type":"object","properties":{"episode_id":{"type":"string","pattern":"^M"}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id/pattern: "
       "unsupported keyword 'pattern'"},
      {"InlineEnum", kReturned, R"({"type":"object","properties":{"episode_id":{"enum":["a"]}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id/enum: "
       "unsupported keyword 'enum'"},
      {"ClosedObject", kReturned, R"({"type":"object","additionalProperties":false})",
       "schemas/events/missing.returned.v1.schema.json at additionalProperties: only `true` is "
       "supported"},
      {"RefWithSibling", kReturned,
       R"({"properties":{"episode_id":{"$ref":"../codes/sex.json","maxLength":3}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id: keyword "
       "'maxLength' beside $ref is ignored by draft 7; move it into the referenced schema"},
      {"DanglingRef", kReturned, R"({"properties":{"episode_id":{"$ref":"../codes/nope.json"}}})",
       "schemas/codes/nope.json: no such file"},
      {"UnknownFormat", kReturned, R"({"properties":{"episode_id":{"format":"email"}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id/format: format "
       "'email' is not supported"},
      {"VersionWithoutUpcaster", "events/missing.returned.v2.schema.json", R"({"type":"object"})",
       "missing.returned v1 has no upcaster to v2 (common/src/events.cc kUpcasters)"},
      {"TypeTheCodeDoesNotKnow", "events/missing.found.v1.schema.json", R"({"type":"object"})",
       "schemas/events/missing.found: not an event type of this build"},
      {"FieldEventDataCannotHold", kReturned, R"({"properties":{"episode_id":{"type":"integer"}}})",
       "schemas/events/missing.returned.v1.schema.json: property 'episode_id' has a type "
       "EventData cannot hold"},
      {"CodeListOfMixedTypes", "codes/sex.json",
       R"({"type":"string","oneOf":[{"const":"M"},{"const":1}]})",
       "schemas/codes/sex.json at oneOf: consts of mixed types"},
      {"NotJson", "codes/sex.json", R"({"type":)",
       "schemas/codes/sex.json: not valid JSON: The JSON document has an improper structure: "
       "missing or superfluous commas, braces, missing keys, etc."},
  };
}

INSTANTIATE_TEST_SUITE_P(EachReason, ContractRefused, ::testing::ValuesIn(BadContracts()),
                         [](const auto& p) { return p.param.name; });

TEST(ContractLoading, AMissingTypeSchemaIsRefused) {
  Status s = CheckContract(FilesWith(kReturned, nullptr));
  EXPECT_EQ(s.message(), "schemas/events/missing.returned.v1.schema.json: missing");
}

// ---- Cross-check with a reference validator ---------------------------------------------------

// valijson over nlohmann::json, reading the same embedded files; $refs are fetched by path.
class ReferenceValidator {
 public:
  ReferenceValidator() {
    for (const auto& f : EmbeddedContractFiles()) {
      docs_[std::string(f.path)] = nlohmann::json::parse(f.text);
    }
    for (const auto& [path, doc] : docs_) {
      if (path == "envelope.schema.json" || path.starts_with("events/")) {
        auto& schema = schemas_[path];
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(doc);
        parser.populateSchema(
            adapter, schema,
            [this](const std::string& uri) -> const nlohmann::json* {
              // "../codes/sex.json" from events/, "codes/event_type.json" from the root.
              std::string name = uri.substr(uri.rfind('/') + 1);
              auto it = docs_.find("codes/" + name);
              return it == docs_.end() ? nullptr : new nlohmann::json(it->second);
            },
            [](const nlohmann::json* fetched) { delete fetched; });
      }
    }
  }

  bool Accepts(const std::string& json) {
    nlohmann::json doc = nlohmann::json::parse(json);
    if (!Valid("envelope.schema.json", doc)) return false;
    std::string path = "events/" + doc["type"].get<std::string>() + ".v" +
                       std::to_string(doc["schema_version"].get<int64_t>()) + ".schema.json";
    // No schema for that version: JSON Schema has nothing more to say.
    return !schemas_.count(path) || Valid(path, doc["data"]);
  }

 private:
  bool Valid(const std::string& path, const nlohmann::json& doc) {
    valijson::Validator validator;
    valijson::adapters::NlohmannJsonAdapter target(doc);
    return validator.validate(schemas_.at(path), target, nullptr);
  }

  std::map<std::string, nlohmann::json> docs_;
  std::map<std::string, valijson::Schema> schemas_;
};

TEST(ReferenceValidator, AgreesOnEveryExample) {
  ReferenceValidator reference;
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  int agreed = 0;
  for (const auto& e : ValidEvents()) {
    EXPECT_TRUE(reference.Accepts(e.Json())) << e.type << " v" << e.version;
    EXPECT_TRUE(parser.Parse(e.Json(), env).ok());
    ++agreed;
  }
  for (const auto& bad : InvalidEvents()) {
    EXPECT_FALSE(parser.Parse(bad.json, env).ok()) << bad.name;
    // Rules JSON Schema states, valijson refuses too; the rest pass the schemas, by design.
    EXPECT_EQ(reference.Accepts(bad.json), !bad.in_schema) << bad.name;
    ++agreed;
  }
  EXPECT_EQ(agreed, int(ValidEvents().size() + InvalidEvents().size()));
}

TEST(ReferenceData, NationalYouthOffencesAreTheBriefsFigures) {
  const auto& national = NationalYouthOffences();
  ASSERT_TRUE(national.ok()) << national.status().message();
  EXPECT_EQ(national->year, 2021);
  EXPECT_EQ(national->total, 38518);
  EXPECT_EQ(national->population_aged_10_17, 5466338);
  ASSERT_EQ(national->by_group.size(), 11u);
  EXPECT_EQ(national->by_group.front(),
            (std::pair<std::string, int64_t>{"violence_against_person", 12437}));
  EXPECT_EQ(national->by_group.back(), (std::pair<std::string, int64_t>{"sexual", 903}));
  for (const auto& [group, n] : national->by_group) {
    EXPECT_TRUE(CodeTitle("offence_group", group).has_value())
        << group << " is not an offence group";
  }
}

}  // namespace
}  // namespace careledger
