#include "kafka_sink.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "clock.h"
#include "logging.h"

namespace feed_ingest {
namespace {

constexpr int64_t kPublishEveryNs = 50'000'000;  // Metrics flush: 20 times a second.
constexpr size_t kBatchesPerRound = 64;          // Then serve delivery reports.
constexpr absl::Duration kPurgeGrace = absl::Seconds(5);
constexpr int64_t kFailureLogEveryNs = 10'000'000'000;  // One line per 10 s at most.

struct RdKafkaConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};

absl::Status SetConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka property ", key, ": ", err));
  }
  return absl::OkStatus();
}

}  // namespace

KafkaSink::KafkaSink(KafkaSinkOptions options, IngestMetrics* metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      ring_(options_.ring_capacity),
      latency_(IngestMetrics::LatencyBuckets()),
      lag_(IngestMetrics::EventLagBuckets()),
      stats_(metrics->registry(), options_.topic) {}

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Create(KafkaSinkOptions options,
                                                             IngestMetrics* metrics) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("no Kafka brokers given");
  if (options.topic.empty()) return absl::InvalidArgumentError("no Kafka topic given");
  std::unique_ptr<KafkaSink> sink(new KafkaSink(std::move(options), metrics));
  std::unique_ptr<rd_kafka_conf_t, RdKafkaConfDeleter> conf(rd_kafka_conf_new());
  const std::pair<std::string, std::string> defaults[] = {
      {"bootstrap.servers", sink->options_.brokers},
      {"client.id", "feed-ingest"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.codec", "snappy"},
      {"partitioner", "murmur2_random"},
      {"linger.ms", "5"},
      // Never create the topic by producing to it: a typo in --topic must
      // fail at start, not make a new topic with the broker's defaults.
      {"allow.auto.create.topics", "false"},
      // Delivery reports carry only what OnDelivery reads.
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
    if (auto s = SetConf(conf.get(), key, value); !s.ok()) return s;
  }
  if (sink->options_.msk_tokens) {
    for (const auto& [key, value] :
         {std::pair<const char*, const char*>{"security.protocol", "SASL_SSL"},
          {"sasl.mechanisms", "OAUTHBEARER"}}) {
      if (auto s = SetConf(conf.get(), key, value); !s.ok()) return s;
    }
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf.get(), &KafkaSink::OnTokenRefresh);
    rd_kafka_conf_enable_sasl_queue(conf.get(), 1);
  }
  for (const auto& [key, value] : sink->options_.extra_config) {
    if (auto s = SetConf(conf.get(), key, value); !s.ok()) return s;
  }
  rd_kafka_conf_set_opaque(conf.get(), sink.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::OnError);
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaSink::OnLog);
  rd_kafka_conf_set_stats_cb(conf.get(), &KafkaSink::OnStats);

  // Kept to build the producer again after a fatal error.
  sink->conf_ = rd_kafka_conf_dup(conf.get());
  if (absl::Status s = sink->NewProducer(); !s.ok()) return s;
  metrics->ring_capacity().Set(static_cast<double>(sink->ring_.capacity()));
  return sink;
}

