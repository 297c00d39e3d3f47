// KafkaProducer against librdkafka's mock cluster: many threads hand
// batches over at once, every record is settled exactly once, and shutdown
// settles what Kafka never took. The hand-off and delivery tracking are also
// checked under ThreadSanitizer in ingest_batch_test.cc.
#include "kafka_producer.h"

#include <dlfcn.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "embedded_broker.h"
#include "gtest/gtest.h"
#include "ingest_batch.h"
#include "librdkafka/rdkafka.h"
#include "metrics.h"
#include "msk/aws_credentials.h"
#include "msk/msk_token.h"
#include "prometheus/registry.h"
#include "record_json.h"
#include "support/fake_clock.h"
#include "support/kafka_reader.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::Interaction;

// A batch of `n` valid records, as the path's stages would make it. No
// notifier: the test polls IsSettled().
std::unique_ptr<IngestBatch> MakeBatch(int thread, int index, int n) {
  auto batch = std::make_unique<IngestBatch>();
  for (int i = 0; i < n; ++i) {
    wire::Interaction* item = batch->request().add_interactions();
    item->set_user_id(absl::StrCat("user-", thread, "-", i));
    item->set_video_id("video");
    item->set_interaction_type("view");
    item->mutable_timestamp()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    item->set_event_id(absl::StrCat(thread, "-", index, "-", i));
  }
  for (int i = 0; i < n; ++i) {
    const auto begin = static_cast<uint32_t>(batch->values.size());
    AppendRecordJson(batch->request().interactions(i), &batch->values);
    IngestBatch::Record& record =
        batch->records.emplace_back(batch.get(), static_cast<uint32_t>(i));
    record.value_begin = begin;
    record.value_end = static_cast<uint32_t>(batch->values.size());
  }
  return batch;
}

Deadline In(absl::Duration d) { return Deadline::After(Clock::Real(), d); }

// The live librdkafka client of a producer configured with the test plugin
// (tests/support/kafka_test_plugin.cc), or null.
rd_kafka_t* LastClient() {
  void* plugin = dlopen(FEED_KAFKA_TEST_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
  if (plugin == nullptr) return nullptr;
  auto last = reinterpret_cast<rd_kafka_t* (*)()>(dlsym(plugin, "feed_kafka_test_last_client"));
  rd_kafka_t* rk = last != nullptr ? last() : nullptr;
  dlclose(plugin);
  return rk;
}

class KafkaProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = *EmbeddedBroker::Start({});
    metrics_ = std::make_unique<IngestMetrics>(registry_);
  }

  // A started producer on this test's broker, with the test plugin loaded.
  std::unique_ptr<KafkaProducer> StartedWithPlugin(
      std::vector<std::pair<std::string, std::string>> extra = {}, const Clock* clock = nullptr) {
    KafkaProducerOptions options;
    options.kafka.brokers = broker_->bootstrap();
    options.kafka.extra_config = std::move(extra);
    options.kafka.extra_config.emplace_back("plugin.library.paths", FEED_KAFKA_TEST_PLUGIN);
    options.clock = clock;
    auto producer = KafkaProducer::Create(options, metrics_.get());
    EXPECT_TRUE(producer.ok()) << producer.status();
    EXPECT_TRUE((*producer)->EnsureTopic(absl::Seconds(10), nullptr).ok());
    (*producer)->Start();
    return *std::move(producer);
  }

  std::unique_ptr<KafkaProducer> MakeSink(size_t ring_capacity) {
    KafkaProducerOptions options;
    options.kafka.brokers = broker_->bootstrap();
    options.ring_capacity = ring_capacity;
    auto sink = KafkaProducer::Create(options, metrics_.get());
    EXPECT_TRUE(sink.ok()) << sink.status();
    EXPECT_TRUE((*sink)->EnsureTopic(absl::Seconds(10), nullptr).ok());
    (*sink)->Start();
    return *std::move(sink);
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  prometheus::Registry registry_;
  std::unique_ptr<IngestMetrics> metrics_;
};

