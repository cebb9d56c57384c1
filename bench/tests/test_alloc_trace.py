#!/usr/bin/env python3
"""mmsim run --alloc-trace: exact events for a small scenario, the same output as without the
flag, the trace accepted by allocbench --replay; usage errors; the shipped traces are valid."""
import os
import subprocess
import sys
import tempfile

MMSIM, ALLOCBENCH, ROOT = sys.argv[1:4]
failures = []

SCENARIO = """machine memory=16M
spawn p
mmap p 0x400000 64K rw
touch p 0x400000 64K write
munmap p 0x400000 32K
mmap p 0x800000 16K rw shared
touch p 0x800000 16K write cpu=1
exit p
"""


def check(cond, what):
    if not cond:
        failures.append(what)


def events(path):
    out = []
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                out.append(line.split())
    return out


with tempfile.TemporaryDirectory() as d:
    scn = os.path.join(d, "s.scn")
    with open(scn, "w") as f:
        f.write(SCENARIO.replace("machine memory=16M", "machine memory=16M cpus=2"))
    tr = os.path.join(d, "s.trace")
    plain = subprocess.run([MMSIM, "run", scn], capture_output=True, text=True)
    p = subprocess.run([MMSIM, "run", scn, "--alloc-trace", tr], capture_output=True, text=True)
    check(p.returncode == 0, f"run: {p.returncode} {p.stderr}")
    check(p.stdout == plain.stdout, "the trace changes the run's output")
    ev = events(tr)
    allocs = [e for e in ev if e[0] == "a"]
    frees = [e for e in ev if e[0] == "f"]
    user = [e for e in allocs if e[4] == "user"]
    # 16 + 4 pages written, and the zero frame the kernel maps for reads
    check(len(user) == 21, f"user allocations: {len(user)}")
    check(all(e[1] == "0" for e in allocs), "all order 0")
    check(sum(1 for e in user if e[2] == "1") == 4, "the 4 shared pages were faulted on cpu 1")
    check({e[4] for e in allocs} <= {"user", "pagetable", "heap", "kernel", "metadata", "other"},
          f"purposes {sorted({e[4] for e in allocs})}")
    check(any(e[4] == "pagetable" for e in allocs) and any(e[4] == "heap" for e in allocs),
          "page tables and heap blocks are named")
    # every page of the process is freed (munmap and exit), each exactly once
    live = {}
    for e in ev:
        fr = int(e[3], 16)
        if e[0] == "a":
            check(fr not in live, f"{fr:#x} allocated twice")
            live[fr] = e[4]
        elif e[0] == "f":
            check(fr in live, f"free of {fr:#x} not allocated")
            live.pop(fr, None)
    check(not [f for f, what in live.items() if what == "user" and f != int(user[0][3], 16)],
          f"user pages left: {len(live)} frames")
    check(len(frees) >= 20, f"frees: {len(frees)}")
    p = subprocess.run([ALLOCBENCH, "--arena", "64M", "--replay", tr, "--verify-only"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and "replay:s" in p.stdout, f"replay: {p.returncode} {p.stdout} {p.stderr}")

    # usage errors: exit 2, nothing written
    p = subprocess.run([MMSIM, "run", scn, "--alloc-trace"], capture_output=True, text=True)
    check(p.returncode == 2 and "--alloc-trace needs a file name" in p.stderr, p.stderr)
    p = subprocess.run([MMSIM, "run", scn, "--alloc-trace", os.path.join(d, "no/such/dir/t")],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "cannot write" in p.stderr, p.stderr)

# the shipped traces load and replay correctly on every allocator
traces = [os.path.join(ROOT, "bench", "traces", t)
          for t in ("fork-storm.trace", "oom.trace", "mixed-teaching.trace")]
args = [ALLOCBENCH, "--arena", "256M", "--verify-only"]
for t in traces:
    args += ["--replay", t]
p = subprocess.run(args, capture_output=True, text=True)
check(p.returncode == 0 and "failed" not in p.stdout, f"shipped traces: {p.stdout} {p.stderr}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("alloc trace: all checks passed")
