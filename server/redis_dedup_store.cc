#include "redis_dedup_store.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/logging.h"

namespace feed_ingest {
namespace {

constexpr absl::string_view kKeyPrefix = "feed-ingest:dedup:";

// Redis's own clock, in ms: every replica reads leases on the same one.
#define FEED_REDIS_NOW \
  "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

// KEYS: the request's keys; ARGV: owner token, lease in ms, key TTL in ms.
// A claim is "<owner>:<lease end>"; one whose lease has ended was left by a
// replica that died mid-write: taken over, as uncertain. Per key: 0
// claimed, 1 claimed after an uncertain write, 2 written, 3 held by another
// request.
constexpr absl::string_view kClaimScript = FEED_REDIS_NOW R"lua(
local mine = ARGV[1] .. ':'
local claim = mine .. (now + tonumber(ARGV[2]))
local r = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    redis.call('SET', k, claim, 'PX', ARGV[3]); r[i] = 0
  elseif v == 'w' then
    r[i] = 2
  elseif string.sub(v, 1, #mine) == mine then
    -- This request's own claim: the same script sent again after a lost reply.
    redis.call('SET', k, claim, 'PX', ARGV[3]); r[i] = 0
  else
    local lease = tonumber(string.match(v, ':(%d+)$'))
    if v == 'u' or (lease and lease <= now) then
      redis.call('SET', k, claim, 'PX', ARGV[3]); r[i] = 1
    else
      r[i] = 3
    end
  end
end
return r
)lua";

// KEYS: claimed keys; ARGV: owner token, window in ms, then per key 'w'
// (written: whoever holds it now), 'u' (possibly written) or 'r' (release);
// the last two only while the claim is still this owner's.
constexpr absl::string_view kPublishScript = R"lua(
local mine = ARGV[1] .. ':'
for i, k in ipairs(KEYS) do
  local a = ARGV[i + 2]
  if a == 'w' then
    redis.call('SET', k, 'w', 'PX', ARGV[2])
  else
    local v = redis.call('GET', k)
    if v and string.sub(v, 1, #mine) == mine then
      if a == 'u' then redis.call('SET', k, 'u', 'PX', ARGV[2]) else redis.call('DEL', k) end
    end
  end
end
return 0
)lua";

// KEYS: awaited keys. Per key: 0 still being written, 1 written, 2 not
// (released, uncertain, or its writer's lease ended).
constexpr absl::string_view kPollScript = FEED_REDIS_NOW R"lua(
local r = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v == 'w' then
    r[i] = 1
  elseif not v or v == 'u' then
    r[i] = 2
  else
    local lease = tonumber(string.match(v, ':(%d+)$'))
    if lease and lease <= now then r[i] = 2 else r[i] = 0 end
  end
end
return r
)lua";

// KEYS: claimed keys; ARGV: lease in ms, key TTL in ms, then per key its
// owner token. A claim still held by its owner gets a new lease; one that
// was published or taken over meanwhile is left alone.
constexpr absl::string_view kRenewScript = FEED_REDIS_NOW R"lua(
for i, k in ipairs(KEYS) do
  local mine = ARGV[i + 2] .. ':'
  local v = redis.call('GET', k)
  if v and string.sub(v, 1, #mine) == mine then
    redis.call('SET', k, mine .. (now + tonumber(ARGV[1])), 'PX', ARGV[2])
  end
end
return 0
)lua";

#undef FEED_REDIS_NOW

constexpr char kShutdownReason[] =
    "the server is shutting down while another request with this event_id was being written: "
    "send it again";

}  // namespace

using Reply = RedisReply;

RedisDedupStore::RedisDedupStore(RedisAddress address, absl::Duration window,
                                 absl::Duration claim_ttl, DedupMetrics* metrics)
    : redis_(std::move(address), kTimeout),
      window_ms_(absl::ToInt64Milliseconds(window)),
      claim_ttl_(claim_ttl),
      claim_ttl_ms_(absl::ToInt64Milliseconds(claim_ttl)),
      metrics_(metrics),
      instance_(
          absl::StrFormat("%016x", std::random_device{}() * uint64_t{0x100000001} ^
                                       static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())))) {
  poller_ = std::thread([this] { PollLoop(); });
}

RedisDedupStore::~RedisDedupStore() {
  Stop();
  poller_.join();
}

std::string RedisDedupStore::KeyOf(const wire::Interaction& item) {
  std::string key;
  key.reserve(kKeyPrefix.size() + item.user_id().size() + 1 + item.event_id().size());
  absl::StrAppend(&key, kKeyPrefix, item.user_id());
  key.push_back('\0');
  key.append(item.event_id());
  return key;
}

