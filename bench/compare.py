"""Summary of interleaved wrk rounds from two cells: medians per cell and OTHER/BASE ratios.

Usage: python3 bench/compare.py RESULTS BASE OTHER TARGET
RESULTS holds bench/common.sh `measure` lines (name rps p50ms p99ms req_per_cpu_s sock_errors
non2xx); TARGET is the OTHER/BASE requests-per-second ratio the issue asks for (e.g. 0.95).
"""
import statistics
import sys

path, base, other, target = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
by = {}
for line in open(path):
    if line.strip():
        name, rps, p50, p99, per_cpu, errors, non2xx = line.split()
        by.setdefault(name, []).append((float(rps), float(p50), float(p99), float(per_cpu), int(errors), int(non2xx)))
print(f"{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'req/CPU-s':>10} {'sock err':>8} {'non-2xx':>8}   (medians of {len(by[base])} rounds)")
med = {}
for n in (base, other):
    cols = list(zip(*by[n]))
    med[n] = [statistics.median(c) for c in cols[:4]] + [sum(cols[4]), sum(cols[5])]
    r = med[n]
    print(f"{n:8} {r[0]:10.0f} {r[1]:8.2f} {r[2]:8.2f} {r[3]:10.0f} {r[4]:8d} {r[5]:8d}")
ratios = [o[0] / b[0] for b, o in zip(by[base], by[other])]
print(f"per-round {other}/{base} req/s: " + ", ".join(f"{x:.2f}" for x in ratios))
ratio = med[other][0] / med[base][0]
print(f"{other}/{base}: req/s {ratio:.2f}x (target >= {target:g}x: {'met' if ratio >= target else 'NOT met'}), "
      f"median of per-round ratios {statistics.median(ratios):.2f}x, req/CPU-s {med[other][3] / med[base][3]:.2f}x, "
      f"p99 {med[other][2] / med[base][2]:.2f}x")
