#include "metrics_http.h"

#include <atomic>
#include <map>
#include <memory>

#include "gtest/gtest.h"
#include "process_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "support/http_get.h"

namespace feed_ingest {
namespace {

using testing::HttpGet;

TEST(MetricsHttpServerTest, ServesMetricsLivenessAndReadiness) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("demo_total")
      .Help("demo")
      .Register(*registry)
      .Add({})
      .Increment(7);
  std::atomic<bool> ready{false};
  auto http =
      MetricsHttpServer::Start("127.0.0.1:0", {registry, std::make_shared<ProcessMetrics>()},
                               [&ready] { return ready.load(); });
  ASSERT_TRUE(http.ok()) << http.status();
  const int port = (*http)->port();
  ASSERT_GT(port, 0);

  auto metrics = HttpGet(port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("\ndemo_total 7\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("\nprocess_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(metrics.body.find("\nprocess_open_fds "), std::string::npos);

  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(port, "/readyz").status, 503);
  ready = true;
  EXPECT_EQ(HttpGet(port, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(port, "/nothing").status, 404);
}

TEST(MetricsHttpServerTest, BusyPortIsAClearError) {
  auto first = MetricsHttpServer::Start("127.0.0.1:0", {}, [] { return true; });
  ASSERT_TRUE(first.ok());
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsHttpServer::Start(taken, {}, [] { return true; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            "cannot serve metrics on " + taken + ": the address is in use or invalid");
}

TEST(ProcessMetricsTest, ReportsThisProcess) {
  ProcessMetrics process;
  std::map<std::string, double> values;
  for (const auto& family : process.Collect()) {
    ASSERT_EQ(family.metric.size(), 1u);
    values[family.name] = family.type == prometheus::MetricType::Counter
                              ? family.metric[0].counter.value
                              : family.metric[0].gauge.value;
  }
  EXPECT_GT(values["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(values["process_virtual_memory_bytes"], values["process_resident_memory_bytes"]);
  EXPECT_GE(values["process_open_fds"], 3);
  EXPECT_GT(values["process_max_fds"], values["process_open_fds"]);
  EXPECT_GE(values["process_cpu_seconds_total"], 0);
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_NEAR(values["process_start_time_seconds"], now, 600);
}

}  // namespace
}  // namespace feed_ingest
