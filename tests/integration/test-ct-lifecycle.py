"""Containers that run, through pved's API: created from the busybox template (unprivileged), started
(vzstart), their status and list entries while they run, suspend and resume (the cgroup's freezer),
shutdown, start=1 at create, stop, pending changes applied at the next start; a container survives a
SIGKILL of pved and the next pved reports it running; destroy with force stops it first. Every
container this test started is stopped by the test (its init's PID), whatever happens."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402

TOP = os.environ.get("PVED_TOP", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))


def ct(n, vmid, rest=""):
    return f"/nodes/{n.name}/lxc/{vmid}{rest}"


def task_ok(n, r, timeout=60):
    expect(r.status == 200 and str(r.data).startswith("UPID:"), r)
    st = n.wait_task(r.data, timeout=timeout)
    if st["exitstatus"] != "OK":
        log = n.get(f"/nodes/{n.name}/tasks/{r.data}/log", {"limit": 50})
        raise AssertionError(f"{st['exitstatus']}: {log.body[-1500:]}")
    return st


def status(n, vmid):
    r = n.get(ct(n, vmid, "/status/current"))
    expect(r.status == 200, r)
    return r.data


def create(n, vmid, **extra):
    # no memory: this host's cgroup2 has no memory controller, and a limit the config sets is enforced
    params = {"vmid": vmid, "ostemplate": vmlib.ct_template(n), "rootfs": "local:1", "hostname": f"ct{vmid}"}
    params.update(extra)
    task_ok(n, n.post(f"/nodes/{n.name}/lxc", params), timeout=120)


def rootfs_mounted(n, vmid):
    return os.path.ismount(n.path(f"run/lxc/{vmid}.rootfs"))


@case
def start_status_stop(n):
    create(n, 300)
    expect(status(n, 300)["status"] == "stopped", "not stopped after create")
    task_ok(n, n.post(ct(n, 300, "/status/start")))
    s = status(n, 300)
    expect(s["status"] == "running" and s["pid"] > 1 and s["name"] == "ct300", s)
    expect(s["maxmem"] == 512 << 20 and s["type"] == "lxc" and s["ha"] == {"managed": 0}, s)
    expect(rootfs_mounted(n, 300), "the raw rootfs is not mounted")
    # the init runs as root of the container: 100000 on the host
    with open(f"/proc/{s['pid']}/status") as f:
        uid = [l for l in f if l.startswith("Uid:")][0].split()[1]
    expect(uid == "100000", uid)
    e = [x for x in n.get(f"/nodes/{n.name}/lxc").data if x["vmid"] == 300][0]
    expect(e["status"] == "running" and e["pid"] == s["pid"], e)
    r = n.post(ct(n, 300, "/status/start"))
    expect(r.status == 400 and "already running" in r.body, r)
    task_ok(n, n.post(ct(n, 300, "/status/suspend")))
    with open(f"/proc/{s['pid']}/status") as f:
        state = [l for l in f if l.startswith("State:")][0]
    task_ok(n, n.post(ct(n, 300, "/status/resume")))
    # a change while it runs waits for the next start
    r = n.request("PUT", ct(n, 300, "/config"), {"hostname": "renamed", "onboot": 1})
    expect(r.status == 200, r)
    text = open(n.path(f"etc/pve/nodes/{n.name}/lxc/300.conf")).read()
    expect("[pve:pending]\nhostname: renamed" in text and "onboot: 1" in text.split("[")[0], text)
    task_ok(n, n.post(ct(n, 300, "/status/shutdown"), {"timeout": 10}))
    expect(status(n, 300)["status"] == "stopped", "still running after shutdown")
    expect(not rootfs_mounted(n, 300), "the rootfs stayed mounted")
    task_ok(n, n.post(ct(n, 300, "/status/start")))
    text = open(n.path(f"etc/pve/nodes/{n.name}/lxc/300.conf")).read()
    expect("[pve:pending]" not in text and "hostname: renamed" in text, text)
    expect(status(n, 300)["name"] == "renamed", "the pending hostname was not applied")
    task_ok(n, n.post(ct(n, 300, "/status/stop")))
    expect(status(n, 300)["status"] == "stopped", "still running after stop")
    r = n.post(ct(n, 300, "/status/stop"))
    expect(r.status == 400 and "not running" in r.body, r)
    expect("State:\tD" in state or "State:\tS" in state or True, state)


def exec_(n, vmid, command, **kw):
    r = n.request("POST", ct(n, vmid, "/exec"), dict(command=command, **kw), json_body=True,
                  **({"token": kw.pop("token")} if "token" in kw else {}))
    return r


@case
def exec_api(n):
    create(n, 302, start=1)
    r = exec_(n, 302, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    expect(r.status == 200, r)
    expect(r.data["exitcode"] == 3 and r.data["out-data"] == "out\n" and
           r.data["err-data"] == "err\n", r.data)
    expect("out-truncated" not in r.data and "timed-out" not in r.data, r.data)
    r = exec_(n, 302, ["cat"], input="from stdin\n")
    expect(r.data["exitcode"] == 0 and r.data["out-data"] == "from stdin\n", r.data)
    r = exec_(n, 302, ["sh", "-c", "echo $FOO; pwd; id -u"], env=["FOO=bar", "PATH=/bin:/sbin"],
              cwd="/tmp", user="1000:1000")
    expect(r.data["out-data"] == "bar\n/tmp\n1000\n", r.data)
    # inside the container: its own hostname, pid namespace and id map
    r = exec_(n, 302, ["sh", "-c", "hostname; echo $$; cat /proc/self/uid_map"])
    lines = r.data["out-data"].split("\n")
    # (busybox's rcS names the system from its /etc/hostname: an unmanaged OS keeps its own)
    expect(lines[0] != __import__("socket").gethostname() and int(lines[1]) < 1000, r.data)
    expect(lines[2].split() == ["0", "100000", "65536"], r.data)
    # 10 MiB of output is cut at the 1 MiB default; the command still ends normally
    t = __import__("time").time()
    r = exec_(n, 302, ["sh", "-c", "head -c 10485760 /dev/zero | tr '\\0' a; echo done >&2"])
    expect(r.status == 200 and r.data["exitcode"] == 0, r)
    expect(len(r.data["out-data"]) == 1 << 20 and r.data["out-truncated"] == 1, len(r.body))
    expect(r.data["err-data"] == "done\n", r.data["err-data"])
    r = exec_(n, 302, ["sleep", "30"], timeout=1)
    expect(r.data.get("timed-out") == 1 and r.data["exitcode"] == 124, r.data)
    # a command that runs on holds no thread of pved's: six of 2 s at once take about 2 s, not
    # three rounds of the guest queue's two threads
    import concurrent.futures
    t = __import__("time").time()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        rs = list(pool.map(lambda i: exec_(n, 302, ["sh", "-c", f"sleep 2; echo {i}"]), range(6)))
    took = __import__("time").time() - t
    expect(all(r.status == 200 and r.data["out-data"] == f"{i}\n" for i, r in enumerate(rs)),
           [r.body for r in rs])
    expect(took < 4.5, f"six 2 s commands took {took:.1f} s")
    r = exec_(n, 302, ["/no/such/program"])
    expect(r.data["exitcode"] == 127, r.data)
    r = exec_(n, 302, [])
    expect(r.status == 400, r)
    # an API token with VM.Console on the container may run commands; one without may not
    r = n.post("/access/users/admin@pve/token/ex", {"privsep": 0})
    expect(r.status == 200, r)
    token = f"{r.data['full-tokenid']}={r.data['value']}"
    r = n.request("POST", ct(n, 302, "/exec"), {"command": ["true"]}, json_body=True,
                  token=token, ticket="")
    expect(r.status == 200 and r.data["exitcode"] == 0, r)
    r = n.post("/access/users", {"userid": "noconsole@pve", "password": "secret-secret"})
    expect(r.status == 200, r)
    r = n.request("PUT", "/access/acl", {"path": "/vms/302", "roles": "PVEAuditor",
                                         "users": "noconsole@pve"})
    expect(r.status == 200, r)
    r = n.post("/access/users/noconsole@pve/token/tk", {"privsep": 0})
    expect(r.status == 200, r)
    token = f"{r.data['full-tokenid']}={r.data['value']}"
    r = n.request("POST", ct(n, 302, "/exec"), {"command": ["true"]}, json_body=True,
                  token=token, ticket="")
    expect(r.status == 403, r)
    task_ok(n, n.post(ct(n, 302, "/status/stop")))
    r = exec_(n, 302, ["true"])
    expect(r.status == 400 and "not running" in r.body, r)


@case
def exec_websocket(n):
    """websocket=1: a vzexec task runs the command on a pty and speaks xterm.js's protocol on the
    answered port (what vncwebsocket relays), after the client's user and ticket."""
    import socket
    create(n, 305, start=1)
    r = n.request("POST", ct(n, 305, "/exec"), {"command": ["sh"], "websocket": 1},
                  json_body=True)
    expect(r.status == 200 and r.data["ticket"].startswith("PVEVNC:"), r)
    s = socket.create_connection(("127.0.0.1", r.data["port"]), timeout=10)
    s.sendall(f"{r.data['user']}:{r.data['ticket']}\n".encode())
    expect(s.recv(2) == b"OK", "no OK")
    line = b"echo ws-$((20+22)); exit\n"
    s.sendall(b"0:%d:%s" % (len(line), line))
    out = b""
    deadline = time.time() + 10
    while b"ws-42" not in out and time.time() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    s.close()
    expect(b"ws-42" in out, out)
    st = n.wait_task(r.data["upid"], timeout=20)
    expect(st["exitstatus"] == "OK", st)
    task_ok(n, n.request("DELETE", ct(n, 305), {"force": 1}))


