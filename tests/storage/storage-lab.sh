# Helpers the storage lab tests share (sourced, POSIX sh; not a test itself): an iSCSI target with one
# LUN and the initiator's daemons, and an lvm.conf for a lab without udev rules.

# iscsi_target_start DIR TARGET SIZE: udevd (the /dev/disk/by-id/scsi-* links the iscsi plugin names LUNs
# by), tgtd serving TARGET on 127.0.0.1:3260 with LUN 1 on the sparse file DIR/lun0.img of SIZE bytes,
# and iscsid; each runs in its own session (some signal their process group when they stop) and its PID
# is added to $PIDS, for the caller's cleanup to stop. Logs go to DIR.
iscsi_target_start()
{
	modprobe iscsi_tcp || return 1
	mkdir -p /run/lock/iscsi /run/udev || return 1
	setsid /lib/systemd/systemd-udevd >"$1/udevd.log" 2>&1 &
	PIDS="$PIDS $!"
	truncate -s "$3" "$1/lun0.img" || return 1
	setsid tgtd -f --iscsi portal=127.0.0.1:3260 >"$1/tgtd.log" 2>&1 &
	PIDS="$PIDS $!"
	_st_i=0
	until tgtadm --lld iscsi --op show --mode target >/dev/null 2>&1; do
		_st_i=$((_st_i + 1))
		[ $_st_i -lt 50 ] || return 1
		sleep 0.1
	done
	tgtadm --lld iscsi --op new --mode target --tid 1 -T "$2" &&
		tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$1/lun0.img" &&
		tgtadm --lld iscsi --op bind --mode target --tid 1 -I 127.0.0.1 || return 1
	setsid iscsid -f >"$1/iscsid.log" 2>&1 &
	PIDS="$PIDS $!"
	sleep 0.5
}

# stop_pids: stops the daemons in $PIDS (TERM, then KILL after 5 s each).
stop_pids()
{
	for _st_p in $PIDS; do kill "$_st_p" 2>/dev/null; done
	for _st_p in $PIDS; do
		_st_i=0
		while kill -0 "$_st_p" 2>/dev/null && [ $_st_i -lt 50 ]; do
			sleep 0.1
			_st_i=$((_st_i + 1))
		done
		kill -9 "$_st_p" 2>/dev/null
	done
}

# lvm2 leaves /dev/VG/LV to udev's rules, and the lab runs no udevd unless a test starts one (that costs
# minutes under TCG): with this lvm2 makes the nodes itself and waits for no rule. /etc is the lab's own
# overlay; the host's lvm.conf is untouched.
lvm_conf_no_udev()
{
	cat >/etc/lvm/lvm.conf <<'CONF'
activation {
	udev_sync = 0
	udev_rules = 0
}
CONF
}
