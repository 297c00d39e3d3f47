// InteractionValidator: every rule on both sides of its bound, with the exact
// message a caller sees. `now` is fixed; no test reads the real clock.
#include "validation.h"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace feed_ingest {

// Readable failures: gtest would otherwise dump the struct's bytes.
void PrintTo(const Violation& v, std::ostream* os) {
  *os << "{" << RejectReasonName(v.reason) << ", \"" << v.message << "\"}";
}

namespace {

using ::feed::interactions::v1::Interaction;
using ::testing::AllOf;
using ::testing::Eq;
using ::testing::Field;
using ::testing::Optional;

constexpr char kDefaultTypes[] = "view, like, unlike, share, comment, skip, complete, save";

// 2026-11-27T06:00:00Z.
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 27, 6, 0, 0), absl::UTCTimeZone());

void SetTime(absl::Time t, Interaction* item) {
  const int64_t seconds = absl::ToUnixSeconds(t);  // Rounds toward -infinity.
  item->mutable_timestamp()->set_seconds(seconds);
  item->mutable_timestamp()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

Interaction ValidItem() {
  Interaction item;
  item.set_user_id("u1");
  item.set_video_id("v9");
  item.set_interaction_type("like");
  item.set_watch_time_ms(1200);
  SetTime(kNow, &item);
  return item;
}

auto IsViolation(RejectReason reason, const std::string& message) {
  return Optional(
      AllOf(Field(&Violation::reason, Eq(reason)), Field(&Violation::message, Eq(message))));
}

class ValidationTest : public ::testing::Test {
 protected:
  std::optional<Violation> Check(const Interaction& item) const {
    return validator_.Check(item, kNow);
  }

  InteractionValidator validator_{ValidationLimits{}};
};

TEST_F(ValidationTest, ValidItemPasses) { EXPECT_EQ(Check(ValidItem()), std::nullopt); }

TEST(RejectReasonNameTest, NamesEveryReason) {
  EXPECT_EQ(RejectReasonName(RejectReason::kUserId), "user_id");
  EXPECT_EQ(RejectReasonName(RejectReason::kVideoId), "video_id");
  EXPECT_EQ(RejectReasonName(RejectReason::kInteractionType), "interaction_type");
  EXPECT_EQ(RejectReasonName(RejectReason::kWatchTime), "watch_time");
  EXPECT_EQ(RejectReasonName(RejectReason::kTimestamp), "timestamp");
  EXPECT_EQ(RejectReasonName(RejectReason::kEventId), "event_id");
}

TEST(ValidationLimitsTest, Defaults) {
  const ValidationLimits limits;
  EXPECT_EQ(limits.max_id_bytes, 128u);
  EXPECT_EQ(limits.max_event_id_bytes, 128u);
  EXPECT_EQ(limits.interaction_types,
            (std::vector<std::string>{"view", "like", "unlike", "share", "comment", "skip",
                                      "complete", "save"}));
  EXPECT_EQ(limits.max_watch_time_ms, 86'400'000);
  EXPECT_EQ(limits.max_future, absl::Minutes(5));
  EXPECT_EQ(limits.max_age, absl::Hours(168));
}

// --- user_id and video_id: length ----------------------------------------

struct IdField {
  const char* name;
  RejectReason reason;
  void (Interaction::*set)(const std::string&);
};

void PrintTo(const IdField& f, std::ostream* os) { *os << f.name; }

class IdFieldTest : public ValidationTest, public ::testing::WithParamInterface<IdField> {
 protected:
  Interaction With(const std::string& value) const {
    Interaction item = ValidItem();
    (item.*GetParam().set)(value);
    return item;
  }
  auto Rejects(const std::string& message) const {
    return IsViolation(GetParam().reason, absl::StrCat(GetParam().name, ": ", message));
  }
};

TEST_P(IdFieldTest, EmptyIsRejected) {
  EXPECT_THAT(Check(With("")), Rejects("required, must not be empty"));
}

TEST_P(IdFieldTest, OneByteIsAccepted) { EXPECT_EQ(Check(With("x")), std::nullopt); }

TEST_P(IdFieldTest, LimitIsAccepted) {
  EXPECT_EQ(Check(With(std::string(128, 'x'))), std::nullopt);
}

TEST_P(IdFieldTest, OneByteOverLimitIsRejected) {
  EXPECT_THAT(Check(With(std::string(129, 'x'))),
              Rejects("129 bytes is longer than the limit of 128"));
}

TEST_P(IdFieldTest, LimitCountsBytesNotCharacters) {
  std::string e_acute_64;  // 64 x U+00E9 = 128 bytes.
  for (int i = 0; i < 64; ++i) e_acute_64 += "\xc3\xa9";
  EXPECT_EQ(Check(With(e_acute_64)), std::nullopt);

  std::string nichi_43;  // 43 x U+65E5 = 129 bytes, 43 characters.
  for (int i = 0; i < 43; ++i) nichi_43 += "\xe6\x97\xa5";
  EXPECT_THAT(Check(With(nichi_43)), Rejects("129 bytes is longer than the limit of 128"));
}

TEST_P(IdFieldTest, LimitComesFromValidationLimits) {
  ValidationLimits limits;
  limits.max_id_bytes = 4;
  const InteractionValidator validator(limits);
  EXPECT_EQ(validator.Check(With("abcd"), kNow), std::nullopt);
  EXPECT_THAT(validator.Check(With("abcde"), kNow),
              Rejects("5 bytes is longer than the limit of 4"));
}

// --- user_id and video_id: UTF-8 ------------------------------------------

TEST_P(IdFieldTest, WellFormedUtf8IsAccepted) {
  const std::vector<std::string> good = {
      "\xc2\xa0",          // U+00A0, smallest 2-byte past the C1 controls
      "\xc3\xa9",          // U+00E9 é
      "\xdf\xbf",          // U+07FF, largest 2-byte
      "\xe0\xa0\x80",      // U+0800, smallest 3-byte
      "\xe6\x97\xa5",      // U+65E5 日
      "\xed\x9f\xbf",      // U+D7FF, just below the surrogates
      "\xee\x80\x80",      // U+E000, just above the surrogates
      "\xe2\x80\xa8",      // U+2028 line separator (not a C0 control)
      "\xef\xbf\xbf",      // U+FFFF
      "\xf0\x90\x80\x80",  // U+10000, smallest 4-byte
      "\xf0\x9f\x8e\xac",  // U+1F3AC 🎬
      "\xf4\x8f\xbf\xbf",  // U+10FFFF, the last code point
      "user-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x8e\xac-\xc3\xa9",
  };
  for (const std::string& s : good) {
    EXPECT_EQ(Check(With(s)), std::nullopt) << absl::CEscape(s);
  }
}

struct BadUtf8 {
  std::string value;
  size_t byte;
  const char* why;
};

TEST_P(IdFieldTest, MalformedUtf8IsRejectedAtItsFirstByte) {
  const std::vector<BadUtf8> bad = {
      {"\xc0\x80", 0, "overlong 2-byte NUL"},
      {"\xc1\xbf", 0, "overlong 2-byte U+007F"},
      {"ab\xe0\x80\x80", 2, "overlong 3-byte NUL"},
      {"ab\xe0\x9f\xbf", 2, "overlong 3-byte U+07FF"},
      {"\xf0\x80\x80\x80", 0, "overlong 4-byte NUL"},
      {"x\xf0\x8f\xbf\xbf", 1, "overlong 4-byte U+FFFF"},
      {"abc\xc3", 3, "truncated 2-byte at end"},
      {"abc\xe6\x97", 3, "truncated 3-byte at end"},
      {"\xf0\x9f\x8e", 0, "truncated 4-byte at end"},
      {"a\xe6\x97z", 1, "truncated 3-byte followed by ASCII"},
      {"a\xf0\x9f\x8e\xc3\xa9", 1, "truncated 4-byte followed by a new lead byte"},
      {"\xed\xa0\x80", 0, "surrogate U+D800"},
      {"ok\xed\xbf\xbf", 2, "surrogate U+DFFF"},
      {"\xed\xa0\xbd\xed\xb8\x80", 0, "CESU-8 surrogate pair"},
      {"\xf4\x90\x80\x80", 0, "U+110000, past U+10FFFF"},
      {"\xf5\x80\x80\x80", 0, "lead byte 0xF5"},
      {"\xf7\xbf\xbf\xbf", 0, "U+1FFFFF"},
      {"\xff", 0, "byte 0xFF"},
      {"\xfe", 0, "byte 0xFE"},
      {"\x80", 0, "stray continuation byte"},
      {"abcd\xbf", 4, "stray continuation byte after ASCII"},
      {"\xc3\xa9\xa9", 2, "continuation byte after a complete sequence"},
      {"\xe6\x97\xa5\xe6\x97\xa5\x80", 6, "stray continuation after two 3-byte chars"},
  };
  for (const BadUtf8& b : bad) {
    EXPECT_THAT(Check(With(b.value)), Rejects(absl::StrCat("not valid UTF-8 at byte ", b.byte)))
        << b.why << ": " << absl::CEscape(b.value);
  }
}

// --- user_id and video_id: control characters ------------------------------

TEST_P(IdFieldTest, EveryC0ControlAndDelIsRejected) {
  std::vector<unsigned char> controls;
  for (int c = 0x00; c <= 0x1f; ++c) controls.push_back(static_cast<unsigned char>(c));
  controls.push_back(0x7f);
  for (unsigned char c : controls) {
    std::string value = "abc";
    value.push_back(static_cast<char>(c));
    value += "def";
    const std::string hex = absl::StrCat(absl::Hex(c, absl::kZeroPad2));
    EXPECT_THAT(Check(With(value)),
                Rejects(absl::StrCat("control character 0x", hex, " at byte 3")))
        << absl::CEscape(value);
  }
}

TEST_P(IdFieldTest, ControlCharacterMessagesAreExact) {
  EXPECT_THAT(Check(With("abc\ndef")), Rejects("control character 0x0a at byte 3"));
  EXPECT_THAT(Check(With(std::string("\0", 1))), Rejects("control character 0x00 at byte 0"));
  EXPECT_THAT(Check(With("a\x1f")), Rejects("control character 0x1f at byte 1"));
  EXPECT_THAT(Check(With("\xc3\xa9\x7f")), Rejects("control character 0x7f at byte 2"));
}

TEST_P(IdFieldTest, EveryC1ControlIsRejected) {
  for (uint32_t cp = 0x80; cp <= 0x9f; ++cp) {
    std::string value = "ab";
    value.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    value.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    EXPECT_THAT(Check(With(value)),
                Rejects(absl::StrCat("control character U+00", absl::Hex(cp), " at byte 2")))
        << absl::CEscape(value);
  }
}

TEST_P(IdFieldTest, NeighboursOfTheControlRangesAreAccepted) {
  EXPECT_EQ(Check(With(" ")), std::nullopt);         // 0x20
  EXPECT_EQ(Check(With("~")), std::nullopt);         // 0x7E
  EXPECT_EQ(Check(With("\xc2\xa0")), std::nullopt);  // U+00A0, just past C1
  EXPECT_EQ(Check(With("\xc3\xa9")), std::nullopt);  // U+00E9
}

INSTANTIATE_TEST_SUITE_P(
    UserAndVideo, IdFieldTest,
    ::testing::Values(IdField{"user_id", RejectReason::kUserId, &Interaction::set_user_id},
                      IdField{"video_id", RejectReason::kVideoId, &Interaction::set_video_id}),
    [](const ::testing::TestParamInfo<IdField>& info) { return std::string(info.param.name); });

// --- interaction_type --------------------------------------------------------

TEST_F(ValidationTest, EveryDefaultTypeIsAccepted) {
  for (const char* type :
       {"view", "like", "unlike", "share", "comment", "skip", "complete", "save"}) {
    Interaction item = ValidItem();
    item.set_interaction_type(type);
    EXPECT_EQ(Check(item), std::nullopt) << type;
  }
}

TEST_F(ValidationTest, EmptyTypeIsRejected) {
  Interaction item = ValidItem();
  item.set_interaction_type("");
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kInteractionType,
                          absl::StrCat("interaction_type: required, one of: ", kDefaultTypes)));
}

