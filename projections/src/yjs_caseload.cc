// M9 youth justice caseload: the cases open on a day, kept by ingest as counters.
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

}  // namespace careledger::metrics
