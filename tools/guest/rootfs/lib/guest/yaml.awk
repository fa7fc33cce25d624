# Flattens the block YAML that cloud-init drives carry (cloud-config, meta-data, network-config v1)
# into "path<TAB>value" lines: "users.1.name	bob", "config.0.subnets.0.address	10.0.0.2".
# busybox has no YAML parser; this covers what Proxmox and common NoCloud seeds write: block
# mappings and sequences, "- key: value" items, plain and quoted scalars, one-line flow lists of
# scalars, comments. Block scalars (| and >) are skipped with their lines. Keys are restricted to
# [A-Za-z0-9_.-] so that an SSH key or a password is never taken for a mapping.

function unquote(v,    q, out, i, c)
{
	q = substr(v, 1, 1)
	if (q == "'") {
		v = substr(v, 2)
		out = ""
		while (length(v) > 0) {
			i = index(v, "'")
			if (i == 0)
				return out v
			out = out substr(v, 1, i - 1)
			if (substr(v, i + 1, 1) == "'") {
				out = out "'"
				v = substr(v, i + 2)
			} else
				return out
		}
		return out
	}
	if (q == "\"") {
		out = ""
		for (i = 2; i <= length(v); i++) {
			c = substr(v, i, 1)
			if (c == "\"")
				return out
			if (c == "\\") {
				i++
				c = substr(v, i, 1)
				if (c == "n")
					c = "\n"
				else if (c == "t")
					c = "\t"
			}
			out = out c
		}
		return out
	}
	# A plain scalar ends before " #"; trailing blanks are not part of it.
	i = index(v, " #")
	if (i > 0)
		v = substr(v, 1, i - 1)
	sub(/[ \t]+$/, "", v)
	return v
}

function emit(path, v)
{
	# A newline or tab inside a value would break the line format: they become spaces.
	gsub(/[\t\n\r]/, " ", v)
	print path "\t" v
}

# "[a, 'b', c]" on one line: one entry per element (no nested flows, no commas inside quotes).
function flow(path, v,    n, parts, i, e)
{
	v = substr(v, 2)
	sub(/\][ \t]*(#.*)?$/, "", v)
	n = split(v, parts, ",")
	for (i = 1; i <= n; i++) {
		e = parts[i]
		sub(/^[ \t]+/, "", e)
		sub(/[ \t]+$/, "", e)
		if (e != "")
			emit(path "." (i - 1), unquote(e))
	}
}

function join(base, key)
{
	return base == "" ? key : base "." key
}

# One "key: value" at column ind inside the mapping on top of the stack.
function mapline(ind, text,    key, v)
{
	key = text
	sub(/:.*/, "", key)
	v = substr(text, length(key) + 2)
	sub(/^[ \t]+/, "", v)
	if (v == "" || substr(v, 1, 1) == "#") {
		pend = join(pth[n], key)
		pendind = ind
	} else if (v ~ /^[|>]/) {
		skipind = ind
	} else if (substr(v, 1, 1) == "[") {
		flow(join(pth[n], key), v)
	} else {
		emit(join(pth[n], key), unquote(v))
	}
}

BEGIN {
	n = 0
	lvl[0] = 0
	kind[0] = "map"
	pth[0] = ""
	pend = ""
	skipind = -1
}

{
	sub(/\r$/, "")
	line = $0
	match(line, /^ */)
	ind = RLENGTH
	text = substr(line, ind + 1)
	if (text == "" || substr(text, 1, 1) == "#" || text ~ /^(---|\.\.\.)/)
		next
	if (skipind >= 0) {
		if (ind > skipind)
			next
		skipind = -1
	}
	item = (text ~ /^-( |$)/)

	# "key:" with nothing after it opens a block: the next line, deeper (or a "- " at the same
	# column), says whether it is a mapping or a sequence.
	if (pend != "") {
		if (ind > pendind || (ind == pendind && item)) {
			n++
			lvl[n] = ind
			kind[n] = item ? "seq" : "map"
			pth[n] = pend
			cnt[n] = 0
		}
		pend = ""
	}
	while (n > 0 && lvl[n] > ind)
		n--
	# A sequence written at its key's column ends where the next key of that mapping starts.
	if (n > 0 && kind[n] == "seq" && !item && lvl[n] == ind)
		n--
	if (lvl[n] != ind)
		next

	if (item) {
		if (kind[n] != "seq")
			next
		p = pth[n] "." cnt[n]
		cnt[n]++
		rest = substr(text, 2)
		match(rest, /^ */)
		rind = ind + 1 + RLENGTH
		rest = substr(rest, RLENGTH + 1)
		if (rest == "" || substr(rest, 1, 1) == "#") {
			pend = p
			pendind = ind
		} else if (rest ~ /^[|>]/) {
			skipind = ind
		} else if (rest ~ /^[A-Za-z0-9_.-]+:( |$)/) {
			n++
			lvl[n] = rind
			kind[n] = "map"
			pth[n] = p
			mapline(rind, rest)
		} else if (substr(rest, 1, 1) == "[") {
			flow(p, rest)
		} else {
			emit(p, unquote(rest))
		}
		next
	}
	if (kind[n] == "map" && text ~ /^[A-Za-z0-9_.-]+:( |$)/)
		mapline(ind, text)
}
