// CaptureStderr: runs a function with stderr sent to a pipe, and returns
// what it wrote there, log lines included (at most what a pipe buffers:
// 64 KiB).
//
//   const std::string out = CaptureStderr([] { Log(LogLevel::kInfo, "hi"); });
#ifndef FEED_INGEST_TESTS_SUPPORT_CAPTURE_STDERR_H_
#define FEED_INGEST_TESTS_SUPPORT_CAPTURE_STDERR_H_

#include <unistd.h>

#include <string>

#include "common/logging.h"
#include "gtest/gtest.h"

namespace feed_ingest::testing {

template <typename Fn>
std::string CaptureStderr(Fn fn) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  fn();
  FlushLogs();  // Log() hands lines to a writer thread.
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_CAPTURE_STDERR_H_
