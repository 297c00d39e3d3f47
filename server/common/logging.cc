#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_writer.h"

namespace feed_ingest {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

// Lines go to stderr from a thread of their own, so a stderr nobody reads
// (a full pipe) blocks that thread only; past kMaxQueuedBytes waiting, new
// lines are dropped and counted. Lives for the whole process.
class LogWriter {
 public:
  static constexpr size_t kMaxQueuedBytes = 1 << 20;

  static LogWriter& Get() {
    static LogWriter* const kWriter = new LogWriter();
    return *kWriter;
  }

  void Push(std::string line) {
    absl::MutexLock lock(&mu_);
    if (queued_bytes_ + line.size() > kMaxQueuedBytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
  }

  // True once every line pushed before the call is written.
  bool Flush(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const uint64_t target = pushed_total();
    auto written = [this, target]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return written_ >= target; };
    return mu_.AwaitWithTimeout(absl::Condition(&written), timeout);
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  LogWriter() {
    std::thread([this] { Run(); }).detach();
  }

  uint64_t pushed_total() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_ + queue_.size() + (writing_ ? 1 : 0);
  }

  void Run() {
    for (;;) {
      std::string line;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty(); };
        mu_.Await(absl::Condition(&ready));
        line = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
      }
      size_t off = 0;
      while (off < line.size()) {
        const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      absl::MutexLock lock(&mu_);
      writing_ = false;
      queued_bytes_ -= line.size();
      ++written_;
    }
  }

  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> dropped_{0};
};

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// logfmt: bare when safe, else a JSON-style quoted string.
void AppendLogfmtValue(absl::string_view v, std::string* out) {
  bool bare = !v.empty();
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) {
      bare = false;
      break;
    }
  }
  if (bare) {
    out->append(v.data(), v.size());
  } else {
    AppendJsonString(v, out);
  }
}

}  // namespace

void SetLogFormat(LogFormat format) { g_format.store(format, std::memory_order_relaxed); }

void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields) {
  const absl::Time now = absl::Now();
  const int64_t us = absl::ToUnixMicros(now);
  const int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
  std::string line;
  line.reserve(128);
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    line.append("{\"ts\":\"");
    AppendRfc3339Millis(secs, static_cast<int32_t>((us - secs * 1000000) * 1000), &line);
    line.append("\",\"level\":\"");
    line.append(LevelName(level).data(), LevelName(level).size());
    line.append("\",\"msg\":");
    AppendJsonString(msg, &line);
    for (const auto& [key, value] : fields) {
      line.push_back(',');
      AppendJsonString(key, &line);
      line.push_back(':');
      AppendJsonString(value, &line);
    }
    line.append("}\n");
  } else {
    line.append("ts=");
    AppendRfc3339Millis(secs, static_cast<int32_t>((us - secs * 1000000) * 1000), &line);
    line.append(" level=");
    line.append(LevelName(level).data(), LevelName(level).size());
    line.append(" msg=");
    AppendLogfmtValue(msg, &line);
    for (const auto& [key, value] : fields) {
      line.push_back(' ');
      line.append(key.data(), key.size());
      line.push_back('=');
      AppendLogfmtValue(value, &line);
    }
    line.push_back('\n');
  }
  LogWriter::Get().Push(std::move(line));
}

uint64_t LogLinesDropped() { return LogWriter::Get().dropped(); }

bool FlushLogs(absl::Duration timeout) { return LogWriter::Get().Flush(timeout); }

}  // namespace feed_ingest
