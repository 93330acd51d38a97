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
# proxy → $WORK/proxy.conf. MAIN_DIRECTIVE defaults to `worker_processes 1;`.
proxy_conf() {
  cat > "$WORK/proxy.conf" <<NGX
${3:-worker_processes 1;} daemon off; pid $WORK/px-nginx.pid; error_log $WORK/px-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$2; keepalive 64; }
  server { listen 127.0.0.1:$1;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; } } }
NGX
}

# errata_conf LISTEN_PORT UPSTREAM_PORT WORKERS: the same proxy as errata → $WORK/errata.json
errata_conf() {
  cat > "$WORK/errata.json" <<JSON
{"listeners": [{"address": "127.0.0.1:$1"}],
 "workers": $3,
 "upstreams": {"app": {"servers": ["127.0.0.1:$2"], "max_idle_connections": 64}},
 "routes": [{"path_prefix": "/", "upstream": "app"}],
 "timeouts": {"client_idle": "300s"},
 "access_log": {"to": "off"}}
JSON
}

wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
