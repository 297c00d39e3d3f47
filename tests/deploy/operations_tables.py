#!/usr/bin/env python3
"""Generates the reference tables of docs/operations.md from the real thing:

- flags: `feed-ingest --help` ($FEED_INGEST_BIN): flag, environment variable,
  default, meaning;
- metrics: the /metrics page of a running feed-ingest (embedded broker, on
  127.0.0.1 with free ports), after it has served valid, invalid, unary and
  streamed interactions and one record Kafka refused (so the families that
  only appear after such events are listed too): name, type, labels, help;
- alerts: deploy/prometheus/alerts.yml: name, severity, for, summary.

Each table sits between <!-- BEGIN GENERATED: NAME --> and
<!-- END GENERATED: NAME --> markers in the document.

  python3 tests/deploy/operations_tables.py --write   # regenerate in place
  python3 tests/deploy/operations_tables.py --check   # exit 1 when stale
  python3 tests/deploy/operations_tables.py           # print the tables
"""

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_support as ds  # noqa: E402

DOC = os.path.join(ds.REPO, "docs", "operations.md")
ALERTS = os.path.join(ds.REPO, "deploy", "prometheus", "alerts.yml")


def md_escape(text):
    return str(text).replace("|", "\\|")


def flags_table():
    rows = ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for f in ds.server_flags().values():
        flag = "`--%s%s`" % (f.name, "=VALUE" if f.takes_value else "")
        default = "`%s`" % f.default if f.default not in (None, "") else ""
        rows.append("| %s | `%s` | %s | %s |" % (flag, f.env, md_escape(default), md_escape(f.help)))
    return "\n".join(rows)


# --- a live server's /metrics ---------------------------------------------------

