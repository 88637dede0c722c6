// The reads a figure is made of (source.h), from a store on this host or from another
// instance's over the network.
//
// A remote read, as bytes (what AnswerStoreRead answers):
//   request  <op (1)> <expected partitions: count (4), each (4)> <the op's arguments>
//     'C' counters   <day (8)> <counter (length-prefixed)>
//     'R' rows       <kind (1)> <window: from, to (8 each)> <as known at: 0, or 1 and time (8)>
//     'S' children with span rows, as 'R'
//     'T' timelines  <0: every child | 1: count (4), each id (length-prefixed)>
//   answer, to the end:
//     'C' <value (length-prefixed)> <cells (8)> ...
//     'R' <row key (length-prefixed)> <row (length-prefixed)> ...
//     'S' <child id (length-prefixed)> ...
//     'T' <child id (length-prefixed)> <partition (4)> <facts (4)> <fact (length-prefixed)>...
// Days and times are signed counts since 1970 (days, seconds); numbers are big-endian but for
// those 8 bytes wide (codec's fixed). Rows and facts are encoded as the state keeps them.
#include "source.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "byte_reader.h"
#include "careledger/projections.h"
#include "counters.h"

namespace careledger::metrics {

namespace {

constexpr char kCounters = 'C', kRows = 'R', kSpanChildren = 'S', kTimelines = 'T';
// 1000-01-01 and 10000-12-31 (an open span is dated 9999-12-31, and read to the day after), in
// days since 1970.
constexpr int64_t kFirstDay = -354285, kLastDay = 2933262;

void PutDate(std::string& out, Date d) {
  codec::PutFixed64(out, uint64_t(int64_t(d.time_since_epoch().count())));
}

void PutWhen(std::string& out, std::optional<Instant> t) {
  out.push_back(t ? 1 : 0);
  if (t) codec::PutFixed64(out, uint64_t(int64_t(t->time_since_epoch().count())));
}

// A request's or answer's fields.
class Reader : public ByteReader {
 public:
  using ByteReader::ByteReader;
  int64_t I64() { return int64_t(U64()); }
  // Days and times from years 1000 to 10000 only: anything else is no figure's, and would
  // overflow the day keys.
  Date Day() {
    const int64_t days = I64();
    if (days < kFirstDay || days > kLastDay) Fail();
    return Date{std::chrono::days{ok() ? days : 0}};
  }
  Window Span() {
    Window w;
    w.from = Day();
    w.to = Day();
    return w;
  }
  std::optional<Instant> When() {
    if (Byte() == 0) return std::nullopt;
    const int64_t seconds = I64();
    if (seconds < kFirstDay * 86400 || seconds > kLastDay * 86400) Fail();
    return Instant{std::chrono::seconds{ok() ? seconds : 0}};
  }
  RowKind Kind() {
    const auto kind = RowKind(Byte());
    if (std::find(std::begin(kRowKinds), std::end(kRowKinds), kind) == std::end(kRowKinds)) {
      Fail();
    }
    return kind;
  }
};

std::string ListOf(const std::set<int32_t>& partitions) {
  std::string out;
  for (int32_t p : partitions) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out.empty() ? "all" : out;
}

class LocalSource final : public Source {
 public:
  explicit LocalSource(const EventStore& store) : store_(store) {}
  std::string Name() const override { return store_.path(); }
  Result<std::set<int32_t>> Partitions() const override { return OwnedPartitions(store_); }
  Result<std::map<std::string, int64_t>> Counters(Date on,
                                                  std::string_view counter) const override {
    return CountersOn(store_, on, counter);
  }
  Status Rows(RowKind kind, const Window& window, std::optional<Instant> known_at,
              const std::function<void(const KeptRow&)>& visit) const override {
    return known_at ? ScanKeptRowsAsKnownAt(store_, kind, window, *known_at, visit)
                    : ScanKeptRows(store_, kind, window, visit);
  }
  Result<std::vector<std::string>> SpanChildren(RowKind kind, const Window& window,
                                                std::optional<Instant> known_at) const override {
    return ChildrenWithSpans(store_, kind, window, known_at);
  }
  Status Children(std::optional<Instant> known_at, const std::vector<std::string>* ids,
                  const std::function<void(const ChildView&)>& visit) const override {
    return ids ? ForEachChildIn(store_, known_at, *ids, visit)
               : ForEachChild(store_, known_at, visit);
  }

