// feed-ingest-client: send interactions to feed-ingest, and read the topic.
//
//   feed-ingest-client send --target=127.0.0.1:50051 --count=10
//   feed-ingest-client send --file=events.jsonl        (or --file=- for stdin)
//   feed-ingest-client tail --brokers=127.0.0.1:9092 --max-records=10
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "feed/interactions/v1/interactions.grpc.pb.h"
#include "flag_set.h"
#include "grpcpp/grpcpp.h"
#include "interactions_source.h"
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
    "  feed-ingest-client tail [flags]   print the topic's records\n\n"
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
  std::vector<std::string> rest;
  if (auto s = flags.Parse(argc, argv, environ, &rest); !s.ok()) return Fail(s);
  if (flags.help()) {
    std::printf("Usage: feed-ingest-client send [flags]\n\n%s", flags.Usage().c_str());
    return 0;
  }
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
  int64_t max_records = 0;
  bool from_end = false;
  std::vector<std::string> kafka_config;
  FlagSet flags("feed-ingest-client tail", "FEED_INGEST_CLIENT_");
  flags.String("brokers", &options.brokers, "Kafka bootstrap servers");
  flags.String("topic", &options.topic, "topic to read");
  flags.Int("max-records", &max_records, "stop after this many records (0: no limit)", 0,
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
  options.max_records = static_cast<uint64_t>(max_records);
  options.from_beginning = !from_end;
  absl::Status s = TailTopic(options, [](const TailedRecord& r) {
    std::printf("%s\n", FormatTailedRecord(r).c_str());
    std::fflush(stdout);
    return true;
  });
  return s.ok() ? 0 : Fail(s);
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
  std::fprintf(stderr, "feed-ingest-client: unknown command \"%s\"\n\n%s", command.c_str(),
               feed_ingest::kUsage);
  return 2;
}
