#include "kafka_producer.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "kafka_config.h"
#include "kafka_failure_log.h"
#include "kafka_stats.h"
#include "kafka_topic.h"
#include "record_ring.h"

namespace feed_ingest {
namespace {

constexpr int64_t kPublishEveryNs = 50'000'000;  // Metrics flush: 20 times a second.
constexpr size_t kBatchesPerRound = 64;          // Then serve delivery reports.
constexpr int64_t kPurgeRetiredEveryNs = 100'000'000;
constexpr absl::Duration kPurgeGrace = absl::Seconds(5);
// When a rebuilt producer hits the same fatal error again (credentials the
// cluster refuses, say), rebuilding at once would only spin: wait 1 s, then
// twice as long each time, up to 30 s.
constexpr absl::Duration kFirstRebuildBackoff = absl::Seconds(1);
constexpr absl::Duration kMaxRebuildBackoff = absl::Seconds(30);

// Fatal errors of the producer's own idempotence state (its id, epoch and
// sequence numbers), which a new producer starts afresh. Transient broker
// errors bring them (librdkafka 2.0.2 loses sequence sync after a timed-out
// request), so the same one again is a new event, not a refusal that stays:
// rebuilt after the first back-off at most, never longer.
bool ProducerStateError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
      return true;
    default:
      return false;
  }
}

// "kafka: <description> (<name>)" for every librdkafka error code, made once:
// a Delivery carries a pointer to it, so the producer thread hands a reason
// to the worker without allocating, and the text outlives every batch.
const char* ReasonFor(rd_kafka_resp_err_t err) {
  static const auto* const kReasons = [] {
    auto* reasons = new absl::flat_hash_map<int, std::string>();
    const rd_kafka_err_desc* descs = nullptr;
    size_t n = 0;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; ++i) {
      if (descs[i].name == nullptr) continue;  // Gaps in librdkafka's table.
      const auto code = descs[i].code;
      (*reasons)[code] =
          absl::StrCat("kafka: ", rd_kafka_err2str(code), " (", rd_kafka_err2name(code), ")");
    }
    return reasons;
  }();
  auto it = kReasons->find(err);
  return it != kReasons->end() ? it->second.c_str() : "kafka: unknown error";
}

// A librdkafka error as the caller's verdict. Only a record Kafka can never
// take is the caller's to fix; everything else may be sent again.
Delivery DeliveryFor(rd_kafka_resp_err_t err, bool possibly_written) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Delivery::Written();
  if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE) {
    return Delivery::Invalid(RejectLabel::kKafka, ReasonFor(err));
  }
  return Delivery::Retryable(RejectLabel::kKafka, ReasonFor(err), possibly_written);
}

}  // namespace

// The producer thread and everything it owns. Thread rules as in the header:
// TrySubmit() from any thread; KafkaEvents and the fields below "producer
// thread only" on the producer thread (before Start(), on the controlling
// thread).
class KafkaProducer::Loop final : private KafkaEvents {
 public:
  Loop(KafkaProducerOptions options, IngestMetrics* metrics)
      : options_(std::move(options)),
        metrics_(metrics),
        clock_(options_.clock != nullptr ? options_.clock : &Clock::Real()),
        ring_(options_.ring_capacity),
        latency_(IngestMetrics::LatencyBuckets()),
        lag_(IngestMetrics::EventLagBuckets()),
        stats_(metrics->registry(), options_.kafka.topic),
        failures_(metrics, clock_) {}

  ~Loop() {
    if (thread_.joinable()) {
      Shutdown(Deadline::After(*clock_, absl::ZeroDuration()),
               Deadline::After(*clock_, kPurgeGrace));
    }
    for (Retired& r : retired_) Destroy(&r.rk, &r.rkt, &r.rkt_overflow);
    Destroy(&rk_, &rkt_, &rkt_overflow_);
  }

  absl::Status Init() {
    auto config = KafkaConfig::Create(options_.kafka, this, metrics_);
    if (!config.ok()) return config.status();
    config_ = *std::move(config);
    auto rk = config_->NewProducer();
    if (!rk.ok()) return rk.status();
    rk_ = *rk;
    metrics_->ring_capacity().Set(static_cast<double>(ring_.capacity()));
    return absl::OkStatus();
  }

  absl::Status EnsureTopic(absl::Duration timeout, const TopicSpec* create) {
    if (absl::Status s = feed_ingest::EnsureTopic(rk_, options_.kafka.topic, options_.kafka.brokers,
                                                  timeout, create, *clock_);
        !s.ok() || options_.kafka.overflow_topic.empty()) {
      return s;
    }
    return feed_ingest::EnsureTopic(rk_, options_.kafka.overflow_topic, options_.kafka.brokers,
                                    timeout, create, *clock_);
  }

