// IngestServer: the whole service, wired: gRPC in, validation, the ring,
// the Kafka producer, metrics, health, and an orderly shutdown.
//
//   ServerOptions options;
//   options.listen = "127.0.0.1:0";              // port 0: pick a free one
//   options.brokers = "embedded";               // the in-memory development broker
//   auto server = IngestServer::Start(options);
//   ... (*server)->grpc_port() ...
//   (*server)->Shutdown();                       // bounded by shutdown_timeout
//
// Thread-safe: Shutdown() from one thread; the accessors from any.
#ifndef FEED_INGEST_SERVER_INGEST_SERVER_H_
#define FEED_INGEST_SERVER_INGEST_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "call_tracker.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "dedup_store.h"
#include "grpcpp/server.h"
#include "ingest_path.h"
#include "ingest_service.h"
#include "kafka_producer.h"
#include "memory_budget.h"
#include "metrics.h"
#include "metrics_http.h"
#include "prometheus/registry.h"
#include "quotas.h"
#include "redis_dedup_store.h"
#include "redis_quota_store.h"
#include "stages/dedup.h"
#include "stages/hot_key.h"
#include "stages/quota.h"
#include "token_auth.h"
#include "validation.h"

namespace feed_ingest {

class EmbeddedBroker;

// Transport limits: what one client may cost the server.
struct GrpcLimits {
  int max_receive_message_bytes = 4 << 20;
  int max_concurrent_streams = 1000;  // Per connection.
  // Clients may ping at most this often (more: GOAWAY ENHANCE_YOUR_CALM).
  absl::Duration min_ping_interval = absl::Seconds(10);
  // The server pings an idle connection this often, and drops it when the
  // ping is not answered within keepalive_timeout.
  absl::Duration keepalive_time = absl::Minutes(5);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration max_connection_idle = absl::Minutes(15);
  // Connections are recycled (GOAWAY) after this long, so load spreads again
  // after scaling; calls get max_connection_age_grace to finish.
  absl::Duration max_connection_age = absl::Hours(1);
  absl::Duration max_connection_age_grace = absl::Minutes(5);
  // gRPC's buffers, all connections; 0: a quarter of memory_limit.
  int64_t memory_quota_bytes = 0;
};

// TLS and tokens. Empty strings: off.
struct SecurityOptions {
  std::string tls_cert;       // PEM certificate chain.
  std::string tls_key;        // PEM private key.
  std::string tls_client_ca;  // PEM CA: clients must present a certificate it signed.
  std::string auth_tokens_file;
};

// Dedup by (user_id, event_id): see stages/dedup.h.
struct DedupOptions {
  absl::Duration window = absl::Minutes(10);  // How long a written key is remembered; 0: off.
  std::string store = "memory";               // Or redis://HOST:PORT[/DB].
  int64_t max_entries = 1'000'000;            // The memory store's bound.
  // How long a claim in Redis outlives a replica that died holding it: more
  // than a record can take to settle (message.timeout.ms, 60 s).
  absl::Duration claim_ttl = absl::Minutes(2);
  std::string on_store_error = "write";  // Or "reject".
};

// Per-caller quotas (quotas.h); none by default.
struct QuotaOptions {
  std::vector<std::string> named;  // NAME=RATE[/BURST], one per caller.
  std::string default_quota;       // RATE[/BURST] for every other caller; empty: none.
  std::string store = "local";     // Per replica; redis://... shares the buckets.
};

// Per user_id limits (hot_keys.h); off by default.
struct HotKeyOptions {
  std::string limit;                // RATE[/BURST] per user_id; empty: off.
  std::string action = "overflow";  // Or "reject".
  std::string overflow_topic = std::string(kDefaultTopic) + ".overflow";
  int64_t max_keys = 100'000;  // Buckets kept at most (HotKeys::kBytesPerKey each).
};

struct ServerOptions {
  std::string listen = "0.0.0.0:50051";
  std::string metrics_listen = "0.0.0.0:9464";  // Empty: no metrics endpoint.
  // host:port,...; "embedded" starts the in-memory development broker.
  // Empty is refused.
  std::string brokers;
  std::string topic = kDefaultTopic;
  bool create_topic = false;
  bool content_type_header = true;  // KafkaOptions::content_type_header.
  int replication_factor = 3;
  std::vector<std::pair<std::string, std::string>> kafka_config;
  // "msk-iam": authenticate to AWS MSK with IAM (needs aws_region).
  std::string kafka_auth;
  std::string aws_region;
  ValidationLimits limits;
  size_t max_batch = 1000;
  size_t ring_capacity = 1024;
  // Everything held for callers, in bytes: gRPC's buffers (a quarter, unless
  // grpc.memory_quota_bytes says otherwise), librdkafka's queue (bounded at
  // a quarter), and the requests and answers in between (the rest).
  int64_t memory_limit = int64_t{256} << 20;
  DedupOptions dedup;
  QuotaOptions quota;
  HotKeyOptions hot_key;
  ServiceOptions service;
  GrpcLimits grpc;
  SecurityOptions security;
  absl::Duration shutdown_timeout = absl::Seconds(30);
  absl::Duration startup_timeout = absl::Seconds(30);
  const Clock* clock = nullptr;  // Null: the real clock.
};

class IngestServer {
 public:
  static absl::StatusOr<std::unique_ptr<IngestServer>> Start(ServerOptions options);
  ~IngestServer();
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Stops taking calls (health NOT_SERVING, new calls UNAVAILABLE), answers
  // the calls in flight, flushes Kafka, and stops, all within
  // shutdown_timeout. Whatever Kafka had not acknowledged by then is answered
  // RETRYABLE. Idempotent.
  void Shutdown();

