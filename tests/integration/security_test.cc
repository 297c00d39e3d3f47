// TLS, mutual TLS, bearer tokens and transport limits, each checked with a
// client that meets the rule and clients that break it. Certificates are
// made with the openssl command at test time.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "channel_security.h"
#include "embedded_broker.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ingest_server.h"
#include "support/kafka_reader.h"
#include "support/server_process.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::InteractionIngest;

// A CA, a server certificate for localhost, and client certificates: good,
// signed by another CA, and expired.
class Pki {
 public:
  Pki() {
    char tmpl[] = "/tmp/feed-ingest-pki-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.crt -subj /CN=test-ca -days 2");
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other-ca.key -out other-ca.crt -subj /CN=other-ca -days 2");
    Write("san.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    Leaf("server", "ca", "2", "-extfile san.ext");
    Leaf("client", "ca", "2", "");
    Leaf("stranger", "other-ca", "2", "");
    Leaf("expired", "ca", "-1", "");
  }
  ~Pki() { std::system(("rm -rf " + dir_).c_str()); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  void Run(const std::string& cmd) {
    const std::string full = "cd " + dir_ + " && " + cmd + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(full.c_str()), 0) << full;
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
  }
  void Leaf(const std::string& name, const std::string& ca, const std::string& days,
            const std::string& extra) {
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
        ".key -out " + name + ".csr -subj /CN=" + name);
    Run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -days " + days + " -out " + name + ".crt " + extra);
  }

  std::string dir_;
};

class SecurityTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    broker_ = *EmbeddedBroker::Start({});
    options.brokers = broker_->bootstrap();
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "";
    auto server = IngestServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    target_ = absl::StrCat("localhost:", server_->grpc_port());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // One unary call with one valid item through a channel made by `security`.
  grpc::Status Call(const ChannelSecurity& security, grpc::ChannelArguments args = {}) {
    auto channel = security.Channel(target_, args);
    EXPECT_TRUE(channel.ok()) << channel.status();
    auto stub = InteractionIngest::NewStub(*channel);
    IngestRequest request;
    *request.add_interactions() = testing::MakeInteraction("user-1", "video-1", "e");
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    security.Decorate(&ctx);
    IngestResponse response;
    grpc::Status s = stub->Ingest(&ctx, request, &response);
    if (s.ok()) {
      EXPECT_EQ(response.accepted(), 1u);
    }
    return s;
  }

  Pki pki_;
  grpc::Status unused_status_;
  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<IngestServer> server_;
  std::string target_;
};

