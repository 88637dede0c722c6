// M9 youth justice caseload (docs/metrics.md: `yjs-caseload` in "The metrics", M9 in "What ingest
// keeps"): the cases open on a day, kept by ingest as counters for the live figure and as a span
// row per case for the rest, and the query that reads them.
//
// A case counts from the day it opens to the day it closes (not that day), in the cohort its
// child is in on each day. The cohort (CohortAt) changes only where a spell of care starts or
// ends and on the 16th and 26th birthdays (a child who has left care is a care leaver from 16
// to 25): the child is judged on each of those days inside the case, as the fold judges it on
// the day asked about, and each stretch is kept as +1/-1 counter cells (AddSpan), so that the
// live figure reads the cells of its day, not the children.
#include <algorithm>

#include "aggregate.h"

namespace careledger::metrics {

void AddOpenCaseCounters(const ChildView& child, Contribution& out) {
  std::vector<Date> turns;  // the days the cohort may change on
  for (const auto& s : child.spells) {
    turns.push_back(s.from);
    if (s.to) turns.push_back(*s.to);
  }
  if (child.dob) {
    turns.push_back(BirthdayOf(child, 16));
    turns.push_back(BirthdayOf(child, 26));
  }
  std::sort(turns.begin(), turns.end());
  turns.erase(std::unique(turns.begin(), turns.end()), turns.end());
  for (const auto& k : child.cases) {
    if (!k.opened) continue;
    const Date from = k.opened->occurred_at.date;
    const Date to = k.closed ? k.closed->occurred_at.date : Date::max();
    if (to <= from) continue;  // closed the day it opened: open on no day
    const std::string& intervention = k.opened->data.intervention;
    Date start = from;
    std::string_view cohort = CohortAt(child, start);
    auto turn = std::upper_bound(turns.begin(), turns.end(), from);
    for (; turn != turns.end() && *turn < to; ++turn) {
      std::string_view next = CohortAt(child, *turn);
      if (next == cohort) continue;
      AddSpan(out, kOpenCasesCounter, std::string(cohort) + "/" + intervention, start, *turn,
              child.partition);
      start = *turn;
      cohort = next;
    }
    AddSpan(out, kOpenCasesCounter, std::string(cohort) + "/" + intervention, start, to,
            child.partition);
  }
}

std::vector<KeptRow> YjsCaseRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& k : child.cases) {
    if (!k.opened) continue;
    std::optional<Date> closed;
    if (k.closed) closed = std::max(k.closed->occurred_at.date, k.opened->occurred_at.date);
    rows.push_back(
        SpanRow(RowKind::kYjsCase, child, k.opened->occurred_at.date, closed, k.opened->event_id));
  }
  return rows;
}

// Live, by nothing or by intervention, from the counters ingest keeps (AddOpenCaseCounters);
// otherwise (as known at, lineage, other dimensions) the children with a case open on the day.
Status YjsCaseload(Run& r) {
  enum { kOpen, kCla, kLeavers };
  auto acc = r.NewAccumulator({"open_cases", "cla", "care_leavers"});
  if (!r.query.known_at && !r.query.fold && !r.cell &&
      (r.by.empty() || r.by == std::vector<std::string>{"intervention"})) {
    auto counts = r.CountersOn(r.at, kOpenCasesCounter);
    if (!counts.ok()) return counts.status();
    for (const auto& [value, n] : *counts) {
      if (n == 0) continue;
      auto slash = value.find('/');
      std::string_view cohort = std::string_view(value).substr(0, slash);
      GroupKey key;
      if (!r.by.empty()) key.push_back(value.substr(std::min(value.size(), slash + 1)));
      acc.Add(key, kOpen, n);
      if (cohort == "cla") acc.Add(key, kCla, n);
      if (cohort == "care_leaver") acc.Add(key, kLeavers, n);
    }
  } else {
    CARELEDGER_RETURN_IF_ERROR(r.ChildrenIn(RowKind::kYjsCase, r.AtDay(), [&](const ChildView& c) {
      auto cohort = CohortAt(c, r.at);
      for (const auto& k : c.cases) {
        if (!k.opened || k.opened->occurred_at.date > r.at) continue;
        if (k.closed && k.closed->occurred_at.date <= r.at) continue;
        auto key = acc.Key(c, r.at, {{"intervention", k.opened->data.intervention}});
        // Each measure names the case's opening and what set the child's dimensions (and its
        // cohort) on the day.
        auto count = [&](size_t measure) {
          acc.Add(key, measure, 1, {k.opened});
          acc.NoteJudged(key, measure, c, r.at);
          if (measure != kOpen) acc.AddFacts(key, measure, 0, DimensionFacts("cohort", c, r.at));
        };
        count(kOpen);
        if (cohort == "cla") count(kCla);
        if (cohort == "care_leaver") count(kLeavers);
      }
    }));
  }
  r.Emit(acc, {"open_cases", "cla", "cla_pct", "care_leavers", "care_leaver_pct"},
         [](const RowAccumulator& a) {
           const auto& n = a.counts;
           return std::vector<Figure>{Figure::Count(n[kOpen]), Figure::Count(n[kCla]),
                                      Figure::Percent(n[kCla], n[kOpen]).Columns(1, 0),
                                      Figure::Count(n[kLeavers]),
                                      Figure::Percent(n[kLeavers], n[kOpen]).Columns(3, 0)};
         });
  return Status::Ok();
}

}  // namespace careledger::metrics
