// feed-ingest-mock-broker: librdkafka's Kafka-protocol mock cluster in a
// process of its own, for benchmarks and fault tests that must not share a
// process with the service.
//
// Prints `bootstrap=HOST:PORT,...` on the first line of stdout, then obeys
// one command per line on stdin, answering `ok` or `error: ...`:
//   down BROKER            up BROKER             rtt BROKER MS
//   errors APIKEY COUNT ERRCODE   (push COUNT errors for a request type;
//                                  APIKEY 0 = Produce, ERRCODE numeric)
//   leader PARTITION BROKER       topic-error ERRCODE
//   refused                (answers `ok N`: Produce partitions the sequence
//                           check refused, with --check-sequences)
//   desync                 (with --check-sequences: the next idempotent
//                           Produce is refused as out of sequence)
// It exits on EOF, `quit`, SIGTERM or SIGINT.
//
// --check-sequences puts a SequenceProxy in front of the brokers (see
// sequence_proxy.h): the bootstrap line then names the proxy, and idempotent
// producers' sequence numbers are checked as a Kafka broker checks them.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/flag_set.h"
#include "embedded_broker.h"
#include "sequence_proxy.h"

extern char** environ;

int main(int argc, char** argv) {
  using feed_ingest::EmbeddedBroker;
  using feed_ingest::EmbeddedBrokerOptions;
  EmbeddedBrokerOptions options;
  bool check_sequences = false;
  feed_ingest::FlagSet flags("feed-ingest-mock-broker", "FEED_INGEST_MOCK_");
  flags.Int("brokers", &options.brokers, "brokers in the cluster", 1, 32);
  flags.String("topic", &options.topic, "topic to create");
  flags.Repeated("also-topic", &options.more_topics,
                 "another topic to create, with the same partitions (repeat for more)");
  flags.Int("partitions", &options.partitions, "partitions of the topic", 1, 1000);
  flags.Bool("check-sequences", &check_sequences,
             "check idempotent producers' sequence numbers as Kafka does, through a proxy");
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok() || flags.help()) {
    std::fprintf(stderr, "%s\n%s", s.ok() ? "" : std::string(s.message()).c_str(),
                 flags.Usage().c_str());
    return s.ok() ? 0 : 2;
  }
  auto broker = EmbeddedBroker::Start(options);
  if (!broker.ok()) {
    std::fprintf(stderr, "%s\n", broker.status().ToString().c_str());
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = (*broker)->cluster();
  std::unique_ptr<feed_ingest::testing::SequenceProxy> proxy;
  if (check_sequences) {
    auto started = feed_ingest::testing::SequenceProxy::Start((*broker)->bootstrap());
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      return 1;
    }
    proxy = std::move(*started);
  }
  std::printf("bootstrap=%s\n", (proxy ? proxy->bootstrap() : (*broker)->bootstrap()).c_str());
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    long a = 0, b = 0, c = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cmd == "quit") break;
    if (cmd == "down" && (in >> a)) {
      err = rd_kafka_mock_broker_set_down(mc, static_cast<int32_t>(a));
    } else if (cmd == "up" && (in >> a)) {
      err = rd_kafka_mock_broker_set_up(mc, static_cast<int32_t>(a));
    } else if (cmd == "rtt" && (in >> a >> b)) {
      err = rd_kafka_mock_broker_set_rtt(mc, static_cast<int32_t>(a), static_cast<int>(b));
    } else if (cmd == "errors" && (in >> a >> b >> c)) {
      // The variadic rd_kafka_mock_push_request_errors() reads `count` codes;
      // the array form takes the same code `count` times.
      const std::vector<rd_kafka_resp_err_t> codes(static_cast<size_t>(b),
                                                   static_cast<rd_kafka_resp_err_t>(c));
      rd_kafka_mock_push_request_errors_array(mc, static_cast<int16_t>(a), codes.size(),
                                              codes.data());
    } else if (cmd == "leader" && (in >> a >> b)) {
      err = rd_kafka_mock_partition_set_leader(mc, options.topic.c_str(), static_cast<int32_t>(a),
                                               static_cast<int32_t>(b));
    } else if (cmd == "refused") {
      std::printf("ok %lld\n", proxy ? static_cast<long long>(proxy->refused()) : 0LL);
      std::fflush(stdout);
      continue;
    } else if (cmd == "desync") {
      if (proxy) {
        proxy->Desync();
      } else {
        std::printf("error: desync needs --check-sequences\n");
        std::fflush(stdout);
        continue;
      }
    } else if (cmd == "topic-error" && (in >> a)) {
      rd_kafka_mock_topic_set_error(mc, options.topic.c_str(), static_cast<rd_kafka_resp_err_t>(a));
    } else {
      std::printf("error: unknown command \"%s\"\n", line.c_str());
      std::fflush(stdout);
      continue;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::printf("error: %s\n", rd_kafka_err2str(err));
    } else {
      std::printf("ok\n");
    }
    std::fflush(stdout);
  }
  return 0;
}
