// Dedup by (user_id, event_id) without a broker: the memory store on its
// own, then the path with the dedup stage against a ScriptedSink. (Redis and
// real Kafka: tests/interop/dedup_test.py.)
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ingest_path.h"
#include "memory_dedup_store.h"
#include "metrics.h"
#include "prometheus/registry.h"
#include "stages/dedup.h"
#include "stages/encode.h"
#include "stages/submit.h"
#include "stages/validate.h"
#include "support/fake_clock.h"
#include "support/kafka_reader.h"
#include "support/scripted_sink.h"
#include "validation.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;
using Outcome = DedupStore::Outcome;
using testing::FakeClock;
using testing::ScriptedSink;

// A batch of items (user, event_id), as gRPC would have parsed it.
std::unique_ptr<IngestBatch> Batch(const std::vector<std::pair<std::string, std::string>>& items,
                                   const Clock& clock) {
  auto batch = std::make_unique<IngestBatch>();
  for (const auto& [user, event] : items) {
    auto item = testing::MakeInteraction(user, "video-1", event, clock.Now());
    *batch->request().add_interactions() = testing::ToWire(item);
  }
  return batch;
}

std::vector<uint32_t> Indices(int n) {
  std::vector<uint32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint32_t>(i));
  return out;
}

class MemoryStoreTest : public ::testing::Test {
 protected:
  // Claims every item of `batch`; its records are those claimed.
  std::vector<Outcome> Claim(IngestBatch* batch, uint64_t owner) {
    const int n = batch->request().interactions_size();
    std::vector<Outcome> out(static_cast<size_t>(n));
    std::vector<DedupKey> keys;
    for (const auto& item : batch->request().interactions()) {
      keys.push_back(DedupKeyOf(item.user_id(), item.event_id()));
    }
    EXPECT_TRUE(store_.Claim(batch, Indices(n), keys, owner, out.data()).ok());
    for (int i = 0; i < n; ++i) {
      if (out[static_cast<size_t>(i)] == Outcome::kNew ||
          out[static_cast<size_t>(i)] == Outcome::kUncertain) {
        batch->records.emplace_back(batch, static_cast<uint32_t>(i));
        batch->records.back().claimed = true;
        batch->records.back().key = keys[static_cast<size_t>(i)];
      }
    }
    return out;
  }
  // Settles every record of `batch` with `d`, then publishes them.
  void SettleAndPublish(IngestBatch* batch, uint64_t owner, const Delivery& d) {
    for (auto& r : batch->records) r.delivery = d;
    store_.Publish(batch, owner);
  }

  FakeClock clock_;
  MemoryBudget budget_{64 << 20};
  MemoryDedupStore store_{absl::Minutes(10), 3, &clock_, &budget_};
};

TEST_F(MemoryStoreTest, AWrittenKeyIsADuplicateUntilTheWindowEnds) {
  auto first = Batch({{"u1", "e1"}}, clock_);
  EXPECT_EQ(Claim(first.get(), 1), std::vector<Outcome>{Outcome::kNew});
  SettleAndPublish(first.get(), 1, Delivery::Written());

  auto again = Batch({{"u1", "e1"}}, clock_);
  EXPECT_EQ(Claim(again.get(), 2), std::vector<Outcome>{Outcome::kWritten});
  auto other_user = Batch({{"u2", "e1"}}, clock_);
  EXPECT_EQ(Claim(other_user.get(), 3), std::vector<Outcome>{Outcome::kNew})
      << "the key is the user and the event_id";

  clock_.Advance(absl::Minutes(10));
  auto later = Batch({{"u1", "e1"}}, clock_);
  EXPECT_EQ(Claim(later.get(), 4), std::vector<Outcome>{Outcome::kNew}) << "the window ended";
}

