// The Kafka-side limit: the same JSON records, produced straight to the
// broker with the service's librdkafka settings and no gRPC in front.
// Prints one JSON object: {"events":N,"seconds":S,"events_per_s":R,"cpu_s":C,...}
// (C: the process's own CPU, librdkafka's threads included).
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/defaults.h"
#include "common/flag_set.h"
#include "interactions_source.h"
#include "librdkafka/rdkafka.h"
#include "record_json.h"

extern char** environ;

namespace {

int delivered = 0;
int failed = 0;

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  (m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? delivered : failed)++;
}

}  // namespace

int main(int argc, char** argv) {
  std::string brokers, topic = feed_ingest::kDefaultTopic;
  int64_t count = 1000000, users = 100000;
  std::string headers = "service";
  feed_ingest::FlagSet flags("feed-ingest-raw-producer", "FEED_INGEST_RAW_");
  flags.String("brokers", &brokers, "bootstrap servers");
  flags.String("topic", &topic, "topic");
  flags.Int("count", &count, "records to produce", 1, 1LL << 32);
  flags.Int("users", &users, "distinct users (keys)", 1, 1LL << 32);
  flags.String("headers", &headers,
               "the record headers: service (what feed-ingest sends), event-id (that one only) "
               "or none");
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest);
      !s.ok() || flags.help() || brokers.empty() ||
      (headers != "service" && headers != "event-id" && headers != "none")) {
    std::fprintf(stderr, "%s\n%s", s.ok() ? "--brokers is required" : s.ToString().c_str(),
                 flags.Usage().c_str());
    return 2;
  }
  // The payloads are made before the clock starts, as the service gets them
  // ready-made from its callers.
  struct Record {
    std::string key, value, event_id;
  };
  std::vector<Record> pool;
  const absl::Time now = absl::Now();
  for (int i = 0; i < 4096; ++i) {
    auto item = feed_ingest::SyntheticInteraction(static_cast<uint64_t>(i),
                                                  static_cast<uint64_t>(users), now);
    Record r{item.user_id(), "", item.event_id()};
    feed_ingest::AppendRecordJson(item, &r.value);
    pool.push_back(std::move(r));
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const char* settings[][2] = {{"bootstrap.servers", brokers.c_str()},
                               {"enable.idempotence", "true"},
                               {"acks", "all"},
                               {"compression.codec", "snappy"},
                               {"partitioner", "murmur2_random"},
                               {"linger.ms", "5"}};
  for (auto& kv : settings) {
    if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", err);
      return 2;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", err);
    return 2;
  }
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const bool any_header = headers != "none", content_type = headers == "service";
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < count; ++i) {
    const Record& r = pool[static_cast<size_t>(i) % pool.size()];
    for (;;) {
      rd_kafka_headers_t* hdrs = nullptr;
      if (any_header) {
        hdrs = rd_kafka_headers_new(2);
        if (content_type) {
          rd_kafka_header_add(hdrs, "content-type", -1, "application/json", 16);
        }
        rd_kafka_header_add(hdrs, "event-id", -1, r.event_id.data(),
                            static_cast<ssize_t>(r.event_id.size()));
      }
      const rd_kafka_resp_err_t e =
          hdrs != nullptr ? rd_kafka_producev(
                                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(0),
                                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)
                          : rd_kafka_producev(
                                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(0),
                                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                                RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
        return 1;
      }
      rd_kafka_poll(rk, 1);
    }
    if (i % 1024 == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60000);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  std::printf(
      "{\"events\":%d,\"failed\":%d,\"seconds\":%.3f,\"events_per_s\":%.1f,\"cpu_s\":%.3f,"
      "\"headers\":\"%s\",\"allocator\":\"%s\"}\n",
      delivered, failed, seconds, delivered / seconds, cpu_s, headers.c_str(),
      FEED_INGEST_ALLOCATOR);
  return failed == 0 && delivered == count ? 0 : 1;
}
