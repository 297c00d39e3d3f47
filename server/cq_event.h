// CqEvent: what a completion-queue tag points at.
//
// Every tag handed to gRPC's asynchronous API is a CqEvent*, so a worker
// thread only needs `static_cast<CqEvent*>(tag)->OnComplete(ok)`.
//
//   CallEvent<UnaryCall> on_finish(this, &UnaryCall::OnFinish);
//   responder.Finish(response, status, &on_finish);   // tag = &on_finish
//
// CqSettleEvent is how a batch settled on the producer thread comes back to
// its call: the last Settle() notifies it, and it posts itself to the call's
// completion queue with a grpc::Alarm that is already due.
#ifndef FEED_INGEST_SERVER_CQ_EVENT_H_
#define FEED_INGEST_SERVER_CQ_EVENT_H_

#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "ingest_batch.h"

namespace feed_ingest {

class CqEvent {
 public:
  // Runs on the worker thread of the queue the operation was started on.
  virtual void OnComplete(bool ok) = 0;

 protected:
  ~CqEvent() = default;
};

// One asynchronous operation of a call: calls a member of the call, then
// the call's Step(), the one thing that runs after every event (it may
// delete the call, so nothing follows it). Knows whether gRPC holds it.
template <typename Call>
class CallEvent final : public CqEvent {
 public:
  using Handler = void (Call::*)(bool ok);
  CallEvent(Call* call, Handler handler) : call_(call), handler_(handler) {}

  // Before handing this tag to gRPC.
  void Started() { busy_ = true; }
  bool busy() const { return busy_; }

  void OnComplete(bool ok) override {
    busy_ = false;
    (call_->*handler_)(ok);
    call_->Step();
  }

 private:
  Call* const call_;
  const Handler handler_;
  bool busy_ = false;
};

// Posts itself to `cq` when a batch has settled: hand notifier() to the
// batch. The owner keeps it alive until OnComplete() has run, so the alarm
// outlives its event.
class CqSettleEvent : public CqEvent {
 public:
  explicit CqSettleEvent(grpc::CompletionQueue* cq) : cq_(cq) {}

  SettleNotifier notifier() {
    // The tag must be the CqEvent subobject: workers cast tags to CqEvent*.
    return SettleNotifier{&PostAlarm, &alarm_, cq_, static_cast<CqEvent*>(this)};
  }

 protected:
  ~CqSettleEvent() = default;

 private:
  // On the producer thread, after the batch's last decrement.
  static void PostAlarm(void* alarm, void* cq, void* tag) {
    static_cast<grpc::Alarm*>(alarm)->Set(static_cast<grpc::CompletionQueue*>(cq),
                                          gpr_time_0(GPR_CLOCK_MONOTONIC), tag);
  }

  grpc::CompletionQueue* const cq_;
  grpc::Alarm alarm_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_CQ_EVENT_H_
