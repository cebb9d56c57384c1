#!/usr/bin/env python3
"""One flag vocabulary per layer: outside core/arch/, core/ names page-table flags by the
kernel's logical PG_* flags (page_flags.h, mapper.h); the architectural PTE_* bits are
core/arch/x86_64/'s alone.

Usage: check_flag_vocabulary.py CORE_DIR"""
import os
import re
import sys

RAW_BIT = re.compile(r"\bPTE_[A-Z0-9_]+\b")


def main():
    core = sys.argv[1]
    found = 0
    for root, dirs, files in os.walk(core):
        if os.path.relpath(root, core).split(os.sep)[0] == "arch":
            dirs[:] = []
            continue
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    for m in RAW_BIT.finditer(line):
                        print("%s:%d: %s: an architectural bit outside core/arch/ "
                              "(name the PG_ flag: pte_has, pte_keep, pte_bits)"
                              % (path, n, m.group(0)))
                        found += 1
    print("%d architectural bits outside core/arch/" % found)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
