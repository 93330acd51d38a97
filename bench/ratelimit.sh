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

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for name, rps, p50, p99, per_cpu, errors, non2xx in rows:
    by.setdefault(name, []).append((float(rps), float(p50), float(p99), float(per_cpu), int(errors), int(non2xx)))
print(f"{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'req/CPU-s':>10} {'sock err':>8} {'non-2xx':>8}   (medians of {len(by['open'])} rounds)")
med = {}
for n in ("open", "limited"):
    cols = list(zip(*by[n]))
    med[n] = [statistics.median(c) for c in cols[:4]] + [sum(cols[4]), sum(cols[5])]
    r = med[n]
    print(f"{n:8} {r[0]:10.0f} {r[1]:8.2f} {r[2]:8.2f} {r[3]:10.0f} {r[4]:8d} {r[5]:8d}")
ratios = [l[0] / o[0] for o, l in zip(by["open"], by["limited"])]
print("per-round limited/open req/s: " + ", ".join(f"{x:.2f}" for x in ratios))
ratio = med["limited"][0] / med["open"][0]
print(f"limited/open: req/s {ratio:.2f}x (target >= 0.95x: {'met' if ratio >= 0.95 else 'NOT met'}), "
      f"median of per-round ratios {statistics.median(ratios):.2f}x, req/CPU-s {med['limited'][3] / med['open'][3]:.2f}x, "
      f"p99 {med['limited'][2] / med['open'][2]:.2f}x")
PY
