// feed-ingest-client: send interactions to feed-ingest, and read the topic.
//
//   feed-ingest-client send --target=127.0.0.1:50051 --count=10
//   feed-ingest-client send --file=events.jsonl        (or --file=- for stdin)
//   feed-ingest-client tail --brokers=127.0.0.1:9092 --max-records=10
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "channel_security.h"
#include "common/flag_set.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "interactions_source.h"
#include "load_generator.h"
#include "msk/aws_region.h"
#include "msk/credentials_chain.h"
#include "msk/msk_token.h"
#include "topic_tail.h"

extern char** environ;

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::InteractionIngest;
using ::feed::interactions::v1::RejectionCode_Name;

constexpr char kUsage[] =
    "feed-ingest-client: talks to feed-ingest and reads its topic.\n\n"
    "Usage:\n"
    "  feed-ingest-client send [flags]   send interactions, print what was accepted\n"
    "  feed-ingest-client tail [flags]   print the topic's records\n"
    "  feed-ingest-client load [flags]   load test: throughput and ack latency\n"
    "  feed-ingest-client health [flags] gRPC health check; exit 0 when SERVING\n"
    "  feed-ingest-client msk-token --region R [--at TIME]  print an MSK IAM token\n\n"
    "  feed-ingest-client COMMAND --help lists a command's flags.\n";

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "feed-ingest-client: %s\n", std::string(s.message()).c_str());
  return 2;
}

absl::Status ReadRequests(const std::string& file, int64_t count, int64_t batch, int64_t users,
                          std::vector<IngestRequest>* out) {
  uint64_t sequence = 0;
  auto next = [&]() -> IngestRequest& {
    if (out->empty() || out->back().interactions_size() >= batch) {
      out->emplace_back();
      out->back().set_sequence(++sequence);
    }
    return out->back();
  };
  if (file.empty()) {
    const absl::Time now = absl::Now();
    for (int64_t i = 0; i < count; ++i) {
      *next().add_interactions() =
          SyntheticInteraction(static_cast<uint64_t>(i), static_cast<uint64_t>(users), now);
    }
    return absl::OkStatus();
  }
  std::FILE* f = file == "-" ? stdin : std::fopen(file.c_str(), "r");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", file));
  char* line = nullptr;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0;
  absl::Status status;
  while ((len = getline(&line, &cap, f)) >= 0) {
    ++lineno;
    absl::string_view text(line, static_cast<size_t>(len));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (text.empty()) continue;
    auto item = ParseSeedJson(text);
    if (!item.ok()) {
      status = absl::InvalidArgumentError(
          absl::StrCat(file, ":", lineno, ": ", item.status().message()));
      break;
    }
    *next().add_interactions() = *std::move(item);
  }
  std::free(line);
  if (f != stdin) std::fclose(f);
  return status;
}

struct Totals {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t failed_calls = 0;
};

void Report(const IngestRequest& request, const IngestResponse& response, Totals* totals) {
  totals->accepted += response.accepted();
  totals->rejected += static_cast<uint64_t>(response.rejected_size());
  std::printf("sequence=%llu items=%d accepted=%u rejected=%d\n",
              static_cast<unsigned long long>(response.sequence()), request.interactions_size(),
              response.accepted(), response.rejected_size());
  for (const auto& r : response.rejected()) {
    std::printf("  index=%u code=%s message=%s\n", r.index(), RejectionCode_Name(r.code()).c_str(),
                r.message().c_str());
  }
}

