#!/usr/bin/python3
# timeout: 240
"""The web interface in Firefox: Debian's firefox-esr, headless, driven over WebDriver BiDi (Firefox's
own remote protocol; Playwright's Firefox needs its own build, puppeteer a dozen packages) by a small
client here. On a node of its own: the login form, the tree, every datacenter and node panel without an
error, Datacenter -> Options edited through its dialog, the laptop width without sideways scrolling,
and logout. The pages run the same application as in Chromium (tests/web/steps.mjs); what differs
between the browsers is the engine. Needs root and firefox-esr; the test ends Firefox by its PID and
removes its profile."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from pvetest import Node, WebSocketClient, case, expect, free_port, run  # noqa: E402

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
state = {}


class Bidi(WebSocketClient):
    """WebDriver BiDi over a plain websocket to Firefox on loopback: commands by id, events skipped."""

    def __init__(self, port):
        deadline = time.time() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        super().__init__(sock, f"127.0.0.1:{port}", "/session")
        expect(self.accepted, self.head[:200])
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.send(json.dumps({"id": self.next_id, "method": method, "params": params}).encode(),
                  opcode=1)
        while True:
            m = json.loads(self.recv_message())
            if m.get("id") != self.next_id:
                continue  # an event
            if m.get("type") == "error":
                raise AssertionError(f"{method}: {m.get('error')}: {m.get('message')}")
            return m["result"]


def js(code, timeout=15):
    """Runs an async function body in the page until it returns a truthy value (or the time is up):
    its result as JSON."""
    b, ctx = state["bidi"], state["ctx"]
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        r = b.call("script.evaluate", expression=f"(async () => {{ {code} }})()",
                   target={"context": ctx}, awaitPromise=True, resultOwnership="none")
        if r.get("type") == "exception":
            last = r["exceptionDetails"].get("text")
        else:
            v = r["result"]
            if v.get("type") == "string":
                out = json.loads(v["value"])
                if out:
                    return out
                last = out
        time.sleep(0.2)
    raise AssertionError(f"page check did not pass in {timeout} s: {last}")


def navigate(url):
    state["bidi"].call("browsingContext.navigate", context=state["ctx"], url=url, wait="complete")


# Setting an input's value the way typing does: the element's own setter, then an input event (Preact
# listens for those).
SET = """
const set = (sel, v) => {
  const el = document.querySelector(sel);
  if (!el) return false;
  const proto = el.tagName === 'SELECT' ? HTMLSelectElement.prototype : el.tagName === 'TEXTAREA' ?
    HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, v);
  el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input', { bubbles: true }));
  return true;
};
// Preact renders after the events: a click waits for that, so the handler sees what was typed.
const settle = () => new Promise((r) => setTimeout(r, 100));
const button = (text) => [...document.querySelectorAll('main.content button, [role=dialog] button')]
  .find((b) => b.textContent.trim() === text);
