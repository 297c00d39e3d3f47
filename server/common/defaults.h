// Names the server, its client and its tools share, defined once.
#ifndef FEED_INGEST_SERVER_COMMON_DEFAULTS_H_
#define FEED_INGEST_SERVER_COMMON_DEFAULTS_H_

namespace feed_ingest {

// The Kafka topic the recommendation engine reads (6 partitions, 7 days).
inline constexpr char kDefaultTopic[] = "feed.interactions.v1";

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_COMMON_DEFAULTS_H_
