#!/usr/bin/python3
"""feed-ingest seen through a real Prometheus.

Starts feed-ingest (embedded broker) and a Prometheus 2.x that scrapes it every
second and loads the repository's alert rules, sends a known load with
feed-ingest-client, and then checks, through Prometheus' HTTP API:

  - the counters equal exactly what was sent (received by method, accepted,
    rejected by reason, delivered), and the histograms' counts agree;
  - every PromQL query of deploy/grafana/dashboards/feed-ingest.json evaluates
    without error and returns data (the throughput panel: a rate above 0);
  - every alert rule of deploy/prometheus/alerts.yml evaluates without error and
    is loaded with health "ok";

and, without Prometheus: the /metrics text parsed by an independent parser
(prometheus_client), /healthz and /readyz, and exit code 0 after SIGTERM.

  tests/observability/prometheus_test.py            # or: python3 ...
  FEED_INGEST_BIN=... FEED_INGEST_CLIENT_BIN=... PROMETHEUS_BIN=... (optional)

Needs: prometheus (Debian package), python3-prometheus-client, python3-yaml.
Only loopback addresses are used; every wait is bounded.
"""

import datetime
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

try:
    import yaml
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # A python3 that is not Debian's (pyenv, venv) does not see the Debian
    # packages; they are pure Python (PyYAML falls back without its C part).
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml
    from prometheus_client.parser import text_string_to_metric_families

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_BIN = os.environ.get("FEED_INGEST_BIN", os.path.join(REPO, "build", "feed-ingest"))
CLIENT_BIN = os.environ.get("FEED_INGEST_CLIENT_BIN",
                            os.path.join(REPO, "build", "feed-ingest-client"))
PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN", shutil.which("prometheus") or "prometheus")
ALERTS_YML = os.path.join(REPO, "deploy", "prometheus", "alerts.yml")
DASHBOARD_JSON = os.path.join(REPO, "deploy", "grafana", "dashboards", "feed-ingest.json")

JOB = "feed-ingest"
STARTUP_TIMEOUT_S = 30
SCRAPE_WAIT_S = 15
SHUTDOWN_TIMEOUT_S = 20

# The load. Unary: UNARY_COUNT synthetic items in batches of UNARY_BATCH.
# Stream: STREAM_COUNT in messages of STREAM_BATCH. File: FILE_VALID valid items
# and the invalid ones below, in one unary request. Oversized: one unary call
# with MAX_BATCH + 1 items, refused whole with INVALID_ARGUMENT.
UNARY_COUNT, UNARY_BATCH = 2500, 100
STREAM_COUNT, STREAM_BATCH = 1500, 50
FILE_VALID = 7
MAX_BATCH = 1000  # the server's default --max-batch
OVERSIZED = MAX_BATCH + 1
REASONS = ("user_id", "video_id", "interaction_type", "watch_time", "timestamp", "event_id",
           "kafka", "overload", "shutdown", "cancelled", "dedup_store", "quota", "hot_key")

