// The real server on a free port, a mock Kafka cluster in this process, a
// real gRPC channel, and librdkafka's consumer reading back what was written.
#include "ingest_server.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embedded_broker.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "prometheus/metric_family.h"
#include "record_json.h"
#include "support/http_get.h"
#include "support/kafka_reader.h"
#include "support/murmur2.h"
#include "support/raw_calls.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::Interaction;
using ::feed::interactions::v1::InteractionIngest;
using ::feed::interactions::v1::REJECTION_CODE_INVALID;
using testing::Header;
using testing::JavaPartition;
using testing::MakeInteraction;
using testing::ReadTopic;

constexpr char kTopic[] = "feed.interactions.v1";

class IngestServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    EmbeddedBrokerOptions broker_options;
    if (!options.hot_key.limit.empty()) {
      broker_options.more_topics.push_back(options.hot_key.overflow_topic);
    }
    broker_ = *EmbeddedBroker::Start(broker_options);
    options.brokers = broker_->bootstrap();
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "127.0.0.1:0";
    auto server = IngestServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = InteractionIngest::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->grpc_port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  grpc::Status Ingest(const IngestRequest& request, IngestResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->Ingest(&ctx, request, response);
  }

  // A unary call with raw bytes: for what a stub cannot send, and for the
  // health service, whose proto this build does not generate.
  grpc::Status CallRaw(const std::string& method, const std::string& bytes, std::string* reply) {
    return testing::RawUnary(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                                 grpc::InsecureChannelCredentials()),
                             method, bytes, reply);
  }

  // grpc.health.v1.Health/Check for `service`: the status enum (1 SERVING,
  // 2 NOT_SERVING), or -1 when the call failed.
  int HealthStatus(const std::string& service) {
    std::string request;
    if (!service.empty()) {
      request = std::string("\x0a") + static_cast<char>(service.size()) + service;
    }
    std::string reply;
    if (!CallRaw("/grpc.health.v1.Health/Check", request, &reply).ok()) return -1;
    if (reply.empty()) return 0;  // UNKNOWN is the default, encoded as nothing.
    return reply.size() == 2 && reply[0] == 0x08 ? reply[1] : -1;
  }

  // The value of a counter or gauge series, or -1 when absent.
  double MetricValue(const std::string& name, const std::map<std::string, std::string>& labels) {
    for (const auto& family : server_->registry()->Collect()) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> have;
        for (const auto& l : metric.label) have[l.name] = l.value;
        if (have != labels) continue;
        if (family.type == prometheus::MetricType::Counter) return metric.counter.value;
        if (family.type == prometheus::MetricType::Gauge) return metric.gauge.value;
      }
    }
    return -1;
  }

  // Checks one Kafka record against the interaction it came from.
  static void ExpectRecordMatches(const TailedRecord& record, const Interaction& sent) {
    EXPECT_EQ(record.key, sent.user_id());
    EXPECT_EQ(record.partition, JavaPartition(sent.user_id(), 6)) << record.key;
    EXPECT_EQ(Header(record, "content-type"), "application/json");
    EXPECT_EQ(Header(record, "event-id"), sent.event_id());
    const nlohmann::json value = nlohmann::json::parse(record.value);
    ASSERT_TRUE(value.is_object());
    EXPECT_EQ(value.size(), 5u) << record.value;
    EXPECT_EQ(value.at("userId").get<std::string>(), sent.user_id());
    EXPECT_EQ(value.at("videoId").get<std::string>(), sent.video_id());
    EXPECT_EQ(value.at("interactionType").get<std::string>(), sent.interaction_type());
    ASSERT_TRUE(value.at("watchTime").is_number_integer());
    EXPECT_EQ(value.at("watchTime").get<int64_t>(), sent.watch_time_ms());
    std::string ts;
    AppendRfc3339Millis(sent.timestamp().seconds(), sent.timestamp().nanos(), &ts);
    EXPECT_EQ(value.at("timestamp").get<std::string>(), ts);
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<InteractionIngest::Stub> stub_;
};

