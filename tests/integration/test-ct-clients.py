# timeout: 300
"""Real clients against containers on a real pved: proxmoxer (Debian's python3-proxmoxer) creates a
container from the busybox template, starts it, reads its status and config, runs a command through
the exec API, stops and deletes it, following each task through the task API; Ansible's
community.general.proxmox module (Debian's ansible, unchanged) creates one (present), starts it
(started, then unchanged), stops it (stopped) and removes it (absent) in a playbook; the
community.general.proxmox inventory plugin lists it with its facts while it runs. Runs as root; every
container is stopped by its init's PID at the end."""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect  # noqa: E402
import vmlib  # noqa: E402

def api(n):
    try:
        from proxmoxer import ProxmoxAPI
    except ImportError:
        raise Skip("python3-proxmoxer is not installed")
    return ProxmoxAPI("127.0.0.1", port=n.port, user="admin@pve", password=n.admin_password,
                      verify_ssl=False)


def wait(px, node, upid, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = px.nodes(node).tasks(upid).status.get()
        if st["status"] == "stopped":
            expect(st["exitstatus"] == "OK", st)
            return st
        time.sleep(0.2)
    raise AssertionError(f"task {upid} did not end")


@case
def proxmoxer_lifecycle(n):
    px = api(n)
    node = n.name
    tmpl = vmlib.ct_template(n)
    wait(px, node, px.nodes(node).lxc.create(vmid=700, ostemplate=tmpl, rootfs="local:1",
                                             hostname="pxct", password="secret-pw1"))
    res = [r for r in px.cluster.resources.get(type="vm") if r["vmid"] == 700]
    expect(res and res[0]["type"] == "lxc" and res[0]["name"] == "pxct", res)
    wait(px, node, px.nodes(node).lxc(700).status.start.post())
    st = px.nodes(node).lxc(700).status.current.get()
    expect(st["status"] == "running" and st["pid"] > 0, st)
    conf = px.nodes(node).lxc(700).config.get()
    expect(conf["hostname"] == "pxct" and conf["unprivileged"] == 1, conf)
    out = px.nodes(node).lxc(700).exec.post(command=["echo", "from", "proxmoxer"])
    expect(out["exitcode"] == 0 and out["out-data"] == "from proxmoxer\n", out)
    wait(px, node, px.nodes(node).lxc(700).status.stop.post())
    expect(px.nodes(node).lxc(700).status.current.get()["status"] == "stopped", "still runs")
    wait(px, node, px.nodes(node).lxc(700).delete())
    expect(700 not in [c["vmid"] for c in px.nodes(node).lxc.get()], "still listed")


HEAD = """
- hosts: localhost
  gather_facts: false
  vars:
    api: &api
      api_host: "127.0.0.1:{port}"
      api_user: admin@pve
      api_password: "{password}"
      validate_certs: false
  tasks:
"""

PLAY = """
    - name: a container
      community.general.proxmox:
        <<: *api
        node: "{node}"
        vmid: 710
        hostname: ansct
        ostemplate: "{tmpl}"
        disk: "local:1"
        password: "ansible-pw1"
        unprivileged: true
        state: present
      register: created
    - assert:
        that: created.changed
    - name: started
      community.general.proxmox:
        <<: *api
        vmid: 710
        state: started
      register: started
    - assert:
        that: started.changed
    - name: started again changes nothing
      community.general.proxmox:
        <<: *api
        vmid: 710
        state: started
      register: again
    - assert:
        that: not again.changed
"""

STOP = """
    - name: stopped
      community.general.proxmox:
        <<: *api
        vmid: 710
        state: stopped
        force: true
      register: stopped
    - assert:
        that: stopped.changed
    - name: removed
      community.general.proxmox:
        <<: *api
        vmid: 710
        state: absent
      register: removed
    - assert:
        that: removed.changed
"""


@case
def ansible_module_and_inventory(n):
    tmpl = vmlib.ct_template(n)
    head = HEAD.format(port=n.port, password=n.admin_password)
    vmlib.playbook(n, head + PLAY.format(node=n.name, tmpl=tmpl))
    r = n.get(f"/nodes/{n.name}/lxc/710/status/current")
    expect(r.status == 200 and r.data["status"] == "running", r)
    inv = shutil.which("ansible-inventory")
    if inv:
        d = n.path("ansible")
        path = os.path.join(d, "pve.proxmox.yml")
        with open(path, "w") as f:
            f.write(f"plugin: community.general.proxmox\nurl: https://127.0.0.1:{n.port}\n"
                    f"user: admin@pve\npassword: \"{n.admin_password}\"\nvalidate_certs: false\n"
                    "want_facts: true\n")
        env = {k: v for k, v in os.environ.items()
               if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        env.update({"HOME": d, "ANSIBLE_LOCAL_TEMP": d, "PYTHONWARNINGS": "ignore",
                    "ANSIBLE_INVENTORY_ENABLED": "community.general.proxmox"})
        p = subprocess.run([inv, "-i", path, "--list"], capture_output=True, text=True, env=env,
                           timeout=120)
        expect(p.returncode == 0, f"{p.stdout[-2000:]} {p.stderr[-2000:]}")
        data = json.loads(p.stdout)
        hv = data.get("_meta", {}).get("hostvars", {}).get("ansct")
        expect(hv and hv.get("proxmox_vmtype") == "lxc" and hv.get("proxmox_status") == "running",
               json.dumps(data)[:2000])
        expect("ansct" in json.dumps(data.get("proxmox_all_lxc", {})), json.dumps(data)[:2000])
    vmlib.playbook(n, head + STOP)
    r = n.get(f"/nodes/{n.name}/lxc/710/status/current")
    expect(r.status != 200, r)


if __name__ == "__main__":
    sys.exit(vmlib.ct_main())
