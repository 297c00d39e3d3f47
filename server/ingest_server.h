// IngestServer: the whole service, wired: gRPC in, validation, the ring,
// the Kafka producer, metrics, health, and an orderly shutdown.
//
//   ServerOptions options;
//   options.listen = "127.0.0.1:0";              // port 0: pick a free one
//   auto server = IngestServer::Start(options);  // embedded broker: no brokers
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
#include "clock.h"
#include "embedded_broker.h"
#include "grpcpp/server.h"
#include "ingest_pipeline.h"
#include "ingest_service.h"
#include "kafka_sink.h"
#include "metrics.h"
#include "metrics_http.h"
#include "prometheus/registry.h"
#include "validation.h"

namespace feed_ingest {

struct ServerOptions {
  std::string listen = "0.0.0.0:50051";
  std::string metrics_listen = "0.0.0.0:9464";  // Empty: no metrics endpoint.
  std::string brokers;                          // Empty: start an embedded broker.
  std::string topic = "feed.interactions.v1";
  bool create_topic = false;
  int replication_factor = 3;
  std::vector<std::pair<std::string, std::string>> kafka_config;
  ValidationLimits limits;
  size_t max_batch = 1000;
  size_t ring_capacity = 1024;
  ServiceOptions service;
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

  // Serving: Kafka reachable and not shutting down. Drives /readyz, the
  // gRPC health status and feed_ingest_ready.
  bool ready() const {
    return kafka_reachable_.load(std::memory_order_relaxed) &&
           !shutting_down_.load(std::memory_order_relaxed);
  }

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return http_ ? http_->port() : 0; }
  const std::string& brokers() const { return brokers_; }
  // Null unless the server started its own broker.
  EmbeddedBroker* embedded_broker() const { return embedded_.get(); }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  explicit IngestServer(ServerOptions options);
  absl::Status Init();
  // Publishes ready() to the health service and the gauge. Any thread.
  void UpdateReadiness();

  ServerOptions options_;
  RealClock real_clock_;
  std::string brokers_;
  std::unique_ptr<EmbeddedBroker> embedded_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<MetricsHttpServer> http_;
  std::atomic<bool> kafka_reachable_{true};
  std::atomic<bool> shutting_down_{false};
  absl::Mutex readiness_mu_;  // Orders concurrent UpdateReadiness() calls.
  std::unique_ptr<InteractionValidator> validator_;
  std::unique_ptr<KafkaSink> sink_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<grpc::Server> server_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_SERVER_H_
