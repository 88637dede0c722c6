// Private to projections/: the reads a figure is made of, from one store (a Run reads each of
// its stores: ReadEach): a store on this host, or another instance's over the network, whose
// reads and answers are encoded here (AnswerStoreRead answers them at the other end).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dimensions.h"
#include "kept_rows.h"

namespace careledger::metrics {

class Source {
 public:
  virtual ~Source() = default;
  // The store's path, or the remote store's name.
  virtual std::string Name() const = 0;
  // The partitions it answers for (empty: all; a store never assigned any).
  virtual Result<std::set<int32_t>> Partitions() const = 0;
  // CountersOn: the counter's cells on a day, by value.
  virtual Result<std::map<std::string, int64_t>> Counters(Date on,
                                                          std::string_view counter) const = 0;
  // ScanKeptRows, or as the rows stood at `known_at`.
  virtual Status Rows(RowKind kind, const Window& window, std::optional<Instant> known_at,
                      const std::function<void(const KeptRow&)>& visit) const = 0;
  // ChildrenWithSpans.
  virtual Result<std::vector<std::string>> SpanChildren(RowKind kind, const Window& window,
                                                        std::optional<Instant> known_at) const = 0;
  // The named children (sorted ids), or every child when `ids` is null, resolved as known at
  // `known_at`.
  virtual Status Children(std::optional<Instant> known_at, const std::vector<std::string>* ids,
                          const std::function<void(const ChildView&)>& visit) const = 0;
  // Another instance's, read over the network.
  virtual bool Remote() const { return false; }
};

std::unique_ptr<const Source> SourceOf(const StoreRef& store);

// `read` of each source, as if one after another in their order. Where some are other
// instances', all are asked at once, each on a thread of its own (a figure waits for the
// slowest peer, not for the sum of them); each read then takes in what its source gives only
// once the reads before it have finished, so `read` may update the figure's state unguarded,
// provided it does so only with what a source has given it. The first failure, in order.
Status ReadEach(const std::vector<std::shared_ptr<const Source>>& sources,
                const std::function<Status(const Source&)>& read);

}  // namespace careledger::metrics
