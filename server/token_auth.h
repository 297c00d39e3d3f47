// TokenAuthenticator: bearer tokens, and the name of the caller each one
// stands for.
//
// The tokens file holds one token per line, as `TOKEN` or `NAME TOKEN`;
// blank lines and lines starting with '#' are ignored. A bare token is named
// after its line ("line-3"). Names say who is calling (metrics, quotas);
// several tokens may share a name (rotation). The file can be reloaded while
// serving (SIGHUP): it is read whole and checked before it replaces the old
// set, so a file caught half-written (its last line without a newline) is
// refused and the old tokens stay.
//
// Only SHA-256 digests of the tokens are kept, and a presented token is
// compared with every one of them in time that depends on neither the
// tokens' lengths nor where they differ.
//
//   auto auth = TokenAuthenticator::FromFile("/etc/feed-ingest/tokens");
//   std::optional<std::string> who = (*auth)->Identify(presented_token);
//   (*auth)->Reload();   // on SIGHUP
//
// Thread-safe: Identify() from any thread at any time, also during Reload().
#ifndef FEED_INGEST_SERVER_TOKEN_AUTH_H_
#define FEED_INGEST_SERVER_TOKEN_AUTH_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace feed_ingest {

class TokenAuthenticator {
 public:
  // Reads `path`. NOT_FOUND when it cannot be read; INVALID_ARGUMENT, naming
  // the line, when it is not a tokens file or holds no token.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(std::string path);

  // Reads the file again; on error the old tokens stay in force.
  absl::Status Reload();

  // The name of the caller `token` stands for, or nullopt when it is not
  // one of the tokens.
  std::optional<std::string> Identify(absl::string_view token) const;
  bool Valid(absl::string_view token) const { return Identify(token).has_value(); }

  size_t size() const;

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Entry {
    Digest digest;
    std::string name;
  };

  explicit TokenAuthenticator(std::string path) : path_(std::move(path)) {}
  static absl::StatusOr<std::vector<Entry>> Read(const std::string& path);

  const std::string path_;
  mutable absl::Mutex mu_;
  // Replaced whole on reload; Identify() holds a reference while comparing.
  std::shared_ptr<const std::vector<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_TOKEN_AUTH_H_
