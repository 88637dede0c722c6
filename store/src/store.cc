// Opening and closing a store, and the counter cells' encoding.
#include "store_impl.h"

namespace careledger {

int64_t DecodeCounter(std::string_view value) {
  if (value.size() != 8) return 0;
  return int64_t(codec::GetFixed64(value.data()));
}

std::string EncodeNamedCounts(const std::vector<std::pair<std::string_view, int64_t>>& sorted) {
  std::string out;
  for (const auto& [name, count] : sorted) {
    if (count == 0) continue;
    codec::PutKeyPart(out, name);
    codec::PutFixed64(out, uint64_t(count));
  }
  return out;
}

bool ForEachNamedCount(std::string_view cell,
                       const std::function<void(std::string_view, int64_t)>& fn) {
  if (cell.size() == 8) return false;
  while (!cell.empty()) {
    std::string_view name;
    if (!codec::GetKeyPart(cell, name) || cell.size() < 8) return false;
    fn(name, int64_t(codec::GetFixed64(cell.data())));
    cell.remove_prefix(8);
  }
  return true;
}

bool IsZeroCounter(std::string_view cell) {
  return cell.empty() || (cell.size() == 8 && DecodeCounter(cell) == 0);
}

bool MergeCounterCells(const std::string_view* existing, std::string_view change,
                       std::string& out) {
  out.clear();
  if (change.size() == 8 && (!existing || existing->size() == 8)) {
    int64_t sum = DecodeCounter(change) + (existing ? DecodeCounter(*existing) : 0);
    codec::PutFixed64(out, uint64_t(sum));
    return true;
  }
  // Named counts: both sorted by name, so one pass over the two.
  std::vector<std::pair<std::string_view, int64_t>> a, b, merged;
  auto into = [](auto& v) { return [&v](std::string_view n, int64_t c) { v.emplace_back(n, c); }; };
  if ((existing && !ForEachNamedCount(*existing, into(a))) || !ForEachNamedCount(change, into(b))) {
    return false;
  }
  merged.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      merged.push_back(a[i++]);
    } else if (i == a.size() || b[j].first < a[i].first) {
      merged.push_back(b[j++]);
    } else {
      merged.emplace_back(a[i].first, a[i].second + b[j].second);
      ++i;
      ++j;
    }
  }
  out = EncodeNamedCounts(merged);
  return true;
}

namespace {

using StateFamilies = std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>>;

// RocksDB's options for the whole database.
rocksdb::DBOptions DatabaseOptions(const StoreOptions& options, bool one_shot) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // It never flushes or compacts: no background threads to start.
  if (!one_shot) db_options.IncreaseParallelism(options.background_threads);
  db_options.max_open_files = options.max_open_files;
  db_options.info_log = std::make_shared<SpdlogLogger>();
  // The small families (offsets, meta, dead letters) take a little of every batch and never
  // fill a memtable, so without a cap no WAL file is ever released: 660 MiB of WAL after an
  // 840 k-event ingest, replayed by every read-only open (a `report` took 5 s). The cap
  // flushes whatever holds the oldest WAL file once the WAL passes it.
  db_options.max_total_wal_size = options.max_wal_bytes;
  return db_options;
}

// The options of each kind of column family, and the descriptors that open them.
struct FamilyOptions {
  rocksdb::ColumnFamilyOptions base = {};
  rocksdb::ColumnFamilyOptions meta = {};
  rocksdb::ColumnFamilyOptions event_id = {};
  rocksdb::ColumnFamilyOptions state = {};

  std::vector<rocksdb::ColumnFamilyDescriptor> Describe(
      const std::vector<std::string>& extra_state_families) const {
    std::vector<rocksdb::ColumnFamilyDescriptor> out;
    out.reserve(std::size(kCfNames));
    for (const char* name : kCfNames) {
      out.emplace_back(name, IsStateFamily(name)                            ? state
                             : std::string_view(name) == kCfNames[kMeta]    ? meta
                             : std::string_view(name) == kCfNames[kEventId] ? event_id
                                                                            : base);
    }
    for (const auto& name : extra_state_families) out.emplace_back(name, state);
    return out;
  }
};

