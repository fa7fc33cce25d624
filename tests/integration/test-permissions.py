"""The permission matrix: every route of the route table (from `pved --schema`) called by every kind of
caller, with the answer each must get as its declared permissions say:

  callers: no credentials, a bad ticket, an expired ticket (signed by the test with the node's key),
           a valid ticket without the CSRF header (writes only), users with NoAccess on /, PVEAuditor on
           /, PVEVMUser on /vms/100, PVEVMAdmin on /pool/p1 (a pool with guest 100 as its member),
           Administrator on /, a privsep token without ACLs and a non-privsep
           token of the Administrator user
  expect:  "world" routes never answer 401 for credentials; "user all" routes answer 401 exactly to the
           callers without valid credentials; "check" routes answer 403 unless the caller's roles hold
           the privileges there (evaluated here from the roles pved reports); allowtoken 0 routes
           answer 401 to tokens.

pved authenticates, then validates parameters, then checks permissions, then runs the handler. Writes
that are allowed are sent with an unknown parameter, so they fail validation (400) and change nothing;
denied writes are sent with valid parameters and must stop at 403. Every route needs a row in ROWS (its
request parameters): a new route fails here until it has one. Needs root and openssl."""

import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import BIN, Node, case, expect, run  # noqa: E402

INVALID = {"zz-matrix-invalid": "1"}

# The members of the pools the matrix creates: an ACL on /pool/<id> also holds on them.
POOL_MEMBERS = {"/pool/p1": ["/vms/100"]}

# Path placeholders; "upid" is filled in with a real task's.
PLACEHOLDERS = {
    "vmid": "100",
    "storage": "local",
    "volume": "local:iso/matrix.iso",
    "userid": "admin@pve",
    "tokenid": "mx",
    "groupid": "mgroup",
    "roleid": "PVEAuditor",
    "id": "recovery",
    "realm": "pve",
    "poolid": "p1",
    "snapname": "msnap",
    "iface": "vmbr9",
    "group": "mxgrp",
    "pos": "0",
    "name": "mxset",
    "cidr": "10.9.9.9",
}