TEST_F(SecurityTest, MutualTlsTakesOnlyClientsTheCaSigned) {
  ServerOptions options;
  options.security.tls_cert = pki_.Path("server.crt");
  options.security.tls_key = pki_.Path("server.key");
  options.security.tls_client_ca = pki_.Path("ca.crt");
  Start(options);

  ChannelSecurity good;
  good.tls_ca = pki_.Path("ca.crt");
  good.tls_cert = pki_.Path("client.crt");
  good.tls_key = pki_.Path("client.key");
  EXPECT_TRUE(Call(good).ok());

  ChannelSecurity no_cert;
  no_cert.tls_ca = pki_.Path("ca.crt");
  EXPECT_EQ(Call(no_cert).error_code(), grpc::StatusCode::UNAVAILABLE);

  ChannelSecurity stranger = good;
  stranger.tls_cert = pki_.Path("stranger.crt");
  stranger.tls_key = pki_.Path("stranger.key");
  EXPECT_EQ(Call(stranger).error_code(), grpc::StatusCode::UNAVAILABLE);

  ChannelSecurity expired = good;
  expired.tls_cert = pki_.Path("expired.crt");
  expired.tls_key = pki_.Path("expired.key");
  EXPECT_EQ(Call(expired).error_code(), grpc::StatusCode::UNAVAILABLE);

  EXPECT_EQ(Call(ChannelSecurity{}).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "plaintext must not reach a TLS port";
  EXPECT_TRUE(Call(good).ok()) << "still serving";
}

TEST_F(SecurityTest, ServerTlsWithoutClientCertificates) {
  ServerOptions options;
  options.security.tls_cert = pki_.Path("server.crt");
  options.security.tls_key = pki_.Path("server.key");
  Start(options);
  ChannelSecurity tls;
  tls.tls_ca = pki_.Path("ca.crt");
  EXPECT_TRUE(Call(tls).ok());
  ChannelSecurity wrong_ca;
  wrong_ca.tls_ca = pki_.Path("other-ca.crt");
  EXPECT_EQ(Call(wrong_ca).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a server the client's CA did not sign must be refused";
}

TEST_F(SecurityTest, MisconfiguredTlsFailsAtStart) {
  ServerOptions options;
  options.brokers = "embedded";
  options.security.tls_cert = pki_.Path("server.crt");
  auto s = IngestServer::Start(options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "--tls-cert and --tls-key go together");
  options.security.tls_key = pki_.Path("missing.key");
  s = IngestServer::Start(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "cannot read --tls-key " + pki_.Path("missing.key"));
}

TEST_F(SecurityTest, BearerTokensGuardBothMethodsAndReload) {
  const std::string tokens = pki_.Path("tokens");
  std::ofstream(tokens) << "# callers\nalpha-token-1\n\nbeta-token-2\n";
  ServerOptions options;
  options.security.auth_tokens_file = tokens;
  Start(options);

  ChannelSecurity none, wrong, alpha, beta, gamma;
  wrong.token = "alpha-token-X";
  alpha.token = "alpha-token-1";
  beta.token = "beta-token-2";
  gamma.token = "gamma-token-3";
  grpc::Status s = Call(none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "missing or invalid bearer token (authorization: Bearer ...)");
  EXPECT_EQ(Call(wrong).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Call(alpha).ok());
  EXPECT_TRUE(Call(beta).ok());

  // The stream checks the token too, before reading anything.
  {
    auto stub = InteractionIngest::NewStub(*none.Channel(target_));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    auto stream = stub->Stream(&ctx);
    IngestRequest request;
    *request.add_interactions() = testing::MakeInteraction("u", "v", "s");
    stream->Write(request);
    stream->WritesDone();
    IngestResponse response;
    EXPECT_FALSE(stream->Read(&response));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }

  std::ofstream(tokens, std::ios::trunc) << "gamma-token-3\n";
  ASSERT_TRUE(server_->ReloadTokens().ok());
  EXPECT_EQ(Call(alpha).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Call(gamma).ok());

  std::ofstream(tokens, std::ios::trunc) << "# nobody\n";
  EXPECT_EQ(server_->ReloadTokens().message(), "the tokens file " + tokens + " holds no token");
  EXPECT_TRUE(Call(gamma).ok()) << "a bad reload keeps the old tokens";
}

// A stream opened with a token that a reload revokes ends UNAUTHENTICATED
// within a second, even while idle; a stream whose token stays is untouched.
TEST_F(SecurityTest, ARevokedTokenEndsItsOpenStreams) {
  const std::string tokens = pki_.Path("tokens-revoke");
  std::ofstream(tokens) << "serverpod keep-me\nmobile revoke-me\n";
  ServerOptions options;
  options.security.auth_tokens_file = tokens;
  Start(options);

  ChannelSecurity kept, revoked;
  kept.token = "keep-me";
  revoked.token = "revoke-me";
  auto open = [&](const ChannelSecurity& who, grpc::ClientContext* ctx) {
    who.Decorate(ctx);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto stream = InteractionIngest::NewStub(*who.Channel(target_))->Stream(ctx);
    IngestRequest request;
    request.set_sequence(1);
    *request.add_interactions() = testing::MakeInteraction("u", "v", "before");
    EXPECT_TRUE(stream->Write(request));
    IngestResponse response;
    EXPECT_TRUE(stream->Read(&response));  // Open, and served.
    EXPECT_EQ(response.accepted(), 1u);
    return stream;
  };
  grpc::ClientContext kept_ctx, revoked_ctx;
  auto kept_stream = open(kept, &kept_ctx);
  auto revoked_stream = open(revoked, &revoked_ctx);

  std::ofstream(tokens, std::ios::trunc) << "serverpod keep-me\n";
  ASSERT_TRUE(server_->ReloadTokens().ok());
  const absl::Time reloaded = absl::Now();
  IngestResponse response;
  EXPECT_FALSE(revoked_stream->Read(&response));
  const grpc::Status end = revoked_stream->Finish();
  EXPECT_LE(absl::Now() - reloaded, absl::Seconds(1));
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(end.error_message(), "missing or invalid bearer token (authorization: Bearer ...)");

  IngestRequest request;
  request.set_sequence(2);
  *request.add_interactions() = testing::MakeInteraction("u", "v", "after");
  ASSERT_TRUE(kept_stream->Write(request));
  ASSERT_TRUE(kept_stream->Read(&response));
  EXPECT_EQ(response.sequence(), 2u);
  EXPECT_EQ(response.accepted(), 1u);
  kept_stream->WritesDone();
  EXPECT_TRUE(kept_stream->Finish().ok());
}

TEST_F(SecurityTest, OversizedMessageIsRefusedAndTheServerGoesOn) {
  ServerOptions options;
  options.grpc.max_receive_message_bytes = 64 << 10;
  Start(options);
  auto stub = InteractionIngest::NewStub(*ChannelSecurity{}.Channel(target_));
  IngestRequest big;
  for (int i = 0; i < 1000; ++i) {
    *big.add_interactions() =
        testing::MakeInteraction(std::string(100, 'u'), std::string(100, 'v'), "e");
  }
  ASSERT_GT(big.ByteSizeLong(), 64u << 10);
  grpc::ClientContext ctx;
  IngestResponse response;
  const grpc::Status s = stub->Ingest(&ctx, big, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(Call(ChannelSecurity{}).ok());
}

TEST_F(SecurityTest, StreamsPerConnectionAreCapped) {
  ServerOptions options;
  options.grpc.max_concurrent_streams = 4;
  Start(options);
  auto channel = *ChannelSecurity{}.Channel(target_);
  auto stub = InteractionIngest::NewStub(channel);
  constexpr int kStreams = 12;
  std::atomic<bool> release{false};
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      auto stream = stub->Stream(&ctx);
      IngestRequest request;
      request.set_sequence(1);
      *request.add_interactions() = testing::MakeInteraction("u", "v", absl::StrCat("s", i));
      stream->Write(request);
      while (!release.load()) absl::SleepFor(absl::Milliseconds(10));
      stream->WritesDone();
      IngestResponse response;
      int answers = 0;
      while (stream->Read(&response)) answers += static_cast<int>(response.accepted());
      if (stream->Finish().ok() && answers == 1) ++ok;
    });
  }
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(server_->inflight_calls(), 4) << "streams at once on one connection";
  // Closing streams lets the waiting ones in; every stream ends well.
  release = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kStreams);
}

