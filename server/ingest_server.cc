#include "ingest_server.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "embedded_broker.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "librdkafka/rdkafka.h"
#include "memory_dedup_store.h"
#include "msk/credentials_chain.h"
#include "process_metrics.h"
#include "stages/admit.h"
#include "stages/authenticate.h"
#include "stages/budget.h"
#include "stages/dedup.h"
#include "stages/encode.h"
#include "stages/quota.h"
#include "stages/submit.h"
#include "stages/validate.h"

namespace feed_ingest {
namespace {

constexpr char kServiceName[] = "feed.interactions.v1.InteractionIngest";
constexpr char kEmbeddedBrokers[] = "embedded";
constexpr absl::Duration kQuietBeforeShutdown = absl::Milliseconds(200);
constexpr absl::Duration kQuietAtMost = absl::Seconds(1);

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

void ApplyLimits(const GrpcLimits& l, int64_t quota_bytes, grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(l.max_receive_message_bytes);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, l.max_concurrent_streams);
  // Each stream's flow-control window stays at 64 KiB: a stream the service
  // does not read (no memory for it, or a client that reads no answers) holds
  // at most that much in gRPC's buffers. With BDP probing the window would
  // grow to megabytes, until gRPC's quota ran out and it began cancelling
  // calls whose answers were owed.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
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
  quota.Resize(static_cast<size_t>(quota_bytes));
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
  clock_ = options_.clock != nullptr ? options_.clock : &Clock::Real();
  if (absl::Status s = StartHotKeys(); !s.ok()) return s;
  const bool overflow = hot_keys_ != nullptr && hot_key_action_ == HotKeyStage::Action::kOverflow;
  brokers_ = options_.brokers;
  if (brokers_.empty()) {
    // A deployment that lost its broker list must not answer "accepted" for
    // events held only in memory.
    return absl::InvalidArgumentError(
        "no Kafka brokers: give --brokers=host:port,... (FEED_INGEST_BROKERS), or "
        "--brokers=embedded for the in-memory development broker");
  }
  if (brokers_ == kEmbeddedBrokers) {
    EmbeddedBrokerOptions broker_options;
    broker_options.topic = options_.topic;
    if (overflow) broker_options.more_topics.push_back(options_.hot_key.overflow_topic);
    auto broker = EmbeddedBroker::Start(broker_options);
    if (!broker.ok()) return broker.status();
    embedded_ = *std::move(broker);
    brokers_ = embedded_->bootstrap();
    Log(LogLevel::kWarning,
        "embedded broker started (--brokers=embedded): in memory, for development only; "
        "give --brokers=host:port,... for real Kafka",
        {{"bootstrap", brokers_}, {"topic", options_.topic}, {"partitions", "6"}});
  }

  registry_ = std::make_shared<prometheus::Registry>();
  metrics_ = std::make_unique<IngestMetrics>(*registry_);
  metrics_->PublishBuildInfo(grpc::Version(), rd_kafka_version_str());
  // --memory-limit, shared out: gRPC's buffers, librdkafka's queue (whose
  // records are also the requests' own, so counted there too), and the rest
  // for the requests and answers in between.
  const int64_t grpc_quota_bytes = options_.grpc.memory_quota_bytes > 0
                                       ? options_.grpc.memory_quota_bytes
                                       : options_.memory_limit / 4;
  if (grpc_quota_bytes >= options_.memory_limit) {
    return absl::InvalidArgumentError(
        "--memory-quota-bytes must be less than --memory-limit, which it is a part of");
  }
  budget_ = std::make_unique<MemoryBudget>(options_.memory_limit - grpc_quota_bytes);
  metrics_->memory_limit().Set(static_cast<double>(options_.memory_limit));

  if (!options_.metrics_listen.empty()) {
    auto http = MetricsHttpServer::Start(options_.metrics_listen,
                                         {registry_, std::make_shared<ProcessMetrics>(),
                                          std::make_shared<MemoryMetrics>(budget_.get())},
                                         [this] { return ready(); });
    if (!http.ok()) return http.status();
    http_ = *std::move(http);
  }

