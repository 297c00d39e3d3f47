// What becomes of an item: the words the path, the Kafka producer and the
// answer share, free of gRPC, librdkafka and metrics.
//
//   Delivery d = Delivery::Written();              // in Kafka: accepted
//   Delivery r = Delivery::Retryable(RejectLabel::kKafka, "kafka: ...", true);
//   if (d.state == DeliveryState::kPending) ...    // not settled yet: never "accepted"
//
// Plain values; see docs/architecture.md for who writes them when.
#ifndef FEED_INGEST_SERVER_VERDICT_H_
#define FEED_INGEST_SERVER_VERDICT_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "validation.h"

namespace feed_ingest {

// The gRPC method a request came by; the `method` label of the metrics.
enum class Method : uint8_t { kIngest = 0, kStream = 1 };
inline constexpr size_t kMethodCount = 2;
absl::string_view MethodName(Method method);

// Why an item was not accepted: a validation rule (the first
// kRejectReasonCount values mirror RejectReason), or what happened to it on
// the way to Kafka. The `reason` label of
// feed_ingest_interactions_rejected_total.
enum class RejectLabel : uint8_t {
  kKafka = kRejectReasonCount,  // Kafka refused or timed out the record.
  kOverload,                    // No room: the unary call was refused.
  kShutdown,                    // The server was shutting down.
  kCancelled,                   // The caller cancelled, or its deadline passed, first.
  kDedupStore,  // The dedup store could not be reached (--dedup-on-store-error=reject).
  kQuota,       // The caller was over its quota: the unary call was refused.
  kHotKey,      // The item's user_id was over --hot-key-limit (--hot-key-action=reject).
};
inline constexpr size_t kRejectLabelCount = kRejectReasonCount + 7;
absl::string_view RejectLabelName(size_t label);
inline size_t LabelIndex(RejectReason reason) { return static_cast<size_t>(reason); }
inline size_t LabelIndex(RejectLabel label) { return static_cast<size_t>(label); }

enum class DeliveryState : uint8_t {
  kPending,    // Not settled yet. Read as a verdict, it is a bug.
  kWritten,    // Kafka holds the record: the item is accepted.
  kRetryable,  // Not written; the caller may send it again.
  kInvalid,    // Kafka can never take it (too large): the caller must fix it.
};

// The verdict on one record that went (or was to go) to Kafka.
struct Delivery {
  DeliveryState state = DeliveryState::kPending;
  // kRetryable only: Kafka may have written it anyway (timed out or purged
  // while in flight), so a retry should carry the same event_id.
  bool possibly_written = false;
  uint8_t label = LabelIndex(RejectLabel::kKafka);  // For rejections.
  // For rejections: why, for the caller. Static storage: it outlives every
  // batch, so the producer thread can hand it over without allocating.
  const char* reason = nullptr;

  static Delivery Written() { return {DeliveryState::kWritten, false, 0, nullptr}; }
  static Delivery Retryable(RejectLabel label, const char* reason, bool possibly_written) {
    return {DeliveryState::kRetryable, possibly_written, static_cast<uint8_t>(label), reason};
  }
  static Delivery Invalid(RejectLabel label, const char* reason) {
    return {DeliveryState::kInvalid, false, static_cast<uint8_t>(label), reason};
  }
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_VERDICT_H_
