#!/usr/bin/env bash
# Steady per-request cost of errata and nginx as HTTP/1.1 keep-alive reverse proxies:
# syscalls per request (strace -f -c), then where errata's CPU goes (perf record, cpu-clock).
#
# Each proxy runs twice under strace, once for SHORT and once for LONG requests (h2load,
# HTTP/1.1, CONNECTIONS keep-alive connections); the difference divided by LONG-SHORT cancels
# start-up and shutdown. The upstream is nginx `return 200`, outside the measurement.
#
# Instructions per request are counted by bench/instructions.sh (callgrind, on a stripped copy
# with a sigsuspend shim for valgrind 3.19); this VM exposes no hardware counters to `perf stat`.
#
#   bench/profile.sh                       # defaults: 2,000 and 12,000 requests, 16 connections
#   SHORT=1000 LONG=6000 bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${SHORT:-2000}
LONG=${LONG:-12000}
CONNECTIONS=${CONNECTIONS:-16}
UP_PORT=18090 PROXY_PORT=18091

. bench/common.sh
need h2load nghttp2-client
need perf linux-perf
need strace strace
upstream_conf "$UP_PORT"
# master_process off: the one process that proxies is the one measured.
proxy_conf "$PROXY_PORT" "$UP_PORT" "master_process off;"
errata_conf "$PROXY_PORT" "$UP_PORT" 1

nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"

wait_port "$UP_PORT"

# run PROXY N → prints the number of syscalls the proxy made
run() {
  local proxy=$1 n=$2 cmd stop
  case $proxy in
    errata) cmd=(.build/release/errata --config "$WORK/errata.json"); stop=TERM ;;
    nginx)  cmd=(nginx -c "$WORK/proxy.conf" -p "$WORK"); stop=QUIT ;;
  esac
  strace -f -c -o "$WORK/st.out" "${cmd[@]}" >/dev/null 2>"$WORK/tool.err" &
  local pid=$!
  wait_port "$PROXY_PORT"
  h2load --h1 -n "$n" -c "$CONNECTIONS" "http://127.0.0.1:$PROXY_PORT/" > "$WORK/h2load.out" 2>&1
  grep -q "$n succeeded" "$WORK/h2load.out" || { echo "h2load: not all $n requests succeeded" >&2; cat "$WORK/h2load.out" >&2; }
  # The traced process is strace's child: signal the proxy itself.
  pkill -"$stop" -P "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # "% time  seconds  usecs/call  calls  errors  total": the calls column.
  awk '$NF == "total" {print $4}' "$WORK/st.out"
}

printf "%-8s %12s   (per request, %d−%d requests, %d connections)\n" "" "syscalls" "$LONG" "$SHORT" "$CONNECTIONS"
for proxy in errata nginx; do
  s_short=$(run $proxy "$SHORT"); s_long=$(run $proxy "$LONG")
  awk -v p=$proxy -v c="$s_short" -v d="$s_long" -v n=$((LONG - SHORT)) 'BEGIN { printf "%-8s %12.2f\n", p, (d-c)/n }'
done

# Where errata's CPU goes: sampled at the kernel's cpu-clock (no hardware counters needed).
.build/release/errata --config "$WORK/errata.json" >/dev/null 2>&1 & echo $! > "$WORK/errata.pid"
wait_port "$PROXY_PORT"
perf record -q -e cpu-clock -F 2000 -g -o "$WORK/perf.data" -p "$(cat "$WORK/errata.pid")" -- sleep 6 >/dev/null 2>&1 &
perf_pid=$!
sleep 0.5
h2load --h1 -D 5 -c "$CONNECTIONS" "http://127.0.0.1:$PROXY_PORT/" >/dev/null 2>&1 || true
wait $perf_pid || true
echo; echo "errata, top self-time symbols (perf, cpu-clock):"
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -${TOP:-25}
