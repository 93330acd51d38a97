#!/usr/bin/env bash
# errata vs nginx as HTTP/1.1 reverse proxies, side by side on this machine.
#
# Starts an upstream (nginx, `return 200`), errata and nginx-as-proxy (one worker), pins each
# proxy to the same core (PROXY_CPU), drives them with wrk (keep-alive, CONNECTIONS connections)
# from the other core, one after the other, ROUNDS rounds interleaved, and prints the median
# requests/s, p50, p99 and requests per proxy-CPU-second of each, and errata's ratios to nginx.
#
#   bench/run.sh                  # defaults: 5 rounds × 10 s, 64 connections
#   ROUNDS=3 DURATION=5 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
UP_PORT=18080 ERRATA_PORT=18081 NGINX_PORT=18082

. bench/common.sh
need wrk wrk
upstream_conf "$UP_PORT"
proxy_conf "$NGINX_PORT" "$UP_PORT"
errata_conf "$ERRATA_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}"

taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
taskset -c "$PROXY_CPU" nginx -c "$WORK/proxy.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/px.pid"
taskset -c "$PROXY_CPU" .build/release/errata --config "$WORK/errata.json" >/dev/null 2>"$WORK/errata.err" &
echo $! > "$WORK/errata.pid"
sleep 1


run_one() { # name port pid → "rps p50ms p99ms rps_per_cpu"
  local name=$1 port=$2 pid=$3 before after out
  before=$(cpu_of "$pid")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" 2>&1)
  after=$(cpu_of "$pid")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s/,"",v); print v*1000 } else print v }'; }
  echo "$name $rps $(to_ms "$p50") $(to_ms "$p99") $(awk -v r="$rps" -v d="$DURATION" -v c="$(awk -v a="$after" -v b="$before" 'BEGIN{print a-b}')" 'BEGIN { if (c > 0) printf "%.0f", r*d/c; else print "nan" }')"
}

RESULTS="$WORK/results"
: > "$RESULTS"
for round in $(seq "$ROUNDS"); do
  run_one direct "$UP_PORT" "$(cat "$WORK/up.pid")" >> "$RESULTS"
  run_one nginx "$NGINX_PORT" "$(nginx_worker)" >> "$RESULTS"
  run_one errata "$ERRATA_PORT" "$(cat "$WORK/errata.pid")" >> "$RESULTS"
  echo "round $round done" >&2
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for name, rps, p50, p99, per_cpu in rows:
    by.setdefault(name, []).append((float(rps), float(p50), float(p99), float(per_cpu) if per_cpu != "nan" else float("nan")))
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in by.items()}
print(f"{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'req/CPU-s':>10}   (medians of {len(by['errata'])} rounds)")
for n in ("direct", "nginx", "errata"):
    r = med[n]
    print(f"{n:8} {r[0]:10.0f} {r[1]:8.2f} {r[2]:8.2f} {r[3]:10.0f}")
e, g = med["errata"], med["nginx"]
print(f"errata/nginx: req/s {e[0]/g[0]:.2f}x, req/CPU-s {e[3]/g[3]:.2f}x, p99 {e[2]/g[2]:.2f}x")
PY
