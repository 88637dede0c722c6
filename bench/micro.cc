// Micro-benchmarks of the per-event work on the ingest path, each beside its baseline:
// envelope parse+validate vs a bare simdjson DOM parse of the same lines; resolving a child's
// timeline; encoding a batch (log record, dedup key and fact per event) before it is written.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
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

// What ingest builds for a batch of 1,000 parsed events before RocksDB sees it: the log
// records, event-id keys and per-child index entries (Batch::Append), then the projection's
// facts and CLA counter deltas (Projector::Apply). Nothing is written: that is the store's
// cost, measured in bench/e2e against RocksDB alone. Built by hand, not through ingest's
// BuildBatch (consumers/src/batch_builder.h), which would time its parse (measured above) and
// its event-id look-ups with it.
void BM_WriteBatchEncode(benchmark::State& state) {
  const auto& lines = Lines();
  const size_t n = std::min<size_t>(1000, lines.size());
  std::vector<Envelope> envs(n);
  std::vector<bool> valid(n);
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{2100} / 1 / 1}}});
  for (size_t i = 0; i < n; ++i) valid[i] = parser.Parse(lines[i], envs[i]).ok();
  auto dir = std::filesystem::temp_directory_path() /
             ("careledger-bench-micro-" + std::to_string(::getpid()));
  auto store = EventStore::Open({.path = dir.string(), .sync = false});
  if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
  Projector projector(**store);
  for (auto _ : state) {
    auto batch = (*store)->NewBatch();
    std::vector<AcceptedEvent> accepted;
    accepted.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (!valid[i]) continue;
      uint64_t seq = batch.Append(envs[i].event_id, envs[i].child_id, envs[i].occurred_at.date,
                                  {"t", 0}, int64_t(i), lines[i]);
      accepted.push_back({&envs[i], seq, 0, Instant{}});
    }
    benchmark::DoNotOptimize(projector.Apply(accepted, batch));
    projector.Forget();  // nothing was written: forget what it cached
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WriteBatchEncode);

}  // namespace
}  // namespace careledger

BENCHMARK_MAIN();
