#include "redis_quota_store.h"

#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace feed_ingest {
namespace {

constexpr absl::string_view kKeyPrefix = "feed-ingest:quota:";
constexpr int64_t kLogEveryNs = int64_t{10} * 1'000'000'000;

// KEYS[1]: the caller's bucket; ARGV: rate (events/s), burst, events asked.
// Returns 0 when taken, else the microseconds until the bucket covers them
// (-1: never, more than a burst). Times are Redis's own, in microseconds
// (exact in a Lua number until the year 2255), written with %.0f so that
// Lua's number-to-string conversion does not round them.
constexpr absl::string_view kTakeScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
if n > burst then return -1 end
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
  at = now
end
local wait = 0
if tokens >= n then
  tokens = tokens - n
else
  wait = math.ceil((n - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 't', string.format('%.6f', tokens), 'at', string.format('%.0f', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return wait
)lua";

}  // namespace

absl::StatusOr<absl::Duration> RedisQuotaStore::Take(absl::string_view caller,
                                                     const QuotaSpec& spec, uint32_t n) {
  const std::vector<std::string> args = {"EVAL",
                                         std::string(kTakeScript),
                                         "1",
                                         absl::StrCat(kKeyPrefix, caller),
                                         absl::StrFormat("%.6f", spec.rate),
                                         absl::StrFormat("%.6f", spec.burst),
                                         absl::StrCat(n)};
  std::string error;
  RedisReply reply = redis_.RoundTrip(args, &error);
  if (reply != nullptr && reply->type != REDIS_REPLY_INTEGER) {
    error = "the quota script answered something other than a number";
    reply = nullptr;
  }
  if (reply == nullptr) {
    errors_->Increment();
    const int64_t now = absl::GetCurrentTimeNanos();
    int64_t last = last_logged_ns_.load(std::memory_order_relaxed);
    if (now - last >= kLogEveryNs &&
        last_logged_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      Log(LogLevel::kWarning, "quota store cannot be reached: requests pass unthrottled",
          {{"store", redis_.address().ToString()}, {"error", error}});
    }
    return absl::UnavailableError(
        absl::StrCat("quota store ", redis_.address().ToString(), ": ", error));
  }
  if (reply->integer < 0) return absl::InfiniteDuration();
  return absl::Microseconds(reply->integer);
}

}  // namespace feed_ingest
