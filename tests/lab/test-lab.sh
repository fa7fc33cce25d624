#!/bin/bash
# Host-side tests of tests/lab/run: exit status, output and cwd pass through, the results share is
# kept, a crashed, timed-out or SIGTERMed lab leaves no QEMU and no temp dir, two labs run at once.
# Prints ok/FAIL/skip lines and a last line "test-lab: PASSED FAILED SKIPPED"; exits 1 on a failure.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run=$here/run
passed=0
failed=0
skipped=0

ok()
{
	echo "ok $1"
	passed=$((passed + 1))
}

fail()
{
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

skip()
{
	echo "skip $1: $2"
	skipped=$((skipped + 1))
}

finish()
{
	echo "test-lab: $passed $failed $skipped"
	[ $failed = 0 ]
	exit $?
}

W=$(mktemp -d /tmp/test-lab.XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT

if ! why=$("$run" --check 2>&1 >/dev/null); then
	skip lab "${why#lab: }"
	finish
fi

# No QEMU whose command line names DIR (each lab's temp dir is under its own TMPDIR) and no entry
# left in DIR.
left_behind()
{
	local dir=$1 what=
	pgrep -f -- "-fsdev local,id=fsctl,path=$dir/" >/dev/null && what="a QEMU process"
	[ -n "$(ls -A "$dir")" ] && what="${what:+$what and }$(ls -A "$dir" | head -n 3 | tr '\n' ' ')"
	echo "$what"
}

# One VM: exit status, stdout and stderr, a relative COMMAND from the cwd (under /tmp, which the lab
# covers with a fresh tmpfs), --env, and a file written to a kept results share.
mkdir -p "$W/cwd dir" "$W/res" "$W/t1"
printf '#!/bin/sh\necho "out:$(cat marker)"\necho err >&2\npwd\necho "env:$LAB_T"\n' \
	>"$W/cwd dir/script.sh"
printf '%s\n' "host-marker" >"$W/cwd dir/marker"
echo "echo saved >\"\$LAB_RESULTS/file\"; exit 3" >>"$W/cwd dir/script.sh"
chmod +x "$W/cwd dir/script.sh"
out=$(cd "$W/cwd dir" && TMPDIR=$W/t1 "$run" --timeout 120 --results "$W/res" --env LAB_T=x1 \
	-- ./script.sh 2>"$W/t1.err")
rc=$?
[ $rc = 3 ] && ok exit-status || fail exit-status "expected 3, got $rc ($(tail -n 3 "$W/t1.err"))"
grep -qx 'out:host-marker' <<<"$out" && ok output || fail output "no 'out:host-marker' in: $out"
grep -qx 'err' <<<"$out" && ok stderr || fail stderr "no 'err' line in: $out"
grep -qx "$W/cwd dir" <<<"$out" && ok cwd-mapped || fail cwd-mapped "pwd inside was not $W/cwd dir: $out"
grep -qx 'env:x1' <<<"$out" && ok env || fail env "no 'env:x1' in: $out"
[ "$(cat "$W/res/file" 2>/dev/null)" = saved ] && ok results-kept || fail results-kept "no $W/res/file"
[ -z "$(left_behind "$W/t1")" ] && ok cleanup-normal || fail cleanup-normal "left $(left_behind "$W/t1")"

# A lab that runs over --timeout is killed: 125, and nothing left behind.
mkdir "$W/t2"
start=$SECONDS
TMPDIR=$W/t2 "$run" --timeout 2 -- sleep 100 >/dev/null 2>"$W/t2.err"
rc=$?
took=$((SECONDS - start))
if [ $rc = 125 ] && [ $took -lt 30 ] && grep -q 'timed out' "$W/t2.err"; then
	ok timeout-kills
else
	fail timeout-kills "exit $rc after $took s: $(cat "$W/t2.err")"
fi
left=$(left_behind "$W/t2")
[ -z "$left" ] && ok timeout-cleanup || fail timeout-cleanup "left $left"

# A VM that dies without an exit status (a kernel crash) gives 125 and a message.
mkdir "$W/t3"
TMPDIR=$W/t3 "$run" --timeout 120 -- sh -c 'echo c >/proc/sysrq-trigger; sleep 100' >/dev/null \
	2>"$W/t3.err"
rc=$?
if [ $rc = 125 ] && grep -q 'without an exit status' "$W/t3.err"; then
	ok crash-125
else
	fail crash-125 "exit $rc: $(head -n 2 "$W/t3.err")"
fi
left=$(left_behind "$W/t3")
[ -z "$left" ] && ok crash-cleanup || fail crash-cleanup "left $left"

# SIGTERM to run stops the VM and cleans up.
mkdir "$W/t4"
TMPDIR=$W/t4 "$run" --timeout 120 -- sh -c 'echo started; sleep 100' >"$W/t4.out" 2>"$W/t4.err" &
pid=$!
for _ in $(seq 1 300); do
	grep -q started "$W/t4.out" && break
	sleep 0.1
done
if grep -q started "$W/t4.out"; then
	kill -TERM $pid
	wait $pid
	rc=$?
	left=$(left_behind "$W/t4")
	if [ $rc = 143 ] && [ -z "$left" ]; then
		ok sigterm-cleanup
	else
		fail sigterm-cleanup "exit $rc, left: ${left:-nothing}"
	fi
else
	kill -TERM $pid
	wait $pid
	fail sigterm-cleanup "the command never started: $(cat "$W/t4.err")"
fi

# Two labs at once, both building the image into an empty cache (one builds, one waits for it).
mkdir "$W/t5"
LAB_CACHE=$W/cache TMPDIR=$W/t5 "$run" --timeout 120 -- sh -c 'echo one; exit 5' >"$W/t5.a" 2>&1 &
a=$!
LAB_CACHE=$W/cache TMPDIR=$W/t5 "$run" --timeout 120 -- sh -c 'echo two; exit 6' >"$W/t5.b" 2>&1 &
b=$!
wait $a
ra=$?
wait $b
rb=$?
if [ $ra = 5 ] && [ $rb = 6 ] && [ "$(cat "$W/t5.a")" = one ] && [ "$(cat "$W/t5.b")" = two ]; then
	ok two-at-once
else
	fail two-at-once "exits $ra/$rb, outputs '$(cat "$W/t5.a")' '$(cat "$W/t5.b")'"
fi
left=$(left_behind "$W/t5")
[ -z "$left" ] && ok two-at-once-cleanup || fail two-at-once-cleanup "left $left"

finish
