#!/usr/bin/env python3
"""The mmsim command line as a user meets it: exit statuses, messages, golden outputs.

usage: test_cli.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
Set MMSIM_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate output change.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness as h  # noqa: E402
from cli_harness import case, check, golden, run, scenario  # noqa: E402

h.init(sys.argv)
MMSIM, ROOT, GOLDEN = h.MMSIM, h.ROOT, h.GOLDEN


TABLES = """machine kernel=off memory=1M
poke 0x1000 0x2007
poke 0x2000 0x3007
poke 0x3000 0x4007
poke 0x4000 0x5007
cpu cr3=0x1000
"""


@case("no arguments: usage, exit 2")
def _():
    rc, out, err = run([], stdin="")  # not a terminal: no REPL
    check(rc == 2 and "usage: mmsim run FILE" in err and out == "", (rc, out, err))


@case("--version")
def _():
    rc, out, err = run(["--version"])
    check(rc == 0 and out.startswith("mmsim ") and err == "", (rc, out, err))


@case("help lists every bare-processor command")
def _():
    rc, out, _ = run(["help"])
    check(rc == 0, rc)
    for c in ["machine", "poke", "peek", "cpu", "access", "expect access", "expect peek",
              "expect cr2", "flush", "invlpg", "dump phys"]:
        check("  " + c + " " in out or "  " + c + "\n" in out, c)


@case("help TOPIC narrows to the commands starting with it")
def _():
    rc, out, _ = run(["help", "expect"])
    check(rc == 0 and "expect access" in out and "poke" not in out, out)


@case("unknown subcommand and option: exit 2")
def _():
    rc, _, err = run(["frob"])
    check(rc == 2 and "unknown command 'frob'" in err, err)
    rc, _, err = run(["run", "--frob", "x.scn"])
    check(rc == 2 and "unknown option '--frob'" in err, err)
    rc, _, err = run(["run"])
    check(rc == 2 and "missing FILE" in err, err)
    rc, _, err = run(["run", "a.scn", "b.scn"])
    check(rc == 2 and "one scenario file at a time" in err, err)


@case("missing file, directory, binary file: exit 2 with a message")
def _():
    rc, _, err = run(["run", "/nonexistent/x.scn"])
    check(rc == 2 and "cannot open /nonexistent/x.scn" in err, err)
    rc, _, err = run(["run", "/"])
    check(rc == 2 and "cannot read /" in err, err)
    rc, _, err = run(["run", MMSIM])
    check(rc == 2 and ": error: " in err and "Traceback" not in err, err)


@case("a parse error stops everything before it runs")
def _():
    f = scenario(TABLES + "peek 0x1000\nfrob\n")
    rc, out, err = run(["run", f])
    check(rc == 2 and out == "" and err == f"{f}:8:1: error: unknown command 'frob' (see `mmsim help`)\n",
          (rc, out, err))


@case("a failed expectation: exit 1, FILE:LINE message, later lines not run")
def _():
    f = scenario(TABLES + "expect access 0x0 read user -> pa 0x6000\npeek 0\n")
    rc, out, err = run(["run", f])
    check(rc == 1 and out == "", (rc, out))
    check(err == f"{f}:7: expectation failed: access 0x0 read user -> pa 0x6000: expected pa 0x6000, got pa 0x5000\n", err)


@case("a walk that leaves physical memory is a clear error")
def _():
    f = scenario("machine kernel=off memory=1M\npoke 0x1000 0x3000_0000_0007\ncpu cr3=0x1000\naccess 0x0 read user\n")
    rc, out, err = run(["run", f])
    check(rc == 2 and "needs an entry at physical 0x300000000000, outside physical memory" in err, (rc, out, err))


@case("standard input as the scenario, and check")
def _():
    rc, out, _ = run(["run", "-"], stdin=TABLES + "access 0x10 write user\n")
    check(rc == 0 and out == "access 0x10 -> pa 0x5010\n", (rc, out))
    f = scenario(TABLES)
    rc, out, err = run(["check", f])
    check(rc == 0 and out == "" and err == "", (rc, out, err))


@case("dump phys writes physical memory byte for byte")
def _():
    d = tempfile.mkdtemp()
    rc, _, err = run(["run", "-"], stdin="machine kernel=off memory=1M\npoke 0x10 0x1122334455667788\ndump phys out.bin\n", cwd=d)
    check(rc == 0, err)
    data = open(os.path.join(d, "out.bin"), "rb").read()
    check(len(data) == 1 << 20, len(data))
    check(data[0x10:0x18] == bytes.fromhex("8877665544332211"), data[0x10:0x18])
    check(data[:0x10] == bytes(16) and data[0x18:0x1000] == bytes(0x1000 - 0x18), "zeros")


@case("two CPUs keep separate CR3 and TLB")
def _():
    rc, out, err = run(["run", "-"], stdin="machine kernel=off memory=1M cpus=2\ncpu cr3=0x1000 cpu=1\ncpu cpu=0\ncpu\n")
    check(rc == 0 and out.splitlines()[0].startswith("cpu0: cr3=0x0 ") and out.splitlines()[1].startswith("cpu0: cr3=0x0 "), out)


@case("--audit and the kernel's counters on a booted machine")
def _():
    rc, out, err = run(["run", "--audit", "-"], stdin="machine memory=64M\nexpect free_frames == 15323\nexpect total_frames < 15323\n")
    check(rc == 1 and out == "" and err == "-:3: expectation failed: total_frames < 15323: expected total_frames < 15323, got 15616\n", (rc, out, err))


@case("a machine the kernel cannot boot on is a clear run-time error")
def _():
    rc, out, err = run(["run", "-"], stdin="machine memory=8M map=none\nbootmem 0 1M free\naudit\n")
    check(rc == 2 and "-:3:1: error: the kernel cannot boot on this machine: the boot memory map has no free memory above 1 MiB" in err, (rc, err))


@case("golden: the tour narrated with --trace")
def _():
    golden("tour.trace", ["run", "scenarios/tour.scn", "--trace"])


@case("golden: the frame views")
def _():
    golden("frames.out", ["run", "tests/golden/frames.scn"])


@case("golden: explain, show pagetables (tree and xv6), show mappings")
def _():
    golden("explain.out", ["run", "tests/golden/explain.scn"])
    golden("teaching-09.out", ["run", "scenarios/teaching/09-cow-fork-refcounts.scn"])
    golden("teaching-11.out", ["run", "scenarios/teaching/11-mprotect-segv.scn"])
    golden("teaching-04.out", ["run", "scenarios/teaching/04-boot-memory-map.scn"])


@case("explain: the kernel's intent matches what the access then does, and nothing changes")
def _():
    import re
    base = ("machine memory=32M\nspawn a\nmmap a 0x400000 16K rw\nwrite a 0x400000 1\n"
            "read a 0x401000\nfork a b\nmprotect a 0x403000 4K r\n")
    cases = [("a 0x400000 write", "copy-on-write copy", "ok"),
             ("a 0x401000 read", "not involved", "ok"),
             ("a 0x401000 write", "copy-on-write of the zero frame", "ok"),
             ("a 0x402000 write", "demand-zero", "ok"),
             ("a 0x402000 read", "zero frame:", "ok"),
             ("a 0x403000 write", "segv: protection", "segv"),
             ("a 0x404000 read", "segv: no grant", "segv"),
             ("a 0x8000_0000_0000 read", "#GP", "segv")]
    for what, intent, result in cases:
        rc, out, err = run(["run", "-"], stdin=base + f"checkpoint x\nexplain {what}\nexplain {what}\nexpect free_frames == x\n")
        check(rc == 0 and err == "", (what, rc, err))
        rest = out[out.index("a: explain"):]
        head = rest.splitlines()[0] + "\n"
        first, second = rest.split(head)[1:3]
        check(first == second, (what, "explain changed something"))
        check(intent in first and re.search(r"^  -> " + result, first, re.M), (what, first))
        kind = what.split()[2]
        access = {"read": "read", "write": "write 0 0", "fetch": "exec"}[kind]
        a, va = what.split()[:2]
        access_line = f"expect {access.split()[0]} {a} {va} {'0 ' if kind == 'write' else ''}-> {result}\n"
        rc, out, err = run(["run", "-"], stdin=base + access_line)
        check(rc == 0, (what, access_line, err))
    # a later intent for the CoW reuse: after b copies, a is the last owner
    rc, out, err = run(["run", "-"], stdin=base + "write b 0x400000 2\nexplain a 0x400000 write\n")
    check(rc == 0 and "copy-on-write reuse" in out, out)
    rc, out, err = run(["run", "-"], stdin=base + "explain a 0x400000 frob\n")
    check(rc == 2 and "expected read|write|fetch|exec, not 'frob'" in err, err)


@case("show dot A B: two processes after fork, the shared frames drawn once")
def _():
    import re, shutil
    d = tempfile.mkdtemp()
    scn = ("machine memory=32M\nspawn a\nmmap a 0x400000 16K rw\ntouch a 0x400000 8K write\n"
           "fork a b\nwrite b 0x401000 3\nshow dot f.dot a b svg=0\nshow dot g.dot a svg=0\n")
    rc, out, err = run(["run", "-"], stdin=scn, cwd=d)
    check(rc == 0 and "show dot: 8 tables written to f.dot" in out, (rc, out, err))
    g = open(os.path.join(d, "f.dot")).read()
    check("subgraph cluster_0" in g and "subgraph cluster_1" in g and 'label="process b"' in g, g[:400])
    shared = re.findall(r"-> (p1_[0-9a-f]+);", g)
    check(len(shared) == 4 and len(set(shared)) == 3, shared)
    check(g.count("copy-on-write, 2 refs") == 1 and g.count("private, 1 ref") == 2, g)
    check("(user half: entries 0..255)" in g and "e256" not in g, "kernel half drawn")
    one = open(os.path.join(d, "g.dot")).read()
    check("process a" in one and "process b" not in one, one[:300])
    rc, _, err = run(["run", "-"], stdin="machine memory=32M\nspawn a\nshow dot f.dot\n")
    check(rc == 2 and "name the process" in err, err)
    rc, _, err = run(["run", "-"], stdin="machine kernel=off\nshow dot f.dot a\n")
    check(rc == 2 and "processes exist only with the kernel" in err, err)
    if shutil.which("dot"):
        rc, out, err = run(["run", "-"], stdin=scn.replace("f.dot a b svg=0", "f.dot a b"), cwd=d)
        check(rc == 0 and "drawn as f.svg" in out, out)


@case("show framemap: one square per frame, the legend counts them all")
def _():
    import re
    import xml.etree.ElementTree as ET
    d = tempfile.mkdtemp()
    scn = ("machine memory=8M\nspawn a\nmmap a 0x400000 16K rw\nmmap a 0x600000 4K rw shared populate\n"
           "touch a 0x400000 8K write\nread a 0x402000\nfork a b\nwrite b 0x400000 1\n"
           "show framemap fm.svg\n")
    rc, out, err = run(["run", "-"], stdin=scn, cwd=d)
    check(rc == 0 and err == "", (rc, err))
    check("show framemap: 2048 frames drawn to fm.svg:" in out, out)
    for word, n in [("copy-on-write", 1), ("shared", 1), ("zero frame", 1), ("private", 2), ("reserve", 8)]:
        check(re.search(r"[:,] %s %d(,|$)" % (word, n), out.strip()), (word, out))
    root = ET.parse(os.path.join(d, "fm.svg")).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    cells = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
    check(len(cells) == 2048, len(cells))
    counts = [int(m) for m in re.findall(r">(\d+) frames<", open(os.path.join(d, "fm.svg")).read())]
    check(sum(counts) == 2048 and 0 not in counts, counts)


@case("golden: show tlb and show cpu")
def _():
    golden("two-cpus.out", ["run", "scenarios/hw/15-two-cpus.scn"])
    golden("tlb-stale.out", ["run", "scenarios/hw/10-tlb-stale.scn"])


# ---- the REPL ----

@case("repl: results at once, errors printed and the session goes on, quit ends it")
def _():
    rc, out, err = run(["repl"], stdin=TABLES + "frob 1\naccess 0x10 write user\n"
                       "expect access 0x10 read user -> pa 0x1\npeek 0x4000\n"
                       "poke 0x4008 \\\n  0x6007\naccess 0x1000 read user\n"
                       "machine memory=2M\nquit\npeek 0\n")
    check(rc == 0, rc)
    check(out == "access 0x10 -> pa 0x5010\npeek 0x4000 = 0x5067\naccess 0x1000 -> pa 0x6000\n", out)
    check(err == "repl:7:1: error: unknown command 'frob' (see `mmsim help`)\n"
          "repl:9: expectation failed: access 0x10 read user -> pa 0x1: expected pa 0x1, got pa 0x5010\n"
          "repl:14:1: error: a second machine line\n", err)


@case("repl: a rejected machine line leaves no trace; a later one is accepted")
def _():
    rc, out, err = run(["repl"], stdin="machine kernel=off memory=3\nmachine kernel=off memory=1M\npoke 0 5 size=1\npeek 0 size=1\n")
    check(rc == 0 and out == "peek 0x0 = 0x5\n" and err.count("error:") == 1 and "repl:1:" in err, (out, err))


@case("repl: without a machine line the defaults apply (256M, kernel on)")
def _():
    rc, out, err = run(["repl"], stdin="expect total_frames > 60000\npoke 0 1\ncheckpoint a\nexpect free_frames == a\n")
    check(rc == 0 and "repl:2:1: error: 'poke' drives the bare processor" in err and err.count("error") == 1, (out, err))


@case("repl: help and help COMMAND inside, end of input ends it")
def _():
    rc, out, err = run(["repl"], stdin="help\nhelp expect access\n")
    check(rc == 0 and err == "", err)
    check("  quit\n" in out and "  show dot FILE" in out and "  invlpg VADDR" in out, out)
    check(out.count("expect access VADDR") == 2, out)


# ---- quizzes ----

def quiz_golden(kind, seed):
    name = f"quiz-{kind}-{seed}.out"
    golden(name, ["quiz", kind, "--seed", str(seed), "-c"])
    rc, problem, err = run(["quiz", kind, "--seed", str(seed)])
    rc2, solved, _ = run(["quiz", kind, "--seed", str(seed), "-c"])
    check(rc == 0 and err == "", (rc, err))
    # the problem is the solved text without the answers
    head = problem[:problem.index("-> ?")]
    head = head[:head.rindex("\n\n")]
    check(len(head) > 200 and solved.startswith(head), "the problem and the solved problem differ before the questions")
    return problem, solved


@case("quiz translate: golden seeds 1..3, and every answer re-checked by `mmsim run`")
def _():
    import re
    for seed in (1, 2, 3):
        problem, solved = quiz_golden("translate", seed)
        check("-> ?" in problem and "-> ?" not in solved, seed)
        # rebuild the machine from the printed dump alone and let the processor answer again
        lines = ["machine kernel=off memory=1M"]
        for addr, val in re.findall(r"^  (0x[0-9a-f]+)  (0x[0-9a-f]{16})$", problem, re.M):
            lines.append(f"poke {addr} {val}")
        lines.append("cpu cr3=" + re.search(r"^CR3 = (0x[0-9a-f]+)$", problem, re.M).group(1))
        answers = re.findall(r"^ +\d+\. (read|write|fetch) +by (user|supervisor) +VA (0x[0-9a-f]+)  -> (pa 0x[0-9a-f]+|pf 0x[0-9a-f]+)", solved, re.M)
        check(len(answers) == 6, (seed, answers))
        kinds = set()
        for kind, mode, va, res in answers:
            lines.append(f"flush\nexpect access {va} {kind} {mode} -> {res}")
            kinds.add(res.split()[0])
        check(kinds == {"pa", "pf"}, (seed, kinds))
        rc, out, err = run(["run", "-"], stdin="\n".join(lines) + "\n")
        check(rc == 0, (seed, err))


@case("quiz translate: the same seed gives the same problem; another seed another one")
def _():
    a = run(["quiz", "translate", "--seed", "7"])[1]
    b = run(["quiz", "translate", "--seed", "7"])[1]
    c = run(["quiz", "translate", "--seed", "8"])[1]
    check(a == b and a != c, "seeding")
    rc, out, _ = run(["quiz", "translate", "--seed", "1", "-n", "16", "-c"])
    check(rc == 0 and " 16. " in out, out[-300:])


@case("quiz buddy: golden seeds 1..3; the final lists are those of the last step")
def _():
    for seed in (1, 2, 3):
        problem, solved = quiz_golden("buddy", seed)
        check("-> ?" in problem and "free lists:" in solved, seed)


@case("quiz cow: golden seeds 1..3, every answer re-checked by running the printed steps")
def _():
    import re
    for seed in (1, 2, 3):
        problem, solved = quiz_golden("cow", seed)
        steps = re.findall(r"^    (\S.*)$", solved.split("Check with")[1], re.M)
        check(steps[0] == "machine memory=32M" and any(l.startswith("fork") for l in steps), steps)
        procs = ["p", "c", "g"]
        lines = list(steps)
        for page, row in re.findall(r"^  page (\d+) \(0x[0-9a-f]+\):(.*)$", solved, re.M):
            va = hex(0x400000 + 4096 * int(page))
            cells = re.findall(r"(\w) -> (-|([A-Z]) \((?:\w+|zero frame), (\d+) refs?\))", row)
            for name, cell, letter, refs in cells:
                if cell != "-":
                    lines.append(f"expect refcount {name} {va} == {refs}")
            for (n1, c1, l1, _), (n2, c2, l2, _) in zip(cells, cells[1:]):
                if c1 != "-" and c2 != "-":
                    lines.append(f"expect {'same' if l1 == l2 else 'different'}_frame {n1} {va} {n2} {va}")
        for name, rss in re.findall(r"(\w) -> (\d+)", re.search(r"^  rss:(.*)$", solved, re.M).group(1)):
            lines.append(f"expect rss {name} == {rss}")
        free = re.search(r"free frames at the end -> (\d+)", solved).group(1)
        lines.append(f"expect free_frames == {free}")
        rc, out, err = run(["run", "--audit", "-"], stdin="\n".join(lines) + "\n")
        check(rc == 0, (seed, err))
    a, b = run(["quiz", "cow", "--seed", "9"])[1], run(["quiz", "cow", "--seed", "10"])[1]
    check(a != b and a == run(["quiz", "cow", "--seed", "9"])[1], "seeding")


@case("bad quiz arguments exit 2")
def _():
    for args, msg in ((["quiz"], "which one?"), (["quiz", "frob"], "unknown kind 'frob'"),
                      (["quiz", "translate", "--seed"], "--seed needs a number"),
                      (["quiz", "translate", "-n", "17"], "at most 16 questions"),
                      (["quiz", "cow", "-n", "3"], "-n does not apply"),
                      (["quiz", "buddy", "--frob"], "unknown option '--frob'")):
        rc, out, err = run(args)
        check(rc == 2 and msg in err, (args, rc, err))


# ---- run --json ----

def run_json(text, args=()):
    import json
    rc, out, err = run(["run", "--json", *args, "-"], stdin=text)
    return rc, json.loads(out), err


@case("run --json: one valid object with counters, CPUs, checkpoints and output")
def _():
    rc, d, err = run_json("machine memory=16M\ncheckpoint boot\nshow buddy\nexpect free_frames == boot\n")
    check(rc == 0 and d["status"] == 0 and d["result"] == "ok" and d["failed"] is None, d)
    c = d["counters"]
    check(c["free_frames"] + c["used_frames"] == c["total_frames"] == 3328, c)
    check(d["checkpoints"]["boot"] == c and d["output"][0].startswith("buddy free lists"), d)
    check(d["cpus"][0]["cpu"] == 0 and "tlb_misses" in d["cpus"][0] and d["machine"]["kernel"] is True, d)


@case("run --json: the failing line, on expectation failure and on parse error")
def _():
    rc, d, err = run_json(TABLES + "access 0 read user\nexpect access 0 read user -> pa 0x6000\npeek 0\n")
    check(rc == 1 and d["status"] == 1 and d["failed"] == {"line": 8, "statement": "expect access 0 read user -> pa 0x6000"}, d)
    check(d["output"] == ["access 0x0 -> pa 0x5000"] and d["counters"] is None, d)
    check(d["cpus"][0]["walks"] == 1 and d["cpus"][0]["tlb_hits"] == 1, d["cpus"])
    check(err == d["messages"][0] + "\n", (err, d["messages"]))
    rc, d, err = run_json("machine kernel=off\nfrob\n")
    check(rc == 2 and d["failed"] == {"line": 2, "statement": None} and d["cpus"] is None, d)


@case("run --json: the process list and the pressure governor")
def _():
    rc, d, err = run_json("machine memory=8M oom=auto\nspawn a\nspawn b\nmmap a 0x400000 3M rw\n"
                          "touch a 0x400000 3M write\nmmap b 0x400000 1M rw\ntouch b 0x400000 1M write\n")
    check(rc == 0, err)
    procs = {p["name"]: p for p in d["processes"]}
    check(procs["a"]["alive"] is False and procs["a"]["state"] == "killed" and "rss" not in procs["a"], procs)
    b = procs["b"]
    check(b["alive"] and b["rss"] == 256 and b["table_frames"] == 4 and b["faults"]["demand_zero"] == 256, b)
    p = d["pressure"]
    check(p["oom"] == "auto" and p["state"] in ("normal", "warning", "emergency") and p["reserve_frames"] > 0
          and p["available_frames"] == d["counters"]["available_frames"], p)
    rc, d, err = run_json("machine kernel=off\npoke 0 1\n")
    check(d["processes"] is None and d["pressure"] is None, d)


# ---- show dot ----

@case("show dot: tables, entries and pages of the tree from CR3, an SVG when dot exists")
def _():
    import shutil
    d = tempfile.mkdtemp()
    scn = TABLES + "poke 0x3008 0x2000e7\npoke 0x1ff8 0x7003\npoke 0x7000 0x80000_0083\npoke 0x4010 0x9006\n"
    rc, out, err = run(["run", "-"], stdin=scn + "show dot pt.dot svg=0\n", cwd=d)
    check(rc == 0 and out == "show dot: 5 tables written to pt.dot\n", (rc, out, err))
    g = open(os.path.join(d, "pt.dot")).read()
    for want in ["cr3 -> t4_1000;", "t4_1000:e0:e -> t3_2000;", "t4_1000:e511:e -> t3_7000;",
                 "t2_3000:e1:e -> p2_200000;", "t3_7000:e0:e -> p3_800000000;",
                 "t1_4000:e0:e -> p1_5000;", "2 MiB page", "1 GiB page",
                 "<b>PT table at 0x4000</b>", "0xffffff8000000000", "not present (raw 0x9006)"]:
        check(want in g, want)
    check("t1_4000:e2:" not in g, "a not-present entry has no edge")
    if shutil.which("dot"):
        rc, out, err = run(["run", "-"], stdin=scn + "show dot pt.dot\n", cwd=d)
        check(rc == 0 and "drawn as pt.svg" in out, out)
        check(open(os.path.join(d, "pt.svg")).read().lstrip().startswith("<?xml"), "svg")


@case("docs/tutorial.md: the fork and out-of-memory labs run as written")
def _():
    import re
    text = open(os.path.join(ROOT, "docs", "tutorial.md")).read()
    blocks = re.findall(r"\n\n((?:    machine .*\n)(?:    .*\n)+)", text)
    kernel = [b for b in blocks if "kernel=off" not in b]
    check(len(kernel) == 2, len(kernel))
    d = tempfile.mkdtemp()
    for b in kernel:
        scn = "\n".join(l[4:] for l in b.splitlines()) + "\n"
        rc, out, err = run(["run", "--audit", "-"], stdin=scn, cwd=d)
        check(rc == 0, (scn, err))
    check(os.path.exists(os.path.join(d, "fork.dot")), "fork.dot")


# ---- the documentation cannot drift from `mmsim help` ----

@case("docs/language.md documents every command `mmsim help` lists, and nothing more")
def _():
    import re
    _, out, _ = run(["help"])
    synopses = [l.strip() for l in out.split("The scenario language")[1].splitlines()
                if l.startswith("  ") and not l.startswith("      ")]
    doc = open(os.path.join(ROOT, "docs", "language.md")).read()
    documented = re.findall(r"^    (\S.*)$", doc.split("<!-- commands -->")[1].split("<!-- /commands -->")[0], re.M)
    check(sorted(documented) == sorted(synopses), set(documented) ^ set(synopses))


@case("docs/mmsim.1 renders and names every subcommand")
def _():
    import shutil
    page = os.path.join(ROOT, "docs", "mmsim.1")
    text = open(page).read()
    for w in ["mmsim run", "mmsim check", "mmsim repl", "mmsim quiz", "mmsim help", "\\-\\-json", "EXIT STATUS"]:
        check(w in text, w)
    if shutil.which("man"):
        p = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                           env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
        check(p.returncode == 0 and "SYNOPSIS" in p.stdout and "warning" not in p.stderr, p.stderr)


h.finish()
