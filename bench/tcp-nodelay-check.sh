#!/usr/bin/env bash
# Diagnostic: what Nagle's algorithm costs Serval's HTTP server (Helidon) on keep-alive connections.
#
#   bench/tcp-nodelay-check.sh [--rounds N] [--requests N]
#
# Runs dev.serval.bench.TcpNoDelayCheck pinned to core 0: two Helidon servers built like Serval's,
# one with Helidon's default socket options (TCP_NODELAY off), one with TCP_NODELAY on, both
# reading a POSTed body (bench/work/mobilenet_b1.json, 1.1 MB) and answering a fixed body, once
# 11,898 bytes (Serval's MobileNetV2 answer: two socket writes) and once 4,000 bytes (one write).
# hey -c 1 -n REQUESTS, pinned to core 1, alternates default / nodelay for each size, 3 rounds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 REQUESTS=200
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
need hey taskset curl python3
find_jdk
limit_jvm_flags
ensure_built
"$BENCH/make-bodies.py"
BODY="$WORK/mobilenet_b1.json"
CP="$BENCH_JAR:$ROOT/serval-bench/target/lib/*"
begin_run tcp-nodelay-check

ROWS="$RUN/rows.tsv"
: > "$ROWS"
port=18010
for size in 11898 4000; do
  for p in $port $((port + 1)); do port_free $p || die "port $p is in use"; done
  taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$CP" dev.serval.bench.TcpNoDelayCheck \
    --default-port $port --nodelay-port $((port + 1)) --response-bytes $size > "$RUN/server-$size.log" 2>&1 &
  pid=$!; started $pid
  for p in $port $((port + 1)); do
    for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' -d x "http://127.0.0.1:$p/infer")" = 200 ] && break; sleep 0.1; done
    taskset -c "$CLIENT_CORE" hey -c 1 -n 100 -m POST -T application/json -D "$BODY" "http://127.0.0.1:$p/infer" > /dev/null # warm-up
  done
  for round in $(seq "$ROUNDS"); do
    for mode in default nodelay; do
      p=$port; [ $mode = nodelay ] && p=$((port + 1))
      taskset -c "$CLIENT_CORE" hey -c 1 -n "$REQUESTS" -m POST -T application/json -D "$BODY" "http://127.0.0.1:$p/infer" > "$RUN/hey-$size-$mode-$round.txt"
      read -r n rps p50 p90 p99 slowest bad errors < <(hey_summary "$RUN/hey-$size-$mode-$round.txt")
      echo "$size $mode $round $rps $p50 $p99 $bad $errors" >> "$ROWS"
      log "answer $size bytes, $mode, round $round: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-200 $bad, errors $errors"
    done
  done
  kill $pid; wait $pid 2>/dev/null || true
  port=$((port + 2))
done

col() { awk -v s="$1" -v m="$2" -v c="$3" '$1 == s && $2 == m {print $c}' "$ROWS"; }
cell() { local m lo hi; read -r m lo hi < <(stats "$@"); printf '%s (%s - %s)' "$m" "$lo" "$hi"; }
{
  echo "### Helidon (as Serval builds it) with TCP_NODELAY off (its default) vs on: POST 1.1 MB, hey -c 1 -n $REQUESTS, $ROUNDS rounds"
  echo
  echo "Server pinned to core $SERVER_CORE, hey to core $CLIENT_CORE. Median (min - max) over rounds; ms."
  echo
  echo "| answer size | TCP_NODELAY | req/s | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|"
  for size in 11898 4000; do
    for mode in default nodelay; do
      label="off (Helidon default)"; [ $mode = nodelay ] && label="on"
      echo "| $size bytes | $label | $(cell $(col $size $mode 4)) | $(cell $(col $size $mode 5)) | $(cell $(col $size $mode 6)) |"
    done
  done
  echo
  echo "Failures: $(awk '{s += $7 + $8} END {print s + 0}' "$ROWS"). Machine:"
  echo
  sed 's/^/    /' "$RUN/machine.txt"
  echo "    $(load_report "$RUN/load.log")"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
