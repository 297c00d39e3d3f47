#!/usr/bin/env python3
"""make bench: where feed-ingest stands against the limits of its two halves.

Measures, in one run, on this machine:
  1. raw producer  - the same JSON records straight into the broker with the
                     service's librdkafka settings (the Kafka-side limit);
  2. bare gRPC     - a server on the same contract answering at once (the
                     gRPC-side limit), for every request shape;
  3. the service   - end to end, answers only once Kafka holds the events,
                     with dedup by event_id as it ships (the memory store),
                     and again with dedup off and with a Redis store (a
                     redis-server of its own on loopback), for its cost.
Each figure is the median of --runs runs. The broker is librdkafka's mock
cluster in a process of its own. Prints a table and writes summary.json.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import sys
import threading
import time
import urllib.request

SHAPES = [
    # name, stream, batch, concurrency, stream_window
    ("unary1_c64", False, 1, 64, 0),
    ("unary1_c1024", False, 1, 1024, 0),
    ("unary100_c64", False, 100, 64, 0),
    ("stream100", True, 100, 4, 32),
    ("stream500", True, 500, 4, 8),
]


class Proc:
    """A child process whose stderr (or stdout) is scanned for a pattern."""

    def __init__(self, args, pattern, use_stdout=False, stdin=False, env=None):
        self.p = subprocess.Popen(
            args, stdout=subprocess.PIPE if use_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE if not use_stdout else subprocess.DEVNULL,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True,
            env=None if env is None else {**os.environ, **env})
        stream = self.p.stdout if use_stdout else self.p.stderr
        self.lines = []
        deadline = time.time() + 30
        self.match = None
        while time.time() < deadline:
            line = stream.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                self.match = m
                break
        if self.match is None:
            self.stop()
            raise RuntimeError(f"{args[0]} did not start:\n" + "".join(self.lines[-20:]))
        # Keep draining so the child never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()

    def cpu_seconds(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self, key="VmRSS"):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def load(build, target, shape, duration, rate=0.0):
    name, stream, batch, concurrency, window = shape
    args = [os.path.join(build, "feed-ingest-client"), "load", f"--target={target}",
            f"--batch={batch}", f"--concurrency={concurrency}", f"--duration={duration}s",
            f"--rate={rate}", "--json", "--quiet", "--threads=2", "--channels=2"]
    if stream:
        args += ["--stream", f"--stream-window={window}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 120)
    if out.returncode != 0:
        raise RuntimeError(f"load {name} failed: {out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(build, server, target, shape, duration, runs, rate=0.0):
    """Median events/s and latencies of `runs` runs, with the server's CPU."""
    results = []
    for _ in range(runs):
        cpu0 = server.cpu_seconds()
        r = load(build, target, shape, duration, rate)
        r["server_cpu_s"] = server.cpu_seconds() - cpu0
        results.append(r)
    med = lambda k: statistics.median(x[k] for x in results)
    accepted = med("events_accepted")
    return {
        "events_per_s": med("events_per_s"),
        "calls_per_s": med("events_per_s") / shape[2],
        "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"), "p999_ms": med("p999_ms"),
        "cpu_s_per_million": med("server_cpu_s") / max(accepted, 1) * 1e6,
        "runs": [round(x["events_per_s"]) for x in results],
    }


class Scraper:
    """Scrapes /metrics once a second, as Prometheus would."""

    def __init__(self, port):
        self.port, self.stop_flag = port, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_flag:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2).read()
            except OSError:
                pass
            time.sleep(1)

    def stop(self):
        self.stop_flag = True
        self.t.join()