 private:
  const EventStore& store_;
};

class RemoteSource final : public Source {
 public:
  explicit RemoteSource(const RemoteStore& remote)
      : remote_(remote), expected_(remote.Partitions()) {}
  std::string Name() const override { return remote_.Name(); }
  bool Remote() const override { return true; }
  Result<std::set<int32_t>> Partitions() const override { return expected_; }

  Result<std::map<std::string, int64_t>> Counters(Date on,
                                                  std::string_view counter) const override {
    std::string request = Request(kCounters);
    PutDate(request, on);
    codec::PutLengthPrefixed(request, counter);
    std::map<std::string, int64_t> out;
    CARELEDGER_RETURN_IF_ERROR(Ask(request, [&](Reader& in) {
      std::string value(in.Bytes());
      out[value] += in.I64();
      return Status::Ok();
    }));
    return out;
  }

  Status Rows(RowKind kind, const Window& window, std::optional<Instant> known_at,
              const std::function<void(const KeptRow&)>& visit) const override {
    std::vector<KeptRow> rows;
    KeptRow row;
    // Visited once the whole answer has passed its checks: a figure never takes in part of a
    // refused answer.
    CARELEDGER_RETURN_IF_ERROR(Ask(SpanRequest(kRows, kind, window, known_at), [&](Reader& in) {
      if (!TakeWireRow(in.rest(), row)) in.Fail();
      if (!in.ok()) return Status::Ok();
      rows.push_back(row);
      return Claimed(row.partition, "a row");
    }));
    for (const auto& r : rows) visit(r);
    return Status::Ok();
  }

  Result<std::vector<std::string>> SpanChildren(RowKind kind, const Window& window,
                                                std::optional<Instant> known_at) const override {
    std::vector<std::string> ids;
    CARELEDGER_RETURN_IF_ERROR(
        Ask(SpanRequest(kSpanChildren, kind, window, known_at), [&](Reader& in) {
          ids.emplace_back(in.Bytes());
          return Status::Ok();
        }));
    return ids;
  }

  Status Children(std::optional<Instant> known_at, const std::vector<std::string>* ids,
                  const std::function<void(const ChildView&)>& visit) const override {
    std::string request = Request(kTimelines);
    request.push_back(ids ? 1 : 0);
    if (ids) {
      codec::PutBigEndian32(request, uint32_t(ids->size()));
      for (const auto& id : *ids) codec::PutLengthPrefixed(request, id);
    }
    std::vector<std::pair<std::string, Timeline>> timelines;
    CARELEDGER_RETURN_IF_ERROR(Ask(request, [&](Reader& in) {
      auto& [child, timeline] = timelines.emplace_back();
      child.assign(in.Bytes());
      timeline.partition = int32_t(in.U32());
      const uint32_t facts = in.U32();
      for (uint32_t i = 0; i < facts && in.ok(); ++i) {
        int32_t ignored = 0;
        Fact& fact = timeline.facts.emplace_back();
        if (!DecodeFact(in.Bytes(), fact, ignored).ok()) in.Fail();
      }
      if (!in.ok()) return Status::Ok();
      // (Not the child's id: the message reaches logs and published responses.)
      return Claimed(timeline.partition, "a child");
    }));
    for (const auto& [child, timeline] : timelines) {
      visit(ResolveChild(child, timeline, known_at));
    }
    return Status::Ok();
  }

