#include "msk/aws_region.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace feed_ingest::msk {

bool IsAwsRegionName(absl::string_view region) {
  if (region.empty() || region.size() > 64 || !absl::ascii_islower(region[0])) return false;
  for (char c : region) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') return false;
  }
  return true;
}

absl::string_view AwsDnsSuffix(absl::string_view region) {
  if (absl::StartsWith(region, "cn-")) return "amazonaws.com.cn";
  if (absl::StartsWith(region, "us-isob-")) return "sc2s.sgov.gov";
  if (absl::StartsWith(region, "us-iso-")) return "c2s.ic.gov";
  return "amazonaws.com";
}

std::optional<std::string> AwsRegionFromEnvironment(const EnvironmentReader& env) {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::optional<std::string> region = env(name);
    if (region.has_value() && !region->empty()) return region;
  }
  return std::nullopt;
}

}  // namespace feed_ingest::msk
