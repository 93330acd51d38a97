#!/usr/bin/env bash
# The cost of a rate limit through the proxy: errata in front of an nginx upstream (`return
# 200`) with two routes to it, `/limited/` under a `header:Authorization` policy whose limit is
# never hit (10^9 per second) and `/open/` with no limit; wrk sends the same request (with an
# Authorization header) to each. Same settings as run.sh: errata pinned to PROXY_CPU, the
# upstream and wrk (one thread, keep-alive, CONNECTIONS connections) on LOAD_CPU, ROUNDS
# interleaved rounds (the order flips every round), medians, and the limited/open ratio.
#
# STORE=redis: the same with `rate_limit_store` on a redis-server started on a free port (so
# every limited request is one EVALSHA through the worker's pipelined connection).
#
#   bench/ratelimit.sh                 # defaults: 5 rounds × 10 s, 64 connections, local buckets
#   STORE=redis ROUNDS=3 DURATION=5 bench/ratelimit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
STORE=${STORE:-local}
UP_PORT=${UP_PORT:-18080} ERRATA_PORT=${ERRATA_PORT:-18081} REDIS_PORT=${REDIS_PORT:-18379}

. bench/common.sh
need wrk wrk
need curl curl
upstream_conf "$UP_PORT"
errata_conf "$ERRATA_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}"
if [ "$STORE" = redis ]; then
  need redis-server redis-server
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning \
    --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
fi
python3 - "$WORK" "$STORE" "$REDIS_PORT" <<'PY'
import json, sys
work, store, redis_port = sys.argv[1], sys.argv[2], sys.argv[3]
config = json.load(open(f"{work}/errata.json"))
config["routes"] = [{"path_prefix": "/limited/", "upstream": "app", "rate_limits": ["never_hit"]},
                    {"path_prefix": "/open/", "upstream": "app"}]
config["rate_limits"] = {"never_hit": {"key": "header:Authorization", "rate": 1000000000, "per": "1s", "burst": 1000000000}}
if store == "redis":
    config["rate_limit_store"] = {"redis": f"127.0.0.1:{redis_port}", "on_failure": "deny", "timeout": "1s"}
json.dump(config, open(f"{work}/errata.json", "w"))
PY

start_upstream_and_errata

AUTH="Authorization: Bearer sk_live_51HcQ2eKz8vX4pLmN0qR7tYw"
# Both answers before any timing: the limited route carries the RateLimit fields, the open one none.
limited=$(curl -s -D - -o /dev/null -H "$AUTH" "http://127.0.0.1:$ERRATA_PORT/limited/x")
open=$(curl -s -D - -o /dev/null -H "$AUTH" "http://127.0.0.1:$ERRATA_PORT/open/x")
grep -q '^HTTP/1.1 200' <<<"$limited" && grep -qi '^RateLimit-Policy: "never_hit"' <<<"$limited" \
  || { echo "GET /limited/x: expected 200 with RateLimit-Policy, got:"; echo "$limited"; exit 1; } >&2
grep -q '^HTTP/1.1 200' <<<"$open" && ! grep -qi '^RateLimit' <<<"$open" \
  || { echo "GET /open/x: expected 200 without RateLimit fields, got:"; echo "$open"; exit 1; } >&2
echo "store: $STORE; /limited/x → $(grep -i '^RateLimit:' <<<"$limited" | tr -d '\r')"

RESULTS="$WORK/results"
: > "$RESULTS"
run_one() { measure "$1" "http://127.0.0.1:$ERRATA_PORT/$1/x" "$(cat "$WORK/errata.pid")" -H "$AUTH" >> "$RESULTS"; }
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then run_one open; run_one limited; else run_one limited; run_one open; fi
  echo "round $round done" >&2
done

python3 bench/compare.py "$RESULTS" open limited 0.95
