#!/usr/bin/env bash
# Resident memory of errata (and nginx as a one-worker proxy) holding CLIENTS idle keep-alive
# client connections, each of which has made one proxied request.
#
#   bench/idle-rss.sh            # CLIENTS=1000
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-1000}
UP_PORT=18095 PROXY_PORT=18096 NGINX_PORT=18097
ulimit -n 65536 2>/dev/null || true
. bench/common.sh
upstream_conf "$UP_PORT"
proxy_conf "$NGINX_PORT" "$UP_PORT"
errata_conf "$PROXY_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}"
nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
nginx -c "$WORK/proxy.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/nginx-master.pid"
.build/release/errata --config "$WORK/errata.json" >/dev/null 2>&1 & echo $! > "$WORK/errata.pid"
wait_port "$PROXY_PORT"; wait_port "$NGINX_PORT"
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
