// The client's inputs: synthetic interactions the server must accept, and
// lines of the topic's JSON schema with their exact parse errors.
#include "interactions_source.h"

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "gtest/gtest.h"
#include "record_json.h"
#include "validation.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::Interaction;

// 2026-11-27T06:00:00.123456Z.
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 27, 6, 0, 0), absl::UTCTimeZone()) +
    absl::Microseconds(123'456);
constexpr int64_t kNowSeconds = 1'795'759'200;

void ExpectInvalidArgument(const absl::StatusOr<Interaction>& item, const std::string& message) {
  ASSERT_FALSE(item.ok()) << "parsed, expected: " << message;
  EXPECT_EQ(item.status().code(), absl::StatusCode::kInvalidArgument) << item.status();
  EXPECT_EQ(item.status().message(), message);
}

// --- SyntheticInteraction ---------------------------------------------------------

TEST(SyntheticInteractionTest, ItemsPassDefaultValidation) {
  const InteractionValidator validator{ValidationLimits{}};
  for (uint64_t n = 0; n < 10'000; ++n) {
    const Interaction item = SyntheticInteraction(n, 1000, kNow);
    const auto violation = validator.Check(item, kNow);
    ASSERT_FALSE(violation.has_value()) << "n=" << n << ": " << violation->message;
  }
}

TEST(SyntheticInteractionTest, TimestampIsNowToTheMicrosecond) {
  const Interaction item = SyntheticInteraction(1, 10, kNow + absl::Nanoseconds(789));
  EXPECT_EQ(item.timestamp().seconds(), kNowSeconds);
  EXPECT_EQ(item.timestamp().nanos(), 123'456'000);
}

// A protobuf Timestamp's nanos are never negative: an instant before 1970
// needs floor division. Truncating `us / 1000000` and `us % 1000000` toward
// zero gives seconds=0 nanos=-500000000 here, which the validator rejects.
TEST(SyntheticInteractionTest, TimestampBeforeTheEpochIsValid) {
  // 1969-12-31T23:59:59.5Z: seconds=-1, nanos=500000000.
  const absl::Time before = absl::FromUnixMillis(-500);
  const Interaction item = SyntheticInteraction(1, 10, before);
  EXPECT_EQ(item.timestamp().seconds(), -1);
  EXPECT_EQ(item.timestamp().nanos(), 500'000'000);
  const InteractionValidator validator{ValidationLimits{}};
  const auto violation = validator.Check(item, before);
  EXPECT_FALSE(violation.has_value()) << violation->message;
}

TEST(SyntheticInteractionTest, Deterministic) {
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, uint64_t{42}, uint64_t{1} << 40, UINT64_MAX}) {
    const Interaction a = SyntheticInteraction(n, 500, kNow);
    const Interaction b = SyntheticInteraction(n, 500, kNow);
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString()) << n;
    EXPECT_FALSE(a.user_id().empty());
    EXPECT_FALSE(a.video_id().empty());
    EXPECT_FALSE(a.event_id().empty());
  }
  // Different n, different item.
  EXPECT_NE(SyntheticInteraction(1, 500, kNow).SerializeAsString(),
            SyntheticInteraction(2, 500, kNow).SerializeAsString());
}

