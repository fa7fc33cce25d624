# timeout: 300
"""CPU and memory hot-plug of a running VM (hotplug: network,disk,cpu,memory, numa: 1) on a real pved
with the test guest under TCG, checked in what QEMU sees through its QMP socket: the start's command
line (pvectl vm showcmd: -smp 1 with cpuN devices, -m with slots and maxmem, one NUMA node, the dimms);
vcpus raised to 3 (query-cpus-fast) and memory to 2048 (dimm0 and dimm1 in query-memory-devices, 2 GiB in
query-memory-size-summary), [PENDING] empty after; what Proxmox refuses (memory below the static 1 GiB,
vcpus over sockets*cores) a 400 naming the key with Proxmox's words, the value left pending; cores stays
pending; lowered again (the guest releases cpu3 and the dimms); a restart keeps the hot-plugged layout;
memory hot-plug without numa: 1 does not start, with Proxmox's error; numaN nodes of the config's
own reach QEMU (HMP's info numa), and nodes that do not add up to the memory make the start fail with
Proxmox's error. Runs as root; every QEMU is stopped by PID at the end."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, status, task, wait_status  # noqa: E402

BIN = os.environ.get("PVED_BIN", os.path.join(vmlib.TOP, "build", "bin"))
VMID = 310
state = {}


def need(key):
    if key not in state:
        raise Skip(state.get("why", f"no {key}"))
    return state[key]


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def qmp(n, command, args=None):
    """One command on the VM's task monitor (QEMU serves one client at a time there: connect, ask,
    close, retrying while pved's own worker holds it)."""
    path = n.path(f"run/qemu-server/{VMID}.qmp")
    deadline = time.time() + 20
    while True:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        try:
            s.connect(path)
            f = s.makefile("rwb")
            json.loads(f.readline())
            f.write(b'{"execute":"qmp_capabilities"}\n')
            f.flush()
            json.loads(f.readline())
            msg = {"execute": command}
            if args:
                msg["arguments"] = args
            f.write(json.dumps(msg).encode() + b"\n")
            f.flush()
            while True:
                line = f.readline()
                expect(line, f"QMP closed on {command}")
                reply = json.loads(line)
                if "event" in reply:
                    continue
                expect("return" in reply, f"{command}: {reply}")
                return reply["return"]
        except (OSError, ValueError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)
        finally:
            s.close()


def cpus(n):
    return len(qmp(n, "query-cpus-fast"))


def dimms(n):
    return sorted((d["data"]["id"], d["data"]["size"] >> 20) for d in qmp(n, "query-memory-devices")
                  if d["data"].get("id", "").startswith("dimm"))


def ram_mib(n):
    s = qmp(n, "query-memory-size-summary")
    return (s["base-memory"] + s.get("plugged-memory", 0)) >> 20


def conf_text(n):
    with open(n.path(f"etc/pve/nodes/{n.name}/qemu-server/{VMID}.conf")) as f:
        return f.read()


def put(n, params):
    return n.request("PUT", f"/nodes/{n.name}/qemu/{VMID}/config", params)


def pending(n):
    return {e["key"]: e for e in n.get(f"/nodes/{n.name}/qemu/{VMID}/pending").data}


def refused(r, key, words):
    expect(r.status == 400, r)
    errors = (r.json or {}).get("errors") or {}
    expect(key in errors and words in errors[key], f"errors: {errors} lack {key}: {words!r}")


def wait_for(what, fn, want, timeout=30):
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got == want or time.time() > deadline:
            expect(got == want, f"{what}: {got}, not {want}")
            return
        time.sleep(0.2)


