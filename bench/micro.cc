// Micro-benchmarks of the per-event work on the ingest path, each beside its baseline:
// envelope parse+validate vs a bare simdjson DOM parse of the same lines; the CLA fold.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <sstream>

#include "careledger/events.h"
#include "careledger/producers.h"
#include "careledger/projections.h"

namespace careledger {
namespace {

const std::vector<std::string>& Lines() {
  static const std::vector<std::string> lines = [] {
    std::ostringstream out;
    GeneratorOptions o;
    o.children = 50000;
    (void)GenerateFeed(o, out);
    std::vector<std::string> v;
    std::istringstream in(out.str());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }();
  return lines;
}

void BM_BareSimdjsonParse(benchmark::State& state) {  // baseline
  simdjson::dom::parser parser;
  std::vector<simdjson::padded_string> padded;
  for (const auto& l : Lines()) padded.emplace_back(l);
  size_t i = 0;
  for (auto _ : state) {
    simdjson::dom::element doc;
    benchmark::DoNotOptimize(parser.parse(padded[i]).get(doc));
    if (++i == padded.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BareSimdjsonParse);

void BM_EnvelopeParseAndValidate(benchmark::State& state) {
  EnvelopeParser parser;
  Envelope env;
  const auto& lines = Lines();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.Parse(lines[i], env));
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeParseAndValidate);

// Resolving one child's timeline (corrections, spells, episodes, offences): what every query
// does per child, so its cost bounds query latency.
void BM_ResolveChild(benchmark::State& state) {
  Timeline child;
  Date d{std::chrono::year{2023} / 1 / 1};
  for (int i = 0; i < state.range(0); ++i) {
    Fact f;
    f.type = i % 4 == 0
                 ? EventType::kCarePeriodStarted
                 : (i % 4 == 3 ? EventType::kCarePeriodEnded : EventType::kCarePlacementChanged);
    Date on = d + std::chrono::days{30 * i};
    f.event_id = "e" + std::to_string(i);
    f.occurred_at = Timestamp{on, Instant{on}, false};
    f.data.legal_status = "C2";
    f.data.placement = i % 2 ? "U1" : "K2";
    AddFact(child, std::move(f));
  }
  std::vector<std::string> encoded;
  for (const auto& f : child.facts) encoded.push_back(EncodeFact(f, 0));
  for (auto _ : state) {
    Timeline decoded;
    for (const auto& e : encoded) {
      if (!DecodeFact(e, decoded.facts.emplace_back(), decoded.partition).ok()) return;
    }
    benchmark::DoNotOptimize(ResolveChild("c", decoded).spells.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveChild)->Arg(4)->Arg(16)->Arg(64);

}  // namespace
}  // namespace careledger

BENCHMARK_MAIN();
