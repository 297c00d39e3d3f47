#include "channel_security.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace feed_ingest {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

void ChannelSecurity::Register(FlagSet* flags) {
  flags->Bool("tls", &tls, "use TLS, trusting the system's certificate authorities");
  flags->String("tls-ca", &tls_ca, "PEM CA that signed the server's certificate (implies TLS)");
  flags->String("tls-cert", &tls_cert, "PEM client certificate, for mutual TLS");
  flags->String("tls-key", &tls_key, "PEM private key of --tls-cert");
  flags->String("tls-server-name", &server_name, "name to expect in the server's certificate");
  flags->String("token", &token, "bearer token sent with every call");
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelSecurity::Credentials() const {
  if (!tls && tls_ca.empty() && tls_cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!tls_ca.empty()) {
    auto ca = ReadFile(tls_ca, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!tls_cert.empty() || !tls_key.empty()) {
    auto cert = ReadFile(tls_cert, "--tls-cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(tls_key, "--tls-key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelSecurity::Channel(
    const std::string& target, grpc::ChannelArguments extra) const {
  auto credentials = Credentials();
  if (!credentials.ok()) return credentials.status();
  if (!server_name.empty()) extra.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel(target, *credentials, extra);
}

void ChannelSecurity::Decorate(grpc::ClientContext* context) const {
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

}  // namespace feed_ingest
