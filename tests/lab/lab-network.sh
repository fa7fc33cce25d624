#!/bin/sh
# The node network with a full kernel (8021q, bonding, bridge VLAN filtering, which the build host
# lacks): a node on a temporary root, driven through pvectl over its local socket, creates a bond of two
# dummy NICs, a VLAN-aware bridge on it with bridge-vids, a NAME.N VLAN and a vlanN with
# vlan-raw-device; applies them (srvreload); containers tagged 10, 10 and 20 on the bridge reach each
# other only within their VLAN; a pending change is reverted; everything is deleted and applied
# again. The lab's kernel is its own: the test works on its root network namespace.

. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PVED_BIN:-$top/build/bin}
root=$(mktemp -d /tmp/lab-network.XXXXXX)
pid=

cleanup()
{
	# containers a failed check left running end before their node
	for v in 801 802 803; do
		[ -n "$pid" ] && "$bin/pvectl" --root "$root" create /nodes/lab/lxc/$v/status/stop \
			>/dev/null 2>&1
	done
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for l in vlan40 ld2.30 vmbr0 bond0 ld0 ld1 ld2; do ip link del "$l" 2>/dev/null; done
	rm -rf "$root" "$root.log" "$root.unit"
	lab_done
}
trap cleanup EXIT

pvectl()
{
	"$bin/pvectl" --root "$root" --output-format json "$@"
}

N=/nodes/lab/network

modprobe 8021q && modprobe bonding || fail modules "8021q or bonding cannot be loaded"
for l in ld0 ld1 ld2; do ip link add "$l" type dummy || fail dummies "cannot add $l"; done

lab_pved_start "$bin" "$root" "$root.log"
up=$?
pid=$LAB_PVED_PID
[ $up = 0 ] && ok node-up || { fail node-up "$(tail -n 5 "$root.log")"; exit 1; }

check create-bond pvectl create $N --iface bond0 --type bond --slaves "ld0 ld1" \
	--bond_mode active-backup --autostart 1
check create-bridge pvectl create $N --iface vmbr0 --type bridge --bridge_ports bond0 \
	--bridge_vlan_aware 1 --bridge_vids "2-100 200" --cidr 10.99.0.1/24 --autostart 1
check create-vlan-dot pvectl create $N --iface ld2.30 --type vlan --autostart 1
check create-vlan-n pvectl create $N --iface vlan40 --type vlan --vlan-raw-device ld2 --autostart 1
check apply pvectl set $N
[ "$LAB_FAILED" = 0 ] || exit 1

ip -d link show bond0 | grep -q "bond mode active-backup" && ok bond-mode ||
	fail bond-mode "$(ip -d link show bond0 2>&1 | tail -n 3)"
ip link show ld0 | grep -q "master bond0" && ip link show ld1 | grep -q "master bond0" &&
	ok bond-slaves || fail bond-slaves "$(ip link show ld0; ip link show ld1)"
ip -d link show vmbr0 | grep -q "vlan_filtering 1" && ok bridge-vlan-aware ||
	fail bridge-vlan-aware "$(ip -d link show vmbr0 2>&1 | tail -n 3)"
ip link show bond0 | grep -q "master vmbr0" && ok bridge-port || fail bridge-port "$(ip link show bond0)"
vl=$(bridge -color=never vlan show dev bond0 2>&1 | awk '{ print $NF == "Untagged" ? $2 : $NF }')
vids=$(echo "$vl" | grep -x '[0-9]*' | tr '\n' ' ')
[ "$vids" = "1 $(seq -s ' ' 2 100) 200 " ] && ok bridge-vids || fail bridge-vids "$vids"
ip addr show vmbr0 | grep -q "10.99.0.1/24" && ok bridge-address || fail bridge-address "$(ip addr show vmbr0)"
ip -d link show ld2.30 | grep -q "vlan protocol 802.1Q id 30" && ok vlan-dot ||
	fail vlan-dot "$(ip -d link show ld2.30 2>&1)"
ip -d link show vlan40 | grep -q "vlan protocol 802.1Q id 40" && ip link show vlan40 | grep -q "vlan40@ld2" &&
	ok vlan-n || fail vlan-n "$(ip -d link show vlan40 2>&1)"

