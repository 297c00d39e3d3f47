#!/usr/bin/env python3
"""Hot keys, seen from clients that are not ours.

Python's grpcio sends, kafka-python (Debian python3-kafka) reads both topics
from the service's embedded broker, a real Kafka-protocol broker.

Run: FEED_INGEST_BIN=build/feed-ingest python3 tests/interop/hot_key_test.py
"""
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dedup_test import RETRYABLE, TOPIC, Server, answer, read_topic, request  # noqa: E402

OVERFLOW = TOPIC + ".overflow"


def ingest(channel, sequence, items):
    """items: [(user_id, event_id)]; the answer as a dict."""
    return answer(channel.unary_unary("/feed.interactions.v1.InteractionIngest/Ingest")(
        request(sequence, items), timeout=20))


class Overflow(unittest.TestCase):
    """One user at 10x --hot-key-limit while 1,000 others send at 2 events/s each."""

    LIMIT = 100        # events/s per user_id, burst the same
    SECONDS = 10.0
    OTHERS = 1000
    THREADS = 4        # each owns OTHERS / THREADS users and sends them in order

    def test_the_hot_users_excess_goes_to_the_overflow_topic_and_nothing_else_moves(self):
        server = Server("--brokers=embedded", "--hot-key-limit=%d/%d" % (self.LIMIT, self.LIMIT))
        try:
            self.run_load(server)
        finally:
            server.close()

    def run_load(self, server):
        sent = {}            # user -> events sent, in order
        failures = []
        lock = threading.Lock()
        start = time.time() + 0.5
        stop = start + self.SECONDS

        def hot():
            user, seq, calls = b"hot-user", 0, 0
            while True:  # 1,000 events/s: 50 every 50 ms
                due = start + calls * 0.05
                if due >= stop:
                    break
                time.sleep(max(0.0, due - time.time()))
                items = [(user, b"hot-user-%06d" % (seq + i)) for i in range(50)]
                a = ingest(server.channel, calls + 1, items)
                if a["accepted"] != 50 or a["rejected"]:
                    with lock:
                        failures.append(("hot", a))
                seq += 50
                calls += 1
            with lock:
                sent[user] = seq

        def others(t):
            users = [b"user-%04d" % u for u in range(t, self.OTHERS, self.THREADS)]
            seqs = {u: 0 for u in users}
            per_call = 50
            rate = 2.0 * len(users)  # events/s of this thread: 2 per user
            calls, cursor = 0, 0
            while True:
                due = start + calls * per_call / rate
                if due >= stop:
                    break
                time.sleep(max(0.0, due - time.time()))
                items = []
                for _ in range(per_call):
                    u = users[cursor % len(users)]
                    cursor += 1
                    items.append((u, b"%s-%06d" % (u, seqs[u])))
                    seqs[u] += 1
                a = ingest(server.channel, calls + 1, items)
                if a["accepted"] != per_call or a["rejected"]:
                    with lock:
                        failures.append((t, a))
                calls += 1
            with lock:
                sent.update(seqs)

        threads = [threading.Thread(target=hot)]
        threads += [threading.Thread(target=others, args=(t,)) for t in range(self.THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.time() - start
        self.assertEqual(failures, [], "every item accepted")

        main, main_end = read_topic(server.brokers, TOPIC)
        over, over_end = read_topic(server.brokers, OVERFLOW)
        self.assertEqual(len(main), main_end, "read every record of the main topic")
        self.assertEqual(len(over), over_end, "read every record of the overflow topic")

        def per_user(records):
            seen = {}
            for key, headers, partition, offset in sorted(records, key=lambda r: (r[2], r[3])):
                seen.setdefault(key, []).append(int(headers["event-id"].rsplit(b"-", 1)[1]))
            return seen

        main_by_user, over_by_user = per_user(main), per_user(over)
        others_sent = sum(n for u, n in sent.items() if u != b"hot-user")
        others_main = sum(len(v) for u, v in main_by_user.items() if u != b"hot-user")
        others_over = sum(len(v) for u, v in over_by_user.items() if u != b"hot-user")
        in_order = all(v == list(range(sent[u])) for u, v in main_by_user.items()
                       if u != b"hot-user")
        hot_main = main_by_user.get(b"hot-user", [])
        hot_over = over_by_user.get(b"hot-user", [])
        hot_all = sorted(hot_main + hot_over)
        headers_ok = all(h.get("feed-overflow") == b"hot-key" for _, h, _, _ in over)
        overflow_metric = server.metric("feed_ingest_hot_key_events_total", '{action="overflow"}')
        allowed = self.LIMIT * elapsed + self.LIMIT  # the rate for the run, and one burst
        print("\nhot_key: seconds=%.1f hot_sent=%d hot_main=%d hot_overflow=%d (allowed %.0f) "
              "others=%d others_sent=%d others_main=%d others_overflow=%d in_order=%s "
              "overflow_headers=%s lost=%d duplicated=%d metric_overflow=%s"
              % (elapsed, sent[b"hot-user"], len(hot_main), len(hot_over), allowed,
                 len([u for u in sent if u != b"hot-user"]), others_sent, others_main,
                 others_over, in_order, headers_ok,
                 sent[b"hot-user"] - len(set(hot_all)) + others_sent - others_main,
                 len(hot_all) - len(set(hot_all)), overflow_metric))

        self.assertEqual(len([u for u in sent if u != b"hot-user"]), self.OTHERS)
        self.assertEqual(others_main, others_sent, "every other user's record on the main topic")
        self.assertEqual(others_over, 0, "no other user's record on the overflow topic")
        self.assertTrue(in_order, "each other user's records complete and in order")
        self.assertEqual(hot_all, list(range(sent[b"hot-user"])),
                         "the hot user's records: every one, once, on one topic or the other")
        self.assertEqual(hot_main, sorted(hot_main), "the hot user's main records in order")
        self.assertEqual(hot_over, sorted(hot_over), "its overflow records in order")
        self.assertTrue(headers_ok, "every overflow record has feed-overflow: hot-key")
        self.assertLessEqual(len(hot_main), allowed * 1.02)
        self.assertGreaterEqual(len(hot_main), self.LIMIT * elapsed * 0.9)
        self.assertGreater(len(hot_over), sent[b"hot-user"] * 0.8)
        self.assertEqual(overflow_metric, len(hot_over))
        self.assertIsNotNone(re.search(r"msg=\"?hot keys.*users=\"?hot-user=\d+", server.text()),
                             "a log line names the hot user")


class Reject(unittest.TestCase):
    """--hot-key-action=reject: the excess is RETRYABLE and says when to send it again."""

    def test_the_excess_is_retryable_with_its_delay_and_taken_when_sent_then(self):
        server = Server("--brokers=embedded", "--hot-key-limit=50/50", "--hot-key-action=reject")
        try:
            items = [(b"bot", b"bot-%d" % i) for i in range(200)] + [(b"person", b"p-1")]
            a = ingest(server.channel, 1, items)
            self.assertEqual(a["accepted"], 51, a)
            self.assertEqual(len(a["rejected"]), 150)
            self.assertEqual({r[1] for r in a["rejected"]}, {RETRYABLE})
            self.assertEqual([r[0] for r in a["rejected"]], list(range(50, 200)))
            delays = [int(re.search(r"send it again in (\d+) ms", r[2]).group(1))
                      for r in a["rejected"]]
            print("\nreject: %r first_delay_ms=%d last_delay_ms=%d"
                  % (a["rejected"][0][2], delays[0], delays[-1]))
            self.assertIn("over --hot-key-limit (50 events/s)", a["rejected"][0][2])
            self.assertEqual(delays, sorted(delays))
            self.assertLessEqual(delays[0], 25)
            self.assertGreater(delays[-1], 2900)  # 150 at 50/s
            self.assertLessEqual(delays[-1], 3020)
            time.sleep(delays[9] / 1000)
            again = ingest(server.channel, 2, [(b"bot", b"bot-%d" % i) for i in range(50, 60)])
            self.assertEqual(again["accepted"], 10, "sent again when told: taken")
            self.assertEqual(server.metric("feed_ingest_hot_key_events_total",
                                           '{action="reject"}'), 150)
            self.assertEqual(server.metric("feed_ingest_interactions_rejected_total", '{reason="hot_key"}'), 150)
        finally:
            server.close()

    def test_bad_flags_are_refused_at_start(self):
        for args, says in [(["--hot-key-limit=0"], "--hot-key-limit"),
                           (["--hot-key-limit=10", "--hot-key-action=drop"], "--hot-key-action"),
                           (["--hot-key-limit=10", "--overflow-topic=feed.interactions.v1"],
                            "--overflow-topic"),
                           (["--quota-store=redis:/localhost"], "--quota-store"),
                           (["--quota=a=10/10"], "--max-batch")]:
            with self.assertRaises(RuntimeError) as e:
                Server("--brokers=embedded", *args).close()
            self.assertIn(says, str(e.exception))


if __name__ == "__main__":
    unittest.main(verbosity=2)
