# Shared by the bench/*.sh scripts (sourced, not run). Finds the JDK the way ./serval does, builds
# what is stale, starts and watches pinned processes, reads /proc, and does the arithmetic.
# Every process a script starts is recorded with `started PID` and killed by PID on exit.

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
WORK="$BENCH/work"
SERVER_JAR="$ROOT/serval-server/target/serval-server-0.1.0-SNAPSHOT.jar"
BENCH_JAR="$ROOT/serval-bench/target/serval-bench-0.1.0-SNAPSHOT.jar"
MOBILENET="$ROOT/examples/bench-models/mobilenet_v2/1/model.onnx"
SERVER_CORE="${BENCH_SERVER_CORE:-0}"   # servers and the in-process limit run here
CLIENT_CORE="${BENCH_CLIENT_CORE:-1}"   # load generators run here
STARTED_PIDS=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# The same search as ./serval: JAVA_HOME if it is a JDK >= 21, else the newest JDK >= 21 under /usr/lib/jvm.
java_major() {
  local v
  v=$("$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}')
  echo "${v:-0}" | cut -d. -f1
}
find_jdk() {
  local candidate best="" best_major=0 major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/*; do
    [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(java_major "$candidate/bin/java")
    if [ -n "${JAVA_HOME:-}" ] && [ "$candidate" = "$JAVA_HOME" ] && [ "$major" -ge 21 ]; then
      best="$candidate"; best_major=$major; break
    fi
    if [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then best="$candidate"; best_major=$major; fi
  done
  [ -n "$best" ] || die "no JDK 21 or newer found (looked at JAVA_HOME and /usr/lib/jvm)"
  export JAVA_HOME="$best"
  JAVA_MAJOR=$best_major
}

# The server's JVM flags (./serval's jvm_flags), for the in-process limit.
limit_jvm_flags() {
  LIMIT_FLAGS=(-XX:+UseZGC -Xmx1g -Xms64m --enable-native-access=ALL-UNNAMED)
  if [ "$JAVA_MAJOR" -lt 23 ]; then LIMIT_FLAGS+=(-XX:+ZGenerational); else LIMIT_FLAGS+=(--sun-misc-unsafe-memory-access=allow); fi
  if [ "$JAVA_MAJOR" -ge 24 ]; then LIMIT_FLAGS+=(-XX:+UseCompactObjectHeaders); fi
}

# Builds with the project's one build command when the server or serval-bench is missing or stale,
# so that ./serval serve does not build in the middle of a measurement. BENCH_NO_BUILD=1 skips it.
ensure_built() {
  if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    [ -f "$SERVER_JAR" ] && [ -f "$BENCH_JAR" ] || die "BENCH_NO_BUILD=1 but a jar is missing; run ./serval build"
    log "BENCH_NO_BUILD=1: measuring the jars as built (server $(date -r "$SERVER_JAR" +%T))"
    return 0
  fi
  local stale=""
  for jar in "$SERVER_JAR" "$BENCH_JAR"; do
    [ -f "$jar" ] || stale=1
  done
  if [ -z "$stale" ] && [ -n "$(cd "$ROOT" && find pom.xml serval-*/pom.xml serval-*/src -newer "$SERVER_JAR" -type f -print -quit)" ]; then stale=1; fi
  if [ -z "$stale" ] && [ -n "$(cd "$ROOT" && find serval-bench/pom.xml serval-bench/src -newer "$BENCH_JAR" -type f -print -quit)" ]; then stale=1; fi
  if [ -n "$stale" ]; then
    log "building (./serval build)..."
    (cd "$ROOT" && ./serval build) || die "./serval build failed"
  fi
  [ -d "$ROOT/serval-bench/target/lib" ] || die "serval-bench/target/lib is missing; run ./serval build"
}

