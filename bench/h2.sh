#!/usr/bin/env bash
# errata vs nginx vs nghttpx as HTTP/2 front ends to an HTTP/1.1 upstream.
#
# The same upstream (nginx, `return 200`) as run.sh, and three one-worker proxies pinned to the
# same core (PROXY_CPU): errata (`workers: 1`), nginx (`listen … ssl http2` or `listen … http2`)
# and nghttpx (`--workers=1`, backend the same upstream). The clients speak HTTP/2 through h2load
# on the other core (LOAD_CPU): CONNECTIONS connections × STREAMS concurrent streams, REQUESTS
# requests per cell, ROUNDS rounds interleaved (the order rotates every round).
# MODE=tls: h2 negotiated by ALPN over TLS with one self-signed certificate (KEY=rsa|ec) that all
# three present; MODE=h2c: cleartext with prior knowledge. The script checks that h2load spoke h2
# and that no request failed. Prints the median requests/s and requests per proxy-CPU-second of
# each, and errata's ratio to the better peer on both.
#
#   bench/h2.sh                   # MODE=tls, 3 rounds × 200000 requests, 16 connections × 32 streams
#   MODE=h2c ROUNDS=5 REQUESTS=100000 bench/h2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-tls}
KEY=${KEY:-rsa}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
CONNECTIONS=${CONNECTIONS:-16}
STREAMS=${STREAMS:-32}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
UP_PORT=${UP_PORT:-18090} ERRATA_PORT=${ERRATA_PORT:-18091} NGINX_PORT=${NGINX_PORT:-18092} NGHTTPX_PORT=${NGHTTPX_PORT:-18093}

. bench/common.sh
need h2load nghttp2-client
need nghttpx nghttp2-proxy
make_cert "$KEY"
upstream_conf "$UP_PORT"
proxy_conf "$NGINX_PORT" "$UP_PORT"
case "$MODE" in
  tls) sed -i "s|listen 127.0.0.1:$NGINX_PORT;|listen 127.0.0.1:$NGINX_PORT ssl http2; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;|" "$WORK/proxy.conf"
       errata_conf "$ERRATA_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}" '["h2", "http/1.1"]'
       SCHEME=https NGHTTPX_FRONTEND_PARAMS="" ;;
  h2c) sed -i "s|listen 127.0.0.1:$NGINX_PORT;|listen 127.0.0.1:$NGINX_PORT http2;|" "$WORK/proxy.conf"
       errata_conf "$ERRATA_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}"
       SCHEME=http NGHTTPX_FRONTEND_PARAMS=";no-tls" ;;
  *) echo "MODE must be tls or h2c" >&2; exit 2 ;;
esac

taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
taskset -c "$PROXY_CPU" nginx -c "$WORK/proxy.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/px.pid"
taskset -c "$PROXY_CPU" "${ERRATA_BIN:-.build/release/errata}" --config "$WORK/errata.json" >/dev/null 2>"$WORK/errata.err" &
echo $! > "$WORK/errata.pid"
start_nghttpx "$NGHTTPX_PORT" "$UP_PORT" "$NGHTTPX_FRONTEND_PARAMS"
for port in $UP_PORT $ERRATA_PORT $NGINX_PORT $NGHTTPX_PORT; do
  wait_port "$port" || { echo "nothing listens on $port: its server failed to start (port taken?)" >&2; exit 1; }
done

run_one() { # name port pid → "name rps rps_per_cpu failed"
  local name=$1 port=$2 pid=$3 before after out
  before=$(cpu_of "$pid")
  out=$(taskset -c "$LOAD_CPU" h2load -n "$REQUESTS" -c "$CONNECTIONS" -m "$STREAMS" "$SCHEME://127.0.0.1:$port/" 2>&1)
  after=$(cpu_of "$pid")
  grep -Eq '^Application protocol: h2c?$' <<<"$out" || { echo "$name did not speak h2: $out" >&2; exit 1; }
  local rps failed
  rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$out")
  failed=$(awk '/^requests:/ {print $10}' <<<"$out")
  echo "$name $rps $(awk -v n="$REQUESTS" -v a="$after" -v b="$before" 'BEGIN { c=a-b; if (c > 0) printf "%.0f", n/c; else print "nan" }') $failed"
}

RESULTS="$WORK/results"
: > "$RESULTS"
cells=("errata $ERRATA_PORT errata.pid" "nginx $NGINX_PORT nginx_worker" "nghttpx $NGHTTPX_PORT nghttpx_worker")
for round in $(seq "$ROUNDS"); do
  for i in 0 1 2; do
    read -r name port pid_of <<<"${cells[$(( (i + round) % 3 ))]}"
    if [ "$pid_of" = errata.pid ]; then pid=$(cat "$WORK/errata.pid"); else pid=$($pid_of); fi
    run_one "$name" "$port" "$pid" >> "$RESULTS"
  done
  echo "round $round done" >&2
done

echo "MODE=$MODE KEY=$KEY $CONNECTIONS connections x $STREAMS streams, $REQUESTS requests per cell; load: $(uptime | sed 's/.*load/load/')"
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for name, rps, per_cpu, failed in rows:
    by.setdefault(name, []).append((float(rps), float(per_cpu), int(failed)))
med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v), sum(r[2] for r in v)) for n, v in by.items()}
print(f"{'':8} {'req/s':>10} {'req/CPU-s':>10} {'failed':>7}   (medians of {len(by['errata'])} rounds)")
for n in ("errata", "nginx", "nghttpx"):
    print(f"{n:8} {med[n][0]:10.0f} {med[n][1]:10.0f} {med[n][2]:7d}")
for i, what in ((0, "req/s"), (1, "req/CPU-s")):
    best = max(("nginx", "nghttpx"), key=lambda n: med[n][i])
    print(f"errata / better peer ({best}), {what}: {med['errata'][i] / med[best][i]:.2f}x")
sys.exit(1 if any(m[2] for m in med.values()) else 0)
PY