TEST_F(MemoryStoreTest, FailuresAreForgottenAndPossiblyWrittenIsUncertain) {
  auto failed = Batch({{"u1", "e1"}, {"u1", "e2"}}, clock_);
  Claim(failed.get(), 1);
  failed->records[0].delivery = Delivery::Retryable(RejectLabel::kKafka, "down", false);
  failed->records[1].delivery = Delivery::Retryable(RejectLabel::kKafka, "timed out", true);
  store_.Publish(failed.get(), 1);

  auto retry = Batch({{"u1", "e1"}, {"u1", "e2"}}, clock_);
  EXPECT_EQ(Claim(retry.get(), 2), (std::vector<Outcome>{Outcome::kNew, Outcome::kUncertain}));
  SettleAndPublish(retry.get(), 2, Delivery::Written());
  auto third = Batch({{"u1", "e1"}, {"u1", "e2"}}, clock_);
  EXPECT_EQ(Claim(third.get(), 3), (std::vector<Outcome>{Outcome::kWritten, Outcome::kWritten}));
}

TEST_F(MemoryStoreTest, AtMostMaxEntriesOldestFirstOut) {
  for (int i = 0; i < 4; ++i) {
    auto b = Batch({{"u", absl::StrCat("e", i)}}, clock_);
    Claim(b.get(), static_cast<uint64_t>(10 + i));
    SettleAndPublish(b.get(), static_cast<uint64_t>(10 + i), Delivery::Written());
    clock_.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(store_.Entries(), 3);
  auto oldest = Batch({{"u", "e0"}}, clock_);
  EXPECT_EQ(Claim(oldest.get(), 20), std::vector<Outcome>{Outcome::kUncertain})
      << "forgotten before its window ended: written again, counted uncertain";
  auto newest = Batch({{"u", "e3"}}, clock_);
  EXPECT_EQ(Claim(newest.get(), 21), std::vector<Outcome>{Outcome::kWritten});
}

TEST_F(MemoryStoreTest, AWaiterGetsTheVerdictOfTheWriteItWaitsFor) {
  auto owner = Batch({{"u1", "e1"}, {"u1", "e2"}}, clock_);
  Claim(owner.get(), 1);
  auto waiter = Batch({{"u1", "e1"}, {"u1", "e2"}}, clock_);
  EXPECT_EQ(Claim(waiter.get(), 2), (std::vector<Outcome>{Outcome::kInFlight, Outcome::kInFlight}));
  ASSERT_EQ(waiter->waiting.size(), 2u);
  EXPECT_FALSE(waiter->Arm());

  owner->records[0].delivery = Delivery::Written();
  owner->records[1].delivery = Delivery::Retryable(RejectLabel::kKafka, "down", false);
  store_.Publish(owner.get(), 1);
  ASSERT_TRUE(waiter->IsSettled());
  EXPECT_EQ(waiter->waiting.front().delivery.state, DeliveryState::kWritten);
  EXPECT_EQ(waiter->waiting.back().delivery.state, DeliveryState::kRetryable);
}

TEST_F(MemoryStoreTest, AnAbandonedWaiterIsNotSettledAfterwards) {
  auto owner = Batch({{"u1", "e1"}}, clock_);
  Claim(owner.get(), 1);
  auto waiter = Batch({{"u1", "e1"}}, clock_);
  Claim(waiter.get(), 2);
  store_.Abandon(waiter.get());
  SettleAndPublish(owner.get(), 1, Delivery::Written());
  EXPECT_EQ(waiter->waiting.front().delivery.state, DeliveryState::kPending);
}

TEST_F(MemoryStoreTest, WhatItRemembersIsChargedToTheBudget) {
  const int64_t table = budget_.held(MemoryBudget::Pool::kDedup);
  EXPECT_GT(table, 0) << "the table, sized at the start";
  EXPECT_LE(table, MemoryDedupStore::BytesFor(3));
  auto b = Batch({{"u1", "e1"}}, clock_);
  Claim(b.get(), 1);
  SettleAndPublish(b.get(), 1, Delivery::Written());
  EXPECT_GT(budget_.held(MemoryBudget::Pool::kDedup), table) << "and the expiry order";
}

// A store that cannot be reached.
class UnreachableStore final : public DedupStore {
 public:
  absl::Status Claim(IngestBatch*, absl::Span<const uint32_t>, absl::Span<const DedupKey>, uint64_t,
                     Outcome*) override {
    return absl::UnavailableError("down");
  }
  void Publish(IngestBatch*, uint64_t) override { ++published; }
  void Abandon(IngestBatch*) override {}
  int64_t Entries() override { return -1; }
  int published = 0;
};

class DedupPathTest : public ::testing::Test {
 protected:
  IngestPath Path(DedupStore* store,
                  DedupStage::OnStoreError on_error = DedupStage::OnStoreError::kWrite) {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<ValidateStage>(&validator_, &clock_, &metrics_));
    stages.push_back(std::make_unique<DedupStage>(store, on_error, &dedup_metrics_));
    stages.push_back(std::make_unique<EncodeStage>());
    stages.push_back(std::make_unique<SubmitStage>(&sink_));
    return IngestPath(std::move(stages), &metrics_);
  }
  // Runs one request through `path` and waits for its answer.
  IngestResponse Send(const IngestPath& path, IngestBatch* batch) {
    Admission a;
    a.batch = batch;
    const StageOutcome o = path.Admit(a);
    IngestResponse response;
    if (o.step() == StageStep::kQueued) {
      while (!batch->IsSettled()) absl::SleepFor(absl::Milliseconds(1));
    }
    if (o.step() == StageStep::kRefuse || o.step() == StageStep::kBackOff) {
      path.Refuse(a, o, &response);
    } else {
      path.Answer(a, &response);
    }
    return response;
  }
  double Result(DedupResult r) { return dedup_metrics_.Result(r).Value(); }

  FakeClock clock_;
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  DedupMetrics dedup_metrics_{registry_};
  InteractionValidator validator_{ValidationLimits()};
  ScriptedSink sink_;
  MemoryDedupStore store_{absl::Minutes(10), 1000, &clock_, nullptr, &dedup_metrics_};
};

