#include "support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "support/http_get.h"

extern char** environ;

namespace feed_ingest::testing {

ServerProcess::ServerProcess(std::vector<std::string> args) {
  const char* bin = std::getenv("FEED_INGEST_BIN");
  std::string path = bin != nullptr ? bin : "feed-ingest";
  std::vector<char*> argv;
  argv.push_back(path.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  if (posix_spawnp(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  stderr_fd_ = fds[0];
  reader_ = std::thread([this] {
    char buf[4096];
    ssize_t n;
    const std::regex serving("msg=\"?serving\"?.*grpc_listen=(\\S+).*metrics_listen=(\\S+)");
    std::string line;
    while ((n = read(stderr_fd_, buf, sizeof(buf))) > 0) {
      absl::MutexLock lock(&mu_);
      log_.append(buf, static_cast<size_t>(n));
      if (stop_reading_) {
        // Until the process is gone: then the pipe's writer end closes.
        mu_.Await(absl::Condition(
            +[](bool* exited) { return *exited; }, &reader_may_go_));
        break;
      }
      if (!grpc_target_.empty()) continue;
      std::smatch m;
      if (std::regex_search(log_, m, serving)) {
        const std::string metrics = m[2];
        int port = 0;
        if (metrics != "off" && absl::SimpleAtoi(metrics.substr(metrics.rfind(':') + 1), &port)) {
          metrics_port_ = port;
        }
        grpc_target_ = m[1];
      }
    }
  });
}

void ServerProcess::StopReadingLog() {
  absl::MutexLock lock(&mu_);
  stop_reading_ = true;
  fcntl(stderr_fd_, F_SETPIPE_SZ, 4096);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  {
    absl::MutexLock lock(&mu_);
    reader_may_go_ = true;
  }
  if (reader_.joinable()) reader_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

bool ServerProcess::WaitServing(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !grpc_target_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

std::string ServerProcess::grpc_target() const {
  absl::MutexLock lock(&mu_);
  return grpc_target_;
}

int ServerProcess::metrics_port() const {
  absl::MutexLock lock(&mu_);
  return metrics_port_;
}

double ServerProcess::PeakRssMiB() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmHWM:")) continue;
    std::istringstream in(line.substr(6));
    double kib = 0;
    if (in >> kib) return kib / 1024.0;
  }
  return -1;
}

bool ServerProcess::Ready() const {
  const int port = metrics_port();
  return port != 0 && HttpGet(port, "/readyz").status == 200;
}

double ServerProcess::MetricSum(const std::string& name) const {
  const int port = metrics_port();
  if (port == 0) return -1;
  const HttpReply reply = HttpGet(port, "/metrics");
  if (reply.status != 200) return -1;
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(reply.body, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    const absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : -1;
}

void ServerProcess::Signal(int signal) const {
  if (pid_ > 0 && !exited_) kill(pid_, signal);
}

int ServerProcess::Wait(absl::Duration timeout) {
  if (exited_ || pid_ <= 0) return status_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string ServerProcess::Log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

}  // namespace feed_ingest::testing