  // Rereads --auth-tokens-file (SIGHUP). The old tokens stay on error.
  absl::Status ReloadTokens();

  // Serving: started, Kafka reachable, and not shutting down. Drives /readyz, the
  // gRPC health status and feed_ingest_ready.
  bool ready() const {
    return serving_.load(std::memory_order_relaxed) &&
           kafka_reachable_.load(std::memory_order_relaxed) &&
           !shutting_down_.load(std::memory_order_relaxed);
  }

  int grpc_port() const { return grpc_port_; }
  // Calls in flight that shutdown waits for.
  int64_t inflight_calls() const { return tracker_ ? tracker_->inflight() : 0; }
  int metrics_port() const { return http_ ? http_->port() : 0; }
  const std::string& brokers() const { return brokers_; }
  // Null unless the server started its own broker.
  EmbeddedBroker* embedded_broker() const { return embedded_.get(); }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  explicit IngestServer(ServerOptions options);
  absl::Status Init();
  // The dedup store and its metrics, from options_.dedup (none when off).
  absl::Status StartDedup();
  // Parses --quota and --default-quota; none: no quota stage.
  absl::Status StartQuotas();
  // Parses the --hot-key-* flags; no limit: no hot-key stage.
  absl::Status StartHotKeys();
  // Publishes ready() to the health service and the gauge. Any thread.
  void UpdateReadiness();

  ServerOptions options_;
  const Clock* clock_ = nullptr;
  std::string brokers_;
  std::unique_ptr<EmbeddedBroker> embedded_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<MetricsHttpServer> http_;
  std::atomic<bool> serving_{false};  // The gRPC port is up and the calls posted.
  std::atomic<bool> kafka_reachable_{true};
  std::atomic<bool> shutting_down_{false};
  absl::Mutex readiness_mu_;  // Orders concurrent UpdateReadiness() calls.
  std::unique_ptr<InteractionValidator> validator_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<MemoryBudget> budget_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<DedupMetrics> dedup_metrics_;
  std::unique_ptr<DedupStore> dedup_store_;
  std::unique_ptr<Quotas> quotas_;
  std::unique_ptr<QuotaStore> quota_store_;
  std::unique_ptr<CallerMetrics> caller_metrics_;
  std::unique_ptr<HotKeys> hot_keys_;
  HotKeyStage::Action hot_key_action_ = HotKeyStage::Action::kOverflow;
  RedisDedupStore* redis_dedup_ = nullptr;  // dedup_store_, when it is Redis.
  DedupStage::OnStoreError dedup_on_store_error_ = DedupStage::OnStoreError::kWrite;
  std::unique_ptr<IngestPath> path_;
  std::unique_ptr<CallTracker> tracker_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<grpc::Server> server_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_SERVER_H_