TEST_F(ValidationTest, UnknownTypeIsRejectedAndEchoed) {
  Interaction item = ValidItem();
  item.set_interaction_type("poke");
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kInteractionType,
                                       absl::StrCat("interaction_type: \"poke\" is not one of: ",
                                                    kDefaultTypes)));
}

TEST_F(ValidationTest, TypesAreCaseSensitive) {
  Interaction item = ValidItem();
  item.set_interaction_type("Like");
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kInteractionType,
                                       absl::StrCat("interaction_type: \"Like\" is not one of: ",
                                                    kDefaultTypes)));
}

TEST_F(ValidationTest, UnknownTypeEchoIsLimitedTo32PrintableBytes) {
  Interaction item = ValidItem();
  item.set_interaction_type(std::string(32, 'z'));
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kInteractionType,
                                       absl::StrCat("interaction_type: \"", std::string(32, 'z'),
                                                    "\" is not one of: ", kDefaultTypes)));

  item.set_interaction_type(std::string(33, 'z'));
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kInteractionType,
                          absl::StrCat("interaction_type: value is not one of: ", kDefaultTypes)));

  item.set_interaction_type("li\nke");
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kInteractionType,
                          absl::StrCat("interaction_type: value is not one of: ", kDefaultTypes)));

  item.set_interaction_type("\xff");
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kInteractionType,
                          absl::StrCat("interaction_type: value is not one of: ", kDefaultTypes)));
}

