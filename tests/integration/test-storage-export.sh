#!/bin/bash
# Integration test of `pvectl storage export` and `pvectl storage import` (pvesm's, run in-process on the
# node with --root): volumes piped between two dir storages of a temporary root's storage.cfg in raw+size,
# qcow2+size and tar+size, --allow-rename, and what must be refused leaving nothing behind (a truncated
# stream, a bad header, a taken name, --url). Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why".
set -u

BIN=${PVED_BIN:-$(dirname "$0")/../../build/bin}
PVECTL=$BIN/pvectl

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "skip $1: $2"; }

if [[ ! -x $PVECTL ]]; then
	skip storage-export "no $PVECTL"
	exit 0
fi

root=$(mktemp -d)
out=$root/out
cleanup() { rm -rf "$root"; }
trap cleanup EXIT
mkdir -p "$root/etc/pve" "$out" "$root/a/images/100" "$root/b"
cat >"$root/etc/pve/storage.cfg" <<EOF
dir: local
	path $root/a
	content images,rootdir

dir: other
	path $root/b
	content images,rootdir
EOF

pv() { "$PVECTL" --root "$root" storage "$@"; }
why() { echo "exit $rc; stderr: $(head -c 300 "$out/stderr" | tr '\n' ' ')"; }
# The command before (its exit status in rc) was refused: exit 1, MESSAGE in its stderr, and nothing at
# PATH (if given) left behind.
refused() {
	local name=$1 message=$2 path=${3:-}
	if [[ $rc -eq 1 ]] && grep -q "$message" "$out/stderr" && [[ -z $path || ! -e $path ]]; then
		ok "$name"
	else
		fail "$name" "$(why)"
	fi
}

# ---- raw+size through a pipe ---------------------------------------------------------------------------

src=$root/a/images/100/vm-100-disk-0.raw
head -c $((3 * 1024 * 1024 + 4096)) /dev/urandom >"$src"
pv export local:100/vm-100-disk-0.raw raw+size - 2>"$out/stderr.export" |
	pv import other:100/vm-100-disk-0.raw raw+size - >"$out/stdout" 2>"$out/stderr"
rc=$?
if [[ $rc -eq 0 ]] && grep -qx "successfully imported 'other:100/vm-100-disk-0.raw'" "$out/stdout" &&
	cmp -s "$src" "$root/b/images/100/vm-100-disk-0.raw"; then
	ok pipe-raw
else
	fail pipe-raw "$(why) $(cat "$out/stderr.export")"
fi

# the same name again: refused, the volume untouched
pv export local:100/vm-100-disk-0.raw raw+size - 2>/dev/null |
	pv import other:100/vm-100-disk-0.raw raw+size - >"$out/stdout" 2>"$out/stderr"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "already exists" "$out/stderr" &&
	cmp -s "$src" "$root/b/images/100/vm-100-disk-0.raw"; then
	ok import-name-taken
else
	fail import-name-taken "$(why)"
fi

pv export local:100/vm-100-disk-0.raw raw+size - 2>/dev/null |
	pv import other:100/vm-100-disk-0.raw raw+size - --allow-rename 1 >"$out/stdout" 2>"$out/stderr"
rc=$?
if [[ $rc -eq 0 ]] && grep -qx "successfully imported 'other:100/vm-100-disk-1.raw'" "$out/stdout" &&
	cmp -s "$src" "$root/b/images/100/vm-100-disk-1.raw"; then
	ok import-allow-rename
else
	fail import-allow-rename "$(why) $(cat "$out/stdout")"
fi

# ---- through a file, and the header ------------------------------------------------------------------------

pv export local:100/vm-100-disk-0.raw raw+size "$out/stream" 2>"$out/stderr"
rc=$?
hdr=$(od -A n -t u8 -N 8 "$out/stream" 2>/dev/null | tr -d ' ')
if [[ $rc -eq 0 ]] && [[ $hdr == $((3 * 1024 * 1024 + 4096)) ]] &&
	[[ $(stat -c %s "$out/stream") == $((3 * 1024 * 1024 + 4096 + 8)) ]]; then
	ok export-file-header
else
	fail export-file-header "$(why) header $hdr"
fi

# ---- refusals leave nothing behind ------------------------------------------------------------------------

head -c 100000 "$out/stream" | pv import other:100/vm-100-disk-5.raw raw+size - >/dev/null 2>"$out/stderr"
rc=$?
refused import-truncated "ended before" "$root/b/images/100/vm-100-disk-5.raw"

# killed half way (a signal that ends a pipeline): it waits for the stream's end, then cleans up
{
	head -c 200000 "$out/stream"
	sleep 1.5
} | "$PVECTL" --root "$root" storage import other:100/vm-100-disk-7.raw raw+size - >/dev/null 2>"$out/stderr" &
ipid=$!
sleep 0.7
kill -TERM "$ipid" 2>/dev/null
wait "$ipid"
rc=$?
refused import-signalled "ended before" "$root/b/images/100/vm-100-disk-7.raw"

printf 'abc' | pv import other:100/vm-100-disk-5.raw raw+size - >/dev/null 2>"$out/stderr"
rc=$?
refused import-no-header "no size header" "$root/b/images/100/vm-100-disk-5.raw"

