// Issue 8's PostgreSQL peer: what an analyst could use instead of careledger, on the same feed,
// in one run, and a cross-check of careledger's figures against SQL written independently.
//
//   careledger_bench_postgres [--children N] [--years Y] [--seed S] [--repeat N]
//
// The generator's feed (as bench/projections.cc makes it) is reduced to the events careledger
// accepts (valid, the first of each event id). Then:
//   - careledger: the events folded into a store as ingest folds them (Batch::Append +
//     Projector::Apply per 5,000, sync on: an fsync per batch), then RunMetric for CLA at 31
//     March and outcomes by cohort × tier for the year to it; then RebuildProjectionsInto a
//     fresh store and the same two queries there;
//   - PostgreSQL 15, started here in a temp dir on a Unix socket (fsync on, the default): the
//     same events COPYed in through psql as jsonb, typed columns extracted into one table with
//     its indexes, then the same two figures in SQL (bench/postgres_peer.sql.h).
// The figures must agree: a MISMATCH line and exit 1 otherwise.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench_support.h"
#include "careledger/producers.h"
#include "careledger/projections.h"
#include "postgres_peer.sql.h"

namespace careledger {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
const char* kPgBin = "/usr/lib/postgresql/15/bin";

using bench::Median;
using bench::Seconds;

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// PostgreSQL's messages quote the values they choke on ("invalid input syntax …: \"…\"",
// "DETAIL: Key (event_id)=(…)"), and those come from events: what is quoted and the DETAIL lines
// are left out of what we print (the server log in the temp dir keeps them, see
// --keep-postgres).
std::string Redacted(const std::string& out) {
  std::string kept;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.find("DETAIL:") != std::string::npos) continue;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        kept += quoted ? "…\"" : "\"";
        quoted = !quoted;
      } else if (!quoted) {
        kept += c;
      }
    }
    kept += '\n';
  }
  return kept;
}

// Runs a shell command, returning its standard output; nullopt (with the output, redacted, on
// stderr) when it fails.
std::optional<std::string> Run(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  int status = ::pclose(pipe);
  if (status != 0) {
    std::cerr << "failed (" << status << "): " << command << "\n" << Redacted(out);
    return std::nullopt;
  }
  return out;
}

// A throwaway cluster: initdb into `dir`, started on a Unix socket in `dir` only, stopped and
// removed when this goes out of scope, whatever happened in between. initdb refuses root, so
// as root the server runs as the `postgres` user the Debian package creates.
class TempPostgres {
 public:
  explicit TempPostgres(fs::path dir) : dir_(std::move(dir)) {}
  ~TempPostgres() {
    if (keep_) return;
    if (started_) (void)Run(As() + kPgBin + "/pg_ctl -D " + Quote(data()) + " -m fast -w stop");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempPostgres(const TempPostgres&) = delete;
  TempPostgres& operator=(const TempPostgres&) = delete;

  bool Start() {
    fs::create_directories(dir_);
    if (::geteuid() == 0 && !Run("chown postgres: " + Quote(dir_))) return false;
    if (!Run(As() + kPgBin + "/initdb -D " + Quote(data()) +
             " -U postgres -A trust -E UTF8 --locale=C.UTF-8")) {
      return false;
    }
    // Unix socket only; fsync, synchronous_commit and full_page_writes stay at their defaults.
    std::string options = "-k " + dir_.string() + " -c listen_addresses=''";
    started_ = Run(As() + kPgBin + "/pg_ctl -D " + Quote(data()) + " -l " +
                   Quote(dir_ / "server.log") + " -w -o " + Quote(options) + " start")
                   .has_value();
    return started_;
  }
  // psql running `script` (a file) with the variables given; its unaligned output.
  std::optional<std::string> Psql(const fs::path& script,
                                  const std::vector<std::pair<std::string, std::string>>& vars) {
    std::string cmd = "psql -X -q -A -t -v ON_ERROR_STOP=1 -h " + Quote(dir_) +
                      " -U postgres -d postgres -f " + Quote(script);
    for (const auto& [k, v] : vars) cmd += " -v " + k + "=" + Quote(v);
    return Run(cmd);
  }
  // Leaves the server running and its files in place (for psql after the run).
  void Keep() { keep_ = true; }

 private:
  std::string As() const { return ::geteuid() == 0 ? "runuser -u postgres -- " : ""; }
  std::string data() const { return (dir_ / "data").string(); }
  fs::path dir_;
  bool started_ = false;
  bool keep_ = false;
};

using bench::Fail;

std::unique_ptr<EventStore> OpenStore(const fs::path& path) {
  return bench::OpenStore(path, /*sync=*/true);  // as ingest runs: an fsync per batch
}

// The accepted events folded into `store` as ingest folds them.
bool Ingest(EventStore& store, const std::vector<std::string>& lines) {
  return bench::StoreFeed(store, lines);
}

// A figure as rows of text: "cla|<n>" or "<cohort>|<tier>|<n>".
using Rows = std::vector<std::string>;

struct Timed {
  Rows rows;
  double median_s = 0;
};

// The two figures from careledger, each run once to warm and then `repeat` times.
Result<std::pair<Timed, Timed>> CareledgerQueries(const EventStore& store, Date at, Date from,
                                                  Date to, Date today, int repeat) {
  std::pair<Timed, Timed> out;
  for (int k = 0; k < 2; ++k) {
    MetricQuery q;
    q.today = today;
    if (k == 0) {
      q.metric = "cla";
      q.at = at;
    } else {
      q.metric = "outcomes";
      q.period = {from, to};
      q.by = {"cohort", "tier"};
    }
    Timed& t = k == 0 ? out.first : out.second;
    std::vector<double> times;
    for (int r = 0; r <= repeat; ++r) {
      auto start = Clock::now();
      auto table = RunMetric(store, q);
      if (r > 0) times.push_back(Seconds(start));
      if (!table.ok()) return table.status();
      t.rows.clear();
      int64_t total = 0;
      for (const auto& row : table->rows) {
        int64_t n = row.values.at(0).numerator.value_or(0);
        total += n;
        std::string line;
        for (const auto& g : row.groups) line += g + "|";
        if (k == 1 && n > 0) t.rows.push_back(line + std::to_string(n));
      }
      if (k == 0) t.rows = {"cla|" + std::to_string(total)};
    }
    t.median_s = Median(times);
    std::sort(t.rows.begin(), t.rows.end());
  }
  return out;
}

// psql's output of a script that runs one query repeat + 1 times under \timing: the rows of
// the first run and the median time of the others.
Timed ParseTimed(const std::string& out, bool prefix_cla) {
  Timed t;
  std::vector<double> times;
  std::istringstream in(out);
  int runs = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Time: ", 0) == 0) {
      if (runs++ > 0) times.push_back(std::atof(line.c_str() + 6) / 1000);
    } else if (runs == 0 && !line.empty()) {
      t.rows.push_back(prefix_cla ? "cla|" + line : line);
    }
  }
  if (!times.empty()) t.median_s = Median(times);
  std::sort(t.rows.begin(), t.rows.end());
  return t;
}

