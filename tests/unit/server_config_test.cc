// ParseServerConfig: the defaults, every flag reaching its field, the
// FEED_INGEST_* environment, and the exact error for each bad input.
#include "server_config.h"

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/c_strings.h"

namespace feed_ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using testing::CStrings;

absl::StatusOr<ServerConfig> Parse(CStrings args, CStrings env = {}) {
  return ParseServerConfig(args.size(), args.get(), env.get());
}

void ExpectInvalidArgument(const absl::StatusOr<ServerConfig>& config, const std::string& message) {
  ASSERT_FALSE(config.ok()) << "parsed, expected: " << message;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_EQ(config.status().message(), message);
}

TEST(ServerConfigTest, Defaults) {
  const absl::StatusOr<ServerConfig> config = Parse({"feed-ingest"});
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerOptions& o = config->server;
  EXPECT_FALSE(config->help);
  EXPECT_EQ(config->usage, "");
  EXPECT_EQ(config->log_format, LogFormat::kText);
  EXPECT_EQ(o.listen, "0.0.0.0:50051");
  EXPECT_EQ(o.metrics_listen, "0.0.0.0:9464");
  EXPECT_EQ(o.brokers, "");
  EXPECT_EQ(o.topic, "feed.interactions.v1");
  EXPECT_FALSE(o.create_topic);
  EXPECT_EQ(o.replication_factor, 3);
  EXPECT_THAT(o.kafka_config, ElementsAre());
  EXPECT_THAT(o.limits.interaction_types, ElementsAre("view", "like", "unlike", "share", "comment",
                                                      "skip", "complete", "save"));
  EXPECT_EQ(o.limits.max_id_bytes, 128u);
  EXPECT_EQ(o.limits.max_event_id_bytes, 128u);
  EXPECT_EQ(o.limits.max_watch_time_ms, 86'400'000);
  EXPECT_EQ(o.limits.max_future, absl::Minutes(5));
  EXPECT_EQ(o.limits.max_age, absl::Hours(168));
  EXPECT_EQ(o.max_batch, 1000u);
  EXPECT_EQ(o.ring_capacity, 1024u);
  EXPECT_EQ(o.service.completion_queues, 2);
  EXPECT_EQ(o.service.stream_window, 256);
  EXPECT_EQ(o.shutdown_timeout, absl::Seconds(30));
  EXPECT_EQ(o.startup_timeout, absl::Seconds(30));
  EXPECT_EQ(o.clock, nullptr);
}

TEST(ServerConfigTest, EveryFlagReachesItsField) {
  const absl::StatusOr<ServerConfig> config = Parse({
      "feed-ingest",
      "--listen=127.0.0.1:6000",
      "--metrics-listen=",
      "--brokers=b1:9092,b2:9092",
      "--topic=t.v2",
      "--create-topic",
      "--replication-factor=1",
      "--kafka-config=security.protocol=SASL_SSL",
      "--interaction-types=tap, swipe",
      "--max-id-bytes=64",
      "--max-event-id-bytes=32",
      "--max-watch-time-ms=0",
      "--max-future=1m",
      "--max-age=24h",
      "--max-batch=50",
      "--ring-capacity=16",
      "--completion-queues=4",
      "--stream-window=8",
      "--shutdown-timeout=5s",
      "--startup-timeout=2m",
      "--log-format=json",
  });
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerOptions& o = config->server;
  EXPECT_EQ(o.listen, "127.0.0.1:6000");
  EXPECT_EQ(o.metrics_listen, "");
  EXPECT_EQ(o.brokers, "b1:9092,b2:9092");
  EXPECT_EQ(o.topic, "t.v2");
  EXPECT_TRUE(o.create_topic);
  EXPECT_EQ(o.replication_factor, 1);
  EXPECT_THAT(o.kafka_config, ElementsAre(Pair("security.protocol", "SASL_SSL")));
  EXPECT_THAT(o.limits.interaction_types, ElementsAre("tap", "swipe"));
  EXPECT_EQ(o.limits.max_id_bytes, 64u);
  EXPECT_EQ(o.limits.max_event_id_bytes, 32u);
  EXPECT_EQ(o.limits.max_watch_time_ms, 0);
  EXPECT_EQ(o.limits.max_future, absl::Minutes(1));
  EXPECT_EQ(o.limits.max_age, absl::Hours(24));
  EXPECT_EQ(o.max_batch, 50u);
  EXPECT_EQ(o.ring_capacity, 16u);
  EXPECT_EQ(o.service.completion_queues, 4);
  EXPECT_EQ(o.service.stream_window, 8);
  EXPECT_EQ(o.shutdown_timeout, absl::Seconds(5));
  EXPECT_EQ(o.startup_timeout, absl::Minutes(2));
  EXPECT_EQ(config->log_format, LogFormat::kJson);
  EXPECT_FALSE(config->help);
}

