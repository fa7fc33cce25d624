"""GET and POST /nodes/{node}/aplinfo against a real node: the node's own appliance index
(<root>/var/lib/pve-manager/apl-info/*, Proxmox's "Key: value" paragraphs) listed as Proxmox lists it
(incomplete records and pve-web-news left out, relative locations resolved), a template from it
downloaded onto the local storage as a "download" task and checked against the index's sha512sum or
md5sum (a wrong one fails the task and leaves no file), and the refusals: an unknown template (400
naming it), a storage without templates, a location that is not a file:// URL. The template is
tools/ct/mk-busybox-template's, cached in build/ct-templates/. Needs root."""

import hashlib
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvetest import Skip, case, expect, node_main  # noqa: E402

TOP = os.environ.get("PVED_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def busybox_template():
    """The busybox template, built once into build/ct-templates/."""
    cache = os.path.join(TOP, "build", "ct-templates")
    out = os.path.join(cache, "busybox-pved_1.35_amd64.tar.zst")
    if not os.path.exists(out):
        if not os.path.exists("/bin/busybox"):
            raise Skip("busybox-static is not installed (tools/setup-deps)")
        os.makedirs(cache, exist_ok=True)
        subprocess.run([os.path.join(TOP, "tools", "ct", "mk-busybox-template"), out], check=True)
    return out


def digest(path, alg):
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def index_dir(n):
    return n.path("var/lib/pve-manager/apl-info")


def cache_dir(n):
    return n.path("var/lib/vz/template/cache")


def write_index(n, text, name="pved-test"):
    os.makedirs(index_dir(n), exist_ok=True)
    with open(os.path.join(index_dir(n), name), "w") as f:
        f.write(text)


def listing(n):
    r = n.get(f"/nodes/{n.name}/aplinfo")
    expect(r.status == 200, r)
    return {a["template"]: a for a in r.data}


def download(n, template, storage="local"):
    return n.post(f"/nodes/{n.name}/aplinfo", {"storage": storage, "template": template})


@case
def no_index_no_templates(n):
    expect(listing(n) == {}, "a node without an index lists nothing")


@case
def list_and_download(n):
    src = busybox_template()
    rel_dir = os.path.join(index_dir(n), "templates")
    os.makedirs(rel_dir, exist_ok=True)
    rel = os.path.join(rel_dir, "debian-12-relative_1.0-1_amd64.tar.gz")
    with open(rel, "wb") as f:
        f.write(b"\x1f\x8b" + os.urandom(4000))
    write_index(n, f"""Package: busybox-pved
Version: 1.35-1
Type: lxc
OS: busybox
Section: system
Maintainer: pved tests <tests@example.com>
Infopage: https://example.com/busybox
Location: file://{src}
sha512sum: {digest(src, "sha512")}
Architecture: amd64
Description: Busybox for containers
 A tiny system: busybox-static with its applets,
 an init and udhcpc's script.

Package: relative
Version: 1.0-1
Type: lxc
OS: debian-12
Section: system
Infopage: https://example.com/relative
Location: templates/debian-12-relative_1.0-1_amd64.tar.gz
md5sum: {digest(rel, "md5")}
Description: Relative location

Package: incomplete
Type: lxc
Description: no version, no os: left out

Package: pve-web-news
Version: 1
Type: lxc
OS: none
Infopage: x
Description: news
 not a template
""")
    got = listing(n)
    expect(set(got) == {"busybox-pved_1.35_amd64.tar.zst",
                        "debian-12-relative_1.0-1_amd64.tar.gz"}, got)
    bb = got["busybox-pved_1.35_amd64.tar.zst"]
    expect(bb["headline"] == "Busybox for containers", bb)
    expect(bb["description"] == "A tiny system: busybox-static with its applets, an init and "
           "udhcpc's script.", bb)
    expect(bb["package"] == "busybox-pved" and bb["os"] == "busybox" and bb["type"] == "lxc", bb)
    expect(bb["section"] == "system" and bb["location"] == "file://" + src, bb)
    expect(bb["source"] == "file://" + index_dir(n), bb)
    r = got["debian-12-relative_1.0-1_amd64.tar.gz"]
    expect(r["location"] == "file://" + index_dir(n) + "/templates/"
           "debian-12-relative_1.0-1_amd64.tar.gz", r)

    for tmpl, path in (("busybox-pved_1.35_amd64.tar.zst", src),
                       ("debian-12-relative_1.0-1_amd64.tar.gz", rel)):
        res = download(n, tmpl)
        expect(res.status == 200, res)
        upid = res.data
        expect(upid.split(":")[5] == "download" and upid.split(":")[6] == tmpl, upid)
        st = n.wait_task(upid)
        expect(st["exitstatus"] == "OK", st)
        target = os.path.join(cache_dir(n), tmpl)
        expect(digest(target, "sha256") == digest(path, "sha256"), f"{tmpl}: content differs")
    # Again: the file there has the checksum and is kept, as Proxmox's download_file_from_url does.
    res = download(n, "busybox-pved_1.35_amd64.tar.zst")
    expect(res.status == 200 and n.wait_task(res.data)["exitstatus"] == "OK", res)
    # The storage's content lists it as a template.
    r = n.get(f"/nodes/{n.name}/storage/local/content", {"content": "vztmpl"})
    expect(r.status == 200 and any(v["volid"] == "local:vztmpl/busybox-pved_1.35_amd64.tar.zst"
                                   for v in r.data), r)


@case
def wrong_checksum(n):
    src = busybox_template()
    write_index(n, f"""Package: badsum
Version: 2
Type: lxc
OS: busybox
Infopage: x
Location: file://{src[:-len(".tar.zst")]}-copy.tar.zst
sha512sum: {"0" * 128}
Description: wrong checksum
""", name="zz-badsum")
    shutil.copyfile(src, src[:-len(".tar.zst")] + "-copy.tar.zst")
    try:
        tmpl = os.path.basename(src)[:-len(".tar.zst")] + "-copy.tar.zst"
        res = download(n, tmpl)
        expect(res.status == 200, res)
        st = n.wait_task(res.data)
        expect("checksum mismatch" in st["exitstatus"], st)
        expect(not os.path.exists(os.path.join(cache_dir(n), tmpl)), "a failed download left a file")
    finally:
        os.unlink(src[:-len(".tar.zst")] + "-copy.tar.zst")
        os.unlink(os.path.join(index_dir(n), "zz-badsum"))


@case
def refusals(n):
    write_index(n, """Package: remote
Version: 1
Type: lxc
OS: debian
Infopage: x
Location: http://download.example.com/debian-remote_1_amd64.tar.zst
sha512sum: 00
Description: not on this node
""", name="zz-remote")
    try:
        r = download(n, "no-such-template.tar.zst")
        expect(r.status == 400 and r.json.get("errors", {}).get("template") == "no such template",
               r)
        r = download(n, "debian-remote_1_amd64.tar.zst")
        expect(r.status == 500 and "file://" in r.json["message"], r)
        r = download(n, "busybox-pved_1.35_amd64.tar.zst", storage="nosuchstorage")
        expect(r.status == 500 and "does not exist" in r.json["message"], r)
        path = n.path("imgonly")
        os.makedirs(path, exist_ok=True)
        st, body = n.local_call("POST", "/storage", {"storage": "imgonly", "type": "dir",
                                                     "path": path, "content": "images"})
        expect(st == 200, body)
        r = download(n, "busybox-pved_1.35_amd64.tar.zst", storage="imgonly")
        expect(r.status == 500 and r.json["message"].startswith(
            "storage 'imgonly' does not support templates"), r)
    finally:
        os.unlink(os.path.join(index_dir(n), "zz-remote"))


if __name__ == "__main__":
    sys.exit(node_main())