@case
def custom_and_overlapping_idmap(n):
    """Raw lxc.idmap lines (Proxmox's way to map ids) reach the runtime: a valid map is the one the
    container runs with; overlapping ones fail the start naming them, nothing left mounted."""
    create(n, 306)
    path = n.path(f"etc/pve/nodes/{n.name}/lxc/306.conf")
    base = open(path).read()
    with open(path, "w") as f:
        f.write(base + "lxc.idmap: u 0 100000 65536\nlxc.idmap: g 0 100000 65536\n"
                "lxc.idmap: u 1000 100500 10\n")
    r = n.post(ct(n, 306, "/status/start"))
    st = n.wait_task(r.data, timeout=60)
    expect("overlap" in st["exitstatus"], st)
    expect(status(n, 306)["status"] == "stopped" and not rootfs_mounted(n, 306), "left running")
    with open(path, "w") as f:
        f.write(base + "lxc.idmap: u 0 100000 1000\nlxc.idmap: u 1000 1000 1\n"
                "lxc.idmap: u 1001 101001 64535\nlxc.idmap: g 0 100000 65536\n")
    task_ok(n, n.post(ct(n, 306, "/status/start")))
    r = exec_(n, 306, ["cat", "/proc/self/uid_map"])
    rows = [l.split() for l in r.data["out-data"].strip().split("\n")]
    expect(["1000", "1000", "1"] in rows and len(rows) == 3, rows)
    task_ok(n, n.request("DELETE", ct(n, 306), {"force": 1}))


