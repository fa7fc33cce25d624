#!/bin/bash
# Integration test of pvectl against a real node with a temporary root: the local socket, HTTPS with a
# password and a pinned fingerprint, output formats, errors, tasks, and what comes from the route table
# alone (usage, completion, man page, apidoc). Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why".
set -u

BIN=${PVED_BIN:-$(dirname "$0")/../../build/bin}
PVECTL=$BIN/pvectl
PY=/usr/bin/python3

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "skip $1: $2"; }

if [[ ! -x $PVECTL ]]; then
	skip pvectl "no $PVECTL"
	exit 0
fi

out=$(mktemp -d)
root=
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[[ -n $root ]] && rm -rf "$root"
	rm -rf "$out"
}
trap cleanup EXIT

# runs pvectl, keeping stdout, stderr and the exit status
run() {
	"$PVECTL" "$@" >"$out/stdout" 2>"$out/stderr"
	rc=$?
}
why() { echo "exit $rc; stderr: $(head -c 300 "$out/stderr" | tr '\n' ' ')"; }

# ---- what needs no node ----------------------------------------------------------------------------------

run usage /access/ticket --verbose --command create
if [[ $rc -eq 0 ]] && grep -q -- '--username <string>' "$out/stdout" && grep -q '^USAGE: pvectl create /access/ticket' "$out/stdout" &&
	grep -q -- '--password' "$out/stdout"; then
	ok usage-verbose
else
	fail usage-verbose "$(why)"
fi

run usage /nodes/testnode/status
if [[ $rc -eq 0 ]] && grep -q '^USAGE: pvectl get /nodes/testnode/status' "$out/stdout"; then
	ok usage-placeholder-path
else
	fail usage-placeholder-path "$(why)"
fi

run get /no/such/path
if [[ $rc -eq 2 ]] && grep -q "no API path '/no/such/path'" "$out/stderr"; then
	ok unknown-path
else
	fail unknown-path "$(why)"
fi

run create /version
if [[ $rc -eq 2 ]] && grep -q "no POST method on '/version'" "$out/stderr"; then
	ok unknown-method
else
	fail unknown-method "$(why)"
fi

run get /version --bogus 1
if [[ $rc -eq 2 ]] && grep -q "unknown parameter 'bogus'" "$out/stderr"; then
	ok unknown-param
else
	fail unknown-param "$(why)"
fi

run get /nodes/testnode/status --node other
if [[ $rc -eq 2 ]] && grep -q "'node' is given by the path" "$out/stderr"; then
	ok path-param-twice
else
	fail path-param-twice "$(why)"
fi

run get /version --output-format xml
if [[ $rc -eq 2 ]]; then ok bad-output-format; else fail bad-output-format "$(why)"; fi

run apidoc
if [[ $rc -eq 0 ]] && $PY -c '
import json, sys
doc = json.load(open(sys.argv[1]))
assert isinstance(doc, list) and doc
def walk(n):
    assert {"path", "text", "leaf", "info"} <= set(n), n.keys()
    assert n["leaf"] == (0 if n.get("children") else 1)
    for c in n.get("children", []):
        assert c["path"].startswith(n["path"] + "/")
        walk(c)
for n in doc:
    walk(n)
paths = {}
def collect(n):
    paths[n["path"]] = n
    for c in n.get("children", []):
        collect(c)
for n in doc:
    collect(n)
assert "GET" in paths["/version"]["info"]
assert "POST" in paths["/access/ticket"]["info"]
assert "/nodes/{node}/status" in paths
' "$out/stdout" 2>"$out/py"; then
	ok apidoc-json-tree
else
	fail apidoc-json-tree "$(why) $(tail -1 "$out/py")"
fi

run man
if [[ $rc -eq 0 && -s $out/stdout ]] && grep -q '^\.TH PVECTL 1' "$out/stdout" &&
	grep -q '^\.SS "GET /nodes/{node}/status"' "$out/stdout" &&
	groff -man -ww -z "$out/stdout" 2>"$out/groff" && [[ ! -s $out/groff ]]; then
	ok man-page
else
	fail man-page "$(why) $(head -c 200 "$out/groff" 2>/dev/null)"
fi

run man pved
if [[ $rc -eq 0 ]] && grep -q '^\.TH PVED 8' "$out/stdout"; then ok man-pved; else fail man-pved "$(why)"; fi

