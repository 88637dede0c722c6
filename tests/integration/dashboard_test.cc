// The dashboard in a real browser against `careledger serve`: a small feed is published to
// `careledger broker` and ingested, headless Chromium loads the page from serve and is read
// through the DevTools protocol (a minimal WebSocket client below: the standard library and
// nlohmann_json only), then one more event is ingested and the page must show it within 2 s
// without a reload; then the checkbox must switch the page from published to exact figures. A
// screenshot and the DOM are kept under the build directory as artefacts.
//
// Skipped while the binary has no `serve` subcommand (`serve --help` names no --listen).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "careledger/reporting.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using Clock = std::chrono::steady_clock;

// ---- loopback TCP, HTTP/1.0 and a WebSocket client, enough for the DevTools protocol ----

class Socket {
 public:
  explicit Socket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};  // a silent peer fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Exactly n bytes, or nullopt at end of stream or timeout.
  std::optional<std::string> Read(size_t n) {
    std::string out;
    while (out.size() < n) {
      char buf[65536];
      ssize_t got = recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) return std::nullopt;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  std::string ReadToEnd() {
    std::string out;
    char buf[65536];
    for (ssize_t got; (got = recv(fd_, buf, sizeof buf, 0)) > 0;) {
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  // Up to and including the blank line that ends an HTTP head.
  std::string ReadHead() {
    std::string out;
    while (!out.ends_with("\r\n\r\n")) {
      auto c = Read(1);
      if (!c) break;
      out += *c;
    }
    return out;
  }

 private:
  int fd_ = -1;
};

struct HttpResponse {
  int status = 0;
  std::string head, body;
};
// HTTP/1.1 (Chromium's DevTools server does not answer 1.0), the body by its Content-Length,
// or up to the end of the stream when there is none.
std::optional<HttpResponse> HttpGet(int port, const std::string& path) {
  Socket s(port);
  if (!s.ok() || !s.Send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                         "\r\nConnection: close\r\n\r\n")) {
    return std::nullopt;
  }
  HttpResponse r;
  r.head = s.ReadHead();
  if (!r.head.starts_with("HTTP/1.")) return std::nullopt;
  r.status = std::atoi(r.head.c_str() + 9);
  std::string lower = r.head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
    auto body = s.Read(std::strtoul(lower.c_str() + at + 17, nullptr, 10));
    if (!body) return std::nullopt;
    r.body = *body;
  } else {
    r.body = s.ReadToEnd();
  }
  return r;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+'             ? 62
            : c == '/'             ? 63
                                   : -1;
    if (v < 0) continue;  // '=' padding
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if ((count += 6) >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// One DevTools page session (RFC 6455 client frames are masked; the browser's are not).
class DevToolsPage {
 public:
  DevToolsPage(int port, const std::string& path) : socket_(port) {
    if (!socket_.ok()) return;
    socket_.Send(
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    open_ = socket_.ReadHead().starts_with("HTTP/1.1 101");
  }
  bool open() const { return open_; }

  // The result of a command, or an "error" object.
  nlohmann::json Call(const std::string& method, nlohmann::json params = nlohmann::json::object()) {
    int id = ++last_id_;
    nlohmann::json message = {{"id", id}, {"method", method}, {"params", std::move(params)}};
    if (!SendText(message.dump())) return {{"error", "send failed"}};
    while (true) {
      auto text = ReadMessage();
      if (!text) return {{"error", "connection closed or timed out"}};
      auto answer = nlohmann::json::parse(*text, nullptr, false);
      if (answer.is_object() && answer.value("id", 0) == id) {
        return answer.contains("error") ? answer : answer["result"];
      }
    }
  }
  // A JavaScript expression's value (strings, numbers, booleans, null).
  nlohmann::json Evaluate(const std::string& expression) {
    auto r = Call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}});
    if (!r.contains("result")) return nullptr;
    return r["result"].value("value", nlohmann::json());
  }

 private:
  bool SendText(const std::string& payload) {
    std::string frame = "\x81";
    size_t n = payload.size();
    if (n < 126) {
      frame += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(n >> 8);
      frame += static_cast<char>(n & 0xff);
    } else {
      frame += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
    }
    std::array<char, 4> mask;
    for (char& m : mask) m = static_cast<char>(rng_());
    frame.append(mask.data(), mask.size());
    for (size_t i = 0; i < n; ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
    return socket_.Send(frame);
  }
  std::optional<std::string> ReadMessage() {
    std::string message;
    while (true) {
      auto head = socket_.Read(2);
      if (!head) return std::nullopt;
      bool fin = (*head)[0] & 0x80;
      int opcode = (*head)[0] & 0x0f;
      uint64_t n = static_cast<uint8_t>((*head)[1]) & 0x7f;
      if (n >= 126) {
        auto ext = socket_.Read(n == 126 ? 2 : 8);
        if (!ext) return std::nullopt;
        n = 0;
        for (char c : *ext) n = (n << 8) | static_cast<uint8_t>(c);
      }
      auto payload = socket_.Read(n);
      if (!payload) return std::nullopt;
      if (opcode == 0x8) return std::nullopt;        // close
      if (opcode == 0x9 || opcode == 0xa) continue;  // ping/pong: the browser sends none here
      message += *payload;
      if (fin) return message;
    }
  }

  Socket socket_;
  bool open_ = false;
  int last_id_ = 0;
  std::minstd_rand rng_{std::random_device{}()};
};

// ---- the feed ----

std::string Ev(const std::string& id, const std::string& type, const std::string& child,
               const std::string& on, const std::string& data) {
  return R"({"event_id":")" + id + R"(","type":")" + type +
         R"(","schema_version":1,"source":"test","child_id":")" + child + R"(","occurred_at":")" +
         on + R"(","recorded_at":")" + on + R"(T12:00:00Z","data":{)" + data + "}}\n";
}
// A child registered and looked after since 2025-01-01 (so looked after today, whatever today).
std::string InCare(const std::string& child, const std::string& dob) {
  return Ev(child + "0", "child.registered", child, dob,
            R"("dob":")" + dob + R"(","sex":"F","ethnicity":"WBRI")") +
         Ev(child + "1", "care.period_started", child, "2025-01-01",
            R"("legal_status":"C2","placement":"U1","home_id":"H1")");
}

