// A rebuild's state as sorted table files: StateRun (entries in memory), SpilledRun (a run
// written out), MergeRuns, CutRuns, WriteStateFiles and IngestStateFiles.
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

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

// A spilled entry: its key's and value's lengths and whether it merges, then the key and the
// value.
constexpr size_t kSpillHeader = 4 + 4 + 1;

Result<std::unique_ptr<SpilledRun>> SpilledRun::Write(const StateRun& run, std::string path) {
  std::unique_ptr<SpilledRun> spilled(new SpilledRun());
  spilled->path_ = std::move(path);
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(spilled->path_).parent_path(), error);
  if (error)
    return Status::Fatal("create the directory of " + spilled->path_ + ": " + error.message());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(spilled->path_.c_str(), "wb"),
                                                       &std::fclose);
  if (!file) return Status::Fatal("create " + spilled->path_ + ": " + std::strerror(errno));
  std::vector<char> buffer(size_t(1) << 20);
  std::setvbuf(file.get(), buffer.data(), _IOFBF, buffer.size());
  uint64_t offset = 0;
  std::string header;
  for (size_t i = 0; i < run.size(); ++i) {
    std::string_view key = run.key(i), value = run.value(i);
    if (i % kSampleEvery == 0) spilled->samples_.emplace_back(key, offset);
    header.clear();
    codec::PutBigEndian32(header, uint32_t(key.size()));
    codec::PutBigEndian32(header, uint32_t(value.size()));
    header.push_back(char(run.merges(i)));
    if (std::fwrite(header.data(), 1, header.size(), file.get()) != header.size() ||
        std::fwrite(key.data(), 1, key.size(), file.get()) != key.size() ||
        std::fwrite(value.data(), 1, value.size(), file.get()) != value.size()) {
      return Status::Fatal("write " + spilled->path_ + ": " + std::strerror(errno));
    }
    offset += kSpillHeader + key.size() + value.size();
  }
  if (std::fflush(file.get()) != 0) {
    return Status::Fatal("write " + spilled->path_ + ": " + std::strerror(errno));
  }
  spilled->entries_ = run.size();
  return spilled;
}

SpilledRun::~SpilledRun() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

namespace {

// One run's entries in [begin, end), in key order: from memory, or read back from its file a
// megabyte at a time.
class RunCursor {
 public:
  RunCursor(const RunSource& source, std::string_view begin, std::string_view end)
      : memory_(source.memory), end_key_(end) {
    if (memory_) {
      at_ = begin.empty() ? 0 : memory_->LowerBound(begin);
      last_ = end.empty() ? memory_->size() : memory_->LowerBound(end);
      return;
    }
    const SpilledRun& spilled = *source.spilled;
    file_.reset(std::fopen(spilled.path().c_str(), "rb"));
    if (!file_) {
      status_ = Status::Fatal("open " + spilled.path() + ": " + std::strerror(errno));
      return;
    }
    // The last sample below `begin`: the entries from there on are read until one is not.
    const auto& samples = spilled.samples();
    auto after = std::lower_bound(samples.begin(), samples.end(), begin,
                                  [](const auto& s, std::string_view k) { return s.first < k; });
    const uint64_t offset = after == samples.begin() ? 0 : std::prev(after)->second;
    buffer_.resize(size_t(1) << 20);
    std::setvbuf(file_.get(), buffer_.data(), _IOFBF, buffer_.size());
    if (std::fseek(file_.get(), long(offset), SEEK_SET) != 0) {
      status_ = Status::Fatal("seek " + spilled.path() + ": " + std::strerror(errno));
      return;
    }
    ReadEntry();
    while (valid_ && key() < begin) ReadEntry();
  }
  bool Valid() const {
    if (memory_) return at_ < last_;
    return valid_;
  }
  std::string_view key() const { return memory_ ? memory_->key(at_) : std::string_view(key_); }
  std::string_view value() const {
    return memory_ ? memory_->value(at_) : std::string_view(value_);
  }
  bool merges() const { return memory_ ? memory_->merges(at_) : merges_; }
  void Next() {
    if (memory_) {
      ++at_;
    } else {
      ReadEntry();
    }
  }
  const Status& status() const { return status_; }

 private:
  void ReadEntry() {
    valid_ = false;
    char header[kSpillHeader];
    size_t got = std::fread(header, 1, sizeof header, file_.get());
    if (got == 0 && std::feof(file_.get())) return;
    if (got != sizeof header) return Fail();
    const uint32_t key_size = codec::GetBigEndian32(header),
                   value_size = codec::GetBigEndian32(header + 4);
    merges_ = header[8] != 0;
    key_.resize(key_size);
    value_.resize(value_size);
    if (std::fread(key_.data(), 1, key_size, file_.get()) != key_size ||
        std::fread(value_.data(), 1, value_size, file_.get()) != value_size) {
      return Fail();
    }
    if (!end_key_.empty() && std::string_view(key_) >= end_key_) return;
    valid_ = true;
  }
  void Fail() { status_ = Status::Fatal("a spilled run of the rebuild is truncated"); }

