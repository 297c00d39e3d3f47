// HotKeys: a token bucket per user_id (--hot-key-limit=RATE[/BURST]), so one
// user — a bot "viewing" thousands of videos a second — cannot take a whole
// Kafka partition.
//
// Bounded whatever the number of users: a bucket is kept only while it is
// not full, and at most `max_keys` of them (--hot-key-max-keys; kBytesPerKey
// each, a 64-bit hash of the user_id and the bucket's level). A user whose
// bucket is full again — idle for BURST/RATE seconds — costs nothing: it is
// dropped at the next sweep and would start full anyway. When a shard of the
// table is full of buckets still refilling, it drops the half holding the
// most tokens (the users furthest from their limit); such a user starts
// again with a full bucket, so at most a burst more of it passes per drop.
// The users over the limit are counted by name in a second table of at most
// kMaxNoted entries, for the log line that names the hottest.
//
//   HotKeys keys({/*rate=*/100, /*burst=*/200}, /*max_keys=*/100'000);
//   int64_t wait_ns;
//   uint32_t taken = keys.Take("user-1", /*n=*/5, clock.MonotonicNanos(), &wait_ns);
//   if (taken < 5) keys.NoteOver("user-1", 5 - taken);
//   for (auto& [user, over] : keys.TakeHottest(5)) ...
//
// Thread-safe: 16 shards, each under its own lock; the names under another.
#ifndef FEED_INGEST_SERVER_HOT_KEYS_H_
#define FEED_INGEST_SERVER_HOT_KEYS_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "quotas.h"
#include "token_bucket.h"

namespace feed_ingest {

class HotKeys {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxNoted = 1024;
  // At most, per bucket: a flat_hash_map slot (8 B hash + 16 B level) and
  // its control byte, at the table's lowest load (7/16).
  static constexpr size_t kBytesPerKey = 58;

  // `limit` per user; `max_keys` >= kShards.
  HotKeys(QuotaSpec limit, size_t max_keys);

  // Takes up to `n` events of `user_id` at `now_ns`, as many as its bucket
  // holds whole; when fewer than `n`, *wait_ns is how long until the next one
  // would be taken.
  uint32_t Take(absl::string_view user_id, uint32_t n, int64_t now_ns, int64_t* wait_ns);
  // `n` events of `user_id` went over the limit: counted for TakeHottest().
  void NoteOver(absl::string_view user_id, uint32_t n);
  // The users with the most events over the limit since the last call, most
  // first, at most `n` of them; the counts start again.
  std::vector<std::pair<std::string, uint64_t>> TakeHottest(size_t n);

  // Buckets held now, over all shards.
  size_t size() const;
  const QuotaSpec& limit() const { return limit_; }

 private:
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<uint64_t, TokenLevel> levels ABSL_GUARDED_BY(mu);
  };

  // Refills `level` to `now_ns`; true when it is full.
  bool Refill(TokenLevel& level, int64_t now_ns) const {
    return level.Refill(rate_per_ns_, limit_.burst, now_ns);
  }
  void MakeRoom(Shard& shard, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const QuotaSpec limit_;
  const double rate_per_ns_;
  const size_t max_per_shard_;
  std::array<Shard, kShards> shards_;

  absl::Mutex noted_mu_;
  absl::flat_hash_map<std::string, uint64_t> noted_ ABSL_GUARDED_BY(noted_mu_);
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_HOT_KEYS_H_
