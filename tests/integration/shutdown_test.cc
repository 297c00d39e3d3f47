// SIGTERM with calls in flight: every call gets a final status, the process
// exits 0, and every event answered as accepted is in Kafka, once.
#include <signal.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embedded_broker.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "support/kafka_reader.h"
#include "support/server_process.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::InteractionIngest;

TEST(ShutdownTest, SigtermAnswersEveryCallInFlightAndLosesNothing) {
  auto broker = *EmbeddedBroker::Start({});
  // Slow acknowledgements keep calls in flight when the signal arrives.
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_rtt(broker->cluster(), b, 150);
  testing::ServerProcess server({"--brokers=" + broker->bootstrap(), "--listen=127.0.0.1:0",
                                 "--metrics-listen=", "--shutdown-timeout=20s"});
  ASSERT_TRUE(server.WaitServing(absl::Seconds(30))) << server.Log();
  auto channel = grpc::CreateChannel(server.grpc_target(), grpc::InsecureChannelCredentials());

  std::mutex mu;
  std::set<std::string> accepted;
  std::atomic<int> calls{0}, finals{0}, unexpected{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 24; ++c) {
    clients.emplace_back([&, c] {
      auto stub = InteractionIngest::NewStub(channel);
      for (int i = 0; !stop.load(); ++i) {
        IngestRequest request;
        for (int k = 0; k < 5; ++k) {
          *request.add_interactions() = testing::MakeInteraction(
              absl::StrCat("user-", c), "video", absl::StrCat("c", c, "-", i, "-", k));
        }
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        IngestResponse response;
        ++calls;
        const grpc::Status s = stub->Ingest(&ctx, request, &response);
        ++finals;
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          std::set<uint32_t> rejected;
          for (const auto& r : response.rejected()) rejected.insert(r.index());
          for (int k = 0; k < 5; ++k) {
            if (!rejected.count(static_cast<uint32_t>(k))) {
              accepted.insert(request.interactions(k).event_id());
            }
          }
        } else if (s.error_code() != grpc::StatusCode::UNAVAILABLE) {
          ++unexpected;
          ADD_FAILURE() << s.error_code() << " " << s.error_message();
        } else if (s.error_message().find("shutting down") == std::string::npos &&
                   s.error_message().find("onnect") == std::string::npos) {
          ADD_FAILURE() << "UNAVAILABLE: " << s.error_message();
        }
        if (!s.ok()) return;  // The server is going away.
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(800));
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 0) << server.Log();
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(calls.load(), finals.load());
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_NE(server.Log().find("all_calls_answered=true"), std::string::npos) << server.Log();
  // The signal must have met calls in flight, or the test proves nothing.
  std::smatch m;
  const std::string log = server.Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("calls_in_flight=(\\d+)"))) << log;
  EXPECT_GT(std::stoi(m[1]), 0) << log;
  ASSERT_GT(accepted.size(), 0u);

  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_rtt(broker->cluster(), b, 0);
  const auto records =
      testing::ReadTopic(broker->bootstrap(), "feed.interactions.v1", accepted.size() + 1000);
  std::set<std::string> in_kafka;
  for (const auto& r : records) {
    EXPECT_TRUE(in_kafka.insert(testing::Header(r, "event-id")).second) << "duplicate";
  }
  for (const auto& id : accepted) EXPECT_TRUE(in_kafka.count(id)) << "acknowledged, lost: " << id;
}

}  // namespace
}  // namespace feed_ingest
