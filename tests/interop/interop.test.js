'use strict';
// Interop test for feed-ingest with clients that are not our code.
//
// Starts the real binary ($FEED_INGEST_BIN, default build/feed-ingest) with its
// embedded Kafka-protocol broker, then:
//   - calls it over gRPC with @grpc/grpc-js (unary Ingest with a mixed
//     valid/invalid batch, and a bidi Stream of 20 requests),
//   - reads every record back with kafkajs (consumer group, snappy codec) and
//     checks value JSON, key, headers and the partition (Java murmur2 % 6),
//   - stops the server with SIGTERM and expects exit status 0.
// Run: (cd tests/interop && npm ci) && node --test tests/interop/
// Every wait is bounded, so a broken server fails the test instead of hanging.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');
const SnappyCodec = require('kafkajs-snappy');

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const REPO_ROOT = path.join(__dirname, '..', '..');
const PROTO_DIR = path.join(REPO_ROOT, 'proto');
const PROTO_FILE = path.join(PROTO_DIR, 'feed', 'interactions', 'v1', 'interactions.proto');
const BIN = process.env.FEED_INGEST_BIN || path.join(REPO_ROOT, 'build', 'feed-ingest');
const TOPIC = 'feed.interactions.v1';
const NUM_PARTITIONS = 6;
const RECORD_KEYS = ['interactionType', 'timestamp', 'userId', 'videoId', 'watchTime'];

// ---------------------------------------------------------------------------
// Kafka's Java client partitioner: Utils.toPositive(Utils.murmur2(keyBytes)) % n

