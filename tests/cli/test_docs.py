#!/usr/bin/env python3
"""The documentation as a user follows it: docs/tutorial.md runs as written (every REPL
session fed to `mmsim repl`, every shell command run, every output it shows compared),
docs/language.md's examples run and its command line matches `mmsim --help`, and no file
of the repository points outside it.

usage: test_docs.py MMSIM SOURCE_ROOT   (prints a Check-style summary line for CI)
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_harness  # noqa: E402
from cli_harness import case, check, run  # noqa: E402

cli_harness.init(sys.argv)
MMSIM, ROOT = cli_harness.MMSIM, cli_harness.ROOT

# Set-up lines of the tutorial that the test environment has done already (install, build).
SETUP = re.compile(r"^(bash scripts/|meson |export |apt-get )")


def code_blocks(text):
    """The indented code blocks of a Markdown text: (line number, lines unindented)."""
    blocks, cur, prev_blank = [], None, True
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("    ") and (cur is not None or prev_blank):
            if cur is None:
                cur = (n, [])
                blocks.append(cur)
            cur[1].append(line[4:])
        elif line.strip() == "" and cur is not None:
            cur[1].append("")
        else:
            cur = None
        prev_blank = line.strip() == ""
    return [(n, [l for l in lines] if lines[-1] else lines[:-1]) for n, lines in blocks
            if any(lines)]


def matches(shown, actual):
    """Shown output against actual lines: a line `...` stands for any number of lines, a line
    ending in `...` for any line starting with what precedes it; the rest must be equal
    (trailing blanks aside)."""
    shown = [s.rstrip() for s in shown]
    actual = [a.rstrip() for a in actual]
    memo = {}

    def go(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(shown):
            r = j == len(actual)
        elif shown[i].strip() == "...":
            r = any(go(i + 1, k) for k in range(j, len(actual) + 1))
        elif j == len(actual):
            r = False
        elif shown[i].endswith("...") and actual[j].startswith(shown[i][:-3]):
            r = go(i + 1, j + 1)
        else:
            r = shown[i] == actual[j] and go(i + 1, j + 1)
        memo[(i, j)] = r
        return r
    return go(0, 0)


def workdir():
    d = tempfile.mkdtemp(prefix="mmsim-docs-")
    os.symlink(os.path.join(ROOT, "scenarios"), os.path.join(d, "scenarios"))
    return d


def check_session(where, steps, cwd):
    """A REPL session: each command's output is what the session prints once it is fed,
    beyond what the commands before it printed."""
    before_out = before_err = ""
    for k, (line, cmd, shown) in enumerate(steps):
        feed = "".join(c + "\n" for _, c, _ in steps[:k + 1])
        rc, out, err = run(["repl"], stdin=feed, cwd=cwd)
        check(out.startswith(before_out) and err.startswith(before_err),
              f"{where}:{line}: the session is not deterministic")
        new = (out[len(before_out):] + err[len(before_err):]).splitlines()
        before_out, before_err = out, err
        if shown:
            check(matches(shown, new), f"{where}:{line}: `{cmd}` printed\n" + "\n".join(new) +
                  "\nbut the text shows\n" + "\n".join(shown))
        else:
            check(not any("error:" in l or "expectation failed" in l for l in new),
                  f"{where}:{line}: `{cmd}` failed: {new}")
    check(rc == 0, f"{where}: the session ended with status {rc}")


def check_shell(where, line, cmd, shown, cwd):
    env = dict(os.environ, PATH=os.path.dirname(MMSIM) + os.pathsep + os.environ["PATH"])
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=cwd, env=env,
                       timeout=120)
    check(p.returncode == 0, f"{where}:{line}: `{cmd}` exited {p.returncode}: {p.stderr[-300:]}")
    if shown:
        check(matches(shown, p.stdout.splitlines()), f"{where}:{line}: `{cmd}` printed\n" +
              p.stdout[:2000] + "\nbut the text shows\n" + "\n".join(shown))


def walk_tutorial(text, where):
    """Runs the tutorial's blocks in order; returns how many commands ran."""
    session, ran, cwd = None, 0, workdir()
    for start, lines in code_blocks(text):
        if lines[0].startswith("machine "):
            continue  # a scenario to save as a file: the scenario test runs those
        if lines[0].startswith("mmsim> ") and session is None:
            check(False, f"{where}:{start}: REPL lines, but no session is open (after `quit`, "
                  "or without `$ mmsim repl`)")
        i = 0
        while i < len(lines):
            line, n = lines[i], start + i
            if line.startswith("mmsim> "):
                check(session is not None, f"{where}:{n}: a REPL line outside a session")
                shown, i = [], i + 1
                while i < len(lines) and not lines[i].startswith(("mmsim> ", "$ ")):
                    shown.append(lines[i])
                    i += 1
                while shown and shown[-1] == "":
                    shown.pop()
                cmd = line[len("mmsim> "):]
                session.append((n, cmd, shown))
                ran += 1
                if cmd.split("#")[0].strip() == "quit":
                    check_session(where, session, cwd)
                    session = None
                continue
            if line == "$ mmsim repl":
                check(session is None, f"{where}:{n}: a second REPL while one is open")
                session, i = [], i + 1
                continue
            # a shell command while a session is open is typed into a second terminal
            if line.startswith("$ "):
                cmd, shown, i = line[2:], [], i + 1
                while i < len(lines) and not lines[i].startswith(("$ ", "mmsim> ")):
                    shown.append(lines[i])
                    i += 1
            else:
                cmd, shown, i = line, [], i + 1
            if not cmd.strip() or SETUP.match(cmd):
                continue
            check(cmd.startswith(("mmsim ", "grep ")),
                  f"{where}:{n}: neither a command nor a REPL line: {cmd!r}")
            check_shell(where, n, cmd, shown, cwd)
            ran += 1
    check(session is None, f"{where}: the last REPL session has no `quit`")
    return ran


