// CallServices: what a call (unary_call.h, stream_call.h) needs from the
// server, handed to it at birth instead of reaching into the service; and
// the translations between gRPC and the path's own words.
//
//   CallServices services{&async_service, &path, &tracker, &clock, &budget, &metrics, 256};
//   UnaryCall::Await(services, cq);
//
// Everything pointed to outlives every call.
#ifndef FEED_INGEST_SERVER_CALL_SERVICES_H_
#define FEED_INGEST_SERVER_CALL_SERVICES_H_

#include "absl/status/status.h"
#include "call_tracker.h"
#include "common/clock.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "ingest_path.h"
#include "memory_budget.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest {

// The generated InteractionIngest service, with its requests taken as raw
// bytes: the calls parse them themselves (ParseRequest), as
// wire/ingest_wire.proto reads them, so one bad string fails one item and not
// the call, and a message that is no IngestRequest at all gets an answer
// instead of gRPC's INTERNAL. Answers stay typed.
class RawIngestService final : public ::feed::interactions::v1::InteractionIngest::AsyncService {
 public:
  using IngestResponse = ::feed::interactions::v1::IngestResponse;

  void RequestRawIngest(grpc::ServerContext* context, grpc::ByteBuffer* request,
                        grpc::ServerAsyncResponseWriter<IngestResponse>* response,
                        grpc::ServerCompletionQueue* cq, void* tag) {
    RequestAsyncUnary(kIngestMethod, context, request, response, cq, cq, tag);
  }
  void RequestRawStream(grpc::ServerContext* context,
                        grpc::ServerAsyncReaderWriter<IngestResponse, grpc::ByteBuffer>* stream,
                        grpc::ServerCompletionQueue* cq, void* tag) {
    RequestAsyncBidiStreaming(kStreamMethod, context, stream, cq, cq, tag);
  }

 private:
  // The methods' positions in the service, as interactions.proto lists them.
  static constexpr int kIngestMethod = 0;
  static constexpr int kStreamMethod = 1;
};

struct CallServices {
  RawIngestService* grpc_service;
  const IngestPath* path;
  CallTracker* tracker;
  const Clock* clock;
  // Answers waiting for a stream's reader are charged here, and a stream is
  // not read while it has no room.
  MemoryBudget* budget;
  IngestMetrics* metrics;  // feed_ingest_stage_seconds, when answers are written.
  // Requests of one stream read and not yet answered; past it the stream is
  // not read until an answer goes out.
  int stream_window = 256;
  // Quotas are on: callers are told apart by certificate and address too.
  bool identify_callers = false;
};

// Who is calling, from the call's metadata. Views into `context`, which
// must outlive the Caller. `identify`: also the client certificate's common
// name and the peer's address (for quotas).
Caller CallerOf(const grpc::ServerContext& context, bool identify);

// "ipv4:10.0.0.7:51234" or "ipv6:[::1]:51234", as grpc::ServerContext::peer()
// says it: the address without the port.
std::string PeerAddress(absl::string_view peer);

// The call's deadline (gRPC's, on the system clock) on `clock`'s timeline.
Deadline DeadlineOf(const grpc::ServerContext& context, const Clock& clock);

// Parses one request from the bytes the client sent, into `out` (normally
// in a batch's arena), and frees the bytes. INVALID_ARGUMENT when they are
// not an IngestRequest message.
absl::Status ParseRequest(grpc::ByteBuffer* bytes, wire::IngestRequest* out);

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// A refusal that says when to come back, in the two ways gRPC clients read:
// a google.rpc.RetryInfo in the status details (grpc-status-details-bin),
// and the grpc-retry-pushback-ms trailer that gRPC's retry policy obeys.
grpc::Status PushbackStatus(const absl::Status& s, absl::Duration delay,
                            grpc::ServerContext* context);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_CALL_SERVICES_H_
