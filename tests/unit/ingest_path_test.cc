// The admission path without a broker: each stage on its own, then the whole
// path against a ScriptedSink, and the one place that answers and counts.
#include "ingest_path.h"

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "record_json.h"
#include "stages/admit.h"
#include "stages/authenticate.h"
#include "stages/encode.h"
#include "stages/submit.h"
#include "stages/validate.h"
#include "support/fake_clock.h"
#include "support/kafka_reader.h"
#include "support/scripted_sink.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::REJECTION_CODE_INVALID;
using ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;
using testing::FakeClock;
using testing::MakeInteraction;
using testing::ScriptedSink;

class PathTest : public ::testing::Test {
 protected:
  // A batch holding `items`, as gRPC would have parsed it.
  std::unique_ptr<IngestBatch> Batch(
      const std::vector<::feed::interactions::v1::Interaction>& items, uint64_t sequence = 7) {
    auto batch = std::make_unique<IngestBatch>();
    for (const auto& item : items) *batch->request().add_interactions() = testing::ToWire(item);
    batch->request().set_sequence(sequence);
    return batch;
  }
  Admission For(IngestBatch* batch, Method method = Method::kIngest) {
    Admission a;
    a.method = method;
    a.batch = batch;
    a.deadline = Deadline::After(clock_, absl::Seconds(30));
    return a;
  }
  ::feed::interactions::v1::Interaction Valid(const std::string& user) {
    return MakeInteraction(user, "video-1", absl::StrCat("e-", user), clock_.Now());
  }
  ::feed::interactions::v1::Interaction NoUser() {
    auto item = Valid("x");
    item.clear_user_id();
    return item;
  }
  double Rejected(const char* reason) {
    for (size_t label = 0; label < kRejectLabelCount; ++label) {
      if (RejectLabelName(label) == reason) return metrics_.Rejected(label).Value();
    }
    return -1;
  }
  // The whole path of the service, in the service's order, into `sink_`.
  IngestPath ServicePath(const TokenAuthenticator* tokens = nullptr) {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<AuthenticateStage>(tokens));
    stages.push_back(std::make_unique<AdmitStage>(3, &clock_));
    stages.push_back(std::make_unique<ValidateStage>(&validator_, &clock_, &metrics_));
    stages.push_back(std::make_unique<EncodeStage>());
    stages.push_back(std::make_unique<SubmitStage>(&sink_));
    return IngestPath(std::move(stages), &metrics_);
  }
  static void AwaitSettled(const IngestBatch& batch) {
    while (!batch.IsSettled()) absl::SleepFor(absl::Milliseconds(1));
  }

  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  InteractionValidator validator_{ValidationLimits{}};
  ScriptedSink sink_;
};

// --- Each stage ------------------------------------------------------------

TEST_F(PathTest, AuthenticateLetsEveryoneInWithoutTokensAndChecksThemWith) {
  Admission a;
  EXPECT_EQ(AuthenticateStage(nullptr).Run(a).step(), StageStep::kNext);

  const std::string path = ::testing::TempDir() + "/path_test_tokens";
  std::ofstream(path) << "# callers\ntoken-one\n";
  auto tokens = TokenAuthenticator::FromFile(path);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  AuthenticateStage stage(tokens->get());
  EXPECT_EQ(stage.scope(), Stage::Scope::kCall);
  a.caller.bearer_token = "token-one";
  EXPECT_EQ(stage.Run(a).step(), StageStep::kNext);
  for (const char* wrong : {"", "token-two", "token-on"}) {
    a.caller.bearer_token = wrong;
    const StageOutcome o = stage.Run(a);
    EXPECT_EQ(o.step(), StageStep::kRefuse) << wrong;
    EXPECT_EQ(o.status(), absl::UnauthenticatedError(
                              "missing or invalid bearer token (authorization: Bearer ...)"));
  }
}

TEST_F(PathTest, AdmitRefusesLateEmptyAndOversizedRequestsWithTheirReasons) {
  AdmitStage admit(3, &clock_);
  auto batch = Batch({Valid("a"), Valid("b"), Valid("c")});
  Admission a = For(batch.get());
  EXPECT_EQ(admit.Run(a).step(), StageStep::kNext);

  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(admit.Run(a).status(),
            absl::DeadlineExceededError(
                "the call's deadline passed before it was served; nothing was taken"));

  auto empty = Batch({});
  Admission e = For(empty.get());
  EXPECT_EQ(admit.Run(e).status(), absl::InvalidArgumentError("interactions: the batch is empty"));

  auto big = Batch({Valid("a"), Valid("b"), Valid("c"), Valid("d")});
  Admission b = For(big.get());
  const StageOutcome o = admit.Run(b);
  EXPECT_EQ(o.step(), StageStep::kRefuse);
  EXPECT_EQ(o.status(), absl::InvalidArgumentError(
                            "interactions: 4 items is more than the limit of 3 per request"));
  EXPECT_FALSE(big->examined()) << "no item was looked at";
}

