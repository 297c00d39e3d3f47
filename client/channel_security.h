// How the client reaches a server that wants TLS, a client certificate or a
// bearer token: the flags every command shares, and the channel they make.
//
//   ChannelSecurity security;
//   security.Register(&flags);           // --tls-ca, --tls-cert, --tls-key, --token
//   auto channel = security.Channel(target);
//   security.Decorate(&context);         // adds the bearer token, if any
#ifndef FEED_INGEST_CLIENT_CHANNEL_SECURITY_H_
#define FEED_INGEST_CLIENT_CHANNEL_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/flag_set.h"
#include "grpcpp/grpcpp.h"

namespace feed_ingest {

struct ChannelSecurity {
  std::string tls_ca;       // PEM CA that signed the server; enables TLS.
  std::string tls_cert;     // PEM client certificate (mutual TLS).
  std::string tls_key;      // Its private key.
  std::string server_name;  // Overrides the name checked in the server certificate.
  std::string token;        // Sent as `authorization: Bearer <token>`.
  bool tls = false;         // TLS with the system's roots.

  void Register(FlagSet* flags);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials() const;
  // A channel to `target`; `extra` may add channel arguments.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel(const std::string& target,
                                                         grpc::ChannelArguments extra = {}) const;
  void Decorate(grpc::ClientContext* context) const;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_CLIENT_CHANNEL_SECURITY_H_
