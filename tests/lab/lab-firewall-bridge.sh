#!/bin/sh
# The guests' firewall in a bridge table, with the lab kernel's bridge conntrack and reject (which
# the build host lacks): two "guests" (namespaces whose veths are the host's tap100i0 and tap101i0,
# ports of one bridge vmbr0) and a "host" namespace where pved runs. Traffic between the two guests
# never leaves the bridge, and is allowed, dropped and rejected exactly as their .fw files say; return
# traffic passes by conntrack; a spoofed MAC is dropped; the host reaches a guest only as its rules
# say. First the compiler's unit test, whose bridge case applies only where the kernel takes it.

. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PVED_BIN:-$top/build/bin}
tag=$$
H=fwbh$tag A=fwba$tag B=fwbb$tag
root=$(mktemp -d /tmp/lab-fwbridge.XXXXXX)
pid=

cleanup()
{
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for ns in $A $B $H; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$root"
	lab_done
}
trap cleanup EXIT

modprobe nf_conntrack_bridge && modprobe nft_reject_bridge ||
	fail modules "nf_conntrack_bridge or nft_reject_bridge cannot be loaded"

out=$("$top/build/tests/test-fw-compile" 2>&1)
if echo "$out" | grep -q '^FAIL'; then
	fail unit-fw-compile "$(echo "$out" | grep '^FAIL' | head -n 3)"
elif echo "$out" | grep -q '^skip test_bridge'; then
	fail unit-fw-bridge "$(echo "$out" | grep '^skip test_bridge')"
else
	ok unit-fw-bridge
fi

# The network: vmbr0 in the host with 10.77.0.1, the guests .100 and .101 on it.
ip netns add $H && ip netns add $A && ip netns add $B || { fail netns "cannot add namespaces"; exit 1; }
ip -n $H link add vmbr0 type bridge
ip -n $H addr add 10.77.0.1/24 dev vmbr0
for g in "$A 100 1" "$B 101 2"; do
	set -- $g
	ip -n $H link add tap$2i0 type veth peer name eth0 netns $1
	ip -n $1 link set eth0 address 02:00:00:00:0$3:00
	ip -n $1 addr add 10.77.0.$2/24 dev eth0
	ip -n $H link set tap$2i0 master vmbr0
	ip -n $H link set tap$2i0 up
	ip -n $1 link set eth0 up
	ip -n $1 link set lo up
done
ip -n $H link set vmbr0 up
ip -n $H link set lo up

server='
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"hi"); c.close()
for p in (22, 80, 81):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'
for ns in $A $B; do
	ip netns exec $ns /usr/bin/python3 -c "$server" >"$root/server-$ns" 2>&1 &
done

# connect NS ADDR PORT: open, refused or timeout
connect()
{
	ip netns exec "$1" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("open" if s.recv(2) == b"hi" else "odd")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")
' "$2" "$3"
}

# expect NAME NS ADDR PORT WANT
expect()
{
	got=$(connect "$2" "$3" "$4")
	[ "$got" = "$5" ] && ok "$1" || fail "$1" "$2 to $3:$4: $got, expected $5"
}

# Neighbours known before filtering starts.
ip netns exec $A busybox ping -c 1 -W 2 10.77.0.101 >/dev/null 2>&1
ip netns exec $H busybox ping -c 1 -W 2 10.77.0.100 >/dev/null 2>&1

pve=$root/etc/pve
mkdir -p "$pve/firewall" "$pve/nodes/lab/qemu-server"
for g in "100 1" "101 2"; do
	set -- $g
	printf 'name: g%s\nmemory: 128\nnet0: virtio=02:00:00:00:0%s:00,bridge=vmbr0,firewall=1\n' \
		"$1" "$2" >"$pve/nodes/lab/qemu-server/$1.conf"
done
printf '[OPTIONS]\nenable: 1\n' >"$pve/firewall/cluster.fw"
printf '[OPTIONS]\nenable: 1\npolicy_in: DROP\n\n[RULES]\nIN ACCEPT -source 10.77.0.101 -p tcp -dport 80\n' \
	>"$pve/firewall/100.fw"
printf '[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n\n[RULES]\nOUT REJECT -p tcp -dport 81\n' \
	>"$pve/firewall/101.fw"