# Builds the Go peer into bench/work/go-peer (standard library only; caches under bench/work).
ensure_go_peer() {
  command -v go >/dev/null || die "Go is needed for the Go peer: apt-get install golang-go"
  if [ ! -x "$WORK/go-peer" ] || [ "$BENCH/peers/go/main.go" -nt "$WORK/go-peer" ] || [ "$BENCH/peers/go/go.mod" -nt "$WORK/go-peer" ]; then
    log "building the Go peer..."
    (cd "$BENCH/peers/go" && GOCACHE="$WORK/go-cache" GOPATH="$WORK/gopath" GOFLAGS= GOPROXY=off \
      go build -o "$WORK/go-peer" .) || die "go build failed"
  fi
}

need() { for tool in "$@"; do command -v "$tool" >/dev/null || die "$tool is needed (apt-get install $tool)"; done; }

# Machine quiet enough to measure? 1-minute load < 0.7 and no Maven/Surefire. BENCH_QUIET_WAIT is
# the longest wait in seconds (default 1200, polling every 60 s); 0 measures at once.
wait_quiet() {
  local waited=0 limit="${BENCH_QUIET_WAIT:-1200}" load busy
  while true; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    busy=$(pgrep -f 'maven|surefire' | tr '\n' ' ' || true)
    if awk -v l="$load" 'BEGIN {exit !(l < 0.7)}' && [ -z "$busy" ]; then
      log "machine quiet: load $load"
      return 0
    fi
    if [ "$waited" -ge "$limit" ]; then
      log "WARNING: machine not quiet after ${waited}s (load $load; maven/surefire pids: ${busy:-none}); measuring anyway"
      return 0
    fi
    log "waiting for a quiet machine: load $load; maven/surefire pids: ${busy:-none}"
    sleep 60; waited=$((waited + 60))
  done
}

started() { STARTED_PIDS+=("$1"); }
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_http URL PID SECONDS: until URL answers 200, or the process died, or time ran out.
wait_http() {
  local url=$1 pid=$2 deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

# kB of resident memory: "VmRSS VmHWM" of PID plus all its descendants (each summed).
memory_kb() {
  local pids pid rss=0 hwm=0 r h
  pids="$1 $(pgrep -d' ' -P "$1" || true)"
  for pid in $pids; do
    r=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0})); hwm=$((hwm + ${h:-0}))
  done
  echo "$rss $hwm"
}

# CPU time of PID (all its threads) in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# stats N1 N2 ...: "median min max" (median of an even count: mean of the middle two), printed
# with as many decimals as the most precise input.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1; i = index($1, "."); d = i ? length($1) - i : 0; if (d > dec) dec = d }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          if (!(NR % 2) && v[NR / 2] != v[NR / 2 + 1]) dec++   # the mean of two may need one more
          f = "%." dec + 0 "f"
          printf f " " f " " f "\n", m, v[1], v[NR] }'
}

# Context switches of PID, all its live threads: voluntary + involuntary.
ctx_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ {s += $2} END {print s + 0}'
}

# hey_summary FILE: from hey's summary output,
#   "requests req_per_s p50_ms p90_ms p99_ms slowest_ms non200 errors"
# (hey's Requests/sec and latency distribution; its times have 0.1 ms resolution; requests counts
# answers of any status plus transport errors).
hey_summary() {
  awk '
    /^Status code distribution:/ { section = "status"; next }
    /^Error distribution:/ { section = "error"; next }
    /Requests\/sec:/ { rps = $2 }
    /Slowest:/ { slowest = $2 }
    /^ +50% in/ { p50 = $3 } /^ +90% in/ { p90 = $3 } /^ +99% in/ { p99 = $3 }
    section == "status" && /^ +\[[0-9]+\]/ { code = $1; gsub(/[^0-9]/, "", code); n += $2; if (code != 200) bad += $2 }
    section == "error" && /^ +\[[0-9]+\]/ { c = $1; gsub(/[^0-9]/, "", c); n += c; errors += c }
    END { printf "%d %.1f %.2f %.2f %.2f %.2f %d %d\n", n, rps, p50 * 1000, p90 * 1000, p99 * 1000, slowest * 1000, bad + 0, errors + 0 }' "$1"
}

