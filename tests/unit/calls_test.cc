// UnaryCall and StreamCall over real gRPC on loopback, with the service's
// own path in front of a ScriptedSink instead of Kafka: no broker. Each test
// drives one shape of a call's life: answered, refused, backed off, drained.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "call_tracker.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ingest_path.h"
#include "ingest_service.h"
#include "prometheus/registry.h"
#include "stages/admit.h"
#include "stages/authenticate.h"
#include "stages/encode.h"
#include "stages/submit.h"
#include "stages/validate.h"
#include "support/kafka_reader.h"
#include "support/raw_calls.h"
#include "support/scripted_sink.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::InteractionIngest;
using ::feed::interactions::v1::REJECTION_CODE_INVALID;
using ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;
using testing::MakeInteraction;
using testing::ScriptedSink;

class CallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<AuthenticateStage>(nullptr));
    stages.push_back(std::make_unique<AdmitStage>(/*max_batch=*/10, &Clock::Real()));
    stages.push_back(std::make_unique<ValidateStage>(&validator_, &Clock::Real(), &metrics_));
    stages.push_back(std::make_unique<EncodeStage>());
    stages.push_back(std::make_unique<SubmitStage>(&sink_));
    path_ = std::make_unique<IngestPath>(std::move(stages), &metrics_);
    ServiceOptions options;
    options.stream_window = 4;
    service_ = std::make_unique<IngestService>(path_.get(), &tracker_, &Clock::Real(), &budget_,
                                               &metrics_, options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    service_->RegisterWith(&builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    service_->Start();
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = InteractionIngest::NewStub(channel_);
  }

  void TearDown() override { Stop(); }

  void Stop() {
    if (server_ == nullptr) return;
    tracker_.BeginDrain();
    EXPECT_TRUE(tracker_.WaitIdle(Deadline::After(Clock::Real(), absl::Seconds(10))));
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    service_->Stop();
    server_.reset();
    EXPECT_EQ(tracker_.inflight(), 0);
    EXPECT_EQ(metrics_.Inflight(Method::kIngest).Value(), 0);
    EXPECT_EQ(metrics_.Inflight(Method::kStream).Value(), 0);
  }

  static IngestRequest Request(uint64_t sequence, int valid, int invalid = 0) {
    IngestRequest request;
    request.set_sequence(sequence);
    for (int i = 0; i < valid; ++i) {
      *request.add_interactions() =
          MakeInteraction(absl::StrCat("u", sequence, "-", i), "v", absl::StrCat(sequence, i));
    }
    for (int i = 0; i < invalid; ++i) *request.add_interactions() = MakeInteraction("", "v", "");
    return request;
  }

  grpc::Status Ingest(const IngestRequest& request, IngestResponse* response,
                      absl::Duration deadline = absl::Seconds(10)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return stub_->Ingest(&ctx, request, response);
  }

  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  InteractionValidator validator_{ValidationLimits{}};
  ScriptedSink sink_;
  std::unique_ptr<IngestPath> path_;
  CallTracker tracker_{&metrics_, &Clock::Real()};
  MemoryBudget budget_{int64_t{64} << 20};
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<InteractionIngest::Stub> stub_;
};

constexpr char kIngestMethod[] = "/feed.interactions.v1.InteractionIngest/Ingest";
constexpr char kStreamMethod[] = "/feed.interactions.v1.InteractionIngest/Stream";

// The bytes of `request` with item `bad`'s user_id replaced by bytes that are
// not UTF-8 (FF FE FD FC, as a buggy mobile client sends): what the contract's
// own types refuse to parse, so only raw bytes can carry it.
std::string WithBadUserId(const IngestRequest& request, int bad) {
  wire::IngestRequest raw;
  raw.ParseFromString(request.SerializeAsString());
  raw.mutable_interactions(bad)->set_user_id(std::string("\xff\xfe\xfd\xfc", 4));
  return raw.SerializeAsString();
}

// --- UnaryCall -------------------------------------------------------------

