// The default chain: environment beats file beats container beats instance
// metadata; a configured source that fails stops the chain; nothing
// configured says what each source lacked; temporary credentials are cached
// and refreshed 5 minutes before they expire (rotation, failed refreshes),
// all against fakes on 127.0.0.1 and a fake clock.
#include "msk/credentials_chain.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fake_aws_endpoints.h"
#include "fake_http_server.h"
#include "gtest/gtest.h"
#include "test_environment.h"

namespace feed_ingest::msk {
namespace {

using testing::CredentialsJson;
using testing::FakeClock;
using testing::FakeHttpRequest;
using testing::FakeHttpResponse;
using testing::FakeHttpServer;
using testing::FakeInstanceMetadata;
using testing::MapEnvironment;
using testing::RefusingPort;
using testing::TempDir;

absl::Time Start() { return absl::FromUnixSeconds(1440938160); }  // 2015-08-30T12:36:00Z

AwsCredentials Temporary(const std::string& key_id, absl::Time expiration) {
  return AwsCredentials{key_id, "secret-of-" + key_id, "token-of-" + key_id, expiration};
}

void ExpectKeyId(const absl::StatusOr<AwsCredentials>& got, const std::string& key_id) {
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, key_id);
}

void ExpectError(const absl::StatusOr<AwsCredentials>& got, absl::StatusCode code,
                 const std::string& message) {
  ASSERT_FALSE(got.ok()) << "expected: " << message;
  EXPECT_EQ(got.status().code(), code) << got.status();
  EXPECT_EQ(std::string(got.status().message()), message);
}

// Every source configured and answering with its own access key id.
class ChainTest : public ::testing::Test {
 protected:
  ChainTest()
      : clock_(Start()), container_([this](const FakeHttpRequest&) {
          absl::MutexLock lock(&mu_);
          return FakeHttpResponse{
              container_status_,
              CredentialsJson(Temporary("AKIDCONTAINER", Start() + absl::Hours(6))),
              absl::ZeroDuration()};
        }) {
    home_.Write(".aws/credentials",
                "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n");
    imds_.SetCredentials(Temporary("AKIDIMDS", Start() + absl::Hours(1)));
    env_ = {{"AWS_ACCESS_KEY_ID", "AKIDENV"},
            {"AWS_SECRET_ACCESS_KEY", "s"},
            {"HOME", home_.path()},
            {"AWS_CONTAINER_CREDENTIALS_FULL_URI", container_.url() + "/creds"},
            {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.url()}};
  }

  std::unique_ptr<DefaultCredentialsChain> Chain() const {
    CredentialsChainOptions options;
    options.sources.env = MapEnvironment(env_);
    options.sources.clock = &clock_;
    options.sources.metadata_connect_timeout = absl::Milliseconds(300);
    options.sources.metadata_timeout = absl::Milliseconds(300);
    return std::make_unique<DefaultCredentialsChain>(options);
  }

  void SetContainerStatus(int status) {
    absl::MutexLock lock(&mu_);
    container_status_ = status;
  }

