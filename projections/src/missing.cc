// M7 missing from home and care (docs/metrics.md: `missing` in "The metrics", M7 in "What ingest
// keeps"). Ingest keeps a span row per reported episode holding everything the figures need, so
// that a period's figures are a read of the rows ending after it starts; M12 reads them too.
#include <algorithm>
#include <cmath>
#include <map>

#include "aggregate.h"

namespace careledger::metrics {

// Everything M7 counts of an episode, so that a period's figures are a read of the rows ending
// after it starts: judged on the day of the report (the home it went from, or failing that the
// placement's then), its return and the time away, and its return interview.
std::vector<KeptRow> MissingEpisodeRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& e : child.missing) {
    if (!e.reported) continue;
    const Date reported = e.reported->occurred_at.date;
    std::optional<Date> back;
    if (e.returned) back = std::max(e.returned->occurred_at.date, reported);
    KeptRow& row = rows.emplace_back(
        SpanRow(RowKind::kMissingEpisode, child, reported, back, e.reported->event_id));
    const EventData& d = e.reported->data;
    const CareSpell* spell = ClaSpellAt(child, reported);
    std::string home = d.from_home_id.empty() && spell ? spell->home_id : d.from_home_id;
    JudgeDimensions(child, reported,
                    {{"category", d.category},
                     {"risk", d.risk},
                     {"home_id", home.empty() ? std::string("none") : home}},
                    row);
    row.event_ids = {e.reported->event_id, e.returned ? e.returned->event_id : "",
                     e.interview ? e.interview->event_id : ""};
    if (!e.returned) continue;
    const Instant came_back = e.returned->occurred_at.instant;
    row.returned = true;
    row.seconds_away = (came_back - e.reported->occurred_at.instant).count();
    if (!e.interview) continue;
    const EventData& i = e.interview->data;
    row.offered = i.offered.value_or(false);
    row.accepted = i.accepted.value_or(false);
    row.within_72h = i.held_at && i.held_at->instant >= came_back &&
                     i.held_at->instant - came_back <= std::chrono::hours{72};
  }
  return rows;
}

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest rank: the smallest value with at least p % of the values at or below it.
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = size_t(std::ceil(p / 100.0 * double(v.size())));
  return v[std::max<size_t>(rank, 1) - 1];
}

Figure MaybeSample(const std::vector<double>& samples, bool median) {
  Figure f = Figure::Empty(Figure::Kind::kHours);
  f.denominator = int64_t(samples.size());
  if (!samples.empty()) f.value = median ? Median(samples) : Percentile(samples, 90);
  return f;
}

}  // namespace

// The episode rows ending on or after the period's first day: those reported in it, and those
// still open at its end (reported before it ends and back, if at all, on or after its end).
Status Missing(Run& r) {
  enum { kEpisodes, kChildren, kThreePlus, kReturned, kOpen, kOffered, kAccepted, kWithin72 };
  auto acc =
      r.NewAccumulator({"episodes", "children", "children_3_plus", "returned", "open_at_end",
                        "interviews_offered", "interviews_accepted", "interviews_within_72h"});
  const Window& w = r.window;
  RowGrouping grouping(r.by);
  std::map<std::pair<GroupKey, std::string>, int> per_child;  // episodes in the period
  auto ids = [](std::initializer_list<std::string> of) {
    std::vector<std::string> out;
    for (const auto& id : of) {
      if (!id.empty()) out.push_back(id);
    }
    return out;
  };
  CARELEDGER_RETURN_IF_ERROR(
      ForEachRow(r, RowKind::kMissingEpisode, SpansRunningOn(w.from), [&](const KeptRow& row) {
        const Date reported = codec::DateFromDaysKey(uint32_t(row.number));
        const std::string& report = row.event_ids[0];
        const std::string& back = row.event_ids[1];
        const std::string& interview = row.event_ids[2];
        auto key = grouping.Key(row);
        // A span row is dated the day after the later of report and return.
        bool open_at_end =
            reported < w.to && (!row.returned || row.on - std::chrono::days{1} >= w.to);
        if (open_at_end) acc.AddRow(key, kOpen, 1, row, {report});
        if (!w.Contains(reported)) return;
        acc.AddRow(key, kEpisodes, 1, row, ids({report, back, interview}));
        int& episodes = per_child[{key, row.child_id}];
        if (++episodes == 1) acc.Add(key, kChildren, 1);
        if (episodes == 3) acc.Add(key, kThreePlus, 1);
        if (!row.returned) return;
        acc.AddRow(key, kReturned, 1, row, {back});
        acc.Sample(key, kReturned, double(row.seconds_away) / 3600.0);
        if (row.offered) acc.AddRow(key, kOffered, 1, row, {interview});
        if (row.accepted) acc.AddRow(key, kAccepted, 1, row, {interview});
        if (row.within_72h) acc.AddRow(key, kWithin72, 1, row, {interview});
      }));
  r.Emit(acc,
         {"episodes", "children", "children_3_plus", "episodes_per_child", "median_hours",
          "p90_hours", "open_at_end", "interviews_offered_pct", "interviews_accepted_pct",
          "interviews_within_72h_pct"},
         [](const RowAccumulator& a) {
           const auto& n = a.counts;
           return std::vector<Figure>{
               Figure::Count(n[kEpisodes]),
               Figure::Count(n[kChildren]),
               Figure::Count(n[kThreePlus]),
               Figure::Average(double(n[kEpisodes]), n[kChildren]).Columns(0, 1),
               MaybeSample(a.samples[kReturned], true),
               MaybeSample(a.samples[kReturned], false),
               Figure::Count(n[kOpen]),
               Figure::Percent(n[kOffered], n[kReturned]),
               Figure::Percent(n[kAccepted], n[kOffered]),
               Figure::Percent(n[kWithin72], n[kReturned])};
         });
  // The homes with most episodes first: the panel's "top 10" is the head of this table.
  if (r.by == std::vector<std::string>{"home_id"}) {
    std::stable_sort(r.table.rows.begin(), r.table.rows.end(),
                     [](const ReportTable::Row& a, const ReportTable::Row& b) {
                       return *a.values[0].value > *b.values[0].value;
                     });
  }
  return Status::Ok();
}

}  // namespace careledger::metrics
