// Each credential source on its own: the environment, the shared credentials
// file, container credentials, EC2 instance metadata (IMDSv2) and web
// identity, against files in a temporary directory and fake endpoints on
// 127.0.0.1. Every error is checked for its exact code and message, and for
// the absence of secrets.
#include "msk/credential_providers.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fake_aws_endpoints.h"
#include "fake_http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "msk/http_fetch.h"
#include "test_environment.h"

namespace feed_ingest::msk {
namespace {

using testing::CredentialsJson;
using testing::FakeClock;
using testing::FakeHttpRequest;
using testing::FakeHttpResponse;
using testing::FakeHttpServer;
using testing::FakeInstanceMetadata;
using ::testing::HasSubstr;
using testing::MapEnvironment;
using ::testing::Not;
using testing::RefusingPort;
using testing::TempDir;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kSessionToken[] = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKEN+/=";
constexpr absl::Duration kShortTimeout = absl::Milliseconds(300);

absl::Time Now() { return absl::FromUnixSeconds(1440938160); }  // 2015-08-30T12:36:00Z

AwsCredentials RoleCredentials() {
  AwsCredentials credentials;
  credentials.access_key_id = "ASIAROLEEXAMPLE";
  credentials.secret_access_key = kSecret;
  credentials.session_token = kSessionToken;
  credentials.expiration = Now() + absl::Hours(6);
  return credentials;
}

CredentialSourceOptions Options(std::map<std::string, std::string> env,
                                const Clock* clock = nullptr) {
  CredentialSourceOptions options;
  options.env = MapEnvironment(std::move(env));
  options.clock = clock;
  options.metadata_connect_timeout = kShortTimeout;
  options.metadata_timeout = kShortTimeout;
  options.sts_connect_timeout = kShortTimeout;
  options.sts_timeout = kShortTimeout;
  return options;
}

void ExpectCredentials(const absl::StatusOr<AwsCredentials>& got, const AwsCredentials& want) {
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, want.access_key_id);
  EXPECT_EQ(got->secret_access_key, want.secret_access_key);
  EXPECT_EQ(got->session_token, want.session_token);
  EXPECT_EQ(got->expiration, want.expiration);
}

void ExpectError(const absl::StatusOr<AwsCredentials>& got, absl::StatusCode code,
                 const std::string& message) {
  ASSERT_FALSE(got.ok()) << "expected: " << message;
  EXPECT_EQ(got.status().code(), code) << got.status();
  const std::string actual(got.status().message());
  EXPECT_EQ(actual, message);
  EXPECT_THAT(actual, Not(HasSubstr(kSecret)));
  EXPECT_THAT(actual, Not(HasSubstr(kSessionToken)));
}

// --- Environment --------------------------------------------------------------

TEST(EnvironmentCredentialsProviderTest, ReadsTheKeysAndTheSessionToken) {
  EnvironmentCredentialsProvider provider(Options({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                                   {"AWS_SECRET_ACCESS_KEY", kSecret},
                                                   {"AWS_SESSION_TOKEN", kSessionToken}}));
  ExpectCredentials(provider.Get(), {"AKIDENV", kSecret, kSessionToken, std::nullopt});
}

TEST(EnvironmentCredentialsProviderTest, SessionTokenIsOptional) {
  EnvironmentCredentialsProvider provider(
      Options({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}}));
  ExpectCredentials(provider.Get(), {"AKIDENV", kSecret, "", std::nullopt});
}

TEST(EnvironmentCredentialsProviderTest, NotFoundWhenUnsetOrEmpty) {
  ExpectError(EnvironmentCredentialsProvider(Options({})).Get(), absl::StatusCode::kNotFound,
              "environment: AWS_ACCESS_KEY_ID is not set");
  ExpectError(EnvironmentCredentialsProvider(
                  Options({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}}))
                  .Get(),
              absl::StatusCode::kNotFound, "environment: AWS_ACCESS_KEY_ID is not set");
}

