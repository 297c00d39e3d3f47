// MSK IAM tokens: byte for byte against botocore (tests/msk/botocore_msk_token.py,
// the steps of AWS's aws-msk-iam-sasl-signer-python), every query parameter of
// a decoded token, the lifetime, China hosts, a time zone far from UTC, errors.
#include "msk/msk_token.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "fake_http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "msk/aws_credentials.h"
#include "msk/sigv4.h"

namespace feed_ingest::msk {
namespace {

using ::testing::ElementsAreArray;

constexpr int64_t kSigningSeconds = 1440938160;  // 2015-08-30T12:36:00Z
// An STS-style session token, with the characters that need encoding.
constexpr char kSessionToken[] =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
    "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ"
    "0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDr"
    "ypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

absl::Time SigningTime() { return absl::FromUnixSeconds(kSigningSeconds); }

AwsCredentials Credentials(bool with_session_token) {
  AwsCredentials credentials;
  credentials.access_key_id = "AKIDEXAMPLE";
  credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  if (with_session_token) credentials.session_token = kSessionToken;
  return credentials;
}

// The token botocore makes for the same input, or a failure naming why not.
std::string BotocoreToken(const AwsCredentials& credentials, const std::string& region,
                          const std::string& host) {
  const char* python = std::getenv("FEED_MSK_PYTHON");
  std::string command = absl::StrCat(
      python != nullptr ? python : "/usr/bin/python3", " '", FEED_MSK_BOTOCORE_SCRIPT,
      "' --region '", region, "' --host '", host, "' --access-key-id '", credentials.access_key_id,
      "' --secret-access-key '", credentials.secret_access_key, "' --time 2015-08-30T12:36:00Z",
      " --user-agent '", DefaultMskUserAgent(), "'");
  if (!credentials.session_token.empty()) {
    absl::StrAppend(&command, " --session-token '", credentials.session_token, "'");
  }
  absl::StrAppend(&command, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run python3";
    return "";
  }
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "botocore_msk_token.py failed (python3 with botocore is needed: Debian "
                     "python3-botocore):\n"
                  << output;
    return "";
  }
  return std::string(absl::StripAsciiWhitespace(output));
}

std::string DecodeToken(const std::string& token) {
  std::string url;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(token, &url)) << token;
  return url;
}

// The token's query as (name, value) pairs, values still percent-encoded.
std::vector<std::pair<std::string, std::string>> QueryOf(const std::string& url) {
  std::vector<std::pair<std::string, std::string>> params;
  const absl::string_view query = absl::string_view(url).substr(url.find('?') + 1);
  for (absl::string_view item : absl::StrSplit(query, '&')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    params.push_back(std::move(kv));
  }
  return params;
}