# The record of what was measured on: cores, CPU, kernel, JDK, tools, load.
machine_info() {
  echo "date: $(date -Is)"
  echo "host cores (nproc): $(nproc)"
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel: $(uname -sr)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo)"
  echo "jdk: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1) ($JAVA_HOME)"
  echo "go: $(go version 2>/dev/null || echo none)"
  echo "hey: $(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo '?'); wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')"
  echo "serval-server jar: built $(date -r "$SERVER_JAR" -Is), sha256 $(sha256sum "$SERVER_JAR" | cut -c1-12)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "pinning: servers and the in-process limit on core $SERVER_CORE, load generators on core $CLIENT_CORE (taskset)"
}

# wrk_summary FILE: from wrk --latency output, "req_per_s p50_ms p90_ms p99_ms non2xx socket_errors".
wrk_summary() {
  awk '
    function ms(v) { if (v ~ /us$/) return v * 0.001; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) } /^ +90%/ { p90 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { bad = $5 }
    /Socket errors:/ { errs = $4 + $6 + $8 + $10 }
    END { printf "%.1f %.3f %.3f %.3f %d %d\n", rps, p50, p90, p99, bad + 0, errs + 0 }' "$1"
}

# Samples the 1-minute load and whether Maven/Surefire runs, every 5 s, into FILE, until the script
# ends (the sampler is a started process, killed on exit). load_report FILE summarises it.
start_load_monitor() {
  local file=$1
  ( while true; do
      echo "$(date +%T) $(cut -d' ' -f1 /proc/loadavg) $(pgrep -f 'maven|surefire' | wc -l)"
      sleep 5
    done ) > "$file" 2>/dev/null &
  started $!
}
load_report() {
  awk '{ n++; if ($2 > max) max = $2; if ($3 > 0) busy++ }
       END { printf "during the run (%d samples, every 5 s): highest 1-min load %.2f; Maven/Surefire running in %d samples\n", n, max, busy }' "$1"
}

# ---- Shared by the issue 3 scripts (load generator, Serval with a config, /metrics, JSON) ----

BENCH_CP="$BENCH_JAR:$ROOT/serval-bench/target/lib/*"
# BENCH_SERVER_JAR=FILE (issue 3 scripts): serve this jar (e.g. one built from a clean export of a
# commit) instead of serval-server/target's; implies BENCH_NO_BUILD=1 (see start_serval).
if [ -n "${BENCH_SERVER_JAR:-}" ]; then SERVER_JAR=$(realpath "$BENCH_SERVER_JAR"); BENCH_NO_BUILD=1; fi
ENCODER="$ROOT/examples/bench-models/encoder/1/model.onnx"
# Serve options every issue 3 script passes (override with BENCH_SERVE_OPTS): the in-flight body
# budget stated explicitly, so a change of the server's default does not silently change the runs.
BENCH_SERVE_OPTS=${BENCH_SERVE_OPTS:---max-inflight-bytes 64m}

# load_gen ARGS...: dev.serval.bench.load.LoadGenerator pinned to the client core (JSON on
# stdout, progress on stderr). Its JVM gets the limit's flags (ZGC: its own pauses stay short).
load_gen() {
  taskset -c "$CLIENT_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -Xms256m -cp "$BENCH_CP" \
    dev.serval.bench.load.LoadGenerator "$@"
}

# jfields FILE KEY...: the values of dotted KEYs (latency_ms.p99, status.429) of the JSON object in
# FILE (its last line that starts with '{'), space-separated; "-" for a missing key.
jfields() {
  python3 - "$@" <<'PY'
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
lines = [l for l in open(path) if l.startswith("{")]
doc = json.loads(lines[-1]) if lines else {}
out = []
for key in keys:
    v = doc
    for part in key.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    out.append("-" if v is None else (("%.6g" % v) if isinstance(v, float) else str(v)))
print(" ".join(out))
PY
}