TEST(EnvironmentCredentialsProviderTest, HalfAPairIsAnError) {
  ExpectError(EnvironmentCredentialsProvider(Options({{"AWS_ACCESS_KEY_ID", "AKIDENV"}})).Get(),
              absl::StatusCode::kFailedPrecondition,
              "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  ExpectError(EnvironmentCredentialsProvider(Options({{"AWS_SECRET_ACCESS_KEY", kSecret}})).Get(),
              absl::StatusCode::kFailedPrecondition,
              "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
}

// --- Shared credentials file ---------------------------------------------------

TEST(ProfileCredentialsProviderTest, DefaultProfileInHome) {
  TempDir home;
  home.Write(".aws/credentials", absl::StrCat("[default]\naws_access_key_id = AKIDFILE\n",
                                              "aws_secret_access_key = ", kSecret, "\n"));
  ProfileCredentialsProvider provider(Options({{"HOME", home.path()}}));
  ExpectCredentials(provider.Get(), {"AKIDFILE", kSecret, "", std::nullopt});
}

TEST(ProfileCredentialsProviderTest, NamedProfileInTheFileNamedByTheEnvironment) {
  TempDir dir;
  const std::string path = dir.Write(
      "creds.ini",
      absl::StrCat("# written by aws configure\r\n", "[default]\r\n",
                   "aws_access_key_id=AKIDDEFAULT\r\n", "aws_secret_access_key=x\r\n", "\r\n",
                   "; another comment\r\n", "[ ci ]\r\n", "AWS_Access_Key_ID   =   AKIDCI  \r\n",
                   "aws_secret_access_key = ", kSecret, "\r\n", "aws_session_token = ",
                   kSessionToken, "\r\n", "s3 =\r\n", "  max_concurrent_requests = 20\r\n",
                   "[other]\r\n", "aws_access_key_id = AKIDOTHER\r\n"));
  ProfileCredentialsProvider provider(
      Options({{"AWS_SHARED_CREDENTIALS_FILE", path}, {"AWS_PROFILE", "ci"}}));
  ExpectCredentials(provider.Get(), {"AKIDCI", kSecret, kSessionToken, std::nullopt});
}

TEST(ProfileCredentialsProviderTest, TildeMeansHome) {
  TempDir home;
  home.Write("elsewhere/credentials",
             absl::StrCat("[default]\naws_access_key_id = AKIDTILDE\naws_secret_access_key = ",
                          kSecret, "\n"));
  ProfileCredentialsProvider provider(
      Options({{"HOME", home.path()}, {"AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/credentials"}}));
  ExpectCredentials(provider.Get(), {"AKIDTILDE", kSecret, "", std::nullopt});
}

TEST(ProfileCredentialsProviderTest, ReadsTheFileAgainEachTime) {
  TempDir home;
  home.Write(".aws/credentials",
             "[default]\naws_access_key_id = AKIDOLD\n"
             "aws_secret_access_key = old\n");
  ProfileCredentialsProvider provider(Options({{"HOME", home.path()}}));
  ExpectCredentials(provider.Get(), {"AKIDOLD", "old", "", std::nullopt});
  home.Write(".aws/credentials",
             "[default]\naws_access_key_id = AKIDNEW\n"
             "aws_secret_access_key = new\n");
  ExpectCredentials(provider.Get(), {"AKIDNEW", "new", "", std::nullopt});
}

TEST(ProfileCredentialsProviderTest, MissingFileIsNotFoundForTheDefaultProfile) {
  TempDir home;
  ExpectError(
      ProfileCredentialsProvider(Options({{"HOME", home.path()}})).Get(),
      absl::StatusCode::kNotFound,
      absl::StrCat("shared credentials file: ", home.path(), "/.aws/credentials does not exist"));
  ExpectError(ProfileCredentialsProvider(Options({})).Get(), absl::StatusCode::kNotFound,
              "shared credentials file: neither AWS_SHARED_CREDENTIALS_FILE nor HOME is set");
}

TEST(ProfileCredentialsProviderTest, MissingFileIsAnErrorForANamedProfile) {
  TempDir home;
  ExpectError(
      ProfileCredentialsProvider(Options({{"HOME", home.path()}, {"AWS_PROFILE", "ci"}})).Get(),
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("shared credentials file: ", home.path(), "/.aws/credentials does not exist"));
}

TEST(ProfileCredentialsProviderTest, MissingProfile) {
  TempDir home;
  const std::string path = home.Write(".aws/credentials", "[other]\naws_access_key_id = A\n");
  ExpectError(ProfileCredentialsProvider(Options({{"HOME", home.path()}})).Get(),
              absl::StatusCode::kNotFound,
              absl::StrCat("shared credentials file: profile \"default\" is not in ", path));
  ExpectError(
      ProfileCredentialsProvider(Options({{"HOME", home.path()}, {"AWS_PROFILE", "ci"}})).Get(),
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("shared credentials file: profile \"ci\" is not in ", path));
}

TEST(ProfileCredentialsProviderTest, ProfileWithoutKeys) {
  TempDir home;
  const std::string path =
      home.Write(".aws/credentials", "[default]\nregion = eu-west-1\n[ci]\nregion = eu-west-1\n");
  ExpectError(ProfileCredentialsProvider(Options({{"HOME", home.path()}})).Get(),
              absl::StatusCode::kNotFound,
              absl::StrCat("shared credentials file: profile \"default\" in ", path,
                           " has no aws_access_key_id"));
  ExpectError(
      ProfileCredentialsProvider(Options({{"HOME", home.path()}, {"AWS_PROFILE", "ci"}})).Get(),
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("shared credentials file: profile \"ci\" in ", path,
                   " has no aws_access_key_id"));
}

TEST(ProfileCredentialsProviderTest, HalfAPairIsAnError) {
  TempDir home;
  const std::string path =
      home.Write(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n");
  ExpectError(ProfileCredentialsProvider(Options({{"HOME", home.path()}})).Get(),
              absl::StatusCode::kFailedPrecondition,
              absl::StrCat("shared credentials file: profile \"default\" in ", path,
                           " has aws_access_key_id but no aws_secret_access_key"));
}

TEST(ProfileCredentialsProviderTest, MalformedLineIsNamedNotQuoted) {
  TempDir home;
  const std::string path = home.Write(
      ".aws/credentials", absl::StrCat("[default]\naws_access_key_id = AKIDFILE\n", kSecret, "\n"));
  ExpectError(ProfileCredentialsProvider(Options({{"HOME", home.path()}})).Get(),
              absl::StatusCode::kFailedPrecondition,
              absl::StrCat("shared credentials file: ", path,
                           " line 3: expected [section] or key = value"));
}

// --- Container credentials -----------------------------------------------------

FakeHttpServer ContainerEndpoint(const std::string& expected_authorization) {
  return FakeHttpServer([expected_authorization](const FakeHttpRequest& request) {
    if (request.Header("Authorization") != expected_authorization) {
      return FakeHttpResponse{401, "", absl::ZeroDuration()};
    }
    return FakeHttpResponse{200, CredentialsJson(RoleCredentials()), absl::ZeroDuration()};
  });
}

TEST(ContainerCredentialsProviderTest, FullUriWithAuthorizationToken) {
  FakeHttpServer endpoint([](const FakeHttpRequest& request) {
    if (request.Header("Authorization") != "Bearer pod-identity") {
      return FakeHttpResponse{401, "", absl::ZeroDuration()};
    }
    return FakeHttpResponse{200, CredentialsJson(RoleCredentials()), absl::ZeroDuration()};
  });
  ContainerCredentialsProvider provider(
      Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url() + "/v1/credentials"},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer pod-identity"}}));
  ExpectCredentials(provider.Get(), RoleCredentials());
  ASSERT_EQ(endpoint.requests().size(), 1u);
  EXPECT_EQ(endpoint.requests()[0].method, "GET");
  EXPECT_EQ(endpoint.requests()[0].target, "/v1/credentials");
}

TEST(ContainerCredentialsProviderTest, TokenFileWinsOverToken) {
  FakeHttpServer endpoint([](const FakeHttpRequest& request) {
    if (request.Header("Authorization") != "from-file") {
      return FakeHttpResponse{401, "", absl::ZeroDuration()};
    }
    return FakeHttpResponse{200, CredentialsJson(RoleCredentials()), absl::ZeroDuration()};
  });
  TempDir dir;
  const std::string token_file = dir.Write("token", "from-file\n");
  ContainerCredentialsProvider provider(
      Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url() + "/creds"},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable"}}));
  ExpectCredentials(provider.Get(), RoleCredentials());
}

TEST(ContainerCredentialsProviderTest, RelativeUriIsResolvedAgainstTheEcsAgent) {
  FakeHttpServer endpoint([](const FakeHttpRequest& request) {
    if (request.target != "/v2/credentials/task-role") {
      return FakeHttpResponse{404, "", absl::ZeroDuration()};
    }
    return FakeHttpResponse{200, CredentialsJson(RoleCredentials()), absl::ZeroDuration()};
  });
  CredentialSourceOptions options =
      Options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-role"}});
  EXPECT_EQ(options.container_base_url, "http://169.254.170.2");
  options.container_base_url = endpoint.url();
  ExpectCredentials(ContainerCredentialsProvider(options).Get(), RoleCredentials());
}

TEST(ContainerCredentialsProviderTest, NotFoundWhenUnset) {
  ExpectError(ContainerCredentialsProvider(Options({})).Get(), absl::StatusCode::kNotFound,
              "container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
              "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set");
}

TEST(ContainerCredentialsProviderTest, CredentialsNeverTravelInClear) {
  ExpectError(
      ContainerCredentialsProvider(
          Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds"}}))
          .Get(),
      absl::StatusCode::kFailedPrecondition,
      "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI http://example.com/creds is "
      "neither https nor http to a loopback, ECS or EKS Pod Identity address");
  ExpectError(
      ContainerCredentialsProvider(
          Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1.evil.com/creds"}}))
          .Get(),
      absl::StatusCode::kFailedPrecondition,
      "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI "
      "http://127.0.0.1.evil.com/creds is neither https nor http to a loopback, ECS or EKS Pod "
      "Identity address");
  ExpectError(ContainerCredentialsProvider(
                  Options({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@evil.com/creds"}}))
                  .Get(),
              absl::StatusCode::kFailedPrecondition,
              "container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI does not start "
              "with '/'");
}

TEST(ContainerCredentialsProviderTest, LocalhostByNameIsAllowed) {
  FakeHttpServer endpoint = ContainerEndpoint("t");
  ContainerCredentialsProvider provider(Options(
      {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", absl::StrCat("http://localhost:", endpoint.port())},
       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "t"}}));
  ExpectCredentials(provider.Get(), RoleCredentials());
}

TEST(ContainerCredentialsProviderTest, RefusedAuthorizationNeedsFixing) {
  FakeHttpServer endpoint = ContainerEndpoint("right");
  const std::string url = endpoint.url() + "/creds";
  ExpectError(
      ContainerCredentialsProvider(Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url},
                                            {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong"}}))
          .Get(),
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("container credentials: GET ", url, " returned HTTP 401"));
}

TEST(ContainerCredentialsProviderTest, ServerErrorIsWorthARetry) {
  FakeHttpServer endpoint([](const FakeHttpRequest&) {
    return FakeHttpResponse{500, "", absl::ZeroDuration()};
  });
  const std::string url = endpoint.url() + "/creds";
  ExpectError(
      ContainerCredentialsProvider(Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}})).Get(),
      absl::StatusCode::kUnavailable,
      absl::StrCat("container credentials: GET ", url, " returned HTTP 500"));
}

TEST(ContainerCredentialsProviderTest, SlowAnswerTimesOut) {
  FakeHttpServer endpoint([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, CredentialsJson(RoleCredentials()), absl::Seconds(5)};
  });
  const std::string url = endpoint.url() + "/creds";
  const absl::Time start = absl::Now();
  ExpectError(
      ContainerCredentialsProvider(Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}})).Get(),
      absl::StatusCode::kUnavailable,
      absl::StrCat("container credentials: GET ", url, ": timed out after 300 ms"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(ContainerCredentialsProviderTest, NothingListening) {
  RefusingPort port;
  const std::string url = port.url() + "/creds";
  ExpectError(
      ContainerCredentialsProvider(Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}})).Get(),
      absl::StatusCode::kUnavailable,
      absl::StrCat("container credentials: GET ", url, ": could not connect"));
}

