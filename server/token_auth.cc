#include "token_auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace feed_ingest {
namespace {

// Compares in time that depends only on the lengths, never on where the
// first difference is.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> TokenAuthenticator::Read(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the tokens file ", path));
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the tokens file ", path, " holds no token"));
  }
  return tokens;
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromFile(std::string path) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(std::move(path)));
  if (absl::Status s = auth->Reload(); !s.ok()) return s;
  return auth;
}

absl::Status TokenAuthenticator::Reload() {
  auto tokens = Read(path_);
  if (!tokens.ok()) return tokens.status();
  auto fresh = std::make_shared<const std::vector<std::string>>(*std::move(tokens));
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(fresh);
  return absl::OkStatus();
}

size_t TokenAuthenticator::size() const {
  absl::MutexLock lock(&mu_);
  return tokens_ ? tokens_->size() : 0;
}

bool TokenAuthenticator::Valid(absl::string_view token) const {
  std::shared_ptr<const std::vector<std::string>> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  if (!tokens || token.empty()) return false;
  bool found = false;
  // Every token is compared, so the time does not tell which one matched.
  for (const std::string& t : *tokens) found = ConstantTimeEquals(token, t) || found;
  return found;
}

bool TokenAuthenticator::Check(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return false;
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  return Valid(value.substr(kBearer.size()));
}

}  // namespace feed_ingest
