# Turns "path<TAB>value" lines (yaml.awk, json.awk) into shell assignments that rcS's cloud-init
# reader sources: "users.1.name<TAB>bob" with -v p=ud becomes "ud_users_1_name='bob'". Every name
# starts with the prefix and keeps only [A-Za-z0-9_], every value is single-quoted: what a drive
# carries can set only variables of its own prefix and never runs as code. The first of duplicate
# paths wins; past 1000 lines, or for a value over 16 KiB, the reader is told and the rest dropped.

BEGIN {
	FS = "\t"
	q = "'"
}

NR > 1000 {
	print "more than 1000 entries: the rest is ignored" >"/dev/stderr"
	exit
}

{
	k = $1
	v = substr($0, length($1) + 2)
	gsub(/[^A-Za-z0-9_]/, "_", k)
	k = p "_" k
	if (k in seen)
		next
	seen[k] = 1
	if (length(v) > 16384) {
		print $1 ": value over 16 KiB ignored" >"/dev/stderr"
		next
	}
	gsub(q, q "\\" q q, v)
	print k "=" q v q
}
