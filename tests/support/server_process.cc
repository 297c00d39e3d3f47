#include "support/server_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

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
    const std::regex serving("grpc_listen=(\\S+)");
    while ((n = read(stderr_fd_, buf, sizeof(buf))) > 0) {
      absl::MutexLock lock(&mu_);
      log_.append(buf, static_cast<size_t>(n));
      std::smatch m;
      if (grpc_target_.empty() && std::regex_search(log_, m, serving)) grpc_target_ = m[1];
    }
  });
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  if (reader_.joinable()) reader_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

bool ServerProcess::WaitServing(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !grpc_target_.empty(); };
  while (!ready()) {
    if (mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) break;
    return false;
  }
  return true;
}

std::string ServerProcess::grpc_target() const {
  absl::MutexLock lock(&mu_);
  return grpc_target_;
}

void ServerProcess::Signal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

int ServerProcess::Wait(absl::Duration timeout) {
  if (exited_) return status_;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return -1;
}

std::string ServerProcess::Log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

}  // namespace feed_ingest::testing
