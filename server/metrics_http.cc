#include "metrics_http.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "civetweb.h"
#include "prometheus/text_serializer.h"

namespace feed_ingest {
namespace {

void Reply(mg_connection* conn, int status, const char* reason, const char* content_type,
           const std::string& body) {
  const std::string head =
      absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", content_type,
                   "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  mg_write(conn, body.data(), body.size());
}

constexpr char kWorkerThreads[] = "64";
constexpr char kRequestTimeoutMs[] = "250";

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
    std::function<bool()> ready) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->collectables_ = std::move(collectables);
  server->ready_ = std::move(ready);
  // Each connection holds a worker thread until its request is read, so idle
  // or trickling clients could starve the scraper and the orchestrator's
  // probes. A request's headers must arrive within request_timeout_ms in
  // all: 100 such connections hold the 64 workers for two rounds of 250 ms
  // at most, and a real request waits no longer than that.
  const char* options[] = {
      "listening_ports", listen.c_str(),     "num_threads", kWorkerThreads, "request_timeout_ms",
      kRequestTimeoutMs, "connection_queue", "256",         nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  // civetweb prints its own start-up errors; ours below says what failed.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  server->ctx_ = mg_start(&callbacks, server.get(), options);
  if (server->ctx_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": the address is in use or invalid"));
  }
  mg_set_request_handler(server->ctx_, "/metrics$", &MetricsHttpServer::ServeMetrics, server.get());
  mg_set_request_handler(server->ctx_, "/healthz$", &MetricsHttpServer::ServeHealthz, server.get());
  mg_set_request_handler(server->ctx_, "/readyz$", &MetricsHttpServer::ServeReadyz, server.get());
  mg_server_port ports[4];
  const int n = mg_get_server_ports(server->ctx_, 4, ports);
  if (n > 0) server->port_ = ports[0].port;
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

int MetricsHttpServer::ServeMetrics(mg_connection* conn, void* self) {
  auto* server = static_cast<MetricsHttpServer*>(self);
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : server->collectables_) {
    auto collected = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(collected.begin()),
                    std::make_move_iterator(collected.end()));
  }
  Reply(conn, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
        prometheus::TextSerializer().Serialize(families));
  return 200;
}

int MetricsHttpServer::ServeHealthz(mg_connection* conn, void* /*self*/) {
  Reply(conn, 200, "OK", "text/plain", "ok\n");
  return 200;
}

int MetricsHttpServer::ServeReadyz(mg_connection* conn, void* self) {
  auto* server = static_cast<MetricsHttpServer*>(self);
  if (server->ready_()) {
    Reply(conn, 200, "OK", "text/plain", "ready\n");
    return 200;
  }
  Reply(conn, 503, "Service Unavailable", "text/plain", "not ready\n");
  return 503;
}

}  // namespace feed_ingest
