"""A container's console over SPICE on a real pved, as remote-viewer reaches it: spiceproxy's answer
(Proxmox's remote-viewer fields, the host signed for the port with the CSRF secret, a `spiceproxy`
task), a SPICE client (spicelib.py) through the node's SPICE proxy as remote-viewer goes, and straight
to the port: TLS checked against the answer's CA and host-subject, the main channel linked with the
password, the display channel's surface of the terminal's size, keys typed as scancodes on the
inputs channel into the busybox container's shell on tty1 (`touch /tmp/spice-was-here` and Enter,
checked through the exec API), a draw with lit pixels after the output; leaving keeps the container
running; a wrong password's link refused; a stopped container refused. Runs as root; every
container is killed by PID at the end."""

import hashlib
import os
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import case, expect  # noqa: E402
import spicelib  # noqa: E402
import vmlib  # noqa: E402

VMID = 441


def spice_tasks(n):
    r = n.get(f"/nodes/{n.name}/tasks", {"typefilter": "spiceproxy", "vmid": VMID, "limit": 100,
                                              "source": "all"})
    expect(r.status == 200, r)
    return {t["upid"] for t in r.data}


def spiceproxy(n, params=None):
    """The call's answer and the UPID of the task it started (the answer has none, as Proxmox's)."""
    before = spice_tasks(n)
    r = n.post(f"/nodes/{n.name}/lxc/{VMID}/spiceproxy", params or {})
    expect(r.status == 200, r)
    new = spice_tasks(n) - before
    expect(len(new) == 1, new)
    return r.data, new.pop()


def ended_ok(n, upid):
    st = n.wait_task(upid)
    expect(st["exitstatus"] == "OK", st)


def link(cfg, password, channel_type=spicelib.CHANNEL_MAIN, connection_id=0):
    """A channel straight to the port, linked, trying again while the task has not bound the port
    yet (Proxmox's call waits for it; pved's answers at once)."""
    deadline = time.time() + 10
    while True:
        try:
            return spicelib.open_channel(cfg, password, channel_type, connection_id)
        except (ConnectionError, EOFError, ssl.SSLError) as e:
            if time.time() > deadline:
                raise AssertionError(f"no SPICE server on port {cfg['tls-port']}: {e}")
            time.sleep(0.1)


@case
def spice_console_of_a_container(n):
    vmlib.start_busybox_ct(n, VMID, "spice")
    # the console has one client at a time: each one is left before the next call
    for proxy, url in (("192.0.2.7", f"http://192.0.2.7:{n.spice_port}"),
                       ("2001:db8::7", f"http://[2001:db8::7]:{n.spice_port}")):
        other, upid = spiceproxy(n, {"proxy": proxy})
        expect(other["proxy"] == url, other)
        link(other, other["password"]).close()
        ended_ok(n, upid)
    # remote-viewer's way: through the node's SPICE proxy with the answer's host, the VMs' proxy
    a, upid = spiceproxy(n, {"proxy": "127.0.0.1"})
    deadline = time.time() + 10
    while True:
        try:
            result, first = spicelib.connect(a)
            break
        except (ConnectionError, EOFError, ssl.SSLError, spicelib.ProxyRefused):
            expect(time.time() < deadline, "the SPICE proxy never reached the console")
            time.sleep(0.1)
    expect(result == 0 and first == spicelib.MSG_MAIN_INIT, (result, first))
    ended_ok(n, upid)

    cfg, upid = spiceproxy(n)
    expect(cfg["type"] == "spice" and cfg["title"] == f"CT {VMID}", cfg)
    expect(61000 <= cfg["tls-port"] <= 61999, cfg)
    expect(re.fullmatch(r"[0-9a-f]{40}", cfg["password"]), cfg)
    expect(re.fullmatch(rf"pvespiceproxy:[0-9a-f]{{8}}:{VMID}:{n.name.lower()}:{cfg['tls-port']}"
                        r"::[0-9a-f]{40}", cfg["host"]), cfg)
    # signed as Proxmox's SPICE proxy checks it: SHA-1 of the plain part and the CSRF secret
    plain, sig = cfg["host"].split("::")
    with open(n.path("etc/pve/pve-www.key")) as f:
        secret = f.read().split("\n")[0]
    expect(hashlib.sha1((plain + secret).encode()).hexdigest() == sig, cfg["host"])
    expect(cfg["proxy"] == f"http://{n.name}:{n.spice_port}", cfg)
    expect("BEGIN CERTIFICATE" in cfg["ca"] and "\n" not in cfg["ca"] and "\\n" in cfg["ca"], cfg)
    expect(f"CN={n.name}" in cfg["host-subject"], cfg)
    expect(cfg["delete-this-file"] == 1 and cfg["secure-attention"] == "Ctrl+Alt+Ins" and
           cfg["toggle-fullscreen"] == "Shift+F11" and cfg["release-cursor"] == "Ctrl+Alt+R", cfg)
    # straight to the port: TLS against the answer's CA, the certificate's subject host-subject
    main = link(cfg, cfg["password"])
    chans = [main]
    try:
        session = spicelib.main_init(main)
        display = link(cfg, cfg["password"], spicelib.CHANNEL_DISPLAY, session)
        chans.append(display)
        spicelib.display_init(display)
        while True:
            t, body = display.recv()
            if t == spicelib.MSG_DISPLAY_SURFACE_CREATE:
                break
        _sid, w, h, _fmt = spicelib.surface_create(body)
        expect((w, h) == (640, 400), (w, h))
        inputs = link(cfg, cfg["password"], spicelib.CHANNEL_INPUTS, session)
        chans.append(inputs)
        # what was drawn before the keys does not count
        try:
            while True:
                display.recv(timeout=1)
        except TimeoutError:
            pass
        spicelib.type_text(inputs, "touch /tmp/spice-was-here\n")
        lit = 0
        deadline = time.time() + 20
        while not lit and time.time() < deadline:
            t, body = display.recv()
            if t == spicelib.MSG_DISPLAY_DRAW_COPY:
                bitmap = spicelib.draw_copy_bitmap(body)
                expect(bitmap is not None, "a draw without an uncompressed bitmap")
                lit = spicelib.lit_pixels(bitmap)
        expect(lit, "no lit pixels after the shell's echo")
        expect(vmlib.ct_file_appears(n, VMID, "/tmp/spice-was-here"), "the typed command did not run")
    finally:
        for ch in chans:
            ch.close()
    ended_ok(n, upid)
    r = n.get(f"/nodes/{n.name}/lxc/{VMID}/status/current")
    expect(r.data["status"] == "running", "leaving the console stopped the container")


@case
def wrong_password_refused(n):
    cfg, upid = spiceproxy(n)
    try:
        link(cfg, "0" * 40, spicelib.CHANNEL_MAIN)
        expect(False, "a wrong password was let in")
    except spicelib.LinkRefused as e:
        expect(e.code != 0, e)
    # the right one still links (the task waits for its one client), and leaving ends the task
    link(cfg, cfg["password"]).close()
    ended_ok(n, upid)


@case
def stopped_container_refused(n):
    vmlib.task(n, n.post(f"/nodes/{n.name}/lxc/{VMID}/status/stop"))
    r = n.post(f"/nodes/{n.name}/lxc/{VMID}/spiceproxy", {})
    expect(r.status == 400 and f"CT {VMID} not running" in r.body, r)


if __name__ == "__main__":
    sys.exit(vmlib.ct_main())
