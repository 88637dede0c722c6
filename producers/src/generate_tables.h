// The generator's code tables: each a list of (value, weight) drawn from by Pick, with the
// shapes of the national statistics generate.cc names. Private to producers/.
#pragma once

#include <iterator>
#include <string_view>
#include <utility>

#include "generate_impl.h"

namespace careledger::generate_detail {

using Code = const char*;
template <typename T>
using W = std::pair<T, int>;

template <typename T, size_t N>
constexpr int TotalWeight(const std::pair<T, int> (&table)[N]) {
  int total = 0;
  for (const auto& [v, w] : table) total += w;
  return total;
}

// A value drawn from a table of (value, weight); the total is summed once, at compile time.
template <const auto& table>
auto Pick(Random& r) {
  static constexpr int kTotal = TotalWeight(table);
  int64_t pick = r.Uniform(0, kTotal - 1);
  for (const auto& [v, w] : table) {
    if ((pick -= w) < 0) return v;
  }
  return std::end(table)[-1].first;
}

// An offence group in the national mix (schemas/reference), which the generator checks it
// can read before it starts.
std::string_view PickNationalOffenceGroup(Random& r);

// ---- Code tables (weights are per mille or relative) ----------------------------------------
inline constexpr W<Code> kSex[] = {{"M", 510}, {"F", 489}, {"U", 1}};
// The population by SSDA903 ethnicity code (census shares, per mille), with each group's
// over-representation in care and in youth justice (DfE and YJB ethnicity tables, rounded).
struct Ethnicity {
  Code code;
  double care, offending;
};
inline constexpr W<Ethnicity> kEthnicity[] = {
    {{"WBRI", 1.0, 1.0}, 720}, {{"WIRI", 1.0, 1.0}, 5},  {{"WOTH", 1.0, 1.0}, 50},
    {{"WIRT", 3.0, 1.4}, 2},   {{"WROM", 3.0, 1.4}, 4},  {{"MWBC", 2.0, 1.4}, 15},
    {{"MWBA", 1.5, 1.4}, 6},   {{"MWAS", 1.5, 1.4}, 10}, {{"MOTH", 1.5, 1.4}, 15},
    {{"AIND", 0.4, 0.7}, 30},  {{"APKN", 0.4, 0.7}, 40}, {{"ABAN", 0.4, 0.7}, 15},
    {{"AOTH", 0.4, 0.7}, 15},  {{"BCRB", 1.5, 1.8}, 8},  {{"BAFR", 1.0, 1.8}, 35},
    {{"BOTH", 2.0, 1.8}, 5},   {{"CHNE", 0.3, 0.3}, 4},  {{"OOTH", 1.0, 1.0}, 15},
    {{"REFU", 1.0, 1.0}, 3},   {{"NOBT", 1.0, 1.0}, 3}};

// Age at entry to care, DfE starts: under 1 about 20 %, 1–4 15 %, 5–9 17 %, 10–15 35 %, 16+ 13 %.
inline constexpr W<int> kEntryAgeBand[] = {{0, 20}, {1, 15}, {5, 17}, {10, 35}, {16, 13}};
enum class Path { kShort, kHome, kAdoption, kSgo, kLongTerm, kOther, kRemand, kPace };
inline constexpr W<Path> kPathUnder1[] = {{Path::kShort, 10},
                                          {Path::kHome, 25},
                                          {Path::kAdoption, 35},
                                          {Path::kSgo, 15},
                                          {Path::kLongTerm, 15}};
inline constexpr W<Path> kPath1to4[] = {{Path::kShort, 15},
                                        {Path::kHome, 40},
                                        {Path::kAdoption, 15},
                                        {Path::kSgo, 15},
                                        {Path::kLongTerm, 15}};
inline constexpr W<Path> kPath5to9[] = {
    {Path::kShort, 15}, {Path::kHome, 49}, {Path::kSgo, 12}, {Path::kLongTerm, 24}};
inline constexpr W<Path> kPath10to15[] = {{Path::kShort, 20},    {Path::kHome, 48},
                                          {Path::kLongTerm, 20}, {Path::kOther, 6},
                                          {Path::kRemand, 3},    {Path::kPace, 3}};
inline constexpr W<Path> kPath16to17[] = {{Path::kShort, 15},    {Path::kHome, 43},
                                          {Path::kLongTerm, 27}, {Path::kOther, 10},
                                          {Path::kRemand, 3},    {Path::kPace, 2}};

inline constexpr W<Code> kPlacementUnder10[] = {{"U1", 4}, {"U2", 1},  {"U3", 14}, {"U4", 18},
                                                {"U5", 2}, {"U6", 46}, {"K2", 2},  {"P1", 8},
                                                {"R1", 1}, {"Z1", 2},  {"R3", 1}};
inline constexpr W<Code> kPlacement10to13[] = {{"U1", 4},  {"U3", 9}, {"U4", 22}, {"U6", 40},
                                               {"K2", 40}, {"P1", 5}, {"S1", 2},  {"Z1", 2}};
inline constexpr W<Code> kPlacement14to15[] = {{"U1", 3},  {"U3", 6},  {"U4", 14},
                                               {"U6", 30}, {"K2", 60}, {"P1", 4},
                                               {"S1", 2},  {"Z1", 2},  {"K1", 1}};
inline constexpr W<Code> kPlacement16to17[] = {
    {"U1", 3},  {"U3", 5},  {"U4", 14}, {"U6", 24}, {"K2", 45}, {"P1", 3}, {"Z11", 14},
    {"Z12", 8}, {"Z13", 3}, {"Z14", 2}, {"Z1", 2},  {"K1", 1},  {"S1", 1}};
inline constexpr W<Code> kKinship[] = {{"U1", 30}, {"U2", 10}, {"U3", 60}};
inline constexpr W<Code> kAdoptive[] = {{"A3", 10}, {"A4", 5}, {"A5", 55}, {"A6", 30}};

inline constexpr W<Code> kFosterProvider[] = {{"PR1", 55}, {"PR4", 40}, {"PR5", 5}};
inline constexpr W<Code> kSupportedProvider[] = {{"PR4", 70}, {"PR5", 20}, {"PR1", 10}};
inline constexpr W<Code> kSpecialistProvider[] = {
    {"PR4", 55}, {"PR5", 15}, {"PR2", 20}, {"PR1", 10}};

inline constexpr W<Code> kChangeReason[] = {
    {"CARPL", 25}, {"CLOSE", 5}, {"ALLEG", 3},  {"STAND", 10}, {"APPRR", 8}, {"CREQB", 10},
    {"CREQO", 8},  {"CHILD", 6}, {"LAREQ", 10}, {"PLACE", 10}, {"OTHER", 5}};
inline constexpr W<Code> kHomeReason[] = {{"E4A", 80}, {"E4B", 10}, {"E13", 10}};
inline constexpr W<Code> kSgoReason[] = {
    {"E45", 35}, {"E46", 35}, {"E41", 10}, {"E47", 10}, {"E48", 10}};
inline constexpr W<Code> kAgeOutReason[] = {{"E17", 25}, {"E5", 35}, {"E6", 8}, {"E13", 8},
                                            {"E4A", 10}, {"E7", 3},  {"E8", 11}};
inline constexpr W<Code> kOtherReason[] = {
    {"E3", 30}, {"E8", 30}, {"E9", 15}, {"E16", 10}, {"E15", 15}};

inline constexpr W<const char*> kCategory[] = {{"missing", 85}, {"away", 15}};
inline constexpr W<Code> kRisk[] = {
    {"no_apparent_risk", 10}, {"low", 40}, {"medium", 40}, {"high", 10}};
inline constexpr W<double> kMissingRate[] = {
    {0.5, 40}, {1.5, 30}, {4.0, 20}, {10.0, 10}};  // a year
inline constexpr W<Code> kCalloutReason[] = {
    {"notifiable_incident", 50}, {"emergency", 25}, {"restraint", 25}};

inline constexpr W<double> kOffendingFrailty[] = {{1.0, 60}, {3.0, 25}, {8.0, 12}, {20.0, 3}};

// An outcome as the police record it (Home Office code and/or disposal), or a charge that
// goes to court (code 1, disposal decided by the court).
struct OutcomeRow {
  int home_office = 0;  // 0: none given
  Code disposal = nullptr;
};
inline constexpr W<OutcomeRow> kPoliceOutcome[] = {
    {{1, nullptr}, 20},  // charged: the court decides
    {{2, "youth_caution"}, 6},
    {{3, "youth_conditional_caution"}, 4},
    {{8, "community_resolution_police"}, 15},
    {{22, "outcome_22"}, 8},
    {{0, "informal_no_yjs"}, 3},
    {{0, "informal_with_yjs"}, 4},
    {{0, "community_resolution_other_agency"}, 1},
    {{0, "community_resolution_yjs"}, 3},
    {{16, "nfa"}, 12},  // victim does not support
    {{15, "nfa"}, 8},   // evidential difficulties
    {{14, "nfa"}, 4},
    {{10, "nfa"}, 3},  // not in the public interest (police)
    {{12, "nfa"}, 2},  // prosecution prevented: below the age of criminal responsibility etc.
    {{18, "nfa"}, 3},  // investigation complete, no suspect identified
    {{21, "nfa"}, 2},
    {{9, "nfa"}, 1},
    {{20, "nfa"}, 1},
    {{4, nullptr}, 1},  // taken into consideration: recorded, not a disposal of its own
    {{19, nullptr}, 1},
};
inline constexpr W<Code> kCourtDisposal[] = {{"discontinued", 10},
                                             {"dismissed", 5},
                                             {"withdrawn", 10},
                                             {"absolute_discharge", 2},
                                             {"conditional_discharge", 6},
                                             {"fine", 8},
                                             {"parents_fined", 1},
                                             {"referral_order", 30},
                                             {"order_to_continue", 2},
                                             {"reparation_order", 2},
                                             {"youth_rehabilitation_order", 14},
                                             {"yro_intensive_supervision", 3},
                                             {"detention_training_order", 6},
                                             {"long_term_detention", 1}};

inline constexpr W<Code> kInTouch[] = {
    {"YES", 88}, {"NO", 6}, {"REFU", 2}, {"NREQ", 2}, {"RHOM", 2}};
inline constexpr W<Code> kActivity[] = {{"F1", 6}, {"F2", 25}, {"F3", 5}, {"F4", 12}, {"F5", 2},
                                        {"P1", 2}, {"P2", 3},  {"P3", 2}, {"P4", 2},  {"P5", 1},
                                        {"G4", 8}, {"G5", 26}, {"G6", 6}};
inline constexpr W<Code> kAccommodation[] = {
    {"U1", 30}, {"D1", 15}, {"Z1", 12}, {"B1", 12}, {"E1", 6}, {"K1", 3}, {"T1", 3},
    {"B2", 3},  {"S2", 2},  {"V2", 2},  {"W2", 1},  {"X", 2},  {"Y1", 4}, {"U2", 3}};
inline constexpr W<Code> kLevel[] = {{"none", 20}, {"low", 35}, {"medium", 30}, {"high", 15}};
inline constexpr W<Code> kKindGirl[] = {{"CSE", 55}, {"CCE", 25}, {"both", 20}};
inline constexpr W<Code> kKindBoy[] = {{"CCE", 70}, {"CSE", 10}, {"both", 20}};

}  // namespace careledger::generate_detail
