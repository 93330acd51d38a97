# Shared by the bench scripts: installing tools, the nginx upstream and proxy configs, errata's
# config, and a scratch directory whose processes are killed on exit. Source it; it sets WORK.

# need COMMAND PACKAGE: installs PACKAGE with apt when COMMAND is missing.
need() { command -v "$1" >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo;
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$2"; }; }

need nginx nginx
[ -x "${ERRATA_BIN:-.build/release/errata}" ] || swift build -c release --product errata

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

# cpu_of PID: CPU seconds (user+system) of a process and its threads, from /proc.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }

# to_ms VALUE: a wrk latency (12.3us, 4.5ms, 1.2s) in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s/,"",v); print v*1000 } else print v }'; }

# measure NAME URL PID [WRK_ARGS…]: one wrk run (one thread on LOAD_CPU, keep-alive, CONNECTIONS
# connections, DURATION s) → "NAME rps p50ms p99ms requests_per_CPU_second_of_PID socket_errors non2xx"
measure() {
  local name=$1 url=$2 pid=$3 before after out rps p50 p99 errors non2xx
  shift 3
  before=$(cpu_of "$pid")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" 2>&1)
  after=$(cpu_of "$pid")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Socket errors/ {gsub(/,/,""); print $4+$6+$8+$10}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$name $rps $(to_ms "$p50") $(to_ms "$p99") $(awk -v r="$rps" -v d="$DURATION" -v a="$after" -v b="$before" 'BEGIN { if (a > b) printf "%.0f", r*d/(a-b); else print "nan" }') ${errors:-0} ${non2xx:-0}"
}

# start_upstream_and_errata: nginx on $WORK/upstream.conf (LOAD_CPU) and errata on $WORK/errata.json
# (PROXY_CPU), pids in $WORK; returns once UP_PORT and ERRATA_PORT accept connections.
start_upstream_and_errata() {
  taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
  taskset -c "$PROXY_CPU" "${ERRATA_BIN:-.build/release/errata}" --config "$WORK/errata.json" >/dev/null 2>"$WORK/errata.err" &
  echo $! > "$WORK/errata.pid"
  wait_port "$UP_PORT" || { echo "the nginx upstream did not start:" >&2; cat "$WORK/up-error.log" >&2; exit 1; }
  wait_port "$ERRATA_PORT" || { echo "errata did not start (is port $ERRATA_PORT still taken?):" >&2; cat "$WORK/errata.err" >&2; exit 1; }
}

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

# The processes that do the proxying: nginx's one worker, nghttpx's worker process.
nginx_worker() { pgrep -P "$(cat "$WORK/px.pid")" | head -1; }
nghttpx_worker() { pgrep -P "$(cat "$WORK/nghttpx.pid")" | head -1 || cat "$WORK/nghttpx.pid"; }
