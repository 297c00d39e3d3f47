// internal::HttpFetch: one HTTP request through libcurl, with the short
// timeouts that credential endpoints call for.
#ifndef FEED_INGEST_SERVER_MSK_HTTP_FETCH_H_
#define FEED_INGEST_SERVER_MSK_HTTP_FETCH_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace feed_ingest::msk::internal {

struct HttpRequest {
  std::string method = "GET";  // GET, PUT or POST.
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration timeout = absl::Seconds(2);  // The whole exchange.
  // Metadata endpoints are link-local or loopback: never reach them through
  // an http_proxy from the environment.
  bool use_proxy = false;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Sends `request` and reads the whole answer (redirects are not followed;
// bodies over 1 MiB are refused).
//
//   absl::StatusOr<HttpResponse> response = HttpFetch({"GET", url});
//   if (response.ok() && response->status == 200) ...
//
// Any HTTP answer is a response, whatever its status. UNAVAILABLE when none
// came: "GET http://169.254.169.254/...: timed out after 2000 ms", "...: could
// not connect", or libcurl's description of the failure. INVALID_ARGUMENT for
// a header value with a line break. Thread-safe.
absl::StatusOr<HttpResponse> HttpFetch(const HttpRequest& request);

}  // namespace feed_ingest::msk::internal

#endif  // FEED_INGEST_SERVER_MSK_HTTP_FETCH_H_
