#!/bin/sh
# Lab test of the nfs, cifs, iscsi and iscsidirect storage plugins against real servers this script starts inside the
# lab VM, on loopback only: an NFS server (nfsd, rpcbind, rpc.mountd; a tmpfs exported to 127.0.0.1), an
# SMB server (smbd with its own config, a share and a user), an iSCSI target (tgtd, one LUN on a file) with
# iscsid and udevd for the initiator side. Then tests/unit/test-storage-net runs against them. Everything
# started here is stopped by PID and unmounted at exit, also on failure. Each daemon runs in its own
# session: some signal their whole process group when they stop, which would end this script too.
. "$(dirname "$0")/../lab/lib.sh"
. "$(dirname "$0")/storage-lab.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PVED_BUILD:-$TOP/build}/tests/test-storage-net
LUN_SIZE=67108864
TARGET=iqn.2026-11.org.pved.test:lun-target
W=$(mktemp -d /tmp/pved-lab-net.XXXXXX) || exit 2
PIDS=

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup()
{
	iscsiadm -m node -T "$TARGET" -p 127.0.0.1:3260 --logout >/dev/null 2>&1
	# whatever the test left mounted below the work dir, innermost first
	awk -v w="$W" '$2 ~ "^"w { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	exportfs -ua 2>/dev/null
	rpc.nfsd 0 2>/dev/null
	stop_pids
	umount "$W/export" 2>/dev/null
	rm -rf "$W"
}
trap 'rc=$?; cleanup; [ $rc -gt 1 ] || rc=0; lab_done $rc' EXIT

if [ ! -x "$BIN" ]; then
	fail storage-net "no $BIN (make unit-tests first)"
	exit 1
fi

# ---- NFS ---------------------------------------------------------------------------------------------
t0=$(now)
start_nfs()
{
	mkdir -p "$W/export" /var/lib/nfs/rpc_pipefs /run/rpcbind "$W/mnt" || return 1
	modprobe nfsd || return 1
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || return 1
	mountpoint -q /var/lib/nfs/rpc_pipefs || mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs
	# the lab's root is an overlay, which nfsd cannot export: a tmpfs can be, given an fsid
	mount -t tmpfs -o size=256m tmpfs "$W/export" || return 1
	setsid rpcbind -f -w >"$W/rpcbind.log" 2>&1 &
	PIDS="$PIDS $!"
	# nfsd registers with rpcbind: it must answer first
	i=0
	until rpcinfo -p 127.0.0.1 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || return 1
		sleep 0.1
	done
	# an empty exports file of our own: exportfs -r must not read anything else
	: >"$W/exports"
	exportfs -o rw,no_root_squash,insecure,no_subtree_check,fsid=1 "127.0.0.1:$W/export" ||
		return 1
	setsid rpc.mountd -F >"$W/mountd.log" 2>&1 &
	PIDS="$PIDS $!"
	rpc.nfsd -H 127.0.0.1 4 || return 1
	i=0
	until showmount -e 127.0.0.1 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || return 1
		sleep 0.2
	done
}
if start_nfs >"$W/nfs-start.log" 2>&1; then
	ok nfs-server
	export PVE_TEST_NFS_SERVER=127.0.0.1 PVE_TEST_NFS_EXPORT="$W/export"
else
	fail nfs-server "$(tail -n 3 "$W/nfs-start.log" | tr '\n' ' ')"
fi
echo "# nfs server up in $(since "$t0") s"

