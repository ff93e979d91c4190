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
# so that ./serval serve does not build in the middle of a measurement.
ensure_built() {
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
