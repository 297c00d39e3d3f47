#include "stages/quota.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace feed_ingest {

absl::string_view CallerIdentity(const Caller& caller) {
  if (!caller.name.empty()) return caller.name;
  if (!caller.certificate_name.empty()) return caller.certificate_name;
  return caller.peer_address;
}

CallerMetrics::CallerMetrics(prometheus::Registry& registry,
                             const std::vector<std::string>& names) {
  auto& family = prometheus::BuildCounter()
                     .Name("feed_ingest_caller_events_total")
                     .Help(
                         "Events per caller: accepted, or held back by the caller's quota "
                         "(throttled); callers without a --quota of their own are \"other\"")
                     .Register(registry);
  auto pair = [&](const std::string& caller) {
    return Pair{&family.Add({{"caller", caller}, {"result", "accepted"}}),
                &family.Add({{"caller", caller}, {"result", "throttled"}})};
  };
  for (const std::string& name : names) by_name_.emplace(name, pair(name));
  other_ = pair("other");
}

StageOutcome QuotaStage::Run(Admission& admission) {
  const absl::string_view who = CallerIdentity(admission.caller);
  if (metrics_ != nullptr) admission.caller_accepted = &metrics_->Accepted(who);
  const QuotaSpec* spec = quotas_->SpecFor(who);
  if (spec == nullptr) return StageOutcome::Next();
  const auto n = static_cast<uint32_t>(admission.batch->request().interactions_size());
  absl::StatusOr<absl::Duration> wait = store_->Take(who, *spec, n);
  if (!wait.ok() || *wait == absl::ZeroDuration()) return StageOutcome::Next();
  if (*wait == absl::InfiniteDuration()) {  // More than a burst: --max-batch forbids it.
    return StageOutcome::Refuse(absl::ResourceExhaustedError(absl::StrCat(
        "caller ", who, ": a request of ", n, " events is more than its quota's burst")));
  }
  if (!admission.throttled && metrics_ != nullptr) metrics_->Throttled(who).Increment(n);
  admission.throttled = true;
  // Whole milliseconds, rounded up: a caller that waits as told is taken.
  const absl::Duration delay = absl::Ceil(*wait, absl::Milliseconds(1));
  return StageOutcome::BackOff(
      absl::ResourceExhaustedError(absl::StrFormat(
          "caller %s is over its quota of %.0f events/s (burst %.0f): nothing of this request "
          "was taken; send it again in %d ms",
          who, spec->rate, spec->burst, absl::ToInt64Milliseconds(delay))),
      RejectLabel::kQuota, delay);
}

}  // namespace feed_ingest