# ---- SMB ---------------------------------------------------------------------------------------------
t0=$(now)
start_smb()
{
	S=$W/smb
	mkdir -p "$S/private" "$S/lock" "$S/state" "$S/cache" "$S/run" "$S/ncalrpc" "$W/share" ||
		return 1
	cat >"$S/smb.conf" <<EOC
[global]
	interfaces = 127.0.0.1
	bind interfaces only = yes
	smb ports = 445
	server role = standalone server
	server min protocol = SMB2
	private dir = $S/private
	lock directory = $S/lock
	state directory = $S/state
	cache directory = $S/cache
	pid directory = $S/run
	ncalrpc dir = $S/ncalrpc
	log file = $S/log.%m
	passdb backend = tdbsam:$S/passdb.tdb
	load printers = no
	disable spoolss = yes
	map to guest = never
	# the share list comes from the srvsvc RPC service: started below, not on demand by smbd,
	# whose on-demand start is racy under the lab's emulated CPU
	rpc start on demand helpers = no
[pvetest]
	comment = pved test share
	path = $W/share
	read only = no
	force user = root
EOC
	printf 'secret-pw\nsecret-pw\n' | smbpasswd -c "$S/smb.conf" -s -a root || return 1
	setsid /usr/libexec/samba/samba-dcerpcd --foreground --libexec-rpcds -s "$S/smb.conf" \
		>"$S/dcerpcd.log" 2>&1 &
	PIDS="$PIDS $!"
	setsid smbd --foreground --no-process-group -s "$S/smb.conf" >"$S/smbd.log" 2>&1 &
	PIDS="$PIDS $!"
	# up when it lists the share (smbclient exits 0 even when the listing failed)
	i=0
	until PASSWD=secret-pw smbclient -s "$S/smb.conf" -U root -L //127.0.0.1 -g 2>&1 |
		grep -q '^Disk|pvetest|'; do
		i=$((i + 1))
		[ $i -lt 60 ] || return 1
		sleep 0.5
	done
}
if start_smb >"$W/smb-start.log" 2>&1; then
	ok smb-server
	export PVE_TEST_CIFS_SERVER=127.0.0.1 PVE_TEST_CIFS_SHARE=pvetest PVE_TEST_CIFS_USER=root \
		PVE_TEST_CIFS_PASSWORD=secret-pw PVE_TEST_CIFS_DIR="$W/share"
else
	fail smb-server "$(tail -n 3 "$W/smb-start.log" | tr '\n' ' ')"
fi
echo "# smb server up in $(since "$t0") s"

# ---- iSCSI -------------------------------------------------------------------------------------------
t0=$(now)
start_iscsi()
{
	iscsi_target_start "$W" "$TARGET" $LUN_SIZE
}
if start_iscsi >"$W/iscsi-start.log" 2>&1; then
	ok iscsi-target
	export PVE_TEST_ISCSI_PORTAL=127.0.0.1:3260 PVE_TEST_ISCSI_TARGET="$TARGET" \
		PVE_TEST_ISCSI_LUN_SIZE=$LUN_SIZE
else
	fail iscsi-target "$(tail -n 3 "$W/iscsi-start.log" | tr '\n' ' ')"
fi
echo "# iscsi target up in $(since "$t0") s"

# ---- the plugins ---------------------------------------------------------------------------------------
export PVE_TEST_NET_MNT="$W/mnt"
t0=$(now)
"$BIN" >"$W/unit.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "storage-net/${line#ok }" ;;
	"FAIL "*) fail "storage-net/${line#FAIL }" ;;
	"skip "*)
		# in the lab every server is here: a skipped real-server case is a failure
		n=${line#skip }
		case ${n%%:*} in
		*_real) fail "storage-net/${n%%:*}" "skipped in the lab: ${n#*: }" ;;
		*) skip "storage-net/${n%%:*}" "${n#*: }" ;;
		esac
		;;
	*) echo "$line" ;;
	esac
done <"$W/unit.out"
echo "# test-storage-net: $(since "$t0") s, exit $rc"

# the scan routes and an nfs storage through a real pved's API
if [ -x "${PVED_BUILD:-$TOP/build}/bin/pved" ]; then
	t0=$(now)
	PVED_START_TIMEOUT=240 PVED_TOP=$TOP PVED_BIN=${PVED_BUILD:-$TOP/build}/bin /usr/bin/python3 \
		"$TOP/tests/integration/test-scan.py" >"$W/api.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "storage-net-api/${line#ok }" ;;
		"FAIL "*) fail "storage-net-api/${line#FAIL }" ;;
		"skip "*) fail "storage-net-api/${line#skip }" ;;
		*) echo "$line" ;;
		esac
	done <"$W/api.out"
	echo "# test-scan.py: $(since "$t0") s"
else
	skip storage-net-api "no ${PVED_BUILD:-$TOP/build}/bin/pved"
fi

# nothing the test mounted stays mounted; the LUN session is gone
if awk -v w="$W/mnt" '$2 ~ "^"w' /proc/mounts | grep -q .; then
	fail storage-net/no-mounts-left "$(awk -v w="$W/mnt" '$2 ~ "^"w { print $2 }' /proc/mounts)"
else
	ok storage-net/no-mounts-left
fi
if iscsiadm -m session 2>/dev/null | grep -q "$TARGET"; then
	fail storage-net/no-session-left "still logged in to $TARGET"
else
	ok storage-net/no-session-left
fi
if [ "$rc" != 0 ] && [ "$LAB_FAILED" = 0 ]; then
	fail storage-net "test-storage-net exited $rc"
fi
for f in nfs-start smb-start iscsi-start; do
	[ "$LAB_FAILED" = 0 ] || { echo "# --- $f.log"; tail -n 5 "$W/$f.log"; }
done
