#!/usr/bin/env python3
"""The teaching side of swap: explain on a swapped page, the trace's reading of a swap entry,
the swap panel of the --html page.

usage: test_swap_teach.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness as h  # noqa: E402
from cli_harness import case, check, run  # noqa: E402

h.init(sys.argv)

BASE = """machine memory=16M swap=1M policy=%s
spawn a
mmap a 0x10000 64K rw
limit a 3
write a 0x10000 1
write a 0x11000 2
write a 0x12000 3
write a 0x13000 4
"""


def explain_blocks(out):
    """explain's lines, one block per explain."""
    blocks = []
    for line in out.splitlines():
        if ": explain " in line:
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks]


@case("explain on a swapped page: the slot, major or minor, the slot shared after fork, the limit's victim")
def _():
    text = BASE % "clock" + """explain a 0x10000 write
explain a 0x10000 read
explain a 0x14000 write
fork a b
explain b 0x10000 write
read a 0x10000
explain b 0x10000 read
expect majfaults a == 1
expect swap_used == 2
write b 0x10000 5
expect read a 0x10000 == 1
"""
    rc, out, err = run(["run", "--audit", "-"], stdin=text)
    check(rc == 0, (rc, err))
    b = explain_blocks(out)
    check(len(b) == 5, out)
    # page 0x10000 went to slot 0 when 0x13000 came (the clock cleared all three bits)
    check("page: swapped out" in b[0] and "slot 0 stored inverted" in b[0] and "count is 1" in b[0], b[0])
    check("kernel: major fault: reads slot 0 back" in b[0] and "lets the slot go (the slot is free again)" in b[0], b[0])
    check("needs 1 frame" in b[0] and "-> ok after the fault" in b[0], b[0])
    # the hand is at place 1 (0x11000, bit cleared on the way round): the clock's victim
    check("first the clock policy evicts 0x11000 (its bit clear)" in b[0], b[0])
    check("paired with the slot (swap cache)" in b[1] and "mapped read-only" in b[1], b[1])
    check("page: swapped" not in b[2] and "demand-zero" in b[2] and "evicts 0x11000" in b[2], b[2])
    check("count is 2 (the swap entries that hold it: shared after fork)" in b[3] and
          "the other holders keep it" in b[3], b[3])
    check("minor fault: slot 0 is still in a frame" in b[4] and "nothing read" in b[4]
          and "needs" not in b[4], b[4])
    # nothing changed: the same explain twice in a row says the same
    rc, out2, err = run(["run", "-"], stdin=BASE % "clock" + "explain a 0x10000 write\nexplain a 0x10000 write\n")
    b2 = explain_blocks(out2)
    check(b2[0] == b2[1], b2)


@case("explain under a limit names the policy's victim: fifo the oldest, lru the least recent, opt the farthest")
def _():
    extra = "write a 0x12000 3\nwrite a 0x11000 2\nexplain a 0x14000 write\nwrite a 0x11000 2\nwrite a 0x13000 4\nwrite a 0x12000 3\n"
    want = {"fifo": "evicts 0x11000 (resident the longest)",
            "lru": "evicts 0x13000 (its last access is the oldest)",
            "opt": "evicts 0x12000 (its next access is the farthest)"}
    for policy, line in want.items():
        rc, out, err = run(["run", "-"], stdin=BASE % policy + extra)
        check(rc == 0 and line in out, (policy, out[out.find("limit:"):][:200]))


@case("--trace reads a swap entry for the class: the slot under the walk that met it")
def _():
    rc, out, err = run(["run", "--trace=walk,fault", "-"], stdin=BASE % "fifo" + "read a 0x10000\n")
    check(rc == 0, err)
    i = out.index("the entry is a swap entry: the page is in swap slot 0; the fault handler reads it back")
    check("0x000ffffffffff400" in out[:i] and "swap-in: a 0x10000 read: read back from slot 0" in out[i:], out[i - 400:i + 300])
    check("evict: a 0x10000 (fifo: resident the longest" in out and "written to slot 0 (dirty)" in out, out)


SWAP_LESSONS = ["18-demand-paging-swap", "19-fifo-belady", "20-policy-lru", "21-policy-clock",
                "22-policy-opt", "23-dirty-clean-eviction", "24-thrashing"]


@case("the swap lessons run with --audit; their --trace tells every eviction and swap-in")
def _():
    for name in SWAP_LESSONS:
        path = os.path.join(h.ROOT, "scenarios", "teaching", name + ".scn")
        rc, out, err = run(["run", "--audit", path])
        check(rc == 0 and err == "", (name, rc, err))
        rc, out, err = run(["run", "--trace=fault", path])
        check(rc == 0, (name, err))
        evictions = [l for l in out.splitlines() if l.startswith("  evict: a ")]
        check(evictions, name)
        for l in evictions:
            # why this page, and written (with its slot) or dropped
            check(("(fifo: " in l or "(lru: " in l or "(clock: " in l or "(opt: " in l) and
                  ("written to slot " in l or "dropped, no write" in l), (name, l))
        for l in out.splitlines():
            if l.startswith("  swap-in: "):
                check("slot " in l and ("major fault" in l or "swap cache" in l), (name, l))


@case("show policy: fifo's queue and lru's order, which the fixed places do not show")
def _():
    rc, out, err = run(["run", os.path.join(h.ROOT, "scenarios", "teaching", "19-fifo-belady.scn")])
    check(rc == 0 and "  queue, oldest first: 0x105000 0x103000 0x104000\n" in out and
          "  queue, oldest first: 0x102000 0x103000 0x104000 0x105000\n" in out, out)
    rc, out, err = run(["run", os.path.join(h.ROOT, "scenarios", "teaching", "20-policy-lru.scn")])
    check(rc == 0 and "  least recently used first: 0x107000 0x100000 0x101000\n" in out, out)


@case("--html: the swap panel (the area and the policy's circle) and the swap events of each step")
def _():
    import json
    import re
    import tempfile
    page = os.path.join(tempfile.mkdtemp(), "t.html")
    lesson = os.path.join(h.ROOT, "scenarios", "teaching", "21-policy-clock.scn")
    rc, out, err = run(["run", lesson, "--html", page])
    check(rc == 0, err)
    html = open(page).read()
    check("Swap and page replacement" in html and "$('swap')" in html, "no swap panel")
    d = json.loads(re.search(r'id="mmsim-data">(.*?)</script>', html, re.S).group(1))
    last = d["steps"][-1]["state"]
    text = d["texts"][last["swap"]]
    check(text.startswith("swap: 3 of 256 slots used") and "a: policy clock, limit 3 pages" in text
          and "-> 0: 0x100000" in text, text)
    events = [e for s in d["steps"] if s.get("state") for e in s["state"]["events"]]
    check("a: 1 page evicted to swap" in events and "a: 1 fault, major: a page read back from swap" in events, events)
    # a machine without swap says so
    rc, out, err = run(["run", os.path.join(h.ROOT, "scenarios", "teaching", "07-demand-paging.scn"), "--html", page])
    d = json.loads(re.search(r'id="mmsim-data">(.*?)</script>', open(page).read(), re.S).group(1))
    check(all(s["state"]["swap"] == -1 for s in d["steps"] if s.get("state")), "swap text without swap")


h.finish()
