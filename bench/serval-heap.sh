#!/usr/bin/env bash
# Diagnostic: Serval's resident memory, CPU and iris throughput by heap setting, side by side.
#
#   bench/serval-heap.sh [--heaps "1g/1g 1g/128m 256m/256m 128m/128m"] [--rounds N] [--requests N]
#
# Each setting is SERVAL_HEAP/SERVAL_SOFT_HEAP (./serval's -Xmx and -XX:SoftMaxHeapSize). Starts
# one Serval per setting (bundled example repository, --threads 1), all pinned to core 0, and
# alternates hey -n REQUESTS -c 10 (pinned to core 1) on iris over v2 JSON across them for ROUNDS
# rounds, recording each server's CPU per request; then reads each one's VmRSS and VmHWM. Only
# the server under load is busy at a time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HEAPS="1g/1g 1g/128m 256m/256m 128m/128m" ROUNDS=3 REQUESTS=50000
while [ $# -gt 0 ]; do
  case "$1" in
    --heaps) HEAPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
need hey taskset curl python3
find_jdk
ensure_built
"$BENCH/make-bodies.py"
BODY="$WORK/iris.json"
begin_run serval-heap

declare -A PID PORT
port=18020
for heap in $HEAPS; do
  port_free $port || die "port $port is in use"
  (cd "$ROOT" && SERVAL_HEAP=${heap%/*} SERVAL_SOFT_HEAP=${heap#*/} exec taskset -c "$SERVER_CORE" ./serval serve --http-port $port --threads 1) > "$RUN/serval-${heap/\//-}.log" 2>&1 &
  PID[$heap]=$!; PORT[$heap]=$port; started $!
  port=$((port + 1))
done
for heap in $HEAPS; do
  wait_http "http://127.0.0.1:${PORT[$heap]}/v2/health/ready" "${PID[$heap]}" 120 || die "Serval ($heap) did not get ready"
  read -r rss hwm < <(memory_kb "${PID[$heap]}")
  echo "$heap ready $rss $hwm" >> "$RUN/memory.tsv"
done
url() { echo "http://127.0.0.1:${PORT[$1]}/v2/models/iris/infer"; }
for heap in $HEAPS; do
  taskset -c "$CLIENT_CORE" hey -z 15s -c 10 -m POST -T application/json -D "$BODY" "$(url $heap)" > "$RUN/warmup-${heap/\//-}.txt"
done
ROWS="$RUN/rows.tsv"
: > "$ROWS"
for round in $(seq "$ROUNDS"); do
  for heap in $HEAPS; do
    out="$RUN/hey-${heap/\//-}-$round.txt"
    before=$(cpu_ticks "${PID[$heap]}")
    taskset -c "$CLIENT_CORE" hey -n "$REQUESTS" -c 10 -m POST -T application/json -D "$BODY" "$(url $heap)" > "$out"
    after=$(cpu_ticks "${PID[$heap]}")
    read -r n rps p50 p90 p99 slowest bad errors < <(hey_summary "$out")
    cpu=$(awk -v d=$((after - before)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN {printf "%.1f", d / hz / n * 1e6}')
    echo "$heap $round $rps $p50 $p99 $bad $errors $cpu" >> "$ROWS"
    log "round $round heap/soft $heap: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-200 $bad, errors $errors, CPU $cpu us/req"
  done
done
for heap in $HEAPS; do
  read -r rss hwm < <(memory_kb "${PID[$heap]}")
  echo "$heap end $rss $hwm" >> "$RUN/memory.tsv"
done

col() { awk -v h="$1" -v c="$2" '$1 == h {print $c}' "$ROWS"; }
mem() { awk -v h="$1" -v w="$2" -v c="$3" '$1 == h && $2 == w {printf "%d", $c / 1024}' "$RUN/memory.tsv"; }
cell() { local m lo hi; read -r m lo hi < <(stats "$@"); printf '%s (%s - %s)' "$m" "$lo" "$hi"; }
{
  echo "### Serval by heap setting: iris over v2 JSON, hey -n $REQUESTS -c 10, $ROUNDS rounds alternating"
  echo
  echo "All Servals pinned to core $SERVER_CORE (--threads 1, bundled example repository), hey to core $CLIENT_CORE. Median (min - max)."
  echo
  echo "| SERVAL_HEAP / SERVAL_SOFT_HEAP | req/s | p50 / p99 ms | server CPU us/req | VmRSS when ready | VmRSS after load | VmHWM peak |"
  echo "|---|---|---|---|---|---|---|"
  for heap in $HEAPS; do
    echo "| $heap | $(cell $(col $heap 3)) | $(cell $(col $heap 4)) / $(cell $(col $heap 5)) | $(cell $(col $heap 8)) | $(mem $heap ready 3) MB | $(mem $heap end 3) MB | $(mem $heap end 4) MB |"
  done
  echo
  echo "Failures: $(awk '{s += $6 + $7} END {print s + 0}' "$ROWS"). JVM command line of the first server:"
  echo
  echo "    $(tr '\0' ' ' < "/proc/${PID[${HEAPS%% *}]}/cmdline" | sed 's/ -jar .*//')"
  echo
  echo "Machine:"
  echo
  sed 's/^/    /' "$RUN/machine.txt"
  echo "    $(load_report "$RUN/load.log")"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
