// TokenAuthenticator: bearer-token checks for every call.
//
// Tokens come from a file, one per line (blank lines and lines starting with
// '#' are ignored), and can be reloaded while serving (SIGHUP). A call must
// carry `authorization: Bearer <token>`; tokens are compared in constant
// time and never logged.
//
//   auto auth = TokenAuthenticator::FromFile("/etc/feed-ingest/tokens");
//   if (!(*auth)->Check(context.client_metadata())) return Unauthenticated();
//   (*auth)->Reload();   // on SIGHUP
//
// Thread-safe: Check() from any thread at any time, also during Reload().
#ifndef FEED_INGEST_SERVER_TOKEN_AUTH_H_
#define FEED_INGEST_SERVER_TOKEN_AUTH_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/string_ref.h"

namespace feed_ingest {

class TokenAuthenticator {
 public:
  // Reads `path`. INVALID_ARGUMENT when it holds no token, NOT_FOUND when it
  // cannot be read.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(std::string path);

  // Reads the file again; on error the old tokens stay in force.
  absl::Status Reload();

  // True when `metadata` carries `authorization: Bearer <a valid token>`.
  bool Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;
  // The same for a bare token.
  bool Valid(absl::string_view token) const;

  size_t size() const;

 private:
  explicit TokenAuthenticator(std::string path) : path_(std::move(path)) {}
  static absl::StatusOr<std::vector<std::string>> Read(const std::string& path);

  const std::string path_;
  mutable absl::Mutex mu_;
  // Replaced whole on reload; Check() holds a reference while comparing.
  std::shared_ptr<const std::vector<std::string>> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_TOKEN_AUTH_H_