TEST_F(DedupPathTest, TheSameBatchTwiceIsWrittenOnce) {
  const IngestPath path = Path(&store_);
  const std::vector<std::pair<std::string, std::string>> items = {
      {"u1", "e1"}, {"u2", "e2"}, {"u3", "e3"}};
  auto first = Batch(items, clock_);
  IngestResponse a = Send(path, first.get());
  EXPECT_EQ(a.accepted(), 3u);
  EXPECT_EQ(a.duplicates(), 0u);
  auto second = Batch(items, clock_);
  IngestResponse b = Send(path, second.get());
  EXPECT_EQ(b.accepted(), 3u);
  EXPECT_EQ(b.duplicates(), 3u);
  EXPECT_EQ(sink_.written().size(), 3u);
  EXPECT_EQ(sink_.batches_taken(), 1) << "nothing left to write: not handed off";
  EXPECT_EQ(Result(DedupResult::kNew), 3);
  EXPECT_EQ(Result(DedupResult::kDuplicate), 3);
}

TEST_F(DedupPathTest, TheSameKeyTwiceInOneBatchAndItemsWithoutEventIds) {
  const IngestPath path = Path(&store_);
  auto batch = Batch({{"u1", "same"}, {"u1", ""}, {"u1", "same"}, {"u1", ""}}, clock_);
  IngestResponse r = Send(path, batch.get());
  EXPECT_EQ(r.accepted(), 4u);
  EXPECT_EQ(r.duplicates(), 1u);
  EXPECT_EQ(sink_.written().size(), 3u) << "one keyed record, and both without an event_id";
}

TEST_F(DedupPathTest, ARepeatInTheBatchSharesTheFirstsFailure) {
  sink_.set_script([](const IngestBatch&, const IngestBatch::Record&) {
    return Delivery::Retryable(RejectLabel::kKafka, "kafka: down", false);
  });
  const IngestPath path = Path(&store_);
  auto batch = Batch({{"u1", "k"}, {"u2", "x"}, {"u1", "k"}}, clock_);
  IngestResponse r = Send(path, batch.get());
  EXPECT_EQ(r.accepted(), 0u);
  ASSERT_EQ(r.rejected_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.rejected(i).index(), static_cast<uint32_t>(i)) << "in index order";
    EXPECT_EQ(r.rejected(i).code(), REJECTION_CODE_RETRYABLE);
  }
  // Not written: the retry is new again.
  sink_.set_script(
      [](const IngestBatch&, const IngestBatch::Record&) { return Delivery::Written(); });
  auto retry = Batch({{"u1", "k"}}, clock_);
  EXPECT_EQ(Send(path, retry.get()).duplicates(), 0u);
}

