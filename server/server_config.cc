#include "server_config.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/flag_set.h"
#include "msk/aws_region.h"

namespace feed_ingest {

absl::StatusOr<ServerConfig> ParseServerConfig(int argc, char** argv, char** envp) {
  ServerConfig config;
  ServerOptions& o = config.server;
  ValidationLimits& v = o.limits;
  std::vector<std::string> kafka_config;
  std::string log_format = "text";

  FlagSet flags("feed-ingest", "FEED_INGEST_");
  flags.String("listen", &o.listen, "gRPC address, host:port (port 0 picks a free port)");
  flags.String("metrics-listen", &o.metrics_listen,
               "Prometheus /metrics address, host:port; empty disables it");
  flags.String("brokers", &o.brokers,
               "Kafka bootstrap servers, host:port,... (required); \"embedded\" starts an "
               "in-memory broker for development");
  flags.String("topic", &o.topic, "Kafka topic the records go to");
  flags.Bool("create-topic", &o.create_topic,
             "create the topic at start when it is missing (6 partitions, retention 7 days, "
             "snappy)");
  flags.Bool("content-type-header", &o.content_type_header,
             "give every record the header content-type: application/json");
  flags.Int("replication-factor", &o.replication_factor, "replication factor for --create-topic", 1,
            32);
  flags.Repeated("kafka-config", &kafka_config,
                 "librdkafka property key=value, applied over the defaults (SASL, SSL, ...)");
  flags.String("kafka-auth", &o.kafka_auth,
               "none, or msk-iam: SASL_SSL + OAUTHBEARER with AWS IAM tokens (AWS MSK)");
  // The AWS SDKs' own variables give the default region.
  o.aws_region = msk::AwsRegionFromEnvironment(msk::EnvironmentOf(envp)).value_or("");
  flags.String("aws-region", &o.aws_region,
               "AWS region of the MSK cluster (default: AWS_REGION, then AWS_DEFAULT_REGION)");
  flags.List("interaction-types", &v.interaction_types, "allowed interaction_type values");
  flags.Int("max-id-bytes", &v.max_id_bytes, "longest user_id and video_id, in bytes", 1, 1 << 20);
  flags.Int("max-event-id-bytes", &v.max_event_id_bytes, "longest event_id, in bytes", 1, 1 << 20);
  flags.Int("max-watch-time-ms", &v.max_watch_time_ms, "largest watch_time_ms", 0, INT64_MAX);
  flags.Duration("max-future", &v.max_future, "how far in the future a timestamp may be");
  flags.Duration("max-age", &v.max_age, "how old a timestamp may be");
  flags.Int("max-batch", &o.max_batch, "most interactions in one request", 1, 100000);
  flags.Int("ring-capacity", &o.ring_capacity,
            "requests waiting for the Kafka producer thread, at most", 1, 1 << 24);
  flags.Int("completion-queues", &o.service.completion_queues,
            "gRPC completion queues, one worker thread each", 1, 256);
  flags.Int("stream-window", &o.service.stream_window,
            "requests of one stream read and not yet answered, at most", 1, 1 << 20);
  flags.Duration("shutdown-timeout", &o.shutdown_timeout,
                 "longest time from SIGTERM to exit: calls answered, Kafka flushed");
  flags.Duration("startup-timeout", &o.startup_timeout,
                 "longest wait for Kafka at start before giving up");
  flags.String("log-format", &log_format, "log lines as text (logfmt) or json");
  GrpcLimits& g = o.grpc;
  flags.Int("max-receive-message-bytes", &g.max_receive_message_bytes, "largest request message",
            1024, INT32_MAX);
  flags.Int("max-concurrent-streams", &g.max_concurrent_streams, "calls at once on one connection",
            1, INT32_MAX);
  flags.Duration("keepalive-min-ping-interval", &g.min_ping_interval,
                 "clients pinging more often than this are disconnected");
  flags.Duration("keepalive-time", &g.keepalive_time, "ping an idle connection this often");
  flags.Duration("keepalive-timeout", &g.keepalive_timeout,
                 "drop a connection whose ping is not answered in this time");
  flags.Duration("max-connection-idle", &g.max_connection_idle,
                 "close connections idle this long (0: never)");
  flags.Duration("max-connection-age", &g.max_connection_age,
                 "recycle connections after this long (0: never)");
  flags.Duration("max-connection-age-grace", &g.max_connection_age_grace,
                 "time calls get to finish on a recycled connection");
  flags.Bytes("memory-limit", &o.memory_limit,
              "memory held for callers, all of it: requests, records, librdkafka's queue, "
              "answers, gRPC's buffers (peak RSS stays within it plus a fixed baseline)",
              int64_t{16} << 20);
  flags.Duration("dedup-window", &o.dedup.window,
                 "write an item once per (user_id, event_id) within this window; 0: no dedup");
  flags.String("dedup-store", &o.dedup.store,
               "where written keys are kept: memory (this process) or redis://HOST:PORT[/DB] "
               "(shared by every replica)");
  flags.Int("dedup-max-entries", &o.dedup.max_entries,
            "keys the memory store keeps, oldest first out (about 76 bytes each, part of "
            "--memory-limit)",
            1, INT64_MAX);
  flags.Duration("dedup-claim-ttl", &o.dedup.claim_ttl,
                 "Redis store: a claim left by a replica that died mid-write is taken over after "
                 "this (a live one renews its claims)");
  flags.String("dedup-on-store-error", &o.dedup.on_store_error,
               "when the dedup store cannot be reached: write (without dedup) or reject "
               "(items RETRYABLE)");
  flags.Repeated("quota", &o.quota.named,
                 "NAME=RATE[/BURST]: events per second the caller NAME may send (its token's "
                 "name, certificate common name or IP address); repeat for each caller");
  flags.String("default-quota", &o.quota.default_quota,
               "RATE[/BURST]: events per second for every caller without a --quota of its "
               "own; empty: no quota");
  flags.String("hot-key-limit", &o.hot_key.limit,
               "RATE[/BURST]: events per second one user_id may send; past it "
               "--hot-key-action applies; empty: no limit");
  flags.String("hot-key-action", &o.hot_key.action,
               "what becomes of an item over --hot-key-limit: overflow (written to "
               "--overflow-topic with the header feed-overflow: hot-key, and accepted) or "
               "reject (RETRYABLE, with the delay in its message)");
  flags.String("overflow-topic", &o.hot_key.overflow_topic,
               "Kafka topic for items over --hot-key-limit (--hot-key-action=overflow); "
               "--create-topic creates it too");
  flags.Int("hot-key-max-keys", &o.hot_key.max_keys,
            "user_ids whose bucket is kept at most (58 bytes each at most); idle ones are "
            "dropped first",
            16, int64_t{1} << 32);
  flags.String("quota-store", &o.quota.store,
               "where the callers' buckets are kept: local (each replica its own) or "
               "redis://HOST:PORT[/DB] (one bucket per caller shared by every replica; one "
               "round trip per request)");
  flags.Int("memory-quota-bytes", &g.memory_quota_bytes,
            "memory gRPC may use for all connections' buffers; 0: a quarter of --memory-limit", 0,
            INT64_MAX);
  flags.String("tls-cert", &o.security.tls_cert, "PEM certificate chain: serve gRPC over TLS");
  flags.String("tls-key", &o.security.tls_key, "PEM private key of --tls-cert");
  flags.String("tls-client-ca", &o.security.tls_client_ca,
               "PEM CA: require client certificates signed by it (mutual TLS)");
  flags.String("auth-tokens-file", &o.security.auth_tokens_file,
               "require `authorization: Bearer <token>`, tokens one per line; reread on SIGHUP");

  std::vector<std::string> positional;
  if (absl::Status s = flags.Parse(argc, argv, envp, &positional); !s.ok()) return s;
  if (flags.help()) {
    config.help = true;
    config.usage = absl::StrCat(
        "feed-ingest: takes user interactions over gRPC and writes them to Kafka.\n\n"
        "Usage: feed-ingest [flags]\n\nFlags:\n",
        flags.Usage());
    return config;
  }
  if (!positional.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", positional.front(), "\"; flags start with --"));
  }
  for (const std::string& kv : kafka_config) {
    std::string key, value;
    if (absl::Status s = SplitKeyValue(kv, &key, &value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--kafka-config: ", s.message()));
    }
    o.kafka_config.emplace_back(std::move(key), std::move(value));
  }
  if (v.interaction_types.empty()) {
    return absl::InvalidArgumentError("--interaction-types: the list is empty");
  }
  if (log_format == "json") {
    config.log_format = LogFormat::kJson;
  } else if (log_format != "text") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format: \"", log_format, "\" is not text or json"));
  }
  if (o.listen.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: \"", o.listen, "\" is not host:port"));
  }
  return config;
}

}  // namespace feed_ingest
