#include "kafka_topic.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace feed_ingest {
namespace {

// What the cluster's topic list says about one topic.
struct TopicState {
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  int partitions = 0;
};

absl::StatusOr<TopicState> LookUp(rd_kafka_t* rk, const std::string& topic, int wait_ms) {
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, wait_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return absl::UnavailableError(rd_kafka_err2str(err));
  TopicState state;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic == md->topics[i].topic) {
      state.error = md->topics[i].err;
      state.partitions = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  return state;
}

// Sends CreateTopics and waits for its verdict. An existing topic is fine.
absl::Status Create(rd_kafka_t* rk, const std::string& topic, const TopicSpec& spec, int wait_ms) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), spec.partitions,
                                                  spec.replication_factor, errstr, sizeof(errstr));
  if (nt == nullptr) return absl::InvalidArgumentError(absl::StrCat("topic settings: ", errstr));
  rd_kafka_NewTopic_set_config(nt, "retention.ms", absl::StrCat(spec.retention_ms).c_str());
  rd_kafka_NewTopic_set_config(nt, "compression.type", spec.compression.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(admin, wait_ms, errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(admin, wait_ms, errstr, sizeof(errstr));
  rd_kafka_CreateTopics(rk, &nt, 1, admin, queue);
  rd_kafka_AdminOptions_destroy(admin);
  // The admin request times out by itself; the extra second lets its verdict
  // arrive.
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
      result =
          absl::UnavailableError(absl::StrCat("creating topic: ", rd_kafka_event_error_string(ev)));
    } else if (n == 1 && rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
               rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      result = absl::FailedPreconditionError(absl::StrCat(
          "creating topic ", topic, ": ", rd_kafka_topic_result_error_string(topics[0])));
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(nt);
  if (result.ok()) {
    Log(LogLevel::kInfo, "Kafka topic created",
        {{"topic", topic},
         {"partitions", absl::StrCat(spec.partitions)},
         {"replication_factor", absl::StrCat(spec.replication_factor)}});
  }
  return result;
}

}  // namespace

absl::Status EnsureTopic(rd_kafka_t* rk, const std::string& topic, const std::string& brokers,
                         absl::Duration timeout, const TopicSpec* create, const Clock& clock) {
  const int64_t deadline_ns = clock.MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  auto wait_ms = [&] {
    return static_cast<int>(
        std::max<int64_t>(1, (deadline_ns - clock.MonotonicNanos()) / 1'000'000));
  };
  bool create_sent = false;
  for (;;) {
    absl::StatusOr<TopicState> state = LookUp(rk, topic, wait_ms());
    if (!state.ok()) {
      return absl::UnavailableError(absl::StrCat("no Kafka broker at ", brokers,
                                                 " answered within ", absl::FormatDuration(timeout),
                                                 ": ", state.status().message()));
    }
    if (state->error == RD_KAFKA_RESP_ERR_NO_ERROR && state->partitions > 0) {
      Log(LogLevel::kInfo, "Kafka topic found",
          {{"topic", topic}, {"partitions", absl::StrCat(state->partitions)}});
      return absl::OkStatus();
    }
    if (state->error != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
        state->error != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
        state->error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::FailedPreconditionError(
          absl::StrCat("Kafka topic ", topic, " cannot be used: ", rd_kafka_err2str(state->error)));
    }
    if (create == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "Kafka topic ", topic, " does not exist; create it, or start with --create-topic"));
    }
    if (!create_sent) {
      create_sent = true;
      if (absl::Status s = Create(rk, topic, *create, wait_ms()); !s.ok()) return s;
    }
    if (clock.MonotonicNanos() >= deadline_ns) {
      return absl::UnavailableError(absl::StrCat("Kafka topic ", topic, " did not appear in time"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace feed_ingest
