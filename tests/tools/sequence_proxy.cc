#include "sequence_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace feed_ingest::testing {
namespace {

constexpr int16_t kProduce = 0;
constexpr int16_t kMetadata = 3;
constexpr int16_t kOutOfOrderSequence = 45;
constexpr int16_t kDuplicateSequence = 46;
constexpr int16_t kInvalidProducerEpoch = 47;
constexpr size_t kMaxFrame = 64 << 20;
constexpr size_t kRecentBatches = 5;  // What a Kafka broker remembers per producer.

// Offsets in a v2 RecordBatch (KIP-98).
constexpr size_t kBatchMagic = 16;
constexpr size_t kBatchProducerId = 43;
constexpr size_t kBatchProducerEpoch = 51;
constexpr size_t kBatchBaseSequence = 53;
constexpr size_t kBatchRecordCount = 57;
constexpr size_t kBatchHeader = 61;

// Big-endian reads over a frame; any read past the end clears ok().
class Reader {
 public:
  Reader(const std::string& data, size_t pos) : data_(data), pos_(pos) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }

  int64_t Int(size_t width) {
    if (!ok_ || data_.size() - pos_ < width || pos_ > data_.size()) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += width;
    // Sign-extend.
    const int shift = static_cast<int>(64 - 8 * width);
    return static_cast<int64_t>(v << shift) >> shift;
  }
  int16_t I16() { return static_cast<int16_t>(Int(2)); }
  int32_t I32() { return static_cast<int32_t>(Int(4)); }
  int64_t I64() { return Int(8); }
  // A nullable STRING (int16 length) or BYTES (int32 length); returns its
  // length (-1 for null) and leaves `*start` at its first byte.
  int32_t Skip(size_t length_width, size_t* start) {
    const int32_t n = static_cast<int32_t>(Int(length_width));
    *start = pos_;
    if (n > 0) {
      if (data_.size() - pos_ < static_cast<size_t>(n)) {
        ok_ = false;
        return 0;
      }
      pos_ += static_cast<size_t>(n);
    }
    return n;
  }
  std::string Str() {
    size_t start = 0;
    const int32_t n = Skip(2, &start);
    return ok_ && n > 0 ? data_.substr(start, static_cast<size_t>(n)) : std::string();
  }

 private:
  const std::string& data_;
  size_t pos_;
  bool ok_ = true;
};

