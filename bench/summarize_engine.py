#!/usr/bin/env python3
"""Engine cost against the hand-written baseline, from lockstep-bench-engine JSON output.

Usage: bench/summarize_engine.py RUN.json [RUN.json ...]

Prints, per workload and account count, the median ns per command of the hand-written
loop and of the engine, and their ratio; then the staging comparison (undo log, overlay).
"""
import json
import sys
from collections import defaultdict


def medians(paths):
    out = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("aggregate_name") != "median":
                    continue
                name = b["run_name"].replace("/real_time", "")
                out[name].append(b["real_time"])
    return {k: sorted(v)[len(v) // 2] for k, v in out.items()}


def main(paths):
    m = medians(paths)
    print("| workload | accounts | hand-written ns | engine ns | engine ÷ hand-written |")
    print("|---|---|---|---|---|")
    for work in ("transfer", "deposit"):
        for accounts in ("1000", "100000"):
            hand = m.get(f"BM_HandWritten/{work}/accounts:{accounts}/iterations:2000000")
            eng = m.get(f"BM_Engine/{work}/accounts:{accounts}/iterations:2000000")
            if hand and eng:
                print(f"| {work} | {int(accounts):,} | {hand:.1f} | {eng:.1f} | {eng / hand:.2f} |")
    print()
    print("| records | writes | undo log ns | overlay ns | overlay ÷ undo log |")
    print("|---|---|---|---|---|")
    for records in ("1000", "100000"):
        for writes in ("2", "16"):
            u = m.get(f"BM_Staging/undo_log/records:{records}/writes:{writes}")
            o = m.get(f"BM_Staging/overlay/records:{records}/writes:{writes}")
            if u and o:
                print(f"| {int(records):,} | {writes} | {u:.1f} | {o:.1f} | {o / u:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