# Panels allowed to return no series in this run: nothing fails here.
PANELS_MAY_BE_EMPTY = {"Kafka delivery failures by error"}


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def rfc3339_seconds(text):
    """Unix seconds of an RFC 3339 UTC time as Prometheus writes it (any fraction digits)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", text)
    if not m:
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}")
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() + float(m.group(2) or 0)


def file_items(now):
    """(JSON-lines items, expected rejections by reason) for the --file load."""
    def item(i, **kw):
        d = {"userId": f"obs-user-{i}", "videoId": f"obs-video-{i}", "interactionType": "view",
             "watchTime": 1000 + i, "timestamp": rfc3339(now), "eventId": f"obs-evt-{i}"}
        d.update(kw)
        return d

    invalid = {
        "user_id": [item(100, userId=""), item(101, userId="u" * 129), item(102, userId="a\tb")],
        "video_id": [item(110, videoId=""), item(111, videoId="v" * 200)],
        "interaction_type": [item(120, interactionType="bogus"), item(121, interactionType=""),
                             item(122, interactionType="VIEW"),
                             item(123, interactionType="dislike")],
        "watch_time": [item(130, watchTime=-1), item(131, watchTime=86_400_001)],
        "timestamp": [item(140, timestamp=rfc3339(now - datetime.timedelta(days=8))),
                      item(141, timestamp=rfc3339(now + datetime.timedelta(hours=1))),
                      item(142, timestamp="1970-01-01T00:00:00Z")],
        "event_id": [item(150, eventId="e" * 129), item(151, eventId="evt\u0001x")],
    }
    items = [item(i) for i in range(FILE_VALID)]
    for reason in sorted(invalid):
        items.extend(invalid[reason])
    # Interleave valid and invalid so rejections are not only at the end.
    items.sort(key=lambda d: d["userId"] + d["videoId"])
    return items, {r: len(v) for r, v in invalid.items()}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def wait_for(what, predicate, timeout, interval=0.2):
    """Polls predicate() until it returns a truthy value; fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        check_alive()
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError, KeyError) as e:  # not up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class Env:
    """What setUpModule starts; tearDownModule stops it."""
    tmp = None
    server = None
    server_log = None
    prometheus = None
    prometheus_log = None
    grpc_addr = None
    metrics_addr = None
    prom_url = None
    load_end = None        # wall time the load finished
    expected = {}          # query -> expected value
    client_results = {}    # name -> (returncode, totals dict, stdout)
    metrics_text = None    # /metrics right after the load


def check_alive():
    """Fails at once, with the log, when a process this test started has exited."""
    if Env.server is not None and Env.server.poll() is not None:
        raise AssertionError(f"feed-ingest exited (code {Env.server.returncode}) while the test "
                             f"still needed it:\n{server_log_text()[-3000:]}")
    if Env.prometheus is not None and Env.prometheus.poll() is not None:
        with open(Env.prometheus_log, errors="replace") as f:
            raise AssertionError(f"prometheus exited (code {Env.prometheus.returncode}):\n"
                                 f"{f.read()[-3000:]}")


def server_log_text():
    try:
        with open(Env.server_log, encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, TypeError):
        return ""


