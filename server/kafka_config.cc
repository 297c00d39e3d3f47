#include "kafka_config.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/numbers.h"
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

// The value librdkafka holds for `key` (aliases resolved: acks reads back as
// "-1" for all), or "" when it has none.
std::string Get(const rd_kafka_conf_t* conf, const char* key) {
  char value[256];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, key, value, &size) != RD_KAFKA_CONF_OK) return "";
  return value;
}

// Settings the contract rests on. An operator's --kafka-config may change
// anything else; these it may not, whatever spelling (alias) it uses.
absl::Status CheckContract(const rd_kafka_conf_t* conf) {
  auto refuse = [](const char* key, const std::string& value, const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kafka-config: ", key, "=", value, " is refused: ", why));
  };
  if (const std::string acks = Get(conf, "acks"); acks != "-1") {
    return refuse("acks", acks,
                  "an accepted event must be held by every in-sync replica (acks=all)");
  }
  if (const std::string v = Get(conf, "enable.idempotence"); v != "true") {
    return refuse("enable.idempotence", v,
                  "without the idempotent producer a retry can write an event twice or out of "
                  "order");
  }
  if (const std::string v = Get(conf, "delivery.report.only.error"); v != "false") {
    return refuse("delivery.report.only.error", v,
                  "every answer waits for the delivery report of each of its records");
  }
  const std::string in_flight = Get(conf, "max.in.flight.requests.per.connection");
  int64_t n = 0;
  if (!absl::SimpleAtoi(in_flight, &n) || n > 5) {
    return refuse("max.in.flight.requests.per.connection", in_flight,
                  "above 5 the idempotent producer cannot keep each partition's order");
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
      // What idempotence allows at most (librdkafka would cap it to this).
      {"max.in.flight.requests.per.connection", "5"},
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
      // byte bound is 1 GiB; ours is a share of --memory-limit), and when it
      // is full callers are told RESOURCE_EXHAUSTED or their stream waits.
      {"queue.buffering.max.messages", "100000"},
      {"queue.buffering.max.kbytes",
       absl::StrCat(std::max<int64_t>(1, config->options_.queue_bytes >> 10))},
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
  if (absl::Status s = CheckContract(conf); !s.ok()) return s;
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

int KafkaConfig::OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque) {
  static_cast<KafkaConfig*>(opaque)->events_->OnStats(rk, absl::string_view(json, len));
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
