"""WebAuthn second factors for real: a security key registered and used to log in through Debian's
Chromium with a virtual authenticator (DevTools protocol, driven by playwright-core from npm), against
a node whose datacenter.cfg names the relying party (Proxmox's "webauthn: rp=...,origin=...,id=...").
The browser's page is served on http://localhost (a secure context) by the test; the API calls are the
test's, with the browser's answers, as Proxmox's web interface makes them. Also: a replayed assertion,
a disabled key and a key of another origin are refused. Needs root, chromium, node and playwright-core
(npm install --prefix /var/cache/pved-test-node playwright-core, done here when missing)."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, free_port, run  # noqa: E402

NODE_DIR = os.environ.get("PVED_TEST_NODE_DIR", "/var/cache/pved-test-node")
HERE = os.path.dirname(os.path.abspath(__file__))


def playwright_core():
    mod = os.path.join(NODE_DIR, "node_modules", "playwright-core")
    if os.path.isdir(mod):
        return mod
    if not shutil.which("npm"):
        raise Skip("npm is not installed (tools/setup-deps)")
    os.makedirs(NODE_DIR, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", NODE_DIR, "--no-audit", "--no-fund",
                        "playwright-core"], capture_output=True, text=True, timeout=240)
    if r.returncode != 0 or not os.path.isdir(mod):
        raise Skip(f"playwright-core could not be installed from npm: {r.stderr[-300:]}")
    return mod


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>pved webauthn test</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Browser:
    """webauthn-browser.js: Chromium with a virtual security key, one JSON command per line."""

    def __init__(self, url):
        mod = playwright_core()
        if not shutil.which("node") or not shutil.which("chromium"):
            raise Skip("node or chromium is not installed (tools/setup-deps)")
        env = dict(os.environ, PLAYWRIGHT_CORE=mod)
        self.p = subprocess.Popen(["node", os.path.join(HERE, "webauthn-browser.js"), url],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env, start_new_session=True)

    def call(self, op, public_key):
        self.p.stdin.write(json.dumps({"op": op, "publicKey": public_key}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError("the browser ended")
        out = json.loads(line)
        expect("error" not in out, out)
        return out

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=15)
        except Exception:
            os.killpg(self.p.pid, 9)
            self.p.wait()


def ticket_challenge(ticket):
    """The challenge object of a half ticket: PVE:!tfa!{json, ':' as %3A}:TIME::SIG."""
    data = ticket[len("PVE:"):].rsplit("::", 1)[0].rsplit(":", 1)[0]
    expect(data.startswith("!tfa!"), ticket)
    return json.loads(data[len("!tfa!"):].replace("%3A", ":"))


def login(n, user, password, **extra):
    return n.post("/access/ticket", dict({"username": user, "password": password}, **extra),
                  ticket="")


@case
def register_and_login(n, browser, origin):
    user, pw = "wauser@pve", "webauthn-pw-1"
    expect(n.post("/access/users", {"userid": user, "password": pw}).status == 200, "user")
    r = login(n, user, pw)
    t, csrf = r.data["ticket"], r.data["CSRFPreventionToken"]
    base = "/access/tfa/" + urllib.parse.quote(user, safe="")
    # Step one: the challenge for the browser.
    r = n.post(base, {"type": "webauthn", "password": pw}, ticket=t, csrf=csrf)
    expect(r.status == 200 and "challenge" in r.data, r)
    challenge = r.data["challenge"]
    options = json.loads(challenge)["publicKey"]
    expect(options["rp"]["id"] == "localhost" and options["attestation"] == "none", options)
    cred = browser.call("create", options)
    # A wrong challenge is refused; then the right one makes the entry.
    r = n.post(base, {"type": "webauthn", "password": pw, "value": json.dumps(cred),
                      "challenge": challenge.replace(options["challenge"], "A" * 43)},
               ticket=t, csrf=csrf)
    expect(r.status == 400 and "challenge" in json.loads(r.body).get("errors", {}), r)
    r = n.post(base, {"type": "webauthn", "password": pw, "value": json.dumps(cred),
                      "challenge": challenge, "description": "virtual key"},
               ticket=t, csrf=csrf)
    expect(r.status == 200 and r.data["id"].startswith("webauthn-"), r)
    key_id = r.data["id"]
    r = n.get(base, ticket=t)
    expect([(e["type"], e["description"]) for e in r.data] == [("webauthn", "virtual key")], r)

    # Login: the password, then the key's answer to the challenge in the half ticket.
    r = login(n, user, pw)
    expect(r.status == 200 and r.data.get("NeedTFA") == 1, r)
    half = r.data["ticket"]
    wa = ticket_challenge(half)["webauthn"]["publicKey"]
    expect(wa["rpId"] == "localhost" and len(wa["allowCredentials"]) == 1, wa)
    answer = "webauthn:" + json.dumps(browser.call("get", wa))
    r = login(n, user, answer, **{"tfa-challenge": half})
    expect(r.status == 200 and "NeedTFA" not in r.data and r.data["ticket"].startswith("PVE:"), r)
    expect(n.get("/version", ticket=r.data["ticket"]).status == 200, "full ticket refused")
    # The same answer again: the challenge is used up.
    r = login(n, user, answer, **{"tfa-challenge": half})
    expect(r.status == 401, r)
    # A second login with a fresh challenge works (the counter grows).
    r = login(n, user, pw)
    half = r.data["ticket"]
    wa = ticket_challenge(half)["webauthn"]["publicKey"]
    r = login(n, user, "webauthn:" + json.dumps(browser.call("get", wa)),
              **{"tfa-challenge": half})
    expect(r.status == 200 and "NeedTFA" not in r.data, r)
    # The answer to one challenge does not pass for another.
    r1 = login(n, user, pw)
    r2 = login(n, user, pw)
    a1 = browser.call("get", ticket_challenge(r1.data["ticket"])["webauthn"]["publicKey"])
    r = login(n, user, "webauthn:" + json.dumps(a1), **{"tfa-challenge": r2.data["ticket"]})
    expect(r.status == 401, r)

    # A disabled key: no second factor is asked for any more (its only one).
    r = n.request("PUT", f"{base}/{key_id}", {"enable": 0, "password": n.admin_password})
    expect(r.status == 200, r)
    r = login(n, user, pw)
    expect(r.status == 200 and "NeedTFA" not in r.data, r)


@case
def other_origin_refused(n, browser, origin):
    """A key registered while datacenter.cfg names another origin: the browser's clientDataJSON has
    this page's origin, which is not the relying party's."""
    user, pw = "wauser2@pve", "webauthn-pw-2"
    n.post("/access/users", {"userid": user, "password": pw})
    r = login(n, user, pw)
    t, csrf = r.data["ticket"], r.data["CSRFPreventionToken"]
    base = "/access/tfa/" + urllib.parse.quote(user, safe="")
    cfg = n.path("etc/pve/datacenter.cfg")
    with open(cfg) as f:
        good = f.read()
    try:
        with open(cfg, "w") as f:
            f.write("webauthn: rp=pved-test,origin=https://localhost:8006,id=localhost\n")
        r = n.post(base, {"type": "webauthn", "password": pw}, ticket=t, csrf=csrf)
        challenge = r.data["challenge"]
        cred = browser.call("create", json.loads(challenge)["publicKey"])
        r = n.post(base, {"type": "webauthn", "password": pw, "value": json.dumps(cred),
                          "challenge": challenge}, ticket=t, csrf=csrf)
        expect(r.status == 400 and "origin" in json.loads(r.body)["errors"].get("value", ""), r)
        expect(n.get(base, ticket=t).data == [], "entry added")
    finally:
        with open(cfg, "w") as f:
            f.write(good)


def main():
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://localhost:{port}"
    browser = None
    try:
        try:
            browser = Browser(origin + "/")
        except Exception as e:
            print(f"skip all: {e}")
            return 0
        with Node() as n:
            with open(n.path("etc/pve/datacenter.cfg"), "w") as f:
                f.write(f"keyboard: en-us\nwebauthn: rp=pved-test,origin={origin},id=localhost\n")
            n.login()
            return run(n, browser, origin)
    finally:
        if browser:
            browser.close()
        httpd.shutdown()


if __name__ == "__main__":
    sys.exit(main())
