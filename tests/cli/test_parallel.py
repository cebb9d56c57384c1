#!/usr/bin/env python3
"""`parallel ... end` as a user meets it: what is refused while parsing (exit 2, nothing run),
the output of a block in the order of its lines, the first failure deciding the status, the
trace of each CPU in whole tagged lines, and a block typed line by line in the REPL.

usage: test_parallel.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness as h  # noqa: E402
from cli_harness import case, check, run, scenario  # noqa: E402

h.init(sys.argv)

TWO = """machine memory=64M cpus=2
spawn a
spawn b
mmap a 0x10000000 1M rw
mmap b 0x10000000 1M rw
"""

REFUSED = [
    # (the lines inside the block after a first good one, the word the error points at, the
    # words of the message)
    ("  show cr3 a", "show", "'show cr3' cannot stand inside a parallel block"),
    ("  checkpoint x", "checkpoint", "'checkpoint' cannot stand inside a parallel block"),
    ("  expect rss a == 0", "expect", "'expect rss' cannot stand inside a parallel block"),
    ("  expect read a 0x10000000 == 0 cpu=1", "==", "a value expectation cannot stand inside"),
    ("  expect kread a 0x10000000 == 0 cpu=1", "==", "a value expectation cannot stand inside"),
    ("  parallel", "parallel", "parallel blocks do not nest"),
    ("  read a 0x10000000", "read", "every command names its CPU: add cpu=N"),
    ("  read a 0x10000000 cpu=0", "0", "cpu=0 already runs a command of this block"),

    ("  read a 0x10000000 cpu=2", "2", "this machine has 2 cpus"),
]


@case("parse: what a block refuses is FILE:LINE:COL, exit 2, nothing run")
def _():
    for lines, word, words in REFUSED:
        text = TWO + "read a 0x10000000\nparallel\n  write a 0x10000000 1 cpu=0\n" + lines + "\nend\n"
        f = scenario(text)
        rc, out, err = run(["run", f])
        last = lines.split("\n")[-1]
        col = (last.rindex("cpu=") + 5) if word.isdigit() else last.index(" " + word) + 2
        bad_line = 9 + lines.count("\n")
        check(rc == 2 and out == "", (lines, rc, out, err))
        check(err.startswith(f"{f}:{bad_line}:{col}: error: ") and words in err, (lines, col, err))


@case("parse: a process the block creates is used only after end")
def _():
    f = scenario(TWO.replace("cpus=2", "cpus=3") + "parallel\n spawn c cpu=1\n read c 0x1000 cpu=2\nend\n")
    rc, out, err = run(["run", f])
    check(rc == 2 and out == "" and err.startswith(
        f"{f}:8:7: error: process 'c' is created in this parallel block: use it after `end`"), err)


@case("parse: more commands than CPUs, end without parallel, parallel without end")
def _():
    f = scenario(TWO + "parallel\n read a 0x10000000 cpu=0\n read b 0x10000000 cpu=1\n"
                 " exit a cpu=1\nend\n")
    rc, out, err = run(["run", f])
    check(rc == 2 and out == "" and f"{f}:9:2: error: a parallel block holds at most as many "
          "commands as the machine has CPUs (2)" in err, err)
    f = scenario(TWO + "end\n")
    rc, _, err = run(["run", f])
    check(rc == 2 and f"{f}:6:1: error: `end` without `parallel`" in err, err)
    f = scenario(TWO + "read a 0x10000000\nparallel\n read a 0x10000000 cpu=0\n")
    rc, out, err = run(["run", f])
    check(rc == 2 and out == "" and f"{f}:7:1: error: this parallel block has no `end`" in err,
          err)


@case("run: output after end in the order of the lines, whichever CPU finished first")
def _():
    f = scenario(TWO + "write a 0x10000000 0x11\nwrite b 0x10000000 0x22\n"
                 "parallel\n  touch b 0x10000000 1M read cpu=0\n  read a 0x10000000 cpu=1\nend\n"
                 "parallel\n  read b 0x10000000 cpu=1\n  read a 0x10000000 cpu=0\nend\n"
                 "read a 0x10000008\n")
    for _ in range(5):
        rc, out, err = run(["run", "--audit", f])
        check(rc == 0 and err == "", (rc, err))
        check(out == "a: read 0x10000000 = 0x11\nb: read 0x10000000 = 0x22\n"
              "a: read 0x10000000 = 0x11\na: read 0x10000008 = 0x0\n", out)


@case("run: the first failure in the order of the lines decides; output before it printed")
def _():
    f = scenario(TWO + "write a 0x10000000 7\n"
                 "parallel\n  read a 0x10000000 cpu=1\n  expect write b 0x20000000 1 -> ok cpu=0\nend\n"
                 "read a 0x10000000\n")
    rc, out, err = run(["run", f])
    check(rc == 1 and out == "a: read 0x10000000 = 0x7\n", (rc, out))
    check(err == f"{f}:9: expectation failed: write b 0x20000000 1 -> ok cpu=0: "
          "expected ok, got segv\n", err)
    # two failures: only the first line's is reported
    f = scenario(TWO + "parallel\n  expect read b 0x30000000 -> ok cpu=1\n"
                 "  expect write a 0x30000000 1 -> oom cpu=0\nend\n")
    rc, out, err = run(["run", f])
    check(rc == 1 and err.count("expectation failed") == 1 and f"{f}:7:" in err, err)


@case("run: an access of a process that a block's exit ends is ok or killed, nothing else")
def _():
    f = scenario(TWO + "parallel\n  touch a 0x10000000 1M write cpu=0\n  exit a cpu=1\nend\n"
                 "expect alive a == 0\nexpect read a 0x10000000 -> killed\n")
    for _ in range(10):
        rc, out, err = run(["run", "--audit", f])
        check(rc == 0 and err == "", (rc, err))
        check(out == "" or re.fullmatch(r"a: touch 0x[0-9a-f]+ -> killed\n", out), out)


@case("trace: each CPU's lines whole and tagged with it; the rest untagged")
def _():
    f = scenario(TWO + "parallel\n  touch a 0x10000000 64K write cpu=0\n"
                 "  touch b 0x10000000 64K write cpu=1\nend\nread a 0x10000000\n")
    rc, out, err = run(["run", "--trace", f])
    check(rc == 0, (rc, err))
    tagged = [l for l in out.splitlines() if l.startswith("[cpu")]
    check(any(l.startswith("[cpu0] ") for l in tagged) and
          any(l.startswith("[cpu1] ") for l in tagged), "both CPUs narrate")
    # a line cut by another CPU's would show a second tag or lose its own
    check(all(l.count("[cpu") == 1 for l in tagged), [l for l in tagged if l.count("[cpu") != 1])
    walks = [l for l in tagged if " walk 0x" in l]
    check(all(re.match(r"\[cpu(\d)\]   walk 0x[0-9a-f]{16} write by user \(CPL 3\) on cpu\1,", l)
              for l in walks) and len(walks) >= 32, walks[:3])
    check("\na: read 0x10000000 = 0x746f756368\n" in out, "the read after the block")


@case("repl: a block typed line by line runs at its end; a bad line inside is refused alone")
def _():
    rc, out, err = run(["repl"], stdin=TWO + "parallel\n write a 0x10000000 7 cpu=0\n"
                       " show cr3 a\n write b 0x10000000 8 cpu=1\nend\n"
                       "read a 0x10000000\nread b 0x10000000\nparallel\n")
    check(rc == 0, rc)
    check(out == "a: read 0x10000000 = 0x7\nb: read 0x10000000 = 0x8\n", out)
    check(err.startswith("repl:8:2: error: 'show cr3' cannot stand inside a parallel block") and
          "repl:13:1: error: this parallel block has no `end`" in err, err)


@case("help parallel")
def _():
    rc, out, _ = run(["help", "parallel"])
    check(rc == 0 and "parallel ... end" in out and "cpu=" in out, out)


h.finish()
