// Hot keys without a server: the bounded table of buckets per user_id, and
// the stage's verdicts (overflow, reject) on a fake clock.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hot_keys.h"
#include "prometheus/registry.h"
#include "stages/hot_key.h"
#include "support/fake_clock.h"

namespace feed_ingest {
namespace {

using ::feed_ingest::testing::FakeClock;

constexpr int64_t kMs = 1'000'000;

TEST(HotKeysTest, TakesWhatTheBucketHoldsAndSaysWhenTheNextFits) {
  HotKeys keys({/*rate=*/100, /*burst=*/10}, /*max_keys=*/1000);
  int64_t wait = -1;
  EXPECT_EQ(keys.Take("bot", 8, 0, &wait), 8u) << "starts full";
  EXPECT_EQ(keys.Take("bot", 5, 0, &wait), 2u) << "two left";
  EXPECT_EQ(wait, 10 * kMs) << "one more in 1/100 s";
  EXPECT_EQ(keys.Take("person", 5, 0, &wait), 5u) << "another user has a bucket of its own";
  EXPECT_EQ(keys.Take("bot", 1, 5 * kMs, &wait), 0u) << "half a token is not one";
  EXPECT_EQ(keys.Take("bot", 1, 10 * kMs, &wait), 1u);
  EXPECT_EQ(keys.Take("bot", 20, 10'000 * kMs, &wait), 10u) << "refilled to the burst only";
}

TEST(HotKeysTest, TheTableStaysBoundedWhateverTheNumberOfUsers) {
  constexpr size_t kMax = 16'000;
  HotKeys keys({/*rate=*/1, /*burst=*/5}, kMax);
  int64_t wait = 0;
  int64_t now = 0;
  // A million users, each sending one event, a microsecond apart: none of
  // their buckets is full again within the run, so the table must drop some.
  for (int u = 0; u < 1'000'000; ++u) {
    keys.Take(absl::StrCat("user-", u), 1, now += 1000, &wait);
    ASSERT_LE(keys.size(), kMax) << "after " << u << " users";
  }
  // A hot user stays limited while the others come and go.
  uint32_t taken = 0;
  for (int i = 0; i < 100; ++i) {
    taken += keys.Take("bot", 1, now, &wait);
    for (int u = 0; u < 2000; ++u) keys.Take(absl::StrCat("other-", i, "-", u), 1, now, &wait);
  }
  EXPECT_LE(taken, 5u + 5u) << "a burst, and at most one more burst per drop of the bot";
}

TEST(HotKeysTest, TheTableDropsTheIdleThenTheLeastHotNeverTheHottest) {
  constexpr size_t kMax = 1600;
  HotKeys keys({/*rate=*/1, /*burst=*/10}, kMax);
  int64_t wait = 0;
  for (size_t u = 0; u < kMax; ++u) keys.Take(absl::StrCat("u", u), 1, 0, &wait);
  // Twenty seconds on, every one of them is full again. The bot empties its
  // bucket; then as many new users as the table holds each send one event
  // (nine tokens left): every shard fills and sweeps.
  const int64_t later = 20'000 * kMs;
  EXPECT_EQ(keys.Take("bot", 10, later, &wait), 10u);
  for (size_t u = 0; u < kMax; ++u) {
    keys.Take(absl::StrCat("v", u), 1, later, &wait);
    ASSERT_LE(keys.size(), kMax);
  }
  EXPECT_EQ(keys.Take("bot", 1, later + 1, &wait), 0u) << "still limited: kept, not reset";
}

TEST(HotKeysTest, TheHottestAreNamedMostFirstAndCountedAgain) {
  HotKeys keys({100, 100}, 1000);
  keys.NoteOver("a", 5);
  keys.NoteOver("b", 50);
  keys.NoteOver("c", 7);
  keys.NoteOver("a", 10);
  auto hottest = keys.TakeHottest(2);
  ASSERT_EQ(hottest.size(), 2u);
  EXPECT_EQ(hottest[0], (std::pair<std::string, uint64_t>{"b", 50}));
  EXPECT_EQ(hottest[1], (std::pair<std::string, uint64_t>{"a", 15}));
  EXPECT_TRUE(keys.TakeHottest(5).empty()) << "counted again from zero";
  for (size_t i = 0; i < HotKeys::kMaxNoted + 100; ++i) keys.NoteOver(absl::StrCat("k", i), 1);
  EXPECT_EQ(keys.TakeHottest(100'000).size(), HotKeys::kMaxNoted) << "bounded";
}

TEST(HotKeysTest, ManyThreadsTakeFromOneBucketNoMoreThanItHolds) {
  HotKeys keys({/*rate=*/1, /*burst=*/1000}, /*max_keys=*/1600);
  std::atomic<uint32_t> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int64_t wait = 0;
      for (int i = 0; i < 2000; ++i) {
        const uint32_t got = keys.Take("bot", 1, /*now_ns=*/0, &wait);
        taken += got;
        if (got == 0) keys.NoteOver("bot", 1);
        keys.Take(absl::StrCat("user-", t, "-", i), 1, 0, &wait);
        if (i % 500 == 0) keys.TakeHottest(3);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(taken.load(), 1000u) << "the burst, exactly, whatever the interleaving";
  EXPECT_LE(keys.size(), 1600u);
}

class HotKeyStageTest : public ::testing::Test {
 protected:
  // Items by user, in order; every one valid (a record).
  Admission Request(const std::vector<std::string>& users) {
    batches_.push_back(std::make_unique<IngestBatch>());
    IngestBatch& b = *batches_.back();
    for (const std::string& u : users) b.request().add_interactions()->set_user_id(u);
    for (uint32_t i = 0; i < users.size(); ++i) b.records.emplace_back(&b, i);
    Admission a;
    a.batch = &b;
    return a;
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  HotKeys keys_{{/*rate=*/10, /*burst=*/2}, 1000};
  std::vector<std::unique_ptr<IngestBatch>> batches_;
};

TEST_F(HotKeyStageTest, OverflowMarksTheExcessAndKeepsEveryRecordInOrder) {
  HotKeyStage stage(&keys_, HotKeyStage::Action::kOverflow, &clock_, registry_);
  Admission a = Request({"bot", "bot", "bot", "person", "bot", "person"});
  EXPECT_EQ(stage.Run(a).step(), StageStep::kNext);
  const auto& r = a.batch->records;
  ASSERT_EQ(r.size(), 6u);
  std::vector<bool> overflow;
  for (const auto& record : r) overflow.push_back(record.overflow);
  EXPECT_EQ(overflow, (std::vector<bool>{false, false, true, false, true, false}));
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(r[i].index, i);
  EXPECT_TRUE(a.batch->invalid.empty());
}

TEST_F(HotKeyStageTest, RejectAnswersTheExcessRetryableWithItsDelayInIndexOrder) {
  HotKeyStage stage(&keys_, HotKeyStage::Action::kReject, &clock_, registry_);
  Admission a = Request({"bot", "bot", "bot", "person", "bot"});
  a.batch->invalid.push_back({1, 0, "made invalid before"});  // As validate would.
  a.batch->records.erase(a.batch->records.begin() + 1);
  EXPECT_EQ(stage.Run(a).step(), StageStep::kNext);
  std::vector<uint32_t> kept;
  for (const auto& record : a.batch->records) kept.push_back(record.index);
  EXPECT_EQ(kept, (std::vector<uint32_t>{0, 2, 3}));
  const auto& inv = a.batch->invalid;
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_EQ(inv[0].index, 1u);
  EXPECT_FALSE(inv[0].retryable);
  EXPECT_EQ(inv[1].index, 4u);
  EXPECT_TRUE(inv[1].retryable);
  EXPECT_EQ(inv[1].label, LabelIndex(RejectLabel::kHotKey));
  EXPECT_NE(inv[1].message.find("send it again in 100 ms"), std::string::npos) << inv[1].message;

  Admission only_bot = Request({"bot"});
  EXPECT_EQ(stage.Run(only_bot).step(), StageStep::kAnswer) << "nothing left to write";
  clock_.Advance(absl::Milliseconds(100));
  Admission later = Request({"bot"});
  EXPECT_EQ(stage.Run(later).step(), StageStep::kNext) << "sent again when told: taken";
}

}  // namespace
}  // namespace feed_ingest
