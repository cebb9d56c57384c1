#!/usr/bin/env python3
"""The mmsim command line as a user meets it: exit statuses, messages, golden outputs.

usage: test_cli.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
Set MMSIM_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate output change.
"""
import os
import subprocess
import sys
import tempfile

MMSIM, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
GOLDEN = os.path.join(ROOT, "tests", "golden")
results = []


def run(args, stdin=None, cwd=None):
    p = subprocess.run([MMSIM] + args, input=stdin, capture_output=True, text=True,
                       cwd=cwd, timeout=120)
    return p.returncode, p.stdout, p.stderr


def scenario(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".scn", delete=False)
    f.write(text)
    f.close()
    return f.name


def case(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
        except AssertionError as e:
            results.append((name, str(e) or "assertion failed"))
        except Exception as e:  # a crash of the test itself is a failure, not an abort
            results.append((name, f"{type(e).__name__}: {e}"))
        return fn
    return wrap


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


TABLES = """machine kernel=off memory=1M
poke 0x1000 0x2007
poke 0x2000 0x3007
poke 0x3000 0x4007
poke 0x4000 0x5007
cpu cr3=0x1000
"""


@case("no arguments: usage, exit 2")
def _():
    rc, out, err = run([])
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
    rc, out, err = run(["run", "--audit", "-"], stdin="machine memory=64M\nexpect free_frames == 15292\nexpect total_frames < 15292\n")
    check(rc == 1 and out == "" and err == "-:3: expectation failed: total_frames < 15292: expected total_frames < 15292, got 15616\n", (rc, out, err))


@case("a machine the kernel cannot boot on is a clear run-time error")
def _():
    rc, out, err = run(["run", "-"], stdin="machine memory=8M map=none\nbootmem 0 1M free\naudit\n")
    check(rc == 2 and "-:3:1: error: the kernel cannot boot on this machine: the boot memory map has no free memory above 1 MiB" in err, (rc, err))


def golden(name, args):
    rc, out, err = run(args, cwd=ROOT)
    path = os.path.join(GOLDEN, name)
    if os.environ.get("MMSIM_UPDATE_GOLDEN"):
        with open(path, "w") as f:
            f.write(out)
    want = open(path).read()
    check(rc == 0 and err == "", (rc, err))
    check(out == want, f"output differs from {path} (MMSIM_UPDATE_GOLDEN=1 rewrites it)")


@case("golden: the tour narrated with --trace")
def _():
    golden("tour.trace", ["run", "scenarios/tour.scn", "--trace"])


@case("golden: the frame views")
def _():
    golden("frames.out", ["run", "tests/golden/frames.scn"])


@case("golden: show tlb and show cpu")
def _():
    golden("two-cpus.out", ["run", "scenarios/hw/15-two-cpus.scn"])
    golden("tlb-stale.out", ["run", "scenarios/hw/10-tlb-stale.scn"])


failed = [(n, m) for n, m in results if m]
for n, m in failed:
    print(f"FAIL: {n}: {m}")
total = len(results)
print(f"{100 * (total - len(failed)) // total}%: Checks: {total}, Failures: {len(failed)}, Errors: 0")
sys.exit(1 if failed else 0)
