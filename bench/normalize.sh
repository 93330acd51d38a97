#!/usr/bin/env bash
# The cost of rewriting an error through the proxy: errata with the seed-002 `status_envelope`
# dialect in front of an nginx upstream that answers `/error` with 400 and the body of the
# vector 002-nested-status_envelope (so the rewrite reads nested pointers, joins an array and
# runs the `extract` regex), and `/ok` with a 200 of the same size that errata streams through.
# Same settings as run.sh: errata pinned to PROXY_CPU, the upstream and wrk (one thread,
# keep-alive, CONNECTIONS connections) on LOAD_CPU, ROUNDS interleaved rounds (the order flips
# every round), medians. Checks both answers first (the canonical error, the untouched 200).
#
#   bench/normalize.sh                # defaults: 5 rounds × 10 s, 64 connections
#   ROUNDS=3 DURATION=5 bench/normalize.sh
#   UP_PORT=28080 ERRATA_PORT=28081 ERRATA_BIN=/tmp/errata-before bench/normalize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
UP_PORT=${UP_PORT:-18080} ERRATA_PORT=${ERRATA_PORT:-18081}
# ERRATA_BIN: another build to measure (e.g. a copy of an earlier commit's release binary).
ERRATA_BIN=${ERRATA_BIN:-.build/release/errata}
VECTORS=Tests/ErrorNormalizerTests/Fixtures/dialect-vectors.json
VECTOR=002-nested-status_envelope

. bench/common.sh
need wrk wrk
need curl curl

# From the fixtures: the vector's body (compact JSON), a 200 body of the same length, the
# canonical error errata must answer with, and the dialect; the nginx strings escaped for "…".
python3 - "$VECTORS" "$VECTOR" "$WORK" <<'PY'
import json, sys
fixture, name, work = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
v = next(v for v in fixture["vectors"] if v["name"] == name)
compact = lambda o: json.dumps(o, separators=(",", ":"))
error = compact(v["upstream"]["body"])
ok = compact({"status": "success", "content": ""})
ok = compact({"status": "success", "content": "x" * (len(error) - len(ok))})
assert len(ok) == len(error)
nginx = lambda s: s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${dollar}")
open(f"{work}/error.body", "w").write(error)
open(f"{work}/ok.body", "w").write(ok)
open(f"{work}/error.nginx", "w").write(nginx(error))
open(f"{work}/ok.nginx", "w").write(nginx(ok))
open(f"{work}/expected.body", "w").write(compact(v["expect"]["body"]))
open(f"{work}/dialect.json", "w").write(compact(fixture["dialects"][v["dialect"]]))
open(f"{work}/dialect.name", "w").write(v["dialect"])
PY
DIALECT=$(cat "$WORK/dialect.name")

cat > "$WORK/upstream.conf" <<NGX
worker_processes 1; daemon off; pid $WORK/up-nginx.pid; error_log $WORK/up-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; default_type application/json;
  geo \$dollar { default "\$"; }
  server { listen 127.0.0.1:$UP_PORT;
    location = /error { return 400 "$(cat "$WORK/error.nginx")"; }
    location = /ok { return 200 "$(cat "$WORK/ok.nginx")"; } } }
NGX
errata_conf "$ERRATA_PORT" "$UP_PORT" "${ERRATA_WORKERS:-1}"
python3 - "$WORK" "$DIALECT" <<'PY'
import json, sys
work, name = sys.argv[1], sys.argv[2]
config = json.load(open(f"{work}/errata.json"))
config["dialects"] = {name: json.load(open(f"{work}/dialect.json"))}
config["upstreams"]["app"]["dialect"] = name
json.dump(config, open(f"{work}/errata.json", "w"))
PY

start_upstream_and_errata

# The two answers, before any timing: the canonical error, and the 200 byte for byte.
check() { # path status expected-body-file
  local got status
  got=$(curl -s -o "$WORK/got" -w '%{http_code} %{content_type}' "http://127.0.0.1:$ERRATA_PORT$1")
  status=${got%% *}
  if [ "$status" != "$2" ] || ! cmp -s "$WORK/got" "$3"; then
    echo "GET $1: expected $2 and $(cat "$3"), got $got and $(cat "$WORK/got")" >&2; exit 1
  fi
  echo "GET $1 → $got, $(wc -c < "$WORK/got") bytes: $(cat "$WORK/got")"
}
echo "upstream /error: 400 $(cat "$WORK/error.body") ($(wc -c < "$WORK/error.body") bytes)"
check /error 400 "$WORK/expected.body"
check /ok 200 "$WORK/ok.body"

run_one() { # name path → measure's line
  measure "$1" "http://127.0.0.1:$ERRATA_PORT$2" "$(cat "$WORK/errata.pid")"
}

RESULTS="$WORK/results"
: > "$RESULTS"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    run_one pass /ok >> "$RESULTS"; run_one rewrite /error >> "$RESULTS"
  else
    run_one rewrite /error >> "$RESULTS"; run_one pass /ok >> "$RESULTS"
  fi
  echo "round $round done" >&2
done

python3 bench/compare.py "$RESULTS" pass rewrite 0.9