# (method, path) -> the parameters of a valid request besides the path's placeholders. Writes are only
# sent this way to callers that must be refused, so the values name throwaway objects.
ROWS = {
    ("GET", "/version"): {},
    ("GET", "/nodes"): {},
    ("GET", "/nodes/{node}"): {},
    ("GET", "/nodes/{node}/status"): {},
    ("GET", "/nodes/{node}/version"): {},
    ("GET", "/nodes/{node}/time"): {},
    ("POST", "/nodes/{node}/startall"): {},
    ("POST", "/nodes/{node}/stopall"): {},
    ("GET", "/nodes/{node}/tasks"): {},
    ("GET", "/nodes/{node}/tasks/{upid}"): {},
    ("DELETE", "/nodes/{node}/tasks/{upid}"): {},
    ("GET", "/nodes/{node}/tasks/{upid}/log"): {},
    ("GET", "/nodes/{node}/tasks/{upid}/status"): {},
    ("GET", "/nodes/{node}/storage"): {},
    ("GET", "/nodes/{node}/storage/{storage}"): {},
    ("GET", "/nodes/{node}/storage/{storage}/status"): {},
    ("GET", "/nodes/{node}/storage/{storage}/content"): {},
    ("POST", "/nodes/{node}/storage/{storage}/content"): {"filename": "vm-100-disk-9.raw",
                                                          "vmid": 100, "size": "1M"},
    ("GET", "/nodes/{node}/storage/{storage}/content/{volume}"): {},
    ("PUT", "/nodes/{node}/storage/{storage}/content/{volume}"): {},
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"): {},
    ("GET", "/nodes/{node}/storage/{storage}/prunebackups"): {"prune-backups": "keep-all=1"},
    ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"): {"prune-backups": "keep-all=1"},
    ("POST", "/nodes/{node}/storage/{storage}/upload"): {"content": "iso", "filename": "m.iso"},
    ("POST", "/nodes/{node}/storage/{storage}/download-url"): {
        "url": "http://127.0.0.1:9/m.iso", "content": "iso", "filename": "m.iso"},
    ("GET", "/nodes/{node}/query-url-metadata"): {"url": "http://127.0.0.1:9/m.iso"},
    ("GET", "/nodes/{node}/scan"): {},
    ("GET", "/nodes/{node}/scan/nfs"): {"server": "127.0.0.1"},
    ("GET", "/nodes/{node}/scan/cifs"): {"server": "127.0.0.1"},
    ("GET", "/nodes/{node}/scan/iscsi"): {"portal": "127.0.0.1:1"},
    ("GET", "/nodes/{node}/scan/lvm"): {},
    ("GET", "/nodes/{node}/scan/lvmthin"): {"vg": "pve"},
    ("GET", "/nodes/{node}/aplinfo"): {},
    ("POST", "/nodes/{node}/aplinfo"): {"storage": "local", "template": "m_1_amd64.tar.zst"},
    ("POST", "/nodes/{node}/termproxy"): {},
    ("GET", "/nodes/{node}/vncwebsocket"): {"port": 5900, "vncticket": "PVEVNC:00000000::AAAA"},
    ("GET", "/nodes/{node}/qemu"): {},
    ("POST", "/nodes/{node}/qemu"): {"vmid": 100, "memory": 512},
    ("GET", "/nodes/{node}/qemu/{vmid}"): {},
    ("DELETE", "/nodes/{node}/qemu/{vmid}"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/config"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/config"): {"name": "matrix2"},
    ("PUT", "/nodes/{node}/qemu/{vmid}/config"): {"name": "matrix2"},
    ("GET", "/nodes/{node}/qemu/{vmid}/pending"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/status"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/status/current"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/start"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/stop"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reset"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reboot"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/suspend"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/status/resume"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/snapshot"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/snapshot"): {"snapname": "msnap"},
    ("GET", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}"): {},
    ("DELETE", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config"): {},
    ("PUT", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config"): {"description": "m"},
    ("POST", "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/template"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/clone"): {"newid": 190},
    ("PUT", "/nodes/{node}/qemu/{vmid}/resize"): {"disk": "scsi0", "size": "+1G"},
    ("POST", "/nodes/{node}/qemu/{vmid}/move_disk"): {"disk": "scsi0", "storage": "local"},
    ("PUT", "/nodes/{node}/qemu/{vmid}/unlink"): {"idlist": "unused0"},
    ("GET", "/nodes/{node}/qemu/{vmid}/feature"): {"feature": "snapshot"},
    ("GET", "/nodes/{node}/lxc"): {},
    ("POST", "/nodes/{node}/lxc"): {"vmid": 100, "ostemplate": "local:vztmpl/matrix.tar.gz"},
    ("GET", "/nodes/{node}/lxc/{vmid}"): {},
    ("DELETE", "/nodes/{node}/lxc/{vmid}"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/config"): {},
    ("PUT", "/nodes/{node}/lxc/{vmid}/config"): {"hostname": "matrix2"},
    ("GET", "/nodes/{node}/lxc/{vmid}/pending"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/status"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/status/current"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/status/start"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/status/stop"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/status/reboot"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/status/suspend"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/status/resume"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/exec"): {"command": "true"},
    ("GET", "/nodes/{node}/lxc/{vmid}/snapshot"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/snapshot"): {"snapname": "msnap"},
    ("GET", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}"): {},
    ("DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config"): {},
    ("PUT", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config"): {"description": "m"},
    ("POST", "/nodes/{node}/lxc/{vmid}/template"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/clone"): {"newid": 190},
    ("PUT", "/nodes/{node}/lxc/{vmid}/resize"): {"disk": "rootfs", "size": "+1G"},
    ("POST", "/nodes/{node}/lxc/{vmid}/move_volume"): {"volume": "rootfs", "storage": "local"},
    ("GET", "/nodes/{node}/lxc/{vmid}/feature"): {"feature": "snapshot"},
    ("POST", "/nodes/{node}/lxc/{vmid}/vncproxy"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/termproxy"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/vncwebsocket"): {"port": 5900, "vncticket": "PVEVNC:00000000::AAAA"},
    ("POST", "/nodes/{node}/lxc/{vmid}/spiceproxy"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/interfaces"): {},
    ("GET", "/cluster"): {},
    ("GET", "/cluster/nextid"): {},
    ("GET", "/cluster/options"): {},
    ("GET", "/cluster/status"): {},
    ("GET", "/cluster/log"): {"max": 5},
    ("PUT", "/cluster/options"): {"description": "matrix"},
    ("GET", "/cluster/tasks"): {},
    ("GET", "/cluster/resources"): {},
    ("GET", "/cluster/config"): {},
    ("POST", "/cluster/config"): {"clustername": "matrix"},
    ("GET", "/cluster/config/nodes"): {},
    ("POST", "/cluster/config/nodes/{node}"): {"link0": "10.99.0.1"},
    ("DELETE", "/cluster/config/nodes/{node}"): {},
    ("GET", "/cluster/config/totem"): {},
    ("GET", "/cluster/config/join"): {},
    ("POST", "/cluster/config/join"): {"hostname": "10.99.0.2", "password": "matrix",
                                       "fingerprint": ":".join(["AA"] * 32)},
    ("GET", "/cluster/config/qdevice"): {},
    ("GET", "/cluster/config/apiversion"): {},
    ("GET", "/cluster/bulk-action"): {},
    ("GET", "/cluster/bulk-action/guest"): {},
    ("POST", "/cluster/bulk-action/guest/start"): {"vms": "100"},
    ("POST", "/cluster/bulk-action/guest/shutdown"): {"vms": "100"},
    ("POST", "/cluster/bulk-action/guest/suspend"): {"vms": "100"},
    ("POST", "/cluster/bulk-action/guest/migrate"): {"target": "othernode", "vms": "100"},
    ("GET", "/access"): {},
    ("GET", "/access/domains"): {},
    ("POST", "/access/domains"): {"realm": "mrealm", "type": "pve"},
    ("GET", "/access/domains/{realm}"): {},
    ("PUT", "/access/domains/{realm}"): {"comment": "matrix"},
    ("DELETE", "/access/domains/{realm}"): {},
    ("POST", "/access/domains/{realm}/sync"): {},
    ("GET", "/access/ticket"): {},
    ("POST", "/access/ticket"): {"username": "nobody@pve", "password": "x"},
    ("GET", "/access/users"): {},
    ("POST", "/access/users"): {"userid": "mnew@pve"},
    ("GET", "/access/users/{userid}"): {},
    ("PUT", "/access/users/{userid}"): {"comment": "matrix"},
    ("DELETE", "/access/users/{userid}"): {},
    ("GET", "/access/users/{userid}/token"): {},
    ("GET", "/access/users/{userid}/token/{tokenid}"): {},
    ("POST", "/access/users/{userid}/token/{tokenid}"): {},
    ("PUT", "/access/users/{userid}/token/{tokenid}"): {"comment": "matrix"},
    ("DELETE", "/access/users/{userid}/token/{tokenid}"): {},
    ("PUT", "/access/users/{userid}/unlock-tfa"): {},
    ("GET", "/access/users/{userid}/tfa"): {"multiple": "1"},
    ("POST", "/access/vncticket"): {"authid": "root@pam", "vncticket": "PVEVNC:00000000::x",
                                     "path": "/", "privs": "Sys.Audit", "port": "5900"},
    ("GET", "/access/groups"): {},
    ("POST", "/access/groups"): {"groupid": "mnewgroup"},
    ("GET", "/access/groups/{groupid}"): {},
    ("PUT", "/access/groups/{groupid}"): {"comment": "matrix"},
    ("DELETE", "/access/groups/{groupid}"): {},
    ("GET", "/access/roles"): {},
    ("POST", "/access/roles"): {"roleid": "MatrixNew"},
    ("GET", "/access/roles/{roleid}"): {},
    ("PUT", "/access/roles/{roleid}"): {"privs": "VM.Audit"},
    ("DELETE", "/access/roles/{roleid}"): {},
    ("GET", "/access/acl"): {},
    ("PUT", "/access/acl"): {"path": "/vms/999", "roles": "PVEAuditor", "users": "admin@pve"},
    ("GET", "/access/permissions"): {},
    ("PUT", "/access/password"): {"userid": "admin@pve", "password": "matrix-pw-1"},
    ("GET", "/access/tfa"): {},
    ("GET", "/access/tfa/{userid}"): {},
    ("POST", "/access/tfa/{userid}"): {"type": "recovery"},
    ("GET", "/access/tfa/{userid}/{id}"): {},
    ("PUT", "/access/tfa/{userid}/{id}"): {"description": "matrix"},
    ("DELETE", "/access/tfa/{userid}/{id}"): {},
    ("GET", "/pools"): {},
    ("POST", "/pools"): {"poolid": "mnewpool"},
    ("PUT", "/pools"): {"poolid": "p1", "comment": "matrix"},
    ("DELETE", "/pools"): {"poolid": "mnewpool"},
    ("GET", "/pools/{poolid}"): {},
    ("PUT", "/pools/{poolid}"): {"comment": "matrix"},
    ("DELETE", "/pools/{poolid}"): {},
    ("GET", "/storage"): {},
    ("POST", "/storage"): {"storage": "mnewstore", "type": "dir", "path": "/nonexistent-matrix"},
    ("GET", "/storage/{storage}"): {},
    ("PUT", "/storage/{storage}"): {"disable": 0},
    ("DELETE", "/storage/{storage}"): {},
    ("GET", "/nodes/{node}/network"): {},
    ("POST", "/nodes/{node}/network"): {"iface": "vmbr9", "type": "bridge"},
    ("PUT", "/nodes/{node}/network"): {},
    ("DELETE", "/nodes/{node}/network"): {},
    ("GET", "/nodes/{node}/network/{iface}"): {},
    ("PUT", "/nodes/{node}/network/{iface}"): {"type": "bridge"},
    ("DELETE", "/nodes/{node}/network/{iface}"): {},
    # the firewall (daemon/firewall/)
    ("GET", "/cluster/firewall"): {},
    ("GET", "/cluster/firewall/groups"): {},
    ("POST", "/cluster/firewall/groups"): {"group": "mxgrp"},
    ("GET", "/cluster/firewall/groups/{group}"): {},
    ("POST", "/cluster/firewall/groups/{group}"): {"type": "in", "action": "ACCEPT"},
    ("DELETE", "/cluster/firewall/groups/{group}"): {},
    ("GET", "/cluster/firewall/groups/{group}/{pos}"): {},
    ("PUT", "/cluster/firewall/groups/{group}/{pos}"): {},
    ("DELETE", "/cluster/firewall/groups/{group}/{pos}"): {},
    ("GET", "/cluster/firewall/rules"): {},
    ("POST", "/cluster/firewall/rules"): {"type": "in", "action": "ACCEPT"},
    ("GET", "/cluster/firewall/rules/{pos}"): {},
    ("PUT", "/cluster/firewall/rules/{pos}"): {},
    ("DELETE", "/cluster/firewall/rules/{pos}"): {},
    ("GET", "/cluster/firewall/ipset"): {},
    ("POST", "/cluster/firewall/ipset"): {"name": "mxset"},
    ("GET", "/cluster/firewall/ipset/{name}"): {},
    ("POST", "/cluster/firewall/ipset/{name}"): {"cidr": "10.9.9.9"},
    ("DELETE", "/cluster/firewall/ipset/{name}"): {},
    ("GET", "/cluster/firewall/ipset/{name}/{cidr}"): {},
    ("PUT", "/cluster/firewall/ipset/{name}/{cidr}"): {},
    ("DELETE", "/cluster/firewall/ipset/{name}/{cidr}"): {},
    ("GET", "/cluster/firewall/aliases"): {},
    ("POST", "/cluster/firewall/aliases"): {"name": "mxalias", "cidr": "10.9.9.9"},
    ("GET", "/cluster/firewall/aliases/{name}"): {},
    ("PUT", "/cluster/firewall/aliases/{name}"): {"cidr": "10.9.9.8"},
    ("DELETE", "/cluster/firewall/aliases/{name}"): {},
    ("GET", "/cluster/firewall/options"): {},
    ("PUT", "/cluster/firewall/options"): {},
    ("GET", "/cluster/firewall/macros"): {},
    ("GET", "/cluster/firewall/refs"): {},
    ("GET", "/nodes/{node}/firewall"): {},
    ("GET", "/nodes/{node}/firewall/rules"): {},
    ("POST", "/nodes/{node}/firewall/rules"): {"type": "in", "action": "ACCEPT"},
    ("GET", "/nodes/{node}/firewall/rules/{pos}"): {},
    ("PUT", "/nodes/{node}/firewall/rules/{pos}"): {},
    ("DELETE", "/nodes/{node}/firewall/rules/{pos}"): {},
    ("GET", "/nodes/{node}/firewall/options"): {},
    ("PUT", "/nodes/{node}/firewall/options"): {},
    ("GET", "/nodes/{node}/firewall/log"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/rules"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/rules"): {"type": "in", "action": "ACCEPT"},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}"): {},
    ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}"): {},
    ("DELETE", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/aliases"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/aliases"): {"name": "mxalias", "cidr": "10.9.9.9"},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/aliases/{name}"): {},
    ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/aliases/{name}"): {"cidr": "10.9.9.8"},
    ("DELETE", "/nodes/{node}/qemu/{vmid}/firewall/aliases/{name}"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/ipset"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/ipset"): {"name": "mxset"},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}"): {"cidr": "10.9.9.9"},
    ("DELETE", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}"): {},
    ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}"): {},
    ("DELETE", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/options"): {},
    ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/options"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/refs"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/rules"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/rules"): {"type": "in", "action": "ACCEPT"},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}"): {},
    ("PUT", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}"): {},
    ("DELETE", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/aliases"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/aliases"): {"name": "mxalias", "cidr": "10.9.9.9"},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/aliases/{name}"): {},
    ("PUT", "/nodes/{node}/lxc/{vmid}/firewall/aliases/{name}"): {"cidr": "10.9.9.8"},
    ("DELETE", "/nodes/{node}/lxc/{vmid}/firewall/aliases/{name}"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/ipset"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/ipset"): {"name": "mxset"},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}"): {},
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}"): {"cidr": "10.9.9.9"},
    ("DELETE", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}"): {},
    ("PUT", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}"): {},
    ("DELETE", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/options"): {},
    ("PUT", "/nodes/{node}/lxc/{vmid}/firewall/options"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/refs"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/log"): {},
    ("GET", "/nodes/{node}/lxc/{vmid}/firewall/log"): {},
    # the guest agent, cloud-init and the consoles (daemon/qemu/agent.c, cloudinit.c, console.c)
    ("GET", "/nodes/{node}/qemu/{vmid}/agent"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/exec-status"): {"pid": 1},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/file-read"): {"file": "/etc/hostname"},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-fsinfo"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-host-name"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-memory-block-info"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-memory-blocks"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-osinfo"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-time"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-timezone"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-users"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/get-vcpus"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/info"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent"): {"command": "ping"},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/exec"): {"command": "true"},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/file-write"): {"file": "/tmp/matrix", "content": "x"},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/fsfreeze-freeze"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/fsfreeze-status"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/fsfreeze-thaw"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/fstrim"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/ping"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/shutdown"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/suspend-disk"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/suspend-hybrid"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/suspend-ram"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/agent/set-user-password"): {"username": "root", "password": "matrix-pw1"},
    ("GET", "/nodes/{node}/qemu/{vmid}/cloudinit"): {},
    ("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump"): {"type": "user"},
    ("POST", "/nodes/{node}/qemu/{vmid}/vncproxy"): {},
    ("GET", "/nodes/{node}/qemu/{vmid}/vncwebsocket"): {"port": 5900, "vncticket": "PVEVNC:00000000::AAAA"},
    ("POST", "/nodes/{node}/qemu/{vmid}/termproxy"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/spiceproxy"): {},
    ("POST", "/nodes/{node}/qemu/{vmid}/monitor"): {"command": "info version"},
    ("PUT", "/nodes/{node}/qemu/{vmid}/sendkey"): {"key": "ret"},
}

# Allowed callers of these routes may still be refused by the handler for what the request holds (a
# made-up VNC ticket), which is not the permission under test.
HANDLER_REFUSES = {("GET", "/nodes/{node}/vncwebsocket")}

CALLERS = ["none", "bad", "expired", "nocsrf", "noaccess", "auditor", "vmuser", "poolvm", "admin",
           "tok_privsep", "tok_full"]
USERS = {  # caller -> (userid, role, ACL path)
    "noaccess": ("m-noaccess@pve", "NoAccess", "/"),
    "auditor": ("m-auditor@pve", "PVEAuditor", "/"),
    "vmuser": ("m-vmuser@pve", "PVEVMUser", "/vms/100"),
    "poolvm": ("m-poolvm@pve", "PVEVMAdmin", "/pool/p1"),
    "admin": ("m-admin@pve", "Administrator", "/"),
}
PASSWORD = "matrix-secret-1"


def schema_routes():
    out = subprocess.run([os.path.join(BIN, "pved"), "--schema"], check=True, capture_output=True,
                         text=True).stdout
    routes = []

    def walk(nodes):
        for node in nodes:
            for method, info in node.get("info", {}).items():
                routes.append((method, node["path"], info))
            walk(node.get("children", []))
    walk(json.loads(out))
    return routes


class World:
    """What the callers hold, to evaluate the routes' check lists as Proxmox does."""

    def __init__(self, role_privs):
        self.role_privs = role_privs

    def privs(self, caller, path):
        if caller == "tok_full":
            caller = "admin"
        if caller not in USERS:
            return set()  # tok_privsep: no ACLs of its own
        _, role, acl = USERS[caller]
        if acl == "/" or path == acl or path.startswith(acl + "/"):
            return set(self.role_privs.get(role, []))
        if path in POOL_MEMBERS.get(acl, []):
            return set(self.role_privs.get(role, []))
        return set()

    def userid(self, caller):
        return USERS["admin" if caller.startswith("tok_") else caller][0]

    def check(self, caller, e, params):
        op = e[0]
        if op == "perm":
            path = expand(e[1], params)
            have = self.privs(caller, path)
            any_ = len(e) > 3 and e[3] == "any"
            return any(p in have for p in e[2]) if any_ else all(p in have for p in e[2])
        if op == "and":
            return all(self.check(caller, x, params) for x in e[1:])
        if op == "or":
            return any(self.check(caller, x, params) for x in e[1:])
        if op == "userid-param":
            userid = params.get("userid", "")
            if e[1] == "self":
                # The whole identity: a token is never the user it belongs to.
                return not caller.startswith("tok_") and userid == self.userid(caller)
            realm = userid.rsplit("@", 1)[-1]
            return "Realm.AllocateUser" in self.privs(caller, f"/access/realm/{realm}")
        if op == "userid-group":
            # The placeholder user belongs to no group: the privileges on /access/groups decide.
            return any(p in self.privs(caller, "/access/groups") for p in e[1])
        if op == "perm-modify":
            path = expand(e[1], params)
            extra = {"/storage/": "Datastore.Allocate", "/vms/": "VM.Allocate",
                     "/pool/": "Pool.Allocate"}
            have = self.privs(caller, path)
            return "Permissions.Modify" in have or any(
                path.startswith(k) and v in have for k, v in extra.items())
        raise AssertionError(f"unknown check {op}")


def expand(tmpl, params):
    out = tmpl
    for k, v in params.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def sign_ticket(n, userid, when):
    plain = f"PVE:{userid}:{when:08X}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                          n.path("etc/pve/priv/authkey.key")],
                         input=plain.encode(), check=True, capture_output=True).stdout
    return plain + "::" + base64.b64encode(sig).decode()


def setup(n):
    n.login()
    creds = {}
    # The guest the /vms/100 ACL is about, as a config file, in pool p1 (made through the API).
    conf = n.path(f"etc/pve/nodes/{n.name}/qemu-server/100.conf")
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write("memory: 512\nname: matrix\n")
    r = n.post("/pools", {"poolid": "p1"})
    expect(r.status == 200, r)
    r = n.request("PUT", "/pools", {"poolid": "p1", "vms": "100"})
    expect(r.status == 200, r)
    r = n.get("/pools/p1")
    expect(r.status == 200 and [m.get("vmid") for m in r.data["members"]] == [100], r)
    for caller, (userid, role, path) in USERS.items():
        r = n.post("/access/users", {"userid": userid, "password": PASSWORD})
        expect(r.status == 200, r)
        r = n.request("PUT", "/access/acl", {"path": path, "roles": role, "users": userid})
        expect(r.status == 200, r)
        r = n.post("/access/ticket", {"username": userid, "password": PASSWORD}, ticket="")
        expect(r.status == 200, r)
        creds[caller] = {"ticket": r.data["ticket"], "csrf": r.data["CSRFPreventionToken"]}
    for caller, privsep in (("tok_privsep", 1), ("tok_full", 0)):
        r = n.post(f"/access/users/m-admin@pve/token/{caller.replace('_', '')}",
                   {"privsep": privsep})
        expect(r.status == 200, r)
        creds[caller] = {"token": f"{r.data['full-tokenid']}={r.data['value']}"}
    r = n.post("/access/users/admin@pve/token/mx", {"privsep": 1})
    expect(r.status == 200, r)
    r = n.post("/access/groups", {"groupid": "mgroup"})
    expect(r.status == 200, r)
    creds["none"] = {}
    good = sign_ticket(n, "m-admin@pve", int(time.time()))
    creds["bad"] = {"ticket": good[:-8] + ("AAAAAAA=" if not good.endswith("AAAAAAA=") else "BBBBBBB=")}
    creds["expired"] = {"ticket": sign_ticket(n, "m-admin@pve", int(time.time()) - 3 * 3600)}
    creds["nocsrf"] = {"ticket": creds["admin"]["ticket"]}
    # A signed, current ticket the test made must work (so the expired one fails for its age).
    r = n.get("/version", ticket=good)
    expect(r.status == 200, ("self-signed ticket refused", r))
    # A real task for {upid}.
    r = n.post(f"/nodes/{n.name}/startall", {})
    expect(r.status == 200 and isinstance(r.data, str) and r.data.startswith("UPID:"), r)
    n.wait_task(r.data)
    placeholders = dict(PLACEHOLDERS, node=n.name, upid=r.data)
    roles = {x["roleid"]: [p for p in (x.get("privs") or "").split(",") if p]
             for x in n.get("/access/roles").data}
    return creds, placeholders, World(roles)


def plan(method, path, info, caller, world, placeholders):
    """(params, expectation): expectation is a set of statuses or ("not", set)."""
    perms = info.get("permissions", {})
    write = method != "GET"
    valid = dict(ROWS[(method, path)])
    invalid = dict(valid, **INVALID)
    is_token = caller.startswith("tok_")
    if is_token and info.get("allowtoken", 1) == 0:
        return invalid, {401}
    world_route = perms.get("user") == "world"
    no_creds = caller in ("none", "bad", "expired") or (caller == "nocsrf" and write)
    if world_route:
        # Never 401 for credentials: the login route with a bad request answers 400.
        return (invalid, {400}) if write else (valid, ("not", {401, 403}))
    if no_creds:
        return invalid, {401}
    check = perms.get("check")
    # "user": "all" lets every authenticated caller in, also beside a check (Proxmox's
    # check_api_permission): the handler decides what each sees (GET /cluster/options).
    if not check or perms.get("user") == "all":
        if perms.get("user") != "all":
            raise AssertionError(f"{method} {path}: no permission declared")
        return (invalid, {400}) if write else (valid, ("not", {401}))
    params = dict(placeholders, **valid)
    allowed = world.check(caller, check, params)
    if write:
        return (invalid, {400}) if allowed else (valid, {403})
    if allowed:
        if (method, path) in HANDLER_REFUSES:
            return valid, ("not", {401})
        return valid, ("not", {401, 403})
    return valid, {403}


def call(n, creds, method, url_path, params):
    c = creds
    return n.request(method, url_path, params, ticket=c.get("ticket", ""), csrf=c.get("csrf"),
                     token=c.get("token"))


@case
def matrix(n):
    creds, placeholders, world = setup(n)
    # No route's check list names /vms/<id>: the model of the callers' privileges (the pool's ACL
    # reaching its member guest included) is compared with what pved reports for each caller itself.
    for caller in USERS:
        for path in ("/", "/vms/100", "/vms/101", "/pool/p1", "/pool/p2", "/storage/local"):
            r = call(n, creds[caller], "GET", "/access/permissions", {"path": path})
            expect(r.status == 200, (caller, path, r))
            got = {p for p, v in (r.data.get(path) or {}).items() if v is not None}
            want = world.privs(caller, path)
            expect(got == want, f"{caller} on {path}: pved reports {sorted(got)}, want {sorted(want)}")
    expect(world.privs("poolvm", "/vms/100") and not world.privs("poolvm", "/vms/101"), "pool model")
    routes = schema_routes()
    expect(len(routes) > 50, routes)
    missing = [f"{m} {p}" for m, p, _ in routes if (m, p) not in ROWS]
    for m in missing:
        print(f"FAIL matrix-row: no matrix row for {m}", flush=True)
    stale = [f"{m} {p}" for (m, p) in ROWS if (m, p) not in {(m2, p2) for m2, p2, _ in routes}]
    jobs = []
    for method, path, info in routes:
        if (method, path) not in ROWS:
            continue
        params = info.get("parameters", {})
        expect(params.get("additionalProperties", 1) == 0 or method == "GET",
               f"{method} {path}: a write must refuse unknown parameters for the matrix")
        url_path = expand(path, {k: urllib.parse.quote(str(v), safe="")
                                 for k, v in placeholders.items()})
        for caller in CALLERS:
            if caller == "nocsrf" and method == "GET":
                continue
            p, want = plan(method, path, info, caller, world, placeholders)
            jobs.append((method, path, url_path, caller, p, want))

    def one(job):
        method, path, url_path, caller, p, want = job
        r = call(n, creds[caller], method, url_path, p)
        ok = (r.status not in want[1]) if isinstance(want, tuple) else (r.status in want)
        return job, r, ok

    t0 = time.time()
    failures = {}
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        for job, r, ok in pool.map(one, jobs):
            if not ok:
                method, path, _, caller, _, want = job
                failures.setdefault(f"{method} {path}", []).append(
                    f"{caller}: got {r.status} {r.reason!r}, want "
                    + (f"not {sorted(want[1])}" if isinstance(want, tuple) else str(sorted(want))))
    elapsed = time.time() - t0
    for method, path, _ in routes:
        key = f"{method} {path}"
        if key in failures:
            print(f"FAIL matrix {key}: " + "; ".join(failures[key]), flush=True)
    expect(not failures, f"{len(failures)} routes with wrong answers")
    expect(not missing, f"routes without a matrix row: {missing}")
    expect(elapsed < 60, f"the matrix took {elapsed:.0f} s")
    print(f"# matrix: {len(jobs)} requests over {len(routes)} routes in {elapsed:.1f} s"
          + (f"; rows for routes not in the table: {stale}" if stale else ""), flush=True)


def main():
    if os.geteuid() != 0:
        print("skip all: needs root")
        return 0
    with Node() as n:
        return run(n)


if __name__ == "__main__":
    sys.exit(main())
