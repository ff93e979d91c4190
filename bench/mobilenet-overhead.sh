#!/usr/bin/env bash
# P3 (over JSON): the serving overhead for MobileNetV2 at batch 1 with one client: Serval's
# latency over v2 JSON minus the in-process limit's, same model, same thread budget, same core.
#
#   bench/mobilenet-overhead.sh [--rounds N] [--requests N] [--limit-seconds S] [--wrk-seconds S] [--body FILE]
#
# Each round runs, one after the other on core 0 (taskset -c 0):
#   limit   InProcessLimit --threads 1 --batch 1 (ONNX Runtime called directly with Serval's
#           session options; 3 s warm-up, then LIMIT_SECONDS timed runs)
#   served  Serval (--threads 1, a repository holding only mobilenet_v2) answering
#           `hey -c 1 -n REQUESTS` (pinned to core 1) POSTing bench/work/mobilenet_b1.json
#   wrk     the same with `wrk -t1 -c1 --latency` (10 us resolution where hey has 100 us)
# and reports p50 served - p50 limit (the overhead) with p90 and p99, median and min-max over the
# rounds (default 5). Over JSON the overhead includes sending and parsing the 1.1 MB body (150,528
# numbers) and encoding the 1,000 logits; P3's target (p50 <= limit + 0.3 ms) is for binary/gRPC.
# Raw output goes to bench/work/results/mobilenet-overhead-<time>/ with summary.md.
# Set BENCH_QUIET_WAIT=0 to skip waiting for a quiet machine (smoke tests).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=5 REQUESTS=200 LIMIT_SECONDS=5 WRK_SECONDS=5 BODY=""
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --limit-seconds) LIMIT_SECONDS=$2; shift 2 ;;
    --wrk-seconds) WRK_SECONDS=$2; shift 2 ;;
    --body) BODY=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

[ -f "$MOBILENET" ] || die "the MobileNetV2 benchmark model is missing ($MOBILENET); make it with:
  /usr/bin/python3 examples/python/export_models.py --bench"
need hey wrk taskset curl python3
find_jdk
limit_jvm_flags
ensure_built
"$BENCH/make-bodies.py"
BODY=${BODY:-$WORK/mobilenet_b1.json}
port_free "$SERVAL_PORT" || die "port $SERVAL_PORT is in use (set BENCH_SERVAL_PORT)"

# A repository with only MobileNetV2. A hard link (or copy), not a symlink: Serval refuses model
# files whose real path leads outside the repository.
REPO="$WORK/repo-mobilenet"
mkdir -p "$REPO/mobilenet_v2/1"
if ! cmp -s "$MOBILENET" "$REPO/mobilenet_v2/1/model.onnx"; then
  rm -f "$REPO/mobilenet_v2/1/model.onnx"
  ln "$MOBILENET" "$REPO/mobilenet_v2/1/model.onnx" 2>/dev/null || cp "$MOBILENET" "$REPO/mobilenet_v2/1/model.onnx"
fi

begin_run mobilenet-overhead
{
  echo "model: $(realpath --relative-to="$ROOT" "$MOBILENET") ($(stat -c %s "$MOBILENET") bytes), batch 1, input [1,3,224,224] FP32"
  echo "body: $(realpath --relative-to="$ROOT" "$BODY") ($(stat -c %s "$BODY") bytes)"
  echo "limit: java ${LIMIT_FLAGS[*]} dev.serval.bench.InProcessLimit --threads 1 --batch 1 --warmup-seconds 3 --seconds $LIMIT_SECONDS"
  echo "serval: ./serval serve --threads 1 --model-repository bench/work/repo-mobilenet (JVM flags of ./serval, command line below)"
  echo "clients: hey -c 1 -n $REQUESTS; wrk -t1 -c1 -d ${WRK_SECONDS}s --latency; $ROUNDS rounds"
} >> "$RUN/machine.txt"

log "starting Serval on core $SERVER_CORE with only mobilenet_v2"
(cd "$ROOT" && exec taskset -c "$SERVER_CORE" ./serval serve --http-port "$SERVAL_PORT" --threads 1 \
  --model-repository "$REPO") > "$RUN/serval.log" 2>&1 &
