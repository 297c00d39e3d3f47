#include "ingest_service.h"

#include <chrono>
#include <deque>
#include <utility>

#include "clock.h"
#include "cq_event.h"
#include "grpcpp/alarm.h"
#include "logging.h"

namespace feed_ingest {
namespace internal {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;

constexpr char kShuttingDown[] = "the server is shutting down; send again, to another instance";
constexpr char kUnauthenticated[] = "missing or invalid bearer token (authorization: Bearer ...)";
constexpr int kRetryMinMs = 1;
constexpr int kRetryMaxMs = 50;

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

// One Ingest call: REQUEST -> (validate, submit) -> SETTLED -> FINISH.
class UnaryCall {
 public:
  UnaryCall(IngestService* svc, grpc::ServerCompletionQueue* cq)
      : svc_(svc),
        cq_(cq),
        responder_(&ctx_),
        on_request_(this, &UnaryCall::OnRequest),
        on_settled_(this, &UnaryCall::OnSettled),
        on_finish_(this, &UnaryCall::OnFinish),
        // gRPC parses the request straight into the batch's arena.
        batch_(std::make_unique<IngestBatch>(Method::kIngest, cq_, &on_settled_)) {
    svc_->service_.RequestIngest(&ctx_, &batch_->request(), &responder_, cq_, cq_, &on_request_);
  }

 private:
  void OnRequest(bool ok) {
    if (!ok) {  // The server is shutting down; no call arrived.
      delete this;
      return;
    }
    new UnaryCall(svc_, cq_);
    start_ns_ = MonotonicNanos();
    svc_->CallStarted(Method::kIngest);
    const IngestPipeline& pipeline = *svc_->pipeline_;
    if (svc_->draining()) {
      refused_ = true;
      svc_->CallRefused();
      FinishWithError(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
      return;
    }
    if (!svc_->Authenticated(ctx_)) {
      FinishWithError(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnauthenticated));
      return;
    }
    if (ctx_.deadline() <= std::chrono::system_clock::now()) {
      // The caller has given up already: writing now could only duplicate.
      FinishWithError(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                   "the call's deadline passed before it was served; nothing "
                                   "was taken"));
      return;
    }
    if (absl::Status s = pipeline.CheckSize(batch_->request()); !s.ok()) {
      FinishWithError(ToGrpc(s));
      return;
    }
    pipeline.Prepare(batch_.get());
    if (batch_->records.empty()) {
      pipeline.Answer(*batch_, &response_);
      Finish();
      return;
    }
    switch (pipeline.Submit(batch_.get())) {
      case SubmitResult::kQueued:
        return;  // OnSettled() comes next.
      case SubmitResult::kFull:
        svc_->metrics_->Rejected(RejectLabel::kOverload)
            .Increment(static_cast<double>(batch_->records.size()));
        FinishWithError(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     "the server is at capacity; nothing of this request "
                                     "was taken, send it again after a backoff"));
        return;
      case SubmitResult::kClosed:
        svc_->metrics_->Rejected(RejectLabel::kShutdown)
            .Increment(static_cast<double>(batch_->records.size()));
        FinishWithError(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
        return;
    }
  }

  void OnSettled(bool /*ok*/) {
    // Acquire: makes the producer thread's verdicts visible (see IngestBatch).
    const bool settled = batch_->IsSettled();
    assert(settled);
    (void)settled;
    svc_->pipeline_->Answer(*batch_, &response_);
    batch_.reset();
    Finish();
  }

  void Finish() {
    code_ = grpc::StatusCode::OK;
    responder_.Finish(response_, grpc::Status::OK, &on_finish_);
  }
  void FinishWithError(const grpc::Status& status) {
    code_ = status.error_code();
    responder_.FinishWithError(status, &on_finish_);
  }

  void OnFinish(bool /*ok*/) {
    svc_->CallEnded(Method::kIngest, start_ns_, code_, /*awaited=*/!refused_);
    delete this;
  }

