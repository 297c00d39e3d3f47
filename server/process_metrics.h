// ProcessMetrics: the standard process_* series (CPU, memory, file
// descriptors, start time), read from /proc at scrape time, and
// feed_ingest_log_lines_dropped_total, read from the log.
//
//   auto process = std::make_shared<ProcessMetrics>();
//   http = MetricsHttpServer::Start(listen, {registry, process}, ready);
//
// Thread-safe: Collect() keeps no state.
#ifndef FEED_INGEST_SERVER_PROCESS_METRICS_H_
#define FEED_INGEST_SERVER_PROCESS_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace feed_ingest {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  // prometheus::Collectable
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_PROCESS_METRICS_H_
