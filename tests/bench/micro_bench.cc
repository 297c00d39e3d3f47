// Micro-benchmarks of the per-event work: the ring against a mutex queue and
// moodycamel's ConcurrentQueue, JSON encoding against protobuf's own JSON
// printer, validation, and the metric updates made per batch.
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "concurrentqueue/concurrentqueue.h"
#include "google/protobuf/util/json_util.h"
#include "interactions_source.h"
#include "metrics.h"
#include "prometheus/registry.h"
#include "record_json.h"
#include "record_ring.h"
#include "validation.h"

namespace feed_ingest {
namespace {

constexpr int64_t kItemsPerProducer = 200000;

// The three queues behind one interface: TryPush from many threads, TryPop
// from one.
class MutexQueue {
 public:
  explicit MutexQueue(size_t capacity) : capacity_(capacity) {}
  bool TryPush(uint64_t&& v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (q_.size() >= capacity_) return false;
    q_.push_back(v);
    return true;
  }
  bool TryPop(uint64_t* out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (q_.empty()) return false;
    *out = q_.front();
    q_.pop_front();
    return true;
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::deque<uint64_t> q_;
};

class MoodycamelQueue {
 public:
  explicit MoodycamelQueue(size_t capacity) : q_(capacity) {}
  // try_enqueue never allocates: bounded like the others.
  bool TryPush(uint64_t&& v) { return q_.try_enqueue(v); }
  bool TryPop(uint64_t* out) { return q_.try_dequeue(*out); }

 private:
  moodycamel::ConcurrentQueue<uint64_t> q_;
};

// Producers push kItemsPerProducer each while this thread pops them all.
template <typename Queue>
void BM_Queue(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Queue queue(1024);
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&queue] {
        for (int64_t i = 0; i < kItemsPerProducer; ++i) {
          uint64_t v = static_cast<uint64_t>(i);
          while (!queue.TryPush(std::move(v))) std::this_thread::yield();
        }
      });
    }
    uint64_t out, got = 0, sum = 0;
    while (got < static_cast<uint64_t>(producers * kItemsPerProducer)) {
      if (queue.TryPop(&out)) {
        ++got;
        sum += out;
      } else {
        std::this_thread::yield();
      }
    }
    for (auto& t : threads) t.join();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * producers * kItemsPerProducer);
}
BENCHMARK_TEMPLATE(BM_Queue, RecordRing<uint64_t>)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Queue, MutexQueue)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Queue, MoodycamelQueue)->Arg(1)->Arg(2)->UseRealTime();

::feed::interactions::v1::Interaction Sample() {
  return SyntheticInteraction(42, 100000, absl::Now());
}

void BM_EncodeRecordJson(benchmark::State& state) {
  const auto item = Sample();
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendRecordJson(item, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeRecordJson);

void BM_ProtobufJsonPrinter(benchmark::State& state) {
  const auto item = Sample();
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  for (auto _ : state) {
    out.clear();
    (void)google::protobuf::util::MessageToJsonString(item, &out, options);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProtobufJsonPrinter);

void BM_Validate(benchmark::State& state) {
  const InteractionValidator validator{ValidationLimits{}};
  const auto item = Sample();
  const absl::Time now = absl::Now();
  for (auto _ : state) benchmark::DoNotOptimize(validator.Check(item, now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Validate);

// What IngestPipeline and KafkaSink update for one 100-item batch.
void BM_MetricsPerBatch(benchmark::State& state) {
  prometheus::Registry registry;
  IngestMetrics metrics(registry);
  HistogramAccumulator latency(IngestMetrics::LatencyBuckets());
  for (auto _ : state) {
    metrics.Received(Method::kStream).Increment(100);
    metrics.batch_size().Observe(100);
    for (int i = 0; i < 100; ++i) latency.Observe(0.004 + i * 1e-5);
    metrics.accepted().Increment(100);
  }
  latency.PublishTo(metrics.delivery_latency());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MetricsPerBatch);

}  // namespace
}  // namespace feed_ingest

BENCHMARK_MAIN();
