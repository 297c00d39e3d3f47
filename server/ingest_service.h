// IngestService: the completion queues of the InteractionIngest service and
// the worker threads that serve them, one thread per queue. The calls
// themselves are UnaryCall and StreamCall; what they need from the server
// they get as CallServices.
//
//   IngestService service(&path, &tracker, &clock, &budget, &metrics, {.completion_queues = 2});
//   grpc::ServerBuilder builder;
//   service.RegisterWith(&builder);
//   auto server = builder.BuildAndStart();
//   service.Start();                       // calls posted, workers running
//   ...
//   tracker.BeginDrain();                  // new calls: UNAVAILABLE
//   tracker.WaitIdle(deadline);            // calls in flight finish
//   server->Shutdown(deadline);            // then the server,
//   service.Stop();                        // then the queues, drained.
//
// Thread rules: one controlling thread, in the order above. Everything a
// call does runs on its own queue's worker.
#ifndef FEED_INGEST_SERVER_INGEST_SERVICE_H_
#define FEED_INGEST_SERVER_INGEST_SERVICE_H_

#include <memory>
#include <thread>
#include <vector>

#include "call_services.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/server_builder.h"

namespace feed_ingest {

struct ServiceOptions {
  int completion_queues = 2;
  // Requests of one stream read and not yet answered, at most.
  int stream_window = 256;
  // Ingest calls each queue is ready to accept at once.
  int unary_accept_slots = 64;
  // Quotas are on: callers are told apart by certificate and address too.
  bool identify_callers = false;
};

class IngestService {
 public:
  // Everything pointed to must outlive the service.
  IngestService(const IngestPath* path, CallTracker* tracker, const Clock* clock,
                MemoryBudget* budget, IngestMetrics* metrics, ServiceOptions options);
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  void RegisterWith(grpc::ServerBuilder* builder);
  void Start();
  // Only after grpc::Server::Shutdown(): shuts the queues down and drains them.
  void Stop();

 private:
  const ServiceOptions options_;
  RawIngestService service_;
  CallServices call_services_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> workers_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_SERVICE_H_
