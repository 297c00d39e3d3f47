#include "kafka_stats.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace feed_ingest {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value* Field(const Struct& s, const char* key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

double Number(const Struct& s, const char* key) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kNumberValue ? v->number_value() : 0;
}

const Struct* Object(const Struct& s, const char* key) {
  const Value* v = Field(s, key);
  return v != nullptr && v->kind_case() == Value::kStructValue ? &v->struct_value() : nullptr;
}

}  // namespace

KafkaStats::KafkaStats(prometheus::Registry& registry, std::string topic)
    : topic_(std::move(topic)),
      up_(prometheus::BuildGauge()
              .Name("feed_ingest_kafka_broker_up")
              .Help("1 when the producer's connection to the broker is up")
              .Register(registry)),
      rtt_(prometheus::BuildGauge()
               .Name("feed_ingest_kafka_broker_rtt_seconds")
               .Help("Average request round trip to the broker")
               .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("feed_ingest_kafka_request_errors_total")
                  .Help("Requests to the broker that failed")
                  .Register(registry)),
      retries_(prometheus::BuildCounter()
                   .Name("feed_ingest_kafka_request_retries_total")
                   .Help("Requests to the broker that were retried")
                   .Register(registry)),
      timeouts_(prometheus::BuildCounter()
                    .Name("feed_ingest_kafka_request_timeouts_total")
                    .Help("Requests to the broker that timed out")
                    .Register(registry)),
      batch_messages_(prometheus::BuildGauge()
                          .Name("feed_ingest_kafka_batch_messages")
                          .Help("Messages per produce batch, over the last statistics window")
                          .Register(registry)),
      batch_bytes_(prometheus::BuildGauge()
                       .Name("feed_ingest_kafka_batch_bytes")
                       .Help("Bytes per produce batch, over the last statistics window")
                       .Register(registry)) {}

absl::StatusOr<bool> KafkaStats::Apply(absl::string_view json) {
  Struct doc;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &doc).ok()) {
    return absl::InvalidArgumentError("librdkafka statistics: not a JSON object");
  }
  const Struct* brokers = Object(doc, "brokers");
  if (brokers == nullptr) {
    return absl::InvalidArgumentError("librdkafka statistics: no \"brokers\" object");
  }
  bool any_up = false;
  for (const auto& [name, value] : brokers->fields()) {
    if (value.kind_case() != Value::kStructValue) continue;
    const Struct& b = value.struct_value();
    // Bootstrap and coordinator placeholders have no node id of their own.
    if (Number(b, "nodeid") < 0) continue;
    const Value* nodename = Field(b, "nodename");
    const Value* state_value = Field(b, "state");
    if (nodename == nullptr || state_value == nullptr) continue;
    const std::string label = nodename->string_value();
    const std::string& state = state_value->string_value();
    const bool up = state == "UP";
    any_up = any_up || up;
    // A broker librdkafka never needed (it leads none of our partitions) rests
    // in INIT: it is not down, so it gets no series until it is used.
    if (state == "INIT" && brokers_.find(label) == brokers_.end()) continue;

    Broker& seen = brokers_[label];
    if (seen.state != state) {
      if (!seen.state.empty()) {  // The first sighting is no change.
        Log(seen.state == "UP" ? LogLevel::kWarning : LogLevel::kInfo, "Kafka broker state changed",
            {{"broker", label}, {"from", seen.state}, {"to", state}});
      }
      seen.state = state;
    }
    up_.Add({{"broker", label}}).Set(up ? 1 : 0);
    if (const Struct* rtt = Object(b, "rtt")) {
      rtt_.Add({{"broker", label}}).Set(Number(*rtt, "avg") * 1e-6);
    }
    // librdkafka's counters are totals since the client started: export
    // the growth since the last document.
    auto grow = [&label](prometheus::Family<prometheus::Counter>& family, double now,
                         double* last) {
      prometheus::Counter& counter = family.Add({{"broker", label}});
      if (now > *last) counter.Increment(now - *last);
      *last = std::max(*last, now);
    };
    grow(errors_, Number(b, "txerrs"), &seen.txerrs);
    grow(retries_, Number(b, "txretries"), &seen.txretries);
    grow(timeouts_, Number(b, "req_timeouts"), &seen.req_timeouts);
  }
  if (const Struct* topics = Object(doc, "topics")) {
    if (const Struct* topic = Object(*topics, topic_.c_str())) {
      for (const auto& [key, family] :
           {std::pair<const char*, prometheus::Family<prometheus::Gauge>*>{"batchcnt",
                                                                           &batch_messages_},
            {"batchsize", &batch_bytes_}}) {
        if (const Struct* window = Object(*topic, key)) {
          family->Add({{"stat", "avg"}}).Set(Number(*window, "avg"));
          family->Add({{"stat", "p99"}}).Set(Number(*window, "p99"));
        }
      }
    }
  }
  return any_up;
}

}  // namespace feed_ingest