// A's theft a month ago, resolved informally (community resolution, Home Office outcome 8) a
// week later: inside the page's default period (the last 12 months) whatever today is.
std::string InformalOutcomeForA() {
  Date today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  std::string offence = FormatDate(today - std::chrono::days(30));
  std::string decided = FormatDate(today - std::chrono::days(23));
  return Ev("A2", "offence.recorded", "A", offence,
            R"("offence_id":"OA","offence_group":"theft_handling","at_placement":true)") +
         Ev("A3", "outcome.recorded", "A", decided,
            R"("offence_id":"OA","home_office_outcome":8,"decided_at":")" + decided + R"(")");
}

// B's robbery 30 days ago with nothing decided yet: on the panel's worklist, 30 days waiting.
std::string UndecidedOffenceForB() {
  Date today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  return Ev("B2", "offence.recorded", "B", FormatDate(today - std::chrono::days(30)),
            R"("offence_id":"OB","offence_group":"robbery","at_placement":false)");
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ChromiumPath() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (access(p, X_OK) == 0) return p;
  }
  ADD_FAILURE() << "chromium is not installed (ops/setup.sh installs it)";
  return "chromium";
}

std::filesystem::path ArtefactDir() {
  std::filesystem::path dir = CARELEDGER_ARTEFACT_DIR;
  std::filesystem::create_directories(dir);
  return dir;
}

constexpr char kClaNow[] = R"(document.querySelector('[data-figure="cla-now"]').textContent)";