@case
def setup_and_command_line(n):
    try:
        args = vmlib.guest_args()
    except Skip as e:
        state["why"] = str(e)
        raise
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", str(VMID), "--name", "hp",
           "--memory", "1024", "--numa", "1", "--sockets", "1", "--cores", "4", "--vcpus", "1",
           "--hotplug", "network,disk,cpu,memory", "--serial0", "socket", f"--args={args}")
    deadline = time.time() + 30
    while n.get(f"/nodes/{n.name}/qemu/{VMID}/config").data.get("lock") and time.time() < deadline:
        time.sleep(0.1)
    cmd = pvectl(n, "vm", "showcmd", str(VMID))
    expect("-smp 1,sockets=1,cores=4,maxcpus=4 " in cmd, cmd)
    expect("-m size=1024,slots=255,maxmem=" in cmd, cmd)
    expect("-object memory-backend-ram,id=ram-node0,size=1024M "
           "-numa node,nodeid=0,cpus=0-3,memdev=ram-node0" in cmd, cmd)
    expect("pc-dimm" not in cmd and "id=cpu2" not in cmd, cmd)
    state["vm"] = VMID


@case
def hotplug_up(n):
    need("vm")
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/start"))
    serial = Serial(n.root, VMID)
    state["serial"] = serial
    serial.wait(r"GUEST-READY")
    expect(cpus(n) == 1 and dimms(n) == [] and ram_mib(n) == 1024, (cpus(n), dimms(n)))
    r = put(n, {"vcpus": 3})
    expect(r.status == 200, r)
    expect(cpus(n) == 3, cpus(n))
    types = {c.get("qom-path", "").rsplit("/", 1)[-1] for c in qmp(n, "query-cpus-fast")}
    expect({"cpu2", "cpu3"} <= types, types)
    r = put(n, {"memory": 2048})
    expect(r.status == 200, r)
    expect(dimms(n) == [("dimm0", 512), ("dimm1", 512)], dimms(n))
    expect(ram_mib(n) == 2048, ram_mib(n))
    c = n.get(f"/nodes/{n.name}/qemu/{VMID}/config").data
    expect(c["vcpus"] == 3 and str(c["memory"]) == "2048", c)
    expect("[PENDING]" not in conf_text(n), conf_text(n))
    st = status(n, VMID)
    expect(st["cpus"] == 3 and st["maxmem"] == 2048 << 20, st)


@case
def refused_and_pending(n):
    need("vm")
    # below the static 1 GiB: Proxmox's words, the value kept pending, nothing plugged out
    refused(put(n, {"memory": 768}), "memory", "hotplug problem - memory can't be lower than 1024 MB")
    expect(str(pending(n)["memory"].get("pending")) == "768", pending(n).get("memory"))
    expect(ram_mib(n) == 2048, ram_mib(n))
    expect(put(n, {"revert": "memory"}).status == 200, "revert")
    refused(put(n, {"vcpus": 5}), "vcpus", "hotplug problem - you can't add more vcpus than maxcpus")
    expect(str(pending(n)["vcpus"].get("pending")) == "5", pending(n).get("vcpus"))
    expect(cpus(n) == 3, cpus(n))
    expect(put(n, {"revert": "vcpus"}).status == 200, "revert")
    # cores and sockets stay pending (Proxmox's answer): no error
    r = put(n, {"cores": 2})
    expect(r.status == 200 and r.data is None, r)
    expect(str(pending(n)["cores"].get("pending")) == "2", pending(n).get("cores"))
    expect(put(n, {"revert": "cores"}).status == 200, "revert")
    expect("[PENDING]" not in conf_text(n), conf_text(n))


@case
def hotplug_down(n):
    need("vm")
    r = put(n, {"vcpus": 2})
    expect(r.status == 200, f"the guest did not release cpu3: {r}")
    expect(cpus(n) == 2, cpus(n))
    r = put(n, {"memory": 1536})
    expect(r.status == 200, f"the guest did not release dimm1: {r}")
    expect(dimms(n) == [("dimm0", 512)] and ram_mib(n) == 1536, (dimms(n), ram_mib(n)))
    expect(not any(o["name"] == "mem-dimm1" for o in qmp(n, "qom-list", {"path": "/objects"})),
           "mem-dimm1 stayed")
    c = n.get(f"/nodes/{n.name}/qemu/{VMID}/config").data
    expect(c["vcpus"] == 2 and str(c["memory"]) == "1536", c)
    expect("[PENDING]" not in conf_text(n), conf_text(n))
    # and up again to what the restart must keep
    expect(put(n, {"vcpus": 3, "memory": 2560}).status == 200, "up again")
    expect(cpus(n) == 3 and ram_mib(n) == 2560, (cpus(n), ram_mib(n)))


