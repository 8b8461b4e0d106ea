#!/usr/bin/env python3
"""Where the campaigns spend their time, by crate (`make profile-study`).

Reads a `perf record` of the campaigns and the linker map of the very
`stampede` they ran, and attributes each sample in the binary to the crate
whose object file holds the sampled function: the crate that compiled it,
so the one whose opt-level decides its speed (a generic instantiated in
Lance counts as Lance's). Prints a markdown table: where the process's
samples went (kernel, loader, binary), then the binary's crates by share.

    hot_crates.py PERF_DATA LINK_MAP [--min-share 0.3]
"""
import argparse
import collections
import re
import subprocess
import sys

SECTION = re.compile(r"\s(\S+):\(\.text\.(\S+)\)\s*$")
RLIB = re.compile(r"/lib([A-Za-z0-9_]+)-[0-9a-f]+\.rlib\(")


def crate_of(obj: str) -> str:
    m = RLIB.search(obj)
    if m:
        return m.group(1)
    # The binary's own object files (the `stampede` crate).
    return "stampede (bin)"


def sections(link_map: str) -> dict:
    """Each function's section name to the crates whose objects define it
    (a private instantiation can exist in several)."""
    defined = collections.defaultdict(set)
    with open(link_map, errors="replace") as f:
        for line in f:
            if ":(.text." not in line:
                continue
            m = SECTION.search(line)
            if m:
                defined[m.group(2)].add(crate_of(m.group(1)))
    return defined


def perf_report(perf_data: str, *sort: str, dsos: str = "") -> list:
    cmd = ["perf", "report", "-i", perf_data, "--no-children", "-q", "--percent-limit", "0",
           "--no-demangle", "--sort", ",".join(sort), "-F", "sample," + ",".join(sort)]
    if dsos:
        cmd += ["--dsos", dsos]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("perf_data")
    parser.add_argument("link_map")
    parser.add_argument("--binary", default="stampede")
    parser.add_argument("--min-share", type=float, default=0.3)
    args = parser.parse_args()

    by_dso = collections.Counter()
    for row in perf_report(args.perf_data, "dso"):
        by_dso[row[1]] += int(row[0])
    total = sum(by_dso.values())
    in_binary = by_dso.get(args.binary, 0)
    if not total or not in_binary:
        print(f"hot_crates: no samples in {args.binary}", file=sys.stderr)
        return 1
    kernel = sum(n for d, n in by_dso.items() if d.startswith("[kernel"))
    loader = sum(n for d, n in by_dso.items() if d.startswith("ld-linux"))

    defined = sections(args.link_map)
    crates = collections.Counter()
    for row in perf_report(args.perf_data, "sym", dsos=args.binary):
        # "N [.] SYMBOL": the symbol is the last field.
        count, symbol = int(row[0]), row[-1]
        owners = defined.get(symbol) or {"(no section in the map)"}
        for owner in owners:
            crates[owner] += count / len(owners)

    pct = lambda n, of: f"{100 * n / of:.1f}%"
    print(f"_{total} samples: {pct(kernel, total)} in the kernel, {pct(loader, total)} in the "
          f"dynamic loader (relocating each new process), {pct(in_binary, total)} in "
          f"`{args.binary}`; its crates with at least {args.min_share}% of those:_\n")
    print("| crate | share of the binary's samples |")
    print("|---|---|")
    for crate, n in crates.most_common():
        if 100 * n / in_binary < args.min_share:
            break
        print(f"| {crate} | {pct(n, in_binary)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
