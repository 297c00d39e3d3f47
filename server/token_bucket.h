// TokenBucket: a rate in events per second with a burst. A request of n
// events is taken whole or not at all; when not, the bucket says how long
// until it would be covered, which is what a caller is told to wait.
//
//   TokenBucket bucket(/*rate=*/1000, /*burst=*/2000, clock.MonotonicNanos());
//   int64_t wait_ns = bucket.Take(500, clock.MonotonicNanos());
//   if (wait_ns > 0) ... refuse, "come back in wait_ns" ...
//
// Not thread-safe: its owner (Quotas) locks it.
#ifndef FEED_INGEST_SERVER_TOKEN_BUCKET_H_
#define FEED_INGEST_SERVER_TOKEN_BUCKET_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace feed_ingest {

// A bucket's level: how many events it holds, counted at `last_ns`. The
// rate and burst are kept by whoever holds many levels with one limit
// (HotKeys), or by TokenBucket.
struct TokenLevel {
  double tokens;
  int64_t last_ns;

  // Refills to `now_ns` at `rate_per_ns`, up to `burst`; true when full.
  bool Refill(double rate_per_ns, double burst, int64_t now_ns) {
    if (now_ns > last_ns) {
      tokens = std::min(burst, tokens + static_cast<double>(now_ns - last_ns) * rate_per_ns);
      last_ns = now_ns;
    }
    return tokens >= burst;
  }
};

class TokenBucket {
 public:
  // Starts full. `rate` > 0, `burst` >= 1.
  TokenBucket(double rate, double burst, int64_t now_ns)
      : rate_per_ns_(rate * 1e-9), burst_(burst), level_{burst, now_ns} {}

  // Takes `n` events if the bucket holds them: 0. Otherwise takes nothing
  // and returns the nanoseconds until it will hold them (n > burst: never
  // fits, returns -1).
  int64_t Take(double n, int64_t now_ns) {
    level_.Refill(rate_per_ns_, burst_, now_ns);
    if (n > burst_) return -1;
    if (level_.tokens >= n) {
      level_.tokens -= n;
      return 0;
    }
    return static_cast<int64_t>(std::ceil((n - level_.tokens) / rate_per_ns_));
  }

  double tokens(int64_t now_ns) {
    level_.Refill(rate_per_ns_, burst_, now_ns);
    return level_.tokens;
  }
  // Full again: its caller has been idle for a burst's time.
  bool full(int64_t now_ns) { return level_.Refill(rate_per_ns_, burst_, now_ns); }

 private:
  const double rate_per_ns_;
  const double burst_;
  TokenLevel level_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_TOKEN_BUCKET_H_
