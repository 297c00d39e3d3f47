// What a fault scenario sends and what it checks afterwards.
//
// FaultLoad: several client threads making unary Ingest calls of a few items,
// each item with a unique event_id, recording every verdict. As a
// well-behaved caller, a thread sends what was not taken again with the same
// event_ids (RETRYABLE items, every item of a call that failed other than
// INVALID_ARGUMENT), before anything new: the service must write each once.
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
#include "feed/interactions/v1/interactions.pb.h"
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
  // Items sent at most, over all threads (retries not counted).
  size_t max_items = 20000;
  // How often an item is sent again at most.
  int max_retries = 5;
};

// The verdicts of every call made so far.
struct LoadTotals {
  std::set<std::string> accepted;  // event_ids answered as accepted
  size_t items_sent = 0;
  size_t calls = 0;
  size_t retryable = 0;         // items rejected REJECTION_CODE_RETRYABLE
  size_t invalid = 0;           // items rejected REJECTION_CODE_INVALID
  size_t unanswered_items = 0;  // OK responses that neither accepted nor rejected an item
  size_t resent = 0;            // items sent again, with their event_id
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

// One unary call of `request`, recorded into `totals`; the items a caller
// would send again are added to `again` (may be null).
grpc::Status Send(grpc::Channel* channel, const ::feed::interactions::v1::IngestRequest& request,
                  absl::Duration deadline, LoadTotals* totals,
                  std::vector<::feed::interactions::v1::Interaction>* again);

struct TopicCheck {
  size_t records = 0;
  size_t missing = 0;     // accepted, not in the topic
  size_t duplicated = 0;  // copies of event_ids beyond the first (dup_by_event_id)
  size_t without_id = 0;  // records with no event-id header
  int64_t in_log = -1;    // what the broker holds (watermarks), -1 if unknown
  std::string first_missing;
};

// Reads the whole topic and compares it with `totals.accepted`.
TopicCheck CheckTopic(const std::string& bootstrap, const LoadTotals& totals);

// Records ever written to the topic: the sum over partitions of the high
// watermarks (the mock broker forgets old records, never their offsets), or
// -1 when the broker does not answer.
int64_t WrittenCount(const std::string& bootstrap);

// Flood: as many unary calls in flight at once as asked, over several
// connections, each of many items. A call whose items are not all accepted
// (refused RESOURCE_EXHAUSTED, or items RETRYABLE) is sent again, with what
// is left, after `retry_after`, as a well-behaved caller would; until
// StopRetrying() or the items are in Kafka.
//
//   Flood flood(channels, {.calls = 2000, .items_per_call = 1000});
//   flood.Start();  ... the outage ...  flood.StopRetrying(); flood.Wait();
struct FloodOptions {
  std::string id_prefix;
  int calls = 2000;  // Slots, each with one call in flight at a time.
  int items_per_call = 1000;
  absl::Duration retry_after = absl::Seconds(1);
  absl::Duration deadline = absl::Seconds(120);
};

struct FloodTotals {
  uint64_t calls = 0;             // Calls that ended, any status.
  uint64_t accepted = 0;          // Items answered accepted.
  uint64_t possibly_written = 0;  // RETRYABLE items that may be in Kafka all the same.
  uint64_t slots_done = 0;        // Slots all of whose items are accepted.
  uint64_t unknown_calls = 0;     // Failed calls whose outcome the caller cannot know.
  std::map<grpc::StatusCode, uint64_t> status;
  std::map<std::string, uint64_t> errors;  // "code: message" of failed calls, and how many.
  std::string last_error;
};

class Flood {
 public:
  Flood(std::vector<std::shared_ptr<grpc::Channel>> channels, FloodOptions options);
  ~Flood();

  void Start();
  // No more retries; calls in flight still end.
  void StopRetrying();
  // Until every call in flight has ended (or `timeout`).
  bool Wait(absl::Duration timeout);
  FloodTotals Totals() const;
  uint64_t InFlight() const { return in_flight_.load(); }

 private:
  struct Slot;
  bool due_empty() const;
  void Send(Slot* slot);
  void Done(Slot* slot, const grpc::Status& status);
  void RetryLoop();

  const std::vector<std::shared_ptr<grpc::Channel>> channels_;
  const FloodOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<bool> retrying_{true};
  std::atomic<uint64_t> in_flight_{0};
  mutable absl::Mutex mu_;
  FloodTotals totals_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Time, Slot*>> due_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread retrier_;
};

// Streams whose client writes and does not read: each stream's writer sends
// requests as fast as flow control lets it, nobody reads the answers until
// StartReading(); then every answer is read and the stream half-closed.
class SilentStreams {
 public:
  SilentStreams(std::vector<std::shared_ptr<grpc::Channel>> channels, int streams,
                int requests_per_stream, int items_per_request, std::string id_prefix);
  ~SilentStreams();

  void StartReading();
  // Until every stream has ended; false on timeout.
  bool Wait(absl::Duration timeout);
  uint64_t requests_written() const { return written_.load(); }
  uint64_t answers() const { return answers_.load(); }
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t possibly_written() const { return possibly_written_.load(); }
  // Streams that did not end OK with every request answered.
  uint64_t failed() const { return failed_.load(); }
  std::string last_error() const;

 private:
  std::atomic<bool> reading_{false};
  std::atomic<uint64_t> written_{0}, answers_{0}, accepted_{0}, possibly_written_{0}, failed_{0},
      ended_{0};
  const int streams_;
  mutable absl::Mutex mu_;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// A one-line summary of the scenario for docs/reliability.md. `uncertain`:
// what the service counted as feed_ingest_dedup_total{result="uncertain"}.
std::string ResultLine(const std::string& scenario, const LoadTotals& totals,
                       const TopicCheck& check, double uncertain, double peak_rss_mib,
                       double recovered_s);

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_FAULT_FAULT_LOAD_H_