std::string RedisDedupStore::OwnerToken(uint64_t owner) const {
  return absl::StrCat("o:", instance_, ":", owner);
}

absl::Status RedisDedupStore::Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                                    absl::Span<const DedupKey> keys, uint64_t owner,
                                    Outcome* outcomes) {
  std::vector<std::string> args;
  args.reserve(items.size() + 5);
  args.emplace_back("EVAL");
  args.emplace_back(kClaimScript);
  args.push_back(absl::StrCat(items.size()));
  for (uint32_t index : items) {
    args.push_back(KeyOf(batch->request().interactions(static_cast<int>(index))));
  }
  args.push_back(OwnerToken(owner));
  args.push_back(absl::StrCat(claim_ttl_ms_));
  args.push_back(absl::StrCat(window_ms_ + claim_ttl_ms_));

  const absl::Time start = absl::Now();
  std::string error;
  Reply reply = redis_.RoundTrip(args, &error);
  metrics_->store_seconds().Observe(absl::ToDoubleSeconds(absl::Now() - start));
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != items.size()) {
    metrics_->store_errors().Increment();
    return absl::UnavailableError(absl::StrCat("dedup store ", redis_.address().ToString(), ": ",
                                               reply == nullptr ? error : "unexpected reply"));
  }
  std::vector<std::pair<IngestBatch::Record*, std::string>> waits;
  std::vector<std::string> held;
  for (size_t i = 0; i < items.size(); ++i) {
    const long long v = reply->element[i]->integer;  // NOLINT(runtime/int): hiredis's type
    outcomes[i] = v == 0   ? Outcome::kNew
                  : v == 1 ? Outcome::kUncertain
                  : v == 2 ? Outcome::kWritten
                           : Outcome::kInFlight;
    if (outcomes[i] == Outcome::kInFlight) {
      batch->waiting.emplace_back(batch, items[i]);
      batch->waiting.back().key = keys[i];
      waits.emplace_back(&batch->waiting.back(), std::move(args[3 + i]));
    } else if (outcomes[i] != Outcome::kWritten) {
      held.push_back(std::move(args[3 + i]));
    }
  }
  if (!held.empty()) {
    absl::MutexLock lock(&held_mu_);
    held_[owner] = Held{std::move(held), absl::Now()};
  }
  if (!waits.empty()) {
    absl::MutexLock lock(&waits_mu_);
    for (auto& [record, key] : waits) {
      if (stopped_) {
        batch->Settle(record, Delivery::Retryable(RejectLabel::kShutdown, kShutdownReason, false));
      } else {
        waits_.emplace(record, Wait{std::move(key), absl::Now()});
      }
    }
  }
  return absl::OkStatus();
}

void RedisDedupStore::Publish(IngestBatch* batch, uint64_t owner) {
  {
    absl::MutexLock lock(&held_mu_);
    held_.erase(owner);  // No more renewals: its keys are settled.
  }
  std::vector<std::string> keys, actions;
  for (const IngestBatch::Record& record : batch->records) {
    if (!record.claimed) continue;
    keys.push_back(KeyOf(batch->item(record)));
    const Delivery& d = record.delivery;
    actions.emplace_back(d.state == DeliveryState::kWritten                           ? "w"
                         : d.state == DeliveryState::kRetryable && d.possibly_written ? "u"
                                                                                      : "r");
  }
  if (keys.empty()) return;
  std::vector<std::string> args;
  args.reserve(2 * keys.size() + 5);
  args.emplace_back("EVAL");
  args.emplace_back(kPublishScript);
  args.push_back(absl::StrCat(keys.size()));
  for (std::string& k : keys) args.push_back(std::move(k));
  args.push_back(OwnerToken(owner));
  args.push_back(absl::StrCat(window_ms_));
  for (std::string& a : actions) args.push_back(std::move(a));

  const absl::Time start = absl::Now();
  std::string error;
  Reply reply = redis_.RoundTrip(args, &error);
  metrics_->store_seconds().Observe(absl::ToDoubleSeconds(absl::Now() - start));
  if (reply == nullptr) {
    // The claims stay until they expire: a retry meanwhile waits, then is
    // told to send again.
    metrics_->store_errors().Increment();
    Log(LogLevel::kWarning, "dedup store: the written keys were not recorded",
        {{"store", redis_.address().ToString()},
         {"keys", absl::StrCat(keys.size())},
         {"error", error}});
  }
}