  const StateRun* memory_;
  std::string_view end_key_;
  size_t at_ = 0, last_ = 0;
  std::vector<char> buffer_;  // stdio's, a megabyte: declared before the file that uses it
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_{nullptr, &std::fclose};
  bool valid_ = false, merges_ = false;
  std::string key_, value_;
  Status status_ = Status::Ok();
};

}  // namespace

std::vector<RunSource> InMemory(std::initializer_list<const StateRun*> runs) {
  std::vector<RunSource> out;
  out.reserve(runs.size());
  for (const StateRun* run : runs) out.push_back({.memory = run, .spilled = nullptr});
  return out;
}

Status MergeRuns(
    const std::vector<RunSource>& runs, std::string_view begin, std::string_view end,
    const std::function<bool(std::string_view key, std::string_view value, bool merges)>& visit) {
  std::vector<std::unique_ptr<RunCursor>> cursors;
  cursors.reserve(runs.size());
  for (const RunSource& run : runs) {
    cursors.push_back(std::make_unique<RunCursor>(run, begin, end));
    CARELEDGER_RETURN_IF_ERROR(cursors.back()->status());
  }
  std::string key, value, merged;
  for (;;) {
    // The least key left (the first run holding it), then every run's entries of it in the
    // runs' order, each run's in its own.
    const RunCursor* least = nullptr;
    for (const auto& c : cursors) {
      if (c->Valid() && (!least || c->key() < least->key())) least = c.get();
    }
    if (!least) return Status::Ok();
    key.assign(least->key());
    bool merge = true, first = true;
    for (const auto& c : cursors) {
      for (; c->Valid() && c->key() == key; c->Next()) {
        if (first || !c->merges()) {
          value.assign(c->value());
          merge = c->merges();
        } else {
          std::string_view before = value;
          if (!MergeCounterCells(&before, c->value(), merged)) {
            return Status::Fatal("state cell is not a counter, or corrupt: " + key);
          }
          value.swap(merged);
        }
        first = false;
      }
      CARELEDGER_RETURN_IF_ERROR(c->status());
    }
    if (!visit(key, value, merge)) return Status::Ok();
  }
}

std::vector<std::string> CutRuns(const std::vector<RunSource>& runs, size_t parts) {
  // Keys sampled every kSampleEvery entries of every run: each stands for as many entries.
  std::vector<std::string_view> samples;
  for (const RunSource& run : runs) {
    if (run.spilled) {
      for (const auto& [key, offset] : run.spilled->samples()) samples.push_back(key);
    } else {
      for (size_t i = 0; i < run.memory->size(); i += SpilledRun::kSampleEvery) {
        samples.push_back(run.memory->key(i));
      }
    }
  }
  std::sort(samples.begin(), samples.end());
  std::vector<std::string> cuts;
  for (size_t i = 1; i < parts && samples.size() >= parts; ++i) {
    std::string_view cut = samples[samples.size() * i / parts];
    if (cut.empty() || (!cuts.empty() && cut <= cuts.back())) continue;
    cuts.emplace_back(cut);
  }
  return cuts;
}

std::string EventStore::NewStateFilePath(std::string_view suffix) const {
  return StateFilesDir(impl_->options.path) + "/" +
         std::to_string(impl_->state_files.fetch_add(1)) + std::string(suffix);
}

Result<std::vector<std::string>> EventStore::WriteStateFiles(const std::string& family,
                                                             const std::vector<RunSource>& runs,
                                                             std::string_view begin,
                                                             std::string_view end,
                                                             size_t file_bytes) const {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + family);
  const std::string dir = StateFilesDir(impl_->options.path);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::Fatal("create " + dir + ": " + error.message());
  // The family's own options: its files are compressed as its last level is (a bulk load's
  // files that do not overlap go there and are never compacted again).
  const rocksdb::Options options(impl_->db->GetDBOptions(), impl_->state_options);
  std::optional<rocksdb::SstFileWriter> writer;
  std::vector<std::string> paths;
  size_t bytes = 0;
  Status failure = Status::Ok();
  auto finish = [&] {
    if (writer) failure = FromRocks(writer->Finish(), "finish " + paths.back());
    writer.reset();
    bytes = 0;
    return failure.ok();
  };
  CARELEDGER_RETURN_IF_ERROR(
      MergeRuns(runs, begin, end, [&](std::string_view key, std::string_view value, bool merge) {
        if (bytes >= file_bytes && !finish()) return false;
        if (!writer) {
          writer.emplace(rocksdb::EnvOptions(), options, handle);
          paths.push_back(NewStateFilePath(".sst"));
          failure = FromRocks(writer->Open(paths.back()), "open " + paths.back());
          if (!failure.ok()) return false;
        }
        bytes += key.size() + value.size();
        failure = FromRocks(merge ? writer->Merge(key, value) : writer->Put(key, value),
                            "write " + paths.back());
        return failure.ok();
      }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  finish();
  CARELEDGER_RETURN_IF_ERROR(failure);
  return paths;
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
