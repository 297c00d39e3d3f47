#!/usr/bin/env python3
"""Keeps docs/operations.md, docs/streaming.md and docs/serverpod.md true to
the code:

- the generated tables of docs/operations.md (flags from `feed-ingest
  --help`, metrics from a running server's /metrics, alerts from
  deploy/prometheus/alerts.yml) are current: this starts feed-ingest with its
  embedded broker on 127.0.0.1, sends it a few interactions and stops it;
- every alert has its own "what to do" section;
- every `--flag` and FEED_INGEST_* name the guides mention is real, and the
  defaults they quote are the binary's;
- the Dart in docs/serverpod.md and docs/streaming.md uses the contract's real
  names (service, methods, fields, enum values), and no guide tells anyone to
  depend on a serverpod_kafka package.

Run: /usr/bin/python3 tests/deploy/test_docs.py
"""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_support as ds  # noqa: E402
import operations_tables  # noqa: E402

DOCS = {name: os.path.join(ds.REPO, "docs", name)
        for name in ("operations.md", "streaming.md", "serverpod.md")}
PROTO = os.path.join(ds.REPO, "proto", "feed", "interactions", "v1", "interactions.proto")

# Defaults the guides quote, as `feed-ingest --help` prints them.
QUOTED_DEFAULTS = {
    "listen": "0.0.0.0:50051",
    "metrics-listen": "0.0.0.0:9464",
    "max-batch": "1000",
    "stream-window": "256",
    "shutdown-timeout": "30s",
    "keepalive-min-ping-interval": "10s",
    "keepalive-time": "5m",
    "keepalive-timeout": "20s",
    "max-connection-idle": "15m",
    "max-connection-age": "1h",
    "max-connection-age-grace": "5m",
    "max-receive-message-bytes": "4194304",
    "topic": "feed.interactions.v1",
    "dedup-window": "10m",
    "dedup-store": "memory",
    "dedup-max-entries": "1000000",
    "dedup-on-store-error": "write",
}

# Flags of other tools that the guides show (protoc, kafka-topics.sh, ...).
OTHER_TOOLS_FLAGS = {"write", "check", "build", "help"}


def read(name):
    with open(DOCS[name], encoding="utf-8") as f:
        return f.read()


def snake_to_camel(name):
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


class OperationsDoc(unittest.TestCase):
    def test_generated_tables_are_current(self):
        current = read("operations.md")
        updated = operations_tables.splice(current, operations_tables.generate())
        if updated != current:
            import difflib
            diff = "\n".join(difflib.unified_diff(current.splitlines(), updated.splitlines(),
                                                  "docs/operations.md", "generated", lineterm="",
                                                  n=0))
            self.fail("docs/operations.md is stale; run "
                      "python3 tests/deploy/operations_tables.py --write\n" + diff[:4000])

    def test_every_alert_has_a_runbook_section(self):
        text = read("operations.md")
        for alert in operations_tables.alert_names():
            with self.subTest(alert=alert):
                self.assertRegex(text, r"(?m)^### %s$" % re.escape(alert))

    def test_health_endpoints_documented(self):
        text = read("operations.md")
        for path in ("/healthz", "/readyz", "/metrics", "grpc.health.v1"):
            self.assertIn(path, text)


