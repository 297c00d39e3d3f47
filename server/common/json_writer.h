// The JSON the service writes by hand, for speed: string literals and
// RFC 3339 timestamps. Used by the Kafka record encoder and the JSON logs.
//
//   std::string out;
//   AppendJsonString("say \"hi\"", &out);          // "say \"hi\""
//   AppendRfc3339Millis(0, 123'000'000, &out);      // 1970-01-01T00:00:00.123Z
//
// Thread-safe: plain functions.
#ifndef FEED_INGEST_SERVER_COMMON_JSON_WRITER_H_
#define FEED_INGEST_SERVER_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace feed_ingest {

// Appends `s` as a JSON string literal, quotes included: quote, backslash
// and C0 controls escaped per RFC 8259, every other byte passed through.
void AppendJsonString(absl::string_view s, std::string* out);

// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` for the instant `seconds` + `nanos`
// after the Unix epoch, for years 0001 to 9999.
void AppendRfc3339Millis(int64_t seconds, int32_t nanos, std::string* out);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_COMMON_JSON_WRITER_H_
