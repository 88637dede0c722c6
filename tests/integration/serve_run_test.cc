// The pipeline serving itself: `ingest --metrics-listen` with its metrics, lint and alerts,
// and `run` (ingest and serve in one process) serving each batch as soon as it is written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "careledger/reporting.h"
#include "serve_test_support.h"
#include "test_support.h"
#include "three_children_feed.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;
using ::testing::Not;

using test::Ev;

// `ingest --metrics-listen`: where ingest runs as its own unit (ops/systemd), its pipeline
// metrics are served by itself, pass promtool's lint, and drive the alerts through a real
// Prometheus scrape.
TEST(IngestMetrics, IngestServesItsOwnMetricsAndADeadLetterFiresItsAlert) {
  const std::string prometheus = "/usr/bin/prometheus", promtool = "/usr/bin/promtool";
  ASSERT_EQ(::access(prometheus.c_str(), X_OK), 0) << "install the Debian package prometheus";
  test::TempDir dir;
  test::BrokerProcess broker(3);
  const std::string feed = test::ThreeChildrenFeed();
  test::WriteFile(dir / "feed.jsonl", feed);
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  // The oracle: events by type, counted from the feed's own lines.
  std::map<std::string, int> by_type;
  for (const auto& line : test::Lines(feed)) {
    auto at = line.find("\"type\":\"") + 8;
    ++by_type[line.substr(at, line.find('"', at) - at)];
  }
  test::Background ingest({CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data",
                           dir / "store", "--metrics-listen", "127.0.0.1:0", "--kafka",
                           "session.timeout.ms=6000"});
  const std::string url = ingest.FirstLine();
  ASSERT_THAT(url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/metrics"));
  const std::string target = url.substr(7, url.size() - 7 - 8);
  httplib::Client client("http://" + target);
  client.set_read_timeout(std::chrono::seconds(5));
  // Every type's count as the feed has it (topics are the contract's, not checked here).
  std::vector<std::regex> expected;
  for (const auto& [type, n] : by_type) {
    expected.emplace_back("careledger_events_ingested_total\\{topic=\"[a-z.0-9]+\",type=\"" + type +
                          "\"\\} " + std::to_string(n) + "\n");
  }
  auto all_counted = [&](const std::string& text) {
    return std::all_of(expected.begin(), expected.end(),
                       [&](const std::regex& re) { return std::regex_search(text, re); });
  };
  std::string body;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline && !all_counted(body);
       std::this_thread::sleep_for(std::chrono::milliseconds(200))) {
    if (auto r = client.Get("/metrics"); r && r->status == 200) body = r->body;
  }
  EXPECT_TRUE(all_counted(body)) << body << ingest.Stderr();
  EXPECT_THAT(body, HasSubstr("careledger_dead_letters_total{kind=\"invalid_json\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("careledger_batch_write_seconds_count "));
  // Only the pipeline: no figures, nothing else on this port.
  EXPECT_THAT(body, Not(HasSubstr("careledger_cla_children")));
  EXPECT_EQ(client.Get("/api/v1/metrics/cla")->status, 404);
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  test::WriteFile(dir / "metrics.txt", body);
  auto lint = test::Run({"/bin/sh", "-c", promtool + " check metrics < " + (dir / "metrics.txt")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  // Prometheus scrapes it every second and evaluates the shipped alert rules.
  int port = FreePort();
  test::WriteFile(dir / "prometheus.yml",
                  "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                  "rule_files:\n  - " CARELEDGER_SOURCE_DIR
                  "/ops/prometheus/alerts.yml\n"
                  "scrape_configs:\n  - job_name: careledger\n"
                  "    static_configs:\n      - targets: ['" +
                      target + "']\n");
  test::Background server({prometheus, "--config.file=" + (dir / "prometheus.yml"),
                           "--storage.tsdb.path=" + (dir / "tsdb"),
                           "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client prom("127.0.0.1", port);
  prom.set_read_timeout(std::chrono::seconds(5));
  auto scraped = [&] {
    auto r = prom.Get("/api/v1/query?query=careledger_dead_letters_total");
    return r && r->status == 200 && !nlohmann::json::parse(r->body)["data"]["result"].empty();
  };
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < deadline && !scraped();
       std::this_thread::sleep_for(std::chrono::milliseconds(250))) {
  }
  ASSERT_TRUE(scraped()) << server.Stderr();
  // A source sends something that is not JSON: a dead letter, and the alert on it.
  test::WriteFile(dir / "bad.tsv", "A\t{\"event_id\":\n");
  ASSERT_EQ(
      test::KcatProduce(broker.bootstrap(), "careledger.socialcare.v1", dir / "bad.tsv").exit_code,
      0);
  std::string alerts;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(250))) {
    auto r = prom.Get("/api/v1/alerts");
    if (!r || r->status != 200) continue;
    alerts = r->body;
    bool firing = false;
    const auto parsed = nlohmann::json::parse(alerts);  // outlives the loop over its parts
    for (const auto& a : parsed["data"]["alerts"]) {
      firing |= a["labels"]["alertname"] == "CareledgerDeadLettersGrowing" &&
                a["labels"]["kind"] == "invalid_json" && a["state"] == "firing";
    }
    if (firing) return;
  }
  ADD_FAILURE() << "CareledgerDeadLettersGrowing{kind=invalid_json} did not fire within 30 s: "
                << alerts << "\nprometheus log: " << server.Stderr();
}

// `run`: ingest and serve in one process; a figure changes once its events are published.
TEST(Run, ServesEachBatchAsSoonAsItIsWritten) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  test::WriteFile(dir / "c.toml", "[serve]\ntoken = \"" + kToken + "\"\n");
  ::chmod((dir / "c.toml").c_str(), 0600);
  test::WriteFile(dir / "feed.jsonl", test::ThreeChildrenFeed());
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  test::Background run({CARELEDGER_BIN, "run", "--brokers", broker.bootstrap(), "--data",
                        dir / "store", "--config", dir / "c.toml", "--listen", "127.0.0.1:0"});
  std::string url = run.FirstLine();
  ASSERT_THAT(url, HasSubstr("http://127.0.0.1:"));
  auto client = ClientFor(url);
  auto wait_for = [&](const std::string& path, const std::string& want) {
    std::string last;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = client->Get(path, Bearer(kToken));
      if (r && r->body == want) return true;
      if (r) last = r->body;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << path << ": still " << last << "\n" << run.Stderr();
    return false;
  };
  ASSERT_TRUE(wait_for("/readyz", "ready\n"));
  const std::string cla = "/api/v1/metrics/cla?at=2024-03-31";
  EXPECT_TRUE(wait_for(cla, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":1}]})"
                            "\n"));
  test::WriteFile(dir / "more.jsonl",
                  Ev("d0", "child.registered", "D", "2010-01-01",
                     R"("dob":"2010-01-01","sex":"F","ethnicity":"WBRI")") +
                      Ev("d1", "care.period_started", "D", "2024-03-01",
                         R"("legal_status":"C2","placement":"U1","home_id":"H1")"));
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "more.jsonl"}).exit_code,
            0);
  EXPECT_TRUE(wait_for(cla, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":2}]})"
                            "\n"));
  // The counters follow once ingest has seen the write through (the next poll).
  std::shared_ptr<httplib::Response> metrics;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
    auto r = client->Get("/metrics", Bearer(kToken));
    ASSERT_TRUE(r);
    metrics = std::make_shared<httplib::Response>(*r);
    if (r->body.find("type=\"care.period_started\"} 3\n") != std::string::npos ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(metrics->body,
              HasSubstr("\ncareledger_events_ingested_total{topic=\"careledger.socialcare.v1\","
                        "type=\"care.period_started\"} 3\n"));
  EXPECT_THAT(metrics->body, HasSubstr("\ncareledger_dead_letters_total{kind=\"schema\"} 0\n"));
  EXPECT_THAT(metrics->body, HasSubstr("\ncareledger_batch_write_seconds_count "));
  EXPECT_THAT(metrics->body, HasSubstr("\ncareledger_replay_events_total 0\n"));

  // `careledger replay` beside `run` is served by its ingest (as beside `ingest`), and shows in
  // its metrics: each of the 14 log records (the feed's 12 and D's 2) folded once.
  auto replay = Careledger({"replay", "--data", dir / "store"});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  auto after = client->Get("/metrics", Bearer(kToken));
  ASSERT_TRUE(after);
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replay_events_total 14\n"));
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replays_total{result=\"ok\"} 1\n"));
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replays_total{result=\"failed\"} 0\n"));
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replay_in_progress 0\n"));
  auto head = client->Get("/api/v1/head");  // no token needed: a length, no figure
  ASSERT_TRUE(head);
  EXPECT_EQ(head->body, "{\"log_records\":14,\"exact_figures\":true}\n");
  EXPECT_TRUE(wait_for(cla, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":2}]})"
                            "\n"));
  EXPECT_EQ(run.Stop(), 0) << run.Stderr();
}

