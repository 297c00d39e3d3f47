// SequenceProxy: a Kafka-protocol proxy in front of librdkafka's mock cluster
// that checks idempotent producers' sequence numbers the way a Kafka broker
// does.
//
// Why: librdkafka 2.0.2's mock cluster validates sequence numbers only for
// transactional producers (rd_kafka_mock_validate_records() returns early when
// the request has no TransactionalId). An idempotent producer pipelines up to
// five ProduceRequests per partition; when request R1 fails with a retriable
// error, a real broker refuses R2 with OUT_OF_ORDER_SEQUENCE_NUMBER, because
// R2's first sequence no longer follows the last one written. The mock
// appends R2 instead, and librdkafka, seeing R2 succeed, reports R1's messages
// as delivered too ("implicitly acked by subsequent batch success"), which
// against a real broker is sound and against the mock loses them. With this
// proxy in between, the fault suite's broker refuses what Kafka refuses.
//
// What it does, per connection: passes every request and response through,
// rewrites the broker ports in Metadata responses to the proxy's own (so the
// client keeps talking through it), and for Produce (v3-v8) holds each request
// until no other Produce is outstanding on any connection, then judges each
// partition's record batch against what earlier responses said was written:
//   next sequence             -> forwarded;
//   one of the last 5 batches -> DUPLICATE_SEQUENCE_NUMBER (Kafka's answer for
//                                a retry of something already written);
//   a new producer epoch      -> forwarded only from sequence 0;
//   anything else             -> OUT_OF_ORDER_SEQUENCE_NUMBER.
// Partitions it refuses are cut out of the forwarded request and put back
// into the broker's response. When a connection dies with a Produce
// outstanding, the fate of that batch is unknown to the proxy as it would be
// to a client; the partition's next batch is then forwarded unjudged.
//
// Thread-safety: Start() and the destructor from one thread; the proxy runs
// its own threads (one accept thread per broker, two per connection), and
// everything they share is guarded by one mutex.
#ifndef FEED_INGEST_TESTS_TOOLS_SEQUENCE_PROXY_H_
#define FEED_INGEST_TESTS_TOOLS_SEQUENCE_PROXY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace feed_ingest::testing {

class SequenceProxy {
 public:
  // `upstream` is the mock cluster's bootstrap list ("127.0.0.1:port,...",
  // one entry per broker); the proxy listens on one loopback port for each.
  static absl::StatusOr<std::unique_ptr<SequenceProxy>> Start(const std::string& upstream);
  virtual ~SequenceProxy() = default;

  // The proxy's own bootstrap list, in the order of `upstream`.
  virtual std::string bootstrap() const = 0;
  // Produce partitions refused so far (out of order, duplicate, old epoch).
  virtual int64_t refused() const = 0;
  // Answers the next idempotent Produce request OUT_OF_ORDER_SEQUENCE_NUMBER
  // for every partition, as a broker that lost track of the producer's
  // sequence would: for the oldest request in flight, librdkafka's
  // "sequence desynchronization", a fatal idempotent-producer error.
  virtual void Desync() = 0;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_TOOLS_SEQUENCE_PROXY_H_