TEST(SyntheticInteractionTest, EventIdsAreDistinct) {
  absl::flat_hash_set<std::string> seen;
  for (uint64_t n = 0; n < 20'000; ++n) {
    EXPECT_TRUE(seen.insert(SyntheticInteraction(n, 3, kNow).event_id()).second) << "n=" << n;
  }
  EXPECT_EQ(seen.size(), 20'000u);
}

TEST(SyntheticInteractionTest, UserCountIsBoundedByUsers) {
  for (uint64_t users : {uint64_t{1}, uint64_t{7}, uint64_t{100}}) {
    absl::flat_hash_set<std::string> expected;
    for (uint64_t u = 0; u < users; ++u) expected.insert(absl::StrCat("user-", u));
    absl::flat_hash_set<std::string> seen;
    for (uint64_t n = 0; n < 10'000; ++n) {
      const std::string user = SyntheticInteraction(n, users, kNow).user_id();
      EXPECT_TRUE(expected.contains(user)) << "users=" << users << " n=" << n << ": " << user;
      seen.insert(user);
    }
    // Bounded, and with 10,000 draws every user shows up.
    EXPECT_EQ(seen.size(), users);
  }
}

TEST(SyntheticInteractionTest, ZeroUsersMeansOne) {
  for (uint64_t n = 0; n < 100; ++n) {
    EXPECT_EQ(SyntheticInteraction(n, 0, kNow).user_id(), "user-0");
  }
}

// --- ParseSeedJson ------------------------------------------------------------------

TEST(ParseSeedJsonTest, GoodLineWithEveryField) {
  const absl::StatusOr<Interaction> item =
      ParseSeedJson(R"({"userId":"u1","videoId":"v9","interactionType":"like","watchTime":1200,)"
                    R"("timestamp":"2026-11-27T06:00:00.123Z","eventId":"evt-1"})");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->user_id(), "u1");
  EXPECT_EQ(item->video_id(), "v9");
  EXPECT_EQ(item->interaction_type(), "like");
  EXPECT_EQ(item->watch_time_ms(), 1200);
  EXPECT_EQ(item->timestamp().seconds(), kNowSeconds);
  EXPECT_EQ(item->timestamp().nanos(), 123'000'000);
  EXPECT_EQ(item->event_id(), "evt-1");
}

TEST(ParseSeedJsonTest, EventIdIsOptionalAndKeyOrderFree) {
  const absl::StatusOr<Interaction> item = ParseSeedJson(
      R"( { "timestamp" : "2026-11-27T06:00:00Z", "watchTime" : 0, "interactionType" : "view",)"
      R"( "videoId" : "v", "userId" : "u" } )");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->user_id(), "u");
  EXPECT_EQ(item->watch_time_ms(), 0);
  EXPECT_EQ(item->timestamp().seconds(), kNowSeconds);
  EXPECT_EQ(item->timestamp().nanos(), 0);
  EXPECT_EQ(item->event_id(), "");
}

TEST(ParseSeedJsonTest, TimestampWithOffsetIsConvertedToUtc) {
  const absl::StatusOr<Interaction> item =
      ParseSeedJson(R"({"userId":"u","videoId":"v","interactionType":"view","watchTime":1,)"
                    R"("timestamp":"2026-11-27T07:00:00.5+01:00"})");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->timestamp().seconds(), kNowSeconds);
  EXPECT_EQ(item->timestamp().nanos(), 500'000'000);
}

TEST(ParseSeedJsonTest, UnicodeStringsAreDecoded) {
  const absl::StatusOr<Interaction> item = ParseSeedJson(
      R"({"userId":"caf\u00e9","videoId":"\u65e5\u672c \ud83c\udfac","interactionType":"view",)"
      R"("watchTime":1,"timestamp":"2026-11-27T06:00:00Z"})");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->user_id(), "caf\xc3\xa9");
  EXPECT_EQ(item->video_id(), "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xac");
}

TEST(ParseSeedJsonTest, WatchTimeWithAZeroFractionIsAnInteger) {
  const absl::StatusOr<Interaction> item =
      ParseSeedJson(R"({"userId":"u","videoId":"v","interactionType":"view","watchTime":1200.0,)"
                    R"("timestamp":"2026-11-27T06:00:00Z"})");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->watch_time_ms(), 1200);
}

// What the server writes, the client reads back unchanged (at millisecond
// precision, which is all the record keeps).
TEST(ParseSeedJsonTest, ReadsWhatAppendRecordJsonWrites) {
  for (uint64_t n = 0; n < 1000; ++n) {
    Interaction item = SyntheticInteraction(n, 100, kNow + absl::Milliseconds(n));
    item.clear_event_id();
    item.mutable_timestamp()->set_nanos(item.timestamp().nanos() / 1'000'000 * 1'000'000);
    std::string json;
    AppendRecordJson(item, &json);
    const absl::StatusOr<Interaction> back = ParseSeedJson(json);
    ASSERT_TRUE(back.ok()) << json << ": " << back.status();
    EXPECT_EQ(back->SerializeAsString(), item.SerializeAsString()) << json;
  }
}

