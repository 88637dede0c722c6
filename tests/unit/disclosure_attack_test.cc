// Disclosure control of published output (spec/metrics.md "Publishing rules"): an attack on
// real reports of a generated store. An attacker who
// reads a published table, knows its totals (the same report without each --by dimension) and
// how its columns relate, tries to work back every hidden count, and the test fails if any
// comes out. The attacker is written here from the spec, not from reporting/src/disclosure.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "careledger/reporting.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Day;

constexpr int64_t kThreshold = 5;

// ---- The attack -------------------------------------------------------------------------------

// How a published report's columns relate, as spec/metrics.md defines them.
struct Layout {
  std::vector<size_t> counts;  // columns of counts (children, events)
  struct Share {               // a percentage: numerator / denominator × 100
    size_t column;
    std::optional<size_t> numerator, denominator;  // unset: not a column of the report
  };
  std::vector<Share> shares;
  struct Sum {
    size_t total;
    std::vector<size_t> parts;
  };
  std::vector<Sum> sums;
};

bool Hidden(const std::string& text) {
  return text == "c" || text.starts_with("<");
}

// One table the attacker reads: the figures as published (empty when nobody can ask for it:
// its counts are then unknowns) and, for the test's bookkeeping, the truth.
struct Read {
  ReportTable exact;
  std::optional<std::vector<std::vector<std::string>>> shown;
  bool asked = true;  // false: a total nobody can ask for; what it hides is not published
};

// One count the attacker reasons about: a cell of a table read, or the numerator of a
// percentage whose count the report does not show.
struct Var {
  size_t table = 0, row = 0, column = 0;
  int64_t value = 0;  // the truth: the attacker's constants are sums of these
  bool hidden = false;
  int64_t lo = 0, hi = std::numeric_limits<int32_t>::max();
  std::optional<int64_t> known;
};

struct Term {
  size_t var;
  int coefficient;
};

// The attacker's unknowns and where each sits (table, row, column).
struct Unknowns {
  std::vector<Var> vars;
  std::map<std::tuple<size_t, size_t, size_t>, size_t> var_of;

  std::optional<size_t> At(size_t t, size_t r, size_t c) const {
    auto it = var_of.find({t, r, c});
    if (it == var_of.end()) return std::nullopt;
    return it->second;
  }
};

bool IsShare(const Layout& layout, size_t c) {
  return std::any_of(layout.shares.begin(), layout.shares.end(),
                     [&](const Layout::Share& s) { return s.column == c; });
}

// One variable for each count (and each percentage without its count) of every table read,
// with what its published text says of it.
Unknowns ReadCells(const std::vector<Read>& tables, const Layout& layout) {
  Unknowns u;
  for (size_t t = 0; t < tables.size(); ++t) {
    const auto& rows = tables[t].exact.rows;
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<size_t> columns = layout.counts;
      for (const auto& s : layout.shares) {
        if (!s.numerator) columns.push_back(s.column);
      }
      for (size_t c : columns) {
        const Figure& f = rows[r].values[c];
        if (!f.numerator || (IsShare(layout, c) && !f.value)) continue;
        Var v;
        v.table = t;
        v.row = r;
        v.column = c;
        v.value = *f.numerator;
        if (tables[t].shown) {
          const std::string& text = (*tables[t].shown)[r][c];
          v.hidden = tables[t].asked && Hidden(text);
          if (text.starts_with("<")) {
            v.lo = 1;
            v.hi = std::stoll(text.substr(1)) - 1;
          } else if (!v.hidden && !IsShare(layout, c)) {
            v.known = std::stoll(text);
          }
        }
        u.var_of[{t, r, c}] = u.vars.size();
        u.vars.push_back(v);
      }
    }
  }
  return u;
}

