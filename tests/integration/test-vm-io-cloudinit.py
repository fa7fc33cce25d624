"""cloud-init on a real pved with the test guest (booted directly from its kernel, PVH), whose reader
applies the drive and prints GUEST-CLOUDINIT on serial0: a NoCloud drive (ide2: local:cloudinit) with
ciuser, cipassword (stored hashed), sshkeys and ipconfig0 gives the guest the VM's name as hostname, the
user (in /etc/passwd, its key in authorized_keys, both read through the agent) and the address; a change
of a running VM is listed by GET .../cloudinit as pending and goes onto the drive with PUT .../cloudinit,
or at once when `hotplug` has cloudinit (the medium changed in the running QEMU);
citype=configdrive2 with another user is on the drive at the next start (the guest reads a config-2
drive); cicustom with a user-data snippet uploaded through the storage upload endpoint (content
snippets, refused while the storage does not hold snippets) replaces the generated user data. GET
.../cloudinit/dump's user, network and meta. Refusals: a cloud-init key on a VM without a
cloud-init drive (create and update: 400 naming the key, nothing changed), a second cloud-init drive.
Runs as root; every QEMU is stopped by PID at the end."""
# timeout: 600 (three guest boots, each up to a minute when the machine is loaded)

import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, task, wait_status  # noqa: E402

state = {}
VMID = 600
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPvedTestKeyOnlyForTheTestGuest0000000000 test@pved"


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def config(n, vmid=VMID):
    r = n.get(f"/nodes/{n.name}/qemu/{vmid}/config")
    expect(r.status == 200, r)
    return r.data


def conf_text(n, vmid=VMID):
    with open(n.path(f"etc/pve/nodes/{n.name}/qemu-server/{vmid}.conf")) as f:
        return f.read()


def put(n, params, vmid=VMID):
    return n.request("PUT", f"/nodes/{n.name}/qemu/{vmid}/config", params)


def refused(r, param, words=None):
    errors = (r.json or {}).get("errors") or {}
    expect(r.status == 400 and param in errors, f"expected 400 naming {param}: {r}")
    if words:
        expect(words in errors[param], f"{param}: {errors[param]!r} lacks {words!r}")


def read_file(n, path):
    r = n.get(f"/nodes/{n.name}/qemu/{VMID}/agent/file-read", {"file": path})
    expect(r.status == 200, r)
    return r.data["content"]


def boot(n):
    """Starts the VM; the GUEST-CLOUDINIT line, and waits for the agent."""
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/start"))
    serial = Serial(n.root, VMID)
    try:
        t0 = time.time()
        m = serial.wait(r"GUEST-CLOUDINIT [^\r\n]*\r?\n")
        serial.wait(r"GUEST-READY qga=on", since=0)
        print(f"# GUEST-CLOUDINIT {time.time() - t0:.1f} s after the start task", flush=True)
    finally:
        serial.close()
    state["pid"] = wait_status(n, VMID, "running")["pid"]
    return m.group(0).decode().strip()


def stop(n):
    task(n, n.post(f"/nodes/{n.name}/qemu/{VMID}/status/stop"))
    expect(vmlib.wait_gone(state["pid"], 10), "QEMU still runs")


def need_guest():
    if "guest" not in state:
        raise Skip(state.get("why", "no test guest"))
    return state["guest"]


@case
def refusals_without_a_drive(n):
    r = n.post(f"/nodes/{n.name}/qemu", {"vmid": 601, "memory": 64, "ciuser": "x"})
    refused(r, "ciuser", "cloud-init drive")
    expect(not os.path.exists(n.path(f"etc/pve/nodes/{n.name}/qemu-server/601.conf")),
           "a config was left")
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 601, "memory": 64}))
    before = conf_text(n, 601)
    refused(put(n, {"ipconfig0": "ip=dhcp"}, 601), "ipconfig0", "cloud-init drive")
    expect(conf_text(n, 601) == before, "the config changed")
    # with the drive in the same call it is fine, and a second drive is refused
    r = put(n, {"ide2": "local:cloudinit", "ciuser": "x"}, 601)
    expect(r.status == 200, r)
    c = config(n, 601)
    expect(c["ide2"] == "local:601/vm-601-cloudinit.qcow2,media=cdrom" and c["ciuser"] == "x", c)
    expect(os.path.exists(n.path("var/lib/vz/images/601/vm-601-cloudinit.qcow2")), "no volume")
    r = n.request("POST", f"/nodes/{n.name}/qemu/601/config", {"ide0": "local:cloudinit"})
    st = task(n, r, ok=False) if r.status == 200 else None
    expect(r.status == 400 or (st and st["exitstatus"] != "OK"), r)
    expect("ide0" not in config(n, 601), config(n, 601))
    # deleting the drive frees its volume, as Proxmox's (it is no unused disk)
    r = put(n, {"delete": "ide2,ciuser"}, 601)
    expect(r.status == 200, r)
    c = config(n, 601)
    expect("ide2" not in c and not any(k.startswith("unused") for k in c), c)
    expect(not os.path.exists(n.path("var/lib/vz/images/601/vm-601-cloudinit.qcow2")),
           "the cloud-init volume was left")


