// Structured, line-at-a-time logs to stderr: one line per event of interest
// (start-up, broker state changes, failures, shutdown), never per interaction.
//
//   Log(LogLevel::kInfo, "serving", {{"grpc_listen", "127.0.0.1:50051"}});
//   // ts=2026-11-27T06:00:00.123Z level=info msg=serving grpc_listen=127.0.0.1:50051
//
// Text is logfmt; SetLogFormat(LogFormat::kJson) writes one JSON object per
// line instead. Log() never waits for stderr: lines are written by a thread
// of their own, and when 1 MiB of them is waiting (stderr is a pipe nobody
// reads) new ones are dropped and counted (LogLinesDropped(),
// feed_ingest_log_lines_dropped_total). Thread-safe: lines never interleave.
#ifndef FEED_INGEST_SERVER_COMMON_LOGGING_H_
#define FEED_INGEST_SERVER_COMMON_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace feed_ingest {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

using LogField = std::pair<absl::string_view, std::string>;

void SetLogFormat(LogFormat format);
void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields = {});

// Lines dropped because too many were waiting for stderr.
uint64_t LogLinesDropped();

// Waits until every line logged so far is written, or `timeout`: before the
// process exits, or a test reads what was logged. False on timeout.
bool FlushLogs(absl::Duration timeout = absl::Seconds(2));

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_COMMON_LOGGING_H_