# bashcomplete CWORD WORDS...: one candidate a line
complete_is() { # name expected-lines... -- words
	local name=$1
	shift
	local expect=()
	while [[ $1 != -- ]]; do
		expect+=("$1")
		shift
	done
	shift
	local got
	got=$("$PVECTL" bashcomplete "$@" 2>&1)
	local want
	want=$(printf '%s\n' "${expect[@]}")
	if [[ $got == "$want" ]]; then
		ok "$name"
	else
		fail "$name" "got [$(echo $got)], want [$(echo $want)]"
	fi
}
complete_is complete-verb get -- 1 pvectl ge
complete_is complete-path-top /nodes/ -- 2 pvectl get /no
complete_is complete-path-deep /nodes/n1/tasks/ -- 2 pvectl ls /nodes/n1/ta
complete_is complete-param --username -- 3 pvectl create /access/ticket --usern
complete_is complete-enum archive active all -- 4 pvectl get /nodes/n1/tasks --source ""
complete_is complete-output-format json json-pretty -- 4 pvectl get /version --output-format j

# the script itself, in a real bash: it must call back into pvectl and fill COMPREPLY
run completion-script
if [[ $rc -eq 0 ]] && got=$(bash -c '
	source "$1"
	COMP_WORDS=("$2" create /access/ticket --pass)
	COMP_CWORD=3
	_pvectl 2>/dev/null
	printf "%s\n" "${COMPREPLY[@]}"' _ "$out/stdout" "$PVECTL") && [[ $got == --password* ]]; then
	ok completion-script
else
	fail completion-script "$(why) got [$got]"
fi

run get /version
if [[ $rc -eq 1 ]] && grep -q 'cannot connect' "$out/stderr"; then
	ok no-node-clear-error
else
	fail no-node-clear-error "$(why)"
fi

# ---- a node ------------------------------------------------------------------------------------------

node_cases="local-get-version-json ls-root ls-node output-text output-json output-json-pretty api-error-status
	task-wait task-async remote-password-fingerprint remote-ls remote-task remote-no-fingerprint
	remote-wrong-fingerprint remote-wrong-password remote-password-prompt complete-node-name"
skip_node_cases() {
	for c in $node_cases; do skip "$c" "$1"; done
}

if [[ ! -x $BIN/pved ]]; then
	skip_node_cases "no $BIN/pved"
	exit 0
fi
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
root=$(mktemp -d)
"$BIN/pved" --root "$root" --listen "127.0.0.1:$port" --node testnode --foreground >"$out/pved.log" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 150); do
	if [[ -S $root/run/pved.sock ]] && curl -ks -o /dev/null "https://127.0.0.1:$port/api2/json/version"; then
		up=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
if [[ $up != 1 ]]; then
	fail pved-start "pved did not come up in 30 s: $(tail -3 "$out/pved.log" | tr '\n' ' ')"
	skip_node_cases "no node"
	exit 0
fi
L=(--root "$root")

run "${L[@]}" get /version --output-format json
if [[ $rc -eq 0 ]] && $PY -c 'import json,sys; d = json.load(open(sys.argv[1])); assert "version" in d and "release" in d' "$out/stdout" 2>/dev/null; then
	ok local-get-version-json
else
	fail local-get-version-json "$(why) stdout: $(head -c 200 "$out/stdout")"
fi

run "${L[@]}" ls /
if [[ $rc -eq 0 ]] && grep -Eq '^Dr[-w][-c][-d] +nodes$' "$out/stdout" && grep -Eq '^-r--- +version$' "$out/stdout"; then
	ok ls-root
else
	fail ls-root "$(why) stdout: $(head -c 300 "$out/stdout" | tr '\n' ' ')"
fi

run "${L[@]}" ls /nodes/testnode
if [[ $rc -eq 0 ]] && grep -Eq '^-r--- +status$' "$out/stdout" && grep -Eq '^D.... +tasks$' "$out/stdout"; then
	ok ls-node
else
	fail ls-node "$(why) stdout: $(head -c 300 "$out/stdout" | tr '\n' ' ')"
fi

run "${L[@]}" get /version
if [[ $rc -eq 0 ]] && grep -Eq '^(│|\|) key +(│|\|) value +(│|\|)$' "$out/stdout" && grep -Eq '(│|\|) version +(│|\|)' "$out/stdout" &&
	grep -Eq '^(└|\+)' "$out/stdout"; then
	ok output-text
else
	fail output-text "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

run "${L[@]}" get /nodes --output-format json
if [[ $rc -eq 0 ]] && $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert any(n["node"] == "testnode" for n in d)' "$out/stdout" 2>/dev/null && [[ $(wc -l <"$out/stdout") -eq 1 ]]; then
	ok output-json
else
	fail output-json "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

run "${L[@]}" get /nodes/testnode/status --output-format json-pretty
if [[ $rc -eq 0 ]] && $PY -c 'import json,sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict)' "$out/stdout" 2>/dev/null &&
	[[ $(wc -l <"$out/stdout") -gt 3 ]]; then
	ok output-json-pretty
