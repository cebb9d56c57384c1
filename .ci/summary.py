#!/usr/bin/env python3
"""Turn meson test logs into one closing line: `N passed, N failed`.

A test whose output carries a Check summary ("NN%: Checks: C, Failures: F, Errors: E")
counts its checks; any other test counts as one. A test meson marked failed although its
Check summary says all passed (valgrind, a sanitizer, a crash after the summary) adds one
failure. --pass/--fail add steps that ran outside meson (fuzz runs, builds).
"""
import argparse
import json
import re
import sys

CHECK = re.compile(r"^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", re.M)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pass", dest="extra_pass", type=int, default=0)
    ap.add_argument("--fail", dest="extra_fail", type=int, default=0)
    ap.add_argument("logs", nargs="*")
    args = ap.parse_args()
    passed, failed = args.extra_pass, args.extra_fail
    for path in args.logs:
        try:
            with open(path) as f:
                lines = f.readlines()
        except OSError as e:
            print(f"summary: cannot read {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        for line in lines:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
            m = CHECK.search(t.get("stdout") or "")
            if m:
                checks, fails, errs = map(int, m.groups())
                passed += checks - fails - errs
                failed += fails + errs
                if not ok and fails + errs == 0:
                    failed += 1
            elif t.get("result") == "SKIP":
                continue
            elif ok:
                passed += 1
            else:
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
