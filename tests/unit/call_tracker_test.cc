// CallTracker: calls in flight, the drain, and who hears of it.
#include "call_tracker.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "support/fake_clock.h"

namespace feed_ingest {
namespace {

using testing::FakeClock;

class CountingListener final : public CallListener {
 public:
  void OnDrain() override { ++drains; }
  void OnRecheck() override {
    ++rechecks;
    armed = false;
  }
  void ArmRecheck() override { armed = true; }
  std::atomic<int> drains{0};
  std::atomic<int> rechecks{0};
  bool armed = true;
};

class CallTrackerTest : public ::testing::Test {
 protected:
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  FakeClock clock_;
  CallTracker tracker_{&metrics_, &clock_};
};

TEST_F(CallTrackerTest, CountsAdmittedCallsAndTheGaugeByMethod) {
  CallTracker::Ticket a = tracker_.Arrive(Method::kIngest, nullptr);
  CallTracker::Ticket b = tracker_.Arrive(Method::kStream, nullptr);
  EXPECT_TRUE(a.admitted);
  EXPECT_TRUE(b.admitted);
  EXPECT_EQ(tracker_.inflight(), 2);
  EXPECT_EQ(metrics_.Inflight(Method::kIngest).Value(), 1);
  EXPECT_EQ(metrics_.Inflight(Method::kStream).Value(), 1);
  clock_.Advance(absl::Milliseconds(30));
  tracker_.Leave(a, 0);
  tracker_.Leave(b, 14);
  EXPECT_EQ(tracker_.inflight(), 0);
  EXPECT_EQ(metrics_.Inflight(Method::kIngest).Value(), 0);
  prometheus::ClientMetric m = metrics_.RequestDuration(Method::kIngest, 0).Collect();
  EXPECT_EQ(m.histogram.sample_count, 1u);
  EXPECT_DOUBLE_EQ(m.histogram.sample_sum, 0.03) << "measured on the injected clock";
}

TEST_F(CallTrackerTest, AfterTheDrainBeginsCallsAreRefusedAndNotWaitedFor) {
  CallTracker::Ticket before = tracker_.Arrive(Method::kIngest, nullptr);
  tracker_.BeginDrain();
  EXPECT_TRUE(tracker_.draining());
  CallTracker::Ticket after = tracker_.Arrive(Method::kIngest, nullptr);
  EXPECT_FALSE(after.admitted);
  EXPECT_EQ(tracker_.inflight(), 1) << "only the call admitted before the drain";
  EXPECT_FALSE(tracker_.WaitIdle(Deadline::After(clock_, absl::ZeroDuration())));
  tracker_.Leave(before, 0);
  EXPECT_TRUE(tracker_.WaitIdle(Deadline::After(clock_, absl::ZeroDuration())));
  tracker_.Leave(after, 14);
  EXPECT_EQ(tracker_.inflight(), 0);
  EXPECT_EQ(metrics_.Inflight(Method::kIngest).Value(), 0);
}

TEST_F(CallTrackerTest, ListenersHearOfTheDrainOnceUnlessTheyLeft) {
  CountingListener stays, leaves, late;
  CallTracker::Ticket s = tracker_.Arrive(Method::kStream, &stays);
  CallTracker::Ticket l = tracker_.Arrive(Method::kStream, &leaves);
  tracker_.Unlisten(l);
  tracker_.BeginDrain();
  tracker_.BeginDrain();
  CallTracker::Ticket t = tracker_.Arrive(Method::kStream, &late);
  EXPECT_EQ(stays.drains, 1);
  EXPECT_EQ(leaves.drains, 0);
  EXPECT_EQ(late.drains, 0) << "refused calls are not told: they end at once";
  EXPECT_FALSE(t.admitted);
  tracker_.Leave(s, 14);
  tracker_.Leave(l, 0);
  tracker_.Leave(t, 14);
}

TEST_F(CallTrackerTest, ARecheckTellsEachListenerOnceUntilItRearms) {
  CountingListener a, b;
  CallTracker::Ticket ta = tracker_.Arrive(Method::kStream, &a);
  CallTracker::Ticket tb = tracker_.Arrive(Method::kStream, &b);
  tracker_.RecheckCallers();
  EXPECT_EQ(a.rechecks, 1);
  EXPECT_FALSE(a.armed);
  // A second reload before `a` has checked: its alarm is down already, so it
  // is not told again now, but fires again as soon as it rearms.
  tracker_.RecheckCallers();
  EXPECT_EQ(a.rechecks, 1);
  tracker_.Rearm(ta);
  EXPECT_EQ(a.rechecks, 2) << "the reload it missed while checking";
  tracker_.Rearm(ta);
  EXPECT_TRUE(a.armed);
  EXPECT_EQ(a.rechecks, 2);
  tracker_.Rearm(tb);  // Told twice too: it fires again, then rearms for good.
  EXPECT_EQ(b.rechecks, 2);
  tracker_.Rearm(tb);
  EXPECT_TRUE(b.armed);
  EXPECT_EQ(b.rechecks, 2);
  tracker_.Unlisten(tb);
  tracker_.RecheckCallers();
  EXPECT_EQ(b.rechecks, 2) << "gone: not told";
  EXPECT_EQ(a.rechecks, 3);
  tracker_.Leave(ta, 0);
  tracker_.Leave(tb, 0);
}

TEST_F(CallTrackerTest, WaitIdleWakesWhenTheLastCallLeaves) {
  CallTracker::Ticket a = tracker_.Arrive(Method::kIngest, nullptr);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    EXPECT_TRUE(tracker_.WaitIdle(Deadline::After(clock_, absl::Hours(1))));
    done = true;
  });
  EXPECT_FALSE(done.load());
  tracker_.Leave(a, 0);
  waiter.join();
  EXPECT_TRUE(done.load());
}

