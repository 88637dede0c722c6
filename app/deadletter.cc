// `careledger deadletter list | show ID | retry [ID...]`: what ingest could not accept, and
// re-driving it once the cause is fixed (a code list grew, a source re-keyed its messages).
#include <iostream>

#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/producers.h"
#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

// Whether the stored event at `sequence` is `payload` but for its recorded_at (ingest counts
// such a re-send as a duplicate).
// The bytes decide, not the fingerprint (a 64-bit hash can be made to collide).
bool SameAsStored(const EventStore& store, uint64_t sequence, std::string_view payload) {
  std::string stored;
  if (!store.ReadPayload(sequence, stored).ok()) return false;
  if (stored == payload) return true;
  auto same = SameEventButForRecordedAt(stored, payload);
  return same.ok() && *same;
}

// Where a dead letter stands now, judged with this build's validation and the store.
struct Judged {
  std::string status;  // invalid, conflict, stored, retryable
  std::string reason;  // why it is invalid now, when it is
  Envelope envelope;   // when it parses
};

Judged Judge(const DeadLetter& d, const EventStore& store, EnvelopeParser& parser) {
  Judged j;
  if (Status s = parser.Parse(d.payload, j.envelope); !s.ok()) {
    j.status = "invalid";
    j.reason = s.message();
    return j;
  }
  std::vector<std::optional<StoredEventId>> found;
  if (Status s = store.FindEventIds({j.envelope.event_id}, found); !s.ok()) {
    j.status = "invalid";
    j.reason = s.message();
    return j;
  }
  if (!found[0]) {
    j.status = "retryable";
  } else if (SameAsStored(store, found[0]->sequence, d.payload)) {
    j.status = "stored";  // retried already, or re-sent by its source (maybe re-extracted)
  } else {
    j.status = "conflict";  // same event_id, other content: a source must correct it
  }
  return j;
}

Result<std::vector<DeadLetter>> Select(const EventStore& store,
                                       const std::vector<std::string>& ids) {
  std::vector<DeadLetter> out;
  if (ids.empty()) {
    CARELEDGER_RETURN_IF_ERROR(store.ScanDeadLetters([&](const DeadLetter& d) {
      out.push_back(d);
      return true;
    }));
    return out;
  }
  for (const auto& id : ids) {
    auto parsed = ParseDeadLetterId(id);
    if (!parsed.ok()) return parsed.status();
    auto d = store.GetDeadLetter(parsed->first, parsed->second);
    if (!d.ok()) return d.status();
    if (!d->has_value()) return Status::BadInput("no dead letter " + id);
    out.push_back(std::move(**d));
  }
  return out;
}

int List(const EventStore& store, const std::vector<DeadLetter>& letters, OutputFormat format) {
  EnvelopeParser parser;
  ReportTable table;
  table.metric = "deadletters";
  table.dimensions = {"id", "kind", "status", "reason"};
  table.measures = {"bytes"};
  for (const auto& d : letters) {
    Judged j = Judge(d, store, parser);
    table.rows.push_back({{d.Id(), std::string(RejectKindName(d.kind)), j.status, d.reason},
                          {Figure::Count(int64_t(d.payload.size()))}});
  }
  std::cout << Render(table, format);
  return 0;
}

int Show(const EventStore& store, const DeadLetter& d, bool payload) {
  EnvelopeParser parser;
  Judged j = Judge(d, store, parser);
  std::cout << "id        " << d.Id() << '\n'
            << "kind      " << RejectKindName(d.kind) << '\n'
            << "reason    " << d.reason << '\n'
            << "status    " << j.status << (j.reason.empty() ? "" : ": " + j.reason) << '\n'
            << "bytes     " << d.payload.size() << '\n';
  if (j.status != "invalid") {
    std::cout << "event_id  " << j.envelope.event_id << '\n'
              << "type      " << EventTypeName(j.envelope.type) << '\n';
  }
  // The payload may hold personal data: only on an operator's explicit request, on stdout.
  if (payload) std::cout << d.payload << '\n';
  return 0;
}

int Retry(const Context& ctx, const EventStore& store, const std::vector<DeadLetter>& letters,
          bool dry_run) {
  EnvelopeParser parser;
  std::vector<FeedEvent> events;
  uint64_t invalid = 0, conflicts = 0, stored = 0;
  for (const auto& d : letters) {
    Judged j = Judge(d, store, parser);
    if (j.status == "invalid") {
      ++invalid;
      std::cerr << d.Id() << ": still rejected: " << j.reason << '\n';
    } else if (j.status == "conflict") {
      ++conflicts;
      std::cerr << d.Id() << ": conflict: event_id already stored with other content; the "
                << "source must send a correction (supersedes)\n";
    } else if (j.status == "stored") {
      ++stored;
    } else {
      events.push_back({d.payload, j.envelope.child_id, j.envelope.type, d.Id(), 0});
    }
  }
  const size_t to_publish = events.size();  // PublishEvents takes the events
  uint64_t published = 0, undelivered = 0;
  if (!dry_run && !events.empty()) {
    if (ctx.kafka.find("bootstrap.servers") == ctx.kafka.end()) {
      return Fail(Status::BadInput("no brokers: pass --brokers or set CARELEDGER_BROKERS"));
    }
    auto report = PublishEvents(std::move(events), ctx.kafka, std::cerr);
    if (!report.ok()) return Fail(report.status());
    published = report->published;
    undelivered = report->undelivered;
  }
  std::cerr << (dry_run ? "would re-publish " : "re-published ")
            << (dry_run ? to_publish : published) << " of " << letters.size()
            << " dead letters to their topics (ingest stores each once); " << stored
            << " already stored, " << invalid << " still invalid, " << conflicts << " conflicts, "
            << undelivered << " not delivered\n";
  return invalid + conflicts + undelivered > 0 ? 1 : 0;
}

}  // namespace

Command AddDeadLetter(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string action;
    std::vector<std::string> ids;
    std::string format = "table";
    bool payload = false, dry_run = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "deadletter",
      "Inspect and re-drive what ingest rejected: list | show ID | retry [ID...]. IDs are "
      "topic/partition@offset. retry validates each again with this build and re-publishes "
      "the ones that now pass to their topic; ingest stores each once");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("action", o->action, "list, show or retry")
      ->required()
      ->check(CLI::IsMember({"list", "show", "retry"}));
  cmd->add_option("ids", o->ids, "Dead-letter ids (default: all)");
  cmd->add_option("--format", o->format, "list: table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->add_flag("--payload", o->payload,
                "show: print the original bytes too (they may hold personal data)");
  cmd->add_flag("--dry-run", o->dry_run, "retry: say what would be re-published, publish nothing");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (o->action == "show" && o->ids.size() != 1) {
              std::cerr << "careledger: deadletter show takes one id\n";
              return 2;
            }
            auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
            if (!store.ok()) return Fail(store.status());
            auto letters = Select(**store, o->ids);
            if (!letters.ok()) return Fail(letters.status());
            if (o->action == "list") {
              return List(**store, *letters, *OutputFormatFromName(o->format));
            }
            if (o->action == "show") return Show(**store, letters->front(), o->payload);
            return Retry(*ctx, **store, *letters, o->dry_run);
          }};
}

}  // namespace careledger::app
