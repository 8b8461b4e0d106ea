#!/usr/bin/env python3
"""Print the benchmark figures as ratios against their same-run baselines,
from criterion's estimates (target/criterion/<group>/<bench>/new/estimates.json)."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def mean(*parts):
    path = root.joinpath(*parts, "new", "estimates.json")
    try:
        return json.loads(path.read_text())["mean"]["point_estimate"] / 1e9
    except FileNotFoundError:
        return None


def ms(seconds):
    if seconds is None:
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}x"


cold = mean("open", "raw_lance_open_cold")
warm = mean("open", "raw_lance_open_warm_session")
rw = mean("open", "stampede_read_write_open")
ro = mean("open", "stampede_read_only_open")
print("open latency (goal: read-write open within 1.3x the raw-open floor)")
print(f"  raw Dataset::open, cold session   {ms(cold)}")
print(f"  raw Dataset::open, warm session   {ms(warm)}")
print(f"  stampede read-write open          {ms(rw)}   {ratio(rw, warm)} of warm, {ratio(rw, cold)} of cold")
print(f"  stampede read-only open           {ms(ro)}   {ratio(ro, warm)} of warm, {ratio(ro, cold)} of cold")
print("legacy v2 open, N __run__ refs (goals: 1000 refs <= 12x 100 refs; >= 10x faster than naive at 1000)")
for n in ["0", "10", "100", "1000"]:
    ours, naive = mean("sweep", "stampede_open", n), mean("sweep", "naive_force_delete", n)
    print(f"  {n:>5} refs  stampede {ms(ours):>12}   naive force_delete {ms(naive):>12}   speedup {ratio(naive, ours)}")
print(f"  growth 100 -> 1000 refs: stampede {ratio(mean('sweep', 'stampede_open', '1000'), mean('sweep', 'stampede_open', '100'))}, "
      f"naive {ratio(mean('sweep', 'naive_force_delete', '1000'), mean('sweep', 'naive_force_delete', '100'))}")

s3 = {name: mean("open_s3", name) for name in
      ["raw_lance_open_cold", "raw_lance_open_warm_session", "stampede_read_write_open", "stampede_read_only_open"]}
try:
    requests = json.loads(root.joinpath("open_s3", "requests.json").read_text())
except FileNotFoundError:
    requests = {}
print("open latency on S3 (SeaweedFS on 127.0.0.1; goal: a read-write open makes at most one request more than the raw open)")
for name, label in [("raw_lance_open_cold", "raw Dataset::open, cold session"),
                    ("raw_lance_open_warm_session", "raw Dataset::open, warm session"),
                    ("stampede_read_write_open", "stampede read-write open"),
                    ("stampede_read_only_open", "stampede read-only open")]:
    extra = "" if name.startswith("raw") else \
        f"   {ratio(s3[name], s3['raw_lance_open_warm_session'])} of warm, {ratio(s3[name], s3['raw_lance_open_cold'])} of cold"
    print(f"  {label:<34}{ms(s3[name]):>10}   {requests.get(name, 'n/a')} requests{extra}")


def svg_plot(path):
    """Open latency as a log-scale bar chart (an SVG: no plotting library
    needed, and the README renders it)."""
    bars = [("raw open, cold", cold), ("raw open, warm", warm),
            ("stampede RW open", rw), ("stampede RO open", ro)]
    for n in ["0", "10", "100", "1000"]:
        bars.append((f"sweep {n} refs", mean("sweep", "stampede_open", n)))
        bars.append((f"naive {n} refs", mean("sweep", "naive_force_delete", n)))
    bars = [(label, t) for label, t in bars if t]
    if not bars:
        return
    import math
    lo, hi = math.log10(min(t for _, t in bars)) - 0.3, math.log10(max(t for _, t in bars)) + 0.3
    width, left, row = 760, 150, 26
    height = 40 + row * len(bars) + 30
    scale = lambda t: left + (math.log10(t) - lo) / (hi - lo) * (width - left - 90)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">Open latency (criterion mean, log scale)</text>']
    for decade in range(math.ceil(lo), math.floor(hi) + 1):
        x = scale(10 ** decade)
        label = ms(10 ** decade)
        out.append(f'<line x1="{x:.1f}" y1="30" x2="{x:.1f}" y2="{height - 25}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" fill="#555">{label}</text>')
    for i, (label, t) in enumerate(bars):
        y = 35 + i * row
        colour = "#999" if label.startswith(("raw", "naive")) else "#2a7ab0"
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{scale(t) - left:.1f}" height="{row - 8}" fill="{colour}"/>')
        out.append(f'<text x="{scale(t) + 4:.1f}" y="{y + 15}">{ms(t)}</text>')
    out.append("</svg>")
    pathlib.Path(path).write_text("\n".join(out) + "\n")
    print(f"plot: {path}")


if len(sys.argv) > 2:
    svg_plot(sys.argv[2])
