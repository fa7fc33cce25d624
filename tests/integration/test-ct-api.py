"""The container API on a real pved, without starting containers: the list, a config with lxc.* lines,
[pve:pending] and a snapshot section read back as Proxmox answers it, PUT's rules (applied at once on a
stopped container, conflicts and unknown keys refused, the read-only unprivileged key, a stale digest,
revert), GET pending, /cluster/resources entries of type lxc, and DELETE's vzdestroy task freeing the
container's volumes, refusing a protected container and removing the config."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect, node_main  # noqa: E402

TOP = os.environ.get("PVED_TOP", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
TEMPLATE = "busybox-test_amd64.tar.gz"

CONF = """# a test container
arch: amd64
cores: 2
hostname: ct-one
memory: 256
ostype: debian
rootfs: local:{vmid}/vm-{vmid}-disk-0.raw,size=1G
swap: 128
unprivileged: 1
lxc.apparmor.profile: unconfined
lxc.cgroup2.devices.allow: c 10:200 rwm
lxc.cgroup2.devices.allow: c 1:3 rwm

[pve:pending]
cores: 4
delete: swap

[before]
cores: 1
hostname: ct-old
rootfs: local:{vmid}/vm-{vmid}-disk-0.raw,size=1G
snaptime: 1700000000
"""


def conf_path(n, vmid):
    return n.path(f"etc/pve/nodes/{n.name}/lxc/{vmid}.conf")


def image(n, vmid):
    return n.path(f"var/lib/vz/images/{vmid}/vm-{vmid}-disk-0.raw")


def write_ct(n, vmid, text=CONF):
    with open(conf_path(n, vmid), "w") as f:
        f.write(text.format(vmid=vmid))
    os.makedirs(os.path.dirname(image(n, vmid)), exist_ok=True)
    with open(image(n, vmid), "wb") as f:
        f.truncate(1 << 20)


def refused(r, param, words):
    expect(r.status == 400, r)
    if param:
        errors = (r.json or {}).get("errors") or {}
        expect(param in errors and words in errors[param], f"{param}/{words!r}: {r}")
    else:
        expect(words in (r.json or {}).get("message", ""), f"message lacks {words!r}: {r}")


def ct(n, vmid, rest=""):
    return f"/nodes/{n.name}/lxc/{vmid}{rest}"


@case
def list_config_pending(n):
    write_ct(n, 201)
    r = n.get(f"/nodes/{n.name}/lxc")
    expect(r.status == 200, r)
    e = [x for x in r.data if x["vmid"] == 201]
    expect(len(e) == 1, r)
    e = e[0]
    expect(e["name"] == "ct-one" and e["type"] == "lxc" and e["status"] == "stopped", e)
    expect(e["maxmem"] == 256 << 20 and e["maxswap"] == 128 << 20, e)
    expect(e["maxdisk"] == 1 << 30 and e["cpus"] == 2, e)
    r = n.get(ct(n, 201, "/config"))
    expect(r.status == 200, r)
    c = r.data
    # the pending values are shown by default, as Proxmox
    expect(c["cores"] == 4 and "swap" not in c, c)
    expect(c["unprivileged"] == 1 and c["description"] == " a test container", c)
    expect(c["lxc"] == [["lxc.apparmor.profile", "unconfined"],
                        ["lxc.cgroup2.devices.allow", "c 10:200 rwm"],
                        ["lxc.cgroup2.devices.allow", "c 1:3 rwm"]], c["lxc"])
    expect(len(c["digest"]) == 40, c)
    r = n.get(ct(n, 201, "/config"), {"current": 1})
    expect(r.data["cores"] == 2 and r.data["swap"] == 128, r)
    r = n.get(ct(n, 201, "/config"), {"snapshot": "before"})
    expect(r.data["hostname"] == "ct-old" and r.data["cores"] == 1, r)
    r = n.get(ct(n, 201, "/config"), {"snapshot": "nosuch"})
    expect(r.status == 400 and "does not exist" in r.reason + r.body, r)
    r = n.get(ct(n, 201, "/pending"))
    expect(r.status == 200, r)
    p = {x["key"]: x for x in r.data}
    expect(p["cores"]["value"] == 2 and p["cores"]["pending"] == 4, p["cores"])
    expect(p["swap"].get("delete") == 1, p["swap"])
    expect("digest" in p and "lxc.apparmor.profile" not in p, p)
    r = n.get(ct(n, 201))
    expect(r.status == 200 and {"subdir": "config"} in r.data, r)
    r = n.get(ct(n, 999))
    r = n.get(ct(n, 999, "/config"))
    expect(r.status == 500 or r.status == 404, r)


@case
def put_applies_on_stopped(n):
    write_ct(n, 202)
    r = n.request("PUT", ct(n, 202, "/config"), {"nameserver": "192.0.2.53 fe80::1%eth0",
                                                 "timezone": "Europe/Vienna"})
    expect(r.status == 200, r)
    r = n.request("PUT", ct(n, 202, "/config"), {"memory": 1024, "description": "new words",
                                                 "net0": "name=eth0,bridge=vmbr0,ip=dhcp"})
    expect(r.status == 200, r)
    text = open(conf_path(n, 202)).read()
    # stopped: the change and what was pending are applied, the section is gone
    expect("memory: 1024" in text and "cores: 4" in text and "swap:" not in text.split("[")[0],
           text)
    expect("[pve:pending]" not in text and "#new words" in text, text)
    expect("lxc.cgroup2.devices.allow: c 1:3 rwm" in text and "[before]" in text, text)
    r = n.get(ct(n, 202, "/config"))
    expect(r.data["net0"] == "name=eth0,bridge=vmbr0,ip=dhcp", r)
    # a new mount point's volume is allocated by the change, formatted, owned by the CT's root
    r = n.request("PUT", ct(n, 202, "/config"), {"mp0": "local:1,mp=/data,backup=1"})
    expect(r.status == 200, r)
    text = open(conf_path(n, 202)).read()
    expect("mp0: local:202/vm-202-disk-1.raw,mp=/data,backup=1,size=1G" in text, text)
    img = n.path("var/lib/vz/images/202/vm-202-disk-1.raw")
    out = subprocess.run(["dumpe2fs", "-h", img], capture_output=True, text=True).stdout
    expect("Filesystem OS type" in out, out[:300])
    # deleting it keeps the volume as an unused disk; deleting that frees it
    r = n.request("PUT", ct(n, 202, "/config"), {"delete": "mp0"})
    expect(r.status == 200 and "unused0: local:202/vm-202-disk-1.raw" in
           open(conf_path(n, 202)).read(), r)
    r = n.request("PUT", ct(n, 202, "/config"), {"delete": "unused0"})
    expect(r.status == 200, r)
    for _ in range(50):
        if not os.path.exists(img):
            break
        __import__("time").sleep(0.1)
    expect(not os.path.exists(img), "the deleted unused volume was kept")
    r = n.request("PUT", ct(n, 202, "/config"), {"delete": "description,net0"})
    expect(r.status == 200, r)
    r = n.get(ct(n, 202, "/config"))
    expect("net0" not in r.data and "description" not in r.data, r)
    e = [x for x in n.get(f"/nodes/{n.name}/lxc").data if x["vmid"] == 202][0]
    expect(e["maxmem"] == 1024 << 20, e)


@case
def put_refuses(n):
    write_ct(n, 203)
    before = open(conf_path(n, 203)).read()
    cases = [
        ({"memory": 8}, "memory", "minimum"),
        ({"cores": 2, "delete": "cores"}, "delete", "at the same time"),
        ({"delete": "bogus"}, "delete", "unknown option"),
        ({"delete": "rootfs"}, "delete", "rootfs"),
        ({"unprivileged": 0}, "unprivileged", "read-only option"),
        ({"net0": "name=eth0,bridge=vmbr0,ip=nonsense"}, "net0", "ip"),
        ({"features": "nesting=maybe"}, "features", "nesting"),
        ({"rootfs": "local:4"}, "rootfs", "use resize or move_volume"),
        ({"timezone": "../../etc/shadow"}, "timezone", "does not match"),
        ({"nameserver": "8.8.8.8;rm -rf"}, "nameserver", "does not match"),
        ({"mp0": "nostore:1,mp=/data"}, "mp0", "storage 'nostore' does not exist"),
    ]
    for params, param, words in cases:
        try:
            refused(n.request("PUT", ct(n, 203, "/config"), params), param, words)
        except AssertionError as e:
            raise AssertionError(f"{params}: {e}")
    refused(n.request("PUT", ct(n, 203, "/config"), {}), None, "no options specified")
    r = n.request("PUT", ct(n, 203, "/config"), {"memory": 300, "digest": "0" * 40})
    expect(r.status == 400 and "detected modified configuration" in r.body, r)
    expect(open(conf_path(n, 203)).read() == before, "a refused change was written")


@case
def revert_pending(n):
    write_ct(n, 204)
    r = n.request("PUT", ct(n, 204, "/config"), {"revert": "cores,swap"})
    expect(r.status == 200, r)
    text = open(conf_path(n, 204)).read()
    main = text.split("[")[0]
    expect("cores: 2" in main and "swap: 128" in main and "[pve:pending]" not in text, text)


@case
def resources(n):
    write_ct(n, 205)
    r = n.get("/cluster/resources", {"type": "vm"})
    expect(r.status == 200, r)
    e = [x for x in r.data if x.get("id") == "lxc/205"]
    expect(len(e) == 1, r)
    e = e[0]
    expect(e["type"] == "lxc" and e["node"] == n.name and e["name"] == "ct-one", e)
    expect(e["status"] == "stopped" and e["maxmem"] == 256 << 20, e)
    expect("pool" not in e, e)
    # a container in a pool shows it, as Proxmox's entries do
    expect(n.post("/pools", {"poolid": "ctpool"}).status == 200, "pool")
    r = n.request("PUT", "/pools", {"poolid": "ctpool", "vms": "205"})
    expect(r.status == 200, r)
    e = [x for x in n.get("/cluster/resources", {"type": "vm"}).data if x.get("id") == "lxc/205"]
    expect(e and e[0].get("pool") == "ctpool", e)


@case
def destroy(n):
    write_ct(n, 206)
    with open(conf_path(n, 206), "a") as f:
        pass
    text = open(conf_path(n, 206)).read().replace("arch: amd64", "arch: amd64\nprotection: 1")
    with open(conf_path(n, 206), "w") as f:
        f.write(text)
    r = n.request("DELETE", ct(n, 206))
    expect(r.status == 400 and "protection mode enabled" in r.body, r)
    r = n.request("PUT", ct(n, 206, "/config"), {"delete": "protection"})
    expect(r.status == 200, r)
    r = n.request("DELETE", ct(n, 206), {"purge": 1})
    expect(r.status == 200, r)
    st = n.wait_task(r.data)
    expect(st["exitstatus"] == "OK", st)
    expect(not os.path.exists(conf_path(n, 206)), "the config is still there")
    expect(not os.path.exists(image(n, 206)), "the volume is still there")
    ids = [x["vmid"] for x in n.get(f"/nodes/{n.name}/lxc").data]
    expect(206 not in ids, ids)


def template(n):
    """The busybox template on local's vztmpl content, built once by tools/ct."""
    cache = n.path("var/lib/vz/template/cache")
    path = os.path.join(cache, TEMPLATE)
    if not os.path.exists(path):
        tool = os.path.join(TOP, "tools/ct/mk-busybox-template")
        if not os.path.exists(tool):
            raise Skip("tools/ct/mk-busybox-template is missing")
        os.makedirs(cache, exist_ok=True)
        r = subprocess.run([tool, path], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip(f"mk-busybox-template failed: {r.stderr.strip()}")
    return f"local:vztmpl/{TEMPLATE}"


def images(n, vmid):
    d = n.path(f"var/lib/vz/images/{vmid}")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def nothing_left(n, vmid):
    expect(not os.path.exists(conf_path(n, vmid)), f"a config of CT {vmid} was left")
    expect(images(n, vmid) == [], f"volumes of CT {vmid} were left: {images(n, vmid)}")
    ids = [x["vmid"] for x in n.get(f"/nodes/{n.name}/lxc").data]
    expect(vmid not in ids, ids)


@case
def create_raw_and_subvol(n):
    tmpl = template(n)
    r = n.post(f"/nodes/{n.name}/lxc", {"vmid": 210, "ostemplate": tmpl, "rootfs": "local:1",
                                        "hostname": "made", "memory": 128, "password": "secret99",
                                        "mp0": "local:0,mp=/data", "description": "two words"})
    expect(r.status == 200 and r.data.startswith("UPID:"), r)
    st = n.wait_task(r.data, timeout=120)
    expect(st["exitstatus"] == "OK", st)
    text = open(conf_path(n, 210)).read()
    expect("rootfs: local:210/vm-210-disk-0.raw,size=1G" in text, text)
    expect("mp0: local:210/subvol-210-disk-1.subvol,mp=/data,size=0T" in text, text)
    expect("unprivileged: 1" in text and "hostname: made" in text and "lock:" not in text, text)
    expect("secret99" not in text and "password" not in text, text)
    expect(text.startswith("#two words"), text)
    # the subvolume belongs to the container's root, shifted
    sub = n.path("var/lib/vz/images/210/subvol-210-disk-1.subvol")
    expect(os.stat(sub).st_uid == 100000, os.stat(sub))
    # the raw image holds the template, owned by the shifted ids
    out = subprocess.run(["debugfs", "-R", "stat /bin/busybox",
                          n.path("var/lib/vz/images/210/vm-210-disk-0.raw")],
                         capture_output=True, text=True).stdout
    expect("User: 100000" in out, out)
    e = [x for x in n.get(f"/nodes/{n.name}/lxc").data if x["vmid"] == 210][0]
    expect(e["name"] == "made" and e["maxdisk"] == 1 << 30, e)
    r = n.request("DELETE", ct(n, 210))
    expect(n.wait_task(r.data)["exitstatus"] == "OK", r)
    nothing_left(n, 210)


@case
def create_refuses(n):
    tmpl = template(n)
    os.makedirs(n.path("var/lib/vz/images/211"), exist_ok=True)
    with open(n.path(f"etc/pve/nodes/{n.name}/qemu-server/212.conf"), "w") as f:
        f.write("memory: 512\n")
    cases = [
        ({"vmid": 211, "ostemplate": "local:vztmpl/nosuch.tar.gz"}, "ostemplate",
         "can't find file"),
        ({"vmid": 211, "ostemplate": "local:iso/x.iso"}, "ostemplate", "not a container template"),
        ({"vmid": 211, "ostemplate": tmpl, "rootfs": "nostore:1"}, "rootfs",
         "storage 'nostore' does not exist"),
        ({"vmid": 211, "ostemplate": tmpl, "net0": "name=eth0,bridge=nosuchbr0"}, "net0",
         "bridge 'nosuchbr0' does not exist"),
        ({"vmid": 211, "ostemplate": tmpl, "restore": 1}, "restore", "not supported"),
        ({"vmid": 211, "ostemplate": tmpl, "pool": "nopool"}, "pool", "does not exist"),
        ({"vmid": 211, "ostemplate": tmpl, "rootfs": "local:local:1"}, "rootfs", None),
        ({"vmid": 212, "ostemplate": tmpl}, "vmid", "already exists on node"),
    ]
    for params, param, words in cases:
        r = n.post(f"/nodes/{n.name}/lxc", params)
        try:
            expect(r.status == 400, r)
            errors = (r.json or {}).get("errors") or {}
            expect(param in errors and (words is None or words in errors[param]), r)
        except AssertionError as e:
            raise AssertionError(f"{params}: {e}")
        nothing_left(n, 211)
    os.unlink(n.path(f"etc/pve/nodes/{n.name}/qemu-server/212.conf"))


@case
def create_failure_frees(n):
    # a template that is no archive fails in the task: the volume and the config go
    bad = n.path("var/lib/vz/template/cache/broken.tar.gz")
    os.makedirs(os.path.dirname(bad), exist_ok=True)
    with open(bad, "wb") as f:
        f.write(b"this is not an archive" * 100)
    r = n.post(f"/nodes/{n.name}/lxc", {"vmid": 213, "ostemplate": "local:vztmpl/broken.tar.gz",
                                        "rootfs": "local:1"})
    expect(r.status == 200, r)
    st = n.wait_task(r.data, timeout=120)
    expect(st["exitstatus"] != "OK", st)
    nothing_left(n, 213)


if __name__ == "__main__":
    sys.exit(node_main())
