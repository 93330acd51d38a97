#!/usr/bin/env bash
# Full TLS handshakes per proxy CPU-second: errata vs nginx (`listen … ssl`, one worker) vs
# nghttpx (`--workers=1`), each a TLS-terminating proxy pinned to the same core (PROXY_CPU).
#
# The client is `openssl s_time -new` on the other core (LOAD_CPU): every connection is a full
# handshake (no session resumption), then one `GET /` through the proxy to an nginx upstream
# (`return 200`), then close. What counts is the proxy's CPU time (user+system, from /proc), so
# the client's own speed does not matter. ROUNDS rounds of DURATION seconds, interleaved; prints
# the median handshakes/s and handshakes per proxy-CPU-second of each, and errata's ratios.
# Every server issues session tickets and keeps a session cache, as errata does (so each does
# the same work per handshake); the client never resumes.
#
#   bench/tls-handshakes.sh                     # RSA-2048 certificate, TLS 1.3, 3 rounds × 10 s
#   KEY=ec ROUNDS=5 DURATION=5 bench/tls-handshakes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
KEY=${KEY:-rsa}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
UP_PORT=18090 ERRATA_PORT=18091 NGINX_PORT=18092 NGHTTPX_PORT=18093

. bench/common.sh
need nghttpx nghttp2-proxy
upstream_conf "$UP_PORT"

make_cert "$KEY"
errata_conf "$ERRATA_PORT" "$UP_PORT" 1 '["http/1.1"]'
cat > "$WORK/proxy.conf" <<NGX
worker_processes 1; daemon off; pid $WORK/px-nginx.pid; error_log $WORK/px-error.log;
events { worker_connections 4096; }
http { access_log off;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server { listen 127.0.0.1:$NGINX_PORT ssl; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on; ssl_session_cache shared:SSL:10m;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX

taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
taskset -c "$PROXY_CPU" nginx -c "$WORK/proxy.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/px.pid"
taskset -c "$PROXY_CPU" .build/release/errata --config "$WORK/errata.json" >/dev/null 2>"$WORK/errata.err" &
echo $! > "$WORK/errata.pid"
start_nghttpx "$NGHTTPX_PORT" "$UP_PORT"
for port in $UP_PORT $ERRATA_PORT $NGINX_PORT $NGHTTPX_PORT; do wait_port "$port"; done

run_one() { # name port pid → "name handshakes/s handshakes/cpu-s"
  local name=$1 port=$2 pid=$3 before after out count
  before=$(cpu_of "$pid")
  out=$(taskset -c "$LOAD_CPU" openssl s_time -connect "127.0.0.1:$port" -new -www / -time "$DURATION" 2>&1 </dev/null)
  after=$(cpu_of "$pid")
  count=$(awk '/connections in [0-9.]+ real seconds/ {print $1; exit}' <<<"$out")
  [ -n "$count" ] || { echo "$name: s_time failed: $out" >&2; count=0; }
  awk -v n="$name" -v c="$count" -v d="$DURATION" -v a="$after" -v b="$before" \
    'BEGIN { cpu = a - b; printf "%s %.0f %.0f %.2f\n", n, c / d, (cpu > 0 ? c / cpu : 0), cpu }'
}

RESULTS="$WORK/results"
: > "$RESULTS"
for round in $(seq "$ROUNDS"); do
  run_one errata "$ERRATA_PORT" "$(cat "$WORK/errata.pid")" >> "$RESULTS"
  run_one nginx "$NGINX_PORT" "$(nginx_worker)" >> "$RESULTS"
  run_one nghttpx "$NGHTTPX_PORT" "$(nghttpx_worker)" >> "$RESULTS"
done

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "key=$KEY rounds=$ROUNDS duration=${DURATION}s (openssl s_time -new, one GET per connection)"
printf "%-8s %14s %20s\n" proxy "handshakes/s" "handshakes/CPU-s"
for name in errata nginx nghttpx; do
  hs=$(awk -v n=$name '$1==n {print $2}' "$RESULTS" | median)
  per=$(awk -v n=$name '$1==n {print $3}' "$RESULTS" | median)
  printf "%-8s %14s %20s\n" "$name" "$hs" "$per"
  eval "per_$name=$per"
done
awk -v e="$per_errata" -v n="$per_nginx" -v h="$per_nghttpx" \
  'BEGIN { printf "errata / nginx: %.2fx   errata / nghttpx: %.2fx (handshakes per CPU-second)\n", e/n, e/h }'