// Percentages: the numerator from the shown value and a known denominator, or the other way.
bool RecoverShares(const std::vector<Read>& tables, const Layout& layout, Unknowns& u) {
  std::vector<Var>& vars = u.vars;
  bool changed = false;
  for (size_t t = 0; t < tables.size(); ++t) {
    if (!tables[t].shown) continue;
    for (size_t r = 0; r < tables[t].exact.rows.size(); ++r) {
      for (const auto& s : layout.shares) {
        const std::string& text = (*tables[t].shown)[r][s.column];
        if (text.empty() || Hidden(text)) continue;
        double pct = std::stod(text);
        auto num = u.At(t, r, s.numerator ? *s.numerator : s.column);
        auto den = s.denominator ? u.At(t, r, *s.denominator) : std::nullopt;
        if (!num || !den) continue;
        Var& n = vars[*num];
        Var& d = vars[*den];
        auto solve = [&](Var& unknown, auto fits) {
          std::optional<int64_t> only;
          int found = 0;
          for (int64_t x = unknown.lo; x <= std::min<int64_t>(unknown.hi, 100000) && found < 2;
               ++x) {
            if (fits(x)) {
              only = x;
              ++found;
            }
          }
          if (found == 1) {
            unknown.known = only;
            changed = true;
          }
        };
        if (!n.known && d.known && *d.known > 0) {
          solve(n, [&](int64_t x) {
            return std::abs(100.0 * double(x) / double(*d.known) - pct) <= 0.05 + 1e-9;
          });
        } else if (n.known && !d.known && *n.known > 0) {
          solve(d, [&](int64_t x) {
            return x > 0 && std::abs(100.0 * double(*n.known) / double(x) - pct) <= 0.05 + 1e-9;
          });
        }
      }
    }
  }
  return changed;
}

// The linear totals: every line along a dimension less the cell of the table without it, and
// every row's parts less its total, each Σ a·x = 0.
std::vector<std::vector<Term>> Totals(const std::vector<Read>& tables, const Layout& layout,
                                      const Unknowns& u) {
  const std::vector<Var>& vars = u.vars;
  std::vector<std::vector<Term>> equations;
  auto table_by = [&](const std::vector<std::string>& dims) -> std::optional<size_t> {
    for (size_t t = 0; t < tables.size(); ++t) {
      if (tables[t].exact.dimensions == dims) return t;
    }
    return std::nullopt;
  };
  for (size_t t = 0; t < tables.size(); ++t) {
    const ReportTable& table = tables[t].exact;
    for (size_t d = 0; d < table.dimensions.size(); ++d) {
      auto parent_dims = table.dimensions;
      parent_dims.erase(parent_dims.begin() + long(d));
      auto parent = table_by(parent_dims);
      std::map<std::pair<size_t, std::vector<std::string>>, std::vector<Term>> lines;
      for (size_t i = 0; i < vars.size(); ++i) {
        if (vars[i].table != t) continue;
        auto rest = table.rows[vars[i].row].groups;
        rest.erase(rest.begin() + long(d));
        lines[{vars[i].column, rest}].push_back({i, 1});
      }
      for (auto& [key, terms] : lines) {
        if (!parent) continue;
        for (size_t r = 0; r < tables[*parent].exact.rows.size(); ++r) {
          if (tables[*parent].exact.rows[r].groups != key.second) continue;
          if (auto total = u.At(*parent, r, key.first)) terms.push_back({*total, -1});
        }
        equations.push_back(terms);
      }
    }
    for (const auto& sum : layout.sums) {
      for (size_t r = 0; r < table.rows.size(); ++r) {
        std::vector<Term> terms;
        for (size_t c : sum.parts) terms.push_back({*u.At(t, r, c), 1});
        terms.push_back({*u.At(t, r, sum.total), -1});
        equations.push_back(terms);
      }
    }
  }
  return equations;
}

