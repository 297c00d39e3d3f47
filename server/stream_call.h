// StreamCall: one Stream call. It reads requests while fewer than
// `stream_window` are with Kafka, sends each down the path, writes each
// answer when its batch settles (one write at a time, in settle order), and
// finishes once the client has half-closed and everything read is answered
// — or early, with a non-OK status, once everything read is answered (bad
// request, shutdown, client gone).
//
//   kWaitingForCall ──arrived──▶ kOpen ──half-close, or an ending──▶ kClosing
//                                  │                                    │
//                                  └──── reads, answers, writes ────────┤
//                                                      all answered ────┘
//                                                           ▼
//                               kFinishing ──finished──▶ kFinished ──no tag left──▶ (deleted)
//
// Every event runs on the call's completion-queue thread; after each, Step()
// starts what the phase allows (a read, a write, the finish) and deletes the
// call once gRPC holds none of its tags. A request that finds no room (the
// ring is full) is held, with the stream unread, and tried again after a
// back-off. See docs/architecture.md for the round trip of one request.
//
//   StreamCall::Await(services, cq);  // one object waiting for the next stream
#ifndef FEED_INGEST_SERVER_STREAM_CALL_H_
#define FEED_INGEST_SERVER_STREAM_CALL_H_

#include <cstdint>
#include <deque>

#include "absl/time/time.h"
#include "call_services.h"
#include "cq_event.h"
#include "grpcpp/alarm.h"
#include "grpcpp/support/async_stream.h"
#include "ingest_batch.h"

namespace feed_ingest {

class StreamCall final : private DrainListener {
 public:
  // Posts a call object that waits for the next Stream call on `cq`; each
  // call posts the next when it arrives.
  static void Await(const CallServices& services, grpc::ServerCompletionQueue* cq);

  // After every event (CallEvent calls it). May delete the call.
  void Step();

 private:
  enum class Phase : uint8_t {
    kWaitingForCall,  // RequestStream() posted.
    kOpen,            // Reading requests and answering them.
    kClosing,         // No more reads: the client half-closed (end_status_
                      // OK) or the call is ending early (end_status_ not OK).
                      // Answering what was read.
    kFinishing,       // Finish() posted.
    kFinished,        // Deleted once gRPC holds no tag of this call.
  };

  // One request read from the stream, until its answer is queued.
  struct Request final : CqSettleEvent {
    explicit Request(StreamCall* call) : CqSettleEvent(call->cq_), call(call), batch(notifier()) {}
    // CqSettleEvent: the batch has settled. OnSettled() frees this request.
    void OnComplete(bool /*ok*/) override {
      StreamCall* const owner = call;
      owner->OnSettled(this);
      owner->Step();
    }
    StreamCall* const call;
    IngestBatch batch;
    Admission admission;
  };

  StreamCall(const CallServices& services, grpc::ServerCompletionQueue* cq);
  ~StreamCall();

  // DrainListener, on the thread that began the drain.
  void OnDrain() override { drain_alarm_.Cancel(); }

  void OnArrived(bool ok);
  void OnRead(bool ok);
  void OnWrite(bool ok);
  void OnRetry(bool ok);
  void OnDrainAlarm(bool ok);
  void OnFinished(bool ok);
  void OnSettled(Request* request);

  // Sends a request down the path (again, after a back-off).
  void Admit(Request* request);
  void Answer(Request* request);
  void Enqueue(::feed::interactions::v1::IngestResponse response);
  // Stops reading; the call finishes with `status` once everything read is
  // answered. The first non-OK status is the one the client gets.
  void End(const grpc::Status& status);

  void MaybeRead();
  void MaybeWrite();
  void MaybeFinish();
  bool HoldsTags() const;

  const CallServices services_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<::feed::interactions::v1::IngestResponse,
                                ::feed::interactions::v1::IngestRequest>
      stream_;
  Phase phase_ = Phase::kWaitingForCall;
  grpc::Status end_status_;
  CallTracker::Ticket ticket_{};
  Caller caller_;
  Request* reading_into_ = nullptr;  // Where the pending or next Read() puts its request.
  Request* held_ = nullptr;          // Found no room; tried again by retry_alarm_.
  int with_kafka_ = 0;               // Requests whose batches the sink holds.
  absl::Duration backoff_;
  bool client_gone_ = false;  // A write failed: answers can no longer be delivered.
  std::deque<::feed::interactions::v1::IngestResponse> outbox_;
  grpc::Alarm drain_alarm_;  // Due never; cancelled to tell of the drain.
  grpc::Alarm retry_alarm_;
  CallEvent<StreamCall> on_arrived_;
  CallEvent<StreamCall> on_read_;
  CallEvent<StreamCall> on_write_;
  CallEvent<StreamCall> on_retry_;
  CallEvent<StreamCall> on_drain_;
  CallEvent<StreamCall> on_finished_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STREAM_CALL_H_
