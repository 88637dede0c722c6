// One area-wide answer from the group's instances: a figure reads this instance's store and,
// for the partitions it does not answer for, the stores of the instances that do, over their
// internal API (POST /api/v1/internal/read, with the bearer token). projections/ merges what
// each answers and finishes the figure once, so medians, percentages and rates come out as
// from one store. An instance that cannot be asked, or does not answer, leaves its partitions
// out, and the response says so (partial, and which), never a smaller figure passed off as
// the area's.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "careledger/reporting.h"
#include "http_server.h"

namespace careledger::http_detail {

namespace {

std::string JsonList(const std::set<int32_t>& items) {
  std::string out = "[";
  for (int32_t p : items) out += (out.size() > 1 ? "," : "") + std::to_string(p);
  return out + "]";
}

std::string PlainList(const std::set<int32_t>& items) {
  std::string list = JsonList(items);
  return list.substr(1, list.size() - 2);
}

// The token goes over TLS, or over plain HTTP to this host only (as serve itself refuses to
// listen off loopback without TLS).
bool SafeForToken(std::string_view advertised) {
  if (advertised.starts_with("https://")) return true;
  if (advertised.starts_with("http://")) advertised.remove_prefix(7);
  for (std::string_view host : {"127.", "localhost:", "[::1]:"}) {
    if (advertised.starts_with(host)) return true;
  }
  return false;
}

std::unique_ptr<httplib::Client> OpenPeerClient(const std::string& advertised,
                                                const ServeOptions& options) {
  auto client = std::make_unique<httplib::Client>(advertised);
  client->set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(
      std::min(options.peer_timeout, std::chrono::milliseconds{1000})));
  client->set_read_timeout(
      std::chrono::duration_cast<std::chrono::microseconds>(options.peer_timeout));
  client->set_write_timeout(
      std::chrono::duration_cast<std::chrono::microseconds>(options.peer_timeout));
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  if (!options.peer_ca_path.empty()) client->set_ca_cert_path(options.peer_ca_path.c_str());
  return client;
}

}  // namespace

std::unique_ptr<httplib::Client> PeerConnections::Take(const std::string& advertised,
                                                       const ServeOptions& options, bool& kept) {
  {
    std::lock_guard lock(mu_);
    if (auto it = idle_.find(advertised); it != idle_.end() && !it->second.empty()) {
      auto client = std::move(it->second.back());
      it->second.pop_back();
      kept = true;
      return client;
    }
  }
  kept = false;
  return OpenPeerClient(advertised, options);
}

void PeerConnections::Give(const std::string& advertised, std::unique_ptr<httplib::Client> client) {
  std::lock_guard lock(mu_);
  auto& idle = idle_[advertised];
  if (idle.size() < kIdlePerPeer) idle.push_back(std::move(client));
}

PeerStore::PeerStore(const PeerInstance& peer, const ServeOptions& options,
                     PeerConnections* connections)
    : peer_(peer),
      partitions_(peer.partitions.begin(), peer.partitions.end()),
      token_(options.token),
      options_(options),
      connections_(connections) {
  if (connections_) client_ = connections_->Take(peer.advertised, options, kept_);
  if (!client_) client_ = OpenPeerClient(peer.advertised, options);
}

// A connection that failed a read is closed, not kept: the next figure opens a new one.
PeerStore::~PeerStore() {
  if (connections_ && !failure()) connections_->Give(peer_.advertised, std::move(client_));
}

std::string PeerStore::Name() const {
  return "instance " + peer_.instance + " at " + peer_.advertised;
}

Result<std::string> PeerStore::Read(const std::string& request) const {
  // Once it has failed a figure's read, it is not asked again for the same figure (a published
  // view's breakdowns are a dozen more figures).
  if (auto failed = failure()) return Status::Retriable(*failed);
  httplib::Headers headers{{"Authorization", "Bearer " + token_}};
  const auto sent = std::chrono::steady_clock::now();
  auto res = client_->Post("/api/v1/internal/read", headers, request, "application/octet-stream");
  if (!res && std::exchange(kept_, false) &&
      std::chrono::steady_clock::now() - sent < std::chrono::milliseconds(200)) {
    // A kept connection the other end closed in the meantime (its keep-alive timeout, or a
    // restart) fails at once: asked again on a new one. (One that is slow to answer fails at
    // the timeout, and is not waited for twice.)
    client_ = OpenPeerClient(peer_.advertised, options_);
    res = client_->Post("/api/v1/internal/read", headers, request, "application/octet-stream");
  }
  kept_ = false;
  if (!res) {
    return Status::Retriable("did not answer (" + httplib::to_string(res.error()) + ")");
  }
  if (res->status != 200) {
    // The other end's error is JSON {"error": "..."}; it is passed on as it came.
    return Status::Retriable("answered HTTP " + std::to_string(res->status) + ": " +
                             res->body.substr(0, 300));
  }
  return std::move(res->body);
}