TEST_F(SecurityTest, PingFloodIsCutOff) {
  Start(ServerOptions{});
  grpc::ChannelArguments flood;
  flood.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 50);
  flood.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
  flood.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  flood.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  flood.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 50);
  auto stub = InteractionIngest::NewStub(*ChannelSecurity{}.Channel(target_, flood));
  // An idle stream keeps the connection open while the client pings.
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream = stub->Stream(&ctx);
  IngestResponse response;
  const absl::Time start = absl::Now();
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << "the flood was not cut off";
  EXPECT_TRUE(Call(ChannelSecurity{}).ok()) << "other clients are still served";
}

// Thousands of idle streams on one connection: the server holds at most
// --max-concurrent-streams of them (the rest wait on the client's side), and
// a caller on another connection is served as usual.
TEST_F(SecurityTest, ThousandsOfIdleStreamsAreCappedAndOthersServed) {
  ServerOptions options;
  Start(options);
  const int cap = options.grpc.max_concurrent_streams;
  grpc::ChannelArguments own;  // A connection of its own, not shared with Call()'s.
  own.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = InteractionIngest::NewStub(*ChannelSecurity{}.Channel(target_, own));
  constexpr int kStreams = 3000;
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientAsyncReaderWriter<IngestRequest, IngestResponse>>>
      streams;
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(stub->PrepareAsyncStream(contexts.back().get(), &cq));
    streams.back()->StartCall(nullptr);
  }
  // Wait until the server holds as many as it will.
  int64_t held = 0;
  for (int i = 0; i < 100 && held < cap; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    held = server_->inflight_calls();
  }
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(server_->inflight_calls(), cap) << "idle streams held at once";
  EXPECT_TRUE(Call(ChannelSecurity{}).ok()) << "a caller on another connection";
  for (auto& ctx : contexts) ctx->TryCancel();
  for (auto& stream : streams) stream->Finish(&unused_status_, nullptr);
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// --max-connection-idle: a connection with no call for that long is closed
// by the server (the client's channel drops back to IDLE).
TEST_F(SecurityTest, IdleConnectionsAreClosed) {
  ServerOptions options;
  options.grpc.max_connection_idle = absl::Seconds(1);
  Start(options);
  grpc::ChannelArguments own;
  own.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = *ChannelSecurity{}.Channel(target_, own);
  ASSERT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  grpc_connectivity_state state = GRPC_CHANNEL_READY;
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (state == GRPC_CHANNEL_READY && absl::Now() < give_up) {
    channel->WaitForStateChange(state, absl::ToChronoTime(give_up));
    state = channel->GetState(false);
  }
  EXPECT_NE(state, GRPC_CHANNEL_READY) << "the idle connection was not closed";
  EXPECT_TRUE(Call(ChannelSecurity{}).ok()) << "new calls connect again";
}

