#include "ingest_service.h"

#include "cq_event.h"
#include "stream_call.h"
#include "unary_call.h"

namespace feed_ingest {

IngestService::IngestService(const IngestPath* path, CallTracker* tracker, const Clock* clock,
                             MemoryBudget* budget, IngestMetrics* metrics, ServiceOptions options)
    : options_(options), call_services_{&service_,
                                        path,
                                        tracker,
                                        clock,
                                        budget,
                                        metrics,
                                        options.stream_window,
                                        options.identify_callers} {}

IngestService::~IngestService() { Stop(); }

void IngestService::RegisterWith(grpc::ServerBuilder* builder) {
  builder->RegisterService(&service_);
  for (int i = 0; i < options_.completion_queues; ++i) {
    cqs_.push_back(builder->AddCompletionQueue());
  }
}

void IngestService::Start() {
  for (auto& cq : cqs_) {
    for (int i = 0; i < options_.unary_accept_slots; ++i)
      UnaryCall::Await(call_services_, cq.get());
    for (int i = 0; i < 4; ++i) StreamCall::Await(call_services_, cq.get());
  }
  for (auto& cq : cqs_) {
    workers_.emplace_back([q = cq.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) static_cast<CqEvent*>(tag)->OnComplete(ok);
    });
  }
}

void IngestService::Stop() {
  // Only after grpc::Server::Shutdown(): no new events can then be queued,
  // and Next() returns false once each queue is drained.
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& worker : workers_) worker.join();
  if (workers_.empty()) {  // Never started: drain here, as gRPC requires.
    for (auto& cq : cqs_) {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
      }
    }
  }
  workers_.clear();
  cqs_.clear();
}

}  // namespace feed_ingest