TEST(ContainerCredentialsProviderTest, UnreadableAnswersKeepSecretsOut) {
  std::string body;
  FakeHttpServer endpoint([&body](const FakeHttpRequest&) {
    return FakeHttpResponse{200, body, absl::ZeroDuration()};
  });
  const std::string url = endpoint.url() + "/creds";
  ContainerCredentialsProvider provider(Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}}));

  body =
      absl::StrCat(R"({"AccessKeyId": "A", "SecretAccessKey": ")", kSecret, R"(" "Token": "x"})");
  ExpectError(provider.Get(), absl::StatusCode::kUnavailable,
              absl::StrCat("container credentials: GET ", url,
                           " answered something unreadable: malformed JSON at byte 83: "
                           "expected ',' or '}'"));
  body = absl::StrCat(R"({"SecretAccessKey": ")", kSecret, R"("})");
  ExpectError(provider.Get(), absl::StatusCode::kUnavailable,
              absl::StrCat("container credentials: GET ", url, " answered no AccessKeyId"));
  body = R"({"AccessKeyId": "A", "SecretAccessKey": "s", "Expiration": "tomorrow"})";
  ExpectError(provider.Get(), absl::StatusCode::kUnavailable,
              absl::StrCat("container credentials: GET ", url,
                           " answered an Expiration \"tomorrow\" that is not an RFC 3339 time"));
}