else
	fail output-json-pretty "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

# an error from pved: a node that is not there, or a bad value; "<status> <message>" and exit 1
run "${L[@]}" get /cluster/nextid --vmid notanumber
if [[ $rc -eq 1 ]] && grep -Eq '^[45][0-9][0-9] ' "$out/stderr" && grep -q '^vmid: ' "$out/stderr"; then
	ok api-error-status
else
	fail api-error-status "$(why)"
fi

# a task: startall on a node without guests runs and ends OK
run "${L[@]}" create /nodes/testnode/startall
if [[ $rc -eq 0 ]] && grep -q 'TASK OK' "$out/stdout"; then
	ok task-wait
else
	fail task-wait "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

run "${L[@]}" create /nodes/testnode/stopall --async
if [[ $rc -eq 0 ]] && grep -Eq '^UPID:testnode:[0-9A-F]{8}:' "$out/stdout"; then
	ok task-async
else
	fail task-async "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

pem=$root/etc/pve/nodes/testnode/pve-ssl.pem
pwfile=$root/etc/pve/priv/initial-admin-password
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$pem" 2>/dev/null | cut -d= -f2)
R=(--url "https://127.0.0.1:$port" --user admin@pve --password-file "$pwfile")

run "${R[@]}" --fingerprint "$fp" get /version --output-format json
if [[ -n $fp ]] && [[ $rc -eq 0 ]] && $PY -c 'import json,sys; assert "version" in json.load(open(sys.argv[1]))' "$out/stdout" 2>/dev/null; then
	ok remote-password-fingerprint
else
	fail remote-password-fingerprint "fp=$fp $(why)"
fi

run "${R[@]}" --fingerprint "$fp" ls /nodes
if [[ $rc -eq 0 ]] && grep -Eq '^Dr--- +testnode$' "$out/stdout"; then
	ok remote-ls
else
	fail remote-ls "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

# a POST through the front: needs the CSRF token, then follows the task over HTTPS
run "${R[@]}" --fingerprint "$fp" create /nodes/testnode/startall
if [[ $rc -eq 0 ]] && grep -q 'TASK OK' "$out/stdout"; then
	ok remote-task
else
	fail remote-task "$(why) stdout: $(head -c 300 "$out/stdout")"
fi

run "${R[@]}" get /version
if [[ $rc -eq 1 ]] && grep -q -- '--fingerprint' "$out/stderr" && grep -q "$fp" "$out/stderr"; then
	ok remote-no-fingerprint
else
	fail remote-no-fingerprint "$(why)"
fi

run "${R[@]}" --fingerprint "$(echo "$fp" | tr '0-9A-F' 'A-F0-9A-F')" get /version
if [[ $rc -eq 1 ]] && grep -q 'fingerprint mismatch' "$out/stderr"; then
	ok remote-wrong-fingerprint
else
	fail remote-wrong-fingerprint "$(why)"
fi

echo wrong-password >"$out/wrongpw"
run --url "https://127.0.0.1:$port" --user admin@pve --password-file "$out/wrongpw" --fingerprint "$fp" get /version
if [[ $rc -eq 1 ]] && grep -q 'login as admin@pve' "$out/stderr" && grep -q '401' "$out/stderr"; then
	ok remote-wrong-password
else
	fail remote-wrong-password "$(why)"
fi

# no --password-file: pvectl asks on the terminal, without echo
if command -v script >/dev/null; then
	got=$( (sleep 2; cat "$pwfile") | timeout 20 script -qec "$PVECTL --url https://127.0.0.1:$port --user admin@pve --fingerprint $fp get /version --output-format json" /dev/null 2>&1)
	pw=$(cat "$pwfile")
	if [[ $got == *"Password for admin@pve:"* && $got == *'"version"'* && $got != *"$pw"* ]]; then
		ok remote-password-prompt
	else
		fail remote-password-prompt "got: $(echo "$got" | head -c 300)"
	fi
else
	skip remote-password-prompt "no script(1)"
fi

# on a terminal, waiting for a task shows progress on stderr and wipes it before each log line
if command -v script >/dev/null; then
	got=$(timeout 30 script -qec "$PVECTL --root $root create /nodes/testnode/startall" /dev/null 2>&1)
	if [[ $got == *$'\r\033[K'* && $got == *"TASK OK"* ]]; then
		ok task-progress-on-tty
	else
		fail task-progress-on-tty "got: $(echo "$got" | cat -A | head -c 300)"
	fi
else
	skip task-progress-on-tty "no script(1)"
fi

complete_is complete-node-name /nodes/testnode/ -- 4 pvectl --root "$root" get /nodes/t