  IngestService* const svc_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  IngestResponse response_;
  grpc::ServerAsyncResponseWriter<IngestResponse> responder_;
  int64_t start_ns_ = 0;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
  bool refused_ = false;  // Answered UNAVAILABLE while draining.
  MemberEvent<UnaryCall> on_request_;
  MemberEvent<UnaryCall> on_settled_;
  MemberEvent<UnaryCall> on_finish_;
  std::unique_ptr<IngestBatch> batch_;
};

// One Stream call. Reads requests while fewer than `stream_window` are
// unanswered, submits each as a batch, writes each answer when its batch
// settles (one write at a time, in settle order), and finishes once the
// client has half-closed and everything is answered, or early with a non-OK
// status (bad request, shutdown, client gone).
//
// `pending_` counts the tags gRPC holds for this call; the call deletes
// itself only when it has finished and that count is zero.
class StreamCall {
 public:
  StreamCall(IngestService* svc, grpc::ServerCompletionQueue* cq)
      : svc_(svc),
        cq_(cq),
        stream_(&ctx_),
        on_request_(this, &StreamCall::OnRequest),
        on_read_(this, &StreamCall::OnRead),
        on_write_(this, &StreamCall::OnWrite),
        on_retry_(this, &StreamCall::OnRetry),
        on_drain_(this, &StreamCall::OnDrain),
        on_finish_(this, &StreamCall::OnFinish) {
    svc_->service_.RequestStream(&ctx_, &stream_, cq_, cq_, &on_request_);
  }

  // Called by IngestService under its streams lock.
  void ArmDrain() {
    ++pending_;
    drain_alarm_.Set(cq_, gpr_inf_future(GPR_CLOCK_MONOTONIC), &on_drain_);
  }
  void FireDrain() { drain_alarm_.Cancel(); }

 private:
  // A batch in flight, with the tag that brings it back to this call.
  struct Inflight final : CqEvent {
    explicit Inflight(StreamCall* call) : call(call), batch(Method::kStream, call->cq_, this) {}
    void OnComplete(bool /*ok*/) override { call->OnSettled(this); }
    StreamCall* const call;
    IngestBatch batch;
  };