TEST(ContainerCredentialsProviderTest, TokenWithALineBreakIsRefused) {
  TempDir dir;
  const std::string token_file = dir.Write("token", "a\r\nX-Injected: 1\n");
  ExpectError(ContainerCredentialsProvider(
                  Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds"},
                           {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file}}))
                  .Get(),
              absl::StatusCode::kFailedPrecondition,
              "container credentials: the authorization token has a line break");
}

TEST(ContainerCredentialsProviderTest, UnreadableTokenFile) {
  TempDir dir;
  const std::string missing = dir.path() + "/no-such-token";
  ExpectError(ContainerCredentialsProvider(
                  Options({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds"},
                           {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", missing}}))
                  .Get(),
              absl::StatusCode::kFailedPrecondition,
              absl::StrCat("container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ",
                           missing, " does not exist"));
}

// --- EC2 instance metadata -----------------------------------------------------

TEST(InstanceMetadataCredentialsProviderTest, Imdsv2TokenFlow) {
  FakeInstanceMetadata imds;
  imds.SetCredentials(RoleCredentials());
  InstanceMetadataCredentialsProvider provider(
      Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url() + "/"}}));
  ExpectCredentials(provider.Get(), RoleCredentials());

  const std::vector<FakeHttpRequest> requests = imds.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  EXPECT_EQ(requests[0].Header("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[1].Header("X-aws-ec2-metadata-token"), "imds-token-1");
  EXPECT_EQ(requests[2].method, "GET");
  EXPECT_EQ(requests[2].target, "/latest/meta-data/iam/security-credentials/feed-rec-producer");
  EXPECT_EQ(requests[2].Header("X-aws-ec2-metadata-token"), "imds-token-1");
}

TEST(InstanceMetadataCredentialsProviderTest, FakeAnswers401WithoutTheTokenHeader) {
  FakeInstanceMetadata imds;
  internal::HttpRequest request;
  request.url = imds.url() + "/latest/meta-data/iam/security-credentials/";
  const absl::StatusOr<internal::HttpResponse> response = internal::HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 401);
}

TEST(InstanceMetadataCredentialsProviderTest, RejectedTokenIsWorthARetry) {
  FakeInstanceMetadata imds;
  imds.SetCredentials(RoleCredentials());
  imds.SetRejectTokens(true);
  ExpectError(InstanceMetadataCredentialsProvider(
                  Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}))
                  .Get(),
              absl::StatusCode::kUnavailable,
              absl::StrCat("EC2 instance metadata: GET ", imds.url(),
                           "/latest/meta-data/iam/security-credentials/ returned HTTP 401"));
}

