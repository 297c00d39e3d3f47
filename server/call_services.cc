#include "call_services.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace feed_ingest {

std::string PeerAddress(absl::string_view peer) {
  if (!absl::ConsumePrefix(&peer, "ipv4:")) absl::ConsumePrefix(&peer, "ipv6:");
  if (absl::ConsumePrefix(&peer, "[")) {
    const size_t close = peer.find(']');
    return std::string(close == absl::string_view::npos ? peer : peer.substr(0, close));
  }
  if (const size_t colon = peer.rfind(':'); colon != absl::string_view::npos) {
    peer = peer.substr(0, colon);
  }
  return std::string(peer);
}

grpc::Status PushbackStatus(const absl::Status& s, absl::Duration delay,
                            grpc::ServerContext* context) {
  const int64_t ms = absl::ToInt64Milliseconds(delay);
  context->AddTrailingMetadata("grpc-retry-pushback-ms", absl::StrCat(ms));
  google::rpc::RetryInfo info;
  info.mutable_retry_delay()->set_seconds(ms / 1000);
  info.mutable_retry_delay()->set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(s.code()));
  details.set_message(std::string(s.message()));
  details.add_details()->PackFrom(info);
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                      details.SerializeAsString());
}

Caller CallerOf(const grpc::ServerContext& context, bool identify) {
  Caller caller;
  if (identify) {
    caller.peer_address = PeerAddress(context.peer());
    if (const auto auth = context.auth_context(); auth != nullptr && auth->IsPeerAuthenticated()) {
      const auto names = auth->FindPropertyValues("x509_common_name");
      if (!names.empty()) caller.certificate_name.assign(names[0].data(), names[0].size());
    }
  }
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
