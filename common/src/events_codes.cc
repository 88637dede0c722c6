// Code-list metadata and reference data read from the embedded schemas/: titles, the x-
// keywords metrics use, and the national youth offence profile.
#include <simdjson.h>

#include <algorithm>
#include <string>

#include "careledger/events.h"
#include "events_contract.h"

namespace careledger {

namespace {

Result<NationalOffenceProfile> ReadNationalYouthOffences() {
  constexpr std::string_view kPath = "reference/youth_offences_with_outcome_2021.json";
  auto bad = [&](std::string_view what) {
    return Status::Fatal("schemas/" + std::string(kPath) + ": " + std::string(what));
  };
  for (const ContractFile& f : EmbeddedContractFiles()) {
    if (f.path != kPath) continue;
    simdjson::dom::parser parser;
    simdjson::dom::object doc;
    if (parser.parse(f.text.data(), f.text.size()).get(doc)) return bad("not a JSON object");
    NationalOffenceProfile p;
    int64_t year = 0;
    simdjson::dom::object groups;
    if (doc["year"].get(year) || doc["offences_with_outcome"].get(groups) ||
        doc["total"].get(p.total) || doc["population_aged_10_17"].get(p.population_aged_10_17)) {
      return bad("needs year, offences_with_outcome, total and population_aged_10_17");
    }
    p.year = int(year);
    int64_t sum = 0;
    for (auto [group, count] : groups) {
      int64_t n = 0;
      if (count.get(n) || n < 0) return bad("offence counts must be whole numbers");
      p.by_group.emplace_back(std::string(group), n);
      sum += n;
    }
    if (sum != p.total) return bad("the groups do not add up to the total");
    return p;
  }
  return bad("not embedded");
}

const schema::CodeEntry* FindCode(const schema::CodeList* list, std::string_view code) {
  return list ? list->Find(code) : nullptr;
}

std::optional<std::string_view> Attribute(const schema::CodeList* list, std::string_view code,
                                          std::string_view keyword) {
  const auto* e = FindCode(list, code);
  return e ? e->Extra(keyword) : std::nullopt;
}

}  // namespace

std::optional<std::string_view> CodeTitle(std::string_view list, std::string_view code) {
  const auto& c = BuiltInContract();
  const auto* e = c.schemas ? FindCode(c.schemas->Codes(list), code) : nullptr;
  return e ? std::optional<std::string_view>(e->title) : std::nullopt;
}

std::optional<std::string_view> CodeAttribute(std::string_view list, std::string_view code,
                                              std::string_view keyword) {
  const auto& c = BuiltInContract();
  return c.schemas ? Attribute(c.schemas->Codes(list), code, keyword) : std::nullopt;
}

std::optional<std::string_view> DisposalTier(std::string_view disposal) {
  return Attribute(BuiltInContract().disposal, disposal, "x-tier");
}

bool IsFormalDisposal(std::string_view disposal) {
  return Attribute(BuiltInContract().disposal, disposal, "x-formal") == "true";
}

bool IsInTouch(std::string_view in_touch) {
  return CodeAttribute("in_touch", in_touch, "x-in-touch") == "true";
}

bool IsSuitableAccommodation(std::string_view accommodation) {
  return CodeAttribute("accommodation", accommodation, "x-suitable") == "true";
}

bool IsInEducationEmploymentOrTraining(std::string_view activity) {
  return CodeAttribute("activity", activity, "x-eet") == "true";
}

std::optional<std::string_view> EthnicityGroup(std::string_view ethnicity) {
  return Attribute(BuiltInContract().ethnicity, ethnicity, "x-group");
}

std::optional<std::string_view> HomeOfficeOutcomeDisposal(int code) {
  const auto* list = BuiltInContract().home_office_outcome;
  const auto* e = list ? list->Find(int64_t{code}) : nullptr;
  return e ? e->Extra("x-disposal") : std::nullopt;
}

bool IsShortBreakLegalStatus(std::string_view legal_status) {
  // SSDA903: V3/V4 are agreed series of short-term (respite) placements; the statutory CLA
  // count and the OC2 cohort leave them out. schemas/codes/legal_status.json marks them.
  auto packed = schema::PackCode(legal_status);
  if (!packed) return false;
  const auto& codes = BuiltInContract().short_breaks;
  return std::find(codes.begin(), codes.end(), *packed) != codes.end();
}

const Result<NationalOffenceProfile>& NationalYouthOffences() {
  static const Result<NationalOffenceProfile> profile = ReadNationalYouthOffences();
  return profile;
}

}  // namespace careledger