int Send(int argc, char** argv) {
  std::string target = "127.0.0.1:50051";
  std::string file;
  int64_t count = 10, batch = 100, users = 1000;
  bool stream = false;
  absl::Duration timeout = absl::Seconds(30);
  FlagSet flags("feed-ingest-client send", "FEED_INGEST_CLIENT_");
  flags.String("target", &target, "feed-ingest gRPC address");
  flags.Int("count", &count, "synthetic interactions to send (without --file)", 1, 1LL << 40);
  flags.Int("batch", &batch, "interactions per request", 1, 100000);
  flags.Int("users", &users, "distinct synthetic users", 1, 1LL << 40);
  flags.String("file", &file, "JSON lines in the topic's schema (- for stdin)");
  flags.Bool("stream", &stream, "use one Stream call instead of unary Ingest calls");
  flags.Duration("timeout", &timeout, "deadline of each call");
  ChannelSecurity security;
  security.Register(&flags);
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok()) return Fail(s);
  if (flags.help()) {
    std::printf("Usage: feed-ingest-client send [flags]\n\n%s", flags.Usage().c_str());
    return 0;
  }
  auto channel = security.Channel(target);
  if (!channel.ok()) return Fail(channel.status());
  std::vector<IngestRequest> requests;
  if (auto s = ReadRequests(file, count, batch, users, &requests); !s.ok()) return Fail(s);

  auto stub =
      InteractionIngest::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  Totals totals;
  uint64_t items = 0;
  for (const auto& r : requests) items += static_cast<uint64_t>(r.interactions_size());
  if (!stream) {
    for (const IngestRequest& request : requests) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
      security.Decorate(&ctx);
      IngestResponse response;
      grpc::Status status = stub->Ingest(&ctx, request, &response);
      if (!status.ok()) {
        ++totals.failed_calls;
        std::printf(
            "sequence=%llu items=%d error=%s message=%s\n",
            static_cast<unsigned long long>(request.sequence()), request.interactions_size(),
            absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
            status.error_message().c_str());
        continue;
      }
      Report(request, response, &totals);
    }
  } else {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    security.Decorate(&ctx);
    auto call = stub->Stream(&ctx);
    std::thread writer([&] {
      for (const IngestRequest& request : requests) {
        if (!call->Write(request)) break;
      }
      call->WritesDone();
    });
    IngestResponse response;
    while (call->Read(&response)) {
      Report(requests[response.sequence() - 1], response, &totals);
    }
    writer.join();
    grpc::Status status = call->Finish();
    if (!status.ok()) {
      ++totals.failed_calls;
      std::printf(
          "stream error=%s message=%s\n",
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
          status.error_message().c_str());
    }
  }
  std::printf("total: items=%llu accepted=%llu rejected=%llu failed_calls=%llu\n",
              static_cast<unsigned long long>(items),
              static_cast<unsigned long long>(totals.accepted),
              static_cast<unsigned long long>(totals.rejected),
              static_cast<unsigned long long>(totals.failed_calls));
  return totals.failed_calls == 0 ? 0 : 1;
}

int Tail(int argc, char** argv) {
  TailOptions options;
  bool from_end = false;
  std::vector<std::string> kafka_config;
  FlagSet flags("feed-ingest-client tail", "FEED_INGEST_CLIENT_");
  flags.String("brokers", &options.brokers, "Kafka bootstrap servers");
  flags.String("topic", &options.topic, "topic to read");
  flags.Int("max-records", &options.max_records, "stop after this many records (0: no limit)", 0,
            INT64_MAX);
  flags.Duration("idle-timeout", &options.idle_timeout, "stop after this long with no record");
  flags.Bool("from-end", &from_end, "only records written from now on");
  flags.Repeated("kafka-config", &kafka_config, "librdkafka property key=value");
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok()) return Fail(s);
  if (flags.help()) {
    std::printf("Usage: feed-ingest-client tail [flags]\n\n%s", flags.Usage().c_str());
    return 0;
  }
  if (options.brokers.empty()) return Fail(absl::InvalidArgumentError("--brokers is required"));
  for (const std::string& kv : kafka_config) {
    std::string k, v;
    if (auto s = SplitKeyValue(kv, &k, &v); !s.ok()) return Fail(s);
    options.kafka_config.emplace_back(k, v);
  }
  options.from_beginning = !from_end;
  absl::Status s = TailTopic(options, [](const TailedRecord& r) {
    std::printf("%s\n", FormatTailedRecord(r).c_str());
    std::fflush(stdout);
    return true;
  });
  return s.ok() ? 0 : Fail(s);
}

int Load(int argc, char** argv) {
  LoadOptions o;
  std::string rate = "0";
  bool json = false, quiet = false;
  FlagSet flags("feed-ingest-client load", "FEED_INGEST_CLIENT_");
  flags.String("target", &o.target, "feed-ingest gRPC address");
  flags.Bool("stream", &o.stream, "use Stream calls instead of unary Ingest calls");
  flags.Int("concurrency", &o.concurrency, "unary calls in flight, or open streams", 1, 100000);
  flags.Int("stream-window", &o.stream_window, "requests in flight per stream", 1, 100000);
  flags.Int("batch", &o.batch, "interactions per request", 1, 100000);
  flags.String("rate", &rate, "events per second, open loop; 0 = as fast as acks allow");
  flags.Duration("duration", &o.duration, "how long to send");
  flags.Int("count", &o.max_events, "stop after this many events (0: duration only)", 0, INT64_MAX);
  flags.Int("users", &o.users, "distinct synthetic users", 1, INT64_MAX);
  flags.Int("threads", &o.threads, "client threads", 1, 256);
  flags.Int("channels", &o.channels, "HTTP/2 connections", 1, 256);
  flags.Duration("deadline", &o.deadline, "deadline of each call");
  flags.Bool("json", &json, "print the final report as one JSON object");
  flags.Bool("quiet", &quiet, "no progress lines");
  o.security.Register(&flags);
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok()) return Fail(s);
  if (flags.help()) {
    std::printf("Usage: feed-ingest-client load [flags]\n\n%s", flags.Usage().c_str());
    return 0;
  }
  if (!absl::SimpleAtod(rate, &o.rate) || o.rate < 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--rate: \"", rate, "\" is not >= 0")));
  }
  LoadReport report = RunLoad(o, [quiet](const LoadProgress& p) {
    if (quiet) return;
    std::fprintf(stderr, "[%5.1fs] events/s=%.0f p50=%.2fms p99=%.2fms errors=%llu\n", p.elapsed_s,
                 p.events_per_s, p.p50_ms, p.p99_ms, static_cast<unsigned long long>(p.errors));
  });
  if (json) {
    std::printf("%s\n", report.ToJson().c_str());
  } else {
    std::printf("%s", report.ToText().c_str());
  }
  return report.calls_failed == 0 ? 0 : 1;
}

