// The feed-ingest command line and environment, turned into ServerOptions.
#ifndef FEED_INGEST_SERVER_SERVER_CONFIG_H_
#define FEED_INGEST_SERVER_SERVER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/logging.h"
#include "ingest_server.h"

namespace feed_ingest {

struct ServerConfig {
  ServerOptions server;
  LogFormat log_format = LogFormat::kText;
  bool help = false;
  std::string usage;  // Filled when help is asked for.
};

// Flags as `feed-ingest --help` lists them; each also from FEED_INGEST_<NAME>.
// INVALID_ARGUMENT names the offending flag.
absl::StatusOr<ServerConfig> ParseServerConfig(int argc, char** argv, char** envp);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_SERVER_CONFIG_H_
