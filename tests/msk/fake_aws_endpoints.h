// Test support: a fake EC2 instance metadata service (IMDSv2) on loopback,
// and the JSON that credential endpoints answer with.
#ifndef FEED_INGEST_TESTS_MSK_FAKE_AWS_ENDPOINTS_H_
#define FEED_INGEST_TESTS_MSK_FAKE_AWS_ENDPOINTS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fake_http_server.h"
#include "msk/aws_credentials.h"

namespace feed_ingest::msk::testing {

// {"Code": "Success", ..., "AccessKeyId", "SecretAccessKey", "Token",
// "Expiration"} as IMDS and the container endpoints answer.
std::string CredentialsJson(const AwsCredentials& credentials);

// IMDSv2 as EC2 serves it: PUT /latest/api/token (needs
// X-aws-ec2-metadata-token-ttl-seconds) issues a token; every GET without a
// valid X-aws-ec2-metadata-token gets 401;
// GET /latest/meta-data/iam/security-credentials/ lists the role (404 without
// one) and GET .../<role> answers its credentials.
//
//   FakeInstanceMetadata imds;
//   imds.SetCredentials(credentials);
//   env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url();
//
// Thread-safe.
class FakeInstanceMetadata {
 public:
  FakeInstanceMetadata();

  std::string url() const { return server_.url(); }
  std::vector<FakeHttpRequest> requests() const { return server_.requests(); }
  // Credentials answered so far.
  int credential_answers() const;

  void SetRole(std::string role);  // Empty: no role (404).
  void SetCredentials(const AwsCredentials& credentials);
  void SetCredentialsBody(std::string body);  // Answered as is.
  void SetCredentialsStatus(int status);      // 200 by default.
  void SetTokenDelay(absl::Duration delay);
  void SetCredentialsDelay(absl::Duration delay);
  // Tokens are still issued, but no longer accepted (401).
  void SetRejectTokens(bool reject);

 private:
  FakeHttpResponse Handle(const FakeHttpRequest& request);

  mutable absl::Mutex mu_;
  std::string role_ ABSL_GUARDED_BY(mu_) = "feed-rec-producer";
  std::string credentials_body_ ABSL_GUARDED_BY(mu_);
  int credentials_status_ ABSL_GUARDED_BY(mu_) = 200;
  absl::Duration token_delay_ ABSL_GUARDED_BY(mu_);
  absl::Duration credentials_delay_ ABSL_GUARDED_BY(mu_);
  bool reject_tokens_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> tokens_ ABSL_GUARDED_BY(mu_);
  int credential_answers_ ABSL_GUARDED_BY(mu_) = 0;
  // Last: destroyed first, so no request is being handled once the state goes.
  FakeHttpServer server_;
};

}  // namespace feed_ingest::msk::testing

#endif  // FEED_INGEST_TESTS_MSK_FAKE_AWS_ENDPOINTS_H_
