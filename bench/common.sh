# Shared by the bench scripts: installing tools, the nginx upstream and proxy configs, errata's
# config, and a scratch directory whose processes are killed on exit. Source it; it sets WORK.

# need COMMAND PACKAGE: installs PACKAGE with apt when COMMAND is missing.
need() { command -v "$1" >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo;
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2"; }; }

need nginx nginx
[ -x .build/release/errata ] || swift build -c release --product errata

WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# upstream_conf PORT: nginx answering `return 200` on PORT → $WORK/upstream.conf
upstream_conf() {
  cat > "$WORK/upstream.conf" <<NGX
worker_processes 1; daemon off; pid $WORK/up-nginx.pid; error_log $WORK/up-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$1; location / { return 200 "hello from the upstream\n"; } } }
NGX
}

# proxy_conf LISTEN_PORT UPSTREAM_PORT [MAIN_DIRECTIVE]: nginx as a one-worker keep-alive reverse
# proxy → $WORK/proxy.conf. MAIN_DIRECTIVE defaults to `worker_processes 1;`. UPSTREAM_IDLE (64)
# is the idle upstream connections kept, here (`keepalive`) and in errata_conf.
proxy_conf() {
  cat > "$WORK/proxy.conf" <<NGX
${3:-worker_processes 1;} daemon off; pid $WORK/px-nginx.pid; error_log $WORK/px-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$2; keepalive ${UPSTREAM_IDLE:-64}; }
  server { listen 127.0.0.1:$1;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; } } }
NGX
}

# errata_conf LISTEN_PORT UPSTREAM_PORT WORKERS [ALPN_JSON]: the same proxy as errata →
# $WORK/errata.json. Its upstream connection cap (`max_connections`, 256 by default, a 503 past
# it) is raised to 4096: the nginx and nghttpx proxies it is compared with have none, and 16 h2
# connections × 32 streams need 512 upstream connections at once. With ALPN_JSON (e.g.
# '["h2", "http/1.1"]') the listener terminates TLS with make_cert's certificate.
errata_conf() {
  local tls=""
  [ -z "${4:-}" ] || tls=", \"tls\": {\"certificates\": [{\"cert\": \"$WORK/cert.pem\", \"key\": \"$WORK/key.pem\"}], \"alpn\": $4}"
  cat > "$WORK/errata.json" <<JSON
{"listeners": [{"address": "127.0.0.1:$1"$tls}],
 "workers": $3,
 "upstreams": {"app": {"servers": ["127.0.0.1:$2"], "max_connections": 4096, "max_idle_connections": ${UPSTREAM_IDLE:-64}}},
 "routes": [{"path_prefix": "/", "upstream": "app"}],
 "timeouts": {"client_idle": "300s"},
 "access_log": {"to": "off"}}
JSON
}

wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# make_cert rsa|ec: a self-signed localhost certificate → $WORK/cert.pem, $WORK/key.pem
make_cert() {
  local newkey=(-newkey rsa:2048)
  [ "$1" != ec ] || newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  openssl req -x509 "${newkey[@]}" -nodes -days 2 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
}

# start_nghttpx LISTEN_PORT UPSTREAM_PORT [FRONTEND_PARAMS]: nghttpx (one worker) pinned to
# PROXY_CPU, proxying to the upstream over HTTP/1.1; TLS with make_cert's certificate unless
# FRONTEND_PARAMS is ";no-tls". Its main process id → $WORK/nghttpx.pid.
start_nghttpx() {
  taskset -c "$PROXY_CPU" nghttpx --conf=/dev/null --workers=1 --frontend="127.0.0.1,$1${3:-}" \
    --backend="127.0.0.1,$2" --no-ocsp --errorlog-file="$WORK/nghttpx.err" "$WORK/key.pem" "$WORK/cert.pem" &
  echo $! > "$WORK/nghttpx.pid"
}

# CPU seconds (user+system) of a process, all its threads, from /proc.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
# The processes that do the proxying: nginx's one worker, nghttpx's worker process.
nginx_worker() { pgrep -P "$(cat "$WORK/px.pid")" | head -1; }
nghttpx_worker() { pgrep -P "$(cat "$WORK/nghttpx.pid")" | head -1 || cat "$WORK/nghttpx.pid"; }
