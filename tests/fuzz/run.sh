#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, starting from the checked-in seed
# corpus (copied, so the repository's corpus stays as it is). Any crash,
# sanitizer report or timeout fails the run; libFuzzer leaves the input that
# caused it in the working directory it prints.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
for target in request_fuzzer record_fuzzer; do
  corpus=$(mktemp -d)
  cp "$here/corpus/${target%_fuzzer}/"* "$corpus/"
  echo "== $target for ${seconds}s"
  log=$(mktemp)
  set +e
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="${TMPDIR:-/tmp}/feed-ingest-$target-" "$corpus" \
    > "$log" 2>&1
  status=$?
  set -e
  grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|^==[0-9]+==ERROR|SUMMARY|Test unit written" "$log" || true
  if [ "$status" -ne 0 ]; then tail -40 "$log"; fi
  rm -f "$log"
  rm -rf "$corpus"
  if [ "$status" -ne 0 ]; then
    echo "$target failed (exit $status)"
    exit 1
  fi
done
echo "fuzzing: every target ran ${seconds}s without a finding"
