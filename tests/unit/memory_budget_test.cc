// MemoryBudget and the stage that charges it.
#include "memory_budget.h"

#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "stages/budget.h"
#include "support/kafka_reader.h"

namespace feed_ingest {
namespace {

using Pool = MemoryBudget::Pool;

TEST(MemoryBudgetTest, ChargesFitTheLimitAndAreGivenBack) {
  MemoryBudget budget(1000);
  MemoryCharge a = budget.TryCharge(Pool::kRequests, 600);
  ASSERT_TRUE(a);
  EXPECT_FALSE(budget.TryCharge(Pool::kRequests, 401)) << "would pass the limit";
  MemoryCharge b = budget.TryCharge(Pool::kRequests, 400);
  ASSERT_TRUE(b);
  EXPECT_EQ(budget.held(), 1000);
  EXPECT_FALSE(budget.HasRoom(1));
  a.Reset();
  EXPECT_EQ(budget.held(), 400);
  EXPECT_EQ(budget.held(Pool::kRequests), 400);
  {
    MemoryCharge owed = budget.Charge(Pool::kAnswers, 900);  // Whatever the limit.
    EXPECT_EQ(budget.held(), 1300);
    EXPECT_EQ(budget.held(Pool::kAnswers), 900);
    EXPECT_FALSE(budget.TryCharge(Pool::kRequests, 1));
  }
  EXPECT_EQ(budget.held(), 400) << "given back when the charge goes";
  MemoryCharge moved = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): a moved-from charge holds nothing.
  EXPECT_EQ(moved.bytes(), 400);
  moved = MemoryCharge();
  EXPECT_EQ(budget.held(), 0);
}

TEST(MemoryBudgetTest, ManyThreadsNeverPassTheLimitByMoreThanTheirCharges) {
  MemoryBudget budget(1 << 20);
  std::vector<std::thread> threads;
  std::atomic<int64_t> peak{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        MemoryCharge c = budget.TryCharge(Pool::kRequests, 4096);
        if (c) {
          int64_t seen = budget.held();
          int64_t old = peak.load();
          while (seen > old && !peak.compare_exchange_weak(old, seen)) {
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(budget.held(), 0);
  EXPECT_LE(peak.load(), (1 << 20) + 3 * 4096) << "at most one racing charge per other thread";
}

TEST(BudgetStageTest, ARequestThatDoesNotFitBacksOffWithNothingTaken) {
  MemoryBudget budget(BudgetStage::kPerRequestBytes * 3);
  BudgetStage stage(&budget);
  auto batch = std::make_unique<IngestBatch>();
  for (int i = 0; i < 2; ++i) {
    *batch->request().add_interactions() = testing::ToWire(testing::MakeInteraction("u", "v", "e"));
    batch->records.emplace_back(batch.get(), static_cast<uint32_t>(i));
  }
  Admission a;
  a.batch = batch.get();
  a.request_bytes = 300;
  const int64_t cost = BudgetStage::Cost(a);
  EXPECT_EQ(cost, BudgetStage::kPerRequestBytes + 3 * 300 + 2 * BudgetStage::kPerRecordBytes);
  ASSERT_EQ(stage.Run(a).step(), StageStep::kNext);
  EXPECT_EQ(budget.held(), cost);
  EXPECT_EQ(a.charge.bytes(), cost);

  Admission b;
  b.batch = batch.get();
  b.request_bytes = 300;
  MemoryCharge hog = budget.TryCharge(Pool::kAnswers, budget.limit() - budget.held() - cost + 1);
  ASSERT_TRUE(hog);
  const StageOutcome o = stage.Run(b);
  EXPECT_EQ(o.step(), StageStep::kBackOff);
  EXPECT_EQ(o.label(), RejectLabel::kOverload);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(o.status().message().find("--memory-limit"), absl::string_view::npos) << o.status();
  EXPECT_FALSE(b.charge);
  a = Admission();  // Answered: the charge goes with it.
  EXPECT_EQ(budget.held(), hog.bytes());
}

}  // namespace
}  // namespace feed_ingest
