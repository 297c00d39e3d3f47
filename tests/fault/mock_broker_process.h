// MockBrokerProcess: feed-ingest-mock-broker ($FEED_INGEST_MOCK_BROKER_BIN)
// as a child process, driven through its stdin command language, so a fault
// scenario can take brokers down, slow them or make them fail while the
// service runs in a process of its own.
//
//   MockBrokerProcess broker;
//   ASSERT_TRUE(broker.Start().ok());
//   ... "--brokers=" + broker.bootstrap() ...
//   ASSERT_TRUE(broker.Command("down 1").ok());  // returns once it said "ok"
//
// Not thread-safe: one thread drives it.
#ifndef FEED_INGEST_TESTS_FAULT_MOCK_BROKER_PROCESS_H_
#define FEED_INGEST_TESTS_FAULT_MOCK_BROKER_PROCESS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace feed_ingest::testing {

class MockBrokerProcess {
 public:
  MockBrokerProcess() = default;
  MockBrokerProcess(const MockBrokerProcess&) = delete;
  MockBrokerProcess& operator=(const MockBrokerProcess&) = delete;
  // Closes its stdin (the broker exits on EOF), then kills what is left.
  ~MockBrokerProcess();

  // Spawns the broker, with the sequence-checking proxy in front (see
  // tests/tools/sequence_proxy.h), and waits for its `bootstrap=` line.
  [[nodiscard]] absl::Status Start(absl::Duration timeout = absl::Seconds(20));
  const std::string& bootstrap() const { return bootstrap_; }

  // Sends one command line and waits for its answer: OK on `ok`, INTERNAL
  // with the broker's message on `error: ...`, DEADLINE_EXCEEDED on silence.
  [[nodiscard]] absl::Status Command(const std::string& line,
                                     absl::Duration timeout = absl::Seconds(10));
  // Produce partitions the proxy refused as out of sequence, duplicated or
  // from an old producer epoch, or -1 if the broker did not say.
  int64_t Refused();

 private:
  // Command() that also returns what followed `ok ` in the answer.
  absl::Status Command(const std::string& line, absl::Duration timeout, std::string* detail);
  // One line of the broker's stdout, without the newline.
  absl::Status ReadLine(absl::Time deadline, std::string* line);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  std::string bootstrap_;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_FAULT_MOCK_BROKER_PROCESS_H_