int Health(int argc, char** argv) {
  std::string target = "127.0.0.1:50051";
  std::string service;
  absl::Duration timeout = absl::Seconds(3);
  FlagSet flags("feed-ingest-client health", "FEED_INGEST_CLIENT_");
  flags.String("target", &target, "feed-ingest gRPC address");
  flags.String("service", &service, "service name to check (empty: the whole server)");
  flags.Duration("timeout", &timeout, "deadline of the check");
  ChannelSecurity security;
  security.Register(&flags);
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok()) return Fail(s);
  if (flags.help()) {
    std::printf("Usage: feed-ingest-client health [flags]\n\n%s", flags.Usage().c_str());
    return 0;
  }
  // grpc.health.v1.HealthCheckRequest{service} and HealthCheckResponse{status},
  // encoded by hand: the health proto is not part of this build.
  std::string request;
  if (!service.empty()) {
    if (service.size() > 127) return Fail(absl::InvalidArgumentError("--service: too long"));
    request = std::string("\x0a") + static_cast<char>(service.size()) + service;
  }
  auto channel = security.Channel(target);
  if (!channel.ok()) return Fail(channel.status());
  grpc::GenericStub stub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  security.Decorate(&ctx);
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer in(&slice, 1), out;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", {}, &in, &out, [&](grpc::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    status = std::move(s);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) {
    std::printf("UNREACHABLE %s\n", status.error_message().c_str());
    return 2;
  }
  std::vector<grpc::Slice> slices;
  std::string reply;
  if (out.Dump(&slices).ok()) {
    for (const auto& s : slices) reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  const int code = reply.size() == 2 && reply[0] == 0x08 ? reply[1] : 0;
  static constexpr const char* kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
  std::printf("%s\n", kNames[code >= 0 && code <= 3 ? code : 0]);
  return code == 1 ? 0 : 1;
}

int MskToken(int argc, char** argv) {
  std::string region = msk::AwsRegionFromEnvironment(msk::ProcessEnvironment()).value_or("");
  std::string at;
  FlagSet flags("feed-ingest-client msk-token", "FEED_INGEST_CLIENT_");
  flags.String("region", &region, "AWS region of the MSK cluster");
  flags.String("at", &at, "sign at this RFC 3339 time instead of now (for debugging)");
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok()) return Fail(s);
  if (flags.help()) {
    std::printf(
        "Usage: feed-ingest-client msk-token [flags]\n\nPrints the token the "
        "server would hand librdkafka, for the credentials found the usual way\n"
        "(environment, shared files, container, instance metadata).\n\n%s",
        flags.Usage().c_str());
    return 0;
  }
  if (region.empty()) return Fail(absl::InvalidArgumentError("--region is required"));
  absl::Time when = absl::Now();
  std::string err;
  if (!at.empty() && !absl::ParseTime(absl::RFC3339_full, at, &when, &err)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--at: \"", at, "\": ", err)));
  }
  msk::DefaultCredentialsChain chain;
  absl::StatusOr<msk::AwsCredentials> credentials = chain.Get();
  if (!credentials.ok()) return Fail(credentials.status());
  absl::StatusOr<msk::MskToken> token = msk::MakeMskToken(*credentials, region, when);
  if (!token.ok()) return Fail(token.status());
  std::printf("%s\n", token->token.c_str());
  std::fprintf(stderr, "principal=%s expires=%s\n", token->principal.c_str(),
               absl::FormatTime(absl::RFC3339_full, absl::FromUnixMillis(token->lifetime_ms),
                                absl::UTCTimeZone())
                   .c_str());
  return 0;
}

}  // namespace
}  // namespace feed_ingest

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(feed_ingest::kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  // The command's own flags follow it.
  if (command == "send") return feed_ingest::Send(argc - 1, argv + 1);
  if (command == "tail") return feed_ingest::Tail(argc - 1, argv + 1);
  if (command == "load") return feed_ingest::Load(argc - 1, argv + 1);
  if (command == "health") return feed_ingest::Health(argc - 1, argv + 1);
  if (command == "msk-token") return feed_ingest::MskToken(argc - 1, argv + 1);
  std::fprintf(stderr, "feed-ingest-client: unknown command \"%s\"\n\n%s", command.c_str(),
               feed_ingest::kUsage);
  return 2;
}
