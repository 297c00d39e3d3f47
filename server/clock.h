// Clock: where the server reads the time, so tests can set it.
#ifndef FEED_INGEST_SERVER_CLOCK_H_
#define FEED_INGEST_SERVER_CLOCK_H_

#include <chrono>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace feed_ingest {

// Thread-safe: implementations may be read from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;  // Wall time, for event timestamps.
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// Nanoseconds on the monotonic clock, for durations.
inline int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_CLOCK_H_
