#!/usr/bin/env bash
# Issue 3 (P5): GC pauses under load with 2,000 open connections. MobileNetV2 over v2 JSON, open
# loop at a moderate rate spread over 2,000 keep-alive connections (the shared schedule hands
# requests to the connections in turn, so each one is used while all stay open), for 60 s.
#
#   bench/gc-pauses.sh [--rounds N] [--rate R] [--connections N] [--seconds S] [--body FILE]
#
# Each round starts a fresh Serval (--threads 1, core 0, bench/work/repo-mobilenet-batching) with
#   SERVAL_JAVA_OPTS="-Xlog:gc*,safepoint:file=gc-rN.log:uptime,level,tags"
# warms it up (10 s at 10 clients), then runs the load generator (core 1): open loop at RATE
# (default 40/s, about 60% of what one core sustains over JSON, and enough that each of the 2,000
# connections carries a request within the 60 s), 10 s warm-up, SECONDS (60) measured.
# From the log, inside the measured window only: ZGC's pauses ("Pause Mark Start", "Pause Mark
# End", "Pause Relocate Start": count, p50, p99, max) and, to show what application threads wait,
# the safepoints of those pauses end to end (reaching + at + leaving the safepoint).
# Target: max pause < 1 ms. Raw output: bench/work/results/gc-pauses-<time>/.
# BENCH_QUIET_WAIT=0 skips the wait for a quiet machine (smoke tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 RATE=40 CONNECTIONS=2000 SECONDS_MEASURED=60 BODY=""
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    --body) BODY=$(realpath "$2"); shift 2 ;;  # FILE.json, or FILE.bin (binary tensors)
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

mobilenet_setup
BODY=${BODY:-$WORK/mobilenet_b1.json}
body_args "$BODY"

begin_run gc-pauses
{
  echo "model: $(realpath --relative-to="$ROOT" "$MOBILENET"); body $(realpath --relative-to="$ROOT" "$BODY") ($(stat -c %s "$BODY") bytes)"
  echo "config.yaml: $(tr '\n' ' ' < "$REPO/mobilenet_v2/config.yaml")"
  echo "load: open loop at $RATE/s over $CONNECTIONS connections, 10 s warm-up, $SECONDS_MEASURED s measured; a fresh Serval per round; $ROUNDS rounds"
} >> "$RUN/machine.txt"

# uptime_of PID: seconds since PID started (the JVM's -Xlog uptime clock, to within a few ms).
uptime_of() {
  awk -v start="$(awk '{print $22}' "/proc/$1/stat")" -v hz="$CLK_TCK" '{printf "%.3f\n", $1 - start / hz}' /proc/uptime
}
# pauses LOG FROM TO: the ZGC pause times (ms) logged between uptimes FROM and TO, one per line.
pauses() {
  awk -v from="$2" -v to="$3" '/Pause (Mark Start|Mark End|Relocate Start)/ {
      t = substr($1, 2) + 0; if (t < from || t > to) next
      v = $NF; sub(/ms$/, "", v); print v + 0 }' "$1"
}
# safepoints LOG FROM TO COLUMN: for ZGC's pause safepoints (Z*), one time (ms) per line: COLUMN
# "Total:" (end to end), "Reaching" (time to safepoint), "At" (the operation) or "Leaving".
safepoints() {
  awk -v from="$2" -v to="$3" -v want="$4" '/Safepoint "Z/ {
      t = substr($1, 2) + 0; if (t < from || t > to) next
      for (i = 1; i <= NF; i++) if ($i == want) { v = (want == "Total:") ? $(i + 1) : $(i + 2); print v / 1e6 } }' "$1"
}
# dist: "count p50 p99 max" of numbers on stdin (nearest rank).
dist() {
  sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "0 - - -"; exit }
    i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
    printf "%d %.3f %.3f %.3f\n", NR, v[i50], v[i99], v[NR] }'
}

