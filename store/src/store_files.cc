// A rebuild's state as sorted table files: StateRun (entries in memory), WriteStateFile and
// IngestStateFiles.
#include <rocksdb/sst_file_writer.h>

#include "store_impl.h"

namespace careledger {

using namespace store_detail;  // NOLINT(google-build-using-namespace): the store's own files

void StateRun::Add(std::string_view key, std::string_view value, bool merge) {
  entries_.push_back({arena_.size(), uint32_t(key.size()), uint32_t(value.size()), merge});
  arena_.append(key);
  arena_.append(value);
}

void StateRun::AddToCounter(std::string_view key, int64_t delta) {
  std::string v;  // eight bytes: no allocation
  codec::PutFixed64(v, uint64_t(delta));
  Add(key, v, true);
}

void StateRun::Reserve(size_t bytes) {
  arena_.reserve(bytes);
  entries_.reserve(bytes / 64);
}

void StateRun::Sort() {
  std::stable_sort(entries_.begin(), entries_.end(), [this](const Entry& a, const Entry& b) {
    return std::string_view(arena_.data() + a.at, a.key) <
           std::string_view(arena_.data() + b.at, b.key);
  });
}

void StateRun::Clear() {
  // The memory goes back too: a run is cleared once written, and the next may never come.
  std::string().swap(arena_);
  std::vector<Entry>().swap(entries_);
}

size_t StateRun::LowerBound(std::string_view key) const {
  size_t lo = 0, hi = entries_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (this->key(mid) < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

namespace {

// The runs' entries in [begin, end) in key order, run by run for one key (each run in its own
// order): a merge of a handful of sorted runs.
class RunsInOrder {
 public:
  RunsInOrder(const std::vector<const StateRun*>& runs, std::string_view begin,
              std::string_view end)
      : runs_(runs) {
    at_.reserve(runs.size());
    end_.reserve(runs.size());
    for (const StateRun* run : runs) {
      size_t first = begin.empty() ? 0 : run->LowerBound(begin);
      size_t last = end.empty() ? run->size() : run->LowerBound(end);
      at_.push_back(first);
      end_.push_back(last);
    }
  }
  // The run holding the least key left (the first such run), or none.
  std::optional<size_t> Next() const {
    std::optional<size_t> least;
    for (size_t r = 0; r < runs_.size(); ++r) {
      if (at_[r] == end_[r]) continue;
      if (!least || runs_[r]->key(at_[r]) < runs_[*least]->key(at_[*least])) least = r;
    }
    return least;
  }
  const StateRun& run(size_t r) const { return *runs_[r]; }
  size_t& at(size_t r) { return at_[r]; }
  bool Has(size_t r, std::string_view key) const {
    return at_[r] < end_[r] && runs_[r]->key(at_[r]) == key;
  }

 private:
  const std::vector<const StateRun*>& runs_;
  std::vector<size_t> at_, end_;
};

}  // namespace

Result<std::string> EventStore::WriteStateFile(const std::string& family,
                                               const std::vector<const StateRun*>& runs,
                                               std::string_view begin, std::string_view end,
                                               StateFile use) const {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + family);
  RunsInOrder in(runs, begin, end);
  if (!in.Next()) return std::string();
  const std::string dir = StateFilesDir(impl_->options.path);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::Fatal("create " + dir + ": " + error.message());
  const std::string path = dir + "/" + std::to_string(impl_->state_files.fetch_add(1)) + ".sst";
  // The family's own options: its files are compressed as its last level is (a bulk load's
  // files that do not overlap go there and are never compacted again).
  rocksdb::Options options(impl_->db->GetDBOptions(), impl_->state_options);
  if (use == StateFile::kCompacted && options.compression != rocksdb::kNoCompression) {
    // zstd with a trained dictionary, then read back and compressed again by the compaction,
    // was a third of a rebuild that did not fit in memory; LZ4 is several times cheaper.
    options.bottommost_compression = rocksdb::kDisableCompressionOption;
    options.compression = rocksdb::kLZ4Compression;
  }
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, handle);
  CARELEDGER_RETURN_IF_ERROR(FromRocks(writer.Open(path), "open " + path));
  std::string key, value, merged;
  while (auto least = in.Next()) {
    // Every entry of the least key, from every run, combined as a batch would apply them.
    key.assign(in.run(*least).key(in.at(*least)));
    bool merge = true, first = true;
    for (size_t r = *least; r < runs.size(); ++r) {
      for (; in.Has(r, key); ++in.at(r)) {
        const StateRun& run = in.run(r);
        std::string_view v = run.value(in.at(r));
        if (first || !run.merges(in.at(r))) {
          value.assign(v);
          merge = run.merges(in.at(r));
        } else {
          std::string_view before = value;
          if (!MergeCounterCells(&before, v, merged)) {
            return Status::Fatal("state cell is not a counter, or corrupt: " + key);
          }
          value.swap(merged);
        }
        first = false;
      }
    }
    auto s = merge ? writer.Merge(key, value) : writer.Put(key, value);
    CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "write " + path));
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(writer.Finish(), "finish " + path));
  return path;
}

Status EventStore::IngestStateFiles(const std::string& family,
                                    const std::vector<std::string>& paths) {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + family);
  if (paths.empty()) return Status::Ok();
  rocksdb::IngestExternalFileOptions options;
  options.move_files = true;  // a hard link: the files were written beside the store
  return FromRocks(impl_->db->IngestExternalFile(handle, paths, options),
                   "ingest the rebuilt state's files");
}

}  // namespace careledger
