// The topic check at start, and its creation when asked for (Kafka
// boundary: see kafka_config.h).
//
//   TopicSpec spec;                    // 6 partitions, 7 days, snappy
//   absl::Status s = EnsureTopic(rk, "feed.interactions.v1", absl::Seconds(10),
//                                create ? &spec : nullptr, Clock::Real());
//
// Not thread-safe against other uses of `rk`'s admin queue; called once, at
// start, before the producer thread runs.
#ifndef FEED_INGEST_SERVER_KAFKA_TOPIC_H_
#define FEED_INGEST_SERVER_KAFKA_TOPIC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kafka_options.h"
#include "librdkafka/rdkafka.h"

namespace feed_ingest {

// Looks `topic` up in the cluster's topic list (never by name: a request
// naming it could create it on brokers that auto-create). A missing topic is
// NOT_FOUND, or is created from `create` when given (FAILED_PRECONDITION when
// Kafka refuses). FAILED_PRECONDITION for a topic Kafka reports broken;
// UNAVAILABLE when no broker answers within `timeout`. `brokers` is for
// messages.
absl::Status EnsureTopic(rd_kafka_t* rk, const std::string& topic, const std::string& brokers,
                         absl::Duration timeout, const TopicSpec* create, const Clock& clock);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_TOPIC_H_
