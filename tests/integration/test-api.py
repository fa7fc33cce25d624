"""The foundation end to end: a real pved and its pved-api on a temporary root, spoken to over TLS with
Python's HTTPS client, curl and proxmoxer (Debian's python3-proxmoxer). Needs root."""

import concurrent.futures
import gzip
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Node, Skip, case, children_of, comm, expect, run  # noqa: E402

NODE = None


@case
def first_start_files(n):
    for rel, mode in [("etc/pve/priv/initial-admin-password", 0o600), ("etc/pve/priv/authkey.key", 0o600),
                      ("etc/pve/priv/pve-root-ca.key", 0o600), ("etc/pve/user.cfg", None),
                      ("etc/pve/storage.cfg", None), ("etc/pve/authkey.pub", None),
                      ("etc/pve/pve-root-ca.pem", None), (f"etc/pve/nodes/{n.name}/pve-ssl.pem", None),
                      (f"etc/pve/nodes/{n.name}/pve-ssl.key", None), ("run/pved.pid", None),
                      ("run/pved.sock", None)]:
        st = os.stat(n.path(rel))
        if mode is not None:
            expect(st.st_mode & 0o777 == mode, f"{rel} has mode {oct(st.st_mode & 0o777)}")
    user_cfg = open(n.path("etc/pve/user.cfg")).read()
    expect("user:admin@pve:1:0:" in user_cfg, user_cfg)
    expect(re.search(r"^acl:1:/:admin@pve:Administrator:$", user_cfg, re.M), user_cfg)
    storage = open(n.path("etc/pve/storage.cfg")).read()
    expect(storage.startswith("dir: local\n"), storage)
    expect("content iso,vztmpl,backup,images,rootdir" in storage, storage)
    expect(os.path.isdir(n.path("var/lib/vz")), "var/lib/vz missing")
    expect(len(n.admin_password) >= 16, "admin password too short")
    expect(n.admin_password not in open(n.path("etc/pve/priv/shadow.cfg")).read(), "password stored in clear")


@case
def login_and_version(n):
    r = n.login()
    expect(r.data["username"] == "admin@pve", r)
    expect(r.data["ticket"].startswith("PVE:admin@pve:"), r)
    expect(re.fullmatch(r"[0-9A-F]{8}:\S+", r.data["CSRFPreventionToken"]), r)
    v = n.get("/version")
    expect(v.status == 200 and v.data["version"] and v.data["release"], v)
    expect(v.headers.get("Content-Type", "").startswith("application/json"), v.headers)


@case
def wrong_password_is_401_after_delay(n):
    t = time.time()
    r = n.post("/access/ticket", {"username": "admin@pve", "password": "wrong"}, ticket="")
    expect(r.status == 401, r)
    expect(time.time() - t >= 2.5, "no delay on a failed login")
    expect(r.json == {"data": None, "message": "authentication failure\n"} or r.json["data"] is None, r)


@case
def failed_auth_delay_does_not_block_others(n):
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        bad = [ex.submit(n.post, "/access/ticket", {"username": "admin@pve", "password": "x"}, ticket="")
               for _ in range(3)]
        time.sleep(0.2)
        t = time.time()
        good = n.get("/version")
        took = time.time() - t
        expect(good.status == 200 and took < 1.5, f"good request took {took:.2f} s")
        expect(all(f.result().status == 401 for f in bad), "bad logins did not fail")


@case
def no_ticket_is_401(n):
    r = n.get("/version", ticket="", csrf="")
    expect(r.status == 401 and r.reason == "No ticket", r)
    r = n.get("/version", ticket="PVE:admin@pve:00000000::Zm9v")
    expect(r.status == 401, r)


@case
def ticket_renewal(n):
    r = n.post("/access/ticket", {"username": "admin@pve", "password": n.ticket}, ticket="")
    expect(r.status == 200 and r.data["ticket"].startswith("PVE:admin@pve:"), r)
    r = n.post("/access/ticket", {"username": "root@pam", "password": n.ticket}, ticket="")
    expect(r.status == 401, "a ticket renewed for another user")
    # Verify mode: the ticket is checked for privileges on a path, and no new ticket is made.
    r = n.post("/access/ticket", {"username": "admin@pve", "password": n.ticket, "path": "/",
                                  "privs": "Sys.Audit,VM.Allocate"}, ticket="")
    expect(r.status == 200 and "ticket" not in r.data, r)


