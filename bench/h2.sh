#!/usr/bin/env bash
# errata vs nginx as HTTP/2 (h2c prior knowledge) front ends to an HTTP/1.1 upstream.
#
# The same upstream (nginx, `return 200`) and one-worker proxies as run.sh, but the clients speak
# HTTP/2: h2load with CONNECTIONS connections × STREAMS concurrent streams, REQUESTS requests per
# round, ROUNDS rounds interleaved. Prints the median requests/s and requests per proxy-CPU-second.
#
#   bench/h2.sh                   # defaults: 3 rounds × 200000 requests, 16 connections × 10 streams
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
CONNECTIONS=${CONNECTIONS:-16}
STREAMS=${STREAMS:-10}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
UP_PORT=18090 ERRATA_PORT=18091 NGINX_PORT=18092

. bench/common.sh
need h2load nghttp2-client
upstream_conf "$UP_PORT"
proxy_conf "$NGINX_PORT" "$UP_PORT"
sed -i "s|listen 127.0.0.1:$NGINX_PORT;|listen 127.0.0.1:$NGINX_PORT http2;|" "$WORK/proxy.conf"
errata_conf "$ERRATA_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}"

taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
taskset -c "$PROXY_CPU" nginx -c "$WORK/proxy.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/px.pid"
taskset -c "$PROXY_CPU" .build/release/errata --config "$WORK/errata.json" >/dev/null 2>"$WORK/errata.err" &
echo $! > "$WORK/errata.pid"
wait_port "$UP_PORT"; wait_port "$NGINX_PORT"; wait_port "$ERRATA_PORT"

cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
nginx_worker() { pgrep -P "$(cat "$WORK/px.pid")" | head -1; }

run_one() { # name port pid → "name rps rps_per_cpu failed"
  local name=$1 port=$2 pid=$3 before after out
  before=$(cpu_of "$pid")
  out=$(taskset -c "$LOAD_CPU" h2load -n "$REQUESTS" -c "$CONNECTIONS" -m "$STREAMS" "http://127.0.0.1:$port/" 2>&1)
  after=$(cpu_of "$pid")
  local rps failed
  rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$out")
  failed=$(awk '/^requests:/ {print $10}' <<<"$out")
  echo "$name $rps $(awk -v n="$REQUESTS" -v a="$after" -v b="$before" 'BEGIN { c=a-b; if (c > 0) printf "%.0f", n/c; else print "nan" }') $failed"
}

RESULTS="$WORK/results"
: > "$RESULTS"
for round in $(seq "$ROUNDS"); do
  run_one nginx "$NGINX_PORT" "$(nginx_worker)" >> "$RESULTS"
  run_one errata "$ERRATA_PORT" "$(cat "$WORK/errata.pid")" >> "$RESULTS"
  echo "round $round done" >&2
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for name, rps, per_cpu, failed in rows:
    by.setdefault(name, []).append((float(rps), float(per_cpu), int(failed)))
print(f"{'':8} {'req/s':>10} {'req/CPU-s':>10} {'failed':>7}   (h2c, medians of {len(by['errata'])} rounds)")
for n in ("nginx", "errata"):
    v = by[n]
    print(f"{n:8} {statistics.median(r[0] for r in v):10.0f} {statistics.median(r[1] for r in v):10.0f} {sum(r[2] for r in v):7d}")
e = statistics.median(r[1] for r in by["errata"]); g = statistics.median(r[1] for r in by["nginx"])
print(f"errata/nginx: req/CPU-s {e/g:.2f}x")
PY
