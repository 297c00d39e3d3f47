// internal::ParseJsonObject: the members it keeps, the ones it skips, and the
// exact error for each kind of malformed input.
#include "msk/json_object.h"

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace feed_ingest::msk::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

void ExpectMalformed(const std::string& json, const std::string& message) {
  const absl::StatusOr<std::map<std::string, std::string>> parsed = ParseJsonObject(json);
  ASSERT_FALSE(parsed.ok()) << json;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << json;
  EXPECT_EQ(std::string(parsed.status().message()), message) << json;
}

TEST(ParseJsonObjectTest, InstanceMetadataAnswer) {
  const absl::StatusOr<std::map<std::string, std::string>> parsed = ParseJsonObject(R"({
  "Code" : "Success",
  "LastUpdated" : "2012-04-26T16:39:16Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAIOSFODNN7EXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "token",
  "Expiration" : "2017-05-17T15:09:54Z"
})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed,
              ElementsAre(Pair("AccessKeyId", "ASIAIOSFODNN7EXAMPLE"), Pair("Code", "Success"),
                          Pair("Expiration", "2017-05-17T15:09:54Z"),
                          Pair("LastUpdated", "2012-04-26T16:39:16Z"),
                          Pair("SecretAccessKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                          Pair("Token", "token"), Pair("Type", "AWS-HMAC")));
}

TEST(ParseJsonObjectTest, EmptyObject) {
  const absl::StatusOr<std::map<std::string, std::string>> parsed = ParseJsonObject(" {} ");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->empty());
}

TEST(ParseJsonObjectTest, DecodesEscapes) {
  const absl::StatusOr<std::map<std::string, std::string>> parsed =
      ParseJsonObject(R"({"a": "q\"b\\s\/n\nt\tu\u00e9\u20ac\ud83d\ude00", "b\u0041": "x"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("a", "q\"b\\s/n\nt\tu\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
                                   Pair("bA", "x")));
}

TEST(ParseJsonObjectTest, ScalarsAsTheirTextNestedValuesSkipped) {
  const absl::StatusOr<std::map<std::string, std::string>> parsed = ParseJsonObject(
      R"({"n": -12.5e+3, "z": 0, "t": true, "f": false, "nil": null,
          "o": {"x": [1, {"y": "z"}], "w": {}}, "arr": [], "last": "kept", "last": "wins"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("f", "false"), Pair("last", "wins"), Pair("n", "-12.5e+3"),
                                   Pair("nil", "null"), Pair("t", "true"), Pair("z", "0")));
}

TEST(ParseJsonObjectTest, ExactErrors) {
  ExpectMalformed("", "malformed JSON at byte 0: expected '{'");
  ExpectMalformed("[]", "malformed JSON at byte 0: expected '{'");
  ExpectMalformed("{", "malformed JSON at byte 1: expected a string");
  ExpectMalformed(R"({"a" 1})", "malformed JSON at byte 5: expected ':'");
  ExpectMalformed(R"({"a": })", "malformed JSON at byte 6: expected a value");
  ExpectMalformed(R"({"a": 1 "b": 2})", "malformed JSON at byte 8: expected ',' or '}'");
  ExpectMalformed(R"({"a": 1} x)", "malformed JSON at byte 9: expected the end of the input");
  ExpectMalformed(R"({"a": "unterminated)", "malformed JSON at byte 19: expected '\"'");
  ExpectMalformed("{\"a\": \"line\nbreak\"}",
                  "malformed JSON at byte 11: expected no control "
                  "character in a string");
  ExpectMalformed(R"({"a": "\q"})", "malformed JSON at byte 8: expected an escape");
  ExpectMalformed(R"({"a": "\u12"})", "malformed JSON at byte 11: expected 4 hex digits");
  ExpectMalformed(R"({"a": "\ud83d"})", "malformed JSON at byte 13: expected a low surrogate");
  ExpectMalformed(R"({"a": "\ude00"})",
                  "malformed JSON at byte 13: expected a high surrogate first");
  ExpectMalformed(R"({"a": 1.})", "malformed JSON at byte 8: expected a digit");
  ExpectMalformed(R"({"a": [1 2]})", "malformed JSON at byte 9: expected ',' or ']'");
  ExpectMalformed(R"({"a": tru})", "malformed JSON at byte 6: expected a value");
  ExpectMalformed("{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}",
                  "malformed JSON at byte 71: expected less nesting");
}

TEST(ParseJsonObjectTest, ErrorsNeverQuoteTheInput) {
  const absl::StatusOr<std::map<std::string, std::string>> parsed =
      ParseJsonObject(R"({"SecretAccessKey": "wJalrXUtnFEMI" "Token": "SESSION"})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(std::string(parsed.status().message()),
            "malformed JSON at byte 36: expected ',' or '}'");
}

}  // namespace
}  // namespace feed_ingest::msk::internal