TEST(MskTokenTest, MatchesBotocoreWithoutSessionToken) {
  const AwsCredentials credentials = Credentials(false);
  const absl::StatusOr<MskToken> token = MakeMskToken(credentials, "us-east-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token, BotocoreToken(credentials, "us-east-1", "kafka.us-east-1.amazonaws.com"));
}

TEST(MskTokenTest, MatchesBotocoreWithSessionToken) {
  const AwsCredentials credentials = Credentials(true);
  const absl::StatusOr<MskToken> token = MakeMskToken(credentials, "eu-west-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token, BotocoreToken(credentials, "eu-west-1", "kafka.eu-west-1.amazonaws.com"));
}

TEST(MskTokenTest, MatchesBotocoreInChina) {
  const AwsCredentials credentials = Credentials(true);
  const absl::StatusOr<MskToken> token = MakeMskToken(credentials, "cn-north-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token,
            BotocoreToken(credentials, "cn-north-1", "kafka.cn-north-1.amazonaws.com.cn"));
  EXPECT_TRUE(
      absl::StartsWith(DecodeToken(token->token), "https://kafka.cn-north-1.amazonaws.com.cn/?"));
}

TEST(MskTokenTest, EveryQueryParameterInOrder) {
  const absl::StatusOr<MskToken> token =
      MakeMskToken(Credentials(true), "us-east-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  const std::string url = DecodeToken(token->token);
  EXPECT_TRUE(absl::StartsWith(url, "https://kafka.us-east-1.amazonaws.com/?")) << url;
  const std::vector<std::pair<std::string, std::string>> params = QueryOf(url);
  ASSERT_EQ(params.size(), 9u) << url;
  const std::string signature = params[7].second;
  EXPECT_THAT(params, ElementsAreArray(std::vector<std::pair<std::string, std::string>>{
                          {"Action", "kafka-cluster%3AConnect"},
                          {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                          {"X-Amz-Credential",
                           "AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fkafka-cluster%2Faws4_"
                           "request"},
                          {"X-Amz-Date", "20150830T123600Z"},
                          {"X-Amz-Expires", "900"},
                          {"X-Amz-SignedHeaders", "host"},
                          {"X-Amz-Security-Token", AwsUriEncode(kSessionToken)},
                          {"X-Amz-Signature", signature},
                          {"User-Agent", AwsUriEncode(DefaultMskUserAgent())},
                      }));
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_EQ(signature.find_first_not_of("0123456789abcdef"), std::string::npos) << signature;

  // The signature covers the session token: it is the presigned URL's.
  SigV4Request request;
  request.method = "GET";
  request.path = "/";
  request.query = "Action=kafka-cluster%3AConnect";
  request.headers = {{"host", "kafka.us-east-1.amazonaws.com"}};
  SigV4Options options;
  options.region = "us-east-1";
  options.service = "kafka-cluster";
  options.time = SigningTime();
  options.expires = absl::Seconds(900);
  const absl::StatusOr<SigV4Result> presigned = SignWithQuery(request, Credentials(true), options);
  ASSERT_TRUE(presigned.ok()) << presigned.status();
  EXPECT_EQ(signature, presigned->signature);
  EXPECT_TRUE(absl::StrContains(presigned->canonical_request, "&X-Amz-Security-Token="));
}

TEST(MskTokenTest, NoSessionTokenParameterWithoutSessionToken) {
  const absl::StatusOr<MskToken> token =
      MakeMskToken(Credentials(false), "us-east-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  std::vector<std::string> names;
  for (const auto& [name, value] : QueryOf(DecodeToken(token->token))) names.push_back(name);
  EXPECT_THAT(names, ElementsAreArray({"Action", "X-Amz-Algorithm", "X-Amz-Credential",
                                       "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                                       "X-Amz-Signature", "User-Agent"}));
}

TEST(MskTokenTest, Base64UrlWithoutPadding) {
  for (int length = 0; length < 3; ++length) {
    AwsCredentials credentials = Credentials(true);
    credentials.session_token += std::string(length, 'x');  // Every padding length.
    const absl::StatusOr<MskToken> token = MakeMskToken(credentials, "us-east-1", SigningTime());
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->token.find_first_of("+/="), std::string::npos) << token->token;
  }
}

TEST(MskTokenTest, UserAgentNamesThisService) {
  EXPECT_TRUE(absl::StartsWith(DefaultMskUserAgent(), "feed-ingest/"));
  EXPECT_GT(DefaultMskUserAgent().size(), std::string("feed-ingest/").size());
}

TEST(MskTokenTest, PrincipalIsTheAccessKeyId) {
  const absl::StatusOr<MskToken> token =
      MakeMskToken(Credentials(true), "us-east-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->principal, "AKIDEXAMPLE");
}

TEST(MskTokenTest, LifetimeIsNineHundredSecondsAfterSigning) {
  const absl::StatusOr<MskToken> token =
      MakeMskToken(Credentials(false), "us-east-1", SigningTime() + absl::Milliseconds(700));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->lifetime_ms, (kSigningSeconds + 900) * 1000);
  EXPECT_EQ(QueryOf(DecodeToken(token->token))[3].second, "20150830T123600Z");
}

TEST(MskTokenTest, LifetimeStopsWhenTheCredentialsExpire) {
  AwsCredentials credentials = Credentials(true);
  credentials.expiration = SigningTime() + absl::Seconds(60) + absl::Milliseconds(250);
  absl::StatusOr<MskToken> token = MakeMskToken(credentials, "us-east-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->lifetime_ms, (kSigningSeconds + 60) * 1000 + 250);

  credentials.expiration = SigningTime() + absl::Hours(1);
  token = MakeMskToken(credentials, "us-east-1", SigningTime());
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->lifetime_ms, (kSigningSeconds + 900) * 1000);
}

// Restores TZ when the test ends, whatever happens.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_.has_value()) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST(MskTokenTest, SameTokenInATimeZoneFarFromUtc) {
  const absl::StatusOr<MskToken> in_utc =
      MakeMskToken(Credentials(true), "us-east-1", SigningTime());
  ASSERT_TRUE(in_utc.ok()) << in_utc.status();

  ScopedTimeZone kiritimati("Pacific/Kiritimati");  // UTC+14.
  const std::time_t signing = kSigningSeconds;
  std::tm local{};
  localtime_r(&signing, &local);
  ASSERT_EQ(local.tm_hour, 2) << "TZ=Pacific/Kiritimati did not take effect";

  const absl::StatusOr<MskToken> far = MakeMskToken(Credentials(true), "us-east-1", SigningTime());
  ASSERT_TRUE(far.ok()) << far.status();
  EXPECT_EQ(far->token, in_utc->token);
  EXPECT_EQ(far->lifetime_ms, (kSigningSeconds + 900) * 1000);
  EXPECT_EQ(QueryOf(DecodeToken(far->token))[3].second, "20150830T123600Z");
}

TEST(MskHostTest, PartitionsGetTheirDomain) {
  EXPECT_EQ(MskHost("us-east-1"), "kafka.us-east-1.amazonaws.com");
  EXPECT_EQ(MskHost("eu-central-1"), "kafka.eu-central-1.amazonaws.com");
  EXPECT_EQ(MskHost("cn-north-1"), "kafka.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(MskHost("cn-northwest-1"), "kafka.cn-northwest-1.amazonaws.com.cn");
  EXPECT_EQ(MskHost("us-gov-west-1"), "kafka.us-gov-west-1.amazonaws.com");
  EXPECT_EQ(MskHost("us-iso-east-1"), "kafka.us-iso-east-1.c2s.ic.gov");
  EXPECT_EQ(MskHost("us-isob-east-1"), "kafka.us-isob-east-1.sc2s.sgov.gov");
}

void ExpectError(const absl::StatusOr<MskToken>& token, absl::StatusCode code,
                 const std::string& message) {
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), code) << token.status();
  EXPECT_EQ(std::string(token.status().message()), message);
}

TEST(MskTokenTest, RejectsWhatIsNotARegion) {
  ExpectError(MakeMskToken(Credentials(false), "US East 1", SigningTime()),
              absl::StatusCode::kInvalidArgument,
              "MSK token: \"US East 1\" is not an AWS region name");
  ExpectError(MakeMskToken(Credentials(false), "", SigningTime()),
              absl::StatusCode::kInvalidArgument, "MSK token: \"\" is not an AWS region name");
  ExpectError(MakeMskToken(Credentials(false), "evil.com/x", SigningTime()),
              absl::StatusCode::kInvalidArgument,
              "MSK token: \"evil.com/x\" is not an AWS region name");
}

TEST(MskTokenTest, RejectsIncompleteCredentials) {
  AwsCredentials credentials = Credentials(true);
  credentials.secret_access_key.clear();
  ExpectError(MakeMskToken(credentials, "us-east-1", SigningTime()),
              absl::StatusCode::kInvalidArgument,
              "MSK token: the AWS credentials have no access key id or no secret access key");
}

TEST(MskTokenTest, RejectsExpiredCredentialsWithoutSecrets) {
  AwsCredentials credentials = Credentials(true);
  credentials.expiration = SigningTime();
  const absl::StatusOr<MskToken> token = MakeMskToken(credentials, "us-east-1", SigningTime());
  ExpectError(token, absl::StatusCode::kFailedPrecondition,
              "MSK token: the AWS credentials of AKIDEXAMPLE expired at 2015-08-30T12:36:00Z");
}

TEST(MskTokenProviderTest, SignsTheProvidersCredentialsAtTheClocksTime) {
  testing::FakeClock clock(SigningTime());
  MskTokenProvider tokens(std::make_shared<StaticCredentialsProvider>(Credentials(true)),
                          "us-east-1", &clock);
  const absl::StatusOr<MskToken> token = tokens.Generate();
  ASSERT_TRUE(token.ok()) << token.status();
  const absl::StatusOr<MskToken> expected =
      MakeMskToken(Credentials(true), "us-east-1", SigningTime());
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(token->token, expected->token);
  EXPECT_EQ(token->lifetime_ms, expected->lifetime_ms);
  EXPECT_EQ(token->principal, "AKIDEXAMPLE");
}

class FailingProvider final : public AwsCredentialsProvider {
 public:
  absl::StatusOr<AwsCredentials> Get() override {
    return absl::NotFoundError("no AWS credentials found: ...");
  }
};

TEST(MskTokenProviderTest, PassesOnTheProvidersError) {
  MskTokenProvider tokens(std::make_shared<FailingProvider>(), "us-east-1");
  ExpectError(tokens.Generate(), absl::StatusCode::kNotFound, "no AWS credentials found: ...");
}

}  // namespace
}  // namespace feed_ingest::msk
