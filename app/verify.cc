// verify, backup and restore: a store checked, and its copies taken and put back checked the
// same way (with the verified head kept beside the store).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "careledger/consumers.h"
#include "careledger/projections.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

// What `verify` prints about a store that passed.
struct Verified {
  VerifyReport report;
  ChainHash state{};
  std::vector<OffsetGap> gaps;                     // met by ingest, open or accepted
  size_t held_awaiting = 0, held_other_child = 0;  // corrections not in effect
};

Result<Verified> VerifyStore(const std::string& path) {
  auto store = EventStore::Open({.path = path, .read_only = true});
  if (!store.ok()) return store.status();
  auto report = (*store)->Verify();
  if (!report.ok()) return report.status();
  auto state = ProjectionStateHash(**store);
  if (!state.ok()) return state.status();
  auto gaps = (*store)->Gaps();
  if (!gaps.ok()) return gaps.status();
  auto held = (*store)->HeldCorrections();
  if (!held.ok()) return held.status();
  Verified v{*report, *state, std::move(gaps.value())};
  for (const auto& h : *held) ++(h.other_child ? v.held_other_child : v.held_awaiting);
  return v;
}

int PrintVerified(const std::string& path, const Verified& v) {
  std::cout << "log records      " << v.report.records << '\n'
            << "log head         " << ToHex(v.report.head) << '\n'
            << "projection state " << ToHex(v.state) << '\n';
  std::cout << "dead letters     " << v.report.dead_letters << '\n';
  // Not damage either: a source's correction that has not taken effect (yet).
  if (v.held_awaiting + v.held_other_child > 0) {
    std::cout << "held corrections " << v.held_awaiting << " awaiting their target, "
              << v.held_other_child << " naming another child's event (`careledger corrections`)\n";
  }
  // A gap is not damage to the store, but the store is missing events the source sent: an
  // open one fails verification; an accepted one is listed, as an audit would want.
  size_t open = 0;
  for (const auto& gap : v.gaps) {
    std::cout << (gap.accepted ? "accepted gap     " : "open gap         ") << gap.Describe();
    if (gap.accepted) std::cout << " (accepted " << FormatInstant(gap.accepted_at) << ")";
    std::cout << '\n';
    open += gap.accepted ? 0 : 1;
  }
  if (open > 0) {
    return Fail(Status::Gap(std::to_string(open) +
                            " open offset gap(s): the store is missing events the source sent "
                            "(see ops/runbooks/offset-gap.md)"));
  }
  std::cerr << "verified " << path
            << ": hash chain, event_id and per-child indexes, offsets, dead letters\n";
  return 0;
}

// Verifies the store at `path` and prints what it holds; the shared tail of verify and backup.
int VerifyAndPrint(const std::string& path) {
  auto verified = VerifyStore(path);
  if (!verified.ok()) return Fail(verified.status());
  return PrintVerified(path, *verified);
}

// The head a verify found good, kept outside the store: the next verify checks that the log
// still holds it, so a cut tail (or a rewritten history) with the store's own head and indexes
// fixed up to match is caught. "<sequence> <chain hex> <verified at>", one line.
std::string DefaultWitness(const std::string& data_dir) {
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + ".verified-head";
}

Status CheckWitness(const std::string& data_dir, const std::string& witness) {
  std::ifstream in(witness);
  if (!in) return Status::Ok();  // the first verify of this store
  uint64_t records = 0;
  std::string chain, at;
  if (!(in >> records >> chain >> at) || chain.size() != 64) {
    return Status::Fatal("the verified-head file " + witness + " is malformed");
  }
  if (records == 0) return Status::Ok();
  auto store = EventStore::Open({.path = data_dir, .read_only = true});
  if (!store.ok()) return store.status();
  std::optional<std::string> found;
  CARELEDGER_RETURN_IF_ERROR((*store)->ScanLog(
      [&](const LogRecord& r) {
        if (r.sequence == records - 1) found = ToHex(r.chain);
        return false;
      },
      records - 1));
  if (found == chain) return Status::Ok();
  return Status::Fatal("the log no longer holds the head verified at " + at + " (" +
                       std::to_string(records) + " records, chain " + chain.substr(0, 16) +
                       "…, kept in " + witness + "): " +
                       (found ? "the history up to it was rewritten"
                              : "its tail was cut (or an older backup restored over it without "
                                "`careledger restore`)"));
}

Status WriteWitness(const std::string& witness, const VerifyReport& report) {
  std::string tmp = witness + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << report.records << ' ' << ToHex(report.head) << ' '
        << FormatInstant(
               std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()))
        << '\n';
    if (!out.flush()) return Status::Fatal("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, witness, ec);
  if (ec) return Status::Fatal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

Command AddVerify(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    bool figures = false;
    std::string witness;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("verify",
                         "Check the log's hash chain and the store's invariants; exit 1 naming the "
                         "first breach. Prints the log head and the projection state hash");
  AddCommonFlags(*cmd, o->common);
  cmd->add_flag("--figures", o->figures,
                "Also fold the log again into a scratch store under $TMPDIR and compare every "
                "projection cell with the live one, naming the first that differs");
  cmd->add_option("--verified-head", o->witness,
                  "File outside the store keeping the head this verify found good; the next "
                  "verify checks the log still holds it (default: DATA.verified-head)");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            const std::string witness =
                o->witness.empty() ? DefaultWitness(ctx->data_dir) : o->witness;
            auto verified = VerifyStore(ctx->data_dir);
            if (!verified.ok()) return Fail(verified.status());
            if (Status s = CheckWitness(ctx->data_dir, witness); !s.ok()) return Fail(s);
            if (o->figures) {
              auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
              if (!store.ok()) return Fail(store.status());
              const auto scratch = std::filesystem::temp_directory_path() /
                                   ("careledger-verify-figures-" + std::to_string(::getpid()));
              auto differing = FirstDifferingCell(**store, scratch.string());
              if (!differing.ok()) return Fail(differing.status());
              if (*differing) {
                return Fail(Status::Fatal("verify --figures: " + **differing +
                                          " (the projection state was altered, or the fold "
                                          "changed: `careledger replay` rebuilds it)"));
              }
              std::cerr << "figures: every projection cell matches the log folded again\n";
            }
            int code = PrintVerified(ctx->data_dir, *verified);
            // Kept once the store is good (an open offset gap is not damage to the log).
            if (code == 0 || code == kExitGap) {
              if (Status s = WriteWitness(witness, verified->report); !s.ok()) return Fail(s);
            }
            return code;
          }};
}

