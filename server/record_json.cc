#include "record_json.h"

#include "absl/strings/numbers.h"

namespace feed_ingest {

namespace {

template <typename Item>
void AppendRecord(const Item& item, std::string* out) {
  out->append("{\"userId\":");
  AppendJsonString(item.user_id(), out);
  out->append(",\"videoId\":");
  AppendJsonString(item.video_id(), out);
  out->append(",\"interactionType\":");
  AppendJsonString(item.interaction_type(), out);
  out->append(",\"watchTime\":");
  char num[absl::numbers_internal::kFastToBufferSize];
  out->append(num, static_cast<size_t>(
                       absl::numbers_internal::FastIntToBuffer(item.watch_time_ms(), num) - num));
  out->append(",\"timestamp\":\"");
  AppendRfc3339Millis(item.timestamp().seconds(), item.timestamp().nanos(), out);
  out->append("\"}");
}

}  // namespace

void AppendRecordJson(const wire::Interaction& item, std::string* out) { AppendRecord(item, out); }

void AppendRecordJson(const ::feed::interactions::v1::Interaction& item, std::string* out) {
  AppendRecord(item, out);
}

}  // namespace feed_ingest