TEST(ValidationCustomTypesTest, CustomListReplacesTheDefaults) {
  ValidationLimits limits;
  limits.interaction_types = {"tap", "swipe"};
  const InteractionValidator validator(limits);

  Interaction item = ValidItem();
  item.set_interaction_type("swipe");
  EXPECT_EQ(validator.Check(item, kNow), std::nullopt);
  item.set_interaction_type("tap");
  EXPECT_EQ(validator.Check(item, kNow), std::nullopt);

  item.set_interaction_type("view");
  EXPECT_THAT(validator.Check(item, kNow),
              IsViolation(RejectReason::kInteractionType,
                          "interaction_type: \"view\" is not one of: tap, swipe"));
  item.set_interaction_type("");
  EXPECT_THAT(validator.Check(item, kNow),
              IsViolation(RejectReason::kInteractionType,
                          "interaction_type: required, one of: tap, swipe"));
}

// --- watch_time_ms -----------------------------------------------------------

TEST_F(ValidationTest, WatchTimeBounds) {
  Interaction item = ValidItem();
  item.set_watch_time_ms(-1);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kWatchTime, "watch_time_ms: -1 is below 0"));

  item.set_watch_time_ms(0);
  EXPECT_EQ(Check(item), std::nullopt);

  item.set_watch_time_ms(86'400'000);
  EXPECT_EQ(Check(item), std::nullopt);

  item.set_watch_time_ms(86'400'001);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kWatchTime,
                                       "watch_time_ms: 86400001 is above the limit of 86400000"));
}