  void Start() {
    // Only now: a topic handle makes the producer ask for the topic by name.
    NewTopicHandles();
    thread_ = std::thread([this] { Run(); });
  }

  SubmitResult TrySubmit(IngestBatch* batch) {
    submitters_.fetch_add(1, std::memory_order_seq_cst);
    if (closed_.load(std::memory_order_seq_cst)) {
      submitters_.fetch_sub(1, std::memory_order_seq_cst);
      return SubmitResult::kClosed;
    }
    batch->Arm();
    batch->times.submitted_ns = clock_->MonotonicNanos();
    const bool pushed = ring_.TryPush(std::move(batch));
    submitters_.fetch_sub(1, std::memory_order_seq_cst);
    return pushed ? SubmitResult::kQueued : SubmitResult::kFull;
  }

  void Shutdown(Deadline flush, Deadline hard) {
    if (!thread_.joinable()) return;
    flush_deadline_ns_.store(flush.monotonic_nanos(), std::memory_order_relaxed);
    hard_deadline_ns_.store(hard.monotonic_nanos(), std::memory_order_relaxed);
    // Release: the deadlines above are visible to the thread that sees stop_.
    stop_.store(true, std::memory_order_release);
    thread_.join();
  }

  size_t ring_capacity() const { return ring_.capacity(); }

 private:
  // KafkaEvents
  void OnDelivery(const rd_kafka_message_t& msg) override {
    auto* record = static_cast<IngestBatch::Record*>(msg._private);
    IngestBatch* batch = record->batch;
    if (msg.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++delivered_;
      // A rebuilt producer that delivers has proven itself: a later fatal
      // error is rebuilt at once again.
      if (msg.rkt == rkt_ || msg.rkt == rkt_overflow_) rebuilt_ = false;
      // The clocks are read once per poll: reports served together arrived
      // together, and a clock read per record costs more than the rest here.
      latency_.Observe(static_cast<double>(poll_mono_ns_ - batch->times.received_ns) * 1e-9);
      lag_.Observe(std::max(0.0, poll_wall_s_ - record->event_s));
    } else {
      failures_.Count(msg.err);
    }
    const bool possibly_written =
        rd_kafka_message_status(&msg) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    batch->times.settled_ns = poll_mono_ns_;  // Before the Settle() that publishes it.
    batch->Settle(record, DeliveryFor(msg.err, possibly_written));
  }

