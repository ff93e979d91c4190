#!/usr/bin/env bash
# Issue 6: fraud scoring through the feature store, three compositions in one run, plus event ingest.
#
#   tiered-redis   ./serval serve defaults (L1 memory + L2 RocksDB) with L3 on Redis (--features-redis)
#   l1-only        L1 + L2, no L3: every scored card is in L1, so every lookup is an L1 hit
#   remote-only    --features-mode remote-only: L3 on Redis alone, every lookup a Redis round trip
#
# For each: a fresh redis-server (its own port, no persistence) and a fresh Serval on the fraud model
# only; ingest (POST /v2/events, 500 events a body, over --cards card ids: the first bodies give every
# card a history); then scoring (POST /v2/models/fraud/infer, one transaction a request, cards drawn
# from those with a history) closed loop (throughput at saturation) and open loop at FRAUD_RATE
# (latency at the target rate). The /metrics lookup counters show which tier answered.
#
#   bench/fraud.sh                         20 s a scoring run; FRAUD_SECONDS, FRAUD_RATE, FRAUD_CLIENTS
#   FRAUD_ROUNDS=2 bench/fraud.sh          the three variants in turn, twice (ABC ABC), so that a shared
#                                          machine's drift does not favour one: compare within a round
#
# Serval and Redis are pinned to core $SERVER_CORE, the load generator to $CLIENT_CORE (lib.sh).
# Results: bench/work/fraud/RUN_ID/ (the generator's JSON per run, server logs, summary.txt).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need taskset curl redis-server redis-cli
find_jdk
limit_jvm_flags
ensure_built

SERVAL_PORT=${BENCH_SERVAL_PORT:-8000}
SCORE_SECONDS=${FRAUD_SECONDS:-20}
INGEST_SECONDS=${FRAUD_INGEST_SECONDS:-10}
RATE=${FRAUD_RATE:-5000}
CLIENTS=${FRAUD_CLIENTS:-16}
CARDS=${FRAUD_CARDS:-20000}
ROUNDS=${FRAUD_ROUNDS:-1}
# L1 holds every card's state (20,000 cards with an hour of events each: a few hundred MB of heap
# after the ingest). Under ./serval's 128m soft heap target ZGC then collects back to back on the
# server's one core and halves the scoring throughput (BENCHMARKS.md, issue 6); 512m lets it rest.
export SERVAL_SOFT_HEAP=${SERVAL_SOFT_HEAP:-512m}
RUN_ID=fraud-$(date -u +%Y%m%dT%H%M%SZ)
OUT="$WORK/fraud/$RUN_ID"
mkdir -p "$OUT"
trap stop_started EXIT

log "run $RUN_ID -> $OUT (SERVAL_SOFT_HEAP=$SERVAL_SOFT_HEAP)"
machine_info > "$OUT/machine.txt"
/usr/bin/python3 "$BENCH/fraud_data.py" --out "$OUT/bodies" --cards "$CARDS" --now "$(date +%s%3N)"
model_repo "$OUT/repo" fraud "$ROOT/examples/repository/fraud/1/model.onnx" "$(cat "$ROOT/examples/repository/fraud/config.yaml")"

REDIS_PORT=${BENCH_REDIS_PORT:-16379}
start_redis() {
  port_free "$REDIS_PORT" || die "port $REDIS_PORT is in use (set BENCH_REDIS_PORT)"
  taskset -c "$SERVER_CORE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --logfile "$OUT/redis-$1.log" &
  REDIS_PID=$!; started $REDIS_PID
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "redis-server did not answer; see $OUT/redis-$1.log"
}

# bench_run NAME ARGS...: one ./serval bench run (serval-bench's RunCommand) on the client core.
bench_run() {
  local name=$1; shift
  taskset -c "$CLIENT_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -Xms256m -cp "$BENCH_CP" dev.serval.bench.Bench run \
    --run-id "$RUN_ID" --system serval --out "$OUT/$name.json" --quiet "$@"
}

# summary FILE: "ok/s p50_ms p99_ms failed" of a results file.
summary() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("%.0f %.2f %.2f %d" % (r["throughput"]["ok_per_second"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
                             r["counts"]["failed"]))
PY
}

