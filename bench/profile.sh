#!/usr/bin/env bash
# Steady per-request cost of errata and nginx as HTTP/1.1 keep-alive reverse proxies:
# syscalls per request (strace -f -c), then where errata's CPU goes (perf record, cpu-clock).
#
# Each proxy runs twice under strace, once for SHORT and once for LONG requests (h2load,
# HTTP/1.1, CONNECTIONS keep-alive connections); the difference divided by LONG-SHORT cancels
# start-up and shutdown. The upstream is nginx `return 200`, outside the measurement.
#
# Instructions per request are not counted: valgrind 3.19 (Debian 12) cannot run Swift 6
# binaries (it rejects their DWARF 5 and, stripped, dies with an internal SIGSEGV as the
# Dispatch threads start), and this VM exposes no hardware counters to `perf stat`.
#
#   bench/profile.sh                       # defaults: 2,000 and 12,000 requests, 16 connections
#   SHORT=1000 LONG=6000 bench/profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${SHORT:-2000}
LONG=${LONG:-12000}
CONNECTIONS=${CONNECTIONS:-16}
UP_PORT=18090 PROXY_PORT=18091

need() { command -v "$1" >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo;
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2"; }; }
need nginx nginx
need h2load nghttp2-client
need perf linux-perf
need strace strace
[ -x .build/release/errata ] || swift build -c release --product errata

WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cat > "$WORK/upstream.conf" <<NGX
worker_processes 1; daemon off; pid $WORK/up-nginx.pid; error_log $WORK/up-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$UP_PORT; location / { return 200 "hello from the upstream\n"; } } }
NGX
# master_process off: the one process that proxies is the one measured.
cat > "$WORK/proxy.conf" <<NGX
master_process off; daemon off; pid $WORK/px-nginx.pid; error_log $WORK/px-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server { listen 127.0.0.1:$PROXY_PORT;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; } } }
NGX
cat > "$WORK/errata.json" <<JSON
{"listeners": [{"address": "127.0.0.1:$PROXY_PORT"}],
 "workers": 1,
 "upstreams": {"app": {"servers": ["127.0.0.1:$UP_PORT"], "max_idle_connections": 64}},
 "routes": [{"path_prefix": "/", "upstream": "app"}],
 "access_log": {"to": "off"}}
JSON

nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"

wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
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
