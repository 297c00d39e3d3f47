#include "support/kafka_reader.h"

#include "gtest/gtest.h"

namespace feed_ingest::testing {

std::vector<TailedRecord> ReadTopic(const std::string& brokers, const std::string& topic,
                                    size_t expected, absl::Duration idle) {
  TailOptions options;
  options.brokers = brokers;
  options.topic = topic;
  options.idle_timeout = idle;
  options.max_records = expected;
  std::vector<TailedRecord> records;
  const absl::Status s = TailTopic(options, [&records](const TailedRecord& r) {
    records.push_back(r);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return records;
}

std::string Header(const TailedRecord& record, const std::string& name) {
  for (const auto& [k, v] : record.headers) {
    if (k == name) return v;
  }
  return "";
}

::feed::interactions::v1::Interaction MakeInteraction(const std::string& user,
                                                      const std::string& video,
                                                      const std::string& event_id,
                                                      absl::Time when) {
  ::feed::interactions::v1::Interaction item;
  item.set_user_id(user);
  item.set_video_id(video);
  item.set_interaction_type("view");
  item.set_watch_time_ms(1234);
  const int64_t ns = absl::ToUnixNanos(when);
  item.mutable_timestamp()->set_seconds(ns / 1'000'000'000);
  item.mutable_timestamp()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  item.set_event_id(event_id);
  return item;
}

wire::Interaction ToWire(const ::feed::interactions::v1::Interaction& item) {
  wire::Interaction out;
  out.ParseFromString(item.SerializeAsString());
  return out;
}

}  // namespace feed_ingest::testing
