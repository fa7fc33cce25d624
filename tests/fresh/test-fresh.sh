#!/bin/bash
# The fresh-machine tier: on a pristine Debian 12 (debootstrap minbase, plus make: what README asks a
# newcomer to have) with a copy of the checkout and nothing else, a newcomer's `make run` installs,
# builds and starts a node on a root that does not exist yet, admin@pve logs in with the printed
# password, `make` then builds with exit 0, and `make deb` makes the package lintian passes. The package
# is then installed with apt into a second pristine Debian 12 (bookworm-backports added, for QEMU 10, as
# README says), where the installed pved starts and admin@pve logs in: its Depends are enough.
# The minbase tree is cached as a tarball (PVED_FRESH_CACHE, /var/cache/pved-fresh) for a week; the
# packages `make run` installs are not: installing them is what this proves.
# timeout: 1800
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${PVED_FRESH_CACHE:-/var/cache/pved-fresh}
suite=bookworm
tarball=$cache/$suite-minbase-make.tar
t0=$(date +%s)

say() { echo "fresh: $* ($(($(date +%s) - t0)) s)" >&2; }

if [ "$(id -u)" != 0 ]; then
	echo "skip fresh: needs root (debootstrap, chroot, mount namespace)"
	exit 0
fi
for tool in debootstrap unshare chroot curl; do
	if ! command -v $tool >/dev/null; then
		echo "skip fresh: no $tool (tools/setup-deps --test installs it)"
		exit 0
	fi
done

# The mirror apt uses on this machine: the first Debian URI of the deb822 or one-line sources.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -v -- '-security' | head -n 1)
if [ -z "$mirror" ]; then
	mirror=$(awk '$1 == "deb" && $3 == "'$suite'" { print $2; exit }' /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.list 2>/dev/null)
