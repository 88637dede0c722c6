// The replay protocol between `careledger replay` and the ingest that serves it: files in the
// store's directory, a request, its progress and its result for each request id. The asking
// side is public (consumers.h: PostReplayRequest, PollReplay); this is what the serving side
// shares with it. A private header of consumers/.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "careledger/common.h"
#include "careledger/consumers.h"

namespace careledger::replay_files {

// One file per request, so that two `careledger replay` at once do not overwrite each other.
inline constexpr std::string_view kRequestSuffix = ".request";
std::string RequestPath(const std::string& dir, const std::string& id);
std::string ProgressPath(const std::string& dir, const std::string& id);
std::string ResultPath(const std::string& dir, const std::string& id);
// Written beside and renamed into place, so a reader never sees half a file.
[[nodiscard]] Status WriteWhole(const std::string& path, const std::string& content);
std::optional<std::string> ReadWhole(const std::string& path);
// "folded total pid": the pid of the ingest serving the request, so that the one waiting
// learns when that ingest is gone rather than waiting for ever.
std::string ProgressLine(uint64_t folded, uint64_t total);
// Results nobody came for (the one who asked was stopped), progress of requests a previous
// ingest took and never finished, and half-written files: none has a reader any more.
void RemoveStaleReplayFiles(const std::string& dir, std::chrono::minutes older_than);
// A request's id is used in file names: letters, digits, '-' and '_' only.
bool ValidId(std::string_view id);
// One request, removed from the directory (taking it is the acknowledgement); nullopt when
// it is malformed or another process took it.
std::optional<ReplayRequest> TakeReplayRequest(const std::string& path);

}  // namespace careledger::replay_files
