#include "mock_broker_process.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace feed_ingest::testing {

MockBrokerProcess::~MockBrokerProcess() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (pid_ > 0) {
    // EOF on stdin ends it; give it a moment, then make sure.
    bool exited = false;
    for (int i = 0; i < 100 && !exited; ++i) {
      int status = 0;
      exited = waitpid(pid_, &status, WNOHANG) == pid_;
      if (!exited) absl::SleepFor(absl::Milliseconds(20));
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

absl::Status MockBrokerProcess::Start(absl::Duration timeout) {
  const char* bin = std::getenv("FEED_INGEST_MOCK_BROKER_BIN");
  std::string path = bin != nullptr ? bin : "feed-ingest-mock-broker";
  std::string check = "--check-sequences";
  std::vector<char*> argv = {path.data(), check.data(), nullptr};
  int in[2], out[2];
  if (pipe(in) != 0) return absl::InternalError("pipe");
  if (pipe(out) != 0) {
    close(in[0]);
    close(in[1]);
    return absl::InternalError("pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, in[1]);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const int rc = posix_spawnp(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  if (rc != 0) {
    pid_ = -1;
    return absl::InternalError(absl::StrCat("cannot start ", path));
  }
  std::string line;
  if (absl::Status s = ReadLine(absl::Now() + timeout, &line); !s.ok()) return s;
  if (!absl::StartsWith(line, "bootstrap=")) {
    return absl::InternalError(absl::StrCat("mock broker said \"", line, "\""));
  }
  bootstrap_ = line.substr(10);
  return absl::OkStatus();
}

absl::Status MockBrokerProcess::Command(const std::string& line, absl::Duration timeout) {
  std::string detail;
  return Command(line, timeout, &detail);
}

int64_t MockBrokerProcess::Refused() {
  std::string detail;
  int64_t n = -1;
  if (!Command("refused", absl::Seconds(10), &detail).ok() || !absl::SimpleAtoi(detail, &n)) {
    return -1;
  }
  return n;
}

absl::Status MockBrokerProcess::Command(const std::string& line, absl::Duration timeout,
                                        std::string* detail) {
  const std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = write(stdin_fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat("writing \"", line, "\" to mock broker"));
    done += static_cast<size_t>(n);
  }
  std::string answer;
  if (absl::Status s = ReadLine(absl::Now() + timeout, &answer); !s.ok()) return s;
  if (answer == "ok") return absl::OkStatus();
  if (absl::StartsWith(answer, "ok ")) {
    *detail = answer.substr(3);
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("mock broker, \"", line, "\": ", answer));
}

absl::Status MockBrokerProcess::ReadLine(absl::Time deadline, std::string* line) {
  while (true) {
    const size_t nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      *line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return absl::OkStatus();
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("mock broker did not answer");
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[1024];
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError("mock broker exited");
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace feed_ingest::testing
