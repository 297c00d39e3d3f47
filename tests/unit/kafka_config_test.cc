// KafkaConfig: the producer's settings, and the ones an operator may not
// change because the contract rests on them.
#include "kafka_config.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace feed_ingest {
namespace {

class NoEvents final : public KafkaEvents {
 public:
  void OnDelivery(const rd_kafka_message_t&) override {}
  void OnError(rd_kafka_t*, rd_kafka_resp_err_t, const char*) override {}
  void OnStats(rd_kafka_t*, absl::string_view) override {}
};

class KafkaConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<KafkaConfig>> Create(
      std::vector<std::pair<std::string, std::string>> extra) {
    KafkaOptions options;
    options.brokers = "127.0.0.1:1";
    options.extra_config = std::move(extra);
    return KafkaConfig::Create(std::move(options), &events_, &metrics_);
  }
  static std::string Get(const KafkaConfig& config, const char* key) {
    char value[256];
    size_t size = sizeof(value);
    if (rd_kafka_conf_get(config.conf(), key, value, &size) != RD_KAFKA_CONF_OK) return "?";
    return value;
  }

  NoEvents events_;
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
};

TEST_F(KafkaConfigTest, DefaultsAreTheContracts) {
  auto config = Create({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(Get(**config, "acks"), "-1");
  EXPECT_EQ(Get(**config, "enable.idempotence"), "true");
  EXPECT_EQ(Get(**config, "compression.codec"), "snappy");
  EXPECT_EQ(Get(**config, "partitioner"), "murmur2_random");
  EXPECT_EQ(Get(**config, "delivery.report.only.error"), "false");
  EXPECT_EQ(Get(**config, "max.in.flight.requests.per.connection"), "5");
}

TEST_F(KafkaConfigTest, OtherSettingsMayBeChanged) {
  auto config = Create({{"linger.ms", "20"},
                        {"acks", "all"},
                        {"max.in.flight.requests.per.connection", "3"},
                        {"security.protocol", "SSL"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(Get(**config, "linger.ms"), "20");
  EXPECT_EQ(Get(**config, "max.in.flight.requests.per.connection"), "3");
}

TEST_F(KafkaConfigTest, SettingsThatBreakTheContractAreRefusedSayingWhy) {
  struct Case {
    std::pair<std::string, std::string> setting;
    std::string message;
  };
  const Case cases[] = {
      {{"acks", "1"},
       "--kafka-config: acks=1 is refused: an accepted event must be held by every in-sync "
       "replica (acks=all)"},
      {{"request.required.acks", "0"},  // An alias of acks.
       "--kafka-config: acks=0 is refused: an accepted event must be held by every in-sync "
       "replica (acks=all)"},
      {{"enable.idempotence", "false"},
       "--kafka-config: enable.idempotence=false is refused: without the idempotent producer a "
       "retry can write an event twice or out of order"},
      {{"delivery.report.only.error", "true"},
       "--kafka-config: delivery.report.only.error=true is refused: every answer waits for the "
       "delivery report of each of its records"},
      {{"max.in.flight.requests.per.connection", "6"},
       "--kafka-config: max.in.flight.requests.per.connection=6 is refused: above 5 the "
       "idempotent producer cannot keep each partition's order"},
      {{"max.in.flight", "100"},  // An alias.
       "--kafka-config: max.in.flight.requests.per.connection=100 is refused: above 5 the "
       "idempotent producer cannot keep each partition's order"},
  };
  for (const Case& c : cases) {
    auto config = Create({c.setting});
    EXPECT_EQ(config.status(), absl::InvalidArgumentError(c.message)) << c.setting.first;
  }
}

TEST_F(KafkaConfigTest, UnknownPropertiesAreNamed) {
  auto config = Create({{"no.such.property", "1"}});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("Kafka property no.such.property"), std::string::npos)
      << config.status();
}

}  // namespace
}  // namespace feed_ingest