// Whether two answers to one figure agree: a line saying so, or MISMATCH and the cells that
// differ.
bool Compare(const char* figure, const char* a_name, const Rows& a, const char* b_name,
             const Rows& b) {
  if (a == b) {
    std::cout << figure << ": " << a_name << " and " << b_name << " agree (" << a.size()
              << " rows)\n";
    return true;
  }
  std::cout << "MISMATCH in " << figure << " (rows as group|…|count):\n";
  std::map<std::string, std::pair<std::string, std::string>> by_group;
  auto add = [&](const Rows& rows, bool second) {
    for (const auto& r : rows) {
      auto bar = r.rfind('|');
      auto& cell = by_group[r.substr(0, bar)];
      (second ? cell.second : cell.first) = r.substr(bar + 1);
    }
  };
  add(a, false);
  add(b, true);
  for (const auto& [group, v] : by_group) {
    if (v.first != v.second) {
      std::cout << "  " << group << " " << a_name << " " << (v.first.empty() ? "-" : v.first)
                << ", " << b_name << " " << (v.second.empty() ? "-" : v.second) << "\n";
    }
  }
  return false;
}

// The latest 31 March of the feed, and the year ending on it.
struct Window {
  Date at = {}, from = {}, to = {};
};

Window LatestYear(Date today) {
  using namespace std::chrono;
  year_month_day ymd{today};
  int y = int(ymd.year()) - (ymd.month() < April ? 1 : 0);
  Date at{year{y} / March / 31};
  Date from{year{y - 1} / April / 1}, to{year{y} / April / 1};
  return {at, from, to};
}

// The events careledger accepts, in feed order: both sides get exactly these.
bool AcceptedEvents(const GeneratorOptions& gen, std::vector<std::string>& lines,
                    std::set<std::string>& disposals, size_t& feed_lines) {
  std::ostringstream out;
  if (Fail(GenerateFeed(gen, out), "generate")) return false;
  std::istringstream in(out.str());
  EnvelopeParser parser;
  Envelope e;
  std::unordered_set<std::string> seen;
  for (std::string l; std::getline(in, l);) {
    ++feed_lines;
    if (!parser.Parse(l, e).ok() || !seen.insert(e.event_id).second) continue;
    if (!e.data.disposal.empty()) disposals.insert(e.data.disposal);
    lines.push_back(std::move(l));
  }
  return true;
}

