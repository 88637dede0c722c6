// The generator against the published national figures (issue 17): a feed for England's
// children (the population of ../shared/fixtures/socialcare/dfe-cla-la-2021-2025, 12,183,016
// aged 0-17 in 2025), stored as ingest stores it, asked by careledger's own queries for the
// figures DfE and the YJB publish for the year ending 31 March, printed beside them:
//   children looked after on 31 March          `cla --at YYYY-03-31`
//   children starting / ceasing to be looked after in the year
//                                              `cla --period` (started, ended)
//   children cautioned or sentenced in the year (YJB, England 2024/25)
//                                              `reoffending --period`: its cohort is the
//                                              children with a caution or sentence decided
//                                              in the window
// Exits 1 when a figure is further than --tolerance (default 15 %) from the published one
// (after scaling by --children / the published population), 2 when ../shared is absent.
//
//   careledger_bench_calibration [--children N] [--seed S] [--warmup-years W]
//                                [--tolerance PCT] [--shared DIR]
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench_support.h"

namespace careledger::bench {
namespace {

constexpr int kYear = 2025;  // the year ending 31 March both fixtures publish last

struct Published {
  int64_t population = 0;  // aged 0-17
  int64_t looked_after = 0, started = 0, ceased = 0, cautioned_or_sentenced = 0;
};

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else if (c != '\r') {
      out.back().push_back(c);
    }
  }
  return out;
}

// 0 when `s` is not a whole number (the check below then names the files).
int64_t ToInt(const std::string& s) {
  int64_t n = 0;
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), n);
  return error == std::errc() && end == s.data() + s.size() ? n : 0;
}

// England's 2025 rows of the DfE file and the 2024/25 count of the YJB file.
Result<Published> ReadPublished(const std::string& shared) {
  Published p;
  const std::string dfe =
      shared + "/fixtures/socialcare/dfe-cla-la-2021-2025/cla_number_and_rate_per_10k_children.csv";
  const std::string yjb =
      shared + "/fixtures/yjs/trafford-children-cautioned-sentenced/children_offending.csv";
  std::ifstream in(dfe);
  if (!in) return Status::BadInput("cannot read " + dfe);
  std::string line;
  while (std::getline(in, line)) {
    auto f = SplitCsv(line);
    // time_period, …, geographic_level (2), …, population_type (10), population_estimate (11),
    // children_count (12)
    if (f.size() < 13 || f[0] != std::to_string(kYear) || f[2] != "National") continue;
    p.population = ToInt(f[11]);
    int64_t n = ToInt(f[12]);
    if (f[10] == "Children looked after on 31 March each year") p.looked_after = n;
    if (f[10] == "Children starting to be looked after each year") p.started = n;
    if (f[10] == "Children ceasing to be looked after each year") p.ceased = n;
  }
  std::ifstream yin(yjb);
  if (!yin) return Status::BadInput("cannot read " + yjb);
  const std::string period = std::to_string(kYear - 1) + "/" + std::to_string(kYear % 100);
  while (std::getline(yin, line)) {
    auto f = SplitCsv(line);
    // area_code, area_name, area_type, period, indicator, measure, unit, value
    if (f.size() >= 8 && f[1] == "England" && f[3] == period && f[5] == "Count") {
      p.cautioned_or_sentenced = ToInt(f[7]);
    }
  }
  if (!p.population || !p.looked_after || !p.started || !p.ceased || !p.cautioned_or_sentenced) {
    return Status::BadInput("England's " + std::to_string(kYear) + " figures not all found in " +
                            dfe + " and " + yjb);
  }
  return p;
}

// The named count, summed over the rows of the query's default breakdown (`reoffending` is
// broken down by cohort, and a child is in one cohort).
Result<int64_t> Measure(const EventStore& store, const MetricQuery& q, std::string_view measure) {
  auto table = RunMetric(store, q);
  if (!table.ok()) return table.status();
  for (size_t i = 0; i < table->measures.size(); ++i) {
    if (table->measures[i] != measure) continue;
    int64_t sum = 0;
    for (const auto& row : table->rows) {
      if (row.values[i].value) sum += std::llround(*row.values[i].value);
    }
    return sum;
  }
  return Status::Fatal(q.metric + " has no measure " + std::string(measure));
}

struct CalibrationOptions {
  std::string shared = CARELEDGER_SHARED_DIR;
  int children = 0;
  int warmup_years = 3;
  uint64_t seed = 42;
  double tolerance = 0.15;
};

// False (after saying why on stderr) on an unknown flag.
bool ParseOptions(int argc, char** argv, CalibrationOptions* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    const char* value = i + 1 < argc ? argv[++i] : "";
    if (flag == "--children") {
      o->children = std::atoi(value);
    } else if (flag == "--seed") {
      o->seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--warmup-years") {
      o->warmup_years = std::max(0, std::atoi(value));
    } else if (flag == "--tolerance") {
      o->tolerance = std::atof(value) / 100;
    } else if (flag == "--shared") {
      o->shared = value;
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return false;
    }
  }
  return true;
}

