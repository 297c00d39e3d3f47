#include "call_services.h"

#include <chrono>

#include "absl/strings/match.h"

namespace feed_ingest {

Caller CallerOf(const grpc::ServerContext& context) {
  Caller caller;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kBearer = "Bearer ";
    if (value.size() > kBearer.size() &&
        absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      caller.bearer_token = value.substr(kBearer.size());
    }
  }
  return caller;
}

Deadline DeadlineOf(const grpc::ServerContext& context, const Clock& clock) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return Deadline::Never();
  return Deadline::After(clock, absl::FromChrono(deadline - std::chrono::system_clock::now()));
}

}  // namespace feed_ingest
