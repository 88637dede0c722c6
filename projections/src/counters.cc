// Counters that ingest keeps: +1/−1 per (dimension value, day, partition) where a child starts
// and stops counting, and the same in the month's cell, so that a figure on D reads the months
// before D's month and the days of D's month, whatever the number of children.
//
// Layout: "cla" \0 "month:" dimension \0 value \0 <days key of the 1st (4)> <partition (2)> →
// the month's delta, one cell a dimension value; "cla" \0 "@day" \0 <days key (4)> <partition
// (2)> → the day's deltas of every dimension value, as named counts ("dimension \0 value"). A
// spell of care changes two day cells where it changed sixteen (eight dimensions, two ends),
// which was most of what an ingest batch wrote; a query reads at most a month of day cells,
// whose few names it filters. (The prefix is M1's, which was the first to be kept; the dimension
// names the figure.)
#include <algorithm>
#include <map>
#include <optional>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

constexpr std::string_view kMonthOf = "month:";
constexpr std::string_view kDayCells{"cla\0@day\0", 9};
constexpr size_t kDayCellKeySize = kDayCells.size() + 4 + 2;

std::string DayCellKey(Date d, int32_t partition) {
  std::string k(kDayCells);
  codec::PutBigEndian32(k, codec::DaysKey(d));
  k.push_back(char((partition >> 8) & 0xff));
  k.push_back(char(partition & 0xff));
  return k;
}

// A change to one name of a day cell, as contributions hold it: the cell's key, then the name.
std::string DayCounterKey(std::string_view dimension, std::string_view value, Date d,
                          int32_t partition) {
  std::string k = DayCellKey(d, partition);
  k.append(dimension);
  k.push_back('\0');
  k.append(value);
  return k;
}

std::string CounterPrefix(std::string_view dimension) {
  std::string k(kCounterPrefix);
  k.append(dimension);
  k.push_back('\0');
  return k;
}

}  // namespace

int32_t PartitionOfCounterKey(std::string_view key) {
  return (uint8_t(key[key.size() - 2]) << 8) | uint8_t(key[key.size() - 1]);
}

std::string CounterKey(std::string_view dimension, std::string_view value, Date d,
                       int32_t partition) {
  std::string k = CounterPrefix(dimension);
  k.append(value);
  k.push_back('\0');
  codec::PutBigEndian32(k, codec::DaysKey(d));
  k.push_back(char((partition >> 8) & 0xff));
  k.push_back(char(partition & 0xff));
  return k;
}

Date BirthdayOf(const ChildView& child, int age) {
  return Anniversary(*child.dob, age);
}

void AddSpan(Contribution& out, std::string_view dimension, std::string_view value, Date from,
             Date to, int32_t partition) {
  std::string month_dim = std::string(kMonthOf) + std::string(dimension);
  out.emplace_back(DayCounterKey(dimension, value, from, partition), 1);
  out.emplace_back(CounterKey(month_dim, value, FirstOfMonth(from), partition), 1);
  if (to == Date::max()) return;
  out.emplace_back(DayCounterKey(dimension, value, to, partition), -1);
  out.emplace_back(CounterKey(month_dim, value, FirstOfMonth(to), partition), -1);
}

bool IsDayCounterKey(std::string_view key) {
  return key.size() > kDayCellKeySize && key.starts_with(kDayCells);
}

bool IsDayCellKey(std::string_view key) {
  return key.size() == kDayCellKeySize && key.starts_with(kDayCells);
}

std::vector<std::pair<std::string, std::string>> DayCells(
    std::vector<std::pair<std::string_view, int64_t>> changes) {
  std::sort(changes.begin(), changes.end());
  std::vector<std::pair<std::string, std::string>> cells;
  std::vector<std::pair<std::string_view, int64_t>> counts;
  for (size_t i = 0; i < changes.size();) {
    const std::string_view cell = changes[i].first.substr(0, kDayCellKeySize);
    counts.clear();
    for (; i < changes.size() && changes[i].first.starts_with(cell); ++i) {
      std::string_view name = changes[i].first.substr(kDayCellKeySize);
      if (!counts.empty() && counts.back().first == name) {
        counts.back().second += changes[i].second;
      } else {
        counts.emplace_back(name, changes[i].second);
      }
    }
    std::string encoded = EncodeNamedCounts(counts);
    if (!encoded.empty()) cells.emplace_back(std::string(cell), std::move(encoded));
  }
  return cells;
}

