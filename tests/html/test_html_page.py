#!/usr/bin/env python3
"""The --html page in a real browser: one headless Chromium, driven over the DevTools
protocol on a pipe (python's standard library only), loads the page from the file, steps
through a lesson with the address (#step=N), the arrow keys and the buttons, reads what the
page then shows and checks that a screenshot is not blank.

usage: test_html_page.py MMSIM SOURCE_ROOT
Exit 77 (skipped) only when no Chromium is installed (`apt-get install chromium`).
Prints a Check-style summary line like the other Python tests.
"""
import base64
import fcntl
import json
import os
import re
import shutil
import select
import struct
import subprocess
import sys
import tempfile
import time
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


class Browser:
    """Chromium with --remote-debugging-pipe: DevTools messages (JSON, each ended by a NUL)
    go in on its fd 3 and come out on its fd 4."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(dir=WORK)
        to_r, self.w = os.pipe()
        self.r, from_w = os.pipe()
        # out of the way of 3 and 4, which the child's ends become
        hi_r, hi_w = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.close(to_r)
        os.close(from_w)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)
        self.p = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             "--window-size=1100,800", "--hide-scrollbars", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(hi_r)
        os.close(hi_w)
        self.buf, self.id, self.events = b"", 0, []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=True)

    def _read(self, timeout=120):
        end = time.time() + timeout
        while b"\0" not in self.buf:
            left = end - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("the browser did not answer")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise EOFError("the browser closed its pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=False):
        self.id += 1
        m = {"id": self.id, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = self.session
        os.write(self.w, json.dumps(m).encode() + b"\0")
        while True:
            r = self._read()
            if r.get("id") == self.id:
                if "error" in r:
                    raise RuntimeError(f"{method}: {r['error']}")
                return r["result"]
            self.events.append(r)

    def open(self, url):
        """Loads url afresh (a change of the address's #part alone loads nothing, so by way
        of an empty page) and waits until the page and its script have run."""
        for u in ("about:blank", url):
            self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
            self.send("Page.navigate", {"url": u}, session=True)
            while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
                self.events.append(self._read())

    def js(self, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      session=True)
        check("exceptionDetails" not in r, r.get("exceptionDetails"))
        return r["result"].get("value")

    def key(self, name, code):
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": name, "code": name,
                                                 "windowsVirtualKeyCode": code}, session=True)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        open(path, "wb").write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:  # already gone: nothing to close
            pass
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        os.close(self.w)
        os.close(self.r)


BROWSER = Browser()


def text_of(ident):
    """What the element with this id shows now."""
    t = BROWSER.js(f"(function(e){{return e ? e.innerText : null}})(document.getElementById({ident!r}))")
    check(t is not None, f"no element #{ident}")
    return t


def show(path, step):
    """The page at a step, opened from the file."""
    BROWSER.open(f"file://{path}#step={step}")


def marked(line, cls):
    """Whether source line LINE carries the class CLS (current, done, failed)."""
    return BROWSER.js(f"document.getElementById('L{line}').classList.contains({cls!r})")


PAGES = {}


def page(lesson):
    """The lesson's page (written once): the run's result and the page's path."""
    if lesson not in PAGES:
        out = os.path.join(WORK, os.path.basename(lesson) + ".html")
        p = subprocess.run([MMSIM, "run", os.path.join(ROOT, lesson), "--html", out],
                           capture_output=True, text=True, timeout=300, cwd=WORK)
        PAGES[lesson] = (p, out)
    return PAGES[lesson]


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
                           text=True, timeout=300)
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
    show(path, 0)
    check("step 0 of 19, before the first line" in text_of("step-label"), text_of("step-label"))
    check("Nothing has run yet" in text_of("current-line"), text_of("current-line"))
    check(BROWSER.js("document.getElementById('prev').disabled"), "back is enabled at step 0")


