#!/usr/bin/env python3
"""Print the scenario files below a folder, one relative path a line, sorted."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1])
for p in sorted(root.rglob("*.scn")):
    print(p.relative_to(root).as_posix())
