#include "fake_aws_endpoints.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace feed_ingest::msk::testing {
namespace {

constexpr char kRolesPath[] = "/latest/meta-data/iam/security-credentials/";

}  // namespace

std::string CredentialsJson(const AwsCredentials& credentials) {
  std::string json =
      absl::StrCat("{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2015-08-30T12:00:00Z\",\n",
                   "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"", credentials.access_key_id,
                   "\",\n", "  \"SecretAccessKey\" : \"", credentials.secret_access_key,
                   "\",\n  \"Token\" : \"", credentials.session_token, "\"");
  if (credentials.expiration.has_value()) {
    absl::StrAppend(
        &json, ",\n  \"Expiration\" : \"",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *credentials.expiration, absl::UTCTimeZone()), "\"");
  }
  absl::StrAppend(&json, "\n}");
  return json;
}

FakeInstanceMetadata::FakeInstanceMetadata()
    : server_([this](const FakeHttpRequest& request) { return Handle(request); }) {}

int FakeInstanceMetadata::credential_answers() const {
  absl::MutexLock lock(&mu_);
  return credential_answers_;
}

void FakeInstanceMetadata::SetRole(std::string role) {
  absl::MutexLock lock(&mu_);
  role_ = std::move(role);
}

void FakeInstanceMetadata::SetCredentials(const AwsCredentials& credentials) {
  SetCredentialsBody(CredentialsJson(credentials));
}

void FakeInstanceMetadata::SetCredentialsBody(std::string body) {
  absl::MutexLock lock(&mu_);
  credentials_body_ = std::move(body);
}

void FakeInstanceMetadata::SetCredentialsStatus(int status) {
  absl::MutexLock lock(&mu_);
  credentials_status_ = status;
}

void FakeInstanceMetadata::SetTokenDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  token_delay_ = delay;
}

void FakeInstanceMetadata::SetCredentialsDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  credentials_delay_ = delay;
}

void FakeInstanceMetadata::SetRejectTokens(bool reject) {
  absl::MutexLock lock(&mu_);
  reject_tokens_ = reject;
}

FakeHttpResponse FakeInstanceMetadata::Handle(const FakeHttpRequest& request) {
  absl::MutexLock lock(&mu_);
  if (request.method == "PUT" && request.target == "/latest/api/token") {
    if (!request.Header("X-aws-ec2-metadata-token-ttl-seconds").has_value()) {
      return FakeHttpResponse{400, "", absl::ZeroDuration()};
    }
    std::string token = absl::StrCat("imds-token-", tokens_.size() + 1);
    tokens_.insert(token);
    return FakeHttpResponse{200, token, token_delay_};
  }
  if (request.method != "GET") return FakeHttpResponse{405, "", absl::ZeroDuration()};
  const std::optional<std::string> token = request.Header("X-aws-ec2-metadata-token");
  if (!token.has_value() || tokens_.count(*token) == 0 || reject_tokens_) {
    return FakeHttpResponse{401, "", absl::ZeroDuration()};
  }
  if (request.target == kRolesPath) {
    if (role_.empty()) return FakeHttpResponse{404, "", absl::ZeroDuration()};
    return FakeHttpResponse{200, role_, absl::ZeroDuration()};
  }
  if (!role_.empty() && request.target == absl::StrCat(kRolesPath, role_)) {
    if (credentials_status_ == 200) ++credential_answers_;
    return FakeHttpResponse{credentials_status_, credentials_body_, credentials_delay_};
  }
  return FakeHttpResponse{404, "", absl::ZeroDuration()};
}

}  // namespace feed_ingest::msk::testing