void RedisDedupStore::Abandon(IngestBatch* batch) {
  absl::MutexLock lock(&waits_mu_);
  for (IngestBatch::Record& waiting : batch->waiting) waits_.erase(&waiting);
}

void RedisDedupStore::Stop() {
  absl::MutexLock lock(&waits_mu_);
  if (stopped_) return;
  stopped_ = true;
  for (auto& [record, wait] : waits_) {
    record->batch->Settle(record,
                          Delivery::Retryable(RejectLabel::kShutdown, kShutdownReason, false));
  }
  waits_.clear();
}

void RedisDedupStore::Poll() {
  std::vector<std::pair<IngestBatch::Record*, std::string>> awaited;
  {
    absl::MutexLock lock(&waits_mu_);
    for (const auto& [record, wait] : waits_) awaited.emplace_back(record, wait.key);
  }
  if (awaited.empty()) return;
  std::vector<std::string> args;
  args.reserve(awaited.size() + 3);
  args.emplace_back("EVAL");
  args.emplace_back(kPollScript);
  args.push_back(absl::StrCat(awaited.size()));
  for (const auto& a : awaited) args.push_back(a.second);
  std::string error;
  Reply reply = redis_.RoundTrip(args, &error);
  const bool ok =
      reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements == awaited.size();
  if (!ok) metrics_->store_errors().Increment();
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&waits_mu_);
  for (size_t i = 0; i < awaited.size(); ++i) {
    auto it = waits_.find(awaited[i].first);
    if (it == waits_.end() || it->second.key != awaited[i].second) continue;  // Abandoned.
    Delivery verdict;
    if (ok) {
      const long long v = reply->element[i]->integer;  // NOLINT(runtime/int): hiredis's type
      if (v == 1) {
        verdict = Delivery::Written();
      } else if (v == 2) {
        verdict = WaiterVerdict(Delivery());  // Not written: send it again.
      }
    }
    // A live writer renews its claim, so a wait may outlast any lease; it
    // stops only when Redis has not answered for a whole lease.
    if (ok) it->second.read = now;
    if (verdict.state == DeliveryState::kPending && now - it->second.read > claim_ttl_) {
      verdict = Delivery::Retryable(RejectLabel::kDedupStore,
                                    "the dedup store cannot be reached: send it again", false);
    }
    if (verdict.state == DeliveryState::kPending) continue;
    it->first->batch->Settle(it->first, verdict);
    waits_.erase(it);
  }
}

void RedisDedupStore::Renew() {
  // Renewed a third of the way into its lease: two more tries before it
  // would end.
  const absl::Time due = absl::Now() - claim_ttl_ / 3;
  std::vector<std::pair<uint64_t, std::string>> keys;  // (owner, key)
  {
    absl::MutexLock lock(&held_mu_);
    for (auto& [owner, held] : held_) {
      if (held.renewed > due) continue;
      for (const std::string& key : held.keys) keys.emplace_back(owner, key);
      held.renewed = absl::Now();
    }
  }
  if (keys.empty()) return;
  std::vector<std::string> args;
  args.reserve(2 * keys.size() + 5);
  args.emplace_back("EVAL");
  args.emplace_back(kRenewScript);
  args.push_back(absl::StrCat(keys.size()));
  for (const auto& k : keys) args.push_back(k.second);
  args.push_back(absl::StrCat(claim_ttl_ms_));
  args.push_back(absl::StrCat(window_ms_ + claim_ttl_ms_));
  for (const auto& k : keys) args.push_back(OwnerToken(k.first));
  std::string error;
  if (redis_.RoundTrip(args, &error) == nullptr) {
    metrics_->store_errors().Increment();
    Log(LogLevel::kWarning, "dedup store: claims in flight were not renewed",
        {{"store", redis_.address().ToString()},
         {"keys", absl::StrCat(keys.size())},
         {"error", error}});
  }
}

void RedisDedupStore::PollLoop() {
  absl::Time next_entries = absl::InfinitePast();
  for (;;) {
    {
      absl::MutexLock lock(&waits_mu_);
      if (stopped_) return;
    }
    Poll();
    Renew();
    if (absl::Now() >= next_entries) {
      next_entries = absl::Now() + kEntriesInterval;
      std::string error;
      Reply r = redis_.RoundTrip({"DBSIZE"}, &error);
      if (r != nullptr && r->type == REDIS_REPLY_INTEGER) {
        entries_.store(r->integer, std::memory_order_relaxed);
        metrics_->entries().Set(static_cast<double>(r->integer));
      }
    }
    absl::SleepFor(kPollInterval);
  }
}

}  // namespace feed_ingest
