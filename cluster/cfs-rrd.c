/* cluster: pvecfs's .rrd, pmxcfs's dump of the newest RRD update of every node, guest and storage,
 * made of the lines the nodes publish in their volatile status. */
#include <stdlib.h>

#include "cluster/cfs-internal.h"

typedef struct rrd_line {
	const char *p;
	size_t len, klen; /* the whole line, and its key's part before the first ':' */
	int64_t time;
	size_t seq;
} rrd_line;

/* A line as pmxcfs takes one (rrdentry_hash_set: under 4 KiB), and printable, so that a peer's
 * value can neither split a line nor hide control characters in the file. */
static bool line_ok(const char *p, size_t len, size_t *ret_klen)
{
	if (len < 3 || len > CFS_RRD_MAX_LINE)
		return false;
	const char *colon = memchr(p, ':', len);
	if (!colon || colon == p || colon == p + len - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	*ret_klen = (size_t)(colon - p);
	return true;
}

/* By key; of one key the newest first, then the one published last. */
static int line_cmp(const void *a, const void *b)
{
	const rrd_line *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->p, y->p, n);
	if (r || x->klen != y->klen)
		return r ? r : (x->klen < y->klen ? -1 : 1);
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

void cfs_rrd_dump(const cfs_rrd_source *v, size_t n, int64_t now, size_t max, pve_buf *out)
{
	rrd_line *lines = NULL;
	size_t nl = 0, cap = 0;
	for (size_t i = 0; i < n; i++) {
		/* pmxcfs drops what it heard more than 5 minutes ago */
		if (v[i].time < now - CFS_RRD_MAX_AGE_SEC)
			continue;
		const char *p = v[i].data, *end = v[i].data + v[i].len;
		while (p < end) {
			const char *nl_at = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl_at ? (size_t)(nl_at - p) : (size_t)(end - p);
			size_t klen;
			if (line_ok(p, len, &klen)) {
				if (nl == cap) {
					cap = cap ? cap * 2 : 64;
					lines = xrealloc(lines, cap * sizeof(*lines));
				}
				lines[nl] = (rrd_line){ p, len, klen, v[i].time, nl };
				nl++;
			}
			p += len + 1;
		}
	}
	if (nl)
		qsort(lines, nl, sizeof(*lines), line_cmp);
	for (size_t i = 0; i < nl; i++) {
		/* one line per key, as pmxcfs's hash keeps one: the newest */
		if (i > 0 && lines[i].klen == lines[i - 1].klen &&
		    memcmp(lines[i].p, lines[i - 1].p, lines[i].klen) == 0)
			continue;
		if (out->len + lines[i].len + 1 > max)
			continue;
		pve_buf_append(out, lines[i].p, lines[i].len);
		pve_buf_append(out, "\n", 1);
	}
	free(lines);
}
