#!/usr/bin/env bash
# `make run`: the service with its embedded (in-memory) broker on loopback,
# a few sample interactions sent with the client, the topic read back, and
# the service left running until Ctrl-C.
set -euo pipefail
build=${BUILD_DIR:-build}
listen=${FEED_INGEST_LISTEN:-127.0.0.1:50051}
metrics=${FEED_INGEST_METRICS_LISTEN:-127.0.0.1:9464}
log=$(mktemp)

# tee ignores Ctrl-C so the server's shutdown lines still reach the terminal.
"$build/feed-ingest" --brokers=embedded --listen="$listen" --metrics-listen="$metrics" 2> >(trap '' INT; tee "$log" >&2) &
server=$!
stop() { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"; }
trap stop EXIT
trap 'exit 0' INT TERM

for _ in $(seq 100); do
  grep -q 'msg=serving' "$log" && break
  kill -0 "$server" 2>/dev/null || { echo "feed-ingest did not start" >&2; exit 1; }
  sleep 0.1
done
grep -q 'msg=serving' "$log" || { echo "feed-ingest did not start in time" >&2; exit 1; }
brokers=$(grep -o 'bootstrap=[^ ]*' "$log" | head -1 | cut -d= -f2)

now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
echo
echo "== Sending sample interactions (the last one is invalid on purpose)"
"$build/feed-ingest-client" send --target="$listen" --file=- <<JSON || true
{"userId":"alice","videoId":"v-100","interactionType":"view","watchTime":15000,"timestamp":"$now","eventId":"demo-1"}
{"userId":"alice","videoId":"v-100","interactionType":"like","watchTime":0,"timestamp":"$now","eventId":"demo-2"}
{"userId":"bob","videoId":"v-205","interactionType":"share","watchTime":4200,"timestamp":"$now","eventId":"demo-3"}
{"userId":"carol","videoId":"v-311","interactionType":"skip","watchTime":800,"timestamp":"$now","eventId":"demo-4"}
{"userId":"dave","videoId":"v-999","interactionType":"teleport","watchTime":1,"timestamp":"$now","eventId":"demo-5"}
JSON
"$build/feed-ingest-client" send --target="$listen" --count=5 --batch=5

echo
echo "== Reading feed.interactions.v1 back"
"$build/feed-ingest-client" tail --brokers="$brokers" --idle-timeout=2s

cat <<MSG

feed-ingest is running.
  gRPC:     $listen   (feed.interactions.v1.InteractionIngest)
  metrics:  http://$metrics/metrics
  broker:   $brokers   (embedded, in memory)
  send:     $build/feed-ingest-client send --target=$listen --count=100
  read:     $build/feed-ingest-client tail --brokers=$brokers
Press Ctrl-C to stop.
MSG
wait "$server"