# model_repo DIR NAME MODEL_FILE [CONFIG_YAML]: a repository holding one model as NAME/1/model.onnx
# (a hard link, or a copy: Serval refuses model files whose real path leads outside the repository),
# with NAME/config.yaml = CONFIG_YAML when given (else none).
model_repo() {
  local dir=$1 name=$2 model=$3 config=${4:-}
  mkdir -p "$dir/$name/1"
  if ! cmp -s "$model" "$dir/$name/1/model.onnx"; then
    rm -f "$dir/$name/1/model.onnx"
    ln "$model" "$dir/$name/1/model.onnx" 2>/dev/null || cp "$model" "$dir/$name/1/model.onnx"
  fi
  if [ -n "$config" ]; then printf '%s\n' "$config" > "$dir/$name/config.yaml"; else rm -f "$dir/$name/config.yaml"; fi
}

# start_serval LOG REPO [serve options...]: ./serval serve --threads 1 pinned to the server core on
# $SERVAL_PORT with BENCH_SERVE_OPTS; waits until ready; sets SERVAL_PID. SERVAL_JAVA_OPTS passes through.
# With BENCH_NO_BUILD=1 it runs the server jar as built, with ./serval's own jvm_flags and the
# environment they ask for (JVM_ENV; both read from ./serval), without ./serval's rebuild check: for
# measuring a known build while the tree is being edited.
start_serval() {
  local log=$1 repo=$2; shift 2
  port_free "$SERVAL_PORT" || die "port $SERVAL_PORT is in use (set BENCH_SERVAL_PORT)"
  if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    # shellcheck disable=SC2034 # JAR is read by jvm_flags (eval below)
    local FLAGS=() JVM_ENV=() JAR=$SERVER_JAR
    eval "$(sed -n '/^jvm_flags() {/,/^}/p' "$ROOT/serval")"
    jvm_flags
    # shellcheck disable=SC2086
    (cd "$ROOT" && exec taskset -c "$SERVER_CORE" env "${JVM_ENV[@]}" "$JAVA_HOME/bin/java" "${FLAGS[@]}" -jar "$SERVER_JAR" serve \
      --http-port "$SERVAL_PORT" --threads 1 --model-repository "$repo" $BENCH_SERVE_OPTS "$@") > "$log" 2>&1 &
  else
    # shellcheck disable=SC2086
    (cd "$ROOT" && exec taskset -c "$SERVER_CORE" ./serval serve --http-port "$SERVAL_PORT" --threads 1 \
      --model-repository "$repo" $BENCH_SERVE_OPTS "$@") > "$log" 2>&1 &
  fi
  SERVAL_PID=$!; started $SERVAL_PID
  wait_http "http://127.0.0.1:$SERVAL_PORT/v2/health/ready" $SERVAL_PID 180 || die "Serval did not get ready; see $log"
}

# stop_pid PID: stops one process this script started (TERM, then KILL after 5 s).
stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

# metric_sum NAME [LABEL_FILTER]: the sum over all series of metric NAME on Serval's /metrics
# whose labels contain LABEL_FILTER (e.g. 'model="mobilenet_v2"'); 0 when absent.
# Prints "-" when /metrics does not answer within 30 s (under overload it can take that long).
metric_sum() {
  local text
  text=$(curl -sf --max-time 30 "http://127.0.0.1:$SERVAL_PORT/metrics") || { echo "-"; return; }
  metric_of "$text" "$@"
}
# metric_of TEXT NAME [LABEL_FILTER]: as metric_sum, from an exposition already scraped.
metric_of() {
  awk -v n="$2" -v f="${3:-}" '
    $0 !~ /^#/ { split($1, a, "{"); if (a[1] == n && index($0, f)) s += $NF }
    END { printf "%.6f\n", s + 0 }' <<< "$1"
}

# cpu_ms_per PID TICKS_BEFORE COUNT: ms of CPU (all threads) PID used since TICKS_BEFORE, per COUNT.
cpu_ms_per() {
  awk -v d=$(( $(cpu_ticks "$1") - $2 )) -v hz="$CLK_TCK" -v n="$3" 'BEGIN { if (n > 0) printf "%.2f\n", d / hz * 1000 / n; else print "-" }'
}

