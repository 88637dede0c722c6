// Disclosure control for published output, as ONS and DfE publish: primary suppression of small
// counts, secondary suppression so that no hidden count can be worked back from the totals
// published beside it, and every figure derived from a hidden count hidden with it.
//
// The totals beside a table are the same figure by fewer --by dimensions, each as it is
// published on its own (protected the same way, first). Everything an attacker reads from
// them is a set of linear equations over counts, some known, some hidden with a known range
// ("<5" is 1 to 4, "c" at least 0); a table is published once no hidden count is pinned by one
// equation and no hidden count is a combination of the equations alone (Gaussian elimination,
// as tau-argus audits a suppression pattern).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

#include "careledger/reporting.h"

namespace careledger {

namespace {

using Mask = std::vector<std::vector<Shown>>;
constexpr int64_t kUnbounded = std::numeric_limits<int32_t>::max();

bool IsDerived(Figure::Kind kind) {
  return kind == Figure::Kind::kPercent || kind == Figure::Kind::kPerHundredThousand ||
         kind == Figure::Kind::kPerThousand || kind == Figure::Kind::kAverage ||
         kind == Figure::Kind::kHours;
}

// The count of children or events a published cell reveals: a count's own, or the numerator
// of a percentage or rate whose row does not show it (the published figure times the shown
// denominator gives it back). Nothing for averages, medians, ratios and reference figures.
std::optional<int64_t> Quantity(const Figure& f) {
  if (!f.numerator) return std::nullopt;
  if (f.kind == Figure::Kind::kCount) return f.value ? f.numerator : std::nullopt;
  bool share = f.kind == Figure::Kind::kPercent || f.kind == Figure::Kind::kPerHundredThousand ||
               f.kind == Figure::Kind::kPerThousand;
  if (share && !f.numerator_column && f.value) return f.numerator;
  return std::nullopt;
}

bool SmallCount(const std::optional<int64_t>& n, int64_t threshold) {
  return n && *n > 0 && *n < threshold;
}

// Primary suppression alone: small counts, and figures computed from small counts.
Mask Primary(const ReportTable& t, int64_t threshold) {
  Mask mask(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& values = t.rows[r].values;
    mask[r].assign(values.size(), Shown::kFigure);
    for (size_t c = 0; c < values.size(); ++c) {
      const Figure& f = values[c];
      if (!f.value) continue;
      if (f.kind == Figure::Kind::kCount && SmallCount(f.numerator, threshold)) {
        mask[r][c] = Shown::kSmall;
      }
      if (IsDerived(f.kind) &&
          (SmallCount(f.numerator, threshold) || SmallCount(f.denominator, threshold))) {
        mask[r][c] = Shown::kWithheld;
      }
    }
  }
  return mask;
}

// One table of the family: the one being protected (node 0) or a total beside it.
struct Node {
  std::vector<std::string> dimensions;
  ReportTable table;
  Mask mask;
  // false: a total nobody can ask for (outcomes by nothing), summed from this table. What it
  // would hide is not published, so it is not protected here; only used against the rest.
  bool asked = true;
  std::map<std::vector<std::string>, size_t> row_of;
};

struct Var {
  size_t node, row, column;
  int64_t value;  // the truth: the attacker's constants are sums of these
};

struct Term {
  size_t var;
  int coefficient;
};

class Protector {
 public:
  Protector(const ReportTable& table, int64_t threshold, const BreakdownRunner& breakdowns)
      : threshold_(threshold) {
    nodes_.push_back({table.dimensions, table, Primary(table, threshold), true, {}});
    AddTotals(table, breakdowns);
    for (auto& n : nodes_) {
      for (size_t r = 0; r < n.table.rows.size(); ++r) n.row_of[n.table.rows[r].groups] = r;
    }
    BuildVars();
    BuildEquations();
    equations_of_.resize(vars_.size());
    for (size_t e = 0; e < equations_.size(); ++e) {
      for (Term t : equations_[e]) equations_of_[t.var].push_back(e);
    }
  }

  Mask Run() {
    bool changed = true;
    while (changed) {
      changed = Derived();
      changed = Secondary() || changed;
      if (!changed) changed = Audit();
    }
    return std::move(nodes_[0].mask);
  }

 private:
  const ReportTable& Target() const { return nodes_[0].table; }
  Mask& TargetMask() { return nodes_[0].mask; }
  bool Hidden(size_t r, size_t c) const { return nodes_[0].mask[r][c] != Shown::kFigure; }