// The figure the page shows, once it equals `want` or `timeout` has passed (the last seen).
std::string WaitForFigure(DevToolsPage& page, const std::string& want,
                          std::chrono::milliseconds timeout, const char* figure = kClaNow) {
  auto deadline = Clock::now() + timeout;
  std::string seen;
  while (true) {
    auto v = page.Evaluate(figure);
    seen = v.is_string() ? v.get<std::string>() : v.dump();
    if (seen == want || Clock::now() >= deadline) return seen;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

class DashboardInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    // Without the subcommand, CLI11 prints the top-level help and exits 0: look for serve's own.
    auto help = Careledger({"serve", "--help"});
    if (help.exit_code != 0 || help.out.find("--listen") == std::string::npos) {
      GTEST_SKIP() << "this careledger has no `serve` yet";
    }
    test::WriteFile(dir_ / "c.toml",
                    "[population]\n2025 = { aged_10_17 = 20000, under_18 = 50000 }\n"
                    "[serve]\ntoken = \"" +
                        std::string(kToken) + "\"\n");
    test::WriteFile(dir_ / "no-token.toml", "");
  }
  static constexpr char kToken[] = "dashboard-test-token-0123456789abcdef";
  void Ingest(const std::string& feed) {
    std::string file = dir_ / ("feed" + std::to_string(++feeds_) + ".jsonl");
    test::WriteFile(file, feed);
    auto published = Careledger({"publish", "--brokers", broker_->bootstrap(), file});
    ASSERT_EQ(published.exit_code, 0) << published.err;
    auto ingest =
        Careledger({"ingest", "--brokers", broker_->bootstrap(), "--data", store(), "--until-end"});
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  }
  std::string store() const { return dir_ / "store"; }

  test::TempDir dir_;
  std::optional<test::BrokerProcess> broker_;
  int feeds_ = 0;
};

