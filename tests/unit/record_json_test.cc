// The Kafka record value, read back with an independent JSON parser
// (nlohmann::json) and timestamps checked against absl's formatter.
#include "record_json.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::Interaction;

// The range AppendRfc3339Millis promises: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinSeconds = -62'135'596'800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

Interaction MakeItem(std::string user, std::string video, std::string type, int64_t watch,
                     int64_t seconds, int32_t nanos) {
  Interaction item;
  item.set_user_id(std::move(user));
  item.set_video_id(std::move(video));
  item.set_interaction_type(std::move(type));
  item.set_watch_time_ms(watch);
  item.mutable_timestamp()->set_seconds(seconds);
  item.mutable_timestamp()->set_nanos(nanos);
  return item;
}

std::string Record(const Interaction& item) {
  std::string out;
  AppendRecordJson(item, &out);
  return out;
}

std::string JsonString(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

std::string Rfc3339(int64_t seconds, int32_t nanos) {
  std::string out;
  AppendRfc3339Millis(seconds, nanos, &out);
  return out;
}

// The reference. "%Y" would print year 1 as "1", not "0001": RFC 3339 needs
// exactly four digits, which is "%E4Y". "%E3S" truncates to milliseconds.
std::string AbslRfc3339(int64_t seconds, int32_t nanos) {
  const absl::Time t = absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
  return absl::FormatTime("%E4Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

// Parses `text` as one JSON document; a null json (and a test failure) if it
// is not one.
nlohmann::ordered_json Parse(const std::string& text) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << absl::CEscape(text);
  return j.is_discarded() ? nlohmann::ordered_json() : j;
}

// --- the record --------------------------------------------------------------

TEST(AppendRecordJsonTest, ExactBytesForTheDocumentedExample) {
  const Interaction item = MakeItem("u1", "v9", "like", 1200, 1'795'759'200, 123'000'000);
  EXPECT_EQ(Record(item),
            R"({"userId":"u1","videoId":"v9","interactionType":"like","watchTime":1200,)"
            R"("timestamp":"2026-11-27T06:00:00.123Z"})");
}

TEST(AppendRecordJsonTest, ExactlyFiveKeysInOrder) {
  const nlohmann::ordered_json j =
      Parse(Record(MakeItem("user-7", "video-42", "share", 5, 1'700'000'000, 0)));
  ASSERT_TRUE(j.is_object());
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"userId", "videoId", "interactionType", "watchTime",
                                            "timestamp"}));
  EXPECT_EQ(j["userId"], "user-7");
  EXPECT_EQ(j["videoId"], "video-42");
  EXPECT_EQ(j["interactionType"], "share");
  EXPECT_EQ(j["timestamp"], "2023-11-14T22:13:20.000Z");
}

TEST(AppendRecordJsonTest, WatchTimeIsAnIntegerWithTheExactValue) {
  for (int64_t watch : std::vector<int64_t>{0, 1, 1200, 86'400'000, -1, INT64_MAX, INT64_MIN,
                                            (int64_t{1} << 53) + 1}) {
    const nlohmann::ordered_json j =
        Parse(Record(MakeItem("u", "v", "view", watch, 1'700'000'000, 0)));
    ASSERT_TRUE(j.contains("watchTime")) << watch;
    EXPECT_TRUE(j["watchTime"].is_number_integer()) << watch;
    EXPECT_EQ(j["watchTime"].get<int64_t>(), watch);
  }
}

TEST(AppendRecordJsonTest, StringFieldsRoundTrip) {
  const std::string user = "a\"b\\c\nd\x01\x7f";
  const std::string video = "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xac";
  const std::string type = "caf\xc3\xa9\xe2\x80\xa8";
  const nlohmann::ordered_json j = Parse(Record(MakeItem(user, video, type, 7, 0, 0)));
  EXPECT_EQ(j["userId"].get<std::string>(), user);
  EXPECT_EQ(j["videoId"].get<std::string>(), video);
  EXPECT_EQ(j["interactionType"].get<std::string>(), type);
  EXPECT_EQ(j["timestamp"], "1970-01-01T00:00:00.000Z");
}

TEST(AppendRecordJsonTest, AppendsWithoutClearing) {
  std::string out = "prefix|";
  const Interaction a = MakeItem("u1", "v1", "view", 1, 0, 0);
  const Interaction b = MakeItem("u2", "v2", "like", 2, 60, 0);
  AppendRecordJson(a, &out);
  const size_t after_a = out.size();
  AppendRecordJson(b, &out);
  EXPECT_EQ(out, "prefix|" + Record(a) + Record(b));
  EXPECT_EQ(Parse(out.substr(7, after_a - 7))["userId"], "u1");
  EXPECT_EQ(Parse(out.substr(after_a))["userId"], "u2");
}

TEST(AppendRecordJsonTest, UnsetFieldsStillMakeARecord) {
  EXPECT_EQ(Record(Interaction()),
            R"({"userId":"","videoId":"","interactionType":"","watchTime":0,)"
            R"("timestamp":"1970-01-01T00:00:00.000Z"})");
}

// --- string escaping ---------------------------------------------------------

TEST(AppendJsonStringTest, QuoteAndBackslash) {
  EXPECT_EQ(JsonString(""), R"("")");
  EXPECT_EQ(JsonString("plain"), R"("plain")");
  EXPECT_EQ(JsonString("\""), R"("\"")");
  EXPECT_EQ(JsonString("\\"), R"("\\")");
  EXPECT_EQ(JsonString(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("/"), R"("/")");  // Solidus needs no escape.
}

TEST(AppendJsonStringTest, ShortEscapes) {
  EXPECT_EQ(JsonString("\n"), R"("\n")");
  EXPECT_EQ(JsonString("\r"), R"("\r")");
  EXPECT_EQ(JsonString("\t"), R"("\t")");
  EXPECT_EQ(JsonString("\b"), R"("\b")");
  EXPECT_EQ(JsonString("\f"), R"("\f")");
  EXPECT_EQ(JsonString(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(JsonString("\x01"), R"("\u0001")");
  EXPECT_EQ(JsonString("\x1f"), R"("\u001f")");
  EXPECT_EQ(JsonString("\x0b"), R"("\u000b")");
}

TEST(AppendJsonStringTest, EveryC0ControlRoundTrips) {
  for (int c = 0x00; c <= 0x1f; ++c) {
    std::string s = "a";
    s.push_back(static_cast<char>(c));
    s += "b";
    const std::string out = JsonString(s);
    for (char ch : out) {
      EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << "raw control in " << absl::CEscape(out);
    }
    const nlohmann::ordered_json j = Parse(out);
    ASSERT_TRUE(j.is_string()) << c;
    EXPECT_EQ(j.get<std::string>(), s) << absl::StrCat("byte 0x", absl::Hex(c, absl::kZeroPad2));
  }
}

TEST(AppendJsonStringTest, AllControlsInOneString) {
  std::string s;
  for (int c = 0x1f; c >= 0x00; --c) s.push_back(static_cast<char>(c));
  EXPECT_EQ(Parse(JsonString(s)).get<std::string>(), s);
}

TEST(AppendJsonStringTest, DelPassesThroughRaw) {
  EXPECT_EQ(JsonString("\x7f"), "\"\x7f\"");
  EXPECT_EQ(Parse(JsonString("a\x7f")).get<std::string>(), "a\x7f");
}

TEST(AppendJsonStringTest, NonAsciiPassesThroughByteExact) {
  const std::vector<std::string> samples = {
      "\xc3\xa9",                  // é
      "\xe6\x97\xa5\xe6\x9c\xac",  // 日本
      "\xf0\x9f\x8e\xac",          // 🎬
      "\xe2\x80\xa8",              // U+2028
      "\xe2\x80\xa9",              // U+2029
      "\xc2\x80",                  // U+0080
      "\xf4\x8f\xbf\xbf",          // U+10FFFF
      "caf\xc3\xa9 \"\xe6\x97\xa5\\\n\xf0\x9f\x8e\xac",
  };
  for (const std::string& s : samples) {
    const std::string out = JsonString(s);
    if (s.find_first_of("\"\\\n") == std::string::npos) {
      EXPECT_EQ(out, "\"" + s + "\"") << absl::CEscape(s);
    }
    EXPECT_EQ(Parse(out).get<std::string>(), s) << absl::CEscape(s);
  }
}

TEST(AppendJsonStringTest, Appends) {
  std::string out = "x=";
  AppendJsonString("a", &out);
  AppendJsonString("b", &out);
  EXPECT_EQ(out, R"(x="a""b")");
}

// --- timestamps ----------------------------------------------------------------

TEST(AppendRfc3339MillisTest, Epoch) { EXPECT_EQ(Rfc3339(0, 0), "1970-01-01T00:00:00.000Z"); }

TEST(AppendRfc3339MillisTest, SubMillisecondDigitsAreTruncated) {
  EXPECT_EQ(Rfc3339(0, 999'999'999), "1970-01-01T00:00:00.999Z");
  EXPECT_EQ(Rfc3339(0, 1'999'999), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(Rfc3339(0, 999'999), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Rfc3339(0, 1'000'000), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(Rfc3339(59, 123'456'789), "1970-01-01T00:00:59.123Z");
}

TEST(AppendRfc3339MillisTest, LeapDay) {
  const int64_t s = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2024, 2, 29, 12, 34, 56), absl::UTCTimeZone()));
  EXPECT_EQ(Rfc3339(s, 789'000'000), "2024-02-29T12:34:56.789Z");
  EXPECT_EQ(Rfc3339(s + 12 * 3600, 0), "2024-03-01T00:34:56.000Z");
  // 2000 is a leap year (divisible by 400), 1900 and 2100 are not.
  const int64_t y2000 = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2000, 2, 28, 0, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(Rfc3339(y2000 + 86400, 0), "2000-02-29T00:00:00.000Z");
  const int64_t y2100 = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2100, 2, 28, 0, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(Rfc3339(y2100 + 86400, 0), "2100-03-01T00:00:00.000Z");
}

TEST(AppendRfc3339MillisTest, EndsOfTheRange) {
  EXPECT_EQ(Rfc3339(kMaxSeconds, 999'999'999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(Rfc3339(kMinSeconds, 0), "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(Rfc3339(kMinSeconds + 86400 * 365 - 1, 0), "0001-12-31T23:59:59.000Z");
  const int64_t y999 = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(999, 12, 31, 23, 59, 59), absl::UTCTimeZone()));
  EXPECT_EQ(Rfc3339(y999, 0), "0999-12-31T23:59:59.000Z");
}

TEST(AppendRfc3339MillisTest, BeforeTheEpoch) {
  EXPECT_EQ(Rfc3339(-1, 500'000'000), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(Rfc3339(-1, 0), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(Rfc3339(-86400, 0), "1969-12-31T00:00:00.000Z");
  EXPECT_EQ(Rfc3339(-86401, 0), "1969-12-30T23:59:59.000Z");
  EXPECT_EQ(Rfc3339(-2'208'988'800, 0), "1900-01-01T00:00:00.000Z");
}

TEST(AppendRfc3339MillisTest, Appends) {
  std::string out = "t=";
  AppendRfc3339Millis(0, 0, &out);
  EXPECT_EQ(out, "t=1970-01-01T00:00:00.000Z");
}

// Guards the reference itself: if absl's output were not what these tests
// assume, the cross-checks below would prove nothing.
TEST(AppendRfc3339MillisTest, ReferenceFormatterIsWhatWeThink) {
  EXPECT_EQ(AbslRfc3339(kMinSeconds, 0), "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(AbslRfc3339(0, 999'999'999), "1970-01-01T00:00:00.999Z");
  EXPECT_EQ(AbslRfc3339(-1, 500'000'000), "1969-12-31T23:59:59.500Z");
  // Plain "%Y" does not pad: not usable as a reference below year 1000.
  EXPECT_EQ(absl::FormatTime("%Y", absl::FromUnixSeconds(kMinSeconds), absl::UTCTimeZone()), "1");
}

TEST(AppendRfc3339MillisTest, MatchesAbslOnRandomInstants) {
  std::mt19937_64 rng(20261127);
  std::uniform_int_distribution<int64_t> seconds(kMinSeconds, kMaxSeconds);
  std::uniform_int_distribution<int32_t> nanos(0, 999'999'999);
  int mismatches = 0;
  for (int i = 0; i < 10'000; ++i) {
    const int64_t s = seconds(rng);
    const int32_t n = nanos(rng);
    const std::string got = Rfc3339(s, n);
    const std::string want = AbslRfc3339(s, n);
    if (got != want && ++mismatches <= 10) {
      ADD_FAILURE() << "seconds=" << s << " nanos=" << n << ": got " << got << ", want " << want;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Every day for a year and more around the boundaries where calendar
// arithmetic goes wrong: the epoch, century and 400-year rules, both ends.
TEST(AppendRfc3339MillisTest, MatchesAbslAroundCalendarBoundaries) {
  int mismatches = 0;
  for (int year : {1, 100, 400, 1600, 1700, 1900, 1970, 2000, 2100, 2400, 9999}) {
    const int64_t jan1 = absl::ToUnixSeconds(
        absl::FromCivil(absl::CivilSecond(year, 1, 1, 0, 0, 0), absl::UTCTimeZone()));
    for (int64_t day = -400; day <= 400; ++day) {
      for (int64_t sod : {int64_t{0}, int64_t{86399}}) {
        const int64_t s = jan1 + day * 86400 + sod;
        if (s < kMinSeconds || s > kMaxSeconds) continue;
        const std::string got = Rfc3339(s, 999'000'000);
        const std::string want = AbslRfc3339(s, 999'000'000);
        if (got != want && ++mismatches <= 10) {
          ADD_FAILURE() << "seconds=" << s << ": got " << got << ", want " << want;
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace feed_ingest
