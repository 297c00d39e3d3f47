// ScriptedSink: a DeliverySink with no Kafka behind it, for tests of the
// path and the calls. Every batch it takes is settled on a thread of its
// own — a real hop between threads, as with the producer — with the Delivery
// a script picks per record; it can refuse batches (kFull, kClosed) and hold
// them unsettled until told.
//
//   ScriptedSink sink;                                   // everything written
//   sink.set_script([](const IngestBatch& b, const IngestBatch::Record& r) {
//     return r.index == 1 ? Delivery::Retryable(RejectLabel::kKafka, "kafka: down", true)
//                         : Delivery::Written();
//   });
//   sink.set_refusal(SubmitResult::kFull);               // until set back to kQueued
//
// Thread-safe.
#ifndef FEED_INGEST_TESTS_SUPPORT_SCRIPTED_SINK_H_
#define FEED_INGEST_TESTS_SUPPORT_SCRIPTED_SINK_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "delivery_sink.h"

namespace feed_ingest::testing {

class ScriptedSink final : public DeliverySink {
 public:
  using Script = std::function<Delivery(const IngestBatch&, const IngestBatch::Record&)>;

  ScriptedSink();
  ~ScriptedSink() override;  // Settles what it still holds, as written.

  // DeliverySink
  SubmitResult TrySubmit(IngestBatch* batch) override;

  void set_script(Script script);
  // kQueued takes batches again; kFull or kClosed refuses them.
  void set_refusal(SubmitResult result);
  // While held, batches are taken but not settled.
  void Hold();
  void Release();

  // The values of the records settled as written, in settle order.
  std::vector<std::string> written() const;
  int batches_taken() const;
  int submits_refused() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  Script script_ ABSL_GUARDED_BY(mu_);
  SubmitResult result_ ABSL_GUARDED_BY(mu_) = SubmitResult::kQueued;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<IngestBatch*> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> written_ ABSL_GUARDED_BY(mu_);
  int taken_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_SCRIPTED_SINK_H_