@case("the first write: its line marked, the demand-zero fault, a's page tables, the TLB, frames")
def _():
    _, path = page(LESSON07)
    show(path, 8)
    check("step 8 of 19, line 29" in text_of("step-label"), text_of("step-label"))
    check("line 29: write a 0x400000 1" in text_of("current-line"), text_of("current-line"))
    check(marked(29, "current") and marked(28, "done") and not marked(30, "done"),
          "line 29 is not marked current")
    ev = text_of("events")
    check("a: 1 fault, demand-zero" in ev and "cpu0: 1 page fault (#PF), the last at CR2 0x400000" in ev, ev)
    pr = text_of("processes")
    check("a: running" in pr and "1 pages" in pr and "4 frames" in pr and "demand-zero 1" in pr, pr)
    check("PML4[  0]" in pr and "PT  [  0] 0x000000400000-0x000000400fff" in pr and "-> frame 0x" in pr, pr)
    check("va 0x400000 -> pa 0x" in text_of("tlb0"), text_of("tlb0"))
    check("frame map of [0, 0x2000000)" in text_of("frames"), text_of("frames"))
    check("state normal" in text_of("pressure"), text_of("pressure"))


@case("stepping: arrow keys and buttons move forward and back, and the address follows")
def _():
    _, path = page(LESSON07)
    show(path, 8)
    BROWSER.key("ArrowRight", 39)
    check("step 9 of 19, line 30" in text_of("step-label") and
          BROWSER.js("location.hash") == "#step=9", (text_of("step-label"), BROWSER.js("location.hash")))
    check(marked(29, "done") and marked(30, "current"), "line 30 is not marked current")
    BROWSER.key("ArrowLeft", 37)
    BROWSER.key("ArrowLeft", 37)
    check("step 7 of 19, line 28" in text_of("step-label"), text_of("step-label"))
    check("0 pages" in text_of("processes"), text_of("processes"))  # back before the write
    BROWSER.js("document.getElementById('next').click()")
    check("step 8 of 19" in text_of("step-label"), text_of("step-label"))
    BROWSER.js("document.getElementById('last').click()")
    check("step 19 of 19, line 43" in text_of("step-label"), text_of("step-label"))
    check(BROWSER.js("document.getElementById('next').disabled"), "forward is enabled at the end")
    check("9 pages present" in text_of("output"), text_of("output"))
    pr = text_of("processes")
    check("a: running" in pr and "9 pages" in pr and "segv 1" in pr, pr)
    BROWSER.js("location.hash = '#step=12'")
    BROWSER.js("0")  # the hashchange ran before this answer
    check("line 34: expect rss a == 8" in text_of("current-line"), text_of("current-line"))
    BROWSER.key("Home", 36)
    check("step 0 of 19" in text_of("step-label"), text_of("step-label"))


@case("a failing line is marked and its message shown")
def _():
    src = os.path.join(WORK, "fails.scn")
    open(src, "w").write("machine memory=16M\nspawn a\nmmap a 0x400000 4K rw\n"
                         "expect write a 0x400000 1 -> segv\n")
    out = os.path.join(WORK, "fails.html")
    p = subprocess.run([MMSIM, "run", src, "--html", out], capture_output=True, text=True)
    check(p.returncode == 1 and os.path.exists(out), (p.returncode, p.stderr))
    show(out, 3)
    check("expectation failed" in text_of("status"), text_of("status"))
    check("expected segv, got ok" in text_of("output"), text_of("output"))
    check(marked(4, "failed"), "line 4")


@case("the bare processor: the walk's result and the CPU's TLB")
def _():
    _, path = page("scenarios/teaching/01-walk-by-hand.scn")
    show(path, 6)
    check("expect access 0x7f123456789a read user -> pa 0x9089a" in text_of("current-line"),
          text_of("current-line"))
    check("va 0x7f1234567000 -> pa 0x90000" in text_of("tlb0"), text_of("tlb0"))
    check("no processes" in text_of("processes"), text_of("processes"))


@case("a screenshot of a step is not blank")
def _():
    _, path = page(LESSON07)
    show(path, 8)
    shot = os.path.join(WORK, "step.png")
    BROWSER.screenshot(shot)
    n = len(png_colours(shot))
    check(n >= 12, f"{n} colours")


BROWSER.close()
shutil.rmtree(WORK, ignore_errors=True)
cli_harness.finish()
