#include "common/logging.h"

#include <unistd.h>

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_writer.h"

namespace feed_ingest {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

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
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace feed_ingest
