// ServerProcess: the real feed-ingest binary as a child process, for tests
// that need signals or a process boundary.
//
//   ServerProcess server({"--brokers=" + bootstrap, "--listen=127.0.0.1:0"});
//   ASSERT_TRUE(server.WaitServing(absl::Seconds(30)));
//   ... server.grpc_target() ...
//   server.Signal(SIGTERM);
//   EXPECT_EQ(server.Wait(absl::Seconds(30)), 0);
#ifndef FEED_INGEST_TESTS_SUPPORT_SERVER_PROCESS_H_
#define FEED_INGEST_TESTS_SUPPORT_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace feed_ingest::testing {

class ServerProcess {
 public:
  // Starts $FEED_INGEST_BIN with `args`; its stderr is collected.
  explicit ServerProcess(std::vector<std::string> args);
  ~ServerProcess();

  // Waits for the "serving" log line; false on timeout or exit.
  bool WaitServing(absl::Duration timeout);
  std::string grpc_target() const;
  void Signal(int signal) const;
  // The exit status (or 128 + signal), or -1 on timeout.
  int Wait(absl::Duration timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
  std::string grpc_target_ ABSL_GUARDED_BY(mu_);
  bool exited_ = false;
  int status_ = -1;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_SERVER_PROCESS_H_
