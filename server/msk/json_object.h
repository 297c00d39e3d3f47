// internal::ParseJsonObject: reads the small, flat JSON objects that the
// container and EC2 instance-metadata credential endpoints answer with.
//
// A full JSON library would be one more dependency for five string fields;
// this reader accepts any valid JSON object, keeps the members whose values
// are scalars, and skips nested objects and arrays.
#ifndef FEED_INGEST_SERVER_MSK_JSON_OBJECT_H_
#define FEED_INGEST_SERVER_MSK_JSON_OBJECT_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace feed_ingest::msk::internal {

// Members of the top-level object: strings decoded (escapes, \uXXXX and
// surrogate pairs to UTF-8), numbers, true, false and null as their JSON
// text. A repeated name keeps its last value.
//
//   absl::StatusOr<std::map<std::string, std::string>> fields =
//       ParseJsonObject(R"({"AccessKeyId": "AKID", "Nested": {"a": 1}})");
//   // (*fields)["AccessKeyId"] == "AKID"; "Nested" is absent.
//
// INVALID_ARGUMENT for anything but one well-formed JSON object. The message
// gives the byte offset and what was expected, never the input's text (it
// holds secrets). Pure function: thread-safe.
absl::StatusOr<std::map<std::string, std::string>> ParseJsonObject(absl::string_view json);

}  // namespace feed_ingest::msk::internal

#endif  // FEED_INGEST_SERVER_MSK_JSON_OBJECT_H_
