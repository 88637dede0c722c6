// `careledger board-pack`: the quarterly board pack as one HTML file, and as PDF through
// headless Chromium's print-to-PDF.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

std::string ChromiumPath() {
  for (const char* p :
       {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// Headless Chromium prints the page to PDF; it is given two minutes.
Status PrintToPdf(const std::string& html_path, const std::string& pdf_path) {
  const std::string chromium = ChromiumPath();
  if (chromium.empty()) {
    return Status::Fatal("--pdf needs Chromium (apt-get install chromium); the HTML was written");
  }
  namespace fs = std::filesystem;
  const std::string url = "file://" + fs::absolute(html_path).string();
  const std::string profile =
      fs::temp_directory_path() / ("careledger-pdf-" + std::to_string(::getpid()));
  std::vector<std::string> args = {chromium,
                                   "--headless",
                                   "--no-sandbox",  // root in a container has no user namespace
                                   "--disable-gpu",
                                   "--no-pdf-header-footer",
                                   "--user-data-dir=" + profile,
                                   "--print-to-pdf=" + fs::absolute(pdf_path).string(),
                                   url};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Fatal("cannot start Chromium: fork failed");
  if (pid == 0) {
    // Chromium's chatter is not ours to show.
    std::FILE* null = std::fopen("/dev/null", "w");
    if (null) {
      ::dup2(::fileno(null), 1);
      ::dup2(::fileno(null), 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      std::error_code ec;
      fs::remove_all(profile, ec);
      return Status::Fatal("Chromium did not print the PDF within two minutes");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::error_code ec;
  fs::remove_all(profile, ec);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(pdf_path) ||
      fs::file_size(pdf_path, ec) == 0) {
    return Status::Fatal("Chromium could not print " + html_path + " to " + pdf_path);
  }
  return Status::Ok();
}

}  // namespace

Command AddBoardPack(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string quarter, out, pdf, known_at;
    bool exact = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "board-pack",
      "The quarterly board pack: KPIs with their statuses and comparators, eight quarters of "
      "trends, outcomes by tier and cohort, call-outs per home, the panel's counts; one "
      "self-contained HTML file (and PDF), as the store knew it at the quarter's end, published "
      "unless --exact (docs/kpi.md)");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--quarter", o->quarter, "The quarter, YYYYQn (2026Q3: July to September)")
      ->required();
  cmd->add_option("--out", o->out, "The HTML file to write")->required();
  cmd->add_option("--pdf", o->pdf, "Also print it to this PDF file (headless Chromium)");
  cmd->add_option("--as-known-at", o->known_at,
                  "Know the store as at this time (RFC 3339), not at the quarter's end: for a "
                  "store loaded after the quarter ended");
  cmd->add_flag("--exact", o->exact, "Exact figures, small counts included: not for publication");
  return {cmd, [o] {
            if (!std::regex_match(o->quarter, std::regex("[0-9]{4}Q[1-4]"))) {
              std::cerr << "careledger: --quarter: a calendar quarter such as 2026Q3, not "
                        << o->quarter << '\n';
              return 2;
            }
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto kpis = KpisFromSettings(ctx->config.KpiSettings());
            if (!kpis.ok()) {
              std::cerr << "careledger: " << kpis.status().message() << '\n';
              return 2;
            }
            auto period = ParseMetricSelectors({"outcomes", "", o->quarter, o->known_at, ""},
                                               {.known_at = "--as-known-at"});
            if (!period.ok()) {
              std::cerr << "careledger: " << period.status().message() << '\n';
              return 2;
            }
            auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
            if (!store.ok()) return Fail(store.status());
            const Config config = ctx->config;
            namespace fs = std::filesystem;
            const std::string scratch =
                fs::temp_directory_path() / ("careledger-board-pack-" + std::to_string(::getpid()));
            BoardPackOptions options{
                .quarter = *period->period,
                .quarter_name = o->quarter,
                .published = !o->exact,
                .threshold = config.PublishThreshold(),
                .kpis = std::move(*kpis),
                .area = config.Area(),
                .population = [config](int year) { return config.PopulationFor(year); },
                .now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()),
                .known_at = period->known_at,
                .scratch_dir = scratch};
            auto html = BoardPackHtml(**store, options);
            if (!html.ok()) return Fail(html.status());
            {
              std::ofstream out(o->out, std::ios::binary | std::ios::trunc);
              out << *html;
              if (!out.flush()) return Fail(Status::Fatal("cannot write " + o->out));
            }
            std::cout << "wrote " << o->out << " (" << html->size() << " bytes)\n";
            if (!o->pdf.empty()) {
              if (Status s = PrintToPdf(o->out, o->pdf); !s.ok()) return Fail(s);
              std::cout << "wrote " << o->pdf << '\n';
            }
            return 0;
          }};
}

}  // namespace careledger::app