// Interval reasoning on each total with what is known so far, and percentages again, until
// nothing more comes out.
void NarrowIntervals(const std::vector<Read>& tables, const Layout& layout,
                     const std::vector<std::vector<Term>>& equations, Unknowns& u) {
  std::vector<Var>& vars = u.vars;
  bool changed = true;
  while (changed) {
    changed = RecoverShares(tables, layout, u);
    for (const auto& terms : equations) {
      std::vector<Term> unknown;
      int64_t rest = 0;  // Σ a·x over the unknowns: the constant less the known terms
      for (Term t : terms) {
        if (vars[t.var].known) continue;
        unknown.push_back(t);
        rest += t.coefficient * vars[t.var].value;
      }
      for (Term t : unknown) {
        int64_t lo_others = 0, hi_others = 0;
        for (Term o : unknown) {
          if (o.var == t.var) continue;
          const Var& v = vars[o.var];
          lo_others += o.coefficient > 0 ? v.lo : -v.hi;
          hi_others += o.coefficient > 0 ? v.hi : -v.lo;
        }
        // a·x = rest − others
        int64_t lo = t.coefficient > 0 ? rest - hi_others : lo_others - rest;
        int64_t hi = t.coefficient > 0 ? rest - lo_others : hi_others - rest;
        lo = std::max(lo, vars[t.var].lo);
        hi = std::min(hi, vars[t.var].hi);
        if (lo == hi) {
          vars[t.var].known = lo;
          changed = true;
          break;
        }
      }
    }
  }
}

// Elimination: an unknown is recovered when some combination of the totals holds it alone.
void Eliminate(const std::vector<std::vector<Term>>& equations, std::vector<Var>& vars) {
  std::vector<size_t> unknown_index(vars.size(), SIZE_MAX);
  std::vector<size_t> unknowns;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!vars[i].known) {
      unknown_index[i] = unknowns.size();
      unknowns.push_back(i);
    }
  }
  std::vector<std::vector<double>> m;
  for (const auto& terms : equations) {
    std::vector<double> row(unknowns.size(), 0.0);
    bool any = false;
    for (Term t : terms) {
      if (unknown_index[t.var] == SIZE_MAX) continue;
      row[unknown_index[t.var]] += t.coefficient;
      any = true;
    }
    if (any) m.push_back(std::move(row));
  }
  std::vector<size_t> pivot_of_row;
  size_t rank = 0;
  for (size_t col = 0; col < unknowns.size() && rank < m.size(); ++col) {
    size_t best = rank;
    for (size_t r = rank; r < m.size(); ++r) {
      if (std::abs(m[r][col]) > std::abs(m[best][col])) best = r;
    }
    if (std::abs(m[best][col]) < 1e-9) continue;
    std::swap(m[rank], m[best]);
    double p = m[rank][col];
    for (double& x : m[rank]) x /= p;
    for (size_t r = 0; r < m.size(); ++r) {
      if (r == rank || std::abs(m[r][col]) < 1e-12) continue;
      double f = m[r][col];
      for (size_t k = 0; k < unknowns.size(); ++k) m[r][k] -= f * m[rank][k];
    }
    pivot_of_row.push_back(col);
    ++rank;
  }
  std::set<size_t> pivots(pivot_of_row.begin(), pivot_of_row.end());
  for (size_t r = 0; r < rank; ++r) {
    bool alone = true;
    for (size_t k = 0; k < unknowns.size(); ++k) {
      if (!pivots.count(k) && std::abs(m[r][k]) > 1e-9) alone = false;
    }
    if (alone) vars[unknowns[pivot_of_row[r]]].known = vars[unknowns[pivot_of_row[r]]].value;
  }
}

// The hidden, non-zero published counts the attacker now knows, each named by its table,
// groups and measure.
std::vector<std::string> Recovered(const std::vector<Read>& tables, const std::vector<Var>& vars) {
  std::vector<std::string> recovered;
  for (const auto& v : vars) {
    if (v.hidden && v.known && v.value != 0) {
      const ReportTable& t = tables[v.table].exact;
      std::string where = "by";
      for (const auto& d : t.dimensions) where += " " + d;
      where += ":";
      for (const auto& g : t.rows[v.row].groups) where += g + "/";
      recovered.push_back(where + t.measures[v.column] + "=" + std::to_string(v.value));
    }
  }
  return recovered;
}

