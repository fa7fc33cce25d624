# Flattens a JSON document (ConfigDrive v2's meta_data.json, network_data.json) into
# "path<TAB>value" lines: "public_keys.key-0	ssh-ed25519 ...", "networks.0.ip_address	10.0.0.2".
# Arrays count from 0. Strings are unescaped (\uXXXX is kept as written: the fields read here are
# ASCII); numbers, true, false and null are printed as written. Nesting deeper than 32 is refused.

function fail(why)
{
	print "json: " why >"/dev/stderr"
	bad = 1
	exit 1
}

function ws()
{
	while (pos <= len && index(" \t\r\n", substr(s, pos, 1)) > 0)
		pos++
}

function str(    out, c)
{
	out = ""
	pos++
	while (pos <= len) {
		c = substr(s, pos, 1)
		if (c == "\"") {
			pos++
			return out
		}
		if (c == "\\") {
			pos++
			c = substr(s, pos, 1)
			if (c == "n")
				c = "\n"
			else if (c == "t")
				c = "\t"
			else if (c == "r")
				c = "\r"
			else if (c == "b" || c == "f")
				c = " "
			else if (c == "u")
				c = "\\u"
		}
		out = out c
		pos++
	}
	fail("unterminated string")
}

# Printed only once the whole document parsed: a truncated file yields nothing, not half of it.
function emit(path, v)
{
	gsub(/[\t\n\r]/, " ", v)
	out = out path "\t" v "\n"
}

function join(base, key)
{
	return base == "" ? key : base "." key
}

function value(path, depth,    c, key, i, start)
{
	if (depth > 32)
		fail("nested too deep")
	ws()
	c = substr(s, pos, 1)
	if (c == "{") {
		pos++
		ws()
		if (substr(s, pos, 1) == "}") {
			pos++
			return
		}
		for (;;) {
			ws()
			if (substr(s, pos, 1) != "\"")
				fail("object key expected at " pos)
			key = str()
			ws()
			if (substr(s, pos, 1) != ":")
				fail("':' expected at " pos)
			pos++
			value(join(path, key), depth + 1)
			ws()
			c = substr(s, pos, 1)
			pos++
			if (c == "}")
				return
			if (c != ",")
				fail("',' or '}' expected at " pos)
		}
	}
	if (c == "[") {
		pos++
		ws()
		if (substr(s, pos, 1) == "]") {
			pos++
			return
		}
		for (i = 0;; i++) {
			value(join(path, i), depth + 1)
			ws()
			c = substr(s, pos, 1)
			pos++
			if (c == "]")
				return
			if (c != ",")
				fail("',' or ']' expected at " pos)
		}
	}
	if (c == "\"") {
		emit(path, str())
		return
	}
	start = pos
	while (pos <= len && index(",}] \t\r\n", substr(s, pos, 1)) == 0)
		pos++
	if (pos == start)
		fail("value expected at " pos)
	emit(path, substr(s, start, pos - start))
}

{
	s = s $0 "\n"
}

END {
	if (bad)
		exit 1
	len = length(s)
	pos = 1
	value("", 0)
	ws()
	if (pos <= len)
		fail("trailing data at " pos)
	printf "%s", out
}