std::string DescribeCounterCell(std::string_view key, std::string_view live,
                                std::string_view rebuilt) {
  const Date day = codec::DateFromDaysKey(codec::GetBigEndian32(key.data() + kDayCells.size()));
  const int32_t partition = PartitionOfCounterKey(key);
  std::map<std::string, std::pair<int64_t, int64_t>> counts;
  auto read = [&](std::string_view cell, bool second) {
    return ForEachNamedCount(cell, [&](std::string_view name, int64_t n) {
      auto& both = counts[std::string(name)];
      (second ? both.second : both.first) = n;
    });
  };
  std::string out =
      "counters of " + FormatDate(day) + " (partition " + std::to_string(partition) + ")";
  if (!read(live, false)) out += ", the live cell not named counts";
  if (!read(rebuilt, true)) out += ", the rebuilt cell not named counts";
  for (auto& [name, both] : counts) {
    if (both.first == both.second) continue;
    std::string text = name;
    std::replace(text.begin(), text.end(), '\0', '=');
    out += ", " + text + ": live " + std::to_string(both.first) + ", rebuilt from the log " +
           std::to_string(both.second);
  }
  return out;
}

void Settle(Contribution& c) {
  std::sort(c.begin(), c.end());
  size_t kept = 0;
  for (size_t i = 0; i < c.size();) {
    size_t j = i;
    int64_t sum = 0;
    for (; j < c.size() && c[j].first == c[i].first; ++j) sum += c[j].second;
    if (sum != 0) {
      if (kept != i) c[kept].first = std::move(c[i].first);
      c[kept++].second = sum;
    }
    i = j;
  }
  c.resize(kept);
}

void AddDifference(const Contribution& before, const Contribution& after, Deltas& out) {
  size_t i = 0, j = 0;
  while (i < before.size() || j < after.size()) {
    if (j == after.size() || (i < before.size() && before[i].first < after[j].first)) {
      out[before[i].first] -= before[i].second;
      ++i;
    } else if (i == before.size() || after[j].first < before[i].first) {
      out[after[j].first] += after[j].second;
      ++j;
    } else {
      if (int64_t d = after[j].second - before[i].second; d != 0) out[after[j].first] += d;
      ++i;
      ++j;
    }
  }
}

Result<std::map<std::string, int64_t>> CountersOn(const EventStore& store, Date at,
                                                  std::string_view dimension) {
  CARELEDGER_RETURN_IF_ERROR(CheckStateLayout(store));
  auto owned_or = OwnedPartitions(store);
  if (!owned_or.ok()) return owned_or.status();
  const std::set<int32_t>& owned = *owned_or;
  const Date month = FirstOfMonth(at);
  std::map<std::string, int64_t> counts;
  auto answers = [&](std::string_view key) {
    return owned.empty() || owned.count(PartitionOfCounterKey(key)) > 0;
  };
  // Adds the month cells of one value before `month` (the date and partition are the key's
  // last six bytes, after the value and its \0).
  auto add_months = [&](std::string_view dim, std::string_view value) {
    std::string begin = CounterPrefix(dim);
    begin.append(value);
    begin.push_back('\0');
    std::string end = begin;
    codec::PutBigEndian32(end, codec::DaysKey(month));
    int64_t& n = counts[std::string(value)];
    return store.ScanStateRange(begin, end, [&](std::string_view key, std::string_view cell) {
      if (answers(key)) n += DecodeCounter(cell);
      return true;
    });
  };
  // The values that have month cells, one seek each; then the days of the month, whose cells
  // hold every dimension's changes (and any value: a month whose cells net to nothing may have
  // none of its own, while its days still count).
  const std::string month_dim = std::string(kMonthOf) + std::string(dimension);
  const std::string prefix = CounterPrefix(month_dim);
  std::string next = prefix, stop = prefix;
  stop.back() = '\1';
  for (;;) {
    std::optional<std::string> value;
    CARELEDGER_RETURN_IF_ERROR(
        store.ScanStateRange(next, stop, [&](std::string_view key, std::string_view) {
          if (key.size() >= prefix.size() + kCounterSuffix) {
            value.emplace(key.substr(prefix.size(), key.size() - prefix.size() - kCounterSuffix));
          }
          return false;
        }));
    if (!value) break;
    CARELEDGER_RETURN_IF_ERROR(add_months(month_dim, *value));
    next = prefix + *value;
    next.push_back('\1');  // past every cell of this value
  }
  std::string name_prefix(dimension);
  name_prefix.push_back('\0');
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(store.ScanStateRange(
      DayCellKey(month, 0), DayCellKey(at + std::chrono::days{1}, 0),
      [&](std::string_view key, std::string_view cell) {
        if (!IsDayCellKey(key) || !answers(key)) return true;
        bool named = ForEachNamedCount(cell, [&](std::string_view name, int64_t n) {
          if (name.starts_with(name_prefix))
            counts[std::string(name.substr(name_prefix.size()))] += n;
        });
        if (!named) failure = Status::Fatal("a day's counter cell is not named counts");
        return named;
      }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  return counts;
}

}  // namespace careledger::metrics