TEST_F(IngestServerTest, MixedBatchTakesTheValidItemsAndNamesEachBadOne) {
  StartServer();
  IngestRequest request;
  request.set_sequence(42);
  *request.add_interactions() = MakeInteraction("user-1", "video-1", "e-0");
  *request.add_interactions() = MakeInteraction("", "video-2", "e-1");  // No user.
  *request.add_interactions() = MakeInteraction("ユーザー🎬", "vidéo \"3\"", "e-2");
  Interaction bad_type = MakeInteraction("user-4", "video-4", "e-3");
  bad_type.set_interaction_type("dislike");
  *request.add_interactions() = bad_type;
  Interaction bad_watch = MakeInteraction("user-5", "video-5", "e-4");
  bad_watch.set_watch_time_ms(-5);
  *request.add_interactions() = bad_watch;
  *request.add_interactions() = MakeInteraction("user-6", "video-6", "");  // No event id.

  IngestResponse response;
  ASSERT_TRUE(Ingest(request, &response).ok());
  EXPECT_EQ(response.sequence(), 42u);
  EXPECT_EQ(response.accepted(), 3u);
  ASSERT_EQ(response.rejected_size(), 3);
  EXPECT_EQ(response.rejected(0).index(), 1u);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_INVALID);
  EXPECT_EQ(response.rejected(0).message(), "user_id: required, must not be empty");
  EXPECT_EQ(response.rejected(1).index(), 3u);
  EXPECT_EQ(response.rejected(1).message(),
            "interaction_type: \"dislike\" is not one of: view, like, unlike, share, comment, "
            "skip, complete, save");
  EXPECT_EQ(response.rejected(2).index(), 4u);
  EXPECT_EQ(response.rejected(2).message(), "watch_time_ms: -5 is below 0");

  const auto records = ReadTopic(server_->brokers(), kTopic, 3);
  ASSERT_EQ(records.size(), 3u);
  std::map<std::string, Interaction> by_video = {{"video-1", request.interactions(0)},
                                                 {"vidéo \"3\"", request.interactions(2)},
                                                 {"video-6", request.interactions(5)}};
  std::set<std::string> seen;
  for (const auto& record : records) {
    const std::string video = nlohmann::json::parse(record.value).at("videoId");
    ASSERT_TRUE(by_video.count(video)) << record.value;
    EXPECT_TRUE(seen.insert(video).second) << "twice: " << video;
    ExpectRecordMatches(record, by_video[video]);
  }
  EXPECT_EQ(Header(records[0], "event-id").empty() + Header(records[1], "event-id").empty() +
                Header(records[2], "event-id").empty(),
            1);

  EXPECT_EQ(MetricValue("feed_ingest_interactions_received_total", {{"method", "Ingest"}}), 6);
  EXPECT_EQ(MetricValue("feed_ingest_interactions_accepted_total", {}), 3);
  EXPECT_EQ(MetricValue("feed_ingest_interactions_rejected_total", {{"reason", "user_id"}}), 1);
  EXPECT_EQ(
      MetricValue("feed_ingest_interactions_rejected_total", {{"reason", "interaction_type"}}), 1);
  EXPECT_EQ(MetricValue("feed_ingest_interactions_rejected_total", {{"reason", "watch_time"}}), 1);
}

TEST_F(IngestServerTest, WholeCallErrors) {
  ServerOptions options;
  options.max_batch = 5;
  StartServer(options);
  IngestRequest empty;
  IngestResponse response;
  grpc::Status s = Ingest(empty, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "interactions: the batch is empty");

  IngestRequest big;
  for (int i = 0; i < 6; ++i) *big.add_interactions() = MakeInteraction("u", "v", "");
  s = Ingest(big, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "interactions: 6 items is more than the limit of 5 per request");

  // Bytes that are not an IngestRequest: INVALID_ARGUMENT, and the server
  // goes on. A user_id that is not UTF-8 is that item's verdict, not the
  // call's.
  std::string reply;
  const std::string method = "/feed.interactions.v1.InteractionIngest/Ingest";
  grpc::Status raw = CallRaw(method, std::string("\x0a\xff\xff\xff\xff\x0f", 6), &reply);
  EXPECT_EQ(raw.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << raw.error_message();
  raw = CallRaw(method, std::string("\x0a\x03\x0a\x01\xff", 5), &reply);
  ASSERT_TRUE(raw.ok()) << raw.error_message();
  ASSERT_TRUE(response.ParseFromString(reply));
  EXPECT_EQ(response.accepted(), 0u);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).message(), "user_id: not valid UTF-8 at byte 0");

  IngestRequest good;
  *good.add_interactions() = MakeInteraction("u", "v", "ok");
  ASSERT_TRUE(Ingest(good, &response).ok());
  EXPECT_EQ(response.accepted(), 1u);
}