"""


@case
def login_and_tree(n):
    navigate(state["url"] + "/")
    js("return JSON.stringify(!!document.querySelector('select[name=realm] option[value=pve]'));")
    js(SET + f"""
       set('input[name=username]', 'admin'); set('input[name=password]', {json.dumps(n.admin_password)});
       set('select[name=realm]', 'pve');
       await settle();
       document.querySelector('form.login button[type=submit]').click();
       return JSON.stringify(true);""")
    who = js("const w = document.querySelector('.who'); return JSON.stringify(w && w.textContent);")
    expect(who == "admin@pve", who)
    js(f"return JSON.stringify(!!document.querySelector('.tree [data-id=\"node/{n.name}\"]'));")
    ua = js("return JSON.stringify(navigator.userAgent);")
    expect("Firefox/" in ua, ua)


@case
def every_panel_opens(n):
    bad = []
    for item in ("root", f"node/{n.name}", f"storage/{n.name}/local"):
        navigate(f"{state['url']}/#{item.replace('/', '%2F')}")
        tabs = js("const t = [...document.querySelectorAll('main.content [role=tab]')]"
                  ".map((x) => x.textContent); return JSON.stringify(t.length ? t : null);")
        for t in tabs:
            if t in ("Shell", "Console"):
                continue
            js(f"""const t = [...document.querySelectorAll('main.content [role=tab]')]
                   .find((x) => x.textContent === {json.dumps(t)}); if (!t) return 'false';
                   t.click(); await new Promise((r) => setTimeout(r, 600)); return 'true';""")
            errs = js("return JSON.stringify([...document.querySelectorAll('main.content .error')]"
                      ".map((e) => e.textContent).concat(['']));")
            bad += [f"{item} {t}: {e}" for e in errs if e]
    expect(not bad, bad[:4])


@case
def datacenter_options_dialog(n):
    navigate(state["url"] + "/#root")
    js("""const t = [...document.querySelectorAll('main.content [role=tab]')]
          .find((x) => x.textContent === 'Options'); if (!t) return 'false'; t.click(); return 'true';""")
    js(SET + "const b = button('Edit'); if (!b || b.disabled) return 'false'; b.click(); return 'true';")
    js(SET + """if (!document.querySelector('[role=dialog] select[name=keyboard]')) return 'false';
       set('[role=dialog] select[name=keyboard]', 'fr-ch');
       set('[role=dialog] input[name=max_workers]', '4');
       await settle();
       document.querySelector('[role=dialog] button[type=submit]').click(); return 'true';""")
    js("return JSON.stringify(!document.querySelector('[role=dialog]'));")
    r = n.get("/cluster/options")
    expect(r.data.get("keyboard") == "fr-ch" and r.data.get("max_workers") == 4, r.data)


@case
def laptop_width(n):
    state["bidi"].call("browsingContext.setViewport", context=state["ctx"],
                       viewport={"width": 1024, "height": 700})
    navigate(f"{state['url']}/#node%2F{n.name}")
    js("return JSON.stringify(!!document.querySelector('main.content [role=tab]'));")
    wide = js("return JSON.stringify({ w: document.documentElement.scrollWidth, v: innerWidth });")
    expect(wide["w"] <= wide["v"], f"the page scrolls sideways at 1024 px: {wide}")


@case
def logout(n):
    js("""const b = [...document.querySelectorAll('button')].find((x) => x.textContent.trim() === 'Logout');
          if (!b) return 'false'; b.click(); return 'true';""")
    js("return JSON.stringify(!!document.querySelector('form.login'));")
    cookie = js("return JSON.stringify({ c: document.cookie });")
    expect("PVEAuthCookie=PVE" not in cookie["c"], cookie)


def main():
    if os.geteuid() != 0:
        print("skip web-firefox: needs root (a node binds ports, drops privileges, uses PAM)")
        return 0
    if not FIREFOX:
        print("skip web-firefox: no firefox-esr (package firefox-esr; tools/setup-deps --test)")
        return 0
    top = os.path.abspath(os.path.join(HERE, "..", ".."))
    if not os.path.exists(os.path.join(top, "www", "app.js")):
        print("skip web-firefox: the web interface is not built (make, with npm)")
        return 0
    profile = tempfile.mkdtemp(prefix="pved-firefox-")
    port = free_port()
    ff = None
    try:
        with Node() as n:
            n.login()
            state["url"] = f"https://127.0.0.1:{n.port}"
            ff = subprocess.Popen([FIREFOX, "--headless", "--no-remote", "--profile", profile,
                                   f"--remote-debugging-port={port}", "about:blank"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, MOZ_HEADLESS="1", HOME=profile),
                                  start_new_session=True)
            b = Bidi(port)
            b.call("session.new", capabilities={"alwaysMatch": {"acceptInsecureCerts": True}})
            state["bidi"] = b
            state["ctx"] = b.call("browsingContext.getTree")["contexts"][0]["context"]
            return run(n)
    finally:
        if ff and ff.poll() is None:
            os.killpg(ff.pid, signal.SIGTERM)
            try:
                ff.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(ff.pid, signal.SIGKILL)
                ff.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