# wait_server_idle PID [MAX_SECONDS]: until Serval's queues are empty and PID used under 5% of a
# core over a second (work left from a run must not run into the next measurement); max 120 s.
wait_server_idle() {
  local pid=$1 deadline=$((SECONDS + ${2:-120})) before depth
  while [ $SECONDS -lt $deadline ]; do
    before=$(cpu_ticks "$pid"); sleep 1
    depth=$(metric_sum serval_inference_queue_depth)
    if [ $(( $(cpu_ticks "$pid") - before )) -le $((CLK_TCK / 20)) ] && awk -v d="$depth" 'BEGIN {exit !(d == 0)}'; then return 0; fi
  done
  log "WARNING: Serval (pid $pid) still busy after ${2:-120}s"
}

# spread N1 N2 ...: "median (min - max)", as the tables print it.
# Values of "-" (nothing measured) are left out; with none left it prints "-".
spread() {
  local m lo hi v vals=()
  for v in "$@"; do [ "$v" = "-" ] || vals+=("$v"); done
  [ ${#vals[@]} -gt 0 ] || { printf -- '-'; return; }
  read -r m lo hi < <(stats "${vals[@]}"); printf '%s (%s - %s)' "$m" "$lo" "$hi"
}

# gc_ticks PID: CPU ticks of PID's ZGC threads (ZDirector, ZDriver*, ZWorker*, ...: names Z*).
gc_ticks() {
  local t s=0
  for t in /proc/"$1"/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in Z*) s=$((s + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0))) ;; esac
  done
  echo "$s"
}

# load_window OUT ERR WARMUP SECONDS ARGS...: runs load_gen ARGS --warmup-seconds WARMUP --seconds
# SECONDS (JSON to OUT, progress to ERR) and samples Serval ($SERVAL_PID) at the edges of the
# measured window (the generator's clock starts when it prints "connections open"; the edges are
# good to about 0.1 s). Sets, for the window only:
#   W_CPU_MS  Serval CPU (all threads, /proc) per successful answer, in ms
#   W_BUSY    Serval CPU over the window, in cores (1.00 = its pinned core fully busy)
#   W_ROWS    mean rows per model run (serval_inference_batch_size, all models)
#   W_OK      successful answers counted by Serval (serval_inference_requests_total)
#   W_SWITCH  Serval context switches per successful answer (live threads at both edges)
#   W_SCRAPE  the longer of the two /metrics scrapes at the edges, in s ("-" fields when one failed)
#   W_GC      the share of Serval's CPU used by the JVM's ZGC threads
# W_MIDDLE_HOOK, if set, names a command run halfway through the window (e.g. a thread dump).
window_sample() { # time and CPU first (instant), then one /metrics scrape (slow under overload)
  local t0 ticks switches gc text ok=- bsum=- bcount=-
  t0=$(date +%s.%N); ticks=$(cpu_ticks "$SERVAL_PID"); switches=$(ctx_switches "$SERVAL_PID"); gc=$(gc_ticks "$SERVAL_PID")
  if text=$(curl -sf --max-time 30 "http://127.0.0.1:$SERVAL_PORT/metrics"); then
    ok=$(metric_of "$text" serval_inference_requests_total 'outcome="success"')
    bsum=$(metric_of "$text" serval_inference_batch_size_sum); bcount=$(metric_of "$text" serval_inference_batch_size_count)
  fi
  echo "$ticks $ok $bsum $bcount $t0 $switches $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') $gc"
}
load_window() {
  local out=$1 err=$2 warmup=$3 secs=$4 gen a b; shift 4
  load_gen "$@" --warmup-seconds "$warmup" --seconds "$secs" > "$out" 2> "$err" &
  gen=$!; started "$gen"
  for _ in $(seq 1200); do grep -q "connections open" "$err" 2>/dev/null && break; kill -0 "$gen" 2>/dev/null || break; sleep 0.05; done
  sleep "$warmup"; a=$(window_sample)
  if [ -n "${W_MIDDLE_HOOK:-}" ]; then
    sleep "$(awk -v s="$secs" 'BEGIN {print s / 2}')"; $W_MIDDLE_HOOK
    local rest; rest=$(awk -v s="$secs" -v t0="$(echo "$a" | cut -d' ' -f5)" -v now="$(date +%s.%N)" 'BEGIN {r = s - (now - t0); print (r > 0 ? r : 0)}')
    sleep "$rest"
  else
    sleep "$secs"
  fi
  b=$(window_sample)
  wait "$gen" || die "the load generator failed; see $err"
  read -r W_CPU_MS W_BUSY W_ROWS W_OK W_SWITCH W_SCRAPE W_GC < <(awk -v a="$a" -v b="$b" -v hz="$CLK_TCK" 'BEGIN {
    split(a, x, " "); split(b, y, " "); t = y[5] - x[5]
    cpu = "-"; rows = "-"; sw = "-"; okout = "-"
    if (x[2] != "-" && y[2] != "-") {
      ok = y[2] - x[2]; okout = ok
      if (ok > 0) { cpu = sprintf("%.2f", (y[1] - x[1]) / hz * 1000 / ok); sw = sprintf("%.1f", (y[6] - x[6]) / ok) }
    }
    if (x[4] != "-" && y[4] != "-" && y[4] - x[4] > 0) rows = sprintf("%.2f", (y[3] - x[3]) / (y[4] - x[4]))
    scrape = x[7] > y[7] ? x[7] : y[7]
    gc = "-"; if (y[1] - x[1] > 0) gc = sprintf("%.0f%%", 100 * (y[8] - x[8]) / (y[1] - x[1]))
    printf "%s %.2f %s %s %s %s %s\n", cpu, (y[1] - x[1]) / hz / t, rows, okout, sw, scrape, gc }')
}

