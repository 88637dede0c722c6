// Private to projections/: what every metric shares, one concept a header — the window and the
// dimensions (dimensions.h), the counter cells (counters.h), the kept rows (kept_rows.h), the
// accumulator of rows and lineage (accumulator.h) and the query being answered (run.h) — and,
// below, each metric's counters, rows and query, defined in the metric's own file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accumulator.h"
#include "counters.h"
#include "dimensions.h"
#include "kept_rows.h"
#include "run.h"

namespace careledger::metrics {

// Each metric's section below: the counters and rows ingest keeps for it (KeptRowsOf builds its
// rows) and its query (run by Definitions() in metrics.cc), all defined in the metric's own file.

// ---- M1 children looked after (cla.cc) ----------------------------------------------------
// The child's CLA counters: a +1/-1 span per dimension value it passes through in care.
void AddClaCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> CareSpellRows(const ChildView& child);
Status Cla(Run& r);

// ---- M2 care leavers (care_leavers.cc) ----------------------------------------------------
// The latest contact in the 12 months to `at` (none: null), and what it says.
struct LeaverContact {
  const Fact* contact = nullptr;
  bool in_touch = false, suitable = false, eet = false;
};
LeaverContact LatestContact(const ChildView& child, Date at);
// The measures the counters keep, in this order: care leavers, with a contact in the 12
// months, in touch, in suitable accommodation, in education, employment or training.
inline constexpr size_t kCareLeaverMeasures = 5;
// The dimensions a care leaver's counters are kept by; every other child dimension has one
// value for a care leaver (cohort: care_leaver; the placement's: not_looked_after).
// The age band and the ethnicity group are read from the band's and the ethnicity's counters.
inline constexpr std::string_view kCareLeaverDimensions[] = {"band", "sex", "ethnicity"};
// The counter dimension of a measure by a dimension.
std::string CareLeaverCounter(size_t measure, std::string_view dimension);
// The child's care-leaver counters.
void AddCareLeaverCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> CareLeaverYearsRows(const ChildView& child);
Status CareLeavers(Run& r);

// ---- M3 outcomes by tier (outcomes.cc) ----------------------------------------------------
std::vector<KeptRow> OutcomeRows(const ChildView& child);
// The period's outcome rows by their --by values, with their events: every row in measure 0,
// those `flagged` in measure 1 (M3: at the placement; M4 and M11: no sanction or informal).
Status CountOutcomes(Run& r, Accumulator& acc, bool KeptRow::*flagged);
Status Outcomes(Run& r);

// ---- M4 informal resolution share and M11 exploitation (informal_share.cc) ----------------
Status Informal(Run& r);

// ---- M5 criminalisation of children in care (criminalisation.cc) --------------------------
std::vector<KeptRow> YearEndingRows(const ChildView& child);
Status Criminalisation(Run& r);

// ---- M6 first-time entrants (first_time_entrants.cc) --------------------------------------
// The child's first formal outcome ever; none when the source recorded earlier ones.
const Offence* FirstFormal(const ChildView& child);
std::vector<KeptRow> FirstFormalRows(const ChildView& child);
Status FirstTimeEntrants(Run& r);
// What a rate over children aged 10-17 divides by: by nothing or by an offence's dimension the
// area's population (the settings' estimate for the period's year); by cohort each cohort's own
// (below); by another child dimension none the area's population breaks down by, bar those the
// settings may give (sex, ethnicity group, age band).
struct RateBase {
  bool by_cohort = false, by_child = false;
  std::optional<int64_t> population;
};
RateBase RateBaseOf(Run& r);
// By cohort, the "other" row's rate (of the count in one column, into another) over the area's
// children aged 10-17 less those looked after and care leavers: the other rows' denominators,
// the store's own children of those cohorts. As DfE's OC2 measure divides by its own cohort.
struct CohortRate {
  size_t count_column = 0, rate_column = 0;
  Figure::Kind kind = Figure::Kind::kPerHundredThousand;
  Figure (*of)(int64_t, int64_t) = Figure::Rate;
  std::string_view per = "100,000";  // for the note
};
void RateOtherCohort(Run& r, std::optional<int64_t> population, const CohortRate& rate);

// ---- M7 missing from home and care (missing.cc) -------------------------------------------
std::vector<KeptRow> MissingEpisodeRows(const ChildView& child);
Status Missing(Run& r);

// ---- M8 police call-outs from placements (callouts.cc) ------------------------------------
// M8's measures, in its table's order.
enum class CalloutMeasure {
  kMissingReport,
  kNotifiableIncident,
  kEmergency,
  kRestraint,
  kOffenceAtPlacement
};
std::optional<CalloutMeasure> CalloutMeasureOf(std::string_view reason);
std::vector<KeptRow> CalloutRows(const ChildView& child);
Status Callouts(Run& r);

// ---- M9 youth justice caseload (yjs_caseload.cc) ------------------------------------------
// The counter dimension of the open cases: each value is "<cohort>/<intervention>", the child's
// cohort on the day (cla, care_leaver, other) and the case's intervention.
inline constexpr std::string_view kOpenCasesCounter = "yjs_open";
// A child's open cases, each from the day it opened to the day it closed, cut where the child's
// cohort changes.
void AddOpenCaseCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> YjsCaseRows(const ChildView& child);
Status YjsCaseload(Run& r);

// ---- M10 offence profile against England and Wales (offence_profile.cc) -------------------
Status OffenceProfile(Run& r);

// ---- M12 disproportionality (disproportionality.cc) ---------------------------------------
// The dimensions its denominators (children aged 10-17 known to the store) are kept by; the
// ethnicity group is read from the ethnicity's counters.
inline constexpr std::string_view kAgedTenToSeventeenDimensions[] = {"sex", "ethnicity", "cohort"};
// The counter dimension of the children aged 10-17 by a dimension.
std::string AgedTenToSeventeenCounter(std::string_view dimension);
// A registered child's days from its 10th birthday to its 18th, cut where its cohort changes.
struct AgedTenToSeventeen {
  Date from, to;  // to: the first day after
  std::string cohort;
};
std::vector<AgedTenToSeventeen> AgedTenToSeventeenStretches(const ChildView& child);
// The registered child's counters from its 10th birthday to its 18th.
void AddAgedTenToSeventeenCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> AgedTenToSeventeenRows(const ChildView& child);
Status Disproportionality(Run& r);
// The children aged 10-17 on a day, by the run's dimensions, added to `measure`: read from the
// counters live (by one dimension), from the span rows as known at a time or for lineage (with
// their events), from the fold as the oracle.
Status AddAgedTenToSeventeen(Run& r, Accumulator& acc, size_t measure, Date on);

// ---- M13 reoffending (reoffending.cc) -----------------------------------------------------
std::vector<KeptRow> ReoffenceRows(const ChildView& child);
Status Reoffending(Run& r);

// ---- M14 use of custody (custody.cc) -----------------------------------------------------
std::vector<KeptRow> CustodyRows(const ChildView& child);
Status UseOfCustody(Run& r);

// ---- M15 placement stability (placement_stability.cc) -------------------------------------
std::vector<KeptRow> PlacementStabilityRows(const ChildView& child);
Status PlacementStability(Run& r);

// ---- The out-of-court panel's worklist (panel.cc; PanelWorklist in projections.h) ----------
std::vector<KeptRow> AwaitingDecisionRows(const ChildView& child);

}  // namespace careledger::metrics