TEST(InstanceMetadataCredentialsProviderTest, NoRoleIsNotFound) {
  FakeInstanceMetadata imds;
  imds.SetRole("");
  ExpectError(InstanceMetadataCredentialsProvider(
                  Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}))
                  .Get(),
              absl::StatusCode::kNotFound,
              absl::StrCat("EC2 instance metadata: the instance has no IAM role (GET ", imds.url(),
                           "/latest/meta-data/iam/security-credentials/ returned HTTP 404)"));
}

TEST(InstanceMetadataCredentialsProviderTest, SlowTokenMeansNoInstanceMetadata) {
  FakeInstanceMetadata imds;
  imds.SetCredentials(RoleCredentials());
  imds.SetTokenDelay(absl::Seconds(5));
  ExpectError(InstanceMetadataCredentialsProvider(
                  Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}))
                  .Get(),
              absl::StatusCode::kNotFound,
              absl::StrCat("EC2 instance metadata: PUT ", imds.url(),
                           "/latest/api/token: timed out after 300 ms"));
}

TEST(InstanceMetadataCredentialsProviderTest, SlowCredentialsAreWorthARetry) {
  FakeInstanceMetadata imds;
  imds.SetCredentials(RoleCredentials());
  imds.SetCredentialsDelay(absl::Seconds(5));
  ExpectError(
      InstanceMetadataCredentialsProvider(
          Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}))
          .Get(),
      absl::StatusCode::kUnavailable,
      absl::StrCat("EC2 instance metadata: GET ", imds.url(),
                   "/latest/meta-data/iam/security-credentials/feed-rec-producer: timed out "
                   "after 300 ms"));
}

