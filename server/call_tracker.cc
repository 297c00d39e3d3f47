#include "call_tracker.h"

#include <algorithm>

namespace feed_ingest {

CallTracker::Ticket CallTracker::Arrive(Method method, CallListener* listener) {
  metrics_->Inflight(method).Increment();
  Ticket ticket{method, clock_->MonotonicNanos(), false, nullptr};
  absl::MutexLock lock(&mu_);
  last_activity_ns_ = ticket.start_ns;
  if (draining_) return ticket;
  ticket.admitted = true;
  ++admitted_;
  if (listener != nullptr) {
    listeners_.insert(listener);
    ticket.listener = listener;
  }
  return ticket;
}

void CallTracker::Unlisten(const Ticket& ticket) {
  if (ticket.listener == nullptr) return;
  absl::MutexLock lock(&mu_);
  listeners_.erase(ticket.listener);
  rechecking_.erase(ticket.listener);
}

void CallTracker::RecheckCallers() {
  absl::MutexLock lock(&mu_);
  for (CallListener* listener : listeners_) {
    auto [it, first] = rechecking_.try_emplace(listener, false);
    if (first) {
      listener->OnRecheck();
    } else {
      it->second = true;  // Its alarm is down already: fire again on Rearm().
    }
  }
}

void CallTracker::Rearm(const Ticket& ticket) {
  absl::MutexLock lock(&mu_);
  if (!listeners_.contains(ticket.listener)) return;
  auto it = rechecking_.find(ticket.listener);
  const bool again = it != rechecking_.end() && it->second;
  if (again) {
    it->second = false;
  } else if (it != rechecking_.end()) {
    rechecking_.erase(it);
  }
  ticket.listener->ArmRecheck();
  if (again) ticket.listener->OnRecheck();
}

void CallTracker::Leave(const Ticket& ticket, int code) {
  if (code >= 0 && code < static_cast<int>(IngestMetrics::kGrpcCodes)) {
    metrics_->RequestDuration(ticket.method, code)
        .Observe(static_cast<double>(clock_->MonotonicNanos() - ticket.start_ns) * 1e-9);
  }
  metrics_->Inflight(ticket.method).Decrement();
  const int64_t now_ns = clock_->MonotonicNanos();
  absl::MutexLock lock(&mu_);
  // A caller that was just answered may send its next call at once.
  last_activity_ns_ = std::max(last_activity_ns_, now_ns);
  if (ticket.listener != nullptr) {
    listeners_.erase(ticket.listener);
    rechecking_.erase(ticket.listener);
  }
  if (ticket.admitted) --admitted_;
}

void CallTracker::BeginDrain() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  for (CallListener* listener : listeners_) listener->OnDrain();
}

bool CallTracker::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

bool CallTracker::WaitIdle(Deadline deadline) const {
  absl::MutexLock lock(&mu_);
  while (!Idle()) {
    const absl::Duration left = deadline.Left(*clock_);
    if (left <= absl::ZeroDuration()) return false;
    // Wakes when the count changes, or at the latest when the deadline is
    // due on the injected clock (a fake one is checked every 100 ms).
    mu_.AwaitWithTimeout(absl::Condition(this, &CallTracker::Idle),
                         std::min(left, absl::Milliseconds(100)));
  }
  return true;
}

bool CallTracker::WaitQuiet(absl::Duration quiet, Deadline deadline) const {
  for (;;) {
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);
      const absl::Duration since = absl::Nanoseconds(clock_->MonotonicNanos() - last_activity_ns_);
      if (since >= quiet) return true;
      wait = quiet - since;
    }
    const absl::Duration left = deadline.Left(*clock_);
    if (left <= absl::ZeroDuration()) return false;
    absl::SleepFor(std::min(wait, left));
  }
}

int64_t CallTracker::inflight() const {
  absl::MutexLock lock(&mu_);
  return admitted_;
}

}  // namespace feed_ingest