TEST_F(DedupPathTest, ARetryWhileTheFirstIsInFlightWaitsForIt) {
  const IngestPath path = Path(&store_);
  sink_.Hold();
  auto first = Batch({{"u1", "e1"}, {"u1", "e2"}}, clock_);
  Admission a;
  a.batch = first.get();
  ASSERT_EQ(path.Admit(a).step(), StageStep::kQueued);

  auto retry = Batch({{"u1", "e2"}, {"u1", "e3"}}, clock_);
  Admission b;
  b.batch = retry.get();
  ASSERT_EQ(path.Admit(b).step(), StageStep::kQueued);
  ASSERT_EQ(retry->waiting.size(), 1u);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(retry->IsSettled()) << "answered before the write it waits for";

  sink_.Release();
  while (!first->IsSettled()) absl::SleepFor(absl::Milliseconds(1));
  IngestResponse ra;
  path.Answer(a, &ra);  // Publishes: the waiter settles.
  while (!retry->IsSettled()) absl::SleepFor(absl::Milliseconds(1));
  IngestResponse rb;
  path.Answer(b, &rb);
  EXPECT_EQ(ra.accepted(), 2u);
  EXPECT_EQ(rb.accepted(), 2u);
  EXPECT_EQ(rb.duplicates(), 1u);
  EXPECT_EQ(sink_.written().size(), 3u);
  EXPECT_EQ(Result(DedupResult::kWaited), 1);
}

TEST_F(DedupPathTest, ARefusedRequestReleasesItsKeys) {
  const IngestPath path = Path(&store_);
  sink_.set_refusal(SubmitResult::kFull);
  auto refused = Batch({{"u1", "e1"}}, clock_);
  IngestResponse r = Send(path, refused.get());
  EXPECT_EQ(r.accepted(), 0u);
  sink_.set_refusal(SubmitResult::kQueued);
  auto retry = Batch({{"u1", "e1"}}, clock_);
  IngestResponse again = Send(path, retry.get());
  EXPECT_EQ(again.accepted(), 1u);
  EXPECT_EQ(again.duplicates(), 0u);
  EXPECT_EQ(sink_.written().size(), 1u);
}

TEST_F(DedupPathTest, AnUnreachableStoreWritesOrRejectsAsConfigured) {
  UnreachableStore down;
  const IngestPath writes = Path(&down, DedupStage::OnStoreError::kWrite);
  auto a = Batch({{"u1", "e1"}, {"u1", ""}}, clock_);
  IngestResponse wrote = Send(writes, a.get());
  EXPECT_EQ(wrote.accepted(), 2u);
  EXPECT_EQ(Result(DedupResult::kUncertain), 1);
  EXPECT_EQ(down.published, 0) << "nothing was claimed";

  const IngestPath rejects = Path(&down, DedupStage::OnStoreError::kReject);
  auto b = Batch({{"u1", "e1"}, {"u1", ""}, {"u1", "e1"}}, clock_);
  IngestResponse refused = Send(rejects, b.get());
  EXPECT_EQ(refused.accepted(), 1u) << "the item without an event_id is written";
  ASSERT_EQ(refused.rejected_size(), 2);
  EXPECT_EQ(refused.rejected(0).index(), 0u);
  EXPECT_EQ(refused.rejected(1).index(), 2u);
  EXPECT_EQ(refused.rejected(0).code(), REJECTION_CODE_RETRYABLE);
  EXPECT_NE(refused.rejected(0).message().find("dedup store cannot be reached"), std::string::npos);
  EXPECT_EQ(metrics_.Rejected(RejectLabel::kDedupStore).Value(), 2);
}

}  // namespace
}  // namespace feed_ingest
