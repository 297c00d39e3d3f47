#!/usr/bin/env python3
"""Per-caller quotas, seen from clients that are not ours.

Python's grpcio (Debian python3-grpcio) calls the service with requests
encoded by hand and reads a refusal's google.rpc.RetryInfo from the
grpc-status-details-bin trailer, decoded by hand as well, and the
grpc-retry-pushback-ms trailer.

Run: FEED_INGEST_BIN=build/feed-ingest python3 tests/interop/quota_test.py
"""
import os
import sys
import tempfile
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dedup_test import INGEST, STREAM, Redis, Server, answer, batch, request  # noqa: E402
from utf8_test import parse  # noqa: E402

RETRY_INFO = b"type.googleapis.com/google.rpc.RetryInfo"


def retry_delay_ms(trailers):
    """The RetryInfo delay in a grpc-status-details-bin trailer, in ms; None if absent."""
    details = dict(trailers).get("grpc-status-details-bin")
    if details is None:
        return None
    for any_msg in parse(details).get(3, []):
        a = parse(any_msg)
        if a.get(1, [b""])[0] != RETRY_INFO:
            continue
        duration = parse(parse(a[2][0]).get(1, [b""])[0])
        return duration.get(1, [0])[0] * 1000 + duration.get(2, [0])[0] // 1_000_000
    return None


class Pushback(unittest.TestCase):
    """One caller (by address: no tokens) with a quota of 1000 events/s."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--brokers=embedded", "--max-batch=1000", "--default-quota=1000/1000",
                            "--dedup-window=0")

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_over_quota_says_when_in_retry_info_and_the_pushback_trailer(self):
        call = self.server.channel.unary_unary(INGEST)
        time.sleep(1.1)  # A full bucket.
        first = answer(call(request(1, batch(b"q1", 1000)), timeout=10))
        self.assertEqual(first["accepted"], 1000)
        with self.assertRaises(grpc.RpcError) as refused:
            call(request(2, batch(b"q2", 500)), timeout=10)
        e = refused.exception
        self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("over its quota of 1000 events/s", e.details())
        trailers = e.trailing_metadata()
        delay = retry_delay_ms(trailers)
        pushback = int(dict(trailers)["grpc-retry-pushback-ms"])
        print("\nrefused: %r retry_delay_ms=%s pushback_ms=%d" % (e.details(), delay, pushback))
        self.assertEqual(delay, pushback)
        self.assertGreater(delay, 300)  # 500 events at 1000/s, less the time since.
        self.assertLessEqual(delay, 500)
        time.sleep(delay / 1000)
        again = answer(call(request(3, batch(b"q2", 500)), timeout=10))
        self.assertEqual(again["accepted"], 500, "waited as told: taken")
        self.assertEqual(self.server.metric(
            "feed_ingest_caller_events_total", '{caller="other",result="throttled"}'), 500)


class StreamWaits(unittest.TestCase):
    """A stream over its caller's quota is not read until the bucket covers it."""

    def test_a_stream_is_answered_at_the_quota_rate_and_nothing_refused(self):
        server = Server("--brokers=embedded", "--max-batch=1000", "--default-quota=1000/1000",
                        "--dedup-window=0")
        try:
            time.sleep(1.1)  # A full bucket.
            sent = {}

            def requests():
                for n in range(1, 6):
                    sent[n] = time.time()
                    yield request(n, batch(b"s%d" % n, 1000, user=b"streamer"))

            start = time.time()
            answers = []
            for data in server.channel.stream_stream(STREAM)(requests(), timeout=30):
                answers.append((time.time() - start, answer(data)))
            print("\nstream at 1000/s: " + ", ".join(
                "seq %d accepted %d at %.2fs" % (a["sequence"], a["accepted"], t)
                for t, a in answers))
            self.assertEqual([a["sequence"] for _, a in answers], [1, 2, 3, 4, 5])
            self.assertEqual([a["accepted"] for _, a in answers], [1000] * 5)
            # The first from the full bucket, then one each second.
            self.assertLess(answers[0][0], 0.8)
            self.assertGreater(answers[-1][0], 3.8)
            self.assertLess(answers[-1][0], 6.0)
            self.assertEqual(server.metric("feed_ingest_caller_events_total",
                                           '{caller="other",result="accepted"}'), 5000)
            self.assertEqual(server.metric("feed_ingest_interactions_rejected_total",
                                           '{reason="quota"}'), 0)
        finally:
            server.close()