TEST(ServerConfigTest, SpaceSeparatedValues) {
  const absl::StatusOr<ServerConfig> config =
      Parse({"feed-ingest", "--listen", "[::1]:7000", "--max-batch", "100000"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.listen, "[::1]:7000");
  EXPECT_EQ(config->server.max_batch, 100000u);
}

TEST(ServerConfigTest, LogFormatText) {
  const absl::StatusOr<ServerConfig> config = Parse({"feed-ingest", "--log-format=text"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log_format, LogFormat::kText);
}

// --- environment ------------------------------------------------------------------

TEST(ServerConfigTest, EnvironmentVariables) {
  const absl::StatusOr<ServerConfig> config = Parse(
      {"feed-ingest"},
      {"FEED_INGEST_BROKERS=msk-1:9098,msk-2:9098", "FEED_INGEST_METRICS_LISTEN=127.0.0.1:9999",
       "FEED_INGEST_CREATE_TOPIC=true", "FEED_INGEST_MAX_BATCH=10",
       "FEED_INGEST_INTERACTION_TYPES=view,like", "FEED_INGEST_SHUTDOWN_TIMEOUT=10s",
       "FEED_INGEST_LOG_FORMAT=json", "FEED_INGEST_KAFKA_CONFIG=a=b;c=d", "BROKERS=ignored:1"});
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerOptions& o = config->server;
  EXPECT_EQ(o.brokers, "msk-1:9098,msk-2:9098");
  EXPECT_EQ(o.metrics_listen, "127.0.0.1:9999");
  EXPECT_TRUE(o.create_topic);
  EXPECT_EQ(o.max_batch, 10u);
  EXPECT_THAT(o.limits.interaction_types, ElementsAre("view", "like"));
  EXPECT_EQ(o.shutdown_timeout, absl::Seconds(10));
  EXPECT_EQ(config->log_format, LogFormat::kJson);
  EXPECT_THAT(o.kafka_config, ElementsAre(Pair("a", "b"), Pair("c", "d")));
}

TEST(ServerConfigTest, CommandLineWinsOverEnvironment) {
  const absl::StatusOr<ServerConfig> config =
      Parse({"feed-ingest", "--brokers=argv:9092", "--max-batch=20"},
            {"FEED_INGEST_BROKERS=env:9092", "FEED_INGEST_MAX_BATCH=10"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.brokers, "argv:9092");
  EXPECT_EQ(config->server.max_batch, 20u);
}

// --- kafka-config ---------------------------------------------------------------------

TEST(ServerConfigTest, KafkaConfigPairsKeepTheirOrder) {
  const absl::StatusOr<ServerConfig> config = Parse(
      {"feed-ingest", "--kafka-config=linger.ms=10", "--kafka-config", "acks=all",
       "--kafka-config=sasl.oauthbearer.config=principal=x extension_a=b", "--kafka-config=debug="},
      {"FEED_INGEST_KAFKA_CONFIG=security.protocol=SASL_SSL;sasl.mechanism=OAUTHBEARER"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(
      config->server.kafka_config,
      ElementsAre(Pair("security.protocol", "SASL_SSL"), Pair("sasl.mechanism", "OAUTHBEARER"),
                  Pair("linger.ms", "10"), Pair("acks", "all"),
                  Pair("sasl.oauthbearer.config", "principal=x extension_a=b"), Pair("debug", "")));
}

TEST(ServerConfigTest, KafkaConfigWithoutEquals) {
  ExpectInvalidArgument(Parse({"feed-ingest", "--kafka-config=linger.ms"}),
                        "--kafka-config: \"linger.ms\" is not of the form key=value");
  ExpectInvalidArgument(Parse({"feed-ingest", "--kafka-config==10"}),
                        "--kafka-config: \"=10\" is not of the form key=value");
  ExpectInvalidArgument(Parse({"feed-ingest"}, {"FEED_INGEST_KAFKA_CONFIG=a=b;oops"}),
                        "--kafka-config: \"oops\" is not of the form key=value");
}

// --- errors ---------------------------------------------------------------------------

TEST(ServerConfigTest, EmptyInteractionTypes) {
  ExpectInvalidArgument(Parse({"feed-ingest", "--interaction-types="}),
                        "--interaction-types: the list is empty");
  ExpectInvalidArgument(Parse({"feed-ingest", "--interaction-types= , ,"}),
                        "--interaction-types: the list is empty");
  ExpectInvalidArgument(Parse({"feed-ingest"}, {"FEED_INGEST_INTERACTION_TYPES="}),
                        "--interaction-types: the list is empty");
}

TEST(ServerConfigTest, BadLogFormat) {
  ExpectInvalidArgument(Parse({"feed-ingest", "--log-format=xml"}),
                        "--log-format: \"xml\" is not text or json");
  ExpectInvalidArgument(Parse({"feed-ingest", "--log-format=JSON"}),
                        "--log-format: \"JSON\" is not text or json");
}

TEST(ServerConfigTest, PositionalArgument) {
  ExpectInvalidArgument(Parse({"feed-ingest", "serve"}),
                        "unexpected argument \"serve\"; flags start with --");
  ExpectInvalidArgument(Parse({"feed-ingest", "--topic=t", "--", "--topic=u"}),
                        "unexpected argument \"--topic=u\"; flags start with --");
}

TEST(ServerConfigTest, ListenWithoutPort) {
  ExpectInvalidArgument(Parse({"feed-ingest", "--listen=localhost"}),
                        "--listen: \"localhost\" is not host:port");
}

TEST(ServerConfigTest, FlagErrorsPassThrough) {
  ExpectInvalidArgument(Parse({"feed-ingest", "--nope"}),
                        "unknown flag --nope; see feed-ingest --help");
  ExpectInvalidArgument(Parse({"feed-ingest", "--max-batch=0"}),
                        "--max-batch: 0 is outside 1..100000");
  ExpectInvalidArgument(Parse({"feed-ingest", "--max-batch=100001"}),
                        "--max-batch: 100001 is outside 1..100000");
  ExpectInvalidArgument(Parse({"feed-ingest", "--replication-factor=33"}),
                        "--replication-factor: 33 is outside 1..32");
  ExpectInvalidArgument(Parse({"feed-ingest", "--completion-queues=0"}),
                        "--completion-queues: 0 is outside 1..256");
  ExpectInvalidArgument(Parse({"feed-ingest", "--max-watch-time-ms=-1"}),
                        "--max-watch-time-ms: -1 is outside 0..9223372036854775807");
  ExpectInvalidArgument(Parse({"feed-ingest", "--shutdown-timeout=30"}),
                        "--shutdown-timeout: \"30\" is not a duration such as 30s, 5m or 168h");
  ExpectInvalidArgument(Parse({"feed-ingest", "--topic"}), "--topic needs a value");
  ExpectInvalidArgument(Parse({"feed-ingest"}, {"FEED_INGEST_MAX_BATCH=lots"}),
                        "FEED_INGEST_MAX_BATCH: \"lots\" is not an integer");
}

// --- help -------------------------------------------------------------------------------

TEST(ServerConfigTest, HelpFillsUsage) {
  const absl::StatusOr<ServerConfig> config = Parse({"feed-ingest", "--help"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->help);
  EXPECT_THAT(config->usage, HasSubstr("Usage: feed-ingest [flags]\n"));
  for (const char* flag :
       {"listen", "metrics-listen", "brokers", "topic", "replication-factor", "kafka-config",
        "interaction-types", "max-id-bytes", "max-event-id-bytes", "max-watch-time-ms",
        "max-future", "max-age", "max-batch", "ring-capacity", "completion-queues", "stream-window",
        "shutdown-timeout", "startup-timeout", "log-format"}) {
    EXPECT_THAT(config->usage, HasSubstr(std::string("  --") + flag + "=VALUE\n")) << flag;
  }
  EXPECT_THAT(config->usage, HasSubstr("  --create-topic\n"));
  EXPECT_THAT(config->usage, HasSubstr("env: FEED_INGEST_METRICS_LISTEN\n"));
  EXPECT_THAT(config->usage, HasSubstr("env: FEED_INGEST_KAFKA_CONFIG\n"));
  EXPECT_THAT(config->usage, HasSubstr("(default: feed.interactions.v1)"));
}

// Asking for help must work even next to something that would be an error.
TEST(ServerConfigTest, HelpWinsOverLaterChecks) {
  const absl::StatusOr<ServerConfig> config =
      Parse({"feed-ingest", "stray", "--help", "--log-format=xml"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->help);
}

}  // namespace
}  // namespace feed_ingest

namespace feed_ingest {
namespace {

TEST(ServerConfigSecurityTest, TransportSecurityAndMskFlags) {
  const absl::StatusOr<ServerConfig> config =
      Parse({"feed-ingest", "--tls-cert=/c.pem", "--tls-key=/k.pem", "--tls-client-ca=/ca.pem",
             "--auth-tokens-file=/tokens", "--max-receive-message-bytes=65536",
             "--max-concurrent-streams=8", "--keepalive-min-ping-interval=30s",
             "--max-connection-age=0s", "--memory-quota-bytes=67108864", "--kafka-auth=msk-iam"},
            {"AWS_REGION=eu-west-1"});
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerOptions& o = config->server;
  EXPECT_EQ(o.security.tls_cert, "/c.pem");
  EXPECT_EQ(o.security.tls_key, "/k.pem");
  EXPECT_EQ(o.security.tls_client_ca, "/ca.pem");
  EXPECT_EQ(o.security.auth_tokens_file, "/tokens");
  EXPECT_EQ(o.grpc.max_receive_message_bytes, 65536);
  EXPECT_EQ(o.grpc.max_concurrent_streams, 8);
  EXPECT_EQ(o.grpc.min_ping_interval, absl::Seconds(30));
  EXPECT_EQ(o.grpc.max_connection_age, absl::ZeroDuration());
  EXPECT_EQ(o.grpc.memory_quota_bytes, 64 << 20);
  EXPECT_EQ(o.kafka_auth, "msk-iam");
  EXPECT_EQ(o.aws_region, "eu-west-1");
}

TEST(ServerConfigSecurityTest, RegionFromTheAwsVariablesAndTheFlagWins) {
  auto config = Parse({"feed-ingest"}, {"AWS_DEFAULT_REGION=us-west-2"});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server.aws_region, "us-west-2");
  config = Parse({"feed-ingest"}, {"AWS_DEFAULT_REGION=us-west-2", "AWS_REGION=cn-north-1"});
  EXPECT_EQ(config->server.aws_region, "cn-north-1") << "AWS_REGION comes first";
  config = Parse({"feed-ingest", "--aws-region=ap-south-1"}, {"AWS_REGION=cn-north-1"});
  EXPECT_EQ(config->server.aws_region, "ap-south-1");
}

TEST(ServerConfigSecurityTest, MskIamWithoutRegionFailsAtStart) {
  ServerOptions options;
  options.brokers = "embedded";
  options.listen = "127.0.0.1:0";
  options.metrics_listen = "";
  options.kafka_auth = "msk-iam";
  auto server = IngestServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(),
            "--kafka-auth=msk-iam needs --aws-region (or AWS_REGION / AWS_DEFAULT_REGION)");
  options.kafka_auth = "kerberos";
  server = IngestServer::Start(options);
  EXPECT_EQ(server.status().message(), "--kafka-auth: \"kerberos\" is not none or msk-iam");
}

}  // namespace
}  // namespace feed_ingest
