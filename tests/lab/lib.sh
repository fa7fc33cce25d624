# Helpers for lab-tier tests (sourced, POSIX sh): ok/fail/skip print one result line each and count,
# and the counts go to $LAB_RESULTS/counts as "PASSED FAILED SKIPPED" when the test exits.
#
#	. "$(dirname "$0")/../lab/lib.sh"
#	check vlan-create ip link add link d0 name d0.10 type vlan id 10
#	[ -e /dev/kvm ] && ok kvm-present || fail kvm-present "no /dev/kvm"
#
# A test that sets its own EXIT trap calls lab_done from it (see below). A test exits 1 when
# something failed, else 0 (or its own status when above 1).

LAB_PASSED=0
LAB_FAILED=0
LAB_SKIPPED=0

ok()
{
	echo "ok $1"
	LAB_PASSED=$((LAB_PASSED + 1))
}

# fail NAME WHY...
fail()
{
	_lab_name=$1
	shift
	echo "FAIL $_lab_name: $*"
	LAB_FAILED=$((LAB_FAILED + 1))
}

# skip NAME WHY...
skip()
{
	_lab_name=$1
	shift
	echo "skip $_lab_name: $*"
	LAB_SKIPPED=$((LAB_SKIPPED + 1))
}

# check NAME COMMAND...: ok when COMMAND succeeds, else FAIL with the last line of its output.
check()
{
	_lab_name=$1
	shift
	if _lab_out=$("$@" 2>&1); then
		ok "$_lab_name"
	else
		fail "$_lab_name" "'$*' exited $?: $(printf '%s\n' "$_lab_out" | tail -n 1)"
	fi
}

lab_write_counts()
{
	[ -n "${LAB_RESULTS:-}" ] || return 0
	echo "$LAB_PASSED $LAB_FAILED $LAB_SKIPPED" >"$LAB_RESULTS/counts.tmp" &&
		mv -f "$LAB_RESULTS/counts.tmp" "$LAB_RESULTS/counts"
}

# lab_done [STATUS]: writes the counts and exits: 1 if something failed, else STATUS (default 0).
lab_done()
{
	trap - EXIT
	lab_write_counts
	[ "$LAB_FAILED" = 0 ] || exit 1
	exit "${1:-0}"
}

# lab_pved_start BIN ROOT LOG: a node "lab" on the temporary root ROOT (listening on 127.0.0.1:8006,
# pvectl --root ROOT reaches it over its local socket), in the background, its output in LOG and its PID
# in LAB_PVED_PID (the caller stops it); waits up to 240 s for its socket (a start under TCG is slow),
# false without one.
lab_pved_start()
{
	"$1/pved" --root "$2" --listen 127.0.0.1:8006 --node lab --foreground >"$3" 2>&1 &
	LAB_PVED_PID=$!
	_lab_i=0
	while [ ! -S "$2/run/pved.sock" ] && [ $_lab_i -lt 2400 ]; do
		sleep 0.1
		_lab_i=$((_lab_i + 1))
	done
	[ -S "$2/run/pved.sock" ]
}

# At exit: a status above 1 (exit 2, a signal, a set -e stop on such a status) is kept, and the
# runner reports it as a failure; status 1 is usually a last "[ ... ] && ok" that was false, so
# the counts alone decide then.
trap '_lab_rc=$?; [ $_lab_rc -gt 1 ] || _lab_rc=0; lab_done $_lab_rc' EXIT