absl::Status KafkaSink::NewProducer() {
  char err[512];
  // On success rd_kafka_new() owns the configuration it is given: a copy.
  rd_kafka_conf_t* conf = rd_kafka_conf_dup(conf_);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("Kafka producer: ", err));
  }
  if (options_.msk_tokens) {
    if (rd_kafka_error_t* e = rd_kafka_sasl_background_callbacks_enable(rk_)) {
      absl::Status s =
          absl::InternalError(absl::StrCat("MSK IAM token refresh: ", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
      return s;
    }
  }
  return absl::OkStatus();
}

void KafkaSink::Rebuild() {
  // Every record the old producer holds is failed (and its caller told to
  // retry) before the producer goes: none may be answered as accepted.
  if (blocked_ != nullptr) {
    FailRemaining(blocked_, RD_KAFKA_RESP_ERR__FATAL);
    blocked_ = nullptr;
  }
  rd_kafka_purge(
      rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
  const absl::Time deadline = absl::Now() + kPurgeGrace;
  while (rd_kafka_outq_len(rk_) > 0 && absl::Now() < deadline) {
    ReadClocks();
    rd_kafka_poll(rk_, 10);
  }
  const int lost_track = rd_kafka_outq_len(rk_);
  rd_kafka_topic_destroy(rkt_);
  rd_kafka_destroy(rk_);
  rkt_ = nullptr;
  if (absl::Status s = NewProducer(); !s.ok()) {
    // The same configuration built the first producer; this cannot fail
    // short of memory exhaustion.
    Log(LogLevel::kError, "Kafka producer could not be rebuilt", {{"error", s.ToString()}});
    std::abort();
  }
  rkt_ = rd_kafka_topic_new(rk_, options_.topic.c_str(), nullptr);
  fatal_ = false;
  metrics_->producer_rebuilds().Increment();
  Log(LogLevel::kWarning, "Kafka producer rebuilt after a fatal error",
      {{"unsettled_records", absl::StrCat(lost_track)}});
}

KafkaSink::~KafkaSink() {
  if (thread_.joinable()) Shutdown(absl::Now(), absl::Now() + kPurgeGrace);
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
  if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
}

absl::Status KafkaSink::EnsureTopic(absl::Duration timeout, const TopicSpec* create) {
  const absl::Time deadline = absl::Now() + timeout;
  bool create_sent = false;
  for (;;) {
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const struct rd_kafka_metadata* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 1, nullptr, &md, wait_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("no Kafka broker at ", options_.brokers,
                                                 " answered within ", absl::FormatDuration(timeout),
                                                 ": ", rd_kafka_err2str(err)));
    }
    rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    int partitions = 0;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (options_.topic == md->topics[i].topic) {
        topic_err = md->topics[i].err;
        partitions = md->topics[i].partition_cnt;
      }
    }
    rd_kafka_metadata_destroy(md);
    if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && partitions > 0) {
      Log(LogLevel::kInfo, "Kafka topic found",
          {{"topic", options_.topic}, {"partitions", absl::StrCat(partitions)}});
      return absl::OkStatus();
    }
    if (topic_err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
        topic_err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
        topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::FailedPreconditionError(absl::StrCat(
          "Kafka topic ", options_.topic, " cannot be used: ", rd_kafka_err2str(topic_err)));
    }
    if (create == nullptr) {
      return absl::NotFoundError(absl::StrCat("Kafka topic ", options_.topic,
                                              " does not exist; create it, or start with "
                                              "--create-topic"));
    }
    if (!create_sent) {
      create_sent = true;
      char errstr[512];
      rd_kafka_NewTopic_t* nt =
          rd_kafka_NewTopic_new(options_.topic.c_str(), create->partitions,
                                create->replication_factor, errstr, sizeof(errstr));
      if (nt == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("topic settings: ", errstr));
      }
      rd_kafka_NewTopic_set_config(nt, "retention.ms", absl::StrCat(create->retention_ms).c_str());
      rd_kafka_NewTopic_set_config(nt, "compression.type", create->compression.c_str());
      rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
      rd_kafka_AdminOptions_t* admin =
          rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
      rd_kafka_AdminOptions_set_request_timeout(admin, wait_ms, errstr, sizeof(errstr));
      rd_kafka_AdminOptions_set_operation_timeout(admin, wait_ms, errstr, sizeof(errstr));
      rd_kafka_CreateTopics(rk_, &nt, 1, admin, queue);
      rd_kafka_AdminOptions_destroy(admin);
      // The admin request times out by itself; the extra second lets its
      // verdict arrive.
      rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, wait_ms + 1000);
      absl::Status result = absl::OkStatus();
      if (ev == nullptr) {
        result = absl::UnavailableError("Kafka did not answer the topic creation in time");
      } else {
        size_t n = 0;
        const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t** topics =
            res != nullptr ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
        if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          result = absl::UnavailableError(
              absl::StrCat("creating topic: ", rd_kafka_event_error_string(ev)));
        } else if (n == 1 && rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
                   rd_kafka_topic_result_error(topics[0]) !=
                       RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          result = absl::FailedPreconditionError(
              absl::StrCat("creating topic ", options_.topic, ": ",
                           rd_kafka_topic_result_error_string(topics[0])));
        }
        rd_kafka_event_destroy(ev);
      }
      rd_kafka_queue_destroy(queue);
      rd_kafka_NewTopic_destroy(nt);
      if (!result.ok()) return result;
      Log(LogLevel::kInfo, "Kafka topic created",
          {{"topic", options_.topic},
           {"partitions", absl::StrCat(create->partitions)},
           {"replication_factor", absl::StrCat(create->replication_factor)}});
    }
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("Kafka topic ", options_.topic, " did not appear in time"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

void KafkaSink::Start() {
  // Only now: a topic handle makes the producer ask for the topic by name.
  rkt_ = rd_kafka_topic_new(rk_, options_.topic.c_str(), nullptr);
  thread_ = std::thread([this] { Run(); });
}

SubmitResult KafkaSink::TrySubmit(IngestBatch* batch) {
  submitters_.fetch_add(1, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    submitters_.fetch_sub(1, std::memory_order_seq_cst);
    return SubmitResult::kClosed;
  }
  batch->Arm();
  const bool pushed = ring_.TryPush(std::move(batch));
  submitters_.fetch_sub(1, std::memory_order_seq_cst);
  return pushed ? SubmitResult::kQueued : SubmitResult::kFull;
}

void KafkaSink::Shutdown(absl::Time flush_deadline, absl::Time hard_deadline) {
  if (!thread_.joinable()) return;
  flush_deadline_ns_.store(absl::ToUnixNanos(flush_deadline), std::memory_order_relaxed);
  hard_deadline_ns_.store(absl::ToUnixNanos(hard_deadline), std::memory_order_relaxed);
  // Release: the deadlines above are visible to the thread that sees stop_.
  stop_.store(true, std::memory_order_release);
  thread_.join();
}

bool KafkaSink::Produce(IngestBatch* batch) {
  // Once the last record settles the worker may free the batch: read nothing
  // from it after that, hence the local copies.
  const size_t n = batch->records.size();
  IngestBatch::Record* const records = batch->records.data();
  while (next_ < n) {
    IngestBatch::Record& r = records[next_];
    const auto& item = batch->item(r);
    const absl::string_view value = batch->value(r);
    rd_kafka_headers_t* headers = rd_kafka_headers_new(2);
    rd_kafka_header_add(headers, "content-type", -1, "application/json", 16);
    if (!item.event_id().empty()) {
      rd_kafka_header_add(headers, "event-id", -1, item.event_id().data(),
                          static_cast<ssize_t>(item.event_id().size()));
    }
    // No copy flag: the batch keeps key and value alive until the report.
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(0),
                          RD_KAFKA_V_KEY(item.user_id().data(), item.user_id().size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(&r), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++next_;
      continue;
    }
    rd_kafka_headers_destroy(headers);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
    // Refused before queueing (too large, unknown partition, fatal error):
    // settle it now, as a delivery report would.
    metrics_->DeliveryFailures(rd_kafka_err2name(err)).Increment();
    ++unlogged_failures_;
    last_failure_ = err;
    ++next_;
    r.batch->Settle(&r, err);
  }
  next_ = 0;
  return true;
}

void KafkaSink::FailRemaining(IngestBatch* batch, rd_kafka_resp_err_t err) {
  const size_t n = batch->records.size();
  IngestBatch::Record* const records = batch->records.data();
  metrics_->DeliveryFailures(rd_kafka_err2name(err)).Increment(static_cast<double>(n - next_));
  unlogged_failures_ += n - next_;
  last_failure_ = err;
  for (size_t i = next_; i < n; ++i) records[i].batch->Settle(&records[i], err);
  next_ = 0;
}

void KafkaSink::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  auto* record = static_cast<IngestBatch::Record*>(msg->_private);
  IngestBatch* batch = record->batch;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++self->delivered_;
    // The clocks are read once per poll: reports served together arrived
    // together, and a clock read per record costs more than the rest here.
    self->latency_.Observe(static_cast<double>(self->poll_mono_ns_ - batch->received_ns) * 1e-9);
    const auto& ts = batch->item(*record).timestamp();
    const double event_s = static_cast<double>(ts.seconds()) + ts.nanos() * 1e-9;
    self->lag_.Observe(std::max(0.0, self->poll_wall_s_ - event_s));
  } else {
    self->metrics_->DeliveryFailures(rd_kafka_err2name(msg->err)).Increment();
    ++self->unlogged_failures_;
    self->last_failure_ = msg->err;
  }
  batch->Settle(record, msg->err,
                msg->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
                    rd_kafka_message_status(msg) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED);
}

