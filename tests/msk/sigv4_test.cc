// The SigV4 signer against every vector of the aws-c-auth signing test suite
// (shared/testdata/aws-sigv4), header and query signing, byte for byte; then
// the errors.
#include "msk/sigv4.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace feed_ingest::msk {
namespace {

namespace fs = std::filesystem;

// FEED_MSK_SIGV4_VECTORS in the environment wins over the build's default
// (tests/msk/testdata/aws-sigv4).
std::string VectorsDir() {
  if (const char* dir = std::getenv("FEED_MSK_SIGV4_VECTORS"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return FEED_MSK_SIGV4_VECTORS;
}

std::vector<std::string> VectorNames() {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(VectorsDir(), error)) {
    if (fs::exists(entry.path() / "context.json")) names.push_back(entry.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// request.txt: "METHOD target HTTP/1.1", header lines (a line starting with
// whitespace continues the previous value), an empty line, the body. The
// target may hold spaces ("GET /example space/ HTTP/1.1").
SigV4Request ParseRequest(absl::string_view text) {
  SigV4Request request;
  absl::string_view head = text;
  if (const size_t blank = text.find("\n\n"); blank != absl::string_view::npos) {
    head = text.substr(0, blank);
    request.payload = std::string(text.substr(blank + 2));
  }
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n', absl::SkipEmpty());
  const absl::string_view request_line = lines[0];
  const size_t first_space = request_line.find(' ');
  const size_t last_space = request_line.rfind(' ');
  request.method = std::string(request_line.substr(0, first_space));
  const absl::string_view target =
      request_line.substr(first_space + 1, last_space - first_space - 1);
  const size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != absl::string_view::npos) request.query = std::string(target.substr(question + 1));
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i][0] == ' ' || lines[i][0] == '\t') {
      absl::StrAppend(&request.headers.back().value, "\n", lines[i]);
      continue;
    }
    const size_t colon = lines[i].find(':');
    request.headers.push_back(HttpHeader{std::string(lines[i].substr(0, colon)),
                                         std::string(lines[i].substr(colon + 1))});
  }
  return request;
}

// The inverse of ParseRequest, in the vectors' *-signed-request.txt form.
std::string RenderRequest(const SigV4Request& request) {
  std::string out = absl::StrCat(request.method, " ", request.path,
                                 request.query.empty() ? "" : "?", request.query, " HTTP/1.1\n");
  for (const HttpHeader& header : request.headers) {
    absl::StrAppend(&out, header.name, ":", header.value, "\n");
  }
  absl::StrAppend(&out, "\n", request.payload);
  return out;
}

struct VectorCase {
  std::string name;
  bool query;  // Query (presigned URL) signing, else header signing.
};

std::vector<VectorCase> VectorCases() {
  std::vector<VectorCase> cases;
  for (const std::string& name : VectorNames()) {
    cases.push_back({name, false});
    cases.push_back({name, true});
  }
  return cases;
}

class SigV4VectorTest : public ::testing::TestWithParam<VectorCase> {};

TEST_P(SigV4VectorTest, MatchesByteForByte) {
  const fs::path dir = fs::path(VectorsDir()) / GetParam().name;
  const nlohmann::json context = nlohmann::json::parse(ReadFile(dir / "context.json"));

  AwsCredentials credentials;
  credentials.access_key_id = context["credentials"]["access_key_id"];
  credentials.secret_access_key = context["credentials"]["secret_access_key"];
  credentials.session_token = context["credentials"].value("token", "");
  SigV4Options options;
  options.region = context["region"];
  options.service = context["service"];
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, context["timestamp"].get<std::string>(),
                              &options.time, &error))
      << error;
  options.normalize_path = context["normalize"];
  options.omit_session_token = context.value("omit_session_token", false);
  options.add_content_sha256_header = context["sign_body"];
  options.expires = absl::Seconds(context["expiration_in_seconds"].get<int>());

  const SigV4Request request = ParseRequest(ReadFile(dir / "request.txt"));
  const std::string prefix = GetParam().query ? "query-" : "header-";
  const absl::StatusOr<SigV4Result> result = GetParam().query
                                                 ? SignWithQuery(request, credentials, options)
                                                 : SignWithHeader(request, credentials, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->canonical_request, ReadFile(dir / (prefix + "canonical-request.txt")));
  EXPECT_EQ(result->string_to_sign, ReadFile(dir / (prefix + "string-to-sign.txt")));
  EXPECT_EQ(result->signature, ReadFile(dir / (prefix + "signature.txt")));
  EXPECT_EQ(RenderRequest(result->signed_request), ReadFile(dir / (prefix + "signed-request.txt")));
}

INSTANTIATE_TEST_SUITE_P(AwsCAuthSuite, SigV4VectorTest, ::testing::ValuesIn(VectorCases()),
                         [](const ::testing::TestParamInfo<VectorCase>& info) {
                           return absl::StrCat(absl::StrReplaceAll(info.param.name, {{"-", "_"}}),
                                               info.param.query ? "_query" : "_header");
                         });

// Without the vectors the parameterized suite would silently be empty.
TEST(SigV4VectorsTest, AreThere) {
  ASSERT_TRUE(fs::is_directory(VectorsDir()))
      << "the AWS SigV4 test vectors are missing: expected " << VectorsDir()
      << " (tests/msk/testdata/aws-sigv4; set FEED_MSK_SIGV4_VECTORS to "
         "point elsewhere)";
  EXPECT_GE(VectorNames().size(), 38u) << VectorsDir();
}