// A figure asked with the token: its body, with the coverage headers beside it under
// "headers" (a whole answer says it in headers only); null when it did not answer 200.
nlohmann::json CoverageOf(httplib::Client& client, const std::string& path) {
  auto r = client.Get(path, Bearer(kToken));
  if (!r || r->status != 200) return nlohmann::json();
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object()) return j;
  j["headers"] = {{"partitions", r->get_header_value("X-Careledger-Partitions")},
                  {"partial", r->get_header_value("X-Careledger-Partial")},
                  {"missing", r->get_header_value("X-Careledger-Missing-Partitions")},
                  {"peers", r->get_header_value("X-Careledger-Peers")}};
  return j;
}

std::string Header(const nlohmann::json& j, const char* name) {
  return j["headers"][name].get<std::string>();
}

// Asks until `holds` (60 s at most), failing the test with the last answer and `context()`.
nlohmann::json WaitForCoverage(httplib::Client& client, const std::string& path,
                               const std::function<bool(const nlohmann::json&)>& holds,
                               const std::function<std::string()>& context) {
  nlohmann::json last;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(200))) {
    last = CoverageOf(client, path);
    if (last.is_object() && holds(last)) return last;
  }
  ADD_FAILURE() << "still " << last.dump() << "\n" << context();
  return last;
}

