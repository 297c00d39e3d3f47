#include "record_ring.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace feed_ingest {
namespace {

TEST(RecordRingTest, RoundsCapacityUpToPowerOfTwo) {
  EXPECT_EQ(RecordRing<int>(1).capacity(), 2u);
  EXPECT_EQ(RecordRing<int>(5).capacity(), 8u);
  EXPECT_EQ(RecordRing<int>(1024).capacity(), 1024u);
}

TEST(RecordRingTest, RefusesWhenFullAndKeepsTheValue) {
  RecordRing<std::unique_ptr<int>> ring(2);
  EXPECT_TRUE(ring.TryPush(std::make_unique<int>(1)));
  EXPECT_TRUE(ring.TryPush(std::make_unique<int>(2)));
  auto third = std::make_unique<int>(3);
  EXPECT_FALSE(ring.TryPush(std::move(third)));
  ASSERT_NE(third, nullptr);  // A refused push leaves the value with the caller.
  EXPECT_EQ(*third, 3);
  EXPECT_EQ(ring.SizeApprox(), 2u);
  std::unique_ptr<int> out;
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(*out, 1);
  EXPECT_TRUE(ring.TryPush(std::move(third)));
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(*out, 2);
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(*out, 3);
  EXPECT_FALSE(ring.TryPop(&out));
  EXPECT_EQ(ring.SizeApprox(), 0u);
}

// Model test: a random mix of pushes and pops, many laps around a small
// ring, checked step by step against std::deque with the same bound.
TEST(RecordRingTest, MatchesABoundedDequeModel) {
  for (size_t capacity : {2u, 4u, 16u}) {
    RecordRing<uint64_t> ring(capacity);
    std::deque<uint64_t> model;
    std::mt19937_64 rng(capacity);
    uint64_t next = 0;
    for (int step = 0; step < 200000; ++step) {
      if (rng() % 2 == 0) {
        const bool pushed = ring.TryPush(uint64_t{next});
        ASSERT_EQ(pushed, model.size() < capacity) << "step " << step;
        if (pushed) model.push_back(next);
        ++next;
      } else {
        uint64_t out = 0;
        const bool popped = ring.TryPop(&out);
        ASSERT_EQ(popped, !model.empty()) << "step " << step;
        if (popped) {
          ASSERT_EQ(out, model.front()) << "step " << step;
          model.pop_front();
        }
      }
      ASSERT_EQ(ring.SizeApprox(), model.size());
    }
  }
}

// Several producers race one consumer through a small ring. Every item must
// come out exactly once, and each producer's items in the order it pushed
// them. Run under ThreadSanitizer as record_ring_tsan_test.
TEST(RecordRingTest, ManyProducersOneConsumerExactlyOnceInOrder) {
  constexpr int kProducers = 4;
  constexpr uint64_t kPerProducer = 200000;
  RecordRing<uint64_t> ring(64);
  std::atomic<int> started{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&ring, &started, p] {
      started.fetch_add(1);
      while (started.load() < kProducers) {
      }
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        uint64_t item = (static_cast<uint64_t>(p) << 32) | i;
        while (!ring.TryPush(std::move(item))) std::this_thread::yield();
      }
    });
  }
  std::vector<uint64_t> next_expected(kProducers, 0);
  uint64_t received = 0;
  uint64_t item = 0;
  while (received < kProducers * kPerProducer) {
    if (!ring.TryPop(&item)) {
      std::this_thread::yield();
      continue;
    }
    const auto producer = static_cast<size_t>(item >> 32);
    ASSERT_LT(producer, static_cast<size_t>(kProducers));
    ASSERT_EQ(item & 0xffffffff, next_expected[producer]) << "producer " << producer;
    ++next_expected[producer];
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_FALSE(ring.TryPop(&item));
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next_expected[p], kPerProducer);
}

// Values with heap state move through intact (no torn or double moves).
TEST(RecordRingTest, MovesOwningValues) {
  RecordRing<std::string> ring(8);
  std::thread producer([&ring] {
    for (int i = 0; i < 100000; ++i) {
      std::string s(64, static_cast<char>('a' + i % 26));
      s += std::to_string(i);
      while (!ring.TryPush(std::move(s))) std::this_thread::yield();
    }
  });
  for (int i = 0; i < 100000; ++i) {
    std::string s;
    while (!ring.TryPop(&s)) std::this_thread::yield();
    std::string want(64, static_cast<char>('a' + i % 26));
    want += std::to_string(i);
    ASSERT_EQ(s, want);
  }
  producer.join();
}

}  // namespace
}  // namespace feed_ingest
