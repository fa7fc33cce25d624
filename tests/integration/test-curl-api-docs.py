"""The curl examples of Proxmox's API documentation (the "Proxmox VE API" wiki page) typed as they are
written there, against a real node: a ticket with -d username and --data-urlencode password, the
ticket as PVEAuthCookie, writes with the CSRFPreventionToken header (create a user, an ACL entry, a
storage, a DELETE), a ticket renewed by passing it as the password, and an API token in the
Authorization header. Errors come back as Proxmox writes them: the reason in the status line and in
"message". Needs root and curl."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect, node_main  # noqa: E402


def curl(n, *args):
    """curl -k as the examples use it (status line kept apart): (status, reason, JSON body)."""
    if not shutil.which("curl"):
        raise Skip("curl is not installed")
    env = dict(os.environ)
    env.pop("CURL_CA_BUNDLE", None)
    r = subprocess.run(["curl", "-k", "-s", "-S", "-D", "-", *args], capture_output=True,
                       env=env, timeout=30)
    expect(r.returncode == 0, r.stderr)
    head, _, body = r.stdout.decode().partition("\r\n\r\n")
    status_line = head.split("\r\n")[0]
    _, status, reason = status_line.split(" ", 2)
    return int(status), reason, json.loads(body) if body.strip() else None


def url(n, path):
    return f"https://127.0.0.1:{n.port}/api2/json{path}"


@case
def ticket_cookie_csrf(n):
    # curl -k -d 'username=root@pam' --data-urlencode 'password=xxxxxxxxx' .../access/ticket
    st, _, body = curl(n, "-d", "username=admin@pve", "--data-urlencode",
                       f"password={n.admin_password}", url(n, "/access/ticket"))
    expect(st == 200, body)
    d = body["data"]
    expect(d["username"] == "admin@pve" and d["ticket"].startswith("PVE:admin@pve:"), d)
    expect(d["CSRFPreventionToken"].count(":") == 1 and isinstance(d.get("cap"), dict), d)
    ticket, csrf = d["ticket"], d["CSRFPreventionToken"]
    cookie = f"PVEAuthCookie={ticket}"
    # curl -k -b "PVEAuthCookie=PVE:root@pam:4EEC61E2::rsKoApxDTLYPn6H3NNT6iP2mv..." .../api2/json/
    st, _, body = curl(n, "-b", cookie, url(n, "/"))
    expect(st == 200 and {"subdir": "access"} in body["data"], body)
    # A write without the CSRF header is refused.
    st, _, body = curl(n, "-b", cookie, "-X", "POST", "--data-urlencode", "userid=docs@pve",
                       url(n, "/access/users"))
    expect(st == 401, body)
    # Create a user, hand out a role, make a storage, remove them: each with the header.
    hdr = f"CSRFPreventionToken: {csrf}"
    st, _, body = curl(n, "-b", cookie, "-H", hdr, "-X", "POST",
                       "--data-urlencode", "userid=docs@pve",
                       "--data-urlencode", "password=docs-password-1",
                       "--data-urlencode", "comment=from the docs", url(n, "/access/users"))
    expect(st == 200 and body == {"data": None}, body)
    st, _, body = curl(n, "-b", cookie, "-H", hdr, "-X", "PUT", "-d", "path=/vms",
                       "-d", "roles=PVEVMUser", "-d", "users=docs@pve", url(n, "/access/acl"))
    expect(st == 200, body)
    st, _, body = curl(n, "-b", cookie, url(n, "/access/acl"))
    expect({"path": "/vms", "type": "user", "ugid": "docs@pve", "roleid": "PVEVMUser",
            "propagate": 1} in body["data"], body)
    path = n.path("srv/docs-store")
    os.makedirs(path, exist_ok=True)
    st, _, body = curl(n, "-b", cookie, "-H", hdr, "-X", "POST", "-d", "storage=docs",
                       "-d", "type=dir", "--data-urlencode", f"path={path}",
                       "-d", "content=iso,vztmpl", url(n, "/storage"))
    expect(st == 200 and body["data"] == {"storage": "docs", "type": "dir"}, body)
    # The same again: Proxmox's error, in the status line and in "message".
    st, reason, body = curl(n, "-b", cookie, "-H", hdr, "-X", "POST", "-d", "storage=docs",
                            "-d", "type=dir", "--data-urlencode", f"path={path}",
                            url(n, "/storage"))
    expect(st == 500 and reason == "create storage failed: storage ID 'docs' already defined" and
           body["message"] == reason + "\n", (st, reason, body))
    # curl -XDELETE -H "CSRFPreventionToken: 4EEC61E2:lwk7od06fa1+DcPUwBTXCcndyAY" ...
    st, _, body = curl(n, "-b", cookie, "-XDELETE", "-H", hdr, url(n, "/storage/docs"))
    expect(st == 200, body)
    st, reason, body = curl(n, "-b", cookie, "-XDELETE", "-H", hdr,
                            url(n, "/access/users/docs@pve"))
    expect(st == 200, (st, reason, body))
    st, reason, body = curl(n, "-b", cookie, "-XDELETE", "-H", hdr,
                            url(n, "/access/users/docs@pve"))
    expect(st == 500 and reason == "no such user ('docs@pve')", (st, reason, body))
    # "you can simply get a new ticket by passing the old ticket as password"
    st, _, body = curl(n, "-d", "username=admin@pve", "--data-urlencode", f"password={ticket}",
                       url(n, "/access/ticket"))
    expect(st == 200 and body["data"]["ticket"].startswith("PVE:admin@pve:"), body)


@case
def api_token(n):
    st, _, body = curl(n, "-d", "username=admin@pve", "--data-urlencode",
                       f"password={n.admin_password}", url(n, "/access/ticket"))
    cookie = f"PVEAuthCookie={body['data']['ticket']}"
    hdr = f"CSRFPreventionToken: {body['data']['CSRFPreventionToken']}"
    st, _, body = curl(n, "-b", cookie, "-H", hdr, "-X", "POST", "-d", "privsep=0",
                       url(n, "/access/users/admin@pve/token/monitoring"))
    expect(st == 200, body)
    value = body["data"]["value"]
    # curl -H "Authorization: PVEAPIToken=root@pam!monitoring=aaaaaaaaa-bbb-cccc-dddd-ef0123456789"
    auth = f"Authorization: PVEAPIToken=admin@pve!monitoring={value}"
    st, _, body = curl(n, "-H", auth, url(n, f"/nodes/{n.name}/status"))
    expect(st == 200 and "uptime" in body["data"], body)
    # A token needs no CSRF header for writes.
    st, _, body = curl(n, "-H", auth, "-X", "POST", "-d", "poolid=docspool", url(n, "/pools"))
    expect(st == 200, body)
    st, _, body = curl(n, "-H", auth, "-X", "DELETE", url(n, "/pools?poolid=docspool"))
    expect(st == 200, body)
    st, _, body = curl(n, "-H", "Authorization: PVEAPIToken=admin@pve!monitoring=wrong",
                       url(n, "/version"))
    expect(st == 401, body)


if __name__ == "__main__":
    sys.exit(node_main())
