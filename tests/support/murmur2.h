// The Kafka Java client's key placement, written independently of librdkafka
// so tests can check where records land.
#ifndef FEED_INGEST_TESTS_SUPPORT_MURMUR2_H_
#define FEED_INGEST_TESTS_SUPPORT_MURMUR2_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace feed_ingest::testing {

// org.apache.kafka.common.utils.Utils.murmur2.
int32_t JavaMurmur2(absl::string_view key);

// The Java DefaultPartitioner for a non-null key:
// toPositive(murmur2(key)) % partitions.
int32_t JavaPartition(absl::string_view key, int32_t partitions);

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_MURMUR2_H_
