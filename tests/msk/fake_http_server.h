// Test support for the MSK library: a small threaded HTTP/1.1 server on
// 127.0.0.1 (port 0) to stand in for the container, instance metadata and STS
// endpoints; a port that refuses connections; a settable clock.
#ifndef FEED_INGEST_TESTS_MSK_FAKE_HTTP_SERVER_H_
#define FEED_INGEST_TESTS_MSK_FAKE_HTTP_SERVER_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "support/fake_clock.h"

namespace feed_ingest::msk::testing {

struct FakeHttpRequest {
  std::string method;
  std::string target;  // Path and query, as in the request line.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header of that name, compared without regard to case.
  std::optional<std::string> Header(absl::string_view name) const;
};

struct FakeHttpResponse {
  int status = 200;
  std::string body;
  // Waited before answering (cut short when the server stops).
  absl::Duration delay = absl::ZeroDuration();
};

// Serves each connection on its own thread, one request per connection
// (Connection: close), with whatever the handler returns.
//
//   FakeHttpServer server([](const FakeHttpRequest& request) {
//     return FakeHttpResponse{200, "hello"};
//   });
//   HttpFetch({"GET", server.url() + "/"});
//   EXPECT_EQ(server.requests().size(), 1);
//
// Thread-safe. The destructor stops accepting, wakes delayed answers and
// joins every thread.
class FakeHttpServer {
 public:
  using Handler = std::function<FakeHttpResponse(const FakeHttpRequest&)>;

  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:<port>"

  // Every request received so far, in order of arrival.
  std::vector<FakeHttpRequest> requests() const;

 private:
  void AcceptLoop();
  void Serve(int fd);

  const Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<FakeHttpRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> connections_ ABSL_GUARDED_BY(mu_);
};

// A loopback port where connections are refused: bound, never listening, so
// no other test can take it while this object lives.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  std::string url() const;  // "http://127.0.0.1:<port>"

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A clock that moves only when told (tests/support/fake_clock.h).
using FakeClock = ::feed_ingest::testing::FakeClock;

}  // namespace feed_ingest::msk::testing

#endif  // FEED_INGEST_TESTS_MSK_FAKE_HTTP_SERVER_H_