void KafkaSink::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    static_cast<KafkaSink*>(opaque)->SetReachable(false);
  }
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
    Log(LogLevel::kError, "Kafka producer fatal error; it will be rebuilt",
        {{"error", rd_kafka_err2name(orig)}, {"reason", buf}});
    auto* self = static_cast<KafkaSink*>(opaque);
    self->fatal_ = true;
    self->SetReachable(false, "the producer hit a fatal error");
    return;
  }
  Log(LogLevel::kWarning, "Kafka error", {{"error", rd_kafka_err2name(code)}, {"reason", reason}});
}

void KafkaSink::OnLog(const rd_kafka_t* /*rk*/, int level, const char* fac, const char* buf) {
  // Connection failures also reach OnError, which logs them once.
  if (std::string_view(fac) == "FAIL") return;
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  const LogLevel lv = level <= 3   ? LogLevel::kError
                      : level == 4 ? LogLevel::kWarning
                      : level <= 6 ? LogLevel::kInfo
                                   : LogLevel::kDebug;
  Log(lv, "librdkafka", {{"facility", fac}, {"detail", buf}});
}

int KafkaSink::OnStats(rd_kafka_t* /*rk*/, char* json, size_t len, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  absl::StatusOr<bool> any_up = self->stats_.Apply(absl::string_view(json, len));
  if (any_up.ok()) {
    self->SetReachable(*any_up);
  } else {
    Log(LogLevel::kWarning, "cannot read librdkafka statistics",
        {{"error", std::string(any_up.status().message())}});
  }
  return 0;  // librdkafka frees `json`.
}

