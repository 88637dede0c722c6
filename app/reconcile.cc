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

}  // namespace

Command AddReconcile(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string format;
    std::vector<std::string> files, at;
  };
  auto o = std::make_shared<Opts>();
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
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto census = ReadSsda903Census(o->files);
            if (!census.ok()) return Fail(census.status());
            // What the adapter made of each row, to say why a child differs.
            std::map<std::pair<std::string, uint64_t>, std::vector<std::string>> findings;
            AdapterOptions options;
            options.local_postcode_districts = ctx->local_postcode_districts;
            options.on_warning = [&](Finding&& f) {
              findings[{f.file, f.line}].push_back("warning: " + f.ToString());
            };
            RejectSink on_reject = [&](Reject&& r) {
              findings[{r.file, r.line}].push_back("rejected: " + r.ToString());
            };
            EventSink ignore = [](FeedEvent&&) { return Status::Ok(); };
            auto adapted = AdaptFiles(FeedFormat::kSsda903, o->files, options, ignore, on_reject);
            if (!adapted.ok()) return Fail(adapted.status());
            std::map<std::string, std::vector<std::string>> why_of_child;
            for (const auto& [row, child] : census->child_of_row) {
              auto it = findings.find(row);
              if (it == findings.end()) continue;
              auto& why = why_of_child[child];
              why.insert(why.end(), it->second.begin(), it->second.end());
            }

            std::vector<Date> dates;
            for (const auto& text : o->at) dates.push_back(*ParseDate(text));
            if (dates.empty()) dates = YearEnds(*census);
            if (dates.empty()) {
              std::cerr << "careledger: no readable episodes in the files: nothing to reconcile\n";
              return 1;
            }

            auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
            if (!store.ok()) return Fail(store.status());
            // One pass over the store's children for every date.
            std::vector<Status31> stored(dates.size());
            std::map<std::string, std::string> store_notes;  // child → what else the store holds
            std::set<std::string> in_store;
            Status visited = ForEachChild(**store, std::nullopt, [&](const ChildView& v) {
              std::string child(v.child_id);
              in_store.insert(child);
              for (size_t i = 0; i < dates.size(); ++i) {
                if (const CareSpell* s = ClaSpellAt(v, dates[i])) {
                  stored[i][child] = {s->placement, s->legal_status};
                }
              }
              for (const auto& spell : v.spells) {
                for (const Fact* f : spell.facts) {
                  if (!f->event_id.starts_with("ssda903:") || !f->supersedes.empty()) {
                    store_notes[child] =
                        "the store holds a correction or another source's event: " + f->event_id;
                  }
                }
              }
            });
            if (!visited.ok()) return Fail(visited);

            std::cout << "date        files  store  differ\n";
            std::vector<std::string> differences;
            for (size_t i = 0; i < dates.size(); ++i) {
              Status31 files = LookedAfterOn(*census, dates[i]);
              std::set<std::string> children;
              for (const auto& [c, _] : files) children.insert(c);
              for (const auto& [c, _] : stored[i]) children.insert(c);
              int differ = 0;
              for (const auto& child : children) {
                auto f = files.find(child);
                auto s = stored[i].find(child);
                std::optional<StatutoryCare> fc, sc;
                if (f != files.end()) fc = f->second;
                if (s != stored[i].end()) sc = s->second;
                if (fc && sc && fc->placement == sc->placement &&
                    fc->legal_status == sc->legal_status) {
                  continue;
                }
                ++differ;
                std::string line = FormatDate(dates[i]) + " " + child + ": files " + Describe(fc) +
                                   ", store " + Describe(sc) + "\n";
                if (!in_store.count(child)) {
                  line +=
                      "    no event of this child is in the store (not published, or not yet "
                      "ingested)\n";
                }
                if (auto n = store_notes.find(child); n != store_notes.end()) {
                  line += "    " + n->second + "\n";
                }
                if (auto w = why_of_child.find(child); w != why_of_child.end()) {
                  for (const auto& why : w->second) line += "    " + why + "\n";
                }
                differences.push_back(std::move(line));
              }
              std::printf("%s %6zu %6zu %7d\n", FormatDate(dates[i]).c_str(), files.size(),
                          stored[i].size(), differ);
              for (bool placement : {true, false}) {
                auto a = CountBy(files, placement), b = CountBy(stored[i], placement);
                if (a == b) continue;
                std::cout << "  by " << (placement ? "placement" : "legal status") << ":";
                std::set<std::string> groups;
                for (const auto& [g, _] : a) groups.insert(g);
                for (const auto& [g, _] : b) groups.insert(g);
                for (const auto& g : groups) {
                  if (a[g] != b[g])
                    std::cout << ' ' << g << " files " << a[g] << " store " << b[g] << ';';
                }
                std::cout << '\n';
              }
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
          }};
}

}  // namespace careledger::app