  KafkaProducerOptions producer_options;
  producer_options.kafka.brokers = brokers_;
  producer_options.kafka.queue_bytes = options_.memory_limit / 4;
  producer_options.kafka.topic = options_.topic;
  if (overflow) producer_options.kafka.overflow_topic = options_.hot_key.overflow_topic;
  producer_options.kafka.content_type_header = options_.content_type_header;
  producer_options.kafka.extra_config = options_.kafka_config;
  producer_options.ring_capacity = options_.ring_capacity;
  producer_options.clock = clock_;
  if (options_.kafka_auth == "msk-iam") {
    if (options_.aws_region.empty()) {
      return absl::InvalidArgumentError(
          "--kafka-auth=msk-iam needs --aws-region (or AWS_REGION / AWS_DEFAULT_REGION)");
    }
    producer_options.kafka.msk_tokens = std::make_shared<msk::MskTokenProvider>(
        std::make_shared<msk::DefaultCredentialsChain>(), options_.aws_region);
  } else if (!options_.kafka_auth.empty() && options_.kafka_auth != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("--kafka-auth: \"", options_.kafka_auth, "\" is not none or msk-iam"));
  }
  producer_options.on_reachability = [this](bool reachable) {
    kafka_reachable_.store(reachable, std::memory_order_relaxed);
    UpdateReadiness();
  };
  auto producer = KafkaProducer::Create(std::move(producer_options), metrics_.get());
  if (!producer.ok()) return producer.status();
  producer_ = *std::move(producer);
  TopicSpec spec;
  spec.replication_factor = options_.replication_factor;
  if (absl::Status s =
          producer_->EnsureTopic(options_.startup_timeout, options_.create_topic ? &spec : nullptr);
      !s.ok()) {
    return s;
  }

  if (!options_.security.auth_tokens_file.empty()) {
    auto auth = TokenAuthenticator::FromFile(options_.security.auth_tokens_file);
    if (!auth.ok()) return auth.status();
    auth_ = *std::move(auth);
  }
  validator_ = std::make_unique<InteractionValidator>(options_.limits);
  if (absl::Status s = StartDedup(); !s.ok()) return s;
  if (absl::Status s = StartQuotas(); !s.ok()) return s;

  // The admission path: one line per stage, in the order a request meets them.
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AuthenticateStage>(auth_.get()));
  stages.push_back(std::make_unique<AdmitStage>(options_.max_batch, clock_));
  if (quotas_ != nullptr) {
    stages.push_back(
        std::make_unique<QuotaStage>(quotas_.get(), quota_store_.get(), caller_metrics_.get()));
  }
  stages.push_back(std::make_unique<ValidateStage>(validator_.get(), clock_, metrics_.get()));
  stages.push_back(std::make_unique<BudgetStage>(budget_.get()));
  if (hot_keys_ != nullptr) {
    stages.push_back(
        std::make_unique<HotKeyStage>(hot_keys_.get(), hot_key_action_, clock_, *registry_));
  }
  if (dedup_store_ != nullptr) {
    stages.push_back(std::make_unique<DedupStage>(dedup_store_.get(), dedup_on_store_error_,
                                                  dedup_metrics_.get()));
  }
  stages.push_back(std::make_unique<EncodeStage>());
  stages.push_back(std::make_unique<SubmitStage>(producer_.get()));
  path_ = std::make_unique<IngestPath>(std::move(stages), metrics_.get());

  tracker_ = std::make_unique<CallTracker>(metrics_.get(), clock_);
  service_ = std::make_unique<IngestService>(path_.get(), tracker_.get(), clock_, budget_.get(),
                                             metrics_.get(), options_.service);

  auto credentials = ServerCredentials(options_.security);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, *credentials, &grpc_port_);
  ApplyLimits(options_.grpc, options_.memory_limit - budget_->limit(), &builder);
  service_->RegisterWith(&builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", options_.listen));
  }
  producer_->Start();
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
       {"ring_capacity", absl::StrCat(producer_->ring_capacity())},
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
    // Open streams check their callers again: a revoked token ends its streams.
    if (tracker_ != nullptr) tracker_->RecheckCallers();
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
  const Clock& clock = clock_ != nullptr ? *clock_ : Clock::Real();
  const int64_t start_ns = clock.MonotonicNanos();
  const Deadline deadline = Deadline::After(clock, options_.shutdown_timeout);
  // Time kept back to answer calls whose records Kafka did not take in time.
  const absl::Duration grace = std::min(absl::Seconds(2), options_.shutdown_timeout / 4);
  // True when every call was answered before the producer had to stop.
  bool drained_early = false;
  if (server_ != nullptr) {
    Log(LogLevel::kInfo, "shutting down",
        {{"calls_in_flight", absl::StrCat(tracker_->inflight())},
         {"timeout", absl::FormatDuration(options_.shutdown_timeout)}});
    shutting_down_.store(true, std::memory_order_relaxed);
    UpdateReadiness();
    tracker_->BeginDrain();
    drained_early = tracker_->WaitIdle(deadline.EarlierBy(grace));
  }
  if (producer_ != nullptr)
    producer_->Shutdown(deadline.EarlierBy(grace), deadline.EarlierBy(grace / 2));
  // Items waiting for another replica's write are not waited for any more.
  if (redis_dedup_ != nullptr) redis_dedup_->Stop();
  if (server_ != nullptr) {
    const bool idle = tracker_->WaitIdle(deadline);
    // Callers whose calls crossed the drain are told UNAVAILABLE by the
    // calls; once the server itself shuts down, a call it has not matched
    // yet would be cancelled instead.
    // Bounded: callers that retry without pause never let it be quiet.
    const Deadline quiet_until = Deadline::At(std::min(
        deadline.monotonic_nanos(), Deadline::After(clock, kQuietAtMost).monotonic_nanos()));
    tracker_->WaitQuiet(kQuietBeforeShutdown, quiet_until);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + deadline.Left(clock)));
    service_->Stop();
    Log(LogLevel::kInfo, "stopped",
        {{"took", absl::FormatDuration(absl::Nanoseconds(clock.MonotonicNanos() - start_ns))},
         {"all_calls_answered", idle ? "true" : "false"},
         {"answered_before_flush_deadline", drained_early ? "true" : "false"}});
  }
  service_.reset();
  server_.reset();
  producer_.reset();
  http_.reset();
  embedded_.reset();
}

