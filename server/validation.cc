#include "validation.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::Interaction;

enum class TextError { kNone, kBadUtf8, kControl };

// One pass over `s`: is it well-formed UTF-8 (no overlongs, no surrogates,
// nothing past U+10FFFF) without control characters: C0, DEL, and C1
// (U+0080 to U+009F, which UTF-8 spells C2 80 to C2 9F)? On kControl,
// `*control` is the code point.
TextError CheckText(absl::string_view s, size_t* where, uint32_t* control = nullptr) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        *where = i;
        if (control != nullptr) *control = c;
        return TextError::kControl;
      }
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      *where = i;
      return TextError::kBadUtf8;
    }
    if (i + len > n) {
      *where = i;
      return TextError::kBadUtf8;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) {
        *where = i;
        return TextError::kBadUtf8;
      }
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (cp >= 0x80 && cp <= 0x9f) {
      *where = i;
      if (control != nullptr) *control = cp;
      return TextError::kControl;
    }
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      *where = i;
      return TextError::kBadUtf8;
    }
    i += len;
  }
  return TextError::kNone;
}

std::optional<Violation> CheckString(RejectReason reason, absl::string_view field,
                                     absl::string_view value, size_t min_bytes, size_t max_bytes) {
  if (value.size() < min_bytes) {
    return Violation{reason, absl::StrCat(field, ": required, must not be empty")};
  }
  if (value.size() > max_bytes) {
    return Violation{reason, absl::StrCat(field, ": ", value.size(),
                                          " bytes is longer than the limit of ", max_bytes)};
  }
  size_t where = 0;
  uint32_t control = 0;
  switch (CheckText(value, &where, &control)) {
    case TextError::kNone:
      return std::nullopt;
    case TextError::kBadUtf8:
      return Violation{reason, absl::StrCat(field, ": not valid UTF-8 at byte ", where)};
    case TextError::kControl:
      if (control >= 0x80) {  // C1: named as the code point its two bytes spell.
        return Violation{reason,
                         absl::StrCat(field, ": control character U+",
                                      absl::Hex(control, absl::kZeroPad4), " at byte ", where)};
      }
      return Violation{
          reason, absl::StrCat(field, ": control character 0x", absl::Hex(control, absl::kZeroPad2),
                               " at byte ", where)};
  }
  return std::nullopt;
}

}  // namespace

absl::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kUserId:
      return "user_id";
    case RejectReason::kVideoId:
      return "video_id";
    case RejectReason::kInteractionType:
      return "interaction_type";
    case RejectReason::kWatchTime:
      return "watch_time";
    case RejectReason::kTimestamp:
      return "timestamp";
    case RejectReason::kEventId:
      return "event_id";
  }
  return "unknown";
}

InteractionValidator::InteractionValidator(ValidationLimits limits)
    : limits_(std::move(limits)),
      types_(limits_.interaction_types.begin(), limits_.interaction_types.end()),
      types_list_(absl::StrJoin(limits_.interaction_types, ", ")) {}

std::optional<Violation> InteractionValidator::Check(const wire::Interaction& item,
                                                     absl::Time now) const {
  return CheckItem(item, now);
}

std::optional<Violation> InteractionValidator::Check(const Interaction& item,
                                                     absl::Time now) const {
  return CheckItem(item, now);
}

template <typename Item>
std::optional<Violation> InteractionValidator::CheckItem(const Item& item, absl::Time now) const {
  if (auto v =
          CheckString(RejectReason::kUserId, "user_id", item.user_id(), 1, limits_.max_id_bytes)) {
    return v;
  }
  if (auto v = CheckString(RejectReason::kVideoId, "video_id", item.video_id(), 1,
                           limits_.max_id_bytes)) {
    return v;
  }
  if (!types_.contains(item.interaction_type())) {
    if (item.interaction_type().empty()) {
      return Violation{RejectReason::kInteractionType,
                       absl::StrCat("interaction_type: required, one of: ", types_list_)};
    }
    // Echo at most a short prefix of what was sent; it may be anything.
    absl::string_view sent = item.interaction_type();
    size_t where = 0;
    const bool printable = sent.size() <= 32 && CheckText(sent, &where) == TextError::kNone;
    return Violation{RejectReason::kInteractionType,
                     absl::StrCat("interaction_type: ",
                                  printable ? absl::StrCat("\"", sent, "\"") : std::string("value"),
                                  " is not one of: ", types_list_)};
  }
  if (item.watch_time_ms() < 0) {
    return Violation{RejectReason::kWatchTime,
                     absl::StrCat("watch_time_ms: ", item.watch_time_ms(), " is below 0")};
  }
  if (item.watch_time_ms() > limits_.max_watch_time_ms) {
    return Violation{RejectReason::kWatchTime,
                     absl::StrCat("watch_time_ms: ", item.watch_time_ms(),
                                  " is above the limit of ", limits_.max_watch_time_ms)};
  }
  if (!item.has_timestamp()) {
    return Violation{RejectReason::kTimestamp, "timestamp: required"};
  }
  const auto& ts = item.timestamp();
  using google::protobuf::util::TimeUtil;
  if (ts.seconds() < TimeUtil::kTimestampMinSeconds ||
      ts.seconds() > TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return Violation{RejectReason::kTimestamp,
                     absl::StrCat("timestamp: seconds=", ts.seconds(), " nanos=", ts.nanos(),
                                  " is not a valid timestamp")};
  }
  const absl::Time when = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  if (when > now + limits_.max_future) {
    return Violation{
        RejectReason::kTimestamp,
        absl::StrCat("timestamp: ", absl::FormatTime(when, absl::UTCTimeZone()), " is more than ",
                     absl::FormatDuration(limits_.max_future), " in the future")};
  }
  if (when < now - limits_.max_age) {
    return Violation{RejectReason::kTimestamp,
                     absl::StrCat("timestamp: ", absl::FormatTime(when, absl::UTCTimeZone()),
                                  " is older than ", absl::FormatDuration(limits_.max_age))};
  }
  if (!item.event_id().empty()) {
    if (auto v = CheckString(RejectReason::kEventId, "event_id", item.event_id(), 0,
                             limits_.max_event_id_bytes)) {
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace feed_ingest
