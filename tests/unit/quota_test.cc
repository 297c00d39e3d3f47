// Quotas without a server: the token bucket, the flags' values, the local
// store, and the stage's verdicts on a fake clock.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "quotas.h"
#include "stages/quota.h"
#include "support/fake_clock.h"
#include "token_bucket.h"

namespace feed_ingest {
namespace {

using ::feed_ingest::testing::FakeClock;

constexpr int64_t kSecond = 1'000'000'000;

TEST(TokenBucketTest, TakesWholeRequestsAndSaysWhenTheNextFits) {
  TokenBucket bucket(/*rate=*/100, /*burst=*/200, /*now_ns=*/0);
  EXPECT_EQ(bucket.Take(150, 0), 0) << "starts full";
  EXPECT_EQ(bucket.Take(100, 0), kSecond / 2) << "50 left; 50 more take half a second";
  EXPECT_EQ(bucket.Take(100, kSecond / 2), 0) << "nothing was taken by the refusal";
  EXPECT_EQ(bucket.Take(201, 10 * kSecond), -1) << "more than the burst never fits";
  EXPECT_EQ(bucket.Take(200, 10 * kSecond), 0) << "refilled to the burst, not beyond";
  EXPECT_FALSE(bucket.full(10 * kSecond));
  EXPECT_TRUE(bucket.full(12 * kSecond));
}

TEST(QuotaSpecTest, RateAndBurst) {
  auto a = ParseQuotaSpec("500");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->rate, 500);
  EXPECT_EQ(a->burst, 500);
  auto b = ParseQuotaSpec("2.5/1000");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->rate, 2.5);
  EXPECT_EQ(b->burst, 1000);
  for (const char* bad : {"", "0", "-1", "fast", "10/", "10/0", "10/x", "/10"}) {
    EXPECT_FALSE(ParseQuotaSpec(bad).ok()) << bad;
  }
  auto named = ParseNamedQuota("mobile-backend=1000/2000");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->first, "mobile-backend");
  EXPECT_EQ(named->second.burst, 2000);
  EXPECT_FALSE(ParseNamedQuota("=1000").ok());
  EXPECT_FALSE(ParseNamedQuota("name").ok());
}

TEST(QuotasTest, ABurstBelowMaxBatchRefusesTheStart) {
  auto low = Quotas::Create({{"serverpod", {100, 500}}}, std::nullopt, /*max_batch=*/1000);
  ASSERT_FALSE(low.ok());
  EXPECT_NE(low.status().message().find("--quota=serverpod"), std::string::npos) << low.status();
  EXPECT_NE(low.status().message().find("--max-batch"), std::string::npos) << low.status();
  EXPECT_FALSE(Quotas::Create({}, QuotaSpec{100, 10}, 1000).ok());
  EXPECT_FALSE(Quotas::Create({{"a", {1, 1000}}, {"a", {2, 1000}}}, std::nullopt, 1000).ok());

  auto q = Quotas::Create({{"serverpod", {100, 1000}}}, QuotaSpec{10, 1000}, 1000);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ((*q)->SpecFor("serverpod")->rate, 100);
  EXPECT_EQ((*q)->SpecFor("10.0.0.7")->rate, 10) << "the default for everyone else";
  auto none = Quotas::Create({{"serverpod", {100, 1000}}}, std::nullopt, 1000);
  EXPECT_EQ((*none)->SpecFor("other"), nullptr) << "no default: no quota";
}

TEST(LocalQuotaStoreTest, OneBucketPerCaller) {
  FakeClock clock;
  LocalQuotaStore store(&clock);
  const QuotaSpec spec{100, 100};
  EXPECT_EQ(*store.Take("a", spec, 100), absl::ZeroDuration());
  EXPECT_EQ(*store.Take("a", spec, 10), absl::Milliseconds(100));
  EXPECT_EQ(*store.Take("b", spec, 100), absl::ZeroDuration()) << "b has a bucket of its own";
  clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(*store.Take("a", spec, 10), absl::ZeroDuration());
  EXPECT_EQ(store.size(), 2u);
}

class QuotaStageTest : public ::testing::Test {
 protected:
  Admission Request(std::string caller, int items) {
    batches_.push_back(std::make_unique<IngestBatch>());
    for (int i = 0; i < items; ++i) batches_.back()->request().add_interactions();
    Admission a;
    a.caller.name = std::move(caller);
    a.batch = batches_.back().get();
    return a;
  }

  FakeClock clock_;
  std::unique_ptr<Quotas> quotas_ =
      *Quotas::Create({{"serverpod", {1000, 1000}}}, std::nullopt, /*max_batch=*/500);
  LocalQuotaStore store_{&clock_};
  QuotaStage stage_{quotas_.get(), &store_, nullptr};
  std::vector<std::unique_ptr<IngestBatch>> batches_;
};

TEST_F(QuotaStageTest, OverQuotaBacksOffWithTheDelayAndTheCallersName) {
  Admission first = Request("serverpod", 500);
  EXPECT_EQ(stage_.Run(first).step(), StageStep::kNext);
  Admission second = Request("serverpod", 500);
  EXPECT_EQ(stage_.Run(second).step(), StageStep::kNext);
  Admission third = Request("serverpod", 250);
  const StageOutcome o = stage_.Run(third);
  ASSERT_EQ(o.step(), StageStep::kBackOff);
  EXPECT_EQ(o.label(), RejectLabel::kQuota);
  EXPECT_EQ(o.retry_after(), absl::Milliseconds(250));
  EXPECT_EQ(o.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(o.status().message().find("caller serverpod"), std::string::npos) << o.status();
  EXPECT_NE(o.status().message().find("1000 events/s"), std::string::npos) << o.status();
  clock_.Advance(absl::Milliseconds(250));
  EXPECT_EQ(stage_.Run(third).step(), StageStep::kNext) << "waited as told: taken";
}

TEST_F(QuotaStageTest, CallersWithoutAQuotaPass) {
  for (int i = 0; i < 10; ++i) {
    Admission a = Request("somebody-else", 500);
    EXPECT_EQ(stage_.Run(a).step(), StageStep::kNext);
  }
}

TEST(CallerIdentityTest, TokenNameThenCertificateThenAddress) {
  Caller c;
  c.peer_address = "10.1.2.3";
  EXPECT_EQ(CallerIdentity(c), "10.1.2.3");
  c.certificate_name = "mobile-backend.internal";
  EXPECT_EQ(CallerIdentity(c), "mobile-backend.internal");
  c.name = "serverpod";
  EXPECT_EQ(CallerIdentity(c), "serverpod");
}

}  // namespace
}  // namespace feed_ingest
