// CallTracker: the calls in flight, and the drain at shutdown.
//
// Every call checks in when it arrives and out when it is finished. Once the
// drain has begun, a call that arrives is only refused (UNAVAILABLE) and
// nobody waits for it; open streams are told, so they stop reading and
// finish what they hold. WaitIdle() waits until no admitted call is left.
//
//   CallTracker::Ticket t = tracker.Arrive(Method::kIngest, nullptr);
//   if (!t.admitted) return FinishWithError(UNAVAILABLE);
//   ...
//   tracker.Leave(t, grpc::StatusCode::OK);
//
//   tracker.BeginDrain();                        // shutdown: no new calls
//   tracker.WaitIdle(deadline);                  // those in flight finish
//
// Thread-safe: any method from any thread. CallListener::OnDrain() runs
// under the tracker's lock and must not call back into it.
#ifndef FEED_INGEST_SERVER_CALL_TRACKER_H_
#define FEED_INGEST_SERVER_CALL_TRACKER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "metrics.h"

namespace feed_ingest {

// A call that wants to hear of the drain, and of a reload of the tokens (a
// stream: it must stop, or check its caller again, even while idle). Both
// run under the tracker's lock, on the thread that drains or reloads; each
// should only post an event to the call's own queue.
class CallListener {
 public:
  virtual void OnDrain() = 0;
  // Its recheck alarm is to fire; CallTracker::Rearm() arms it again.
  virtual void OnRecheck() = 0;
  // Called by Rearm(), under the lock: arm the recheck alarm.
  virtual void ArmRecheck() = 0;

 protected:
  ~CallListener() = default;
};

class CallTracker {
 public:
  struct Ticket {
    Method method;
    int64_t start_ns;  // Clock::MonotonicNanos() at arrival.
    bool admitted;     // False: the drain had begun; answer UNAVAILABLE.
    CallListener* listener;
  };

  CallTracker(IngestMetrics* metrics, const Clock* clock) : metrics_(metrics), clock_(clock) {}

  // A call has arrived. `listener` (may be null) hears of the drain until
  // Leave(); OnDrain() is never called from inside Arrive().
  Ticket Arrive(Method method, CallListener* listener);
  // The call is finished with `code` (a grpc::StatusCode).
  void Leave(const Ticket& ticket, int code);
  // The listener no longer needs to hear of the drain (its call is ending).
  void Unlisten(const Ticket& ticket);

  // From now on calls are refused and listeners are told.
  void BeginDrain();
  // The tokens were reloaded: every listener checks its caller again.
  void RecheckCallers();
  // A listener has checked its caller: arm its recheck again. When another
  // recheck came in the meantime, it fires again at once.
  void Rearm(const Ticket& ticket);
  bool draining() const;
  // True once no admitted call is in flight, false if `deadline` came first.
  bool WaitIdle(Deadline deadline) const;
  // True once no call has arrived or been answered for `quiet` (a caller
  // answered just now may be sending its next call), false if `deadline`
  // came first. After the drain: a caller whose call raced it is refused here
  // (UNAVAILABLE), rather than cancelled by the server's own shutdown.
  bool WaitQuiet(absl::Duration quiet, Deadline deadline) const;

  int64_t inflight() const;

 private:
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return admitted_ == 0; }

  IngestMetrics* const metrics_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int64_t admitted_ ABSL_GUARDED_BY(mu_) = 0;          // Admitted and not yet left.
  int64_t last_activity_ns_ ABSL_GUARDED_BY(mu_) = 0;  // Last Arrive() or Leave().
  absl::flat_hash_set<CallListener*> listeners_ ABSL_GUARDED_BY(mu_);
  // Told to recheck and not yet rearmed; true: told again meanwhile.
  absl::flat_hash_map<CallListener*, bool> rechecking_ ABSL_GUARDED_BY(mu_);
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_CALL_TRACKER_H_