@case
def restart_keeps_the_layout(n):
    need("vm")
    serial = state.pop("serial", None)
    if serial:
        serial.close()
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/stop"))
    wait_status(n, VMID, "stopped")
    cmd = pvectl(n, "vm", "showcmd", str(VMID))
    print("# showcmd after hot-plug: " + cmd.strip(), flush=True)
    expect("-device kvm64-x86_64-cpu,id=cpu2,socket-id=0,core-id=1,thread-id=0 " in cmd, cmd)
    expect("id=cpu3,socket-id=0,core-id=2," in cmd and "id=cpu4" not in cmd, cmd)
    expect("-object memory-backend-ram,id=mem-dimm2,size=512M "
           "-device pc-dimm,id=dimm2,memdev=mem-dimm2,node=0" in cmd and "dimm3" not in cmd, cmd)
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/start"))
    serial = Serial(n.root, VMID)
    state["serial"] = serial
    expect(cpus(n) == 3, cpus(n))
    expect(dimms(n) == [("dimm0", 512), ("dimm1", 512), ("dimm2", 512)], dimms(n))
    expect(ram_mib(n) == 2560, ram_mib(n))
    # the restarted VM still takes hot-plug
    serial.wait(r"GUEST-READY")
    expect(put(n, {"vcpus": 4}).status == 200 and cpus(n) == 4, cpus(n))


@case
def memory_hotplug_needs_numa(n):
    need("vm")
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", str(VMID + 1), "--memory", "1024",
           "--hotplug", "cpu,memory")
    deadline = time.time() + 30
    while (n.get(f"/nodes/{n.name}/qemu/{VMID + 1}/config").data.get("lock") and
           time.time() < deadline):
        time.sleep(0.1)
    r = n.post(f"/nodes/{n.name}/qemu/{VMID + 1}/status/start")
    st = task(n, r, ok=False)
    log = vmlib.task_log(n, r.data)
    expect(st.get("exitstatus") != "OK" and "NUMA needs to be enabled for memory hotplug" in log,
           f"{st} {log}")


@case
def numa_nodes_of_its_own(n):
    """numaN: QEMU gets the config's own guest nodes, one of them bound to host node 0."""
    vmid = VMID + 2
    hostnode = ",hostnodes=0,policy=bind" if os.path.isdir("/sys/devices/system/node/node0") else ""
    task(n, n.post(f"/nodes/{n.name}/qemu", {
        "vmid": vmid, "memory": 384, "numa": 1, "sockets": 1, "cores": 2, "vga": "none",
        "numa0": f"cpus=0,memory=256{hostnode}", "numa1": "cpus=1,memory=128"}))
    task(n, n.post(f"/nodes/{n.name}/qemu/{vmid}/status/start"))
    try:
        r = n.post(f"/nodes/{n.name}/qemu/{vmid}/monitor", {"command": "info numa"})
        expect(r.status == 200, r)
        info = r.data
        for line in ("2 nodes", "node 0 cpus: 0", "node 0 size: 256 MB", "node 1 cpus: 1",
                     "node 1 size: 128 MB"):
            expect(line in info, f"{line!r} not in {info!r}")
    finally:
        task(n, n.post(f"/nodes/{n.name}/qemu/{vmid}/status/stop"))
    # the nodes must add up to the memory: the start says so, as Proxmox's
    expect(n.request("PUT", f"/nodes/{n.name}/qemu/{vmid}/config", {"memory": 512}).status == 200,
           "memory 512")
    r = n.post(f"/nodes/{n.name}/qemu/{vmid}/status/start")
    st = task(n, r, ok=False)
    log = vmlib.task_log(n, r.data)
    expect(st.get("exitstatus") != "OK" and
           "total memory for NUMA nodes must be equal to vm static memory" in log, f"{st} {log}")


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-hotplug-cpumem"))
