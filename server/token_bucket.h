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

class TokenBucket {
 public:
  // Starts full. `rate` > 0, `burst` >= 1.
  TokenBucket(double rate, double burst, int64_t now_ns)
      : rate_per_ns_(rate * 1e-9), burst_(burst), tokens_(burst), last_ns_(now_ns) {}

  // Takes `n` events if the bucket holds them: 0. Otherwise takes nothing
  // and returns the nanoseconds until it will hold them (n > burst: never
  // fits, returns -1).
  int64_t Take(double n, int64_t now_ns) {
    Refill(now_ns);
    if (n > burst_) return -1;
    if (tokens_ >= n) {
      tokens_ -= n;
      return 0;
    }
    return static_cast<int64_t>(std::ceil((n - tokens_) / rate_per_ns_));
  }

  double tokens(int64_t now_ns) {
    Refill(now_ns);
    return tokens_;
  }
  // Full again: its caller has been idle for a burst's time.
  bool full(int64_t now_ns) { return tokens(now_ns) >= burst_; }

 private:
  void Refill(int64_t now_ns) {
    if (now_ns > last_ns_) {
      tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
      last_ns_ = now_ns;
    }
  }

  const double rate_per_ns_;
  const double burst_;
  double tokens_;
  int64_t last_ns_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_TOKEN_BUCKET_H_