TEST_F(KafkaProducerTest, ConcurrentSubmittersAllSettledOnceAndDelivered) {
  auto sink = MakeSink(8);  // Small, so submitters meet a full ring.
  constexpr int kThreads = 4, kBatches = 100, kRecords = 5;
  std::atomic<int> full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<IngestBatch>> batches;
      for (int b = 0; b < kBatches; ++b) {
        batches.push_back(MakeBatch(t, b, kRecords));
        SubmitResult r;
        while ((r = sink->TrySubmit(batches.back().get())) == SubmitResult::kFull) {
          ++full;
          std::this_thread::yield();
        }
        ASSERT_EQ(r, SubmitResult::kQueued);
      }
      for (auto& batch : batches) {
        while (!batch->IsSettled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        for (const auto& rec : batch->records) {
          EXPECT_EQ(rec.delivery.state, DeliveryState::kWritten);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  sink->Shutdown(In(absl::Seconds(5)), In(absl::Seconds(6)));
  EXPECT_EQ(metrics_->delivered().Value(), kThreads * kBatches * kRecords);
  EXPECT_EQ(sink->TrySubmit(MakeBatch(9, 9, 1).get()), SubmitResult::kClosed);
}

TEST_F(KafkaProducerTest, StampsEachStageOfABatchInOrder) {
  auto sink = MakeSink(8);
  auto batch = MakeBatch(1, 0, 3);
  batch->times.received_ns = Clock::Real().MonotonicNanos();
  ASSERT_EQ(sink->TrySubmit(batch.get()), SubmitResult::kQueued);
  while (!batch->IsSettled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const StageTimes t = batch->times;
  ASSERT_TRUE(t.went_to_kafka());
  EXPECT_LE(t.received_ns, t.submitted_ns);
  EXPECT_LE(t.submitted_ns, t.produced_ns);
  EXPECT_LE(t.produced_ns, t.settled_ns);

  // The four stages, each observed once, their sums the gaps between stamps.
  const int64_t answered_ns = t.settled_ns + 2'000'000;
  metrics_->ObserveStages(t, answered_ns);
  const struct {
    StageTime stage;
    int64_t from, to;
  } want[] = {{StageTime::kAdmit, t.received_ns, t.submitted_ns},
              {StageTime::kQueue, t.submitted_ns, t.produced_ns},
              {StageTime::kKafka, t.produced_ns, t.settled_ns},
              {StageTime::kAnswer, t.settled_ns, answered_ns}};
  for (const auto& w : want) {
    const auto h = metrics_->StageSeconds(w.stage).Collect().histogram;
    EXPECT_EQ(h.sample_count, 1u);
    EXPECT_NEAR(h.sample_sum, static_cast<double>(w.to - w.from) * 1e-9, 1e-9);
  }
  sink->Shutdown(In(absl::Seconds(5)), In(absl::Seconds(6)));
}

TEST_F(KafkaProducerTest, ShutdownSettlesWhatKafkaNeverTook) {
  auto sink = MakeSink(64);
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(broker_->cluster(), b);
  std::vector<std::unique_ptr<IngestBatch>> batches;
  for (int b = 0; b < 20; ++b) {
    batches.push_back(MakeBatch(0, b, 3));
    ASSERT_EQ(sink->TrySubmit(batches.back().get()), SubmitResult::kQueued);
  }
  const absl::Time start = absl::Now();
  sink->Shutdown(In(absl::Milliseconds(500)), In(absl::Seconds(2)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  for (const auto& batch : batches) {
    ASSERT_TRUE(batch->IsSettled());
    for (const auto& rec : batch->records) {
      ASSERT_EQ(rec.delivery.state, DeliveryState::kRetryable);
      const std::string reason = rec.delivery.reason;
      EXPECT_TRUE(absl::StrContains(reason, "(_PURGE_QUEUE)") ||
                  absl::StrContains(reason, "(_PURGE_INFLIGHT)"))
          << reason;
    }
  }
  EXPECT_EQ(metrics_->delivered().Value(), 0);
}

// A fatal idempotent-producer error (what librdkafka raises when it can no
// longer guarantee order and exactly-once) makes the sink fail what the old
// producer held, build a new one, and carry on; nothing is reported as
// delivered that is not in Kafka.
TEST_F(KafkaProducerTest, FatalErrorRebuildsTheProducerWithoutFalseDeliveries) {
  std::atomic<int> unreachable{0}, reachable{0};
  KafkaProducerOptions options;
  options.kafka.brokers = broker_->bootstrap();
  options.kafka.extra_config = {{"statistics.interval.ms", "1000"},
                                {"plugin.library.paths", FEED_KAFKA_TEST_PLUGIN}};
  options.on_reachability = [&](bool up) { ++(up ? reachable : unreachable); };
  auto created = KafkaProducer::Create(options, metrics_.get());
  ASSERT_TRUE(created.ok()) << created.status();
  auto sink = *std::move(created);
  ASSERT_TRUE(sink->EnsureTopic(absl::Seconds(10), nullptr).ok());
  sink->Start();

  std::vector<std::unique_ptr<IngestBatch>> batches;
  for (int b = 0; b < 200; ++b) {
    batches.push_back(MakeBatch(7, b, 5));
    while (sink->TrySubmit(batches.back().get()) == SubmitResult::kFull) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    if (b == 100) {
      rd_kafka_t* producer = LastClient();
      ASSERT_NE(producer, nullptr) << "the test plugin saw no client";
      ASSERT_EQ(rd_kafka_test_fatal_error(producer, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                          "injected by kafka_producer_test"),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  std::set<std::string> delivered;
  int failed = 0;
  for (auto& batch : batches) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!batch->IsSettled() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_TRUE(batch->IsSettled());
    for (const auto& rec : batch->records) {
      if (rec.delivery.state == DeliveryState::kWritten) {
        delivered.insert(batch->item(rec).event_id());
      } else {
        ++failed;
      }
    }
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((metrics_->producer_rebuilds().Value() < 1 || reachable.load() < 1) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(metrics_->producer_rebuilds().Value(), 1);
  EXPECT_EQ(unreachable.load(), 1) << "readiness must drop on the fatal error";
  EXPECT_EQ(reachable.load(), 1) << "and come back with the new producer";

  // The new producer works.
  auto after = MakeBatch(8, 0, 3);
  ASSERT_EQ(sink->TrySubmit(after.get()), SubmitResult::kQueued);
  while (!after->IsSettled()) absl::SleepFor(absl::Milliseconds(1));
  for (const auto& rec : after->records) {
    EXPECT_EQ(rec.delivery.state, DeliveryState::kWritten);
    delivered.insert(after->item(rec).event_id());
  }
  sink->Shutdown(In(absl::Seconds(5)), In(absl::Seconds(6)));

  const auto records =
      testing::ReadTopic(broker_->bootstrap(), "feed.interactions.v1", delivered.size() + 2000);
  std::set<std::string> in_kafka;
  for (const auto& r : records) {
    EXPECT_TRUE(in_kafka.insert(testing::Header(r, "event-id")).second) << "duplicate";
  }
  for (const auto& id : delivered)
    EXPECT_TRUE(in_kafka.count(id)) << "reported, not in Kafka: " << id;
  std::printf("fatal error: delivered=%zu failed=%d in_kafka=%zu\n", delivered.size(), failed,
              in_kafka.size());
}

// The Kafka API key of InitProducerId (librdkafka's protocol header, which
// Debian does not install, calls it RD_KAFKAP_InitProducerId).
constexpr int16_t kInitProducerId = 22;

// Returns once `producer` has delivered a record: it holds its producer id,
// so its own InitProducerId cannot take an error pushed for a later one.
bool Delivers(KafkaProducer* producer, int thread) {
  for (int i = 0; i < 100; ++i) {
    auto probe = MakeBatch(thread, 100 + i, 1);
    if (producer->TrySubmit(probe.get()) != SubmitResult::kQueued) return false;
    while (!probe->IsSettled()) absl::SleepFor(absl::Milliseconds(1));
    if (probe->records[0].delivery.state == DeliveryState::kWritten) return true;
  }
  return false;
}

// The cluster refuses the next `n` producers when they start
// (CLUSTER_AUTHORIZATION_FAILED on InitProducerId, as for credentials the
// cluster does not take).
void RefuseNextProducers(rd_kafka_mock_cluster_t* cluster, int n) {
  for (int i = 0; i < n; ++i) {
    rd_kafka_mock_push_request_errors(cluster, kInitProducerId, 1,
                                      RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
  }
}

int ClientsCreated() {
  void* plugin = dlopen(FEED_KAFKA_TEST_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
  if (plugin == nullptr) return -1;
  auto created = reinterpret_cast<int (*)()>(dlsym(plugin, "feed_kafka_test_clients_created"));
  const int n = created != nullptr ? created() : -1;
  dlclose(plugin);
  return n;
}

// Polls `done` for up to `timeout` of real time.
template <typename Done>
bool Eventually(Done done, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Records in flight when the fatal error strikes are not failed: the old
// producer is retired and polled until each report arrives, and those the
// broker took are answered as written. Only what it never sent is failed.
TEST_F(KafkaProducerTest, ARebuildLetsWhatWasInFlightSettleWithItsRealReport) {
  auto producer = StartedWithPlugin({{"linger.ms", "0"}});
  // The next Produce requests are answered after 1 s: what is sent now is
  // in flight for that long.
  for (int b = 1; b <= 3; ++b) {
    rd_kafka_mock_broker_push_request_error_rtts(
        broker_->cluster(), b, /*Produce=*/0, 3, RD_KAFKA_RESP_ERR_NO_ERROR, 1000,
        RD_KAFKA_RESP_ERR_NO_ERROR, 1000, RD_KAFKA_RESP_ERR_NO_ERROR, 1000);
  }
  std::vector<std::unique_ptr<IngestBatch>> batches;
  for (int b = 0; b < 20; ++b) {
    batches.push_back(MakeBatch(11, b, 5));
    ASSERT_EQ(producer->TrySubmit(batches.back().get()), SubmitResult::kQueued);
  }
  absl::SleepFor(absl::Milliseconds(300));  // Sent, not yet answered.
  ASSERT_EQ(rd_kafka_test_fatal_error(LastClient(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                      "injected by kafka_producer_test"),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(Eventually([&] {
    for (auto& b : batches) {
      if (!b->IsSettled()) return false;
    }
    return true;
  })) << "a record of the retired producer never settled";
  int written = 0, failed = 0;
  for (auto& batch : batches) {
    for (const auto& rec : batch->records) {
      (rec.delivery.state == DeliveryState::kWritten ? written : failed)++;
    }
  }
  std::printf("in flight at the fatal error: written=%d failed=%d\n", written, failed);
  EXPECT_GT(written, 0) << "what the broker took before the fatal error is written";
  EXPECT_EQ(metrics_->producer_rebuilds().Value(), 1);
  producer->Shutdown(In(absl::Seconds(5)), In(absl::Seconds(6)));
  std::set<std::string> written_ids;
  for (auto& batch : batches) {
    for (const auto& rec : batch->records) {
      if (rec.delivery.state == DeliveryState::kWritten)
        written_ids.insert(batch->item(rec).event_id());
    }
  }
  const auto records = testing::ReadTopic(broker_->bootstrap(), "feed.interactions.v1", 200);
  std::set<std::string> in_kafka;
  for (const auto& r : records) in_kafka.insert(testing::Header(r, "event-id"));
  for (const auto& id : written_ids)
    EXPECT_TRUE(in_kafka.count(id)) << "written, not in Kafka: " << id;
}

// The same fatal error from a rebuilt producer (the cluster refuses its
// credentials: CLUSTER_AUTHORIZATION_FAILED on InitProducerId) is not
// rebuilt at once: 1 s, then 2 s, ... on the producer's clock.
TEST_F(KafkaProducerTest, TheSameFatalErrorAgainBacksOffTheRebuild) {
  testing::FakeClock clock(absl::Now());
  auto producer = StartedWithPlugin({}, &clock);
  ASSERT_TRUE(Delivers(producer.get(), 12));
  RefuseNextProducers(broker_->cluster(), 3);
  const int clients_before = ClientsCreated();
  ASSERT_EQ(rd_kafka_test_fatal_error(LastClient(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                      "injected by kafka_producer_test"),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  auto rebuilds = [&] { return static_cast<int>(metrics_->producer_rebuilds().Value()); };
  // A first fatal error, then a different one (the refusal): rebuilt at once.
  ASSERT_TRUE(Eventually([&] { return rebuilds() == 2; })) << rebuilds();
  // The refusal again, from a producer that was a rebuild: 1 s.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(rebuilds(), 2) << "rebuilt again without backing off";
  clock.Advance(absl::Milliseconds(999));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(rebuilds(), 2);
  clock.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(Eventually([&] { return rebuilds() == 3; }));
  // And again: 2 s.
  absl::SleepFor(absl::Milliseconds(500));
  clock.Advance(absl::Milliseconds(1999));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(rebuilds(), 3);
  clock.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(Eventually([&] { return rebuilds() == 4; }));
  EXPECT_EQ(ClientsCreated() - clients_before, 4);
  // The cluster takes the fourth: it delivers.
  auto batch = MakeBatch(12, 0, 3);
  ASSERT_TRUE(Eventually([&] {
    auto probe = MakeBatch(12, 1, 1);
    if (producer->TrySubmit(probe.get()) != SubmitResult::kQueued) return false;
    while (!probe->IsSettled()) absl::SleepFor(absl::Milliseconds(1));
    return probe->records[0].delivery.state == DeliveryState::kWritten;
  }));
  clock.Advance(absl::Seconds(1));
  producer->Shutdown(Deadline::After(clock, absl::Seconds(5)),
                     Deadline::After(clock, absl::Seconds(6)));
}

// A sequence error again from a rebuilt producer (transient broker errors
// bring them) waits the first back-off, 1 s, however often it repeats: a
// storm of them must not keep the service down for 30 s after it ends.
TEST_F(KafkaProducerTest, ASequenceErrorAgainWaitsOneSecondAtMost) {
  testing::FakeClock clock(absl::Now());
  auto producer = StartedWithPlugin({}, &clock);
  auto rebuilds = [&] { return static_cast<int>(metrics_->producer_rebuilds().Value()); };
  auto inject = [&] {
    ASSERT_EQ(
        rd_kafka_test_fatal_error(LastClient(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  "injected by kafka_producer_test"),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  };
  inject();  // The first: rebuilt at once.
  ASSERT_TRUE(Eventually([&] { return rebuilds() == 1; })) << rebuilds();
  for (int round = 2; round <= 4; ++round) {
    inject();  // The same, from a rebuild that has delivered nothing: 1 s.
    absl::SleepFor(absl::Milliseconds(500));
    clock.Advance(absl::Milliseconds(999));
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_EQ(rebuilds(), round - 1) << "rebuilt again without backing off";
    clock.Advance(absl::Milliseconds(1));
    ASSERT_TRUE(Eventually([&] { return rebuilds() == round; })) << "round " << round;
  }
  producer->Shutdown(Deadline::After(clock, absl::Seconds(5)),
                     Deadline::After(clock, absl::Seconds(6)));
}

// A shutdown during a rebuild's back-off ends in time, every record settled.
TEST_F(KafkaProducerTest, AShutdownDuringARebuildBackOffEndsInTime) {
  auto producer = StartedWithPlugin();
  ASSERT_TRUE(Delivers(producer.get(), 13));
  RefuseNextProducers(broker_->cluster(), 20);
  ASSERT_EQ(rd_kafka_test_fatal_error(LastClient(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                      "injected by kafka_producer_test"),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  // Rebuilds at once, then after 1 s, then 2 s: now inside a 4 s back-off.
  ASSERT_TRUE(Eventually([&] { return metrics_->producer_rebuilds().Value() >= 4; }));
  std::vector<std::unique_ptr<IngestBatch>> batches;
  for (int b = 0; b < 5; ++b) {
    batches.push_back(MakeBatch(13, b, 2));
    ASSERT_EQ(producer->TrySubmit(batches.back().get()), SubmitResult::kQueued);
  }
  const absl::Time start = absl::Now();
  producer->Shutdown(In(absl::Milliseconds(500)), In(absl::Seconds(1)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "the back-off held the shutdown";
  for (auto& batch : batches) {
    ASSERT_TRUE(batch->IsSettled());
    for (const auto& rec : batch->records) {
      EXPECT_EQ(rec.delivery.state, DeliveryState::kRetryable);
    }
  }
}

// Credentials that are never there.
class NoCredentials final : public msk::AwsCredentialsProvider {
 public:
  absl::StatusOr<msk::AwsCredentials> Get() override {
    return absl::NotFoundError("no AWS credentials in this test");
  }
};

// The mock cluster speaks neither TLS nor SASL, so this checks the wiring up
// to librdkafka: the refresh callback runs on librdkafka's background thread
// before anything polls, and its token (or failure) reaches librdkafka.
TEST_F(KafkaProducerTest, MskIamTokensAreRefreshedInTheBackground) {
  msk::AwsCredentials credentials;
  credentials.access_key_id = "AKIDEXAMPLE";
  credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  KafkaProducerOptions options;
  options.kafka.brokers = broker_->bootstrap();
  options.kafka.extra_config = {{"security.protocol", "SASL_PLAINTEXT"}};
  options.kafka.msk_tokens = std::make_shared<msk::MskTokenProvider>(
      std::make_shared<msk::StaticCredentialsProvider>(credentials), "eu-west-1");
  const double before = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  auto sink = KafkaProducer::Create(options, metrics_.get());
  ASSERT_TRUE(sink.ok()) << sink.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (metrics_->msk_token_expiry().Value() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const double expiry = metrics_->msk_token_expiry().Value();
  EXPECT_GE(expiry, std::floor(before) + 900);
  EXPECT_LE(expiry, before + 902);
  EXPECT_EQ(metrics_->msk_token_refresh_failures().Value(), 0);
}

TEST_F(KafkaProducerTest, MskIamTokenFailuresAreCounted) {
  KafkaProducerOptions options;
  options.kafka.brokers = broker_->bootstrap();
  options.kafka.extra_config = {{"security.protocol", "SASL_PLAINTEXT"}};
  options.kafka.msk_tokens =
      std::make_shared<msk::MskTokenProvider>(std::make_shared<NoCredentials>(), "eu-west-1");
  auto sink = KafkaProducer::Create(options, metrics_.get());
  ASSERT_TRUE(sink.ok()) << sink.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (metrics_->msk_token_refresh_failures().Value() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE(metrics_->msk_token_refresh_failures().Value(), 1);
  EXPECT_EQ(metrics_->msk_token_expiry().Value(), 0);
}

}  // namespace
}  // namespace feed_ingest
