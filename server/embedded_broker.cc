#include "embedded_broker.h"

#include "absl/strings/str_cat.h"

namespace feed_ingest {

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    EmbeddedBrokerOptions options) {
  std::unique_ptr<EmbeddedBroker> broker(new EmbeddedBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The host handle never connects anywhere; it only owns the cluster.
  rd_kafka_conf_set(conf, "client.id", "feed-ingest-embedded-broker", err, sizeof(err));
  // It has no bootstrap.servers of its own; that notice is noise.
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof(err));
  broker->host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (broker->host_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("embedded broker: ", err));
  }
  broker->cluster_ = rd_kafka_mock_cluster_new(broker->host_, options.brokers);
  if (broker->cluster_ == nullptr) {
    return absl::InternalError("embedded broker: the mock cluster did not start");
  }
  std::vector<std::string> topics = options.more_topics;
  topics.insert(topics.begin(), options.topic);
  for (const std::string& topic : topics) {
    const rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
        broker->cluster_, topic.c_str(), options.partitions, options.replication_factor);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(
          absl::StrCat("embedded broker: creating topic ", topic, ": ", rd_kafka_err2str(e)));
    }
  }
  broker->bootstrap_ = rd_kafka_mock_cluster_bootstraps(broker->cluster_);
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (host_ != nullptr) rd_kafka_destroy(host_);
}

}  // namespace feed_ingest