void PutInt(std::string* out, int64_t v, size_t width) {
  for (size_t i = width; i-- > 0;) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutStr(std::string* out, const std::string& s) {
  PutInt(out, static_cast<int64_t>(s.size()), 2);
  out->append(s);
}
int64_t IntAt(const std::string& data, size_t pos, size_t width) {
  Reader r(data, pos);
  return r.Int(width);
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t got = recv(fd, p, n, 0);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}
// One frame without its length prefix.
bool ReadFrame(int fd, std::string* frame) {
  char size[4];
  if (!ReadAll(fd, size, 4)) return false;
  const size_t n = static_cast<size_t>(IntAt(std::string(size, 4), 0, 4));
  if (n < 4 || n > kMaxFrame) return false;
  frame->resize(n);
  return ReadAll(fd, frame->data(), n);
}
bool WriteFrame(int fd, const std::string& frame) {
  std::string out;
  out.reserve(frame.size() + 4);
  PutInt(&out, static_cast<int64_t>(frame.size()), 4);
  out.append(frame);
  const char* p = out.data();
  size_t n = out.size();
  while (n > 0) {
    const ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
    if (put <= 0) return false;
    p += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

// One partition's record batch in a ProduceRequest.
struct Batch {
  std::string topic;
  int32_t partition = 0;
  size_t entry_start = 0, entry_end = 0;  // The partition entry within the frame.
  int64_t producer_id = -1;
  int16_t epoch = 0;
  int32_t base_sequence = 0;
  int32_t count = 0;
  int32_t last_sequence() const { return base_sequence + count - 1; }
};

struct ProduceRequest {
  int16_t acks = 0;
  size_t topics_at = 0;  // Offset of the topic array's count.
  std::vector<Batch> batches;
};

bool ParseProduce(const std::string& frame, size_t body, ProduceRequest* req) {
  Reader r(frame, body);
  size_t start = 0;
  r.Skip(2, &start);  // transactional_id
  req->acks = r.I16();
  r.I32();  // timeout_ms
  req->topics_at = r.pos();
  for (int32_t t = r.I32(); r.ok() && t > 0; --t) {
    const std::string topic = r.Str();
    for (int32_t p = r.I32(); r.ok() && p > 0; --p) {
      Batch b;
      b.topic = topic;
      b.entry_start = r.pos();
      b.partition = r.I32();
      const int32_t n = r.Skip(4, &start);
      b.entry_end = r.pos();
      if (n >= static_cast<int32_t>(kBatchHeader) && IntAt(frame, start + kBatchMagic, 1) == 2) {
        b.producer_id = IntAt(frame, start + kBatchProducerId, 8);
        b.epoch = static_cast<int16_t>(IntAt(frame, start + kBatchProducerEpoch, 2));
        b.base_sequence = static_cast<int32_t>(IntAt(frame, start + kBatchBaseSequence, 4));
        b.count = static_cast<int32_t>(IntAt(frame, start + kBatchRecordCount, 4));
      }
      req->batches.push_back(b);
    }
  }
  return r.ok();
}

// The request with only the batches in `keep`, in their original order.
std::string RewriteProduce(const std::string& frame, const ProduceRequest& req,
                           const std::vector<const Batch*>& keep) {
  std::string out = frame.substr(0, req.topics_at);
  std::vector<std::pair<std::string, std::vector<const Batch*>>> topics;
  for (const Batch* b : keep) {
    if (topics.empty() || topics.back().first != b->topic) topics.push_back({b->topic, {}});
    topics.back().second.push_back(b);
  }
  PutInt(&out, static_cast<int64_t>(topics.size()), 4);
  for (const auto& [topic, batches] : topics) {
    PutStr(&out, topic);
    PutInt(&out, static_cast<int64_t>(batches.size()), 4);
    for (const Batch* b : batches) out.append(frame, b->entry_start, b->entry_end - b->entry_start);
  }
  return out;
}

struct PartitionResponse {
  int32_t partition = 0;
  int16_t error = 0;
  int64_t base_offset = -1, log_append_time = -1, log_start_offset = -1;
};
struct ProduceResponse {
  std::vector<std::pair<std::string, std::vector<PartitionResponse>>> topics;
  int32_t throttle_ms = 0;
};

bool ParseProduceResponse(const std::string& frame, int16_t version, ProduceResponse* resp) {
  Reader r(frame, 4);
  for (int32_t t = r.I32(); r.ok() && t > 0; --t) {
    resp->topics.push_back({r.Str(), {}});
    for (int32_t p = r.I32(); r.ok() && p > 0; --p) {
      PartitionResponse pr;
      pr.partition = r.I32();
      pr.error = r.I16();
      pr.base_offset = r.I64();
      if (version >= 2) pr.log_append_time = r.I64();
      if (version >= 5) pr.log_start_offset = r.I64();
      resp->topics.back().second.push_back(pr);
    }
  }
  if (version >= 1) resp->throttle_ms = r.I32();
  return r.ok();
}

std::string WriteProduceResponse(int32_t correlation_id, int16_t version,
                                 const ProduceResponse& resp) {
  std::string out;
  PutInt(&out, correlation_id, 4);
  PutInt(&out, static_cast<int64_t>(resp.topics.size()), 4);
  for (const auto& [topic, partitions] : resp.topics) {
    PutStr(&out, topic);
    PutInt(&out, static_cast<int64_t>(partitions.size()), 4);
    for (const PartitionResponse& pr : partitions) {
      PutInt(&out, pr.partition, 4);
      PutInt(&out, pr.error, 2);
      PutInt(&out, pr.base_offset, 8);
      if (version >= 2) PutInt(&out, pr.log_append_time, 8);
      if (version >= 5) PutInt(&out, pr.log_start_offset, 8);
    }
  }
  if (version >= 1) PutInt(&out, resp.throttle_ms, 4);
  return out;
}

void AddPartition(ProduceResponse* resp, const std::string& topic, PartitionResponse pr) {
  for (auto& [name, partitions] : resp->topics) {
    if (name == topic) {
      partitions.push_back(pr);
      return;
    }
  }
  resp->topics.push_back({topic, {pr}});
}

absl::StatusOr<int> Listen(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("cannot listen on a loopback port");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

class Proxy final : public SequenceProxy {
 public:
  ~Proxy() override;
  absl::Status Init(const std::string& upstream);
  std::string bootstrap() const override { return bootstrap_; }
  int64_t refused() const override { return refused_.load(std::memory_order_relaxed); }
  void Desync() override {
    absl::MutexLock lock(&mu_);
    desync_ = true;
  }

 private:
  using Key = std::tuple<int64_t, std::string, int32_t>;  // producer id, topic, partition
  struct PartitionState {
    int16_t epoch = 0;
    int32_t next_sequence = 0;
    bool uncertain = false;                          // A batch's fate was lost with its connection.
    std::deque<std::pair<int32_t, int32_t>> recent;  // First and last sequences.
  };
  struct Pending {
    int16_t api_key = 0;
    int16_t version = 0;
    bool judged = false;                             // A Produce the proxy checked.
    std::vector<Batch> forwarded;                    // Its batches sent on to the broker.
    std::vector<std::pair<Batch, int16_t>> refused;  // And those answered here.
  };
  struct Conn {
    int client = -1, upstream = -1;
    absl::Mutex write_mu;                // Serialises writes to `client`.
    std::map<int32_t, Pending> pending;  // By correlation id; guarded by Proxy::mu_.
    bool closed = false;                 // Guarded by Proxy::mu_.
    ~Conn() {
      close(client);
      close(upstream);
    }
  };

  void AcceptLoop(int listen_fd, int upstream_port);
  void ClientLoop(std::shared_ptr<Conn> conn);
  void UpstreamLoop(std::shared_ptr<Conn> conn);
  // Forwards or answers one judged Produce; false when the connection is over.
  bool HandleProduce(Conn* conn, int32_t correlation_id, int16_t version, const std::string& frame,
                     const ProduceRequest& req);
  int16_t Judge(const Batch& b) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Written(const Batch& b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RewriteMetadata(std::string* frame, int16_t version) const;
  void Spawn(std::function<void()> fn);
  void Shut(Conn* conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string bootstrap_;
  std::vector<int> listeners_;
  absl::flat_hash_map<int, int> port_map_;  // Upstream port -> proxy port; fixed after Init().
  std::atomic<int64_t> refused_{0};

  mutable absl::Mutex mu_;
  int produce_outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool desync_ ABSL_GUARDED_BY(mu_) = false;
  std::map<Key, PartitionState> states_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

absl::Status Proxy::Init(const std::string& upstream) {
  std::vector<std::string> mine;
  std::vector<std::pair<int, int>> listeners;  // fd, upstream port
  for (absl::string_view hostport : absl::StrSplit(upstream, ',', absl::SkipEmpty())) {
    const size_t colon = hostport.rfind(':');
    int up = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(hostport.substr(colon + 1), &up)) {
      return absl::InvalidArgumentError(absl::StrCat("bad broker address \"", hostport, "\""));
    }
    int port = 0;
    absl::StatusOr<int> fd = Listen(&port);
    if (!fd.ok()) return fd.status();
    listeners_.push_back(*fd);
    listeners.emplace_back(*fd, up);
    port_map_[up] = port;
    mine.push_back(absl::StrCat("127.0.0.1:", port));
  }
  bootstrap_ = absl::StrJoin(mine, ",");
  for (const auto& [fd, up] : listeners) Spawn([this, fd = fd, up = up] { AcceptLoop(fd, up); });
  return absl::OkStatus();
}

Proxy::~Proxy() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (int fd : listeners_) shutdown(fd, SHUT_RDWR);
    for (const auto& weak : conns_) {
      if (auto conn = weak.lock()) Shut(conn.get());
    }
  }
  // No thread starts once stopping_ is set; each ends once its socket is shut.
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    if (threads.empty()) break;
    for (std::thread& t : threads) t.join();
    threads.clear();
  }
  for (int fd : listeners_) close(fd);
}

void Proxy::Spawn(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  threads_.emplace_back(std::move(fn));
}

void Proxy::Shut(Conn* conn) {
  conn->closed = true;
  shutdown(conn->client, SHUT_RDWR);
  shutdown(conn->upstream, SHUT_RDWR);
}

void Proxy::AcceptLoop(int listen_fd, int upstream_port) {
  for (;;) {
    const int client = accept(listen_fd, nullptr, nullptr);
    if (client < 0) {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      continue;
    }
    auto conn = std::make_shared<Conn>();
    conn->client = client;
    conn->upstream = Connect(upstream_port);
    if (conn->upstream < 0) continue;  // The broker is down: so is its proxy.
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      conns_.push_back(conn);
    }
    Spawn([this, conn] { ClientLoop(conn); });
    Spawn([this, conn] { UpstreamLoop(conn); });
  }
}

int16_t Proxy::Judge(const Batch& b) const {
  if (b.producer_id < 0) return 0;
  const auto it = states_.find(Key(b.producer_id, b.topic, b.partition));
  if (it == states_.end()) return b.base_sequence == 0 ? 0 : kOutOfOrderSequence;
  const PartitionState& st = it->second;
  if (b.epoch < st.epoch) return kInvalidProducerEpoch;
  if (b.epoch > st.epoch) return b.base_sequence == 0 ? 0 : kOutOfOrderSequence;
  if (st.uncertain || b.base_sequence == st.next_sequence) return 0;
  for (const auto& [first, last] : st.recent) {
    if (first == b.base_sequence && last == b.last_sequence()) return kDuplicateSequence;
  }
  return kOutOfOrderSequence;
}

void Proxy::Written(const Batch& b) {
  if (b.producer_id < 0) return;
  PartitionState& st = states_[Key(b.producer_id, b.topic, b.partition)];
  if (b.epoch != st.epoch) st.recent.clear();
  st.epoch = b.epoch;
  st.next_sequence = b.base_sequence + b.count;
  st.uncertain = false;
  st.recent.emplace_back(b.base_sequence, b.last_sequence());
  if (st.recent.size() > kRecentBatches) st.recent.pop_front();
}

bool Proxy::HandleProduce(Conn* conn, int32_t correlation_id, int16_t version,
                          const std::string& frame, const ProduceRequest& req) {
  Pending pending;
  pending.api_key = kProduce;
  pending.version = version;
  pending.judged = true;
  std::vector<const Batch*> keep;
  {
    absl::MutexLock lock(&mu_);
    // One Produce at a time across the cluster: each is judged against what
    // the responses to all earlier ones said was written.
    mu_.Await(absl::Condition(
        +[](Proxy* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return p->produce_outstanding_ == 0 || p->stopping_;
        },
        this));
    if (conn->closed || stopping_) return false;
    bool desync = false;
    for (const Batch& b : req.batches) desync = desync || (desync_ && b.producer_id >= 0);
    desync_ = desync_ && !desync;
    for (const Batch& b : req.batches) {
      const int16_t verdict = desync ? kOutOfOrderSequence : Judge(b);
      if (verdict == 0) {
        keep.push_back(&b);
        pending.forwarded.push_back(b);
      } else {
        pending.refused.emplace_back(b, verdict);
      }
    }
    refused_.fetch_add(static_cast<int64_t>(pending.refused.size()), std::memory_order_relaxed);
    if (keep.empty()) {
      // Answered here: after every earlier request on this connection, so
      // responses keep their order.
      mu_.Await(absl::Condition(
          +[](Conn* c) ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->pending.empty() || c->closed; },
          conn));
      if (conn->closed) return false;
    } else {
      ++produce_outstanding_;
      conn->pending[correlation_id] = pending;
    }
  }
  if (keep.empty()) {
    ProduceResponse resp;
    for (const auto& [b, error] : pending.refused) {
      AddPartition(&resp, b.topic, PartitionResponse{b.partition, error});
    }
    absl::MutexLock write(&conn->write_mu);
    return WriteFrame(conn->client, WriteProduceResponse(correlation_id, version, resp));
  }
  return WriteFrame(conn->upstream,
                    pending.refused.empty() ? frame : RewriteProduce(frame, req, keep));
}

void Proxy::ClientLoop(std::shared_ptr<Conn> conn) {
  std::string frame;
  while (ReadFrame(conn->client, &frame)) {
    Reader r(frame, 0);
    const int16_t api_key = r.I16();
    const int16_t version = r.I16();
    const int32_t correlation_id = r.I32();
    size_t start = 0;
    r.Skip(2, &start);  // client_id
    if (!r.ok()) break;
    ProduceRequest req;
    if (api_key == kProduce && version >= 3 && version <= 7 && ParseProduce(frame, r.pos(), &req) &&
        req.acks != 0) {
      if (!HandleProduce(conn.get(), correlation_id, version, frame, req)) break;
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      if (conn->closed) break;
      // acks=0 Produce requests get no response.
      if (api_key != kProduce || req.acks != 0) {
        Pending& p = conn->pending[correlation_id];
        p.api_key = api_key;
        p.version = version;
      }
    }
    if (!WriteFrame(conn->upstream, frame)) break;
  }
  absl::MutexLock lock(&mu_);
  Shut(conn.get());
}

void Proxy::RewriteMetadata(std::string* frame, int16_t version) const {
  Reader r(*frame, 4);
  if (version >= 3) r.I32();  // throttle_time_ms
  for (int32_t n = r.I32(); r.ok() && n > 0; --n) {
    r.I32();  // node_id
    r.Str();  // host
    const size_t port_at = r.pos();
    const int32_t port = r.I32();
    if (version >= 1) {
      size_t start = 0;
      r.Skip(2, &start);  // rack
    }
    if (!r.ok()) return;
    const auto it = port_map_.find(port);
    if (it == port_map_.end()) continue;
    std::string bytes;
    PutInt(&bytes, it->second, 4);
    frame->replace(port_at, 4, bytes);
  }
}

void Proxy::UpstreamLoop(std::shared_ptr<Conn> conn) {
  std::string frame;
  while (ReadFrame(conn->upstream, &frame)) {
    const int32_t correlation_id = static_cast<int32_t>(IntAt(frame, 0, 4));
    Pending pending;
    {
      absl::MutexLock lock(&mu_);
      auto it = conn->pending.find(correlation_id);
      if (it == conn->pending.end()) break;  // Not a response to anything sent.
      pending = std::move(it->second);
      conn->pending.erase(it);
      if (pending.judged) {
        --produce_outstanding_;
        ProduceResponse resp;
        if (!ParseProduceResponse(frame, pending.version, &resp)) {
          // Unreadable: what it wrote is unknown.
          for (const Batch& b : pending.forwarded) {
            states_[Key(b.producer_id, b.topic, b.partition)].uncertain = true;
          }
        } else {
          for (const auto& [topic, partitions] : resp.topics) {
            for (const PartitionResponse& pr : partitions) {
              if (pr.error != 0) continue;
              for (const Batch& b : pending.forwarded) {
                if (b.topic == topic && b.partition == pr.partition) Written(b);
              }
            }
          }
          if (!pending.refused.empty()) {
            for (const auto& [b, error] : pending.refused) {
              AddPartition(&resp, b.topic, PartitionResponse{b.partition, error});
            }
            frame = WriteProduceResponse(correlation_id, pending.version, resp);
          }
        }
      }
    }
    if (pending.api_key == kMetadata) RewriteMetadata(&frame, pending.version);
    absl::MutexLock write(&conn->write_mu);
    if (!WriteFrame(conn->client, frame)) break;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [id, pending] : conn->pending) {
    if (!pending.judged) continue;
    --produce_outstanding_;
    for (const Batch& b : pending.forwarded) {
      if (b.producer_id >= 0) states_[Key(b.producer_id, b.topic, b.partition)].uncertain = true;
    }
  }
  conn->pending.clear();
  Shut(conn.get());
}

}  // namespace

absl::StatusOr<std::unique_ptr<SequenceProxy>> SequenceProxy::Start(const std::string& upstream) {
  auto proxy = std::make_unique<Proxy>();
  if (absl::Status s = proxy->Init(upstream); !s.ok()) return s;
  return proxy;
}

}  // namespace feed_ingest::testing
