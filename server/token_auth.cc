#include "token_auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/crypto.h"
#include "openssl/sha.h"

namespace feed_ingest {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

std::array<uint8_t, 32> DigestOf(absl::string_view token) {
  std::array<uint8_t, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// The whole file, or why not. One read of what fstat() says is there.
absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the tokens file ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("the tokens file ", path, " is not a regular file of at most 1 MiB"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (done != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the tokens file ", path, " changed while it was read"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::vector<TokenAuthenticator::Entry>> TokenAuthenticator::Read(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadWhole(path);
  if (!text.ok()) return text.status();
  if (!text->empty() && text->back() != '\n') {
    return absl::InvalidArgumentError(absl::StrCat(
        "the tokens file ", path,
        " does not end with a newline: it may be half written (write a new file and rename it "
        "into place)"));
  }
  std::vector<Entry> entries;
  absl::flat_hash_set<std::string> seen;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() > 2 || (fields.size() == 2 && !ValidName(fields[0]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the tokens file ", path, ", line ", line_number,
          ": not TOKEN or NAME TOKEN (a name is 1 to 64 letters, digits, '-', '_' or '.')"));
    }
    const absl::string_view token = fields.back();
    if (!seen.insert(std::string(token)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("the tokens file ", path, ", line ", line_number, ": a token given twice"));
    }
    entries.push_back({DigestOf(token), fields.size() == 2 ? std::string(fields[0])
                                                           : absl::StrCat("line-", line_number)});
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the tokens file ", path, " holds no token"));
  }
  return entries;
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::FromFile(std::string path) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(std::move(path)));
  if (absl::Status s = auth->Reload(); !s.ok()) return s;
  return auth;
}

absl::Status TokenAuthenticator::Reload() {
  auto entries = Read(path_);
  if (!entries.ok()) return entries.status();
  auto fresh = std::make_shared<const std::vector<Entry>>(*std::move(entries));
  absl::MutexLock lock(&mu_);
  entries_ = std::move(fresh);
  return absl::OkStatus();
}

size_t TokenAuthenticator::size() const {
  absl::MutexLock lock(&mu_);
  return entries_ ? entries_->size() : 0;
}

std::optional<std::string> TokenAuthenticator::Identify(absl::string_view token) const {
  std::shared_ptr<const std::vector<Entry>> entries;
  {
    absl::MutexLock lock(&mu_);
    entries = entries_;
  }
  if (!entries || token.empty()) return std::nullopt;
  // Digests have one length, whatever the tokens'; every one is compared,
  // so the time tells neither which token matched nor how close one came.
  const Digest presented = DigestOf(token);
  size_t match = entries->size();
  for (size_t i = 0; i < entries->size(); ++i) {
    const bool equal =
        CRYPTO_memcmp(presented.data(), (*entries)[i].digest.data(), presented.size()) == 0;
    match = equal ? i : match;
  }
  if (match == entries->size()) return std::nullopt;
  return (*entries)[match].name;
}

}  // namespace feed_ingest