@case
def setup_nocloud_vm(n):
    try:
        g = vmlib.guest_image()
    except Skip as e:
        state["why"] = str(e)
        raise
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    args = f"-kernel {g}/vmlinux -initrd {g}/initrd.gz -append '{cmdline}'"
    # args is root's: set through the node's local socket, where the caller is root@pam
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", str(VMID), "--name", "ci-guest",
           "--memory", "192", "--serial0", "socket", "--agent", "1", f"--args={args}",
           "--net0", "virtio=BC:24:11:00:06:00", "--ide2", "local:cloudinit",
           "--ciuser", "tester", "--cipassword", "pw-12345",
           "--sshkeys", urllib.parse.quote(KEY, safe=""),
           "--ipconfig0", "ip=10.66.0.5/24,gw=10.66.0.1")
    c = config(n)
    expect(c["ide2"] == f"local:{VMID}/vm-{VMID}-cloudinit.qcow2,media=cdrom", c)
    expect(c["cipassword"] == "**********", c)
    text = conf_text(n)
    pw = [line for line in text.splitlines() if line.startswith("cipassword: ")]
    expect(pw and pw[0].split(": ", 1)[1].startswith(("$5$", "$6$")), f"cipassword not hashed: {pw}")
    state["guest"] = g


@case
def dump(n):
    need_guest()
    base = f"/nodes/{n.name}/qemu/{VMID}/cloudinit/dump"
    user = n.get(base, {"type": "user"})
    expect(user.status == 200, user)
    u = user.data
    expect(u.startswith("#cloud-config\n") and "hostname: ci-guest\n" in u and
           "user: tester\n" in u and KEY in u and "manage_etc_hosts: true" in u, u)
    net = n.get(base, {"type": "network"}).data
    expect("version: 1" in net and "bc:24:11:00:06:00" in net and "10.66.0.5" in net and
           "255.255.255.0" in net and "gateway: '10.66.0.1'" in net, net)
    meta = n.get(base, {"type": "meta"}).data
    expect(meta.startswith("instance-id: ") and len(meta.strip().split()[1]) == 40, meta)
    r = n.get(base, {"type": "bogus"})
    refused(r, "type")


@case
def nocloud_boots(n):
    need_guest()
    line = boot(n)
    expect(line == "GUEST-CLOUDINIT hostname=ci-guest user=tester ip=10.66.0.5/24", line)
    passwd = read_file(n, "/etc/passwd")
    expect("\ntester:" in passwd or passwd.startswith("tester:"), passwd)
    keys = read_file(n, "/home/tester/.ssh/authorized_keys")
    expect(KEY in keys, keys)
    shadow = read_file(n, "/etc/shadow")
    hashed = [line for line in conf_text(n).splitlines() if line.startswith("cipassword: ")][0]
    expect(f"tester:{hashed.split(': ', 1)[1]}:" in shadow, shadow)
    expect(read_file(n, "/run/cloudinit/source").startswith("nocloud "), "not NoCloud")


@case
def pending_of_a_running_vm(n):
    if "pid" not in state:
        raise Skip("the guest did not start")
    try:
        pending_checks(n)
    finally:
        stop(n)