Command AddBackup(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string dir;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "backup",
      "Copy the store consistently into DIR (safe while ingest runs), then verify the copy");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("dir", o->dir, "Backup directory (must not exist)")->required();
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
            if (!store.ok()) return Fail(store.status());
            if (Status s = (*store)->Checkpoint(o->dir); !s.ok()) return Fail(s);
            return VerifyAndPrint(o->dir);
          }};
}

// ---- restore ------------------------------------------------------------------------------
// A restore never writes into the target itself: it copies into a side directory beside it
// ("<target>.restoring-<pid>", same filesystem so the rename is atomic), makes every byte
// durable, verifies the copy as a store, and only then renames it into place. Killed at any
// point before the rename, the target holds nothing that opens as a store (copied straight in,
// a half copy used to open and verify as a store with fewer records, or none).

Status Errno(const std::string& what) {
  return Status::Fatal(what + ": " + std::strerror(errno));
}

// fsync of a file or directory; a directory's entries (the names in it) are durable after it.
Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0 ? Status::Ok() : Errno("fsync " + path);
}

// Copies the tree `from` into the new directory `to`, every file and directory synced.
Status CopyTreeDurably(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::create_directory(to, ec) || ec) {
    return Status::Fatal("create " + to.string() + ": " + (ec ? ec.message() : "it exists"));
  }
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory(ec)) {
      CARELEDGER_RETURN_IF_ERROR(CopyTreeDurably(entry.path(), target));
      continue;
    }
    if (!fs::copy_file(entry.path(), target, ec) || ec) {
      return Status::Fatal("copy " + entry.path().string() + ": " + ec.message());
    }
    if (fs::file_size(target, ec) != fs::file_size(entry.path(), ec) || ec) {
      return Status::Fatal("copy " + entry.path().string() + ": sizes differ after the copy");
    }
    CARELEDGER_RETURN_IF_ERROR(SyncPath(target.string(), false));
  }
  if (ec) return Status::Fatal("read " + from.string() + ": " + ec.message());
  return SyncPath(to.string(), true);
}

// Side directories of restores into `target` whose process is gone (killed, or the machine
// stopped): never a store anyone reads, so removed. A live process's is left alone.
void RemoveStaleRestores(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  const std::string stem = target.filename().string() + ".restoring-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(stem)) continue;
    long pid = 0;
    const char* digits = name.data() + stem.size();
    auto [end, err] = std::from_chars(digits, name.data() + name.size(), pid);
    if (err != std::errc() || end != name.data() + name.size() || pid <= 0) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    spdlog::warn("removing {}, left by an interrupted restore", entry.path().string());
    fs::remove_all(entry.path(), ec);
  }
}

Result<Verified> RestoreInto(const std::filesystem::path& backup, std::filesystem::path target) {
  namespace fs = std::filesystem;
  target = fs::absolute(target).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();  // "store/" names "store"
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    return Status::BadInput(target.string() + " is not empty: move it away before restoring");
  }
  fs::create_directories(target.parent_path(), ec);
  RemoveStaleRestores(target);
  const fs::path side = target.string() + ".restoring-" + std::to_string(::getpid());
  fs::remove_all(side, ec);
  struct RemoveUnlessRenamed {
    fs::path path;
    bool renamed = false;
    ~RemoveUnlessRenamed() {
      std::error_code ignored;
      if (!renamed) fs::remove_all(path, ignored);
    }
  } cleanup{side};

  CARELEDGER_RETURN_IF_ERROR(CopyTreeDurably(backup, side));
  ::chmod(side.c_str(), 0700);
  auto verified = VerifyStore(side.string());
  if (!verified.ok()) {
    return Status::Fatal("the copy of " + backup.string() +
                         " does not verify: " + verified.status().message());
  }
  // rename(2) replaces an empty directory and refuses a non-empty one, so a store that
  // appeared at the target meanwhile is never overwritten.
  if (::rename(side.c_str(), target.c_str()) != 0) {
    return Errno("rename " + side.string() + " to " + target.string());
  }
  cleanup.renamed = true;
  CARELEDGER_RETURN_IF_ERROR(SyncPath(target.parent_path().string(), true));
  return verified;
}

Command AddRestore(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string dir;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "restore",
      "Copy the backup in DIR beside --data (which must not hold a store), verify the copy, "
      "then rename it into place; ingest then resumes from the backup's offsets");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("dir", o->dir, "Backup directory")->required()->check(CLI::ExistingDirectory);
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto verified = RestoreInto(o->dir, ctx->data_dir);
            if (!verified.ok()) return Fail(verified.status());
            // The restored head is the one to keep from now on (it may be older than the one
            // a verify kept for the store this replaces).
            if (Status s = WriteWitness(DefaultWitness(ctx->data_dir), verified->report); !s.ok()) {
              return Fail(s);
            }
            return PrintVerified(ctx->data_dir, *verified);
          }};
}

}  // namespace careledger::app
