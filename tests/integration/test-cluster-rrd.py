#!/usr/bin/python3
# timeout: 120
"""pvecfs's .rrd on a node running pved with pvecfs (local mode): the node's, a stopped container's
and the storage 'local''s lines, as pmxcfs dumps what pvestatd broadcasts for Proxmox VE 9
("KEY:DATA", DATA "TIME:v1:v2:..." with "U" for unknown), with their field counts; read-only."""

import errno
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvetest  # noqa: E402
from pvetest import case, expect  # noqa: E402

CT = 950
# pvestatd's fields (PVE/Service/pvestatd.pm): node 22, guest 22, storage 3
NODE_FIELDS, VM_FIELDS, STORAGE_FIELDS = 22, 22, 3


def rrd_lines(n):
    with open(n.path("etc/pve/.rrd")) as f:
        text = f.read()
    expect(text == "" or text.endswith("\n"), f"whole lines: {text[-200:]!r}")
    out = {}
    for line in text.splitlines():
        key, sep, data = line.partition(":")
        expect(sep and key not in out, f"one line per key: {line!r}")
        out[key] = data.split(":")
    return out


def wait_line(n, key, timeout=30):
    """pved publishes its lines about every 9 s, and pvecfs makes .rrd at most every 2 s."""
    end = time.monotonic() + timeout
    while True:
        lines = rrd_lines(n)
        if key in lines:
            return lines[key]
        expect(time.monotonic() < end, f"no line {key} after {timeout} s: {sorted(lines)}")
        time.sleep(0.5)


@case
def node_line(n):
    f = wait_line(n, f"pve-node-9.0/{n.name}")
    expect(len(f) == NODE_FIELDS, f"{len(f)} fields: {f}")
    uptime, level, ctime, load, maxcpu = f[0], f[1], int(f[2]), float(f[3]), int(f[4])
    expect(int(uptime) > 0 and level == "" and abs(ctime - time.time()) < 60, f)
    expect(load >= 0 and maxcpu == os.cpu_count() and 0 <= float(f[5]) <= 1, f)
    memtotal, memused = int(f[7]), int(f[8])
    expect(memtotal > 0 and 0 < memused <= memtotal, f"memory: {f}")
    expect(int(f[11]) > 0 and 0 <= int(f[12]) <= int(f[11]), f"root fs: {f}")
    expect(int(f[13]) >= 0 and int(f[14]) >= 0 and 0 < int(f[15]) <= memtotal, f)
    expect(f[16:] == ["U"] * 6, f"ARC and pressure unknown: {f}")


@case
def stopped_container_line(n):
    with open(n.path(f"etc/pve/nodes/{n.name}/lxc/{CT}.conf"), "w") as fh:
        fh.write(f"arch: amd64\nhostname: rrd-ct\nmemory: 256\ncores: 2\nostype: debian\n"
                 f"rootfs: local:{CT}/vm-{CT}-disk-0.raw,size=1G\n")
    f = wait_line(n, f"pve-vm-9.0/{CT}")
    expect(len(f) == VM_FIELDS, f"{len(f)} fields: {f}")
    expect(f[0] == "0" and f[1] == "rrd-ct" and f[2] == "stopped" and f[3] == "0", f)
    expect(abs(int(f[4]) - time.time()) < 60 and f[5] == "2", f)
    # a stopped guest: CPU, memory used, and the counters unknown; its config's figures known
    expect(f[6] == "U" and f[7] == str(256 << 20) and f[8] == "U" and f[9] == str(1 << 30), f)
    expect(f[11:] == ["U"] * 11, f)


@case
def storage_line(n):
    f = wait_line(n, f"pve-storage-9.0/{n.name}/local")
    expect(len(f) == STORAGE_FIELDS, f"{len(f)} fields: {f}")
    total, used = int(f[1]), int(f[2])
    expect(abs(int(f[0]) - time.time()) < 60 and total > 0 and 0 <= used <= total, f)


@case
def read_only(n):
    try:
        os.open(n.path("etc/pve/.rrd"), os.O_WRONLY)
        expect(False, ".rrd opened for writing")
    except OSError as e:
        expect(e.errno == errno.EACCES, e)


def on_plain_files(n):
    """Nothing to publish to without pvecfs."""
    expect(not os.path.exists(n.path("etc/pve/.rrd")), "no .rrd on plain files")
    n.stop()


def main():
    return pvetest.pvecfs_node_main(on_plain_files)


if __name__ == "__main__":
    sys.exit(main())
