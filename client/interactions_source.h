// Where the client's interactions come from: synthetic ones, or lines of the
// topic's own JSON schema (what `tail` prints, what other producers wrote).
//
//   Interaction a = SyntheticInteraction(7, /*users=*/1000, absl::Now());
//   absl::StatusOr<Interaction> b = ParseSeedJson(
//       R"({"userId":"u1","videoId":"v1","interactionType":"like",)"
//       R"("watchTime":1200,"timestamp":"2026-11-27T06:00:00.123Z"})");
#ifndef FEED_INGEST_CLIENT_INTERACTIONS_SOURCE_H_
#define FEED_INGEST_CLIENT_INTERACTIONS_SOURCE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.pb.h"

namespace feed_ingest {

// The n-th synthetic interaction: realistic field sizes, one of `users`
// users, a unique event_id, timestamped `now`. Deterministic in `n` and
// `users` within a process; the event_id starts with a prefix of its own in
// each process, so two runs never send the same ones.
::feed::interactions::v1::Interaction SyntheticInteraction(uint64_t n, uint64_t users,
                                                           absl::Time now);

// One JSON object with the keys userId, videoId, interactionType, watchTime
// (integer milliseconds), timestamp (RFC 3339), and optionally eventId.
// INVALID_ARGUMENT names the key that is missing or malformed.
absl::StatusOr<::feed::interactions::v1::Interaction> ParseSeedJson(absl::string_view line);

}  // namespace feed_ingest

#endif  // FEED_INGEST_CLIENT_INTERACTIONS_SOURCE_H_
