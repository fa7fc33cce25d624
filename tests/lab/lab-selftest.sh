#!/bin/sh
# The lab's own test, run inside the lab VM: the mounts, cgroup2 controllers, modules, network
# devices and the results share that system tests rely on.

. "$(dirname "$0")/lib.sh"

[ "${LAB:-}" = 1 ] && ok lab-boots || fail lab-boots "not inside the lab (LAB is not 1)"

fstype()
{
	awk -v m="$1" '$2 == m { t = $3 } END { print t }' /proc/mounts
}

mounts_ok=1
for m in /:overlay /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /run:tmpfs /tmp:tmpfs \
	/sys/fs/cgroup:cgroup2; do
	t=$(fstype "${m%%:*}")
	if [ "$t" != "${m#*:}" ]; then
		fail "mount-${m%%:*}" "expected ${m#*:}, found '${t:-nothing}'"
		mounts_ok=0
	fi
done
[ $mounts_ok = 1 ] && ok mounts

# The root is the host's, writable through the overlay.
if echo lab >/etc/lab-selftest && [ "$(cat /etc/lab-selftest)" = lab ]; then
	ok root-writable
else
	fail root-writable "cannot write /etc/lab-selftest"
fi
rm -f /etc/lab-selftest

have=$(cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null)
missing=
for c in cpuset cpu io memory hugetlb pids; do
	case " $have " in *" $c "*) ;; *) missing="$missing $c" ;; esac
done
if [ -z "$missing" ]; then
	ok cgroup2-controllers
else
	fail cgroup2-controllers "not in the root's subtree_control:$missing (have: $have)"
fi

cg=/sys/fs/cgroup/lab-selftest.$$
if mkdir "$cg" 2>/dev/null; then
	if echo 64M >"$cg/memory.max" && [ "$(cat "$cg/memory.max")" = 67108864 ]; then
		ok cgroup2-memory-max
	else
		fail cgroup2-memory-max "memory.max in a child cgroup is not writable"
	fi
	if echo 100 >"$cg/pids.max" && sh -c "echo \$\$ >$cg/cgroup.procs && grep -qx 0::/${cg##*/} /proc/self/cgroup"; then
		ok cgroup2-move-process
	else
		fail cgroup2-move-process "cannot move a process into a child cgroup"
	fi
	rmdir "$cg"
else
	fail cgroup2-memory-max "cannot create $cg"
fi

for m in 8021q bonding dm-thin-pool nfsd iscsi_tcp; do
	mod=$(echo "$m" | tr - _)
	if out=$(modprobe "$m" 2>&1) && grep -q "^$mod " /proc/modules; then
		ok "modprobe-$m"
	else
		fail "modprobe-$m" "${out:-not in /proc/modules}"
	fi
done

cleanup_links()
{
	ip link del lst0.10 2>/dev/null
	ip link del lstbond0 2>/dev/null
	ip link del lst0 2>/dev/null
	ip link del lst1 2>/dev/null
}

if ip link add lst0 type dummy 2>/dev/null &&
	ip link add link lst0 name lst0.10 type vlan id 10 &&
	ip -d link show lst0.10 | grep -q 'vlan protocol 802.1Q id 10'; then
	ok vlan-create
else
	fail vlan-create "cannot create VLAN 10 on a dummy link"
fi

if ip link add lst1 type dummy 2>/dev/null &&
	ip link add lstbond0 type bond mode active-backup &&
	ip link set lst1 master lstbond0 &&
	grep -qw lst1 /sys/class/net/lstbond0/bonding/slaves; then
	ok bond-create
else
	fail bond-create "cannot create an active-backup bond with a dummy port"
fi
cleanup_links

if ip link show lo | grep -q 'state UNKNOWN\|,UP' && ip -4 addr show lo | grep -q 127.0.0.1; then
	ok loopback-up
else
	fail loopback-up "lo is down or has no 127.0.0.1"
fi

if [ "${LAB_ACCEL:-}" = kvm ]; then
	skip kvm-absent "this lab runs on KVM"
elif [ -e /dev/kvm ]; then
	fail kvm-absent "/dev/kvm exists under TCG"
else
	ok kvm-absent
fi

f=${LAB_RESULTS:-/nonexistent}/selftest.$$
if [ -n "${LAB_RESULTS:-}" ] && echo results >"$f" && [ "$(cat "$f")" = results ] && rm "$f"; then
	ok results-writable
else
	fail results-writable "cannot write to \$LAB_RESULTS (${LAB_RESULTS:-unset})"
fi

[ -d "$PWD" ] && ok cwd-present || fail cwd-present "working directory $PWD is missing"
