// RecordRing: the bounded hand-off between the gRPC workers and the Kafka
// producer thread.
//
// Guarantees: bounded (capacity fixed at construction, rounded up to a power
// of two), multi-producer / single-consumer, lock-free for producers (a
// producer that loses a race retries with the next position; none waits for
// another), FIFO in the order producers claimed positions. A full ring refuses
// the push: callers turn that into backpressure, never a drop.
//
// Not linearizable as a whole: a producer that has claimed a position but not
// yet published its item hides the items after it from the consumer until it
// publishes, so TryPop() may report empty while later pushes have returned.
//
//   RecordRing<IngestBatch*> ring(1024);
//   if (!ring.TryPush(batch)) return ResourceExhausted();   // any thread
//   IngestBatch* next;
//   while (ring.TryPop(&next)) Produce(next);                // consumer only
//
// The algorithm is Dmitry Vyukov's bounded queue: every slot carries a
// sequence number that says whose turn it is. For the slot of position p:
//   seq == p              empty, the producer that claims p may write it;
//   seq == p + 1          full, the consumer at p may read it;
//   seq == p + capacity   read, free for position p + capacity.
#ifndef FEED_INGEST_SERVER_RECORD_RING_H_
#define FEED_INGEST_SERVER_RECORD_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace feed_ingest {

template <typename T>
class RecordRing {
 public:
  // Rounded up to the next power of two, and to at least 2: with one slot
  // the "full" sequence of one lap equals the "empty" one of the next.
  explicit RecordRing(size_t capacity)
      : capacity_(RoundUp(capacity)), mask_(capacity_ - 1), slots_(new Slot[capacity_]) {
    for (size_t i = 0; i < capacity_; ++i) {
      slots_[i].seq.store(i, std::memory_order_relaxed);
    }
  }
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  // Any thread. Moves `value` in and returns true, or returns false (leaving
  // `value` untouched) when the ring is full.
  bool TryPush(T&& value) {
    // Relaxed: tail_ only hands out positions; the slot's seq, not tail_,
    // orders the data.
    uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      // Acquire pairs with the consumer's release in TryPop(): once we see
      // seq == pos, the consumer's move out of this slot has happened, so
      // writing the value below cannot race with that read.
      const uint64_t seq = slot.seq.load(std::memory_order_acquire);
      const int64_t diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        // Relaxed CAS: winning it only grants exclusive use of the slot;
        // publication is the release store below.
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot.value = std::move(value);
          // Release pairs with the consumer's acquire load of seq: the
          // consumer that sees pos + 1 also sees the value written above.
          slot.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
        // CAS failure reloaded pos; try that position.
      } else if (diff < 0) {
        return false;  // The slot still holds the item from one lap ago: full.
      } else {
        pos = tail_.load(std::memory_order_relaxed);  // Another producer won.
      }
    }
  }

  // Consumer thread only. Moves the oldest published item into `*out` and
  // returns true, or returns false when there is none.
  bool TryPop(T* out) {
    Slot& slot = slots_[head_ & mask_];
    // Acquire pairs with the producer's release in TryPush(): seeing
    // head_ + 1 means the value is fully written.
    const uint64_t seq = slot.seq.load(std::memory_order_acquire);
    if (seq != head_ + 1) return false;
    *out = std::move(slot.value);
    slot.value = T();
    // Release pairs with the acquire in TryPush() of the producer one lap
    // ahead: it must not overwrite the slot before our move is done.
    slot.seq.store(head_ + capacity_, std::memory_order_release);
    ++head_;
    // Relaxed: popped_ only feeds SizeApprox(), a gauge.
    popped_.store(head_, std::memory_order_relaxed);
    return true;
  }

  // Any thread. Items pushed and not yet popped; a snapshot that may be stale
  // by the time it returns. For metrics and tests, not for decisions.
  size_t SizeApprox() const {
    const uint64_t popped = popped_.load(std::memory_order_relaxed);
    const uint64_t claimed = tail_.load(std::memory_order_relaxed);
    return claimed > popped ? static_cast<size_t>(claimed - popped) : 0;
  }

  size_t capacity() const { return capacity_; }

 private:
  // One cache line per slot and per index, so producers writing neighbouring
  // slots and the consumer do not invalidate each other's lines.
  struct alignas(64) Slot {
    std::atomic<uint64_t> seq{0};
    T value{};
  };

  static size_t RoundUp(size_t n) {
    size_t p = 2;
    while (p < n) p <<= 1;
    return p;
  }

  const size_t capacity_;
  const size_t mask_;
  const std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<uint64_t> tail_{0};  // Next position to claim.
  alignas(64) uint64_t head_ = 0;              // Next position to pop; consumer-owned.
  std::atomic<uint64_t> popped_{0};            // Copy of head_ for SizeApprox().
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_RECORD_RING_H_
