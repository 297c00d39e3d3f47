// CallServices: what a call (unary_call.h, stream_call.h) needs from the
// server, handed to it at birth instead of reaching into the service; and
// the translations between gRPC and the path's own words.
//
//   CallServices services{&async_service, &path, &tracker, &clock, 256};
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
#include "ingest_path.h"

namespace feed_ingest {

struct CallServices {
  ::feed::interactions::v1::InteractionIngest::AsyncService* grpc_service;
  const IngestPath* path;
  CallTracker* tracker;
  const Clock* clock;
  // Requests of one stream read and not yet answered; past it the stream is
  // not read until an answer goes out.
  int stream_window = 256;
};

// Who is calling, from the call's metadata. Views into `context`, which
// must outlive the Caller.
Caller CallerOf(const grpc::ServerContext& context);

// The call's deadline (gRPC's, on the system clock) on `clock`'s timeline.
Deadline DeadlineOf(const grpc::ServerContext& context, const Clock& clock);

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_CALL_SERVICES_H_
