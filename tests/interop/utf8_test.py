#!/usr/bin/env python3
"""A verdict per item whatever the bytes, seen by a client that is not ours.

Python's grpcio (Debian python3-grpcio) sends the raw bytes of requests whose
user_id is not UTF-8 (FF FE FD FC, as a buggy mobile client sends): bytes that
the contract's own generated types refuse to parse, so they are encoded here by
hand. The unary call must answer the bad item INVALID and take the others; the
stream must answer every request and end OK; a request that is no message at
all must end the stream INVALID_ARGUMENT naming the last sequence answered.

Run: FEED_INGEST_BIN=build/feed-ingest python3 tests/interop/utf8_test.py
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("FEED_INGEST_BIN", os.path.join(REPO, "build", "feed-ingest"))
INGEST = "/feed.interactions.v1.InteractionIngest/Ingest"
STREAM = "/feed.interactions.v1.InteractionIngest/Stream"
BAD = b"\xff\xfe\xfd\xfc"


# --- protobuf wire format, by hand -----------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire_type, payload):
    key = varint((number << 3) | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def interaction(user_id, event_id):
    now = time.time()
    timestamp = field(1, 0, int(now)) + field(2, 0, int((now % 1) * 1e9))
    return (field(1, 2, user_id) + field(2, 2, b"video-1") + field(3, 2, b"view") +
            field(4, 0, 1200) + field(5, 2, timestamp) + field(6, 2, event_id))


def request(sequence, users, tag):
    items = b"".join(field(1, 2, interaction(u, b"%s-%d" % (tag, i)))
                     for i, u in enumerate(users))
    return items + field(2, 0, sequence)


def parse(data):
    """Fields of one message: {number: [value, ...]} (varints as ints, the rest bytes)."""
    out, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = read_varint(data, i)
        elif wire_type == 2:
            size, i = read_varint(data, i)
            value, i = data[i:i + size], i + size
        else:
            raise ValueError("unexpected wire type %d" % wire_type)
        out.setdefault(number, []).append(value)
    return out


def read_varint(data, i):
    shift = n = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def response(data):
    """IngestResponse as (sequence, accepted, [(index, code, message), ...])."""
    f = parse(data)
    rejected = []
    for r in f.get(3, []):
        rf = parse(r)
        rejected.append((rf.get(1, [0])[0], rf.get(2, [0])[0], rf.get(3, [b""])[0].decode()))
    return f.get(1, [0])[0], f.get(2, [0])[0], rejected


# --- the service -------------------------------------------------------------

class Utf8Interop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(prefix="feed-ingest-", suffix=".log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEED_INGEST_")}
        cls.server = subprocess.Popen(
            [BIN, "--brokers=embedded", "--listen=127.0.0.1:0", "--metrics-listen="],
            stdout=subprocess.DEVNULL, stderr=cls.log, env=env)
        deadline = time.time() + 30
        target = None
        while time.time() < deadline and target is None:
            with open(cls.log.name, errors="replace") as f:
                m = re.search(r"msg=serving grpc_listen=(\S+)", f.read())
            target = m.group(1) if m else None
            if cls.server.poll() is not None:
                break
            time.sleep(0.1)
        if target is None:
            cls.server.kill()
            with open(cls.log.name, errors="replace") as f:
                raise RuntimeError("feed-ingest did not start:\n" + f.read()[-3000:])
        cls.channel = grpc.insecure_channel(target)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.terminate()
        cls.server.wait(timeout=30)
        cls.log.close()

    def test_unary_one_bad_item_gets_its_own_verdict(self):
        call = self.channel.unary_unary(INGEST)  # No serializers: bytes as they are.
        reply = call(request(5, [b"alice", BAD, b"carol"], b"py-unary"), timeout=10)
        sequence, accepted, rejected = response(reply)
        self.assertEqual(sequence, 5)
        self.assertEqual(accepted, 2)
        self.assertEqual(rejected, [(1, 1, "user_id: not valid UTF-8 at byte 0")])

    def test_stream_answers_every_request_and_ends_ok(self):
        call = self.channel.stream_stream(STREAM)
        requests = [request(1, [b"alice"], b"py-s1"),
                    request(2, [BAD, b"bob"], b"py-s2"),
                    request(3, [b"carol"], b"py-s3")]
        answers = {}
        stream = call(iter(requests), timeout=20)
        for reply in stream:
            sequence, accepted, rejected = response(reply)
            answers[sequence] = (accepted, rejected)
        self.assertEqual(stream.code(), grpc.StatusCode.OK)
        self.assertEqual(answers, {1: (1, []),
                                   2: (1, [(0, 1, "user_id: not valid UTF-8 at byte 0")]),
                                   3: (1, [])})

    def test_stream_with_no_message_at_all_ends_naming_the_last_answer(self):
        call = self.channel.stream_stream(STREAM)
        stream = call(iter([request(9, [b"dave"], b"py-s9"), b"\x0a\xff\xff"]), timeout=20)
        sequences = []
        with self.assertRaises(grpc.RpcError):  # The stream ends with an error status.
            for reply in stream:
                sequences.append(response(reply)[0])
        self.assertEqual(sequences, [9])
        self.assertEqual(stream.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("request 2 of this stream is not a feed.interactions.v1.IngestRequest",
                      stream.details())
        self.assertIn("the last answer is for sequence 9", stream.details())


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    unittest.main(verbosity=2)
