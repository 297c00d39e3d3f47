// Per-item rules for an Interaction, before it may go to Kafka.
//
// Each rule has a default that a flag can change. A broken rule yields a
// Violation naming the field and the rule, so callers can fix their data.
#ifndef FEED_INGEST_SERVER_VALIDATION_H_
#define FEED_INGEST_SERVER_VALIDATION_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest {

// The bounds of the rules. Defaults are the service's defaults.
struct ValidationLimits {
  size_t max_id_bytes = 128;
  size_t max_event_id_bytes = 128;
  std::vector<std::string> interaction_types = {"view",    "like", "unlike",   "share",
                                                "comment", "skip", "complete", "save"};
  int64_t max_watch_time_ms = 86'400'000;
  absl::Duration max_future = absl::Minutes(5);
  absl::Duration max_age = absl::Hours(24 * 7);
};

// Which rule an item broke; also the `reason` label of the rejection metric.
enum class RejectReason : uint8_t {
  kUserId,
  kVideoId,
  kInteractionType,
  kWatchTime,
  kTimestamp,
  kEventId,
};
inline constexpr size_t kRejectReasonCount = 6;
absl::string_view RejectReasonName(RejectReason reason);

struct Violation {
  RejectReason reason;
  std::string message;  // e.g. "watch_time_ms: -1 is below 0"
};

// Checks Interactions against ValidationLimits.
//
//   InteractionValidator validator(ValidationLimits{});
//   if (auto v = validator.Check(item, absl::Now())) Reject(v->message);
//
// Thread-safe: Check() is const and may run on any thread at once.
class InteractionValidator {
 public:
  explicit InteractionValidator(ValidationLimits limits);

  // Returns the first rule `item` breaks, in field order, or nullopt when the
  // item is valid. `now` is the server's clock, read once per batch.
  // The service checks what it parsed (wire::Interaction, whose strings are
  // bytes: invalid UTF-8 is this check's to find); the contract's type is
  // for callers and tests.
  std::optional<Violation> Check(const wire::Interaction& item, absl::Time now) const;
  std::optional<Violation> Check(const ::feed::interactions::v1::Interaction& item,
                                 absl::Time now) const;

  const ValidationLimits& limits() const { return limits_; }

 private:
  template <typename Item>
  std::optional<Violation> CheckItem(const Item& item, absl::Time now) const;

  ValidationLimits limits_;
  absl::flat_hash_set<std::string> types_;
  std::string types_list_;  // For messages: "view, like, ..."
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_VALIDATION_H_
