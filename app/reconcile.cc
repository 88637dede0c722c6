// reconcile: the statutory count recomputed straight from the return's files with the DfE
// rule, against the store's figure, with every child that differs and why. What an analyst
// does by hand before a return goes to the DfE; exit 0 means they agree.
#include <iostream>
#include <set>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

using Status31 = std::map<std::string, StatutoryCare>;  // child → placement and legal status

// Every 31 March from the first episode's start to the last date the files name.
std::vector<Date> YearEnds(const Ssda903Census& census) {
  std::optional<Date> first, last;
  for (const auto& e : census.episodes) {
    first = std::min(first.value_or(e.decom), e.decom);
    last = std::max(last.value_or(e.decom), e.dec.value_or(e.decom));
  }
  std::vector<Date> out;
  if (!first) return out;
  using namespace std::chrono;
  for (int y = int(year_month_day{*first}.year()); y <= int(year_month_day{*last}.year()); ++y) {
    Date d = YearEnding{y}.Last();
    if (d >= *first) out.push_back(d);
  }
  return out;
}

std::string Describe(const std::optional<StatutoryCare>& c) {
  return c ? c->placement + " (" + c->legal_status + ")" : "not looked after";
}

std::map<std::string, int64_t> CountBy(const Status31& s, bool placement) {
  std::map<std::string, int64_t> out;
  for (const auto& [child, care] : s) ++out[placement ? care.placement : care.legal_status];
  return out;
}

struct ReconcileFlags {
  CommonFlags common;
  std::string format;
  std::vector<std::string> files, at;
};

using WhyOfChild = std::map<std::string, std::vector<std::string>>;

// What the adapter made of each row, to say why a child differs.
Result<WhyOfChild> AdapterFindingsByChild(const ReconcileFlags& o, const Context& ctx,
                                          const Ssda903Census& census) {
  std::map<std::pair<std::string, uint64_t>, std::vector<std::string>> findings;
  AdapterOptions options;
  options.local_postcode_districts = ctx.local_postcode_districts;
  options.on_warning = [&](Finding&& f) {
    findings[{f.file, f.line}].push_back("warning: " + f.ToString());
  };
  RejectSink on_reject = [&](Reject&& r) {
    findings[{r.file, r.line}].push_back("rejected: " + r.ToString());
  };
  EventSink ignore = [](FeedEvent&&) { return Status::Ok(); };
  auto adapted = AdaptFiles(FeedFormat::kSsda903, o.files, options, ignore, on_reject);
  if (!adapted.ok()) return adapted.status();
  WhyOfChild why_of_child;
  for (const auto& [row, child] : census.child_of_row) {
    auto it = findings.find(row);
    if (it == findings.end()) continue;
    auto& why = why_of_child[child];
    why.insert(why.end(), it->second.begin(), it->second.end());
  }
  return why_of_child;
}

// The store's side of every date, read in one pass over its children.
struct StoredCare {
  std::vector<Status31> on = {};                  // by date, as the dates are given
  std::map<std::string, std::string> notes = {};  // child → what else the store holds
  std::set<std::string> children = {};            // every child with an event in the store
};

Result<StoredCare> ReadStoredCare(const EventStore& store, const std::vector<Date>& dates) {
  StoredCare out;
  out.on.resize(dates.size());
  Status visited = ForEachChild(store, std::nullopt, [&](const ChildView& v) {
    std::string child(v.child_id);
    out.children.insert(child);
    for (size_t i = 0; i < dates.size(); ++i) {
      if (const CareSpell* s = ClaSpellAt(v, dates[i])) {
        out.on[i][child] = {s->placement, s->legal_status};
      }
    }
    for (const auto& spell : v.spells) {
      for (const Fact* f : spell.facts) {
        if (!f->event_id.starts_with("ssda903:") || !f->supersedes.empty()) {
          out.notes[child] =
              "the store holds a correction or another source's event: " + f->event_id;
        }
      }
    }
  });
  if (!visited.ok()) return visited;
  return out;
}

// A child that differs on `date`: both sides, and what the store and the adapter say of it.
std::string Difference(Date date, const std::string& child, const std::optional<StatutoryCare>& fc,
                       const std::optional<StatutoryCare>& sc, const StoredCare& stored,
                       const WhyOfChild& why_of_child) {
  std::string line =
      FormatDate(date) + " " + child + ": files " + Describe(fc) + ", store " + Describe(sc) + "\n";
  if (!stored.children.count(child)) {
    line +=
        "    no event of this child is in the store (not published, or not yet "
        "ingested)\n";
  }
  if (auto n = stored.notes.find(child); n != stored.notes.end()) {
    line += "    " + n->second + "\n";
  }
  if (auto w = why_of_child.find(child); w != why_of_child.end()) {
    for (const auto& why : w->second) line += "    " + why + "\n";
  }
  return line;
}