  void OnError(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason) override {
    if (rk != rk_) return;  // A retired producer: it only settles what it holds.
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) SetReachable(false);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
      // The same error again from a producer that was itself a rebuild: it
      // will not go away by rebuilding at once.
      if (rebuilt_ && orig == last_fatal_) {
        backoff_ = backoff_ == absl::ZeroDuration() || ProducerStateError(orig)
                       ? kFirstRebuildBackoff
                       : std::min(backoff_ * 2, kMaxRebuildBackoff);
      } else {
        backoff_ = absl::ZeroDuration();
      }
      last_fatal_ = orig;
      rebuild_at_ = Deadline::After(*clock_, backoff_);
      Log(LogLevel::kError, "Kafka producer fatal error; it will be rebuilt",
          {{"error", rd_kafka_err2name(orig)},
           {"reason", buf},
           {"rebuild_in", absl::FormatDuration(backoff_)}});
      fatal_ = true;
      SetReachable(false, "the producer hit a fatal error");
      return;
    }
    Log(LogLevel::kWarning, "Kafka error", {{"error", rd_kafka_err2name(err)}, {"reason", reason}});
  }

  void OnStats(rd_kafka_t* rk, absl::string_view json) override {
    // A retired producer connects to nothing new: its brokers look down.
    if (rk != rk_) return;
    absl::StatusOr<bool> any_up = stats_.Apply(json);
    if (any_up.ok()) {
      SetReachable(*any_up);
    } else {
      Log(LogLevel::kWarning, "cannot read librdkafka statistics",
          {{"error", std::string(any_up.status().message())}});
    }
  }

  void Run() {
    for (;;) {
      size_t produced = 0;
      if (blocked_ != nullptr && Produce(blocked_)) blocked_ = nullptr;
      IngestBatch* batch = nullptr;
      while (blocked_ == nullptr && produced < kBatchesPerRound && ring_.TryPop(&batch)) {
        ++produced;
        if (!Produce(batch)) blocked_ = batch;
      }
      // Wait a little only when there is nothing to produce, or when
      // librdkafka's queue is full and must drain first.
      Poll((produced == 0 || blocked_ != nullptr) ? 1 : 0);
      const bool stopping = stop_.load(std::memory_order_acquire);
      if (fatal_ && !stopping && rebuild_at_.Passed(*clock_)) Rebuild();
      if (clock_->MonotonicNanos() - last_publish_ns_ >= kPublishEveryNs) PublishMetrics();

      if (stopping) {
        const Deadline flush = Deadline::At(flush_deadline_ns_.load(std::memory_order_relaxed));
        const bool idle = blocked_ == nullptr && ring_.SizeApprox() == 0 && Outstanding() == 0;
        if (idle || flush.Passed(*clock_)) {
          Drain(flush, Deadline::At(hard_deadline_ns_.load(std::memory_order_relaxed)));
          PublishMetrics();
          failures_.LogNow();
          return;
        }
      }
    }
  }

  bool Produce(IngestBatch* batch) {
    const bool content_type = options_.kafka.content_type_header;
    // Once the last record settles the worker may free the batch: read
    // nothing from it after that, hence the local copies.
    const size_t n = batch->records.size();
    IngestBatch::Record* const records = batch->records.data();
    if (next_ == 0) batch->times.produced_ns = clock_->MonotonicNanos();
    while (next_ < n) {
      IngestBatch::Record& r = records[next_];
      const auto& item = batch->item(r);
      const absl::string_view value = batch->value(r);
      // Each header is allocated by librdkafka and freed with its message:
      // a record that needs none gets none.
      rd_kafka_headers_t* headers = nullptr;
      if (content_type || !item.event_id().empty() || r.overflow) {
        headers = rd_kafka_headers_new(3);
        if (content_type) {
          rd_kafka_header_add(headers, "content-type", -1, "application/json", 16);
        }
        if (!item.event_id().empty()) {
          rd_kafka_header_add(headers, "event-id", -1, item.event_id().data(),
                              static_cast<ssize_t>(item.event_id().size()));
        }
        if (r.overflow) rd_kafka_header_add(headers, "feed-overflow", -1, "hot-key", 7);
      }
      // An overflow record with no overflow topic cannot happen: the hot-key
      // stage runs only when there is one.
      rd_kafka_topic_t* const rkt = r.overflow ? rkt_overflow_ : rkt_;
      // No copy flag: the batch keeps key and value alive until the report.
      const rd_kafka_resp_err_t err =
          headers != nullptr
              ? rd_kafka_producev(rk_, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(0),
                                  RD_KAFKA_V_KEY(item.user_id().data(), item.user_id().size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(&r),
                                  RD_KAFKA_V_END)
              : rd_kafka_producev(rk_, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(0),
                                  RD_KAFKA_V_KEY(item.user_id().data(), item.user_id().size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_OPAQUE(&r), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++next_;
        continue;
      }
      if (headers != nullptr) rd_kafka_headers_destroy(headers);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
      // Refused before queueing (too large, unknown partition, fatal error):
      // settle it now, as a delivery report would. Never sent: not written.
      failures_.Count(err);
      ++next_;
      r.batch->times.settled_ns = clock_->MonotonicNanos();
      r.batch->Settle(&r, DeliveryFor(err, /*possibly_written=*/false));
    }
    next_ = 0;
    return true;
  }

  void FailRemaining(IngestBatch* batch, rd_kafka_resp_err_t err) {
    const size_t n = batch->records.size();
    IngestBatch::Record* const records = batch->records.data();
    failures_.Count(err, n - next_);
    const Delivery failed = DeliveryFor(err, /*possibly_written=*/false);
    if (next_ < n) batch->times.settled_ns = clock_->MonotonicNanos();
    for (size_t i = next_; i < n; ++i) records[i].batch->Settle(&records[i], failed);
    next_ = 0;
  }

  // Serves delivery reports of the producer and of retired ones; a retired
  // producer is destroyed once nothing of it is outstanding.
  void Poll(int wait_ms) {
    poll_mono_ns_ = clock_->MonotonicNanos();
    poll_wall_s_ = absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
    rd_kafka_poll(rk_, wait_ms);
    // A retired producer sends nothing more: what it puts back in its queue
    // (a request that failed after the fatal error) would wait there until
    // message.timeout.ms. Purged now and then, it settles at once.
    const bool purge =
        !retired_.empty() && poll_mono_ns_ - last_retired_purge_ns_ >= kPurgeRetiredEveryNs;
    if (purge) last_retired_purge_ns_ = poll_mono_ns_;
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (purge) rd_kafka_purge(it->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
      rd_kafka_poll(it->rk, 0);
      if (rd_kafka_outq_len(it->rk) == 0) {
        Destroy(&it->rk, &it->rkt, &it->rkt_overflow);
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Messages not yet settled, in every producer.
  int Outstanding() const {
    int n = rd_kafka_outq_len(rk_);
    for (const Retired& r : retired_) n += rd_kafka_outq_len(r.rk);
    return n;
  }

  void NewTopicHandles() {
    rkt_ = rd_kafka_topic_new(rk_, options_.kafka.topic.c_str(), nullptr);
    if (!options_.kafka.overflow_topic.empty()) {
      rkt_overflow_ = rd_kafka_topic_new(rk_, options_.kafka.overflow_topic.c_str(), nullptr);
    }
  }

  static void Destroy(rd_kafka_t** rk, rd_kafka_topic_t** rkt, rd_kafka_topic_t** rkt_overflow) {
    if (*rkt != nullptr) rd_kafka_topic_destroy(*rkt);
    if (*rkt_overflow != nullptr) rd_kafka_topic_destroy(*rkt_overflow);
    if (*rk != nullptr) rd_kafka_destroy(*rk);
    *rkt = nullptr;
    *rkt_overflow = nullptr;
    *rk = nullptr;
  }

  // Purges in every producer: kQueue, what was never sent; with kInFlight,
  // also what awaits a broker's answer (it settles as possibly written).
  void PurgeAll(bool in_flight) {
    const int flags = RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING |
                      (in_flight ? RD_KAFKA_PURGE_F_INFLIGHT : 0);
    rd_kafka_purge(rk_, flags);
    for (Retired& r : retired_) rd_kafka_purge(r.rk, flags);
  }

  void PublishMetrics() {
    failures_.LogIfDue();
    last_publish_ns_ = clock_->MonotonicNanos();
    metrics_->ring_depth().Set(static_cast<double>(ring_.SizeApprox()));
    metrics_->kafka_queue_messages().Set(static_cast<double>(Outstanding()));
    if (delivered_ > 0) {
      metrics_->delivered().Increment(static_cast<double>(delivered_));
      delivered_ = 0;
    }
    latency_.PublishTo(metrics_->delivery_latency());
    lag_.PublishTo(metrics_->event_lag());
  }

  // Polls until no producer holds anything or `deadline` passes.
  void PollUntilEmpty(Deadline deadline) {
    while (Outstanding() > 0 && !deadline.Passed(*clock_)) Poll(10);
  }

  void Drain(Deadline flush, Deadline hard) {
    closed_.store(true, std::memory_order_seq_cst);
    // A TrySubmit() that read closed_ == false may still be pushing: let it
    // finish, so its batch is seen below.
    while (submitters_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();

    // Produce what is left while time remains, then give up on the rest.
    IngestBatch* batch = nullptr;
    for (;;) {
      if (blocked_ != nullptr) {
        if (flush.Passed(*clock_)) {
          FailRemaining(blocked_, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
        } else if (!Produce(blocked_)) {
          Poll(1);
          continue;
        }
        blocked_ = nullptr;
      }
      if (!ring_.TryPop(&batch)) break;
      if (flush.Passed(*clock_)) {
        FailRemaining(batch, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
      } else if (!Produce(batch)) {
        blocked_ = batch;
      }
    }
    PollUntilEmpty(flush);

    const int left = Outstanding();
    if (left > 0) {
      Log(LogLevel::kWarning, "Kafka did not acknowledge everything before the shutdown deadline",
          {{"messages", absl::StrCat(left)}});
      // Messages still queued or in flight fail with _PURGE_QUEUE or
      // _PURGE_INFLIGHT; their callers are told to retry.
      PurgeAll(/*in_flight=*/true);
      PollUntilEmpty(hard);
      if (Outstanding() > 0) {
        Log(LogLevel::kError, "Kafka messages still unsettled after purging",
            {{"messages", absl::StrCat(Outstanding())}});
      }
    }
    Poll(0);
  }

  // After a fatal error: the producer is retired — what it never sent is
  // purged (settled as retryable, not written), what it has in flight keeps
  // being polled until each report arrives (or times out), and only then is
  // it destroyed — and a new one takes its place.
  void Rebuild() {
    if (blocked_ != nullptr) {
      FailRemaining(blocked_, RD_KAFKA_RESP_ERR__FATAL);
      blocked_ = nullptr;
    }
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
    const int in_flight = rd_kafka_outq_len(rk_);
    retired_.push_back({rk_, rkt_, rkt_overflow_});
    rk_ = nullptr;
    rkt_ = nullptr;
    rkt_overflow_ = nullptr;
    absl::StatusOr<rd_kafka_t*> rk = config_->NewProducer();
    if (!rk.ok()) {
      // The same configuration built the first producer; this cannot fail
      // short of memory exhaustion.
      Log(LogLevel::kError, "Kafka producer could not be rebuilt",
          {{"error", rk.status().ToString()}});
      std::abort();
    }
    rk_ = *rk;
    NewTopicHandles();
    fatal_ = false;
    rebuilt_ = true;
    metrics_->producer_rebuilds().Increment();
    Log(LogLevel::kWarning, "Kafka producer rebuilt after a fatal error",
        {{"retired_in_flight", absl::StrCat(in_flight)}});
  }

  void SetReachable(bool reachable, const char* why = "no broker is up") {
    if (reachable == reachable_) return;
    reachable_ = reachable;
    Log(reachable ? LogLevel::kInfo : LogLevel::kError,
        reachable ? "Kafka reachable again" : absl::StrCat("Kafka unusable: ", why),
        {{"brokers", options_.kafka.brokers}});
    if (options_.on_reachability) options_.on_reachability(reachable);
  }

  const KafkaProducerOptions options_;
  IngestMetrics* const metrics_;
  const Clock* const clock_;
  std::unique_ptr<KafkaConfig> config_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  rd_kafka_topic_t* rkt_overflow_ = nullptr;  // When there is an overflow topic.
  RecordRing<IngestBatch*> ring_;
  std::thread thread_;

  // Shutdown handshake. TrySubmit() announces itself in `submitters_` before
  // it reads `closed_`; the producer thread sets `closed_` before it reads
  // `submitters_`. Both sequentially consistent, so either the submitter
  // sees closed, or the producer sees the submitter and waits for its push.
  std::atomic<bool> closed_{false};
  std::atomic<int> submitters_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> flush_deadline_ns_{0};
  std::atomic<int64_t> hard_deadline_ns_{0};

  // Producer thread only.
  IngestBatch* blocked_ = nullptr;  // Batch whose records did not all fit.
  size_t next_ = 0;                 // Its next record.
  HistogramAccumulator latency_;
  HistogramAccumulator lag_;
  uint64_t delivered_ = 0;
  int64_t poll_mono_ns_ = 0;  // Clocks as of the current rd_kafka_poll().
  double poll_wall_s_ = 0;
  int64_t last_publish_ns_ = 0;
  int64_t last_retired_purge_ns_ = 0;
  KafkaStats stats_;
  KafkaFailureLog failures_;
  bool reachable_ = true;                  // EnsureTopic() has just talked to Kafka.
  bool fatal_ = false;                     // The producer hit a fatal error: rebuild it
  Deadline rebuild_at_ = Deadline::At(0);  // at this time.
  absl::Duration backoff_;                 // The wait before the last rebuild.
  rd_kafka_resp_err_t last_fatal_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  bool rebuilt_ = false;  // rk_ is a rebuild that has delivered nothing yet.
  // Producers replaced after a fatal error, still settling what they hold.
  struct Retired {
    rd_kafka_t* rk;
    rd_kafka_topic_t* rkt;
    rd_kafka_topic_t* rkt_overflow;
  };
  std::vector<Retired> retired_;
};

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(KafkaProducerOptions options,
                                                                     IngestMetrics* metrics) {
  auto loop = std::make_unique<Loop>(std::move(options), metrics);
  if (absl::Status s = loop->Init(); !s.ok()) return s;
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(loop)));
}

KafkaProducer::KafkaProducer(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}
KafkaProducer::~KafkaProducer() = default;

absl::Status KafkaProducer::EnsureTopic(absl::Duration timeout, const TopicSpec* create) {
  return loop_->EnsureTopic(timeout, create);
}
void KafkaProducer::Start() { loop_->Start(); }
SubmitResult KafkaProducer::TrySubmit(IngestBatch* batch) { return loop_->TrySubmit(batch); }
void KafkaProducer::Shutdown(Deadline flush, Deadline hard) { loop_->Shutdown(flush, hard); }
size_t KafkaProducer::ring_capacity() const { return loop_->ring_capacity(); }

}  // namespace feed_ingest