AwsCredentials ExampleCredentials() {
  AwsCredentials credentials;
  credentials.access_key_id = "AKIDEXAMPLE";
  credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return credentials;
}

SigV4Options ExampleOptions() {
  SigV4Options options;
  options.region = "us-east-1";
  options.service = "service";
  options.time = absl::FromUnixSeconds(1440938160);  // 2015-08-30T12:36:00Z
  return options;
}

SigV4Request ExampleRequest() {
  SigV4Request request;
  request.method = "GET";
  request.path = "/";
  request.headers = {{"Host", "example.amazonaws.com"}};
  return request;
}

void ExpectInvalidArgument(const absl::StatusOr<SigV4Result>& result, absl::string_view message) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(result.status().message()), std::string(message));
}

TEST(SigV4Test, FractionsOfASecondAreDropped) {
  SigV4Options options = ExampleOptions();
  options.time += absl::Milliseconds(999);
  const absl::StatusOr<SigV4Result> result =
      SignWithHeader(ExampleRequest(), ExampleCredentials(), options);
  ASSERT_TRUE(result.ok()) << result.status();
  // get-vanilla's signature.
  EXPECT_EQ(result->signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, RequiresAHostHeader) {
  SigV4Request request = ExampleRequest();
  request.headers.clear();
  ExpectInvalidArgument(SignWithHeader(request, ExampleCredentials(), ExampleOptions()),
                        "SigV4: the request has no Host header");
  ExpectInvalidArgument(SignWithQuery(request, ExampleCredentials(), ExampleOptions()),
                        "SigV4: the request has no Host header");
}

TEST(SigV4Test, RefusesARequestSignedAlready) {
  SigV4Request request = ExampleRequest();
  request.headers.push_back({"X-Amz-Date", "20150830T123600Z"});
  ExpectInvalidArgument(SignWithHeader(request, ExampleCredentials(), ExampleOptions()),
                        "SigV4: the request already has a X-Amz-Date header");
  request = ExampleRequest();
  request.query = "X-Amz-Signature=abc";
  ExpectInvalidArgument(SignWithQuery(request, ExampleCredentials(), ExampleOptions()),
                        "SigV4: the query already has a X-Amz-Signature parameter");
}

TEST(SigV4Test, RequiresCredentialsRegionAndService) {
  AwsCredentials credentials = ExampleCredentials();
  credentials.access_key_id.clear();
  ExpectInvalidArgument(SignWithHeader(ExampleRequest(), credentials, ExampleOptions()),
                        "SigV4: the credentials have no access key id");
  credentials = ExampleCredentials();
  credentials.secret_access_key.clear();
  ExpectInvalidArgument(SignWithHeader(ExampleRequest(), credentials, ExampleOptions()),
                        "SigV4: the credentials have no secret access key");
  SigV4Options options = ExampleOptions();
  options.region.clear();
  ExpectInvalidArgument(SignWithHeader(ExampleRequest(), ExampleCredentials(), options),
                        "SigV4: no region");
  options = ExampleOptions();
  options.service.clear();
  ExpectInvalidArgument(SignWithHeader(ExampleRequest(), ExampleCredentials(), options),
                        "SigV4: no service");
}

TEST(SigV4Test, PresignedUrlsExpireWithinAWeek) {
  SigV4Options options = ExampleOptions();
  options.expires = absl::ZeroDuration();
  ExpectInvalidArgument(SignWithQuery(ExampleRequest(), ExampleCredentials(), options),
                        "SigV4: a presigned URL must expire after 1s to 168h, not 0");
  options.expires = absl::Hours(24 * 7) + absl::Seconds(1);
  ExpectInvalidArgument(SignWithQuery(ExampleRequest(), ExampleCredentials(), options),
                        "SigV4: a presigned URL must expire after 1s to 168h, not 168h1s");
  options.expires = absl::Hours(24 * 7);
  EXPECT_TRUE(SignWithQuery(ExampleRequest(), ExampleCredentials(), options).ok());
}

TEST(SigV4Test, SecretsStayOutOfErrors) {
  AwsCredentials credentials = ExampleCredentials();
  credentials.session_token = "SESSIONTOKEN";
  SigV4Request request = ExampleRequest();
  request.headers.push_back({"Authorization", "x"});
  const absl::StatusOr<SigV4Result> result = SignWithHeader(request, credentials, ExampleOptions());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message().find(credentials.secret_access_key), absl::string_view::npos);
  EXPECT_EQ(result.status().message().find("SESSIONTOKEN"), absl::string_view::npos);
}

TEST(AwsUriEncodeTest, EncodesAllButUnreserved) {
  EXPECT_EQ(AwsUriEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(AwsUriEncode("a b+c/d=e:f%"), "a%20b%2Bc%2Fd%3De%3Af%25");
  EXPECT_EQ(AwsUriEncode("/a b/", /*keep_slash=*/true), "/a%20b/");
  EXPECT_EQ(AwsUriEncode("\xE1\x88\xB4"), "%E1%88%B4");
}

TEST(Sha256HexTest, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace feed_ingest::msk