// Two `run` instances of one group: a figure asked of one is the area's, read from its own
// store and, over the internal API with the token, from the other's. When the other does not
// answer in time, the figure says it is partial, which partitions it lacks, who holds them and
// why (never half the area passed off as the whole). When the other stops, its partitions move
// here and the figure is whole again from this store alone.
TEST(Run, AFigureAsksTheGroupsOtherInstancesAndSaysWhatItLacks) {
  test::TempDir dir;
  test::BrokerProcess broker(4);
  test::WriteFile(dir / "c.toml", "[serve]\ntoken = \"" + kToken + "\"\npeer_timeout_ms = 1500\n");
  ::chmod((dir / "c.toml").c_str(), 0600);
  test::WriteFile(dir / "feed.jsonl", test::ThreeChildrenFeed());
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  auto start = [&](const std::string& name) {
    return std::make_unique<test::Background>(std::vector<std::string>{
        CARELEDGER_BIN, "run", "--brokers", broker.bootstrap(), "--data", dir / name, "--config",
        dir / "c.toml", "--listen", "127.0.0.1:0", "--kafka", "session.timeout.ms=6000"});
  };
  auto a = start("a");
  const std::string url_a = a->FirstLine();
  auto b = start("b");
  const std::string url_b = b->FirstLine();
  ASSERT_THAT(url_a, HasSubstr("http://127.0.0.1:"));
  ASSERT_THAT(url_b, HasSubstr("http://127.0.0.1:"));
  auto client = ClientFor(url_a);
  const std::string cla = "/api/v1/metrics/cla?at=2024-03-31";
  auto coverage = [&] { return CoverageOf(*client, cla); };
  auto wait_until = [&](const std::function<bool(const nlohmann::json&)>& holds) {
    return WaitForCoverage(*client, cla, holds,
                           [&] { return "a:\n" + a->Stderr() + "\nb:\n" + b->Stderr(); });
  };
  // Both in the group, a asks b for its two partitions (with the token) and answers for all
  // four, naming b in X-Careledger-Peers; b answers the same way by asking a.
  auto whole = wait_until([&](const nlohmann::json& j) {
    return Header(j, "partial") == "false" && Header(j, "partitions") == "0,1,2,3" &&
           !Header(j, "peers").empty();
  });
  EXPECT_FALSE(whole.contains("partial")) << whole.dump();
  EXPECT_EQ(whole["rows"][0]["value"], 1);
  // a keeps its connection to b open for the next figure, and b closes one idle for 2 s: asked
  // again after that, a asks b on a new connection, and the figure is whole.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto again = coverage();
  ASSERT_TRUE(again.is_object()) << a->Stderr();
  EXPECT_EQ(Header(again, "partial"), "false") << again.dump();
  EXPECT_EQ(Header(again, "peers"), Header(whole, "peers"));
  // b hangs (SIGSTOP): a waits for it no longer than serve.peer_timeout_ms, then answers for its
  // own partitions only, and says which are missing, who holds them and why they are missing.
  ASSERT_EQ(::kill(b->pid(), SIGSTOP), 0);
  auto asked_at = std::chrono::steady_clock::now();
  auto split = coverage();
  auto waited = std::chrono::steady_clock::now() - asked_at;
  EXPECT_LT(waited, std::chrono::seconds(5));  // serve.peer_timeout_ms = 1500, and a read or two
  ASSERT_TRUE(split.is_object()) << a->Stderr();
  EXPECT_EQ(split.value("partial", false), true) << split.dump();
  std::set<int> all;
  for (const auto& p : split["coverage"]["partitions"]) all.insert(p.get<int>());
  for (const auto& p : split["coverage"]["missing"]) all.insert(p.get<int>());
  EXPECT_EQ(all, (std::set<int>{0, 1, 2, 3}));
  EXPECT_EQ(split["coverage"]["missing"].size(), 2u);
  ASSERT_EQ(split["coverage"]["answered_elsewhere"].size(), 1u) << split.dump();
  const auto& elsewhere = split["coverage"]["answered_elsewhere"][0];
  EXPECT_EQ(elsewhere["advertised"], url_b);
  EXPECT_EQ(elsewhere["partitions"], split["coverage"]["missing"]);
  EXPECT_THAT(elsewhere["why"].get<std::string>(), HasSubstr("did not answer"));
  EXPECT_EQ(Header(split, "partial"), "true");
  EXPECT_EQ(Header(split, "missing"), split["coverage"]["missing"].dump().substr(
                                          1, split["coverage"]["missing"].dump().size() - 2));
  // b goes on, then stops (saying so): its partitions move to a, which answers for all four
  // from its own store, asking no one.
  ASSERT_EQ(::kill(b->pid(), SIGCONT), 0);
  EXPECT_EQ(b->Stop(), 0);
  auto alone = wait_until([&](const nlohmann::json& j) {
    return Header(j, "partial") == "false" && Header(j, "partitions") == "0,1,2,3" &&
           Header(j, "peers").empty();
  });
  EXPECT_FALSE(alone.contains("partial")) << alone.dump();  // the report's JSON, as it is
  EXPECT_EQ(Header(alone, "missing"), "");
  EXPECT_EQ(alone["rows"][0]["value"], 1);
}