// --max-connection-age with its grace: even a stream that never ends is
// closed (UNAVAILABLE, so the caller reconnects, possibly elsewhere).
TEST_F(SecurityTest, ConnectionAgeEndsEvenEndlessStreams) {
  ServerOptions options;
  options.grpc.max_connection_age = absl::Seconds(1);
  options.grpc.max_connection_age_grace = absl::Seconds(1);
  Start(options);
  auto stub = InteractionIngest::NewStub(*ChannelSecurity{}.Channel(target_));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto stream = stub->Stream(&ctx);
  IngestResponse response;
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
      << s.error_code() << " " << s.error_message();
}

TEST(SecurityProcessTest, SighupReloadsTokensWhichAreNeverLogged) {
  auto broker = *EmbeddedBroker::Start({});
  char tmpl[] = "/tmp/feed-ingest-tokens-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string tokens = tmpl;
  std::ofstream(tokens) << "first-secret-token\n";
  testing::ServerProcess server({"--brokers=" + broker->bootstrap(), "--listen=127.0.0.1:0",
                                 "--metrics-listen=", "--auth-tokens-file=" + tokens});
  ASSERT_TRUE(server.WaitServing(absl::Seconds(30))) << server.Log();
  auto call = [&](const std::string& token) {
    ChannelSecurity security;
    security.token = token;
    auto stub = InteractionIngest::NewStub(*security.Channel(server.grpc_target()));
    IngestRequest request;
    *request.add_interactions() = testing::MakeInteraction("u", "v", "e");
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    security.Decorate(&ctx);
    IngestResponse response;
    return stub->Ingest(&ctx, request, &response).error_code();
  };
  EXPECT_EQ(call("first-secret-token"), grpc::StatusCode::OK);
  std::ofstream(tokens, std::ios::trunc) << "second-secret-token\n";
  server.Signal(SIGHUP);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server.Log().find("tokens reloaded") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(call("first-secret-token"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("second-secret-token"), grpc::StatusCode::OK);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(absl::Seconds(30)), 0);
  const std::string log = server.Log();
  EXPECT_EQ(log.find("secret-token"), std::string::npos) << log;
  EXPECT_NE(log.find("auth_tokens=\"1 loaded\""), std::string::npos) << log;
  unlink(tokens.c_str());
}

}  // namespace
}  // namespace feed_ingest
