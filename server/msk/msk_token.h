// MSK IAM authentication tokens, for librdkafka's SASL/OAUTHBEARER.
//
// librdkafka has no AWS_MSK_IAM mechanism; MSK's IAM listener (port 9098)
// accepts OAUTHBEARER with this token instead: a SigV4-presigned
//   GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect
// for service kafka-cluster, valid 900 s, the session token signed in, a
// User-Agent parameter appended after signing, the whole URL base64url-encoded
// without padding. Byte for byte what AWS's aws-msk-iam-sasl-signer-python
// makes (checked against botocore in tests/msk), with two differences: China
// regions get their amazonaws.com.cn host, and the lifetime is computed in UTC
// and never outlives the credentials.
//
// Wiring (security.protocol=SASL_SSL, sasl.mechanism=OAUTHBEARER, and
// rd_kafka_conf_set_oauthbearer_token_refresh_cb):
//
//   MskTokenProvider tokens(std::make_shared<DefaultCredentialsChain>(), "us-east-1");
//   // In the refresh callback:
//   absl::StatusOr<MskToken> token = tokens.Generate();
//   if (token.ok()) {
//     rd_kafka_oauthbearer_set_token(rk, token->token.c_str(), token->lifetime_ms,
//                                    token->principal.c_str(), nullptr, 0, errstr, size);
//   } else {
//     rd_kafka_oauthbearer_set_token_failure(rk, token.status().ToString().c_str());
//   }
#ifndef FEED_INGEST_SERVER_MSK_MSK_TOKEN_H_
#define FEED_INGEST_SERVER_MSK_MSK_TOKEN_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "msk/aws_credentials.h"

namespace feed_ingest::msk {

struct MskToken {
  std::string token;  // base64url of the presigned URL, no padding.
  // When the token stops being valid, in milliseconds since the Unix epoch:
  // the earlier of signing time + 900 s and the credentials' expiration.
  int64_t lifetime_ms = 0;
  std::string principal;  // The access key id (not a secret).
};

// How long an MSK token is valid after signing.
inline constexpr absl::Duration kMskTokenValidity = absl::Seconds(900);

// "feed-ingest/<version>": the User-Agent parameter of our tokens.
absl::string_view DefaultMskUserAgent();

// The host a token is signed for: "kafka.<region>.amazonaws.com", or
// ".amazonaws.com.cn" in China (see AwsDnsSuffix). Thread-safe.
std::string MskHost(absl::string_view region);

// Makes a token signed at `now` (whole seconds).
//
//   absl::StatusOr<MskToken> token = MakeMskToken(credentials, "eu-west-1", absl::Now());
//
// INVALID_ARGUMENT for a region that is not a region name or credentials
// without a key pair; FAILED_PRECONDITION for credentials that have expired
// by `now`. Pure function: thread-safe, whatever the local time zone.
absl::StatusOr<MskToken> MakeMskToken(const AwsCredentials& credentials, absl::string_view region,
                                      absl::Time now,
                                      absl::string_view user_agent = DefaultMskUserAgent());

// Credentials from a provider, signed for one region, now.
//
//   MskTokenProvider tokens(std::make_shared<DefaultCredentialsChain>(), "eu-west-1");
//   absl::StatusOr<MskToken> token = tokens.Generate();
//
// Generate() fails with the credentials provider's error (no secrets in it)
// or MakeMskToken's. Thread-safe when the credentials provider is (all of
// this library's are).
class MskTokenProvider {
 public:
  MskTokenProvider(std::shared_ptr<AwsCredentialsProvider> credentials, std::string region,
                   const Clock* clock = nullptr);

  absl::StatusOr<MskToken> Generate() const;

 private:
  const std::shared_ptr<AwsCredentialsProvider> credentials_;
  const std::string region_;
  const Clock* const clock_;
};

}  // namespace feed_ingest::msk

#endif  // FEED_INGEST_SERVER_MSK_MSK_TOKEN_H_