TEST_F(CallsTest, UnaryIsAnsweredOnceEveryRecordHasSettled) {
  sink_.set_script([](const IngestBatch&, const IngestBatch::Record& r) {
    return r.index == 1 ? Delivery::Retryable(RejectLabel::kKafka, "kafka: down", false)
                        : Delivery::Written();
  });
  IngestResponse response;
  ASSERT_TRUE(Ingest(Request(5, 3, 1), &response).ok());
  EXPECT_EQ(response.sequence(), 5u);
  EXPECT_EQ(response.accepted(), 2u);
  ASSERT_EQ(response.rejected_size(), 2);
  EXPECT_EQ(response.rejected(0).index(), 1u);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_RETRYABLE);
  EXPECT_EQ(response.rejected(0).message(), "kafka: down");
  EXPECT_EQ(response.rejected(1).index(), 3u);
  EXPECT_EQ(response.rejected(1).code(), REJECTION_CODE_INVALID);
  EXPECT_EQ(sink_.written().size(), 2u);
}

TEST_F(CallsTest, UnaryAnswersWhileTheSinkHoldsOtherBatches) {
  sink_.Hold();
  grpc::ClientContext ctx;
  const IngestRequest held_request = Request(1, 2);
  IngestResponse held;
  grpc::Status held_status;
  bool held_done = false;
  std::mutex mu;
  std::condition_variable cv;
  stub_->async()->Ingest(&ctx, &held_request, &held, [&](grpc::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    held_status = s;
    held_done = true;
    cv.notify_one();
  });
  while (sink_.batches_taken() < 1) absl::SleepFor(absl::Milliseconds(1));
  // An all-invalid request needs no Kafka: answered at once.
  IngestResponse invalid;
  ASSERT_TRUE(Ingest(Request(2, 0, 2), &invalid).ok());
  EXPECT_EQ(invalid.accepted(), 0u);
  EXPECT_EQ(invalid.rejected_size(), 2);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_FALSE(held_done) << "answered before Kafka settled it";
  }
  sink_.Release();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return held_done; });
  EXPECT_TRUE(held_status.ok());
  EXPECT_EQ(held.accepted(), 2u);
}

TEST_F(CallsTest, UnaryRefusalsCarryTheStagesStatus) {
  IngestResponse response;
  grpc::Status s = Ingest(Request(1, 0), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "interactions: the batch is empty");

  sink_.set_refusal(SubmitResult::kFull);
  s = Ingest(Request(2, 2, 1), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(),
            "the server is at capacity; nothing of this request was taken, send it again after a "
            "backoff");
  EXPECT_EQ(metrics_.Rejected(RejectLabel::kOverload).Value(), 2);
  EXPECT_EQ(metrics_.Rejected(RejectReason::kUserId).Value(), 1);

  sink_.set_refusal(SubmitResult::kClosed);
  s = Ingest(Request(3, 1), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(metrics_.Rejected(RejectLabel::kShutdown).Value(), 1);
  EXPECT_EQ(sink_.batches_taken(), 0);
}

TEST_F(CallsTest, UnaryAfterTheDrainBeganIsUnavailable) {
  tracker_.BeginDrain();
  IngestResponse response;
  const grpc::Status s = Ingest(Request(1, 1), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "the server is shutting down; send again, to another instance");
  EXPECT_EQ(sink_.batches_taken(), 0);
}

TEST_F(CallsTest, UnaryWithInvalidUtf8InOneItemAnswersEveryItem) {
  std::string reply;
  const grpc::Status s =
      testing::RawUnary(channel_, kIngestMethod, WithBadUserId(Request(3, 3), 1), &reply);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  IngestResponse response;
  ASSERT_TRUE(response.ParseFromString(reply));
  EXPECT_EQ(response.sequence(), 3u);
  EXPECT_EQ(response.accepted(), 2u);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).index(), 1u);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_INVALID);
  EXPECT_EQ(response.rejected(0).message(), "user_id: not valid UTF-8 at byte 0");
  EXPECT_EQ(sink_.written().size(), 2u);
}

