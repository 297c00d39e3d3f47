// FlagSet: both spellings of a flag, each kind's parse errors, the
// environment, and the exact INVALID_ARGUMENT messages.
#include "common/flag_set.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/c_strings.h"

namespace feed_ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::CStrings;

void ExpectInvalidArgument(const absl::Status& status, const std::string& message) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), message);
}

// One flag of each kind, registered on a FlagSet with prefix "TEST_".
class FlagSetTest : public ::testing::Test {
 protected:
  FlagSetTest() {
    flags_.String("name", &name_, "a name");
    flags_.String("long-name", &long_name_, "a dashed name");
    flags_.Bool("verbose", &verbose_, "say more");
    flags_.Int("count", &count_, "how many", 1, 10);
    flags_.Duration("wait", &wait_, "how long");
    flags_.List("types", &types_, "which types");
    flags_.Repeated("set", &set_, "key=value");
  }

  absl::Status Parse(CStrings args, CStrings env = {}) {
    return flags_.Parse(args.size(), args.get(), env.get(), &positional_);
  }

  FlagSet flags_{"prog", "TEST_"};
  std::string name_ = "default-name";
  std::string long_name_;
  bool verbose_ = false;
  int64_t count_ = 3;
  absl::Duration wait_ = absl::Seconds(30);
  std::vector<std::string> types_ = {"a", "b"};
  std::vector<std::string> set_;
  std::vector<std::string> positional_;
};

TEST_F(FlagSetTest, NothingGivenKeepsDefaults) {
  ASSERT_TRUE(Parse({"prog"}).ok());
  EXPECT_EQ(name_, "default-name");
  EXPECT_EQ(long_name_, "");
  EXPECT_FALSE(verbose_);
  EXPECT_EQ(count_, 3);
  EXPECT_EQ(wait_, absl::Seconds(30));
  EXPECT_THAT(types_, ElementsAre("a", "b"));
  EXPECT_THAT(set_, ElementsAre());
  EXPECT_THAT(positional_, ElementsAre());
  EXPECT_FALSE(flags_.help());
}

TEST_F(FlagSetTest, NullEnvironmentIsAllowed) {
  CStrings args = {"prog", "--name=x"};
  ASSERT_TRUE(flags_.Parse(args.size(), args.get(), nullptr, &positional_).ok());
  EXPECT_EQ(name_, "x");
}

// --- spellings -----------------------------------------------------------------

TEST_F(FlagSetTest, EqualsForm) {
  ASSERT_TRUE(Parse({"prog", "--name=alice", "--long-name=bob"}).ok());
  EXPECT_EQ(name_, "alice");
  EXPECT_EQ(long_name_, "bob");
}

TEST_F(FlagSetTest, SpaceForm) {
  ASSERT_TRUE(Parse({"prog", "--name", "alice", "--count", "7"}).ok());
  EXPECT_EQ(name_, "alice");
  EXPECT_EQ(count_, 7);
  EXPECT_THAT(positional_, ElementsAre());
}

TEST_F(FlagSetTest, ValueMayContainEqualsAndBeEmpty) {
  ASSERT_TRUE(Parse({"prog", "--name=a=b=c"}).ok());
  EXPECT_EQ(name_, "a=b=c");
  ASSERT_TRUE(Parse({"prog", "--name="}).ok());
  EXPECT_EQ(name_, "");
}

TEST_F(FlagSetTest, SpaceFormTakesTheNextArgumentVerbatim) {
  ASSERT_TRUE(Parse({"prog", "--name", "--not-a-flag"}).ok());
  EXPECT_EQ(name_, "--not-a-flag");
}

TEST_F(FlagSetTest, SingleDashWorksLikeDoubleDash) {
  ASSERT_TRUE(Parse({"prog", "-name=x", "-count", "2"}).ok());
  EXPECT_EQ(name_, "x");
  EXPECT_EQ(count_, 2);
}

TEST_F(FlagSetTest, LastValueWins) {
  ASSERT_TRUE(Parse({"prog", "--name=first", "--name", "second"}).ok());
  EXPECT_EQ(name_, "second");
}

// --- bool ------------------------------------------------------------------------

TEST_F(FlagSetTest, BareBoolIsTrue) {
  ASSERT_TRUE(Parse({"prog", "--verbose"}).ok());
  EXPECT_TRUE(verbose_);
}

TEST_F(FlagSetTest, BoolSpellings) {
  for (const char* yes : {"true", "TRUE", "True", "1", "yes", "YES"}) {
    verbose_ = false;
    ASSERT_TRUE(Parse({"prog", std::string("--verbose=") + yes}).ok()) << yes;
    EXPECT_TRUE(verbose_) << yes;
  }
  for (const char* no : {"false", "FALSE", "0", "no", "No"}) {
    verbose_ = true;
    ASSERT_TRUE(Parse({"prog", std::string("--verbose=") + no}).ok()) << no;
    EXPECT_FALSE(verbose_) << no;
  }
}