variant() {
  local name=$1; shift
  log "== $name: serve $*"
  start_redis "$name"
  start_serval "$OUT/serval-$name.log" "$OUT/repo" --grpc-port -1 "$@"
  local url="127.0.0.1:$SERVAL_PORT"
  bench_run "$name-ingest" --scenario fraud-ingest --protocol rest-json --url "$url/v2/events" \
    --bodies "$OUT/bodies/events.jsonl" --clients 4 --warmup-seconds 2 --seconds "$INGEST_SECONDS"
  # Scoring starts once the write-behind has caught up with the ingest (tiered with an L3), so it
  # measures lookups, not lookups beside the drain of a backlog.
  local drain_start=$SECONDS backlog
  while true; do
    backlog=$(metric_sum serval_feature_write_behind_backlog)
    if [ "$backlog" != "-" ] && awk -v b="$backlog" 'BEGIN {exit !(b == 0)}'; then break; fi
    [ $((SECONDS - drain_start)) -lt 120 ] || { log "write-behind backlog still $backlog after 120 s; scoring anyway"; break; }
    sleep 0.5
  done
  local drain_secs=$((SECONDS - drain_start))
  bench_run "$name-closed" --scenario fraud-closed --protocol rest-json --url "$url/v2/models/fraud/infer" \
    --bodies "$OUT/bodies/score.jsonl" --clients "$CLIENTS" --warmup-seconds 5 --seconds "$SCORE_SECONDS"
  bench_run "$name-open" --scenario fraud-open --protocol rest-json --url "$url/v2/models/fraud/infer" \
    --bodies "$OUT/bodies/score.jsonl" --clients 256 --rate "$RATE" --warmup-seconds 3 --seconds "$SCORE_SECONDS"
  local metrics
  metrics=$(curl -sf --max-time 30 "http://$url/metrics")
  printf '%s\n' "$metrics" > "$OUT/$name-metrics.txt"
  local lookups=""
  for outcome in l1_hit l2_hit l3_hit bloom_skip miss; do
    lookups="$lookups $outcome=$(printf '%.0f' "$(metric_of "$metrics" serval_feature_lookup_rows_total "outcome=\"$outcome\"")")"
  done
  read -r ingest_rps ingest_p50 ingest_p99 ingest_failed <<< "$(summary "$OUT/$name-ingest.json")"
  read -r closed_tps closed_p50 closed_p99 closed_failed <<< "$(summary "$OUT/$name-closed.json")"
  read -r open_tps open_p50 open_p99 open_failed <<< "$(summary "$OUT/$name-open.json")"
  printf '%-16s ingest %7d events/s (p99 %6.2f ms/body, %d failed) | closed %5d tx/s p50 %5.2f p99 %6.2f ms (%d failed) | open @%d/s: %5d tx/s p50 %5.2f p99 %6.2f ms (%d failed) | lookups%s degraded=%s | drain %d s\n' \
    "$name" "$((ingest_rps * 500))" "$ingest_p99" "$ingest_failed" "$closed_tps" "$closed_p50" "$closed_p99" "$closed_failed" \
    "$RATE" "$open_tps" "$open_p50" "$open_p99" "$open_failed" "$lookups" \
    "$(printf '%.0f' "$(metric_of "$metrics" serval_feature_degraded_lookups_total)")" "$drain_secs" | tee -a "$OUT/summary.txt"
  # The server stops first, then its store (write-behind, Lettuce): give it 30 s, not stop_pid's 5.
  kill "$SERVAL_PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$SERVAL_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$SERVAL_PID"
  stop_pid "$REDIS_PID"
}

start_load_monitor "$OUT/load.txt"
for round in $(seq "$ROUNDS"); do
  variant "tiered-redis-r$round" --features-dir "$OUT/l2-tiered-redis-r$round" --features-redis "redis://127.0.0.1:$REDIS_PORT/0"
  variant "l1-only-r$round" --features-dir "$OUT/l2-l1-only-r$round"
  variant "remote-only-r$round" --features-mode remote-only --features-redis "redis://127.0.0.1:$REDIS_PORT/0"
done
load_report "$OUT/load.txt" | tee -a "$OUT/summary.txt"
log "done: $OUT/summary.txt"
