#include "verdict.h"

namespace feed_ingest {

absl::string_view MethodName(Method method) {
  return method == Method::kIngest ? "Ingest" : "Stream";
}

absl::string_view RejectLabelName(size_t label) {
  if (label < kRejectReasonCount) return RejectReasonName(static_cast<RejectReason>(label));
  switch (static_cast<RejectLabel>(label)) {
    case RejectLabel::kKafka:
      return "kafka";
    case RejectLabel::kOverload:
      return "overload";
    case RejectLabel::kShutdown:
      return "shutdown";
    case RejectLabel::kCancelled:
      return "cancelled";
    case RejectLabel::kDedupStore:
      return "dedup_store";
    case RejectLabel::kQuota:
      return "quota";
    case RejectLabel::kHotKey:
      return "hot_key";
  }
  return "unknown";
}

}  // namespace feed_ingest
