#!/usr/bin/env bash
# Syscalls errata makes per HTTP/2 request (the "where errata's time goes" figures of
# BENCHMARKS.md's h2 section): errata (`workers: 1`) runs under `strace -f -c` twice, once for
# SHORT and once for LONG requests from h2load (CONNECTIONS × STREAMS); (LONG − SHORT) divides
# the difference, which cancels start-up, handshakes and shutdown. MODE=tls|h2c as in h2.sh;
# ERRATA_BIN picks the binary (to compare a build with an earlier one). Prints the total and the
# calls that make it up.
#
#   bench/h2-syscalls.sh
#   MODE=h2c ERRATA_BIN=/tmp/errata-before bench/h2-syscalls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-tls}
SHORT=${SHORT:-5000}
LONG=${LONG:-15000}
CONNECTIONS=${CONNECTIONS:-16}
STREAMS=${STREAMS:-32}
UP_PORT=${UP_PORT:-18090} ERRATA_PORT=${ERRATA_PORT:-18091}

. bench/common.sh
need h2load nghttp2-client
need strace strace
upstream_conf "$UP_PORT"
case "$MODE" in
  tls) make_cert rsa; errata_conf "$ERRATA_PORT" "$UP_PORT" 1 '["h2", "http/1.1"]'; SCHEME=https ;;
  h2c) errata_conf "$ERRATA_PORT" "$UP_PORT" 1; SCHEME=http ;;
  *) echo "MODE must be tls or h2c" >&2; exit 2 ;;
esac
nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
wait_port "$UP_PORT" || { echo "the nginx upstream did not start on $UP_PORT" >&2; exit 1; }

# run N → $WORK/st.N: strace's summary for N requests
run() {
  local n=$1
  strace -f -c -o "$WORK/st.$n" "${ERRATA_BIN:-.build/release/errata}" --config "$WORK/errata.json" >/dev/null 2>"$WORK/errata.err" &
  local pid=$!
  wait_port "$ERRATA_PORT" || { echo "errata did not start on $ERRATA_PORT" >&2; cat "$WORK/errata.err" >&2; exit 1; }
  h2load -n "$n" -c "$CONNECTIONS" -m "$STREAMS" "$SCHEME://127.0.0.1:$ERRATA_PORT/" > "$WORK/h2load.out" 2>&1
  grep -q "$n succeeded" "$WORK/h2load.out" || { echo "h2load: not all $n requests succeeded" >&2; cat "$WORK/h2load.out" >&2; }
  pkill -TERM -P "$pid" 2>/dev/null || true # the traced process is strace's child
  wait "$pid" 2>/dev/null || true
}
run "$SHORT"; run "$LONG"
echo "MODE=$MODE $CONNECTIONS connections x $STREAMS streams, syscalls per request ($LONG − $SHORT requests); load: $(uptime | sed 's/.*load/load/')"
# strace -c rows: "% time seconds usecs/call calls [errors] syscall"; the calls column is the 4th.
awk -v n=$((LONG - SHORT)) -v short="$WORK/st.$SHORT" '
  $1 ~ /^[0-9.]+$/ && NF >= 5 { c = $4; name = $NF; if (FILENAME == short) a[name] -= c; else a[name] += c; seen[name] = 1 }
  END { for (s in seen) if (a[s] / n >= 0.01) printf "%-16s %6.2f\n", s, a[s] / n | "sort -k2 -rn" }
' "$WORK/st.$SHORT" "$WORK/st.$LONG"