# thread_summary PID OUT: a JSON thread dump of PID (jcmd Thread.dump_to_file, virtual threads
# included) into OUT.json, and in OUT.txt the threads counted by state and by what they wait in:
# a model's result (ModelVersion.await), a socket (NioSocket), or anything else.
thread_summary() {
  local pid=$1 out=$2
  rm -f "$out.json"
  "$JAVA_HOME/bin/jcmd" "$pid" Thread.dump_to_file -format=json "$out.json" > /dev/null 2>&1 || { echo "jcmd failed" > "$out.txt"; return 0; }
  python3 - "$out.json" > "$out.txt" <<'PY'
import collections, json, sys
dump = json.load(open(sys.argv[1]))["threadDump"]
counts = collections.Counter()
for container in dump["threadContainers"]:
    for t in container["threads"]:
        stack = t.get("stack", [])
        where = ("awaiting a model result" if any("ModelVersion.await" in f for f in stack)
                 else "in a socket read/write" if any("NioSocket" in f for f in stack)
                 else "running ONNX Runtime" if any("OrtSession.run" in f for f in stack)
                 else "other")
        counts[(where, t.get("state", "?"))] += 1
print("threads at %s: %d" % (dump.get("time", "?"), sum(counts.values())))
for (where, state), n in sorted(counts.items(), key=lambda kv: -kv[1]):
    print("%6d  %-26s %s" % (n, where, state))
PY
}

# code_info: which code is measured: the commit, uncommitted server changes, and how Serval is launched.
code_info() {
  echo "git HEAD: $(cd "$ROOT" && git log -1 --format='%h %s' 2>/dev/null || echo '?')"
  echo "uncommitted files under serval-core/serval-server: $(cd "$ROOT" && git status --porcelain -- serval-core serval-server 2>/dev/null | wc -l)"
  if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    echo "launch: $SERVER_JAR as built, with ./serval's jvm_flags (BENCH_NO_BUILD=1${BENCH_SERVER_JAR:+, BENCH_SERVER_JAR})"
    case "$SERVER_JAR" in "$WORK"/build-*) echo "server built by commit_jar from a clean export of commit $(echo "$SERVER_JAR" | sed 's|.*/build-\([0-9a-f]*\)/.*|\1|')" ;; esac
  else
    echo "launch: ./serval serve"
  fi
}

