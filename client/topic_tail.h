// Reads the topic back: every record with its partition, offset, key and
// headers. For people checking what reached Kafka, and for tests.
//
//   TailOptions options{.brokers = "127.0.0.1:9092"};
//   TailTopic(options, [](const TailedRecord& r) { Print(r); return true; });
#ifndef FEED_INGEST_CLIENT_TOPIC_TAIL_H_
#define FEED_INGEST_CLIENT_TOPIC_TAIL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/defaults.h"

namespace feed_ingest {

struct TailOptions {
  std::string brokers;
  std::string topic = kDefaultTopic;
  bool from_beginning = true;
  // Stop after this long without a new record (and after `max_records`,
  // when above zero).
  absl::Duration idle_timeout = absl::Seconds(5);
  uint64_t max_records = 0;
  std::vector<std::pair<std::string, std::string>> kafka_config;
};

struct TailedRecord {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Calls `on_record` for each record until it returns false, the idle
// timeout passes, or max_records were read. Assigns every partition of the
// topic directly (no consumer group), so it never disturbs other consumers.
absl::Status TailTopic(const TailOptions& options,
                       const std::function<bool(const TailedRecord&)>& on_record);

// `partition=P offset=O key=K headers={k=v,...} VALUE`
std::string FormatTailedRecord(const TailedRecord& record);

}  // namespace feed_ingest

#endif  // FEED_INGEST_CLIENT_TOPIC_TAIL_H_