  // Every table by a proper subset of the dimensions, each protected on its own; where it
  // cannot be asked (or without a runner), the sums of this table with small ones suppressed.
  void AddTotals(const ReportTable& table, const BreakdownRunner& breakdowns) {
    const size_t k = table.dimensions.size();
    const bool series = std::find(table.selectors.begin(), table.selectors.end(),
                                  std::pair<std::string, std::string>{"series", "monthly"}) !=
                        table.selectors.end();
    for (uint32_t subset = 0; subset + 1 < (1u << k); ++subset) {
      std::vector<size_t> kept;
      std::vector<std::string> dims;
      for (size_t i = 0; i < k; ++i) {
        if (subset & (1u << i)) {
          kept.push_back(i);
          dims.push_back(table.dimensions[i]);
        }
      }
      Node n;
      n.dimensions = dims;
      std::optional<ReportTable> asked;
      if (breakdowns) asked = breakdowns(dims);
      if (asked && asked->dimensions == dims && asked->measures == table.measures) {
        n.table = std::move(*asked);
        n.mask = Protect(n.table, threshold_, breakdowns);
      } else if (series && !(subset & 1u)) {
        // Over the months of a series, a count on a day (CLA at each month end) has no total:
        // nothing ties the months together.
        continue;
      } else {
        // A total nobody can ask for (outcomes by nothing) is still the sum of any breakdown
        // that is shown in full: known, unless small.
        n.table = SumsOf(table, kept);
        n.mask = Primary(n.table, threshold_);
        n.asked = !breakdowns;
      }
      nodes_.push_back(std::move(n));
    }
  }

  // The table's counts summed over the dimensions not kept.
  static ReportTable SumsOf(const ReportTable& table, const std::vector<size_t>& kept) {
    ReportTable out;
    out.measures = table.measures;
    std::map<std::vector<std::string>, std::vector<std::optional<int64_t>>> sums;
    for (const auto& row : table.rows) {
      std::vector<std::string> key;
      key.reserve(kept.size());
      for (size_t i : kept) key.push_back(row.groups[i]);
      auto& s = sums[key];
      s.resize(row.values.size());
      for (size_t c = 0; c < row.values.size(); ++c) {
        if (auto q = Quantity(row.values[c])) s[c] = s[c].value_or(0) + *q;
      }
    }
    for (auto& [key, s] : sums) {
      ReportTable::Row row{key, {}};
      for (auto& n : s)
        row.values.push_back(n ? Figure::Count(*n) : Figure::Empty(Figure::Kind::kText));
      out.rows.push_back(std::move(row));
    }
    return out;
  }

  void BuildVars() {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      const auto& rows = nodes_[n].table.rows;
      for (size_t r = 0; r < rows.size(); ++r) {
        for (size_t c = 0; c < rows[r].values.size(); ++c) {
          if (auto q = Quantity(rows[r].values[c])) {
            var_of_[{n, r, c}] = vars_.size();
            vars_.push_back({n, r, c, *q});
          }
        }
      }
    }
  }

  std::optional<size_t> VarAt(size_t node, const std::vector<std::string>& key, size_t c) const {
    auto row = nodes_[node].row_of.find(key);
    if (row == nodes_[node].row_of.end()) return std::nullopt;
    auto v = var_of_.find({node, row->second, c});
    if (v == var_of_.end()) return std::nullopt;
    return v->second;
  }

  size_t NodeOf(const std::vector<std::string>& dims) const {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (nodes_[n].dimensions == dims) return n;
    }
    return nodes_.size();
  }

