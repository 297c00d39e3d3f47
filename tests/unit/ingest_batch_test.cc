// The hand-off protocol between gRPC workers and the producer thread, with
// the real RecordRing and IngestBatch and a stand-in producer thread that
// settles records the way delivery reports do. Built with ThreadSanitizer as
// delivery_tracking_tsan_test. (librdkafka's own threads are started with
// C11 thrd_create, which this toolchain's TSan cannot follow, so the real
// KafkaSink is tested without TSan in kafka_sink_test.)
#include "ingest_batch.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "record_ring.h"

namespace feed_ingest {
namespace {

std::unique_ptr<IngestBatch> MakeBatch(int records) {
  auto batch = std::make_unique<IngestBatch>();
  for (int i = 0; i < records; ++i) {
    batch->records.emplace_back(batch.get(), static_cast<uint32_t>(i));
  }
  return batch;
}

// The verdict the stand-in producer gives record `index`: a pure function,
// so workers can check what they read.
Delivery Verdict(uint32_t index) {
  return index % 7 == 3 ? Delivery::Retryable(RejectLabel::kKafka, "kafka: timed out", true)
                        : Delivery::Written();
}

bool Same(const Delivery& a, const Delivery& b) {
  return a.state == b.state && a.possibly_written == b.possibly_written && a.label == b.label &&
         a.reason == b.reason;
}

TEST(DeliveryTrackingTest, WorkersSeeEveryVerdictOnceTheBatchSettles) {
  constexpr int kWorkers = 3, kBatches = 2000, kRecords = 8;
  RecordRing<IngestBatch*> ring(16);
  std::atomic<int> live_workers{kWorkers};
  std::thread producer([&] {
    IngestBatch* batch = nullptr;
    std::vector<IngestBatch::Record*> pending;
    while (live_workers.load() > 0 || !pending.empty()) {
      while (ring.TryPop(&batch)) {
        for (auto& rec : batch->records) pending.push_back(&rec);
      }
      // Settle in reverse, as reports from several partitions may arrive.
      while (!pending.empty()) {
        IngestBatch::Record* rec = pending.back();
        pending.pop_back();
        rec->batch->Settle(rec, Verdict(rec->index));
      }
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      for (int b = 0; b < kBatches; ++b) {
        auto batch = MakeBatch(1 + b % kRecords);
        batch->Arm();
        IngestBatch* raw = batch.get();
        while (!ring.TryPush(std::move(raw))) std::this_thread::yield();
        while (!batch->IsSettled()) std::this_thread::yield();
        for (const auto& rec : batch->records) ASSERT_TRUE(Same(rec.delivery, Verdict(rec.index)));
      }
      live_workers.fetch_sub(1);
    });
  }
  for (auto& w : workers) w.join();
  producer.join();
}

TEST(DeliveryTrackingTest, SettledOnlyAfterTheLastRecord) {
  auto batch = MakeBatch(3);
  batch->Arm();
  EXPECT_FALSE(batch->IsSettled());
  batch->Settle(&batch->records[2], Delivery::Written());
  batch->Settle(&batch->records[0], Verdict(3));
  EXPECT_FALSE(batch->IsSettled());
  EXPECT_EQ(batch->records[1].delivery.state, DeliveryState::kPending)
      << "not settled: not accepted";
  batch->Settle(&batch->records[1], Delivery::Written());
  EXPECT_TRUE(batch->IsSettled());
  EXPECT_TRUE(Same(batch->records[0].delivery, Verdict(3)));
}

}  // namespace
}  // namespace feed_ingest