absl::Status IngestServer::StartQuotas() {
  const QuotaOptions& o = options_.quota;
  std::vector<std::pair<std::string, QuotaSpec>> named;
  for (const std::string& q : o.named) {
    auto parsed = ParseNamedQuota(q);
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat("--quota: ", parsed.status().message()));
    named.push_back(*std::move(parsed));
  }
  std::optional<QuotaSpec> fallback;
  if (!o.default_quota.empty()) {
    auto parsed = ParseQuotaSpec(o.default_quota);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--default-quota: ", parsed.status().message()));
    }
    fallback = *parsed;
  }
  // Checked with no quota too: a typo shows at start, not when quotas are set.
  absl::StatusOr<RedisAddress> address;
  if (o.store != "local") {
    address = ParseRedisUrl(o.store);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--quota-store: not local, and ", address.status().message()));
    }
  }
  if (named.empty() && !fallback.has_value()) return absl::OkStatus();  // No quotas.
  auto quotas = Quotas::Create(std::move(named), fallback, options_.max_batch);
  if (!quotas.ok()) return quotas.status();
  quotas_ = *std::move(quotas);
  if (o.store == "local") {
    quota_store_ = std::make_unique<LocalQuotaStore>(clock_);
  } else {
    auto& errors = prometheus::BuildCounter()
                       .Name("feed_ingest_quota_store_errors_total")
                       .Help(
                           "Quota checks the Redis quota store did not answer (the request "
                           "passed unthrottled)")
                       .Register(*registry_)
                       .Add({});
    auto redis = std::make_unique<RedisQuotaStore>(*address, &errors);
    if (absl::Status s = redis->Ping(); !s.ok()) {
      // Not fatal: Redis may come up later; meanwhile requests pass.
      Log(LogLevel::kError, "quota store unreachable; requests pass unthrottled until it answers",
          {{"store", address->ToString()}, {"error", std::string(s.message())}});
    }
    quota_store_ = std::move(redis);
  }
  Log(LogLevel::kInfo, "quotas per caller",
      {{"callers", absl::StrJoin(quotas_->names(), ",")},
       {"default", o.default_quota.empty() ? "none" : o.default_quota},
       {"store", o.store}});
  caller_metrics_ = std::make_unique<CallerMetrics>(*registry_, quotas_->names());
  options_.service.identify_callers = true;
  return absl::OkStatus();
}

