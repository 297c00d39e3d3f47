#include "stream_call.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "stages/budget.h"
#include "stages/submit.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestResponse;

constexpr absl::Duration kMinBackoff = absl::Milliseconds(1);
constexpr absl::Duration kMaxBackoff = absl::Milliseconds(50);

}  // namespace

void StreamCall::Await(const CallServices& services, grpc::ServerCompletionQueue* cq) {
  new StreamCall(services, cq);
}

StreamCall::StreamCall(const CallServices& services, grpc::ServerCompletionQueue* cq)
    : services_(services),
      cq_(cq),
      stream_(&context_),
      backoff_(kMinBackoff),
      on_arrived_(this, &StreamCall::OnArrived),
      on_read_(this, &StreamCall::OnRead),
      on_write_(this, &StreamCall::OnWrite),
      on_retry_(this, &StreamCall::OnRetry),
      on_drain_(this, &StreamCall::OnDrainAlarm),
      on_recheck_(this, &StreamCall::OnRecheckAlarm),
      on_done_(this, &StreamCall::OnDone),
      on_finished_(this, &StreamCall::OnFinished) {
  context_.AsyncNotifyWhenDone(&on_done_);  // Delivered only if a call arrives.
  on_arrived_.Started();
  services_.grpc_service->RequestRawStream(&context_, &stream_, cq_, &on_arrived_);
}

StreamCall::~StreamCall() {
  delete reading_into_;  // A buffer no read will fill any more.
}

void StreamCall::OnArrived(bool ok) {
  if (!ok) {  // The server is shutting down; no call came.
    phase_ = Phase::kFinished;
    return;
  }
  Await(services_, cq_);
  phase_ = Phase::kOpen;
  on_done_.Started();
  // Armed before the tracker can tell of the drain or a reload: OnDrain()
  // and OnRecheck() cancel them.
  on_drain_.Started();
  drain_alarm_.Set(cq_, gpr_inf_future(GPR_CLOCK_MONOTONIC), &on_drain_);
  ArmRecheck();
  ticket_ = services_.tracker->Arrive(Method::kStream, this);
  if (!ticket_.admitted) {
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
    return;
  }
  Admission admission;
  admission.method = Method::kStream;
  admission.caller = CallerOf(context_, services_.identify_callers);
  StageOutcome outcome = services_.path->Open(admission);
  caller_ = std::move(admission.caller);
  if (outcome.step() != StageStep::kNext) End(ToGrpcStatus(outcome.status()));
}

void StreamCall::ArmRecheck() {
  on_recheck_.Started();
  recheck_alarm_.Set(cq_, gpr_inf_future(GPR_CLOCK_MONOTONIC), &on_recheck_);
}

void StreamCall::OnRecheckAlarm(bool /*ok*/) {
  // Cancelled by a reload of the tokens, or by MaybeFinish().
  if (phase_ != Phase::kOpen && phase_ != Phase::kClosing) return;
  Admission admission;
  admission.method = Method::kStream;
  admission.caller = caller_;
  StageOutcome outcome = services_.path->Open(admission);
  if (outcome.step() != StageStep::kNext) {
    End(ToGrpcStatus(outcome.status()));
    return;
  }
  services_.tracker->Rearm(ticket_);
}

