// ServerProcess: the real feed-ingest binary ($FEED_INGEST_BIN) as a child
// process, for tests that need signals or a process boundary: its stderr
// log, the addresses from the `msg=serving` line, the pid (peak memory from
// /proc), readiness and metrics over HTTP.
//
//   ServerProcess service({"--brokers=" + bootstrap, "--listen=127.0.0.1:0",
//                           "--metrics-listen=127.0.0.1:0"});
//   ASSERT_TRUE(service.WaitServing(absl::Seconds(30))) << service.Log();
//   ... service.grpc_target(), service.PeakRssMiB(), service.Ready() ...
//
// Thread-safe, except Wait(), which one thread calls.
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
  explicit ServerProcess(std::vector<std::string> args);
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // SIGKILLs it if it is still running.
  ~ServerProcess();

  // Waits for the `msg=serving` line; false on timeout or exit.
  bool WaitServing(absl::Duration timeout);
  pid_t pid() const { return pid_; }
  std::string grpc_target() const;
  // 0 when --metrics-listen is off.
  int metrics_port() const;
  // VmHWM of the process in MiB, or -1 once it has exited.
  double PeakRssMiB() const;
  // GET /readyz answers 200.
  bool Ready() const;
  // The sum of a metric's samples (all label sets) on /metrics, or -1 when
  // /metrics cannot be read or has no such metric.
  double MetricSum(const std::string& name) const;
  void Signal(int signal) const;
  // The exit status (or 128 + signal), or -1 on timeout.
  int Wait(absl::Duration timeout);
  std::string Log() const;
  // From now on nobody reads its stderr: a pipe shrunk to 4 KiB, which its
  // log soon fills, as with a log shipper that hangs.
  void StopReadingLog();

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
  std::string grpc_target_ ABSL_GUARDED_BY(mu_);
  int metrics_port_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reader_may_go_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ = false;
  int status_ = -1;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_SERVER_PROCESS_H_
