"""A VM's firmware volumes on a real pved under TCG: an efidisk0 made from OVMF's variables template (its
size and first bytes the template's), OVMF booting with it and writing its variables there; a
tpmstate0 of Proxmox's fixed 4 MiB, swtpm made and started for it (the state written by swtpm_setup),
the test guest's kernel finding a TPM 2.0, and swtpm gone with its VM. Refusals: a TPM state that is
not a raw volume. Runs as root; every QEMU and swtpm (its pid file is in the same run directory) is
stopped by PID at the end."""

import os
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import Serial, task, wait_status  # noqa: E402

OVMF_VARS_4M_MS = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
state = {}


def pvectl(n, *args):
    r = subprocess.run([os.path.join(BIN, "pvectl"), "--root", n.root, *args],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"pvectl {args}: {r.stdout} {r.stderr}")
    return r.stdout


def config(n, vmid):
    r = n.get(f"/nodes/{n.name}/qemu/{vmid}/config")
    expect(r.status == 200, r)
    return r.data


def volume_path(n, volid):
    r = n.get(f"/nodes/{n.name}/storage/local/content/{volid}")
    expect(r.status == 200, r)
    return r.data["path"]


def swtpm_pid(n, vmid):
    try:
        with open(os.path.join(n.root, "run/qemu-server", f"{vmid}.swtpm.pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


@case
def efidisk_from_the_template(n):
    if not os.path.exists(OVMF_VARS_4M_MS):
        raise Skip("no OVMF (package ovmf)")
    task(n, n.post(f"/nodes/{n.name}/qemu", {
        "vmid": 601, "memory": 256, "bios": "ovmf", "vga": "none", "serial0": "socket",
        "efidisk0": "local:1,efitype=4m,pre-enrolled-keys=1"}))
    efi = config(n, 601)["efidisk0"]
    expect("efitype=4m" in efi and "pre-enrolled-keys=1" in efi and "size=528K" in efi, efi)
    path = volume_path(n, efi.split(",")[0])
    with open(OVMF_VARS_4M_MS, "rb") as f:
        template = f.read()
    with open(path, "rb") as f:
        made = f.read()
    expect(made == template, f"{path}: {len(made)} bytes, not the template's {len(template)}")
    state["efi"] = (path, template)


@case
def ovmf_boots_and_keeps_its_variables(n):
    if "efi" not in state:
        raise Skip("no efidisk0 made")
    path, template = state["efi"]
    task(n, n.post(f"/nodes/{n.name}/qemu/601/status/start"))
    serial = Serial(n.root, 601)
    try:
        # OVMF's boot manager finds nothing to boot and says so on the serial console
        serial.wait(r"BdsDxe|Shell>|UEFI Interactive Shell|startup\.nsh", timeout=180)
    finally:
        serial.close()
    task(n, n.post(f"/nodes/{n.name}/qemu/601/status/stop"))
    with open(path, "rb") as f:
        after = f.read()
    expect(len(after) == len(template) and after != template,
           "OVMF wrote no variable into the efidisk")
    # the command line names the secure-boot-less 4M code (no q35) and the efidisk as pflash 1
    out = pvectl(n, "vm", "showcmd", "601")
    expect("OVMF_CODE_4M.fd" in out and f"if=pflash,unit=1,id=drive-efidisk0,format=raw,file={path}"
           in out, out)


@case
def tpm_state_and_swtpm(n):
    if not shutil.which("swtpm") or not shutil.which("swtpm_setup"):
        raise Skip("no swtpm (packages swtpm, swtpm-tools)")
    # the bzImage through SeaBIOS, not PVH (guest_args): with PVH the initrd lands on the ACPI
    # tables at the top of RAM, and the guest's kernel turns ACPI, and with it the TPM, off
    args = vmlib.guest_args().replace("/vmlinux ", "/vmlinuz ")
    pvectl(n, "create", f"/nodes/{n.name}/qemu", "--vmid", "600", "--name", "tpmguest",
           "--memory", "192", "--serial0", "socket", "--agent", "1",
           "--tpmstate0", "local:1,version=v2.0", f"--args={args}")
    tpm = config(n, 600)["tpmstate0"]
    expect("size=4M" in tpm and "version=v2.0" in tpm, tpm)
    path = volume_path(n, tpm.split(",")[0])
    expect(os.path.getsize(path) == 4 * 1024 * 1024, f"{path}: {os.path.getsize(path)} bytes")
    with open(path, "rb") as f:
        expect(not any(f.read()), "a new TPM state holds data before its first start")
    task(n, n.post(f"/nodes/{n.name}/qemu/600/status/start"))
    serial = Serial(n.root, 600)
    try:
        serial.wait(r"GUEST-READY qga=on")
    finally:
        serial.close()
    wait_status(n, 600, "running")
    pid = swtpm_pid(n, 600)
    expect(pid and vmlib.alive(pid), "swtpm does not run")
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    expect(b"--tpm2" in argv and b"--terminate" in argv, argv)
    with open(path, "rb") as f:
        expect(any(f.read()), "swtpm_setup wrote no state into the volume")
    # the guest's kernel found the TPM 2.0 (tpm_tis, from the ACPI table QEMU gives)
    body = urllib.parse.urlencode([("command", "cat"),
                                   ("command", "/sys/class/tpm/tpm0/tpm_version_major")])
    rr = n.request("POST", f"/nodes/{n.name}/qemu/600/agent/exec", body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect(rr.status == 200, rr)
    deadline = time.time() + 30
    while True:
        st = n.get(f"/nodes/{n.name}/qemu/600/agent/exec-status", {"pid": rr.data["pid"]}).data
        if st.get("exited") or time.time() > deadline:
            break
        time.sleep(0.2)
    expect(st.get("exitcode") == 0 and st.get("out-data", "").strip() == "2", st)
    task(n, n.post(f"/nodes/{n.name}/qemu/600/status/stop"))
    expect(vmlib.wait_gone(pid, 10), "swtpm still runs after its VM stopped")


@case
def tpm_state_must_be_raw(n):
    if not shutil.which("swtpm"):
        raise Skip("no swtpm (packages swtpm, swtpm-tools)")
    task(n, n.post(f"/nodes/{n.name}/qemu", {"vmid": 602, "memory": 64, "vga": "none",
                                             "tpmstate0": "local:1,format=qcow2"}))
    r = n.post(f"/nodes/{n.name}/qemu/602/status/start")
    task(n, r, ok=False)
    log = vmlib.task_log(n, r.data)
    expect("swtpm needs a raw volume, not qcow2" in log, log)
    expect(not swtpm_pid(n, 602), "a swtpm pid file after a refused start")


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("integration-vm-firmware"))
