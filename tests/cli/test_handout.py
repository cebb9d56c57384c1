#!/usr/bin/env python3
"""Handouts: every lesson marks its answers; `mmsim handout` hides them; `mmsim run` of the
students' copy checks each answer (wrong ones named, blank ones reported, the run going on).

usage: test_handout.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness  # noqa: E402
from cli_harness import case, check, run, scenario  # noqa: E402

cli_harness.init(sys.argv)
ROOT = cli_harness.ROOT

TABLES = """machine kernel=off memory=1M
poke 0x1000 0x2007
poke 0x2000 0x3007
poke 0x3000 0x4007
poke 0x4000 0x5007
cpu cr3=0x1000
"""


def lesson_files():
    d = os.path.join(ROOT, "scenarios", "teaching")
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".scn")]


def answers_of(text):
    """The marked answers of a lesson, in order: (line number, the statement's words after
    its first operator, options aside)."""
    import re
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if "#?" not in line:
            continue
        code = line.split("#")[0].split()
        k = next(i for i, w in enumerate(code) if w in ("==", "!=", "<", "<=", ">", ">=", "->")) + 1
        out.append((n, " ".join(w for w in code[k:] if not re.match(r"^[a-z][a-z0-9_]*=.", w))))
    return out


def fill(handout, answers):
    """The handout with its k-th `?` replaced by the k-th answer."""
    lines, it = handout.splitlines(), iter(answers)
    for i, line in enumerate(lines):
        if "#?" in line and " ? " in line.split("#")[0] + " ":
            code, _, comment = line.partition("#")
            lines[i] = code.replace(" ?", " " + next(it), 1) + "#" + comment
    return "\n".join(lines) + "\n"


@case("handout: every lesson marks answers; its handout hides them and runs once filled in")
def _():
    lessons = lesson_files()
    check(len(lessons) >= 17, len(lessons))
    d = tempfile.mkdtemp()
    for path in lessons:
        name = os.path.basename(path)
        text = open(path).read()
        answers = answers_of(text)
        check(len(answers) >= 1, name)
        rc, out, err = run(["handout", path])
        check(rc == 0 and err == "", (name, rc, err))
        # questions kept, answers gone: no marked answer and no worked answer is left
        check(out.count("#?") == len(answers), name)
        check(not any(l.lstrip().startswith("#>") and l.strip() != "#> your answer:"
                      for l in out.splitlines()), name)
        check([a for _, a in answers_of(out)] == ["?"] * len(answers), (name, answers_of(out)))
        # unfilled: every answer is reported unanswered, the run goes to its end, exit 1
        blank = os.path.join(d, name)
        open(blank, "w").write(out)
        rc, _, err = run(["run", blank], cwd=d)
        check(rc == 1 and err.count("unanswered: ") == len(answers) and
              f"{len(answers)} answer" in err and f"0 right, 0 wrong, {len(answers)} unanswered" in err,
              (name, rc, err))
        # filled in from the lesson: a valid scenario, every answer right, exit 0
        good = os.path.join(d, "good-" + name)
        open(good, "w").write(fill(out, [a for _, a in answers]))
        rc, _, err = run(["run", good], cwd=d)
        check(rc == 0 and err == "", (name, rc, err))
        # one wrong answer: exit 1, the line named, what was written, not the right answer
        wrong = [a for _, a in answers]
        first = wrong[0]
        wrong[0] = "0x7777" if not first.startswith(("pa", "pf", "gp", "ok", "segv", "oom", "killed", "efault", "eperm")) else (
            "pa 0x7777" if first.startswith(("pa", "pf", "gp")) else ("ok" if first != "ok" else "segv"))
        bad = fill(out, wrong)
        badpath = os.path.join(d, "bad-" + name)
        open(badpath, "w").write(bad)
        line = [i for i, l in enumerate(bad.splitlines(), 1) if "#?" in l][0]
        rc, _, err = run(["run", badpath], cwd=d)
        check(rc == 1 and f"{badpath}:{line}: wrong answer: you wrote '{wrong[0]}'\n" in err and
              "1 wrong, 0 unanswered" in err,
              (name, rc, err, first))


@case("handout: the run goes on after a wrong answer; a malformed answer is not a parse error")
def _():
    lesson = TABLES + """expect access 0x123 read user -> pa 0x5123   #? where
expect access 0x1000 read user -> pf 0x4      #? and here
#> worked answer
expect peek 0x4000 == 0x5027 #? A set by the walk
"""
    rc, out, err = run(["handout", scenario(lesson)])
    check(rc == 0 and "-> ?   #? where" in out and "== ? #?" in out and "worked" not in out
          and "#> your answer:" in out, (rc, out, err))
    filled = out.replace("-> ?   #? where", "-> pa 0x5124   #? where", 1) \
        .replace("-> ?      #? and here", "-> pf banana      #? and here", 1) \
        .replace("== ? #?", "== 0x5027 #?", 1)
    f = scenario(filled)
    rc, _, err = run(["run", f])
    check(rc == 1 and f"{f}:7: wrong answer: you wrote 'pa 0x5124'\n" in err
          and f"{f}:8:" in err and "answer not understood" in err and
          "1 right, 2 wrong, 0 unanswered" in err and "0x5123" not in err, (rc, err))
    # --reveal tells what the machine found
    rc, _, err = run(["run", f, "--reveal"])
    check(rc == 1 and f"{f}:7: wrong answer: you wrote 'pa 0x5124' (expected pa 0x5124, got pa 0x5123)"
          in err, (rc, err))


@case("handout: '#?' on a line without an answer is an error; a file without marks has no handout")
def _():
    rc, _, err = run(["check", scenario(TABLES + "poke 0x5000 1 #? no\n")])
    check(rc == 2 and ":7:1: error: '#?' marks an answer, but this line has none" in err, err)
    rc, _, err = run(["handout", scenario(TABLES)])
    check(rc == 2 and "no marked answers" in err, err)
    rc, out, _ = run(["help", "handout"])
    check(rc == 0 and "#?" in out and "#>" in out and "--reveal" in out, out)


cli_harness.finish()
