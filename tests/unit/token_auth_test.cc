// TokenAuthenticator: names, the file's rules, and reloads that never leave
// a half-read set in force.
#include "token_auth.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace feed_ingest {
namespace {

class TokenAuthTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::ofstream(path_, std::ios::trunc | std::ios::binary) << text;
    return path_;
  }
  const std::string path_ = ::testing::TempDir() + "/token_auth_test_tokens";
};

TEST_F(TokenAuthTest, TokensAreNamedByTheFileOrByTheirLine) {
  auto auth = TokenAuthenticator::FromFile(
      Write("# callers\nserverpod s3cret-serverpod\n\n  bare-token  \nmobile m0bile-1\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->size(), 3u);
  EXPECT_EQ((*auth)->Identify("s3cret-serverpod"), "serverpod");
  EXPECT_EQ((*auth)->Identify("bare-token"), "line-4");
  EXPECT_EQ((*auth)->Identify("m0bile-1"), "mobile");
  for (const char* wrong : {"", "s3cret", "s3cret-serverpodX", "serverpod", "M0BILE-1"}) {
    EXPECT_EQ((*auth)->Identify(wrong), std::nullopt) << wrong;
    EXPECT_FALSE((*auth)->Valid(wrong)) << wrong;
  }
}

TEST_F(TokenAuthTest, AFileThatIsNotATokensFileIsRefusedNamingTheLine) {
  EXPECT_EQ(TokenAuthenticator::FromFile(Write("a b c\n")).status(),
            absl::InvalidArgumentError(
                "the tokens file " + path_ +
                ", line 1: not TOKEN or NAME TOKEN (a name is 1 to 64 letters, digits, '-', '_' "
                "or '.')"));
  EXPECT_EQ(
      TokenAuthenticator::FromFile(Write("t1\nt1\n")).status(),
      absl::InvalidArgumentError("the tokens file " + path_ + ", line 2: a token given twice"));
  EXPECT_EQ(TokenAuthenticator::FromFile(Write("# none\n\n")).status(),
            absl::InvalidArgumentError("the tokens file " + path_ + " holds no token"));
  EXPECT_EQ(TokenAuthenticator::FromFile(::testing::TempDir() + "/no-such-file").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TokenAuthTest, AHalfWrittenFileNeverReplacesTheTokens) {
  auto auth = TokenAuthenticator::FromFile(Write("alpha token-a\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  // Caught mid-write: the new token's line is not finished.
  Write("beta token-b\ngamma tok");
  const absl::Status s = (*auth)->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does not end with a newline: it may be half written"),
            absl::string_view::npos)
      << s;
  EXPECT_EQ((*auth)->Identify("token-a"), "alpha") << "the old set stays";
  EXPECT_EQ((*auth)->Identify("tok"), std::nullopt);
  EXPECT_EQ((*auth)->Identify("token-b"), std::nullopt);
  Write("beta token-b\ngamma token-c\n");
  ASSERT_TRUE((*auth)->Reload().ok());
  EXPECT_EQ((*auth)->Identify("token-a"), std::nullopt) << "revoked";
  EXPECT_EQ((*auth)->Identify("token-c"), "gamma");
}

TEST_F(TokenAuthTest, TokensOfAnyLengthAreComparedWhole) {
  const std::string long_token(4000, 'x');
  auto auth = TokenAuthenticator::FromFile(Write("k\n" + long_token + "\nshared-name abc\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->Valid("k"));
  EXPECT_TRUE((*auth)->Valid(long_token));
  EXPECT_FALSE((*auth)->Valid(long_token.substr(1)));
  EXPECT_FALSE((*auth)->Valid(long_token + "x"));
  EXPECT_FALSE((*auth)->Valid("ab"));
  EXPECT_TRUE((*auth)->Valid("abc"));
}

}  // namespace
}  // namespace feed_ingest