// The systemd layout: `ingest` and `serve` as processes of their own over one store. The
// ingest announces where the serve beside it answers, which partitions it is still reading and
// how many the topics have; the serve reads that record as its own. Its figures then say what
// the ingest is still reading, a stopped ingest's store gives way to the instance that holds
// its partitions now, and partitions no instance holds are named missing even above the
// highest any instance holds.
TEST(ServeBesideIngest, SaysWhatThatIngestIsStillReading) {
  test::TempDir dir;
  test::BrokerProcess broker(4);
  const int port = FreePort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  test::WriteFile(dir / "c.toml",
                  "[serve]\ntoken = \"" + kToken +
                      "\"\npeer_timeout_ms = 1500\nlisten = \"127.0.0.1:" + std::to_string(port) +
                      "\"\n[ingest]\ninstance_id = \"beside-1\"\n");
  ::chmod((dir / "c.toml").c_str(), 0600);
  test::WriteFile(dir / "feed.jsonl", test::ThreeChildrenFeed());
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  auto ingest = std::make_unique<test::Background>(std::vector<std::string>{
      CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data", dir / "store",
      "--config", dir / "c.toml", "--kafka", "session.timeout.ms=6000"});
  test::Background serve({CARELEDGER_BIN, "serve", "--brokers", broker.bootstrap(), "--data",
                          dir / "store", "--config", dir / "c.toml"});
  ASSERT_EQ(serve.FirstLine(), url);
  auto client = ClientFor(url);
  const std::string cla = "/api/v1/metrics/cla?at=2024-03-31";
  auto wait_until = [&](const std::function<bool(const nlohmann::json&)>& holds) {
    return WaitForCoverage(*client, cla, holds, [&] {
      return "ingest:\n" + ingest->Stderr() + "\nserve:\n" + serve.Stderr();
    });
  };
  auto whole = wait_until([](const nlohmann::json& j) {
    return Header(j, "partial") == "false" && Header(j, "partitions") == "0,1,2,3";
  });
  EXPECT_EQ(whole["rows"][0]["value"], 1) << whole.dump();

  // What the ingest said: at its assignment, all four still to read; once at the end, none;
  // the serve's address; the topics' four partitions.
  auto announced = test::Run({test::KcatPath(), "-C", "-b", broker.bootstrap(), "-t",
                              "careledger.instances.v1", "-e", "-q", "-f", "%s\n"});
  ASSERT_EQ(announced.exit_code, 0) << announced.err;
  std::vector<nlohmann::json> records;
  for (const auto& line : test::Lines(announced.out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["instance"] == "beside-1" && !j["partitions"].empty()) {
      records.push_back(j);
    }
  }
  ASSERT_GE(records.size(), 2u) << announced.out;
  EXPECT_EQ(records.front()["reading"], nlohmann::json({0, 1, 2, 3})) << announced.out;
  EXPECT_EQ(records.back()["reading"], nlohmann::json::array()) << announced.out;
  for (const auto& r : records) {
    EXPECT_EQ(r["advertised"], url);
    EXPECT_EQ(r["of"], 4);
  }

  // The ingest stops, saying so: no one else holds its partitions, so its store answers for
  // them as they were.
  EXPECT_EQ(ingest->Stop(), 0);
  auto now = [] {
    return FormatInstant(
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  };
  auto announce = [&](const std::string& instance, const std::string& fields) {
    auto produced = test::KcatProduceLines(broker.bootstrap(), "careledger.instances.v1",
                                           instance + "\t{\"instance\":\"" + instance +
                                               "\",\"group\":\"careledger-ingest\"," + fields +
                                               ",\"at\":\"" + now() + "\"}\n",
                                           dir.path());
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
  };
  auto stopped = CoverageOf(*client, cla);
  EXPECT_EQ(Header(stopped, "partial"), "false") << stopped.dump();
  EXPECT_EQ(Header(stopped, "partitions"), "0,1,2,3");

  // Its ingest says it has taken over 2 and 3 and is still reading them: the figure holds what
  // it has of them so far, and says it is partial for want of them; another instance asking
  // this one is refused until it has read them.
  announce("beside-1",
           "\"advertised\":\"" + url +
               "\",\"running\":true,\"partitions\":[0,1,2,3],\"reading\":[2,3],\"of\":4");
  auto reading = wait_until([](const nlohmann::json& j) { return Header(j, "partial") == "true"; });
  EXPECT_EQ(Header(reading, "partitions"), "0,1");
  EXPECT_EQ(Header(reading, "missing"), "2,3");
  ASSERT_EQ(reading["coverage"]["answered_elsewhere"].size(), 1u) << reading.dump();
  EXPECT_EQ(reading["coverage"]["answered_elsewhere"][0]["instance"], "this instance");
  EXPECT_THAT(reading["coverage"]["answered_elsewhere"][0]["why"].get<std::string>(),
              HasSubstr("still reading them"));
  auto refused =
      client->Post("/api/v1/internal/read", Bearer(kToken), "C", "application/octet-stream");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(refused->body, HasSubstr("still reading"));

  // It stops, and another instance has announced 2 and 3 since, with six partitions to the
  // topics: 2 and 3 are that one's (which does not answer here), and this store, holding 0 and
  // 1 as they were, cannot be read for them alone; no one holds 4 and 5.
  announce("beside-1", "\"advertised\":\"" + url + "\",\"running\":false,\"partitions\":[]");
  announce("other-1",
           "\"advertised\":\"http://127.0.0.1:1\",\"running\":true,\"partitions\":[2,3],"
           "\"reading\":[],\"of\":6");
  auto moved =
      wait_until([](const nlohmann::json& j) { return Header(j, "missing") == "0,1,2,3,4,5"; });
  EXPECT_EQ(Header(moved, "partitions"), "");
  std::map<std::string, std::string> why;
  for (const auto& e : moved["coverage"]["answered_elsewhere"]) {
    why[e["instance"].get<std::string>() + " " + e["partitions"].dump()] =
        e["why"].get<std::string>();
  }
  ASSERT_EQ(why.size(), 3u) << moved.dump();
  EXPECT_THAT(why["other-1 [2,3]"], HasSubstr("did not answer"));
  EXPECT_THAT(why["this instance [0,1]"], HasSubstr("its ingest has stopped"));
  EXPECT_THAT(why[" [4,5]"], HasSubstr("no instance of the group has announced them"));
}

}  // namespace
}  // namespace careledger
