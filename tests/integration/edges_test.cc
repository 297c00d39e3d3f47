// The promise at the edges, against the real server in this process: a
// lost broker list, settings that would break the contract, an operators'
// port under idle and trickling clients, every metric family from the
// start, and memory bounded in bytes when Kafka is away.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embedded_broker.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ingest_server.h"
#include "support/http_get.h"
#include "support/kafka_reader.h"
#include "support/server_process.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::InteractionIngest;
using testing::HttpGet;
using testing::MakeInteraction;

ServerOptions Loopback(std::string brokers) {
  ServerOptions options;
  options.brokers = std::move(brokers);
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "127.0.0.1:0";
  return options;
}

// A metric family's samples from the /metrics text: series → value.
std::map<std::string, double> Samples(const std::string& text, const std::string& family) {
  std::map<std::string, double> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.rfind(family, 0) != 0 || line.size() <= family.size()) continue;
    const char next = line[family.size()];
    if (next != '{' && next != ' ') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

TEST(EdgesTest, NoBrokersRefusesToStartAndEmbeddedIsAskedForByName) {
  auto none = IngestServer::Start(Loopback(""));
  EXPECT_EQ(none.status(),
            absl::InvalidArgumentError(
                "no Kafka brokers: give --brokers=host:port,... (FEED_INGEST_BROKERS), or "
                "--brokers=embedded for the in-memory development broker"));

  auto embedded = IngestServer::Start(Loopback("embedded"));
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  ASSERT_NE((*embedded)->embedded_broker(), nullptr);
  auto stub = InteractionIngest::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*embedded)->grpc_port()), grpc::InsecureChannelCredentials()));
  IngestRequest request;
  *request.add_interactions() = MakeInteraction("u", "v", "embedded-1");
  IngestResponse response;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Ingest(&ctx, request, &response).ok());
  EXPECT_EQ(response.accepted(), 1u);
}

TEST(EdgesTest, KafkaSettingsThatBreakTheContractRefuseTheStart) {
  auto broker = *EmbeddedBroker::Start({});
  ServerOptions options = Loopback(broker->bootstrap());
  options.kafka_config = {{"linger.ms", "10"}, {"acks", "1"}};
  EXPECT_EQ(IngestServer::Start(options).status(),
            absl::InvalidArgumentError("--kafka-config: acks=1 is refused: an accepted event must "
                                       "be held by every in-sync replica (acks=all)"));
}

// A TCP connection to 127.0.0.1:`port`, or -1.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(EdgesTest, TheOperatorsPortAnswersWhileItsConnectionsIdleOrTrickle) {
  auto server = IngestServer::Start(Loopback("embedded"));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->metrics_port();
  // 50 connections that send nothing, 50 that send a request a byte a second.
  std::vector<int> idle, trickle;
  for (int i = 0; i < 50; ++i) idle.push_back(Connect(port));
  for (int i = 0; i < 50; ++i) trickle.push_back(Connect(port));
  std::atomic<bool> stop{false};
  std::thread trickler([&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t i = 0; !stop.load() && i < request.size(); ++i) {
      for (int fd : trickle) (void)send(fd, &request[i], 1, MSG_NOSIGNAL);
      for (int t = 0; t < 10 && !stop.load(); ++t) absl::SleepFor(absl::Milliseconds(100));
    }
  });
  absl::SleepFor(absl::Milliseconds(300));  // Every bad connection is in.
  for (int round = 0; round < 3; ++round) {
    for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
      const absl::Time start = absl::Now();
      const testing::HttpReply reply = HttpGet(port, path);
      const absl::Duration took = absl::Now() - start;
      EXPECT_EQ(reply.status, 200) << path;
      EXPECT_LE(took, absl::Seconds(1)) << path << " took " << took;
    }
    absl::SleepFor(absl::Milliseconds(700));
  }
  stop = true;
  trickler.join();
  for (int fd : idle) close(fd);
  for (int fd : trickle) close(fd);
}