void PeerStore::Failed(const Status& why) const {
  std::lock_guard lock(mu_);
  if (!failure_) failure_ = why.message();
}

std::optional<std::string> PeerStore::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

std::set<int32_t> StillReading(const ServeOptions& options, const std::set<int32_t>& own,
                               const GroupView& group) {
  std::set<int32_t> reading;
  if (options.pipeline) {
    // Until ingest has first read to the end, all of them.
    if (!options.pipeline->CaughtUp()) return own;
    for (int32_t p : options.pipeline->CatchingUp()) {
      if (own.count(p)) reading.insert(p);
    }
  } else if (group.self && group.self->live) {
    for (int32_t p : group.self->reading) {
      if (own.count(p)) reading.insert(p);
    }
  }
  return reading;
}

FanOut::FanOut(const EventStore& store, const ServeOptions& options, PeerConnections* connections) {
  auto assignment = store.Assignment();
  if (!assignment.ok()) {
    status = assignment.status();
    return;
  }
  for (const auto& tp : *assignment) own.insert(tp.partition);
  // A store never assigned any partitions answers for all of them: nothing to ask.
  if (own.empty()) {
    stores.emplace_back(&store);
    return;
  }
  GroupView group = options.group ? options.group() : GroupView{};
  // The latest announcement first: while partitions move, the instance that took one over
  // has said so after the one that lost it (which may have died without saying).
  std::vector<PeerInstance> peers = std::move(group.others);
  std::stable_sort(peers.begin(), peers.end(),
                   [](const auto& a, const auto& b) { return a.at > b.at; });
  const PeerInstance here{.instance = "this instance", .live = true};
  // The partitions this store answers for. Its ingest running apart (`serve`) has stopped or
  // died: the store holds its partitions as they were then. Once a running instance has
  // announced any of them, that one answers for them, and this store cannot answer for the
  // rest apart from them (its counts are not kept by partition): they are missing.
  std::set<int32_t> local = own;
  if (!options.pipeline && group.self && !group.self->live) {
    bool taken = false;
    for (const auto& peer : peers) {
      for (int32_t p : peer.partitions) taken = taken || (peer.live && own.count(p));
    }
    if (taken) local.clear();
  }
  if (!local.empty()) {
    stores.emplace_back(&store);
    covered = local;
    // Partitions its ingest has just taken over: the store holds what has been read of them
    // so far, which may be less than they hold.
    std::set<int32_t> reading = StillReading(options, own, group);
    if (!reading.empty()) {
      for (int32_t p : reading) covered.erase(p);
      Leave(here, reading, "it has taken them over and is still reading them");
    }
  }
  std::vector<std::pair<const PeerInstance*, std::string>> not_asked;
  for (const auto& peer : peers) {
    bool contested = false, any = false;
    for (int32_t p : peer.partitions) {
      contested = contested || local.count(p) || covered.count(p);
      any = any || !local.count(p);
    }
    if (!any) continue;  // one holding nothing this store does not
    std::string why;
    if (!peer.live) {
      why = "not running, or not heard from lately";
    } else if (options.token.empty()) {
      why = "this instance has no bearer token (serve.token) to ask it with";
    } else if (contested) {
      why =
          "it claims partitions that another instance announced later (a rebalance is under "
          "way)";
    } else if (!peer.reading.empty()) {
      why = "it has taken over partitions " +
            PlainList({peer.reading.begin(), peer.reading.end()}) + " and is still reading them";
    } else if (peer.advertised.empty()) {
      why = "it announced no address";
    } else if (!SafeForToken(peer.advertised)) {
      why = "it announced a plain-http address off this host, where the token would go in clear";
    }
    if (!why.empty()) {
      not_asked.emplace_back(&peer, why);
      continue;
    }
    std::set<int32_t> theirs(peer.partitions.begin(), peer.partitions.end());
    peers_.push_back({peer, theirs, std::make_unique<PeerStore>(peer, options, connections)});
    stores.emplace_back(peers_.back().store.get());
    covered.insert(theirs.begin(), theirs.end());
  }
  // What those not asked hold that no one asked answers for.
  for (const auto& [peer, why] : not_asked) {
    std::set<int32_t> theirs;
    for (int32_t p : peer->partitions) {
      if (!covered.count(p) && !missing.count(p)) theirs.insert(p);
    }
    if (!theirs.empty()) Leave(*peer, theirs, why);
  }
  if (local.empty()) {
    std::set<int32_t> stale;
    for (int32_t p : own) {
      if (!covered.count(p) && !missing.count(p)) stale.insert(p);
    }
    if (!stale.empty()) {
      Leave(here, stale,
            "its ingest has stopped and others hold some of its partitions now: its store, "
            "which holds them as they were, cannot be read for these alone");
    }
  }
  // Partitions no one has announced (an instance that has not said so yet, or whose record is
  // gone) are missing too: up to the topics' partition count where an instance has said it,
  // else up to the highest known.
  int32_t highest = *own.rbegin();
  for (const auto* known : {&covered, &missing}) {
    if (!known->empty()) highest = std::max(highest, *known->rbegin());
  }
  if (group.self) highest = std::max(highest, group.self->of - 1);
  for (const auto& peer : peers) highest = std::max(highest, peer.of - 1);
  std::set<int32_t> unheard;
  for (int32_t p = 0; p <= highest; ++p) {
    if (!covered.count(p) && !missing.count(p)) unheard.insert(p);
  }
  if (!unheard.empty()) {
    Leave(PeerInstance{}, unheard, "no instance of the group has announced them");
  }
}