TEST_F(ValidationTest, WatchTimeExtremes) {
  Interaction item = ValidItem();
  item.set_watch_time_ms(INT64_MIN);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kWatchTime,
                                       "watch_time_ms: -9223372036854775808 is below 0"));
  item.set_watch_time_ms(INT64_MAX);
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kWatchTime,
                          "watch_time_ms: 9223372036854775807 is above the limit of 86400000"));
}

TEST(ValidationCustomLimitsTest, WatchTimeLimitComesFromValidationLimits) {
  ValidationLimits limits;
  limits.max_watch_time_ms = 1000;
  const InteractionValidator validator(limits);
  Interaction item = ValidItem();
  item.set_watch_time_ms(1000);
  EXPECT_EQ(validator.Check(item, kNow), std::nullopt);
  item.set_watch_time_ms(1001);
  EXPECT_THAT(
      validator.Check(item, kNow),
      IsViolation(RejectReason::kWatchTime, "watch_time_ms: 1001 is above the limit of 1000"));
}

// --- timestamp ---------------------------------------------------------------

TEST_F(ValidationTest, MissingTimestampIsRejected) {
  Interaction item = ValidItem();
  item.clear_timestamp();
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kTimestamp, "timestamp: required"));
}

TEST_F(ValidationTest, NanosOutOfRangeAreRejected) {
  Interaction item = ValidItem();
  const int64_t s = item.timestamp().seconds();

  item.mutable_timestamp()->set_nanos(-1);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kTimestamp,
                                       absl::StrCat("timestamp: seconds=", s,
                                                    " nanos=-1 is not a valid timestamp")));

  item.mutable_timestamp()->set_nanos(1'000'000'000);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kTimestamp,
                                       absl::StrCat("timestamp: seconds=", s,
                                                    " nanos=1000000000 is not a valid timestamp")));

  item.mutable_timestamp()->set_nanos(0);
  EXPECT_EQ(Check(item), std::nullopt);
  item.mutable_timestamp()->set_nanos(999'999'999);
  EXPECT_EQ(Check(item), std::nullopt);
}

