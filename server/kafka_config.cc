#include "kafka_config.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace feed_ingest {
namespace {

absl::Status SetConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka property ", key, ": ", err));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaConfig>> KafkaConfig::Create(KafkaOptions options,
                                                                 KafkaEvents* events,
                                                                 IngestMetrics* metrics) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("no Kafka brokers given");
  if (options.topic.empty()) return absl::InvalidArgumentError("no Kafka topic given");
  std::unique_ptr<KafkaConfig> config(new KafkaConfig(std::move(options), events, metrics));
  config->conf_ = rd_kafka_conf_new();
  rd_kafka_conf_t* const conf = config->conf_;
  const std::pair<std::string, std::string> defaults[] = {
      {"bootstrap.servers", config->options_.brokers},
      {"client.id", "feed-ingest"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.codec", "snappy"},
      {"partitioner", "murmur2_random"},
      {"linger.ms", "5"},
      // Never create the topic by producing to it: a typo in --topic must
      // fail at start, not make a new topic with the broker's defaults.
      {"allow.auto.create.topics", "false"},
      // Every delivery report: an answer waits for each of its records.
      {"delivery.report.only.error", "false"},
      {"message.timeout.ms", "60000"},
      // Broker state, RTT and request errors for metrics and readiness.
      {"statistics.interval.ms", "2000"},
      // After an outage, retry brokers at least every 2 s (librdkafka's
      // default backs off to 10 s), so service resumes soon after Kafka does.
      {"reconnect.backoff.max.ms", "2000"},
      // The producer's queue, bounded in messages and in bytes (librdkafka's
      // byte bound is 1 GiB): at most ~64 MiB of records wait in it, and when
      // it is full callers are told RESOURCE_EXHAUSTED or their stream waits.
      {"queue.buffering.max.messages", "100000"},
      {"queue.buffering.max.kbytes", "65536"},
      // A broker that takes the TCP connection but never finishes the
      // handshake is given up after 10 s (librdkafka: 30 s), well inside
      // message.timeout.ms, so another broker can be tried.
      {"socket.connection.setup.timeout.ms", "10000"},
  };
  for (const auto& [key, value] : defaults) {
    if (auto s = SetConf(conf, key, value); !s.ok()) return s;
  }
  if (config->options_.msk_tokens) {
    for (const auto& [key, value] :
         {std::pair<const char*, const char*>{"security.protocol", "SASL_SSL"},
          {"sasl.mechanisms", "OAUTHBEARER"}}) {
      if (auto s = SetConf(conf, key, value); !s.ok()) return s;
    }
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, &KafkaConfig::OnTokenRefresh);
    rd_kafka_conf_enable_sasl_queue(conf, 1);
  }
  for (const auto& [key, value] : config->options_.extra_config) {
    if (auto s = SetConf(conf, key, value); !s.ok()) return s;
  }
  rd_kafka_conf_set_opaque(conf, config.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaConfig::OnDelivery);
  rd_kafka_conf_set_error_cb(conf, &KafkaConfig::OnError);
  rd_kafka_conf_set_log_cb(conf, &KafkaConfig::OnLog);
  rd_kafka_conf_set_stats_cb(conf, &KafkaConfig::OnStats);
  return config;
}

KafkaConfig::~KafkaConfig() {
  if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
}

absl::StatusOr<rd_kafka_t*> KafkaConfig::NewProducer() const {
  char err[512];
  // On success rd_kafka_new() owns the configuration it is given: a copy.
  rd_kafka_conf_t* conf = rd_kafka_conf_dup(conf_);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("Kafka producer: ", err));
  }
  if (options_.msk_tokens) {
    if (rd_kafka_error_t* e = rd_kafka_sasl_background_callbacks_enable(rk)) {
      absl::Status s =
          absl::InternalError(absl::StrCat("MSK IAM token refresh: ", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
      rd_kafka_destroy(rk);
      return s;
    }
  }
  return rk;
}

void KafkaConfig::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<KafkaConfig*>(opaque)->events_->OnDelivery(*msg);
}

void KafkaConfig::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  static_cast<KafkaConfig*>(opaque)->events_->OnError(rk, static_cast<rd_kafka_resp_err_t>(err),
                                                      reason);
}

int KafkaConfig::OnStats(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  static_cast<KafkaConfig*>(opaque)->events_->OnStats(absl::string_view(json, len));
  return 0;  // librdkafka frees `json`.
}

void KafkaConfig::OnLog(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  // Connection failures also reach OnError, which logs them once.
  if (std::string_view(fac) == "FAIL") return;
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  const LogLevel lv = level <= 3   ? LogLevel::kError
                      : level == 4 ? LogLevel::kWarning
                      : level <= 6 ? LogLevel::kInfo
                                   : LogLevel::kDebug;
  Log(lv, "librdkafka", {{"facility", fac}, {"detail", buf}});
}

void KafkaConfig::OnTokenRefresh(rd_kafka_t* rk, const char* /*config*/, void* opaque) {
  auto* self = static_cast<KafkaConfig*>(opaque);
  absl::StatusOr<msk::MskToken> token = self->options_.msk_tokens->Generate();
  char err[512] = "";
  if (token.ok() && rd_kafka_oauthbearer_set_token(rk, token->token.c_str(), token->lifetime_ms,
                                                   token->principal.c_str(), nullptr, 0, err,
                                                   sizeof(err)) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->metrics_->msk_token_expiry().Set(static_cast<double>(token->lifetime_ms) / 1000);
    Log(LogLevel::kInfo, "MSK IAM token refreshed",
        {{"principal", token->principal},
         {"expires",
          absl::FormatTime(absl::FromUnixMillis(token->lifetime_ms), absl::UTCTimeZone())}});
    return;
  }
  // Neither message holds a secret: providers and the signer keep them out.
  const std::string why = token.ok() ? std::string(err) : std::string(token.status().message());
  self->metrics_->msk_token_refresh_failures().Increment();
  Log(LogLevel::kError, "MSK IAM token refresh failed", {{"error", why}});
  rd_kafka_oauthbearer_set_token_failure(rk, why.c_str());
}

}  // namespace feed_ingest
