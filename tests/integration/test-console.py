"""Websockets end to end: the node shell (termproxy) reached through vncwebsocket over TLS, as the web
interface's xterm.js reaches it, with pvetest's small RFC 6455 client. The shell is for users of
the pam realm (a throwaway system user, removed at the end); others are refused. Needs root and
useradd."""

import os
import re
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Node, Skip, case, expect, run  # noqa: E402

def termproxy(n):
    if not n.pam_user:
        raise Skip("no throwaway pam user (useradd failed)")
    r = n.post(f"/nodes/{n.name}/termproxy", {})
    expect(r.status == 200 and r.data["port"] >= 5900, r)
    return r.data


@case
def node_shell_is_for_pam_users(n):
    """Sys.Console on the node is not enough: a pve user (and a token, and admin@pve with every
    privilege) has no account on the node to log in with. Proxmox refused non-pam realms here until
    pve-manager 8.1; pved's route still says "Restricted to users on realm 'pam'"."""
    for who, creds in n.others.items():
        r = n.request("POST", f"/nodes/{n.name}/termproxy", {}, **creds)
        expect(r.status == 403 and "realm" in r.reason, (who, r))


@case
def node_shell_over_websocket(n):
    tp = termproxy(n)
    q = urllib.parse.urlencode({"port": tp["port"], "vncticket": tp["ticket"]})
    ws = n.websocket(f"/nodes/{n.name}/vncwebsocket?{q}", n.ticket)
    try:
        expect(ws.accepted, ws.head)
        ws.send(f"{tp['user']}:{tp['ticket']}\n".encode())
        ws.read_until(rb"OK")
        # A pam user who is not root@pam: the shell asks for a system login, as Proxmox's does.
        ws.read_until(rb"login: ")
        ws.send(b"1:100:30:")
        ws.send(b"2")
    finally:
        ws.close()
    st = n.wait_task(tp["upid"])
    expect(st["exitstatus"] == "OK", st)


@case
def vncwebsocket_refuses_a_bad_ticket(n):
    tp = termproxy(n)
    q = urllib.parse.urlencode({"port": tp["port"], "vncticket": tp["ticket"] + "x"})
    ws = n.websocket(f"/nodes/{n.name}/vncwebsocket?{q}", n.ticket)
    try:
        expect(not ws.accepted and re.match(r"HTTP/1.1 40[13]", ws.head), ws.head)
    finally:
        ws.close()
    # A ticket for another port opens nothing either.
    q = urllib.parse.urlencode({"port": tp["port"] + 1 if tp["port"] < 5999 else 5900,
                                "vncticket": tp["ticket"]})
    ws = n.websocket(f"/nodes/{n.name}/vncwebsocket?{q}", n.ticket)
    try:
        expect(not ws.accepted, ws.head)
    finally:
        ws.close()
    # Nobody came with the right ticket: the shell task gives up after its timeout.
    st = n.wait_task(tp["upid"], timeout=30)
    expect(st["exitstatus"] != "OK", st)


@case
def vncticket_verified_for_a_proxy(n):
    """POST /access/vncticket, which a console proxy calls with a ticket it was handed: yes (null) only
    for the ticket's own authid, path and port, and only when authid holds privs there."""
    tp = termproxy(n)
    path = f"/nodes/{n.name}"
    good = {"authid": n.pam_user, "vncticket": tp["ticket"], "path": path, "privs": "Sys.Console",
            "port": tp["port"]}
    r = n.post("/access/vncticket", good)
    expect(r.status == 200 and r.data is None, r)
    # Anyone may ask (Proxmox's "world"): no credentials needed.
    r = n.request("POST", "/access/vncticket", good, ticket="")
    expect(r.status == 200, r)
    for change in ({"authid": "root@pam"}, {"path": "/vms/100"}, {"port": tp["port"] ^ 1},
                   {"vncticket": tp["ticket"] + "x"}, {"privs": "Sys.Console,Sys.Modify"}):
        r = n.post("/access/vncticket", dict(good, **change))
        expect(r.status == 403, (change, r))
    r = n.post("/access/vncticket", {k: v for k, v in good.items() if k != "port"})
    expect(r.status == 403 and "invalid vnc ticket" in r.reason, r)
    n.wait_task(tp["upid"], timeout=30)


@case
def vncwebsocket_needs_an_upgrade(n):
    tp = termproxy(n)
    r = n.get(f"/nodes/{n.name}/vncwebsocket", {"port": tp["port"], "vncticket": tp["ticket"]})
    expect(r.status == 400 and "websocket" in r.reason, r)
    n.wait_task(tp["upid"], timeout=30)


def main():
    if os.geteuid() != 0:
        print("skip integration-console: needs root")
        return 0
    with Node() as n:
        n.login()
        r = n.post("/access/roles", {"roleid": "Shell", "privs": "Sys.Console"})
        expect(r.status == 200, r)
        # The other callers the shell refuses, each with Sys.Console on the node.
        r = n.post("/access/users", {"userid": "shpve@pve", "password": "shpve-pw-1"})
        expect(r.status == 200, r)
        r = n.post("/access/users/admin@pve/token/sh", {"privsep": 0})
        expect(r.status == 200, r)
        tok = f"{r.data['full-tokenid']}={r.data['value']}"
        r = n.request("PUT", "/access/acl", {"path": f"/nodes/{n.name}", "roles": "Shell",
                                             "users": "shpve@pve"})
        expect(r.status == 200, r)
        t = n.post("/access/ticket", {"username": "shpve@pve", "password": "shpve-pw-1"},
                   ticket="").data
        n.others = {"admin@pve": {"ticket": n.ticket, "csrf": n.csrf},
                    "shpve@pve": {"ticket": t["ticket"], "csrf": t["CSRFPreventionToken"]},
                    "admin@pve!sh": {"ticket": "", "token": tok}}
        # The shell's user: a throwaway system user in the pam realm, with Sys.Console there.
        user = "pvedsh%d" % (os.getpid() % 100000)
        password = "Pw-" + os.urandom(6).hex()
        n.pam_user = None
        try:
            if subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", user]).returncode == 0:
                subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
                n.pam_user = f"{user}@pam"
                expect(n.post("/access/users", {"userid": n.pam_user}).status == 200, "pam user")
                r = n.request("PUT", "/access/acl", {"path": f"/nodes/{n.name}", "roles": "Shell",
                                                     "users": n.pam_user})
                expect(r.status == 200, r)
                n.login(n.pam_user, password)
            return run(n)
        finally:
            if n.pam_user:
                subprocess.run(["userdel", user], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
