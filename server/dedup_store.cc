#include "dedup_store.h"

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace feed_ingest {
namespace {

constexpr char kNotWritten[] =
    "another request with this event_id was being written and was not: send it again";

}  // namespace

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