TEST_F(DashboardInBrowser, ShowsTheClaFigureAndANewEventWithinTwoSecondsWithoutAReload) {
  broker_.emplace(3);
  // Five children looked after: 5 is the smallest count published as it is (1 to 4 are "<5").
  ASSERT_NO_FATAL_FAILURE(Ingest(InCare("A", "2010-01-01") + InCare("B", "2010-02-01") +
                                 InCare("C", "2010-03-01") + InCare("D", "2010-04-01") +
                                 InCare("E", "2010-05-01") + InformalOutcomeForA() +
                                 UndecidedOffenceForB()));

  int port = FreePort();
  test::Background serve({CARELEDGER_BIN, "serve", "--listen", "127.0.0.1:" + std::to_string(port),
                          "--data", store(), "--config", dir_ / "c.toml"});
  std::optional<HttpResponse> root;
  for (auto deadline = Clock::now() + std::chrono::seconds(30); Clock::now() < deadline;) {
    if ((root = HttpGet(port, "/")) && root->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(root && root->status == 200) << "serve did not answer; stderr: " << serve.Stderr();
  EXPECT_EQ(root->body, DashboardAsset("/")->body);
  EXPECT_NE(root->head.find("text/html"), std::string::npos) << root->head;

  test::TempDir profile;
  test::Background chromium({ChromiumPath(), "--headless=new", "--no-sandbox", "--disable-gpu",
                             "--hide-scrollbars", "--window-size=1280,5200",
                             "--remote-debugging-port=0", "--user-data-dir=" + profile.path(),
                             "about:blank"});
  // Chromium writes the port it chose, then the browser's path, into the profile.
  int devtools_port = 0;
  for (auto deadline = Clock::now() + std::chrono::seconds(30);
       devtools_port == 0 && Clock::now() < deadline;) {
    std::string active = test::ReadFile(profile / "DevToolsActivePort");
    if (active.find('\n') != std::string::npos) devtools_port = std::atoi(active.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(devtools_port, 0) << "chromium did not start; stderr: " << chromium.Stderr();
  auto targets = HttpGet(devtools_port, "/json/list");
  ASSERT_TRUE(targets && targets->status == 200);
  std::string page_path;
  for (const auto& t : nlohmann::json::parse(targets->body)) {
    if (t.value("type", "") == "page") {
      std::string ws = t.value("webSocketDebuggerUrl", "");
      page_path = ws.substr(ws.find('/', std::string("ws://").size()));
      break;
    }
  }
  ASSERT_FALSE(page_path.empty()) << targets->body;
  DevToolsPage page(devtools_port, page_path);
  ASSERT_TRUE(page.open());
  auto navigated =
      page.Call("Page.navigate", {{"url", "http://127.0.0.1:" + std::to_string(port) + "/"}});
  ASSERT_FALSE(navigated.contains("error")) << navigated.dump();

  EXPECT_EQ(WaitForFigure(page, "5", std::chrono::seconds(30)), "5");
  EXPECT_EQ(page.Evaluate(R"(document.querySelector('[data-figure="mode"]').textContent
                             .startsWith('Published figures'))"),
            true);
  // Every panel has answered once (the status line leaves "Loading…"; under ASan on a busy
  // machine that can take several seconds), then a moment for the charts to draw before the
  // picture is taken.
  for (auto deadline = Clock::now() + std::chrono::seconds(30); Clock::now() < deadline;) {
    auto loaded =
        page.Evaluate("document.getElementById('status').textContent.startsWith('Updated')");
    if (loaded.is_boolean() && loaded.get<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(page.Evaluate("document.getElementById('status').textContent.startsWith('Updated')"),
            true)
      << "a panel never answered";
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto shot = page.Call("Page.captureScreenshot", {{"format", "png"}});
  ASSERT_TRUE(shot.contains("data")) << shot.dump().substr(0, 300);
  test::WriteFile((ArtefactDir() / "dashboard.png").string(),
                  Base64Decode(shot["data"].get<std::string>()));
  auto dom = page.Evaluate("document.documentElement.outerHTML");
  if (dom.is_string())
    test::WriteFile((ArtefactDir() / "dashboard.html").string(), dom.get<std::string>());

  // On a quiet store the page asks every second how far the store has got, and nothing more.
  page.Evaluate(
      "performance.setResourceTimingBufferSize(100000); performance.clearResourceTimings()");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto requests = [&](const std::string& path) {
    return page.Evaluate(
        "performance.getEntriesByType('resource').filter((e) => e.name.includes('" + path +
        "')).length");
  };
  EXPECT_EQ(requests("/api/v1/metrics/"), 0);
  EXPECT_EQ(requests("/api/v1/panel"), 0) << "the published view never asks for the worklist";
  EXPECT_EQ(page.Evaluate("document.getElementById('panel-section').hidden"), true);
  auto heads = requests("/api/v1/head");
  EXPECT_TRUE(heads.is_number() && heads.get<int>() >= 2) << heads.dump();

  // A mark on this page: a reload would lose it.
  page.Evaluate("window.careledgerTestMark = 'no reload'");
  ASSERT_NO_FATAL_FAILURE(Ingest(InCare("F", "2010-06-01")));
  auto ingested = Clock::now();
  EXPECT_EQ(WaitForFigure(page, "6", std::chrono::milliseconds(2000)), "6");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ingested);
  EXPECT_LE(took.count(), 2000);
  EXPECT_EQ(page.Evaluate("window.careledgerTestMark"), "no reload");

  // Published by default: one offence shows as "<5". The server has a token, so the exact view
  // is offered; the checkbox asks for the token first and stays off until one is taken.
  constexpr char kInformalCla[] =
      R"(document.querySelector('[data-figure="outcomes-cla-informal"]')?.textContent ?? '')";
  constexpr char kMode[] = R"(document.querySelector('[data-figure="mode"]').textContent)";
  EXPECT_EQ(page.Evaluate(kInformalCla), "<5");
  EXPECT_EQ(page.Evaluate("document.getElementById('exact-control').hidden"), false);
  page.Evaluate("document.getElementById('exact').click()");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(page.Evaluate("document.getElementById('token-form').hidden"), false);
  EXPECT_EQ(page.Evaluate("document.getElementById('exact').checked"), false);
  // A wrong token is refused and the figures stay published.
  page.Evaluate(
      "document.getElementById('token').value = 'not-the-token-but-long-enough-000000';"
      "document.getElementById('unlock').click()");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two polls
  EXPECT_EQ(page.Evaluate(kMode), "The token was refused: published figures only.");
  EXPECT_EQ(page.Evaluate(kInformalCla), "<5") << "a wrong token, no exact figures";
  // The right one: exact figures, and the token kept for this tab only.
  page.Evaluate("document.getElementById('token').value = '" + std::string(kToken) +
                "'; document.getElementById('unlock').click()");
  EXPECT_EQ(WaitForFigure(page, "1", std::chrono::seconds(10), kInformalCla), "1");
  EXPECT_EQ(page.Evaluate(kMode), "Exact figures from the restricted API: not for publication.");
  EXPECT_EQ(page.Evaluate("sessionStorage.getItem('careledger.token')"), kToken);
  EXPECT_EQ(page.Evaluate("document.getElementById('exact').checked"), true);
  // The exact view shows the panel's worklist: B's robbery, 30 days waiting for an outcome.
  constexpr char kPanelDays[] =
      R"(document.querySelector('[data-figure="panel-days-OB"]')?.dataset.value ?? '')";
  EXPECT_EQ(WaitForFigure(page, "30", std::chrono::seconds(10), kPanelDays), "30");
  EXPECT_EQ(page.Evaluate("document.getElementById('panel-section').hidden"), false);
  EXPECT_EQ(page.Evaluate(R"(document.querySelector('#panel-worklist tbody tr').textContent)"),
            "B30Outcome" +
                FormatDate(std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) -
                           std::chrono::days(30)) +
                "Looked afterrobberyNoOtherunknownNoH1OB");
  // Off again: published figures, and the worklist gone from the page.
  page.Evaluate("document.getElementById('exact').click()");
  EXPECT_EQ(WaitForFigure(page, "<5", std::chrono::seconds(10), kInformalCla), "<5");
  EXPECT_EQ(page.Evaluate("document.getElementById('panel-section').hidden"), true);
  EXPECT_EQ(page.Evaluate(kPanelDays), "");
  std::cout << "the page showed the new event " << took.count() << " ms after ingest\n";

  // A server without a token does not offer the exact view at all.
  int port2 = FreePort();
  test::Background plain({CARELEDGER_BIN, "serve", "--listen", "127.0.0.1:" + std::to_string(port2),
                          "--data", store(), "--config", dir_ / "no-token.toml"});
  for (auto deadline = Clock::now() + std::chrono::seconds(30); Clock::now() < deadline;) {
    if (auto r = HttpGet(port2, "/"); r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  page.Call("Page.navigate", {{"url", "http://127.0.0.1:" + std::to_string(port2) + "/"}});
  EXPECT_EQ(WaitForFigure(page, "6", std::chrono::seconds(30)), "6");
  EXPECT_EQ(page.Evaluate("document.getElementById('exact-control').hidden"), true);
  constexpr char kCoverage[] =
      R"(document.querySelector('[data-figure="coverage"]').hidden ? 'hidden' :
         document.querySelector('[data-figure="coverage"]').textContent)";
  EXPECT_EQ(page.Evaluate(kCoverage), "hidden");

  // Another instance of the group answers for a partition this store does not (its record on
  // careledger.instances.v1, as ingest writes one), and this server has no token to ask it
  // with: every figure on the page leaves that partition out, and the page says so, naming
  // where it is held and why it is missing.
  const std::string record =
      R"({"instance":"careledger-other-0001","group":"careledger-ingest",)"
      R"("advertised":"http://10.0.0.8:8080","running":true,"partitions":[3],"at":")" +
      FormatInstant(
          std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now())) +
      "\"}";
  auto produced = test::KcatProduceLines(broker_->bootstrap(), "careledger.instances.v1",
                                         "careledger-other-0001\t" + record + "\n", dir_.path());
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  int port3 = FreePort();
  test::Background grouped({CARELEDGER_BIN, "serve", "--brokers", broker_->bootstrap(), "--listen",
                            "127.0.0.1:" + std::to_string(port3), "--data", store(), "--config",
                            dir_ / "no-token.toml"});
  for (auto deadline = Clock::now() + std::chrono::seconds(30); Clock::now() < deadline;) {
    if (auto r = HttpGet(port3, "/"); r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  page.Call("Page.navigate", {{"url", "http://127.0.0.1:" + std::to_string(port3) + "/"}});
  const std::string want =
      "Partial: these figures are of partitions 0, 1, 2 only. Missing: http://10.0.0.8:8080 "
      "holds partition 3 (this instance has no bearer token (serve.token) to ask it with).";
  EXPECT_EQ(WaitForFigure(page, want, std::chrono::seconds(30), kCoverage), want)
      << grouped.Stderr();
}

}  // namespace
}  // namespace careledger
