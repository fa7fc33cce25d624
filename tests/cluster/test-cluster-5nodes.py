#!/usr/bin/python3
# timeout: 300
"""pvecfs on 5 nodes: a write on every node is read on all; with two nodes lost the other three are
quorate and writable; with three lost the last two are read-only; back together, every node has the
same tree."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfslib  # noqa: E402
from cfslib import EACCES, CfsError, case, converged, expect  # noqa: E402


@case
def write_on_any_read_on_all(cl):
    for nd in cl.nodes:
        nd.write_retry(f"nodes/{nd.name}/host.fw", f"[OPTIONS]\n# {nd.name}\n")
    tree = converged(cl.nodes)
    expect(sum(1 for p in tree if p.endswith("host.fw")) == 5, "five host.fw on every node")


@case
def majority_and_minority(cl):
    n = cl.nodes
    for nd in n[3:]:
        nd.stop_pvecfs(signal.SIGKILL)
        nd.stop_corosync(signal.SIGKILL)
    n[0].write_retry("three-of-five", "1", timeout=15)
    n[2].stop_pvecfs(signal.SIGKILL)
    n[2].stop_corosync(signal.SIGKILL)
    import time
    end = time.monotonic() + 15
    while True:
        c = n[0].client()
        try:
            c.write("two-of-five", "x")
        except CfsError as e:
            expect(e.errno == EACCES, f"refused with EACCES: {e}")
            break
        finally:
            c.close()
        expect(time.monotonic() < end, "two of five still writable after 15 s")
        time.sleep(0.1)
    for nd in n[2:]:
        nd.start_corosync()
    cl.wait_quorate()
    for nd in n[2:]:
        nd.start_pvecfs()
    tree = converged(cl.nodes, timeout=20)
    expect(tree.get("three-of-five") == b"1", "the majority's write reached every node")


def main():
    return cfslib.cluster_main(5)


if __name__ == "__main__":
    sys.exit(main())