TEST_F(CallsTest, UnaryThatIsNoMessageAtAllIsInvalidArgument) {
  std::string reply;
  const grpc::Status s = testing::RawUnary(channel_, kIngestMethod, "\x0a\xff\xff", &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(
      s.error_message(),
      "the message is not a feed.interactions.v1.IngestRequest (protobuf could not parse it)");
}

// --- StreamCall ------------------------------------------------------------

TEST_F(CallsTest, StreamWithInvalidUtf8InOneItemAnswersEveryRequestAndEndsOk) {
  testing::RawStream stream(channel_, kStreamMethod);
  ASSERT_TRUE(stream.Write(Request(1, 2).SerializeAsString()));
  ASSERT_TRUE(stream.Write(WithBadUserId(Request(2, 3), 0)));
  ASSERT_TRUE(stream.Write(Request(3, 1).SerializeAsString()));
  stream.WritesDone();
  std::map<uint64_t, IngestResponse> answers;
  std::string bytes;
  while (stream.Read(&bytes)) {
    IngestResponse r;
    ASSERT_TRUE(r.ParseFromString(bytes));
    answers[r.sequence()] = r;
  }
  EXPECT_TRUE(stream.Finish().ok());
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[1].accepted(), 2u);
  EXPECT_EQ(answers[2].accepted(), 2u);
  ASSERT_EQ(answers[2].rejected_size(), 1);
  EXPECT_EQ(answers[2].rejected(0).index(), 0u);
  EXPECT_EQ(answers[2].rejected(0).message(), "user_id: not valid UTF-8 at byte 0");
  EXPECT_EQ(answers[3].accepted(), 1u);
}

TEST_F(CallsTest, StreamWithAnUnparsableRequestEndsNamingTheLastSequenceAnswered) {
  testing::RawStream stream(channel_, kStreamMethod);
  ASSERT_TRUE(stream.Write(Request(41, 1).SerializeAsString()));
  std::string bytes;
  ASSERT_TRUE(stream.Read(&bytes));  // Answered before the bad one is sent.
  stream.Write("\x0a\xff\xff");
  stream.WritesDone();
  EXPECT_FALSE(stream.Read(&bytes));
  const grpc::Status s = stream.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "request 2 of this stream is not a feed.interactions.v1.IngestRequest (protobuf could "
            "not parse it); the requests before it are answered, the last answer is for sequence "
            "41; send the rest again");
}

TEST_F(CallsTest, StreamAnswersEveryRequestBySequenceAndEndsOk) {
  grpc::ClientContext ctx;
  auto stream = stub_->Stream(&ctx);
  for (uint64_t seq = 1; seq <= 20; ++seq) ASSERT_TRUE(stream->Write(Request(seq, 2, seq % 3)));
  stream->WritesDone();
  std::vector<uint64_t> answered;
  IngestResponse response;
  while (stream->Read(&response)) {
    answered.push_back(response.sequence());
    EXPECT_EQ(response.accepted(), 2u) << response.sequence();
    EXPECT_EQ(response.rejected_size(), static_cast<int>(response.sequence() % 3));
  }
  EXPECT_TRUE(stream->Finish().ok());
  std::sort(answered.begin(), answered.end());
  ASSERT_EQ(answered.size(), 20u);
  for (uint64_t seq = 1; seq <= 20; ++seq) EXPECT_EQ(answered[seq - 1], seq);
  EXPECT_EQ(sink_.written().size(), 40u);
}

TEST_F(CallsTest, StreamWithNoRoomIsNotReadUntilThereIsRoom) {
  sink_.set_refusal(SubmitResult::kFull);
  grpc::ClientContext ctx;
  auto stream = stub_->Stream(&ctx);
  ASSERT_TRUE(stream->Write(Request(1, 1)));
  ASSERT_TRUE(stream->Write(Request(2, 1)));
  // The first request is held; it is retried, and the second not read.
  while (sink_.submits_refused() < 3) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(metrics_.Received(Method::kStream).Value(), 1) << "only the held request was read";
  sink_.set_refusal(SubmitResult::kQueued);
  stream->WritesDone();
  IngestResponse response;
  std::vector<uint64_t> answered;
  while (stream->Read(&response)) {
    answered.push_back(response.sequence());
    EXPECT_EQ(response.accepted(), 1u);
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered, (std::vector<uint64_t>{1, 2})) << "nothing refused, nothing lost";
  EXPECT_EQ(metrics_.Rejected(RejectLabel::kOverload).Value(), 0) << "a stream waits, unrefused";
}

