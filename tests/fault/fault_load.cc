#include "fault_load.h"

#include "librdkafka/rdkafka.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "support/kafka_reader.h"

namespace feed_ingest::testing {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::Interaction;
using ::feed::interactions::v1::InteractionIngest;

size_t LoadTotals::failed_calls() const {
  size_t n = 0;
  for (const auto& [code, count] : status) {
    if (code != grpc::StatusCode::OK) n += count;
  }
  return n;
}

size_t LoadTotals::CallsNotIn(std::set<grpc::StatusCode> allowed) const {
  allowed.insert(grpc::StatusCode::OK);
  size_t n = 0;
  for (const auto& [code, count] : status) {
    if (!allowed.count(code)) n += count;
  }
  return n;
}

void LoadTotals::Merge(const LoadTotals& other) {
  accepted.insert(other.accepted.begin(), other.accepted.end());
  items_sent += other.items_sent;
  calls += other.calls;
  retryable += other.retryable;
  invalid += other.invalid;
  unanswered_items += other.unanswered_items;
  resent += other.resent;
  for (const auto& [code, count] : other.status) status[code] += count;
  if (!other.last_rejection.empty()) last_rejection = other.last_rejection;
  if (!other.last_error.empty()) last_error = other.last_error;
}

grpc::Status SendOnce(grpc::Channel* channel, const std::string& id_prefix, int items,
                      absl::Duration deadline, LoadTotals* totals) {
  static std::atomic<uint64_t> next_id{0};
  IngestRequest request;
  for (int k = 0; k < items; ++k) {
    const uint64_t id = next_id.fetch_add(1);
    *request.add_interactions() =
        MakeInteraction(absl::StrCat("user-", id % 97), "video-1", absl::StrCat(id_prefix, id));
  }
  return Send(channel, request, deadline, totals, nullptr);
}

grpc::Status Send(grpc::Channel* channel, const IngestRequest& request, absl::Duration deadline,
                  LoadTotals* totals, std::vector<Interaction>* again) {
  const int items = request.interactions_size();
  auto stub = InteractionIngest::NewStub(std::shared_ptr<grpc::Channel>(channel, [](auto*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  IngestResponse response;
  const grpc::Status s = stub->Ingest(&ctx, request, &response);
  totals->calls += 1;
  totals->items_sent += static_cast<size_t>(items);
  totals->status[s.error_code()] += 1;
  if (!s.ok()) {
    totals->last_error = absl::StrCat(s.error_code(), " ", s.error_message());
    // Its outcome unknown (or nothing taken): all of it again.
    if (again != nullptr && s.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
      again->insert(again->end(), request.interactions().begin(), request.interactions().end());
    }
    return s;
  }
  std::set<uint32_t> rejected;
  for (const auto& r : response.rejected()) {
    rejected.insert(r.index());
    if (r.code() == ::feed::interactions::v1::REJECTION_CODE_RETRYABLE) {
      totals->retryable += 1;
      if (again != nullptr) again->push_back(request.interactions(static_cast<int>(r.index())));
    }
    if (r.code() == ::feed::interactions::v1::REJECTION_CODE_INVALID) totals->invalid += 1;
    totals->last_rejection = r.message();
  }
  uint32_t accepted = 0;
  for (int k = 0; k < items; ++k) {
    if (!rejected.count(static_cast<uint32_t>(k))) {
      totals->accepted.insert(request.interactions(k).event_id());
      ++accepted;
    }
  }
  // An item is either counted in `accepted` or has a rejection: anything
  // else would be an answer that drops an item silently.
  if (accepted != response.accepted()) totals->unanswered_items += 1;
  return s;
}

FaultLoad::FaultLoad(std::shared_ptr<grpc::Channel> channel, LoadOptions options)
    : channel_(std::move(channel)), options_(std::move(options)) {
  items_budget_ = options_.max_items;
}

FaultLoad::~FaultLoad() { Stop(); }

void FaultLoad::Start() {
  for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { Run(t); });
}

void FaultLoad::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

LoadTotals FaultLoad::Totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

void FaultLoad::Run(int thread) {
  static std::atomic<uint64_t> next_id{0};
  const int per_call = options_.items_per_call;
  std::map<std::string, int> sends;  // event_id → times sent
  std::vector<Interaction> again;
  while (!stop_.load()) {
    IngestRequest request;
    // What was not taken goes first, with its event_ids; then new items.
    std::vector<Interaction> later;
    for (Interaction& item : again) {
      if (request.interactions_size() < per_call) {
        *request.add_interactions() = std::move(item);
      } else {
        later.push_back(std::move(item));
      }
    }
    again = std::move(later);
    const int resent = request.interactions_size();
    if (resent == 0) {
      size_t budget = items_budget_.load();
      if (budget < static_cast<size_t>(per_call)) return;
      if (!items_budget_.compare_exchange_weak(budget, budget - static_cast<size_t>(per_call))) {
        continue;
      }
      for (int k = 0; k < per_call; ++k) {
        const uint64_t id = next_id.fetch_add(1);
        *request.add_interactions() = MakeInteraction(absl::StrCat("user-", id % 97), "video-1",
                                                      absl::StrCat(options_.id_prefix, id));
      }
    }
    LoadTotals one;
    one.resent = static_cast<size_t>(resent);
    ++started_;
    std::vector<Interaction> failed;
    const grpc::Status s = Send(channel_.get(), request, options_.deadline, &one, &failed);
    ++ended_;
    for (Interaction& item : failed) {
      if (++sends[item.event_id()] <= options_.max_retries) again.push_back(std::move(item));
    }
    {
      absl::MutexLock lock(&mu_);
      totals_.Merge(one);
    }
    (void)thread;
    // A refused connection fails at once: do not spin on it.
    absl::SleepFor(s.ok() ? options_.pause : std::max(options_.pause, absl::Milliseconds(50)));
  }
}

// The sums over partitions of the low and high watermarks; false when the
// broker does not answer.
bool Watermarks(const std::string& bootstrap, int64_t* low_sum, int64_t* high_sum) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) return false;
  bool ok = true;
  *low_sum = *high_sum = 0;
  for (int32_t p = 0; p < 6 && ok; ++p) {
    int64_t low = 0, high = 0;
    ok = rd_kafka_query_watermark_offsets(rk, "feed.interactions.v1", p, &low, &high, 5000) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
    *low_sum += low;
    *high_sum += high;
  }
  rd_kafka_destroy(rk);
  return ok;
}

// Records the broker holds: the sum over partitions of high - low watermark.
int64_t LogSize(const std::string& bootstrap) {
  int64_t low = 0, high = 0;
  return Watermarks(bootstrap, &low, &high) ? high - low : -1;
}

TopicCheck CheckTopic(const std::string& bootstrap, const LoadTotals& totals) {
  // One more than could be there without a duplicate: stops early only when
  // something was written twice; otherwise reads until the topic is idle.
  const auto records =
      ReadTopic(bootstrap, "feed.interactions.v1", totals.items_sent + 1, absl::Seconds(3));
  TopicCheck check;
  check.records = records.size();
  check.in_log = LogSize(bootstrap);
  std::map<std::string, int> seen;
  for (const auto& r : records) {
    const std::string id = Header(r, "event-id");
    if (id.empty()) {
      ++check.without_id;
      continue;
    }
    if (++seen[id] == 2) ++check.duplicated;
  }
  for (const auto& id : totals.accepted) {
    if (!seen.count(id)) {
      if (check.missing == 0) check.first_missing = id;
      ++check.missing;
    }
  }
  return check;
}

int64_t WrittenCount(const std::string& bootstrap) {
  int64_t low = 0, high = 0;
  return Watermarks(bootstrap, &low, &high) ? high : -1;
}

namespace {

constexpr absl::string_view kMayBeWritten = "it may have been written";

// A whole-call failure the service itself chose, before taking anything: a
// refusal that says so, or a unary call turned away by a server shutting down.
bool NothingTaken(const grpc::Status& s) {
  return absl::StrContains(s.error_message(), "nothing of this request was taken") ||
         absl::StrContains(s.error_message(), "nothing was taken") ||
         (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
          absl::StartsWith(s.error_message(), "the server is shutting down"));
}

IngestRequest FreshRequest(const std::string& prefix, int slot, int items) {
  IngestRequest request;
  for (int k = 0; k < items; ++k) {
    *request.add_interactions() = MakeInteraction(absl::StrCat("user-", (slot * 31 + k) % 4096),
                                                  "video-1", absl::StrCat(prefix, slot, "-", k));
  }
  return request;
}

}  // namespace

struct Flood::Slot {
  int index = 0;
  std::unique_ptr<InteractionIngest::Stub> stub;
  IngestRequest request;  // What is left to be accepted.
  IngestResponse response;
  std::unique_ptr<grpc::ClientContext> context;
};

Flood::Flood(std::vector<std::shared_ptr<grpc::Channel>> channels, FloodOptions options)
    : channels_(std::move(channels)), options_(std::move(options)) {
  for (int i = 0; i < options_.calls; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->stub = InteractionIngest::NewStub(channels_[static_cast<size_t>(i) % channels_.size()]);
    slot->request = FreshRequest(options_.id_prefix, i, options_.items_per_call);
    slots_.push_back(std::move(slot));
  }
}

Flood::~Flood() {
  StopRetrying();
  Wait(absl::Seconds(180));
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (retrier_.joinable()) retrier_.join();
}

void Flood::Start() {
  retrier_ = std::thread([this] { RetryLoop(); });
  for (auto& slot : slots_) Send(slot.get());
}

void Flood::StopRetrying() { retrying_ = false; }

bool Flood::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (in_flight_.load() > 0 || !due_empty()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

bool Flood::due_empty() const {
  absl::MutexLock lock(&mu_);
  return due_.empty() || !retrying_.load();
}

FloodTotals Flood::Totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

void Flood::Send(Slot* slot) {
  slot->context = std::make_unique<grpc::ClientContext>();
  slot->context->set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
  slot->response.Clear();
  ++in_flight_;
  slot->stub->async()->Ingest(slot->context.get(), &slot->request, &slot->response,
                              [this, slot](grpc::Status s) { Done(slot, s); });
}

void Flood::Done(Slot* slot, const grpc::Status& s) {
  bool again = false;
  {
    absl::MutexLock lock(&mu_);
    ++totals_.calls;
    ++totals_.status[s.error_code()];
    if (s.ok()) {
      totals_.accepted += slot->response.accepted();
      IngestRequest left;
      for (const auto& r : slot->response.rejected()) {
        if (r.code() != ::feed::interactions::v1::REJECTION_CODE_RETRYABLE) continue;
        if (absl::StrContains(r.message(), kMayBeWritten)) ++totals_.possibly_written;
        *left.add_interactions() = slot->request.interactions(static_cast<int>(r.index()));
      }
      slot->request = std::move(left);
      if (slot->request.interactions_size() == 0) ++totals_.slots_done;
    } else {
      totals_.last_error = absl::StrCat(s.error_code(), ": ", s.error_message());
      ++totals_.errors[totals_.last_error.substr(0, 80)];
      // Only the service's own refusals say that nothing was taken. Any other
      // failure (a deadline, a cut connection, gRPC cancelling the call when
      // its buffers are full) leaves the outcome unknown: the items may have
      // been written, and are sent again.
      if (!NothingTaken(s)) {
        ++totals_.unknown_calls;
        totals_.possibly_written += static_cast<uint64_t>(slot->request.interactions_size());
      }
    }
    again = slot->request.interactions_size() > 0 && retrying_.load();
    if (again) due_.push_back({absl::Now() + options_.retry_after, slot});
  }
  --in_flight_;
}

void Flood::RetryLoop() {
  for (;;) {
    std::vector<Slot*> now;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      const absl::Time t = absl::Now();
      for (auto it = due_.begin(); it != due_.end();) {
        if (it->first <= t || !retrying_.load()) {
          if (retrying_.load()) now.push_back(it->second);
          it = due_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (Slot* slot : now) Send(slot);
    absl::SleepFor(absl::Milliseconds(10));
  }
}

SilentStreams::SilentStreams(std::vector<std::shared_ptr<grpc::Channel>> channels, int streams,
                             int requests_per_stream, int items_per_request, std::string id_prefix)
    : streams_(streams) {
  for (int s = 0; s < streams; ++s) {
    auto channel = channels[static_cast<size_t>(s) % channels.size()];
    threads_.emplace_back([=] {
      auto stub = InteractionIngest::NewStub(channel);
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
      auto stream = stub->Stream(&ctx);
      std::thread writer([&] {
        for (int r = 0; r < requests_per_stream; ++r) {
          IngestRequest request =
              FreshRequest(absl::StrCat(id_prefix, s, "-", r, "-"), s, items_per_request);
          request.set_sequence(static_cast<uint64_t>(r + 1));
          if (!stream->Write(request)) break;
          ++written_;
        }
        stream->WritesDone();
      });
      while (!reading_.load()) absl::SleepFor(absl::Milliseconds(20));
      IngestResponse response;
      uint64_t answered = 0;
      while (stream->Read(&response)) {
        ++answered;
        ++answers_;
        accepted_ += response.accepted();
        for (const auto& r : response.rejected()) {
          if (absl::StrContains(r.message(), kMayBeWritten)) ++possibly_written_;
        }
      }
      writer.join();
      const grpc::Status status = stream->Finish();
      if (!status.ok() || answered != static_cast<uint64_t>(requests_per_stream)) {
        ++failed_;
        absl::MutexLock lock(&mu_);
        last_error_ = absl::StrCat("stream ", s, ": ", status.error_code(), " ",
                                   status.error_message(), ", ", answered, " answers");
      }
      ++ended_;
    });
  }
}

SilentStreams::~SilentStreams() {
  reading_ = true;
  for (auto& t : threads_) t.join();
}

void SilentStreams::StartReading() { reading_ = true; }

bool SilentStreams::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (ended_.load() < static_cast<uint64_t>(streams_)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string SilentStreams::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

std::string ResultLine(const std::string& scenario, const LoadTotals& totals,
                       const TopicCheck& check, double uncertain, double peak_rss_mib,
                       double recovered_s) {
  std::string codes;
  for (const auto& [code, count] : totals.status) {
    if (code != grpc::StatusCode::OK)
      absl::StrAppend(&codes, codes.empty() ? "" : ",", code, ":", count);
  }
  return absl::StrFormat(
      "scenario=%s calls=%d items=%d resent=%d accepted=%d retryable=%d invalid=%d "
      "failed_calls=%d failed_codes=%s in_topic=%d in_log=%d missing=%d dup_by_event_id=%d "
      "uncertain=%.0f peak_rss_mib=%.1f recovered_s=%.2f",
      scenario, totals.calls, totals.items_sent, totals.resent, totals.accepted.size(),
      totals.retryable, totals.invalid, totals.failed_calls(), codes.empty() ? "-" : codes,
      check.records, check.in_log, check.missing, check.duplicated, uncertain, peak_rss_mib,
      recovered_s);
}

}  // namespace feed_ingest::testing
