"""The web interface's build: two builds from the same sources give the same bytes; index.html loads
only from the node and sets a Content-Security-Policy of 'self'; the first load (index.html, the
stylesheet, the entry and the chunks it imports statically) stays under its budget, the consoles'
code in a chunk of its own."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from pvetest import TOP, Skip, case, expect, run  # noqa: E402

WEB = os.path.join(TOP, "web")
# What a first visit fetches before the tree can draw: about 90 KB today.
FIRST_LOAD_BUDGET = 150 * 1024
state = {}


def build(out):
    r = subprocess.run(["node", os.path.join(WEB, "build.mjs"), out], capture_output=True, text=True, cwd=WEB)
    expect(r.returncode == 0, f"build: {r.returncode} {r.stderr[-1000:]}")


def files(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))}


@case
def build_is_reproducible(tmp):
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    build(a)
    build(b)
    fa, fb = files(a), files(b)
    expect(list(fa) == list(fb), (list(fa), list(fb)))
    differ = [f for f in fa if fa[f] != fb[f]]
    expect(not differ, f"differ: {differ}")
    state["out"] = fa


@case
def index_loads_only_from_the_node(tmp):
    if "out" not in state:
        raise Skip("no build")
    html = state["out"]["index.html"].decode()
    expect("Content-Security-Policy" in html and "default-src 'self'" in html, "no CSP of 'self'")
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    expect(refs and all(r.startswith("/") or r.startswith("data:") for r in refs), refs)
    for name, body in state["out"].items():
        if name.endswith(".js"):
            # static imports between chunks are relative: "./c-HASH.js" (a "from" that ends a
            # name, as in "email_from", is no import)
            for imp in re.findall(rb'(?<![\w$])from"([^"]+)"', body):
                expect(imp.startswith(b"./"), f"{name} imports {imp!r}")


@case
def first_load_within_budget(tmp):
    if "out" not in state:
        raise Skip("no build")
    out = state["out"]
    seen, todo = set(), ["app.js"]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        # static imports only (import("./x") is a lazy chunk)
        todo += [m.decode() for m in re.findall(rb'(?:^|[;}\s])import[^("]*from"\./([^"]+)"', out[f])]
        todo += [m.decode() for m in re.findall(rb'(?:^|[;}\s])import"\./([^"]+)"', out[f])]
    size = sum(len(out[f]) for f in seen) + len(out["index.html"]) + len(out["app.css"])
    expect(size < FIRST_LOAD_BUDGET, f"first load {size} bytes ({sorted(seen)}), budget {FIRST_LOAD_BUDGET}")
    lazy = [f for f in out if f.endswith(".js") and f not in seen]
    expect(any(b"RFB" in out[f] and b"xterm" in out[f] for f in lazy), f"the consoles are not lazy: {lazy}")
    print(f"# first load {size} bytes in {len(seen) + 2} files; lazy: {lazy}")


def main():
    if not shutil.which("node") or not os.path.isdir(os.path.join(WEB, "node_modules", "esbuild")):
        print("skip web-build: no node or no web/node_modules (make, with npm)")
        return 0
    tmp = tempfile.mkdtemp(prefix="pved-webbuild-")
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
