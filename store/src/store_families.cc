// State families: a rebuild's side family, its bulk load and the swap.
#include <filesystem>

#include "store_impl.h"

namespace careledger {

std::string EventStore::live_state_family() const {
  return impl_->live.load(std::memory_order_acquire)->GetName();
}

Result<std::string> EventStore::CreateStateFamily() {
  std::lock_guard lock(impl_->families_mu);
  uint64_t n = 1;
  for (const auto& [name, handle] : impl_->families) {
    uint64_t k = 0;
    if (name.size() <= kStateFamilyBase.size()) continue;
    const char* digits = name.data() + kStateFamilyBase.size() + 1;
    if (std::from_chars(digits, name.data() + name.size(), k).ec == std::errc()) {
      n = std::max(n, k + 1);
    }
  }
  std::string name = std::string(kStateFamilyBase) + "." + std::to_string(n);
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  CARELEDGER_RETURN_IF_ERROR(FromRocks(
      impl_->db->CreateColumnFamily(impl_->state_options, name, &handle), "create " + name));
  impl_->owned.push_back(handle);
  impl_->families.emplace(name, handle);
  return name;
}

EventStore::Batch EventStore::NewStateBatch(const std::string& family) const {
  Batch b;
  b.impl_->cf = &impl_->cf;
  b.impl_->live = &impl_->live;
  b.impl_->state =
      family.empty() ? impl_->live.load(std::memory_order_acquire) : impl_->State(family);
  b.state_only_ = true;
  return b;
}

Status EventStore::SwapStateFamily(const std::string& family) {
  std::lock_guard lock(impl_->families_mu);
  auto it = impl_->families.find(family);
  if (it == impl_->families.end()) return Status::Fatal("no state family " + family);
  rocksdb::ColumnFamilyHandle* old = impl_->live.load();
  if (old == it->second) return Status::Ok();
  rocksdb::WriteBatch wb;
  wb.Put(impl_->cf[kMeta], kMetaStateFamily, family);
  rocksdb::WriteOptions synced;
  synced.sync = true;  // and with it everything written to the new family before
  CARELEDGER_RETURN_IF_ERROR(
      FromRocks(impl_->db->Write(synced, &wb), "make " + family + " the live state"));
  impl_->live.store(it->second, std::memory_order_release);
  std::string old_name = old->GetName();
  impl_->families.erase(old_name);
  // The swap is done; a family that fails to drop now is dropped at the next open.
  if (auto s = impl_->db->DropColumnFamily(old); !s.ok()) {
    spdlog::warn("old state family {} not dropped yet: {}", old_name, s.ToString());
  }
  return Status::Ok();
}

Status EventStore::SetBulkLoad(std::string_view family, bool on, bool compact) {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + std::string(family));
  if (on) {
    std::lock_guard lock(impl_->families_mu);
    // Table files a bulk load wrote and never ingested (it failed, or the process died) are
    // removed before the next one begins: nothing else reads them.
    if (impl_->bulk_loading.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(StateFilesDir(impl_->options.path), ignored);
    }
    impl_->bulk_loading.insert(handle);
  } else {
    // What was written without the WAL goes to files before anything written after (the
    // rebuild's layout marker, with the WAL) can make the family look whole.
    {
      std::lock_guard lock(impl_->families_mu);
      impl_->bulk_loading.erase(handle);
    }
    CARELEDGER_RETURN_IF_ERROR(
        FromRocks(impl_->db->Flush(rocksdb::FlushOptions(), handle), "flush the state family"));
  }
  if (!on && compact) {
    // Compacted first: turned back on over the level-0 files a bulk load left (143 after ten
    // million events), RocksDB stops every write to the store until it has compacted them.
    CARELEDGER_RETURN_IF_ERROR(
        FromRocks(impl_->db->CompactRange(rocksdb::CompactRangeOptions(), handle, nullptr, nullptr),
                  "compact the state family"));
  }
  return FromRocks(
      impl_->db->SetOptions(handle, {{"disable_auto_compactions", on ? "true" : "false"}}),
      "set the state family's compactions");
}

Status EventStore::DropStateFamily(const std::string& family) {
  std::lock_guard lock(impl_->families_mu);
  auto it = impl_->families.find(family);
  if (it == impl_->families.end()) return Status::Ok();
  if (it->second == impl_->live.load()) {
    return Status::Fatal("state family " + family + " is live and cannot be dropped");
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(impl_->db->DropColumnFamily(it->second), "drop " + family));
  impl_->bulk_loading.erase(it->second);
  impl_->families.erase(it);
  return Status::Ok();
}

}  // namespace careledger
