// Test-only: the synthetic feed generated, split into lines and read back as a reader sees
// it. Shared by generator_test.cc and generator_national_test.cc.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "careledger/events.h"
#include "careledger/producers.h"

namespace careledger {

inline GeneratorOptions Options(int children, uint64_t seed) {
  GeneratorOptions o;
  o.children = children;
  o.seed = seed;
  return o;
}

inline GeneratorOptions NoFaults(GeneratorOptions o) {
  o.late_rate = o.duplicate_rate = o.correction_rate = o.invalid_rate = 0;
  return o;
}

inline std::string Feed(const GeneratorOptions& o, FeedSummary* summary = nullptr) {
  std::ostringstream out;
  Status s = GenerateFeed(o, out, summary);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out.str();
}

inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline bool IsHomePlaceholder(const std::string& child_id) {
  return child_id[0] == 'H';
}

// The feed as a reader sees it once re-sent lines are dropped and corrections applied.
struct ParsedFeed {
  std::vector<Envelope> events;  // every valid line once, in feed order
  std::vector<std::string> raw;  // the line of each of `events`
  std::set<std::string> superseded, retracted;
  std::set<size_t> bad_lines;                      // 1-based, failed the parser
  std::map<std::string, std::string> error_kinds;  // parser message → a line number
  size_t duplicates = 0;
  // Events that stand after corrections, by child, as they would be folded.
  std::map<std::string, std::vector<const Envelope*>> by_child;
};

inline ParsedFeed Parse(const std::string& feed) {
  ParsedFeed p;
  EnvelopeParser parser;
  std::map<std::string, std::string> seen;  // event_id → line
  size_t number = 0;
  for (const std::string& line : SplitLines(feed)) {
    ++number;
    Envelope env;
    Status s = parser.Parse(line, env);
    if (!s.ok()) {
      p.bad_lines.insert(number);
      p.error_kinds.emplace(s.message(), std::to_string(number));
      continue;
    }
    auto [it, fresh] = seen.emplace(env.event_id, line);
    if (!fresh) {
      EXPECT_EQ(it->second, line) << "line " << number << " re-sends an id with other bytes";
      ++p.duplicates;
      continue;
    }
    if (!env.supersedes.empty()) p.superseded.insert(env.supersedes);
    p.events.push_back(std::move(env));
    p.raw.push_back(line);
  }
  // event.retracted's target is in data, which Envelope does not carry: read it from the line.
  simdjson::dom::parser json;
  for (size_t i = 0; i < p.events.size(); ++i) {
    if (p.events[i].type != EventType::kEventRetracted) continue;
    simdjson::padded_string padded(p.raw[i]);
    std::string_view target;
    EXPECT_FALSE(json.parse(padded)["data"]["target_event_id"].get(target));
    p.retracted.insert(std::string(target));
  }
  for (const Envelope& e : p.events) {
    if (p.superseded.count(e.event_id) || p.retracted.count(e.event_id) ||
        e.type == EventType::kEventRetracted) {
      continue;
    }
    p.by_child[e.child_id].push_back(&e);
  }
  return p;
}

}  // namespace careledger
