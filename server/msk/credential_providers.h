// The sources of AWS credentials, one class each, in the order the default
// chain (credentials_chain.h) asks them:
//
//   EnvironmentCredentialsProvider      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//                                       AWS_SESSION_TOKEN
//   WebIdentityCredentialsProvider      AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN,
//                                       STS AssumeRoleWithWebIdentity (EKS IRSA)
//   ProfileCredentialsProvider          AWS_SHARED_CREDENTIALS_FILE or
//                                       ~/.aws/credentials, profile AWS_PROFILE
//   ContainerCredentialsProvider        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
//                                       _FULL_URI (ECS, EKS Pod Identity)
//   InstanceMetadataCredentialsProvider EC2 instance metadata, IMDSv2
//
// None of them caches: DefaultCredentialsChain puts the network ones behind a
// CachingCredentialsProvider. Each one's Get() is NOT_FOUND when its source is
// not configured, and another error when it is but fails; messages start with
// the source's name and never hold a secret key or a session token.
#ifndef FEED_INGEST_SERVER_MSK_CREDENTIAL_PROVIDERS_H_
#define FEED_INGEST_SERVER_MSK_CREDENTIAL_PROVIDERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "msk/aws_credentials.h"

namespace feed_ingest::msk {

// What the providers read the world through. Tests replace all of it.
struct CredentialSourceOptions {
  EnvironmentReader env = ProcessEnvironment();
  const Clock* clock = nullptr;  // nullptr: the real clock.
  // Container and instance metadata endpoints are local: they answer fast or
  // not at all.
  absl::Duration metadata_connect_timeout = absl::Seconds(1);
  absl::Duration metadata_timeout = absl::Seconds(2);  // Per request.
  // STS is across the network.
  absl::Duration sts_connect_timeout = absl::Seconds(2);
  absl::Duration sts_timeout = absl::Seconds(5);
  // Where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is resolved (ECS).
  std::string container_base_url = "http://169.254.170.2";
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, when set, AWS_SESSION_TOKEN.
// Empty variables count as unset. NOT_FOUND when neither key variable is set;
// FAILED_PRECONDITION when only one is.
//
//   EnvironmentCredentialsProvider provider({});
//   absl::StatusOr<AwsCredentials> credentials = provider.Get();
//
// Thread-safe.
class EnvironmentCredentialsProvider final : public AwsCredentialsProvider {
 public:
  explicit EnvironmentCredentialsProvider(CredentialSourceOptions options);

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  const CredentialSourceOptions options_;
};

// The shared credentials file: AWS_SHARED_CREDENTIALS_FILE ("~/" expanded) or
// $HOME/.aws/credentials, profile AWS_PROFILE or "default"; keys
// aws_access_key_id, aws_secret_access_key, aws_session_token. Read again on
// every Get(), so rotated keys are picked up.
//
// With the default profile, a missing file, profile or key pair is NOT_FOUND
// (the chain goes on). With AWS_PROFILE set it is FAILED_PRECONDITION: the
// operator asked for that profile, and silently using another source would
// hide the mistake. Profiles that assume roles or run processes (role_arn,
// sso_*, credential_process in ~/.aws/config) are not supported.
//
//   ProfileCredentialsProvider provider({});
//
// Thread-safe.
class ProfileCredentialsProvider final : public AwsCredentialsProvider {
 public:
  explicit ProfileCredentialsProvider(CredentialSourceOptions options);

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  const CredentialSourceOptions options_;
};

// EKS IAM roles for service accounts: the OIDC token in
// AWS_WEB_IDENTITY_TOKEN_FILE (re-read each time: the kubelet rotates it) is
// exchanged for the role AWS_ROLE_ARN by STS AssumeRoleWithWebIdentity, an
// unsigned POST. Session name AWS_ROLE_SESSION_NAME or "feed-ingest-<unix
// seconds>". STS endpoint: AWS_ENDPOINT_URL_STS when set, else the regional
// one of AWS_REGION / AWS_DEFAULT_REGION, else https://sts.amazonaws.com.
//
//   WebIdentityCredentialsProvider provider({});
//
// NOT_FOUND without AWS_WEB_IDENTITY_TOKEN_FILE; FAILED_PRECONDITION without
// AWS_ROLE_ARN or an unreadable token file; UNAVAILABLE when STS is
// unreachable or answers 5xx/429; FAILED_PRECONDITION with STS's error code
// and message for other refusals. Thread-safe.
class WebIdentityCredentialsProvider final : public AwsCredentialsProvider {
 public:
  explicit WebIdentityCredentialsProvider(CredentialSourceOptions options);

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  const CredentialSourceOptions options_;
};

// ECS task roles and EKS Pod Identity: GET
// <container_base_url><AWS_CONTAINER_CREDENTIALS_RELATIVE_URI>, or
// AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback address or
// to the ECS / EKS metadata addresses: credentials never travel in clear
// elsewhere). The Authorization header is the content of
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else AWS_CONTAINER_AUTHORIZATION_TOKEN.
// The answer is JSON {AccessKeyId, SecretAccessKey, Token, Expiration}.
//
//   ContainerCredentialsProvider provider({});
//
// NOT_FOUND when neither URI variable is set; FAILED_PRECONDITION for a URI
// or token that cannot be used, or an HTTP refusal such as 401; UNAVAILABLE
// when the endpoint does not answer, answers 5xx/429 or answers something
// unreadable. Thread-safe.
class ContainerCredentialsProvider final : public AwsCredentialsProvider {
 public:
  explicit ContainerCredentialsProvider(CredentialSourceOptions options);

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  const CredentialSourceOptions options_;
};

// The EC2 instance role through IMDSv2: PUT /latest/api/token (with
// X-aws-ec2-metadata-token-ttl-seconds), then, with X-aws-ec2-metadata-token,
// GET /latest/meta-data/iam/security-credentials/ for the role name and GET
// .../<role> for JSON {Code, AccessKeyId, SecretAccessKey, Token, Expiration}.
// Endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://[fd00:ec2::254] when
// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is IPv6, else http://169.254.169.254.
//
//   InstanceMetadataCredentialsProvider provider({});
//
// NOT_FOUND when AWS_EC2_METADATA_DISABLED is true, when the token request
// gets no answer at all (not on EC2), or when the instance has no role;
// UNAVAILABLE when the service answers but fails. Thread-safe.
class InstanceMetadataCredentialsProvider final : public AwsCredentialsProvider {
 public:
  explicit InstanceMetadataCredentialsProvider(CredentialSourceOptions options);

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  const CredentialSourceOptions options_;
};

}  // namespace feed_ingest::msk

#endif  // FEED_INGEST_SERVER_MSK_CREDENTIAL_PROVIDERS_H_