def stage_buckets(port):
    """{stage: [(le, cumulative count), ...]} of feed_ingest_stage_seconds."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if not line.startswith("feed_ingest_stage_seconds_bucket"):
            continue
        stage = re.search(r'stage="([^"]+)"', line).group(1)
        le = re.search(r'le="([^"]+)"', line).group(1)
        out.setdefault(stage, []).append((float("inf") if le == "+Inf" else float(le),
                                          float(line.rsplit(" ", 1)[1])))
    return out


def stage_quantiles(before, after):
    """p50 and p99 in ms of what each stage observed between two scrapes (the
    upper bound of the bucket the quantile falls in)."""
    out = {}
    for stage, buckets in after.items():
        prior = dict(before.get(stage, []))
        delta = [(le, n - prior.get(le, 0)) for le, n in sorted(buckets)]
        total = delta[-1][1] if delta else 0
        q = {}
        for name, frac in (("p50", 0.5), ("p99", 0.99)):
            q[name] = next((le * 1000 for le, n in delta if total and n >= frac * total),
                           float("nan"))
        out[stage] = q
    return out


def start_redis():
    """A redis-server of the bench's own: loopback, a free port, nothing on disk."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="feed-bench-redis-")
    proc = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port",
                             str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port, work
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--out-dir", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8)
    ap.add_argument("--raw-count", type=int, default=2_000_000)
    ap.add_argument("--soak", type=float, default=300, help="seconds of the RSS soak run")
    ap.add_argument("--smoke", action="store_true", help="everything once, tiny")
    a = ap.parse_args()
    if a.smoke:
        a.runs, a.duration, a.raw_count, a.soak = 1, 1, 20000, 2
    build = os.path.abspath(a.build_dir)
    out_dir = a.out_dir or os.path.join(build, "bench")
    os.makedirs(out_dir, exist_ok=True)
    dur = int(a.duration) if a.duration >= 1 else 1

    broker = Proc([os.path.join(build, "feed-ingest-mock-broker")], r"bootstrap=(\S+)",
                  use_stdout=True, stdin=True)
    bootstrap = broker.match.group(1)
    summary = {}
    try:
        # The raw producer with the service's headers and with none; its CPU
        # is its own, librdkafka's threads included.
        raw_rate, raw_cpu = {}, {}
        for headers in ("service", "none"):
            rates, cpus = [], []
            for _ in range(a.runs):
                out = subprocess.run([os.path.join(build, "feed-ingest-raw-producer"),
                                      f"--brokers={bootstrap}", f"--count={a.raw_count}",
                                      f"--headers={headers}"],
                                     capture_output=True, text=True, timeout=600, check=True)
                r = json.loads(out.stdout)
                rates.append(r["events_per_s"])
                cpus.append(r["cpu_s"] / max(r["events"], 1) * 1e6)
            raw_rate[headers], raw_cpu[headers] = statistics.median(rates), statistics.median(cpus)
        summary["raw_producer_events_per_s"] = raw_rate["service"]
        summary["raw_producer_plain_events_per_s"] = raw_rate["none"]
        cpu_us = {"raw_producer": raw_cpu["service"], "raw_producer_plain": raw_cpu["none"]}

        bare = Proc([os.path.join(build, "feed-ingest-bare-server"), "--listen=127.0.0.1:0"],
                    r"grpc_listen=(\S+)")
        bare_results = {}
        try:
            for shape in SHAPES:
                bare_results[shape[0]] = measure(build, bare, bare.match.group(1), shape, dur,
                                                 a.runs)
        finally:
            bare.stop()

        def start_service(metrics=True, extra=()):
            return Proc([os.path.join(build, "feed-ingest"), f"--brokers={bootstrap}",
                         "--listen=127.0.0.1:0",
                         "--metrics-listen=" + ("127.0.0.1:0" if metrics else ""), *extra],
                        r"msg=serving grpc_listen=(\S+) metrics_listen=(\S+)")

        svc = start_service()
        svc_results, half = {}, {}
        svc_metrics_port = int(svc.match.group(2).rsplit(":", 1)[1])
        scraper = Scraper(svc_metrics_port)
        try:
            target = svc.match.group(1)
            for shape in SHAPES:
                svc_results[shape[0]] = measure(build, svc, target, shape, dur, a.runs)
            stages = {}
            for shape in SHAPES:
                rate = svc_results[shape[0]]["events_per_s"] / 2
                before = stage_buckets(svc_metrics_port)
                half[shape[0]] = measure(build, svc, target, shape, dur, a.runs, rate=rate)
                stages[shape[0]] = stage_quantiles(before, stage_buckets(svc_metrics_port))
            peak_rss = svc.rss_mib("VmHWM")
        finally:
            scraper.stop()
            svc.stop()

        # Metrics cost: the same stream shape with the endpoint scraped every
        # second, against a server with no endpoint at all.
        off = start_service(metrics=False)
        try:
            metrics_off = measure(build, off, off.match.group(1), SHAPES[3], dur, a.runs)
        finally:
            off.stop()

        # Dedup's cost: the shapes it costs most on, with dedup off and with
        # the Redis store, against the service as it ships (memory store).
        dedup_shapes = [s for s in SHAPES if s[0] in ("stream500", "unary1_c1024")]
        dedup_results = {"memory": {s[0]: svc_results[s[0]] for s in dedup_shapes}}
        redis = start_redis()
        try:
            for name, extra in (("off", ["--dedup-window=0"]),
                                ("redis", [f"--dedup-store=redis://127.0.0.1:{redis[1]}/0"])):
                svc_d = start_service(extra=extra)
                try:
                    dedup_results[name] = {s[0]: measure(build, svc_d, svc_d.match.group(1), s,
                                                         dur, a.runs) for s in dedup_shapes}
                finally:
                    svc_d.stop()
        finally:
            redis[0].kill()
            redis[0].wait()
            shutil.rmtree(redis[2], ignore_errors=True)

        # Soak: RSS over a long run at full stream speed, sampled each second.
        soak = start_service()
        samples = []
        try:
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    samples.append(soak.rss_mib())
                    time.sleep(1)
            t = threading.Thread(target=sample, daemon=True)
            t.start()
            load(build, soak.match.group(1), SHAPES[3], int(max(a.soak, 1)))
            stop.set()
            t.join()
            soak_peak = soak.rss_mib("VmHWM")
        finally:
            soak.stop()
        tenth = max(1, len(samples) // 10)
        early, late = max(samples[tenth:2 * tenth] or samples), max(samples[-tenth:])
        drift = (late - early) / early if early else 0.0
    finally:
        broker.stop()

    best_stream = max(("stream100", "stream500"), key=lambda s: svc_results[s]["events_per_s"])
    for shape in SHAPES:
        cpu_us[f"bare_{shape[0]}"] = bare_results[shape[0]]["cpu_s_per_million"]
        cpu_us[f"service_{shape[0]}"] = svc_results[shape[0]]["cpu_s_per_million"]
    summary.update({
        "cpu_us_per_event": cpu_us,
        # What the service spends per event against what its two halves spend
        # on their own, for the stream500 shape.
        "overhead_ratio": cpu_us["service_stream500"] /
                          (cpu_us["raw_producer"] + cpu_us["bare_stream500"]),
        "stream_vs_raw_plain": svc_results[best_stream]["events_per_s"] /
                               summary["raw_producer_plain_events_per_s"],
        "stage_ms_half_load": stages,
    })
    summary.update({
        "stream_events_per_s": svc_results[best_stream]["events_per_s"],
        "stream_shape": best_stream,
        "stream_vs_raw": svc_results[best_stream]["events_per_s"] /
                         summary["raw_producer_events_per_s"],
        "unary_calls_per_s": svc_results["unary1_c1024"]["calls_per_s"],
        "bare_grpc_unary_calls_per_s": bare_results["unary1_c1024"]["calls_per_s"],
        "unary_vs_bare": svc_results["unary1_c1024"]["calls_per_s"] /
                         bare_results["unary1_c1024"]["calls_per_s"],
        "unary_calls_per_s_c64": svc_results["unary1_c64"]["calls_per_s"],
        "bare_grpc_unary_calls_per_s_c64": bare_results["unary1_c64"]["calls_per_s"],
        "stream_vs_bare": svc_results[best_stream]["events_per_s"] /
                          bare_results[best_stream]["events_per_s"],
        # The headline uses the same shape as unary_calls_per_s; every shape's
        # figure is beside it.
        "p99_ack_ms_half_load": half["unary1_c1024"]["p99_ms"],
        "p99_ack_ms_half_load_by_shape": {k: v["p99_ms"] for k, v in half.items()},
        "peak_rss_mib": max(peak_rss, soak_peak),
        "rss_drift_soak": drift,
        "soak_seconds": a.soak,
        "metrics_on_vs_off": svc_results["stream100"]["events_per_s"] /
                             metrics_off["events_per_s"],
        "shapes": {s[0]: {"service": svc_results[s[0]], "bare_grpc": bare_results[s[0]],
                          "service_half_load": half[s[0]]} for s in SHAPES},
        "runs": a.runs, "duration_s": dur, "cores": os.cpu_count(),
        # Dedup by event_id: events/s per store, and each against dedup off.
        "dedup": {store: {shape: r["events_per_s"] for shape, r in by_shape.items()}
                  for store, by_shape in dedup_results.items()},
        "dedup_memory_vs_off": svc_results["stream500"]["events_per_s"] /
                               dedup_results["off"]["stream500"]["events_per_s"],
        "dedup_redis_vs_off": dedup_results["redis"]["stream500"]["events_per_s"] /
                              dedup_results["off"]["stream500"]["events_per_s"],
        "dedup_redis_vs_off_unary": dedup_results["redis"]["unary1_c1024"]["events_per_s"] /
                                    dedup_results["off"]["unary1_c1024"]["events_per_s"],
    })
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)

    print(f"{'shape':<14} {'service ev/s':>13} {'bare ev/s':>12} {'ratio':>6} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'p99.9':>7} {'cpu s/M':>8} {'p99@50%':>8}")
    for s in SHAPES:
        r, b, h = svc_results[s[0]], bare_results[s[0]], half[s[0]]
        print(f"{s[0]:<14} {r['events_per_s']:>13,.0f} {b['events_per_s']:>12,.0f} "
              f"{r['events_per_s'] / b['events_per_s']:>6.2f} {r['p50_ms']:>7.2f} "
              f"{r['p99_ms']:>7.2f} {r['p999_ms']:>7.2f} {r['cpu_s_per_million']:>8.2f} "
              f"{h['p99_ms']:>8.2f}")
    print(f"raw producer   {summary['raw_producer_events_per_s']:>13,.0f} "
          f"(no headers: {summary['raw_producer_plain_events_per_s']:,.0f})")
    print("cpu us/event   " + "  ".join(f"{k}={v:.2f}" for k, v in sorted(cpu_us.items())))
    print("dedup          " + "  ".join(
        f"{store}: " + ", ".join(f"{shape} {r['events_per_s']:,.0f} ev/s "
                                 f"{r['cpu_s_per_million']:.2f} cpu s/M"
                                 for shape, r in by_shape.items())
        for store, by_shape in dedup_results.items()))
    print("stages at half load, p50/p99 ms:")
    for shape, by_stage in stages.items():
        print(f"  {shape:<14} " + "  ".join(
            f"{st}={q['p50']:.2f}/{q['p99']:.2f}" for st, q in by_stage.items()))
    keys = ["raw_producer_events_per_s", "raw_producer_plain_events_per_s",
            "stream_events_per_s", "stream_vs_raw", "stream_vs_raw_plain", "overhead_ratio",
            "unary_calls_per_s", "bare_grpc_unary_calls_per_s", "unary_vs_bare",
            "stream_vs_bare", "p99_ack_ms_half_load", "peak_rss_mib", "rss_drift_soak",
            "metrics_on_vs_off", "dedup_memory_vs_off", "dedup_redis_vs_off",
            "dedup_redis_vs_off_unary"]
    print(json.dumps({k: round(summary[k], 3) for k in keys}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
