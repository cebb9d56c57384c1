#!/usr/bin/env python3
"""allocbench's outputs: the table, CSV columns, JSON, the SVG parses as XML, usage errors."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

BIN = sys.argv[1]
QUICK = ["--arena", "16M", "--runs", "1", "--ops", "20000"]
COLUMNS = ("arena_bytes,threads,workload,allocator,status,ns_per_op,ratio_to_floor,floor,"
           "mops_per_s,instructions_per_op,ops,failed_allocs,runs,note").split(",")
WORKLOADS = ["pair", "pair-frag", "fill", "free-random", "uniform", "geometric"]
ALLOCATORS = ["mmsim", "textbook", "stacks", "lifo"]
failures = []


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    if p.returncode != code:
        failures.append(f"{args}: exit {p.returncode}, expected {code}\n{p.stderr}")
    return p


def check(cond, what):
    if not cond:
        failures.append(what)


# CSV: the header, one row per workload and allocator, numbers where measured
p = run(*QUICK, "--csv")
rows = list(csv.DictReader(io.StringIO(p.stdout)))
check(p.stdout.splitlines()[0].split(",") == COLUMNS, f"CSV header: {p.stdout.splitlines()[:1]}")
check(len(rows) == len(WORKLOADS) * len(ALLOCATORS), f"CSV rows: {len(rows)}")
for r in rows:
    check(set(r) == set(COLUMNS), f"CSV row keys {sorted(r)}")
    check(r["arena_bytes"] == str(16 << 20) and r["threads"] == "1", f"CSV row {r}")
    if r["allocator"] == "lifo" and r["workload"] in ("uniform", "geometric"):
        check(r["status"] == "skipped" and r["ns_per_op"] == "", f"lifo mixed: {r}")
        continue
    check(r["status"] == "ok", f"status: {r}")
    check(float(r["ns_per_op"]) > 0 and float(r["mops_per_s"]) > 0, f"figures: {r}")
    check(r["floor"] == ("lifo" if r["workload"] in WORKLOADS[:4] else "stacks"), f"floor: {r}")
    if r["allocator"] == r["floor"]:
        check(abs(float(r["ratio_to_floor"]) - 1) < 1e-9, f"floor ratio: {r}")
check([r["allocator"] for r in rows[:4]] == ALLOCATORS, "mmsim first, then textbook, floors")

# JSON: the same rows
p = run(*QUICK, "--json", "--workload", "pair,uniform")
doc = json.loads(p.stdout)
check([(r["workload"], r["allocator"]) for r in doc["results"]]
      == [(w, a) for w in ("pair", "uniform") for a in ALLOCATORS], f"JSON rows {doc}")
check(doc["results"][0]["ns_per_op"] > 0, "JSON figure")
check(doc["results"][-1]["status"] == "skipped" and doc["results"][-1]["ns_per_op"] is None,
      "JSON skipped row")

# table and SVG
with tempfile.TemporaryDirectory() as d:
    svg = os.path.join(d, "chart.svg")
    p = run(*QUICK, "--workload", "pair,geometric", "--threads", "2", "--svg", svg)
    check("16 MiB arena (4096 frames), 2 threads" in p.stdout, f"table header:\n{p.stdout}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("pair ")]
    check(len(lines) == 2 and lines[0].split()[1] == "mmsim", f"table rows:\n{p.stdout}")
    root = ET.parse(svg).getroot()
    check(root.tag == "{http://www.w3.org/2000/svg}svg", f"SVG root {root.tag}")
    bars = root.findall(".//{http://www.w3.org/2000/svg}rect/{http://www.w3.org/2000/svg}title")
    # 2 workloads x 2 thread counts: 4 allocators on pair, 3 on geometric
    check(len(bars) == 14, f"SVG bars: {len(bars)}")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    check("geometric" in texts and "mmsim" in texts, f"SVG labels {texts}")

    # a trace replay, and an invalid one
    tr = os.path.join(d, "t.trace")
    with open(tr, "w") as f:
        f.write("# test\na 0 0 0x100 user\na 3 0 0x108 pagetable\nf 0 0 0x100\n")
    p = run(*QUICK, "--replay", tr, "--csv")
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    check([r["workload"] for r in rows] == ["replay:t"] * 4, f"replay rows {rows}")
    # a short trace is replayed again until --ops/4 operations are done
    check(int(rows[0]["ops"]) % 3 == 0 and int(rows[0]["ops"]) >= 5000, f"replay ops {rows[0]}")
    with open(tr, "w") as f:
        f.write("a 0 0 0x100 user\nf 0 0 0x100\nf 0 0 0x100\n")
    p = run("--replay", tr, code=2)
    check(f"{tr}:3: error: free of 0x100 order 0, which is not allocated" in p.stderr, p.stderr)

# instructions per operation under callgrind, where valgrind is installed
if shutil.which("valgrind") and sys.argv[2:] == ["valgrind-ok"]:
    p = run("--arena", "16M", "--runs", "1", "--ops", "20000", "--alloc", "lifo", "--workload",
            "pair", "--instructions", "--csv")
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    check(len(rows) == 1 and 10 < float(rows[0]["instructions_per_op"] or 0) < 100,
          f"instructions: {rows}")

# usage
p = run("--help")
check(p.stdout.startswith("usage: allocbench"), "help text")
for bad in (["--bogus"], ["--arena", "12Q"], ["--arena", "128G"], ["--alloc", "nosuch"],
            ["--threads", "0"], ["--runs"], ["--csv", "--json"]):
    p = run(*bad, code=2)
    check("usage: allocbench" in p.stderr, f"{bad}: {p.stderr}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("allocbench output: all checks passed")