void KafkaSink::OnTokenRefresh(rd_kafka_t* rk, const char* /*config*/, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
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

void KafkaSink::SetReachable(bool reachable, const char* why) {
  if (reachable == reachable_) return;
  reachable_ = reachable;
  Log(reachable ? LogLevel::kInfo : LogLevel::kError,
      reachable ? "Kafka reachable again" : absl::StrCat("Kafka unusable: ", why),
      {{"brokers", options_.brokers}});
  if (options_.on_reachability) options_.on_reachability(reachable);
}

void KafkaSink::LogFailures() {
  last_failure_log_ns_ = MonotonicNanos();
  const auto err = static_cast<rd_kafka_resp_err_t>(last_failure_);
  Log(LogLevel::kWarning, "Kafka did not take records; their callers were told to retry",
      {{"records", absl::StrCat(unlogged_failures_)},
       {"last_error", rd_kafka_err2name(err)},
       {"detail", rd_kafka_err2str(err)}});
  unlogged_failures_ = 0;
}

void KafkaSink::ReadClocks() {
  poll_mono_ns_ = MonotonicNanos();
  poll_wall_s_ = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
}

void KafkaSink::PublishMetrics() {
  if (unlogged_failures_ > 0 && MonotonicNanos() - last_failure_log_ns_ >= kFailureLogEveryNs) {
    LogFailures();
  }
  last_publish_ns_ = MonotonicNanos();
  metrics_->ring_depth().Set(static_cast<double>(ring_.SizeApprox()));
  metrics_->kafka_queue_messages().Set(static_cast<double>(rd_kafka_outq_len(rk_)));
  if (delivered_ > 0) {
    metrics_->delivered().Increment(static_cast<double>(delivered_));
    delivered_ = 0;
  }
  latency_.PublishTo(metrics_->delivery_latency());
  lag_.PublishTo(metrics_->event_lag());
}

void KafkaSink::Run() {
  for (;;) {
    size_t produced = 0;
    if (blocked_ != nullptr) {
      if (Produce(blocked_)) blocked_ = nullptr;
    }
    IngestBatch* batch = nullptr;
    while (blocked_ == nullptr && produced < kBatchesPerRound && ring_.TryPop(&batch)) {
      ++produced;
      if (!Produce(batch)) blocked_ = batch;
    }
    // Serves delivery reports. Wait a little only when there is nothing to
    // produce, or when librdkafka's queue is full and must drain first.
    ReadClocks();
    rd_kafka_poll(rk_, (produced == 0 || blocked_ != nullptr) ? 1 : 0);
    if (fatal_) Rebuild();
    if (MonotonicNanos() - last_publish_ns_ >= kPublishEveryNs) PublishMetrics();

    if (stop_.load(std::memory_order_acquire)) {
      const absl::Time deadline =
          absl::FromUnixNanos(flush_deadline_ns_.load(std::memory_order_relaxed));
      const bool idle =
          blocked_ == nullptr && ring_.SizeApprox() == 0 && rd_kafka_outq_len(rk_) == 0;
      if (idle || absl::Now() >= deadline) {
        Drain(deadline, absl::FromUnixNanos(hard_deadline_ns_.load(std::memory_order_relaxed)));
        PublishMetrics();
        if (unlogged_failures_ > 0) LogFailures();
        return;
      }
    }
  }
}

void KafkaSink::Drain(absl::Time deadline, absl::Time hard_deadline) {
  closed_.store(true, std::memory_order_seq_cst);
  // A TrySubmit() that read closed_ == false may still be pushing: let it
  // finish, so its batch is seen below.
  while (submitters_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();

  // Produce what is left while time remains, then give up on the rest.
  IngestBatch* batch = nullptr;
  for (;;) {
    if (blocked_ != nullptr) {
      if (absl::Now() >= deadline) {
        FailRemaining(blocked_, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
      } else if (!Produce(blocked_)) {
        ReadClocks();
        rd_kafka_poll(rk_, 1);
        continue;
      }
      blocked_ = nullptr;
    }
    if (!ring_.TryPop(&batch)) break;
    if (absl::Now() >= deadline) {
      FailRemaining(batch, RD_KAFKA_RESP_ERR__PURGE_QUEUE);
    } else if (!Produce(batch)) {
      blocked_ = batch;
    }
  }
  while (rd_kafka_outq_len(rk_) > 0 && absl::Now() < deadline) {
    ReadClocks();
    rd_kafka_poll(rk_, 10);
  }

  const int left = rd_kafka_outq_len(rk_);
  if (left > 0) {
    Log(LogLevel::kWarning, "Kafka did not acknowledge everything before the shutdown deadline",
        {{"messages", absl::StrCat(left)}});
    // Messages still queued or in flight fail with _PURGE_QUEUE or
    // _PURGE_INFLIGHT; their callers are told to retry.
    rd_kafka_purge(
        rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
    while (rd_kafka_outq_len(rk_) > 0 && absl::Now() < hard_deadline) {
      ReadClocks();
      rd_kafka_poll(rk_, 10);
    }
    if (rd_kafka_outq_len(rk_) > 0) {
      Log(LogLevel::kError, "Kafka messages still unsettled after purging",
          {{"messages", absl::StrCat(rd_kafka_outq_len(rk_))}});
    }
  }
  ReadClocks();
  rd_kafka_poll(rk_, 0);
}

}  // namespace feed_ingest