ROWS="$RUN/rows.tsv"
: > "$ROWS"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
for round in $(seq "$ROUNDS"); do
  GCLOG="$RUN/gc-r$round.log"
  SERVAL_JAVA_OPTS="${SERVAL_JAVA_OPTS:-} -Xlog:gc*,safepoint:file=$GCLOG:uptime,level,tags" \
    start_serval "$RUN/serval-r$round.log" "$REPO"
  [ "$round" = 1 ] && echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)" >> "$RUN/machine.txt"
  load_gen --url "$URL" "${BODY_ARGS[@]}" --connections 10 --seconds 10 --quiet > "$RUN/warmup-r$round.json"
  out="$RUN/load-r$round.json"
  load_gen --url "$URL" "${BODY_ARGS[@]}" --connections "$CONNECTIONS" --rate "$RATE" --warmup-seconds 10 \
    --seconds "$SECONDS_MEASURED" --timeout-seconds 60 --drain-seconds 30 > "$out" 2> "$RUN/load-r$round.log" &
  gen=$!; started $gen
  # The measured window: from the end of the generator's warm-up to the end of its schedule.
  for _ in $(seq 600); do grep -q "connections open" "$RUN/load-r$round.log" 2>/dev/null && break; sleep 0.1; done
  sleep 10; from=$(uptime_of "$SERVAL_PID"); gc0=$(gc_ticks "$SERVAL_PID"); all0=$(cpu_ticks "$SERVAL_PID")
  sleep "$SECONDS_MEASURED"; to=$(uptime_of "$SERVAL_PID"); gc1=$(gc_ticks "$SERVAL_PID"); all1=$(cpu_ticks "$SERVAL_PID")
  gcshare=$(awk -v g=$((gc1 - gc0)) -v a=$((all1 - all0)) 'BEGIN {s = 0; if (a > 0) s = 100 * g / a; printf "%.0f%%", s}')
  busy=$(awk -v a=$((all1 - all0)) -v hz="$CLK_TCK" -v t="$SECONDS_MEASURED" 'BEGIN {printf "%.2f", a / hz / t}')
  read -r rss hwm < <(memory_kb "$SERVAL_PID")
  wait $gen || log "WARNING: the load generator failed in round $round"
  read -r n p50 p99 max < <(pauses "$GCLOG" "$from" "$to" | dist)
  read -r sn sp50 sp99 smax < <(safepoints "$GCLOG" "$from" "$to" "Total:" | dist)
  read -r _ _ reach99 reachmax < <(safepoints "$GCLOG" "$from" "$to" Reaching | dist)
  read -r _ _ at99 atmax < <(safepoints "$GCLOG" "$from" "$to" At | dist)
  read -r _ _ leave99 leavemax < <(safepoints "$GCLOG" "$from" "$to" Leaving | dist)
  # ZGC allocation stalls: a thread that allocates faster than ZGC frees waits ("Allocation Stall (thread) N ms")
  read -r stalls stallmax < <(awk -v from="$from" -v to="$to" '/Allocation Stall \(/ {
      t = substr($1, 2) + 0; if (t < from || t > to) next
      v = $NF; sub(/ms$/, "", v); n++; if (v + 0 > m) m = v + 0 } END {printf "%d %.3f\n", n, m}' "$GCLOG")
  # collections that ended in the window (their closing line carries "before->after" sizes)
  cycles=$(awk -v from="$from" -v to="$to" '/ (Minor|Major) Collection \(/ && /->/ { t = substr($1, 2) + 0; if (t >= from && t <= to) n++ } END {print n + 0}' "$GCLOG")
  read -r sent lp50 lp99 lmax ok non2xx errors unsent < <(jfields "$out" open_loop.achieved_rate latency_ms.p50 latency_ms.p99 \
    latency_ms.max ok non_2xx transport_errors open_loop.unsent)
  echo "$round $from $to $n $p50 $p99 $max $sn $sp50 $sp99 $smax $cycles $sent $lp50 $lp99 $lmax $ok $non2xx $errors $((rss / 1024)) $((hwm / 1024)) $unsent $reach99 $reachmax $at99 $atmax $leave99 $leavemax $gcshare $busy $stalls $stallmax" >> "$ROWS"
  log "round $round (uptime $from - $to s): $n ZGC pauses, p50 $p50, p99 $p99, max $max ms; their safepoints end to end p99 $sp99, max $smax ms (at the safepoint: max $atmax ms); $cycles collections; load p50 $lp50, p99 $lp99 ms, 2xx $ok, non-2xx $non2xx, errors $errors"
  stop_pid "$SERVAL_PID"
done

c() { awk -v k="$1" '{print $k}' "$ROWS"; }
sum() { c "$1" | awk '{t += $1} END {print t + 0}'; }
{
  echo "### GC pauses: MobileNetV2 over $(body_kind "$BODY"), open loop at $RATE/s over $CONNECTIONS connections, $SECONDS_MEASURED s, $ROUNDS rounds"
  echo
  echo "Serval (fresh per round) pinned to core $SERVER_CORE (--threads 1), generational ZGC with ./serval's flags; the load generator pinned to core $CLIENT_CORE."
  echo "Pauses are those logged inside the measured window. ZGC pause = the pause phase ZGC reports; safepoint end to end ="
  echo "reaching + at + leaving the safepoint of that pause (what a request thread can wait)."
  echo
  echo "| round | ZGC pauses | pause p50 / p99 / **max** ms | safepoint end to end p50 / p99 / max ms | GC collections | ZGC threads' share of Serval CPU (cores busy) | sent per s | 2xx | non-2xx | errors | latency p50 / p99 / max ms | RSS MB (peak) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s / %s / **%s** | %s / %s / %s | %s | %s (%s) | %s | %s | %s | %s | %s / %s / %s | %s (%s) |\n", $1, $4, $5, $6, $7, $9, $10, $11, $12, $29, $30, $13, $17, $18, $19, $14, $15, $16, $20, $21}' "$ROWS"
  echo "| **median (min - max)** | $(spread $(c 4)) | $(spread $(c 5)) / $(spread $(c 6)) / **$(spread $(c 7))** | $(spread $(c 9)) / $(spread $(c 10)) / $(spread $(c 11)) | $(spread $(c 12)) | $(spread $(c 29 | tr -d %))% ($(spread $(c 30))) | $(spread $(c 13)) | $(sum 17) | $(sum 18) | $(sum 19) | $(spread $(c 14)) / $(spread $(c 15)) / $(spread $(c 16)) | |"
  echo
  echo "The safepoints of those pauses, split (p99 / max ms, per round): reaching the safepoint (threads stopping), at the"
  echo "safepoint (the operation), leaving it (threads resuming). On one pinned core, reaching and leaving wait for the CPU."
  echo
  echo "| round | reaching p99 / max | at p99 / max | leaving p99 / max |"
  echo "|---|---|---|---|"
  awk '{printf "| %s | %s / %s | %s / %s | %s / %s |\n", $1, $23, $24, $25, $26, $27, $28}' "$ROWS"
  echo
  echo "ZGC allocation stalls in the window (threads made to wait for memory; count, longest ms): $(awk '{printf "round %s: %s, %s; ", $1, $31, $32}' "$ROWS")"
  echo
  echo "Target P5: max pause < 1 ms. Requests unsent at the end of the drain: $(sum 22). GC logs: gc-r*.log."
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
