#include "support/raw_calls.h"

#include <condition_variable>
#include <mutex>
#include <vector>

namespace feed_ingest::testing {
namespace {

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Dump(&slices).ok()) {
    for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

}  // namespace

grpc::Status RawUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                      const std::string& request, std::string* reply, absl::Duration deadline) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  grpc::ByteBuffer in = ToBuffer(request), out;
  grpc::Status done;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  generic.UnaryCall(&ctx, method, {}, &in, &out, [&](grpc::Status st) {
    std::lock_guard<std::mutex> lock(mu);
    done = st;
    finished = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  reply->clear();
  if (done.ok()) *reply = FromBuffer(out);
  return done;
}

RawStream::RawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     absl::Duration deadline)
    : stub_(channel) {
  context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  call_ = stub_.PrepareCall(&context_, method, &cq_);
  call_->StartCall(this);
  started_ = Await(this);
}

RawStream::~RawStream() {
  context_.TryCancel();
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool RawStream::Await(void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!cq_.Next(&got, &ok)) return false;
  return got == tag && ok;
}

bool RawStream::Write(const std::string& bytes) {
  if (!started_) return false;
  grpc::ByteBuffer buffer = ToBuffer(bytes);
  call_->Write(buffer, this);
  return Await(this);
}

bool RawStream::Read(std::string* bytes) {
  if (!started_) return false;
  grpc::ByteBuffer buffer;
  call_->Read(&buffer, this);
  if (!Await(this)) return false;
  *bytes = FromBuffer(buffer);
  return true;
}

void RawStream::WritesDone() {
  if (!started_) return;
  call_->WritesDone(this);
  Await(this);
}

grpc::Status RawStream::Finish() {
  grpc::Status status;
  call_->Finish(&status, this);
  Await(this);
  return status;
}

}  // namespace feed_ingest::testing
