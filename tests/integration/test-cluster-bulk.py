"""/cluster/bulk-action on one node (a cluster of one) with real QEMU under TCG: diskless VMs (they sit
in the firmware, start in a moment and ignore ACPI) started, suspended, resumed and shut down by the
bulk tasks, which call the node's API with the caller's credentials (a ticket, an API token, root on
the local socket); startup order, max-workers, vms, the skip and failure lines of the task log as
Proxmox prints them, and the permission checks. Runs as root; every QEMU is stopped by PID at the
end."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import case, expect  # noqa: E402
import vmlib  # noqa: E402
from vmlib import status, task, task_log, wait_status  # noqa: E402

BULK = "/cluster/bulk-action/guest"
VMS = (101, 102, 103)
PASSWORD = "bulk-test-pw"


def bulk(n, action, params=None, **kw):
    # JSON: vms is a list
    return n.post(f"{BULK}/{action}", params or {}, json_body=True, **kw)


def run_bulk(n, action, params=None, ok=True, **kw):
    """Starts the bulk task, follows it to its end: (exit status, log lines)."""
    r = bulk(n, action, params, **kw)
    expect(r.status == 200 and r.data.startswith(f"UPID:{n.name}:") and
           f":bulk-{action}::" in r.data, r)
    st = task(n, r, timeout=240, ok=ok)
    return st["exitstatus"], task_log(n, r.data).splitlines()


def states(n):
    return {v: status(n, v)["status"] for v in VMS}


def lines_with(log, word):
    return [line for line in log if word in line]


@case
def setup_vms(n):
    vmlib.need_root_and_qemu()
    # 101 first (order 1); 102 and 103 after it, in one order
    for vmid in VMS:
        params = {"vmid": vmid, "memory": 64, "name": f"bulk{vmid}"}
        if vmid == 101:
            params["startup"] = "order=1"
        task(n, n.post(f"/nodes/{n.name}/qemu", params))


@case
def indexes(n):
    r = n.get("/cluster/bulk-action")
    expect(r.status == 200 and r.data == [{"name": "guest"}], r)
    r = n.get(BULK)
    expect(r.status == 200 and [x["name"] for x in r.data] ==
           ["start", "shutdown", "migrate", "suspend"], r)
    r = n.get("/cluster")
    expect(r.status == 200 and {"name": "bulk-action"} in r.data, r)


@case
def bad_input(n):
    for params, name in (({"max-workers": 0}, "max-workers"), ({"maxworkers": 65}, "maxworkers"),
                         ({"vms": "99"}, "vms"), ({"timeout": "x"}, "timeout")):
        r = bulk(n, "start", params)
        errors = (r.json or {}).get("errors") or {}
        expect(r.status == 400 and any(k.startswith(name) for k in errors), (params, r))
    r = bulk(n, "suspend", {"statestorage": "local"})
    expect(r.status == 400 and "to-disk" in r.json["errors"], r)
    r = bulk(n, "migrate", {"target": n.name})
    expect(r.status == 501 and "migration is not supported by pved yet" in r.reason, r)
    expect(set(states(n).values()) == {"stopped"}, states(n))


@case
def start_all(n):
    vmlib.need_root_and_qemu()
    ex, log = run_bulk(n, "start", {"max-workers": 2})
    expect(ex == "OK", log)
    expect(set(states(n).values()) == {"running"}, states(n))
    expect(log[0] == "Starting all guests", log)
    expect(lines_with(log, "Starting VM") == ["Starting VM 101", "Starting VM 102",
                                              "Starting VM 103"], log)
    expect(log[-1] == "TASK OK", log)
    # started again: each one is skipped, a counted warning
    ex, log = run_bulk(n, "start", {"vms": ["101", "103"]})
    expect(ex == "WARNINGS: 2", (ex, log))
    expect(log[0] == "Starting guests: 101, 103", log)
    expect("WARN: Skipping VM 101, already running." in log and
           "WARN: Skipping VM 103, already running." in log, log)


@case
def suspend_and_resume(n):
    vmlib.need_root_and_qemu()
    ex, log = run_bulk(n, "suspend", {"vms": [102]})
    expect(ex == "OK" and "Suspending VM 102" in log and log[0] == "Suspending guests: 102", log)
    expect(status(n, 102)["qmpstatus"] == "paused" and status(n, 101)["qmpstatus"] == "running",
           status(n, 102))
    # a paused VM is resumed by a start
    ex, log = run_bulk(n, "start", {"vms": [102]})
    expect(ex == "OK" and "Starting VM 102" in log, log)
    expect(status(n, 102)["qmpstatus"] == "running", status(n, 102))


@case
def shutdown_all(n):
    vmlib.need_root_and_qemu()
    # no OS to honour ACPI: each is stopped after its timeout
    ex, log = run_bulk(n, "shutdown", {"force-stop": 1, "timeout": 2, "maxworkers": 2})
    expect(ex == "OK", log)
    expect(set(states(n).values()) == {"stopped"}, states(n))
    expect(log[0] == "Shutting down all guests", log)
    # the reverse of the start: 101 (order 1) last
    expect(lines_with(log, "Shutting down VM") == [
        "Shutting down VM 102 (Timeout = 2 seconds)", "Shutting down VM 103 (Timeout = 2 seconds)",
        "Shutting down VM 101 (Timeout = 2 seconds)"], log)
    ex, log = run_bulk(n, "shutdown", {"vms": [101]})
    expect(ex == "WARNINGS: 1" and "WARN: Skipping VM 101, not running." in log, log)
    ex, log = run_bulk(n, "suspend", {"vms": [101]})
    expect(ex == "WARNINGS: 1" and "WARN: Skipping VM 101, not running." in log, log)


@case
def vms_restricts(n):
    vmlib.need_root_and_qemu()
    ex, log = run_bulk(n, "start", {"vms": [103]})
    expect(ex == "OK" and lines_with(log, "Starting VM") == ["Starting VM 103"], log)
    expect(states(n) == {101: "stopped", 102: "stopped", 103: "running"}, states(n))
    ex, log = run_bulk(n, "shutdown", {"vms": [103], "timeout": 1})
    expect(ex == "OK", log)
    expect(status(n, 103)["status"] == "stopped", status(n, 103))


@case
def credentials(n):
    """An API token and root on the local socket (a root@pam ticket pved signs) reach the API too."""
    vmlib.need_root_and_qemu()
    r = n.post("/access/users/admin@pve/token/bulk", {"privsep": 0})
    expect(r.status == 200, r)
    token = f"{r.data['full-tokenid']}={r.data['value']}"
    ex, log = run_bulk(n, "start", {"vms": [101]}, ticket="", token=token)
    expect(ex == "OK" and "Starting VM 101" in log, log)
    code, data = n.local_call("POST", f"{BULK}/shutdown", {"vms": [101], "timeout": 1})
    expect(code == 200 and data["data"].startswith("UPID:") and ":root@pam:" in data["data"],
           (code, data))
    st = n.wait_task(data["data"], 120)
    expect(st["exitstatus"] == "OK", (st, task_log(n, data["data"])))
    wait_status(n, 101, "stopped")
    # the secrets are nowhere in what the task shows or logs
    for text in (data["data"], task_log(n, data["data"]), n.logtext()):
        expect(r.data["value"] not in text and "PVE:root@pam:" not in text, text[-500:])


@case
def permissions(n):
    """VM.PowerMgmt on one VM: a bulk start of that one, and 403 for all or for others."""
    vmlib.need_root_and_qemu()
    user = "bulkuser@pve"
    expect(n.post("/access/users", {"userid": user, "password": PASSWORD}).status == 200, user)
    r = n.request("PUT", "/access/acl", {"path": "/vms/102", "roles": "PVEVMUser", "users": user})
    expect(r.status == 200, r)
    r = n.post("/access/ticket", {"username": user, "password": PASSWORD}, ticket="")
    expect(r.status == 200, r)
    kw = {"ticket": r.data["ticket"], "csrf": r.data["CSRFPreventionToken"]}
    r = bulk(n, "start", {}, **kw)
    expect(r.status == 403 and "Permission check failed (/, VM.PowerMgmt)" in r.reason, r)
    r = bulk(n, "start", {"vms": [102, 101]}, **kw)
    expect(r.status == 403 and "Permission check failed (/vms/101, VM.PowerMgmt)" in r.reason, r)
    r = bulk(n, "suspend", {"vms": [102], "to-disk": 1, "statestorage": "local"}, **kw)
    expect(r.status == 403 and "Permission check failed (/vms/102, VM.Config.Disk)" in r.reason, r)
    expect(set(states(n).values()) == {"stopped"}, states(n))
    ex, log = run_bulk(n, "start", {"vms": [102]}, **kw)
    expect(ex == "OK" and "Starting VM 102" in log, log)
    expect(states(n) == {101: "stopped", 102: "running", 103: "stopped"}, states(n))
    ex, log = run_bulk(n, "shutdown", {"vms": [102], "timeout": 1}, **kw)
    expect(ex == "OK", log)
    wait_status(n, 102, "stopped")


@case
def failures(n):
    """A guest whose start fails: the task's error names it, its log line has the guest task's."""
    vmlib.need_root_and_qemu()
    conf = n.path(f"etc/pve/nodes/{n.name}/qemu-server/104.conf")
    with open(conf, "w") as f:
        f.write("memory: 64\nscsi0: local:104/vm-104-disk-9.raw,size=1G\n")
    try:
        ex, log = run_bulk(n, "start", {"vms": [104, 105]}, ok=False)
        expect(ex == "Some guests failed to start: 104", (ex, log))
        failed = lines_with(log, "WARN: Starting VM 104 failed: ")
        expect(len(failed) == 1 and len(failed[0]) > len("WARN: Starting VM 104 failed: "), log)
        expect(log[-1] == "TASK ERROR: Some guests failed to start: 104", log)
    finally:
        os.unlink(conf)


if __name__ == "__main__":
    sys.exit(vmlib.vm_main("test-cluster-bulk"))
