// Test helpers: read a topic back completely, and make valid interactions.
#ifndef FEED_INGEST_TESTS_SUPPORT_KAFKA_READER_H_
#define FEED_INGEST_TESTS_SUPPORT_KAFKA_READER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "topic_tail.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest::testing {

// Every record of `topic`, read with librdkafka's consumer until `expected`
// records were seen or `idle` passed without a new one.
std::vector<TailedRecord> ReadTopic(const std::string& brokers, const std::string& topic,
                                    size_t expected, absl::Duration idle = absl::Seconds(3));

// The value of header `name`, or "" when absent.
std::string Header(const TailedRecord& record, const std::string& name);

// A valid interaction with the given ids, timestamped `when`.
::feed::interactions::v1::Interaction MakeInteraction(const std::string& user,
                                                      const std::string& video,
                                                      const std::string& event_id,
                                                      absl::Time when = absl::Now());

// `item` as the server parses it (wire/ingest_wire.proto): its bytes, read
// back as the wire message.
wire::Interaction ToWire(const ::feed::interactions::v1::Interaction& item);

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_KAFKA_READER_H_