ip netns exec $H "$bin/pved" --root "$root" --listen 127.0.0.1:8006 --node lab --foreground \
	>"$root/pved.log" 2>&1 &
pid=$!
i=0
status=
while [ $i -lt 100 ]; do
	status=$(ip netns exec $H "$bin/pvectl" --root "$root" firewall status --node lab 2>&1)
	case $status in "in sync"*) break ;; esac
	sleep 0.2
	i=$((i + 1))
done
case $status in
"in sync"*) ok applied ;;
*) fail applied "$status $(tail -n 5 "$root/pved.log")"; exit 1 ;;
esac
ip netns exec $H nft list table bridge pved-firewall-g0 >/dev/null 2>&1 && ok bridge-table ||
	fail bridge-table "no bridge table: $(ip netns exec $H nft list tables 2>&1)"
# What `pvectl firewall compile` prints is what nft reads (the bridge table included).
ip netns exec $H "$bin/pvectl" --root "$root" firewall compile >"$root/ruleset.nft" 2>&1 &&
	grep -q "^table bridge pved-firewall-g0 {" "$root/ruleset.nft" &&
	ip netns exec $H nft -c -f "$root/ruleset.nft" >"$root/nft-c.log" 2>&1 && ok compile-nft ||
	fail compile-nft "$(head -c 600 "$root/nft-c.log" "$root/ruleset.nft" 2>&1 | tail -n 8)"
grep -q "bridged traffic between guests is not filtered" "$root/pved.log" &&
	fail no-inet-warning "pved put the guests in the inet table" || ok no-inet-warning

# Guest to guest on one bridge: 100 takes 101's port 80 only; 101 rejects its own port 81 out.
expect bridged-allowed $B 10.77.0.100 80 open
expect bridged-dropped $B 10.77.0.100 22 timeout
expect out-rejected $B 10.77.0.100 81 refused
# 100 to 101: out of 100 is accepted, 101 takes everything, the answer is established.
expect established-return $A 10.77.0.101 22 open
ip netns exec $B busybox ping -c 1 -W 1 10.77.0.100 >/dev/null 2>&1 && fail ping-dropped "101 pinged 100" ||
	ok ping-dropped
ip netns exec $A busybox ping -c 1 -W 2 10.77.0.101 >/dev/null 2>&1 && ok ping-answered ||
	fail ping-answered "100 cannot ping 101"
# The host on the bridge is another sender to 100's port: dropped.
expect host-to-guest-dropped $H 10.77.0.100 80 timeout
# A MAC other than the config's is dropped at 101's port (macfilter).
ip -n $B link set eth0 address 02:00:00:00:02:99
ip -n $A neigh flush dev eth0
expect spoofed-mac-dropped $B 10.77.0.100 80 timeout
ip -n $B link set eth0 address 02:00:00:00:02:00
ip -n $A neigh flush dev eth0
expect mac-restored $B 10.77.0.100 80 open

# A change to one guest's rules replaces its part of the bridge table.
printf '[OPTIONS]\nenable: 1\npolicy_in: DROP\nlog_level_in: info\n\n[RULES]\nIN ACCEPT -source 10.77.0.101 -p tcp -dport 22\n' \
	>"$pve/firewall/100.fw"
i=0
while [ $i -lt 50 ]; do
	[ "$(connect $B 10.77.0.100 22)" = open ] && break
	sleep 0.2
	i=$((i + 1))
done
expect guest-change-allowed $B 10.77.0.100 22 open
expect guest-change-dropped $B 10.77.0.100 80 timeout
# The policy's log line, from the bridge table through nflog to pve-firewall.log.
log=$root/var/log/pve-firewall.log
i=0
while [ $i -lt 25 ] && ! grep -q "^100 6 guest-100-in .*DROP: .*SRC=10.77.0.101 .*DPT=80 " "$log" 2>/dev/null; do
	sleep 0.2
	i=$((i + 1))
done
grep -q "^100 6 guest-100-in .*DROP: .*SRC=10.77.0.101 .*DPT=80 " "$log" 2>/dev/null && ok policy-logged ||
	fail policy-logged "$(tail -n 3 "$log" 2>&1)"
grep -q "firewall:.*refused\|firewall: nftables" "$root/pved.log" &&
	fail no-apply-error "$(grep firewall: "$root/pved.log" | tail -n 3)" || ok no-apply-error
[ "$LAB_FAILED" = 0 ]
