// MemoryBudget: the bytes the service holds for its callers, against one
// limit (--memory-limit), so no load shape can grow it past what it was
// given: requests parsed and on their way to Kafka (with their arenas,
// encoded records and what librdkafka keeps per message), and answers
// waiting for a slow reader. gRPC's own buffers and librdkafka's queue are
// bounded by shares of the same limit (see IngestServer).
//
//   MemoryBudget budget(256 << 20);
//   MemoryCharge charge = budget.TryCharge(MemoryBudget::Pool::kRequests, cost);
//   if (!charge) return ResourceExhausted();   // nothing taken
//   ...                                         // given back when `charge` goes
//
// Thread-safe: lock-free counters; a charge may be taken on one thread and
// given back on another.
#ifndef FEED_INGEST_SERVER_MEMORY_BUDGET_H_
#define FEED_INGEST_SERVER_MEMORY_BUDGET_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/strings/string_view.h"

namespace feed_ingest {

class MemoryCharge;

class MemoryBudget {
 public:
  enum class Pool : uint8_t {
    kRequests,  // Admitted requests until answered, with all they hold.
    kAnswers,   // Answers waiting to be written to a stream.
    kDedup,     // Keys the in-process dedup store remembers.
  };
  static constexpr size_t kPoolCount = 3;
  static absl::string_view PoolName(Pool pool);

  explicit MemoryBudget(int64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // `bytes` for `pool` when everything held stays within the limit; an empty
  // charge (nothing taken) when it would not.
  MemoryCharge TryCharge(Pool pool, int64_t bytes);
  // `bytes` for `pool` whatever is held: for what the service holds already
  // and must keep (an answer it owes).
  MemoryCharge Charge(Pool pool, int64_t bytes);

  // True when at least `bytes` more would fit.
  bool HasRoom(int64_t bytes) const { return held() + bytes <= limit_; }

  int64_t limit() const { return limit_; }
  int64_t held() const { return total_.load(std::memory_order_relaxed); }
  int64_t held(Pool pool) const {
    return pools_[static_cast<size_t>(pool)].load(std::memory_order_relaxed);
  }

 private:
  friend class MemoryCharge;
  void Give(Pool pool, int64_t bytes);

  const int64_t limit_;
  // Relaxed: the counters order nothing else; a racing TryCharge may refuse
  // a little early or the total pass the limit by one charge, never more.
  std::atomic<int64_t> total_{0};
  std::array<std::atomic<int64_t>, kPoolCount> pools_{};
};

// Bytes taken from a MemoryBudget, given back when the charge is destroyed
// or reset. Move-only; false when nothing was taken.
class MemoryCharge {
 public:
  MemoryCharge() = default;
  MemoryCharge(MemoryCharge&& other) noexcept { *this = std::move(other); }
  MemoryCharge& operator=(MemoryCharge&& other) noexcept {
    if (this != &other) {
      Reset();
      std::swap(budget_, other.budget_);
      std::swap(pool_, other.pool_);
      std::swap(bytes_, other.bytes_);
    }
    return *this;
  }
  ~MemoryCharge() { Reset(); }

  explicit operator bool() const { return budget_ != nullptr; }
  int64_t bytes() const { return bytes_; }
  void Reset() {
    if (budget_ != nullptr) budget_->Give(pool_, bytes_);
    budget_ = nullptr;
    bytes_ = 0;
  }

 private:
  friend class MemoryBudget;
  MemoryCharge(MemoryBudget* budget, MemoryBudget::Pool pool, int64_t bytes)
      : budget_(budget), pool_(pool), bytes_(bytes) {}

  MemoryBudget* budget_ = nullptr;
  MemoryBudget::Pool pool_ = MemoryBudget::Pool::kRequests;
  int64_t bytes_ = 0;
};

inline MemoryCharge MemoryBudget::TryCharge(Pool pool, int64_t bytes) {
  if (total_.fetch_add(bytes, std::memory_order_relaxed) + bytes > limit_) {
    total_.fetch_sub(bytes, std::memory_order_relaxed);
    return MemoryCharge();
  }
  pools_[static_cast<size_t>(pool)].fetch_add(bytes, std::memory_order_relaxed);
  return MemoryCharge(this, pool, bytes);
}

inline MemoryCharge MemoryBudget::Charge(Pool pool, int64_t bytes) {
  total_.fetch_add(bytes, std::memory_order_relaxed);
  pools_[static_cast<size_t>(pool)].fetch_add(bytes, std::memory_order_relaxed);
  return MemoryCharge(this, pool, bytes);
}

inline void MemoryBudget::Give(Pool pool, int64_t bytes) {
  pools_[static_cast<size_t>(pool)].fetch_sub(bytes, std::memory_order_relaxed);
  total_.fetch_sub(bytes, std::memory_order_relaxed);
}

inline absl::string_view MemoryBudget::PoolName(Pool pool) {
  switch (pool) {
    case Pool::kRequests:
      return "requests";
    case Pool::kAnswers:
      return "answers";
    case Pool::kDedup:
      return "dedup";
  }
  return "unknown";
}

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_MEMORY_BUDGET_H_