// What the attacker can work out from a published table and the totals beside it (the same
// report by each smaller set of its --by dimensions, as published on its own). Unknowns are
// the hidden counts and the numerators of percentages whose count the report does not show;
// knowns come from shown cells, from a shown percentage and its shown denominator (one
// decimal place leaves one whole number under 1,000), and then from the linear totals: every
// line along a dimension adds up to the cell of the table without it, every row's total is the
// sum of its parts. Interval reasoning on each total ("<5" is 1 to 4), then elimination.
// Returns the hidden published counts the attacker recovers.
std::vector<std::string> Attack(const std::vector<Read>& tables, const Layout& layout) {
  Unknowns u = ReadCells(tables, layout);
  const std::vector<std::vector<Term>> equations = Totals(tables, layout, u);
  NarrowIntervals(tables, layout, equations, u);
  Eliminate(equations, u.vars);
  return Recovered(tables, u.vars);
}

std::vector<std::vector<std::string>> Published(const ReportTable& t, const RenderOptions& o) {
  std::vector<std::vector<std::string>> out;
  std::istringstream csv(Render(t, OutputFormat::kCsv, o));
  std::string line;
  std::getline(csv, line);
  while (std::getline(csv, line) && !line.starts_with("#")) {
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    cells.resize(t.dimensions.size() + t.measures.size());
    out.emplace_back(cells.begin() + long(t.dimensions.size()), cells.end());
  }
  return out;
}

// Primary suppression alone, as the attacker would see it: the test's proof that the attack
// finds what it should.
std::vector<std::vector<std::string>> PrimaryOnly(const ReportTable& t) {
  std::vector<std::vector<std::string>> out;
  for (const auto& row : t.rows) {
    std::vector<std::string> cells;
    for (const auto& f : row.values) {
      bool small = f.numerator && *f.numerator > 0 && *f.numerator < kThreshold;
      std::string text;
      if (f.value)
        text = small ? (f.kind == Figure::Kind::kCount ? "<5" : "c") : std::to_string(*f.value);
      cells.push_back(text);
    }
    out.push_back(std::move(cells));
  }
  return out;
}

class DisclosureAttack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto s = EventStore::Open({.path = dir_->path() + "/s", .sync = false});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = s->release();
    std::ostringstream feed;
    GeneratorOptions options{.children = 40000, .seed = 7};
    options.duplicate_rate = options.invalid_rate = 0;
    ASSERT_TRUE(GenerateFeed(options, feed).ok());
    std::vector<std::string> lines;
    std::istringstream in(feed.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    test::Fold(*store_, lines);
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
  }

  static ReportTable Run(const std::string& metric, std::vector<std::string> by,
                         std::optional<Date> at, std::optional<std::pair<Date, Date>> period) {
    MetricQuery q;
    q.metric = metric;
    q.by = by.empty() ? std::vector<std::string>{"none"} : std::move(by);
    q.at = at;
    q.period = period;
    q.today = Day(2026, 11, 23);
    auto t = RunMetric(*store_, q);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : ReportTable{};
  }

  static test::TempDir* dir_;
  static EventStore* store_;
};
test::TempDir* DisclosureAttack::dir_ = nullptr;
EventStore* DisclosureAttack::store_ = nullptr;

struct Case {
  std::string metric;
  std::vector<std::string> by;
  Layout layout;
};

Layout Lay(std::vector<size_t> counts, std::vector<Layout::Share> shares = {},
           std::vector<Layout::Sum> sums = {}) {
  Layout l;
  l.counts = std::move(counts);
  l.shares = std::move(shares);
  l.sums = std::move(sums);
  return l;
}

