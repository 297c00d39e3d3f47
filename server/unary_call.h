// UnaryCall: one Ingest call, from its arrival to its answer.
//
//   kWaitingForCall ──arrived──▶ path (authenticate → … → submit)
//        │                         ├─ queued ──▶ kAwaitingKafka ──settled──┐
//        │                         └─ answered / refused ──────────────────┤
//        └─ server shutting down ──▶ (deleted)          kFinishing ◀───────┘
//                                                           └─finished──▶ (deleted)
//
// Every event runs on the call's completion-queue thread, so its state needs
// no lock; after each, Step() acts on the state (here: deletes the call once
// it is done). The batch goes to the producer thread and comes back through
// the call's CqSettleEvent; see docs/architecture.md.
//
//   UnaryCall::Await(services, cq);   // one object waiting for the next call
#ifndef FEED_INGEST_SERVER_UNARY_CALL_H_
#define FEED_INGEST_SERVER_UNARY_CALL_H_

#include <cstdint>

#include "call_services.h"
#include "cq_event.h"
#include "grpcpp/support/async_unary_call.h"
#include "ingest_batch.h"

namespace feed_ingest {

class UnaryCall final : private CqSettleEvent {
 public:
  // Posts a call object that waits for the next Ingest call on `cq`; each
  // call posts the next when it arrives.
  static void Await(const CallServices& services, grpc::ServerCompletionQueue* cq);

  // After every event (CallEvent calls it). May delete the call.
  void Step();

 private:
  enum class State : uint8_t {
    kWaitingForCall,  // RequestIngest() posted.
    kAwaitingKafka,   // The batch is with the producer thread.
    kFinishing,       // Finish() posted.
    kDone,            // Finished, or no call will come: delete.
  };

  UnaryCall(const CallServices& services, grpc::ServerCompletionQueue* cq);

  void OnArrived(bool ok);
  void OnComplete(bool ok) override;  // CqSettleEvent: the batch has settled.
  void OnFinished(bool ok);
  void Finish(const grpc::Status& status);

  const CallServices services_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncResponseWriter<::feed::interactions::v1::IngestResponse> responder_;
  grpc::ByteBuffer request_bytes_;  // Parsed into batch_ when the call arrives.
  ::feed::interactions::v1::IngestResponse response_;
  State state_ = State::kWaitingForCall;
  CallTracker::Ticket ticket_{};
  grpc::StatusCode code_ = grpc::StatusCode::OK;
  CallEvent<UnaryCall> on_arrived_;
  CallEvent<UnaryCall> on_finished_;
  IngestBatch batch_;
  Admission admission_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_UNARY_CALL_H_
