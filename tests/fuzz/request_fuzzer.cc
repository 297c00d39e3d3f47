// libFuzzer target over the request path: bytes -> IngestRequest parse (as
// the server reads it, wire/ingest_wire.proto) -> validation -> JSON
// encoding, as a worker runs it. Any crash, sanitizer report or broken
// invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "record_json.h"
#include "validation.h"
#include "wire/ingest_wire.pb.h"

// protobuf logs every string that is not UTF-8; the fuzzer makes millions.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const feed_ingest::InteractionValidator* const validator =
      new feed_ingest::InteractionValidator(feed_ingest::ValidationLimits{});
  // A fixed clock: the same input always takes the same path.
  static const absl::Time now = absl::FromUnixSeconds(1795764000);
  feed_ingest::wire::IngestRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  std::string values;
  for (const auto& item : request.interactions()) {
    if (validator->Check(item, now).has_value()) continue;
    const size_t before = values.size();
    feed_ingest::AppendRecordJson(item, &values);
    // Every record is one JSON object; the encoder never emits a raw control
    // character, whatever the strings held.
    if (values[before] != '{' || values.back() != '}') std::abort();
    for (size_t i = before; i < values.size(); ++i) {
      if (static_cast<unsigned char>(values[i]) < 0x20) std::abort();
    }
  }
  return 0;
}