def pending_checks(n):
    base = f"/nodes/{n.name}/qemu/{VMID}/cloudinit"
    r = n.get(base)
    expect(r.status == 200, r)
    by = {e["key"]: e for e in r.data}
    expect(by["ciuser"] == {"key": "ciuser", "value": "tester"}, r.data)
    expect(by["cipassword"]["value"] == "**********" and "pending" not in by["cipassword"], by)
    expect(r.status == 200 and put(n, {"ciuser": "other"}).status == 200, "put")
    by = {e["key"]: e for e in n.get(base).data}
    expect(by["ciuser"] == {"key": "ciuser", "value": "tester", "pending": "other"}, by)
    expect("[special:cloudinit]" in conf_text(n), conf_text(n))
    # PUT .../cloudinit writes the drive of the running VM: nothing pending after
    r = n.request("PUT", base)
    expect(r.status == 200, r)
    by = {e["key"]: e for e in n.get(base).data}
    expect(by["ciuser"] == {"key": "ciuser", "value": "other"}, by)
    expect("[special:cloudinit]" not in conf_text(n), conf_text(n))
    # `hotplug` with cloudinit (the option itself changes at once): a change goes onto the drive
    r = put(n, {"hotplug": "network,disk,usb,cloudinit"})
    expect(r.status == 200 and config(n).get("hotplug") == "network,disk,usb,cloudinit", r)
    expect("[PENDING]" not in conf_text(n), conf_text(n))
    r = put(n, {"ciuser": "hotuser"})
    expect(r.status == 200, r)
    by = {e["key"]: e for e in n.get(base).data}
    expect(by["ciuser"] == {"key": "ciuser", "value": "hotuser"}, by)
    expect("[special:cloudinit]" not in conf_text(n), conf_text(n))
    drive = config(n)["ide2"].split(",")[0]
    path = n.get(f"/nodes/{n.name}/storage/local/content/{drive}").data["path"]
    with open(path, "rb") as f:
        image = f.read()
    expect(b"hotuser" in image and b"\nuser: other" not in image, "the drive's user data")
    # and the running QEMU has the medium back in, read-only
    info = n.post(f"/nodes/{n.name}/qemu/{VMID}/monitor", {"command": "info block"}).data
    line = [x for x in info.splitlines() if x.startswith("drive-ide2")]
    expect(line and path in line[0] and "not inserted" not in line[0], info)


@case
def configdrive2_at_the_next_start(n):
    if "pid" not in state:
        raise Skip("the guest did not start")
    r = put(n, {"citype": "configdrive2", "ciuser": "cd2user", "name": "ci-cd2"})
    expect(r.status == 200, r)
    meta = n.get(f"/nodes/{n.name}/qemu/{VMID}/cloudinit/dump", {"type": "meta"}).data
    expect('"uuid"' in meta and "content_path" in meta, meta)
    line = boot(n)
    try:
        expect(line == "GUEST-CLOUDINIT hostname=ci-cd2 user=cd2user ip=10.66.0.5/24", line)
        expect(read_file(n, "/run/cloudinit/source").startswith("configdrive2 "), "not config-2")
        expect(KEY in read_file(n, "/home/cd2user/.ssh/authorized_keys"), "no key")
    finally:
        stop(n)


SNIPPET = """#cloud-config
hostname: snip-host
user: snipuser
ssh_authorized_keys:
  - %s
""" % KEY


def upload(n, content, filename, data):
    import requests
    return requests.post(
        f"https://127.0.0.1:{n.port}/api2/json/nodes/{n.name}/storage/local/upload",
        headers={"Cookie": "PVEAuthCookie=" + urllib.parse.quote(n.ticket, safe=""),
                 "CSRFPreventionToken": n.csrf},
        verify=n.path("etc/pve/pve-root-ca.pem"), data={"content": content},
        files={"filename": (filename, data, "application/octet-stream")})


@case
def cicustom_with_an_uploaded_snippet(n):
    need_guest()
    # the storage must hold snippets first, as for every content type
    r = upload(n, "snippets", "user.yaml", SNIPPET.encode())
    expect(r.status_code == 400 and "content" in r.text, f"{r.status_code} {r.text}")
    r = n.request("PUT", "/storage/local", {"content": "iso,vztmpl,backup,images,snippets"})
    expect(r.status == 200, r)
    r = upload(n, "snippets", "user.yaml", SNIPPET.encode())
    expect(r.status_code == 200, f"{r.status_code} {r.text}")
    expect(n.wait_task(r.json()["data"], 30)["exitstatus"] == "OK", "upload task")
    expect(os.path.exists(n.path("var/lib/vz/snippets/user.yaml")), "no snippet file")
    expect(put(n, {"cicustom": "user=local:snippets/user.yaml"}).status == 200, "cicustom")
    # as Proxmox's, the dump shows the generated user data, not the snippet that replaces it
    user = n.get(f"/nodes/{n.name}/qemu/{VMID}/cloudinit/dump", {"type": "user"}).data
    expect(user.startswith("#cloud-config\n") and "snip-host" not in user, user)
    line = boot(n)
    try:
        expect(line == "GUEST-CLOUDINIT hostname=snip-host user=snipuser ip=10.66.0.5/24", line)
        expect(KEY in read_file(n, "/home/snipuser/.ssh/authorized_keys"), "no key")
    finally:
        stop(n)


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-io-cloudinit"))
