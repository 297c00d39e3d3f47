// FakeClock: a Clock that moves only when a test moves it. Both of its
// readings, wall and monotonic, advance together.
//
//   FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
//   clock.Advance(absl::Seconds(10));
//
// Thread-safe.
#ifndef FEED_INGEST_TESTS_SUPPORT_FAKE_CLOCK_H_
#define FEED_INGEST_TESTS_SUPPORT_FAKE_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace feed_ingest::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time now = absl::FromUnixSeconds(1'800'000'000)) : now_(now) {}

  // Clock
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  int64_t MonotonicNanos() const override {
    absl::MutexLock lock(&mu_);
    return mono_ns_;
  }

  // Sets the wall clock; the monotonic one moves only forward, by as much.
  void Set(absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (now > now_) mono_ns_ += absl::ToInt64Nanoseconds(now - now_);
    now_ = now;
  }
  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mu_);
    now_ += by;
    mono_ns_ += absl::ToInt64Nanoseconds(by);
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int64_t mono_ns_ ABSL_GUARDED_BY(mu_) = 1'000'000'000;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_FAKE_CLOCK_H_
