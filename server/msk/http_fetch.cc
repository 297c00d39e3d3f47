#include "msk/http_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <string>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace feed_ingest::msk::internal {
namespace {

constexpr size_t kMaxBodyBytes = 1 << 20;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Sink {
  std::string body;
  bool too_large = false;
};

size_t Write(char* data, size_t size, size_t count, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  const size_t bytes = size * count;
  if (sink->body.size() + bytes > kMaxBodyBytes) {
    sink->too_large = true;
    return 0;  // libcurl stops with CURLE_WRITE_ERROR.
  }
  sink->body.append(data, bytes);
  return bytes;
}

// curl_global_init() must run once before any thread uses libcurl; it is
// never undone, so easy handles stay usable until the process exits.
void InitCurlOnce() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

absl::StatusOr<HttpResponse> HttpFetch(const HttpRequest& request) {
  const std::string what = absl::StrCat(request.method, " ", request.url);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto append = [&headers](const char* line) {
    curl_slist* head = curl_slist_append(headers.get(), line);
    if (head == nullptr) return false;
    (void)headers.release();  // `head` is the same list, or a new one holding it.
    headers.reset(head);
    return true;
  };
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (absl::StrContains(value, '\r') || absl::StrContains(value, '\n')) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the ", name, " header value has a line break"));
    }
    if (absl::EqualsIgnoreCase(name, "content-type")) has_content_type = true;
    if (!append(absl::StrCat(name, ": ", value).c_str())) {
      return absl::ResourceExhaustedError(absl::StrCat(what, ": no memory"));
    }
  }
  // libcurl's own defaults for a body: a form Content-Type and, for larger
  // bodies, "Expect: 100-continue". Neither is wanted here.
  if (!append("Expect:") || (!has_content_type && !append("Content-Type:"))) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": no memory"));
  }

  InitCurlOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) return absl::ResourceExhaustedError(absl::StrCat(what, ": no memory"));
  CURL* c = curl.get();
  Sink sink;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // Timeouts without SIGALRM: any thread.
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  if (!request.use_proxy) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    // A body (possibly empty, so Content-Length: 0 is sent) under any verb.
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode code = curl_easy_perform(c);
  switch (code) {
    case CURLE_OK:
      break;
    case CURLE_OPERATION_TIMEDOUT:
      return absl::UnavailableError(absl::StrCat(
          what, ": timed out after ", absl::ToInt64Milliseconds(request.timeout), " ms"));
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError(absl::StrCat(what, ": could not connect"));
    case CURLE_WRITE_ERROR:
      if (sink.too_large) {
        return absl::UnavailableError(
            absl::StrCat(what, ": the response is larger than ", kMaxBodyBytes, " bytes"));
      }
      [[fallthrough]];
    default:
      return absl::UnavailableError(
          absl::StrCat(what, ": ", error[0] != '\0' ? error : curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  HttpResponse response;
  response.status = static_cast<int>(status);
  response.body = std::move(sink.body);
  return response;
}

}  // namespace feed_ingest::msk::internal