FamilyOptions BuildFamilyOptions(const StoreOptions& options, bool one_shot) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.enable_index_compression = false;
  // A one-shot reader loads the index and filter of the tables its ranges meet, when it
  // meets them, instead of every table's at open.
  table.cache_index_and_filter_blocks = one_shot;
  auto table_factory =
      std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table));

  FamilyOptions f;
  rocksdb::ColumnFamilyOptions& base_options = f.base;
  base_options.table_factory = table_factory;
  base_options.compression = options.compress ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  if (options.compress) {
    // The last level holds nearly all the bytes and is rewritten least: zstd with a dictionary
    // trained per file (event payloads repeat their field names and codes) took a 200 k-event
    // store from 444 to 277 bytes an event once compacted; LZ4 above keeps flushes cheap.
    base_options.bottommost_compression = rocksdb::kZSTD;
    base_options.bottommost_compression_opts.enabled = true;
    base_options.bottommost_compression_opts.max_dict_bytes = 16 << 10;
    base_options.bottommost_compression_opts.zstd_max_train_bytes = 100 * (16 << 10);
  }
  base_options.write_buffer_size = options.write_buffer_bytes;
  // The meta family takes range deletes (SetAssignment), and RocksDB 7.8 hands a hinted
  // family's range deletes the splice of its point keys (a different skip list): it aborts.
  f.meta = base_options;
  // A batch is written in key order (Batch::Impl::Build), so each key is near the one before
  // it in the memtable; the plain insert searches from the top of a 64 MiB skip list every
  // time, a cache miss a level (half of ingest's write). A hint keeps the last insert's place:
  // one hint a family, as every key has the empty prefix.
  base_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewCappedPrefixTransform(0));
  // Ingest looks up every new event's id, and nearly all are absent: a whole-key bloom filter
  // on the memtable answers those without searching the skip list (FindEventIds was 11 % of
  // ingest's main thread, 2.4 % with it).
  f.event_id = base_options;
  if (!options.read_only) {
    // (A read-only open's memtables stay empty: zeroing 3 MiB of filter for them was 6 % of a
    // report. A secondary replays the writer's WAL into its memtables, so it keeps the filter.)
    f.event_id.memtable_prefix_bloom_size_ratio = 0.05;
    f.event_id.memtable_whole_key_filtering = true;
  }
  f.state = base_options;
  if (options.compress) {
    // The state is derived and every rebuild writes it whole, where the log is written once:
    // zstd's fast level and a dictionary finalized from samples instead of trained on them
    // took a rebuild's files from 0.74 to 0.46 s (150 k events) for 2 % more bytes on disk.
    f.state.bottommost_compression_opts.level = 1;
    f.state.bottommost_compression_opts.use_zstd_dict_trainer = false;
  }
  f.state.merge_operator = std::make_shared<CounterMergeOperator>();
  f.state.prefix_extractor = std::make_shared<TaggedPartPrefix>();
  return f;
}

// RocksDB adds column families one at a time; a reader that opened the store meanwhile
// would find some missing. Build it whole beside its place, then move it in.
Status CreateStore(const std::string& path, const rocksdb::DBOptions& db_options,
                   const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string side = path + ".creating-" + std::to_string(::getpid());
  fs::remove_all(side, ec);
  fs::create_directories(side, ec);
  if (ec) return Status::Fatal("cannot create " + side + ": " + ec.message());
  ::chmod(side.c_str(), 0700);  // the store holds pseudonymous personal data
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* fresh = nullptr;
  CARELEDGER_RETURN_IF_ERROR(FromRocks(
      rocksdb::DB::Open(db_options, side, descriptors, &handles, &fresh), "create store"));
  for (auto* h : handles) fresh->DestroyColumnFamilyHandle(h);
  delete fresh;
  fs::create_directories(fs::path(path).parent_path(), ec);
  fs::remove(path, ec);  // an empty directory left for us is fine to replace
  fs::rename(side, path, ec);
  if (ec) fs::remove_all(side, ec);  // another process made it first: use theirs
  return Status::Ok();
}

