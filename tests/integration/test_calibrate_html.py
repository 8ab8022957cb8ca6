#!/usr/bin/python3
"""Browser test of `leadscore calibrate --html`: generates history
(bench/gen_history.py, 3000 leads, fixed seed), writes the report as an
HTML page, and renders that page in a real browser (Debian's chromium,
headless), checking what a person would see:

- the screenshot has the window's size and shows the charts: pixels of the
  won and lost series (histogram of totals), of the heat map's ramp of
  greens in several shades (close rate per grid cell), of the lift bars
  and of the calibration curve, each in a meaningful amount; the same page
  with its SVG charts taken out must show none of them, so the counts come
  from the charts and a page whose charts are not drawn fails;
- the DOM (chromium --dump-dom) has the four charts, each an inline SVG
  with drawn shapes, and the headline table with the AUCs, the grid
  qualification and the leads the JSON report gives; no script, and no
  resource from elsewhere.

Also: --help names --html, and a file that cannot be written is named.
Skips (exit 77, with the reason) only when chromium or python3-pil is not
installed; scripts/install-deps.sh installs both.
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from clitest import (SRC, check, finish, gen_history)
from clitest import run as cli_run

TIMEOUT = 120

MODEL = os.path.join(SRC, "bench", "history_model.yaml")
SEED = 7
LEADS = 3000
WIDTH, HEIGHT = 1200, 2400
BROWSER_TIMEOUT = 60
SKIP = 77

# The colours of ls_calib_html.c's series, and how many pixels of each a
# rendered page must have (about a quarter of what it shows with seed 7).
SERIES = {
    "won": ((31, 119, 180), 600),
    "lost": ((255, 127, 14), 2000),
    "lift": ((106, 81, 163), 6000),
    "calibration": ((214, 39, 40), 250),
}
HEAT0, HEAT1 = (229, 245, 224), (0, 109, 44)  # close rate 0 and 1
HEAT_MIN_PIXELS = 20000
HEAT_MIN_SHADES = 6
CHART_IDS = ["chart-scores", "chart-cells", "chart-lift", "chart-calibration"]


def run(args):
    return cli_run(["calibrate"] + args, timeout=TIMEOUT)


def skip(why):
    print("skip: " + why)
    sys.exit(SKIP)


def browser():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(exe, tmp, args, url):
    """Runs headless chromium on @url: (status, stdout). --no-sandbox: the
    sandbox cannot start as root or in most containers; a profile of its
    own, so that runs never share one."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)
    cmd = [exe, "--headless", "--disable-gpu", "--no-sandbox",
           "--disable-dev-shm-usage", "--hide-scrollbars",
           "--no-first-run", "--user-data-dir=" + profile] + args + [url]
    env = dict(os.environ, HOME=tmp)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=BROWSER_TIMEOUT, env=env)
    if p.returncode:
        sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
    return p.returncode, p.stdout.decode(errors="replace")


def screenshot(exe, tmp, page, out):
    rc, _ = chromium(exe, tmp, ["--screenshot=" + out,
                                "--window-size=%d,%d" % (WIDTH, HEIGHT)],
                     "file://" + page)
    return rc


def heat_t(c):
    """(t, distance): where colour @c lies on the heat map's ramp."""
    d = [b - a for a, b in zip(HEAT0, HEAT1)]
    t = sum((ci - a) * di for ci, a, di in zip(c, HEAT0, d)) / sum(di * di for di in d)
    t = min(1.0, max(0.0, t))
    p = [a + t * di for a, di in zip(HEAT0, d)]
    return t, sum((ci - pi) ** 2 for ci, pi in zip(c, p)) ** 0.5


def chart_pixels(png):
    """Pixels of each series' colour, of the heat ramp, and the number of
    distinct shades of the ramp (each of 50 pixels or more)."""
    from PIL import Image
    im = Image.open(png).convert("RGB")
    counts = {k: 0 for k in SERIES}
    heat, shades = 0, set()
    for n, c in im.getcolors(im.size[0] * im.size[1]):
        for k, (rgb, _) in SERIES.items():
            if max(abs(a - b) for a, b in zip(c, rgb)) <= 8:
                counts[k] += n
        t, dist = heat_t(c)
        if dist <= 4 and n >= 50:
            heat += n
            shades.add(round(t * 20))
    return im.size, counts, heat, len(shades)


class Dom(html.parser.HTMLParser):
    """The parts of the rendered DOM the test looks at."""

    def __init__(self):
        super().__init__()
        self.figures = {}      # id -> {"svg": n, "shapes": n}
        self.figure = None
        self.defs = 0          # depth inside <defs> / <symbol>
        self.cells = {}        # td or pre id -> its text
        self.open = []         # the td / pre with an id that are open
        self.tables = []
        self.scripts = 0
        self.foreign = []      # src / href that point elsewhere
        self.stack = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(tag)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href", "xlink:href"):
            if k in a and a[k] is not None and not a[k].startswith("#"):
                self.foreign.append((tag, k, a[k]))
        if tag == "link":
            self.foreign.append((tag, "link", a.get("href")))
        if tag == "table":
            self.tables.append(a.get("id"))
        if tag == "figure" and a.get("id"):
            self.figure = a["id"]
            self.figures[self.figure] = {"svg": 0, "shapes": 0}
        if self.figure:
            if tag == "svg":
                self.figures[self.figure]["svg"] += 1
            elif tag in ("defs", "symbol"):
                self.defs += 1
            elif tag in ("path", "rect", "use") and not self.defs:
                self.figures[self.figure]["shapes"] += 1
        if tag in ("td", "pre") and a.get("id"):
            self.open.append((tag, a["id"]))
            self.cells[a["id"]] = ""

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        if tag in ("defs", "symbol") and self.defs:
            self.defs -= 1
        if tag == "figure":
            self.figure = None
        if self.open and self.open[-1][0] == tag:
            self.open.pop()

    def handle_data(self, data):
        for _, i in self.open:
            self.cells[i] += data


