// KafkaFailureLog: every failed record counted by its error, at most one log
// line per 10 s however many fail, with the time moved by a FakeClock.
#include "kafka_failure_log.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "support/capture_stderr.h"
#include "support/fake_clock.h"

namespace feed_ingest {
namespace {

using testing::CaptureStderr;
using testing::FakeClock;

int Lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

class KafkaFailureLogTest : public ::testing::Test {
 protected:
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  FakeClock clock_;
  KafkaFailureLog log_{&metrics_, &clock_};
};

TEST_F(KafkaFailureLogTest, CountsEveryRecordByItsError) {
  log_.Count(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, 3);
  log_.Count(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
  log_.Count(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_EQ(metrics_.DeliveryFailures("_MSG_TIMED_OUT").Value(), 4);
  EXPECT_EQ(metrics_.DeliveryFailures("MSG_SIZE_TOO_LARGE").Value(), 1);
  EXPECT_EQ(log_.unlogged(), 5u);
}

TEST_F(KafkaFailureLogTest, OneLinePerTenSecondsWithWhatItSummarises) {
  const std::string first = CaptureStderr([&] {
    log_.Count(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, 1000);
    log_.LogIfDue();  // The first failures are told at once.
  });
  EXPECT_EQ(Lines(first), 1) << first;
  EXPECT_TRUE(absl::StrContains(first, "records=1000")) << first;
  EXPECT_TRUE(absl::StrContains(first, "last_error=_MSG_TIMED_OUT")) << first;

  const std::string quiet = CaptureStderr([&] {
    for (int i = 0; i < 9; ++i) {
      clock_.Advance(absl::Seconds(1));
      log_.Count(RD_KAFKA_RESP_ERR__TRANSPORT, 10);
      log_.LogIfDue();
    }
  });
  EXPECT_EQ(quiet, "") << "no second line within 10 s";

  const std::string next = CaptureStderr([&] {
    clock_.Advance(absl::Seconds(1));
    log_.LogIfDue();
  });
  EXPECT_EQ(Lines(next), 1) << next;
  EXPECT_TRUE(absl::StrContains(next, "records=90")) << next;
  EXPECT_TRUE(absl::StrContains(next, "last_error=_TRANSPORT")) << next;
  EXPECT_EQ(log_.unlogged(), 0u);
}

TEST_F(KafkaFailureLogTest, LogNowTellsWhatIsLeftAndNothingWhenNothingIs) {
  EXPECT_EQ(CaptureStderr([&] { log_.LogNow(); }), "");
  log_.Count(RD_KAFKA_RESP_ERR__PURGE_QUEUE, 2);
  const std::string out = CaptureStderr([&] { log_.LogNow(); });
  EXPECT_EQ(Lines(out), 1);
  EXPECT_TRUE(absl::StrContains(out, "records=2")) << out;
}

}  // namespace
}  // namespace feed_ingest
