// A minimal HTTP/1.1 GET over loopback for tests: status code and body.
#ifndef FEED_INGEST_TESTS_SUPPORT_HTTP_GET_H_
#define FEED_INGEST_TESTS_SUPPORT_HTTP_GET_H_

#include <string>

namespace feed_ingest::testing {

struct HttpReply {
  int status = 0;  // 0 when the request failed.
  std::string body;
};

HttpReply HttpGet(int port, const std::string& path);

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_HTTP_GET_H_
