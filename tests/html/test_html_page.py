#!/usr/bin/env python3
"""The --html page in a real browser: headless Chromium loads the page from the file, is
sent to given steps through the address (#step=N), and the test reads what the page then
shows (its DOM after the script ran) and checks that a screenshot is not blank.

usage: test_html_page.py MMSIM SOURCE_ROOT
Exit 77 (skipped) only when no Chromium is installed (`apt-get install chromium`).
Prints a Check-style summary line like the other Python tests.
"""
import html
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import cli_harness  # noqa: E402
from cli_harness import case, check  # noqa: E402

cli_harness.init(sys.argv)
MMSIM, ROOT = cli_harness.MMSIM, cli_harness.ROOT
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("SKIP: no chromium (apt-get install chromium)")
    sys.exit(77)

WORK = tempfile.mkdtemp(prefix="mmsim-html-")


def chromium(url, *extra):
    profile = tempfile.mkdtemp(dir=WORK)
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", *extra, url],
                       capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return p


def page(lesson, *args):
    out = os.path.join(WORK, os.path.basename(lesson) + ".html")
    p = subprocess.run([MMSIM, "run", os.path.join(ROOT, lesson), "--html", out, *args],
                       capture_output=True, text=True, timeout=120, cwd=WORK)
    return p, out


def dom(path, step):
    """The text of each element with an id, as the page shows it at the step."""
    p = chromium(f"file://{path}#step={step}", "--dump-dom")
    check(p.returncode == 0 and "<html" in p.stdout, (p.returncode, p.stderr[-400:]))
    return p.stdout


def text_of(doc, ident):
    m = re.search(r'<(\w+)[^>]*\bid="%s"[^>]*>(.*?)</\1>' % re.escape(ident), doc, re.S)
    check(m, f"no element #{ident}")
    return html.unescape(re.sub(r"<[^>]+>", "\n", m.group(2)))


def marked(doc, line, cls):
    """Whether source line LINE carries the class CLS (current, done, failed)."""
    m = re.search(r'<li[^>]*\bid="L%d"[^>]*>' % line, doc)
    return bool(m and re.search(r'class="[^"]*\b%s\b' % cls, m.group(0)))


def png_colours(path):
    """Distinct pixel colours of a PNG (8-bit RGB or RGBA, not interlaced)."""
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    width, height, depth, ctype, _, _, interlace = ihdr
    check(depth == 8 and ctype in (2, 6) and interlace == 0, ihdr)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, colours = bytearray(stride), set()
    for y in range(height):
        f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                row[i] = (row[i] + a) & 255
            elif f == 2:
                row[i] = (row[i] + b) & 255
            elif f == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            colours.update(bytes(row[x:x + 3]) for x in range(0, stride, bpp * 2))
        prev = row
    return colours


LESSON07 = "scenarios/teaching/07-demand-paging.scn"


@case("a lesson's page: written, self-contained, the run's output unchanged")
def _():
    plain = subprocess.run([MMSIM, "run", os.path.join(ROOT, LESSON07)], capture_output=True,
                           text=True, timeout=120)
    p, path = page(LESSON07)
    check(p.returncode == 0 and p.stdout == plain.stdout and p.stderr == plain.stderr,
          (p.returncode, p.stderr))
    text = open(path, encoding="utf-8").read()
    # nothing to fetch: no external script, style, image or link
    check(not re.search(r'\b(src|href)=', text), "the page loads something")
    check(text.count("<script") == 2 and "<style>" in text, "inline script and style")
    check("demand paging \u2014 mmap" in text, "UTF-8 of the source kept")


@case("step 0: nothing has run; the address picks the step")
def _():
    _, path = page(LESSON07)
    d = dom(path, 0)
    check("step 0 of 19, before the first line" in text_of(d, "step-label"), text_of(d, "step-label"))
    check("Nothing has run yet" in text_of(d, "current-line"), text_of(d, "current-line"))


@case("the first write: its line marked, the demand-zero fault, a's page tables, the TLB, frames")
def _():
    _, path = page(LESSON07)
    d = dom(path, 8)
    check("step 8 of 19, line 29" in text_of(d, "step-label"), text_of(d, "step-label"))
    check("line 29: write a 0x400000 1" in text_of(d, "current-line"), text_of(d, "current-line"))
    check(marked(d, 29, "current") and marked(d, 28, "done") and not marked(d, 30, "done"),
          "line 29 is not marked current")
    ev = text_of(d, "events")
    check("a: 1 fault, demand-zero" in ev and "cpu0: 1 page fault (#PF), the last at CR2 0x400000" in ev, ev)
    pr = text_of(d, "processes")
    check("a: running" in pr and "1 pages" in pr and "4 frames" in pr and "demand-zero 1" in pr, pr)
    check("PML4[  0]" in pr and "PT  [  0] 0x000000400000-0x000000400fff" in pr and "-> frame 0x" in pr, pr)
    check("va 0x400000 -> pa 0x" in text_of(d, "tlb0"), text_of(d, "tlb0"))
    check("frame map of [0, 0x2000000)" in text_of(d, "frames"), text_of(d, "frames"))
    check("state normal" in text_of(d, "pressure"), text_of(d, "pressure"))


@case("a later step and the last: the state moves forward, and back again")
def _():
    _, path = page(LESSON07)
    d = dom(path, 12)
    check("line 34: expect rss a == 8" in text_of(d, "current-line"), text_of(d, "current-line"))
    check("8 pages" in text_of(d, "processes"), text_of(d, "processes"))
    d = dom(path, 19)
    check("step 19 of 19, line 43" in text_of(d, "step-label"), text_of(d, "step-label"))
    check("9 pages present" in text_of(d, "output"), text_of(d, "output"))
    d = dom(path, 3)
    check("a: running" in text_of(d, "processes") and "0 pages" in text_of(d, "processes"),
          text_of(d, "processes"))


@case("a failing line is marked and its message shown")
def _():
    src = os.path.join(WORK, "fails.scn")
    open(src, "w").write("machine memory=16M\nspawn a\nmmap a 0x400000 4K rw\n"
                         "expect write a 0x400000 1 -> segv\n")
    out = os.path.join(WORK, "fails.html")
    p = subprocess.run([MMSIM, "run", src, "--html", out], capture_output=True, text=True)
    check(p.returncode == 1 and os.path.exists(out), (p.returncode, p.stderr))
    d = dom(out, 3)
    check("expectation failed" in text_of(d, "status"), text_of(d, "status"))
    check("expected segv, got ok" in text_of(d, "output"), text_of(d, "output"))
    check(marked(d, 4, "failed"), "line 4")


@case("the bare processor: the walk's result and the CPU's TLB")
def _():
    _, path = page("scenarios/teaching/01-walk-by-hand.scn")
    d = dom(path, 6)
    check("expect access 0x7f123456789a read user -> pa 0x9089a" in text_of(d, "current-line"),
          text_of(d, "current-line"))
    check("va 0x7f1234567000 -> pa 0x90000" in text_of(d, "tlb0"), text_of(d, "tlb0"))
    check("no processes" in text_of(d, "processes"), text_of(d, "processes"))


@case("a screenshot of a step is not blank")
def _():
    _, path = page(LESSON07)
    shot = os.path.join(WORK, "step.png")
    p = chromium(f"file://{path}#step=8", f"--screenshot={shot}", "--window-size=1100,800",
                 "--hide-scrollbars")
    check(p.returncode == 0 and os.path.exists(shot), p.stderr[-400:])
    n = len(png_colours(shot))
    check(n >= 12, f"{n} colours")


shutil.rmtree(WORK, ignore_errors=True)
cli_harness.finish()
