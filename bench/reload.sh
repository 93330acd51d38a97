#!/usr/bin/env bash
# Reloads under load: wrk drives errata (keep-alive, CONNECTIONS connections) while the config
# is swapped and errata reloaded RELOADS times, one second apart, the way systemd's ExecReload
# does it (`errata check`, then SIGHUP). Each swap renames the route and changes the upstream's
# pool settings, so every reload also retires every worker's upstream pool. Prints the
# requests wrk completed, the failed ones (non-2xx and socket errors) and the reloads errata
# counted in /metrics. The point is the failure count: it must be 0.
#
#   bench/reload.sh                   # defaults: 10 reloads, 64 connections
#   RELOADS=20 CONNECTIONS=256 bench/reload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RELOADS=${RELOADS:-10}
CONNECTIONS=${CONNECTIONS:-64}
UP_PORT=18080 ERRATA_PORT=18081 ADMIN_PORT=18091

. bench/common.sh
need wrk wrk
need curl curl
upstream_conf "$UP_PORT"

config() { # ROUTE_NAME MAX_IDLE → the config errata runs
  cat > "$WORK/errata.json.new" <<JSON
{"listeners": [{"address": "127.0.0.1:$ERRATA_PORT"}],
 "admin": {"address": "127.0.0.1:$ADMIN_PORT"},
 "upstreams": {"app": {"servers": ["127.0.0.1:$UP_PORT"], "max_idle_connections": $2}},
 "routes": [{"name": "$1", "path_prefix": "/", "upstream": "app"}],
 "timeouts": {"client_idle": "300s"},
 "access_log": {"to": "off"}}
JSON
  mv "$WORK/errata.json.new" "$WORK/errata.json"
}

config even 64
nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
.build/release/errata --config "$WORK/errata.json" 2>"$WORK/errata.err" & echo $! > "$WORK/errata.pid"
wait_port "$ERRATA_PORT" || { echo "errata did not start (is port $ERRATA_PORT still taken?):" >&2; cat "$WORK/errata.err" >&2; exit 1; }

DURATION=$((RELOADS + 3))
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$ERRATA_PORT/" > "$WORK/wrk.out" 2>&1 &
WRK=$!
sleep 1
for i in $(seq "$RELOADS"); do
  if [ $((i % 2)) = 1 ]; then config odd 63; else config even 64; fi
  .build/release/errata check --config "$WORK/errata.json" >/dev/null
  kill -HUP "$(cat "$WORK/errata.pid")"
  sleep 1
done
wait "$WRK"

requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.out"); non2xx=${non2xx:-0}
socket=$(awk '/Socket errors/ {gsub(/,/,""); print $4+$6+$8+$10}' "$WORK/wrk.out"); socket=${socket:-0}
reloads=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^errata_config_reloads_total\{result="success"\}/ {print $2}')
echo "reloads sent: $RELOADS, counted by errata: ${reloads:-?}"
echo "requests: $requests, non-2xx: $non2xx, socket errors: $socket"
grep -E "Requests/sec|Latency" "$WORK/wrk.out"
[ "$non2xx" = 0 ] && [ "$socket" = 0 ] && [ "${reloads:-0}" = "$RELOADS" ]
