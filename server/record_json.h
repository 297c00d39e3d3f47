// The Kafka record value: one Interaction as the JSON its consumers expect.
//
//   {"userId":"u1","videoId":"v9","interactionType":"like","watchTime":1200,
//    "timestamp":"2026-11-27T06:00:00.123Z"}
//
// Exactly these five keys, in this order. Strings are escaped per RFC 8259
// (quote, backslash and C0 controls; other UTF-8 passes through unchanged),
// `watchTime` is an integer of milliseconds, `timestamp` is UTC with exactly
// three fractional digits (sub-millisecond digits are truncated).
#ifndef FEED_INGEST_SERVER_RECORD_JSON_H_
#define FEED_INGEST_SERVER_RECORD_JSON_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/json_writer.h"  // AppendJsonString, AppendRfc3339Millis
#include "feed/interactions/v1/interactions.pb.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest {

// Appends the record for `item` to `*out`. `item` should have passed
// validation; the encoder itself accepts any field values. Thread-safe.
// The service encodes what it parsed (wire::Interaction, wire/ingest_wire.proto);
// the contract's type is for callers and tests.
void AppendRecordJson(const wire::Interaction& item, std::string* out);
void AppendRecordJson(const ::feed::interactions::v1::Interaction& item, std::string* out);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_RECORD_JSON_H_
