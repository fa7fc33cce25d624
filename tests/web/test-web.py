# timeout: 600
# exclusive
"""The web interface end to end: a real node on a temporary root, Debian's headless Chromium driven by
playwright-core (steps.mjs: log in; a pool, a user and an ACL made in the browser; an ISO uploaded
with the progress bar; the node shell running a command; a VM created from the test ISO, started,
its noVNC console changing after a key press, also opened the Proxmox way by URL; a snapshot; a
pending change; a firewall rule edited; a task log; containers once the node serves them; a user
without Sys.Audit sees no node figures; log out; nothing loaded from another host). Then, through
the API, the VNC ticket's rules: used once, bound to its guest, expired after 40 s, and no console
without VM.Console. Screenshots go to build/test-artifacts/web/. Every QEMU the node started is
killed by PID at the end, the throwaway pam user removed."""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import pvetest  # noqa: E402
from pvetest import TOP, Node, Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402

ARTIFACTS = os.path.join(TOP, "build", "test-artifacts", "web")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VMID, OTHER, CTID, CLONE = 9301, 9302, 9303, 9304
state = {}


def need_vm():
    if not state.get("vm_running"):
        raise Skip("the VM made in the browser is not running")


def vncproxy(n, vmid, **creds):
    return n.request("POST", f"/nodes/{n.name}/qemu/{vmid}/vncproxy", {"websocket": 1}, **creds)


def first_payload(ws):
    """The first data frame's bytes; nothing when the stream closes or fails first."""
    try:
        op, data = ws.recv()
    except Exception:
        return b""
    return b"" if op == 8 else data


def open_ws(n, vmid, vp):
    q = urllib.parse.urlencode({"port": vp["port"], "vncticket": vp["ticket"]})
    return n.websocket(f"/nodes/{n.name}/qemu/{vmid}/vncwebsocket?{q}", n.ticket)


@case
def vnc_ticket_is_used_once(n):
    need_vm()
    r = vncproxy(n, VMID)
    expect(r.status == 200, r)
    ws = open_ws(n, VMID, r.data)
    try:
        expect(ws.accepted, ws.head)
        expect(first_payload(ws)[:4] == b"RFB ", "no RFB greeting")
    finally:
        ws.close()
    again = open_ws(n, VMID, r.data)
    try:
        # The port served its one connection; a second use opens nothing.
        got = first_payload(again) if again.accepted else b""
        expect(not got.startswith(b"RFB "), f"the ticket opened a second console: {again.head!r}")
    finally:
        again.close()


@case
def vnc_ticket_is_bound_to_its_guest(n):
    need_vm()
    r = vncproxy(n, VMID)
    expect(r.status == 200, r)
    ws = open_ws(n, OTHER, r.data)
    try:
        expect(not ws.accepted and (" 401 " in ws.head.split("\r\n")[0] or " 403 " in ws.head.split("\r\n")[0]),
               ws.head[:200])
    finally:
        ws.close()
    n.request("DELETE", f"/nodes/{n.name}/tasks/{urllib.parse.quote(r.data['upid'], safe='')}")


@case
def vnc_ticket_expires(n):
    need_vm()
    vp = state.get("early_ticket")
    expect(vp, "no ticket taken before the browser steps")
    # Proxmox's VNC tickets live 40 s; this one was taken before the browser's steps.
    wait = vp["_at"] + 41 - time.time()
    if wait > 0:
        time.sleep(wait)
    ws = open_ws(n, VMID, vp)
    try:
        expect(not ws.accepted and ws.head.split("\r\n")[0].split(" ")[1] in ("401", "403"), ws.head[:200])
    finally:
        ws.close()


@case
def no_console_without_vm_console(n):
    need_vm()
    r = n.request("POST", "/access/users", {"userid": "auditor@pve", "password": state["pw"]})
    expect(r.status == 200, r)
    r = n.request("PUT", "/access/acl", {"path": f"/vms/{VMID}", "users": "auditor@pve", "roles": "PVEAuditor"})
    expect(r.status == 200, r)
    t = n.request("POST", "/access/ticket", {"username": "auditor@pve", "password": state["pw"]}, ticket="")
    expect(t.status == 200, t)
    creds = {"ticket": t.data["ticket"], "csrf": t.data["CSRFPreventionToken"]}
    for what in ("vncproxy", "termproxy"):
        r = n.request("POST", f"/nodes/{n.name}/qemu/{VMID}/{what}", {}, **creds)
        expect(r.status == 403, (what, r))


