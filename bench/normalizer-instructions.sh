#!/usr/bin/env bash
# Instructions per call of the pure normalizer on each acceptance vector, counted by callgrind
# (exact and independent of machine load, unlike NormalizerBench's nanoseconds): per vector,
# `NormalizerBench --calls CALLS VECTOR` under `valgrind --tool=callgrind`, then the inclusive
# instruction count of normalizeOnce, normalizeAndRender and contentTypeChecks over CALLS.
# valgrind 3.19 cannot read the DWARF 5 debug info of Swift 6 binaries, so a copy stripped of
# debug info (symbols kept) is what runs.
#
#   bench/normalizer-instructions.sh                   # CALLS=1000, release NormalizerBench
#   BIN=/tmp/NormalizerBench-before bench/normalizer-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-1000}
VECTORS=Tests/ErrorNormalizerTests/Fixtures/dialect-vectors.json
command -v valgrind >/dev/null || { echo "needs valgrind: apt-get install valgrind" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIN=${BIN:-.build/release/NormalizerBench}
[ -x "$BIN" ] || swift build -c release --product NormalizerBench
strip --strip-debug -o "$WORK/bench" "$BIN"
echo "| vector | normalize instr | + render instr | type checks instr |"
echo "| --- | ---: | ---: | ---: |"
for name in $(python3 -c 'import json,sys; print(" ".join(v["name"] for v in json.load(open(sys.argv[1]))["vectors"]))' "$VECTORS"); do
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/bench" --calls "$CALLS" "$name" >/dev/null 2>&1
  callgrind_annotate --inclusive=yes --threshold=100 "$WORK/cg.out" 2>/dev/null | awk -v n="$name" -v calls="$CALLS" '
    /normalizeOnce/ { gsub(/,/, "", $1); a = $1 } /normalizeAndRender/ { gsub(/,/, "", $1); b = $1 }
    /contentTypeChecks/ { gsub(/,/, "", $1); c = $1 }
    END { printf "| %s | %.0f | %.0f | %.0f |\n", n, a / calls, b / calls, c / calls }'
done