# commit_jar REV: builds the server of commit REV from a clean export (git archive, no working-tree
# edits, .git untouched) under bench/work/build-<sha>, once, with `mvn -o package` (nothing is
# installed into ~/.m2), and prints the jar's path. For BENCH_SERVER_JAR while the tree is being edited:
#   BENCH_SERVER_JAR=$(bash -c 'source bench/lib.sh; find_jdk; commit_jar HEAD') bench/tail-latency.sh
commit_jar() {
  local sha dir
  sha=$(cd "$ROOT" && git rev-parse --short=12 "$1") || die "no commit $1"
  dir="$WORK/build-$sha"
  if [ ! -f "$dir/serval-server/target/serval-server-0.1.0-SNAPSHOT.jar" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$ROOT" && git archive "$sha") | tar -x -C "$dir"
    log "building commit $sha in $dir (mvn -o package, tests skipped)..."
    local opts="${MAVEN_OPTS:-}"; [ "$JAVA_MAJOR" -ge 23 ] && opts="$opts --sun-misc-unsafe-memory-access=allow"
    (cd "$dir" && MAVEN_OPTS="$opts" \
      mvn -o -q -B -ntp -Dstyle.color=never -DskipTests -pl serval-server -am package >&2) || die "building $sha failed"
  fi
  echo "$dir/serval-server/target/serval-server-0.1.0-SNAPSHOT.jar"
}

# body_args FILE: sets BODY_ARGS, the load generator's options that post FILE: a JSON body, or (for
# FILE.bin, made by make-bodies.py with its header length in FILE.header) a binary tensor body with
# its Content-Type and Inference-Header-Content-Length.
body_args() {
  BODY_ARGS=(--body "$1")
  if [[ "$1" == *.bin ]]; then
    [ -f "$1.header" ] || die "$1 has no $1.header (its JSON header's length); make-bodies.py writes both"
    BODY_ARGS+=(--content-type application/octet-stream --header "Inference-Header-Content-Length: $(cat "$1.header")")
  fi
}
# body_kind FILE: "v2 JSON" or "binary tensors" (for summary titles).
body_kind() { if [[ "$1" == *.bin ]]; then echo "binary tensors"; else echo "v2 JSON"; fi; }

# machine_footer RUN: the summary's closing "Machine and settings" block: RUN/machine.txt, the load
# average now and what the load monitor saw (RUN/load.log).
machine_footer() {
  echo "Machine and settings:"
  echo
  sed 's/^/    /' "$1/machine.txt"
  echo "    load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "    $(load_report "$1/load.log")"
}

# begin_run NAME: the results folder RUN=bench/work/results/NAME-<time>, the processes started
# stopped on exit, a quiet machine waited for, machine.txt begun (the machine and the code measured)
# and the load monitor started. Every script's opening, in one place.
begin_run() {
  RUN="$WORK/results/$1-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$RUN"
  trap stop_started EXIT
  wait_quiet
  { machine_info; code_info; } > "$RUN/machine.txt"
  start_load_monitor "$RUN/load.log"
}

# mobilenet_setup [MAX_QUEUE_SIZE]: what the MobileNetV2 load scripts share: the model present, the
# tools, the JDK, the jars built, the request bodies made, and REPO, a repository of MobileNetV2
# that batches, its queue bounded at MAX_QUEUE_SIZE (default 4096).
# max_queue_size 4096: every one of 2,000 closed-loop clients can wait in the queue (a queue that
# refused them would measure admission control, not batching); twice that leaves room for clients
# that reconnect. The delay stays at its default (500 us): on one core a batch forms while the
# previous one runs, so waiting longer could only add latency.
mobilenet_setup() {
  [ -f "$MOBILENET" ] || die "the MobileNetV2 benchmark model is missing; make it with /usr/bin/python3 examples/python/export_models.py --bench"
  need taskset curl python3
  find_jdk
  limit_jvm_flags
  ensure_built
  "$BENCH/make-bodies.py"
  local queue=${1:-4096}
  REPO="$WORK/repo-mobilenet-batching"
  [ "$queue" = 4096 ] || REPO="$WORK/repo-mobilenet-q$queue"
  model_repo "$REPO" mobilenet_v2 "$MOBILENET" "max_batch_size: 32
dynamic_batching:
  max_queue_size: $queue"
}