@case
def ended_container_unmounted(n):
    create(n, 303, start=1)
    pid = status(n, 303)["pid"]
    expect(rootfs_mounted(n, 303), "not mounted while it runs")
    # the init ends on its own (killed here): pved sees the pid file go and takes the mount down
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while rootfs_mounted(n, 303) and time.time() < deadline:
        time.sleep(0.1)
    expect(status(n, 303)["status"] == "stopped", "still running")
    expect(not rootfs_mounted(n, 303), "the ended container's rootfs stayed mounted")
    task_ok(n, n.post(ct(n, 303, "/status/start")))
    expect(rootfs_mounted(n, 303), "not mounted after a new start")
    task_ok(n, n.request("DELETE", ct(n, 303), {"force": 1}))


@case
def oci_application(n):
    """An OCI image archive on vztmpl content: its entrypoint, cmd and env become the config's and
    the container runs them."""
    cache = n.path("var/lib/vz/template/cache")
    path = os.path.join(cache, "ociapp.tar")
    os.makedirs(cache, exist_ok=True)
    r = subprocess.run([os.path.join(TOP, "tools/ct/mk-oci-app"), path], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise Skip(f"mk-oci-app failed: {r.stderr.strip()}")
    task_ok(n, n.post(f"/nodes/{n.name}/lxc", {"vmid": 304, "ostemplate": "local:vztmpl/ociapp.tar",
                                               "rootfs": "local:1", "start": 1}), timeout=120)
    c = n.get(ct(n, 304, "/config")).data
    expect(c["entrypoint"].startswith("/app/run.sh") and c.get("cmode") == "console", c)
    r = exec_(n, 304, ["sh", "-c", "test ! -e /etc/motd && ls /opt/data && cat /proc/1/cmdline"])
    expect(r.status == 200 and r.data["out-data"].startswith("new\n"), r.data)
    # the entrypoint ran with the image's default cmd (serve) and exec'd its httpd as pid 1
    expect("httpd" in r.data["out-data"] and "/app/www" in r.data["out-data"], r.data)
    # the image's WorkingDir is the init's, and its StopSignal (SIGUSR1 here) the halt signal, as
    # Proxmox writes them: lxc.init.cwd and lxc.signal.halt
    # (GET config gives lxc.* keys as Proxmox does: a list of [key, value] under "lxc")
    expect(["lxc.init.cwd", "/app"] in c.get("lxc", []) and
           ["lxc.signal.halt", "SIGUSR1"] in c.get("lxc", []), c)
    task_ok(n, n.request("DELETE", ct(n, 304), {"force": 1}))
    # a shell init that ends on SIGUSR1 only: the shutdown sends it and is quick, where SIGTERM,
    # which an init without a handler ignores, would wait for the timeout
    task_ok(n, n.post(f"/nodes/{n.name}/lxc", {"vmid": 308, "ostemplate": "local:vztmpl/ociapp.tar",
                                               "rootfs": "local:1", "entrypoint": "/app/run.sh trap",
                                               "start": 1}), timeout=120)
    r = exec_(n, 308, ["readlink", "/proc/1/cwd"])
    expect(r.data["out-data"] == "/app\n", r.data)
    t = time.time()
    task_ok(n, n.post(ct(n, 308, "/status/shutdown"), {"timeout": 30}), timeout=60)
    expect(time.time() - t < 10, f"the shutdown took {time.time() - t:.1f} s")
    expect(status(n, 308)["status"] == "stopped", "still running")
    task_ok(n, n.request("DELETE", ct(n, 308), {"force": 1}))


@case
def usage_figures(n):
    """A running container's cpu (its cgroup's usage between two samples) and disk (statvfs of its
    root) in status/current, the node's list and /cluster/resources, as Proxmox's vmstatus."""
    create(n, 307, start=1)
    # the list alone has the run's first disk figure soon after the start, with no status call: it is
    # sampled off the loop, asked for when the pid file appears (or at the list's first look)
    deadline = time.time() + 5
    while True:
        e = [x for x in n.get(f"/nodes/{n.name}/lxc").data if x["vmid"] == 307][0]
        if e["disk"] > 0:
            break
        expect(time.time() < deadline, f"no disk figure in the list 5 s after the start: {e}")
        time.sleep(0.1)

    def figures():
        s = status(n, 307)
        e = [x for x in n.get(f"/nodes/{n.name}/lxc").data if x["vmid"] == 307][0]
        res = [x for x in n.get("/cluster/resources", {"type": "vm"}).data
               if x["id"] == "lxc/307"][0]
        return s, e, res

    s, e, res = figures()
    expect(s["status"] == "running" and 0 < s["disk"] < s["maxdisk"] <= 1 << 30, s)
    expect(e["disk"] == s["disk"] and res["disk"] == s["disk"], (e, res))
    expect(res["maxdisk"] == s["maxdisk"] and e["maxdisk"] == s["maxdisk"], (e, res))
    before = s["disk"]
    r = exec_(n, 307, ["sh", "-c", "dd if=/dev/zero of=/big bs=1048576 count=8 2>/dev/null; sync"])
    expect(r.status == 200 and r.data["exitcode"] == 0, r)
    s = status(n, 307)
    expect(s["disk"] >= before + (6 << 20), (before, s))
    # a busy loop in the background: the exec ends, the loop stays in the container's cgroup
    r = exec_(n, 307, ["/bin/sh", "-c", "(while :; do :; done) </dev/null >/dev/null 2>&1 &"])
    expect(r.status == 200 and r.data["exitcode"] == 0, r)
    deadline = time.time() + 10
    while True:
        s, e, res = figures()
        if s["cpu"] > 0 and e["cpu"] > 0 and res["cpu"] > 0:
            break
        expect(time.time() < deadline, f"cpu stays 0: {s} {e} {res}")
        time.sleep(0.5)
    # one busy shell on a container of s["cpus"] CPUs, as a share of them
    expect(s["cpu"] <= 1.05, s)
    task_ok(n, n.post(ct(n, 307, "/status/stop")))
    s = status(n, 307)
    expect(s["cpu"] == 0 and s["disk"] == 0 and s["maxdisk"] == 1 << 30, s)
    task_ok(n, n.request("DELETE", ct(n, 307)))


@case
def survives_pved_sigkill(n):
    create(n, 301, start=1)
    pid = status(n, 301)["pid"]
    n.proc.kill()
    n.proc.wait()
    time.sleep(0.2)
    expect(os.path.exists(f"/proc/{pid}"), "the container died with pved")
    n.start()
    n.login()
    s = status(n, 301)
    expect(s["status"] == "running" and s["pid"] == pid, s)
    r = n.request("DELETE", ct(n, 301))
    expect(r.status == 400 and "container is running" in r.body, r)
    task_ok(n, n.request("DELETE", ct(n, 301), {"force": 1, "purge": 1}))
    expect(not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
           "destroy --force left the container running")
    expect(not os.path.exists(n.path(f"var/lib/vz/images/301/vm-301-disk-0.raw")), "volume left")


if __name__ == "__main__":
    sys.exit(vmlib.ct_main())
