// `careledger reference import|list`: published comparators (DfE, YJB tables) read from their
// own files into the store, for the KPIs (docs/kpi.md).
#include <iostream>
#include <map>
#include <set>

#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

int Import(const CommonFlags& common, const std::vector<std::string>& files,
           const std::string& name) {
  if (!name.empty() && files.size() != 1) {
    std::cerr << "careledger: --name names one file's table: import the files one by one\n";
    return 2;
  }
  auto ctx = Resolve(common);
  if (!ctx.ok()) return Fail(ctx.status());
  // Every file is read before the store is touched: one that does not read imports nothing.
  std::vector<ReferenceTable> tables;
  bool problems_seen = false;
  for (const auto& file : files) {
    std::vector<std::string> problems;
    auto table = ReadReferenceTable(file, name, problems);
    for (const auto& p : problems) std::cerr << "careledger: " << p << '\n';
    problems_seen = problems_seen || !problems.empty();
    if (!table.ok()) return Fail(table.status());
    tables.push_back(std::move(*table));
  }
  auto store = EventStore::Open({.path = ctx->data_dir});
  if (!store.ok()) {
    if (store.status().message().find("in use by another") != std::string::npos) {
      return Fail(Status::Fatal("the store at " + ctx->data_dir +
                                " is in use (ingest or run): stop it, import, start it again"));
    }
    return Fail(store.status());
  }
  const Instant now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  for (auto& table : tables) {
    if (Status s = StoreReferenceTable(**store, table, now); !s.ok()) return Fail(s);
    std::set<std::string> indicators, areas, years;
    size_t markers = 0;
    for (const auto& f : table.figures) {
      indicators.insert(f.indicator);
      areas.insert(f.area_code);
      years.insert(std::to_string(f.year));
      if (!f.value) ++markers;
    }
    std::cout << "imported " << table.name << " from " << table.file << " (" << table.layout
              << " layout, sha256 " << table.sha256.substr(0, 16) << "…): " << table.figures.size()
              << " figures, " << markers << " of them markers (c, z, x), " << indicators.size()
              << " indicators, " << areas.size() << " areas, years ending 31 March "
              << *years.begin() << "–" << *years.rbegin() << '\n';
  }
  return problems_seen ? 1 : 0;
}

int List(const CommonFlags& common, const std::string& format) {
  auto ctx = Resolve(common);
  if (!ctx.ok()) return Fail(ctx.status());
  auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
  if (!store.ok()) return Fail(store.status());
  auto reference = ReferenceFigures::Load(**store);
  if (!reference.ok()) return Fail(reference.status());
  ReportTable table;
  table.metric = "reference";
  table.dimensions = {"table", "indicator", "years", "imported_at", "sha256"};
  table.measures = {"figures", "areas"};
  for (const auto& t : reference->tables()) {
    struct Seen {
      int64_t figures = 0;
      std::set<std::string> areas;
      int first = 0, last = 0;
    };
    std::map<std::string, Seen> by_indicator;
    for (const auto& f : t.figures) {
      Seen& s = by_indicator[f.indicator];
      ++s.figures;
      s.areas.insert(f.area_code);
      s.first = s.first ? std::min(s.first, f.year) : f.year;
      s.last = std::max(s.last, f.year);
    }
    for (const auto& [indicator, s] : by_indicator) {
      table.rows.push_back(
          {{t.name, indicator, std::to_string(s.first) + "-" + std::to_string(s.last),
            t.imported_at, t.sha256},
           {Figure::Count(s.figures), Figure::Count(int64_t(s.areas.size()))}});
    }
  }
  table.notes.emplace_back("years end on 31 March; a KPI names an indicator in its comparators");
  std::cout << Render(table, *OutputFormatFromName(format));
  return 0;
}

}  // namespace

Command AddReference(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::vector<std::string> files;
    std::string name, format = "table";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "reference",
      "Published comparators for the KPIs: import DfE and YJB tables as published, list them");
  cmd->require_subcommand(1);
  auto* import = cmd->add_subcommand(
      "import",
      "Read published tables (DfE explore-education-statistics CSV, or the long layout: "
      "area_code, period, indicator, measure, value) into the store, each replacing the table "
      "of its name");
  AddCommonFlags(*import, o->common);
  import->add_option("files", o->files, "CSV files as published")->required();
  import->add_option("--name", o->name, "Keep the table as NAME (default: the file's name)");
  auto* list = cmd->add_subcommand("list", "The imported tables and their indicators");
  AddCommonFlags(*list, o->common);
  list->add_option("--format", o->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  return {cmd, [o, import] {
            return import->parsed() ? Import(o->common, o->files, o->name)
                                    : List(o->common, o->format);
          }};
}

}  // namespace careledger::app
