// AuthenticateStage: a call must carry a valid bearer token, when the
// server has a tokens file. Runs once per call (a stream: when it opens).
//
//   AuthenticateStage stage(&tokens);   // null: every caller is let in
//
// Thread-safe: TokenAuthenticator is.
#ifndef FEED_INGEST_SERVER_STAGES_AUTHENTICATE_H_
#define FEED_INGEST_SERVER_STAGES_AUTHENTICATE_H_

#include "stages/stage.h"
#include "token_auth.h"

namespace feed_ingest {

inline constexpr char kUnauthenticated[] =
    "missing or invalid bearer token (authorization: Bearer ...)";

class AuthenticateStage final : public Stage {
 public:
  // `tokens` may be null: no authentication. Not owned.
  explicit AuthenticateStage(const TokenAuthenticator* tokens) : tokens_(tokens) {}

  // Stage
  absl::string_view name() const override { return "authenticate"; }
  Scope scope() const override { return Scope::kCall; }
  // UNAUTHENTICATED when the token is missing or not in the tokens file.
  StageOutcome Run(Admission& admission) override;

 private:
  const TokenAuthenticator* const tokens_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_AUTHENTICATE_H_