  // Each line along one dimension adds up to the total without it; each row's declared total
  // is the sum of its parts.
  void BuildEquations() {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      for (size_t d = 0; d < node.dimensions.size(); ++d) {
        std::vector<std::string> parent_dims = node.dimensions;
        parent_dims.erase(parent_dims.begin() + long(d));
        size_t parent = NodeOf(parent_dims);
        if (parent == nodes_.size()) continue;  // no such total: the line says nothing
        std::map<std::pair<size_t, std::vector<std::string>>, std::vector<Term>> lines;
        for (size_t i = 0; i < vars_.size(); ++i) {
          if (vars_[i].node != n) continue;
          auto rest = node.table.rows[vars_[i].row].groups;
          rest.erase(rest.begin() + long(d));
          lines[{vars_[i].column, rest}].push_back({i, 1});
        }
        for (auto& [key, terms] : lines) {
          if (auto total = VarAt(parent, key.second, key.first)) terms.push_back({*total, -1});
          equations_.push_back(std::move(terms));
        }
      }
      for (const auto& sum : Target().row_sums) {
        for (size_t r = 0; r < node.table.rows.size(); ++r) {
          std::vector<Term> terms;
          auto add = [&](size_t c, int coefficient) {
            if (auto v = var_of_.find({n, r, c}); v != var_of_.end()) {
              terms.push_back({v->second, coefficient});
            }
          };
          for (size_t p : sum.parts) add(p, 1);
          add(sum.total, -1);
          equations_.push_back(std::move(terms));
        }
      }
    }
  }

  Shown ShownOf(const Var& v) const { return nodes_[v.node].mask[v.row][v.column]; }
  // A hidden count: what must not be worked out.
  bool Sensitive(const Var& v) const {
    return nodes_[v.node].asked && ShownOf(v) != Shown::kFigure;
  }
  std::pair<int64_t, int64_t> Range(const Var& v) const {
    switch (ShownOf(v)) {
      case Shown::kFigure:
        return {v.value, v.value};
      case Shown::kSmall:
        return {1, threshold_ - 1};
      case Shown::kWithheld:
        break;
    }
    return {0, kUnbounded};
  }

  bool Withhold(size_t r, size_t c) {
    if (Hidden(r, c)) return false;
    TargetMask()[r][c] = Shown::kWithheld;
    return true;
  }

  // A figure computed from a hidden one is hidden: a percentage from its counts, a ratio from
  // its rates (its own row's and the reference row's).
  bool Derived() {
    bool changed = false;
    const ReportTable& t = Target();
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto& values = t.rows[r].values;
      for (size_t c = 0; c < values.size(); ++c) {
        const Figure& f = values[c];
        if (!f.value || Hidden(r, c)) continue;
        bool hide = false;
        if (IsDerived(f.kind)) {
          hide = (f.numerator_column && Hidden(r, *f.numerator_column)) ||
                 (f.denominator_column && Hidden(r, *f.denominator_column));
        } else if (f.kind == Figure::Kind::kRatio) {
          std::vector<size_t> from = f.from_columns;
          if (from.empty()) {
            for (size_t i = 0; i < values.size(); ++i) {
              if (values[i].kind != Figure::Kind::kRatio) from.push_back(i);
            }
          }
          const bool has_ref = r < t.reference_rows.size() && t.reference_rows[r].has_value();
          const size_t ref = has_ref ? t.reference_rows[r].value_or(0) : 0;
          for (size_t i : from) hide = hide || Hidden(r, i) || (has_ref && Hidden(ref, i));
        }
        if (hide) changed = Withhold(r, c) || changed;
      }
    }
    return changed;
  }

  // Takes from the attacker what pinned a count in this total: the smallest shown non-zero
  // count of the table joins the hidden ones; failing that, its "<5" cells become "c" (a "<5"
  // is at least 1, so seven of them under a total of 7 are all 1; a "c" may be 0); failing
  // that, when zero_allowed, a shown zero is hidden.
  bool Widen(const std::vector<Term>& terms, bool zero_allowed = true) {
    std::optional<size_t> pick, zero;
    for (Term t : terms) {
      const Var& v = vars_[t.var];
      if (v.node != 0 || Hidden(v.row, v.column)) continue;
      if (v.value == 0) {
        if (!zero) zero = t.var;
        continue;
      }
      auto key = [&](size_t i) { return std::tie(vars_[i].value, vars_[i].row, vars_[i].column); };
      if (!pick || key(t.var) < key(*pick)) pick = t.var;
    }
    if (pick) return Withhold(vars_[*pick].row, vars_[*pick].column);
    bool changed = false;
    for (Term t : terms) {
      const Var& v = vars_[t.var];
      if (v.node == 0 && TargetMask()[v.row][v.column] == Shown::kSmall) {
        TargetMask()[v.row][v.column] = Shown::kWithheld;
        changed = true;
      }
    }
    if (changed || !zero_allowed || !zero) return changed;
    return Withhold(vars_[*zero].row, vars_[*zero].column);
  }

  bool Secondary() {
    bool changed = false;
    for (const auto& terms : equations_) {
      // From the masks alone: a published hidden count that one total pins.
      auto pinned = PinnedBy(
          terms, [&](size_t i) { return Range(vars_[i]); },
          [&](size_t i) { return Sensitive(vars_[i]) && vars_[i].value != 0; });
      if (pinned) changed = Widen(terms) || changed;
    }
    return changed;
  }

  // What an attacker works out from everything together: each total with the ranges of its
  // hidden counts pins some (PinnedBy), those feed the next totals, and elimination over the
  // rest finds any hidden count that a combination of totals holds alone; round again until
  // nothing more comes out. A hidden count that comes out breaks the chain nearest to it: the
  // first total on its way (from it, through counts that came out) with a shown cell of this
  // table, whose smallest shown count is hidden too.
  bool Audit() {
    // What the attacker knows of each count: a range, a single value once known.
    std::vector<std::pair<int64_t, int64_t>> range(vars_.size());
    for (size_t i = 0; i < vars_.size(); ++i) range[i] = Range(vars_[i]);
    std::vector<size_t> worked_out;  // hidden counts that came out, in order
    auto learn = [&](size_t i) {
      range[i] = {vars_[i].value, vars_[i].value};
      worked_out.push_back(i);
    };
    bool more = true;
    while (more) {
      more = false;
      for (const auto& terms : equations_) {
        auto pinned = PinnedBy(
            terms, [&](size_t i) { return range[i]; }, [](size_t) { return true; });
        if (pinned) {
          learn(*pinned);
          more = true;
        }
      }
      if (!more) {
        for (size_t i : Eliminate(range)) {
          learn(i);
          more = true;
        }
      }
    }
    for (size_t i : worked_out) {
      if (!Sensitive(vars_[i]) || vars_[i].value == 0) continue;
      if (BreakChain(i, range)) return true;
    }
    return false;
  }

  // The one interval rule, for Secondary (ranges from the masks) and Audit (ranges narrowed by
  // what the attacker has learnt): the first count of one total, not known yet and `wanted`,
  // that the total and the others' ranges leave a single possible value (one hidden count
  // alone; two "<5" that add up to 2). a·x = rest − Σ others, the others between their range
  // sums less x's own (an unbounded "c" makes that wider than any count, so it pins nothing).
  template <typename RangeOf, typename Wanted>
  std::optional<size_t> PinnedBy(const std::vector<Term>& terms, RangeOf range_of,
                                 Wanted wanted) const {
    int64_t rest = 0, lo_sum = 0, hi_sum = 0;
    for (Term t : terms) {
      auto [lo, hi] = range_of(t.var);
      if (lo == hi) continue;
      rest += t.coefficient * vars_[t.var].value;
      lo_sum += t.coefficient > 0 ? lo : -hi;
      hi_sum += t.coefficient > 0 ? hi : -lo;
    }
    for (Term t : terms) {
      auto [lo, hi] = range_of(t.var);
      if (lo == hi || !wanted(t.var)) continue;
      int64_t own_lo = t.coefficient > 0 ? lo : -hi, own_hi = t.coefficient > 0 ? hi : -lo;
      int64_t low = rest - (hi_sum - own_hi), high = rest - (lo_sum - own_lo);
      int64_t x_lo = t.coefficient > 0 ? low : -high, x_hi = t.coefficient > 0 ? high : -low;
      if (std::max(x_lo, lo) >= std::min(x_hi, hi)) return t.var;
    }
    return std::nullopt;
  }

  // Elimination over the unknowns, one connected group at a time: those a combination of the
  // totals holds alone.
  std::vector<size_t> Eliminate(const std::vector<std::pair<int64_t, int64_t>>& range) const {
    std::vector<size_t> index(vars_.size(), SIZE_MAX), unknowns;
    for (size_t i = 0; i < vars_.size(); ++i) {
      if (range[i].first != range[i].second) {
        index[i] = unknowns.size();
        unknowns.push_back(i);
      }
    }
    std::vector<size_t> parent(unknowns.size());
    std::iota(parent.begin(), parent.end(), 0);
    auto find = [&](size_t x) {
      while (parent[x] != x) x = parent[x] = parent[parent[x]];
      return x;
    };
    for (const auto& terms : equations_) {
      std::optional<size_t> first;
      for (Term t : terms) {
        if (index[t.var] == SIZE_MAX) continue;
        if (!first) {
          first = find(index[t.var]);
        } else {
          parent[find(index[t.var])] = *first;
        }
      }
    }
    std::map<size_t, std::vector<size_t>> groups;  // root → its equations
    for (size_t e = 0; e < equations_.size(); ++e) {
      for (Term t : equations_[e]) {
        if (index[t.var] != SIZE_MAX) {
          groups[find(index[t.var])].push_back(e);
          break;
        }
      }
    }
    std::vector<size_t> out;
    for (const auto& [root, eqs] : groups) {
      std::vector<size_t> cols;
      std::map<size_t, size_t> col_of;
      for (size_t e : eqs) {
        for (Term t : equations_[e]) {
          if (index[t.var] != SIZE_MAX && col_of.emplace(t.var, cols.size()).second) {
            cols.push_back(t.var);
          }
        }
      }
      std::vector<std::vector<double>> m;
      for (size_t e : eqs) {
        std::vector<double> row(cols.size(), 0.0);
        for (Term t : equations_[e]) {
          if (auto c = col_of.find(t.var); c != col_of.end()) row[c->second] += t.coefficient;
        }
        m.push_back(std::move(row));
      }
      for (size_t c : Determined(m)) out.push_back(cols[c]);
    }
    return out;
  }

  // From a hidden count that came out, through totals and the counts that came out with it,
  // to the nearest total holding a shown non-zero count of this table: hide one more there
  // (a zero only where no such total is on the way).
  bool BreakChain(size_t start, const std::vector<std::pair<int64_t, int64_t>>& range) {
    std::vector<bool> seen(vars_.size(), false);
    std::vector<size_t> frontier{start}, on_the_way;
    seen[start] = true;
    while (!frontier.empty()) {
      std::vector<size_t> next;
      for (size_t v : frontier) {
        for (size_t e : equations_of_[v]) {
          on_the_way.push_back(e);
          if (Widen(equations_[e], false)) return true;
          for (Term t : equations_[e]) {
            // Came out: the attacker knows it, the table does not show it.
            auto [lo, hi] = Range(vars_[t.var]);
            bool came_out = range[t.var].first == range[t.var].second && lo != hi;
            if (came_out && !seen[t.var]) {
              seen[t.var] = true;
              next.push_back(t.var);
            }
          }
        }
      }
      frontier = std::move(next);
    }
    for (size_t e : on_the_way) {
      if (Widen(equations_[e], true)) return true;
    }
    return false;
  }

  // The columns of m that reduced row echelon form pins: a pivot whose row has no free column.
  static std::vector<size_t> Determined(std::vector<std::vector<double>>& m) {
    const size_t n = m.empty() ? 0 : m[0].size();
    std::vector<size_t> pivot_col;
    size_t rank = 0;
    for (size_t col = 0; col < n && rank < m.size(); ++col) {
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
        for (size_t k = col; k < n; ++k) m[r][k] -= f * m[rank][k];
      }
      pivot_col.push_back(col);
      ++rank;
    }
    std::vector<bool> is_pivot(n, false);
    for (size_t c : pivot_col) is_pivot[c] = true;
    std::vector<size_t> out;
    for (size_t r = 0; r < rank; ++r) {
      bool alone = true;
      for (size_t k = 0; k < n && alone; ++k) {
        if (!is_pivot[k] && std::abs(m[r][k]) > 1e-9) alone = false;
      }
      if (alone) out.push_back(pivot_col[r]);
    }
    return out;
  }

  int64_t threshold_;
  std::vector<Node> nodes_;
  std::vector<Var> vars_;
  std::map<std::tuple<size_t, size_t, size_t>, size_t> var_of_;  // (node, row, column)
  std::vector<std::vector<Term>> equations_;
  std::vector<std::vector<size_t>> equations_of_;  // var → the equations it is in
};

}  // namespace