@case
def realms_without_login(n):
    r = n.get("/access/domains", ticket="")
    expect(r.status == 200 and {d["realm"] for d in r.data} >= {"pam", "pve"}, r)


@case
def directory_indexes(n):
    r = n.get("/")
    expect({d["subdir"] for d in r.data} >= {"version", "nodes", "cluster", "access"}, r)
    r = n.get(f"/nodes/{n.name}")
    expect({d["name"] for d in r.data} >= {"status", "version", "time", "tasks"}, r)
    r = n.get("/nodes")
    expect([d["node"] for d in r.data] == [n.name] and r.data[0]["status"] == "online", r)
    expect(re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", r.data[0]["ssl_fingerprint"]), r)


@case
def node_status_is_real(n):
    r = n.get(f"/nodes/{n.name}/status")
    expect(r.status == 200, r)
    d = r.data
    meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    total = int(meminfo["MemTotal"].split()[0]) * 1024
    expect(d["memory"]["total"] == total, d["memory"])
    expect(d["cpuinfo"]["cpus"] == os.cpu_count(), d["cpuinfo"])
    expect(len(d["loadavg"]) == 3 and all(isinstance(x, str) for x in d["loadavg"]), d["loadavg"])
    st = os.statvfs(n.root)
    expect(d["rootfs"]["total"] == st.f_blocks * st.f_frsize, d["rootfs"])
    expect(abs(d["uptime"] - float(open("/proc/uptime").read().split()[0])) < 5, d["uptime"])
    expect(d["kversion"].startswith("Linux " + os.uname().release), d["kversion"])
    t = n.get(f"/nodes/{n.name}/time").data
    expect(abs(t["time"] - time.time()) < 5, t)
    expect(n.get(f"/nodes/{n.name}/version").data["version"], "no node version")


@case
def unknown_node_path_method(n):
    r = n.get("/nodes/othernode/status")
    expect(r.status == 404 and "othernode" in r.reason, r)
    r = n.get("/no/such/path")
    expect(r.status == 501 and "not implemented" in r.reason, r)
    r = n.request("PUT", "/version", {})
    expect(r.status == 501, r)


@case
def bad_parameters_are_400_with_errors(n):
    r = n.get("/cluster/nextid", {"vmid": "abc"})
    expect(r.status == 400 and "vmid" in r.json["errors"], r)
    r = n.get("/cluster/nextid", {"vmid": "5"})
    expect(r.status == 400 and "VM ID" in r.json["errors"]["vmid"], r)
    r = n.get(f"/nodes/{n.name}/tasks", {"limit": "-1"})
    expect(r.status == 400 and "minimum" in r.json["errors"]["limit"], r)
    r = n.get("/cluster/nextid", {"bogus": "1"})
    expect(r.status == 400 and "bogus" in r.json["errors"], r)
    r = n.get(f"/nodes/{n.name}/tasks", {"source": "everything"})
    expect(r.status == 400 and "source" in r.json["errors"], r)
    r = n.get(f"/nodes/{n.name}/status", {"node": "other"})
    expect(r.status == 400 and "duplicate parameter" in r.json["errors"]["node"], r)


@case
def nextid_follows_configs(n):
    expect(n.get("/cluster/nextid").data == "100", "fresh node")
    path = n.path(f"etc/pve/nodes/{n.name}/qemu-server/100.conf")
    with open(path, "w") as f:
        f.write("memory: 512\n")
    try:
        expect(n.get("/cluster/nextid").data == "101", "100 is taken")
        r = n.get("/cluster/nextid", {"vmid": "100"})
        expect(r.status == 400 and r.json["errors"]["vmid"] == "VM 100 already exists", r)
        expect(n.get("/cluster/nextid", {"vmid": "105"}).data == "105", "105 is free")
    finally:
        os.unlink(path)


@case
def writes_need_csrf(n):
    r = n.post(f"/nodes/{n.name}/startall", {}, csrf="")
    expect(r.status == 401 and "csrf" in r.reason, r)
    r = n.post(f"/nodes/{n.name}/startall", {}, csrf="00000000:bad")
    expect(r.status == 401, r)


@case
def task_runs_and_is_listed(n):
    r = n.post(f"/nodes/{n.name}/startall", {})
    expect(r.status == 200 and r.data.startswith(f"UPID:{n.name}:"), r)
    upid = r.data
    st = n.wait_task(upid)
    expect(st["exitstatus"] == "OK", st)
    q = urllib.parse.quote(upid, safe="")
    log = n.get(f"/nodes/{n.name}/tasks/{q}/log")
    expect(log.data[-1]["t"] == "TASK OK", log)
    lst = n.get(f"/nodes/{n.name}/tasks", {"typefilter": "startall"})
    expect(any(t["upid"] == upid and t["status"] == "OK" for t in lst.data), lst)
    expect(lst.json.get("total", 0) >= 1, lst)
    logfile = n.path(f"var/log/pve/tasks/{upid.split(':')[4][-1]}/{upid}")
    expect(open(logfile).read().rstrip().endswith("TASK OK"), "log file")
    expect(any(t["upid"] == upid for t in n.get("/cluster/tasks").data), "cluster tasks")


@case
def task_warnings_for_guests_not_yet_startable(n):
    path = n.path(f"etc/pve/nodes/{n.name}/qemu-server/120.conf")
    with open(path, "w") as f:
        f.write("onboot: 1\nmemory: 512\n")
    try:
        upid = n.post(f"/nodes/{n.name}/startall", {}).data
        st = n.wait_task(upid)
        expect(st["exitstatus"] == "WARNINGS: 1", st)
    finally:
        os.unlink(path)


@case
def json_body_and_form_body(n):
    r = n.post(f"/nodes/{n.name}/stopall", {"timeout": 5}, json_body=True)
    expect(r.status == 200 and r.data.startswith("UPID:"), r)
    n.wait_task(r.data)
    r = n.post(f"/nodes/{n.name}/stopall", {"timeout": "x"})
    expect(r.status == 400 and "timeout" in r.json["errors"], r)


@case
def api_token(n):
    secret = "4e2b2c34-8d3a-4d0e-9a55-3b1f6a7c9d11"
    salt = os.urandom(16)
    import hashlib
    digest = hashlib.sha256(salt + secret.encode()).hexdigest()
    user_cfg = n.path("etc/pve/user.cfg")
    orig = open(user_cfg).read()
    token_cfg = n.path("etc/pve/priv/token.cfg")
    try:
        with open(token_cfg + ".new", "w") as f:
            f.write(f"admin@pve!ci $pved-sha256${salt.hex()}${digest}\n")
        os.rename(token_cfg + ".new", token_cfg)
        with open(user_cfg + ".new", "w") as f:
            f.write(re.sub(r"^(user:admin@pve:.*\n)", r"\1token:admin@pve!ci:0:0::\n", orig, flags=re.M))
        os.rename(user_cfg + ".new", user_cfg)
        deadline = time.time() + 5
        r = None
        while time.time() < deadline:
            r = n.get("/version", ticket="", token=f"admin@pve!ci={secret}")
            if r.status == 200:
                break
            time.sleep(0.2)
        expect(r.status == 200, r)
        r = n.get("/version", ticket="", token="admin@pve!ci=00000000-0000-0000-0000-000000000000")
        expect(r.status == 401, r)
        r = n.post("/access/ticket", {"username": "admin@pve", "password": "x"}, ticket="",
                   token=f"admin@pve!ci={secret}")
        expect(r.status == 401 and "API token" in r.reason, r)
    finally:
        with open(user_cfg, "w") as f:
            f.write(orig)


@case
def curl_with_cookie(n):
    out = subprocess.run(
        ["curl", "-s", "--cacert", n.path("etc/pve/pve-root-ca.pem"), "-b",
         "PVEAuthCookie=" + urllib.parse.quote(n.ticket, safe=""),
         f"https://127.0.0.1:{n.port}/api2/json/nodes/{n.name}/status"],
        capture_output=True, text=True, timeout=30)
    expect(out.returncode == 0, out.stderr)
    expect(json.loads(out.stdout)["data"]["memory"]["total"] > 0, out.stdout[:200])


@case
def proxmoxer_login_and_calls(n):
    try:
        import importlib
        sys.path.insert(0, "/usr/lib/python3/dist-packages")
        proxmoxer = importlib.import_module("proxmoxer")
    except ImportError as e:
        raise Skip(f"python3-proxmoxer not importable: {e}")
    api = proxmoxer.ProxmoxAPI("127.0.0.1", port=n.port, user="admin@pve", password=n.admin_password,
                               verify_ssl=False)
    expect(api.version.get()["version"], "version")
    expect(api.nodes.get()[0]["node"] == n.name, "nodes")
    expect(api.nodes(n.name).status.get()["memory"]["total"] > 0, "status")
    upid = api.nodes(n.name).startall.post()
    expect(upid.startswith("UPID:"), upid)
    expect(str(api.cluster.nextid.get()) == "100", "nextid")


@case
def keep_alive_and_gzip(n):
    c = n.connection()
    try:
        a = n.get("/version", conn=c)
        b = n.get(f"/nodes/{n.name}/status", conn=c, headers={"Accept-Encoding": "gzip"})
        expect(a.status == 200, a)
        expect(b.headers.get("Content-Encoding") == "gzip", b.headers)
    finally:
        c.close()
    # Read the compressed body raw to check it inflates to JSON.
    c = n.connection()
    try:
        c.request("GET", f"/api2/json/nodes/{n.name}/status",
                  headers={"Accept-Encoding": "gzip", "Cookie": "PVEAuthCookie=" +
                           urllib.parse.quote(n.ticket, safe="")})
        r = c.getresponse()
        raw = r.read()
        expect(json.loads(gzip.decompress(raw))["data"]["memory"]["total"] > 0, "gzip body")
    finally:
        c.close()


def raw_tls(n, payload, read_timeout=10):
    ctx = ssl.create_default_context(cafile=n.path("etc/pve/pve-root-ca.pem"))
    with socket.create_connection(("127.0.0.1", n.port), timeout=read_timeout) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(payload)
            data = b""
            try:
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if b"\r\n\r\n" in data and b"Connection: close" in data:
                        pass
            except (socket.timeout, ssl.SSLError, ConnectionResetError):
                pass
            return data


@case
def malformed_http_gets_4xx(n):
    data = raw_tls(n, b"GARBAGE\r\n\r\n")
    expect(data.startswith(b"HTTP/1.1 400") or data.startswith(b"HTTP/1.0 400"), data[:100])
    big = b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    data = raw_tls(n, big)
    expect(re.match(rb"HTTP/1\.[01] (400|431)", data), data[:100])
    many = b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: y\r\n" % i for i in range(70)) + b"\r\n"
    data = raw_tls(n, many)
    expect(re.match(rb"HTTP/1\.[01] (400|431)", data), data[:100])


@case
def oversized_body_is_413(n):
    # The front answers as soon as it sees the length, before the body arrives, and closes.
    head = (b"POST /api2/json/access/ticket HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % (600 * 1024))
    data = raw_tls(n, head + b"password=" + b"a" * 1000)
    expect(data.startswith(b"HTTP/1.1 413"), data[:100])


@case
def invalid_json_body_is_400(n):
    r = n.request("POST", f"/nodes/{n.name}/stopall", body="{not json",
                  headers={"Content-Type": "application/json"})
    expect(r.status == 400, r)
    r = n.request("POST", f"/nodes/{n.name}/stopall", body="[" * 100 + "]" * 100,
                  headers={"Content-Type": "application/json"})
    expect(r.status == 400, r)


def front_threads(pid):
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def thread_is_sandboxed(n, pid, tid):
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/task/{tid}/status"))
    uid = int(status["Uid"].split()[0])
    import pwd
    expect(uid == pwd.getpwnam("www-data").pw_uid, f"front thread {tid} runs as uid {uid}")
    expect(status["Seccomp"].strip() == "2", f"thread {tid}: seccomp mode {status['Seccomp'].strip()}")
    expect(status["NoNewPrivs"].strip() == "1", f"thread {tid}: no_new_privs not set")
    root = os.readlink(f"/proc/{pid}/task/{tid}/root")
    expect(root == n.path("run/pved-api-root"), f"thread {tid}: front's root is {root}")


@case
def front_is_sandboxed(n):
    fronts = n.front_pids()
    expect(len(fronts) == 1, f"fronts: {fronts}")
    pid = fronts[0]
    # One worker thread per CPU, at most 4, by default; every one of them in the sandbox.
    threads = front_threads(pid)
    expect(len(threads) == min(os.cpu_count(), 4), f"front threads: {threads}")
    for tid in threads:
        thread_is_sandboxed(n, pid, tid)


@case
def front_workers_as_configured(n):
    bad = subprocess.run([os.path.join(BIN, "pved"), "--root", n.root, "--api-workers", "9"],
                         capture_output=True, text=True, timeout=20)
    expect(bad.returncode == 2 and "--api-workers" in bad.stderr, bad.stderr)
    with Node(args=("--api-workers", "3")) as m:
        m.login()
        pid = m.front_pids()[0]
        threads = front_threads(pid)
        expect(len(threads) == 3, f"front threads: {threads}")
        for tid in threads:
            thread_is_sandboxed(m, pid, tid)
        # Many connections at once: the workers share them, every one is answered.
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(lambda _: m.get("/version").status, range(60)))
        expect(codes == [200] * 60, f"answers: {codes}")
        # On SIGHUP a new front with as many workers takes over.
        m.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and pid in m.front_pids():
            time.sleep(0.1)
        expect(pid not in m.front_pids(), "the old front did not retire after SIGHUP")
        expect(m.get("/version").status == 200, "API after reload")
        expect(len(front_threads(m.front_pids()[0])) == 3, "new front's threads")


@case
def front_restarts_after_crash(n):
    old = n.front_pids()[0]
    os.kill(old, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline:
        fronts = [p for p in n.front_pids() if p != old]
        if fronts:
            try:
                if n.get("/version").status == 200:
                    return
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError("no new front answered within 10 s")


@case
def sighup_replaces_front(n):
    old = n.front_pids()
    n.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        now = n.front_pids()
        if now and not set(now) & set(old):
            expect(n.get("/version").status == 200, "API after reload")
            return
        time.sleep(0.1)
    raise AssertionError(f"fronts before {old}, after {n.front_pids()}")


@case
def second_pved_refuses(n):
    out = subprocess.run([os.path.join(BIN, "pved"), "--root", n.root, "--listen", "127.0.0.1:1",
                          "--node", n.name, "--foreground"], capture_output=True, text=True, timeout=20)
    expect(out.returncode != 0 and "another pved" in out.stderr, out.stderr)


@case
def port_in_use_fails_at_start(n):
    import tempfile
    import shutil
    root = tempfile.mkdtemp(prefix="pved-port-")
    try:
        out = subprocess.run([os.path.join(BIN, "pved"), "--root", root, "--listen", f"127.0.0.1:{n.port}",
                              "--node", "other", "--foreground"], capture_output=True, text=True, timeout=30)
        expect(out.returncode == 1 and f"127.0.0.1:{n.port}" in out.stderr, out.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@case
def pam_realm_login(n):
    user = "pvedt%d" % (os.getpid() % 100000)
    password = "Pw-" + os.urandom(6).hex()
    if subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", user]).returncode != 0:
        raise Skip("useradd failed")
    user_cfg = n.path("etc/pve/user.cfg")
    orig = open(user_cfg).read()
    try:
        subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
        with open(user_cfg + ".new", "w") as f:
            f.write(orig + f"user:{user}@pam:1:0::::::\n")
        os.rename(user_cfg + ".new", user_cfg)
        time.sleep(0.5)
        r = n.post("/access/ticket", {"username": user, "realm": "pam", "password": password}, ticket="")
        expect(r.status == 200 and r.data["username"] == f"{user}@pam", r)
        r = n.post("/access/ticket", {"username": f"{user}@pam", "password": "wrong"}, ticket="")
        expect(r.status == 401, r)
        # A pam user gets nothing without an ACL: the status needs Sys.Audit.
        t = n.post("/access/ticket", {"username": f"{user}@pam", "password": password}, ticket="").data
        r = n.get(f"/nodes/{n.name}/status", ticket=t["ticket"])
        expect(r.status == 403 and "Sys.Audit" in r.reason, r)
    finally:
        with open(user_cfg, "w") as f:
            f.write(orig)
        subprocess.run(["userdel", user], stderr=subprocess.DEVNULL)


@case
def check_mode(n):
    out = subprocess.run([os.path.join(BIN, "pved"), "--root", n.root, "--check"], capture_output=True,
                         text=True, timeout=20)
    expect(out.returncode == 0, out.stdout + out.stderr)
    expect("user admin@pve" in out.stdout and "local: dir" in out.stdout, out.stdout)
    expect("priv/tfa.cfg: " in out.stdout and "domains.cfg: " in out.stdout, out.stdout)


@case
def check_mode_refuses_broken_config(n):
    import tempfile
    import shutil
    good_user = "user:admin@pve:1:0:::::::\nacl:1:/:admin@pve:Administrator:\n"
    cases = [
        ("user.cfg", good_user + "thisisbroken\n", "line 3"),
        ("priv/tfa.cfg", '{"users": {"admin@pve": {"totp": "not a list"', ""),
        ("priv/tfa.cfg", '{"users": {"admin@pve": {"totp-locked": "yes"}}}', ""),
        ("domains.cfg", "pve: pve\n\nbogus: x\n\tfoo 1\n", ""),
        ("domains.cfg", "ldap: corp\n\tserver1 ldap.example\n\tnosuchkey 1\n", "corp"),
        ("storage.cfg", "dir: local\n\tpath /var/lib/vz\n\nbogus: odd\n\tpath /x\n", "odd"),
        ("storage.cfg", "nfs: share\n\texport /srv\n\tpath /mnt/pve/share\n", "server"),
        ("storage.cfg", "dir: local\n\tpath /var/lib/vz\n\tcontent images,nonsense\n", "local"),
    ]
    for name, text, detail in cases:
        root = tempfile.mkdtemp(prefix="pved-check-")
        try:
            os.makedirs(os.path.join(root, "etc/pve/priv"))
            with open(os.path.join(root, "etc/pve/user.cfg"), "w") as f:
                f.write(good_user if name != "user.cfg" else text)
            if name != "user.cfg":
                with open(os.path.join(root, "etc/pve", name), "w") as f:
                    f.write(text)
            out = subprocess.run([os.path.join(BIN, "pved"), "--root", root, "--check"],
                                 capture_output=True, text=True, timeout=20)
            errors = [line for line in out.stdout.splitlines() if "ERROR" in line]
            expect(out.returncode == 1 and len(errors) == 1 and errors[0].startswith(name + ": ")
                   and detail in errors[0], (name, text, out.stdout, out.stderr))
        finally:
            shutil.rmtree(root, ignore_errors=True)


@case
def check_mode_summarises_tfa_and_realms(n):
    import tempfile
    import shutil
    root = tempfile.mkdtemp(prefix="pved-check-")
    try:
        os.makedirs(os.path.join(root, "etc/pve/priv"))
        files = {
            "user.cfg": "user:admin@pve:1:0:::::::\nuser:bob@corp:1:0:::::::\n",
            "domains.cfg": "pam: pam\n\tcomment Linux PAM\n\npve: pve\n\nldap: corp\n"
                           "\tserver1 ldap.example\n\tbase_dn dc=example,dc=org\n\tuser_attr uid\n",
            "priv/tfa.cfg": json.dumps({"users": {
                "admin@pve": {"totp-locked": True},
                "bob@corp": {"recovery": {"secret": "00" * 16, "entries": [None],
                                          "created": 1}}}}),
        }
        for name, text in files.items():
            with open(os.path.join(root, "etc/pve", name), "w") as f:
                f.write(text)
        out = subprocess.run([os.path.join(BIN, "pved"), "--root", root, "--check"],
                             capture_output=True, text=True, timeout=20)
        expect(out.returncode == 0, out.stdout + out.stderr)
        expect("domains.cfg: 3 realms" in out.stdout and "  corp: ldap" in out.stdout, out.stdout)
        expect("priv/tfa.cfg: 2 users with second factors, 1 locked" in out.stdout, out.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@case
def schema_is_published(n):
    out = subprocess.run([os.path.join(BIN, "pved"), "--schema"], capture_output=True, text=True,
                         timeout=20)
    tree = json.loads(out.stdout)
    paths = set()

    def walk(nodes):
        for x in nodes:
            paths.add(x["path"])
            expect("info" in x and "leaf" in x, x.get("path"))
            walk(x.get("children", []))
    walk(tree)
    expect({"/version", "/nodes/{node}/status", "/access/ticket", "/nodes/{node}/tasks/{upid}/log"} <= paths,
           sorted(paths))


@case
def tasks_survive_restart(n):
    upid = n.post(f"/nodes/{n.name}/startall", {}).data
    n.wait_task(upid)
    n.stop()
    n.start()
    n.login()
    lst = n.get(f"/nodes/{n.name}/tasks", {"typefilter": "startall", "limit": 100})
    expect(any(t["upid"] == upid for t in lst.data), "task lost across restart")


@case
def static_files_from_www(n):
    c = n.connection()
    try:
        c.request("GET", "/")
        r = c.getresponse()
        body = r.read()
        expect(r.status == 200 and r.getheader("Content-Type", "").startswith("text/html"), r.status)
        expect(body == open(os.path.join(os.environ.get("PVED_TOP", "."), "www/index.html"), "rb").read(),
               "index.html differs")
    finally:
        c.close()
    data = raw_tls(n, b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect(re.match(rb"HTTP/1\.1 (400|403|404)", data) and b"root:" not in data, data[:100])
    data = raw_tls(n, b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect(re.match(rb"HTTP/1\.1 (400|403|404)", data) and b"root:" not in data, data[:100])


@case
def stop_finished_and_unknown_tasks(n):
    upid = n.post(f"/nodes/{n.name}/startall", {}).data
    n.wait_task(upid)
    q = urllib.parse.quote(upid, safe="")
    r = n.request("DELETE", f"/nodes/{n.name}/tasks/{q}")
    expect(r.status == 200, r)
    expect(n.get(f"/nodes/{n.name}/tasks/{q}/status").data["exitstatus"] == "OK", "a stop rewrote the status")
    bogus = upid.replace(":startall:", ":vzdump:")
    r = n.request("DELETE", f"/nodes/{n.name}/tasks/{urllib.parse.quote(bogus, safe='')}")
    expect(r.status == 404, r)
    r = n.get(f"/nodes/{n.name}/tasks/not-a-upid/status")
    expect(r.status == 400 and "upid" in r.json["errors"], r)


@case
def slow_request_is_cut_off(n):
    # Half a request line and then silence: the front answers 408 or closes once its request limit
    # (30 s; REQUEST_LIMIT here, through PVED_API_REQUEST_TIMEOUT) has passed, and not before.
    t = time.time()
    data = raw_tls(n, b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n", read_timeout=45)
    took = time.time() - t
    expect(took >= REQUEST_LIMIT - 0.5,
           f"cut off after {took:.1f} s, before the {REQUEST_LIMIT} s limit")
    expect(took < REQUEST_LIMIT + 5, f"connection held {took:.0f} s")
    expect(data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100])


@case
def ticket_key_rotates_after_a_day(n):
    old_ticket = n.ticket
    pub = n.path("etc/pve/authkey.pub")
    before = open(pub).read()
    n.stop()
    day_ago = time.time() - 25 * 3600
    os.utime(pub, (day_ago, day_ago))
    n.start()
    expect(open(pub).read() != before, "the key was not rotated")
    expect(open(n.path("etc/pve/authkey.pub.old")).read() == before, "the old key was not kept")
    r = n.get("/version", ticket=old_ticket)
    expect(r.status == 200, f"a ticket of the previous key was refused: {r}")
    n.login()
    expect(n.get("/version").status == 200, "a ticket of the new key")


REQUEST_LIMIT = 4


def main():
    if os.geteuid() != 0:
        print("skip integration-api: needs root")
        return 0
    os.environ["PVED_API_REQUEST_TIMEOUT"] = str(REQUEST_LIMIT)
    with Node() as n:
        n.login()
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
