// Differential libFuzzer target for the JSON encoder: an Interaction made
// from the input is encoded by AppendRecordJson, parsed back by an
// independent parser (nlohmann-json), and every field must come back equal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "feed/interactions/v1/interactions.pb.h"
#include "nlohmann/json.hpp"
#include "record_json.h"

namespace {

// Takes a length-prefixed string off the front of the input.
std::string Take(const uint8_t** data, size_t* size) {
  if (*size == 0) return "";
  size_t n = **data;
  ++*data;
  --*size;
  n = n < *size ? n : *size;
  std::string s(reinterpret_cast<const char*>(*data), n);
  *data += n;
  *size -= n;
  return s;
}

template <typename T>
T TakeInt(const uint8_t** data, size_t* size) {
  T v{};
  const size_t n = sizeof(T) < *size ? sizeof(T) : *size;
  std::memcpy(&v, *data, n);
  *data += n;
  *size -= n;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ::feed::interactions::v1::Interaction item;
  item.set_user_id(Take(&data, &size));
  item.set_video_id(Take(&data, &size));
  item.set_interaction_type(Take(&data, &size));
  item.set_watch_time_ms(TakeInt<int64_t>(&data, &size));
  // Any instant of years 0001-9999, any nanos in range.
  const uint64_t secs = TakeInt<uint64_t>(&data, &size) % 315537897600ULL;
  item.mutable_timestamp()->set_seconds(static_cast<int64_t>(secs) - 62135596800LL);
  item.mutable_timestamp()->set_nanos(
      static_cast<int32_t>(TakeInt<uint32_t>(&data, &size) % 1000000000U));

  std::string out;
  feed_ingest::AppendRecordJson(item, &out);
  // Strings that are not UTF-8 never reach the encoder (protobuf and the
  // validator refuse them), and nlohmann rightly refuses them too.
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // nlohmann's strict dump throws on invalid UTF-8 (this is a test tool).
    const auto valid = [](const std::string& s) {
      try {
        (void)nlohmann::json(s).dump();
        return true;
      } catch (const nlohmann::json::type_error&) {
        return false;
      }
    };
    if (valid(item.user_id()) && valid(item.video_id()) && valid(item.interaction_type())) {
      std::abort();  // Valid UTF-8 in, unparseable JSON out.
    }
    return 0;
  }
  if (!j.is_object() || j.size() != 5) std::abort();
  if (j["userId"] != item.user_id() || j["videoId"] != item.video_id() ||
      j["interactionType"] != item.interaction_type() || !j["watchTime"].is_number_integer() ||
      j["watchTime"] != item.watch_time_ms()) {
    std::abort();
  }
  std::string ts;
  feed_ingest::AppendRfc3339Millis(item.timestamp().seconds(), item.timestamp().nanos(), &ts);
  if (j["timestamp"] != ts || ts.size() != 24) std::abort();
  return 0;
}
