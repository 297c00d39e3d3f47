// What the rest of the service tells the Kafka boundary (kafka_producer.h):
// where Kafka is, what to write to, how to authenticate, and what a topic
// made at start looks like. No librdkafka here.
#ifndef FEED_INGEST_SERVER_KAFKA_OPTIONS_H_
#define FEED_INGEST_SERVER_KAFKA_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/defaults.h"
#include "msk/msk_token.h"

namespace feed_ingest {

struct KafkaOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic = kDefaultTopic;
  // Where items of a user over --hot-key-limit go (IngestBatch::Record::
  // overflow), with the header feed-overflow: hot-key; empty: nowhere.
  std::string overflow_topic;
  // librdkafka properties, applied after the defaults, in order.
  std::vector<std::pair<std::string, std::string>> extra_config;
  // When set, authenticate with AWS MSK IAM: SASL_SSL + OAUTHBEARER, tokens
  // from this provider, refreshed on librdkafka's background thread so the
  // first one is there before anything polls. `extra_config` may still
  // override security.protocol (e.g. to test without TLS).
  std::shared_ptr<msk::MskTokenProvider> msk_tokens;
  // librdkafka's queue, bounded in bytes (queue.buffering.max.kbytes).
  int64_t queue_bytes = int64_t{64} << 20;
  // Every record carries `content-type: application/json`. The same on every
  // record of the topic, and librdkafka allocates and frees each header per
  // message: off, a record without an event_id has no headers at all.
  bool content_type_header = true;
};

// What the topic must look like when it is created at start.
struct TopicSpec {
  int partitions = 6;
  int replication_factor = 3;
  int64_t retention_ms = 604'800'000;  // 7 days.
  std::string compression = "snappy";
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_OPTIONS_H_
