#!/usr/bin/env python3
"""The teaching tools as a class meets them: tracing kinds, quiz keys and JSON, readable output.

usage: test_teach.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import os
import re
import sys

# the developers' design folder beside a checkout, which users do not have (spelled in two
# pieces so that this file does not point there itself)
OUTSIDE = "../" + "shared"

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


# ---- quiz translate: the key, checked by an independent walker and by the processor ----

P, RW, US, PS, XD = 1, 2, 4, 0x80, 1 << 63
ADDR = ((1 << 52) - 1) & ~0xfff
LEVELS = {4: "PML4", 3: "PDPT", 2: "PD", 1: "PT"}


def walk(mem, cr3, va, kind, user, wp, nxe):
    """x86_64 four-level walk, written from the manual's rules, independent of mmsim's."""
    table, path = cr3, []
    for level in (4, 3, 2, 1):
        shift = 12 + 9 * (level - 1)
        ea = table + 8 * ((va >> shift) & 511)
        e = int(mem.get(hex(ea), "0"), 16)
        path.append((level, ea, e))
        err = (2 if kind == "write" else 0) | (4 if user else 0) | (16 if kind == "fetch" and nxe else 0)
        if not e & P:
            return {"result": "pf", "error_code": err, "stop": "not-present", "level": level, "entry": ea}
        if (e >> 46) & 0x3f or (level == 4 and e & PS) or (e & XD and not nxe):
            return {"result": "pf", "error_code": err | 1 | 8, "stop": "reserved", "level": level, "entry": ea}
        if level == 1 or e & PS:
            break
        table = e & ADDR
    rw = all(x & RW for _, _, x in path)
    us = all(x & US for _, _, x in path)
    xd = any(x & XD for _, _, x in path)
    need_rw = kind == "write" and (user or wp)
    if (user and not us) or (need_rw and not rw) or (kind == "fetch" and nxe and xd):
        deny = []
        for lv, ea, x in path:
            lacks = []
            if need_rw and not x & RW:
                lacks.append("RW")
            if user and not x & US:
                lacks.append("US")
            if kind == "fetch" and nxe and x & XD:
                lacks.append("XD")
            if lacks:
                deny.append({"level": LEVELS[lv], "entry": hex(ea), "lacks": " ".join(lacks)})
        return {"result": "pf", "error_code": err | 1, "stop": "protection", "denied_by": deny}
    size_shift = 12 + 9 * (path[-1][0] - 1)
    base = path[-1][2] & ADDR & ~((1 << size_shift) - 1)
    return {"result": "pa", "pa": base | (va & ((1 << size_shift) - 1))}


_quiz_cache = {}


def quiz_json(kind, seed):
    import json
    if (kind, seed) not in _quiz_cache:
        rc, out, err = run(["quiz", kind, "--seed", str(seed), "--json"])
        check(rc == 0 and err == "", (kind, seed, rc, err))
        _quiz_cache[kind, seed] = json.loads(out)
    return _quiz_cache[kind, seed]


@case("quiz translate --json: an independent walker agrees with every key, seeds 1..40")
def _():
    nprot = nmulti = 0
    for seed in range(1, 41):
        j = quiz_json("translate", seed)
        cpu, mem = j["cpu"], j["memory"]
        check(j["quiz"] == "translate" and j["seed"] == seed and j["machine"]["maxphyaddr"] == 46, j.keys())
        for q in j["questions"]:
            a, acc = q["answer"], q["access"]
            mine = walk(mem, int(cpu["cr3"], 16), int(acc["va"], 16), acc["kind"],
                        acc["mode"] == "user", cpu["cr0.wp"], cpu["efer.nxe"])
            check(a["result"] == mine["result"], (seed, q, mine))
            if a["result"] == "pa":
                check(int(a["pa"], 16) == mine["pa"], (seed, q, mine))
                continue
            check(int(a["error_code"], 16) == mine["error_code"] and a["stop"] == mine["stop"], (seed, q, mine))
            if a["stop"] == "protection":
                nprot += 1
                nmulti += len(a["denied_by"]) > 1
                check(a["denied_by"] == mine["denied_by"], (seed, q, mine))
                check(a["level"] == a["denied_by"][0]["level"] and a["entry"] == a["denied_by"][0]["entry"], (seed, q))
            else:
                check(a["level"] == LEVELS[mine["level"]] and int(a["entry"], 16) == mine["entry"], (seed, q, mine))
    check(nprot >= 40, nprot)


@case("quiz translate: each entry the key blames denies by itself (the processor decides), seeds 1..40")
def _():
    fix = {"RW": (RW, 0), "US": (US, 0), "XD": (0, XD)}
    # one run for every seed: each seed's words are poked in, checked, and zeroed again
    lines = ["machine kernel=off memory=1M maxphyaddr=46"]
    for seed in range(1, 41):
        j = quiz_json("translate", seed)
        mem = j["memory"]
        lines += [f"poke {a} {v}" for a, v in mem.items()]
        lines.append(f"cpu cr3={j['cpu']['cr3']}")

        def fixed(d):
            v = int(mem.get(d["entry"], "0"), 16)
            for right in d["lacks"].split():
                v = (v | fix[right][0]) & ~fix[right][1]
            return v

        def access_line(q):
            acc = q["access"]
            return f"{acc['va']} {acc['kind']} {acc['mode']}"
        for q in j["questions"]:
            a = q["answer"]
            if a.get("stop") != "protection":
                continue
            deny = a["denied_by"]
            # every named entry fixed: the access goes through
            lines += [f"poke {d['entry']} {fixed(d):#x}" for d in deny]
            lines += ["flush", f"expect access {access_line(q)} -> pa " + hex(walk(
                {**mem, **{d["entry"]: hex(fixed(d)) for d in deny}}, int(j["cpu"]["cr3"], 16),
                int(q["access"]["va"], 16), q["access"]["kind"], q["access"]["mode"] == "user",
                1, 1)["pa"])]
            # any one of them alone still denies it, with the key's error code
            for d in deny:
                lines += [f"poke {d['entry']} {mem[d['entry']]}", "flush",
                          f"expect access {access_line(q)} -> pf {a['error_code']}",
                          f"poke {d['entry']} {fixed(d):#x}"]
            lines += [f"poke {d['entry']} {mem[d['entry']]}" for d in deny]
        lines += [f"poke {a} 0" for a in mem]
    rc, out, err = run(["run", "-"], stdin="\n".join(lines) + "\n")
    check(rc == 0, err)


@case("quiz translate -c: seed 3 question 4 blames the PDPT entry without US")
def _():
    rc, out, err = run(["quiz", "translate", "--seed", "3", "-c"])
    line = [l for l in out.splitlines() if l.startswith("  4. ")][0]
    check(line.endswith("-> pf 0x5: denied by the PDPT entry @0xd30b8 (lacks US)"), line)


# ---- quiz buddy and cow: JSON keys replayed by independent models ----

def buddy_replay(j):
    """The documented buddy rules, replayed on the lists after boot."""
    lists = {int(k): [int(b, 16) for b in v] for k, v in j["free_lists"].items()}
    top = max(lists)
    ptrs = {}
    for op in j["operations"]:
        a = op["answer"]
        nblocks = sum(len(v) for v in lists.values())
        if op["op"] == "alloc":
            k = op["order"]
            j_ = next((o for o in range(k, top + 1) if lists[o]), None)
            if j_ is None:
                check(a["result"] == "fails", op)
                continue
            b = lists[j_].pop(0)
            while j_ > k:
                j_ -= 1
                lists[j_].insert(0, b + (4096 << j_))
            ptrs[op["ptr"]] = (b, k)
            check(a["result"] == hex(b), (op, hex(b)))
            check(a["split"] == (sum(len(v) for v in lists.values()) >= nblocks), op)
        else:
            if op["ptr"] not in ptrs:
                continue
            b, k = ptrs.pop(op["ptr"])
            merged = False
            while k < top and (b ^ (4096 << k)) in lists[k]:
                lists[k].remove(b ^ (4096 << k))
                b, k, merged = min(b, b ^ (4096 << k)), k + 1, True
            lists[k].insert(0, b)
            check(a["merged"] == merged, op)
        want = {str(o): [hex(x) for x in v] for o, v in lists.items()}
        check(a["free_lists"] == want, (op, want))


@case("quiz buddy --json: the rules replayed agree with every answer; every problem splits and merges")
def _():
    for seed in range(1, 41):
        j = quiz_json("buddy", seed)
        buddy_replay(j)
        ops = [o["answer"] for o in j["operations"]]
        check(any(a.get("split") for a in ops) and any(a.get("merged") for a in ops), (seed, "no split or merge"))
    rc, out, _ = run(["quiz", "buddy", "--seed", "1", "-c"])
    check("(a larger block was split)" in out and "(merged with its buddy)" in out, out[-1500:])


def cow_replay(j):
    """The documented fork and copy-on-write rules, replayed step by step."""
    maps, refs, writable, fresh = {"p": {}}, {}, set(), iter(range(1000))
    for st in j["steps"]:
        if st["op"] == "fork":
            par, ch = st["parent"], st["child"]
            maps[ch] = dict(maps[par])
            for pg, f in maps[par].items():
                if f != "Z":
                    refs[f] += 1
                    writable.discard((par, pg))
            continue
        who, pg = st["proc"], st["page"]
        f = maps[who].get(pg)
        if st["op"] == "read":
            if f is None:
                maps[who][pg] = "Z"
            continue
        if f is None or f == "Z" or ((who, pg) not in writable and refs[f] >= 2):
            if f not in (None, "Z"):
                refs[f] -= 1
            n = next(fresh)
            maps[who][pg], refs[n] = n, 1
        writable.add((who, pg))
    return maps, refs


@case("quiz cow --json: the rules replayed agree with every frame, reference and rss; every problem forks")
def _():
    for seed in range(1, 41):
        j = quiz_json("cow", seed)
        check(any(s["op"] == "fork" for s in j["steps"]), seed)
        maps, refs = cow_replay(j)
        ans = j["answer"]
        procs = [p for p in ("p", "c", "g") if p in maps]
        letters = {}
        for page in ans["pages"]:
            for p in procs:
                f = maps[p].get(page["page"])
                got = page[p]
                if f is None:
                    check(got is None, (seed, page, p))
                    continue
                check(got is not None, (seed, page, p, f))
                if f == "Z":
                    check(got["frame"] == "Z" and got["kind"] == "zero frame", (seed, page, p))
                    continue
                letters.setdefault(f, chr(ord("A") + len(letters)))
                check(got["frame"] == letters[f] and got["refs"] == refs[f], (seed, page, p, refs[f]))
        for p in procs:
            check(ans["rss"][p] == len(maps[p]), (seed, p))
        if seed <= 10:  # the kernel's free count, by running the steps (a run per seed)
            rc, out, err = run(["run", "-"], stdin=j["scenario"] + f"expect free_frames == {ans['free_end']}\n")
            check(rc == 0, (seed, err))


# ---- readable output ----

def run_tty_stderr(args, cwd=None):
    """Runs mmsim with stderr on a pseudo-terminal; returns (status, stderr text)."""
    import pty
    import subprocess
    master, slave = pty.openpty()
    p = subprocess.Popen([h.MMSIM] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave, cwd=cwd)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=60), b"".join(chunks).decode().replace("\r\n", "\n")


@case("a passing run says how many expectations held on a terminal, nothing otherwise")
def _():
    lesson = os.path.join("scenarios", "hw", "01-first-walk.scn")
    n = sum(1 for l in open(os.path.join(ROOT, lesson)) if l.lstrip().startswith("expect "))
    rc, err = run_tty_stderr(["run", lesson], cwd=ROOT)
    check(rc == 0 and err == f"{lesson}: {n} expectations held\n", (rc, err, n))
    rc, out, err = run(["run", lesson], cwd=ROOT)
    check(rc == 0 and err == "", err)
    rc, err = run_tty_stderr(["run", scenario("machine kernel=off memory=1M\nexpect peek 0 == 1\n")])
    check(rc == 1 and "expectations held" not in err, err)


FLAGS = {"P", "RW", "US", "PWT", "PCD", "A", "D", "PS", "G", "XD", "PAT"}


@case("one flag spelling in every view: show pagetables, explain, --trace")
def _():
    text = ("machine memory=16M\nspawn a\nmmap a 0x400000 8K rw\nwrite a 0x400000 1\n"
            "mprotect a 0x400000 4K r\nread a 0x401000\nshow pagetables a\nexplain a 0x400000 write\n")
    rc, out, err = run(["run", "--trace", "-"], stdin=text)
    check(rc == 0, err)
    seen = set()
    for line in out.splitlines():
        m = re.search(r"0x[0-9a-f]{16} +((?:[A-Z]+ )*[A-Z]+) +->", line) or \
            re.search(r"= 0x[0-9a-f]{16}  ((?:[A-Z]+ )*[A-Z]+) ->", line)
        if m:
            words = set(m.group(1).split())
            check(words <= FLAGS, (line, words - FLAGS))
            seen |= words
    check({"P", "RW", "US", "XD"} <= seen, seen)
    check(" NX" not in out and " W U" not in out, "old spellings")


@case("an access by a process that exited says exited; expect -> killed still holds")
def _():
    base = "machine memory=16M\nspawn a\nmmap a 0x400000 4K rw\nexit a\n"
    rc, out, err = run(["run", "-"], stdin=base + "read a 0x400000\nexplain a 0x400000\n"
                        "expect read a 0x400000 -> killed\nexpect write a 0x400000 1 -> exited\n")
    check(rc == 0 and "a: read 0x400000 -> exited" in out and "a has exited: every access ends as exited" in out, (out, err))
    rc, out, err = run(["run", "-"], stdin="machine memory=16M\nspawn a\nmmap a 0x400000 4K rw\n"
                        "expect read a 0x400000 -> exited\n")
    check(rc == 1 and "expected exited, got ok" in err, err)


@case("traps: a byte-order mark, a hex number with a size suffix, c1-1")
def _():
    f = scenario("\ufeffmachine memory=16M\n")
    rc, out, err = run(["check", f])
    check(rc == 2 and f"{f}:1:1: error: the file starts with a UTF-8 byte-order mark" in err
          and "Notepad" in err and "without BOM" in err, err)
    rc, out, err = run(["check", scenario("machine memory=16M\nspawn a\nmmap a 0x400000 0x1M rw\n")])
    check(rc == 2 and ":3:17: error:" in err and "suffix goes only after a decimal number" in err, err)
    rc, out, err = run(["check", scenario("machine memory=0x12g\n")])
    check(rc == 2 and "suffix goes only after a decimal number" in err, err)
    rc, out, err = run(["check", scenario("machine memory=16M\ncheckpoint c1\nexpect free_frames == c1-1\n")])
    check(rc == 2 and "'c1 - 1'" in err, err)


@case("help: show dot names the file it writes, touch explains its fill value; no pointer outside the repository")
def _():
    import shutil
    rc, out, err = run(["help", "show"])
    line = out[out.index("show dot FILE"):].split("\n")[1]
    check("f.dot gives f.svg" in line, line)
    rc, out, err = run(["help", "touch"])
    check("0x746f756368" in out and '"touch"' in out, out)
    if shutil.which("dot"):
        d = __import__("tempfile").mkdtemp()
        run(["run", "-"], stdin="machine memory=16M\nspawn a\nshow dot f.dot a\n", cwd=d)
        check(os.path.exists(os.path.join(d, "f.svg")), os.listdir(d))
    for doc in ["README.md", "docs/mmsim.1", "fuzz/README.md"]:
        text = open(os.path.join(ROOT, doc)).read()
        check(OUTSIDE not in text and "SCENARIO-LANGUAGE" not in text, doc)
    rc, out, err = run(["help"])
    check(OUTSIDE not in out, "help points outside")


@case("show framemap scales: 256 MiB is a few rows of regions; names agree with show frames")
def _():
    import tempfile
    import xml.etree.ElementTree as ET
    d = tempfile.mkdtemp()
    scn = ("machine memory=256M\nspawn a\nmmap a 0x400000 64K rw\ntouch a 0x400000 64K write\n"
           "fork a b\nwrite b 0x400000 1\nread a 0x410000\nshow framemap big.svg\nshow frames\n")
    rc, out, err = run(["run", "-"], stdin=scn.replace("read a 0x410000", "mmap a 0x500000 4K r\nread a 0x500000"), cwd=d)
    check(rc == 0 and err == "", (rc, err))
    line = [l for l in out.splitlines() if l.startswith("show framemap:")][0]
    fm = dict((n, int(c)) for n, c in re.findall(r"[:,] ([a-zA-Z -]+?) (\d+)(?=,|$)", line))
    legend = out.splitlines()[-1]
    fr = dict((n, int(c)) for n, c in re.findall(r" \S ([a-zA-Z -]+?) (\d+)(?=,|$)", legend))
    check(fm == fr, (fm, fr))
    for name in ("zero frame", "kernel page table", "process page table", "copy-on-write", "private"):
        check(name in fm, (name, fm))
    check(sum(fm.values()) == 65536, sum(fm.values()))
    root = ET.parse(os.path.join(d, "big.svg")).getroot()
    check(int(root.get("height")) < 600, root.get("height"))
    rows = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text and t.text.startswith("free ")]
    check(rows and max(int(r.split()[1]) for r in rows) > 60000, rows)
    # the legend names only the kinds that appear, with their counts
    svg = open(os.path.join(d, "big.svg")).read()
    check(svg.count(" frames</text>") == len(fm) and "shared" not in fm and ">shared<" not in svg, len(fm))


h.finish()
