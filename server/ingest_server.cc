#include "ingest_server.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "logging.h"
#include "msk/credentials_chain.h"
#include "process_metrics.h"

namespace feed_ingest {
namespace {

constexpr char kServiceName[] = "feed.interactions.v1.InteractionIngest";

// key=value,... with the values of secret-looking keys (passwords, secrets,
// keys, tokens, credentials) replaced, for the start-up log line.
std::string RedactedKafkaConfig(const std::vector<std::pair<std::string, std::string>>& config) {
  static constexpr const char* kSecretWords[] = {"password", "secret",     "key",
                                                 "token",    "credential", "jaas"};
  std::vector<std::string> parts;
  for (const auto& [k, v] : config) {
    bool secret = false;
    for (const char* word : kSecretWords) secret = secret || absl::StrContains(k, word);
    parts.push_back(absl::StrCat(k, "=", secret ? "[redacted]" : v));
  }
  return parts.empty() ? "default" : absl::StrJoin(parts, ",");
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const SecurityOptions& o) {
  if (o.tls_cert.empty() && o.tls_key.empty()) {
    if (!o.tls_client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert.empty() || o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  auto cert = ReadFile(o.tls_cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(o.tls_key, "--tls-key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!o.tls_client_ca.empty()) {
    auto ca = ReadFile(o.tls_client_ca, "--tls-client-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

int Millis(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), INT32_MAX));
}

void ApplyLimits(const GrpcLimits& l, grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(l.max_receive_message_bytes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, l.max_concurrent_streams);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              Millis(l.min_ping_interval));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(l.keepalive_time));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(l.keepalive_timeout));
  if (l.max_connection_idle > absl::ZeroDuration()) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(l.max_connection_idle));
  }
  if (l.max_connection_age > absl::ZeroDuration()) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(l.max_connection_age));
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                                Millis(l.max_connection_age_grace));
  }
  grpc::ResourceQuota quota("feed-ingest");
  quota.Resize(static_cast<size_t>(l.memory_quota_bytes));
  builder->SetResourceQuota(quota);
}

}  // namespace

IngestServer::IngestServer(ServerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(ServerOptions options) {
  std::unique_ptr<IngestServer> server(new IngestServer(std::move(options)));
  if (absl::Status s = server->Init(); !s.ok()) {
    server->Shutdown();
    return s;
  }
  return server;
}

absl::Status IngestServer::Init() {
  const Clock* clock = options_.clock != nullptr ? options_.clock : &real_clock_;
  brokers_ = options_.brokers;
  if (brokers_.empty()) {
    EmbeddedBrokerOptions broker_options;
    broker_options.topic = options_.topic;
    auto broker = EmbeddedBroker::Start(broker_options);
    if (!broker.ok()) return broker.status();
    embedded_ = *std::move(broker);
    brokers_ = embedded_->bootstrap();
    Log(LogLevel::kWarning,
        "embedded broker started: in memory, for development only; give --brokers for "
        "real Kafka",
        {{"bootstrap", brokers_}, {"topic", options_.topic}, {"partitions", "6"}});
  }

  registry_ = std::make_shared<prometheus::Registry>();
  metrics_ = std::make_unique<IngestMetrics>(*registry_);
  if (!options_.metrics_listen.empty()) {
    auto http = MetricsHttpServer::Start(options_.metrics_listen,
                                         {registry_, std::make_shared<ProcessMetrics>()},
                                         [this] { return ready(); });
    if (!http.ok()) return http.status();
    http_ = *std::move(http);
  }

  validator_ = std::make_unique<InteractionValidator>(options_.limits);
  KafkaSinkOptions sink_options;
  sink_options.brokers = brokers_;
  sink_options.topic = options_.topic;
  sink_options.extra_config = options_.kafka_config;
  sink_options.ring_capacity = options_.ring_capacity;
  if (options_.kafka_auth == "msk-iam") {
    if (options_.aws_region.empty()) {
      return absl::InvalidArgumentError(
          "--kafka-auth=msk-iam needs --aws-region (or AWS_REGION / AWS_DEFAULT_REGION)");
    }
    sink_options.msk_tokens = std::make_shared<msk::MskTokenProvider>(
        std::make_shared<msk::DefaultCredentialsChain>(), options_.aws_region);
  } else if (!options_.kafka_auth.empty() && options_.kafka_auth != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("--kafka-auth: \"", options_.kafka_auth, "\" is not none or msk-iam"));
  }
  sink_options.on_reachability = [this](bool reachable) {
    kafka_reachable_.store(reachable, std::memory_order_relaxed);
    UpdateReadiness();
  };
  auto sink = KafkaSink::Create(std::move(sink_options), metrics_.get());
  if (!sink.ok()) return sink.status();
  sink_ = *std::move(sink);
  TopicSpec spec;
  spec.replication_factor = options_.replication_factor;
  if (absl::Status s =
          sink_->EnsureTopic(options_.startup_timeout, options_.create_topic ? &spec : nullptr);
      !s.ok()) {
    return s;
  }

  if (!options_.security.auth_tokens_file.empty()) {
    auto auth = TokenAuthenticator::FromFile(options_.security.auth_tokens_file);
    if (!auth.ok()) return auth.status();
    auth_ = *std::move(auth);
    options_.service.auth = auth_.get();
  }
  pipeline_ = std::make_unique<IngestPipeline>(validator_.get(), sink_.get(), metrics_.get(), clock,
                                               options_.max_batch);
  service_ = std::make_unique<IngestService>(pipeline_.get(), metrics_.get(), options_.service);

  auto credentials = ServerCredentials(options_.security);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, *credentials, &grpc_port_);
  ApplyLimits(options_.grpc, &builder);
  service_->RegisterWith(&builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", options_.listen));
  }
  sink_->Start();
  service_->Start();
  serving_.store(true, std::memory_order_relaxed);
  UpdateReadiness();

  const std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  const std::string metrics_host =
      options_.metrics_listen.substr(0, options_.metrics_listen.rfind(':'));
  Log(LogLevel::kInfo, "serving",
      {{"grpc_listen", absl::StrCat(host, ":", grpc_port_)},
       {"metrics_listen",
        http_ ? absl::StrCat(metrics_host, ":", http_->port()) : std::string("off")},
       {"brokers", brokers_},
       {"topic", options_.topic},
       {"completion_queues", absl::StrCat(options_.service.completion_queues)},
       {"ring_capacity", absl::StrCat(sink_->ring_capacity())},
       {"max_batch", absl::StrCat(options_.max_batch)},
       {"interaction_types", absl::StrJoin(options_.limits.interaction_types, ",")},
       {"kafka_config", RedactedKafkaConfig(options_.kafka_config)},
       {"kafka_auth", options_.kafka_auth.empty()
                          ? std::string("none")
                          : absl::StrCat(options_.kafka_auth, " (", options_.aws_region, ")")},
       {"tls", options_.security.tls_cert.empty()
                   ? "off"
                   : (options_.security.tls_client_ca.empty() ? "on" : "mutual")},
       {"auth_tokens", auth_ ? absl::StrCat(auth_->size(), " loaded") : std::string("off")}});
  return absl::OkStatus();
}

