#include "call_services.h"

#include <chrono>

#include "absl/strings/match.h"
#include "grpcpp/support/proto_buffer_reader.h"

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

absl::Status ParseRequest(grpc::ByteBuffer* bytes, wire::IngestRequest* out) {
  bool parsed = false;
  {
    grpc::ProtoBufferReader reader(bytes);
    parsed = reader.status().ok() && out->ParseFromZeroCopyStream(&reader);
  }
  bytes->Clear();
  if (!parsed) {
    return absl::InvalidArgumentError(
        "the message is not a feed.interactions.v1.IngestRequest (protobuf could not parse it)");
  }
  return absl::OkStatus();
}

Deadline DeadlineOf(const grpc::ServerContext& context, const Clock& clock) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return Deadline::Never();
  return Deadline::After(clock, absl::FromChrono(deadline - std::chrono::system_clock::now()));
}

}  // namespace feed_ingest