 private:
  std::string Request(char op) const {
    std::string request(1, op);
    codec::PutBigEndian32(request, uint32_t(expected_.size()));
    for (int32_t p : expected_) codec::PutBigEndian32(request, uint32_t(p));
    return request;
  }
  std::string SpanRequest(char op, RowKind kind, const Window& window,
                          std::optional<Instant> known_at) const {
    std::string request = Request(op);
    request.push_back(char(kind));
    PutDate(request, window.from);
    PutDate(request, window.to);
    PutWhen(request, known_at);
    return request;
  }
  Status Claimed(int32_t partition, const std::string& what) const {
    // (None expected: a store never assigned any, which answers for all.)
    if (expected_.empty() || expected_.count(partition)) return Status::Ok();
    return Status::Retriable("answered with " + what + " of partition " +
                             std::to_string(partition) + ", which it does not answer for (" +
                             ListOf(expected_) + ")");
  }
  // Sends the read, and takes each item of the answer in turn; any failure is the remote
  // store's, told to it and named.
  Status Ask(const std::string& request, const std::function<Status(Reader&)>& item) const {
    Status failure = Status::Ok();
    auto answer = remote_.Read(request);
    if (!answer.ok()) {
      failure = answer.status();
    } else {
      Reader in(*answer);
      while (failure.ok() && in.ok() && !in.done()) failure = item(in);
      if (failure.ok() && !in.ok()) failure = Status::Retriable("its answer does not decode");
    }
    if (failure.ok()) return failure;
    remote_.Failed(failure);
    return Status::Retriable(remote_.Name() + ": " + failure.message());
  }

  const RemoteStore& remote_;
  std::set<int32_t> expected_;
};

// Whose turn it is to take in what its source gave (ReadEach): the sources' order.
class Turns {
 public:
  void Wait(size_t turn) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return next_ == turn; });
  }
  void Done(size_t turn) {
    {
      std::lock_guard lock(mu_);
      next_ = turn + 1;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  size_t next_ = 0;
};

// A source read on a thread beside the others: it hands nothing over (a row, a child, an
// answer) before its turn, and keeps the turn until its read is done.
class InTurn final : public Source {
 public:
  InTurn(const Source& source, Turns& turns, size_t turn)
      : source_(source), turns_(turns), turn_(turn) {}
  ~InTurn() override {
    Take();
    turns_.Done(turn_);
  }
  InTurn(const InTurn&) = delete;
  InTurn& operator=(const InTurn&) = delete;

  std::string Name() const override { return source_.Name(); }
  Result<std::set<int32_t>> Partitions() const override { return Given(source_.Partitions()); }
  Result<std::map<std::string, int64_t>> Counters(Date on,
                                                  std::string_view counter) const override {
    return Given(source_.Counters(on, counter));
  }
  Status Rows(RowKind kind, const Window& window, std::optional<Instant> known_at,
              const std::function<void(const KeptRow&)>& visit) const override {
    return Given(source_.Rows(kind, window, known_at, [&](const KeptRow& row) {
      Take();
      visit(row);
    }));
  }
  Result<std::vector<std::string>> SpanChildren(RowKind kind, const Window& window,
                                                std::optional<Instant> known_at) const override {
    return Given(source_.SpanChildren(kind, window, known_at));
  }
  Status Children(std::optional<Instant> known_at, const std::vector<std::string>* ids,
                  const std::function<void(const ChildView&)>& visit) const override {
    return Given(source_.Children(known_at, ids, [&](const ChildView& child) {
      Take();
      visit(child);
    }));
  }
  bool Remote() const override { return source_.Remote(); }

 private:
  void Take() const {
    if (taken_) return;
    turns_.Wait(turn_);
    taken_ = true;
  }
  template <typename T>
  T Given(T answer) const {
    Take();
    return answer;
  }
  const Source& source_;
  Turns& turns_;
  const size_t turn_;
  mutable bool taken_ = false;
};

}  // namespace

