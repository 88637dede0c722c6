// careledger: one binary, one subcommand per job (spec/cli.md). Exit 0 success, 1 the work
// failed or some input was rejected, 2 usage error.
#include <iostream>

#include "cli.h"

// An exception out of here is CLI11 refusing our own option definitions, or bad_alloc: a bug or
// an exhausted machine, where std::terminate with the exception's message is the right end.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  careledger::app::BlockStopSignals();
  CLI::App app{"careledger: exactly-once ingest and live figures for children in care"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "careledger 0.1.0");
  const careledger::app::Command commands[] = {
      careledger::app::AddBroker(app),      careledger::app::AddDemo(app),
      careledger::app::AddGenerate(app),    careledger::app::AddPublish(app),
      careledger::app::AddIngest(app),      careledger::app::AddReport(app),
      careledger::app::AddVerify(app),      careledger::app::AddBackup(app),
      careledger::app::AddRestore(app),     careledger::app::AddDeadLetter(app),
      careledger::app::AddConfig(app),      careledger::app::AddLineage(app),
      careledger::app::AddReplay(app),      careledger::app::AddServe(app),
      careledger::app::AddRun(app),         careledger::app::AddReconcile(app),
      careledger::app::AddCorrections(app), careledger::app::AddReference(app),
      careledger::app::AddBoardPack(app),   careledger::app::AddInstances(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  for (const auto& c : commands) {
    if (c.cli->parsed()) return c.run();
  }
  return 2;
}
