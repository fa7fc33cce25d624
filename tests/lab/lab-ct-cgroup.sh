#!/bin/sh
# The container runtime's cgroup v2 limits, in the lab (the host has no cgroup2 controllers): a process
# over memory.max is OOM-killed inside the container only, cpu.max throttles, pids.max stops a fork
# bomb, freeze stops every task and thaw resumes them, the stats read the cgroup's files, and a running
# container's limits change in place.
. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
CTRUN=${PVED_BIN:-$top/build/bin}/pved-ctrun
[ -x "$CTRUN" ] || { skip all "pved-ctrun is not built"; exit 0; }
cg=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n 1)
[ -n "$cg" ] || { skip all "no cgroup2 mount"; exit 0; }

R=/tmp/ct-rootfs
RUN=/tmp/ct-run
mkdir -p $R/bin $R/sbin $R/etc $R/proc $R/sys $R/dev $R/tmp $RUN
cp /bin/busybox $R/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox $R/bin/$a; done
ln -s ../bin/busybox $R/sbin/init

ct() { "$CTRUN" --run-dir $RUN --rootfs $R "$@"; }
cleanup()
{
	for v in 1 2 3 4 5; do ct --vmid 90$v --stop --force >/dev/null 2>&1; done
	lab_done
}
trap cleanup EXIT

# memory: a 32 MiB container, no swap; tail of /dev/zero grows without end
ct --vmid 901 --detach --unprivileged --memory 33554432 --swap 0 -- /bin/sh -c 'sleep 1000' >/dev/null
init=$(awk '/^init/ { print $2 }' $RUN/901.pid)
ct --vmid 901 --exec -- /bin/tail /dev/zero >/dev/null 2>&1
st=$?
ev=$(awk '/^oom_kill / { print $2 }' $cg/lxc.slice/901/memory.events)
if [ $st = 137 ] && [ "${ev:-0}" -ge 1 ] && kill -0 "$init" 2>/dev/null; then
	ok memory-max-oom-inside
else
	fail memory-max-oom-inside "exec status $st, oom_kill ${ev:-none}, init $(kill -0 "$init" 2>&1 && echo alive)"
fi
max=$(ct --vmid 901 --stats | awk '/^mem_max/ { print $2 }')
[ "$max" = 33554432 ] && ok stats-mem-max || fail stats-mem-max "mem_max $max"

# cpu: 20 % of one CPU; a busy loop for 2 s gets about 0.4 s and is throttled
ct --vmid 902 --detach --cpu-quota 20000 -- /bin/sh -c 'sleep 1000' >/dev/null
ct --vmid 902 --exec -- /bin/timeout 2 /bin/sh -c 'while :; do :; done' >/dev/null 2>&1
used=$(awk '/^usage_usec/ { print $2 }' $cg/lxc.slice/902/cpu.stat)
thr=$(awk '/^nr_throttled/ { print $2 }' $cg/lxc.slice/902/cpu.stat)
if [ "$used" -lt 800000 ] && [ "$thr" -gt 0 ]; then
	ok cpu-max-throttles
else
	fail cpu-max-throttles "used $used us in 2 s at 20 %, throttled $thr times"
fi

# pids: 20 at most; 100 sleeps asked for
ct --vmid 903 --detach --unprivileged --pids 20 -- /bin/sh -c 'sleep 1000' >/dev/null
ct --vmid 903 --exec -- /bin/sh -c 'i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; wait' \
	>/dev/null 2>&1 &
sleep 2
cur=$(cat $cg/lxc.slice/903/pids.current)
ev=$(awk '/^max / { print $2 }' $cg/lxc.slice/903/pids.events)
if [ "$cur" -le 20 ] && [ "${ev:-0}" -ge 1 ]; then
	ok pids-max-stops-fork-bomb
else
	fail pids-max-stops-fork-bomb "pids.current $cur, pids.events max ${ev:-none}"
fi
ct --vmid 903 --stop --force >/dev/null 2>&1
wait

# freeze: a ticking init stops ticking, and ticks again after the thaw
ct --vmid 904 --detach -- /bin/sh -c 'while :; do date +%s%N > /tmp/tick; usleep 20000; done' >/dev/null
sleep 0.3
if ct --vmid 904 --freeze; then
	a=$(cat $R/tmp/tick); sleep 0.5; b=$(cat $R/tmp/tick)
	fz=$(awk '/^frozen/ { print $2 }' $cg/lxc.slice/904/cgroup.events)
	[ "$a" = "$b" ] && [ "$fz" = 1 ] && ok freeze || fail freeze "frozen $fz, ticks $a $b"
	ct --vmid 904 --thaw
	# the next tick within 5 s (a loaded lab VM may take a while to schedule it)
	i=0
	c=$(cat $R/tmp/tick)
	while [ "$c" = "$b" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); c=$(cat $R/tmp/tick); done
	[ "$c" != "$b" ] && ok thaw || fail thaw "no tick within 5 s of the thaw"
else
	fail freeze "pved-ctrun --freeze failed"
fi

# a limit changed while it runs (pct set memory or cpuunits on a running container): the container,
# started without a memory limit, gets the controller and the limit
ct --vmid 905 --detach -- /bin/sh -c 'sleep 1000' >/dev/null
if ct --vmid 905 --set memory.max=67108864 && ct --vmid 905 --set cpu.weight=300 &&
	[ "$(cat $cg/lxc.slice/905/memory.max)" = 67108864 ] &&
	[ "$(cat $cg/lxc.slice/905/cpu.weight)" = 300 ]; then
	ok live-limits
else
	fail live-limits "memory.max $(cat $cg/lxc.slice/905/memory.max 2>&1), cpu.weight $(cat $cg/lxc.slice/905/cpu.weight 2>&1)"
fi
if ct --vmid 905 --set ../x=1 2>/dev/null; then fail live-limits-bad-file "accepted"; else ok live-limits-bad-file; fi

# every container stopped leaves no cgroup behind
for v in 1 2 4 5; do ct --vmid 90$v --stop --force >/dev/null 2>&1; done
sleep 0.2
left=$(ls -d $cg/lxc.slice/90? 2>/dev/null)
[ -z "$left" ] && ok no-cgroups-left || fail no-cgroups-left "$left"