absl::Status IngestServer::StartHotKeys() {
  const HotKeyOptions& o = options_.hot_key;
  if (o.action == "overflow") {
    hot_key_action_ = HotKeyStage::Action::kOverflow;
  } else if (o.action == "reject") {
    hot_key_action_ = HotKeyStage::Action::kReject;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--hot-key-action: \"", o.action, "\" is not overflow or reject"));
  }
  if (o.limit.empty()) return absl::OkStatus();  // Off.
  auto limit = ParseQuotaSpec(o.limit);
  if (!limit.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--hot-key-limit: ", limit.status().message()));
  }
  if (hot_key_action_ == HotKeyStage::Action::kOverflow) {
    if (o.overflow_topic.empty()) {
      return absl::InvalidArgumentError(
          "--overflow-topic is empty: --hot-key-action=overflow needs a topic");
    }
    if (o.overflow_topic == options_.topic) {
      return absl::InvalidArgumentError(absl::StrCat("--overflow-topic is --topic (",
                                                     options_.topic,
                                                     "): a hot user's excess "
                                                     "would land where it was to be kept from"));
    }
  }
  if (o.max_keys < static_cast<int64_t>(HotKeys::kShards)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--hot-key-max-keys must be at least ", HotKeys::kShards));
  }
  hot_keys_ = std::make_unique<HotKeys>(*limit, static_cast<size_t>(o.max_keys));
  Log(LogLevel::kInfo, "hot-key limit per user_id",
      {{"limit", o.limit},
       {"action", o.action},
       {"overflow_topic",
        hot_key_action_ == HotKeyStage::Action::kOverflow ? o.overflow_topic : "none"},
       {"max_keys", absl::StrCat(o.max_keys)}});
  return absl::OkStatus();
}

absl::Status IngestServer::StartDedup() {
  const DedupOptions& o = options_.dedup;
  if (o.on_store_error == "write") {
    dedup_on_store_error_ = DedupStage::OnStoreError::kWrite;
  } else if (o.on_store_error == "reject") {
    dedup_on_store_error_ = DedupStage::OnStoreError::kReject;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--dedup-on-store-error: \"", o.on_store_error, "\" is not write or reject"));
  }
  if (o.window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--dedup-window must not be negative");
  }
  if (o.window == absl::ZeroDuration()) return absl::OkStatus();  // Off.
  dedup_metrics_ = std::make_unique<DedupMetrics>(*registry_);
  if (o.store == "memory") {
    if (o.max_entries < 1) return absl::InvalidArgumentError("--dedup-max-entries must be >= 1");
    const int64_t bytes = MemoryDedupStore::BytesFor(o.max_entries);
    if (bytes > budget_->limit() / 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dedup-max-entries=", o.max_entries, " needs ", bytes >> 20,
          " MiB, more than half of what --memory-limit leaves for requests (",
          budget_->limit() >> 20, " MiB): raise --memory-limit or lower --dedup-max-entries"));
    }
    dedup_store_ = std::make_unique<MemoryDedupStore>(o.window, o.max_entries, clock_,
                                                      budget_.get(), dedup_metrics_.get());
    Log(LogLevel::kInfo, "dedup by event_id in this process",
        {{"window", absl::FormatDuration(o.window)}, {"max_entries", absl::StrCat(o.max_entries)}});
    return absl::OkStatus();
  }
  auto address = ParseRedisUrl(o.store);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dedup-store: not memory, and ", address.status().message()));
  }
  if (o.claim_ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--dedup-claim-ttl must be at least 1s");
  }
  auto redis =
      std::make_unique<RedisDedupStore>(*address, o.window, o.claim_ttl, dedup_metrics_.get());
  if (absl::Status s = redis->Ping(); !s.ok()) {
    // Not fatal: Redis may come up later; meanwhile --dedup-on-store-error applies.
    Log(LogLevel::kError, "dedup store unreachable; requests follow --dedup-on-store-error",
        {{"store", address->ToString()},
         {"error", std::string(s.message())},
         {"on_store_error", o.on_store_error}});
  } else {
    Log(LogLevel::kInfo, "dedup by event_id in Redis",
        {{"store", address->ToString()}, {"window", absl::FormatDuration(o.window)}});
  }
  redis_dedup_ = redis.get();
  dedup_store_ = std::move(redis);
  return absl::OkStatus();
}

IngestServer::~IngestServer() { Shutdown(); }

}  // namespace feed_ingest
