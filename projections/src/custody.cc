// M14 use of custody (docs/metrics.md: `custody` in "The metrics"). Ingest keeps a row for each
// custodial sentence (a final disposal in the custody tier) and each remand to youth detention
// accommodation of a child aged 10-17 on the day of the decision, on that day, judged as the
// offence's outcome is (at the offence date).
#include <algorithm>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

enum CustodyRowNumber : int64_t { kSentence = 0, kRemand = 1 };

const Offence* OffenceOf(const ChildView& child, std::string_view offence_id) {
  auto it = std::find_if(child.offences.begin(), child.offences.end(),
                         [&](const Offence& o) { return o.offence_id == offence_id; });
  return it == child.offences.end() ? nullptr : &*it;
}

}  // namespace

std::vector<KeptRow> CustodyRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& o : child.offences) {
    if (!o.final || DisposalTier(o.disposal) != "custody") continue;
    if (!IsAged10To17(AgeAt(child, o.decided))) continue;
    rows.push_back(NewRow(RowKind::kCustody, child, o.decided, o.offence_id));
    JudgeOffence(child, o, OffenceDate(o), rows.back());
    rows.back().number = kSentence;
  }
  for (const Fact* f : child.remands) {
    if (f->data.remanded_to != "youth_detention_accommodation" || !f->data.decided_at) continue;
    const Date on = f->data.decided_at->date;
    if (!IsAged10To17(AgeAt(child, on))) continue;
    rows.push_back(NewRow(RowKind::kCustody, child, on, f->event_id));
    KeptRow& row = rows.back();
    // Judged before the remand: a child remanded to youth detention becomes looked after by it
    // (LASPO 2012 s. 104), which is not the care the measure asks about.
    const Offence* o = OffenceOf(child, f->data.offence_id);
    if (o && o->recorded) {
      JudgeOffence(child, *o, OffenceDate(*o), row);
    } else {
      JudgeDimensions(child, on - std::chrono::days{1}, {}, row);
      if (child.registered) row.event_ids.push_back(child.registered->event_id);
    }
    row.event_ids.push_back(f->event_id);
    row.number = kRemand;
  }
  return rows;
}

// Custodial sentences and remands to youth detention accommodation decided in the period, each
// per 1,000 of the row's own population aged 10-17: the area's by nothing or by offence group
// (the settings' estimate for the period's year); by cohort each cohort's own on the period's
// first day, as first-time entrants divide. Another child dimension has no area population, so
// its rates are blank with a note.
Status UseOfCustody(Run& r) {
  enum { kSentences, kRemands, kChildren };
  auto acc = r.NewAccumulator({"custodial_sentences", "remands_to_yda", "children_10_17"});
  RowGrouping grouping(r.by);
  CARELEDGER_RETURN_IF_ERROR(ForEachRow(r, RowKind::kCustody, r.window, [&](const KeptRow& row) {
    acc.AddRow(grouping.Key(row), row.number == kRemand ? kRemands : kSentences, 1, row);
  }));
  const RateBase base = RateBaseOf(r);
  const bool by_cohort = base.by_cohort, by_child = base.by_child;
  const std::optional<int64_t>& population = base.population;
  if (by_cohort) {
    CARELEDGER_RETURN_IF_ERROR(AddAgedTenToSeventeen(r, acc, kChildren, r.window.from));
  } else if (by_child) {
    r.table.notes.emplace_back(
        "rates per 1,000 need the population of each group: ask by nothing, by cohort or by "
        "offence_group");
  }
  auto rate = [&](const RowAccumulator& a, size_t measure, size_t column) {
    Figure f = Figure::Empty(Figure::Kind::kPerThousand);
    f.numerator = a.counts[measure];
    if (by_cohort) {
      f = Figure::RatePerThousand(a.counts[measure], a.counts[kChildren]);
    } else if (population && !by_child) {
      f = Figure::RatePerThousand(a.counts[measure], *population);
    }
    return std::move(f).Columns(column, std::nullopt);
  };
  r.Emit(acc,
         {"custodial_sentences", "sentence_rate_per_1000_10_17", "remands_to_yda",
          "remand_rate_per_1000_10_17"},
         [&](const RowAccumulator& a) {
           return std::vector<Figure>{Figure::Count(a.counts[kSentences]), rate(a, kSentences, 0),
                                      Figure::Count(a.counts[kRemands]), rate(a, kRemands, 2)};
         });
  if (by_cohort) {
    for (size_t count : {0, 2}) {
      RateOtherCohort(
          r, population,
          {count, count + 1, Figure::Kind::kPerThousand, Figure::RatePerThousand, "1,000"});
    }
    r.table.notes.pop_back();  // the two notes are one
  }
  return Status::Ok();
}

}  // namespace careledger::metrics
