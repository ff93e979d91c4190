#!/usr/bin/env bash
# P1: Serval serving the iris MLP over v2 JSON vs the Go peer's constant /predict, side by side.
#
#   bench/iris-vs-go.sh [--pairs N] [--requests N] [--concurrency C] [--wrk-pairs N] [--wrk-seconds S]
#
# Both servers run pinned to core 0 (taskset -c 0; Go's GOMAXPROCS follows the pin, Serval gets
# --threads 1 so ONNX Runtime uses the one core it has); the load generators run pinned to core 1.
# After a warm-up, each round runs `hey -n REQUESTS -c C` (default 5 rounds, 50,000 requests, 10
# connections) against Go, then Serval, then (a diagnostic) Serval's GET /v2/health/ready, which
# is Helidon with a constant answer and no model; then the iris model alone in-process
# (InProcessLimit, 5 s). A cross-check with `wrk -t1 -c C` follows (the stronger client: it shows
# whether hey on one core limits the figures). Each run records the server's CPU time and context
# switches, so CPU per request and server-core utilisation say which side is the bottleneck.
# Resident memory (VmRSS now, VmHWM peak) is read at the end. SERVAL_HEAP / SERVAL_JAVA_OPTS are
# passed to ./serval as usual (and recorded).
# Raw output goes to bench/work/results/iris-vs-go-<time>/; the markdown summary is printed and
# saved as summary.md. Set BENCH_QUIET_WAIT=0 to skip waiting for a quiet machine (smoke tests).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAIRS=5 REQUESTS=50000 CONCURRENCY=10 WRK_PAIRS=3 WRK_SECONDS=10
GO_PORT=${BENCH_GO_PORT:-18081} SERVAL_PORT=${BENCH_SERVAL_PORT:-18000}
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --wrk-pairs) WRK_PAIRS=$2; shift 2 ;;
    --wrk-seconds) WRK_SECONDS=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$PAIRS" -ge 3 ] || log "WARNING: fewer than 3 pairs is a smoke test, not a measurement (PERFORMANCE.md)"

need hey wrk taskset curl python3
find_jdk
ensure_built
ensure_go_peer
"$BENCH/make-bodies.py"
BODY="$WORK/iris.json"
for port in "$GO_PORT" "$SERVAL_PORT"; do port_free "$port" || die "port $port is in use (set BENCH_GO_PORT / BENCH_SERVAL_PORT)"; done

begin_run iris-vs-go
{
  echo "go peer: bench/peers/go, GOMAXPROCS default (1 under the pin), GET /predict"
  echo "serval: ./serval serve --threads 1 (bundled example repository), JVM flags of ./serval (its command line is below), POST /v2/models/iris/infer"
  echo "hey: -n $REQUESTS -c $CONCURRENCY, $PAIRS rounds; wrk: -t1 -c $CONCURRENCY -d ${WRK_SECONDS}s, $WRK_PAIRS rounds"
} >> "$RUN/machine.txt"

log "starting the Go peer and Serval on core $SERVER_CORE"
taskset -c "$SERVER_CORE" "$WORK/go-peer" --port "$GO_PORT" > "$RUN/go.log" 2>&1 &
GO_PID=$!; started $GO_PID
(cd "$ROOT" && exec taskset -c "$SERVER_CORE" ./serval serve --http-port "$SERVAL_PORT" --threads 1) > "$RUN/serval.log" 2>&1 &
SERVAL_PID=$!; started $SERVAL_PID
GO_URL="http://127.0.0.1:$GO_PORT/predict"
SERVAL_URL="http://127.0.0.1:$SERVAL_PORT/v2/models/iris/infer"
wait_http "$GO_URL" $GO_PID 10 || die "the Go peer did not start; see $RUN/go.log"
wait_http "http://127.0.0.1:$SERVAL_PORT/v2/health/ready" $SERVAL_PID 120 || die "Serval did not get ready; see $RUN/serval.log"
SERVAL_JAVA=$(pgrep -P $SERVAL_PID java || echo $SERVAL_PID) # ./serval execs java: normally the same PID
log "Go peer pid $GO_PID; Serval pid $SERVAL_JAVA"
echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_JAVA/cmdline)" >> "$RUN/machine.txt"
{ echo "go answer: $(curl -s "$GO_URL")"
  echo "serval answer: $(curl -s -H 'Content-Type: application/json' --data-binary @"$BODY" "$SERVAL_URL")"; } | tee -a "$RUN/machine.txt" >&2
