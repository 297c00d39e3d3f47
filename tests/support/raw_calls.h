// gRPC calls with raw bytes: for what a generated stub would not send
// (invalid UTF-8 in a string field, bytes that are no message at all) and
// for services whose protos this build does not generate (health).
//
//   std::string reply;
//   grpc::Status s = RawUnary(channel, "/grpc.health.v1.Health/Check", "", &reply);
//
//   RawStream stream(channel, "/feed.interactions.v1.InteractionIngest/Stream");
//   stream.Write(bytes);
//   stream.WritesDone();
//   while (stream.Read(&reply)) ...
//   grpc::Status end = stream.Finish();
//
// Not thread-safe: one thread drives a RawStream.
#ifndef FEED_INGEST_TESTS_SUPPORT_RAW_CALLS_H_
#define FEED_INGEST_TESTS_SUPPORT_RAW_CALLS_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace feed_ingest::testing {

grpc::Status RawUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                      const std::string& request, std::string* reply,
                      absl::Duration deadline = absl::Seconds(10));

class RawStream {
 public:
  RawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
            absl::Duration deadline = absl::Seconds(30));
  ~RawStream();
  RawStream(const RawStream&) = delete;
  RawStream& operator=(const RawStream&) = delete;

  bool Write(const std::string& bytes);
  bool Read(std::string* bytes);
  void WritesDone();
  grpc::Status Finish();
  grpc::ClientContext& context() { return context_; }

 private:
  bool Await(void* tag);

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_RAW_CALLS_H_
