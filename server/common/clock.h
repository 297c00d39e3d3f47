// Clock: where the service reads the time, so tests can set it.
//
// Two clocks: wall time for what is about the world (event timestamps, the
// validation window, signing times) and a monotonic one for what is about
// durations (latencies, deadlines, waits, rate limits), which never jumps
// when the wall clock is set.
//
//   const Clock& clock = Clock::Real();
//   const int64_t start = clock.MonotonicNanos();
//   ...
//   latency.Observe((clock.MonotonicNanos() - start) * 1e-9);
//
// Thread-safe: implementations may be read from any thread.
#ifndef FEED_INGEST_SERVER_COMMON_CLOCK_H_
#define FEED_INGEST_SERVER_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace feed_ingest {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time.
  virtual absl::Time Now() const = 0;
  // Nanoseconds since an arbitrary start, never going back.
  virtual int64_t MonotonicNanos() const = 0;

  // The system's clocks; lives for the whole process.
  static const Clock& Real();
};

class RealClock final : public Clock {
 public:
  // Clock
  absl::Time Now() const override { return absl::Now(); }
  int64_t MonotonicNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A moment on a Clock's monotonic timeline: when a wait or a drain must end.
//
//   const Deadline flush = Deadline::After(clock, absl::Seconds(30));
//   while (!flush.Passed(clock)) Poll(flush.Left(clock));
class Deadline {
 public:
  static Deadline After(const Clock& clock, absl::Duration d) {
    const int64_t now = clock.MonotonicNanos();
    const int64_t d_ns = absl::ToInt64Nanoseconds(d);  // Saturates for infinite durations.
    return Deadline(d_ns > INT64_MAX - now ? INT64_MAX : now + d_ns);
  }
  static Deadline At(int64_t monotonic_nanos) { return Deadline(monotonic_nanos); }
  static Deadline Never() { return Deadline(INT64_MAX); }

  bool Passed(const Clock& clock) const { return clock.MonotonicNanos() >= nanos_; }
  // What is left of it; zero once it has passed.
  absl::Duration Left(const Clock& clock) const {
    const int64_t left = nanos_ - clock.MonotonicNanos();
    return left > 0 ? absl::Nanoseconds(left) : absl::ZeroDuration();
  }
  Deadline EarlierBy(absl::Duration d) const {
    return Deadline(nanos_ - absl::ToInt64Nanoseconds(d));
  }
  int64_t monotonic_nanos() const { return nanos_; }

 private:
  explicit Deadline(int64_t nanos) : nanos_(nanos) {}
  int64_t nanos_;
};

inline const Clock& Clock::Real() {
  static const RealClock* const kReal = new RealClock();
  return *kReal;
}

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_COMMON_CLOCK_H_