  absl::Mutex mu_;
  int container_status_ ABSL_GUARDED_BY(mu_) = 200;
  FakeClock clock_;
  TempDir home_;
  FakeInstanceMetadata imds_;
  FakeHttpServer container_;
  std::map<std::string, std::string> env_;
};

TEST_F(ChainTest, EnvironmentBeatsFileBeatsContainerBeatsInstanceMetadata) {
  ExpectKeyId(Chain()->Get(), "AKIDENV");

  env_.erase("AWS_ACCESS_KEY_ID");
  env_.erase("AWS_SECRET_ACCESS_KEY");
  ExpectKeyId(Chain()->Get(), "AKIDFILE");

  env_["HOME"] = home_.path() + "/elsewhere";
  EXPECT_TRUE(container_.requests().empty());
  ExpectKeyId(Chain()->Get(), "AKIDCONTAINER");
  EXPECT_EQ(container_.requests().size(), 1u);

  env_.erase("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  EXPECT_TRUE(imds_.requests().empty());
  ExpectKeyId(Chain()->Get(), "AKIDIMDS");
  EXPECT_EQ(imds_.credential_answers(), 1);
}

TEST_F(ChainTest, NothingConfiguredSaysWhatEachSourceLacked) {
  RefusingPort no_imds;
  env_ = {{"HOME", home_.path() + "/elsewhere"},
          {"AWS_EC2_METADATA_SERVICE_ENDPOINT", no_imds.url()}};
  ExpectError(Chain()->Get(), absl::StatusCode::kNotFound,
              absl::StrCat("no AWS credentials found: environment: AWS_ACCESS_KEY_ID is not set; "
                           "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is not set; shared "
                           "credentials file: ",
                           home_.path(),
                           "/elsewhere/.aws/credentials does not exist; container credentials: "
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set; EC2 instance "
                           "metadata: PUT ",
                           no_imds.url(), "/latest/api/token: could not connect"));
}

TEST_F(ChainTest, SlowInstanceMetadataEndsTheChainWithATimeout) {
  env_ = {{"HOME", home_.path() + "/elsewhere"},
          {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.url()}};
  imds_.SetTokenDelay(absl::Seconds(5));
  const absl::Time start = absl::Now();
  const absl::StatusOr<AwsCredentials> got = Chain()->Get();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::EndsWith(got.status().message(),
                             absl::StrCat("; EC2 instance metadata: PUT ", imds_.url(),
                                          "/latest/api/token: timed out after 300 ms")))
      << got.status();
}

TEST_F(ChainTest, AConfiguredSourceThatFailsStopsTheChain) {
  env_.erase("AWS_ACCESS_KEY_ID");
  env_.erase("AWS_SECRET_ACCESS_KEY");
  env_["HOME"] = home_.path() + "/elsewhere";
  SetContainerStatus(500);
  ExpectError(
      Chain()->Get(), absl::StatusCode::kUnavailable,
      absl::StrCat("container credentials: GET ", container_.url(), "/creds returned HTTP 500"));
  EXPECT_TRUE(imds_.requests().empty());
}

TEST_F(ChainTest, InstanceMetadataCachedThenRefreshedFiveMinutesBeforeExpiry) {
  env_ = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.url()}, {"HOME", home_.path() + "/x"}};
  const std::unique_ptr<DefaultCredentialsChain> chain = Chain();
  ExpectKeyId(chain->Get(), "AKIDIMDS");
  EXPECT_EQ(imds_.credential_answers(), 1);

  // EC2 rotates the role's credentials; ours stay good for a while yet.
  imds_.SetCredentials(Temporary("AKIDIMDS2", Start() + absl::Hours(7)));
  clock_.Advance(absl::Minutes(30));
  ExpectKeyId(chain->Get(), "AKIDIMDS");
  clock_.Set(Start() + absl::Minutes(55) - absl::Seconds(1));
  ExpectKeyId(chain->Get(), "AKIDIMDS");
  EXPECT_EQ(imds_.credential_answers(), 1);

  clock_.Set(Start() + absl::Minutes(55));
  const absl::StatusOr<AwsCredentials> rotated = chain->Get();
  ExpectKeyId(rotated, "AKIDIMDS2");
  EXPECT_EQ(rotated->secret_access_key, "secret-of-AKIDIMDS2");
  EXPECT_EQ(rotated->session_token, "token-of-AKIDIMDS2");
  EXPECT_EQ(rotated->expiration, Start() + absl::Hours(7));
  EXPECT_EQ(imds_.credential_answers(), 2);
  ExpectKeyId(chain->Get(), "AKIDIMDS2");
  EXPECT_EQ(imds_.credential_answers(), 2);
}

