// KafkaSink: the one librdkafka producer and the thread that feeds it.
//
// gRPC workers hand batches over with TrySubmit(); the producer thread pops
// them from a RecordRing, produces every record (zero-copy: librdkafka reads
// the batch's memory until the delivery report), serves delivery reports, and
// settles each batch when its last report arrives.
//
//   auto sink = KafkaSink::Create(options, &metrics);
//   RETURN_IF_ERROR((*sink)->EnsureTopic(absl::Seconds(10)));
//   (*sink)->Start();
//   switch ((*sink)->TrySubmit(batch)) { ... }       // any thread
//   (*sink)->Shutdown(absl::Now() + absl::Seconds(30));
//
// Producer settings: idempotent, acks=all, snappy, murmur2_random (the Java
// client's placement of keys), linger 5 ms; `extra_config` overrides any of
// them and adds any other librdkafka property (SASL, SSL, ...).
//
// Thread-safe: TrySubmit() from any thread; Start() and Shutdown() from one
// controlling thread. Everything librdkafka calls back runs on the producer
// thread.
#ifndef FEED_INGEST_SERVER_KAFKA_SINK_H_
#define FEED_INGEST_SERVER_KAFKA_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest_batch.h"
#include "kafka_stats.h"
#include "librdkafka/rdkafka.h"
#include "metrics.h"
#include "msk/msk_token.h"
#include "record_ring.h"

namespace feed_ingest {

struct KafkaSinkOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic = "feed.interactions.v1";
  // Applied after the defaults, in order.
  std::vector<std::pair<std::string, std::string>> extra_config;
  size_t ring_capacity = 1024;  // Batches.
  // Called on the producer thread when Kafka becomes reachable (any broker
  // up) or unreachable (all down). May be empty.
  std::function<void(bool reachable)> on_reachability;
  // When set, authenticate with AWS MSK IAM: SASL_SSL + OAUTHBEARER, tokens
  // from this provider, refreshed on librdkafka's background thread so the
  // first one is there before anything polls. `extra_config` may still
  // override security.protocol (e.g. to test without TLS).
  std::shared_ptr<msk::MskTokenProvider> msk_tokens;
};

// What the topic must look like when EnsureTopic() creates it.
struct TopicSpec {
  int partitions = 6;
  int replication_factor = 3;
  int64_t retention_ms = 604'800'000;  // 7 days.
  std::string compression = "snappy";
};

enum class SubmitResult {
  kQueued,  // The batch will be settled on its completion queue.
  kFull,    // The ring is full: back off and try again.
  kClosed,  // The sink is shutting down: the batch was not taken.
};

class KafkaSink {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(KafkaSinkOptions options,
                                                           IngestMetrics* metrics);
  ~KafkaSink();
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  // Before Start(): looks the topic up in the cluster's topic list (never by
  // name: a request naming it could create it on brokers that auto-create).
  // A missing topic is NOT_FOUND, or is created from `create` when given.
  // UNAVAILABLE when no broker answers within `timeout`.
  absl::Status EnsureTopic(absl::Duration timeout, const TopicSpec* create);

  // Starts the producer thread. Call after EnsureTopic() succeeded.
  void Start();

  // Any thread. On kQueued the sink owns the batch until it settles.
  SubmitResult TrySubmit(IngestBatch* batch);

  // Stops taking batches, produces what the ring holds, and waits for
  // delivery reports until `flush_deadline`. Whatever Kafka has not
  // acknowledged by then is purged and settled with an error by
  // `hard_deadline`, so every batch settles. Then the producer thread ends.
  void Shutdown(absl::Time flush_deadline, absl::Time hard_deadline);

  size_t ring_capacity() const { return ring_.capacity(); }
  // The current producer; a fatal error replaces it. For tests.
  rd_kafka_t* handle() const { return rk_; }

 private:
  KafkaSink(KafkaSinkOptions options, IngestMetrics* metrics);

  void Run();
  // Produces records of `batch` from `next_`; false when librdkafka's queue is
  // full and the batch must be resumed later.
  bool Produce(IngestBatch* batch);
  void FailRemaining(IngestBatch* batch, rd_kafka_resp_err_t err);
  void PublishMetrics();
  void ReadClocks();
  void Drain(absl::Time flush_deadline, absl::Time hard_deadline);
  // Makes rk_ from conf_.
  absl::Status NewProducer();
  // After a fatal (idempotence) error: fails what the producer holds and
  // replaces it. Producer thread only.
  void Rebuild();

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
  static int OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  // librdkafka's background thread.
  static void OnTokenRefresh(rd_kafka_t* rk, const char* config, void* opaque);
  // `why` is logged when Kafka becomes unreachable.
  void SetReachable(bool reachable, const char* why = "no broker is up");
  void LogFailures();

  const KafkaSinkOptions options_;
  IngestMetrics* const metrics_;
  rd_kafka_conf_t* conf_ = nullptr;  // The producer's configuration, for rebuilds.
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  RecordRing<IngestBatch*> ring_;
  std::thread thread_;

  // Shutdown handshake. TrySubmit() announces itself in `submitters_` before
  // it reads `closed_`; the producer thread sets `closed_` before it reads
  // `submitters_`. Both sequentially consistent, so either the submitter sees
  // closed, or the producer sees the submitter and waits for its push.
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
  KafkaStats stats_;
  bool reachable_ = true;  // EnsureTopic() has just talked to Kafka.
  bool fatal_ = false;     // The producer hit a fatal error: rebuild it.
  // Delivery failures since the last log line about them (rate-limited).
  uint64_t unlogged_failures_ = 0;
  int32_t last_failure_ = 0;
  int64_t last_failure_log_ns_ = 0;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_SINK_H_
