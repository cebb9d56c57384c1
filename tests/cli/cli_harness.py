"""What the Python CLI tests share: run mmsim, collect named cases, print a Check-style line.

A test file calls init(sys.argv) first, defines its cases with @case, and ends with finish().
"""
import os
import subprocess
import sys
import tempfile

MMSIM = ROOT = GOLDEN = None
results = []


def init(argv):
    global MMSIM, ROOT, GOLDEN
    MMSIM, ROOT = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    GOLDEN = os.path.join(ROOT, "tests", "golden")


def run(args, stdin=None, cwd=None, env=None):
    p = subprocess.run([MMSIM] + args, input=stdin, capture_output=True, text=True,
                       cwd=cwd, timeout=120, env=env)
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


def golden(name, args):
    """Compares stdout with tests/golden/NAME (MMSIM_UPDATE_GOLDEN=1 rewrites it)."""
    rc, out, err = run(args, cwd=ROOT)
    path = os.path.join(GOLDEN, name)
    if os.environ.get("MMSIM_UPDATE_GOLDEN"):
        with open(path, "w") as f:
            f.write(out)
    want = open(path).read()
    check(rc == 0 and err == "", (rc, err))
    check(out == want, f"output differs from {path} (MMSIM_UPDATE_GOLDEN=1 rewrites it)")


def finish():
    failed = [(n, m) for n, m in results if m]
    for n, m in failed:
        print(f"FAIL: {n}: {m}")
    total = len(results)
    print(f"{100 * (total - len(failed)) // max(total, 1)}%: Checks: {total}, "
          f"Failures: {len(failed)}, Errors: 0")
    sys.exit(1 if failed else 0)