def browser_steps(n, pam_user, iso):
    cfg = {
        "top": TOP, "url": f"https://127.0.0.1:{n.port}", "node": n.name, "chromium": CHROMIUM,
        "admin_password": n.admin_password, "pam_user": pam_user, "pam_password": state["pw"],
        "webuser_password": state["pw"], "iso": iso, "iso_name": os.path.basename(iso),
        "vmid": VMID, "ctid": CTID, "other_vmid": OTHER, "clone_vmid": CLONE, "ct_template": state.get("ct_template"), "artifacts": ARTIFACTS,
        "out": os.path.join(n.root, "web-out.json"),
    }
    p = subprocess.run(["node", os.path.join(HERE, "steps.mjs")], env={**os.environ, "WEB_TEST": json.dumps(cfg)},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=420)
    sys.stdout.write(p.stdout)
    sys.stdout.flush()
    if p.returncode != 0:
        print(f"FAIL browser-steps: node exited with {p.returncode}: {p.stderr[-1500:]}")
    elif p.stderr.strip():
        sys.stderr.write(p.stderr[-3000:])
    return "ok start-vm" in p.stdout


def main():
    if os.geteuid() != 0:
        print("skip web: needs root (a node binds ports, drops privileges, uses PAM)")
        return 0
    for what, ok in (("chromium", os.access(CHROMIUM, os.X_OK)), ("node", shutil.which("node")),
                     ("playwright-core (make builds web/node_modules)",
                      os.path.isdir(os.path.join(TOP, "web", "node_modules", "playwright-core"))),
                     ("the built interface (www/app.js)", os.path.exists(os.path.join(TOP, "www", "app.js")))):
        if not ok:
            print(f"skip web: no {what}")
            return 0
    v = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    if int(v.lstrip("v").split(".")[0] or 0) < 20:
        print(f"skip web: node {v}: playwright-core needs 20 or later (Debian 12's is 18: NodeSource's)")
        return 0
    try:
        guest = vmlib.guest_image()
    except Skip as e:
        print(f"skip web: {e}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    os.makedirs(ARTIFACTS, exist_ok=True)
    state["pw"] = "Web-" + secrets.token_hex(8)
    pam_user = "pvedweb" + secrets.token_hex(3)
    made_user = subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", pam_user]).returncode == 0
    tmp = tempfile.mkdtemp(prefix="pved-web-")
    try:
        if made_user:
            subprocess.run(["chpasswd"], input=f"{pam_user}:{state['pw']}\n", text=True, check=True)
        iso = os.path.join(tmp, "web-test.iso")
        shutil.copyfile(os.path.join(guest, "guest.iso"), iso)
        with Node() as n:
            try:
                n.login()
                if made_user:
                    r = n.request("POST", "/access/users", {"userid": f"{pam_user}@pam"})
                    expect(r.status == 200, r)
                    r = n.request("PUT", "/access/acl", {"path": "/", "users": f"{pam_user}@pam",
                                                         "roles": "Administrator"})
                    expect(r.status == 200, r)
                # The second guest, whose console another's ticket must not open (it need not run).
                r = n.request("POST", f"/nodes/{n.name}/qemu", {"vmid": OTHER, "name": "other", "memory": 128})
                expect(r.status == 200, r)
                n.wait_task(r.data)
                # A container template, once the container work provides one (the busybox template).
                # (make check's tools/ct/cache-templates builds the busybox one)
                tpl = os.environ.get("PVED_WEB_CT_TEMPLATE") or os.path.join(
                    pvetest.TOP, "build", "ct-templates", "busybox-pved_1.35_amd64.tar.zst")
                if tpl and os.path.isfile(tpl):
                    cache = n.path("var/lib/vz/template/cache")
                    os.makedirs(cache, exist_ok=True)
                    shutil.copyfile(tpl, os.path.join(cache, os.path.basename(tpl)))
                    state["ct_template"] = f"local:vztmpl/{os.path.basename(tpl)}"
                ok = browser_steps(n, f"{pam_user}@pam" if made_user else "nobody@pam", iso)
                state["vm_running"] = ok and vmlib.status(n, VMID).get("status") == "running"
                if state["vm_running"]:
                    r = vncproxy(n, VMID)
                    if r.status == 200:
                        state["early_ticket"] = {**r.data, "_at": time.time()}
                return pvetest.run(n)
            finally:
                vmlib.kill_vms(n.root)
                vmlib.kill_cts(n.root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_user:
            subprocess.run(["userdel", pam_user])


if __name__ == "__main__":
    sys.exit(main())