Status TakeWriterLock(WriterLock& lock, const std::string& path) {
  auto taken = lock.Take(path + "/careledger.lock");
  if (!taken.ok()) return taken.status();
  if (!*taken) {
    return Status::Fatal("store " + path + " is in use by another careledger process (it holds " +
                         path + "/careledger.lock)");
  }
  return Status::Ok();
}

// What RocksDB's open hands back.
struct OpenedDatabase {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles = {};
  std::string writer_current = {};      // a secondary's: see EventStore::Impl::writer_current
  std::set<uint64_t> writer_logs = {};  // and EventStore::Impl::writer_logs
};

// Every state family there is gets opened (RocksDB wants all of them for writing); which
// one is live is read from meta afterwards.
std::vector<rocksdb::ColumnFamilyDescriptor> DescribeExisting(const rocksdb::DBOptions& db_options,
                                                              const std::string& path,
                                                              const FamilyOptions& families) {
  std::vector<std::string> names, extra;
  if (rocksdb::DB::ListColumnFamilies(db_options, path, &names).ok()) {
    for (const auto& name : names) {
      if (IsStateFamily(name) && name != kStateFamilyBase) extra.push_back(name);
    }
  }
  // "projection" itself is opened only while it exists (a swap drops it for good).
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = families.Describe(extra);
  if (!names.empty() &&
      std::find(names.begin(), names.end(), std::string(kStateFamilyBase)) == names.end()) {
    descriptors.erase(descriptors.begin() + kProjection);
  }
  return descriptors;
}

// Opens the database as a secondary, a one-shot reader or the writer. A reader may list the
// families just before a writer drops one, and then fails to open it: list again.
Status OpenDatabase(const StoreOptions& options, bool read_only, rocksdb::DBOptions db_options,
                    const FamilyOptions& families, OpenedDatabase& out) {
  rocksdb::Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto descriptors = DescribeExisting(db_options, options.path, families);
    if (!options.secondary_path.empty()) {
      // Read before opening: a restart in between then shows as a change, never the reverse.
      out.writer_current = ReadCurrentFile(options.path);
      out.writer_logs = WalFiles(options.path);
      // A secondary keeps every SST file open: it cannot reopen one the primary has since
      // compacted away.
      db_options.max_open_files = -1;
      // Each catch-up that finds the writer's flushes in the manifest loads the new tables on
      // this many threads, started afresh every time: the default 16 made `serve` beside a
      // busy ingest start some 700 threads a second (with them, its API p99 at 10,000 events/s
      // was 123-133 ms; without, 21-34 ms). A catch-up's new tables are few; one thread will do.
      db_options.max_file_opening_threads = 1;
      s = rocksdb::DB::OpenAsSecondary(db_options, options.path, options.secondary_path,
                                       descriptors, &out.handles, &out.db);
    } else if (options.read_only) {
      // A one-shot reader (`report`, `verify`) opens most tables once: mapped, their index and
      // filter blocks are read in place instead of copied into fresh heap (page faults were a
      // third of a report on a 1 M-children store).
      db_options.allow_mmap_reads = true;
      db_options.max_file_opening_threads = 1;
      db_options.skip_stats_update_on_db_open = true;
      s = rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &out.handles,
                                       &out.db);
    } else {
      s = rocksdb::DB::Open(db_options, options.path, descriptors, &out.handles, &out.db);
    }
    // A reader beside a running writer may also find a file gone that it had just listed (the
    // writer replaced its OPTIONS or MANIFEST file, or released a WAL): open again.
    if (s.ok() || !read_only || !(s.IsInvalidArgument() || s.IsPathNotFound())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
  }
  if (!s.ok()) return FromRocks(s, "open store " + options.path);
  return Status::Ok();
}

// The handles by Cf, and the state families by name.
void SortHandles(const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                 std::vector<rocksdb::ColumnFamilyHandle*>& cf, StateFamilies& families) {
  cf.assign(kCfNames.size(), nullptr);
  for (auto* h : handles) {
    const std::string& name = h->GetName();
    if (IsStateFamily(name)) {
      families.emplace(name, h);
      continue;
    }
    for (size_t i = 0; i < kCfNames.size(); ++i) {
      if (name == kCfNames[i]) cf[i] = h;
    }
  }
}

