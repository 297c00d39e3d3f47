// IngestBatch: one request's records on their way to Kafka, and the verdict
// for each of its items.
//
// A gRPC worker fills a batch (IngestPipeline::Prepare), hands it through the
// ring to the producer thread, and gets it back on its completion queue when
// the last record's delivery report has arrived (`settled_event`). Between
// those two moments the producer thread owns the records' results; after it,
// the worker owns everything again.
//
// Thread rules: the owning worker writes everything before Submit. The
// producer thread then writes only Record::error and `outstanding`. The worker
// reads the results only after the settled event has fired, and
// IsSettled()'s acquire load makes the producer's writes visible (the
// completion queue orders them too, but that is invisible to ThreadSanitizer).
#ifndef FEED_INGEST_SERVER_INGEST_BATCH_H_
#define FEED_INGEST_SERVER_INGEST_BATCH_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "cq_event.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "google/protobuf/arena.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "metrics.h"

namespace feed_ingest {

class IngestBatch {
 public:
  // One Kafka record: a valid item of the request.
  struct Record {
    IngestBatch* batch;
    uint32_t index;        // Position in request.interactions().
    uint32_t value_begin;  // The JSON value is values[value_begin, value_end).
    uint32_t value_end;
    int32_t error = 0;  // rd_kafka_resp_err_t of the delivery report; 0 = in Kafka.
    // Failed, but librdkafka cannot rule out that Kafka wrote it (timed out
    // or purged while in flight).
    bool possibly_written = false;
  };

  // An item that failed validation.
  struct Invalid {
    uint32_t index;
    std::string message;
  };

  // `cq` may be null (tests): then nothing is posted and IsSettled() tells.
  IngestBatch(Method method, grpc::CompletionQueue* cq, CqEvent* settled_event)
      : method_(method),
        cq_(cq),
        settled_event_(settled_event),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<::feed::interactions::v1::IngestRequest>(
            &arena_)) {}
  IngestBatch(const IngestBatch&) = delete;
  IngestBatch& operator=(const IngestBatch&) = delete;

  Method method() const { return method_; }
  const ::feed::interactions::v1::Interaction& item(const Record& r) const {
    return request_->interactions(static_cast<int>(r.index));
  }
  absl::string_view value(const Record& r) const {
    return absl::string_view(values).substr(r.value_begin, r.value_end - r.value_begin);
  }

  // Worker, before Submit: every record now awaits one delivery report.
  void Arm() {
    outstanding_.store(static_cast<uint32_t>(records.size()), std::memory_order_relaxed);
  }

  // Producer thread: the delivery report for `record`. The last one posts
  // `settled_event` to the worker's completion queue.
  void Settle(Record* record, int32_t error, bool possibly_written = false) {
    record->error = error;
    record->possibly_written = possibly_written;
    // Read before the decrement: once it reaches zero the worker may free
    // this batch, so the last settler touches nothing of it but the alarm,
    // which stays alive until its event has been delivered.
    grpc::CompletionQueue* const cq = cq_;
    CqEvent* const event = settled_event_;
    // acq_rel: release publishes `error` (and every earlier record's) to the
    // thread that sees zero; acquire lets the last settler see them too.
    if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1 && cq != nullptr) {
      alarm_.Set(cq, gpr_time_0(GPR_CLOCK_MONOTONIC), event);
    }
  }

  // Worker: true once every record is settled; its results are then visible.
  bool IsSettled() const { return outstanding_.load(std::memory_order_acquire) == 0; }

  // The request, parsed by gRPC straight into this batch's arena, so its
  // items cost no allocation of their own. librdkafka reads its keys.
  ::feed::interactions::v1::IngestRequest& request() { return *request_; }
  const ::feed::interactions::v1::IngestRequest& request() const { return *request_; }

  std::string values;  // Every record's JSON, back to back.
  std::vector<Record> records;
  std::vector<Invalid> invalid;  // In index order.
  int64_t received_ns = 0;       // Monotonic clock, for the delivery latency.

 private:
  const Method method_;
  grpc::CompletionQueue* const cq_;
  CqEvent* const settled_event_;
  grpc::Alarm alarm_;
  std::atomic<uint32_t> outstanding_{0};
  // The arena starts in this block; a larger request grows it from the heap.
  alignas(16) char arena_block_[4096];
  google::protobuf::Arena arena_;
  ::feed::interactions::v1::IngestRequest* const request_;

  static google::protobuf::ArenaOptions ArenaOptions(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_BATCH_H_
