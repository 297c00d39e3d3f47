// MetricsHttpServer: the HTTP side port for operators and orchestrators.
//
//   GET /metrics   Prometheus text format of every registered collectable
//   GET /healthz   200 while the process is alive (liveness)
//   GET /readyz    200 when `ready()` says so, else 503 (readiness)
//
//   auto http = MetricsHttpServer::Start("0.0.0.0:9464", {registry, process},
//                                        [&] { return server.ready(); });
//
// Thread-safe: requests are served on the HTTP server's own threads; `ready`
// and the collectables must be safe to call from them.
#ifndef FEED_INGEST_SERVER_METRICS_HTTP_H_
#define FEED_INGEST_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

struct mg_context;
struct mg_connection;

namespace feed_ingest {

class MetricsHttpServer {
 public:
  // `listen` is host:port; port 0 picks a free one (see port()).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
      std::function<bool()> ready);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  static int ServeMetrics(mg_connection* conn, void* self);
  static int ServeHealthz(mg_connection* conn, void* self);
  static int ServeReadyz(mg_connection* conn, void* self);

  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::function<bool()> ready_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_METRICS_HTTP_H_