// careledger's figures after ingest, after a replay and in a rebuilt store, with the time each
// took.
struct CareledgerRuns {
  std::pair<Timed, Timed> live = {}, replayed = {}, rebuilt = {};
  double ingest_s = 0, replay_s = 0, rebuild_s = 0;
};

bool RunCareledger(const fs::path& dir, const std::vector<std::string>& lines, const Window& w,
                   Date today, int repeat, CareledgerRuns& c) {
  auto store = OpenStore(dir / "careledger");
  auto t0 = Clock::now();
  if (!Ingest(*store, lines)) return false;
  c.ingest_s = Seconds(t0);
  auto live = CareledgerQueries(*store, w.at, w.from, w.to, today, repeat);
  if (Fail(live.status(), "query")) return false;
  c.live = *live;
  // `careledger replay`'s path: the log folded by the live fold into a family beside the live
  // state (unsynced), then one synced swap.
  t0 = Clock::now();
  {
    auto replay = StateRebuild::Begin(*store, {});
    if (Fail(replay.status(), "replay") ||
        Fail((*replay)->CatchUp(store->next_sequence()), "replay") ||
        Fail((*replay)->Swap(), "swap")) {
      return false;
    }
  }
  c.replay_s = Seconds(t0);
  auto replayed = CareledgerQueries(*store, w.at, w.from, w.to, today, repeat);
  if (Fail(replayed.status(), "query replayed")) return false;
  c.replayed = *replayed;
  // The fast rebuild (bench/projections.cc) into a fresh store, every batch synced.
  auto rebuilt_store = OpenStore(dir / "careledger-rebuilt");
  t0 = Clock::now();
  if (Fail(RebuildProjectionsInto(*store, *rebuilt_store).status(), "rebuild")) return false;
  c.rebuild_s = Seconds(t0);
  auto rebuilt = CareledgerQueries(*rebuilt_store, w.at, w.from, w.to, today, repeat);
  if (Fail(rebuilt.status(), "query rebuilt")) return false;
  c.rebuilt = *rebuilt;
  return true;
}

// PostgreSQL's figures and its load times.
struct PgRuns {
  Timed cla = {}, outcomes = {};
  double copy_s = 0, load_s = 0;
};

bool RunPostgres(TempPostgres& pg, const fs::path& dir, bool keep,
                 const std::vector<std::string>& lines, std::set<std::string> disposals,
                 const Window& w, int repeat, PgRuns& p) {
  if (!pg.Start()) return false;
  if (keep) {
    pg.Keep();
    std::cout << "--keep-postgres: psql -h " << (dir / "pg").string() << " -U postgres; stop with "
              << kPgBin << "/pg_ctl -D " << (dir / "pg/data").string()
              << " stop (as postgres) and remove " << dir.string() << "\n";
  }
  auto write = [&](const char* name, const std::string& text) {
    fs::path path = dir / name;
    std::ofstream(path) << text;
    fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
    return path;
  };
  {
    // The code lists as an analyst's lookup tables, from careledger's schemas/codes.
    std::ostringstream ref;
    ref << pg::kSchema;
    for (int code = 0; code < 100; ++code) {
      if (auto d = HomeOfficeOutcomeDisposal(code)) {
        disposals.insert(std::string(*d));
        ref << "INSERT INTO home_office_disposal VALUES (" << code << ", '" << *d << "');\n";
      }
    }
    for (const auto& d : disposals) {
      if (auto tier = DisposalTier(d)) {
        ref << "INSERT INTO disposal_tier VALUES ('" << d << "', '" << *tier << "');\n";
      }
    }
    if (!pg.Psql(write("schema.sql", ref.str()), {})) return false;
  }
  {
    std::ofstream events(dir / "events.jsonl");
    for (const auto& l : lines) events << l << '\n';
  }
  // One document per line: CSV with a quote and a delimiter that JSON text never holds.
  std::string copy = "\\copy staging (doc) FROM " + Quote((dir / "events.jsonl").string()) +
                     " WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')\n";
  auto copy_sql = write("copy.sql", copy);
  auto load_sql = write("load.sql", pg::kLoad);
  auto t0 = Clock::now();
  if (!pg.Psql(copy_sql, {})) return false;
  p.copy_s = Seconds(t0);
  if (!pg.Psql(load_sql, {})) return false;
  p.load_s = Seconds(t0);
  if (!pg.Psql(write("common.sql", pg::kCommon), {})) return false;
  auto timed_script = [&](const char* name, const char* query) {
    std::string s = "SET TimeZone = 'UTC';\n\\timing on\n";
    for (int r = 0; r <= repeat; ++r) s += query;
    return write(name, s);
  };
  std::vector<std::pair<std::string, std::string>> vars = {
      {"at", FormatDate(w.at)}, {"from", FormatDate(w.from)}, {"to", FormatDate(w.to)}};
  auto cla_out = pg.Psql(timed_script("cla.sql", pg::kCla), vars);
  auto outcomes_out = pg.Psql(timed_script("outcomes.sql", pg::kOutcomes), vars);
  if (!cla_out || !outcomes_out) return false;
  p.cla = ParseTimed(*cla_out, true);
  p.outcomes = ParseTimed(*outcomes_out, false);
  return true;
}

