#include "common/logging.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/capture_stderr.h"

namespace feed_ingest {
namespace {

using testing::CaptureStderr;

TEST(LoggingTest, TextIsOneLogfmtLineWithQuotingWhereNeeded) {
  SetLogFormat(LogFormat::kText);
  const std::string line = CaptureStderr([] {
    Log(LogLevel::kWarning, "broker down", {{"broker", "127.0.0.1:9092"}, {"why", "a \"b\"=c"}});
  });
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
  EXPECT_EQ(line.substr(0, 3), "ts=");
  EXPECT_NE(line.find(" level=warning msg=\"broker down\" broker=127.0.0.1:9092 "
                      "why=\"a \\\"b\\\"=c\"\n"),
            std::string::npos)
      << line;
}

TEST(LoggingTest, JsonIsOneObjectPerLine) {
  SetLogFormat(LogFormat::kJson);
  const std::string line = CaptureStderr([] {
    Log(LogLevel::kError, "cannot start", {{"error", "line1\nline2 \"quoted\" ü"}});
  });
  SetLogFormat(LogFormat::kText);
  ASSERT_EQ(line.find('\n'), line.size() - 1) << line;
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("level"), "error");
  EXPECT_EQ(j.at("msg"), "cannot start");
  EXPECT_EQ(j.at("error"), "line1\nline2 \"quoted\" ü");
  const std::string ts = j.at("ts");
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-27T06:00:00.123Z
  EXPECT_EQ(ts.back(), 'Z');
}

}  // namespace
}  // namespace feed_ingest