SERVAL_PID=$!; started $SERVAL_PID
wait_http "http://127.0.0.1:$SERVAL_PORT/v2/health/ready" $SERVAL_PID 120 || die "Serval did not get ready; see $RUN/serval.log"
URL="http://127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
curl -s -H 'Content-Type: application/json' --data-binary @"$BODY" "$URL" > "$RUN/answer.json"
grep -q '"shape":\[1,1000\]' "$RUN/answer.json" || die "Serval's answer is not [1,1000] logits; see $RUN/answer.json"
log "Serval pid $SERVAL_PID answers $(stat -c %s "$RUN/answer.json") bytes"
echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)" >> "$RUN/machine.txt"

CP="$BENCH_JAR:$ROOT/serval-bench/target/lib/*"
limit_run() {
  taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$CP" dev.serval.bench.InProcessLimit \
    --model "$MOBILENET" --threads 1 --batch 1 --warmup-seconds 3 --seconds "$LIMIT_SECONDS" "$@"
}
hey_served() { taskset -c "$CLIENT_CORE" hey -c 1 "$@" -m POST -T application/json -D "$BODY" "$URL"; }

log "warm-up: Serval 10 s (hey -c 1)"
hey_served -z 10s > "$RUN/warmup-served.txt"
read -r n _ _ _ _ _ bad errors < <(hey_summary "$RUN/warmup-served.txt")
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ] && [ "$errors" -eq 0 ] || die "the warm-up had failures; see $RUN/warmup-served.txt"

# Rows: kind round p50 p90 p99 [extra...]; all in ms
ROWS="$RUN/rounds.tsv"
: > "$ROWS"
for round in $(seq "$ROUNDS"); do
  limit_run > "$RUN/limit-$round.json" 2> "$RUN/limit-$round.log"
  j() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$RUN/limit-$round.json"; }
  echo "limit $round $(j p50_ms) $(j p90_ms) $(j p99_ms) $(j runs_per_s) $(j mean_ms)" >> "$ROWS"
  log "round $round limit: $(cat "$RUN/limit-$round.json")"

  before=$(cpu_ticks $SERVAL_PID); switches=$(ctx_switches $SERVAL_PID)
  hey_served -n "$REQUESTS" > "$RUN/hey-$round.txt"
  after=$(cpu_ticks $SERVAL_PID); switches=$(( $(ctx_switches $SERVAL_PID) - switches ))
  read -r n rps p50 p90 p99 slowest bad errors < <(hey_summary "$RUN/hey-$round.txt")
  cpu=$(awk -v d=$((after - before)) -v hz="$CLK_TCK" -v n="$n" -v x="$switches" 'BEGIN {printf "%.2f %.1f", d / hz / n * 1000, x / n}')
  echo "hey $round $p50 $p90 $p99 $rps $bad $errors $cpu" >> "$ROWS"
  log "round $round served (hey): $rps req/s, p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, non-200 $bad, errors $errors, server CPU ms/req and switches/req $cpu"

  WRK_BODY="$BODY" taskset -c "$CLIENT_CORE" wrk -t1 -c1 -d "${WRK_SECONDS}s" --latency -s "$BENCH/post.lua" "$URL" > "$RUN/wrk-$round.txt"
  read -r rps p50 p90 p99 bad errs < <(wrk_summary "$RUN/wrk-$round.txt")
  echo "wrk $round $p50 $p90 $p99 $rps $bad $errs" >> "$ROWS"
  log "round $round served (wrk): $rps req/s, p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, non-2xx $bad, socket errors $errs"
done
read -r SV_RSS SV_HWM < <(memory_kb $SERVAL_PID)