TEST_F(ValidationTest, SecondsOutsideTheProtobufRangeAreRejected) {
  Interaction item = ValidItem();
  item.mutable_timestamp()->set_seconds(-62'135'596'801);  // Before 0001-01-01.
  item.mutable_timestamp()->set_nanos(0);
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kTimestamp,
                          "timestamp: seconds=-62135596801 nanos=0 is not a valid timestamp"));
  item.mutable_timestamp()->set_seconds(253'402'300'800);  // After 9999-12-31.
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kTimestamp,
                          "timestamp: seconds=253402300800 nanos=0 is not a valid timestamp"));
}

TEST_F(ValidationTest, FutureBoundIsInclusive) {
  Interaction item = ValidItem();
  SetTime(kNow + absl::Minutes(5), &item);
  EXPECT_EQ(Check(item), std::nullopt);

  SetTime(kNow + absl::Minutes(5) + absl::Nanoseconds(1), &item);
  EXPECT_EQ(item.timestamp().nanos(), 1);
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kTimestamp,
                          "timestamp: 2026-11-27T06:05:00.000000001+00:00 is more than 5m in "
                          "the future"));
}

TEST_F(ValidationTest, AgeBoundIsInclusive) {
  Interaction item = ValidItem();
  SetTime(kNow - absl::Hours(24 * 7), &item);
  EXPECT_EQ(Check(item), std::nullopt);

  SetTime(kNow - absl::Hours(24 * 7) - absl::Nanoseconds(1), &item);
  EXPECT_EQ(item.timestamp().nanos(), 999'999'999);
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kTimestamp,
                          "timestamp: 2026-11-20T05:59:59.999999999+00:00 is older than 168h"));
}

TEST(ValidationCustomLimitsTest, TimeWindowComesFromValidationLimits) {
  ValidationLimits limits;
  limits.max_future = absl::Seconds(1);
  limits.max_age = absl::Minutes(90);
  const InteractionValidator validator(limits);
  Interaction item = ValidItem();

  SetTime(kNow + absl::Seconds(1), &item);
  EXPECT_EQ(validator.Check(item, kNow), std::nullopt);
  SetTime(kNow + absl::Milliseconds(1001), &item);
  EXPECT_THAT(validator.Check(item, kNow),
              IsViolation(RejectReason::kTimestamp,
                          "timestamp: 2026-11-27T06:00:01.001+00:00 is more than 1s in the "
                          "future"));

  SetTime(kNow - absl::Minutes(90), &item);
  EXPECT_EQ(validator.Check(item, kNow), std::nullopt);
  SetTime(kNow - absl::Minutes(91), &item);
  EXPECT_THAT(validator.Check(item, kNow),
              IsViolation(RejectReason::kTimestamp,
                          "timestamp: 2026-11-27T04:29:00+00:00 is older than 1h30m"));
}

