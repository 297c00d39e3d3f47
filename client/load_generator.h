// LoadGenerator: drives feed-ingest (or anything serving the same proto) as
// hard as acknowledgements allow, or open-loop at a fixed rate, and measures
// acknowledgement latency per request.
//
//   LoadOptions options;
//   options.target = "127.0.0.1:50051";
//   options.concurrency = 1024;            // unary calls in flight
//   options.duration = absl::Seconds(10);
//   LoadReport report = RunLoad(options, [](const LoadProgress& p) { Print(p); });
//
// Open loop (`rate` > 0): requests are due at fixed intervals and latency is
// measured from when each was due, not from when it could be sent, so a
// stalled server shows up as latency instead of as fewer requests.
//
// Thread-safe: RunLoad() may run on any thread; it uses `threads` threads of
// its own, each with its own completion queue.
#ifndef FEED_INGEST_CLIENT_LOAD_GENERATOR_H_
#define FEED_INGEST_CLIENT_LOAD_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "channel_security.h"

namespace feed_ingest {

struct LoadOptions {
  std::string target = "127.0.0.1:50051";
  bool stream = false;
  // Unary: calls in flight. Stream: open streams.
  int concurrency = 64;
  // Stream only: requests sent and not yet answered, per stream.
  int stream_window = 16;
  int batch = 1;    // Interactions per request.
  double rate = 0;  // Events per second; 0 = closed loop.
  absl::Duration duration = absl::Seconds(10);
  uint64_t max_events = 0;  // Stop after this many events sent; 0 = duration only.
  uint64_t users = 100000;  // Distinct synthetic users.
  int threads = 2;          // Client threads (completion queues).
  int channels = 2;         // HTTP/2 connections.
  absl::Duration deadline = absl::Seconds(30);  // Per call (unary) or stream.
  ChannelSecurity security;
};

// Latencies in microseconds, with exact percentiles.
class LatencySamples {
 public:
  void Add(int64_t micros) { samples_.push_back(micros); }
  void Merge(const LatencySamples& other);
  size_t count() const { return samples_.size(); }
  // `q` in [0, 1]; 0 when empty. Sorts on first use after a change.
  double Percentile(double q);
  // Counts per bucket upper bound (ms): 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, +Inf.
  std::vector<std::pair<std::string, uint64_t>> Histogram();

 private:
  std::vector<int64_t> samples_;
  bool sorted_ = true;
};

struct LoadProgress {
  double elapsed_s = 0;
  double events_per_s = 0;  // Over the last interval.
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t errors = 0;  // Failed calls so far.
};

struct LoadReport {
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t events_sent = 0;
  uint64_t events_accepted = 0;
  uint64_t events_rejected = 0;
  uint64_t calls_failed = 0;
  std::string first_error;
  double events_per_s = 0;  // Accepted events per second.
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  std::vector<std::pair<std::string, uint64_t>> histogram;

  std::string ToJson() const;
  std::string ToText() const;
};

LoadReport RunLoad(const LoadOptions& options,
                   const std::function<void(const LoadProgress&)>& on_progress);

}  // namespace feed_ingest

#endif  // FEED_INGEST_CLIENT_LOAD_GENERATOR_H_