class TwoCallers(unittest.TestCase):
    """Tokens name the callers; one sends at 10x its quota."""

    def test_the_greedy_caller_gets_its_quota_and_the_other_keeps_its_rate(self):
        tokens = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        tokens.write("greedy token-greedy\npolite token-polite\n")
        tokens.close()
        server = Server("--brokers=embedded", "--max-batch=100", "--dedup-window=0",
                        "--auth-tokens-file=" + tokens.name, "--quota=greedy=2000/200")
        try:
            def run(token, seconds, stop_at, counts, key, every):
                """Calls of 100 events until stop_at, one every `every` seconds (0: back to
                back); counts what was sent and what was accepted."""
                call = server.channel.unary_unary(INGEST)
                meta = (("authorization", "Bearer " + token),)
                n = 0
                start = time.time()
                while time.time() < stop_at:
                    items = batch(b"%s-%d" % (key.encode(), n), 100, user=key.encode())
                    n += 1
                    counts[key + "_sent"] = counts.get(key + "_sent", 0) + 100
                    try:
                        got = answer(call(request(n, items), metadata=meta, timeout=10))
                        counts[key] += got["accepted"]
                    except grpc.RpcError as e:
                        if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                            raise
                    if every:
                        time.sleep(max(0.0, start + n * every - time.time()))

            seconds = 5.0
            alone = {"polite": 0}
            run("token-polite", seconds, time.time() + seconds, alone, "polite", 0)
            both = {"polite": 0, "greedy": 0}
            stop_at = time.time() + seconds
            # Greedy: 100 events every 4 ms, 25,000/s against a quota of 2,000/s.
            greedy = threading.Thread(target=run, args=("token-greedy", seconds, stop_at, both,
                                                        "greedy", 0.004))
            greedy.start()
            run("token-polite", seconds, stop_at, both, "polite", 0)
            greedy.join()
            polite_share = both["polite"] / alone["polite"]
            greedy_rate = both["greedy"] / seconds
            greedy_sent = both["greedy_sent"] / seconds
            print("\ntwo callers: polite alone %d/s, with greedy %d/s (%.2f); greedy sent %d/s "
                  "(%.1fx its quota), accepted %d/s against a quota of 2000/s"
                  % (alone["polite"] / seconds, both["polite"] / seconds, polite_share,
                     greedy_sent, greedy_sent / 2000, greedy_rate))
            self.assertGreaterEqual(greedy_sent, 10 * 2000, "the greedy caller at 10x its quota")
            self.assertGreaterEqual(polite_share, 0.9)
            self.assertLessEqual(abs(greedy_rate - 2000) / 2000, 0.1)
        finally:
            server.close()
            os.unlink(tokens.name)


class SharedThroughRedis(unittest.TestCase):
    """Two service processes, one Redis: one bucket per caller across both."""

    def test_a_caller_spread_over_two_replicas_gets_its_quota_once(self):
        redis = Redis()
        tokens = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        tokens.write("greedy token-greedy\n")
        tokens.close()
        args = ("--brokers=embedded", "--max-batch=100", "--dedup-window=0",
                "--auth-tokens-file=" + tokens.name, "--quota=greedy=1000/200",
                "--quota-store=" + redis.url)
        servers = [Server(*args), Server(*args)]
        try:
            seconds = 5.0
            stop_at = time.time() + seconds
            counts = [0, 0]
            refused = [0, 0]

            def run(i):
                call = servers[i].channel.unary_unary(INGEST)
                meta = (("authorization", "Bearer token-greedy"),)
                n = 0
                while time.time() < stop_at:  # 100 events every 10 ms: 10x the quota per replica
                    n += 1
                    items = batch(b"r%d-%d" % (i, n), 100, user=b"u%d" % i)
                    try:
                        counts[i] += answer(call(request(n, items), metadata=meta,
                                                 timeout=10))["accepted"]
                    except grpc.RpcError as e:
                        if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                            raise
                        refused[i] += 1
                    time.sleep(0.01)

            threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rate = sum(counts) / seconds
            print("\nshared through Redis: replica 1 %d/s, replica 2 %d/s, together %d/s against "
                  "a quota of 1000/s (refused %d and %d calls)"
                  % (counts[0] / seconds, counts[1] / seconds, rate, refused[0], refused[1]))
            # The burst (200) comes once on top of the rate.
            self.assertLessEqual(abs(rate - 1000 - 200 / seconds) / 1000, 0.1)
            self.assertGreater(min(counts), 0, "both replicas took some")
            for s in servers:
                self.assertEqual(s.metric("feed_ingest_quota_store_errors_total"), 0)

            # Redis gone: requests pass unthrottled (counted), then the quota is back.
            redis.stop()
            got = answer(servers[0].channel.unary_unary(INGEST)(
                request(1, batch(b"down", 100, user=b"d")),
                metadata=(("authorization", "Bearer token-greedy"),), timeout=10))
            self.assertEqual(got["accepted"], 100)
            self.assertGreaterEqual(servers[0].metric("feed_ingest_quota_store_errors_total"), 1)
            self.assertIn("quota store cannot be reached", servers[0].text())
        finally:
            for s in servers:
                s.close()
            redis.close()
            os.unlink(tokens.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
