#include "hot_keys.h"

#include <algorithm>
#include <cmath>

#include "absl/hash/hash.h"

namespace feed_ingest {

HotKeys::HotKeys(QuotaSpec limit, size_t max_keys)
    : limit_(limit),
      rate_per_ns_(limit.rate * 1e-9),
      max_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

uint32_t HotKeys::Take(absl::string_view user_id, uint32_t n, int64_t now_ns, int64_t* wait_ns) {
  const uint64_t hash = absl::Hash<absl::string_view>{}(user_id);
  Shard& shard = shards_[hash >> 60];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.levels.find(hash);
  if (it == shard.levels.end()) {
    if (shard.levels.size() >= max_per_shard_) MakeRoom(shard, now_ns);
    it = shard.levels.emplace(hash, TokenLevel{limit_.burst, now_ns}).first;
  } else {
    Refill(it->second, now_ns);
  }
  TokenLevel& level = it->second;
  const auto whole = static_cast<uint32_t>(std::min<double>(n, std::floor(level.tokens)));
  level.tokens -= whole;
  if (whole < n) {
    *wait_ns = static_cast<int64_t>(std::ceil((1.0 - level.tokens) / rate_per_ns_));
  }
  return whole;
}

void HotKeys::MakeRoom(Shard& shard, int64_t now_ns) {
  // Full buckets are no information: a user not in the table starts full.
  absl::erase_if(shard.levels, [&](auto& entry) { return Refill(entry.second, now_ns); });
  if (shard.levels.size() < max_per_shard_ * 3 / 4) return;
  // Every user here is still refilling: keep the half furthest into its
  // limit (fewest tokens).
  std::vector<double> tokens;
  tokens.reserve(shard.levels.size());
  for (const auto& [hash, level] : shard.levels) tokens.push_back(level.tokens);
  auto middle = tokens.begin() + static_cast<std::ptrdiff_t>(tokens.size() / 2);
  std::nth_element(tokens.begin(), middle, tokens.end());
  const double cut = *middle;
  absl::erase_if(shard.levels, [&](const auto& entry) { return entry.second.tokens > cut; });
  // Ties at the cut (every one of them as far into its limit): those too.
  if (shard.levels.size() >= max_per_shard_ * 3 / 4) {
    absl::erase_if(shard.levels, [&](const auto& entry) { return entry.second.tokens >= cut; });
  }
}

void HotKeys::NoteOver(absl::string_view user_id, uint32_t n) {
  absl::MutexLock lock(&noted_mu_);
  auto it = noted_.find(user_id);
  if (it == noted_.end()) {
    if (noted_.size() >= kMaxNoted) return;  // Named in the next interval, if still hot.
    it = noted_.emplace(std::string(user_id), 0).first;
  }
  it->second += n;
}

std::vector<std::pair<std::string, uint64_t>> HotKeys::TakeHottest(size_t n) {
  absl::flat_hash_map<std::string, uint64_t> noted;
  {
    absl::MutexLock lock(&noted_mu_);
    noted.swap(noted_);
  }
  std::vector<std::pair<std::string, uint64_t>> hottest(noted.begin(), noted.end());
  auto by_count = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  const size_t keep = std::min(n, hottest.size());
  std::partial_sort(hottest.begin(), hottest.begin() + static_cast<std::ptrdiff_t>(keep),
                    hottest.end(), by_count);
  hottest.resize(keep);
  return hottest;
}

size_t HotKeys::size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.levels.size();
  }
  return total;
}

}  // namespace feed_ingest
