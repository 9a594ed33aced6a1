#!/usr/bin/env python3
"""Journal throughput against the raw limit, from a lockstep-bench-journal JSON output.

Usage: bench/summarize_journal.py RUN.json

Prints, per group size and I/O mode, the median bytes/s of the raw baseline and of each
journal configuration, as a ratio to the raw figure with the absolute numbers beside it.
The ratio is to the like-for-like raw run (fresh:1, writing newly preallocated space as
the journal does); the overwrite raw run (fresh:0) is shown beside it.
"""
import json
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    median = {}
    extra = {}
    for b in runs:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].replace("/real_time", "")
        median[name] = b.get("bytes_per_second", 0.0)
        extra[name] = b
    rows = defaultdict(dict)
    for name, bps in median.items():
        parts = name.split("/")
        kind = parts[0]
        args = dict(p.split(":") for p in parts if ":" in p)
        if kind == "BM_RawWriteSync":
            which = "raw" if args.get("fresh", "1") == "1" else "raw_overwrite"
            rows[(args["direct"], int(args["group"]))][which] = bps
        elif kind == "BM_Journal":
            backend, _, chain = parts[1].partition("_")
            key = f"{backend}/{chain or 'sha256'}/in_flight:{args['in_flight']}"
            rows[(args["direct"], int(args["group"]))][key] = bps
    columns = ["posix/sha256/in_flight:1", "posix/sha256/in_flight:4", "uring/sha256/in_flight:1",
               "uring/sha256/in_flight:4", "uring/unregistered/in_flight:4", "uring/xxh3/in_flight:4"]
    print("| I/O | group | raw MB/s (overwrite) | " + " | ".join(columns) +
          " | uring/sha256/in_flight:4 ÷ overwrite |")
    print("|---|---|---|" + "---|" * (len(columns) + 1))
    for (direct, group), row in sorted(rows.items()):
        if not any(c in row for c in columns):
            continue
        raw = row.get("raw", float("nan"))
        over = row.get("raw_overwrite", float("nan"))
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append("" if v is None else f"{v / 1e6:.0f} ({v / raw:.2f})")
        best = row.get("uring/sha256/in_flight:4")
        cells.append("" if best is None else f"{best / over:.2f}")
        mode = "O_DIRECT" if direct == "1" else "buffered"
        size = f"{group // 1024} KiB" if group < (1 << 20) else f"{group >> 20} MiB"
        print(f"| {mode} | {size} | {raw / 1e6:.0f} ({over / 1e6:.0f}) | " + " | ".join(cells) + " |")
    print()
    print("| tiny frames (128-byte entry) | frames/s | sync p50 µs | sync p99 µs |")
    print("|---|---|---|---|")
    for name, b in sorted(extra.items()):
        if name.startswith("BM_JournalTiny") or (
                name.startswith("BM_RawWriteSync/direct:0/") and name.endswith("fresh:1")
                and int(name.split("group:")[1].split("/")[0]) <= 4096):
            p50 = b.get("sync_p50_us")
            p99 = b.get("sync_p99_us")
            fmt = lambda v: "" if v is None else f"{v:.0f}"
            print(f"| {name} | {b['items_per_second']:.0f} | {fmt(p50)} | {fmt(p99)} |")


if __name__ == "__main__":
    main(sys.argv[1])