  void OnRequest(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    new StreamCall(svc_, cq_);
    start_ns_ = MonotonicNanos();
    svc_->CallStarted(Method::kStream);
    if (!svc_->Authenticated(ctx_)) {
      final_status_ = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kUnauthenticated);
      stop_reading_ = true;
      MaybeFinish();
    } else if (!svc_->RegisterStream(this)) {
      refused_ = true;
      svc_->CallRefused();
      final_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown);
      stop_reading_ = true;
      MaybeFinish();
    } else {
      MaybeRead();
    }
    MaybeDelete();
  }

  void MaybeRead() {
    if (reading_ || read_closed_ || stop_reading_ || finish_sent_ || held_ != nullptr ||
        in_flight_ >= svc_->options_.stream_window) {
      return;
    }
    reading_ = true;
    ++pending_;
    // Each request is read straight into the arena of its own batch.
    if (next_ == nullptr) next_ = new Inflight(this);
    stream_.Read(&next_->batch.request(), &on_read_);
  }

  void OnRead(bool ok) {
    --pending_;
    reading_ = false;
    if (!ok) {
      read_closed_ = true;
    } else if (!finish_sent_) {
      Inflight* inflight = next_;
      next_ = nullptr;
      Process(inflight);
    }
    MaybeFinish();
    MaybeDelete();
  }

  void Process(Inflight* inflight) {
    const IngestPipeline& pipeline = *svc_->pipeline_;
    if (absl::Status s = pipeline.CheckSize(inflight->batch.request()); !s.ok()) {
      delete inflight;
      final_status_ = ToGrpc(s);
      stop_reading_ = true;
      return;
    }
    pipeline.Prepare(&inflight->batch);
    if (inflight->batch.records.empty()) {
      Answer(inflight);
      MaybeRead();
      return;
    }
    Submit(inflight);
  }

  void Submit(Inflight* inflight) {
    switch (svc_->pipeline_->Submit(&inflight->batch)) {
      case SubmitResult::kQueued:
        ++in_flight_;
        ++pending_;
        retry_ms_ = kRetryMinMs;
        MaybeRead();
        return;
      case SubmitResult::kFull:
        // Backpressure: hold the batch and stop reading until it fits.
        held_ = inflight;
        ++pending_;
        retry_alarm_.Set(cq_,
                         std::chrono::system_clock::now() + std::chrono::milliseconds(retry_ms_),
                         &on_retry_);
        retry_ms_ = std::min(retry_ms_ * 2, kRetryMaxMs);
        return;
      case SubmitResult::kClosed: {
        IngestResponse response;
        svc_->pipeline_->AnswerUnsent(inflight->batch, RejectLabel::kShutdown, kShuttingDown,
                                      &response);
        delete inflight;
        Enqueue(std::move(response));
        final_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown);
        stop_reading_ = true;
        return;
      }
    }
  }

  void OnRetry(bool /*ok*/) {
    --pending_;
    Inflight* inflight = held_;
    held_ = nullptr;
    Submit(inflight);
    MaybeFinish();
    MaybeDelete();
  }

  void OnSettled(Inflight* inflight) {
    --pending_;
    --in_flight_;
    Answer(inflight);
    MaybeRead();
    MaybeFinish();
    MaybeDelete();
  }

  void Answer(Inflight* inflight) {
    // Acquire: makes the producer thread's verdicts visible (see IngestBatch).
    const bool settled = inflight->batch.records.empty() || inflight->batch.IsSettled();
    assert(settled);
    (void)settled;
    IngestResponse response;
    svc_->pipeline_->Answer(inflight->batch, &response);
    delete inflight;
    Enqueue(std::move(response));
  }

  void Enqueue(IngestResponse response) {
    if (write_failed_) return;
    outbox_.push_back(std::move(response));
    MaybeWrite();
  }

  void MaybeWrite() {
    if (writing_ || outbox_.empty() || finish_sent_) return;
    writing_ = true;
    ++pending_;
    stream_.Write(outbox_.front(), &on_write_);
  }

  void OnWrite(bool ok) {
    --pending_;
    writing_ = false;
    outbox_.pop_front();
    if (!ok) {  // The client is gone: answers can no longer be delivered.
      write_failed_ = true;
      outbox_.clear();
      stop_reading_ = true;
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    MaybeWrite();
    MaybeFinish();
    MaybeDelete();
  }

  void OnDrain(bool /*ok*/) {
    --pending_;
    if (!finish_sent_) {
      if (final_status_.ok()) {
        final_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown);
      }
      stop_reading_ = true;
      MaybeFinish();
    }
    MaybeDelete();
  }

  void MaybeFinish() {
    if (finish_sent_ || !(read_closed_ || stop_reading_)) return;
    if (in_flight_ > 0 || held_ != nullptr || writing_ || !outbox_.empty()) return;
    // An OK finish promises the client's half-close was seen; a non-OK one
    // may end the call with a read still pending.
    if (final_status_.ok() && !read_closed_) return;
    finish_sent_ = true;
    svc_->UnregisterStream(this);
    ++pending_;
    stream_.Finish(final_status_, &on_finish_);
  }

  void OnFinish(bool /*ok*/) {
    --pending_;
    finished_ = true;
    svc_->CallEnded(Method::kStream, start_ns_, final_status_.error_code(), /*awaited=*/!refused_);
    MaybeDelete();
  }

  // Must be the last thing a handler does.
  void MaybeDelete() {
    if (finished_ && pending_ == 0) {
      delete next_;  // A read buffer no read will fill any more.
      delete this;
    }
  }

  IngestService* const svc_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncReaderWriter<IngestResponse, IngestRequest> stream_;
  Inflight* next_ = nullptr;  // Where the next Read() puts its request.
  std::deque<IngestResponse> outbox_;
  grpc::Alarm drain_alarm_;
  grpc::Alarm retry_alarm_;
  Inflight* held_ = nullptr;  // Did not fit in the ring; retried by alarm.
  grpc::Status final_status_;
  int64_t start_ns_ = 0;
  int pending_ = 0;
  int in_flight_ = 0;
  int retry_ms_ = kRetryMinMs;
  bool reading_ = false;
  bool writing_ = false;
  bool read_closed_ = false;
  bool stop_reading_ = false;
  bool write_failed_ = false;
  bool finish_sent_ = false;
  bool finished_ = false;
  bool refused_ = false;  // Answered UNAVAILABLE while draining.
  MemberEvent<StreamCall> on_request_;
  MemberEvent<StreamCall> on_read_;
  MemberEvent<StreamCall> on_write_;
  MemberEvent<StreamCall> on_retry_;
  MemberEvent<StreamCall> on_drain_;
  MemberEvent<StreamCall> on_finish_;
};

}  // namespace internal

