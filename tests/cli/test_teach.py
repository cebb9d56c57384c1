#!/usr/bin/env python3
"""The teaching tools as a class meets them: tracing kinds, quiz keys and JSON, readable output.

usage: test_teach.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness as h  # noqa: E402
from cli_harness import case, check, run, scenario  # noqa: E402

h.init(sys.argv)
ROOT = h.ROOT

# ---- tracing ----

LESSON07 = os.path.join("scenarios", "teaching", "07-demand-paging.scn")


@case("--trace starts at the first scenario line; --trace=boot adds the boot")
def _():
    rc, out, err = run(["run", LESSON07, "--trace"], cwd=ROOT)
    check(rc == 0, err)
    first = out.splitlines()[0]
    check("kernel: memory ready" not in out and "boot:" not in out and "frame: init" not in out,
          "boot narration in --trace")
    check(first.startswith("  ") and "kernel space" not in first, first)
    rc, boot, err = run(["run", LESSON07, "--trace=boot"], cwd=ROOT)
    check(rc == 0 and "kernel: memory ready" in boot and "frame: init" in boot, boot[:400])
    check("walk 0x" not in boot and "fault:" not in boot, "--trace=boot narrates past the boot")
    rc, both, err = run(["run", LESSON07, "--trace=all"], cwd=ROOT)
    check(both.startswith(boot.split("\n  walk")[0][:200]) and "walk 0x" in both, both[:300])


@case("--trace=KINDS picks kinds; an unknown kind is an error, exit 2")
def _():
    rc, walk, err = run(["run", LESSON07, "--trace=walk"], cwd=ROOT)
    check(rc == 0 and "walk 0x" in walk and "  fault:" not in walk and "  frame:" not in walk, walk[:500])
    rc, fault, err = run(["run", LESSON07, "--trace=fault"], cwd=ROOT)
    check(rc == 0 and "  fault: " in fault and "walk 0x" not in fault, fault[:500])
    rc, fr, err = run(["run", LESSON07, "--trace=frame,tlb"], cwd=ROOT)
    check(rc == 0 and "  frame: alloc" in fr, fr[:300])
    for other in ("walk 0x", "  fault:", "  mm:", "  kheap:", "  mmap:"):
        check(other not in fr, (other, "in --trace=frame,tlb"))
    rc, out, err = run(["run", LESSON07, "--trace=walk,bogus"], cwd=ROOT)
    check(rc == 2 and out == "" and "unknown kind 'bogus'" in err and "walk, fault" in err, (rc, err))
    rc, out, err = run(["repl", "--trace=nope"], stdin="")
    check(rc == 2 and "unknown kind 'nope'" in err, err)


@case("trace on|off KINDS inside a scenario narrates just that part")
def _():
    text = ("machine memory=16M\nspawn a\nmmap a 0x400000 16K rw\nwrite a 0x400000 1\n"
            "trace on fault\nwrite a 0x401000 2\ntrace off\nwrite a 0x402000 3\n"
            "trace on\nread a 0x400000\ntrace off walk\nread a 0x403000\n")
    rc, out, err = run(["run", "-"], stdin=text)
    check(rc == 0, err)
    faults = re.findall(r"fault: a (0x[0-9a-f]+)", out)
    check(faults == ["0x401000", "0x403000"], out)
    walks = re.findall(r"walk (0x[0-9a-f]+)", out)
    check(walks and all(int(w, 16) == 0x400000 for w in walks), walks)
    rc, out, err = run(["check", scenario("machine memory=16M\ntrace on walk,frob\n")])
    check(rc == 2 and ":2:15: error: unknown trace kind 'frob'" in err, err)
    rc, out, err = run(["check", scenario("machine memory=16M\ntrace maybe\n")])
    check(rc == 2 and "error:" in err, err)


h.finish()
