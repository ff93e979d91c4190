#!/usr/bin/env bash
# The feature store's JMH benchmarks (serval-bench, package dev.serval.bench.features):
#   LookupBenchmark  one entity's lookup answered by L1, by L2 (RocksDB) and by L3 (Redis), us/op;
#   RecordBenchmark  ingest into the aggregates, events/s, into L1+L2 alone and with Redis write-behind,
#                    plus CPU time per event (recording thread, whole process) after each iteration;
#   ConcurrentRecordBenchmark  the same from 2 recording threads at once, on disjoint or overlapping
#                    cards, events/s of both together, plus process CPU time per event.
# The benchmarks start their own redis-server on a free 127.0.0.1 port and stop it by PID. Short and
# bounded: one fork, 2 warm-up and 3 measured iterations each, and the whole run is killed after
# BENCH_TIMEOUT seconds (default 900). Results and a summary go to bench/work/results/feature-store-*.
#
#   bench/feature-store.sh [extra JMH options, e.g. -p remote=none]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case "${1:-}" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
need redis-server python3
find_jdk
limit_jvm_flags
ensure_built
RUN="$WORK/results/feature-store-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN"
wait_quiet
machine_info > "$RUN/machine.txt"
log "running the feature store benchmarks (at most ${BENCH_TIMEOUT:-900} s); output in $RUN"
timeout --kill-after=30 "${BENCH_TIMEOUT:-900}" "$JAVA_HOME/bin/java" -cp "$BENCH_JAR:$ROOT/serval-bench/target/lib/*" \
  org.openjdk.jmh.Main 'dev\.serval\.bench\.features\..*' \
  -f 1 -wi 2 -w 2s -i 3 -r 3s \
  -jvmArgs "${LIMIT_FLAGS[*]}" -rf json -rff "$RUN/jmh.json" "$@" 2>&1 | tee "$RUN/jmh.txt"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUN/machine.txt"
python3 - "$RUN" > "$RUN/summary.md" <<'PY'
import json, re, statistics, sys
run = sys.argv[1]
results = json.load(open(f"{run}/jmh.json"))
print("### Feature store (JMH: 1 fork, 2 warm-up + 3 measured iterations; score ± 99.9% error)")
print()
print("| benchmark | params | score | error | unit |")
print("|---|---|---|---|---|")
for r in results:
    name = r["benchmark"].rsplit(".", 2)[-2]
    params = ", ".join(f"{k}={v}" for k, v in sorted(r.get("params", {}).items()))
    m = r["primaryMetric"]
    score, error, unit = m["score"], m["scoreError"], m["scoreUnit"]
    if name in ("RecordBenchmark", "ConcurrentRecordBenchmark"):
        unit = "events/s"  # one JMH operation is one event
    fmt = "{:,.0f}" if score >= 100 else "{:.2f}"
    print(f"| {name} | {params} | {fmt.format(score)} | {fmt.format(error) if error == error else '-'} | {unit} |")
cpu = {}
for line in open(f"{run}/jmh.txt"):
    m = re.match(r"# cpu remote=(\w+) merchantsPerCard=(\d+): ([\d.]+) us/event on the recording thread, ([\d.]+) us/event in the process", line)
    if m:
        cpu.setdefault(f"remote={m.group(1)}, merchantsPerCard={m.group(2)}", []).append((float(m.group(3)), float(m.group(4))))
cpu2 = {}
for line in open(f"{run}/jmh.txt"):
    m = re.match(r"# cpu2 cards=(\w+) merchantsPerCard=(\d+): ([\d.]+) us/event in the process", line)
    if m:
        cpu2.setdefault(f"2 threads, cards={m.group(1)}, merchantsPerCard={m.group(2)}", []).append(float(m.group(3)))
if cpu:
    print()
    print("| ingest | recording thread CPU us/event (median of measured iterations) | process CPU us/event |")
    print("|---|---|---|")
    for remote, rows in cpu.items():
        rows = rows[2:] or rows  # the measured iterations follow the 2 warm-ups
        print(f"| {remote} | {statistics.median(r[0] for r in rows):.2f} | {statistics.median(r[1] for r in rows):.2f} |")
    for name, rows in cpu2.items():
        rows = rows[2:] or rows
        print(f"| {name} | - | {statistics.median(rows):.2f} |")
PY
# machine_info's lines about the HTTP load tools and core pinning do not apply to these benchmarks
{ echo; grep -v -e '^go:' -e '^hey:' -e '^pinning:' -e '^serval-server jar:' "$RUN/machine.txt" | sed 's/^/    /'; } >> "$RUN/summary.md"
cat "$RUN/summary.md"
if grep -q '<failure>' "$RUN/jmh.txt"; then
  die "a benchmark failed (its row is missing above); see $RUN/jmh.txt"
fi