// ---- the figures must agree ----
bool FiguresAgree(const CareledgerRuns& c, const PgRuns& p, const Window& w) {
  const auto* live = &c.live;
  bool agree = Compare("CLA at 31 March", "careledger", live->first.rows, "PostgreSQL", p.cla.rows);
  agree = Compare("outcomes by cohort x tier", "careledger", live->second.rows, "PostgreSQL",
                  p.outcomes.rows) &&
          agree;
  for (const auto& [name, run] : {std::pair{"careledger replayed", &c.replayed},
                                  std::pair{"careledger rebuilt", &c.rebuilt}}) {
    agree =
        Compare("CLA at 31 March", name, run->first.rows, "ingested", live->first.rows) && agree;
    agree = Compare("outcomes by cohort x tier", name, run->second.rows, "ingested",
                    live->second.rows) &&
            agree;
  }
  std::cout << "CLA at " << FormatDate(w.at) << ": " << live->first.rows.at(0).substr(4)
            << " children; outcomes:";
  for (const auto& r : live->second.rows) std::cout << " " << r;
  std::cout << "\n";
  return agree;
}

void PrintTable(const CareledgerRuns& c, const PgRuns& p, size_t events, int repeat) {
  double pg_total = p.load_s + p.cla.median_s + p.outcomes.median_s;
  auto row = [&](const char* what, double load, const Timed& a, const Timed& b) {
    double total = load + a.median_s + b.median_s;
    std::printf("| %s | %.3f | %.1f | %.1f | %.3f | %.1f× |\n", what, load, a.median_s * 1000,
                b.median_s * 1000, total, pg_total / total);
  };
  std::printf(
      "\n%zu events; queries median of %d warm runs\n"
      "| system | load / ingest / rebuild s | CLA ms | outcomes ms | total s | PostgreSQL ÷ "
      "this |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
      events, repeat);
  row("PostgreSQL 15: COPY + typed table + indexes", p.load_s, p.cla, p.outcomes);
  row("careledger: ingest (fold, fsync per 5,000)", c.ingest_s, c.live.first, c.live.second);
  row("careledger: replay (StateRebuild + swap, as `careledger replay`)", c.replay_s,
      c.replayed.first, c.replayed.second);
  row("careledger: RebuildProjectionsInto a fresh store, synced", c.rebuild_s, c.rebuilt.first,
      c.rebuilt.second);
  std::printf("(PostgreSQL's load: COPY into staging %.3f s, typed table + indexes %.3f s)\n",
              p.copy_s, p.load_s - p.copy_s);
}

int Main(int argc, char** argv) {
  const Date today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  bench::FeedFlags flags(today);
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (flags.Take(argc, argv, i)) continue;
    if (std::string_view(argv[i]) == "--keep-postgres") keep = true;
  }
  const GeneratorOptions& gen = flags.gen;
  const int repeat = flags.repeat;
  const Window w = LatestYear(today);

  auto dir = fs::temp_directory_path() / ("careledger-bench-postgres-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    bool keep = false;
    ~Cleanup() {
      if (keep) return;
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir, keep};

  std::vector<std::string> lines;
  std::set<std::string> disposals;
  size_t feed_lines = 0;
  if (!AcceptedEvents(gen, lines, disposals, feed_lines)) return 1;
  std::cout << "feed: " << gen.children << " children, " << FormatDate(gen.start) << " to "
            << FormatDate(gen.end) << ", seed " << gen.seed << ": " << feed_lines << " lines, "
            << lines.size() << " events accepted; CLA at " << FormatDate(w.at)
            << ", outcomes decided in [" << FormatDate(w.from) << ", " << FormatDate(w.to) << ")\n";

  CareledgerRuns c;
  if (!RunCareledger(dir, lines, w, today, repeat, c)) return 1;
  TempPostgres pg(dir / "pg");
  PgRuns p;
  if (!RunPostgres(pg, dir, keep, lines, std::move(disposals), w, repeat, p)) return 1;
  bool agree = FiguresAgree(c, p, w);
  PrintTable(c, p, lines.size(), repeat);
  return agree ? 0 : 1;
}

}  // namespace
}  // namespace careledger

int main(int argc, char** argv) {
  return careledger::Main(argc, argv);
}
