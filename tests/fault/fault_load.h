// What a fault scenario sends and what it checks afterwards.
//
// FaultLoad: several client threads making unary Ingest calls of a few items,
// each item with a unique event_id, recording every verdict.
//
//   LoadOptions options;
//   options.id_prefix = "s1-";
//   FaultLoad load(channel, options);
//   load.Start();
//   ... inject the fault ...
//   load.Stop();
//   const TopicCheck check = CheckTopic(broker.bootstrap(), load.Totals());
//   EXPECT_EQ(check.missing, 0u);
//
// Thread-safe.
#ifndef FEED_INGEST_TESTS_FAULT_FAULT_LOAD_H_
#define FEED_INGEST_TESTS_FAULT_FAULT_LOAD_H_

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace feed_ingest::testing {

struct LoadOptions {
  std::string id_prefix;
  int threads = 8;
  int items_per_call = 4;
  absl::Duration deadline = absl::Seconds(10);
  // Each thread waits this long between calls, so a scenario stays well
  // below what the mock broker keeps per partition.
  absl::Duration pause = absl::Milliseconds(25);
  // Items sent at most, over all threads.
  size_t max_items = 20000;
};

// The verdicts of every call made so far.
struct LoadTotals {
  std::set<std::string> accepted;  // event_ids answered as accepted
  size_t items_sent = 0;
  size_t calls = 0;
  size_t retryable = 0;         // items rejected REJECTION_CODE_RETRYABLE
  size_t invalid = 0;           // items rejected REJECTION_CODE_INVALID
  size_t unanswered_items = 0;  // OK responses that neither accepted nor rejected an item
  std::map<grpc::StatusCode, size_t> status;  // calls by final status
  std::string last_rejection;                 // a sample message, for the log
  std::string last_error;                     // a sample non-OK status, for the log

  size_t failed_calls() const;
  // Calls that ended with a status other than `allowed` (and OK).
  size_t CallsNotIn(std::set<grpc::StatusCode> allowed) const;
  void Merge(const LoadTotals& other);
};

class FaultLoad {
 public:
  FaultLoad(std::shared_ptr<grpc::Channel> channel, LoadOptions options);
  ~FaultLoad();  // Stop()s.

  void Start();
  // Asks the threads to stop and waits for their last calls to end.
  void Stop();
  LoadTotals Totals() const;
  // Calls started minus calls ended.
  size_t InFlight() const { return started_.load() - ended_.load(); }

 private:
  void Run(int thread);

  std::shared_ptr<grpc::Channel> channel_;
  const LoadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> items_budget_{0};
  std::atomic<size_t> started_{0}, ended_{0};
  std::vector<std::thread> threads_;
  mutable absl::Mutex mu_;
  LoadTotals totals_ ABSL_GUARDED_BY(mu_);
};

// One unary call of `items` fresh items, recorded into `totals`.
grpc::Status SendOnce(grpc::Channel* channel, const std::string& id_prefix, int items,
                      absl::Duration deadline, LoadTotals* totals);

struct TopicCheck {
  size_t records = 0;
  size_t missing = 0;     // accepted, not in the topic
  size_t duplicated = 0;  // event_ids seen more than once
  size_t without_id = 0;  // records with no event-id header
  int64_t in_log = -1;    // what the broker holds (watermarks), -1 if unknown
  std::string first_missing;
};

// Reads the whole topic and compares it with `totals.accepted`.
TopicCheck CheckTopic(const std::string& bootstrap, const LoadTotals& totals);

// A one-line summary of the scenario for docs/reliability.md.
std::string ResultLine(const std::string& scenario, const LoadTotals& totals,
                       const TopicCheck& check, double peak_rss_mib, double recovered_s);

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_FAULT_FAULT_LOAD_H_