absl::Status IngestServer::ReloadTokens() {
  if (auth_ == nullptr) {
    return absl::FailedPreconditionError("no --auth-tokens-file was given");
  }
  absl::Status s = auth_->Reload();
  if (s.ok()) {
    Log(LogLevel::kInfo, "tokens reloaded", {{"tokens", absl::StrCat(auth_->size())}});
  } else {
    Log(LogLevel::kError, "tokens not reloaded; the old ones stay",
        {{"error", std::string(s.message())}});
  }
  return s;
}

void IngestServer::UpdateReadiness() {
  absl::MutexLock lock(&readiness_mu_);
  const bool serving = ready();
  if (metrics_) metrics_->ready().Set(serving ? 1 : 0);
  if (server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

void IngestServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options_.shutdown_timeout;
  // Time kept back to answer calls whose records Kafka did not take in time.
  const absl::Duration grace = std::min(absl::Seconds(2), options_.shutdown_timeout / 4);
  // True when every call was answered before the producer had to stop.
  bool drained_early = false;
  if (server_ != nullptr) {
    Log(LogLevel::kInfo, "shutting down",
        {{"calls_in_flight", absl::StrCat(service_->inflight_calls())},
         {"timeout", absl::FormatDuration(options_.shutdown_timeout)}});
    shutting_down_.store(true, std::memory_order_relaxed);
    UpdateReadiness();
    service_->BeginDrain();
    drained_early = service_->WaitIdle(deadline - grace);
  }
  if (sink_ != nullptr) sink_->Shutdown(deadline - grace, deadline - grace / 2);
  if (server_ != nullptr) {
    const bool idle = service_->WaitIdle(deadline);
    server_->Shutdown(absl::ToChronoTime(deadline));
    service_->Stop();
    Log(LogLevel::kInfo, "stopped",
        {{"took", absl::FormatDuration(absl::Now() - start)},
         {"all_calls_answered", idle ? "true" : "false"},
         {"answered_before_flush_deadline", drained_early ? "true" : "false"}});
  }
  service_.reset();
  server_.reset();
  sink_.reset();
  http_.reset();
  embedded_.reset();
}

IngestServer::~IngestServer() { Shutdown(); }

}  // namespace feed_ingest