TEST(EdgesTest, EveryMetricFamilyIsThereBeforeTheFirstEvent) {
  auto server = IngestServer::Start(Loopback("embedded"));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string text = HttpGet((*server)->metrics_port(), "/metrics").body;
  auto failures = Samples(text, "feed_ingest_kafka_delivery_failures_total");
  for (const char* error :
       {"_MSG_TIMED_OUT", "_PURGE_QUEUE", "_PURGE_INFLIGHT", "_FATAL", "MSG_SIZE_TOO_LARGE"}) {
    const std::string series =
        absl::StrCat("feed_ingest_kafka_delivery_failures_total{error=\"", error, "\"}");
    ASSERT_TRUE(failures.count(series)) << series << " is missing before the first failure";
    EXPECT_EQ(failures[series], 0);
  }
  EXPECT_EQ(Samples(text, "feed_ingest_memory_limit_bytes")["feed_ingest_memory_limit_bytes"],
            256 << 20);
  auto held = Samples(text, "feed_ingest_memory_held_bytes");
  EXPECT_EQ(held.size(), 3u) << "one series per pool";
  EXPECT_EQ(held["feed_ingest_memory_held_bytes{pool=\"requests\"}"], 0);
  EXPECT_EQ(Samples(text, "feed_ingest_log_lines_dropped_total").size(), 1u);
  EXPECT_EQ(Samples(text, "feed_ingest_interactions_rejected_total").size(), 13u)
      << "every reason, at 0";
  EXPECT_EQ(Samples(text, "feed_ingest_dedup_total").size(), 4u) << "every result, at 0";
  EXPECT_EQ(Samples(text, "feed_ingest_dedup_store_errors_total").size(), 1u);
  EXPECT_EQ(Samples(text, "feed_ingest_dedup_entries").size(), 1u);
}

// Dedup settings that cannot work refuse the start, naming the flag.
TEST(EdgesTest, DedupSettingsThatCannotWorkRefuseTheStart) {
  struct Case {
    std::function<void(DedupOptions*)> set;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](DedupOptions* d) { d->store = "redis://nohost"; }, "--dedup-store"},
      {[](DedupOptions* d) { d->store = "memcached://127.0.0.1:11211"; }, "--dedup-store"},
      {[](DedupOptions* d) { d->store = "redis://127.0.0.1:6379/99"; }, "DB must be"},
      {[](DedupOptions* d) { d->on_store_error = "drop"; }, "--dedup-on-store-error"},
      {[](DedupOptions* d) { d->window = absl::Seconds(-1); }, "--dedup-window"},
      {[](DedupOptions* d) { d->max_entries = 10'000'000; }, "--dedup-max-entries"},
  };
  for (const Case& c : cases) {
    ServerOptions options = Loopback("embedded");
    c.set(&options.dedup);
    auto server = IngestServer::Start(options);
    ASSERT_FALSE(server.ok()) << c.message;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(server.status().message().find(c.message), std::string::npos) << server.status();
  }
}