def prom_query(expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = Env.prom_url + "/api/v1/query?" + urllib.parse.urlencode(params)
    status, body = http_get(url, timeout=10)
    try:
        data = json.loads(body)
    except ValueError:
        data = {"status": "error", "error": f"HTTP {status}: {body[:500]}"}
    return data


def run_client(name, args, stdin_path=None, expect_rc=0):
    cmd = [CLIENT_BIN, "send", f"--target={Env.grpc_addr}", "--timeout=20s"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    m = re.search(r"^total: items=(\d+) accepted=(\d+) rejected=(\d+) failed_calls=(\d+)$",
                  out.stdout, re.M)
    totals = None
    if m:
        totals = dict(zip(("items", "accepted", "rejected", "failed_calls"),
                          (int(g) for g in m.groups())))
    Env.client_results[name] = (out.returncode, totals, out.stdout[-2000:] + out.stderr[-2000:])
    if out.returncode != expect_rc or totals is None:
        raise AssertionError(f"{' '.join(cmd)}: exit {out.returncode} (expected {expect_rc})\n"
                             f"stdout: {out.stdout[-2000:]}\nstderr: {out.stderr[-2000:]}")
    return totals


def start_server():
    Env.server_log = os.path.join(Env.tmp, "feed-ingest.log")
    with open(Env.server_log, "wb") as log:
        Env.server = subprocess.Popen(
            # A quota and a hot-key limit far above the load: their series are
            # there for the dashboard's panels, and nothing is held back.
            [SERVER_BIN, "--brokers=embedded", "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
             "--default-quota=10000000/10000000", "--hot-key-limit=10000000"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env={k: v for k, v in os.environ.items() if not k.startswith("FEED_INGEST_")})

    def serving():
        if Env.server.poll() is not None:
            raise AssertionError(f"feed-ingest exited {Env.server.returncode} before serving:\n"
                                 f"{server_log_text()[-3000:]}")
        for line in server_log_text().splitlines():
            if "msg=serving" in line:
                g = re.search(r"grpc_listen=(\S+)", line)
                m = re.search(r"metrics_listen=(\S+)", line)
                if g and m:
                    return g.group(1), m.group(1)
        return None

    Env.grpc_addr, Env.metrics_addr = wait_for("feed-ingest's msg=serving log line", serving,
                                               STARTUP_TIMEOUT_S)


def start_prometheus():
    port = free_port()
    Env.prom_url = f"http://127.0.0.1:{port}"
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [ALERTS_YML],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [Env.metrics_addr]}]}],
    }
    config_path = os.path.join(Env.tmp, "prometheus.yml")
    with open(config_path, "w") as f:
        yaml.safe_dump(config, f)
    Env.prometheus_log = os.path.join(Env.tmp, "prometheus.log")
    with open(Env.prometheus_log, "wb") as log:
        Env.prometheus = subprocess.Popen(
            [PROMETHEUS_BIN, f"--config.file={config_path}",
             f"--storage.tsdb.path={os.path.join(Env.tmp, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=Env.tmp)

    def ready():
        if Env.prometheus.poll() is not None:
            with open(Env.prometheus_log, errors="replace") as f:
                raise AssertionError(f"prometheus exited {Env.prometheus.returncode}:\n"
                                     f"{f.read()[-3000:]}")
        return http_get(Env.prom_url + "/-/ready", timeout=2)[0] == 200

    wait_for("Prometheus /-/ready", ready, STARTUP_TIMEOUT_S)


def send_load():
    u = run_client("unary", [f"--count={UNARY_COUNT}", f"--batch={UNARY_BATCH}"])
    s = run_client("stream", ["--stream", f"--count={STREAM_COUNT}", f"--batch={STREAM_BATCH}"])
    items, invalid = file_items(datetime.datetime.now(datetime.timezone.utc))
    path = os.path.join(Env.tmp, "events.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for d in items:
            f.write(json.dumps(d) + "\n")
    fl = run_client("file", [f"--file={path}", "--batch=100"])
    # Refused whole (INVALID_ARGUMENT): the client counts a failed call, exit 1.
    o = run_client("oversized", [f"--count={OVERSIZED}", f"--batch={OVERSIZED}"], expect_rc=1)
    Env.load_end = time.time()

    n_invalid = sum(invalid.values())
    n_file = len(items)
    client_expect = {
        "unary": (u, {"items": UNARY_COUNT, "accepted": UNARY_COUNT, "rejected": 0,
                      "failed_calls": 0}),
        "stream": (s, {"items": STREAM_COUNT, "accepted": STREAM_COUNT, "rejected": 0,
                       "failed_calls": 0}),
        "file": (fl, {"items": n_file, "accepted": n_file - n_invalid, "rejected": n_invalid,
                      "failed_calls": 0}),
        "oversized": (o, {"items": OVERSIZED, "accepted": 0, "rejected": 0, "failed_calls": 1}),
    }
    Env.client_expect = client_expect

    accepted = UNARY_COUNT + STREAM_COUNT + (n_file - n_invalid)
    unary_calls = -(-UNARY_COUNT // UNARY_BATCH) + 1  # + the file's one request
    stream_messages = -(-STREAM_COUNT // STREAM_BATCH)
    sel = f'job="{JOB}"'
    e = {
        f'feed_ingest_interactions_received_total{{{sel},method="Ingest"}}': UNARY_COUNT + n_file,
        f'feed_ingest_interactions_received_total{{{sel},method="Stream"}}': STREAM_COUNT,
        f"sum(feed_ingest_interactions_received_total{{{sel}}})":
            UNARY_COUNT + STREAM_COUNT + n_file,
        f"feed_ingest_interactions_accepted_total{{{sel}}}": accepted,
        f"feed_ingest_kafka_delivered_total{{{sel}}}": accepted,
        f"sum(feed_ingest_interactions_rejected_total{{{sel}}})": n_invalid,
        f"feed_ingest_delivery_latency_seconds_count{{{sel}}}": accepted,
        f"feed_ingest_event_lag_seconds_count{{{sel}}}": accepted,
        f"feed_ingest_batch_size_count{{{sel}}}": unary_calls + stream_messages,
        f"feed_ingest_batch_size_sum{{{sel}}}": UNARY_COUNT + STREAM_COUNT + n_file,
        f'feed_ingest_grpc_request_duration_seconds_count{{{sel},method="Ingest",code="OK"}}':
            unary_calls,
        f'feed_ingest_grpc_request_duration_seconds_count{{{sel},method="Ingest",'
        f'code="INVALID_ARGUMENT"}}': 1,
        f'feed_ingest_grpc_request_duration_seconds_count{{{sel},method="Stream",code="OK"}}': 1,
        f"sum(feed_ingest_grpc_inflight_calls{{{sel}}})": 0,
        f"feed_ingest_ring_depth{{{sel}}}": 0,
        f"feed_ingest_ring_capacity{{{sel}}}": 1024,
        f"feed_ingest_kafka_queue_messages{{{sel}}}": 0,
        f"feed_ingest_ready{{{sel}}}": 1,
        f'up{{{sel}}}': 1,
    }
    for r in REASONS:
        e[f'feed_ingest_interactions_rejected_total{{{sel},reason="{r}"}}'] = invalid.get(r, 0)
    # Every request that went to Kafka is timed once per stage when answered.
    for stage in ("admit", "queue", "kafka", "answer"):
        e[f'feed_ingest_stage_seconds_count{{{sel},stage="{stage}"}}'] = (unary_calls +
                                                                          stream_messages)
    Env.expected = e
    Env.metrics_text = http_get(f"http://{Env.metrics_addr}/metrics")[1]


def wait_for_scrape_after_load():
    """Until Prometheus holds a scrape that started after the load ended."""
    def scraped():
        data = prom_query(f'timestamp(up{{job="{JOB}"}})')
        res = data.get("data", {}).get("result", [])
        return res and float(res[0]["value"][1]) > Env.load_end + 0.05

    wait_for("a Prometheus scrape after the load", scraped, SCRAPE_WAIT_S)


def stop_all():
    for proc, name in ((Env.server, "feed-ingest"), (Env.prometheus, "prometheus")):
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM if name == "prometheus" else signal.SIGKILL)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    if Env.tmp and os.environ.get("KEEP_TMP") != "1":
        shutil.rmtree(Env.tmp, ignore_errors=True)


def setUpModule():
    for path in (SERVER_BIN, CLIENT_BIN):
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is not built (make build), or set FEED_INGEST_BIN / "
                                 f"FEED_INGEST_CLIENT_BIN")
    Env.tmp = tempfile.mkdtemp(prefix="feed-ingest-obs-")
    try:
        start_server()
        start_prometheus()
        # A few scrapes before the load, so rate() has a starting point.
        wait_for("two scrapes of feed-ingest",
                 lambda: prom_query(f'count_over_time(up{{job="{JOB}"}}[1m]) >= 2')["data"]["result"],
                 SCRAPE_WAIT_S)
        # librdkafka statistics (broker series) arrive every statistics.interval.ms.
        wait_for("Kafka statistics series in Prometheus",
                 lambda: prom_query(f'count_over_time(feed_ingest_kafka_broker_up{{job="{JOB}"}}[1m])'
                                    ' >= 2')["data"]["result"],
                 SCRAPE_WAIT_S)
        send_load()
        wait_for_scrape_after_load()
    except BaseException:
        print("--- feed-ingest log ---\n" + server_log_text()[-4000:], file=sys.stderr)
        stop_all()
        raise


def tearDownModule():
    stop_all()


def expand(expr, instance):
    """A Grafana query as Grafana would send it, for one $instance value."""
    for var in ("$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}",
                "$__range", "${__range}"):
        expr = expr.replace(var, "1m")
    for var in ("${instance}", "$instance", "[[instance]]"):
        expr = expr.replace(var, instance)
    return expr


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


class PrometheusSeesTheLoad(unittest.TestCase):
    maxDiff = None

    def query_ok(self, expr):
        data = prom_query(expr)
        self.assertEqual(data.get("status"), "success",
                         f"query failed:\n  {expr}\n  -> {json.dumps(data)[:1000]}")
        return data["data"]

    def test_01_client_totals(self):
        for name, (got, want) in sorted(Env.client_expect.items()):
            with self.subTest(client=name):
                self.assertEqual(got, want, f"feed-ingest-client {name}: "
                                 f"{Env.client_results[name][2]}")

    def test_02_counters_equal_the_load(self):
        for expr, want in sorted(Env.expected.items()):
            with self.subTest(query=expr):
                data = self.query_ok(expr)
                res = data["result"]
                self.assertEqual(len(res), 1,
                                 f"query:\n  {expr}\nwanted one series, got: {json.dumps(res)}")
                got = float(res[0]["value"][1])
                self.assertEqual(got, want, f"query:\n  {expr}\nwanted {want}, got {got} "
                                 f"(series {res[0]['metric']})")

    def test_03_histograms_consistent(self):
        sel = f'job="{JOB}"'
        for name in ("feed_ingest_delivery_latency_seconds", "feed_ingest_event_lag_seconds",
                     "feed_ingest_batch_size", "feed_ingest_grpc_request_duration_seconds",
                     "feed_ingest_stage_seconds"):
            with self.subTest(histogram=name):
                # +Inf bucket == _count, for every labelled series.
                expr = f'{name}_bucket{{{sel},le="+Inf"}} != ignoring(le) {name}_count{{{sel}}}'
                self.assertEqual(self.query_ok(expr)["result"], [],
                                 f"+Inf bucket differs from _count: {expr}")
                expr = f'{name}_count{{{sel}}}'
                self.assertTrue(self.query_ok(expr)["result"], f"no series: {expr}")
        # Latency can't be negative, and this load on loopback is fast.
        for q, expr in (
            ("delivery p99", f"histogram_quantile(0.99, sum by (le) (rate("
                             f"feed_ingest_delivery_latency_seconds_bucket{{{sel}}}[1m])))"),
            ("event lag p99", f"histogram_quantile(0.99, sum by (le) (rate("
                              f"feed_ingest_event_lag_seconds_bucket{{{sel}}}[1m])))"),
        ):
            with self.subTest(quantile=q):
                res = self.query_ok(expr)["result"]
                self.assertEqual(len(res), 1, f"{expr} -> {res}")
                v = float(res[0]["value"][1])
                self.assertTrue(0 < v < 10, f"{expr} -> {v}: not a plausible latency in seconds")

    def test_04_kafka_and_process_gauges_plausible(self):
        sel = f'job="{JOB}"'
        now = time.time()
        checks = [
            # (query, predicate, what it means)
            (f"sum(feed_ingest_kafka_broker_up{{{sel}}})", lambda v: v >= 1,
             "at least one embedded broker up"),
            (f"max(feed_ingest_kafka_broker_rtt_seconds{{{sel}}})", lambda v: 0 <= v < 5,
             "broker RTT in seconds (not microseconds)"),
            (f"min(feed_ingest_kafka_batch_messages{{{sel}}})", lambda v: v >= 0,
             "batch messages >= 0"),
            (f"min(feed_ingest_kafka_batch_bytes{{{sel}}})", lambda v: v >= 0,
             "batch bytes >= 0"),
            (f"sum(feed_ingest_kafka_request_errors_total{{{sel}}})", lambda v: v >= 0,
             "request errors exported"),
            (f"sum(feed_ingest_kafka_request_retries_total{{{sel}}})", lambda v: v >= 0,
             "request retries exported"),
            (f"sum(feed_ingest_kafka_request_timeouts_total{{{sel}}})", lambda v: v >= 0,
             "request timeouts exported"),
            (f"process_cpu_seconds_total{{{sel}}}", lambda v: 0 < v < 3600,
             "CPU seconds used, > 0"),
            (f"process_resident_memory_bytes{{{sel}}}", lambda v: 1e6 < v < 1e11,
             "resident memory in bytes"),
            (f"process_virtual_memory_bytes{{{sel}}}", lambda v: 1e6 < v < 1e14,
             "virtual memory in bytes"),
            (f"process_open_fds{{{sel}}}", lambda v: 3 <= v < 100000, "open fds"),
            (f"process_max_fds{{{sel}}} >= process_open_fds{{{sel}}}", lambda v: v > 0,
             "max fds >= open fds"),
            (f"process_start_time_seconds{{{sel}}}", lambda v: now - 300 < v <= now,
             "start time: Unix seconds, within this test"),
            (f'count(feed_ingest_build_info{{{sel},version!="",grpc!="",librdkafka!=""}} == 1)',
             lambda v: v == 1, "build_info with version, grpc, librdkafka"),
        ]
        for expr, ok, what in checks:
            with self.subTest(query=expr):
                res = self.query_ok(expr)["result"]
                self.assertTrue(res, f"query:\n  {expr}\nreturned no series ({what})")
                v = float(res[0]["value"][1])
                self.assertTrue(ok(v), f"query:\n  {expr}\n-> {v}: expected {what}")
        for stat in ("feed_ingest_kafka_batch_messages", "feed_ingest_kafka_batch_bytes"):
            with self.subTest(stat=stat):
                res = self.query_ok(f"{stat}{{{sel}}}")["result"]
                self.assertEqual(sorted(r["metric"].get("stat") for r in res), ["avg", "p99"],
                                 f"{stat}: {res}")

    def test_05_dashboard_queries(self):
        with open(DASHBOARD_JSON) as f:
            dash = json.load(f)
        self.assertEqual(dash.get("uid"), "feed-ingest")
        instance = Env.metrics_addr
        panels = [p for p in all_panels(dash["panels"]) if p.get("type") != "row"]
        self.assertGreaterEqual(len(panels), 10)
        n_queries = 0
        for p in panels:
            self.assertEqual(p.get("datasource", {}).get("uid"), "prometheus", p["title"])
            self.assertTrue(p.get("targets"), f"panel {p['title']!r} has no query")
            for t in p["targets"]:
                self.assertEqual(t.get("datasource", {}).get("uid"), "prometheus", p["title"])
                for value in (".*", instance):
                    expr = expand(t["expr"], value)
                    n_queries += 1
                    with self.subTest(panel=p["title"], ref=t["refId"], instance=value):
                        self.assertNotIn("$", expr, f"unexpanded variable in {expr}")
                        res = self.query_ok(expr)["result"]
                        if p["title"] not in PANELS_MAY_BE_EMPTY:
                            self.assertTrue(res, f"panel {p['title']!r} query {t['refId']}:\n"
                                            f"  {expr}\nreturned no series")
        self.assertGreater(n_queries, 20)
        # Annotations and the $instance variable's own query.
        for a in dash.get("annotations", {}).get("list", []):
            if a.get("expr"):
                with self.subTest(annotation=a["name"]):
                    self.query_ok(expand(a["expr"], ".*"))
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query", {})
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q or "")
            self.assertTrue(m, f"variable {v['name']}: unexpected query {q!r}")
            url = (f"{Env.prom_url}/api/v1/label/{m.group(2)}/values?"
                   + urllib.parse.urlencode({"match[]": m.group(1)}))
            status, body = http_get(url)
            self.assertEqual(status, 200, f"{url}: {body[:500]}")
            self.assertIn(instance, json.loads(body)["data"],
                          f"variable {v['name']} ({q}) does not list {instance}: {body[:500]}")

    def test_06_throughput_panel_shows_the_load(self):
        with open(DASHBOARD_JSON) as f:
            dash = json.load(f)
        panel = next(p for p in all_panels(dash["panels"])
                     if p.get("type") != "row" and p.get("title") == "Throughput")
        legends = set()
        for t in panel["targets"]:
            expr = expand(t["expr"], ".*")
            with self.subTest(query=expr):
                res = self.query_ok(expr)["result"]
                self.assertTrue(res, f"{expr}: no data")
                for r in res:
                    legends.add(re.sub(r"\{\{(\w+)\}\}",
                                       lambda m: r["metric"].get(m.group(1), ""),
                                       t["legendFormat"]))
                    self.assertGreater(float(r["value"][1]), 0,
                                       f"{expr}: {r['metric']} rate is 0 right after the load")
        self.assertEqual(legends, {"received Ingest", "received Stream", "accepted",
                                   "delivered to Kafka"})

    def test_07_alert_rules_evaluate(self):
        with open(ALERTS_YML) as f:
            rules = yaml.safe_load(f)
        group = next(g for g in rules["groups"] if g["name"] == "feed-ingest")
        names = [r["alert"] for r in group["rules"]]
        for r in group["rules"]:
            with self.subTest(alert=r["alert"]):
                self.query_ok(r["expr"])
        # Loaded, and evaluated (health ok) after the load.
        def evaluated():
            status, body = http_get(Env.prom_url + "/api/v1/rules")
            groups = json.loads(body)["data"]["groups"]
            g = next(g for g in groups if g["name"] == "feed-ingest")
            oldest = min(rfc3339_seconds(r["lastEvaluation"]) for r in g["rules"])
            return g if oldest > Env.load_end else None
        g = wait_for("an evaluation of the rules after the load", evaluated, 10)
        loaded = {r["name"]: r for r in g["rules"]}
        self.assertEqual(sorted(loaded), sorted(names))
        for name, r in sorted(loaded.items()):
            with self.subTest(rule=name):
                self.assertEqual(r["health"], "ok", f"{name}: {json.dumps(r)[:1000]}")
                self.assertEqual(r["type"], "alerting")
                self.assertNotEqual(r["state"], "firing", f"{name} fires on a healthy service: "
                                    f"{json.dumps(r.get('alerts'))[:1000]}")
        for name in ("FeedIngestInstanceDown", "FeedIngestKafkaUnreachable",
                     "FeedIngestDeliveryFailures", "FeedIngestRingSaturated",
                     "FeedIngestOverload", "FeedIngestDeliveryLatencyHigh",
                     "FeedIngestEventLagHigh"):
            with self.subTest(inactive=name):
                self.assertEqual(loaded[name]["state"], "inactive",
                                 f"{name}: {json.dumps(loaded[name])[:1000]}")

    def test_08_metrics_text_parses(self):
        text = Env.metrics_text
        self.assertTrue(text, "empty /metrics")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        # prometheus_client names a counter family without its _total suffix.
        expected = {
            "feed_ingest_interactions_received": ("counter", {"method"}),
            "feed_ingest_interactions_accepted": ("counter", set()),
            "feed_ingest_interactions_rejected": ("counter", {"reason"}),
            "feed_ingest_kafka_delivered": ("counter", set()),
            "feed_ingest_kafka_request_errors": ("counter", {"broker"}),
            "feed_ingest_kafka_request_retries": ("counter", {"broker"}),
            "feed_ingest_kafka_request_timeouts": ("counter", {"broker"}),
            "process_cpu_seconds": ("counter", set()),
            "feed_ingest_delivery_latency_seconds": ("histogram", set()),
            "feed_ingest_event_lag_seconds": ("histogram", set()),
            "feed_ingest_batch_size": ("histogram", set()),
            "feed_ingest_grpc_request_duration_seconds": ("histogram", {"method", "code"}),
            "feed_ingest_stage_seconds": ("histogram", {"stage"}),
            "feed_ingest_caller_events": ("counter", {"caller", "result"}),
            "feed_ingest_hot_key_events": ("counter", {"action"}),
            "feed_ingest_ring_depth": ("gauge", set()),
            "feed_ingest_ring_capacity": ("gauge", set()),
            "feed_ingest_kafka_queue_messages": ("gauge", set()),
            "feed_ingest_grpc_inflight_calls": ("gauge", {"method"}),
            "feed_ingest_kafka_broker_up": ("gauge", {"broker"}),
            "feed_ingest_kafka_broker_rtt_seconds": ("gauge", {"broker"}),
            "feed_ingest_kafka_batch_messages": ("gauge", {"stat"}),
            "feed_ingest_kafka_batch_bytes": ("gauge", {"stat"}),
            "feed_ingest_ready": ("gauge", set()),
            "feed_ingest_build_info": ("gauge", {"version", "grpc", "librdkafka"}),
            "process_resident_memory_bytes": ("gauge", set()),
            "process_virtual_memory_bytes": ("gauge", set()),
            "process_open_fds": ("gauge", set()),
            "process_max_fds": ("gauge", set()),
            "process_start_time_seconds": ("gauge", set()),
        }
        for name, (mtype, labels) in sorted(expected.items()):
            with self.subTest(family=name):
                self.assertIn(name, families, f"family {name} missing from /metrics")
                fam = families[name]
                self.assertEqual(fam.type, mtype, f"{name}: TYPE {fam.type}, wanted {mtype}")
                self.assertTrue(fam.samples, f"{name}: no samples")
                for s in fam.samples:
                    got = set(s.labels) - {"le"}
                    self.assertEqual(got, labels, f"{name}: sample {s}")
                    self.assertFalse(math.isnan(s.value), f"{name}: NaN in {s}")
        # Failures appear only when they happen; when present, a labelled counter.
        if "feed_ingest_kafka_delivery_failures" in families:
            fam = families["feed_ingest_kafka_delivery_failures"]
            self.assertEqual(fam.type, "counter")
            for s in fam.samples:
                self.assertEqual(set(s.labels), {"error"}, str(s))
        with self.subTest(labels="values"):
            rej = {s.labels["reason"] for s in
                   families["feed_ingest_interactions_rejected"].samples}
            self.assertEqual(rej, set(REASONS))
            methods = {s.labels["method"] for s in
                       families["feed_ingest_interactions_received"].samples}
            self.assertEqual(methods, {"Ingest", "Stream"})
            methods = {s.labels["method"] for s in
                       families["feed_ingest_grpc_inflight_calls"].samples}
            self.assertEqual(methods, {"Ingest", "Stream"})
            codes = {(s.labels["method"], s.labels["code"]) for s in
                     families["feed_ingest_grpc_request_duration_seconds"].samples}
            self.assertLessEqual({("Ingest", "OK"), ("Ingest", "INVALID_ARGUMENT"),
                                  ("Stream", "OK")}, codes)
            for s in families["feed_ingest_kafka_broker_up"].samples:
                self.assertIn(s.value, (0.0, 1.0), str(s))
        for name, fam in sorted(families.items()):
            if fam.type != "histogram":
                continue
            with self.subTest(histogram=name):
                self.check_histogram(name, fam)

    def check_histogram(self, name, fam):
        series = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            d = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
            if s.name == name + "_bucket":
                d["buckets"].append((s.labels["le"], s.value))
            elif s.name == name + "_count":
                d["count"] = s.value
            elif s.name == name + "_sum":
                d["sum"] = s.value
            else:
                self.fail(f"{name}: unexpected sample {s}")
        self.assertTrue(series, f"{name}: no series")
        for key, d in series.items():
            where = f"{name}{dict(key)}"
            self.assertTrue(d["buckets"], f"{where}: no buckets")
            self.assertIsNotNone(d["count"], f"{where}: no _count")
            self.assertIsNotNone(d["sum"], f"{where}: no _sum")
            les = [le for le, _ in d["buckets"]]
            self.assertEqual(les[-1], "+Inf", f"{where}: last bucket is le={les[-1]}")
            bounds = [float(le) for le in les]
            self.assertEqual(bounds, sorted(bounds), f"{where}: bounds out of order {les}")
            self.assertEqual(len(set(bounds)), len(bounds), f"{where}: repeated bound {les}")
            counts = [v for _, v in d["buckets"]]
            for (le_a, a), (le_b, b) in zip(d["buckets"], d["buckets"][1:]):
                self.assertLessEqual(a, b, f"{where}: not cumulative: le={le_a} {a} > le={le_b} {b}")
            self.assertEqual(counts[-1], d["count"], f"{where}: +Inf {counts[-1]} != _count "
                             f"{d['count']}")
            if d["count"] == 0:
                self.assertEqual(d["sum"], 0, f"{where}: _sum {d['sum']} with _count 0")

    def test_09_health_endpoints(self):
        status, body = http_get(f"http://{Env.metrics_addr}/healthz")
        self.assertEqual((status, body.strip()), (200, "ok"), "/healthz")
        status, body = http_get(f"http://{Env.metrics_addr}/readyz")
        self.assertEqual(status, 200, f"/readyz while serving: {status} {body[:200]}")

    def test_99_sigterm_exits_0(self):
        self.assertIsNone(Env.server.poll(), f"feed-ingest died early:\n{server_log_text()[-3000:]}")
        Env.server.send_signal(signal.SIGTERM)
        try:
            rc = Env.server.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail(f"feed-ingest still running {SHUTDOWN_TIMEOUT_S}s after SIGTERM")
        self.assertEqual(rc, 0, f"exit code after SIGTERM:\n{server_log_text()[-3000:]}")


if __name__ == "__main__":
    started = time.monotonic()
    program = unittest.main(verbosity=2, exit=False)
    print(f"elapsed: {time.monotonic() - started:.1f}s")
    sys.exit(0 if program.result.wasSuccessful() else 1)
