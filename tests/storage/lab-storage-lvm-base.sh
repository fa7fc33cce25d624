#!/bin/sh
# An lvm storage on an iSCSI LUN (`base`) through a real node's API, inside the lab (device-mapper and the
# iSCSI initiator are the lab kernel's): an iSCSI target (tgtd) with one LUN on a sparse file, iscsid and
# udevd for the initiator side, a node on a temporary root driven through pvectl over its local socket.
# The node adds an iscsi storage, an lvm storage with base = the LUN and its VG made on the LUN, allocates
# and frees a volume there, refuses to remove the iscsi storage while the lvm one sits on it and bad bases
# with 400s naming base, then both storages go. The VG, the session, the daemons (by PID) and the files
# are removed at the end, also on failure.

. "$(dirname "$0")/../lab/lib.sh"
. "$(dirname "$0")/storage-lab.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PVED_BIN:-${PVED_BUILD:-$top/build}/bin}
TARGET=iqn.2026-12.org.pved.test:lvm-base
PORTAL=127.0.0.1:3260
vg=pvedbase$$
W=$(mktemp -d /tmp/pved-lab-lvmbase.XXXXXX) || exit 2
root=$W/root
PIDS=
pid=
dev=

cleanup()
{
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	vgremove -q -f "$vg" >/dev/null 2>&1
	[ -n "$dev" ] && pvremove -q -f "$dev" >/dev/null 2>&1
	iscsiadm -m node -T "$TARGET" -p "$PORTAL" --logout >/dev/null 2>&1
	iscsiadm -m node -T "$TARGET" -p "$PORTAL" -o delete >/dev/null 2>&1
	stop_pids
	rm -rf "$W"
	if vgs "$vg" >/dev/null 2>&1; then fail cleanup-vg "$vg stayed"; else ok cleanup-vg; fi
	if iscsiadm -m session 2>/dev/null | grep -q "$TARGET"; then
		fail cleanup-session "still logged in to $TARGET"
	else
		ok cleanup-session
	fi
	lab_done
}
trap cleanup EXIT

pvectl()
{
	"$bin/pvectl" --root "$root" --output-format json "$@"
}

# refused NAME CODE PATTERN COMMAND...: COMMAND fails with HTTP CODE and a line matching PATTERN
refused()
{
	_n=$1 _code=$2 _pat=$3
	shift 3
	if _out=$("$@" 2>&1); then
		fail "$_n" "'$*' succeeded: $_out"
	elif printf '%s\n' "$_out" | grep -q "^$_code " && printf '%s\n' "$_out" | grep -q "$_pat"; then
		ok "$_n"
	else
		fail "$_n" "$(printf '%s\n' "$_out" | tr '\n' ' ')"
	fi
}

# ---- the target and the initiator ----------------------------------------------------------------------
start_iscsi()
{
	modprobe dm-mod && iscsi_target_start "$W" "$TARGET" 67108864
}
if start_iscsi >"$W/iscsi-start.log" 2>&1; then
	ok iscsi-target
else
	fail iscsi-target "$(tail -n 3 "$W/iscsi-start.log" | tr '\n' ' ')"
	exit 1
fi
lvm_conf_no_udev

# ---- the node ----------------------------------------------------------------------------------------------
mkdir -p "$root"
lab_pved_start "$bin" "$root" "$W/pved.log"
up=$?
pid=$LAB_PVED_PID
[ $up = 0 ] && ok node-up || { fail node-up "$(tail -n 5 "$W/pved.log")"; exit 1; }

check add-iscsi pvectl create /storage --storage isc --type iscsi --portal $PORTAL --target "$TARGET"
volid=$(pvectl get /nodes/lab/storage/isc/content 2>"$W/content.err" | /usr/bin/python3 -c \
	'import json, sys; print("\n".join(v["volid"] for v in json.load(sys.stdin)))' | head -n 1)
case $volid in
isc:0.0.1.*) ok lun-listed ;;
*) fail lun-listed "'$volid' $(cat "$W/content.err")"; exit 1 ;;
esac
dev=$(readlink -f "/dev/disk/by-id/${volid#isc:0.0.1.}")

# bad bases: 400 naming base, nothing added
refused base-not-volid 400 "^base: .*unable to parse volume ID" \
	pvectl create /storage --storage lb --type lvm --vgname "$vg" --base nocolon
refused base-no-storage 400 "^base: base storage ID 'nosuch' does not exist" \
	pvectl create /storage --storage lb --type lvm --vgname "$vg" --base "nosuch:${volid#isc:}"
refused base-not-iscsi 400 "^base: unsupported base type 'dir'" \
	pvectl create /storage --storage lb --type lvm --vgname "$vg" --base "local:${volid#isc:}"
refused base-not-lun 400 "^base: unable to parse iscsi volume name" \
	pvectl create /storage --storage lb --type lvm --vgname "$vg" --base isc:lun1
vgs "$vg" >/dev/null 2>&1 && fail bad-base-no-vg "a refused base made $vg" || ok bad-base-no-vg

# the lvm storage on the LUN: its VG is made on the LUN's device
check add-lvm-base pvectl create /storage --storage lb --type lvm --vgname "$vg" --base "$volid"
got=$(pvs --noheadings -o vg_name "$dev" 2>&1 | tr -d ' ')
[ "$got" = "$vg" ] && ok vg-on-lun || fail vg-on-lun "pvs $dev: $got"
grep -q "base $volid" "$root/etc/pve/storage.cfg" && ok base-saved ||
	fail base-saved "$(cat "$root/etc/pve/storage.cfg")"

out=$(pvectl create /nodes/lab/storage/lb/content --vmid 100 --filename vm-100-disk-0 --size 8M 2>&1)
case $out in
*lb:vm-100-disk-0*) ok alloc ;;
*) fail alloc "$out" ;;
esac
lvs "$vg/vm-100-disk-0" >/dev/null 2>&1 && ok lv-made || fail lv-made "no $vg/vm-100-disk-0"
check free pvectl delete /nodes/lab/storage/lb/content/lb:vm-100-disk-0
i=0
while lvs "$vg/vm-100-disk-0" >/dev/null 2>&1 && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
lvs "$vg/vm-100-disk-0" >/dev/null 2>&1 && fail lv-freed "$vg/vm-100-disk-0 stayed" || ok lv-freed

# the base can't go while the lvm storage sits on it
refused delete-base-refused 500 "can't remove storage - storage is used as base of another storage" \
	pvectl delete /storage/isc
grep -q "^iscsi: isc" "$root/etc/pve/storage.cfg" && ok base-kept || fail base-kept "isc is gone"

# activating the lvm storage logs in to its base first
vgchange -an "$vg" >/dev/null 2>&1
iscsiadm -m node -T "$TARGET" -p "$PORTAL" --logout >/dev/null 2>&1
check status-after-logout pvectl get /nodes/lab/storage/lb/status
iscsiadm -m session 2>/dev/null | grep -q "$TARGET" && ok base-activated ||
	fail base-activated "no session to $TARGET"
dev=$(readlink -f "/dev/disk/by-id/${volid#isc:0.0.1.}")

# an existing VG on the base is taken as it is: add the same storage again
check delete-lvm pvectl delete /storage/lb
check add-lvm-again pvectl create /storage --storage lb --type lvm --vgname "$vg" --base "$volid"
check delete-lvm-again pvectl delete /storage/lb
check delete-iscsi pvectl delete /storage/isc
