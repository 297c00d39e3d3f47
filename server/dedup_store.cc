#include "dedup_store.h"

#include <tuple>

#include "absl/hash/hash.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace feed_ingest {
namespace {

constexpr char kNotWritten[] =
    "another request with this event_id was being written and was not: send it again";

}  // namespace

DedupKey DedupKeyOf(absl::string_view user_id, absl::string_view event_id) {
  // Two hashes seeded apart, 128 bits: with a million keys remembered, the
  // odds that a new key matches one of them are about 1 in 10^32.
  return DedupKey{absl::Hash<std::tuple<uint64_t, absl::string_view, absl::string_view>>{}(
                      std::make_tuple(0x9e3779b97f4a7c15u, user_id, event_id)),
                  absl::Hash<std::tuple<absl::string_view, absl::string_view, uint64_t>>{}(
                      std::make_tuple(user_id, event_id, 0xc2b2ae3d27d4eb4fu))};
}

Delivery WaiterVerdict(const Delivery& write) {
  if (write.state == DeliveryState::kPending) {
    return Delivery::Retryable(RejectLabel::kKafka, kNotWritten, /*possibly_written=*/false);
  }
  return write;
}

DedupMetrics::DedupMetrics(prometheus::Registry& registry)
    : store_errors_(
          prometheus::BuildCounter()
              .Name("feed_ingest_dedup_store_errors_total")
              .Help("Dedup store round trips that failed (the store could not be reached)")
              .Register(registry)
              .Add({})),
      entries_(prometheus::BuildGauge()
                   .Name("feed_ingest_dedup_entries")
                   .Help("Keys the dedup store remembers (Redis: its database's key count)")
                   .Register(registry)
                   .Add({})),
      store_seconds_(prometheus::BuildHistogram()
                         .Name("feed_ingest_dedup_store_seconds")
                         .Help("Dedup store round trips: one to claim a request's keys, one "
                               "when its records have settled")
                         .Register(registry)
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025, 0.05, 0.1, 0.25, 0.5, 1})) {
  auto& family = prometheus::BuildCounter()
                     .Name("feed_ingest_dedup_total")
                     .Help("Items with an event_id, by what the dedup store said of their key")
                     .Register(registry);
  const char* const names[kDedupResultCount] = {"new", "duplicate", "waited", "uncertain"};
  for (size_t r = 0; r < kDedupResultCount; ++r) results_[r] = &family.Add({{"result", names[r]}});
}

}  // namespace feed_ingest