const std::vector<Case>& Cases() {
  // care-leavers: in touch, suitable accommodation and EET are shares of those with contact.
  const std::vector<Layout::Share> leavers = {{2, {}, 1}, {3, {}, 1}, {4, {}, 1}};
  static const std::vector<Case> cases = {
      {"cla", {"placement"}, Lay({0})},
      {"cla", {"legal_status", "age_band"}, Lay({0})},
      {"cla", {"home_id"}, Lay({0})},
      {"care-leavers", {"band"}, Lay({0, 1}, leavers)},
      {"care-leavers", {"band", "sex"}, Lay({0, 1}, leavers)},
      {"outcomes", {"cohort", "tier"}, Lay({0, 1})},
      {"outcomes", {"cohort", "offence_group"}, Lay({0, 1})},
      {"informal-share", {"cohort"}, Lay({0, 1}, {{2, 1, 0}})},
      {"informal-share", {"cohort", "sex"}, Lay({0, 1}, {{2, 1, 0}})},
      {"yjs-caseload", {"intervention"}, Lay({0, 1, 3}, {{2, 1, 0}, {4, 3, 0}})},
      // Episodes add up over cohorts and categories; children do not (one child can go
      // missing in both categories), so the attacker has no total for them.
      {"missing", {"cohort", "category"}, Lay({0, 6})},
      {"fte", {"cohort", "offence_group"}, Lay({0})},
      // total is the sum of the five kinds of call-out; change_pct compares it with a year
      // earlier.
      {"callouts",
       {"home_id", "month"},
       Lay({0, 1, 2, 3, 4, 5, 6}, {{7, 5, 6}}, {{5, {0, 1, 2, 3, 4}}})},
  };
  return cases;
}

// Every case, live and over past periods: nothing hidden comes back, from the table or from
// the totals beside it. The same attack on the same tables with small counts alone hidden
// recovers counts, so it can fail.
TEST_F(DisclosureAttack, NoHiddenCountCanBeWorkedBackFromWhatIsPublished) {
  int tables = 0, hidden_cells = 0, primary_only_leaks = 0;
  for (const auto& c : Cases()) {
    for (int year : {2024, 2025, 2026}) {
      bool at_metric =
          c.metric == "cla" || c.metric == "care-leavers" || c.metric == "yjs-caseload";
      std::optional<Date> at;
      std::optional<std::pair<Date, Date>> period;
      if (at_metric) {
        at = Day(year, 3, 31);
      } else {
        period = std::pair{Day(year - 1, 4, 1), Day(year, 4, 1)};
      }
      BreakdownRunner runner =
          [&](const std::vector<std::string>& by) -> std::optional<ReportTable> {
        ReportTable t = Run(c.metric, by, at, period);
        if (t.dimensions != by) return std::nullopt;
        return t;
      };
      RenderOptions published{.published = true, .threshold = kThreshold, .breakdowns = runner};
      ReportTable target = Run(c.metric, c.by, at, period);
      if (target.rows.empty()) continue;
      ++tables;
      std::vector<Read> reads{{target, Published(target, published), true}};
      std::vector<Read> primary{{target, PrimaryOnly(target), true}};
      for (auto& r : reads[0].shown.value()) {
        for (const auto& cell : r) hidden_cells += Hidden(cell) ? 1 : 0;
      }
      const size_t k = c.by.size();
      for (uint32_t subset = 0; subset + 1 < (1u << k); ++subset) {
        std::vector<std::string> by;
        for (size_t i = 0; i < k; ++i) {
          if (subset & (1u << i)) by.push_back(c.by[i]);
        }
        auto total = runner(by);
        if (total) {
          reads.push_back({*total, Published(*total, published), true});
          primary.push_back({*total, PrimaryOnly(*total), true});
        } else {
          // Nobody can ask for it (outcomes by nothing), but it is the sum of any breakdown
          // shown in full: the attacker knows it unless it is small.
          ReportTable sums;
          sums.dimensions = by;
          sums.measures = target.measures;
          std::map<std::vector<std::string>, std::vector<int64_t>> cells;
          for (const auto& row : target.rows) {
            std::vector<std::string> key;
            for (size_t i = 0; i < k; ++i) {
              if (subset & (1u << i)) key.push_back(row.groups[i]);
            }
            auto& v = cells[key];
            v.resize(row.values.size());
            for (size_t col = 0; col < row.values.size(); ++col) {
              v[col] += row.values[col].numerator.value_or(0);
            }
          }
          for (auto& [key, v] : cells) {
            ReportTable::Row row{key, {}};
            for (int64_t n : v) row.values.push_back(Figure::Count(n));
            sums.rows.push_back(std::move(row));
          }
          reads.push_back({sums, PrimaryOnly(sums), false});
          primary.push_back({sums, PrimaryOnly(sums), false});
        }
      }
      auto leaks = Attack(reads, c.layout);
      if (!leaks.empty() && std::getenv("DEBUG_ATTACK")) {
        for (const auto& r : reads) {
          std::cerr << Render(r.exact, OutputFormat::kCsv);
          if (r.shown) {
            for (const auto& row : *r.shown) {
              for (const auto& cell : row) std::cerr << cell << ",";
              std::cerr << "\n";
            }
          }
        }
      }
      std::string by;
      for (const auto& d : c.by) by += d + " ";
      EXPECT_TRUE(leaks.empty()) << c.metric << " by " << by << "in " << year << ": "
                                 << leaks.size() << " recovered, first " << leaks[0];
      primary_only_leaks += int(Attack(primary, c.layout).size());
    }
  }
  EXPECT_EQ(tables, int(Cases().size()) * 3);
  EXPECT_GT(hidden_cells, 100) << "the generated store must have small counts to hide";
  EXPECT_GT(primary_only_leaks, 20) << "the attack must find what primary suppression leaves";
}

}  // namespace
}  // namespace careledger