curl -s -H 'Content-Type: application/json' --data-binary @"$BODY" "$SERVAL_URL" | grep -q '"outputs"' \
  || die "Serval's iris answer has no outputs"

READY_URL="http://127.0.0.1:$SERVAL_PORT/v2/health/ready"
CP="$BENCH_JAR:$ROOT/serval-bench/target/lib/*"
limit_jvm_flags

# hey_run SYSTEM ARGS...: hey against one system: go (GET /predict), serval (POST iris) or
# ready (GET Serval's /v2/health/ready: Helidon and a constant answer, no model: a diagnostic).
hey_run() {
  local system=$1; shift
  case $system in
    go) taskset -c "$CLIENT_CORE" hey "$@" "$GO_URL" ;;
    serval) taskset -c "$CLIENT_CORE" hey "$@" -m POST -T application/json -D "$BODY" "$SERVAL_URL" ;;
    ready) taskset -c "$CLIENT_CORE" hey "$@" "$READY_URL" ;;
  esac
}
wrk_run() {
  local system=$1; shift
  case $system in
    go) taskset -c "$CLIENT_CORE" wrk "$@" "$GO_URL" ;;
    serval) WRK_BODY="$BODY" taskset -c "$CLIENT_CORE" wrk "$@" -s "$BENCH/post.lua" "$SERVAL_URL" ;;
    ready) taskset -c "$CLIENT_CORE" wrk "$@" "$READY_URL" ;;
  esac
}
pid_of() { if [ "$1" = go ]; then echo $GO_PID; else echo "$SERVAL_JAVA"; fi; }

log "warm-up: Go 3 s, Serval iris 15 s (JIT), Serval ready 3 s; hey -c $CONCURRENCY"
hey_run go -z 3s -c "$CONCURRENCY" > "$RUN/warmup-go.txt"
hey_run serval -z 15s -c "$CONCURRENCY" > "$RUN/warmup-serval.txt"
hey_run ready -z 3s -c "$CONCURRENCY" > "$RUN/warmup-ready.txt"
read -r n _ _ _ _ _ bad errors < <(hey_summary "$RUN/warmup-serval.txt")
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ] && [ "$errors" -eq 0 ] || die "Serval's warm-up had failures; see $RUN/warmup-serval.txt"

# Rows: system round requests req_per_s p50 p90 p99 slowest non200 errors cpu_us_per_req server_core_pct client_core_pct
#       server_context_switches_per_req
ROWS="$RUN/hey-runs.tsv"
LIMIT_ROWS="$RUN/limit-runs.jsonl"
: > "$ROWS"; : > "$LIMIT_ROWS"
TIMEFORMAT='%U %S %R'
for round in $(seq "$PAIRS"); do
  for system in go serval ready; do
    pid=$(pid_of $system)
    before=$(cpu_ticks "$pid"); switches=$(ctx_switches "$pid")
    { time hey_run $system -n "$REQUESTS" -c "$CONCURRENCY" > "$RUN/hey-$system-$round.txt"; } 2> "$RUN/hey-$system-$round.time"
    after=$(cpu_ticks "$pid"); switches=$(( $(ctx_switches "$pid") - switches ))
    read -r n rps p50 p90 p99 slowest bad errors < <(hey_summary "$RUN/hey-$system-$round.txt")
    read -r cu cs wall < "$RUN/hey-$system-$round.time"
    usage=$(awk -v n="$n" -v rps="$rps" -v d=$((after - before)) -v hz="$CLK_TCK" -v u="$cu" -v s="$cs" -v w="$wall" -v x="$switches" 'BEGIN {
      cpu = d / hz; printf "%.1f %.0f %.0f %.2f", cpu / n * 1e6, 100 * cpu / (n / rps), 100 * (u + s) / w, x / n }')
    echo "$system $round $n $rps $p50 $p90 $p99 $slowest $bad $errors $usage" >> "$ROWS"
    log "round $round $system: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-200 $bad, errors $errors; server CPU us/req, server core %, hey core %, server context switches/req: $usage"
  done
  # The iris model alone, in-process, on the servers' core (no server is busy meanwhile).
  taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$CP" dev.serval.bench.InProcessLimit \
    --model "$ROOT/examples/repository/iris/1/model.onnx" --threads 1 --warmup-seconds 2 --seconds 3 \
    >> "$LIMIT_ROWS" 2> "$RUN/limit-$round.log"
  log "round $round in-process iris: $(tail -1 "$LIMIT_ROWS")"
