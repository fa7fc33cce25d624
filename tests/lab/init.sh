#!/bin/sh
# The lab VM's first stage (/init of the initramfs, run by busybox sh): mounts the host root over 9p
# read-only with a tmpfs overlay on top, the control and results shares, and switches root into it.
# Everything it prints goes to ttyS0 (the kernel console), which the host keeps out of COMMAND's output.

PATH=/bin
export PATH

die()
{
	echo "lab-init: $*"
	# panic=-1 on the command line: PID 1 exiting panics the kernel, which resets, and QEMU
	# (-no-reboot) exits; the host then reports that no exit status came back.
	exit 1
}

mount -t proc -o nosuid,nodev,noexec proc /proc || die "mount /proc"
# --debug on the host adds lab.trace: each step then prints the uptime it finished at.
trace=:
case " $(cat /proc/cmdline) " in *" lab.trace "*) trace=step ;; esac
step()
{
	{ read -r up _ </proc/uptime || read -r up _ </newroot/proc/uptime; } 2>/dev/null
	echo "lab-init: $up $*"
}
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || die "mount /sys"
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || die "mount /dev"

# Only what mounting the root needs is loaded here (in modprobe --show-depends order); every other
# module loads on demand inside, from the host's /lib/modules seen through the 9p root.
while read -r m; do
	insmod "/lib/modules/$m.ko" || die "insmod $m"
done </lib/modules/order
$trace modules loaded

# One tmpfs holds the overlay's upper layer, the host root mount and the shares; it moves to
# /run/lab in the new root so that the host's view stays reachable (e.g. for a cwd under /tmp).
mount -t tmpfs -o mode=0755 lab /lab || die "mount /lab"
mkdir -p /lab/host /lab/upper /lab/work /lab/ctl /lab/results
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$o,ro,cache=loose" host /lab/host || die "mount host root over 9p"
mount -t 9p -o "$o,cache=none" ctl /lab/ctl || die "mount ctl share"
mount -t 9p -o "$o,cache=none" results /lab/results || die "mount results share"
mount -t overlay -o lowerdir=/lab/host,upperdir=/lab/upper,workdir=/lab/work lab-root /newroot ||
	die "mount overlay root"
$trace root mounted

mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /newroot/run || die "mount /run"
mkdir -p /newroot/run/lab || die "mkdir /run/lab"
mount -o move /lab /newroot/run/lab || die "move /lab"
cp /bin/busybox /stage2 /newroot/run/lab/ || die "copy stage 2"
for d in dev proc sys; do
	mount -o move "/$d" "/newroot/$d" || die "move /$d"
done
$trace switching root
exec switch_root /newroot /run/lab/busybox sh /run/lab/stage2
die "switch_root failed"
