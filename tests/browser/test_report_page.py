"""The `leakwatch report --html` page in a real browser (label `report`).

Debian's headless Chromium loads the page made from a real capture (tests/fixtures/report/
story.log: a function killed at its memory limit, the death the next environment told, a
Managed Instances environment, and lines forged to look like leakwatch's), and the test reads the
DOM the browser built, not the bytes the report wrote:

- the verdict, the chart (<svg>) and the table of invocations are where the page puts them, in
  that order, so no string from the log closed an element or opened one;
- nothing ran: the forged lines try `window.__pwned = 1`;
- at 1280 px, a laptop's window, the page does not scroll sideways;
- Chromium logged no console message (the page has no script: any message is an error, a
  blocked load or a parse error).

The page itself has no script. To measure it, the test loads a copy with one script appended
that writes what it measured into the DOM, which --dump-dom then shows. A control page first
proves that this Chromium runs, that its console messages reach the log, and that the width
check can fail: when Chromium cannot run the test is skipped (exit 77) and says why.

Standard library only. Usage: test_report_page.py LEAKWATCH_BINARY SOURCE_DIR
"""
import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
WIDTH = 1280

PROBE = """<script>
(function () {
    var d = document.documentElement, b = document.body;
    b.setAttribute("data-scroll-width", String(d.scrollWidth));
    b.setAttribute("data-client-width", String(d.clientWidth));
    b.setAttribute("data-pwned", String(window.__pwned));
})();
</script>
"""

CONTROL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>control</title></head>
<body><div style="width:%dpx">wider than the window</div>
<script>console.error("leakwatch-control-message");</script>
</body></html>
""" % (WIDTH * 2)


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.kids = []
        self.text = []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        return "".join(self.text) + "".join(k.all_text() for k in self.kids)

    def find(self, tag=None, cls=None):
        out = []
        for k in self.kids:
            if (tag is None or k.tag == tag) and (cls is None or cls in k.classes()):
                out.append(k)
            out.extend(k.find(tag, cls))
        return out


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Dom(html.parser.HTMLParser):
    """The serialised DOM as a tree; Chromium writes it well nested, closing every element."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [], None)
        self.at = self.root
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.at)
        self.at.kids.append(node)
        if tag not in VOID:
            self.at = node

    def handle_startendtag(self, tag, attrs):
        self.at.kids.append(Node(tag, attrs, self.at))

    def handle_endtag(self, tag):
        n = self.at
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.at = n.parent

    def handle_data(self, data):
        # text after a child goes with the parent: all_text() keeps document order well enough
        # for the checks below, which look at leaf elements or search with `in`
        self.at.text.append(data)


