// feed-ingest: parses flags, starts the server, waits for SIGTERM or SIGINT,
// shuts down in order. All logic lives in the library.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "ingest_server.h"
#include "server_config.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace feed_ingest;
  absl::StatusOr<ServerConfig> config = ParseServerConfig(argc, argv, environ);
  if (!config.ok()) {
    std::fprintf(stderr, "feed-ingest: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (config->help) {
    std::fputs(config->usage.c_str(), stdout);
    return 0;
  }
  SetLogFormat(config->log_format);
  // Debian's abseil is built with its debug checks on: every absl::Mutex
  // (gRPC's included) would record each lock order in a global graph, a few
  // percent of a unary call's CPU. The unit tests keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals (and SIGHUP, which reloads tokens) in every thread (threads inherit the
  // mask), so only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A closed stderr or socket must surface as an error, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Not before the mask: the first line starts the log's writer thread.
  Log(LogLevel::kInfo, "starting", {{"allocator", FEED_INGEST_ALLOCATOR}});

  absl::StatusOr<std::unique_ptr<IngestServer>> server =
      IngestServer::Start(std::move(config->server));
  if (!server.ok()) {
    Log(LogLevel::kError, "cannot start", {{"error", server.status().ToString()}});
    FlushLogs();
    return 1;
  }
  int signal = 0;
  for (;;) {
    sigwait(&stop_signals, &signal);
    if (signal != SIGHUP) break;
    (void)(*server)->ReloadTokens();  // Logs the outcome either way.
  }
  Log(LogLevel::kInfo, "signal received", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown();
  // Bounded: a stderr nobody reads must not keep the process from exiting.
  FlushLogs();
  return 0;
}
