#include "replay_files.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace careledger {

namespace replay_files {

std::string RequestPath(const std::string& dir, const std::string& id) {
  return dir + "/replay." + id + std::string(kRequestSuffix);
}
std::string ProgressPath(const std::string& dir, const std::string& id) {
  return dir + "/replay." + id + ".progress";
}
std::string ResultPath(const std::string& dir, const std::string& id) {
  return dir + "/replay." + id + ".result";
}

Status WriteWhole(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.flush()) return Status::Fatal("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Fatal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

std::string ProgressLine(uint64_t folded, uint64_t total) {
  return std::to_string(folded) + " " + std::to_string(total) + " " + std::to_string(::getpid()) +
         "\n";
}

void RemoveStaleReplayFiles(const std::string& dir, std::chrono::minutes older_than) {
  std::error_code ec;
  auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("replay.") || name.ends_with(kRequestSuffix)) continue;
    std::error_code age_ec;
    auto written = std::filesystem::last_write_time(entry.path(), age_ec);
    if (!age_ec && now - written >= older_than) std::filesystem::remove(entry.path(), age_ec);
  }
}

std::optional<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

std::optional<ReplayRequest> TakeReplayRequest(const std::string& path) {
  auto content = ReadWhole(path);
  if (!content) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::remove(path, ec)) return std::nullopt;
  std::istringstream in(*content);
  ReplayRequest r;
  std::string known;
  in >> r.id >> known;
  if (!ValidId(r.id)) {
    spdlog::warn("ignoring a malformed replay request in {}", path);
    return std::nullopt;
  }
  if (known != "-") {
    int64_t secs = 0;
    if (std::from_chars(known.data(), known.data() + known.size(), secs).ec != std::errc()) {
      spdlog::warn("ignoring a malformed replay request in {}", path);
      return std::nullopt;
    }
    r.known_at = Instant{std::chrono::seconds{secs}};
  }
  return r;
}

}  // namespace replay_files

using namespace replay_files;  // NOLINT(google-build-using-namespace): this file is its home

Status PostReplayRequest(const std::string& dir, const ReplayRequest& request) {
  if (!ValidId(request.id)) return Status::BadInput("replay request id is malformed");
  std::string known =
      request.known_at ? std::to_string(request.known_at->time_since_epoch().count()) : "-";
  return WriteWhole(RequestPath(dir, request.id), request.id + " " + known + "\n");
}

bool ReplayRequestPending(const std::string& dir, const std::string& id) {
  std::error_code ec;
  return std::filesystem::exists(RequestPath(dir, id), ec);
}

bool WithdrawReplayRequest(const std::string& dir, const std::string& id) {
  std::error_code ec;
  return std::filesystem::remove(RequestPath(dir, id), ec);
}

Result<std::optional<ChainHash>> PollReplay(const std::string& dir, const std::string& id,
                                            ReplayProgress& progress) {
  auto result = ReadWhole(ResultPath(dir, id));
  if (!result) {
    int64_t server = 0;
    if (auto p = ReadWhole(ProgressPath(dir, id))) {
      std::istringstream in(*p);
      ReplayProgress read;
      if (in >> read.folded >> read.total) progress = read;
      if (!(in >> server)) server = 0;
    }
    // The request was taken by an ingest that has gone (killed, or stopped by its service
    // manager): no result will come. Looked at again once, since it may have written the
    // result just before it stopped.
    if (server > 0 && ::kill(pid_t(server), 0) != 0 && errno == ESRCH) {
      result = ReadWhole(ResultPath(dir, id));
      if (!result) {
        std::error_code ec;
        std::filesystem::remove(ProgressPath(dir, id), ec);
        return Status::Fatal("the ingest serving replay " + id + " (pid " + std::to_string(server) +
                             ") stopped before the replay finished; nothing was swapped in: run "
                             "`careledger replay` again");
      }
    } else {
      return std::optional<ChainHash>();
    }
  }
  std::error_code ec;
  std::filesystem::remove(ResultPath(dir, id), ec);
  std::filesystem::remove(ProgressPath(dir, id), ec);
  std::string_view r = *result;
  while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.remove_suffix(1);
  if (r.starts_with("error "))
    return Status::Fatal("replay in ingest: " + std::string(r.substr(6)));
  if (!r.starts_with("ok ") || r.size() != 3 + 64) {
    return Status::Fatal("replay result " + ResultPath(dir, id) + " is malformed");
  }
  ChainHash hash{};
  for (size_t i = 0; i < hash.size(); ++i) {
    auto hex = r.substr(3 + 2 * i, 2);
    if (std::from_chars(hex.data(), hex.data() + 2, hash[i], 16).ec != std::errc()) {
      return Status::Fatal("replay result " + ResultPath(dir, id) + " is malformed");
    }
  }
  return std::optional<ChainHash>(hash);
}

}  // namespace careledger
