// The fault suite: feed-ingest in its own process, the mock Kafka cluster in
// another (a fresh one per scenario), real gRPC load from several threads.
// Every scenario checks that no acknowledged event is missing from the topic,
// none is there twice, the service's peak RSS stays within 256 MiB, and it
// serves normally (a call accepted, /readyz 200) within 10 s of the fault
// ending. Each prints one `scenario=N ...` result line.
#include <signal.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fault/fault_load.h"
#include "fault/mock_broker_process.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "support/kafka_reader.h"
#include "support/server_process.h"

namespace feed_ingest::testing {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::InteractionIngest;
using ::feed::interactions::v1::REJECTION_CODE_INVALID;
using ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;

constexpr int kBrokers = 3;
constexpr int kPartitions = 6;
constexpr double kMaxRssMiB = 256;
constexpr absl::Duration kRecoveryLimit = absl::Seconds(10);
// What the service holds beyond --memory-limit whatever its load: the binary,
// its libraries, threads and their stacks, allocator slack
// (docs/operations.md, "Memory").
constexpr double kBaselineMiB = 128;

// `n` channels, each its own connection.
std::vector<std::shared_ptr<grpc::Channel>> Connections(const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("feed_ingest.fault.connection", i);
    out.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

LoadOptions Options(const std::string& id_prefix, absl::Duration deadline, int threads = 8,
                    absl::Duration pause = absl::Milliseconds(25), size_t max_items = 20000) {
  LoadOptions o;
  o.id_prefix = id_prefix;
  o.deadline = deadline;
  o.threads = threads;
  o.pause = pause;
  o.max_items = max_items;
  return o;
}

class FaultTest : public ::testing::Test {
 protected:
  // SIGTERM with `load` running: the service exits 0 within its 10 s
  // shutdown timeout, and every call has ended UNAVAILABLE or answered
  // (CANCELLED: 1-2 calls per run race the server's exit).
  LoadTotals SigtermUnderLoad(FaultLoad* load, int* exit_code, double* exit_s) {
    const absl::Time signalled = absl::Now();
    service_->Signal(SIGTERM);
    *exit_code = service_->Wait(absl::Seconds(15));
    *exit_s = absl::ToDoubleSeconds(absl::Now() - signalled);
    EXPECT_EQ(*exit_code, 0) << service_->Log();
    EXPECT_LE(*exit_s, 10.5);
    load->Stop();
    EXPECT_EQ(load->InFlight(), 0u);
    LoadTotals totals = load->Totals();
    EXPECT_EQ(totals.CallsNotIn({grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::CANCELLED}), 0u)
        << totals.last_error;
    return totals;
  }

  void SetUp() override { ASSERT_TRUE(broker_.Start().ok()); }

  // Starts the service against this scenario's broker; the channel follows.
  void StartService(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--brokers=" + broker_.bootstrap(), "--listen=127.0.0.1:0",
                                     "--metrics-listen=127.0.0.1:0", "--shutdown-timeout=10s"};
    args.insert(args.end(), extra.begin(), extra.end());
    service_ = std::make_unique<ServerProcess>(args);
    ASSERT_TRUE(service_->WaitServing(absl::Seconds(30))) << service_->Log();
    channel_ = grpc::CreateChannel(service_->grpc_target(), grpc::InsecureChannelCredentials());
  }

  // `verb B ARGS` on every broker.
  void AllBrokers(const std::string& verb, const std::string& args = "") {
    for (int b = 1; b <= kBrokers; ++b) {
      const std::string line = absl::StrCat(verb, " ", b, args.empty() ? "" : " ", args);
      ASSERT_TRUE(broker_.Command(line).ok()) << line;
    }
  }

  // Seconds from `fault_end` until a one-item call is accepted and /readyz
  // answers 200, or -1 after kRecoveryLimit (plus one call's deadline).
  double Recover(absl::Time fault_end, LoadTotals* totals) {
    bool accepted = false;
    for (int i = 0; i < 200; ++i) {
      if (!accepted) {
        LoadTotals one;
        const grpc::Status s = SendOnce(channel_.get(), "recover-", 1, absl::Seconds(2), &one);
        accepted = s.ok() && one.accepted.size() == 1;
        totals->accepted.insert(one.accepted.begin(), one.accepted.end());
        totals->items_sent += 1;
      }
      if (accepted && service_->Ready()) return absl::ToDoubleSeconds(absl::Now() - fault_end);
      if (absl::Now() - fault_end > kRecoveryLimit) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return -1;
  }

  // Ends a scenario's fault: the load runs on for `settle` and stops, then
  // the service must serve again (Recover). Returns the load's totals, the
  // seconds to recover and the service's peak RSS in MiB.
  struct Outcome {
    LoadTotals totals;
    double recovered_s;
    double peak_rss_mib;
  };
  Outcome EndFault(FaultLoad* load, absl::Duration settle = absl::ZeroDuration()) {
    const absl::Time fault_end = absl::Now();
    absl::SleepFor(settle);
    load->Stop();
    Outcome out{load->Totals(), -1, -1};
    out.recovered_s = Recover(fault_end, &out.totals);
    out.peak_rss_mib = service_->PeakRssMiB();
    return out;
  }

  // Reads the topic back, asserts what every scenario asserts, prints the
  // result line.
  void Finish(const std::string& scenario, const LoadTotals& totals, double peak_rss_mib,
              double recovered_s) {
    const TopicCheck check = CheckTopic(broker_.bootstrap(), totals);
    // Items the service wrote again without knowing whether the first copy
    // landed: the only duplicates it may leave.
    const double uncertain =
        service_ != nullptr
            ? std::max(0.0, service_->MetricSum("feed_ingest_dedup_total{result=\"uncertain\"}"))
            : 0;
    const std::string line =
        ResultLine(scenario, totals, check, uncertain, peak_rss_mib, recovered_s);
    std::printf("%s\n", line.c_str());
    // Produce partitions the broker refused as a Kafka broker would (out of
    // sequence after an earlier failure), which the mock alone would append.
    std::printf("scenario=%s-detail sequence_refusals=%lld\n", scenario.c_str(),
                static_cast<long long>(broker_.Refused()));
    std::fflush(stdout);
    RecordProperty("result", line);
    const std::string log = service_ != nullptr ? service_->Log() : std::string();
    const std::string tail = log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
    EXPECT_EQ(check.missing, 0u) << "acknowledged, lost: " << check.first_missing << "\n" << tail;
    EXPECT_LE(static_cast<double>(check.duplicated), uncertain)
        << "a duplicate the service did not count as uncertain\n"
        << tail;
    EXPECT_EQ(check.without_id, 0u);
    EXPECT_EQ(totals.unanswered_items, 0u) << "a response neither accepted nor rejected an item";
    EXPECT_GT(peak_rss_mib, 0);
    EXPECT_LE(peak_rss_mib, kMaxRssMiB);
    EXPECT_GE(recovered_s, 0) << "not serving normally " << absl::FormatDuration(kRecoveryLimit)
                              << " after the fault\n"
                              << tail;
    EXPECT_LE(recovered_s, absl::ToDoubleSeconds(kRecoveryLimit));
  }

  MockBrokerProcess broker_;
  std::unique_ptr<ServerProcess> service_;
  std::shared_ptr<grpc::Channel> channel_;
};

// 1. Every broker down for 20 s under load. Calls settle within
// message.timeout.ms (5 s), so a 10 s client deadline sees the server's
// verdict (RETRYABLE rejections) rather than its own expiry.
TEST_F(FaultTest, Scenario1AllBrokersDown20s) {
  StartService({"--kafka-config=message.timeout.ms=5000"});
  FaultLoad load(channel_, Options("s1-", absl::Seconds(10)));
  load.Start();
  absl::SleepFor(absl::Seconds(2));
  AllBrokers("down");
  absl::SleepFor(absl::Seconds(20));
  AllBrokers("up");
  auto [totals, recovered, rss] = EndFault(&load, absl::Seconds(2));
  EXPECT_GT(totals.retryable, 0u) << "the outage was not seen";
  // A few calls (8 of ~500) outlive the 10 s deadline although
  // message.timeout.ms is 5 s: librdkafka scans for timed-out messages
  // about once a second and the ring adds its own wait.
  EXPECT_EQ(totals.CallsNotIn({grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}),
            0u)
      << totals.last_error;
  Finish("1", totals, rss, recovered);
}

// 2. One broker down for 5 s, then up.
TEST_F(FaultTest, Scenario2OneBrokerDown) {
  StartService({"--kafka-config=message.timeout.ms=5000"});
  FaultLoad load(channel_, Options("s2-", absl::Seconds(10)));
  load.Start();
  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(broker_.Command("down 2").ok());
  absl::SleepFor(absl::Seconds(5));
  ASSERT_TRUE(broker_.Command("up 2").ok());
  auto [totals, recovered, rss] = EndFault(&load, absl::Seconds(2));
  // Calls whose partitions lost their leader may wait past their deadline:
  // allowed, as long as nothing acknowledged is lost.
  EXPECT_EQ(totals.CallsNotIn({grpc::StatusCode::DEADLINE_EXCEEDED}), 0u) << totals.last_error;
  Finish("2", totals, rss, recovered);
}

// 3. Partition leaders move every 250 ms for 10 s. The producer follows
// them, retrying after NOT_LEADER_FOR_PARTITION; every item is accepted.
TEST_F(FaultTest, Scenario3LeaderMovesEvery250ms) {
  StartService({});
  FaultLoad load(channel_, Options("s3-", absl::Seconds(30)));
  load.Start();
  for (int step = 0; step < 40; ++step) {
    for (int p = 0; p < kPartitions; ++p) {
      const std::string line = absl::StrCat("leader ", p, " ", (p + step) % kBrokers + 1);
      ASSERT_TRUE(broker_.Command(line).ok()) << line;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  auto [totals, recovered, rss] = EndFault(&load);
  EXPECT_EQ(totals.CallsNotIn({}), 0u) << totals.last_error;
  EXPECT_EQ(totals.retryable, 0u) << totals.last_rejection;
  Finish("3", totals, rss, recovered);
}

// 4. Hundreds of retriable Produce errors (NOT_LEADER_FOR_PARTITION,
// REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS, 100 each): retried inside the
// producer; nothing accepted is lost or written twice.
//
// A REQUEST_TIMED_OUT answer leaves its batch "possibly written" (from a real
// broker it means the leader appended it but replication did not confirm in
// time). The injected one wrote nothing, as when a leader that timed out is
// replaced before replicating, so the broker refuses the next batch of that
// partition as out of sequence; librdkafka 2.0.2 cannot tell which batch is
// in the log and raises a fatal error. The service then rebuilds its producer
// and answers the items it had in flight RETRYABLE: never "accepted".
TEST_F(FaultTest, Scenario4InjectedRetriableProduceErrors) {
  StartService({});
  FaultLoad load(channel_, Options("s4-", absl::Seconds(30)));
  load.Start();
  absl::SleepFor(absl::Seconds(1));
  for (int code : {6, 7, 19}) {
    ASSERT_TRUE(broker_.Command(absl::StrCat("errors 0 100 ", code)).ok());
    absl::SleepFor(absl::Seconds(2));
  }
  absl::SleepFor(absl::Seconds(2));
  auto [totals, recovered, rss] = EndFault(&load);
  EXPECT_EQ(totals.CallsNotIn({}), 0u) << totals.last_error;
  const size_t rebuilds = CountOf(service_->Log(), "Kafka producer rebuilt after a fatal error");
  std::printf("scenario=4-detail producer_rebuilds=%zu\n", rebuilds);
  if (totals.retryable > 0) {
    EXPECT_GT(rebuilds, 0u) << "RETRYABLE without a fatal producer error: "
                            << totals.last_rejection;
  }
  Finish("4", totals, rss, recovered);
}

// 5. Broker RTT 2 s, client deadline 200 ms: every call ends
// DEADLINE_EXCEEDED, the service keeps running, and once the RTT is back to
// 0 its in-flight gauge returns to 0 and new calls are accepted.
TEST_F(FaultTest, Scenario5SlowBrokersClientDeadline) {
  StartService({});
  AllBrokers("rtt", "2000");
  FaultLoad load(channel_, Options("s5-", absl::Milliseconds(200)));
  load.Start();
  absl::SleepFor(absl::Seconds(3));
  load.Stop();
  AllBrokers("rtt", "0");
  const absl::Time fault_end = absl::Now();
  LoadTotals totals = load.Totals();
  EXPECT_GT(totals.calls, 0u);
  EXPECT_EQ(totals.status[grpc::StatusCode::DEADLINE_EXCEEDED], totals.calls) << totals.last_error;
  double inflight = -1;
  for (int i = 0; i < 100; ++i) {
    inflight = service_->MetricSum("feed_ingest_grpc_inflight_calls");
    if (inflight == 0 || absl::Now() - fault_end > kRecoveryLimit) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(inflight, 0) << service_->Log();
  const double recovered = Recover(fault_end, &totals);
  const double rss = service_->PeakRssMiB();
  EXPECT_EQ(service_->Wait(absl::ZeroDuration()), -1) << "the service exited\n" << service_->Log();
  Finish("5", totals, rss, recovered);
}

// 6a. TOPIC_AUTHORIZATION_FAILED on Produce: the item is rejected, never
// accepted, within 1 s.
TEST_F(FaultTest, Scenario6TopicAuthorizationFailedIsRejected) {
  StartService({});
  LoadTotals totals;
  ASSERT_TRUE(SendOnce(channel_.get(), "s6-warm-", 1, absl::Seconds(5), &totals).ok());
  ASSERT_TRUE(broker_.Command("errors 0 1 29").ok());
  auto stub = InteractionIngest::NewStub(channel_);
  IngestRequest request;
  *request.add_interactions() = MakeInteraction("user-1", "video-1", "s6-denied");
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  IngestResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status s = stub->Ingest(&ctx, request, &response);
  const absl::Duration took = absl::Now() - start;
  totals.calls += 1;
  totals.items_sent += 1;
  totals.status[s.error_code()] += 1;
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(response.accepted(), 0u);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).index(), 0u);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_RETRYABLE);
  EXPECT_NE(response.rejected(0).message().find("TOPIC_AUTHORIZATION_FAILED"), std::string::npos)
      << response.rejected(0).message();
  EXPECT_LE(took, absl::Seconds(1));
  totals.retryable += 1;
  totals.last_rejection = response.rejected(0).message();
  const double recovered = Recover(absl::Now(), &totals);
  Finish("6a", totals, service_->PeakRssMiB(), recovered);
  std::printf("scenario=6a-detail rejection_code=%d rejection_s=%.3f message=\"%s\"\n",
              response.rejected(0).code(), absl::ToDoubleSeconds(took),
              response.rejected(0).message().c_str());
}

// 6b. A record above the producer's message.max.bytes: INVALID, the message
// names the size, within 1 s; the rest of the batch goes through.
TEST_F(FaultTest, Scenario6MessageTooLargeIsInvalid) {
  StartService({"--kafka-config=message.max.bytes=1000", "--max-id-bytes=4096"});
  auto stub = InteractionIngest::NewStub(channel_);
  IngestRequest request;
  *request.add_interactions() = MakeInteraction("user-1", "video-1", "s6-small");
  *request.add_interactions() = MakeInteraction("user-1", std::string(2000, 'v'), "s6-large");
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  IngestResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status s = stub->Ingest(&ctx, request, &response);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(response.accepted(), 1u);
  ASSERT_EQ(response.rejected_size(), 1);
  EXPECT_EQ(response.rejected(0).index(), 1u);
  EXPECT_EQ(response.rejected(0).code(), REJECTION_CODE_INVALID);
  EXPECT_NE(response.rejected(0).message().find("size"), std::string::npos)
      << response.rejected(0).message();
  EXPECT_LE(took, absl::Seconds(1));
  LoadTotals totals;
  totals.calls = 1;
  totals.items_sent = 2;
  totals.status[grpc::StatusCode::OK] = 1;
  totals.invalid = 1;
  totals.accepted.insert("s6-small");
  const double recovered = Recover(absl::Now(), &totals);
  Finish("6b", totals, service_->PeakRssMiB(), recovered);
  std::printf("scenario=6b-detail rejection_code=%d rejection_s=%.3f message=\"%s\"\n",
              response.rejected(0).code(), absl::ToDoubleSeconds(took),
              response.rejected(0).message().c_str());
}

// 7. A fatal idempotent-producer error under load. The broker refuses the
// oldest Produce in flight as out of sequence (`desync`), which librdkafka
// 2.0.2 reports as "sequence desynchronization", a fatal error. Readiness
// drops, the producer is rebuilt, what the old one held is answered
// RETRYABLE, and nothing accepted is lost. (kafka_sink_test raises the same
// error with rd_kafka_test_fatal_error().)
TEST_F(FaultTest, Scenario7FatalProducerError) {
  StartService({});
  FaultLoad load(channel_, Options("s7-", absl::Seconds(30)));
  load.Start();
  absl::SleepFor(absl::Seconds(1));
  const std::string kRebuilds = "feed_ingest_kafka_producer_rebuilds_total";
  double rebuilds = 0;
  // A refusal that lands on a later request in flight is only a retry, not
  // fatal: refuse again until the producer is rebuilt.
  for (int attempt = 0; attempt < 10 && rebuilds < 1; ++attempt) {
    ASSERT_TRUE(broker_.Command("desync").ok());
    for (int i = 0; i < 20 && rebuilds < 1; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
      rebuilds = service_->MetricSum(kRebuilds);
    }
  }
  auto [totals, recovered, rss] = EndFault(&load, absl::Seconds(1));
  const std::string log = service_->Log();
  EXPECT_GE(rebuilds, 1) << log;
  EXPECT_NE(log.find("Kafka unusable: the producer hit a fatal error"), std::string::npos);
  EXPECT_NE(log.find("sequence desynchronization"), std::string::npos);
  EXPECT_EQ(totals.CallsNotIn({}), 0u) << totals.last_error;
  std::printf("scenario=7-detail producer_rebuilds=%.0f\n", service_->MetricSum(kRebuilds));
  Finish("7", totals, rss, recovered);
}

// 8. Overload: a tiny ring and Kafka queue, slow brokers, far more load than
// drains. Unary calls are accepted or get RESOURCE_EXHAUSTED; a stream is
// paused, not dropped: every request on it is answered.
TEST_F(FaultTest, Scenario8Overload) {
  StartService({"--ring-capacity=2", "--kafka-config=queue.buffering.max.messages=50"});
  AllBrokers("rtt", "100");
  FaultLoad load(channel_, Options("s8-", absl::Seconds(20), /*threads=*/32, absl::Milliseconds(5),
                                   /*max_items=*/400000));
  load.Start();

  constexpr int kStreamRequests = 100;
  LoadTotals stream_totals;
  std::set<uint64_t> answered;
  grpc::Status stream_status;
  std::thread stream([&] {
    auto stub = InteractionIngest::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    auto rw = stub->Stream(&ctx);
    std::vector<IngestRequest> sent(kStreamRequests + 1);
    std::thread writer([&] {
      for (int seq = 1; seq <= kStreamRequests; ++seq) {
        IngestRequest& r = sent[static_cast<size_t>(seq)];
        r.set_sequence(static_cast<uint64_t>(seq));
        for (int k = 0; k < 4; ++k) {
          *r.add_interactions() =
              MakeInteraction("user-s", "video-1", absl::StrCat("s8-stream-", seq, "-", k));
        }
        if (!rw->Write(r)) break;
      }
      rw->WritesDone();
    });
    IngestResponse response;
    while (rw->Read(&response)) {
      answered.insert(response.sequence());
      std::set<uint32_t> rejected;
      for (const auto& r : response.rejected()) {
        rejected.insert(r.index());
        if (r.code() == REJECTION_CODE_RETRYABLE) ++stream_totals.retryable;
        if (r.code() == REJECTION_CODE_INVALID) ++stream_totals.invalid;
      }
      if (response.sequence() == 0 || response.sequence() > kStreamRequests) continue;
      const IngestRequest& r = sent[response.sequence()];
      for (int k = 0; k < r.interactions_size(); ++k) {
        if (!rejected.count(static_cast<uint32_t>(k))) {
          stream_totals.accepted.insert(r.interactions(k).event_id());
        }
      }
    }
    writer.join();
    stream_status = rw->Finish();
    stream_totals.items_sent = kStreamRequests * 4;
  });

  absl::SleepFor(absl::Seconds(5));
  const size_t busy_stream_answers = answered.size();  // racy read, for the log only
  load.Stop();
  stream.join();
  AllBrokers("rtt", "0");
  const absl::Time fault_end = absl::Now();
  LoadTotals totals = load.Totals();
  const double recovered = Recover(fault_end, &totals);
  const double rss = service_->PeakRssMiB();
  EXPECT_TRUE(stream_status.ok()) << stream_status.error_code() << " "
                                  << stream_status.error_message();
  EXPECT_EQ(answered.size(), static_cast<size_t>(kStreamRequests));
  EXPECT_EQ(totals.CallsNotIn({grpc::StatusCode::RESOURCE_EXHAUSTED}), 0u) << totals.last_error;
  EXPECT_GT(totals.status[grpc::StatusCode::RESOURCE_EXHAUSTED], 0u) << "no overload seen";
  EXPECT_GT(totals.accepted.size(), 0u);
  std::printf(
      "scenario=8 stream_requests=%d stream_answered=%zu stream_accepted=%zu "
      "stream_answered_at_5s=%zu\n",
      kStreamRequests, answered.size(), stream_totals.accepted.size(), busy_stream_answers);
  totals.Merge(stream_totals);
  Finish("8", totals, rss, recovered);
}

// 9a. SIGTERM under load: exit 0 within --shutdown-timeout, every call gets
// a final status (OK or UNAVAILABLE), nothing accepted is lost.
TEST_F(FaultTest, Scenario9SigtermUnderLoad) {
  AllBrokers("rtt", "150");  // keeps calls in flight when the signal lands
  StartService({});
  FaultLoad load(channel_, Options("s9a-", absl::Seconds(30), /*threads=*/16));
  load.Start();
  absl::SleepFor(absl::Seconds(1));
  const double rss = service_->PeakRssMiB();
  int exit_code = -1;
  double exit_s = 0;
  LoadTotals totals = SigtermUnderLoad(&load, &exit_code, &exit_s);
  EXPECT_NE(service_->Log().find("all_calls_answered=true"), std::string::npos) << service_->Log();
  // Kafka is up: the drain ends when the last call holding records is
  // answered, however many callers keep retrying and being refused.
  EXPECT_NE(service_->Log().find("answered_before_flush_deadline=true"), std::string::npos)
      << service_->Log();
  AllBrokers("rtt", "0");
  const absl::Time restart = absl::Now();
  StartService({});
  const double recovered = Recover(restart, &totals);
  std::printf("scenario=9a-detail exit_code=%d exit_s=%.2f\n", exit_code, exit_s);
  Finish("9a", totals, rss, recovered);
}

// 9b. SIGTERM while every broker is down: exit 0 within --shutdown-timeout,
// calls answered RETRYABLE or UNAVAILABLE, nothing accepted that is not in
// Kafka once the brokers are back.
TEST_F(FaultTest, Scenario9SigtermWhileKafkaDown) {
  StartService({});
  FaultLoad load(channel_, Options("s9b-", absl::Seconds(30)));
  load.Start();
  absl::SleepFor(absl::Milliseconds(500));
  AllBrokers("down");
  absl::SleepFor(absl::Seconds(2));
  const double rss = service_->PeakRssMiB();
  int exit_code = -1;
  double exit_s = 0;
  LoadTotals totals = SigtermUnderLoad(&load, &exit_code, &exit_s);
  EXPECT_GT(totals.retryable + totals.status[grpc::StatusCode::UNAVAILABLE], 0u);
  AllBrokers("up");
  const absl::Time restart = absl::Now();
  StartService({});
  const double recovered = Recover(restart, &totals);
  std::printf("scenario=9b-detail exit_code=%d exit_s=%.2f\n", exit_code, exit_s);
  Finish("9b", totals, rss, recovered);
}

// 10. SIGKILL under load, 20 times, against the same broker: whatever was
// acknowledged before each kill is in the topic, once.
TEST_F(FaultTest, Scenario10SigkillUnderLoadRepeated) {
  LoadTotals totals;
  double rss = 0;
  for (int round = 0; round < 20; ++round) {
    StartService({});
    FaultLoad load(channel_, Options(absl::StrCat("s10r", round, "-"), absl::Seconds(5),
                                     /*threads=*/8, absl::Milliseconds(25), /*max_items=*/1200));
    load.Start();
    absl::SleepFor(absl::Seconds(1));
    rss = std::max(rss, service_->PeakRssMiB());
    service_->Signal(SIGKILL);
    EXPECT_EQ(service_->Wait(absl::Seconds(10)), 128 + SIGKILL);
    load.Stop();
    totals.Merge(load.Totals());
  }
  EXPECT_EQ(totals.CallsNotIn({grpc::StatusCode::UNAVAILABLE}), 0u) << totals.last_error;
  const absl::Time restart = absl::Now();
  StartService({});
  const double recovered = Recover(restart, &totals);
  Finish("10", totals, rss, recovered);
}

// 11. Outages against the memory bound (--memory-limit=256MiB): every
// broker down for 60 s while the load that would grow memory fastest waits
// on Kafka. Each: peak RSS within the limit plus the baseline, every call
// answered, and once Kafka is back the topic holds exactly what was accepted
// (counted by end offsets: far more is written than the mock broker keeps).
class OutageTest : public FaultTest {
 protected:
  static constexpr double kLimitMiB = 256;

  void Outage(const std::string& scenario, const std::function<void()>& during,
              const std::function<void()>& after) {
    StartService({"--memory-limit=256MiB"});
    AllBrokers("down");
    const absl::Time start = absl::Now();
    during();
    absl::SleepFor(absl::Seconds(60) - (absl::Now() - start));
    AllBrokers("up");
    after();
    rss_ = service_->PeakRssMiB();
    written_ = WrittenCount(broker_.bootstrap());
    std::printf("scenario=%s peak_rss_mib=%.1f bound_mib=%.0f written=%lld\n", scenario.c_str(),
                rss_, kLimitMiB + kBaselineMiB, static_cast<long long>(written_));
    EXPECT_GT(rss_, 0);
    EXPECT_LE(rss_, kLimitMiB + kBaselineMiB) << service_->Log().substr(0, 4000);
  }

  // Written once each: no fewer records than accepted items, no more than
  // those plus the ones answered "may have been written".
  void ExpectWrittenOnce(uint64_t accepted, uint64_t possibly_written) {
    EXPECT_GE(written_, static_cast<int64_t>(accepted)) << "accepted, not written";
    EXPECT_LE(written_, static_cast<int64_t>(accepted + possibly_written)) << "written twice";
  }

  // Unary calls flooding the outage (`options.calls` in flight, retried as
  // a well-behaved caller would), then every item accepted once Kafka is back.
  void FloodOutage(const std::string& scenario, FloodOptions options, int connections) {
    options.deadline = absl::Seconds(150);
    std::unique_ptr<Flood> flood;
    const uint64_t calls = static_cast<uint64_t>(options.calls);
    Outage(
        scenario,
        [&] {
          flood =
              std::make_unique<Flood>(Connections(service_->grpc_target(), connections), options);
          flood->Start();
        },
        [&] {
          const absl::Time deadline = absl::Now() + absl::Seconds(120);
          while (flood->Totals().slots_done < calls && absl::Now() < deadline) {
            absl::SleepFor(absl::Milliseconds(200));
          }
          flood->StopRetrying();
          EXPECT_TRUE(flood->Wait(absl::Seconds(150))) << "every call answered";
        });
    const FloodTotals t = flood->Totals();
    const auto refused = t.status.find(grpc::StatusCode::RESOURCE_EXHAUSTED);
    std::printf(
        "scenario=%s-detail calls=%llu accepted=%llu possibly_written=%llu slots_done=%llu "
        "unknown_outcome_calls=%llu refused=%llu last_error=\"%s\"\n",
        scenario.c_str(), static_cast<unsigned long long>(t.calls),
        static_cast<unsigned long long>(t.accepted),
        static_cast<unsigned long long>(t.possibly_written),
        static_cast<unsigned long long>(t.slots_done),
        static_cast<unsigned long long>(t.unknown_calls),
        static_cast<unsigned long long>(refused == t.status.end() ? 0 : refused->second),
        t.last_error.c_str());
    for (const auto& [error, n] : t.errors) {
      std::printf("scenario=%s-error count=%llu status=\"%s\"\n", scenario.c_str(),
                  static_cast<unsigned long long>(n), error.c_str());
    }
    EXPECT_EQ(t.slots_done, calls) << "every item accepted once Kafka is back";
    ExpectWrittenOnce(t.accepted, t.possibly_written);
  }

  double rss_ = 0;
  int64_t written_ = -1;
};

TEST_F(OutageTest, Scenario11aLargeUnaryCallsInFlight) {
  FloodOptions o;
  o.id_prefix = "s11a-";
  o.calls = 2000;
  o.items_per_call = 1000;
  o.retry_after = absl::Seconds(1);
  FloodOutage("11a", o, /*connections=*/16);
}

TEST_F(OutageTest, Scenario11bHundredThousandSmallCallsInFlight) {
  FloodOptions o;
  o.id_prefix = "s11b-";
  o.calls = 100000;
  o.items_per_call = 1;
  o.retry_after = absl::Seconds(2);
  FloodOutage("11b", o, /*connections=*/128);
}

TEST_F(OutageTest, Scenario11cStreamsWhoseClientsNeverRead) {
  std::unique_ptr<SilentStreams> streams;
  Outage(
      "11c",
      [&] {
        streams = std::make_unique<SilentStreams>(Connections(service_->grpc_target(), 8),
                                                  /*streams=*/64, /*requests=*/300,
                                                  /*items=*/100, "s11c-");
      },
      [&] {
        absl::SleepFor(absl::Seconds(5));
        streams->StartReading();
        EXPECT_TRUE(streams->Wait(absl::Seconds(120))) << "every stream ended";
      });
  std::printf(
      "scenario=11c-detail written_requests=%llu answers=%llu accepted=%llu failed=%llu "
      "last_error=\"%s\"\n",
      static_cast<unsigned long long>(streams->requests_written()),
      static_cast<unsigned long long>(streams->answers()),
      static_cast<unsigned long long>(streams->accepted()),
      static_cast<unsigned long long>(streams->failed()), streams->last_error().c_str());
  EXPECT_EQ(streams->failed(), 0u) << streams->last_error();
  EXPECT_EQ(streams->answers(), 64u * 300u) << "every request answered";
  ExpectWrittenOnce(streams->accepted(), streams->possibly_written());
}

}  // namespace
}  // namespace feed_ingest::testing