TEST_F(ChainTest, FailedRefreshKeepsCredentialsUntilTheyExpire) {
  env_ = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.url()}, {"HOME", home_.path() + "/x"}};
  const std::unique_ptr<DefaultCredentialsChain> chain = Chain();
  ExpectKeyId(chain->Get(), "AKIDIMDS");

  imds_.SetCredentialsStatus(500);
  clock_.Set(Start() + absl::Minutes(56));
  ExpectKeyId(chain->Get(), "AKIDIMDS");  // Refresh failed; still valid for 4 minutes.

  clock_.Set(Start() + absl::Hours(1));
  ExpectError(chain->Get(), absl::StatusCode::kUnavailable,
              absl::StrCat("EC2 instance metadata: GET ", imds_.url(),
                           "/latest/meta-data/iam/security-credentials/feed-rec-producer "
                           "returned HTTP 500"));

  imds_.SetCredentialsStatus(200);
  ExpectKeyId(chain->Get(), "AKIDIMDS");
}

TEST_F(ChainTest, ContainerCredentialsAreCachedToo) {
  env_.erase("AWS_ACCESS_KEY_ID");
  env_.erase("AWS_SECRET_ACCESS_KEY");
  env_["HOME"] = home_.path() + "/elsewhere";
  const std::unique_ptr<DefaultCredentialsChain> chain = Chain();
  ExpectKeyId(chain->Get(), "AKIDCONTAINER");
  clock_.Advance(absl::Hours(5));
  ExpectKeyId(chain->Get(), "AKIDCONTAINER");
  EXPECT_EQ(container_.requests().size(), 1u);
  clock_.Advance(absl::Minutes(56));
  ExpectKeyId(chain->Get(), "AKIDCONTAINER");
  EXPECT_EQ(container_.requests().size(), 2u);
}

// --- CachingCredentialsProvider on its own -------------------------------------

// Counts fetches; each takes a little while, as a network fetch does.
class CountingProvider final : public AwsCredentialsProvider {
 public:
  explicit CountingProvider(std::optional<absl::Time> expiration) : expiration_(expiration) {}

  absl::StatusOr<AwsCredentials> Get() override {
    const int n = ++fetches_;
    absl::SleepFor(absl::Milliseconds(50));
    if (fail_) return absl::UnavailableError("source: down");
    return AwsCredentials{absl::StrCat("AKID", n), "s", "", expiration_};
  }

  std::atomic<int> fetches_{0};
  std::atomic<bool> fail_{false};

 private:
  const std::optional<absl::Time> expiration_;
};

TEST(CachingCredentialsProviderTest, ConcurrentCallersShareOneFetch) {
  FakeClock clock(Start());
  auto source = std::make_unique<CountingProvider>(Start() + absl::Hours(1));
  CountingProvider* counting = source.get();
  CachingCredentialsProvider cached(std::move(source), &clock);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<AwsCredentials> got = cached.Get();
      if (got.ok() && got->access_key_id == "AKID1") ++ok;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(counting->fetches_.load(), 1);
}

TEST(CachingCredentialsProviderTest, CredentialsWithoutExpiryAreKept) {
  FakeClock clock(Start());
  auto source = std::make_unique<CountingProvider>(std::nullopt);
  CountingProvider* counting = source.get();
  CachingCredentialsProvider cached(std::move(source), &clock);
  ExpectKeyId(cached.Get(), "AKID1");
  clock.Advance(absl::Hours(24 * 365));
  ExpectKeyId(cached.Get(), "AKID1");
  EXPECT_EQ(counting->fetches_.load(), 1);
}

TEST(CachingCredentialsProviderTest, ErrorsPassThroughWhenNothingValidIsKept) {
  FakeClock clock(Start());
  auto source = std::make_unique<CountingProvider>(Start() + absl::Minutes(10));
  CountingProvider* counting = source.get();
  CachingCredentialsProvider cached(std::move(source), &clock, absl::Minutes(5));
  counting->fail_ = true;
  ExpectError(cached.Get(), absl::StatusCode::kUnavailable, "source: down");
  counting->fail_ = false;
  ExpectKeyId(cached.Get(), "AKID2");
  clock.Advance(absl::Minutes(5));  // Inside the refresh window.
  ExpectKeyId(cached.Get(), "AKID3");
  EXPECT_EQ(counting->fetches_.load(), 3);
}

}  // namespace
}  // namespace feed_ingest::msk
