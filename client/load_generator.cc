#include "load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "interactions_source.h"

namespace feed_ingest {
namespace {

constexpr int kSendTagDigits = 16;  // Hex digits ending each event_id sent.

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::Interaction;
using ::feed::interactions::v1::InteractionIngest;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

gpr_timespec NsToDeadline(int64_t ns_from_now) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos(std::max<int64_t>(ns_from_now, 0), GPR_TIMESPAN));
}

// What all client threads share.
struct Shared {
  const LoadOptions& options;
  std::vector<IngestRequest> pool;  // Prebuilt requests, reused round robin.
  // This load's number in the process: part of every event_id it sends.
  const uint64_t run = NextRun();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> requests{0}, events_sent{0}, accepted{0}, rejected{0}, failed{0};
  std::mutex error_mu;
  std::string first_error;

  explicit Shared(const LoadOptions& o) : options(o) {}

  static uint64_t NextRun() {
    static std::atomic<uint64_t> runs{0};
    return runs.fetch_add(1, std::memory_order_relaxed) & 0xffff;
  }

  // Reserves `n` events of the budget; false once it is spent.
  bool Take(uint64_t n) {
    if (stop.load(std::memory_order_relaxed)) return false;
    const uint64_t before = events_sent.fetch_add(n, std::memory_order_relaxed);
    if (options.max_events != 0 && before + n > options.max_events) {
      events_sent.fetch_sub(n, std::memory_order_relaxed);
      stop.store(true);
      return false;
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void Failed(const grpc::Status& status) {
    failed.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(error_mu);
    if (first_error.empty()) {
      first_error =
          absl::StrCat(static_cast<int>(status.error_code()), ": ", status.error_message());
    }
  }

  void Answered(const IngestResponse& response) {
    accepted.fetch_add(response.accepted(), std::memory_order_relaxed);
    rejected.fetch_add(static_cast<uint64_t>(response.rejected_size()), std::memory_order_relaxed);
  }
};

// One client thread: its completion queue, its calls, its samples.
class Worker {
 public:
  Worker(Shared* shared, std::shared_ptr<grpc::Channel> channel, int index, int calls)
      : shared_(shared), stub_(InteractionIngest::NewStub(channel)), index_(index), calls_(calls) {
    const LoadOptions& o = shared->options;
    if (o.rate > 0) {
      const double per_thread = o.rate / o.threads;
      interval_ns_ = static_cast<int64_t>(1e9 * o.batch / per_thread);
    }
  }

  void Run() {
    if (shared_->options.stream) {
      RunStreams();
    } else {
      RunUnary();
    }
  }

  // Samples since the last call (for the progress line).
  LatencySamples TakeRecent() {
    std::lock_guard<std::mutex> lock(mu_);
    LatencySamples out;
    std::swap(out, recent_);
    return out;
  }
  LatencySamples& all() { return all_; }

 private:
  struct Tag {
    int kind;  // What completed.
    void* op;
  };
  enum Kind {
    kUnaryDone,
    kStreamStart,
    kStreamWrite,
    kStreamRead,
    kStreamWritesDone,
    kStreamFinish
  };

  struct UnaryOp {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncResponseReader<IngestResponse>> rpc;
    IngestResponse response;
    grpc::Status status;
    int64_t due_ns = 0;
    bool busy = false;
    Tag done{kUnaryDone, this};
  };

  struct StreamOp {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientAsyncReaderWriter<IngestRequest, IngestResponse>> rpc;
    IngestResponse response;
    grpc::Status status;
    absl::flat_hash_map<uint64_t, int64_t> due_by_sequence;
    uint64_t next_sequence = 1;
    bool ready = false, writing = false, closing = false, finished = false;
    int pending = 0;  // Tags outstanding.
    Tag start{kStreamStart, this}, write{kStreamWrite, this}, read{kStreamRead, this},
        writes_done{kStreamWritesDone, this}, finish{kStreamFinish, this};
  };

  // The next prebuilt request, with event_ids no other request carries: the
  // pool's end in kSendTagDigits zeros, overwritten with the load's number
  // in this process, this worker's and its count of requests sent (the server would take a request
  // sent twice for a retry, and write it once).
  IngestRequest& NextRequest() {
    const auto& pool = shared_->pool;
    scratch_ = pool[(pool_index_ * shared_->options.threads + index_) % pool.size()];
    uint64_t tag =
        shared_->run << 48 | static_cast<uint64_t>(index_) << 32 | (pool_index_++ & 0xffffffff);
    char digits[kSendTagDigits];
    for (int d = kSendTagDigits - 1; d >= 0; --d, tag >>= 4)
      digits[d] = "0123456789abcdef"[tag & 15];
    for (auto& item : *scratch_.mutable_interactions()) {
      std::string* id = item.mutable_event_id();
      id->replace(id->size() - kSendTagDigits, kSendTagDigits, digits, kSendTagDigits);
    }
    return scratch_;
  }

  void Record(int64_t due_ns) {
    const int64_t micros = (NowNs() - due_ns) / 1000;
    all_.Add(micros);
    std::lock_guard<std::mutex> lock(mu_);
    recent_.Add(micros);
  }

  // Closed loop: every request is due now. Open loop: on the schedule.
  bool Due(int64_t now) const { return interval_ns_ == 0 || now >= next_due_ns_; }
  int64_t TakeDue(int64_t now) {
    if (interval_ns_ == 0) return now;
    const int64_t due = next_due_ns_;
    next_due_ns_ += interval_ns_;
    return due;
  }
  // How long the queue may wait before a request falls due.
  gpr_timespec WaitLimit(int64_t now) const {
    const int64_t cap = 50'000'000;  // Check `stop` at least this often.
    if (interval_ns_ == 0) return NsToDeadline(cap);
    return NsToDeadline(std::min(cap, next_due_ns_ - now));
  }

  void StartUnary(UnaryOp* op, int64_t due) {
    const IngestRequest& request = NextRequest();
    op->ctx = std::make_unique<grpc::ClientContext>();
    op->ctx->set_deadline(absl::ToChronoTime(absl::Now() + shared_->options.deadline));
    shared_->options.security.Decorate(op->ctx.get());
    op->due_ns = due;
    op->busy = true;
    op->rpc = stub_->PrepareAsyncIngest(op->ctx.get(), request, &cq_);
    op->rpc->StartCall();
    op->rpc->Finish(&op->response, &op->status, &op->done);
  }

  void RunUnary() {
    std::vector<std::unique_ptr<UnaryOp>> ops;
    std::vector<UnaryOp*> idle;
    for (int i = 0; i < calls_; ++i) {
      ops.push_back(std::make_unique<UnaryOp>());
      idle.push_back(ops.back().get());
    }
    next_due_ns_ = NowNs();
    const uint64_t batch = static_cast<uint64_t>(shared_->options.batch);
    for (;;) {
      const int64_t now = NowNs();
      while (!idle.empty() && Due(NowNs()) && shared_->Take(batch)) {
        StartUnary(idle.back(), TakeDue(NowNs()));
        idle.pop_back();
      }
      if (idle.size() == ops.size() && shared_->stop.load(std::memory_order_relaxed)) break;
      void* tag = nullptr;
      bool ok = false;
      const auto status = cq_.AsyncNext(&tag, &ok, WaitLimit(now));
      if (status == grpc::CompletionQueue::SHUTDOWN) break;
      if (status != grpc::CompletionQueue::GOT_EVENT) continue;
      auto* op = static_cast<UnaryOp*>(static_cast<Tag*>(tag)->op);
      op->busy = false;
      idle.push_back(op);
      if (op->status.ok()) {
        Record(op->due_ns);
        shared_->Answered(op->response);
      } else {
        shared_->Failed(op->status);
      }
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  void StreamWrite(StreamOp* s, int64_t due) {
    IngestRequest& request = NextRequest();
    const uint64_t sequence = s->next_sequence++;
    request.set_sequence(sequence);
    s->due_by_sequence[sequence] = due;
    s->writing = true;
    ++s->pending;
    s->rpc->Write(request, &s->write);
  }

  void ReadNext(StreamOp* s) {
    ++s->pending;
    s->rpc->Read(&s->response, &s->read);
  }

  // The server ended the stream (or it never started): collect its status.
  void Close(StreamOp* s) {
    s->closing = true;
    ++s->pending;
    s->rpc->Finish(&s->status, &s->finish);
  }

  void RunStreams() {
    const int window = shared_->options.stream_window;
    const uint64_t batch = static_cast<uint64_t>(shared_->options.batch);
    std::vector<std::unique_ptr<StreamOp>> streams;
    for (int i = 0; i < calls_; ++i) {
      auto s = std::make_unique<StreamOp>();
      s->ctx.set_deadline(
          absl::ToChronoTime(absl::Now() + shared_->options.duration + shared_->options.deadline));
      s->rpc = stub_->PrepareAsyncStream(&s->ctx, &cq_);
      s->rpc->StartCall(&s->start);
      s->pending = 1;
      streams.push_back(std::move(s));
    }
    next_due_ns_ = NowNs();
    int open = calls_;
    while (open > 0) {
      const int64_t now = NowNs();
      const bool stopping = shared_->stop.load(std::memory_order_relaxed);
      for (auto& sp : streams) {
        StreamOp* s = sp.get();
        if (!s->ready || s->closing || s->finished) continue;
        if (!stopping && !s->writing && static_cast<int>(s->due_by_sequence.size()) < window &&
            Due(NowNs()) && shared_->Take(batch)) {
          StreamWrite(s, TakeDue(NowNs()));
        } else if (stopping && !s->writing && s->due_by_sequence.empty()) {
          s->closing = true;
          ++s->pending;
          s->rpc->WritesDone(&s->writes_done);
        }
      }
      void* tag = nullptr;
      bool ok = false;
      const auto status = cq_.AsyncNext(&tag, &ok, WaitLimit(now));
      if (status == grpc::CompletionQueue::SHUTDOWN) break;
      if (status != grpc::CompletionQueue::GOT_EVENT) continue;
      auto* t = static_cast<Tag*>(tag);
      auto* s = static_cast<StreamOp*>(t->op);
      --s->pending;
      switch (t->kind) {
        case kStreamStart:
          s->ready = ok;
          ok ? ReadNext(s) : Close(s);
          break;
        case kStreamWrite:
          s->writing = false;
          break;
        case kStreamRead:
          if (ok) {
            auto it = s->due_by_sequence.find(s->response.sequence());
            if (it != s->due_by_sequence.end()) {
              Record(it->second);
              s->due_by_sequence.erase(it);
            }
            shared_->Answered(s->response);
            ReadNext(s);
          } else {
            Close(s);
          }
          break;
        case kStreamWritesDone:
          break;
        case kStreamFinish:
          s->finished = true;
          if (!s->status.ok()) shared_->Failed(s->status);
          --open;
          break;
      }
    }
    // Every stream has finished: nothing of ours is left in the queue.
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  Shared* const shared_;
  std::unique_ptr<InteractionIngest::Stub> stub_;
  const int index_;
  const int calls_;
  grpc::CompletionQueue cq_;
  int64_t interval_ns_ = 0;
  int64_t next_due_ns_ = 0;
  uint64_t pool_index_ = 0;
  IngestRequest scratch_;  // What NextRequest() returned last.
  LatencySamples all_;
  std::mutex mu_;
  LatencySamples recent_;  // Guarded by mu_.
};

}  // namespace

void LatencySamples::Merge(const LatencySamples& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = false;
}

double LatencySamples::Percentile(double q) {
  if (samples_.empty()) return 0;
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  const size_t i = std::min(samples_.size() - 1,
                            static_cast<size_t>(std::ceil(q * samples_.size())) - (q > 0 ? 1 : 0));
  return static_cast<double>(samples_[i]) / 1000.0;
}

std::vector<std::pair<std::string, uint64_t>> LatencySamples::Histogram() {
  static constexpr int64_t kBoundsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int64_t b : kBoundsMs) out.emplace_back(absl::StrCat("<=", b, "ms"), 0);
  out.emplace_back(">1000ms", 0);
  for (int64_t us : samples_) {
    size_t i = 0;
    while (i < std::size(kBoundsMs) && us > kBoundsMs[i] * 1000) ++i;
    ++out[i].second;
  }
  return out;
}

std::string LoadReport::ToJson() const {
  std::string hist;
  for (const auto& [bucket, n] : histogram) {
    absl::StrAppend(&hist, hist.empty() ? "" : ",", "\"", bucket, "\":", n);
  }
  return absl::StrFormat(
      "{\"seconds\":%.3f,\"requests\":%d,\"events_sent\":%d,\"events_accepted\":%d,"
      "\"events_rejected\":%d,\"calls_failed\":%d,\"events_per_s\":%.1f,\"p50_ms\":%.3f,"
      "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"histogram\":{%s}}",
      seconds, requests, events_sent, events_accepted, events_rejected, calls_failed, events_per_s,
      p50_ms, p90_ms, p99_ms, p999_ms, max_ms, hist);
}

std::string LoadReport::ToText() const {
  std::string out = absl::StrFormat(
      "events/s=%.0f accepted=%d rejected=%d sent=%d requests=%d failed_calls=%d seconds=%.2f\n"
      "ack latency ms: p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
      events_per_s, events_accepted, events_rejected, events_sent, requests, calls_failed, seconds,
      p50_ms, p90_ms, p99_ms, p999_ms, max_ms);
  for (const auto& [bucket, n] : histogram) absl::StrAppend(&out, "  ", bucket, " ", n, "\n");
  if (!first_error.empty()) absl::StrAppend(&out, "first error: ", first_error, "\n");
  return out;
}

LoadReport RunLoad(const LoadOptions& options,
                   const std::function<void(const LoadProgress&)>& on_progress) {
  Shared shared(options);
  const absl::Time now = absl::Now();
  for (int i = 0; i < 1024; ++i) {
    IngestRequest request;
    for (int k = 0; k < options.batch; ++k) {
      Interaction* item = request.add_interactions();
      *item = SyntheticInteraction(
          static_cast<uint64_t>(i) * static_cast<uint64_t>(options.batch) + k, options.users, now);
      item->mutable_event_id()->append(1, '-').append(kSendTagDigits, '0');
    }
    shared.pool.push_back(std::move(request));
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < std::max(1, options.channels); ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // A connection per channel.
    args.SetInt("feed_ingest.channel", c);
    auto channel = options.security.Channel(options.target, args);
    if (!channel.ok()) {
      LoadReport failed;
      failed.first_error = std::string(channel.status().message());
      failed.calls_failed = 1;
      return failed;
    }
    channels.push_back(*std::move(channel));
  }
  std::vector<std::unique_ptr<Worker>> workers;
  const int threads = std::max(1, options.threads);
  for (int t = 0; t < threads; ++t) {
    const int calls = options.concurrency / threads + (t < options.concurrency % threads ? 1 : 0);
    workers.push_back(
        std::make_unique<Worker>(&shared, channels[t % channels.size()], t, std::max(calls, 1)));
  }
  const int64_t start = NowNs();
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->Run(); });

  uint64_t last_accepted = 0;
  int64_t last_tick = start;
  const int64_t end = start + absl::ToInt64Nanoseconds(options.duration);
  while (!shared.stop.load() && NowNs() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min<int64_t>(1000, std::max<int64_t>(1, (end - NowNs()) / 1'000'000))));
    const int64_t tick = NowNs();
    if (tick - last_tick < 900'000'000 && tick < end) continue;
    LatencySamples recent;
    for (auto& w : workers) recent.Merge(w->TakeRecent());
    const uint64_t accepted = shared.accepted.load();
    LoadProgress p;
    p.elapsed_s = (tick - start) * 1e-9;
    p.events_per_s = (accepted - last_accepted) / ((tick - last_tick) * 1e-9);
    p.p50_ms = recent.Percentile(0.5);
    p.p99_ms = recent.Percentile(0.99);
    p.errors = shared.failed.load();
    if (on_progress) on_progress(p);
    last_accepted = accepted;
    last_tick = tick;
  }
  const int64_t stopped = NowNs();
  shared.stop.store(true);
  for (auto& t : running) t.join();

  LoadReport report;
  // Throughput over the load window; the drain after it only settles calls.
  report.seconds = (stopped - start) * 1e-9;
  LatencySamples all;
  for (auto& w : workers) all.Merge(w->all());
  report.requests = shared.requests.load();
  report.events_sent = shared.events_sent.load();
  report.events_accepted = shared.accepted.load();
  report.events_rejected = shared.rejected.load();
  report.calls_failed = shared.failed.load();
  report.first_error = shared.first_error;
  report.events_per_s = report.seconds > 0 ? report.events_accepted / report.seconds : 0;
  report.p50_ms = all.Percentile(0.5);
  report.p90_ms = all.Percentile(0.9);
  report.p99_ms = all.Percentile(0.99);
  report.p999_ms = all.Percentile(0.999);
  report.max_ms = all.Percentile(1.0);
  report.histogram = all.Histogram();
  return report;
}

}  // namespace feed_ingest