done

log "cross-check with wrk -t1 -c $CONCURRENCY -d ${WRK_SECONDS}s"
# Rows: system round req_per_s p50 p90 p99 non2xx socket_errors cpu_us_per_req server_core_pct
WRK_ROWS="$RUN/wrk-runs.tsv"
: > "$WRK_ROWS"
for round in $(seq "$WRK_PAIRS"); do
  for system in go serval ready; do
    pid=$(pid_of $system)
    before=$(cpu_ticks "$pid")
    wrk_run $system -t1 -c "$CONCURRENCY" -d "${WRK_SECONDS}s" --latency > "$RUN/wrk-$system-$round.txt"
    after=$(cpu_ticks "$pid")
    read -r rps p50 p90 p99 bad errs < <(wrk_summary "$RUN/wrk-$system-$round.txt")
    usage=$(awk -v rps="$rps" -v d=$((after - before)) -v hz="$CLK_TCK" -v t="$WRK_SECONDS" 'BEGIN {
      printf "%.1f %.0f", d / hz / (rps * t) * 1e6, 100 * d / hz / t }')
    echo "$system $round $rps $p50 $p90 $p99 $bad $errs $usage" >> "$WRK_ROWS"
    log "wrk round $round $system: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $bad, socket errors $errs; server CPU us/req, core %: $usage"
  done
done

read -r GO_RSS GO_HWM < <(memory_kb $GO_PID)
read -r SV_RSS SV_HWM < <(memory_kb "$SERVAL_JAVA")