TEST_F(CallTrackerTest, WaitIdleGivesUpWhenTheInjectedClockPassesTheDeadline) {
  CallTracker::Ticket a = tracker_.Arrive(Method::kIngest, nullptr);
  const Deadline deadline = Deadline::After(clock_, absl::Seconds(30));
  std::thread mover([&] { clock_.Advance(absl::Seconds(31)); });
  EXPECT_FALSE(tracker_.WaitIdle(deadline));
  mover.join();
  tracker_.Leave(a, 0);
}

TEST_F(CallTrackerTest, WaitQuietWaitsForAPauseInArrivals) {
  tracker_.Leave(tracker_.Arrive(Method::kIngest, nullptr), 0);
  const Deadline far = Deadline::After(clock_, absl::Hours(1));
  EXPECT_FALSE(
      tracker_.WaitQuiet(absl::Milliseconds(50), Deadline::After(clock_, absl::ZeroDuration())))
      << "a call just arrived";
  std::thread mover([&] {
    absl::SleepFor(absl::Milliseconds(20));
    clock_.Advance(absl::Milliseconds(60));
  });
  EXPECT_TRUE(tracker_.WaitQuiet(absl::Milliseconds(50), far)) << "60 ms without an arrival";
  mover.join();
  clock_.Advance(absl::Seconds(5));
  CallTracker::Ticket refused = tracker_.Arrive(Method::kIngest, nullptr);  // resets the pause
  std::thread late([&] {
    absl::SleepFor(absl::Milliseconds(20));
    clock_.Advance(absl::Seconds(2));
  });
  EXPECT_FALSE(tracker_.WaitQuiet(absl::Seconds(10), Deadline::After(clock_, absl::Seconds(1))))
      << "gives up at its deadline";
  late.join();
  tracker_.Leave(refused, 14);
}

TEST_F(CallTrackerTest, WaitQuietCountsAnAnswerAsActivity) {
  CallTracker::Ticket a = tracker_.Arrive(Method::kIngest, nullptr);
  clock_.Advance(absl::Seconds(5));
  tracker_.Leave(a, 0);  // Its caller may send the next call right now.
  EXPECT_FALSE(
      tracker_.WaitQuiet(absl::Milliseconds(50), Deadline::After(clock_, absl::ZeroDuration())))
      << "a call was just answered";
  clock_.Advance(absl::Milliseconds(60));
  EXPECT_TRUE(
      tracker_.WaitQuiet(absl::Milliseconds(50), Deadline::After(clock_, absl::ZeroDuration())));
}

}  // namespace
}  // namespace feed_ingest