// The groups whose counts differ between the files and the store, by placement and by legal
// status.
void PrintGroupCounts(const Status31& files, const Status31& stored) {
  for (bool placement : {true, false}) {
    auto a = CountBy(files, placement), b = CountBy(stored, placement);
    if (a == b) continue;
    std::cout << "  by " << (placement ? "placement" : "legal status") << ":";
    std::set<std::string> groups;
    for (const auto& [g, _] : a) groups.insert(g);
    for (const auto& [g, _] : b) groups.insert(g);
    for (const auto& g : groups) {
      if (a[g] != b[g]) std::cout << ' ' << g << " files " << a[g] << " store " << b[g] << ';';
    }
    std::cout << '\n';
  }
}

// One date's line of the table, its counts by group where they differ, and every child that
// differs on it appended to `differences`.
void CompareDate(Date date, const Status31& files, const Status31& stored_on,
                 const StoredCare& stored, const WhyOfChild& why_of_child,
                 std::vector<std::string>& differences) {
  std::set<std::string> children;
  for (const auto& [c, _] : files) children.insert(c);
  for (const auto& [c, _] : stored_on) children.insert(c);
  int differ = 0;
  for (const auto& child : children) {
    auto f = files.find(child);
    auto s = stored_on.find(child);
    std::optional<StatutoryCare> fc, sc;
    if (f != files.end()) fc = f->second;
    if (s != stored_on.end()) sc = s->second;
    if (fc && sc && fc->placement == sc->placement && fc->legal_status == sc->legal_status) {
      continue;
    }
    ++differ;
    differences.push_back(Difference(date, child, fc, sc, stored, why_of_child));
  }
  std::printf("%s %6zu %6zu %7d\n", FormatDate(date).c_str(), files.size(), stored_on.size(),
              differ);
  PrintGroupCounts(files, stored_on);
}

int RunReconcile(const ReconcileFlags& o) {
  auto ctx = Resolve(o.common);
  if (!ctx.ok()) return Fail(ctx.status());
  auto census = ReadSsda903Census(o.files);
  if (!census.ok()) return Fail(census.status());
  auto why_of_child = AdapterFindingsByChild(o, *ctx, *census);
  if (!why_of_child.ok()) return Fail(why_of_child.status());

  std::vector<Date> dates;
  for (const auto& text : o.at) dates.push_back(*ParseDate(text));
  if (dates.empty()) dates = YearEnds(*census);
  if (dates.empty()) {
    std::cerr << "careledger: no readable episodes in the files: nothing to reconcile\n";
    return 1;
  }

  auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
  if (!store.ok()) return Fail(store.status());
  auto stored = ReadStoredCare(**store, dates);
  if (!stored.ok()) return Fail(stored.status());

  std::cout << "date        files  store  differ\n";
  std::vector<std::string> differences;
  for (size_t i = 0; i < dates.size(); ++i) {
    CompareDate(dates[i], LookedAfterOn(*census, dates[i]), stored->on[i], *stored, *why_of_child,
                differences);
  }
  std::cout << std::flush;
  if (differences.empty()) {
    std::cerr << "reconcile: the store agrees with the files on all " << dates.size()
              << " dates, in total, by placement and by legal status\n";
    return 0;
  }
  std::cout << "\nchildren that differ (" << differences.size() << "):\n";
  for (const auto& d : differences) std::cout << d;
  std::cerr << "reconcile: " << differences.size()
            << " child-dates differ between the files and the store\n";
  return 1;
}

}  // namespace

Command AddReconcile(CLI::App& app) {
  auto o = std::make_shared<ReconcileFlags>();
  auto* cmd = app.add_subcommand(
      "reconcile",
      "Recompute CLA on 31 March (in total, by placement and by legal status) from SSDA903 files "
      "with the DfE rule and compare it with the store; lists every child that differs and why "
      "(exit 0: they agree, 1: they differ)");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("format", o->format, "The files' format: ssda903")
      ->required()
      ->check(CLI::IsMember({"ssda903"}));
  cmd->add_option("files", o->files, "The return's files (episodes, and header etc. if wanted)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--at", o->at,
                  "Dates to compare, YYYY-MM-DD (repeatable; default every 31 March the files "
                  "cover)")
      ->check(kIsoDate);
  return {cmd, [o] { return RunReconcile(*o); }};
}

}  // namespace careledger::app
