// The Prometheus text exposition (format 0.0.4) of /metrics: the monitoring gauges, offset
// gaps, held corrections and the store's size, then the pipeline's own metrics when it has some.
#include <algorithm>
#include <filesystem>
#include <map>

#include "careledger/reporting.h"
#include "http_server.h"

namespace careledger::http_detail {

namespace {

uint64_t DirectoryBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

// The gauges are the API's own figures for today, read from what ingest keeps (never a fold
// of every child), so that /metrics and /api/v1/metrics cannot disagree.
Status ReadMonitoringFigures(const EventStore& store, const Stores& stores, Date today,
                             const ServeOptions& options, MonitoringFigures& out) {
  const int64_t threshold = options.threshold;
  MonitoringFigures f{.log_next = store.next_sequence(),
                      .day = today,
                      .yjs_open = {{"cla", 0}, {"care_leaver", 0}, {"other", 0}},
                      .yjs_withheld = {}};
  auto query = [&](std::string metric, std::vector<std::string> by,
                   std::optional<std::pair<Date, Date>> period) {
    MetricQuery q;
    q.metric = std::move(metric);
    q.by = std::move(by);
    q.today = today;
    if (period) {
      q.period = period;
    } else {
      q.at = today;
    }
    return q;
  };
  auto ask = [&](std::string metric, std::vector<std::string> by,
                 std::optional<std::pair<Date, Date>> period) -> Result<ReportTable> {
    return RunMetric(stores, query(std::move(metric), std::move(by), period));
  };
  // A count measure of one row, or its total over the table's rows (0 when there is none).
  auto count = [](const ReportTable& t, std::string_view measure, const ReportTable::Row& row) {
    auto m = std::find(t.measures.begin(), t.measures.end(), measure);
    if (m == t.measures.end()) return int64_t{0};
    return int64_t(row.values[size_t(m - t.measures.begin())].value.value_or(0));
  };
  auto total = [&](const ReportTable& t, std::string_view measure) {
    int64_t n = 0;
    for (const auto& row : t.rows) n += count(t, measure, row);
    return n;
  };
  auto leavers = ask("care-leavers", {}, std::nullopt);
  if (!leavers.ok()) return leavers.status();
  f.care_leavers = total(*leavers, "care_leavers");
  // Reported this month up to today, and every episode open at the end of today.
  const std::chrono::year_month_day ymd{today};
  const Date month_start{ymd.year() / ymd.month() / 1};
  auto missing = ask("missing", {}, std::pair{month_start, today + std::chrono::days{1}});
  if (!missing.ok()) return missing.status();
  f.missing_month = total(*missing, "episodes");
  f.missing_open = total(*missing, "open_at_end");
  const MetricQuery by_cohort = query("yjs-caseload", {"cohort"}, std::nullopt);
  auto yjs = RunMetric(stores, by_cohort);
  if (!yjs.ok()) return yjs.status();
  // Protected as the API's published table of the same query is: a scrape without the token
  // and GET /api/v1/metrics/yjs-caseload (by nothing) must not give a small count back
  // between them.
  const auto shown = Protect(*yjs, threshold, BreakdownsOf(stores, by_cohort));
  const auto open = std::find(yjs->measures.begin(), yjs->measures.end(), "open_cases");
  for (size_t i = 0; i < yjs->rows.size(); ++i) {
    const auto& row = yjs->rows[i];
    f.yjs_open[row.groups.at(0)] = count(*yjs, "open_cases", row);
    if (open != yjs->measures.end() &&
        shown[i][size_t(open - yjs->measures.begin())] != Shown::kFigure) {
      f.yjs_withheld.insert(row.groups.at(0));
    }
  }
  // The KPIs of the last complete quarter: their statuses only (a status is published even
  // where its figure is withheld), so the year before is not read.
  auto quarter = ParseMetricSelectors({"outcomes", "", "last-complete-quarter", "", ""}, {}, today);
  if (!quarter.ok()) return quarter.status();
  auto reference = ReferenceFigures::Load(store);
  if (!reference.ok()) return reference.status();
  auto kpis = EvaluateKpis(stores, options.kpis, *reference,
                           {.period = *quarter->period,
                            .today = today,
                            .population = options.population,
                            .area = options.area,
                            .year_earlier = false});
  if (!kpis.ok()) return kpis.status();
  for (const auto& k : *kpis) f.kpi_status.emplace_back(k.kpi.id, KpiStatusGauge(k.status));
  out = std::move(f);
  return Status::Ok();
}

// The monitoring gauges. A count from 1 to threshold-1 is left out of the published view: an
// absent series rather than a made-up number (Prometheus has no "<5").
void AppendMonitoringGauges(PrometheusText& x, int64_t cla_children, const MonitoringFigures& f,
                            bool published, int64_t threshold) {
  auto gauge = [&](std::string_view name, const std::vector<std::pair<std::string, std::string>>& l,
                   int64_t n) {
    if (published && n > 0 && n < threshold) return;
    x.Sample(name, l, double(n));
  };
  x.Family("careledger_cla_children", "gauge", "Children looked after today (M1)");
  gauge("careledger_cla_children", {}, cla_children);
  x.Family("careledger_care_leavers", "gauge", "Care leavers aged 16-25 today (M2)");
  gauge("careledger_care_leavers", {}, f.care_leavers);
  x.Family("careledger_missing_open_episodes", "gauge",
           "Missing episodes reported and not yet returned");
  gauge("careledger_missing_open_episodes", {}, f.missing_open);
  x.Family("careledger_missing_episodes_this_month", "gauge",
           "Missing episodes reported since the first of this month");
  gauge("careledger_missing_episodes_this_month", {}, f.missing_month);
  x.Family("careledger_yjs_open_cases", "gauge", "Open youth justice cases by cohort today");
  for (const auto& [cohort, n] : f.yjs_open) {
    if (published && f.yjs_withheld.contains(cohort)) continue;
    gauge("careledger_yjs_open_cases", {{"cohort", cohort}}, n);
  }
  x.Family("careledger_kpi_status", "gauge",
           "Each KPI for the last complete quarter: 0 on target (green), 1 amber, 2 red, -1 no "
           "target or no figure");
  for (const auto& [kpi, status] : f.kpi_status) {
    x.Sample("careledger_kpi_status", {{"kpi", kpi}}, status);
  }
  x.Family("careledger_published", "gauge",
           "1 when small counts are left out of this scrape (no bearer token), 0 when exact");
  x.Sample("careledger_published", {}, published ? 1 : 0);
}

// Offset gaps ingest met (ops/runbooks/offset-gap.md): an open one has stopped ingest.
Status AppendOffsetGaps(const EventStore& store, PrometheusText& x) {
  auto gaps = store.Gaps();
  if (!gaps.ok()) return gaps.status();
  x.Family("careledger_offset_gap_messages", "gauge",
           "Messages of a partition the store never read and the brokers no longer hold; "
           "state=open stops ingest until an operator accepts the gap");
  for (const auto& gap : *gaps) {
    x.Sample("careledger_offset_gap_messages",
             {{"topic", gap.partition.topic},
              {"partition", std::to_string(gap.partition.partition)},
              {"state", gap.accepted ? "accepted" : "open"}},
             double(gap.to >= gap.from ? gap.to - gap.from : gap.from - gap.to));
  }
  return Status::Ok();
}

// Corrections that have not taken effect (`careledger corrections`): the figures do not yet
// reflect what a source has corrected.
Status AppendHeldCorrections(const EventStore& store, PrometheusText& x) {
  auto held = store.HeldCorrections();
  if (!held.ok()) return held.status();
  std::map<std::pair<std::string_view, std::string_view>, uint64_t> held_by;
  Instant oldest = Instant::max();
  for (const auto& kind : {"supersedes", "retraction"}) {
    for (const auto& state : {"awaiting_target", "other_child"}) held_by[{kind, state}] = 0;
  }
  for (const auto& h : *held) {
    ++held_by[{h.retraction ? "retraction" : "supersedes",
               h.other_child ? "other_child" : "awaiting_target"}];
    oldest = std::min(oldest, h.held_at);
  }
  x.Family("careledger_corrections_held", "gauge",
           "Corrections (supersedes) and retractions ingest holds because their target is not "
           "stored (awaiting_target) or is another child's event (other_child, never applies)");
  for (const auto& [key, n] : held_by) {
    x.Sample("careledger_corrections_held",
             {{"kind", std::string(key.first)}, {"state", std::string(key.second)}}, double(n));
  }
  x.Family("careledger_corrections_held_oldest_timestamp_seconds", "gauge",
           "When the longest-held correction was first held (absent when none is)");
  if (!held->empty()) {
    x.Sample("careledger_corrections_held_oldest_timestamp_seconds", {},
             double(oldest.time_since_epoch().count()));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> PrometheusMetrics(const EventStore& store, const Stores& stores,
                                      const ServeOptions& options, bool published,
                                      MonitoringFigures& cached) {
  PrometheusText x;
  const Date today = options.today();

  // CLA today: this store's counter cells, or the area's from every instance's store.
  int64_t cla_children = 0;
  if (stores.size() == 1) {
    auto cla = ClaAt(store, today, ClaDimension::kNone);
    if (!cla.ok()) return cla.status();
    for (const auto& row : *cla) cla_children += row.children;
  } else {
    MetricQuery q;
    q.metric = "cla";
    q.at = today;
    q.by = {"none"};
    auto cla = RunMetric(stores, q);
    if (!cla.ok()) return cla.status();
    cla_children = cla->rows.empty() ? 0 : int64_t(cla->rows[0].values[0].value.value_or(0));
  }

  // Kept while this store's log and the day are the same; figures read from other instances
  // too are read again at every scrape.
  if (stores.size() > 1 || cached.yjs_open.empty() || cached.log_next != store.next_sequence() ||
      cached.day != today) {
    CARELEDGER_RETURN_IF_ERROR(ReadMonitoringFigures(store, stores, today, options, cached));
  }
  AppendMonitoringGauges(x, cla_children, cached, published, options.threshold);
  CARELEDGER_RETURN_IF_ERROR(AppendOffsetGaps(store, x));
  CARELEDGER_RETURN_IF_ERROR(AppendHeldCorrections(store, x));

  if (!options.store_path.empty()) {
    x.Family("careledger_store_size_bytes", "gauge", "Bytes on disk under the store directory");
    x.Sample("careledger_store_size_bytes", {}, double(DirectoryBytes(options.store_path)));
  }

  if (options.pipeline) options.pipeline->AppendMetrics(x);
  return x.Take();
}

}  // namespace careledger::http_detail
