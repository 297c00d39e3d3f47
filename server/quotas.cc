#include "quotas.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace feed_ingest {

absl::StatusOr<QuotaSpec> ParseQuotaSpec(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not RATE[/BURST] (events per second): ", why));
  };
  QuotaSpec spec;
  absl::string_view rate = text, burst;
  if (const size_t slash = text.find('/'); slash != absl::string_view::npos) {
    rate = text.substr(0, slash);
    burst = text.substr(slash + 1);
  }
  if (!absl::SimpleAtod(rate, &spec.rate) || !(spec.rate > 0) || spec.rate > 1e9) {
    return bad("RATE must be a number above 0");
  }
  spec.burst = spec.rate;
  if (!burst.empty() || text.find('/') != absl::string_view::npos) {
    if (!absl::SimpleAtod(burst, &spec.burst) || !(spec.burst >= 1) || spec.burst > 1e12) {
      return bad("BURST must be a number of at least 1");
    }
  }
  return spec;
}

absl::StatusOr<std::pair<std::string, QuotaSpec>> ParseNamedQuota(absl::string_view text) {
  const size_t eq = text.rfind('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not NAME=RATE[/BURST]: no caller name"));
  }
  auto spec = ParseQuotaSpec(text.substr(eq + 1));
  if (!spec.ok()) return spec.status();
  return std::make_pair(std::string(text.substr(0, eq)), *spec);
}

absl::StatusOr<std::unique_ptr<Quotas>> Quotas::Create(
    std::vector<std::pair<std::string, QuotaSpec>> named, std::optional<QuotaSpec> default_quota,
    size_t max_batch) {
  std::unique_ptr<Quotas> q(new Quotas());
  auto check = [&](absl::string_view what, const QuotaSpec& spec) -> absl::Status {
    if (spec.burst < static_cast<double>(max_batch)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": a burst of ", spec.burst, " is below --max-batch (", max_batch,
          "): a full request could never be taken; give RATE/BURST with BURST >= ", max_batch));
    }
    return absl::OkStatus();
  };
  for (auto& [name, spec] : named) {
    if (absl::Status s = check(absl::StrCat("--quota=", name), spec); !s.ok()) return s;
    if (!q->named_.emplace(name, spec).second) {
      return absl::InvalidArgumentError(absl::StrCat("--quota: ", name, " is given twice"));
    }
    q->names_.push_back(name);
  }
  if (default_quota.has_value()) {
    if (absl::Status s = check("--default-quota", *default_quota); !s.ok()) return s;
    q->default_ = default_quota;
  }
  std::sort(q->names_.begin(), q->names_.end());
  return q;
}

const QuotaSpec* Quotas::SpecFor(absl::string_view caller) const {
  if (auto it = named_.find(caller); it != named_.end()) return &it->second;
  return default_.has_value() ? &*default_ : nullptr;
}

absl::StatusOr<absl::Duration> LocalQuotaStore::Take(absl::string_view caller,
                                                     const QuotaSpec& spec, uint32_t n) {
  const int64_t now = clock_->MonotonicNanos();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(caller);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxCallers) DropFull(now);
    it = buckets_.emplace(std::string(caller), TokenBucket(spec.rate, spec.burst, now)).first;
  }
  const int64_t wait_ns = it->second.Take(n, now);
  if (wait_ns < 0) return absl::InfiniteDuration();
  return absl::Nanoseconds(wait_ns);
}

size_t LocalQuotaStore::size() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

void LocalQuotaStore::DropFull(int64_t now_ns) {
  absl::erase_if(buckets_, [&](auto& entry) { return entry.second.full(now_ns); });
  // Every caller is active: start again rather than grow without bound.
  if (buckets_.size() >= kMaxCallers) buckets_.clear();
}

}  // namespace feed_ingest