Status ReadEach(const std::vector<std::shared_ptr<const Source>>& sources,
                const std::function<Status(const Source&)>& read) {
  const bool any_remote =
      std::any_of(sources.begin(), sources.end(), [](const auto& s) { return s->Remote(); });
  if (!any_remote || sources.size() < 2) {
    for (const auto& s : sources) CARELEDGER_RETURN_IF_ERROR(read(*s));
    return Status::Ok();
  }
  Turns turns;
  std::vector<Status> results(sources.size(), Status::Ok());
  auto read_one = [&](size_t i) {
    const InTurn source(*sources[i], turns, i);
    results[i] = read(source);
  };
  std::vector<std::thread> others;
  others.reserve(sources.size() - 1);
  for (size_t i = 1; i < sources.size(); ++i) others.emplace_back(read_one, i);
  read_one(0);
  for (auto& t : others) t.join();
  for (auto& result : results) CARELEDGER_RETURN_IF_ERROR(std::move(result));
  return Status::Ok();
}

std::unique_ptr<const Source> SourceOf(const StoreRef& store) {
  if (store.remote) return std::make_unique<RemoteSource>(*store.remote);
  return std::make_unique<LocalSource>(*store.local);
}

}  // namespace careledger::metrics

namespace careledger {

Result<std::string> AnswerStoreRead(const EventStore& store, std::string_view request) {
  using metrics::Reader;
  Reader in(request);
  const char op = char(in.Byte());
  std::set<int32_t> expected;
  for (uint32_t n = in.U32(), i = 0; i < n && in.ok(); ++i) expected.insert(int32_t(in.U32()));
  if (!in.ok()) return Status::BadInput("the read does not decode");
  auto owned = metrics::OwnedPartitions(store);
  if (!owned.ok()) return owned.status();
  if (*owned != expected) {
    return Status::Retriable("this instance answers for partitions " + metrics::ListOf(*owned) +
                             ", not " + metrics::ListOf(expected) + " (the group was rebalanced)");
  }
  const metrics::LocalSource local(store);
  std::string out;
  auto span = [&](metrics::RowKind& kind, metrics::Window& window) {
    kind = in.Kind();
    window = in.Span();
    return in.When();
  };
  switch (op) {
    case metrics::kCounters: {
      Date on = in.Day();
      std::string counter(in.Bytes());
      if (!in.ok() || !in.done()) break;
      auto cells = local.Counters(on, counter);
      if (!cells.ok()) return cells.status();
      for (const auto& [value, n] : *cells) {
        codec::PutLengthPrefixed(out, value);
        codec::PutFixed64(out, uint64_t(n));
      }
      return out;
    }
    case metrics::kRows:
    case metrics::kSpanChildren: {
      metrics::RowKind kind{};
      metrics::Window window;
      auto known_at = span(kind, window);
      if (!in.ok() || !in.done()) break;
      if (op == metrics::kRows) {
        CARELEDGER_RETURN_IF_ERROR(local.Rows(
            kind, window, known_at, [&](const metrics::KeptRow& row) { AppendWireRow(out, row); }));
        return out;
      }
      auto ids = local.SpanChildren(kind, window, known_at);
      if (!ids.ok()) return ids.status();
      for (const auto& id : *ids) codec::PutLengthPrefixed(out, id);
      return out;
    }
    case metrics::kTimelines: {
      const bool named = in.Byte() != 0;
      std::vector<std::string> ids;
      for (uint32_t n = named ? in.U32() : 0, i = 0; i < n && in.ok(); ++i) {
        ids.emplace_back(in.Bytes());
      }
      if (!in.ok() || !in.done()) break;
      CARELEDGER_RETURN_IF_ERROR(metrics::ForEachTimeline(
          store, named ? &ids : nullptr, [&](std::string_view child, const Timeline& timeline) {
            codec::PutLengthPrefixed(out, child);
            codec::PutBigEndian32(out, uint32_t(timeline.partition));
            codec::PutBigEndian32(out, uint32_t(timeline.facts.size()));
            for (const Fact& f : timeline.facts) {
              codec::PutLengthPrefixed(out, EncodeFact(f, timeline.partition));
            }
          }));
      return out;
    }
    default:
      break;
  }
  return Status::BadInput("the read does not decode");
}

}  // namespace careledger