TEST_F(FlagSetTest, BadBoolValue) {
  ExpectInvalidArgument(Parse({"prog", "--verbose=maybe"}),
                        "--verbose: \"maybe\" is not true or false");
  ExpectInvalidArgument(Parse({"prog", "--verbose="}), "--verbose: \"\" is not true or false");
  EXPECT_FALSE(verbose_);
}

// A bool never takes the next argument: `--verbose false` is true plus a
// positional "false". The header documents `--name=false` for this reason.
TEST_F(FlagSetTest, BoolDoesNotConsumeTheNextArgument) {
  ASSERT_TRUE(Parse({"prog", "--verbose", "false"}).ok());
  EXPECT_TRUE(verbose_);
  EXPECT_THAT(positional_, ElementsAre("false"));
}

// --- int -------------------------------------------------------------------------

TEST_F(FlagSetTest, IntBoundsAreInclusive) {
  ASSERT_TRUE(Parse({"prog", "--count=1"}).ok());
  EXPECT_EQ(count_, 1);
  ASSERT_TRUE(Parse({"prog", "--count=10"}).ok());
  EXPECT_EQ(count_, 10);
}

TEST_F(FlagSetTest, IntOutOfRange) {
  ExpectInvalidArgument(Parse({"prog", "--count=0"}), "--count: 0 is outside 1..10");
  ExpectInvalidArgument(Parse({"prog", "--count", "11"}), "--count: 11 is outside 1..10");
  ExpectInvalidArgument(Parse({"prog", "--count=-5"}), "--count: -5 is outside 1..10");
  EXPECT_EQ(count_, 3);  // Unchanged by a rejected value.
}

TEST_F(FlagSetTest, IntNotANumber) {
  ExpectInvalidArgument(Parse({"prog", "--count=ten"}), "--count: \"ten\" is not an integer");
  ExpectInvalidArgument(Parse({"prog", "--count="}), "--count: \"\" is not an integer");
  ExpectInvalidArgument(Parse({"prog", "--count=2.5"}), "--count: \"2.5\" is not an integer");
  ExpectInvalidArgument(Parse({"prog", "--count=99999999999999999999"}),
                        "--count: \"99999999999999999999\" is not an integer");
}

// --- duration ----------------------------------------------------------------------

TEST_F(FlagSetTest, Durations) {
  ASSERT_TRUE(Parse({"prog", "--wait=5m"}).ok());
  EXPECT_EQ(wait_, absl::Minutes(5));
  ASSERT_TRUE(Parse({"prog", "--wait", "1h30m"}).ok());
  EXPECT_EQ(wait_, absl::Minutes(90));
  ASSERT_TRUE(Parse({"prog", "--wait=250ms"}).ok());
  EXPECT_EQ(wait_, absl::Milliseconds(250));
  ASSERT_TRUE(Parse({"prog", "--wait=0"}).ok());
  EXPECT_EQ(wait_, absl::ZeroDuration());
}

TEST_F(FlagSetTest, DurationErrors) {
  ExpectInvalidArgument(Parse({"prog", "--wait=30"}),
                        "--wait: \"30\" is not a duration such as 30s, 5m or 168h");
  ExpectInvalidArgument(Parse({"prog", "--wait=soon"}),
                        "--wait: \"soon\" is not a duration such as 30s, 5m or 168h");
  ExpectInvalidArgument(Parse({"prog", "--wait=-1s"}),
                        "--wait: \"-1s\" is not a duration such as 30s, 5m or 168h");
  ExpectInvalidArgument(Parse({"prog", "--wait=7d"}),
                        "--wait: \"7d\" is not a duration such as 30s, 5m or 168h");
  EXPECT_EQ(wait_, absl::Seconds(30));
}

// --- list and repeated ---------------------------------------------------------------

TEST_F(FlagSetTest, ListReplacesTheDefault) {
  ASSERT_TRUE(Parse({"prog", "--types=x,y,z"}).ok());
  EXPECT_THAT(types_, ElementsAre("x", "y", "z"));
}

TEST_F(FlagSetTest, ListTrimsAndSkipsBlankItems) {
  ASSERT_TRUE(Parse({"prog", "--types= x , ,y,,z "}).ok());
  EXPECT_THAT(types_, ElementsAre("x", "y", "z"));
  ASSERT_TRUE(Parse({"prog", "--types="}).ok());
  EXPECT_THAT(types_, ElementsAre());
}

