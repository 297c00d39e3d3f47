#include "kafka_stats.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace feed_ingest {
namespace {

// The parts of a librdkafka statistics document that KafkaStats reads, in
// librdkafka's own shape (see its STATISTICS.md).
std::string Document(const std::string& state2, int txerrs2, int retries2) {
  return R"({"name":"feed-ingest#producer-1","type":"producer","brokers":{
    "127.0.0.1:9092/bootstrap":{"name":"127.0.0.1:9092/bootstrap","nodeid":-1,
      "nodename":"127.0.0.1:9092","state":"UP","txerrs":99},
    "127.0.0.1:9093/1":{"name":"127.0.0.1:9093/1","nodeid":1,"nodename":"127.0.0.1:9093",
      "state":"UP","txerrs":0,"txretries":0,"req_timeouts":0,"rtt":{"avg":1500,"p99":4000}},
    "127.0.0.1:9094/2":{"name":"127.0.0.1:9094/2","nodeid":2,"nodename":"127.0.0.1:9094",
      "state":")" +
         state2 + R"(","txerrs":)" + std::to_string(txerrs2) + R"(,"txretries":)" +
         std::to_string(retries2) + R"(,"req_timeouts":1,
      "rtt":{"avg":250000}}},
    "topics":{"feed.interactions.v1":{"batchsize":{"avg":2048,"p99":9000},
      "batchcnt":{"avg":12,"p99":40}},"other":{"batchcnt":{"avg":999}}}})";
}

double Value(prometheus::Registry& registry, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : metric.label) have[l.name] = l.value;
      if (have != labels) continue;
      return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                            : metric.gauge.value;
    }
  }
  return -1;
}

TEST(KafkaStatsTest, BrokersTopicAndReachability) {
  prometheus::Registry registry;
  KafkaStats stats(registry, "feed.interactions.v1");
  auto up = stats.Apply(Document("UP", 3, 5));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_TRUE(*up);
  EXPECT_EQ(Value(registry, "feed_ingest_kafka_broker_up", {{"broker", "127.0.0.1:9093"}}), 1);
  EXPECT_EQ(Value(registry, "feed_ingest_kafka_broker_up", {{"broker", "127.0.0.1:9092"}}), -1)
      << "the bootstrap placeholder is not a broker";
  EXPECT_DOUBLE_EQ(
      Value(registry, "feed_ingest_kafka_broker_rtt_seconds", {{"broker", "127.0.0.1:9094"}}),
      0.25);
  EXPECT_EQ(
      Value(registry, "feed_ingest_kafka_request_errors_total", {{"broker", "127.0.0.1:9094"}}), 3);
  EXPECT_EQ(Value(registry, "feed_ingest_kafka_batch_messages", {{"stat", "avg"}}), 12);
  EXPECT_EQ(Value(registry, "feed_ingest_kafka_batch_bytes", {{"stat", "p99"}}), 9000);

  // Totals grow: the counters grow by the difference, never go back.
  ASSERT_TRUE(stats.Apply(Document("DOWN", 10, 5)).ok());
  EXPECT_EQ(
      Value(registry, "feed_ingest_kafka_request_errors_total", {{"broker", "127.0.0.1:9094"}}),
      10);
  EXPECT_EQ(
      Value(registry, "feed_ingest_kafka_request_retries_total", {{"broker", "127.0.0.1:9094"}}),
      5);
  EXPECT_EQ(Value(registry, "feed_ingest_kafka_broker_up", {{"broker", "127.0.0.1:9094"}}), 0);
}

TEST(KafkaStatsTest, AllBrokersDownIsUnreachable) {
  prometheus::Registry registry;
  KafkaStats stats(registry, "feed.interactions.v1");
  std::string doc = Document("DOWN", 0, 0);
  const std::string up = R"("nodename":"127.0.0.1:9093",
      "state":"UP")";
  doc.replace(doc.find(up), up.size(), R"("nodename":"127.0.0.1:9093",
      "state":"CONNECT")");
  auto reachable = stats.Apply(doc);
  ASSERT_TRUE(reachable.ok());
  EXPECT_FALSE(*reachable);
}

TEST(KafkaStatsTest, RejectsWhatIsNotStatistics) {
  prometheus::Registry registry;
  KafkaStats stats(registry, "t");
  auto bad = stats.Apply("not json");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "librdkafka statistics: not a JSON object");
  auto no_brokers = stats.Apply(R"({"name":"x"})");
  EXPECT_EQ(no_brokers.status().message(), "librdkafka statistics: no \"brokers\" object");
}

}  // namespace
}  // namespace feed_ingest
