#include "topic_tail.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "librdkafka/rdkafka.h"

namespace feed_ingest {

absl::Status TailTopic(const TailOptions& options,
                       const std::function<bool(const TailedRecord&)>& on_record) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<std::string, std::string> defaults[] = {
      {"bootstrap.servers", options.brokers},
      {"group.id", "feed-ingest-tail"},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "false"},
  };
  for (const auto& [k, v] : defaults)
    rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err));
  for (const auto& [k, v] : options.kafka_config) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("Kafka property ", k, ": ", err));
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("Kafka consumer: ", err));
  }
  absl::Status result = absl::OkStatus();
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, options.topic.c_str(), nullptr);
  const struct rd_kafka_metadata* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
  int partitions = 0;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (options.topic == md->topics[i].topic && md->topics[i].err == 0) {
        partitions = md->topics[i].partition_cnt;
      }
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = absl::UnavailableError(
        absl::StrCat("no broker at ", options.brokers, " answered: ", rd_kafka_err2str(e)));
  } else if (partitions == 0) {
    result = absl::NotFoundError(absl::StrCat("topic ", options.topic, " not found"));
  }
  if (result.ok()) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list, options.topic.c_str(), p)->offset =
          options.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    uint64_t seen = 0;
    absl::Time last = absl::Now();
    bool more = true;
    while (more && (options.max_records == 0 || seen < options.max_records)) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m == nullptr) {
        if (absl::Now() - last > options.idle_timeout) break;
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_message_destroy(m);
        continue;
      }
      last = absl::Now();
      TailedRecord r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; ++i) {
          r.headers.emplace_back(name, std::string(static_cast<const char*>(val), size));
        }
      }
      rd_kafka_message_destroy(m);
      ++seen;
      more = on_record(r);
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return result;
}

std::string FormatTailedRecord(const TailedRecord& record) {
  return absl::StrCat(
      "partition=", record.partition, " offset=", record.offset, " key=", record.key, " headers={",
      absl::StrJoin(
          record.headers, ",",
          [](std::string* out, const auto& h) { absl::StrAppend(out, h.first, "=", h.second); }),
      "} ", record.value);
}

}  // namespace feed_ingest
