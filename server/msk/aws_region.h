// AWS region names and the DNS suffix of the partition each belongs to.
#ifndef FEED_INGEST_SERVER_MSK_AWS_REGION_H_
#define FEED_INGEST_SERVER_MSK_AWS_REGION_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "msk/aws_credentials.h"

namespace feed_ingest::msk {

// Lowercase letters, digits and dashes, starting with a letter, at most 64
// characters: "us-east-1", "cn-north-1", "us-gov-west-1". A cheap check that
// keeps a typo (or a URL) out of a host name. Thread-safe.
bool IsAwsRegionName(absl::string_view region);

// The DNS suffix of the region's partition, as botocore's endpoints.json
// gives it: "amazonaws.com.cn" for cn-*, "c2s.ic.gov" for us-iso-*,
// "sc2s.sgov.gov" for us-isob-*, "amazonaws.com" for everything else
// (aws and aws-us-gov).
//
//   absl::StrCat("kafka.", region, ".", AwsDnsSuffix(region))
//
// Thread-safe.
absl::string_view AwsDnsSuffix(absl::string_view region);

// The region the AWS SDKs take from the environment: AWS_REGION, else
// AWS_DEFAULT_REGION; an empty value counts as unset. Thread-safe when `env`
// is.
std::optional<std::string> AwsRegionFromEnvironment(const EnvironmentReader& env);

}  // namespace feed_ingest::msk

#endif  // FEED_INGEST_SERVER_MSK_AWS_REGION_H_