TEST_F(CallsTest, StreamWithABadRequestAnswersTheRestThenEnds) {
  sink_.Hold();
  grpc::ClientContext ctx;
  auto stream = stub_->Stream(&ctx);
  ASSERT_TRUE(stream->Write(Request(1, 2)));
  while (sink_.batches_taken() < 1) absl::SleepFor(absl::Milliseconds(1));
  stream->Write(Request(2, 0));  // Empty: the stream must end.
  absl::SleepFor(absl::Milliseconds(50));
  sink_.Release();
  IngestResponse response;
  ASSERT_TRUE(stream->Read(&response)) << "the request read before the bad one is answered";
  EXPECT_EQ(response.sequence(), 1u);
  EXPECT_EQ(response.accepted(), 2u);
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "interactions: the batch is empty");
}

TEST_F(CallsTest, StreamAtShutdownAnswersWhatItReadThenIsUnavailable) {
  sink_.Hold();
  grpc::ClientContext ctx;
  auto stream = stub_->Stream(&ctx);
  ASSERT_TRUE(stream->Write(Request(1, 3)));
  while (sink_.batches_taken() < 1) absl::SleepFor(absl::Milliseconds(1));
  tracker_.BeginDrain();
  absl::SleepFor(absl::Milliseconds(50));
  sink_.Release();
  IngestResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.sequence(), 1u);
  EXPECT_EQ(response.accepted(), 3u);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CallsTest, StreamRefusedAtShutdownAnswersItsItemsRetryable) {
  sink_.set_refusal(SubmitResult::kClosed);
  grpc::ClientContext ctx;
  auto stream = stub_->Stream(&ctx);
  ASSERT_TRUE(stream->Write(Request(4, 2, 1)));
  IngestResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.sequence(), 4u);
  EXPECT_EQ(response.accepted(), 0u);
  ASSERT_EQ(response.rejected_size(), 3);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_RETRYABLE);
  EXPECT_EQ(response.rejected(2).code(), REJECTION_CODE_INVALID);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(CallsTest, AHeldRequestWhoseCallerCancelledIsDroppedNotWritten) {
  sink_.set_refusal(SubmitResult::kFull);
  {
    grpc::ClientContext ctx;
    auto stream = stub_->Stream(&ctx);
    ASSERT_TRUE(stream->Write(Request(1, 3)));
    while (sink_.submits_refused() < 2) absl::SleepFor(absl::Milliseconds(1));  // Held.
    ctx.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Give the held request its next try, after the cancellation is known.
  absl::SleepFor(absl::Milliseconds(200));
  sink_.set_refusal(SubmitResult::kQueued);
  Stop();
  EXPECT_EQ(sink_.batches_taken(), 0) << "written after its caller had gone";
  EXPECT_EQ(metrics_.Rejected(RejectLabel::kCancelled).Value(), 3);
}

TEST_F(CallsTest, StreamWhoseClientCancelsLeavesNothingBehind) {
  sink_.Hold();
  {
    grpc::ClientContext ctx;
    auto stream = stub_->Stream(&ctx);
    ASSERT_TRUE(stream->Write(Request(1, 2)));
    while (sink_.batches_taken() < 1) absl::SleepFor(absl::Milliseconds(1));
    ctx.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  sink_.Release();
  // The call finishes once its batch has settled; Stop() checks nothing is
  // left in flight.
  Stop();
  EXPECT_EQ(sink_.written().size(), 2u);
}

}  // namespace
}  // namespace feed_ingest