# ---- the summary ----
col() { awk -v s="$1" -v c="$2" '$1 == s {print $c}' "$3"; }           # column c of system s's rows
cell() { local m lo hi; read -r m lo hi < <(stats "$@"); printf '%s (%s - %s)' "$m" "$lo" "$hi"; }
total() { col "$@" | awk '{s += $1} END {print s + 0}'; }
ratios() { # ratios FILE COLUMN: per round, serval's column over go's
  paste <(col serval "$2" "$1") <(col go "$2" "$1") | awk '{printf "%.2f\n", $1 / $2}'
}
json_field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$LIMIT_ROWS"; }
{
  echo "### P1: iris over v2 JSON (Serval) vs Go's constant /predict: hey -n $REQUESTS -c $CONCURRENCY, $PAIRS rounds"
  echo
  echo "Servers pinned to core $SERVER_CORE (Serval with --threads 1), hey pinned to core $CLIENT_CORE; runs alternate Go, Serval, Serval-ready."
  echo "Latency is hey's: closed loop, 0.1 ms resolution, not corrected for coordinated omission."
  echo
  echo "| round | Go req/s | Serval req/s | Serval / Go | Go p50 / p99 ms | Serval p50 / p99 ms |"
  echo "|---|---|---|---|---|---|"
  mapfile -t R < <(ratios "$ROWS" 4)
  for round in $(seq "$PAIRS"); do
    g=($(awk -v r="$round" '$1 == "go" && $2 == r' "$ROWS")); s=($(awk -v r="$round" '$1 == "serval" && $2 == r' "$ROWS"))
    echo "| $round | ${g[3]} | ${s[3]} | ${R[$((round - 1))]}x | ${g[4]} / ${g[6]} | ${s[4]} / ${s[6]} |"
  done
  echo "| **median (min - max)** | $(cell $(col go 4 "$ROWS")) | $(cell $(col serval 4 "$ROWS")) | **$(cell "${R[@]}")** | $(cell $(col go 5 "$ROWS")) / $(cell $(col go 7 "$ROWS")) | $(cell $(col serval 5 "$ROWS")) / $(cell $(col serval 7 "$ROWS")) |"
  echo
  echo "Non-200 responses / transport errors: Go $(total go 9 "$ROWS") / $(total go 10 "$ROWS"), Serval $(total serval 9 "$ROWS") / $(total serval 10 "$ROWS"), Serval ready $(total ready 9 "$ROWS") / $(total ready 10 "$ROWS")."
  echo
  echo "#### where the time goes (medians, min - max, of the same hey runs)"
  echo
  echo "| system | req/s | p50 / p99 ms | server CPU us/request | server core busy % | hey core busy % | server context switches/request |"
  echo "|---|---|---|---|---|---|---|"
  for system in go serval ready; do
    case $system in go) label="Go constant /predict";; serval) label="Serval iris /infer (v2 JSON)";; ready) label="Serval GET /v2/health/ready (Helidon, no model)";; esac
    echo "| $label | $(cell $(col $system 4 "$ROWS")) | $(cell $(col $system 5 "$ROWS")) / $(cell $(col $system 7 "$ROWS")) | $(cell $(col $system 11 "$ROWS")) | $(cell $(col $system 12 "$ROWS")) | $(cell $(col $system 13 "$ROWS")) | $(cell $(col $system 14 "$ROWS")) |"
  done
  echo "| iris in-process (InProcessLimit --threads 1, ORT only) | $(cell $(json_field runs_per_s)) runs/s | $(cell $(json_field p50_ms)) / $(cell $(json_field p99_ms)) | | | | |"
  echo
  echo "Server CPU per request = the server process's CPU time (utime + stime, all threads, 10 ms ticks) over the run / requests;"
  echo "server core busy = that CPU time / the run's duration (requests / req/s); hey core busy = hey's CPU time / its wall time;"
  echo "context switches = voluntary + involuntary switches of the server's threads (/proc/PID/task/*/status) / requests."
  if [ "$WRK_PAIRS" -gt 0 ]; then
    echo
    echo "### cross-check: wrk -t1 -c $CONCURRENCY -d ${WRK_SECONDS}s, $WRK_PAIRS rounds (same servers, same pinning)"
    echo
    echo "| round | Go req/s | Serval req/s | Serval / Go | Serval ready req/s | Go / Serval CPU us/req | Go / Serval core busy % |"
    echo "|---|---|---|---|---|---|---|"
    mapfile -t R < <(ratios "$WRK_ROWS" 3)
    for round in $(seq "$WRK_PAIRS"); do
      g=($(awk -v r="$round" '$1 == "go" && $2 == r' "$WRK_ROWS")); s=($(awk -v r="$round" '$1 == "serval" && $2 == r' "$WRK_ROWS"))
      h=($(awk -v r="$round" '$1 == "ready" && $2 == r' "$WRK_ROWS"))
      echo "| $round | ${g[2]} | ${s[2]} | ${R[$((round - 1))]}x | ${h[2]} | ${g[8]} / ${s[8]} | ${g[9]} / ${s[9]} |"
    done
    echo "| **median (min - max)** | $(cell $(col go 3 "$WRK_ROWS")) | $(cell $(col serval 3 "$WRK_ROWS")) | **$(cell "${R[@]}")** | $(cell $(col ready 3 "$WRK_ROWS")) | $(cell $(col go 9 "$WRK_ROWS")) / $(cell $(col serval 9 "$WRK_ROWS")) | |"
    echo
    echo "wrk p50 / p99 ms (median): Go $(stats $(col go 4 "$WRK_ROWS") | cut -d' ' -f1) / $(stats $(col go 6 "$WRK_ROWS") | cut -d' ' -f1), Serval $(stats $(col serval 4 "$WRK_ROWS") | cut -d' ' -f1) / $(stats $(col serval 6 "$WRK_ROWS") | cut -d' ' -f1). Non-2xx / socket errors: Go $(total go 7 "$WRK_ROWS") / $(total go 8 "$WRK_ROWS"), Serval $(total serval 7 "$WRK_ROWS") / $(total serval 8 "$WRK_ROWS"), ready $(total ready 7 "$WRK_ROWS") / $(total ready 8 "$WRK_ROWS")."
  fi
  echo
  echo "### resident memory at the end (after all runs)"
  echo
  echo "| server | VmRSS now | VmHWM peak |"
  echo "|---|---|---|"
  echo "| Go peer | $((GO_RSS / 1024)) MB | $((GO_HWM / 1024)) MB |"
  echo "| Serval (bundled example repository: 5 model versions; ./serval's heap flags, see the command line) | $((SV_RSS / 1024)) MB | $((SV_HWM / 1024)) MB |"
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
BAD=$(awk '{s += $9 + $10} END {print s + 0}' "$ROWS")
WBAD=$(awk '{s += $7 + $8} END {print s + 0}' "$WRK_ROWS")
log "raw results in $RUN"
[ "$BAD" -eq 0 ] && [ "$WBAD" -eq 0 ] || { log "FAILED: $BAD failed hey requests, $WBAD wrk errors (see $RUN)"; exit 1; }
