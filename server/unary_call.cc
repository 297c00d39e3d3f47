#include "unary_call.h"

#include <cassert>

#include "stages/submit.h"

namespace feed_ingest {

void UnaryCall::Await(const CallServices& services, grpc::ServerCompletionQueue* cq) {
  new UnaryCall(services, cq);
}

UnaryCall::UnaryCall(const CallServices& services, grpc::ServerCompletionQueue* cq)
    : CqSettleEvent(cq),
      services_(services),
      cq_(cq),
      responder_(&context_),
      on_arrived_(this, &UnaryCall::OnArrived),
      on_finished_(this, &UnaryCall::OnFinished),
      batch_(notifier()) {
  admission_.method = Method::kIngest;
  admission_.batch = &batch_;
  on_arrived_.Started();
  services_.grpc_service->RequestRawIngest(&context_, &request_bytes_, &responder_, cq_,
                                           &on_arrived_);
}

void UnaryCall::OnArrived(bool ok) {
  if (!ok) {  // The server is shutting down; no call came.
    state_ = State::kDone;
    return;
  }
  Await(services_, cq_);
  ticket_ = services_.tracker->Arrive(Method::kIngest, nullptr);
  if (!ticket_.admitted) {
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
    return;
  }
  batch_.times.received_ns = ticket_.start_ns;
  admission_.caller = CallerOf(context_, services_.identify_callers);
  admission_.deadline = DeadlineOf(context_, *services_.clock);
  const IngestPath& path = *services_.path;
  StageOutcome outcome = path.Open(admission_);
  if (outcome.step() == StageStep::kNext) {
    admission_.request_bytes = request_bytes_.Length();
    if (absl::Status parsed = ParseRequest(&request_bytes_, &batch_.request()); !parsed.ok()) {
      outcome = StageOutcome::Refuse(std::move(parsed));
    } else {
      outcome = path.Admit(admission_);
    }
  }
  switch (outcome.step()) {
    case StageStep::kQueued:
      state_ = State::kAwaitingKafka;  // OnComplete() comes next.
      return;
    case StageStep::kNext:
    case StageStep::kAnswer:
      path.Answer(admission_, &response_);
      Finish(grpc::Status::OK);
      return;
    case StageStep::kRefuse:
    case StageStep::kBackOff:  // A unary call does not wait: the caller backs off.
      path.Refuse(admission_, outcome, /*response=*/nullptr);
      // Over quota: the caller is told exactly when to come back.
      Finish(outcome.label() == RejectLabel::kQuota
                 ? PushbackStatus(outcome.status(), outcome.retry_after(), &context_)
                 : ToGrpcStatus(outcome.status()));
      return;
  }
}

void UnaryCall::OnComplete(bool /*ok*/) {
  // Acquire: makes the producer thread's verdicts visible (see IngestBatch).
  const bool settled = batch_.IsSettled();
  assert(settled);
  (void)settled;
  services_.path->Answer(admission_, &response_);
  Finish(grpc::Status::OK);
  Step();
}

void UnaryCall::Finish(const grpc::Status& status) {
  state_ = State::kFinishing;
  code_ = status.error_code();
  on_finished_.Started();
  if (status.ok()) {
    responder_.Finish(response_, status, &on_finished_);
  } else {
    responder_.FinishWithError(status, &on_finished_);
  }
}

void UnaryCall::OnFinished(bool ok) {
  if (ok && batch_.times.went_to_kafka()) {
    services_.metrics->ObserveStages(batch_.times, services_.clock->MonotonicNanos());
  }
  services_.tracker->Leave(ticket_, static_cast<int>(code_));
  state_ = State::kDone;
}

void UnaryCall::Step() {
  if (state_ == State::kDone) delete this;
}

}  // namespace feed_ingest