// The state family meta names live ("projection" until a replay swaps another in).
Result<rocksdb::ColumnFamilyHandle*> LiveStateFamily(rocksdb::DB& db,
                                                     rocksdb::ColumnFamilyHandle* meta,
                                                     const StateFamilies& families,
                                                     std::string& live) {
  live = std::string(kStateFamilyBase);
  std::string v;
  auto got = db.Get(rocksdb::ReadOptions(), meta, kMetaStateFamily, &v);
  if (got.ok()) {
    live = v;
  } else if (!got.IsNotFound()) {
    return FromRocks(got, "read the live state family");
  }
  auto it = families.find(live);
  if (it == families.end()) {
    return Status::Fatal("the live projection state family '" + live +
                         "' is missing (run `careledger replay`)");
  }
  return it->second;
}

// Not live at open: an interrupted rebuild's, of no use to anyone.
Status DropAbandonedFamilies(rocksdb::DB& db, StateFamilies& families, const std::string& live) {
  for (auto i = families.begin(); i != families.end();) {
    if (i->first == live) {
      ++i;
      continue;
    }
    spdlog::info("dropping state family {} left by an interrupted replay", i->first);
    CARELEDGER_RETURN_IF_ERROR(FromRocks(db.DropColumnFamily(i->second), "drop " + i->first));
    i = families.erase(i);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(options.path + "/CURRENT", ec);
  const bool read_only = options.read_only || !options.secondary_path.empty();
  if (read_only && !exists) {
    return Status::BadInput("no store at " + options.path + " (run `careledger ingest` first)");
  }
  if (!exists && fs::is_directory(options.path, ec) && !fs::is_empty(options.path, ec)) {
    return Status::BadInput(options.path + " is not a careledger store and is not empty");
  }
  // A one-shot reader (`report`, `lineage`, `verify`) reads a few ranges and exits.
  const bool one_shot = options.read_only && options.secondary_path.empty();
  const rocksdb::DBOptions db_options = DatabaseOptions(options, one_shot);
  const FamilyOptions families = BuildFamilyOptions(options, one_shot);
  if (!read_only && !exists) {
    CARELEDGER_RETURN_IF_ERROR(CreateStore(options.path, db_options, families.Describe({})));
  }

  // Per-operation perf counters showed up at ~7% of ingest CPU in a profile (thread-local
  // look-ups) and nothing reads them; the setting is per thread, and the opener writes.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  auto impl = std::make_unique<Impl>();
  if (!read_only) CARELEDGER_RETURN_IF_ERROR(TakeWriterLock(impl->writer_lock, options.path));
  impl->state_options = families.state;
  impl->scans_fill_cache = !one_shot;
  impl->options = options;
  OpenedDatabase opened;
  CARELEDGER_RETURN_IF_ERROR(OpenDatabase(options, read_only, db_options, families, opened));
  impl->secondary = !options.secondary_path.empty();
  impl->writer_current = std::move(opened.writer_current);
  impl->writer_logs = std::move(opened.writer_logs);
  impl->db.reset(opened.db);
  impl->write_options.sync = options.sync;
  impl->owned = opened.handles;
  SortHandles(opened.handles, impl->cf, impl->families);
  std::string live;
  auto live_family = LiveStateFamily(*impl->db, impl->cf[kMeta], impl->families, live);
  if (!live_family.ok()) return live_family.status();
  impl->live.store(*live_family);
  impl->cf[kProjection] = *live_family;
  if (!read_only) {
    CARELEDGER_RETURN_IF_ERROR(DropAbandonedFamilies(*impl->db, impl->families, live));
  }

  std::unique_ptr<EventStore> store(new EventStore());
  store->impl_ = std::move(impl);
  CARELEDGER_RETURN_IF_ERROR(store->ReadTail());
  if (!read_only) CARELEDGER_RETURN_IF_ERROR(store->ReadLedger());
  return store;
}

Status EventStore::ReadLedger() {
  const rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf[kOffsets]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    impl_->offsets.emplace(it->key().ToString(), it->value().ToString());
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read offsets"));
  std::string v;
  if (impl_->db->Get(ro, impl_->cf[kMeta], kMetaDeadLetters, &v).ok() && v.size() == 8) {
    impl_->dead_letters = codec::GetFixed64(v.data());
    return Status::Ok();
  }
  // A store from before the count: its dead letters as they are now.
  it.reset(impl_->db->NewIterator(ro, impl_->cf[kDeadLetter]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++impl_->dead_letters;
  return FromRocks(it->status(), "count dead letters");
}

Status EventStore::ReadTail() {
  // The next sequence follows the last log key: the log is the only source of truth for it.
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kLog]));
  it->SeekToLast();
  if (it->Valid()) {
    next_sequence_.store(codec::GetBigEndian64(it->key().data()) + 1);
    LogRecord last;
    if (!codec::DecodeLogValue({it->value().data(), it->value().size()}, last)) {
      return Status::Fatal("the last log record is malformed (run `careledger verify`)");
    }
    head_ = last.chain;
  }
  return FromRocks(it->status(), "read log tail");
}