TEST(InstanceMetadataCredentialsProviderTest, NothingListeningMeansNoInstanceMetadata) {
  RefusingPort port;
  ExpectError(InstanceMetadataCredentialsProvider(
                  Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", port.url()}}))
                  .Get(),
              absl::StatusCode::kNotFound,
              absl::StrCat("EC2 instance metadata: PUT ", port.url(),
                           "/latest/api/token: could not connect"));
}

TEST(InstanceMetadataCredentialsProviderTest, DisabledByTheEnvironment) {
  FakeInstanceMetadata imds;
  ExpectError(InstanceMetadataCredentialsProvider(
                  Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()},
                           {"AWS_EC2_METADATA_DISABLED", "TRUE"}}))
                  .Get(),
              absl::StatusCode::kNotFound,
              "EC2 instance metadata: AWS_EC2_METADATA_DISABLED is true");
  EXPECT_TRUE(imds.requests().empty());
}

TEST(InstanceMetadataCredentialsProviderTest, FailureCodeInTheAnswer) {
  FakeInstanceMetadata imds;
  imds.SetCredentialsBody(R"({"Code": "AssumeRoleUnauthorizedAccess", "Message": "..."})");
  ExpectError(
      InstanceMetadataCredentialsProvider(
          Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}))
          .Get(),
      absl::StatusCode::kUnavailable,
      absl::StrCat("EC2 instance metadata: GET ", imds.url(),
                   "/latest/meta-data/iam/security-credentials/feed-rec-producer answered Code "
                   "\"AssumeRoleUnauthorizedAccess\""));
}

TEST(InstanceMetadataCredentialsProviderTest, RoleNameMustBeAnIamName) {
  FakeInstanceMetadata imds;
  imds.SetRole("../../user-data");
  ExpectError(InstanceMetadataCredentialsProvider(
                  Options({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}))
                  .Get(),
              absl::StatusCode::kUnavailable,
              absl::StrCat("EC2 instance metadata: GET ", imds.url(),
                           "/latest/meta-data/iam/security-credentials/ answered a role name with "
                           "characters IAM does not allow"));
}

// --- Web identity --------------------------------------------------------------

std::string StsAnswer(const AwsCredentials& credentials) {
  return absl::StrCat(
      "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
      "  <AssumeRoleWithWebIdentityResult>\n"
      "    <SubjectFromWebIdentityToken>system:serviceaccount:feed:ingest"
      "</SubjectFromWebIdentityToken>\n"
      "    <Credentials>\n"
      "      <SessionToken>",
      credentials.session_token,
      "</SessionToken>\n"
      "      <SecretAccessKey>",
      credentials.secret_access_key,
      "</SecretAccessKey>\n"
      "      <Expiration>",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *credentials.expiration, absl::UTCTimeZone()),
      "</Expiration>\n"
      "      <AccessKeyId>",
      credentials.access_key_id,
      "</AccessKeyId>\n"
      "    </Credentials>\n"
      "  </AssumeRoleWithWebIdentityResult>\n"
      "</AssumeRoleWithWebIdentityResponse>\n");
}