// Kafka is away; unary calls pile up waiting for it. With a small
// --memory-limit, the calls that would pass it are refused at once, nothing
// taken, and the service never holds more than its budget.
TEST(EdgesTest, MemoryIsBoundedInBytesWhileKafkaIsAway) {
  auto broker = *EmbeddedBroker::Start({});
  ServerOptions options = Loopback(broker->bootstrap());
  options.memory_limit = 32 << 20;      // 24 MiB for requests, 8 for gRPC's buffers.
  options.dedup.max_entries = 100'000;  // What fits a limit this small.
  options.shutdown_timeout = absl::Seconds(3);
  auto server = IngestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(broker->cluster(), b);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = InteractionIngest::NewStub(channel);
  IngestRequest request;
  for (int i = 0; i < 1000; ++i) {
    *request.add_interactions() = MakeInteraction(absl::StrCat("user-", i), "video", "");
  }
  constexpr int kCalls = 200;  // Each holds ~1 MiB: 200 would need far more than 24 MiB.
  std::atomic<int> refused{0}, answered{0};
  std::string refusal;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<IngestResponse> responses(kCalls);
  absl::Mutex mu;
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    stub->async()->Ingest(contexts.back().get(), &request, &responses[i], [&](grpc::Status s) {
      // gRPC's own quota may cancel a stream too (RST_STREAM: also
      // RESOURCE_EXHAUSTED); the service's refusals say why.
      if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
          s.error_message().find("--memory-limit") != std::string::npos) {
        absl::MutexLock lock(&mu);
        refusal = s.error_message();
        ++refused;
      }
      ++answered;
    });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (refused.load() < kCalls / 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GE(refused.load(), kCalls / 2) << "calls past the budget are refused at once";
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(refusal,
              "the server holds all it may for requests in flight (24 MiB of --memory-limit); "
              "nothing of this request was taken, send it again after a backoff");
  }
  const std::string text = HttpGet((*server)->metrics_port(), "/metrics").body;
  const double held = Samples(
      text, "feed_ingest_memory_held_bytes")["feed_ingest_memory_held_bytes{pool=\"requests\"}"];
  EXPECT_GT(held, 0);
  EXPECT_LE(held, 24 << 20);
  EXPECT_GT(Samples(text, "feed_ingest_interactions_rejected_total")
                ["feed_ingest_interactions_rejected_total{reason=\"overload\"}"],
            0);
  // The calls holding memory are answered (RETRYABLE) when the server stops.
  (*server)->Shutdown();
  while (answered.load() < kCalls) absl::SleepFor(absl::Milliseconds(10));
}

// stderr is a pipe nobody reads (a log shipper that hangs). The producer
// thread logs broker state changes and the main thread logs reloads, and
// neither may wait for stderr: calls keep being answered, and the lines that
// do not fit are dropped and counted.
TEST(EdgesTest, AStderrNobodyReadsNeverStallsDelivery) {
  auto broker = *EmbeddedBroker::Start({});
  // A tokens file with a long path, so that every failed reload logs ~4 KB.
  std::string dir = ::testing::TempDir();
  for (int i = 0; i < 14; ++i) {
    dir += "/" + std::string(250, static_cast<char>('a' + i));
    mkdir(dir.c_str(), 0700);
  }
  const std::string tokens = dir + "/tokens";
  std::ofstream(tokens) << "token-1\n";
  testing::ServerProcess server({"--brokers=" + broker->bootstrap(), "--listen=127.0.0.1:0",
                                 "--metrics-listen=127.0.0.1:0", "--auth-tokens-file=" + tokens,
                                 "--kafka-config=statistics.interval.ms=200"});
  ASSERT_TRUE(server.WaitServing(absl::Seconds(30))) << server.Log();
  server.StopReadingLog();

  auto channel = grpc::CreateChannel(server.grpc_target(), grpc::InsecureChannelCredentials());
  auto stub = InteractionIngest::NewStub(channel);
  auto call = [&](int i) {
    IngestRequest request;
    *request.add_interactions() = MakeInteraction("u", "v", absl::StrCat("log-", i));
    IngestResponse response;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer token-1");
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    const grpc::Status s = stub->Ingest(&ctx, request, &response);
    return s.ok() && response.accepted() == 1;
  };
  ASSERT_TRUE(call(0));
  std::ofstream(tokens, std::ios::trunc) << "not a tokens line\n";
  for (int round = 0; round < 6; ++round) {
    // Broker state changes: logged on the producer thread.
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(broker->cluster(), b);
    absl::SleepFor(absl::Milliseconds(400));
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(broker->cluster(), b);
    // Failed reloads: ~4 KB a line, on the main thread.
    for (int i = 0; i < 60; ++i) {
      server.Signal(SIGHUP);
      absl::SleepFor(absl::Milliseconds(2));
    }
    EXPECT_TRUE(call(round + 1)) << "round " << round << ": a call was not answered in time";
  }
  EXPECT_GT(server.MetricSum("feed_ingest_log_lines_dropped_total"), 0)
      << "a full stderr drops lines rather than wait";
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 0) << "a stderr nobody reads must not block the exit";
}

}  // namespace
}  // namespace feed_ingest
