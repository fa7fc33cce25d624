"""Ansible's community.general proxmox modules (Debian's ansible) against a real node, unchanged, as a
playbook written for Proxmox runs them: proxmox_template (an upload, the same name again with force:
true replacing it, without force left alone), proxmox_user_info, proxmox_group_info,
proxmox_domain_info, proxmox_storage_info and proxmox_tasks_info. The modules speak proxmoxer; the
node's certificate is checked against its CA (REQUESTS_CA_BUNDLE, which the machine sets anyway and
requests prefers to verify=False). Needs root and ansible."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect, node_main  # noqa: E402


def module(n, name, **args):
    """One module run (ad hoc, on localhost): its result, as Ansible's json callback gives it."""
    if not shutil.which("ansible"):
        raise Skip("ansible is not installed (tools/setup-deps)")
    args = dict({"api_host": f"127.0.0.1:{n.port}", "api_user": "admin@pve",
                 "api_password": n.admin_password, "validate_certs": True}, **args)
    env = dict(os.environ, REQUESTS_CA_BUNDLE=n.path("etc/pve/pve-root-ca.pem"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_HOME=n.path("ansible"), ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")
    env.pop("CURL_CA_BUNDLE", None)
    r = subprocess.run(["ansible", "localhost", "-c", "local", "-m", f"community.general.{name}",
                        "-a", json.dumps(args)], capture_output=True, text=True, env=env,
                       timeout=120)
    try:
        out = json.loads(r.stdout)
        res = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError(f"{name}: {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return res


def ok(res):
    expect(not res.get("failed"), res.get("msg", res))
    return res


@case
def template_upload_force(n):
    tmpl = n.path("debian-test_1.0_amd64.tar.gz")
    with open(tmpl, "wb") as f:
        f.write(b"first" * 1000)
    res = ok(module(n, "proxmox_template", node=n.name, src=tmpl, content_type="vztmpl",
                    timeout=60))
    expect(res["changed"], res)
    path = n.path("var/lib/vz/template/cache/debian-test_1.0_amd64.tar.gz")
    with open(path, "rb") as f:
        expect(f.read() == b"first" * 1000, "first upload differs")
    with open(tmpl, "wb") as f:
        f.write(b"second" * 2000)
    # Without force: there already, nothing done.
    res = ok(module(n, "proxmox_template", node=n.name, src=tmpl, content_type="vztmpl"))
    expect(not res["changed"], res)
    # force: true uploads over it (Proxmox replaces the file).
    res = ok(module(n, "proxmox_template", node=n.name, src=tmpl, content_type="vztmpl",
                    force=True, timeout=60))
    expect(res["changed"], res)
    with open(path, "rb") as f:
        expect(f.read() == b"second" * 2000, "force did not replace the template")
    res = ok(module(n, "proxmox_template", node=n.name, content_type="vztmpl", state="absent",
                    template="debian-test_1.0_amd64.tar.gz"))
    expect(res["changed"] and not os.path.exists(path), res)


@case
def user_group_domain_info(n):
    expect(n.post("/access/groups", {"groupid": "ansgroup", "comment": "from ansible"})
           .status == 200, "group")
    expect(n.post("/access/users", {"userid": "ansuser@pve", "groups": "ansgroup",
                                    "firstname": "Ann"}).status == 200, "user")
    res = ok(module(n, "proxmox_user_info"))
    users = {u["userid"]: u for u in res["proxmox_users"]}
    expect({"admin@pve", "ansuser@pve"} <= set(users), users)
    expect(users["ansuser@pve"]["groups"] == ["ansgroup"] and
           users["ansuser@pve"]["firstname"] == "Ann", users["ansuser@pve"])
    res = ok(module(n, "proxmox_user_info", user="ansuser", domain="pve"))
    expect([u["userid"] for u in res["proxmox_users"]] == ["ansuser@pve"], res)
    res = ok(module(n, "proxmox_group_info"))
    groups = {g["groupid"]: g for g in res["proxmox_groups"]}
    expect(groups["ansgroup"]["comment"] == "from ansible" and
           groups["ansgroup"]["users"] == ["ansuser@pve"], groups)
    res = ok(module(n, "proxmox_group_info", group="ansgroup"))
    expect([g["groupid"] for g in res["proxmox_groups"]] == ["ansgroup"], res)
    res = ok(module(n, "proxmox_domain_info"))
    expect({d["realm"] for d in res["proxmox_domains"]} >= {"pam", "pve"}, res)
    res = ok(module(n, "proxmox_domain_info", domain="pve"))
    expect(res["proxmox_domains"][0]["type"] == "pve", res)
    # A group that does not exist: the module says so.
    res = module(n, "proxmox_group_info", group="nosuchgroup")
    expect(res.get("failed") and "group 'nosuchgroup' does not exist" in res.get("msg", "").lower(), res)


@case
def storage_and_tasks_info(n):
    res = ok(module(n, "proxmox_storage_info"))
    st = {s["storage"]: s for s in res["proxmox_storages"]}
    expect(st["local"]["type"] == "dir" and "iso" in st["local"]["content"], st)
    res = ok(module(n, "proxmox_storage_info", type="dir"))
    expect([s["storage"] for s in res["proxmox_storages"]] == ["local"], res)
    res = ok(module(n, "proxmox_storage_info", type="iscsidirect"))
    expect(res["proxmox_storages"] == [], res)
    res = ok(module(n, "proxmox_storage_info", storage="local"))
    expect(res["proxmox_storages"][0]["storage"] == "local", res)
    # The uploads above ran as tasks.
    res = ok(module(n, "proxmox_tasks_info", node=n.name))
    tasks = res["proxmox_tasks"]
    up = [t for t in tasks if t["type"] == "imgcopy"]
    expect(up and all(t["status"] == "OK" for t in up), tasks)
    res = ok(module(n, "proxmox_tasks_info", node=n.name, task=up[0]["upid"]))
    expect([t["upid"] for t in res["proxmox_tasks"]] == [up[0]["upid"]], res)


if __name__ == "__main__":
    sys.exit(node_main())