TEST_F(PathTest, ValidateJudgesEachItemAndCountsWhatCameIn) {
  ValidateStage validate(&validator_, &clock_, &metrics_);
  auto batch = Batch({Valid("a"), NoUser(), Valid("c")});
  Admission a = For(batch.get(), Method::kStream);
  EXPECT_EQ(validate.Run(a).step(), StageStep::kNext);
  ASSERT_EQ(batch->invalid.size(), 1u);
  EXPECT_EQ(batch->invalid[0].index, 1u);
  EXPECT_EQ(batch->invalid[0].label, LabelIndex(RejectReason::kUserId));
  EXPECT_EQ(batch->invalid[0].message, "user_id: required, must not be empty");
  ASSERT_EQ(batch->records.size(), 2u);
  EXPECT_EQ(batch->records[0].index, 0u);
  EXPECT_EQ(batch->records[1].index, 2u);
  EXPECT_EQ(batch->records[1].delivery.state, DeliveryState::kPending);
  EXPECT_EQ(metrics_.Received(Method::kStream).Value(), 3);
  EXPECT_EQ(Rejected("user_id"), 0) << "counted when answered, not before";

  auto none = Batch({NoUser()});
  Admission n = For(none.get());
  EXPECT_EQ(validate.Run(n).step(), StageStep::kAnswer) << "nothing left to send";
}

TEST_F(PathTest, EncodeWritesEachRecordsJsonBackToBack) {
  auto batch = Batch({Valid("a"), Valid("b")});
  Admission a = For(batch.get());
  ASSERT_EQ(ValidateStage(&validator_, &clock_, &metrics_).Run(a).step(), StageStep::kNext);
  ASSERT_EQ(EncodeStage().Run(a).step(), StageStep::kNext);
  for (const auto& record : batch->records) {
    std::string expected;
    AppendRecordJson(batch->item(record), &expected);
    EXPECT_EQ(batch->value(record), expected);
  }
  EXPECT_EQ(batch->records[1].value_begin, batch->records[0].value_end);
}

TEST_F(PathTest, SubmitTellsQueuedFullAndClosedApart) {
  auto batch = Batch({Valid("a")});
  batch->records.emplace_back(batch.get(), 0);
  Admission a = For(batch.get());
  SubmitStage submit(&sink_);

  sink_.set_refusal(SubmitResult::kFull);
  StageOutcome full = submit.Run(a);
  EXPECT_EQ(full.step(), StageStep::kBackOff);
  EXPECT_EQ(full.label(), RejectLabel::kOverload);
  EXPECT_EQ(full.status(), absl::ResourceExhaustedError(
                               "the server is at capacity; nothing of this request was taken, "
                               "send it again after a backoff"));

  sink_.set_refusal(SubmitResult::kClosed);
  StageOutcome closed = submit.Run(a);
  EXPECT_EQ(closed.step(), StageStep::kRefuse);
  EXPECT_EQ(closed.label(), RejectLabel::kShutdown);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kUnavailable);

  sink_.set_refusal(SubmitResult::kQueued);
  EXPECT_EQ(submit.Run(a).step(), StageStep::kQueued);
  AwaitSettled(*batch);
  EXPECT_EQ(sink_.batches_taken(), 1);
}

// A batch with nothing to write, only items waiting for other requests'
// writes (dedup): not handed to the sink; answered once they have settled.
TEST_F(PathTest, SubmitHandsNothingOffWhenOnlyWaitingItemsAreLeft) {
  SubmitStage submit(&sink_);
  auto settled = Batch({Valid("a")});
  settled->waiting.emplace_back(settled.get(), 0);
  settled->Settle(&settled->waiting.front(), Delivery::Written());  // Before the hand-off.
  Admission a = For(settled.get());
  EXPECT_EQ(submit.Run(a).step(), StageStep::kAnswer);

  auto waiting = Batch({Valid("a"), Valid("b")});
  waiting->waiting.emplace_back(waiting.get(), 0);
  waiting->waiting.emplace_back(waiting.get(), 1);
  waiting->Settle(&waiting->waiting.back(), Delivery::Written());
  Admission b = For(waiting.get());
  EXPECT_EQ(submit.Run(b).step(), StageStep::kQueued);
  EXPECT_FALSE(waiting->IsSettled());
  waiting->Settle(&waiting->waiting.front(), Delivery::Written());
  EXPECT_TRUE(waiting->IsSettled());
  EXPECT_EQ(sink_.batches_taken(), 0);
}

// --- The whole path ----------------------------------------------------------