TEST_F(IngestServerTest, StreamAnswersEverySequenceAndWritesEveryRecordOnce) {
  StartServer();
  constexpr int kRequests = 1000;
  constexpr int kPerRequest = 10;
  std::map<std::string, Interaction> sent;
  std::vector<IngestRequest> requests(kRequests);
  for (int r = 0; r < kRequests; ++r) {
    requests[r].set_sequence(static_cast<uint64_t>(r + 1));
    for (int i = 0; i < kPerRequest; ++i) {
      const int n = r * kPerRequest + i;
      Interaction item = MakeInteraction(absl::StrCat("user-", n % 97, n % 5 == 0 ? "-ñ" : ""),
                                         absl::StrCat("video-", n), absl::StrCat("evt-", n));
      item.set_watch_time_ms(n);
      sent[item.event_id()] = item;
      *requests[r].add_interactions() = item;
    }
  }

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  auto stream = stub_->Stream(&ctx);
  std::thread writer([&] {
    for (const auto& request : requests) {
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  std::map<uint64_t, int> answered;
  IngestResponse response;
  while (stream->Read(&response)) {
    ++answered[response.sequence()];
    EXPECT_EQ(response.accepted(), static_cast<uint32_t>(kPerRequest));
    EXPECT_EQ(response.rejected_size(), 0);
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answered.size(), static_cast<size_t>(kRequests));
  for (const auto& [sequence, count] : answered) {
    EXPECT_GE(sequence, 1u);
    EXPECT_LE(sequence, static_cast<uint64_t>(kRequests));
    EXPECT_EQ(count, 1) << "sequence " << sequence;
  }

  const auto records = ReadTopic(server_->brokers(), kTopic, sent.size() + 1);
  ASSERT_EQ(records.size(), sent.size());
  std::set<std::string> seen;
  for (const auto& record : records) {
    const std::string id = Header(record, "event-id");
    ASSERT_TRUE(sent.count(id)) << id;
    ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id;
    ExpectRecordMatches(record, sent[id]);
  }
  EXPECT_EQ(MetricValue("feed_ingest_interactions_received_total", {{"method", "Stream"}}),
            kRequests * kPerRequest);
  EXPECT_EQ(MetricValue("feed_ingest_interactions_accepted_total", {}), kRequests * kPerRequest);
}

// Callers on several threads at once through the quota and hot-key stages:
// one user over --hot-key-limit has its excess on the overflow topic, with
// the header; everyone else's records are on the main topic; nothing lost.
TEST_F(IngestServerTest, HotKeyOverflowAndQuotasUnderConcurrentCallers) {
  ServerOptions options;
  options.hot_key.limit = "100/100";
  options.quota.default_quota = "1000000/1000000";
  StartServer(std::move(options));
  constexpr int kThreads = 4;
  constexpr int kCalls = 25;
  constexpr int kPerCall = 20;  // Half of them the hot user's.
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        IngestRequest request;
        for (int i = 0; i < kPerCall; ++i) {
          const std::string id = absl::StrCat("t", t, "-c", c, "-i", i);
          *request.add_interactions() =
              MakeInteraction(i % 2 == 0 ? "hot" : absl::StrCat("user-", t, "-", i), "video-1", id);
        }
        IngestResponse response;
        const grpc::Status status = Ingest(request, &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        EXPECT_EQ(response.rejected_size(), 0);
        accepted += static_cast<int>(response.accepted());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  constexpr int kSent = kThreads * kCalls * kPerCall;
  EXPECT_EQ(accepted.load(), kSent);

  const double overflowed =
      MetricValue("feed_ingest_hot_key_events_total", {{"action", "overflow"}});
  ASSERT_GT(overflowed, 0);
  const auto main = ReadTopic(server_->brokers(), kTopic, kSent - static_cast<size_t>(overflowed));
  const auto over = ReadTopic(server_->brokers(), "feed.interactions.v1.overflow",
                              static_cast<size_t>(overflowed));
  EXPECT_EQ(main.size() + over.size(), static_cast<size_t>(kSent));
  EXPECT_EQ(over.size(), static_cast<size_t>(overflowed));
  std::set<std::string> ids;
  for (const auto& record : over) {
    EXPECT_EQ(record.key, "hot");
    EXPECT_EQ(Header(record, "feed-overflow"), "hot-key");
    ids.insert(Header(record, "event-id"));
  }
  size_t hot_on_main = 0;
  for (const auto& record : main) {
    EXPECT_EQ(Header(record, "feed-overflow"), "");
    hot_on_main += record.key == "hot";
    ids.insert(Header(record, "event-id"));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kSent)) << "every item once";
  EXPECT_GE(hot_on_main, 100u) << "the burst, at least";
  EXPECT_EQ(
      MetricValue("feed_ingest_caller_events_total", {{"caller", "other"}, {"result", "accepted"}}),
      kSent);
}

// A slow broker and a tiny producer queue fill the ring: unary calls get
// RESOURCE_EXHAUSTED with nothing taken, streams wait; everything answered
// as accepted is in Kafka, everything refused is not.
TEST_F(IngestServerTest, BackpressureRefusesOrWaitsAndLosesNothing) {
  ServerOptions options;
  options.ring_capacity = 1;
  options.kafka_config = {{"queue.buffering.max.messages", "4"}};
  StartServer(options);
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_rtt(broker_->cluster(), b, 200);

  std::mutex mu;
  std::set<std::string> accepted, refused;
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 10; ++i) {
        IngestRequest request;
        const std::string id = absl::StrCat("u-", c, "-", i);
        *request.add_interactions() = MakeInteraction(absl::StrCat("user-", c), "v", id);
        IngestResponse response;
        const grpc::Status s = Ingest(request, &response);
        std::lock_guard<std::mutex> lock(mu);
        if (s.ok() && response.accepted() == 1) {
          accepted.insert(id);
        } else {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
          refused.insert(id);
        }
      }
    });
  }
  // A stream under the same pressure is paused, not refused.
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  auto stream = stub_->Stream(&ctx);
  std::set<std::string> streamed;
  for (int r = 1; r <= 40; ++r) {
    IngestRequest request;
    request.set_sequence(static_cast<uint64_t>(r));
    const std::string id = absl::StrCat("s-", r);
    *request.add_interactions() = MakeInteraction("user-stream", "v", id);
    streamed.insert(id);
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  IngestResponse response;
  int stream_accepted = 0;
  while (stream->Read(&response)) stream_accepted += static_cast<int>(response.accepted());
  EXPECT_TRUE(stream->Finish().ok());
  for (auto& t : clients) t.join();

  EXPECT_EQ(stream_accepted, 40);
  EXPECT_GT(refused.size(), 0u) << "the ring never filled: the test proves nothing";
  EXPECT_GT(accepted.size(), 0u);
  EXPECT_EQ(MetricValue("feed_ingest_interactions_rejected_total", {{"reason", "overload"}}),
            static_cast<double>(refused.size()));

  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_rtt(broker_->cluster(), b, 0);
  const auto records = ReadTopic(server_->brokers(), kTopic, accepted.size() + streamed.size() + 1);
  std::set<std::string> in_kafka;
  for (const auto& record : records) {
    EXPECT_TRUE(in_kafka.insert(Header(record, "event-id")).second) << "duplicate";
  }
  for (const auto& id : accepted) EXPECT_TRUE(in_kafka.count(id)) << "lost " << id;
  for (const auto& id : streamed) EXPECT_TRUE(in_kafka.count(id)) << "lost " << id;
  for (const auto& id : refused) EXPECT_FALSE(in_kafka.count(id)) << "refused but written " << id;
}