// --- ParseSeedJson errors -------------------------------------------------------------

constexpr char kUser[] = R"("userId":"u")";
constexpr char kVideo[] = R"("videoId":"v")";
constexpr char kType[] = R"("interactionType":"like")";
constexpr char kWatch[] = R"("watchTime":1200)";
constexpr char kTime[] = R"("timestamp":"2026-11-27T06:00:00.123Z")";

std::string Object(std::initializer_list<absl::string_view> members) {
  std::string out = "{";
  for (absl::string_view m : members) absl::StrAppend(&out, out.size() > 1 ? "," : "", m);
  return out + "}";
}

TEST(ParseSeedJsonTest, TheHelperBuildsAGoodLine) {
  EXPECT_TRUE(ParseSeedJson(Object({kUser, kVideo, kType, kWatch, kTime})).ok());
}

TEST(ParseSeedJsonTest, MissingKeys) {
  ExpectInvalidArgument(ParseSeedJson(Object({kVideo, kType, kWatch, kTime})), "userId: missing");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kType, kWatch, kTime})), "videoId: missing");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kWatch, kTime})),
                        "interactionType: missing");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kType, kWatch})),
                        "timestamp: missing");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kType, kTime})),
                        "watchTime: missing or not a number");
  ExpectInvalidArgument(ParseSeedJson("{}"), "userId: missing");
}

TEST(ParseSeedJsonTest, KeysAreCaseSensitive) {
  ExpectInvalidArgument(ParseSeedJson(Object({R"("userid":"u")", kVideo, kType, kWatch, kTime})),
                        "userId: missing");
}

TEST(ParseSeedJsonTest, WrongTypes) {
  ExpectInvalidArgument(ParseSeedJson(Object({R"("userId":7)", kVideo, kType, kWatch, kTime})),
                        "userId: not a string");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, R"("videoId":null)", kType, kWatch, kTime})),
                        "videoId: not a string");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, R"("interactionType":["like"])", kWatch, kTime})),
      "interactionType: not a string");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, kWatch, R"("timestamp":1795759200)"})),
      "timestamp: not a string");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, kWatch, kTime, R"("eventId":5)"})),
      "eventId: not a string");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, R"("watchTime":"1200")", kTime})),
      "watchTime: missing or not a number");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kType, R"("watchTime":null)", kTime})),
                        "watchTime: missing or not a number");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kType, R"("watchTime":true)", kTime})),
                        "watchTime: missing or not a number");
}

TEST(ParseSeedJsonTest, NonIntegerWatchTime) {
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, R"("watchTime":1200.5)", kTime})),
      "watchTime: not an integer");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kType, R"("watchTime":1e16)", kTime})),
                        "watchTime: not an integer");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, R"("watchTime":-1e300)", kTime})),
      "watchTime: not an integer");
}

TEST(ParseSeedJsonTest, BadTimestamp) {
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, kWatch, R"("timestamp":"yesterday")"})),
      "timestamp: \"yesterday\" is not RFC 3339");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, kWatch, R"("timestamp":"2026-11-27 06:00:00")"})),
      "timestamp: \"2026-11-27 06:00:00\" is not RFC 3339");
  ExpectInvalidArgument(
      ParseSeedJson(Object({kUser, kVideo, kType, kWatch, R"("timestamp":"2026-11-27T06:00:00")"})),
      "timestamp: \"2026-11-27T06:00:00\" is not RFC 3339");
  ExpectInvalidArgument(ParseSeedJson(Object({kUser, kVideo, kType, kWatch, R"("timestamp":"")"})),
                        "timestamp: \"\" is not RFC 3339");
}

TEST(ParseSeedJsonTest, NotJson) {
  ExpectInvalidArgument(ParseSeedJson("not json"), "not a JSON object");
  ExpectInvalidArgument(ParseSeedJson(""), "not a JSON object");
  ExpectInvalidArgument(ParseSeedJson("[1,2]"), "not a JSON object");
  ExpectInvalidArgument(ParseSeedJson("42"), "not a JSON object");
  ExpectInvalidArgument(ParseSeedJson(R"({"userId":"u")"), "not a JSON object");
}

}  // namespace
}  // namespace feed_ingest