fi
mirror=${mirror:-http://deb.debian.org/debian}
if ! curl -fsS -o /dev/null --max-time 15 "$mirror/dists/$suite/Release" 2>/dev/null; then
	echo "skip fresh: the Debian archive $mirror cannot be reached"
	exit 0
fi

work=""
runner=""
cleanup() {
	# Each node (and make run) runs in its own process group, led by the PID in node.pid, node2.pid.
	for pidfile in "$work/node.pid" "$work/node2.pid"; do
		if [ -n "$work" ] && [ -s "$pidfile" ]; then
			kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null
		fi
	done
	if [ -n "$runner" ]; then
		for _ in $(seq 50); do
			kill -0 "$runner" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$runner" 2>/dev/null
		wait "$runner" 2>/dev/null
	fi
	# Every mount was made in the runner's private mount namespace, gone with it; check anyway
	# before removing the tree, so a leftover mount is never emptied.
	if [ -n "$work" ]; then
		if grep -q " $work/" /proc/self/mounts; then
			grep " $work/" /proc/self/mounts | awk '{ print $2 }' | sort -r | xargs -r -n1 umount -l
		fi
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The cached minbase tree, rebuilt when a week old; a lock keeps two runs from building it at once.
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ -z "$(find "$tarball" -mtime -7 2>/dev/null)" ]; then
	say "debootstrap --variant=minbase $suite from $mirror"
	boot=$(mktemp -d "$cache/boot-XXXXXX")
	if ! debootstrap --variant=minbase --include=make "$suite" "$boot" "$mirror" \
		>"$cache/debootstrap.log" 2>&1; then
		tail -n 20 "$cache/debootstrap.log" | sed 's/^/  | /'
		rm -rf --one-file-system "$boot"
		echo "FAIL fresh-debootstrap: debootstrap failed (log in $cache/debootstrap.log)"
		exit 1
	fi
	tar -C "$boot" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf --one-file-system "$boot"
	say "cached $tarball"
fi
flock -u 9
exec 9>&-

# The machine's network comes with the fresh tree: its resolver, and the certificate authorities it
# added for its own network (an egress proxy's, in /usr/local/share/ca-certificates), which
# ca-certificates' install puts in the bundle; npm (the web interface's build) is told to use that
# bundle, as the host's is.
trust_machine_cas() {
	if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
		mkdir -p "$1/usr/local/share/ca-certificates"
		cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
	fi
}

work=$(mktemp -d /var/tmp/pved-fresh-XXXXXX)
root=$work/root
mkdir "$root"
tar -C "$root" -xf "$tarball"
cp /etc/resolv.conf "$root/etc/resolv.conf"
trust_machine_cas "$root"
# The checkout as a clone has it: tracked (and new, not ignored) files, no build/.
mkdir -p "$root/root/pved"
(cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -C "$root/root/pved" -xf -
say "tree ready"

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Runs inside a private mount namespace: /proc, /dev, /sys for the chroot, then the newcomer's
# commands. `make run` leads its own process group so the test can stop it and all it started.
cat >"$work/inner.sh" <<'EOF'
set -u
root=$1 work=$2 port=$3
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
newcomer() {
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		PVED_ROOT=/tmp/n1 PVED_LISTEN=127.0.0.1:$port /bin/sh -c "cd /root/pved && $1"
}
(exec setsid sh -c "echo \$\$ >$work/node.pid.tmp && mv $work/node.pid.tmp $work/node.pid &&
	exec chroot $root /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
	NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	PVED_ROOT=/tmp/n1 PVED_LISTEN=127.0.0.1:$port /bin/sh -c 'cd /root/pved && exec make run'" \
	>"$work/run.log" 2>&1 </dev/null) &
wait $!
echo "make run exited $?" >>"$work/run.log"
# The test says when the node is done with (or gives up); then the plain build.
while [ ! -e "$work/node.done" ]; do sleep 0.2; done
newcomer make >"$work/make.log" 2>&1 </dev/null
echo $? >"$work/make.rc"
newcomer "make deb" >"$work/deb.log" 2>&1 </dev/null
echo $? >"$work/deb.rc"
umount -R "$root/sys" "$root/dev" "$root/proc"
EOF
setsid unshare -m --propagation private /bin/bash "$work/inner.sh" "$root" "$work" "$port" \
	>"$work/inner.log" 2>&1 </dev/null &
runner=$!

# The node is up when it has printed admin@pve's password and answers on its port.
password=""
for _ in $(seq 1500); do
	password=$(sed -n 's/^pved: created admin@pve with password \([^ ]*\) .*/\1/p' "$work/run.log" 2>/dev/null)
	[ -n "$password" ] && curl -ksf -o /dev/null --max-time 2 "https://127.0.0.1:$port/" && break
	grep -q '^make run exited' "$work/run.log" 2>/dev/null && break
	kill -0 "$runner" 2>/dev/null || break
	sleep 0.4
done
if [ -n "$password" ]; then say "node up"; else say "no node"; fi
if [ -n "$password" ] && grep -q "created the root directory /tmp/n1" "$work/run.log"; then
	echo "ok fresh-make-run-root: make run created the missing root /tmp/n1"
else
	echo "FAIL fresh-make-run-root: no \"created the root directory\" line from make run"
fi
answer=$(curl -ks --max-time 10 -d username=admin@pve --data-urlencode "password=$password" \
	"https://127.0.0.1:$port/api2/json/access/ticket" 2>&1)
if [ -n "$password" ] && echo "$answer" | grep -q '"ticket":"PVE:admin@pve:'; then
	echo "ok fresh-make-run: make run on a fresh Debian 12 installed, built and started a node; admin@pve logged in"
else
	echo "FAIL fresh-make-run: no login as admin@pve (answer: ${answer:0:200})"
	tail -n 30 "$work/run.log" | sed 's/^/  | /'
fi

kill -TERM -- "-$(cat "$work/node.pid" 2>/dev/null)" 2>/dev/null
touch "$work/node.done"
wait "$runner"
runner=""
rc=$(cat "$work/make.rc" 2>/dev/null)
if [ "$rc" = 0 ]; then
	echo "ok fresh-make: make exits 0 on the fresh machine"
else
	echo "FAIL fresh-make: make exited ${rc:-nothing}"
	tail -n 30 "$work/make.log" | sed 's/^/  | /'
fi
say "make deb done"
deb=$(ls "$root"/root/pved/build/deb/pved_*_amd64.deb 2>/dev/null | head -n 1)
rc=$(cat "$work/deb.rc" 2>/dev/null)
if [ "$rc" = 0 ] && [ -n "$deb" ]; then
	echo "ok fresh-make-deb: make deb built $(basename "$deb") on the fresh machine; lintian reports no error"
else
	echo "FAIL fresh-make-deb: make deb exited ${rc:-nothing}"
	tail -n 30 "$work/deb.log" | sed 's/^/  | /'
	exit 0
fi

# The package on a second pristine machine: apt installs it with what its Depends name, nothing else.
root2=$work/root2
mkdir "$root2"
tar -C "$root2" -xf "$tarball"
cp /etc/resolv.conf "$root2/etc/resolv.conf"
cp "$deb" "$root2/root/"
printf 'deb %s bookworm-backports main\n' "$mirror" >"$root2/etc/apt/sources.list.d/backports.list"
port2=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/inner2.sh" <<'EOF'
set -u
root=$1 work=$2 port=$3 deb=$4
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t tmpfs tmpfs "$root/run"
admin() {
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "$1"
}
# (no init system in a chroot: policy-rc.d tells the maintainer scripts not to start the unit)
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
admin "apt-get update -q && apt-get install -y -q -t bookworm-backports ./root/$deb" \
	>"$work/install.log" 2>&1
echo $? >"$work/install.rc"
if [ "$(cat "$work/install.rc")" = 0 ]; then
	# what pved.service runs, on a port of the test's
	(exec setsid sh -c "echo \$\$ >$work/node2.pid.tmp && mv $work/node2.pid.tmp $work/node2.pid &&
		exec chroot $root /usr/bin/pved --foreground --listen 127.0.0.1:$port" \
		>"$work/node2.log" 2>&1 </dev/null) &
	wait $!
fi
while [ ! -e "$work/node2.done" ]; do sleep 0.2; done
umount -R "$root/run" "$root/sys" "$root/dev" "$root/proc"
EOF
setsid unshare -m --propagation private /bin/bash "$work/inner2.sh" "$root2" "$work" "$port2" \
	"$(basename "$deb")" >"$work/inner2.log" 2>&1 </dev/null &
runner=$!
password=""
for _ in $(seq 1500); do
	[ -s "$work/install.rc" ] && [ "$(cat "$work/install.rc")" != 0 ] && break
	password=$(sed -n 's/^pved: created admin@pve with password \([^ ]*\) .*/\1/p' "$work/node2.log" 2>/dev/null)
	[ -n "$password" ] && curl -ksf -o /dev/null --max-time 2 "https://127.0.0.1:$port2/" && break
	kill -0 "$runner" 2>/dev/null || break
	sleep 0.4
done
answer=$(curl -ks --max-time 10 -d username=admin@pve --data-urlencode "password=$password" \
	"https://127.0.0.1:$port2/api2/json/access/ticket" 2>&1)
if [ "$(cat "$work/install.rc" 2>/dev/null)" != 0 ]; then
	echo "FAIL fresh-deb-install: apt-get install of the package failed"
	tail -n 30 "$work/install.log" | sed 's/^/  | /'
elif [ -n "$password" ] && echo "$answer" | grep -q '"ticket":"PVE:admin@pve:'; then
	echo "ok fresh-deb-install: apt installed the package on a pristine Debian 12; its pved started and admin@pve logged in"
else
	echo "FAIL fresh-deb-install: the installed pved did not answer a login (answer: ${answer:0:200})"
	tail -n 30 "$work/node2.log" | sed 's/^/  | /'
fi
if [ -s "$work/node2.pid" ]; then kill -TERM -- "-$(cat "$work/node2.pid")" 2>/dev/null; fi
touch "$work/node2.done"
wait "$runner"
runner=""
say "done"