class Guides(unittest.TestCase):
    def test_flags_mentioned_exist(self):
        server = {f.name for f in ds.server_flags().values()}
        client = {f.name for f in ds.client_flags().values()}
        for name in DOCS:
            text = read(name)
            for flag in set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])(?![\w-])", text)):
                with self.subTest(doc=name, flag=flag):
                    self.assertIn(flag, server | client | OTHER_TOOLS_FLAGS,
                                  "%s mentions --%s, which feed-ingest does not have" % (name, flag))
            # Whole names only: not the FEED_INGEST_<NAME> / FEED_INGEST_CLIENT_<FLAG> patterns.
            names = {m.group(0).rstrip("_") for m in re.finditer(r"FEED_INGEST_[A-Z0-9_]+", text)
                     if not text.startswith("<", m.end())}
            unknown = ds.unknown_env_names(names)
            self.assertEqual(unknown, [], name)

    def test_quoted_defaults_are_the_binarys(self):
        by_name = {f.name: f for f in ds.server_flags().values()}
        for flag, default in QUOTED_DEFAULTS.items():
            with self.subTest(flag=flag):
                self.assertEqual(by_name[flag].default, default,
                                 "the guides quote --%s's default as %s" % (flag, default))

    def test_no_serverpod_kafka_dependency(self):
        for name in DOCS:
            text = read(name)
            for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
                self.assertNotIn("serverpod_kafka", block, name)
        self.assertIn("no\n`serverpod_kafka` package", read("serverpod.md").replace("**", ""))

    def test_dart_uses_the_contracts_names(self):
        with open(PROTO, encoding="utf-8") as f:
            proto = f.read()
        fields = set(re.findall(r"^\s*(?:repeated\s+)?[\w.]+\s+(\w+)\s*=\s*\d+;", proto, re.M))
        camel = {snake_to_camel(f) for f in fields}
        enum_values = set(re.findall(r"^\s*(REJECTION_CODE_\w+)\s*=", proto, re.M))
        service = re.search(r"service (\w+)", proto).group(1)
        rpcs = set(re.findall(r"rpc (\w+)\(", proto))
        self.assertEqual(rpcs, {"Ingest", "Stream"})
        for name in ("serverpod.md", "streaming.md"):
            text = read(name)
            dart = "\n".join(re.findall(r"```dart\n(.*?)```", text, re.S))
            with self.subTest(doc=name):
                self.assertTrue(dart)
                for value in re.findall(r"REJECTION_CODE_\w+", text):
                    self.assertIn(value, enum_values)
                # Named constructor arguments of the generated messages.
                for msg in ("Interaction", "IngestRequest"):
                    for args in re.findall(r"\b%s\((.*?)\)[,;]" % msg, dart, re.S):
                        for arg in re.findall(r"(\w+):", args):
                            self.assertIn(arg, camel, "%s(%s:) is not a field" % (msg, arg))
                for attr in re.findall(r"\b(?:response|answer|r)\.(\w+)", dart):
                    self.assertIn(attr, camel | {"code", "index", "message"}, attr)
                for call in re.findall(r"stub\.(\w+)\(", dart):
                    self.assertIn(call[0].upper() + call[1:], rpcs)
        self.assertIn(service + "Client", read("serverpod.md"))
        self.assertIn("proto/feed/interactions/v1/interactions.proto"
                      .replace("proto/", "", 1), read("serverpod.md"))

    def test_streaming_guide_covers_the_hard_parts(self):
        text = read("streaming.md")
        for phrase in ("out of order", "--stream-window", "event_id", "event-id", "UNAVAILABLE",
                       "may or may not be in\n   Kafka", "RETRYABLE", "backoff"):
            self.assertIn(phrase, text)


class ArchitectureDoc(unittest.TestCase):
    """docs/architecture.md names files and functions; they must exist, so
    the map of the round trip stays true as the code moves."""

    def setUp(self):
        with open(os.path.join(ds.REPO, "docs", "architecture.md"), encoding="utf-8") as f:
            self.text = f.read()
        self.sources = {}
        for top in ("server", "tests"):
            for root, _, files in os.walk(os.path.join(ds.REPO, top)):
                if "node_modules" in root:
                    continue
                for name in files:
                    if name.endswith((".h", ".cc")):
                        path = os.path.join(root, name)
                        with open(path, encoding="utf-8") as f:
                            self.sources[os.path.relpath(path, ds.REPO)] = f.read()

    def test_files_named_exist(self):
        names = set(re.findall(r"\b([\w/]+\.(?:h|cc))\b", self.text))
        self.assertGreater(len(names), 15)
        for name in names:
            with self.subTest(file=name):
                self.assertTrue(any(p == name or p.endswith("/" + name) for p in self.sources),
                                "docs/architecture.md names %s, which does not exist" % name)

    def test_functions_named_exist(self):
        # Ours only: grpc::Server::Shutdown and the like are qualified.
        calls = set(re.findall(r"(?<![:\w])([A-Z]\w+)::(~?[A-Z]\w+)\b", self.text))
        self.assertGreater(len(calls), 10)
        code = "\n".join(self.sources.values())
        for cls, member in calls:
            with self.subTest(name="%s::%s" % (cls, member)):
                declared = re.search(r"\b(class|struct) %s\b" % re.escape(cls), code)
                self.assertTrue(declared, "no class %s" % cls)
                self.assertRegex(code, r"\b%s\b" % re.escape(member),
                                 "docs/architecture.md names %s::%s" % (cls, member))

    def test_headers_point_to_it(self):
        for header in ("server/ingest_batch.h", "server/ingest_path.h", "server/kafka_producer.h",
                       "server/unary_call.h", "server/stream_call.h"):
            with self.subTest(header=header):
                self.assertIn("docs/architecture.md", self.sources[header])


if __name__ == "__main__":
    ds.main()