TEST_F(IngestServerTest, HealthServesThenShutdownAnswersCallsKafkaNeverTook) {
  ServerOptions options;
  options.shutdown_timeout = absl::Seconds(4);
  StartServer(options);
  EXPECT_EQ(HealthStatus(""), 1);
  EXPECT_EQ(HealthStatus("feed.interactions.v1.InteractionIngest"), 1);

  // Kafka goes away; a call waits for it.
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(broker_->cluster(), b);
  IngestRequest request;
  *request.add_interactions() = MakeInteraction("user-1", "video-1", "stuck");
  IngestResponse response;
  grpc::Status status;
  std::thread call([&] { status = Ingest(request, &response); });
  while (MetricValue("feed_ingest_grpc_inflight_calls", {{"method", "Ingest"}}) < 1) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Time start = absl::Now();
  std::thread shutdown([this] { server_->Shutdown(); });
  int health = 1;
  while (health == 1 && absl::Now() - start < absl::Seconds(3)) health = HealthStatus("");
  EXPECT_EQ(health, 2) << "health must say NOT_SERVING while shutting down";
  call.join();
  shutdown.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4) + absl::Seconds(1));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 0u);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).index(), 0u);
  EXPECT_EQ(response.rejected(0).code(), ::feed::interactions::v1::REJECTION_CODE_RETRYABLE);
  EXPECT_EQ(response.rejected(0).message().rfind("kafka: ", 0), 0u)
      << response.rejected(0).message();
}

