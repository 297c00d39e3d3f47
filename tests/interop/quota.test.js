'use strict';
// A caller over its quota is told when to come back, and @grpc/grpc-js's own
// retry policy (a service config with retries on RESOURCE_EXHAUSTED) waits
// the server's grpc-retry-pushback-ms and then succeeds.
//
// Run: FEED_INGEST_BIN=build/feed-ingest node --test tests/interop/quota.test.js

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PROTO_DIR = path.join(REPO_ROOT, 'proto');
const PROTO_FILE = path.join(PROTO_DIR, 'feed', 'interactions', 'v1', 'interactions.proto');
const BIN = process.env.FEED_INGEST_BIN || path.join(REPO_ROOT, 'build', 'feed-ingest');
const RUN = `${process.pid}-${Date.now()}`;

function start(args) {
  const proc = spawn(BIN, ['--listen=127.0.0.1:0', '--metrics-listen=127.0.0.1:0', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`feed-ingest did not start:\n${log}`)), 30_000);
    proc.on('exit', (code) => reject(new Error(`feed-ingest exited (${code}):\n${log}`)));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /msg=serving grpc_listen=(\S+) metrics_listen=(\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, grpc: m[1], metrics: m[2] });
      }
    });
  });
}

function metric(address, series) {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}/metrics`, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        const line = body.split('\n').find((l) => l.startsWith(`${series} `));
        resolve(line ? Number(line.split(' ')[1]) : null);
      });
    }).on('error', reject);
  });
}

function items(tag, n) {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => ({
    user_id: `u-${RUN}`, video_id: `v-${i}`, interaction_type: 'view', watch_time_ms: '1000',
    timestamp: { seconds: String(now), nanos: 0 }, event_id: `${RUN}-${tag}-${i}`,
  }));
}

describe('quotas seen from @grpc/grpc-js', { timeout: 60_000 }, () => {
  let server;
  let client;

  before(async () => {
    server = await start(['--brokers=embedded', '--max-batch=1000', '--default-quota=1000/1000',
      '--dedup-window=0']);
    const def = protoLoader.loadSync(PROTO_FILE, {
      keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [PROTO_DIR],
    });
    const Svc = grpc.loadPackageDefinition(def).feed.interactions.v1.InteractionIngest;
    const serviceConfig = {
      methodConfig: [{
        name: [{ service: 'feed.interactions.v1.InteractionIngest' }],
        retryPolicy: {
          maxAttempts: 5, initialBackoff: '0.01s', maxBackoff: '0.05s', backoffMultiplier: 2,
          retryableStatusCodes: ['RESOURCE_EXHAUSTED'],
        },
      }],
    };
    client = new Svc(server.grpc, grpc.credentials.createInsecure(),
      { 'grpc.service_config': JSON.stringify(serviceConfig) });
  });

  after(() => {
    if (client) client.close();
    if (server) server.proc.kill('SIGKILL');
  });

  const ingest = (list) => new Promise((resolve, reject) => {
    client.Ingest({ interactions: list, sequence: '1' }, { deadline: Date.now() + 20_000 },
      (err, res) => (err ? reject(err) : resolve(res)));
  });

  it('waits the pushback, then succeeds, refused exactly once', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // A full bucket.
    const first = await ingest(items('a', 1000));
    assert.equal(first.accepted, 1000);
    const started = Date.now();
    const second = await ingest(items('b', 500)); // Over quota: refused, pushed back, retried.
    const waited = Date.now() - started;
    assert.equal(second.accepted, 500);
    const throttled = await metric(server.metrics,
      'feed_ingest_caller_events_total{caller="other",result="throttled"}');
    console.log(`grpc-js: refused once with pushback, retried after ${waited} ms, accepted=500, ` +
      `throttled=${throttled}`);
    // One refusal: had grpc-js retried on its own 10-50 ms backoff instead of
    // the pushback, the bucket would have refused it again (and counted it).
    assert.equal(throttled, 500);
  });
});
