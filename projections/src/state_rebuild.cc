// StateRebuild: a family beside the live one, the bulk of the log by RebuildProjectionsInto and
// the rest by the Projector that ingest uses, then swapped in.
#include <spdlog/spdlog.h>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

Result<std::unique_ptr<StateRebuild>> StateRebuild::Begin(EventStore& store, Options options) {
  auto family = store.CreateStateFamily();
  if (!family.ok()) return family.status();
  if (options.chunk == 0) options.chunk = 1;
  return std::unique_ptr<StateRebuild>(new StateRebuild(store, *family, options));
}

StateRebuild::~StateRebuild() {
  if (swapped_) return;
  if (Status s = store_.DropStateFamily(family_); !s.ok()) {
    spdlog::warn("rebuilt state family {} not dropped ({}); the next open drops it", family_,
                 s.message());
  }
}

namespace {

// The first sequence of the last ingest stamp before `end`: the first ingested after the
// second before it (stamps are whole seconds).
Result<uint64_t> FirstOfLastStamp(const EventStore& store, uint64_t end) {
  auto last = IngestedAt(store, end - 1);
  if (!last.ok()) return last.status();
  return FirstIngestedAfter(store, *last - std::chrono::seconds(1), end);
}

}  // namespace

Result<Instant> IngestedAt(const EventStore& store, uint64_t sequence) {
  std::optional<Instant> stamp;
  CARELEDGER_RETURN_IF_ERROR(store.ScanLog(
      [&](const LogRecord& rec) {
        stamp = rec.ingested_at;
        return false;
      },
      sequence));
  if (!stamp) return Status::Fatal("the log has no record " + std::to_string(sequence));
  return *stamp;
}

Result<uint64_t> FirstIngestedAfter(const EventStore& store, Instant t, uint64_t end) {
  uint64_t lo = 0, hi = end;  // the answer is in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto at = IngestedAt(store, mid);
    if (!at.ok()) return at.status();
    if (*at <= t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

Status StateRebuild::CatchUp(uint64_t end, const std::function<void(uint64_t)>& progress) {
  if (swapped_) return Status::Fatal("the rebuild was swapped in already");
  if (const uint64_t logged = std::min(end, store_.next_sequence());
      next_.load() == 0 && logged > 0) {
    // The bulk of the log in two passes on two threads, up to the last ingest stamp before
    // `end`: the records of one stamp are one version of a child's rows, and ingest may still
    // be writing batches with that stamp. The Projector folds the rest, as ingest did.
    auto bulk_end = FirstOfLastStamp(store_, logged);
    if (!bulk_end.ok()) return bulk_end.status();
    if (*bulk_end > 0) {
      RebuildOptions bulk;
      bulk.known_at = options_.known_at;
      bulk.end = *bulk_end;
      bulk.family = family_;
      bulk.stop = options_.stop;
      auto stats = RebuildProjectionsInto(store_, store_, bulk);
      if (!stats.ok()) return stats.status();
      next_.store(*bulk_end);
      if (progress) progress(*bulk_end);
    }
  }
  EnvelopeParser parser;
  // Envelopes stay put while a chunk is gathered: AcceptedEvent points at them.
  std::vector<Envelope> envelopes;
  uint64_t start = next_.load();
  envelopes.reserve(std::min<uint64_t>(options_.chunk, end > start ? end - start : 0));
  std::vector<AcceptedEvent> accepted;
  accepted.reserve(options_.chunk);
  size_t used = 0;
  uint64_t next = next_.load();
  auto flush = [&]() -> Status {
    auto batch = store_.NewStateBatch(family_);
    Status s = projector_.Apply(accepted, batch);
    if (s.ok()) s = store_.Write(batch);
    if (!s.ok()) {
      projector_.Forget();
      return s;
    }
    accepted.clear();
    used = 0;
    next_.store(next);
    if (progress) progress(next);
    return Status::Ok();
  };
  Status failure = Status::Ok();
  if (next < end) {
    CARELEDGER_RETURN_IF_ERROR(store_.ScanLog(
        [&](const LogRecord& rec) {
          if (rec.sequence >= end) return false;
          next = rec.sequence + 1;
          if (!options_.known_at || rec.ingested_at <= *options_.known_at) {
            // Reused chunk after chunk (their strings keep their capacity); never moved while
            // a chunk points at them, as the reserve covers a whole chunk.
            if (used == envelopes.size()) envelopes.emplace_back();
            Envelope& e = envelopes[used];
            if (Status s = parser.Parse(rec.payload, e); !s.ok()) {
              // The payload was accepted once; failing now means the log or the parser changed.
              failure = Status::Fatal("log record " + std::to_string(rec.sequence) +
                                      " no longer parses (run `careledger verify`)");
              return false;
            }
            ++used;
            accepted.push_back({&e, rec.sequence, rec.partition, rec.ingested_at});
          }
          if (used == options_.chunk) {
            failure = flush();
            if (!failure.ok()) return false;
          }
          return true;
        },
        next));
  }
  CARELEDGER_RETURN_IF_ERROR(failure);
  if (next_.load() < next) CARELEDGER_RETURN_IF_ERROR(flush());
  if (next < end) {
    return Status::Fatal("the log ends at sequence " + std::to_string(next) + ", before " +
                         std::to_string(end));
  }
  return Status::Ok();
}

Status StateRebuild::Swap() {
  CARELEDGER_RETURN_IF_ERROR(store_.SwapStateFamily(family_));
  swapped_ = true;
  return Status::Ok();
}

}  // namespace careledger
