#include "fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace feed_ingest::msk::testing {
namespace {

// Test setup that cannot go on: abort with the reason.
[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fake_http_server: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// A TCP socket bound to 127.0.0.1 on a free port.
int BindLoopback(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) Die("bind");
  socklen_t size = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) Die("getsockname");
  *port = ntohs(address.sin_port);
  return fd;
}

void SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // The client gave up (a timeout test): fine.
    data.remove_prefix(static_cast<size_t>(n));
  }
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

}  // namespace

std::optional<std::string> FakeHttpRequest::Header(absl::string_view name) const {
  for (const auto& [header, value] : headers) {
    if (absl::EqualsIgnoreCase(header, name)) return value;
  }
  return std::nullopt;
}

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = BindLoopback(&port_);
  if (listen(listen_fd_, 64) != 0) Die("listen");
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FakeHttpServer::~FakeHttpServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  acceptor_.join();
  std::vector<std::thread> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (std::thread& connection : connections) connection.join();
  close(listen_fd_);
}

std::string FakeHttpServer::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::vector<FakeHttpRequest> FakeHttpServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void FakeHttpServer::AcceptLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 20) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeHttpServer::Serve(int fd) {
  timeval receive_timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof(receive_timeout));
  std::string data;
  char buffer[4096];
  size_t head_end = std::string::npos;
  size_t content_length = 0;
  FakeHttpRequest request;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::vector<absl::string_view> lines =
            absl::StrSplit(absl::string_view(data).substr(0, head_end), "\r\n");
        std::vector<absl::string_view> request_line = absl::StrSplit(lines[0], ' ');
        request.method = std::string(request_line[0]);
        if (request_line.size() > 1) request.target = std::string(request_line[1]);
        for (size_t i = 1; i < lines.size(); ++i) {
          std::pair<absl::string_view, absl::string_view> kv =
              absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
          request.headers.emplace_back(std::string(kv.first),
                                       std::string(absl::StripAsciiWhitespace(kv.second)));
        }
        if (std::optional<std::string> length = request.Header("Content-Length")) {
          if (!absl::SimpleAtoi(*length, &content_length)) content_length = 0;
        }
      }
    }
    if (head_end != std::string::npos && data.size() >= head_end + 4 + content_length) break;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return;
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  request.body = data.substr(head_end + 4, content_length);
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
  }
  const FakeHttpResponse response = handler_(request);
  if (response.delay > absl::ZeroDuration()) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), response.delay);
  }
  SendAll(fd, absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                           "\r\nContent-Length: ", response.body.size(),
                           "\r\nConnection: close\r\n\r\n", response.body));
  close(fd);
}

RefusingPort::RefusingPort() { fd_ = BindLoopback(&port_); }

RefusingPort::~RefusingPort() { close(fd_); }

std::string RefusingPort::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

}  // namespace feed_ingest::msk::testing
