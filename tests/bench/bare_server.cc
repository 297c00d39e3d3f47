// The gRPC-side limit: a server on the same contract, built the same way
// (asynchronous completion queues, one worker thread each), whose handlers
// answer at once, every item accepted, without validation or Kafka.
// Logs `grpc_listen=HOST:PORT` on stderr; stops on SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/flag_set.h"
#include "cq_event.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"

extern char** environ;

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using Service = ::feed::interactions::v1::InteractionIngest::AsyncService;

// A tag that calls a member of its owner: the bare minimum of a call object.
template <typename Owner>
class MemberEvent final : public CqEvent {
 public:
  using Handler = void (Owner::*)(bool ok);
  MemberEvent(Owner* owner, Handler handler) : owner_(owner), handler_(handler) {}
  void OnComplete(bool ok) override { (owner_->*handler_)(ok); }

 private:
  Owner* const owner_;
  const Handler handler_;
};

class BareUnary {
 public:
  BareUnary(Service* service, grpc::ServerCompletionQueue* cq)
      : service_(service),
        cq_(cq),
        responder_(&ctx_),
        on_request_(this, &BareUnary::OnRequest),
        on_finish_(this, &BareUnary::OnFinish) {
    service_->RequestIngest(&ctx_, &request_, &responder_, cq_, cq_, &on_request_);
  }

 private:
  void OnRequest(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    new BareUnary(service_, cq_);
    response_.set_sequence(request_.sequence());
    response_.set_accepted(static_cast<uint32_t>(request_.interactions_size()));
    responder_.Finish(response_, grpc::Status::OK, &on_finish_);
  }
  void OnFinish(bool) { delete this; }

  Service* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  IngestRequest request_;
  IngestResponse response_;
  grpc::ServerAsyncResponseWriter<IngestResponse> responder_;
  MemberEvent<BareUnary> on_request_, on_finish_;
};

// Reads, answers each request right away (one write at a time), finishes
// after the client half-closes.
class BareStream {
 public:
  BareStream(Service* service, grpc::ServerCompletionQueue* cq)
      : service_(service),
        cq_(cq),
        stream_(&ctx_),
        on_request_(this, &BareStream::OnRequest),
        on_read_(this, &BareStream::OnRead),
        on_write_(this, &BareStream::OnWrite),
        on_finish_(this, &BareStream::OnFinish) {
    service_->RequestStream(&ctx_, &stream_, cq_, cq_, &on_request_);
  }

 private:
  void OnRequest(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    new BareStream(service_, cq_);
    stream_.Read(&request_, &on_read_);
  }
  void OnRead(bool ok) {
    if (!ok) {
      read_done_ = true;
      MaybeFinish();
      return;
    }
    IngestResponse response;
    response.set_sequence(request_.sequence());
    response.set_accepted(static_cast<uint32_t>(request_.interactions_size()));
    outbox_.push_back(std::move(response));
    MaybeWrite();
    stream_.Read(&request_, &on_read_);
  }
  void MaybeWrite() {
    if (writing_ || outbox_.empty()) return;
    writing_ = true;
    stream_.Write(outbox_.front(), &on_write_);
  }
  void OnWrite(bool ok) {
    writing_ = false;
    outbox_.erase(outbox_.begin());
    if (!ok) outbox_.clear();
    MaybeWrite();
    MaybeFinish();
  }
  void MaybeFinish() {
    if (read_done_ && !writing_ && outbox_.empty() && !finishing_) {
      finishing_ = true;
      stream_.Finish(grpc::Status::OK, &on_finish_);
    }
  }
  void OnFinish(bool) { delete this; }

  Service* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncReaderWriter<IngestResponse, IngestRequest> stream_;
  IngestRequest request_;
  std::vector<IngestResponse> outbox_;
  bool writing_ = false, read_done_ = false, finishing_ = false;
  MemberEvent<BareStream> on_request_, on_read_, on_write_, on_finish_;
};

}  // namespace
}  // namespace feed_ingest

int main(int argc, char** argv) {
  using namespace feed_ingest;
  std::string listen = "127.0.0.1:0";
  int queues = 2;
  FlagSet flags("feed-ingest-bare-server", "FEED_INGEST_BARE_");
  flags.String("listen", &listen, "gRPC address");
  flags.Int("completion-queues", &queues, "completion queues, one thread each", 1, 64);
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok() || flags.help()) {
    std::fprintf(stderr, "%s\n%s", s.ToString().c_str(), flags.Usage().c_str());
    return 2;
  }
  // As feed-ingest's main() does: Debian's abseil checks lock order on
  // every absl::Mutex, gRPC's included, unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  Service service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (int i = 0; i < queues; ++i) cqs.push_back(builder.AddCompletionQueue());
  auto server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::vector<std::thread> workers;
  for (auto& cq : cqs) {
    for (int i = 0; i < 64; ++i) new BareUnary(&service, cq.get());
    for (int i = 0; i < 4; ++i) new BareStream(&service, cq.get());
    workers.emplace_back([q = cq.get()] {
      void* tag;
      bool ok;
      while (q->Next(&tag, &ok)) static_cast<CqEvent*>(tag)->OnComplete(ok);
    });
  }
  std::fprintf(stderr, "msg=serving grpc_listen=%s:%d\n",
               listen.substr(0, listen.rfind(':')).c_str(), port);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  for (auto& cq : cqs) cq->Shutdown();
  for (auto& w : workers) w.join();
  return 0;
}