TEST_F(FlagSetTest, ListGivenTwiceKeepsTheLast) {
  ASSERT_TRUE(Parse({"prog", "--types=x", "--types=y"}).ok());
  EXPECT_THAT(types_, ElementsAre("y"));
}

TEST_F(FlagSetTest, RepeatedAccumulatesInOrder) {
  ASSERT_TRUE(Parse({"prog", "--set=a=1", "--set", "b=2", "--set=c=3"}).ok());
  EXPECT_THAT(set_, ElementsAre("a=1", "b=2", "c=3"));
}

TEST_F(FlagSetTest, RepeatedTakesEnvironmentValuesFirst) {
  ASSERT_TRUE(Parse({"prog", "--set=c=3", "--set=d=4"}, {"TEST_SET=a=1;b=2"}).ok());
  EXPECT_THAT(set_, ElementsAre("a=1", "b=2", "c=3", "d=4"));
}

TEST_F(FlagSetTest, RepeatedFromEnvironmentSkipsBlankParts) {
  ASSERT_TRUE(Parse({"prog"}, {"TEST_SET=a=1;;b=2;"}).ok());
  EXPECT_THAT(set_, ElementsAre("a=1", "b=2"));
}

// --- environment ---------------------------------------------------------------------

TEST_F(FlagSetTest, EnvironmentSetsFlags) {
  ASSERT_TRUE(Parse({"prog"}, {"TEST_NAME=from-env", "TEST_LONG_NAME=dashed", "TEST_VERBOSE=1",
                               "TEST_COUNT=9", "TEST_WAIT=2m", "TEST_TYPES=p,q"})
                  .ok());
  EXPECT_EQ(name_, "from-env");
  EXPECT_EQ(long_name_, "dashed");
  EXPECT_TRUE(verbose_);
  EXPECT_EQ(count_, 9);
  EXPECT_EQ(wait_, absl::Minutes(2));
  EXPECT_THAT(types_, ElementsAre("p", "q"));
}

TEST_F(FlagSetTest, CommandLineWinsOverEnvironment) {
  ASSERT_TRUE(
      Parse({"prog", "--name=from-argv", "--count", "2"}, {"TEST_NAME=from-env", "TEST_COUNT=9"})
          .ok());
  EXPECT_EQ(name_, "from-argv");
  EXPECT_EQ(count_, 2);
}

TEST_F(FlagSetTest, OtherEnvironmentIsIgnored) {
  ASSERT_TRUE(Parse({"prog"}, {"NAME=no-prefix", "OTHER_NAME=other-prefix", "TEST_name=lower",
                               "TEST_LONG-NAME=dash-kept", "TEST_UNKNOWN=x", "TEST_NAME",
                               "TEST_LONG=prefix", "TEST_NAMES=longer", "PATH=/usr/bin"})
                  .ok());
  EXPECT_EQ(name_, "default-name");
  EXPECT_EQ(long_name_, "");
}

TEST_F(FlagSetTest, EnvironmentValueMayBeEmptyOrContainEquals) {
  ASSERT_TRUE(Parse({"prog"}, {"TEST_NAME=a=b"}).ok());
  EXPECT_EQ(name_, "a=b");
  ASSERT_TRUE(Parse({"prog"}, {"TEST_NAME="}).ok());
  EXPECT_EQ(name_, "");
}

TEST_F(FlagSetTest, EnvironmentErrorsNameTheVariable) {
  ExpectInvalidArgument(Parse({"prog"}, {"TEST_COUNT=lots"}),
                        "TEST_COUNT: \"lots\" is not an integer");
  ExpectInvalidArgument(Parse({"prog"}, {"TEST_COUNT=11"}), "TEST_COUNT: 11 is outside 1..10");
  ExpectInvalidArgument(Parse({"prog"}, {"TEST_VERBOSE=sure"}),
                        "TEST_VERBOSE: \"sure\" is not true or false");
  ExpectInvalidArgument(Parse({"prog"}, {"TEST_WAIT=1"}),
                        "TEST_WAIT: \"1\" is not a duration such as 30s, 5m or 168h");
}

// --- errors --------------------------------------------------------------------------

TEST_F(FlagSetTest, UnknownFlag) {
  ExpectInvalidArgument(Parse({"prog", "--nope"}), "unknown flag --nope; see prog --help");
  ExpectInvalidArgument(Parse({"prog", "--nope=1"}), "unknown flag --nope; see prog --help");
  ExpectInvalidArgument(Parse({"prog", "-x"}), "unknown flag --x; see prog --help");
  ExpectInvalidArgument(Parse({"prog", "--long_name=x"}),
                        "unknown flag --long_name; see prog --help");
}

