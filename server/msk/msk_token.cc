#include "msk/msk_token.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "msk/aws_region.h"
#include "msk/sigv4.h"

#ifndef FEED_MSK_VERSION
#define FEED_MSK_VERSION "0.0.0"
#endif

namespace feed_ingest::msk {
namespace {

// botocore's SigV4QueryAuth order, which aws-msk-iam-sasl-signer-python's
// tokens follow; the broker does not care, but tests compare byte for byte.
constexpr absl::string_view kParamOrder[] = {
    "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",      "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
};

}  // namespace

absl::string_view DefaultMskUserAgent() { return "feed-ingest/" FEED_MSK_VERSION; }

std::string MskHost(absl::string_view region) {
  return absl::StrCat("kafka.", region, ".", AwsDnsSuffix(region));
}

absl::StatusOr<MskToken> MakeMskToken(const AwsCredentials& credentials, absl::string_view region,
                                      absl::Time now, absl::string_view user_agent) {
  if (!IsAwsRegionName(region)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MSK token: \"", region, "\" is not an AWS region name"));
  }
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        "MSK token: the AWS credentials have no access key id or no secret access key");
  }
  const absl::Time signing_time = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  if (credentials.expiration.has_value() && *credentials.expiration <= signing_time) {
    return absl::FailedPreconditionError(absl::StrCat(
        "MSK token: the AWS credentials of ", credentials.access_key_id, " expired at ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", *credentials.expiration, absl::UTCTimeZone())));
  }

  const std::string host = MskHost(region);
  SigV4Request request;
  request.method = "GET";
  request.path = "/";
  request.query = "Action=kafka-cluster%3AConnect";
  request.headers = {{"host", host}};
  SigV4Options options;
  options.region = std::string(region);
  options.service = "kafka-cluster";
  options.time = signing_time;
  options.expires = kMskTokenValidity;
  absl::StatusOr<SigV4Result> signed_request = SignWithQuery(request, credentials, options);
  if (!signed_request.ok()) return signed_request.status();

  std::string url = absl::StrCat("https://", host, "/?", request.query);
  for (absl::string_view name : kParamOrder) {
    for (const auto& [added_name, value] : signed_request->added) {
      if (added_name == name) absl::StrAppend(&url, "&", name, "=", AwsUriEncode(value));
    }
  }
  absl::StrAppend(&url, "&User-Agent=", AwsUriEncode(user_agent));

  MskToken token;
  token.token = absl::WebSafeBase64Escape(url);
  absl::Time valid_until = signing_time + kMskTokenValidity;
  if (credentials.expiration.has_value()) {
    valid_until = std::min(valid_until, *credentials.expiration);
  }
  token.lifetime_ms = absl::ToUnixMillis(valid_until);
  token.principal = credentials.access_key_id;
  return token;
}

MskTokenProvider::MskTokenProvider(std::shared_ptr<AwsCredentialsProvider> credentials,
                                   std::string region, const Clock* clock)
    : credentials_(std::move(credentials)),
      region_(std::move(region)),
      clock_(clock != nullptr ? clock : &Clock::Real()) {}

absl::StatusOr<MskToken> MskTokenProvider::Generate() const {
  absl::StatusOr<AwsCredentials> credentials = credentials_->Get();
  if (!credentials.ok()) return credentials.status();
  return MakeMskToken(*credentials, region_, clock_->Now());
}

}  // namespace feed_ingest::msk
