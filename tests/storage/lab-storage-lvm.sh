#!/bin/sh
# The lvm and lvmthin plugins against a real volume group, inside the lab (the host has no device-mapper):
# a sparse file in the working directory on a loop device, a volume group and a thin pool on it, then the
# unit-test binary tests/unit/test-storage-lvm.c (built if needed) with PVED_TEST_VG and PVED_TEST_THINPOOL.
# Its ok/FAIL/skip lines are this test's. Everything is removed at the end, also on failure.

. "$(dirname "$0")/../lab/lib.sh"
. "$(dirname "$0")/storage-lab.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
B=${PVED_BUILD:-build}
bin=$B/tests/test-storage-lvm
work=$top/$B/lab-lvm.$$
vg=pvedtest$$
dev=

cleanup()
{
	vgremove -q -f "$vg" >/dev/null 2>&1
	[ -n "$dev" ] && { pvremove -q -f "$dev" >/dev/null 2>&1; losetup -d "$dev"; }
	rm -rf "$work"
	lab_done
}
trap cleanup EXIT

if ! modprobe dm-thin-pool 2>/dev/null || ! modprobe loop 2>/dev/null; then
	fail lvm-modules "modprobe dm-thin-pool loop failed"
	exit 1
fi
ok lvm-modules

echo "# $(cut -d' ' -f1 /proc/uptime) s: make"
if ! make -s O="$B" "$bin" >/dev/null 2>&1 || [ ! -x "$bin" ]; then
	fail lvm-build "make O=$B $bin failed"
	exit 1
fi

mkdir -p "$work" && truncate -s 512M "$work/pv.img" && dev=$(losetup --find --show "$work/pv.img")
if [ -z "$dev" ]; then
	fail lvm-setup "no loop device"
	exit 1
fi
lvm_conf_no_udev
if ! out=$(pvcreate -q "$dev" 2>&1 && vgcreate -q "$vg" "$dev" 2>&1 &&
	lvcreate -q -L 128m -T "$vg/data" 2>&1); then
	fail lvm-setup "$(echo "$out" | tail -n 1)"
	exit 1
fi
ok lvm-setup

echo "# $(cut -d' ' -f1 /proc/uptime) s: test"
# the unit test's lines are counted as ours
PVED_TEST_VG=$vg PVED_TEST_THINPOOL=data "$bin" >"$work/out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"FAIL "*) r=${line#FAIL }; fail "${r%%:*}" "${r#*: }" ;;
	"skip "*) r=${line#skip }; skip "${r%%:*}" "${r#*: }" ;;
	*) echo "# $line" ;;
	esac
done <"$work/out"
[ $rc = 0 ] || [ "$LAB_FAILED" != 0 ] || fail test-storage-lvm "exited $rc"
