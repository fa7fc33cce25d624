#!/bin/sh
# The lab VM's second stage (PID 1 in the host's root, run by a copy of busybox sh): mounts what a
# system test expects (tmpfs, devpts, cgroup2 with every controller), runs COMMAND with its output on
# hvc0, writes its exit status to the control share and resets the VM.

# This busybox runs its applets before anything on PATH (a "standalone" shell), many without a fork:
# under TCG every exec costs tens of milliseconds, so the names below are busybox's, not the host's.
ctl=/run/lab/ctl

say()
{
	echo "lab-stage2: $*"
}

finish()
{
	echo "$1" >"$ctl/status.tmp" && mv "$ctl/status.tmp" "$ctl/status"
	sync
	# -no-reboot on the QEMU side: a reset ends QEMU; it needs no ACPI, unlike power-off.
	reboot -f
	sleep 10
}

trace=:
case " $(cat /proc/cmdline) " in *" lab.trace "*) trace=step ;; esac
step()
{
	read -r up _ </proc/uptime
	echo "lab-stage2: $up $*"
}
$trace started

mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp || say "mount /tmp failed"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts || say "devpts failed"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm || say "mount /dev/shm failed"
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ln -sf /proc/kcore /dev/core

# cgroup2 alone, with every controller handed down from the root, as on a pure-v2 Debian host.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || say "mount cgroup2 failed"
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || say "enable controller $c failed"
done
$trace mounted

hostname lab
ip link set lo up || say "loopback up failed"

# /dev/kvm only when the host said KVM is usable (then the guest CPU has vmx/svm: nested KVM).
accel=tcg
if [ "$(cat "$ctl/kvm" 2>/dev/null)" = 1 ]; then
	accel=kvm
	if grep -qw vmx /proc/cpuinfo; then
		/sbin/modprobe kvm_intel 2>/dev/null
	elif grep -qw svm /proc/cpuinfo; then
		/sbin/modprobe kvm_amd 2>/dev/null
	fi
else
	rm -f /dev/kvm
	mkdir -p /etc/modprobe.d
	printf 'install kvm /bin/false\ninstall kvm_intel /bin/false\ninstall kvm_amd /bin/false\n' \
		>/etc/modprobe.d/lab-no-kvm.conf
fi

# A working directory that a fresh mount hides (e.g. under /tmp or /run) gets the host's view back,
# with its own overlay so that writes stay inside the VM like everywhere else.
cwd=$(cat "$ctl/cwd")
if [ ! -d "$cwd" ] && [ -d "/run/lab/host$cwd" ]; then
	mkdir -p "$cwd" /run/lab/cwd-upper /run/lab/cwd-work
	mount -t overlay -o "lowerdir=/run/lab/host$cwd,upperdir=/run/lab/cwd-upper,workdir=/run/lab/cwd-work" \
		lab-cwd "$cwd" || say "overlay on $cwd failed"
fi

n=0
while [ ! -c /dev/hvc0 ] && [ $n -lt 100 ]; do
	usleep 20000
	n=$((n + 1))
done
[ -c /dev/hvc0 ] || { say "no /dev/hvc0"; finish 125; }
# Raw: no \n -> \r\n translation, no echo; COMMAND's bytes reach the host unchanged. The tty
# forgets its settings when its last file is closed, so this shell keeps it open meanwhile.
exec 3<>/dev/hvc0
stty raw -echo <&3

$trace running command
cd /
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	LANG=C.UTF-8 TERM=dumb LAB=1 LAB_ACCEL=$accel LAB_RESULTS=/run/lab/results \
	/bin/sh "$ctl/cmd" </dev/null >&3 2>&3 3>&-
finish $?
