"""proxmoxer (Debian's python3-proxmoxer), as scripts written for Proxmox use it, against a real node:
password and API token logins, access and pool calls, an ISO uploaded and uploaded again over itself,
and the errors a script sees: proxmoxer drops the "errors" object and keeps only the status line, so
Proxmox's message must be there ("create user failed: user 'x@pve' already exists", "group 'g' does
not exist"). Needs root."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append("/usr/lib/python3/dist-packages")
from pvetest import Skip, case, expect, node_main  # noqa: E402


def api(n, **kw):
    try:
        from proxmoxer import ProxmoxAPI
    except ImportError:
        raise Skip("python3-proxmoxer is not installed")
    if "token_name" not in kw:
        kw.setdefault("user", "admin@pve")
        kw.setdefault("password", n.admin_password)
    return ProxmoxAPI("127.0.0.1", port=n.port, verify_ssl=False, **kw)


def error(fn):
    """The (status, message) a proxmoxer script sees for a call that fails."""
    from proxmoxer.core import ResourceException
    try:
        fn()
    except ResourceException as e:
        return e.status_code, e.content
    raise AssertionError("the call did not fail")


@case
def access_calls_and_errors(n):
    px = api(n)
    expect(px.version.get()["release"] == "9.2", "version")
    px.access.groups.post(groupid="scripts", comment="made by a script")
    px.access.users.post(userid="script@pve", password="script-pass-1", groups="scripts",
                         email="script@example.com")
    u = px.access.users("script@pve").get()
    expect(u["groups"] == ["scripts"] and u["email"] == "script@example.com", u)
    expect(error(lambda: px.access.users.post(userid="script@pve")) ==
           (500, "create user failed: user 'script@pve' already exists"), "duplicate user")
    expect(error(lambda: px.access.groups("nogroup").get()) ==
           (500, "group 'nogroup' does not exist"), "missing group")
    expect(error(lambda: px.access.groups("nogroup").delete()) ==
           (500, "delete group failed: group 'nogroup' does not exist"), "delete missing group")
    expect(error(lambda: px.access.users("ghost@pve").put(comment="x")) ==
           (500, "update user failed: no such user ('ghost@pve')"), "update missing user")
    status, msg = error(lambda: px.access.users.post(userid="short@pve", password="x"))
    expect(status == 400 and msg == "Parameter verification failed.", (status, msg))
    px.access.acl.put(path="/pool/scriptpool", roles="PVEPoolAdmin", groups="scripts")
    px.pools.post(poolid="scriptpool")
    expect(error(lambda: px.pools.post(poolid="scriptpool")) ==
           (500, "create pool failed: pool 'scriptpool' already exists"), "duplicate pool")
    # The script's own login: its ticket answer carries cap, its permissions are the group's.
    me = api(n, user="script@pve", password="script-pass-1")
    perms = me.access.permissions.get(path="/pool/scriptpool")
    expect(perms["/pool/scriptpool"].get("Pool.Allocate") == 1, perms)
    px.pools.delete(poolid="scriptpool")
    px.access.users("script@pve").delete()
    px.access.groups("scripts").delete()


@case
def token_login(n):
    px = api(n)
    tok = px.access.users("admin@pve").token("script").post(privsep=0)
    t = api(n, user="admin@pve", token_name="script", token_value=tok["value"])
    expect([s["storage"] for s in t.storage.get(type="dir")] == ["local"], "storage list")
    expect(t.nodes(n.name).status.get()["uptime"] >= 0, "node status")
    px.access.users("admin@pve").token("script").delete()


@case
def upload_twice(n):
    px = api(n)
    src = n.path("script.iso")
    with open(src, "wb") as f:
        f.write(b"A" * 4096)
    for content in (b"A" * 4096, b"B" * 8192):
        with open(src, "wb") as f:
            f.write(content)
        with open(src, "rb") as f:
            upid = px.nodes(n.name).storage("local").upload.post(content="iso", filename=f)
        st = n.wait_task(upid)
        expect(st["exitstatus"] == "OK", st)
        with open(n.path("var/lib/vz/template/iso/script.iso"), "rb") as f:
            expect(f.read() == content, "upload over the file did not replace it")
    log = px.nodes(n.name).tasks(upid).log.get()
    expect(log and "n" in log[0] and "t" in log[0], log)


if __name__ == "__main__":
    sys.exit(node_main())
