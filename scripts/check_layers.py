#!/usr/bin/env python3
"""The layer rule (docs/architecture.md): every #include between lockstep's folders points
down the layer order, never up or sideways. Prints each arrow that does not, and with
--counts the shape figures issue 16 asked for: files over 500 lines and functions over
70 lines in library code. Exit 1 if any arrow points the wrong way."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Lower ranks are lower layers; a folder may include its own files and lower ranks only.
RANK = {
    "base": 0,
    "pipeline": 1, "journal": 1, "schema": 1,
    "engine": 2,
    "snapshot": 3,
    "replay": 4,
    "runtime": 5,
    "domains": 6,
    "tools": 7, "tests": 7, "bench": 7, "fuzz": 7,
}
LIBRARY = ["base", "pipeline", "journal", "schema", "engine", "snapshot", "replay", "runtime",
           "domains"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def sources(folders):
    for top in folders:
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for n in sorted(names):
                if n.endswith((".h", ".cc")):
                    yield os.path.join(dirpath, n)


def arrows():
    bad = []
    for path in sources(RANK):
        rel = os.path.relpath(path, ROOT)
        here = rel.split(os.sep)[0]
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m or m.group(1) not in RANK or m.group(1) == here:
                    continue
                if RANK[m.group(1)] >= RANK[here]:
                    bad.append(f"{rel}:{number}: {here} includes {m.group(1)}/ "
                               f"(layer {RANK[here]} -> {RANK[m.group(1)]})")
    return bad


# A function body: a line ending in ') {' (or ') const {', ') noexcept {', ...), traced back
# to the start of its statement, whose indentation the closing '}' line repeats. Control
# statements and lambdas are not functions. Heuristic, but it sees every function
# definition clang-format lays out.
BODY_OPEN = re.compile(r'\)\s*(const\s*)?(noexcept\s*)?(override\s*)?(->\s*[\w:<>]+\s*)?\{\s*$')
NOT_FUNCTION = re.compile(r'^\s*(if|for|while|switch|else|do|catch|return|\}|case)\b')


def long_functions(limit):
    out = []
    for path in sources(LIBRARY):
        rel = os.path.relpath(path, ROOT)
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            if not BODY_OPEN.search(lines[i]):
                i += 1
                continue
            start = i
            while start > 0:
                prev = lines[start - 1].rstrip()
                if (not prev or prev.endswith((";", "{", "}", ":")) or
                        prev.lstrip().startswith(("//", "#", "template"))):
                    break
                start -= 1
            head = lines[start]
            before_paren = head.split("(")[0]
            if NOT_FUNCTION.match(head) or "[" in before_paren or "=" in before_paren:
                i += 1
                continue
            indent = re.match(r"\s*", head).group(0)
            end = i + 1
            while end < len(lines) and not re.match(re.escape(indent) + r"\}", lines[end]):
                end += 1
            length = end - start + 1
            if length > limit:
                out.append((length, f"{rel}:{start + 1}"))
            i = end + 1
    return sorted(out, reverse=True)


def long_files(limit):
    out = []
    for path in sources(LIBRARY + ["tools"]):
        n = sum(1 for _ in open(path, encoding="utf-8"))
        if n > limit:
            out.append((n, os.path.relpath(path, ROOT)))
    return sorted(out, reverse=True)


def main():
    bad = arrows()
    for b in bad:
        print(b)
    if "--counts" in sys.argv:
        files = long_files(500)
        funcs = long_functions(70)
        print(f"files over 500 lines (library and tools): {len(files)}")
        for n, p in files:
            print(f"  {n:5} {p}")
        print(f"functions over 70 lines (library): {len(funcs)}")
        for n, p in funcs:
            print(f"  {n:5} {p}")
    print(f"include arrows that do not point down: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