TEST_F(IngestServerTest, KafkaRefusalIsRetryableAndNotAccepted) {
  StartServer();
  // The Produce API (key 0) answers with a permanent error.
  rd_kafka_mock_push_request_errors(broker_->cluster(), 0, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  IngestRequest request;
  *request.add_interactions() = MakeInteraction("user-1", "video-1", "refused");
  IngestResponse response;
  ASSERT_TRUE(Ingest(request, &response).ok());
  EXPECT_EQ(response.accepted(), 0u);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).code(), ::feed::interactions::v1::REJECTION_CODE_RETRYABLE);
  EXPECT_EQ(response.rejected(0).message(),
            "kafka: Broker: Topic authorization failed (TOPIC_AUTHORIZATION_FAILED)");
  EXPECT_EQ(MetricValue("feed_ingest_interactions_rejected_total", {{"reason", "kafka"}}), 1);
  EXPECT_EQ(MetricValue("feed_ingest_interactions_accepted_total", {}), 0);
}

TEST_F(IngestServerTest, ReadinessFollowsKafkaReachability) {
  StartServer();
  const int port = server_->metrics_port();
  EXPECT_EQ(testing::HttpGet(port, "/readyz").status, 200);
  EXPECT_EQ(HealthStatus(""), 1);
  // Traffic makes the producer connect to the brokers that lead partitions.
  IngestRequest request;
  for (int i = 0; i < 12; ++i) {
    *request.add_interactions() = MakeInteraction(absl::StrCat("user-", i), "v", "");
  }
  IngestResponse response;
  ASSERT_TRUE(Ingest(request, &response).ok());

  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(broker_->cluster(), b);
  auto wait_for = [&](int want_http, int want_health) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      if (testing::HttpGet(port, "/readyz").status == want_http &&
          HealthStatus("") == want_health) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(503, 2)) << "Kafka down must make the server not ready";
  EXPECT_EQ(MetricValue("feed_ingest_ready", {}), 0);
  EXPECT_EQ(testing::HttpGet(port, "/healthz").status, 200) << "alive all the same";

  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(broker_->cluster(), b);
  EXPECT_TRUE(wait_for(200, 1)) << "Kafka back must make the server ready again";
  EXPECT_EQ(MetricValue("feed_ingest_ready", {}), 1);
}

// Server reflection lists the service, so tools like grpcurl work without
// the proto. The request is encoded by hand: the reflection proto is not
// part of this build. ServerReflectionRequest{list_services = ""} is field 7.
TEST_F(IngestServerTest, ReflectionListsTheService) {
  StartServer();
  grpc::GenericStub generic(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                                grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto call = generic.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](int id) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(static_cast<intptr_t>(id)));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  const std::string request("\x3a\x00", 2);
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string reply;
  for (const auto& sl : slices) reply.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_NE(reply.find("feed.interactions.v1.InteractionIngest"), std::string::npos);
  EXPECT_NE(reply.find("grpc.health.v1.Health"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(IngestServerTopicTest, MissingTopicFailsAtStartWithAClearError) {
  auto broker = *EmbeddedBroker::Start({});
  ServerOptions options;
  options.brokers = broker->bootstrap();
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "";
  options.topic = "feed.interactions.other";
  auto missing = IngestServer::Start(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "Kafka topic feed.interactions.other does not exist; create it, or start with "
            "--create-topic");
  // Looking the topic up must not have created it.
  {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", broker->bootstrap().c_str(), err, sizeof(err));
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ASSERT_NE(rk, nullptr) << err;
    const struct rd_kafka_metadata* md = nullptr;
    ASSERT_EQ(rd_kafka_metadata(rk, 1, nullptr, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    std::set<std::string> topics;
    for (int i = 0; i < md->topic_cnt; ++i) topics.insert(md->topics[i].topic);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    EXPECT_EQ(topics, std::set<std::string>{"feed.interactions.v1"});
  }

  // librdkafka 2.0.2's mock cluster names no controller, so it cannot serve
  // CreateTopics: --create-topic must then fail in time, saying why.
  options.create_topic = true;
  options.replication_factor = 1;
  options.startup_timeout = absl::Seconds(2);
  const absl::Time start = absl::Now();
  auto created = IngestServer::Start(options);
  ASSERT_FALSE(created.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(created.status().message(),
            "creating topic: Failed while waiting for controller: Local: Timed out");
}

}  // namespace
}  // namespace feed_ingest