@case("docs/tutorial.md: every REPL session, shell command and shown output, as written")
def _():
    path = os.path.join(ROOT, "docs", "tutorial.md")
    ran = walk_tutorial(open(path).read(), "docs/tutorial.md")
    check(ran >= 40, ran)


@case("the tutorial check fails on a session typed into after `quit`, and on a wrong output")
def _():
    bad = "x\n\n    $ mmsim repl\n    mmsim> machine kernel=off\n    mmsim> quit\n\ny\n\n" \
          "    mmsim> peek 0\n"
    try:
        walk_tutorial(bad, "bad.md")
        check(False, "a REPL line after quit was accepted")
    except AssertionError as e:
        check("no session is open" in str(e), str(e))
    wrong = "x\n\n    $ mmsim repl\n    mmsim> machine kernel=off memory=1M\n" \
            "    mmsim> peek 0x1000\n    peek 0x1000 = 0x1\n    mmsim> quit\n"
    try:
        walk_tutorial(wrong, "wrong.md")
        check(False, "a wrong output was accepted")
    except AssertionError as e:
        check("but the text shows" in str(e), str(e))


@case("docs/language.md: every example scenario runs")
def _():
    text = open(os.path.join(ROOT, "docs", "language.md")).read()
    examples = [lines for _, lines in code_blocks(text) if lines[0].startswith("machine ")]
    check(len(examples) >= 5, len(examples))
    d = workdir()
    for lines in examples:
        scn = "\n".join(lines) + "\n"
        rc, out, err = run(["run", "--audit", "-"], stdin=scn, cwd=d)
        check(rc == 0, (scn, err))


@case("docs/language.md: its command line is `mmsim --help`'s, both ways")
def _():
    _, usage, _ = run(["--help"])
    usage = usage.split("The scenario language")[0]
    text = open(os.path.join(ROOT, "docs", "language.md")).read()
    section = text.split("## The command line")[1].split("\n## ")[0]
    opts = lambda s: set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", s))  # noqa: E731
    subs = lambda s: set(re.findall(r"mmsim ([a-z]+)", s))  # noqa: E731
    check(opts(usage) <= opts(section), opts(usage) - opts(section))
    check(subs(usage) <= subs(section), subs(usage) - subs(section))
    synopsis = section.split("\n\n")[1]
    check(opts(synopsis) <= opts(usage), opts(synopsis) - opts(usage))
    check(subs(synopsis) <= subs(usage), subs(synopsis) - subs(usage))


@case("no file of the repository points outside it")
def _():
    bad = re.compile(r"\.\./shared|shared/(design|reference)|SCENARIO-LANGUAGE\.md|"
                     r"ARCHITECTURE\.md|TOOLING\.md|x86-paging\.md|linux-reclaim\.md|"
                     r"teaching-anchors\.md|redox-mm\.md|the contract file")
    here = os.path.dirname(os.path.abspath(__file__))
    found = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and
                   os.path.join(top, d) != os.path.join(ROOT, "fuzz", "corpus")]
        for f in files:
            path = os.path.join(top, f)
            if top == here and f.endswith(".py"):
                continue  # the tests that look for these words
            try:
                text = open(path, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            found += [f"{os.path.relpath(path, ROOT)}:{n}"
                      for n, line in enumerate(text.splitlines(), 1) if bad.search(line)]
    check(not found, found)


cli_harness.finish()