Status EventStore::CatchUp() {
  if (!impl_->secondary) return Status::Ok();
  std::set<uint64_t> logs = WalFiles(impl_->options.path);
  CARELEDGER_RETURN_IF_ERROR(
      FromRocks(impl_->db->TryCatchUpWithPrimary(), "catch up with the store"));
  const std::set<uint64_t> after = WalFiles(impl_->options.path);
  const bool log_flushed = std::any_of(impl_->writer_logs.begin(), impl_->writer_logs.end(),
                                       [&](uint64_t n) { return !after.count(n); });
  logs.insert(after.begin(), after.end());
  impl_->writer_logs = std::move(logs);
  // Open the store afresh, in a directory of its own so that the two secondaries never share
  // their bookkeeping, when catching up cannot be trusted:
  // - the writer restarted: it flushed the WAL it recovered into a table file, and RocksDB
  //   7.8's secondary then holds that data twice, in that file and in the memtable it had
  //   read from the same WAL; merged counters come out doubled (store_test has the case).
  //   Checked after catching up, so any restart catching up has seen is caught now.
  // - a replay swapped another state family in and dropped the one this secondary holds (it
  //   cannot open families made after it opened).
  std::string live;
  auto got = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kMeta], kMetaStateFamily, &live);
  // - the writer flushed a log this secondary may have read (a flush while it runs, or at a
  //   clean close): what it read stays in its memtable beside the flushed table.
  if (log_flushed || (got.ok() && live != impl_->live.load()->GetName()) ||
      ReadCurrentFile(impl_->options.path) != impl_->writer_current) {
    StoreOptions again = impl_->options;
    int generation = impl_->reopened + 1;
    again.secondary_path = impl_->options.secondary_path + "/g" + std::to_string(generation);
    auto fresh = Open(again);
    if (!fresh.ok()) return fresh.status();
    (*fresh)->impl_->options = impl_->options;
    (*fresh)->impl_->reopened = generation;
    impl_ = std::move((*fresh)->impl_);  // closes the one before
    next_sequence_.store((*fresh)->next_sequence());
    head_ = (*fresh)->head_;
    if (generation > 1) {
      std::error_code ignored;  // only RocksDB's info logs: left behind if it fails
      std::filesystem::remove_all(
          impl_->options.secondary_path + "/g" + std::to_string(generation - 1), ignored);
    }
    return Status::Ok();
  }
  return ReadTail();
}

EventStore::~EventStore() {
  // A writer that stops cleanly leaves no WAL behind: every store opened after it (a report,
  // verify, the next ingest) would otherwise replay it first, seconds per few hundred MiB.
  if (!impl_ || !impl_->db || impl_->secondary || impl_->options.read_only) return;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  for (size_t i = 0; i < impl_->cf.size(); ++i) {
    if (i != kProjection && impl_->cf[i]) families.push_back(impl_->cf[i]);
  }
  families.push_back(impl_->live.load());
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (auto s = impl_->db->Flush(flush, families); !s.ok()) {
    spdlog::warn("store {}: flush at close: {} (the next open replays the WAL instead)",
                 impl_->options.path, s.ToString());
  }
}

}  // namespace careledger
