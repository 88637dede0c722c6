// A metric query as given on the command line: its selectors (--at, --period, --known-at, --by,
// --series) and a lineage's --cell, parsed and checked for form.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "careledger/projections.h"
#include "dimensions.h"

namespace careledger {

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  for (size_t start = 0; start < s.size();) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A period as asked: FROM..TO (half open, ISO dates), a financial year ending 31 March
// ("2025-26": 1 April 2025 to 31 March 2026), a calendar quarter ("2026Q3": July to September
// 2026) or the last complete calendar quarter before `today`.
std::optional<std::pair<Date, Date>> ParsePeriod(const std::string& text, Date today) {
  using std::chrono::year, std::chrono::month;
  auto number = [&](size_t from, size_t n) -> std::optional<int> {
    if (from + n > text.size()) return std::nullopt;
    int v = 0;
    for (size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto quarter = [](int y, int q) {
    Date from{year{y} / month{unsigned(3 * q - 2)} / 1};
    return std::pair{from, metrics::AddMonths(from, 3)};
  };
  if (auto dots = text.find(".."); dots != std::string::npos) {
    auto from = ParseDate(text.substr(0, dots));
    auto to = ParseDate(text.substr(dots + 2));
    if (!from.ok() || !to.ok()) return std::nullopt;
    return std::pair{*from, *to};
  }
  if (text == "last-complete-quarter") {
    std::chrono::year_month_day ymd{today};
    int y = int(ymd.year()), q = int((unsigned(ymd.month()) - 1) / 3) + 1;
    if (--q == 0) {
      q = 4;
      --y;
    }
    return quarter(y, q);
  }
  if (text.size() == 7 && text[4] == '-') {
    auto y = number(0, 4), next = number(5, 2);
    if (!y || !next || *next != (*y + 1) % 100) return std::nullopt;
    const YearEnding financial{*y + 1};
    return std::pair{financial.First(), financial.End()};
  }
  if (text.size() == 6 && (text[4] == 'Q' || text[4] == 'q')) {
    auto y = number(0, 4), q = number(5, 1);
    if (!y || !q || *q < 1 || *q > 4) return std::nullopt;
    return quarter(*y, *q);
  }
  return std::nullopt;
}

}  // namespace

Date TodayAsKnownAt(Date today, Instant known_at) {
  // Not a forecast of today's figures as known at T: what the report said on T's day.
  return std::min(today, std::chrono::floor<std::chrono::days>(known_at));
}

Result<MetricQuery> ParseMetricSelectors(const MetricSelectorText& text,
                                         const MetricSelectorNames& names,
                                         std::optional<Date> today) {
  MetricQuery q;
  q.metric = text.metric;
  q.today = today.value_or(Today());
  auto bad = [](std::string_view name, std::string_view what, const std::string& value) {
    return Status::BadInput(std::string(name) + ": not " + std::string(what) + ": " + value);
  };
  if (!text.known_at.empty()) {
    auto t = ParseTimestamp(text.known_at);
    if (!t.ok()) return bad(names.known_at, "an RFC 3339 time", text.known_at);
    q.known_at = t->instant;
    q.today = TodayAsKnownAt(q.today, t->instant);
  }
  if (!text.at.empty()) {
    auto d = ParseDate(text.at);
    if (!d.ok()) return bad(names.at, "a date (YYYY-MM-DD)", text.at);
    q.at = *d;
  }
  if (!text.period.empty()) {
    q.period = ParsePeriod(text.period, q.today);
    if (!q.period) {
      return bad(names.period,
                 "FROM..TO with ISO dates, a financial year (2025-26), a quarter (2026Q3) or "
                 "last-complete-quarter",
                 text.period);
    }
  }
  q.by = SplitComma(text.by);
  if (!text.series.empty()) {
    if (text.series != "monthly") return bad(names.series, "monthly", text.series);
    q.monthly = true;
  }
  return q;
}

Result<Cell> ParseCell(const std::string& text, const MetricSelectorNames& names) {
  Cell cell;
  for (const std::string& pair : SplitComma(text)) {
    auto eq = pair.find('=');
    if (eq == std::string::npos) {
      return Status::BadInput(std::string(names.cell) + ": not DIM=VALUE: " + pair);
    }
    cell[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return cell;
}

}  // namespace careledger
