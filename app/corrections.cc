// `careledger corrections`: the corrections and retractions ingest holds because they do not
// (yet) take effect: their target is not stored, or is another child's event.
#include <iostream>

#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

Command AddCorrections(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string format = "table";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "corrections",
      "List held corrections: supersedes and event.retracted whose target the store does not "
      "hold for the same child. An awaiting one takes effect when its target arrives; an "
      "other_child one never does (the source must retract and re-send under the right child)");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--format", o->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
            if (!store.ok()) return Fail(store.status());
            auto held = (*store)->HeldCorrections();
            if (!held.ok()) return Fail(held.status());
            ReportTable table;
            table.metric = "held_corrections";
            table.dimensions = {"event_id", "kind",        "target_event_id", "state",
                                "child_id", "consumed_at", "held_since"};
            table.measures = {"corrections"};
            for (const auto& h : *held) {
              table.rows.push_back(
                  {{h.event_id, h.retraction ? "retraction" : "supersedes", h.target_event_id,
                    h.other_child ? "other_child" : "awaiting_target", h.child_id,
                    h.from.topic + "/" + std::to_string(h.from.partition) + "@" +
                        std::to_string(h.offset),
                    FormatInstant(h.held_at)},
                   {Figure::Count(1)}});
            }
            std::cout << Render(table, *OutputFormatFromName(o->format));
            return 0;
          }};
}

}  // namespace careledger::app