# tagged guests isolated per VLAN: three busybox containers on the VLAN-aware vmbr0, two with tag 10
# and one with tag 20, all in one subnet; the two of VLAN 10 reach each other, the third neither
tmpl="$root/var/lib/vz/template/cache"
mkdir -p "$tmpl"
# an unprivileged container's root (uid 100000) passes through the node's root on its way in
chmod 755 "$root"
if "$top/tools/ct/mk-busybox-template" "$tmpl/bb.tar.gz" >/dev/null 2>&1; then
	for g in "801 10 1" "802 10 2" "803 20 3"; do
		set -- $g
		# a subvol rootfs (size 0): the lab's /tmp takes no loop mount
		check "ct-vlan-$1" pvectl create /nodes/lab/lxc --vmid "$1" --ostemplate local:vztmpl/bb.tar.gz \
			--rootfs local:0 --net0 "name=eth0,bridge=vmbr0,tag=$2,ip=10.98.0.$3/24"
		check "ct-vlan-start-$1" pvectl create /nodes/lab/lxc/$1/status/start
	done
	bridge -color=never vlan show dev veth801i0 | grep -q "10 PVID Egress Untagged" &&
		ok ct-vlan-port || fail ct-vlan-port "$(bridge -color=never vlan show dev veth801i0 2>&1;
			pvectl get /nodes/lab/lxc/801/status/current; tail -n 20 "$root.log")"
	reach()
	{
		"$bin/pvectl" --root "$root" ct exec "$1" -- ping -c 1 -W 2 "$2" >/dev/null 2>&1
	}
	# isolation means something only where the same VLAN reaches
	if reach 801 10.98.0.2 && reach 802 10.98.0.1; then
		ok vlan-same-reaches
		if reach 803 10.98.0.1 || reach 801 10.98.0.3; then
			fail vlan-isolated "803 (VLAN 20) and 801 (VLAN 10) reach each other"
		else
			ok vlan-isolated
		fi
	else
		fail vlan-same-reaches "801 and 802 (VLAN 10) do not reach each other"
	fi
	for v in 801 802 803; do
		pvectl create /nodes/lab/lxc/$v/status/stop >/dev/null 2>&1
		pvectl delete /nodes/lab/lxc/$v >/dev/null 2>&1
	done
else
	fail ct-template "mk-busybox-template failed"
fi

# a pending change reverted never reaches the kernel
check pending-delete pvectl delete $N/vlan40
[ -e "$root/etc/network/interfaces.new" ] && ok pending || fail pending "no interfaces.new"
check revert pvectl delete $N
[ ! -e "$root/etc/network/interfaces.new" ] && ok reverted || fail reverted "interfaces.new stayed"
check apply-after-revert pvectl set $N
ip link show vlan40 >/dev/null 2>&1 && ok revert-kept-vlan || fail revert-kept-vlan "vlan40 is gone"

# the bond's mode changed: a bond with slaves cannot change it in place, so it is made again
check change-mode pvectl set $N/bond0 --type bond --bond_mode balance-xor \
	--bond_xmit_hash_policy layer2+3
check apply-mode pvectl set $N
ip -d link show bond0 | grep -q "bond mode balance-xor" && ok bond-mode-changed ||
	fail bond-mode-changed "$(ip -d link show bond0 2>&1 | tail -n 3)"
ip link show bond0 | grep -q "master vmbr0" && ip link show ld0 | grep -q "master bond0" &&
	ok bond-back-in-bridge || fail bond-back-in-bridge "$(ip link show bond0; ip link show ld0)"

# everything deleted and applied: the links go, the dummies stay, free
for i in vlan40 ld2.30 vmbr0 bond0; do check "delete-$i" pvectl delete $N/$i; done
check apply-deleted pvectl set $N
gone=1
for l in vlan40 ld2.30 vmbr0 bond0; do ip link show "$l" >/dev/null 2>&1 && gone=0; done
[ $gone = 1 ] && ok links-removed || fail links-removed "$(ip -br link)"
ip link show ld0 | grep -q master && fail slaves-free "$(ip link show ld0)" || ok slaves-free

# net/'s own netlink test (a guest's VLAN tag on a VLAN-aware bridge is only testable here)
"$top/build/tests/test-net-netlink" 2>&1 | while read -r word name rest; do
	case "$word" in
	ok) echo "ok netlink-${name%:}" ;;
	FAIL) echo "FAIL netlink-${name%:} $rest" ;;
	skip) echo "skip netlink-${name%:} $rest" ;;
	esac
done >"$root.unit"
cat "$root.unit"
while read -r word name rest; do
	case "$word" in
	ok) LAB_PASSED=$((LAB_PASSED + 1)) ;;
	FAIL) LAB_FAILED=$((LAB_FAILED + 1)) ;;
	skip) LAB_SKIPPED=$((LAB_SKIPPED + 1)) ;;
	esac
done <"$root.unit"
grep -q "^ok netlink-attach_tag" "$root.unit" && ok lab-tag-tested || fail lab-tag-tested "attach_tag did not pass"
