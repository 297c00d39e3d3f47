// Structured, line-at-a-time logs to stderr: one line per event of interest
// (start-up, broker state changes, failures, shutdown), never per interaction.
//
//   Log(LogLevel::kInfo, "serving", {{"grpc_listen", "127.0.0.1:50051"}});
//   // ts=2026-11-27T06:00:00.123Z level=info msg=serving grpc_listen=127.0.0.1:50051
//
// Text is logfmt; SetLogFormat(LogFormat::kJson) writes one JSON object per
// line instead. Thread-safe: each line is one write(2).
#ifndef FEED_INGEST_SERVER_COMMON_LOGGING_H_
#define FEED_INGEST_SERVER_COMMON_LOGGING_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace feed_ingest {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

using LogField = std::pair<absl::string_view, std::string>;

void SetLogFormat(LogFormat format);
void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields = {});

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_COMMON_LOGGING_H_