// Generates the feed into dir/feed.jsonl and reads its lines back; false if generation failed.
bool GenerateLines(const GeneratorOptions& gen, const std::filesystem::path& dir,
                   FeedSummary* summary, std::vector<std::string>* lines) {
  // Through a file: at England's size the feed is gigabytes, and held twice it would be more.
  {
    std::ofstream out(dir / "feed.jsonl");
    if (Fail(GenerateFeed(gen, out, summary), "generate")) return false;
  }
  std::ifstream in(dir / "feed.jsonl");
  for (std::string line; std::getline(in, line);) lines->push_back(std::move(line));
  return true;
}

// Prints the generated figures beside the published ones scaled to the feed's size. Returns 0,
// 1 if a figure is more than the tolerance off, or -1 if a figure could not be measured.
int CompareWithPublished(const EventStore& store, const Published& published, double scale,
                         double tolerance, const Date& year_start, const Date& year_end) {
  int status = 0;
  MetricQuery at;
  at.today = Today();
  at.metric = "cla";
  at.at = Date{std::chrono::year{kYear} / 3 / 31};
  MetricQuery year = at;
  year.at.reset();
  year.period = {year_start, year_end};
  MetricQuery cohort = year;
  cohort.metric = "reoffending";
  cohort.period = {year_start, year_end};
  struct Row {
    const char* what;
    Result<int64_t> generated;
    int64_t published;
  };
  Row rows[] = {
      {"children looked after on 31 March", Measure(store, at, "value"), published.looked_after},
      {"children starting to be looked after", Measure(store, year, "started"), published.started},
      {"children ceasing to be looked after", Measure(store, year, "ended"), published.ceased},
      {"children cautioned or sentenced (YJB)", Measure(store, cohort, "children"),
       published.cautioned_or_sentenced},
  };
  std::printf("\n| %d, England | generated | published × %.4f | ratio |\n", kYear, scale);
  std::printf("| --- | ---: | ---: | ---: |\n");
  for (auto& r : rows) {
    if (Fail(r.generated.status(), r.what)) return -1;
    double expected = double(r.published) * scale;
    double ratio = double(*r.generated) / expected;
    bool off = std::fabs(ratio - 1) > tolerance;
    std::printf("| %s | %lld | %.0f | %.2f%s |\n", r.what, static_cast<long long>(*r.generated),
                expected, ratio, off ? " (off)" : "");
    if (off) status = 1;
  }
  return status;
}

int Main(int argc, char** argv) {
  CalibrationOptions o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  auto published = ReadPublished(o.shared);
  if (!published.ok()) {
    std::cerr << "skipped: " << published.status().message() << " (../shared absent?)\n";
    return 2;
  }
  if (o.children <= 0) o.children = int(published->population);
  const double scale = double(o.children) / double(published->population);

  // The year ending 31 March, after `warmup_years` for the stock of children in care to form.
  const Date year_start{std::chrono::year{kYear - 1} / 4 / 1};
  const Date year_end{std::chrono::year{kYear} / 4 / 1};
  GeneratorOptions gen;
  gen.children = o.children;
  gen.seed = o.seed;
  gen.start = Date{std::chrono::year{kYear - 1 - o.warmup_years} / 4 / 1};
  gen.end = year_end;
  auto dir = std::filesystem::temp_directory_path() /
             ("careledger-bench-calibration-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto t0 = std::chrono::steady_clock::now();
  FeedSummary summary;
  std::vector<std::string> lines;
  if (!GenerateLines(gen, dir, &summary, &lines)) return 1;
  double generate_s = Seconds(t0);
  int status = 0;
  {
    auto store = OpenStore(dir / "store", /*sync=*/false);
    t0 = std::chrono::steady_clock::now();
    if (!StoreFeed(*store, lines)) return 1;
    double store_s = Seconds(t0);
    std::printf(
        "feed: %d children, %d-04-01..%d-03-31, seed %llu: %llu lines, %llu events "
        "(generated in %.1f s, stored in %.1f s)\n",
        o.children, kYear - 1 - o.warmup_years, kYear, static_cast<unsigned long long>(o.seed),
        static_cast<unsigned long long>(summary.lines),
        static_cast<unsigned long long>(summary.events()), generate_s, store_s);
    status = CompareWithPublished(*store, *published, scale, o.tolerance, year_start, year_end);
    if (status < 0) return 1;
  }
  std::filesystem::remove_all(dir);
  if (status) std::printf("\na figure is more than %.0f %% off\n", o.tolerance * 100);
  return status;
}

}  // namespace
}  // namespace careledger::bench

int main(int argc, char** argv) {
  return careledger::bench::Main(argc, argv);
}
