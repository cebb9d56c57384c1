#!/usr/bin/env python3
"""mmsim quiz policy: the key the kernel gives (limit, policy=, a real process) checked against
a small model of each policy written here from the rules alone, for seeds 1-40 and for the
classic reference strings (Belady's anomaly).

usage: test_quiz_policy.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness as h  # noqa: E402
from cli_harness import case, check, run  # noqa: E402

h.init(sys.argv)


def model(policy, frames, refs):
    """Each access: (hit, evicted page or None, resident pages in the policy's order, and for
    clock the circle [(page, bit) or None] and the hand)."""
    out = []
    arrived, last = {}, {}          # page -> time it became resident / its last access
    places, bits, hand = [], {}, 0  # clock
    for t, page in enumerate(refs):
        hit, victim = page in arrived, None
        if not hit and len(arrived) == frames:
            if policy == "fifo":
                victim = min(arrived, key=lambda p: arrived[p])
            elif policy == "lru":
                victim = min(arrived, key=lambda p: last[p])
            elif policy == "opt":
                def next_use(p):
                    rest = refs[t + 1:]
                    return rest.index(p) if p in rest else len(refs)
                # the farthest next use; among equals (never again) the oldest arrival
                victim = max(arrived, key=lambda p: (next_use(p), -arrived[p]))
            else:
                while bits[places[hand]]:
                    bits[places[hand]] = False
                    hand = (hand + 1) % frames
                victim = places[hand]
            del arrived[victim]
        if not hit:
            arrived[page] = t
            if policy == "clock":
                if victim is None:
                    places.append(page)
                else:
                    places[hand] = page
                    del bits[victim]
                    hand = (hand + 1) % frames
        last[page] = t
        bits[page] = True
        if policy == "fifo":
            order = sorted(arrived, key=lambda p: arrived[p])
        elif policy == "lru":
            order = sorted(arrived, key=lambda p: last[p])
        elif policy == "clock":
            order = list(places)
        else:
            order = sorted(arrived)
        circle = [[p, int(bits[p])] for p in places] + [None] * (frames - len(places))
        out.append((hit, victim, order, circle, hand))
    return out


def check_key(j, what):
    policy, frames, refs = j["policy"], j["frames"], j["refs"]
    acc = j["answer"]["accesses"]
    want = model(policy, frames, refs)
    check(len(acc) == len(refs), what)
    majors = 0
    seen = set()
    for i, (a, (hit, victim, order, circle, hand)) in enumerate(zip(acc, want)):
        where = (what, policy, frames, refs, i + 1)
        check(a["page"] == refs[i], where)
        check(a["hit"] == hit, (where, "hit", a["hit"]))
        check(a["evicted"] == victim, (where, "evicted", a["evicted"], victim))
        check(a["resident"] == order, (where, "resident", a["resident"], order))
        if policy == "clock":
            check(a["circle"] == circle and a["hand"] == hand, (where, a["circle"], a["hand"], circle, hand))
        # a miss on a page seen before reads it back from swap: a major fault
        check(a["major"] == (not hit and refs[i] in seen), (where, "major"))
        majors += a["major"]
        seen.add(refs[i])
    hits = sum(1 for w in want if w[0])
    check(j["answer"]["hits"] == hits and j["answer"]["misses"] == len(refs) - hits, (what, "totals"))
    check(j["answer"]["major_faults"] == majors, (what, "majors"))
    check(j["answer"]["final"] == want[-1][2], (what, "final"))


@case("quiz policy: seeds 1-40, every access's hit, victim and resident pages as the model has them")
def _():
    policies = set()
    for seed in range(1, 41):
        rc, out, err = run(["quiz", "policy", "--seed", str(seed), "--json"])
        check(rc == 0 and err == "", (seed, rc, err))
        j = json.loads(out)
        check(j["quiz"] == "policy" and j["seed"] == seed, seed)
        check(len(set(j["refs"])) > j["frames"], (seed, j["refs"], j["frames"]))
        policies.add(j["policy"])
        check_key(j, seed)
    check(policies == {"fifo", "lru", "clock", "opt"}, policies)


@case("quiz policy: Belady's anomaly under fifo, none under lru and opt; the scenario in the key runs")
def _():
    belady = "1,2,3,4,1,2,5,1,2,3,4,5"
    misses = {}
    for policy in ("fifo", "lru", "opt", "clock"):
        for frames in (3, 4):
            rc, out, err = run(["quiz", "policy", "--policy", policy, "--frames", str(frames),
                                "--refs", belady, "--json"])
            check(rc == 0, err)
            j = json.loads(out)
            check_key(j, (policy, frames))
            misses[policy, frames] = j["answer"]["misses"]
    check(misses["fifo", 3] == 9 and misses["fifo", 4] == 10, misses)
    check(misses["lru", 3] == 10 and misses["lru", 4] == 8, misses)
    check(misses["opt", 3] == 7 and misses["opt", 4] == 6, misses)
    # the key's scenario, run by `mmsim run`, has as many faults as the key has misses
    rc, out, err = run(["quiz", "policy", "--policy", "fifo", "--frames", "4", "--refs", belady, "--json"])
    j = json.loads(out)
    rc, out, err = run(["run", "--audit", "-"], stdin=j["scenario"] + "expect faults a == 10\nexpect majfaults a == 5\n")
    check(rc == 0, (rc, err))


@case("quiz policy: -c prints the answers the JSON has; without -c only the questions")
def _():
    rc, q, err = run(["quiz", "policy", "--seed", "7"])
    check(rc == 0 and "ARG quiz policy" in q and "ARG seed 7" in q and "hit/miss?" in q and "miss, evicts" not in q, q)
    rc, a, err = run(["quiz", "policy", "--seed", "7", "-c"])
    j = json.loads(run(["quiz", "policy", "--seed", "7", "--json"])[1])
    check(rc == 0 and f"ARG policy {j['policy']}" in a and f"ARG frames {j['frames']}" in a, a)
    lines = [l for l in a.splitlines() if l.startswith("  ") and ". page " in l]
    check(len(lines) == len(j["refs"]), lines)
    for l, acc in zip(lines, j["answer"]["accesses"]):
        if acc["hit"]:
            check(" hit " in l, l)
        elif acc["evicted"] is not None:
            check(f"miss, evicts {acc['evicted']} " in l, l)
        else:
            check(" miss " in l and "evicts" not in l, l)
    check(f"hits {j['answer']['hits']}  misses {j['answer']['misses']}" in a, a)
    for bad, msg in ((["--policy", "mru"], "fifo, lru, clock or opt"), (["--frames", "9"], "1..8"),
                     (["--refs", "1,2,x"], "comma list"), (["--refs", "1,16"], "0..15")):
        rc, out, err = run(["quiz", "policy"] + bad)
        check(rc == 2 and msg in err and out == "", (bad, err))
    rc, out, err = run(["quiz", "cow", "--frames", "3"])
    check(rc == 2 and "policy's" in err, err)


h.finish()