namespace careledger {
namespace {

// --series monthly on a generated store: each block is the report for its month (a period
// metric over the month, a metric on a day on the month's last day), rows in the same order.
TEST_F(DisclosureAttack, EveryBlockOfAMonthlySeriesIsThatMonthsReport) {
  auto csv_rows = [](const ReportTable& t) {
    std::istringstream in(Render(t, OutputFormat::kCsv));
    std::vector<std::string> rows;
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line) && !line.starts_with("#")) rows.push_back(line);
    return rows;
  };
  for (const auto& [metric, by] : std::vector<std::pair<std::string, std::string>>{
           {"outcomes", "cohort"}, {"cla", "legal_status"}, {"missing", "category"}}) {
    MetricQuery q;
    q.metric = metric;
    q.by = {by};
    q.period = std::pair{Day(2025, 4, 1), Day(2026, 4, 1)};
    q.monthly = true;
    q.today = Day(2026, 11, 23);
    auto series = RunMetric(*store_, q);
    ASSERT_TRUE(series.ok()) << series.status().ToString();
    std::vector<std::string> want;
    for (int m = 0; m < 12; ++m) {
      Date from = Day(2025 + (3 + m) / 12, unsigned((3 + m) % 12 + 1), 1);
      Date to = Day(2025 + (4 + m) / 12, unsigned((4 + m) % 12 + 1), 1);
      std::optional<Date> at;
      std::optional<std::pair<Date, Date>> period = std::pair{from, to};
      if (metric == "cla") {
        at = to - std::chrono::days{1};
        period.reset();
      }
      std::string month = FormatDate(from).substr(0, 7);
      for (const auto& row : csv_rows(Run(metric, {by}, at, period))) {
        want.push_back(month + "," + row);
      }
    }
    EXPECT_EQ(csv_rows(*series), want) << metric;
    EXPECT_GT(want.size(), 12u) << metric;
  }
}

}  // namespace
}  // namespace careledger
