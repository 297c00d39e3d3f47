// StreamCall: one Stream call. It reads requests while fewer than
// `stream_window` are with Kafka, sends each down the path, writes each
// answer when its batch settles (one write at a time, in settle order), and
// finishes once the client has half-closed and everything read is answered
// — or early, with a non-OK status, once everything read is answered (bad
// request, shutdown, client gone). It is not read while the MemoryBudget has
// no room, nor while `stream_window` answers wait for a reader that does not
// read them: the answers waiting are charged to the budget too.
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
// back-off, unless its caller has cancelled or its deadline has passed
// meanwhile: then it is dropped, not written. See docs/architecture.md for
// the round trip of one request.
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

class StreamCall final : private CallListener {
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
    grpc::ByteBuffer bytes;  // As read; parsed into `batch`.
    IngestBatch batch;
    Admission admission;
  };

  StreamCall(const CallServices& services, grpc::ServerCompletionQueue* cq);
  ~StreamCall();

  // CallListener, under the tracker's lock.
  void OnDrain() override { drain_alarm_.Cancel(); }
  void OnRecheck() override { recheck_alarm_.Cancel(); }
  void ArmRecheck() override;

  void OnArrived(bool ok);
  void OnRead(bool ok);
  void OnWrite(bool ok);
  void OnRetry(bool ok);
  void OnDrainAlarm(bool ok);
  void OnRecheckAlarm(bool ok);
  void OnDone(bool ok);
  void OnFinished(bool ok);
  void OnSettled(Request* request);

  // Sends a request down the path (again, after a back-off).
  void Admit(Request* request);
  void Answer(Request* request);
  void Enqueue(::feed::interactions::v1::IngestResponse response, StageTimes times);
  // Stops reading; the call finishes with `status` once everything read is
  // answered. The first non-OK status is the one the client gets.
  void End(const grpc::Status& status);

  // Tries again (a held request, or a read) after at least `at_least`,
  // backing off from 1 ms to 50 ms while there is no room.
  void ArmRetry(absl::Duration at_least);
  void MaybeRead();
  void MaybeWrite();
  void MaybeFinish();
  bool HoldsTags() const;

  const CallServices services_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<::feed::interactions::v1::IngestResponse, grpc::ByteBuffer> stream_;
  Phase phase_ = Phase::kWaitingForCall;
  grpc::Status end_status_;
  CallTracker::Ticket ticket_{};
  Caller caller_;
  Request* reading_into_ = nullptr;  // Where the pending or next Read() puts its request.
  Request* held_ = nullptr;          // Found no room; tried again by retry_alarm_.
  bool waiting_for_room_ = false;    // Not read for want of memory; retry_alarm_ looks again.
  int with_kafka_ = 0;               // Requests whose batches the sink holds.
  absl::Duration backoff_;
  bool client_gone_ = false;  // A write failed: answers can no longer be delivered.
  // Requests read, and what the client is told when one cannot be parsed:
  // which one, and the last sequence it got an answer for.
  int64_t requests_read_ = 0;
  int64_t unparsable_read_ = 0;  // Its number (from 1), or 0.
  uint64_t last_sequence_answered_ = 0;
  bool answered_any_ = false;
  // Answers waiting to be written, each with the memory it holds.
  struct Pending {
    ::feed::interactions::v1::IngestResponse response;
    MemoryCharge charge;
    StageTimes times;
  };
  std::deque<Pending> outbox_;
  grpc::Alarm drain_alarm_;    // Due never; cancelled to tell of the drain,
  grpc::Alarm recheck_alarm_;  // and of a reload of the tokens.
  grpc::Alarm retry_alarm_;
  bool cancelled_ = false;  // The client cancelled, or the deadline passed.
  CallEvent<StreamCall> on_arrived_;
  CallEvent<StreamCall> on_read_;
  CallEvent<StreamCall> on_write_;
  CallEvent<StreamCall> on_retry_;
  CallEvent<StreamCall> on_drain_;
  CallEvent<StreamCall> on_recheck_;
  CallEvent<StreamCall> on_done_;  // The call is over (AsyncNotifyWhenDone).
  CallEvent<StreamCall> on_finished_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STREAM_CALL_H_
