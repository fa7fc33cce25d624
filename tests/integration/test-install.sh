#!/bin/bash
# make install into a staging directory: binaries, web files, man pages, completion, the systemd unit,
# and that the installed binaries run from there (pved finds its www/ relative to itself).
set -u
cd "${PVED_TOP:-$(dirname "$0")/../..}"
dest=$(mktemp -d /tmp/pved-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT

if ! make -s install DESTDIR="$dest" >"$dest.log" 2>&1; then
	echo "FAIL make-install: $(tail -n 5 "$dest.log" | tr '\n' ' ')"
	rm -f "$dest.log"
	exit 1
fi
rm -f "$dest.log"
p=$dest/usr/local
for f in bin/pved bin/pved-api bin/pvectl share/pved/www/index.html share/man/man1/pvectl.1 \
	share/man/man8/pved.8 share/bash-completion/completions/pvectl; do
	if [ -s "$p/$f" ]; then echo "ok installed-${f////-}"; else echo "FAIL installed-${f////-}: missing or empty"; fi
done
if grep -q '^ExecStart=/usr/local/bin/pved' "$dest/lib/systemd/system/pved.service"; then
	echo "ok installed-unit"
else
	echo "FAIL installed-unit: no ExecStart"
fi
if "$p/bin/pvectl" apidoc | /usr/bin/python3 -c 'import json,sys; assert json.load(sys.stdin)' 2>/dev/null; then
	echo "ok installed-pvectl-runs"
else
	echo "FAIL installed-pvectl-runs"
fi
if man -l "$p/share/man/man1/pvectl.1" 2>/dev/null | grep -q 'pvectl'; then
	echo "ok man-page-renders"
else
	echo "skip man-page-renders: man cannot render here"
fi
