"""Resource pools end to end on a real pved, through proxmoxer (Debian's python3-proxmoxer): create a pool,
add a guest (a config file the test writes) and the storage 'local', list, remove members, delete; and a
user with PVEVMAdmin on /pool/p1 holds VM.PowerMgmt on the pool's guest /vms/100 only. Needs root."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.append("/usr/lib/python3/dist-packages")
from pvetest import Skip, case, expect, node_main  # noqa: E402


def user_cfg(n):
    with open(n.path("etc/pve/user.cfg")) as f:
        return f.read()


def proxmox(n):
    try:
        from proxmoxer import ProxmoxAPI
    except ImportError:
        raise Skip("python3-proxmoxer is not installed")
    return ProxmoxAPI("127.0.0.1", port=n.port, user="admin@pve", password=n.admin_password,
                      verify_ssl=False)


def write_guest(n, vmid, kind="qemu-server"):
    d = n.path(f"etc/pve/nodes/{n.name}/{kind}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{vmid}.conf"), "w") as f:
        f.write("memory: 512\ncores: 1\nname: pooltest\n")


def status(fn):
    """The HTTP status of a proxmoxer call that should fail."""
    from proxmoxer.core import ResourceException
    try:
        fn()
    except ResourceException as e:
        return e.status_code
    return 200


@case
def pool_lifecycle(n):
    px = proxmox(n)
    write_guest(n, 100)
    write_guest(n, 101, "lxc")
    px.pools.post(poolid="p1", comment="first pool")
    expect("pool:p1:first pool::" in user_cfg(n), user_cfg(n))
    expect(status(lambda: px.pools.post(poolid="p1")) == 500, "duplicate pool accepted")
    expect(status(lambda: px.pools.post(poolid="nope/child")) == 500, "orphan child accepted")
    px.pools.put(poolid="p1", vms="100,101", storage="local")
    expect("pool:p1:first pool:100,101:local:" in user_cfg(n), user_cfg(n))
    pools = px.pools.get()
    expect([p["poolid"] for p in pools] == ["p1"], pools)
    expect(pools[0].get("comment") == "first pool", pools)

    one = px.pools.get(poolid="p1")
    members = {m["id"]: m for m in one[0]["members"]}
    expect(set(members) == {"qemu/100", "lxc/101", f"storage/{n.name}/local"}, members)
    expect(members["qemu/100"]["vmid"] == 100 and members["qemu/100"]["node"] == n.name, members)
    only_qemu = px.pools("p1").get(type="qemu")
    expect([m["id"] for m in only_qemu["members"]] == ["qemu/100"], only_qemu)

    # Members that do not exist, a guest in two pools, deleting a non-empty pool: Proxmox's plain
    # errors under the user.cfg lock, 500s.
    expect(status(lambda: px.pools.put(poolid="p1", vms="999")) == 500, "missing VM accepted")
    expect(status(lambda: px.pools.put(poolid="p1", storage="nosuch")) == 500,
           "missing storage accepted")
    px.pools.post(poolid="p2")
    expect(status(lambda: px.pools.put(poolid="p2", vms="100")) == 500, "VM in two pools")
    px.pools.put(poolid="p2", vms="101", **{"allow-move": 1})
    expect("pool:p1:first pool:100:local:" in user_cfg(n), user_cfg(n))
    expect("pool:p2::101::" in user_cfg(n), user_cfg(n))
    expect(status(lambda: px.pools.delete(poolid="p1")) == 500, "non-empty pool deleted")

    # Remove members, then the pools.
    px.pools.put(poolid="p1", vms="100", storage="local", delete=1)
    px.pools("p2").put(vms="101", delete=1)
    expect(status(lambda: px.pools.put(poolid="p1", vms="100", delete=1)) == 500,
           "removed a non-member")
    expect("pool:p1:first pool:::" in user_cfg(n), user_cfg(n))
    px.pools.delete(poolid="p1")
    px.pools("p2").delete()
    expect("pool:" not in user_cfg(n), user_cfg(n))
    expect(px.pools.get() == [], "pools left")
    expect(status(lambda: px.pools("p1").get()) == 500, "deleted pool still readable")

    # Every change is in the audit log with what it changed; refused ones are not.
    log = "\n".join(n.audit_lines()[-40:])
    expect(n.audited("pool create", "poolid=p1"), log)
    expect(n.audited("pool update", "poolid=p1", "vms=100,101", "storage=local"), log)
    expect(n.audited("pool update", "poolid=p2", "vms=101"), log)
    expect(n.audited("pool update", "poolid=p1", "vms=100", "storage=local", "delete=1"), log)
    expect(n.audited("pool delete", "poolid=p1") and n.audited("pool delete", "poolid=p2"), log)
    expect(not n.audited("pool update", "poolid=p1", "vms=999"), log)
    expect(not n.audited("pool create", "poolid=nope/child"), log)


@case
def pool_permissions(n):
    px = proxmox(n)
    write_guest(n, 100)
    write_guest(n, 102)
    px.pools.post(poolid="p1")
    px.pools.put(poolid="p1", vms="100", storage="local")
    px.access.users.post(userid="poolop@pve", password="poolop-secret")
    px.access.acl.put(path="/pool/p1", roles="PVEVMAdmin", users="poolop@pve")

    perms = px.access.permissions.get(path="/vms/100", userid="poolop@pve")
    # present, flagged 0 as Proxmox flags what a pool gives: it does not propagate
    expect(perms["/vms/100"].get("VM.PowerMgmt") == 0, perms)
    perms = px.access.permissions.get(path="/vms/102", userid="poolop@pve")
    expect("VM.PowerMgmt" not in perms["/vms/102"], perms)

    # The pool user sees no pool without Pool.Audit, and may not change it.
    from proxmoxer import ProxmoxAPI
    op = ProxmoxAPI("127.0.0.1", port=n.port, user="poolop@pve", password="poolop-secret",
                    verify_ssl=False)
    expect(op.pools.get() == [], "pool listed without Pool.Audit")
    expect(status(lambda: op.pools.put(poolid="p1", comment="x")) == 403, "changed without right")
    px.access.acl.put(path="/pool/p1", roles="PVEPoolUser", users="poolop@pve")
    expect([p["poolid"] for p in op.pools.get()] == ["p1"], "pool not listed with Pool.Audit")

    # Deleting the pool takes its ACL entries along; the guest loses the pool's roles.
    px.pools.put(poolid="p1", vms="100", storage="local", delete=1)
    px.pools.delete(poolid="p1")
    expect("/pool/p1" not in user_cfg(n), user_cfg(n))
    perms = px.access.permissions.get(path="/vms/100", userid="poolop@pve")
    expect("VM.PowerMgmt" not in perms["/vms/100"], perms)
    px.access.users("poolop@pve").delete()


if __name__ == "__main__":
    sys.exit(node_main())