void FanOut::Leave(const PeerInstance& peer, const std::set<int32_t>& theirs,
                   const std::string& why) {
  missing.insert(theirs.begin(), theirs.end());
  left_out.push_back({peer, theirs, why});
}

bool FanOut::DropFailed() {
  bool dropped = false;
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto failure = it->store->failure();
    if (!failure) {
      ++it;
      continue;
    }
    spdlog::warn("serve: {} left out of a figure: {}", it->store->Name(), *failure);
    for (int32_t p : it->partitions) covered.erase(p);
    Leave(it->peer, it->partitions, "it did not answer: " + *failure);
    std::erase(stores, StoreRef(it->store.get()));
    it = peers_.erase(it);
    dropped = true;
  }
  return dropped;
}

void FanOut::Describe(httplib::Response& res, std::string& body) {
  DropFailed();
  res.set_header("X-Careledger-Partitions", own.empty() ? "all" : PlainList(covered));
  res.set_header("X-Careledger-Partial", missing.empty() ? "false" : "true");
  res.set_header("X-Careledger-Missing-Partitions", PlainList(missing));
  std::string asked;
  for (const auto& p : peers_) asked += (asked.empty() ? "" : ",") + p.peer.instance;
  res.set_header("X-Careledger-Peers", asked);
  if (missing.empty()) return;
  std::string others;
  for (const auto& [peer, partitions, why] : left_out) {
    others += std::string(others.empty() ? "" : ",") + "{\"instance\":";
    AppendJsonString(others, peer.instance);
    others += ",\"advertised\":";
    AppendJsonString(others, peer.advertised);
    others += ",\"live\":" + std::string(peer.live ? "true" : "false") +
              ",\"partitions\":" + JsonList(partitions) + ",\"why\":";
    AppendJsonString(others, why);
    others += "}";
  }
  std::string fields = "\"partial\":true,\"coverage\":{\"partitions\":" + JsonList(covered) +
                       ",\"missing\":" + JsonList(missing) + ",\"answered_elsewhere\":[" + others +
                       "]}";
  auto at = body.rfind('}');
  if (at != std::string::npos) body.insert(at, (body[at - 1] == '{' ? "" : ",") + fields);
}

}  // namespace careledger::http_detail