// --- event_id ----------------------------------------------------------------

TEST_F(ValidationTest, EventIdIsOptional) {
  Interaction item = ValidItem();
  item.set_event_id("");
  EXPECT_EQ(Check(item), std::nullopt);
  item.set_event_id("e");
  EXPECT_EQ(Check(item), std::nullopt);
}

TEST_F(ValidationTest, EventIdLength) {
  Interaction item = ValidItem();
  item.set_event_id(std::string(128, 'e'));
  EXPECT_EQ(Check(item), std::nullopt);
  item.set_event_id(std::string(129, 'e'));
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kEventId,
                                       "event_id: 129 bytes is longer than the limit of 128"));
}

TEST(ValidationCustomLimitsTest, EventIdLimitIsSeparateFromIdLimit) {
  ValidationLimits limits;
  limits.max_id_bytes = 8;
  limits.max_event_id_bytes = 16;
  const InteractionValidator validator(limits);
  Interaction item = ValidItem();
  item.set_event_id(std::string(16, 'e'));
  EXPECT_EQ(validator.Check(item, kNow), std::nullopt);
  item.set_event_id(std::string(17, 'e'));
  EXPECT_THAT(
      validator.Check(item, kNow),
      IsViolation(RejectReason::kEventId, "event_id: 17 bytes is longer than the limit of 16"));
}

TEST_F(ValidationTest, EventIdTextRules) {
  Interaction item = ValidItem();
  item.set_event_id("evt\t1");
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kEventId, "event_id: control character 0x09 at byte 3"));
  item.set_event_id("evt-\xed\xa0\x80");
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kEventId, "event_id: not valid UTF-8 at byte 4"));
  item.set_event_id("evt-\xf0\x9f\x8e\xac");
  EXPECT_EQ(Check(item), std::nullopt);
}

// --- field order -------------------------------------------------------------

TEST_F(ValidationTest, FirstBrokenFieldIsReported) {
  Interaction item;
  item.set_user_id("");
  item.set_video_id("");
  item.set_interaction_type("poke");
  item.set_watch_time_ms(-1);
  // No timestamp.
  item.set_event_id(std::string(129, 'e'));

  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kUserId, "user_id: required, must not be empty"));
  item.set_user_id("u1");
  EXPECT_THAT(Check(item),
              IsViolation(RejectReason::kVideoId, "video_id: required, must not be empty"));
  item.set_video_id("v1");
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kInteractionType,
                                       absl::StrCat("interaction_type: \"poke\" is not one of: ",
                                                    kDefaultTypes)));
  item.set_interaction_type("view");
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kWatchTime, "watch_time_ms: -1 is below 0"));
  item.set_watch_time_ms(0);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kTimestamp, "timestamp: required"));
  SetTime(kNow, &item);
  EXPECT_THAT(Check(item), IsViolation(RejectReason::kEventId,
                                       "event_id: 129 bytes is longer than the limit of 128"));
  item.set_event_id("e1");
  EXPECT_EQ(Check(item), std::nullopt);
}

TEST_F(ValidationTest, LimitsAreKept) {
  ValidationLimits limits;
  limits.max_id_bytes = 7;
  limits.interaction_types = {"a"};
  const InteractionValidator validator(limits);
  EXPECT_EQ(validator.limits().max_id_bytes, 7u);
  EXPECT_EQ(validator.limits().interaction_types, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace feed_ingest