def scrape_live_metrics(timeout=30.0):
    """Starts feed-ingest with its embedded broker, drives traffic through it,
    returns its /metrics text, stops it with SIGTERM (which must exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEED_INGEST_")}
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "stderr")
        with open(log_path, "w") as log:
            # --max-id-bytes lets one record exceed message.max.bytes, so Kafka
            # refuses it and the delivery-failure family appears.
            server = subprocess.Popen(
                [ds.server_bin(), "--brokers=embedded", "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
                 "--max-id-bytes=4096", "--kafka-config=message.max.bytes=1000",
                 # Far above the load: their metrics are there, nothing is held back.
                 "--default-quota=10000000/10000000", "--hot-key-limit=10000000"],
                stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            deadline = time.monotonic() + timeout
            text = ""
            while time.monotonic() < deadline:
                with open(log_path) as f:
                    text = f.read()
                if "msg=serving" in text:
                    break
                if server.poll() is not None:
                    raise RuntimeError("feed-ingest exited %d:\n%s" % (server.returncode, text))
                time.sleep(0.05)
            else:
                raise RuntimeError("feed-ingest did not start:\n" + text)
            grpc = re.search(r"grpc_listen=(\S+)", text).group(1)
            metrics = re.search(r"metrics_listen=(\S+)", text).group(1)

            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            lines = [
                '{"userId":"u1","videoId":"v1","interactionType":"view","watchTime":1200,'
                '"timestamp":"%s","eventId":"ops-1"}' % now,
                '{"userId":"u2","videoId":"v2","interactionType":"teleport","watchTime":1,'
                '"timestamp":"%s"}' % now,
                '{"userId":"%s","videoId":"v3","interactionType":"like","watchTime":0,'
                '"timestamp":"%s"}' % ("u" * 2000, now),
            ]
            client = ds.client_bin()
            subprocess.run([client, "send", "--target=" + grpc, "--file=-"],
                           input="\n".join(lines) + "\n", text=True, capture_output=True,
                           timeout=60, env=env)
            subprocess.run([client, "send", "--target=" + grpc, "--count=50", "--batch=10"],
                           capture_output=True, timeout=60, env=env, check=True)
            subprocess.run([client, "send", "--target=" + grpc, "--count=50", "--batch=10",
                            "--stream"], capture_output=True, timeout=60, env=env, check=True)
            # librdkafka's statistics (broker state, RTT, batches) come every
            # 2 s; wait until they cover the traffic above.
            wanted = ("feed_ingest_kafka_broker_up{", "feed_ingest_kafka_batch_messages{",
                      "feed_ingest_kafka_delivery_failures_total{")
            deadline = time.monotonic() + 20
            time.sleep(2.1)
            while True:
                with urllib.request.urlopen("http://%s/metrics" % metrics, timeout=10) as r:
                    body = r.read().decode("utf-8")
                if all(w in body for w in wanted) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                rc = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                raise
        if rc != 0:
            raise RuntimeError("feed-ingest exited %d on SIGTERM" % rc)
        return body


def parse_metrics(text):
    """[(name, type, help, sorted label names)] in page order."""
    families, order = {}, []
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)$", line)
        if m:
            fam = families.setdefault(m.group(2), {"help": "", "type": "", "labels": set()})
            if m.group(2) not in order:
                order.append(m.group(2))
            fam["help" if m.group(1) == "HELP" else "type"] = m.group(3)
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ", line)
        if not m:
            continue
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        fam = families.get(name) or families.get(base)
        if fam is None:
            continue
        for label in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""):
            if label not in ("le", "quantile"):
                fam["labels"].add(label)
    # feed_ingest_* first, then process_*, each by name: a stable order.
    order.sort(key=lambda n: (not n.startswith("feed_ingest_"), n))
    return [(n, families[n]["type"], families[n]["help"], sorted(families[n]["labels"]))
            for n in order]


def metrics_table(text=None):
    if text is None:
        text = scrape_live_metrics()
    rows = ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
    for name, type_, help_, labels in parse_metrics(text):
        rows.append("| `%s` | %s | %s | %s |" % (
            name, type_, ", ".join("`%s`" % l for l in labels), md_escape(help_)))
    return "\n".join(rows)


def alerts_table():
    import yaml
    with open(ALERTS) as f:
        groups = yaml.safe_load(f)["groups"]
    rows = ["| alert | severity | for | summary |", "| --- | --- | --- | --- |"]
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            # {{ $labels.instance }} -> INSTANCE, {{ $labels.caller }} -> CALLER.
            summary = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: m.group(1).upper(),
                             rule["annotations"]["summary"])
            summary = re.sub(r"\{\{[^}]*\}\}", "VALUE", summary)
            rows.append("| [%s](#%s) | %s | %s | %s |" % (
                rule["alert"], rule["alert"].lower(), rule["labels"].get("severity", ""),
                rule.get("for", "0s"), md_escape(summary)))
    return "\n".join(rows)


def alert_names():
    import yaml
    with open(ALERTS) as f:
        groups = yaml.safe_load(f)["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


def generate():
    return {"flags": flags_table(), "metrics": metrics_table(), "alerts": alerts_table()}


def splice(doc, tables):
    for name, table in tables.items():
        pattern = re.compile(r"(<!-- BEGIN GENERATED: %s -->\n)(?:.*?\n)?(<!-- END GENERATED: %s -->)"
                             % (name, name), re.S)
        if not pattern.search(doc):
            raise RuntimeError("docs/operations.md has no GENERATED: %s markers" % name)
        doc = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), doc)
    return doc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update docs/operations.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when docs/operations.md is stale")
    args = parser.parse_args()
    tables = generate()
    if not (args.write or args.check):
        for name, table in tables.items():
            print("## %s\n\n%s\n" % (name, table))
        return 0
    with open(DOC, encoding="utf-8") as f:
        current = f.read()
    updated = splice(current, tables)
    if args.write:
        if updated != current:
            with open(DOC, "w", encoding="utf-8") as f:
                f.write(updated)
        print("docs/operations.md %s" % ("updated" if updated != current else "up to date"))
        return 0
    if updated != current:
        print("docs/operations.md is stale: run python3 tests/deploy/operations_tables.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
