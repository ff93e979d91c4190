#!/usr/bin/env bash
# Issue 3 (overload, gRPC): a burst of gRPC callers on one connection against a fresh Serval.
# MobileNetV2 (602 KB raw input per call), CALLERS closed-loop callers (default 1,000) of the Java
# gRPC client (dev.serval.bench.load.GrpcLoadGenerator, one channel: one HTTP/2 connection) start
# at once and call for SECONDS (30), with no warm-up: the burst on a cold server is the case that
# tests what the server reads ahead of its in-flight budget (--max-inflight-bytes, default 64 MB).
#
#   bench/grpc-overload.sh [--rounds N] [--callers C] [--seconds S]
#
# Each round starts Serval (--threads 1, core 0, bench/work/repo-mobilenet-batching, whose queue
# holds 4,096) with gRPC on; the generator runs on core 1. Per round: answers/s and their p50/p99,
# failed calls by status, Serval's resident memory before, at its peak (sampled each second) and 5 s
# after, direct buffers at the end (/metrics), OutOfMemoryError lines in Serval's log, and whether a
# REST request to the model still succeeds after the burst. Raw output: bench/work/results/grpc-overload-<time>/.
# BENCH_QUIET_WAIT=0 skips the wait for a quiet machine (smoke tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 CALLERS=1000 SECONDS_MEASURED=30
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
GRPC_PORT=$((SERVAL_PORT + 1))
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --callers) CALLERS=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

mobilenet_setup
HEADER_LENGTH=$(cat "$WORK/mobilenet_b1.bin.header")
begin_run grpc-overload
echo "load: $CALLERS gRPC callers on one connection, closed loop, no warm-up, ${SECONDS_MEASURED} s; $ROUNDS rounds" \
  >> "$RUN/machine.txt"

rss_mb() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }

for r in $(seq "$ROUNDS"); do
  log "round $r: Serval fresh, $CALLERS gRPC callers for ${SECONDS_MEASURED} s"
  start_serval "$RUN/serval-r$r.log" "$REPO" --grpc-port "$GRPC_PORT"
  before=$(rss_mb "$SERVAL_PID")
  taskset -c "$CLIENT_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -Xmx4g -cp "$BENCH_CP" \
    dev.serval.bench.load.GrpcLoadGenerator --target "127.0.0.1:$GRPC_PORT" --model mobilenet_v2 \
    --body "$WORK/mobilenet_b1.bin" --header-length "$HEADER_LENGTH" --connections "$CALLERS" \
    --seconds "$SECONDS_MEASURED" --timeout-seconds 60 > "$RUN/load-r$r.json" 2> "$RUN/load-r$r.log" &
  gen=$!; started $gen
  peak=$before
  while kill -0 "$gen" 2> /dev/null; do
    now=$(rss_mb "$SERVAL_PID"); [ "$now" -gt "$peak" ] && peak=$now
    sleep 1
  done
  wait "$gen" || true
  sleep 5
  after=$(rss_mb "$SERVAL_PID")
  direct=$(metric_sum jvm_buffer_pool_used_bytes 'pool="direct"')
  status=$(curl -s -o /dev/null -w '%{http_code}' -m 30 --data-binary "@$WORK/mobilenet_b1.bin" \
    -H 'Content-Type: application/octet-stream' -H "Inference-Header-Content-Length: $HEADER_LENGTH" \
    "http://127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" || echo fail)
  ooms=$(grep -c OutOfMemoryError "$RUN/serval-r$r.log" || true)
  python3 - "$RUN/load-r$r.json" "$before" "$peak" "$after" "$direct" "$status" "$ooms" <<'PY' | tee -a "$RUN/rounds.tsv"
import json, sys
d = json.load(open(sys.argv[1]))
lat = d.get("latency_ms", {})
failed = d.get("failures_by_status", {})
print("\t".join(str(x) for x in [
    d["ok_throughput"], lat.get("p50", "-"), lat.get("p99", "-"), d["ok"],
    ", ".join(f"{k} {v}" for k, v in failed.items()) or "0", d.get("transport_errors", 0),
    sys.argv[2], sys.argv[3], sys.argv[4], round(float(sys.argv[5]) / 2**20) if sys.argv[5] != "-" else "-",
    sys.argv[7], sys.argv[6]]))
PY
  stop_pid "$SERVAL_PID"
done

{
  echo "### gRPC overload: $CALLERS MobileNetV2 callers on one connection, cold start, ${SECONDS_MEASURED} s (one row per round)"
  echo
  echo "| answers/s | p50 ms | p99 ms | answered | failed, by status | transport errors | RSS before MB | RSS peak MB | RSS 5 s after MB | direct buffers after MB | OutOfMemoryError log lines | REST request after |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$RUN/rounds.tsv"
  echo
  sed 's/^/    /' "$RUN/machine.txt"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
