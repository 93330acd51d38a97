#!/usr/bin/env bash
# Resident memory of errata (and nginx as a one-worker proxy) holding CLIENTS idle keep-alive
# client connections, each of which has made one proxied request.
#
#   bench/idle-rss.sh            # CLIENTS=1000
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-1000}
UP_PORT=18095 PROXY_PORT=18096 NGINX_PORT=18097
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; }
[ -x .build/release/errata ] || swift build -c release --product errata
ulimit -n 65536 2>/dev/null || true
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cat > "$WORK/nginx.conf" <<NGX
worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections 8192; }
http { access_log off; keepalive_timeout 300s; keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server { listen 127.0.0.1:$UP_PORT; location / { return 200 "hello\n"; } }
  server { listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
cat > "$WORK/errata.json" <<JSON
{"listeners": [{"address": "127.0.0.1:$PROXY_PORT"}], "workers": ${ERRATA_WORKERS:-1},
 "upstreams": {"app": {"servers": ["127.0.0.1:$UP_PORT"]}},
 "routes": [{"path_prefix": "/", "upstream": "app"}],
 "timeouts": {"client_idle": "300s"}, "access_log": {"to": "off"}}
JSON
nginx -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/nginx-master.pid"
.build/release/errata --config "$WORK/errata.json" >/dev/null 2>&1 & echo $! > "$WORK/errata.pid"
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hold() { # port pid → RSS KiB before and while holding CLIENTS idle connections
  python3 - "$1" "$CLIENTS" "$(rss "$2")" "$2" <<'PY'
import socket, sys, time
port, n, before, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    socks.append(s)
for s in socks:
    data = b""
    while b"hello" not in data:
        data += s.recv(4096)
time.sleep(0.5)
after = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
print(f"{int(before)/1024:.1f} MiB idle, {int(after)/1024:.1f} MiB with {n} keep-alive clients")
PY
}
echo "errata: $(hold $PROXY_PORT "$(cat "$WORK/errata.pid")")"
echo "nginx worker: $(hold $NGINX_PORT "$(pgrep -P "$(cat "$WORK/nginx-master.pid")" | head -1)")"