function murmur2(buf) {
  const m = 0x5bd1e995;
  const r = 24;
  const len = buf.length;
  let h = (0x9747b28c ^ len) | 0;
  const len4 = len >>> 2;
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4;
    let k = buf[i4] | (buf[i4 + 1] << 8) | (buf[i4 + 2] << 16) | (buf[i4 + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = len & ~3;
  switch (len % 4) {
    case 3: h ^= buf[tail + 2] << 16; // falls through
    case 2: h ^= buf[tail + 1] << 8; // falls through
    case 1: h ^= buf[tail]; h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

function javaPartition(keyBuf, n) {
  return (murmur2(keyBuf) & 0x7fffffff) % n;
}

// ---------------------------------------------------------------------------
// helpers

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// What the server must write as `timestamp`: UTC, millisecond precision, truncated.
function expectedTimestamp(ts) {
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  return new Date(ms).toISOString(); // always YYYY-MM-DDTHH:MM:SS.mmmZ
}

const RUN = crypto.randomBytes(4).toString('hex');
let eventCounter = 0;
function newEventId() {
  eventCounter += 1;
  return `ev-${RUN}-${eventCounter}`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// Every valid item the server accepted, by event id (or by videoId for items
// sent without an event id), and the event ids of items it must never write.
const acceptedById = new Map();
const acceptedWithoutId = new Map(); // videoId -> interaction
const invalidIds = new Set();

// ---------------------------------------------------------------------------
// server process

class Server {
  constructor() {
    this.lines = [];
    this.exit = null; // { code, signal }
  }

  start(timeoutMs) {
    if (!fs.existsSync(BIN)) {
      throw new Error(`feed-ingest binary not found at ${BIN} (set FEED_INGEST_BIN)`);
    }
    this.proc = spawn(BIN, ['--brokers=embedded', '--listen=127.0.0.1:0', '--metrics-listen=127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.proc.stdout.on('data', () => {});
    let partial = '';
    return withTimeout(new Promise((resolve, reject) => {
      this.proc.on('error', reject);
      this.proc.on('exit', (code, signal) => reject(new Error(
        `feed-ingest exited before serving (code=${code} signal=${signal})\n${this.tail()}`)));
      this.proc.stderr.setEncoding('utf8');
      this.proc.stderr.on('data', (chunk) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop();
        for (const line of parts) {
          this.lines.push(line);
          if (process.env.FEED_INGEST_TEST_VERBOSE) process.stderr.write(`[server] ${line}\n`);
          const b = /bootstrap=(\S+)/.exec(line);
          if (b && !this.bootstrap) this.bootstrap = b[1].replace(/^"|"$/g, '');
          const g = /grpc_listen=(\S+)/.exec(line);
          if (g && !this.grpcListen) this.grpcListen = g[1].replace(/^"|"$/g, '');
          if (this.grpcListen) {
            if (!this.bootstrap) {
              reject(new Error(`serving line seen but no "bootstrap=" line before it\n${this.tail()}`));
            } else {
              resolve();
            }
          }
        }
      });
    }), timeoutMs, `feed-ingest to log grpc_listen=\n${this.tail()}`);
  }

  tail(n = 30) {
    return this.lines.slice(-n).map((l) => `  | ${l}`).join('\n');
  }

  alive() {
    return this.proc && this.exit === null;
  }
}

// ---------------------------------------------------------------------------

describe('murmur2 (Java Utils.murmur2 compatible)', () => {
  it('matches the values in Kafka UtilsTest.testMurmur2', () => {
    const cases = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, want] of cases) {
      assert.equal(murmur2(Buffer.from(s, 'latin1')), want, `murmur2(${JSON.stringify(s)})`);
    }
    assert.equal(javaPartition(Buffer.from('21'), 6), (-973932308 & 0x7fffffff) % 6);
  });
});

describe('feed-ingest interop (grpc-js + kafkajs)', { timeout: 60_000 }, () => {
  const server = new Server();
  let client;

  before(async () => {
    await server.start(30_000);
    const def = protoLoader.loadSync(PROTO_FILE, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: [PROTO_DIR],
    });
    const pkg = grpc.loadPackageDefinition(def);
    const Svc = pkg.feed.interactions.v1.InteractionIngest;
    assert.ok(Svc, 'InteractionIngest service not found in the proto');
    client = new Svc(server.grpcListen, grpc.credentials.createInsecure());
    await withTimeout(new Promise((resolve, reject) => {
      client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve()));
    }), 11_000, `gRPC channel to ${server.grpcListen} to be ready`);
  });

  after(async () => {
    if (client) client.close();
    if (server.alive()) {
      server.proc.kill('SIGKILL');
      await withTimeout(server.exited, 5_000, 'feed-ingest to die after SIGKILL').catch(() => {});
    }
  });

  it('unary Ingest: mixed batch, invalid items rejected by index, valid ones accepted', async () => {
    const base = nowSeconds() - 120;
    const items = [
      { user_id: `u-${RUN}-alice`, video_id: 'v-001', interaction_type: 'view',
        watch_time_ms: '15000', timestamp: { seconds: String(base), nanos: 123456789 },
        event_id: newEventId() },
      // invalid: unknown interaction_type
      { user_id: `u-${RUN}-bob`, video_id: 'v-002', interaction_type: 'dislike',
        watch_time_ms: '10', timestamp: { seconds: String(base), nanos: 0 },
        event_id: newEventId(), _invalid: /\binteraction_type\b/ },
      { user_id: `ユーザー-${RUN}-😀`, video_id: 'vidéo-🎬-ß', interaction_type: 'like',
        watch_time_ms: '0', timestamp: { seconds: String(base - 1), nanos: 999999999 },
        event_id: newEventId() },
      { user_id: `u-${RUN}-carol`, video_id: 'v-003', interaction_type: 'complete',
        watch_time_ms: '86400000', timestamp: { seconds: String(base - 2), nanos: 1000000 },
        event_id: newEventId() },
      // invalid: negative watch time
      { user_id: `u-${RUN}-dave`, video_id: 'v-004', interaction_type: 'view',
        watch_time_ms: '-1', timestamp: { seconds: String(base), nanos: 0 },
        event_id: newEventId(), _invalid: /\bwatch_time_ms\b/ },
      { user_id: `Δ-${RUN}-用户`, video_id: 'видео-42', interaction_type: 'share',
        watch_time_ms: '1234', timestamp: { seconds: String(base - 3), nanos: 999999 },
        event_id: `${newEventId()}-ü` },
      // JSON escaping: quote, backslash, slash (not control characters, so valid)
      { user_id: `u-${RUN}-erin`, video_id: 'v-005 "q" \\ /', interaction_type: 'save',
        watch_time_ms: '42', timestamp: { seconds: String(base - 4), nanos: 500000000 },
        event_id: newEventId() },
      // valid, no event_id: must be written without an event-id header
      { user_id: `u-${RUN}-frank`, video_id: `v-noid-${RUN}`, interaction_type: 'skip',
        watch_time_ms: '7', timestamp: { seconds: String(base - 5), nanos: 250000000 },
        event_id: '' },
    ];
    const request = {
      sequence: '7',
      interactions: items.map(({ _invalid, ...it }) => it), // eslint-disable-line no-unused-vars
    };

    const resp = await withTimeout(new Promise((resolve, reject) => {
      client.Ingest(request, { deadline: Date.now() + 15_000 }, (err, r) => (err ? reject(err) : resolve(r)));
    }), 16_000, 'unary Ingest answer');

    const wantInvalid = items.map((it, i) => [i, it]).filter(([, it]) => it._invalid);
    const wantValid = items.filter((it) => !it._invalid);
    for (const [, it] of wantInvalid) invalidIds.add(it.event_id);

    assert.equal(String(resp.sequence), '7', 'sequence echoed');
    assert.equal(resp.accepted, wantValid.length, `accepted count; response: ${JSON.stringify(resp)}`);
    assert.equal(resp.rejected.length, wantInvalid.length, `rejected: ${JSON.stringify(resp.rejected)}`);
    assert.deepEqual(resp.rejected.map((r) => r.index), wantInvalid.map(([i]) => i),
      'rejected indexes, in index order');
    for (const [k, [i, it]] of wantInvalid.entries()) {
      const rej = resp.rejected[k];
      assert.equal(rej.code, 'REJECTION_CODE_INVALID', `code of item ${i}`);
      assert.ok(rej.message.length > 0, `message of item ${i} is empty`);
      assert.match(rej.message, it._invalid, `message of item ${i} should name the field`);
    }
    for (const it of wantValid) {
      if (it.event_id) acceptedById.set(it.event_id, it);
      else acceptedWithoutId.set(it.video_id, it);
    }
  });

  it('bidi Stream: 20 requests x 10 items, each sequence answered once, stream ends OK', async () => {
    const NREQ = 20;
    const NITEMS = 10;
    const types = ['view', 'like', 'unlike', 'share', 'comment', 'skip', 'complete', 'save'];
    const base = nowSeconds() - 60;
    const sent = new Map(); // sequence -> items
    const responses = [];

    const call = client.Stream({ deadline: Date.now() + 30_000 });
    const done = new Promise((resolve, reject) => {
      let status = null;
      let ended = false;
      const finish = () => { if (status && ended) resolve(status); };
      call.on('data', (r) => responses.push(r));
      call.on('status', (s) => { status = s; finish(); });
      call.on('end', () => { ended = true; finish(); });
      call.on('error', reject);
    });

    for (let seq = 1; seq <= NREQ; seq++) {
      const interactions = [];
      for (let j = 0; j < NITEMS; j++) {
        const n = (seq - 1) * NITEMS + j;
        interactions.push({
          user_id: n % 3 === 0 ? `stream-${RUN}-😀-${n % 11}` : `stream-${RUN}-user-${n % 17}`,
          video_id: `vid-${seq}-${j}`,
          interaction_type: types[n % types.length],
          watch_time_ms: String(n * 997),
          timestamp: { seconds: String(base - n), nanos: (n * 7654321) % 1e9 },
          event_id: newEventId(),
        });
      }
      sent.set(String(seq), interactions);
      call.write({ sequence: String(seq), interactions });
    }
    call.end();

    const status = await withTimeout(done, 25_000,
      `stream to end (got ${responses.length} of ${NREQ} responses)`);
    assert.equal(status.code, grpc.status.OK, `stream status: ${status.code} ${status.details}`);

    const seen = new Map();
    for (const r of responses) {
      const seq = String(r.sequence);
      assert.ok(sent.has(seq), `response for a sequence never sent: ${JSON.stringify(r)}`);
      assert.ok(!seen.has(seq), `sequence ${seq} answered twice`);
      seen.set(seq, r);
    }
    assert.equal(seen.size, NREQ, `answered sequences: ${[...seen.keys()].join(',')}`);
    for (const [seq, r] of seen) {
      assert.equal(r.accepted, NITEMS, `accepted for sequence ${seq}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.rejected, [], `rejected for sequence ${seq}`);
      for (const it of sent.get(seq)) acceptedById.set(it.event_id, it);
    }
  });

  it('kafkajs reads back every accepted record exactly once, as the schema says', async () => {
    assert.ok(acceptedById.size > 0, 'nothing was accepted by the earlier tests, nothing to read back');
    const brokers = server.bootstrap.split(',');
    const kafka = new Kafka({
      clientId: `feed-ingest-interop-${RUN}`,
      brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });

    const admin = kafka.admin();
    await withTimeout(admin.connect(), 10_000, 'kafkajs admin connect');
    let highs;
    try {
      const meta = await withTimeout(admin.fetchTopicMetadata({ topics: [TOPIC] }), 10_000, 'topic metadata');
      assert.equal(meta.topics[0].partitions.length, NUM_PARTITIONS, 'partition count of the topic');
      const offsets = await withTimeout(admin.fetchTopicOffsets(TOPIC), 10_000, 'topic offsets');
      highs = new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
    } finally {
      await admin.disconnect();
    }
    let total = 0n;
    for (const { low, high } of highs.values()) total += high - low;
    const expectedTotal = acceptedById.size + acceptedWithoutId.size;

    // Consume until every partition is read up to its high watermark.
    const records = [];
    const next = new Map([...highs].map(([p, { low }]) => [p, low]));
    const caughtUp = () => [...highs].every(([p, { high }]) => next.get(p) >= high);
    const consumer = kafka.consumer({
      groupId: `feed-ingest-interop-${RUN}-${crypto.randomUUID()}`,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 200,
    });
    let resolveRead;
    let rejectRead;
    const readAll = new Promise((resolve, reject) => { resolveRead = resolve; rejectRead = reject; });
    readAll.catch(() => {}); // awaited below; keep an early crash from being "unhandled"
    consumer.on(consumer.events.CRASH, (e) => rejectRead(e.payload.error));
    try {
      await withTimeout(consumer.connect(), 10_000, 'kafkajs consumer connect');
      await withTimeout(consumer.subscribe({ topic: TOPIC, fromBeginning: true }), 10_000, 'subscribe');
      await withTimeout(consumer.run({
        eachMessage: async ({ partition, message }) => {
          records.push({ partition, ...message });
          const o = BigInt(message.offset) + 1n;
          if (o > next.get(partition)) next.set(partition, o);
          if (caughtUp()) resolveRead();
        },
      }), 10_000, 'consumer.run');
      if (!caughtUp()) {
        await withTimeout(readAll, 30_000,
          `consumer to reach the high watermarks (read ${records.length} of ${expectedTotal})`);
      }
    } finally {
      await withTimeout(consumer.disconnect(), 10_000, 'consumer disconnect').catch(() => {});
    }

    const header = (headers, name) => {
      const v = headers[name];
      if (v === undefined) return undefined;
      assert.ok(Buffer.isBuffer(v), `header ${name} appears more than once`);
      return v.toString('utf8');
    };

    const seenIds = new Set();
    const seenNoId = new Set();
    for (const rec of records) {
      const where = `partition ${rec.partition} offset ${rec.offset}`;
      const headers = rec.headers || {};
      const eventId = header(headers, 'event-id');
      assert.equal(header(headers, 'content-type'), 'application/json', `content-type header at ${where}`);
      const extra = Object.keys(headers).filter((k) => k !== 'content-type' && k !== 'event-id');
      assert.deepEqual(extra, [], `unexpected headers at ${where}`);

      let want;
      if (eventId !== undefined) {
        assert.ok(!invalidIds.has(eventId), `an invalid item was written to Kafka: ${eventId}`);
        assert.ok(!seenIds.has(eventId), `event-id ${eventId} written twice`);
        seenIds.add(eventId);
        want = acceptedById.get(eventId);
        assert.ok(want, `record with unknown event-id ${JSON.stringify(eventId)} at ${where}`);
      }
      assert.ok(rec.value, `record without a value at ${where}`);
      const raw = rec.value.toString('utf8');
      let value;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        assert.fail(`value at ${where} is not JSON: ${raw}`);
      }
      assert.deepEqual(Object.keys(value).sort(), RECORD_KEYS, `keys of ${raw}`);
      if (eventId === undefined) {
        want = acceptedWithoutId.get(value.videoId);
        assert.ok(want, `record without event-id that was not sent without one: ${raw}`);
        assert.ok(!seenNoId.has(value.videoId), `record written twice: ${raw}`);
        seenNoId.add(value.videoId);
      }
      assert.equal(value.userId, want.user_id, `userId in ${raw}`);
      assert.equal(value.videoId, want.video_id, `videoId in ${raw}`);
      assert.equal(value.interactionType, want.interaction_type, `interactionType in ${raw}`);
      assert.equal(typeof value.watchTime, 'number', `watchTime is a JSON number in ${raw}`);
      assert.ok(Number.isInteger(value.watchTime), `watchTime is an integer in ${raw}`);
      assert.equal(value.watchTime, Number(want.watch_time_ms), `watchTime in ${raw}`);
      assert.match(value.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, `timestamp format in ${raw}`);
      assert.equal(value.timestamp, expectedTimestamp(want.timestamp), `timestamp in ${raw}`);

      assert.ok(rec.key, `record without a key at ${where}`);
      assert.equal(rec.key.toString('utf8'), want.user_id, `key at ${where}`);
      assert.equal(rec.partition, javaPartition(Buffer.from(want.user_id, 'utf8'), NUM_PARTITIONS),
        `partition of key ${JSON.stringify(want.user_id)} (Java murmur2 % ${NUM_PARTITIONS})`);
    }
    const missing = [...acceptedById.keys()].filter((id) => !seenIds.has(id));
    assert.deepEqual(missing, [], 'accepted events missing from Kafka');
    const missingNoId = [...acceptedWithoutId.keys()].filter((v) => !seenNoId.has(v));
    assert.deepEqual(missingNoId, [], 'accepted events (sent without event_id) missing from Kafka');
    assert.equal(records.length, expectedTotal, 'records read');
    assert.equal(total, BigInt(expectedTotal),
      'records in the topic (sum of high-low watermarks) vs accepted items');
  });

  it('SIGTERM stops the server with exit status 0', async () => {
    assert.ok(server.alive(), `server is not running: ${JSON.stringify(server.exit)}\n${server.tail()}`);
    server.proc.kill('SIGTERM');
    const { code, signal } = await withTimeout(server.exited, 15_000, 'feed-ingest to exit after SIGTERM');
    assert.equal(signal, null, `killed by signal ${signal}\n${server.tail()}`);
    assert.equal(code, 0, `exit status\n${server.tail()}`);
  });
});
