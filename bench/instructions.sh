#!/usr/bin/env bash
# Per-request cost of errata and nginx as HTTP/1.1 keep-alive reverse proxies, in user-space
# instructions (valgrind callgrind: exact, independent of machine load) and syscalls (strace -f -c).
#
# Each proxy runs once for SHORT and once for LONG requests, all on ONE keep-alive connection
# (h2load --h1 -c 1, outside valgrind); (LONG count − SHORT count) / (LONG − SHORT) cancels
# start-up and shutdown. The upstream is nginx `return 200` from bench/common.sh, outside the
# measurement. errata runs one worker; nginx runs `master_process off; daemon off;` so the one
# process that proxies is the one measured.
#
# Two valgrind 3.19 traps, worked around here: it cannot read the DWARF 5 debug info of Swift 6
# binaries, so a copy of errata stripped of debug info (symbols kept) is what runs; and its
# rt_sigsuspend wrapper writes into the caller's signal mask, which libdispatch's `dispatchMain`
# passes from read-only memory (valgrind dies with an internal SIGSEGV right after "listening"),
# so errata runs with a one-function LD_PRELOAD shim whose `sigsuspend` passes a copy.
# Under valgrind errata answers ~75 requests/s (its threads hand off through Dispatch, which
# valgrind serializes): the default LONG run takes about 5 minutes.
# With KEEP=DIR the callgrind output files stay in DIR for
# `callgrind_annotate --inclusive=yes DIR/errata-LONG.cg`.
#
#   bench/instructions.sh                      # SHORT=2000 LONG=20000, release errata
#   SHORT=1000 LONG=6000 KEEP=/tmp/cg bench/instructions.sh
#   ONLY=errata ERRATA_BIN=/tmp/errata-old bench/instructions.sh   # errata only, another binary
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${SHORT:-2000}
LONG=${LONG:-20000}
ONLY=${ONLY:-}
UP_PORT=18095 PROXY_PORT=18096

. bench/common.sh
need h2load nghttp2-client
need strace strace
need valgrind valgrind
upstream_conf "$UP_PORT"
proxy_conf "$PROXY_PORT" "$UP_PORT" "master_process off;"
errata_conf "$PROXY_PORT" "$UP_PORT" 1
BIN=${ERRATA_BIN:-.build/release/errata}
strip --strip-debug -o "$WORK/errata" "$BIN"
cat > "$WORK/sigsuspend-copy.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, 8); }
C
cc -O2 -shared -fPIC -o "$WORK/sigsuspend-copy.so" "$WORK/sigsuspend-copy.c"

nginx -c "$WORK/upstream.conf" -p "$WORK" 2>/dev/null & echo $! > "$WORK/up.pid"
wait_port "$UP_PORT"

proxy_cmd() { # PROXY → the command line in PROXY_CMD, what valgrind preloads in PRELOAD, the stop signal in STOP
  case $1 in
    errata) PROXY_CMD=("$WORK/errata" --config "$WORK/errata.json"); STOP=TERM
            PRELOAD="$WORK/sigsuspend-copy.so" ;;
    nginx)  PROXY_CMD=(nginx -c "$WORK/proxy.conf" -p "$WORK"); STOP=QUIT; PRELOAD= ;;
  esac
}

drive() { # N: N requests on one keep-alive connection; marks the run failed unless all succeeded
  h2load --h1 -n "$1" -c 1 "http://127.0.0.1:$PROXY_PORT/" > "$WORK/h2load.out" 2>&1
  grep -q "$1 succeeded" "$WORK/h2load.out" || { echo "h2load: not all $1 requests succeeded" >&2; cat "$WORK/h2load.out" >&2; touch "$WORK/failed"; }
}

instructions() { # PROXY N → user-space instructions (Ir) of the whole run
  local out="$WORK/$1-$2.cg" pid
  proxy_cmd "$1"
  LD_PRELOAD="$PRELOAD" valgrind --tool=callgrind --collect-atstart=yes --trace-children=yes \
    --callgrind-out-file="$out" "${PROXY_CMD[@]}" >/dev/null 2>"$WORK/valgrind-$1.err" &
  pid=$!
  wait_port "$PROXY_PORT"
  drive "$2"
  kill -"$STOP" "$pid"; wait "$pid" 2>/dev/null || true
  [ -z "${KEEP:-}" ] || { mkdir -p "$KEEP"; cp "$out" "$KEEP/"; }
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

syscalls() { # PROXY N → syscalls the proxy made over the whole run
  local pid
  proxy_cmd "$1"
  strace -f -c -o "$WORK/st.out" "${PROXY_CMD[@]}" >/dev/null 2>"$WORK/strace.err" &
  pid=$!
  wait_port "$PROXY_PORT"
  drive "$2"
  # The traced process is strace's child: signal the proxy itself.
  pkill -"$STOP" -P "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  awk '$NF == "total" {print $4}' "$WORK/st.out"
}

per_request() { awk -v a="$1" -v b="$2" -v n=$((LONG - SHORT)) 'BEGIN { printf "%.2f", (b - a) / n }'; }

declare -A IR SC
for proxy in ${ONLY:-errata nginx}; do
  IR[$proxy]=$(per_request "$(instructions "$proxy" "$SHORT")" "$(instructions "$proxy" "$LONG")")
  SC[$proxy]=$(per_request "$(syscalls "$proxy" "$SHORT")" "$(syscalls "$proxy" "$LONG")")
done

[ ! -e "$WORK/failed" ] || { echo "a run failed: no figures" >&2; exit 1; }
printf "per request (%d−%d requests, one keep-alive connection)\n" "$LONG" "$SHORT"
printf "%-14s %16s %12s\n" "" "instructions" "syscalls"
for proxy in ${ONLY:-errata nginx}; do printf "%-14s %16.0f %12.2f\n" "$proxy" "${IR[$proxy]}" "${SC[$proxy]}"; done
if [ -z "$ONLY" ]; then
  printf "%-14s %15.2fx %11.2fx\n" "errata/nginx" \
    "$(awk -v a="${IR[errata]}" -v b="${IR[nginx]}" 'BEGIN {print a/b}')" \
    "$(awk -v a="${SC[errata]}" -v b="${SC[nginx]}" 'BEGIN {print a/b}')"
fi