IngestService::IngestService(IngestPipeline* pipeline, IngestMetrics* metrics,
                             ServiceOptions options)
    : pipeline_(pipeline), metrics_(metrics), options_(options) {}

IngestService::~IngestService() { Stop(); }

void IngestService::RegisterWith(grpc::ServerBuilder* builder) {
  builder->RegisterService(&service_);
  for (int i = 0; i < options_.completion_queues; ++i) {
    cqs_.push_back(builder->AddCompletionQueue());
  }
}

void IngestService::Start() {
  for (auto& cq : cqs_) {
    for (int i = 0; i < options_.unary_accept_slots; ++i) new internal::UnaryCall(this, cq.get());
    for (int i = 0; i < 4; ++i) new internal::StreamCall(this, cq.get());
  }
  for (auto& cq : cqs_) {
    workers_.emplace_back([q = cq.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) static_cast<CqEvent*>(tag)->OnComplete(ok);
    });
  }
}

void IngestService::BeginDrain() {
  draining_.store(true, std::memory_order_seq_cst);
  absl::MutexLock lock(&streams_mu_);
  streams_closed_ = true;
  for (internal::StreamCall* call : streams_) call->FireDrain();
}

bool IngestService::WaitIdle(absl::Time deadline) const {
  while (inflight_.load(std::memory_order_seq_cst) != 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

void IngestService::Stop() {
  // Only after grpc::Server::Shutdown(): no new events can then be queued,
  // and Next() returns false once each queue is drained.
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& worker : workers_) worker.join();
  if (workers_.empty()) {  // Never started: drain here, as gRPC requires.
    for (auto& cq : cqs_) {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
      }
    }
  }
  workers_.clear();
  cqs_.clear();
}

void IngestService::CallStarted(Method method) {
  // Sequentially consistent with BeginDrain()'s store and WaitIdle()'s load:
  // a call that WaitIdle() did not count sees draining() true.
  inflight_.fetch_add(1, std::memory_order_seq_cst);
  metrics_->Inflight(method).Increment();
}

void IngestService::CallRefused() { inflight_.fetch_sub(1, std::memory_order_seq_cst); }

void IngestService::CallEnded(Method method, int64_t start_ns, grpc::StatusCode code,
                              bool awaited) {
  const int c = static_cast<int>(code);
  if (c >= 0 && c < static_cast<int>(IngestMetrics::kGrpcCodes)) {
    metrics_->RequestDuration(method, c).Observe(static_cast<double>(MonotonicNanos() - start_ns) *
                                                 1e-9);
  }
  metrics_->Inflight(method).Decrement();
  if (awaited) inflight_.fetch_sub(1, std::memory_order_release);
}

bool IngestService::Authenticated(const grpc::ServerContext& ctx) const {
  return options_.auth == nullptr || options_.auth->Check(ctx.client_metadata());
}

bool IngestService::RegisterStream(internal::StreamCall* call) {
  absl::MutexLock lock(&streams_mu_);
  if (streams_closed_) return false;
  streams_.insert(call);
  call->ArmDrain();
  return true;
}

void IngestService::UnregisterStream(internal::StreamCall* call) {
  absl::MutexLock lock(&streams_mu_);
  if (streams_.erase(call) != 0) call->FireDrain();
}

}  // namespace feed_ingest
