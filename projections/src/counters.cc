// Counters that ingest keeps: +1/−1 per (dimension value, day, partition) where a child starts
// and stops counting, and the same in the month's cell, so that a figure on D reads the months
// before D's month and the days of D's month, whatever the number of children.
//
// Layout: "cla" \0 dimension \0 value \0 <days key (4)> <partition (2)> → the day's delta;
// "cla" \0 "month:" dimension \0 value \0 <days key of the 1st (4)> <partition (2)> → the
// month's. (The prefix is M1's, which was the first to be kept; the dimension names the figure.)
#include <algorithm>
#include <optional>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

constexpr std::string_view kMonthOf = "month:";

std::string CounterPrefix(std::string_view dimension) {
  std::string k(kCounterPrefix);
  k.append(dimension);
  k.push_back('\0');
  return k;
}

}  // namespace

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

std::vector<std::pair<std::string_view, int64_t>> SortedChanges(const Deltas& deltas) {
  std::vector<std::pair<std::string_view, int64_t>> out;
  out.reserve(deltas.size());
  for (const auto& [key, delta] : deltas) {
    if (delta != 0) out.emplace_back(key, delta);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Date BirthdayOf(const ChildView& child, int age) {
  return Anniversary(*child.dob, age);
}

void AddSpan(Contribution& out, std::string_view dimension, std::string_view value, Date from,
             Date to, int32_t partition) {
  std::string month_dim = std::string(kMonthOf) + std::string(dimension);
  out.emplace_back(CounterKey(dimension, value, from, partition), 1);
  out.emplace_back(CounterKey(month_dim, value, FirstOfMonth(from), partition), 1);
  if (to == Date::max()) return;
  out.emplace_back(CounterKey(dimension, value, to, partition), -1);
  out.emplace_back(CounterKey(month_dim, value, FirstOfMonth(to), partition), -1);
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
  // Adds the cells of one value dated in [from, to] (from the first when `from` is unset; the
  // date and partition are the key's last six bytes, after the value and its \0).
  auto add = [&](std::string_view dim, std::string_view value, std::optional<Date> from, Date to) {
    std::string begin = CounterPrefix(dim), end;
    begin.append(value);
    begin.push_back('\0');
    end = begin;
    if (from) codec::PutBigEndian32(begin, codec::DaysKey(*from));
    codec::PutBigEndian32(end, codec::DaysKey(to) + 1);
    int64_t& n = counts[std::string(value)];
    return store.ScanStateRange(begin, end, [&](std::string_view key, std::string_view cell) {
      const char* tail = key.data() + key.size() - 6;
      int32_t partition = (uint8_t(tail[4]) << 8) | uint8_t(tail[5]);
      if (owned.empty() || owned.count(partition)) n += DecodeCounter(cell);
      return true;
    });
  };
  // The values that have day cells, one seek each: a month whose cells net to nothing may
  // have none of its own, while its days still count.
  const std::string prefix = CounterPrefix(dimension);
  std::string next = prefix, stop = prefix;
  stop.back() = '\1';
  const std::string month_dim = std::string(kMonthOf) + std::string(dimension);
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
    CARELEDGER_RETURN_IF_ERROR(add(month_dim, *value, std::nullopt, month - std::chrono::days{1}));
    CARELEDGER_RETURN_IF_ERROR(add(dimension, *value, month, at));
    next = prefix + *value;
    next.push_back('\1');  // past every cell of this value
  }
  return counts;
}

}  // namespace careledger::metrics