void StreamCall::OnDone(bool /*ok*/) {
  // IsCancelled() may be read only now: the client cancelled, its deadline
  // passed, or the connection went.
  if (context_.IsCancelled()) {
    cancelled_ = true;
    End(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call"));
  }
}

void StreamCall::OnRead(bool ok) {
  if (!ok) {  // The client half-closed, or the call is over.
    if (phase_ == Phase::kOpen) phase_ = Phase::kClosing;
    return;
  }
  if (phase_ != Phase::kOpen && phase_ != Phase::kClosing) return;
  // Everything read is answered, even when the call is ending.
  Request* request = reading_into_;
  reading_into_ = nullptr;
  ++requests_read_;
  request->admission.request_bytes = request->bytes.Length();
  if (!ParseRequest(&request->bytes, &request->batch.request()).ok()) {
    // Nothing after it can be trusted to be read right: end, once every
    // request read before it is answered (MaybeFinish() says which).
    delete request;
    if (end_status_.ok()) unparsable_read_ = requests_read_;
    End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unparsable request"));
    return;
  }
  request->batch.times.received_ns = services_.clock->MonotonicNanos();
  request->admission.method = Method::kStream;
  request->admission.caller = caller_;
  request->admission.deadline = DeadlineOf(context_, *services_.clock);
  request->admission.batch = &request->batch;
  Admit(request);
}

void StreamCall::Admit(Request* request) {
  const IngestPath& path = *services_.path;
  const StageOutcome outcome = path.Admit(request->admission);
  switch (outcome.step()) {
    case StageStep::kQueued:
      ++with_kafka_;  // OnSettled() comes next.
      backoff_ = kMinBackoff;
      return;
    case StageStep::kNext:
    case StageStep::kAnswer:
      Answer(request);
      return;
    case StageStep::kBackOff:
      // Backpressure: the stream is not read until this request fits.
      held_ = request;
      ArmRetry(outcome.retry_after());
      return;
    case StageStep::kRefuse: {
      // Items already examined are answered; the call ends either way.
      if (request->batch.examined()) {
        IngestResponse response;
        path.Refuse(request->admission, outcome, &response);
        Enqueue(std::move(response), StageTimes());
      }
      delete request;
      End(ToGrpcStatus(outcome.status()));
      return;
    }
  }
}

void StreamCall::OnRetry(bool /*ok*/) {
  if (waiting_for_room_) {  // Step() reads, if there is room now.
    waiting_for_room_ = false;
    return;
  }
  Request* request = held_;
  held_ = nullptr;
  // Cancelled means released: a request whose caller is gone is not written.
  const bool late = request->admission.deadline.Passed(*services_.clock);
  if (cancelled_ || late) {
    services_.path->Refuse(
        request->admission,
        StageOutcome::Refuse(absl::CancelledError(), RejectLabel::kCancelled,
                             "the caller cancelled, or its deadline passed, before there was room"),
        /*response=*/nullptr);
    delete request;
    End(late ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "the deadline passed while the server had no room")
             : grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call"));
    return;
  }
  Admit(request);
}

void StreamCall::ArmRetry(absl::Duration at_least) {
  const absl::Duration wait = std::max(at_least, backoff_);
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  on_retry_.Started();
  retry_alarm_.Set(cq_, absl::ToChronoTime(absl::Now() + wait), &on_retry_);
}

void StreamCall::OnSettled(Request* request) {
  --with_kafka_;
  // Acquire: makes the producer thread's verdicts visible (see IngestBatch).
  const bool settled = request->batch.IsSettled();
  assert(settled);
  (void)settled;
  Answer(request);
}

void StreamCall::Answer(Request* request) {
  IngestResponse response;
  services_.path->Answer(request->admission, &response);
  const StageTimes times = request->batch.times;
  delete request;
  Enqueue(std::move(response), times);
}

void StreamCall::Enqueue(IngestResponse response, StageTimes times) {
  last_sequence_answered_ = response.sequence();
  answered_any_ = true;
  if (client_gone_) return;
  // Owed to the client whatever the budget says; it is what stops reading.
  MemoryCharge charge = services_.budget->Charge(MemoryBudget::Pool::kAnswers,
                                                 static_cast<int64_t>(response.SpaceUsedLong()));
  outbox_.push_back({std::move(response), std::move(charge), times});
}

void StreamCall::OnWrite(bool ok) {
  if (ok && outbox_.front().times.went_to_kafka()) {
    services_.metrics->ObserveStages(outbox_.front().times, services_.clock->MonotonicNanos());
  }
  outbox_.pop_front();
  if (!ok) {  // The client is gone: answers can no longer be delivered.
    client_gone_ = true;
    outbox_.clear();
    End(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
  }
}

void StreamCall::OnDrainAlarm(bool /*ok*/) {
  // Cancelled either by the drain or by MaybeFinish(); only the first matters.
  End(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
}

void StreamCall::OnFinished(bool /*ok*/) {
  services_.tracker->Leave(ticket_, static_cast<int>(end_status_.error_code()));
  phase_ = Phase::kFinished;
}

void StreamCall::End(const grpc::Status& status) {
  if (phase_ != Phase::kOpen && phase_ != Phase::kClosing) return;
  phase_ = Phase::kClosing;
  if (end_status_.ok()) end_status_ = status;
}

void StreamCall::Step() {
  switch (phase_) {
    case Phase::kWaitingForCall:
    case Phase::kFinishing:
      return;
    case Phase::kOpen:
      MaybeRead();
      MaybeWrite();
      return;
    case Phase::kClosing:
      MaybeWrite();
      MaybeFinish();
      return;
    case Phase::kFinished:
      if (!HoldsTags()) delete this;
      return;
  }
}

void StreamCall::MaybeRead() {
  if (on_read_.busy() || held_ != nullptr || waiting_for_room_ ||
      with_kafka_ >= services_.stream_window ||
      static_cast<int>(outbox_.size()) >= services_.stream_window) {
    return;
  }
  if (!services_.budget->HasRoom(BudgetStage::kPerRequestBytes)) {
    // Nothing will say when there is room: look again after a back-off.
    waiting_for_room_ = true;
    ArmRetry(absl::ZeroDuration());
    return;
  }
  // Each request is read into a Request of its own, then parsed straight
  // into its batch's arena.
  if (reading_into_ == nullptr) reading_into_ = new Request(this);
  on_read_.Started();
  stream_.Read(&reading_into_->bytes, &on_read_);
}

void StreamCall::MaybeWrite() {
  if (on_write_.busy() || outbox_.empty()) return;
  on_write_.Started();
  stream_.Write(outbox_.front().response, &on_write_);
}

void StreamCall::MaybeFinish() {
  if (with_kafka_ > 0 || held_ != nullptr || on_write_.busy() || !outbox_.empty()) return;
  // An OK finish promises the client's half-close was seen (end_status_ is
  // OK in kClosing only then); a non-OK one may leave a read pending.
  if (unparsable_read_ != 0) {
    end_status_ = grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("request ", unparsable_read_,
                     " of this stream is not a feed.interactions.v1.IngestRequest (protobuf "
                     "could not parse it); ",
                     answered_any_ ? absl::StrCat("the requests before it are answered, the last "
                                                  "answer is for sequence ",
                                                  last_sequence_answered_, "; send the rest again")
                                   : std::string("no request of this stream was answered")));
  }
  services_.tracker->Unlisten(ticket_);
  drain_alarm_.Cancel();
  recheck_alarm_.Cancel();
  phase_ = Phase::kFinishing;
  on_finished_.Started();
  stream_.Finish(end_status_, &on_finished_);
}

bool StreamCall::HoldsTags() const {
  return on_arrived_.busy() || on_read_.busy() || on_write_.busy() || on_retry_.busy() ||
         on_drain_.busy() || on_recheck_.busy() || on_done_.busy() || on_finished_.busy() ||
         with_kafka_ > 0;
}

}  // namespace feed_ingest