TEST_F(PathTest, OneRequestGoesThroughEveryStageAndIsAnsweredItemByItem) {
  const IngestPath path = ServicePath();
  sink_.set_script([](const IngestBatch&, const IngestBatch::Record& r) {
    return r.index == 2 ? Delivery::Retryable(RejectLabel::kKafka,
                                              "kafka: Local: Message timed out (_MSG_TIMED_OUT)",
                                              /*possibly_written=*/true)
                        : Delivery::Written();
  });
  auto batch = Batch({Valid("a"), NoUser(), Valid("c")});
  Admission a = For(batch.get());
  ASSERT_EQ(path.Open(a).step(), StageStep::kNext);
  ASSERT_EQ(path.Admit(a).step(), StageStep::kQueued);
  AwaitSettled(*batch);

  IngestResponse response;
  path.Answer(a, &response);
  EXPECT_EQ(response.sequence(), 7u);
  EXPECT_EQ(response.accepted(), 1u);
  ASSERT_EQ(response.rejected_size(), 2);
  EXPECT_EQ(response.rejected(0).index(), 1u);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_INVALID);
  EXPECT_EQ(response.rejected(0).message(), "user_id: required, must not be empty");
  EXPECT_EQ(response.rejected(1).index(), 2u);
  EXPECT_EQ(response.rejected(1).code(), REJECTION_CODE_RETRYABLE);
  EXPECT_EQ(response.rejected(1).message(),
            "kafka: Local: Message timed out (_MSG_TIMED_OUT); it may have been written: send it "
            "again with the same event_id");
  EXPECT_EQ(metrics_.accepted().Value(), 1);
  EXPECT_EQ(Rejected("user_id"), 1);
  EXPECT_EQ(Rejected("kafka"), 1);
  ASSERT_EQ(sink_.written().size(), 1u);
  std::string expected;
  AppendRecordJson(batch->request().interactions(0), &expected);
  EXPECT_EQ(sink_.written()[0], expected);
}

TEST_F(PathTest, ARecordKafkaCanNeverTakeIsTheCallersToFix) {
  const IngestPath path = ServicePath();
  sink_.set_script([](const IngestBatch&, const IngestBatch::Record&) {
    return Delivery::Invalid(RejectLabel::kKafka,
                             "kafka: Broker: Message size too large (MSG_SIZE_TOO_LARGE)");
  });
  auto batch = Batch({Valid("a")});
  Admission a = For(batch.get());
  ASSERT_EQ(path.Admit(a).step(), StageStep::kQueued);
  AwaitSettled(*batch);
  IngestResponse response;
  path.Answer(a, &response);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_INVALID);
  EXPECT_EQ(response.rejected(0).message(),
            "kafka: Broker: Message size too large (MSG_SIZE_TOO_LARGE)");
}

TEST_F(PathTest, AllInvalidIsAnsweredWithoutReachingTheSink) {
  const IngestPath path = ServicePath();
  auto batch = Batch({NoUser(), NoUser()});
  Admission a = For(batch.get());
  ASSERT_EQ(path.Admit(a).step(), StageStep::kAnswer);
  IngestResponse response;
  path.Answer(a, &response);
  EXPECT_EQ(response.accepted(), 0u);
  EXPECT_EQ(response.rejected_size(), 2);
  EXPECT_EQ(sink_.batches_taken(), 0);
  EXPECT_EQ(Rejected("user_id"), 2);
}

TEST_F(PathTest, ABackedOffRequestResumesAtTheStageThatBackedOff) {
  const IngestPath path = ServicePath();
  sink_.set_refusal(SubmitResult::kFull);
  auto batch = Batch({Valid("a"), Valid("b")});
  Admission a = For(batch.get(), Method::kStream);
  ASSERT_EQ(path.Admit(a).step(), StageStep::kBackOff);
  ASSERT_EQ(path.Admit(a).step(), StageStep::kBackOff);
  sink_.set_refusal(SubmitResult::kQueued);
  ASSERT_EQ(path.Admit(a).step(), StageStep::kQueued);
  AwaitSettled(*batch);
  EXPECT_EQ(metrics_.Received(Method::kStream).Value(), 2) << "validated once, not per attempt";
  EXPECT_EQ(batch->records.size(), 2u);
  IngestResponse response;
  path.Answer(a, &response);
  EXPECT_EQ(response.accepted(), 2u);
}

TEST_F(PathTest, ARefusedUnaryRequestCountsItsItemsUnderTheirReasons) {
  const IngestPath path = ServicePath();
  sink_.set_refusal(SubmitResult::kFull);
  auto batch = Batch({Valid("a"), NoUser(), Valid("c")});
  Admission a = For(batch.get());
  const StageOutcome o = path.Admit(a);
  ASSERT_EQ(o.step(), StageStep::kBackOff);
  path.Refuse(a, o, nullptr);  // What a unary call does: it does not wait.
  EXPECT_EQ(Rejected("overload"), 2);
  EXPECT_EQ(Rejected("user_id"), 1);
  EXPECT_EQ(metrics_.accepted().Value(), 0);
}

