#!/usr/bin/env python3
"""Median table of a lockstep-bench-pipeline JSON output, for docs/benchmarks.md.

Usage: bench/summarize.py RUN.json [RUN.json ...]

Takes every repetition of every benchmark from the given runs, and prints per benchmark
the median items/s and latency percentiles, over all repetitions and over those taken
while the two vCPUs sat close together (xcore_rtt_ns below the threshold: on a VM the
host may move them mid-run, which moves every figure; see docs/benchmarks.md).
"""
import json
import statistics
import sys
from collections import defaultdict

NEAR_RTT_NS = 150.0


def main(paths):
    reps = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type") != "iteration" or "error_occurred" in b:
                    continue
                reps[b["run_name"]].append(b)
    print("| benchmark | reps (near) | Mitems/s median (all) | Mitems/s median (near) "
          "| p50 µs | p99 µs | p99.9 µs |")
    print("|---|---|---|---|---|---|---|")
    topologies = ["BM_1P1C", "BM_1P3Stage", "BM_3P1C"]
    impls = ["lockstep_spin", "lockstep_hybrid", "moodycamel_cq", "mutex_deque"]

    def order(name):
        parts = name.split("/")
        topo = topologies.index(parts[0]) if parts[0] in topologies else 99
        impl = impls.index(parts[1]) if parts[1] in impls else 99
        return (topo, impl, name)

    for name, runs in sorted(reps.items(), key=lambda kv: order(kv[0])):
        near = [r for r in runs if r["xcore_rtt_ns"] < NEAR_RTT_NS]
        med = lambda rs, k: statistics.median(r[k] for r in rs) if rs else float("nan")
        short = name.replace("/real_time", "").replace("/relay_reads:1", "")
        print(f"| {short} | {len(runs)} ({len(near)}) "
              f"| {med(runs, 'items_per_second') / 1e6:.1f} "
              f"| {med(near, 'items_per_second') / 1e6:.1f} "
              f"| {med(near or runs, 'p50_ns') / 1e3:.1f} "
              f"| {med(near or runs, 'p99_ns') / 1e3:.1f} "
              f"| {med(near or runs, 'p999_ns') / 1e3:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
