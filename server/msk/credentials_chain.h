// DefaultCredentialsChain: AWS credentials from wherever this process finds
// them, in the AWS SDKs' order, cached and refreshed before they expire.
//
// Order: environment, web identity (EKS IRSA), shared credentials file,
// container (ECS, EKS Pod Identity), EC2 instance metadata (IMDSv2). The first
// source that is configured wins; if it fails, Get() fails with its error and
// does not fall through to a source the operator did not choose. When none is
// configured, Get() is NOT_FOUND and the message says what each source lacked.
#ifndef FEED_INGEST_SERVER_MSK_CREDENTIALS_CHAIN_H_
#define FEED_INGEST_SERVER_MSK_CREDENTIALS_CHAIN_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "msk/aws_credentials.h"
#include "msk/credential_providers.h"

namespace feed_ingest::msk {

// Keeps the last credentials from `source` until `refresh_before` ahead of
// their expiration, then fetches new ones. Credentials without an expiration
// are kept for good. If the refresh fails while the kept credentials have not
// expired yet, those are returned (the source is asked again on the next
// call), so a metadata hiccup does not interrupt Kafka.
//
//   CachingCredentialsProvider cached(
//       std::make_unique<InstanceMetadataCredentialsProvider>(options), &clock);
//   absl::StatusOr<AwsCredentials> credentials = cached.Get();
//
// Thread-safe. Get() holds a mutex while it fetches, so concurrent callers
// wait for one fetch instead of each starting their own.
class CachingCredentialsProvider final : public AwsCredentialsProvider {
 public:
  CachingCredentialsProvider(std::unique_ptr<AwsCredentialsProvider> source,
                             const Clock* clock = nullptr,
                             absl::Duration refresh_before = absl::Minutes(5));

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  const std::unique_ptr<AwsCredentialsProvider> source_;
  const Clock* const clock_;
  const absl::Duration refresh_before_;
  absl::Mutex mu_;
  std::optional<AwsCredentials> cached_ ABSL_GUARDED_BY(mu_);
};

struct CredentialsChainOptions {
  CredentialSourceOptions sources;
  // Refresh temporary credentials this long before they expire (the AWS SDKs
  // use 5 to 15 minutes; IMDS rotates role credentials well before that).
  absl::Duration refresh_before = absl::Minutes(5);
};

// The default chain (see the top of this file).
//
//   auto chain = std::make_shared<DefaultCredentialsChain>();
//   absl::StatusOr<AwsCredentials> credentials = chain->Get();
//   if (!credentials.ok()) LOG(ERROR) << credentials.status();  // No secrets inside.
//
// Environment and file are read on every Get() (cheap, and rotated keys are
// picked up); web identity, container and instance metadata answers are
// cached by a CachingCredentialsProvider each. Thread-safe.
class DefaultCredentialsChain final : public AwsCredentialsProvider {
 public:
  explicit DefaultCredentialsChain(CredentialsChainOptions options = {});

  // AwsCredentialsProvider
  absl::StatusOr<AwsCredentials> Get() override;

 private:
  std::vector<std::unique_ptr<AwsCredentialsProvider>> providers_;  // In order.
};

}  // namespace feed_ingest::msk

#endif  // FEED_INGEST_SERVER_MSK_CREDENTIALS_CHAIN_H_