BreakdownRunner BreakdownsOf(const EventStore& store, const MetricQuery& query) {
  return BreakdownsOf(Stores{&store}, query);
}

BreakdownRunner BreakdownsOf(const Stores& store, const MetricQuery& query) {
  return [store, query](const std::vector<std::string>& by) -> std::optional<ReportTable> {
    MetricQuery q = query;
    std::vector<std::string> rest = by;
    if (query.monthly) {
      // By month: the series by fewer dimensions. Without the month: the same figure over the
      // whole period, which a series of counts over each month adds up to (a count on a day
      // has other measures over a period, and is then left out).
      if (!by.empty() && by[0] == "month") {
        rest.erase(rest.begin());
      } else {
        q.monthly = false;
        auto period = SeriesPeriod(query);
        if (!period.ok()) return std::nullopt;
        q.period = *period;
      }
    }
    q.by = rest.empty() ? std::vector<std::string>{"none"} : rest;
    auto table = RunMetric(store, q);
    // A metric that cannot be asked that way (disproportionality by nothing) gives no total.
    if (!table.ok() || table->dimensions != by) return std::nullopt;
    return std::move(*table);
  };
}

std::vector<std::vector<Shown>> Protect(const ReportTable& table, int64_t threshold,
                                        const BreakdownRunner& breakdowns) {
  return Protector(table, threshold, breakdowns).Run();
}

}  // namespace careledger
