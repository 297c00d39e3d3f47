#include "msk/credentials_chain.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace feed_ingest::msk {
CachingCredentialsProvider::CachingCredentialsProvider(
    std::unique_ptr<AwsCredentialsProvider> source, const Clock* clock,
    absl::Duration refresh_before)
    : source_(std::move(source)),
      clock_(clock != nullptr ? clock : &Clock::Real()),
      refresh_before_(refresh_before) {}

absl::StatusOr<AwsCredentials> CachingCredentialsProvider::Get() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (cached_.has_value() &&
      (!cached_->expiration.has_value() || now < *cached_->expiration - refresh_before_)) {
    return *cached_;
  }
  absl::StatusOr<AwsCredentials> fresh = source_->Get();
  if (fresh.ok()) {
    cached_ = *fresh;
    return fresh;
  }
  if (cached_.has_value() && cached_->expiration.has_value() && now < *cached_->expiration) {
    return *cached_;
  }
  cached_.reset();
  return fresh.status();
}

DefaultCredentialsChain::DefaultCredentialsChain(CredentialsChainOptions options) {
  const CredentialSourceOptions& sources = options.sources;
  auto cached = [&](std::unique_ptr<AwsCredentialsProvider> source) {
    return std::make_unique<CachingCredentialsProvider>(std::move(source), sources.clock,
                                                        options.refresh_before);
  };
  providers_.push_back(std::make_unique<EnvironmentCredentialsProvider>(sources));
  providers_.push_back(cached(std::make_unique<WebIdentityCredentialsProvider>(sources)));
  providers_.push_back(std::make_unique<ProfileCredentialsProvider>(sources));
  providers_.push_back(cached(std::make_unique<ContainerCredentialsProvider>(sources)));
  providers_.push_back(cached(std::make_unique<InstanceMetadataCredentialsProvider>(sources)));
}

absl::StatusOr<AwsCredentials> DefaultCredentialsChain::Get() {
  std::vector<std::string> not_found;
  for (const std::unique_ptr<AwsCredentialsProvider>& provider : providers_) {
    absl::StatusOr<AwsCredentials> credentials = provider->Get();
    if (!absl::IsNotFound(credentials.status())) return credentials;
    not_found.emplace_back(credentials.status().message());
  }
  return absl::NotFoundError(
      absl::StrCat("no AWS credentials found: ", absl::StrJoin(not_found, "; ")));
}

}  // namespace feed_ingest::msk