TEST_F(FlagSetTest, MissingValue) {
  ExpectInvalidArgument(Parse({"prog", "--name"}), "--name needs a value");
  ExpectInvalidArgument(Parse({"prog", "--count=2", "--wait"}), "--wait needs a value");
  ExpectInvalidArgument(Parse({"prog", "--set"}), "--set needs a value");
}

// --- positional arguments, `--`, help -----------------------------------------------------

TEST_F(FlagSetTest, PositionalArgumentsKeepTheirOrder) {
  ASSERT_TRUE(Parse({"prog", "first", "--name=x", "second", "-", "third"}).ok());
  EXPECT_EQ(name_, "x");
  EXPECT_THAT(positional_, ElementsAre("first", "second", "-", "third"));
}

TEST_F(FlagSetTest, DoubleDashEndsTheFlags) {
  ASSERT_TRUE(Parse({"prog", "--name=x", "--", "--name=y", "--nope", "--"}).ok());
  EXPECT_EQ(name_, "x");
  EXPECT_THAT(positional_, ElementsAre("--name=y", "--nope", "--"));
}

TEST_F(FlagSetTest, HelpIsAFlag) {
  for (const char* spelling : {"--help", "-help", "-h", "--h"}) {
    FlagSet flags("prog", "TEST_");
    CStrings args = {"prog", spelling};
    std::vector<std::string> positional;
    ASSERT_TRUE(flags.Parse(args.size(), args.get(), nullptr, &positional).ok()) << spelling;
    EXPECT_TRUE(flags.help()) << spelling;
    EXPECT_THAT(positional, ElementsAre());
  }
}

TEST_F(FlagSetTest, HelpDoesNotStopParsing) {
  ASSERT_TRUE(Parse({"prog", "--help", "--name=x"}).ok());
  EXPECT_TRUE(flags_.help());
  EXPECT_EQ(name_, "x");
}

TEST_F(FlagSetTest, UsageListsEveryFlagWithItsEnvironmentVariable) {
  const std::string usage = flags_.Usage();
  EXPECT_THAT(usage, HasSubstr("  --name=VALUE\n      a name (default: default-name)\n"
                               "      env: TEST_NAME\n"));
  EXPECT_THAT(usage, HasSubstr("  --long-name=VALUE\n      a dashed name\n"
                               "      env: TEST_LONG_NAME\n"));
  EXPECT_THAT(usage, HasSubstr("  --verbose\n      say more (default: false)\n"
                               "      env: TEST_VERBOSE\n"));
  EXPECT_THAT(usage, HasSubstr("  --count=VALUE\n      how many (default: 3)\n"
                               "      env: TEST_COUNT\n"));
  EXPECT_THAT(usage, HasSubstr("  --wait=VALUE\n      how long (default: 30s)\n"
                               "      env: TEST_WAIT\n"));
  EXPECT_THAT(usage, HasSubstr("  --types=VALUE\n      which types (default: a,b)\n"
                               "      env: TEST_TYPES\n"));
  EXPECT_THAT(usage, HasSubstr("  --set=VALUE\n      key=value (repeatable)\n"
                               "      env: TEST_SET\n"));
}

// --- SplitKeyValue -------------------------------------------------------------------------

TEST(SplitKeyValueTest, Splits) {
  std::string key, value;
  ASSERT_TRUE(SplitKeyValue("acks=all", &key, &value).ok());
  EXPECT_EQ(key, "acks");
  EXPECT_EQ(value, "all");
}

TEST(SplitKeyValueTest, SplitsAtTheFirstEquals) {
  std::string key, value;
  ASSERT_TRUE(SplitKeyValue("sasl.jaas.config=a=b;c=d", &key, &value).ok());
  EXPECT_EQ(key, "sasl.jaas.config");
  EXPECT_EQ(value, "a=b;c=d");
}

TEST(SplitKeyValueTest, EmptyValueIsAllowed) {
  std::string key = "old", value = "old";
  ASSERT_TRUE(SplitKeyValue("debug=", &key, &value).ok());
  EXPECT_EQ(key, "debug");
  EXPECT_EQ(value, "");
}

TEST(SplitKeyValueTest, Errors) {
  std::string key, value;
  ExpectInvalidArgument(SplitKeyValue("acks", &key, &value),
                        "\"acks\" is not of the form key=value");
  ExpectInvalidArgument(SplitKeyValue("=all", &key, &value),
                        "\"=all\" is not of the form key=value");
  ExpectInvalidArgument(SplitKeyValue("", &key, &value), "\"\" is not of the form key=value");
}

}  // namespace
}  // namespace feed_ingest