# ---- the summary ----
col() { awk -v s="$1" -v c="$2" '$1 == s {print $c}' "$ROWS"; }
cell() { local m lo hi; read -r m lo hi < <(stats "$@"); printf '%s (%s - %s)' "$m" "$lo" "$hi"; }
diffs() { # diffs KIND COLUMN: per round, KIND's column minus the limit's
  paste <(col "$1" "$2") <(col limit "$2") | awk '{printf "%.3f\n", $1 - $2}'
}
{
  echo "### MobileNetV2, batch 1, one client: serving overhead over v2 JSON, $ROUNDS rounds"
  echo
  echo "Limit and Serval pinned to core $SERVER_CORE, each with 1 ONNX Runtime thread; clients pinned to core $CLIENT_CORE."
  echo "Each round runs limit, then served with hey, then served with wrk. Milliseconds."
  echo "Over JSON the overhead includes sending and parsing the $(stat -c %s "$BODY")-byte body and encoding 1,000 logits."
  echo
  echo "| round | limit p50 / p90 / p99 | served (hey) p50 / p90 / p99 | overhead p50 (hey) | served (wrk) p50 / p90 / p99 | overhead p50 (wrk) |"
  echo "|---|---|---|---|---|---|"
  mapfile -t OH < <(diffs hey 3); mapfile -t OW < <(diffs wrk 3)
  for round in $(seq "$ROUNDS"); do
    l=($(awk -v r="$round" '$1 == "limit" && $2 == r' "$ROWS")); h=($(awk -v r="$round" '$1 == "hey" && $2 == r' "$ROWS"))
    w=($(awk -v r="$round" '$1 == "wrk" && $2 == r' "$ROWS"))
    echo "| $round | ${l[2]} / ${l[3]} / ${l[4]} | ${h[2]} / ${h[3]} / ${h[4]} | +${OH[$((round - 1))]} | ${w[2]} / ${w[3]} / ${w[4]} | +${OW[$((round - 1))]} |"
  done
  echo
  echo "| median (min - max) over rounds | p50 | p90 | p99 | throughput |"
  echo "|---|---|---|---|---|"
  echo "| in-process limit | $(cell $(col limit 3)) | $(cell $(col limit 4)) | $(cell $(col limit 5)) | $(cell $(col limit 6)) runs/s |"
  echo "| served, hey -c 1 | $(cell $(col hey 3)) | $(cell $(col hey 4)) | $(cell $(col hey 5)) | $(cell $(col hey 6)) req/s |"
  echo "| served, wrk -c 1 | $(cell $(col wrk 3)) | $(cell $(col wrk 4)) | $(cell $(col wrk 5)) | $(cell $(col wrk 6)) req/s |"
  echo "| **overhead, hey** (served - limit, per round) | **+$(cell $(diffs hey 3))** | +$(cell $(diffs hey 4)) | +$(cell $(diffs hey 5)) | |"
  echo "| **overhead, wrk** (served - limit, per round) | **+$(cell $(diffs wrk 3))** | +$(cell $(diffs wrk 4)) | +$(cell $(diffs wrk 5)) | |"
  echo
  echo "Serval CPU per request (hey runs; all threads, 10 ms ticks): $(cell $(col hey 9)) ms vs the limit's mean run $(cell $(col limit 7)) ms;"
  echo "server context switches per request: $(cell $(col hey 10))."
  echo "Failures: hey non-200 $(col hey 7 | awk '{s += $1} END {print s + 0}'), hey errors $(col hey 8 | awk '{s += $1} END {print s + 0}'), wrk non-2xx $(col wrk 7 | awk '{s += $1} END {print s + 0}'), wrk socket errors $(col wrk 8 | awk '{s += $1} END {print s + 0}')."
  echo "Hey's latencies have 0.1 ms resolution, wrk's 0.01 ms; the limit's come from an HdrHistogram (3 digits)."
  echo
  echo "Serval resident memory with only mobilenet_v2 ($(( $(stat -c %s "$MOBILENET") / 1048576 )) MB model) at the end: VmRSS $((SV_RSS / 1024)) MB, peak VmHWM $((SV_HWM / 1024)) MB."
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
FAILED=$(awk '$1 == "hey" {s += $7 + $8} $1 == "wrk" {s += $7 + $8} END {print s + 0}' "$ROWS")
[ "$FAILED" -eq 0 ] || { log "FAILED: $FAILED failed requests (see $RUN)"; exit 1; }