printf '\0\0\0\0\0\0\0\1' | pv import other:100/vm-100-disk-5.raw raw+size - >/dev/null 2>"$out/stderr"
rc=$?
refused import-size-limit "over the limit" "$root/b/images/100/vm-100-disk-5.raw"

pv import other:100/vm-100-disk-5.qcow2 raw+size "$out/stream" >/dev/null 2>"$out/stderr"
rc=$?
refused import-wrong-format "does not fit" "$root/b/images/100/vm-100-disk-5.qcow2"

pv export local:100/vm-100-disk-0.raw qcow2+size "$out/bad" >/dev/null 2>"$out/stderr"
rc=$?
refused export-wrong-format "available: raw+size" "$out/bad"

pv export nosuch:100/vm-100-disk-0.raw raw+size - >/dev/null 2>"$out/stderr"
rc=$?
refused export-unknown-storage "storage 'nosuch' does not exist"

"$PVECTL" --root "$root" --url https://127.0.0.1:1 storage export local:100/vm-100-disk-0.raw raw+size - \
	>/dev/null 2>"$out/stderr"
rc=$?
if [[ $rc -eq 2 ]] && grep -q "no --url" "$out/stderr"; then
	ok export-no-url
else
	fail export-no-url "$(why)"
fi

pv export local:100/vm-100-disk-0.raw raw+size - --with-snapshots 1 >/dev/null 2>"$out/stderr"
rc=$?
if [[ $rc -eq 2 ]] && grep -q "not supported" "$out/stderr"; then
	ok export-with-snapshots-refused
else
	fail export-with-snapshots-refused "$(why)"
fi

# ---- qcow2+size and tar+size -------------------------------------------------------------------------------

if [[ -x /usr/bin/qemu-img ]]; then
	q=$root/a/images/100/vm-100-disk-2.qcow2
	/usr/bin/qemu-img create -q -f qcow2 "$q" 8M
	[[ -x /usr/bin/qemu-io ]] && /usr/bin/qemu-io -c 'write -P 0x5a 1M 64k' "$q" >/dev/null
	pv export local:100/vm-100-disk-2.qcow2 qcow2+size - 2>"$out/stderr.export" |
		pv import other:100/vm-100-disk-2.qcow2 qcow2+size - >"$out/stdout" 2>"$out/stderr"
	rc=$?
	if [[ $rc -eq 0 ]] && cmp -s "$q" "$root/b/images/100/vm-100-disk-2.qcow2" &&
		/usr/bin/qemu-img compare -q "$q" "$root/b/images/100/vm-100-disk-2.qcow2"; then
		ok pipe-qcow2
	else
		fail pipe-qcow2 "$(why) $(cat "$out/stderr.export")"
	fi
	# an image naming a backing file would read another file of the node: refused
	/usr/bin/qemu-img create -q -f qcow2 -b "$src" -F raw "$out/evil.qcow2"
	{
		s=$(stat -c %s "$out/evil.qcow2")
		printf "$(printf '\\%03o' $((s & 255)) $(((s >> 8) & 255)) $(((s >> 16) & 255)) 0 0 0 0 0)"
		cat "$out/evil.qcow2"
	} | pv import other:100/vm-100-disk-3.qcow2 qcow2+size - >/dev/null 2>"$out/stderr"
	rc=$?
	refused import-qcow2-backing-refused "backing file" "$root/b/images/100/vm-100-disk-3.qcow2"
else
	skip pipe-qcow2 "no /usr/bin/qemu-img"
fi

if [[ -x /bin/tar ]]; then
	sv=$root/a/images/101/subvol-101-disk-0.subvol
	mkdir -p "$sv/etc" "$sv/root"
	echo hello >"$sv/etc/hostname"
	ln -s ../etc/hostname "$sv/root/link"
	owner="$(id -u):$(id -g)"
	# as root, a container's ids above 100000 come through as they are
	[[ $EUID -eq 0 ]] && owner=100000:100000 && chown $owner "$sv/etc/hostname"
	chmod 0600 "$sv/etc/hostname"
	pv export local:101/subvol-101-disk-0.subvol tar+size - 2>"$out/stderr.export" |
		pv import other:101/subvol-101-disk-0.subvol tar+size - >"$out/stdout" 2>"$out/stderr"
	rc=$?
	d=$root/b/images/101/subvol-101-disk-0.subvol
	if [[ $rc -eq 0 ]] && diff -r "$sv" "$d" >/dev/null && [[ -L $d/root/link ]] &&
		[[ $(stat -c '%u:%g %a' "$d/etc/hostname") == "$owner 600" ]]; then
		ok pipe-subvol-tar
	else
		fail pipe-subvol-tar "$(why) $(cat "$out/stderr.export")"
	fi
else
	skip pipe-subvol-tar "no /bin/tar"
fi

# ---- the old import verb is upload now ----------------------------------------------------------------------

"$PVECTL" storage help >"$out/stdout" 2>&1
if grep -q "storage upload <storage>:<iso|vztmpl|import>/<name>" "$out/stdout" &&
	grep -q "storage import <volume> <raw+size" "$out/stdout"; then
	ok storage-help-upload
else
	fail storage-help-upload "$(head -c 300 "$out/stdout")"
fi
