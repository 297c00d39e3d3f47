#include "support/scripted_sink.h"

#include <utility>

namespace feed_ingest::testing {

ScriptedSink::ScriptedSink() : thread_([this] { Run(); }) {}

ScriptedSink::~ScriptedSink() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    held_ = false;
  }
  thread_.join();
}

SubmitResult ScriptedSink::TrySubmit(IngestBatch* batch) {
  absl::MutexLock lock(&mu_);
  if (result_ != SubmitResult::kQueued || stop_) {
    ++refused_;
    return stop_ ? SubmitResult::kClosed : result_;
  }
  batch->Arm();
  queue_.push_back(batch);
  ++taken_;
  return SubmitResult::kQueued;
}

void ScriptedSink::set_script(Script script) {
  absl::MutexLock lock(&mu_);
  script_ = std::move(script);
}

void ScriptedSink::set_refusal(SubmitResult result) {
  absl::MutexLock lock(&mu_);
  result_ = result;
}

void ScriptedSink::Hold() {
  absl::MutexLock lock(&mu_);
  held_ = true;
}

void ScriptedSink::Release() {
  absl::MutexLock lock(&mu_);
  held_ = false;
}

std::vector<std::string> ScriptedSink::written() const {
  absl::MutexLock lock(&mu_);
  return written_;
}

int ScriptedSink::batches_taken() const {
  absl::MutexLock lock(&mu_);
  return taken_;
}

int ScriptedSink::submits_refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

void ScriptedSink::Run() {
  for (;;) {
    IngestBatch* batch = nullptr;
    std::vector<Delivery> verdicts;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || (!held_ && !queue_.empty());
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // Stopping, nothing held.
      batch = queue_.front();
      queue_.pop_front();
      for (const IngestBatch::Record& r : batch->records) {
        verdicts.push_back(script_ ? script_(*batch, r) : Delivery::Written());
        if (verdicts.back().state == DeliveryState::kWritten) {
          written_.emplace_back(batch->value(r));
        }
      }
    }
    // Settled outside the lock; after the last Settle() the batch may be
    // gone, so nothing of it is read after that.
    IngestBatch::Record* records = batch->records.data();
    for (size_t i = 0; i < verdicts.size(); ++i) records[i].batch->Settle(&records[i], verdicts[i]);
  }
}

}  // namespace feed_ingest::testing
