// IngestService: the asynchronous gRPC side of feed-ingest.
//
// Several completion queues, one worker thread each; every call is a small
// state machine (UnaryCall for Ingest, StreamCall for Stream) whose events
// all run on its own queue's thread, so a call's state needs no lock. No
// worker ever waits for Kafka: a call hands its batch to the KafkaSink and
// is woken on its queue when the batch has settled.
//
//   IngestService service(&pipeline, &metrics, options);
//   grpc::ServerBuilder builder;
//   service.RegisterWith(&builder);
//   auto server = builder.BuildAndStart();
//   service.Start();
//   ...
//   service.BeginDrain();                  // new calls: UNAVAILABLE
//   service.WaitIdle(deadline);            // calls in flight finish
//   server->Shutdown(deadline);            // then the server,
//   service.Stop();                        // then the queues, drained.
//
// Thread-safe: BeginDrain() and WaitIdle() from any thread; the rest from
// the controlling thread, in the order above.
#ifndef FEED_INGEST_SERVER_INGEST_SERVICE_H_
#define FEED_INGEST_SERVER_INGEST_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/server_builder.h"
#include "ingest_pipeline.h"
#include "metrics.h"
#include "token_auth.h"

namespace feed_ingest {

namespace internal {
class UnaryCall;
class StreamCall;
}  // namespace internal

struct ServiceOptions {
  int completion_queues = 2;
  // Requests of one stream read and not yet answered; past it the stream is
  // not read until an answer goes out.
  int stream_window = 256;
  // Ingest calls each queue is ready to accept at once.
  int unary_accept_slots = 64;
  // When set, every call must carry a valid bearer token. Not owned.
  const TokenAuthenticator* auth = nullptr;
};

class IngestService {
 public:
  IngestService(IngestPipeline* pipeline, IngestMetrics* metrics, ServiceOptions options);
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  void RegisterWith(grpc::ServerBuilder* builder);
  void Start();
  void BeginDrain();
  // True when no call holding work is in flight (calls refused because of the
  // drain are not waited for), false if `deadline` came first.
  bool WaitIdle(absl::Time deadline) const;
  void Stop();

  int64_t inflight_calls() const { return inflight_.load(std::memory_order_relaxed); }

 private:
  friend class internal::UnaryCall;
  friend class internal::StreamCall;

  bool draining() const { return draining_.load(std::memory_order_seq_cst); }
  bool Authenticated(const grpc::ServerContext& ctx) const;
  void CallStarted(Method method);
  // The call saw draining() and will only be answered UNAVAILABLE: WaitIdle()
  // need not wait for it (callers retrying during the drain would otherwise
  // keep the count above zero until the deadline).
  void CallRefused();
  // `start_ns` is MonotonicNanos() when the call arrived; `awaited` is false
  // after CallRefused().
  void CallEnded(Method method, int64_t start_ns, grpc::StatusCode code, bool awaited);
  // False when the service is draining (the stream must not start).
  bool RegisterStream(internal::StreamCall* call);
  void UnregisterStream(internal::StreamCall* call);

  IngestPipeline* const pipeline_;
  IngestMetrics* const metrics_;
  const ServiceOptions options_;
  ::feed::interactions::v1::InteractionIngest::AsyncService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> workers_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> inflight_{0};

  absl::Mutex streams_mu_;
  absl::flat_hash_set<internal::StreamCall*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool streams_closed_ ABSL_GUARDED_BY(streams_mu_) = false;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_SERVICE_H_