TEST_F(PathTest, AStreamRequestRefusedAtShutdownIsAnsweredRetryable) {
  const IngestPath path = ServicePath();
  sink_.set_refusal(SubmitResult::kClosed);
  auto batch = Batch({Valid("a"), NoUser()});
  Admission a = For(batch.get(), Method::kStream);
  const StageOutcome o = path.Admit(a);
  ASSERT_EQ(o.step(), StageStep::kRefuse);
  IngestResponse response;
  path.Refuse(a, o, &response);
  EXPECT_EQ(response.accepted(), 0u);
  ASSERT_EQ(response.rejected_size(), 2);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_RETRYABLE);
  EXPECT_EQ(response.rejected(0).message(),
            "the server is shutting down; send again, to another instance");
  EXPECT_EQ(response.rejected(1).code(), REJECTION_CODE_INVALID);
  EXPECT_EQ(Rejected("shutdown"), 1);
  EXPECT_EQ(Rejected("user_id"), 1);
}

TEST_F(PathTest, ARequestRefusedBeforeAnyItemIsLookedAtCountsNothing) {
  const IngestPath path = ServicePath();
  auto batch = Batch({Valid("a"), Valid("b"), Valid("c"), Valid("d")});
  Admission a = For(batch.get());
  const StageOutcome o = path.Admit(a);
  ASSERT_EQ(o.step(), StageStep::kRefuse);
  path.Refuse(a, o, nullptr);
  EXPECT_EQ(metrics_.Received(Method::kIngest).Value(), 0);
  for (size_t label = 0; label < kRejectLabelCount; ++label) {
    EXPECT_EQ(metrics_.Rejected(label).Value(), 0) << RejectLabelName(label);
  }
}

TEST_F(PathTest, CallScopedStagesRunInOpenOnly) {
  const std::string file = ::testing::TempDir() + "/path_test_tokens_open";
  std::ofstream(file) << "secret\n";
  auto tokens = TokenAuthenticator::FromFile(file);
  ASSERT_TRUE(tokens.ok());
  const IngestPath path = ServicePath(tokens->get());
  auto batch = Batch({Valid("a")});
  Admission a = For(batch.get());
  EXPECT_EQ(path.Open(a).status().code(), absl::StatusCode::kUnauthenticated);
  // Admit() runs the request stages only: a stream authenticated once at
  // its start is not asked again per request.
  EXPECT_EQ(path.Admit(a).step(), StageStep::kQueued);
  AwaitSettled(*batch);
}

// A stage added to the path: one class, one line in the list.
class RefuseSequenceStage final : public Stage {
 public:
  explicit RefuseSequenceStage(uint64_t sequence) : sequence_(sequence) {}
  absl::string_view name() const override { return "refuse-sequence"; }
  StageOutcome Run(Admission& a) override {
    if (a.batch->request().sequence() != sequence_) return StageOutcome::Next();
    return StageOutcome::Refuse(absl::FailedPreconditionError("sequence refused"),
                                RejectLabel::kOverload, "refused by the test stage");
  }

 private:
  const uint64_t sequence_;
};

TEST_F(PathTest, ANewStageIsOneLineInThePath) {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<AdmitStage>(3, &clock_));
  stages.push_back(std::make_unique<ValidateStage>(&validator_, &clock_, &metrics_));
  stages.push_back(std::make_unique<RefuseSequenceStage>(9));
  stages.push_back(std::make_unique<EncodeStage>());
  stages.push_back(std::make_unique<SubmitStage>(&sink_));
  const IngestPath path(std::move(stages), &metrics_);

  auto refused = Batch({Valid("a"), NoUser()}, /*sequence=*/9);
  Admission r = For(refused.get(), Method::kStream);
  const StageOutcome o = path.Admit(r);
  EXPECT_EQ(o.status(), absl::FailedPreconditionError("sequence refused"));
  IngestResponse response;
  path.Refuse(r, o, &response);
  ASSERT_EQ(response.rejected_size(), 2);
  EXPECT_EQ(response.rejected(0).message(), "refused by the test stage");
  EXPECT_EQ(sink_.batches_taken(), 0);

  auto passed = Batch({Valid("a")}, /*sequence=*/10);
  Admission p = For(passed.get());
  EXPECT_EQ(path.Admit(p).step(), StageStep::kQueued);
  AwaitSettled(*passed);
}

}  // namespace
}  // namespace feed_ingest