TEST(WebIdentityCredentialsProviderTest, AssumesTheRoleWithTheTokenFromTheFile) {
  AwsCredentials with_entity = RoleCredentials();
  with_entity.session_token = "a&amp;b";
  FakeHttpServer sts([&with_entity](const FakeHttpRequest&) {
    return FakeHttpResponse{200, StsAnswer(with_entity), absl::ZeroDuration()};
  });
  TempDir dir;
  const std::string token_file = dir.Write("token", "eyJhbGciOiJSUzI1NiJ9.e30.sig\n");
  FakeClock clock(Now());
  WebIdentityCredentialsProvider provider(
      Options({{"AWS_WEB_IDENTITY_TOKEN_FILE", token_file},
               {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/feed-rec-producer"},
               {"AWS_ENDPOINT_URL_STS", sts.url()}},
              &clock));
  AwsCredentials expected = RoleCredentials();
  expected.session_token = "a&b";
  ExpectCredentials(provider.Get(), expected);

  const std::vector<FakeHttpRequest> requests = sts.requests();
  ASSERT_EQ(requests.size(), 1u);
  const FakeHttpRequest& request = requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/");
  EXPECT_EQ(request.Header("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(request.Header("Authorization"), std::nullopt);  // Unsigned.
  EXPECT_EQ(request.body,
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Ffeed-rec-producer"
            "&RoleSessionName=feed-ingest-1440938160"
            "&WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.e30.sig");
}

TEST(WebIdentityCredentialsProviderTest, SessionNameFromTheEnvironment) {
  FakeHttpServer sts([](const FakeHttpRequest&) {
    return FakeHttpResponse{200, StsAnswer(RoleCredentials()), absl::ZeroDuration()};
  });
  TempDir dir;
  WebIdentityCredentialsProvider provider(
      Options({{"AWS_WEB_IDENTITY_TOKEN_FILE", dir.Write("token", "t")},
               {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"},
               {"AWS_ROLE_SESSION_NAME", "pod-7"},
               {"AWS_ENDPOINT_URL_STS", sts.url()}}));
  ExpectCredentials(provider.Get(), RoleCredentials());
  ASSERT_EQ(sts.requests().size(), 1u);
  EXPECT_THAT(sts.requests()[0].body, HasSubstr("&RoleSessionName=pod-7&"));
}

TEST(WebIdentityCredentialsProviderTest, StsRefusalCarriesItsCodeAndMessage) {
  FakeHttpServer sts([](const FakeHttpRequest&) {
    return FakeHttpResponse{
        400,
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidIdentityToken</Code>\n"
        "    <Message>Couldn&apos;t retrieve verification key from your identity provider"
        "</Message>\n  </Error>\n  <RequestId>c6104cbe</RequestId>\n</ErrorResponse>\n",
        absl::ZeroDuration()};
  });
  TempDir dir;
  WebIdentityCredentialsProvider provider(
      Options({{"AWS_WEB_IDENTITY_TOKEN_FILE", dir.Write("token", "t")},
               {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"},
               {"AWS_ENDPOINT_URL_STS", sts.url()}}));
  ExpectError(provider.Get(), absl::StatusCode::kFailedPrecondition,
              absl::StrCat("web identity: STS AssumeRoleWithWebIdentity at ", sts.url(),
                           "/ returned HTTP 400: InvalidIdentityToken: Couldn't retrieve "
                           "verification key from your identity provider"));
}

TEST(WebIdentityCredentialsProviderTest, NotConfigured) {
  ExpectError(WebIdentityCredentialsProvider(Options({})).Get(), absl::StatusCode::kNotFound,
              "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is not set");
  ExpectError(
      WebIdentityCredentialsProvider(Options({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/token"}})).Get(),
      absl::StatusCode::kFailedPrecondition,
      "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  ExpectError(
      WebIdentityCredentialsProvider(Options({{"AWS_WEB_IDENTITY_TOKEN_FILE", "/token"},
                                              {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"},
                                              {"AWS_ENDPOINT_URL_STS", "sts.internal:8443"}}))
          .Get(),
      absl::StatusCode::kFailedPrecondition,
      "web identity: AWS_ENDPOINT_URL_STS sts.internal:8443 is not an http(s) URL");
  TempDir dir;
  const std::string missing = dir.path() + "/token";
  ExpectError(
      WebIdentityCredentialsProvider(
          Options({{"AWS_WEB_IDENTITY_TOKEN_FILE", missing},
                   {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"}}))
          .Get(),
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("web identity: AWS_WEB_IDENTITY_TOKEN_FILE: ", missing, " does not exist"));
}

}  // namespace
}  // namespace feed_ingest::msk
