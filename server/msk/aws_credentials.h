// AwsCredentials and AwsCredentialsProvider: what signs a request, and where
// it comes from.
//
// The providers live in credential_providers.h (one per source: environment,
// shared credentials file, web identity, container, EC2 instance metadata) and
// are put in order, cached and refreshed by DefaultCredentialsChain in
// credentials_chain.h.
#ifndef FEED_INGEST_SERVER_MSK_AWS_CREDENTIALS_H_
#define FEED_INGEST_SERVER_MSK_AWS_CREDENTIALS_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace feed_ingest::msk {

// An AWS access key pair, with the session token of temporary credentials.
// The secret key and the session token are secrets: never log them and never
// put them into a status message.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;             // Empty for long-term keys.
  std::optional<absl::Time> expiration;  // nullopt: does not expire.
};

// Where credentials come from.
//
//   absl::StatusOr<AwsCredentials> credentials = provider.Get();
//   if (!credentials.ok()) return credentials.status();
//
// Get() is NOT_FOUND when the source is not configured here (the chain then
// asks the next one); any other error means the source is configured but
// failing. Implementations are thread-safe: Get() may be called from any
// thread.
class AwsCredentialsProvider {
 public:
  virtual ~AwsCredentialsProvider() = default;
  virtual absl::StatusOr<AwsCredentials> Get() = 0;
};

// Always the same credentials: for a flag-given key pair, and for tests.
// Thread-safe.
class StaticCredentialsProvider final : public AwsCredentialsProvider {
 public:
  explicit StaticCredentialsProvider(AwsCredentials credentials)
      : credentials_(std::move(credentials)) {}

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override { return credentials_; }

 private:
  const AwsCredentials credentials_;
};

// Reads one environment variable: nullopt when it is unset. Injected so tests
// never touch the process environment. Must be thread-safe.
using EnvironmentReader = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvironmentReader ProcessEnvironment();

// An environment given as `NAME=value` strings, null-terminated (main's
// envp). The array must outlive the reader. A name given twice: the last wins.
EnvironmentReader EnvironmentOf(char** envp);

}  // namespace feed_ingest::msk

#endif  // FEED_INGEST_SERVER_MSK_AWS_CREDENTIALS_H_