def main():
    exe = browser()
    if not exe:
        skip("chromium is not installed (scripts/install-deps.sh installs it)")
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        skip("python3-pil is not installed (scripts/install-deps.sh installs it)")

    tmp = tempfile.mkdtemp(prefix="ls-calibrate-html-")
    hist, outc = gen_history(tmp, LEADS, SEED, TIMEOUT)
    base = ["--model", MODEL, "--input", hist, "--outcomes", outc]
    page = os.path.join(tmp, "report.html")

    rc, out, err = run(base + ["--json", "--html", page])
    check(rc == 0, "calibrate --json --html exits 0 (%d: %s)" % (rc, err))
    rep = json.loads(out)
    check(os.path.getsize(page) > 10000, "the page is written (%d bytes)" % os.path.getsize(page))
    with open(page, encoding="utf-8") as f:
        text = f.read()
    check(text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>"),
          "the page is one whole HTML document")

    # the screenshot shows the charts
    shot = os.path.join(tmp, "report.png")
    rc = screenshot(exe, tmp, page, shot)
    check(rc == 0 and os.path.exists(shot), "chromium renders the page (%d)" % rc)
    if not os.path.exists(shot):
        finish()
    size, counts, heat, shades = chart_pixels(shot)
    print("screenshot %s: %s, heat map %d pixels in %d shades"
          % (size, counts, heat, shades))
    check(size == (WIDTH, HEIGHT), "the screenshot is %dx%d: %s" % (WIDTH, HEIGHT, size))
    for k, (rgb, least) in SERIES.items():
        check(counts[k] >= least, "%s series %s: %d pixels >= %d" % (k, rgb, counts[k], least))
    check(heat >= HEAT_MIN_PIXELS, "heat map: %d pixels >= %d" % (heat, HEAT_MIN_PIXELS))
    check(shades >= HEAT_MIN_SHADES,
          "heat map: %d shades of the ramp >= %d (the colour follows the rate)"
          % (shades, HEAT_MIN_SHADES))

    # the same page without its charts shows none of them: the counts
    # above come from the charts
    bare = os.path.join(tmp, "bare.html")
    with open(bare, "w", encoding="utf-8") as f:
        f.write(re.sub(r"<svg\b.*?</svg>", "", text, flags=re.S))
    bare_shot = os.path.join(tmp, "bare.png")
    rc = screenshot(exe, tmp, bare, bare_shot)
    check(rc == 0 and os.path.exists(bare_shot), "chromium renders the bare page (%d)" % rc)
    if os.path.exists(bare_shot):
        _, bcounts, bheat, _ = chart_pixels(bare_shot)
        print("without the charts: %s, heat map %d pixels" % (bcounts, bheat))
        check(all(bcounts[k] < least for k, (_, least) in SERIES.items())
              and bheat < HEAT_MIN_PIXELS,
              "without its charts the page fails the pixel checks: %s, %d" % (bcounts, bheat))

    # the DOM: four charts with drawn shapes, and the headline numbers
    rc, dom_text = chromium(exe, tmp, ["--dump-dom"], "file://" + page)
    check(rc == 0 and "<html" in dom_text, "chromium dumps the DOM (%d)" % rc)
    dom = Dom()
    dom.feed(dom_text)
    check(sorted(dom.figures) == sorted(CHART_IDS), "the four charts: %s" % sorted(dom.figures))
    for fid in CHART_IDS:
        fig = dom.figures.get(fid, {"svg": 0, "shapes": 0})
        check(fig["svg"] == 1 and fig["shapes"] >= 20,
              "%s: one inline SVG with drawn shapes (%s)" % (fid, fig))
    check("headline" in dom.tables, "the headline table")
    check(dom.scripts == 0, "no script")
    check(not dom.foreign, "no resource from elsewhere: %s" % dom.foreign[:3])
    cells = dom.cells
    want = {
        "auc-test": "%.4f" % rep["evaluation"]["auc"],
        "auc-points": "%.4f" % rep["evaluation"]["auc_points"],
        "auc-train": "%.4f" % rep["logistic"]["auc_train"],
    }
    for k, v in want.items():
        check(cells.get(k, "").strip() == v, "table %s: %r == %r" % (k, cells.get(k), v))
    check(cells.get("leads", "").startswith("%d (%d with an outcome"
                                            % (rep["leads"], rep["base"]["leads"])),
          "table leads: %r" % cells.get("leads"))
    check(("total >= %g" % rep["threshold"]["threshold"]) in cells.get("threshold", ""),
          "table threshold: %r" % cells.get("threshold"))
    g = rep["grid"]
    check(cells.get("grid", "").startswith("min_grade %s, min_band %s" % (g["min_grade"], g["min_band"])),
          "table grid: %r" % cells.get("grid"))
    check(cells.get("grid-yaml") == g["yaml"], "the grid as YAML: %r" % cells.get("grid-yaml"))
    check(rep["model"] in cells.get("model", ""), "table model: %r" % cells.get("model"))

    # --help; a file that cannot be written is named
    rc, out, err = run(["--help"])
    check(rc == 0 and "--html FILE" in out, "--help names --html")
    nowhere = os.path.join(tmp, "no", "such", "dir", "r.html")
    rc, out, err = run(base + ["--html", nowhere])
    check(rc == 1 and nowhere in err, "an unwritable --html file is named, exit 1 (%d: %s)"
          % (rc, err.strip()))
    shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
