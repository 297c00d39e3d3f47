#include "interactions_source.h"

#include <cmath>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace feed_ingest {

using ::feed::interactions::v1::Interaction;

Interaction SyntheticInteraction(uint64_t n, uint64_t users, absl::Time now) {
  static constexpr const char* kTypes[] = {"view", "view",  "view",     "like",
                                           "skip", "share", "complete", "save"};
  // A cheap mix so users and videos spread evenly but repeat.
  uint64_t h = n * 0x9e3779b97f4a7c15ULL;
  h ^= h >> 31;
  Interaction item;
  item.set_user_id(absl::StrCat("user-", h % (users == 0 ? 1 : users)));
  item.set_video_id(absl::StrCat("video-", (h >> 17) % 50000));
  item.set_interaction_type(kTypes[(h >> 7) % 8]);
  item.set_watch_time_ms(static_cast<int64_t>((h >> 11) % 600000));
  // Floor division: nanos of a Timestamp are never negative, also before 1970.
  const int64_t secs = absl::ToUnixSeconds(now);
  const int64_t us = absl::ToUnixMicros(now);
  item.mutable_timestamp()->set_seconds(secs);
  item.mutable_timestamp()->set_nanos(static_cast<int32_t>(us - secs * 1000000) * 1000);
  // A run's own prefix: a second run (the same n) is new events, not a
  // retry the server would take for duplicates.
  static const uint32_t run = std::random_device{}();
  item.set_event_id(absl::StrCat("evt-", absl::Hex(run, absl::kZeroPad8), "-",
                                 absl::Hex(h, absl::kZeroPad16), "-", n));
  return item;
}

absl::StatusOr<Interaction> ParseSeedJson(absl::string_view line) {
  google::protobuf::Struct obj;
  if (!google::protobuf::util::JsonStringToMessage(std::string(line), &obj).ok()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  const auto& f = obj.fields();
  auto text = [&f](const char* key, std::string* out, bool required) -> absl::Status {
    auto it = f.find(key);
    if (it == f.end()) {
      return required ? absl::InvalidArgumentError(absl::StrCat(key, ": missing"))
                      : absl::OkStatus();
    }
    if (it->second.kind_case() != google::protobuf::Value::kStringValue) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": not a string"));
    }
    *out = it->second.string_value();
    return absl::OkStatus();
  };
  Interaction item;
  std::string ts;
  if (auto s = text("userId", item.mutable_user_id(), true); !s.ok()) return s;
  if (auto s = text("videoId", item.mutable_video_id(), true); !s.ok()) return s;
  if (auto s = text("interactionType", item.mutable_interaction_type(), true); !s.ok()) return s;
  if (auto s = text("timestamp", &ts, true); !s.ok()) return s;
  if (auto s = text("eventId", item.mutable_event_id(), false); !s.ok()) return s;
  auto wt = f.find("watchTime");
  if (wt == f.end() || wt->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return absl::InvalidArgumentError("watchTime: missing or not a number");
  }
  const double ms = wt->second.number_value();
  if (ms != std::floor(ms) || std::fabs(ms) > 9.007199254740992e15) {
    return absl::InvalidArgumentError("watchTime: not an integer");
  }
  item.set_watch_time_ms(static_cast<int64_t>(ms));
  if (!google::protobuf::util::TimeUtil::FromString(ts, item.mutable_timestamp())) {
    return absl::InvalidArgumentError(absl::StrCat("timestamp: \"", ts, "\" is not RFC 3339"));
  }
  return item;
}

}  // namespace feed_ingest
