// The query being answered (Run, run.h): the area's population, the table it emits, the kept
// rows it reads (or their fold) and the lineage of the rows it counted; and a figure's arithmetic.
#include <algorithm>
#include <set>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

Figure Figure::Percent(int64_t num, int64_t den) {
  Figure f = Make(Kind::kPercent, std::nullopt, num, den);
  if (den != 0) f.value = 100.0 * double(num) / double(den);
  return f;
}

Figure Figure::Rate(int64_t num, int64_t population) {
  Figure f = Make(Kind::kPerHundredThousand, std::nullopt, num, population);
  if (population > 0) f.value = 100000.0 * double(num) / double(population);
  return f;
}

Figure Figure::RatePerThousand(int64_t num, int64_t population) {
  Figure f = Make(Kind::kPerThousand, std::nullopt, num, population);
  if (population > 0) f.value = 1000.0 * double(num) / double(population);
  return f;
}

Figure Figure::Ratio(std::optional<double> a, std::optional<double> b) {
  Figure f = Empty(Kind::kRatio);
  if (a && b && *b != 0) f.value = *a / *b;
  return f;
}

Figure Figure::Average(double total, int64_t n, Kind kind) {
  Figure f = Make(kind, std::nullopt, std::nullopt, n);
  if (n > 0) f.value = total / double(n);
  return f;
}

namespace metrics {

int PopulationYear(const Window& w) {
  Date middle = w.from + (w.to - w.from) / 2;
  return int(std::chrono::year_month_day{middle}.year());
}

std::optional<AreaPopulation> Run::LatestPopulation(int population_year) const {
  std::optional<AreaPopulation> p;
  for (int y = population_year; query.population && y >= population_year - 2 && !p; --y) {
    p = query.population(y);
    if (p && p->aged_10_17 <= 0) p.reset();
  }
  return p;
}

std::optional<int64_t> Run::Population10To17(int population_year) {
  std::optional<AreaPopulation> p = LatestPopulation(population_year);
  if (!p) {
    table.notes.push_back("no area population aged 10-17 for " + std::to_string(population_year) +
                          " in the settings ([population] " + std::to_string(population_year) +
                          " = { aged_10_17 = N, under_18 = N }): rates are left blank");
    return std::nullopt;
  }
  table.notes.push_back("area population aged 10-17 (" + std::to_string(p->year) +
                        (p->year == population_year
                             ? ""
                             : ", the latest estimate for " + std::to_string(population_year)) +
                        "): " + std::to_string(p->aged_10_17));
  return p->aged_10_17;
}

void Run::Emit(Accumulator& acc, const std::vector<std::string>& measures,
               const std::function<std::vector<Figure>(const RowAccumulator&)>& derive) {
  if (by.empty()) acc.Row({});
  table.dimensions = by;
  table.measures = measures.size() == 1 ? std::vector<std::string>{"value"} : measures;
  for (auto& [key, row] : acc.rows()) table.rows.push_back({key, derive(row)});
  lineage = acc.TakeLineage();
  judged = acc.TakeJudged();
}

Status NameJudgedRows(Run& r) {
  if (r.judged.empty()) return Status::Ok();
  std::vector<std::string> ids;
  for (const auto& j : r.judged) {
    if (ids.empty() || ids.back() != j.child_id) ids.push_back(j.child_id);
  }
  std::set<LineageEntry, LineageLess> named(r.lineage.begin(), r.lineage.end());
  CARELEDGER_RETURN_IF_ERROR(r.ChildrenNamed(ids, [&](const ChildView& child) {
    // The child's rows again, as its timeline gives them (once a kind), for the day each
    // was judged on.
    std::map<RowKind, std::vector<KeptRow>> rows_of;
    auto first = r.judged.lower_bound({std::string(child.child_id), RowKind{}, {}, {}, {}});
    for (auto j = first; j != r.judged.end() && j->child_id == child.child_id; ++j) {
      auto [rows, added] = rows_of.try_emplace(j->kind);
      if (added) rows->second = KeptRowsOf(j->kind, child);
      Date judged_on = j->on;
      for (const auto& row : rows->second) {
        if (row.item_id == j->item_id && row.on == j->on) judged_on = row.judged_on;
      }
      for (const auto& d : r.by) {
        for (const Fact* f : DimensionFacts(d, child, judged_on)) {
          named.insert({j->measure, f->event_id});
        }
      }
    }
  }));
  r.lineage.assign(named.begin(), named.end());
  return Status::Ok();
}

std::vector<Figure> Counts(const RowAccumulator& r) {
  std::vector<Figure> out;
  for (auto n : r.counts) out.push_back(Figure::Count(n));
  return out;
}

namespace {

// Rows from several places, visited in the order one store gives them (by key: date, child,
// item), so that every figure and its lineage come out as from one store.
class RowsInKeyOrder {
 public:
  void Add(KeptRow row) { rows_.emplace_back(RowKey(row), std::move(row)); }
  void Visit(const std::function<void(const KeptRow&)>& visit) {
    std::stable_sort(rows_.begin(), rows_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, row] : rows_) visit(row);
  }

 private:
  std::vector<std::pair<std::string, KeptRow>> rows_;
};

}  // namespace

Status ForEachRow(Run& r, RowKind kind, const Window& window,
                  const std::function<void(const KeptRow&)>& visit) {
  if (r.query.fold) {
    return r.Children([&](const ChildView& c) {
      for (const auto& row : KeptRowsOf(kind, c)) {
        if (window.Contains(row.on)) visit(row);
      }
    });
  }
  // As known at T, a row made ahead of a day after T's was a forecast then, and the values it
  // held as such are not kept (LastDayKnownAt): those days are folded as they stood at T.
  Window kept = window;
  if (r.query.known_at && MadeAhead(kind)) {
    kept.to = std::clamp(LastDayKnownAt(*r.query.known_at) + std::chrono::days{1}, window.from,
                         window.to);
  }
  if (kept.to == window.to && r.sources.size() == 1) {
    return r.sources.front()->Rows(kind, kept, r.query.known_at, visit);
  }
  RowsInKeyOrder rows;
  if (kept.from < kept.to) {
    CARELEDGER_RETURN_IF_ERROR(r.EachSource([&](const Source& s) {
      return s.Rows(kind, kept, r.query.known_at, [&](const KeptRow& row) { rows.Add(row); });
    }));
  }
  if (kept.to < window.to) {
    const Window ahead{kept.to, window.to};
    CARELEDGER_RETURN_IF_ERROR(r.Children([&](const ChildView& c) {
      for (auto& row : KeptRowsOf(kind, c)) {
        if (ahead.Contains(row.on)) rows.Add(std::move(row));
      }
    }));
  }
  rows.Visit(visit);
  return Status::Ok();
}

Result<std::map<std::string, int64_t>> Run::CountersOn(Date on, std::string_view dimension) const {
  std::map<std::string, int64_t> sum;
  CARELEDGER_RETURN_IF_ERROR(EachSource([&](const Source& s) -> Status {
    auto counts = s.Counters(on, dimension);
    if (!counts.ok()) return counts.status();
    for (const auto& [value, n] : *counts) sum[value] += n;
    return Status::Ok();
  }));
  return sum;
}

Status ForEachOutcome(Run& r, const std::function<void(const KeptRow&)>& visit) {
  return ForEachRow(r, RowKind::kOutcome, r.window, visit);
}

}  // namespace metrics

}  // namespace careledger
