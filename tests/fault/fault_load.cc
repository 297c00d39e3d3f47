#include "fault_load.h"

#include "librdkafka/rdkafka.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "support/kafka_reader.h"

namespace feed_ingest::testing {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
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
    return s;
  }
  std::set<uint32_t> rejected;
  for (const auto& r : response.rejected()) {
    rejected.insert(r.index());
    if (r.code() == ::feed::interactions::v1::REJECTION_CODE_RETRYABLE) totals->retryable += 1;
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
  const size_t items = static_cast<size_t>(options_.items_per_call);
  while (!stop_.load()) {
    size_t budget = items_budget_.load();
    if (budget < items) return;
    if (!items_budget_.compare_exchange_weak(budget, budget - items)) continue;
    LoadTotals one;
    ++started_;
    const grpc::Status s = SendOnce(channel_.get(), options_.id_prefix, options_.items_per_call,
                                    options_.deadline, &one);
    ++ended_;
    {
      absl::MutexLock lock(&mu_);
      totals_.Merge(one);
    }
    // A refused connection fails at once: do not spin on it.
    absl::SleepFor(s.ok() ? options_.pause : std::max(options_.pause, absl::Milliseconds(50)));
  }
}

// Records the broker holds: the sum over partitions of high - low watermark.
int64_t LogSize(const std::string& bootstrap) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) return -1;
  int64_t total = 0;
  for (int32_t p = 0; p < 6; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk, "feed.interactions.v1", p, &low, &high, 5000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      total = -1;
      break;
    }
    total += high - low;
  }
  rd_kafka_destroy(rk);
  return total;
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

std::string ResultLine(const std::string& scenario, const LoadTotals& totals,
                       const TopicCheck& check, double peak_rss_mib, double recovered_s) {
  std::string codes;
  for (const auto& [code, count] : totals.status) {
    if (code != grpc::StatusCode::OK)
      absl::StrAppend(&codes, codes.empty() ? "" : ",", code, ":", count);
  }
  return absl::StrFormat(
      "scenario=%s calls=%d items=%d accepted=%d retryable=%d invalid=%d failed_calls=%d "
      "failed_codes=%s in_topic=%d in_log=%d missing=%d duplicated=%d peak_rss_mib=%.1f "
      "recovered_s=%.2f",
      scenario, totals.calls, totals.items_sent, totals.accepted.size(), totals.retryable,
      totals.invalid, totals.failed_calls(), codes.empty() ? "-" : codes, check.records,
      check.in_log, check.missing, check.duplicated, peak_rss_mib, recovered_s);
}

}  // namespace feed_ingest::testing
