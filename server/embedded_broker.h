// EmbeddedBroker: librdkafka's Kafka-protocol mock cluster, in this process.
//
// Used when no brokers are configured (`make run`, development) and by
// tests. Several brokers on real loopback TCP ports serve any Kafka client.
// It keeps data in memory only, and only about the last 100k messages or
// 5 MB per partition: never for production.
//
//   auto broker = EmbeddedBroker::Start({.topic = kDefaultTopic});
//   producer_config["bootstrap.servers"] = (*broker)->bootstrap();
//
// Thread-safe: the mock cluster runs its own thread; the accessors are const.
#ifndef FEED_INGEST_SERVER_EMBEDDED_BROKER_H_
#define FEED_INGEST_SERVER_EMBEDDED_BROKER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/defaults.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"

namespace feed_ingest {

struct EmbeddedBrokerOptions {
  int brokers = 3;
  std::string topic = kDefaultTopic;
  std::vector<std::string> more_topics;  // Made like `topic` (the overflow topic).
  int partitions = 6;
  int replication_factor = 1;
};

class EmbeddedBroker {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(EmbeddedBrokerOptions options);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // Comma-separated host:port list for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // For fault injection in tests (rd_kafka_mock_* functions).
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

 private:
  EmbeddedBroker() = default;

  rd_kafka_t* host_ = nullptr;  // The client handle the cluster lives in.
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_EMBEDDED_BROKER_H_