def chromium():
    for name in (os.environ.get("LW_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def load(browser, path, profile):
    """Chromium's DOM of the page at path, and its console messages."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--disable-sync",
           "--user-data-dir=" + profile, "--window-size=%d,900" % WIDTH,
           "--enable-logging=stderr", "--v=0", "--dump-dom", "file://" + path]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=180)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return p.returncode, p.stdout, console, p.stderr


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def measured(dom):
    body = dom.root.find("body")
    check(len(body) == 1, "no single <body> in the DOM")
    a = body[0].attrs
    check("data-scroll-width" in a, "the probe did not run: no measurement in the DOM")
    return int(a["data-scroll-width"]), int(a["data-client-width"]), a.get("data-pwned")


def with_probe(page, out):
    with open(page, encoding="utf-8") as f:
        text = f.read()
    check(text.count("</body>") == 1, "the page has no single </body>")
    check("<script" not in text, "the page itself has a script")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", PROBE + "</body>"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    leakwatch, source = sys.argv[1], sys.argv[2]
    browser = chromium()
    if not browser:
        print("SKIP: no chromium in PATH (tests/install-deps installs Debian's chromium)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="lw-browser-")
    try:
        profile = os.path.join(tmp, "profile")
        # 1. the control page: Chromium runs, its console reaches us, the width check bites
        control = os.path.join(tmp, "control.html")
        with open(control, "w", encoding="utf-8") as f:
            f.write(CONTROL.replace("</body>", PROBE + "</body>"))
        try:
            rc, dom_text, console, err = load(browser, control, profile)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("SKIP: chromium cannot run here: %s" % e)
            return SKIP
        if rc != 0 or "<body" not in dom_text:
            tail = "\n".join(err.strip().splitlines()[-5:])
            print("SKIP: chromium cannot run here (exit %d, no DOM):\n%s" % (rc, tail))
            return SKIP
        check(any("leakwatch-control-message" in c for c in console),
              "the control page's console message is not in Chromium's log: the console check "
              "would see nothing")
        scroll, client, _ = measured(Dom(dom_text))
        check(client <= WIDTH and client >= WIDTH - 40,
              "the window is %d px wide, not about %d" % (client, WIDTH))
        check(scroll > client, "the control page's wide element did not scroll sideways")

        # 2. the page of the real capture
        page = os.path.join(tmp, "story.html")
        log = os.path.join(source, "tests", "fixtures", "report", "story.log")
        p = subprocess.run([leakwatch, "report", "--html", page, log], capture_output=True,
                           text=True, timeout=60)
        check(p.returncode == 0, "leakwatch report failed: %s" % p.stderr)
        probed = os.path.join(tmp, "story-probed.html")
        with_probe(page, probed)
        rc, dom_text, console, err = load(browser, probed, profile)
        check(rc == 0, "chromium exited %d on the page:\n%s" % (rc, err[-2000:]))
        check(not console, "console messages:\n" + "\n".join(console))
        dom = Dom(dom_text)
        scroll, client, pwned = measured(dom)
        check(scroll <= client,
              "the page scrolls sideways at %d px: %d px wide" % (client, scroll))
        check(pwned == "undefined", "a forged line ran: window.__pwned is %s" % pwned)
        check(not dom.root.find("img"), "a forged line became an <img>")
        scripts = dom.root.find("script")
        check(len(scripts) == 1, "%d scripts in the DOM, only the probe expected" % len(scripts))

        deaths = dom.root.find("p", "deaths")
        check(len(deaths) == 1, "no deaths line at the top")
        check("predicted 1 of 1 out-of-memory death" in deaths[0].all_text(),
              "the deaths line says: " + deaths[0].all_text())
        sections = dom.root.find("section", "environment")
        check(len(sections) == 4, "%d environment sections, expected 4" % len(sections))
        for sec in sections:
            title = sec.find("h2")[0].all_text()
            kids = [k for k in sec.kids if k.tag in ("dl", "figure", "table")]
            check([k.tag for k in kids] == ["dl", "figure", "table"],
                  "%s: %s, expected the answer, the chart, the table" %
                  (title, [k.tag for k in kids]))
            dl, fig, table = kids
            check("answer" in dl.classes(), title + ": the <dl> is not the answer")
            verdict = dl.find("dd", "verdict")
            check(len(verdict) == 1 and verdict[0].find("strong", "kind"),
                  title + ": no verdict")
            check(len(fig.find("svg")) == 1, title + ": no <svg> in the chart's figure")
            check(fig.find("svg")[0].find("polyline", "series"), title + ": no series drawn")
            rows = table.find("tbody")[0].find("tr") if table.find("tbody") else []
            heads = table.find("th")
            check(len(heads) == 15, "%s: %d column headings" % (title, len(heads)))
            for r in rows:
                check(len(r.find("td")) == 15, "%s: a row of %d cells" % (title, len(r.find("td"))))
            check(rows, title + ": the table has no rows")

        died = [s for s in sections if "cede52a7" in s.find("h2")[0].all_text()]
        check(len(died) == 1, "the environment that died is not on the page")
        sec = died[0]
        kind = sec.find("strong", "kind")[0].all_text()
        check(kind == "leak-critical", "its verdict is " + kind)
        death = sec.find("dd", "death")[0].all_text()
        check(death.startswith("Runtime.OutOfMemory in invocation 64") and
              "predicted 33 invocations" in death and "3.8% off" in death,
              "its death says: " + death)
        culprit = sec.find("dd", "culprit")[0].all_text()
        check("leak, pid 19065" in culprit, "its culprit says: " + culprit)
        check(len(sec.find("svg")[0].find("line", "death")) == 1, "no death line on its chart")
        row = sec.find("tr", "death")
        check(len(row) == 1 and row[0].find("td")[0].all_text() == "64",
              "no row of invocation 64 marked as the death")

        forged = [s for s in sections if "forged-env<b>" in s.find("h2")[0].all_text()]
        check(len(forged) == 1, "the forged environment's id did not stay text")
        check("<img src=x" in forged[0].find("h2")[0].all_text(),
              "the forged function name did not stay text")
        print("ok: %d sections, the verdict, the chart and the table in place, %d px wide at "
              "%d px, no console message" % (len(sections), scroll, client))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
