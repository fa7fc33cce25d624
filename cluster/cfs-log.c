/* cluster: pvecfs's cluster log (pmxcfs's logger.c): the entries in RAM, ordered and bounded, their wire
 * form for the status group (one entry, or a whole log when a node joins), the merge of what another
 * node sends, and pmxcfs's JSON. */
#include "cluster/cfs-internal.h"

struct cfs_log {
	cfs_log_entry **v; /* oldest first, by (time, node, uid) */
	size_t n, cap;
	size_t bytes; /* the entries' wire sizes, at most CFS_LOG_MAX_BYTES */
	uint32_t next_uid;
};

/* Wire form of an entry, little-endian: uid u32 @0, time u32 @4, pid u32 @8, pri u8 @12, node_len u8
 * @13, user_len u8 @14, tag_len u8 @15, msg_len u16 @16, reserved u16 @18 (0); then node, user, tag and
 * msg, without NULs. */

cfs_log *cfs_log_new(uint32_t first_uid)
{
	cfs_log *l = xcalloc(1, sizeof(*l));
	l->next_uid = first_uid;
	return l;
}

void cfs_log_free(cfs_log *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l);
}

size_t cfs_log_count(const cfs_log *l)
{
	return l->n;
}

size_t cfs_log_bytes(const cfs_log *l)
{
	return l->bytes;
}

const cfs_log_entry *cfs_log_nth(const cfs_log *l, size_t i)
{
	return i < l->n ? l->v[i] : NULL;
}

/* One allocation: the entry and its four strings, each NUL-terminated. */
static cfs_log_entry *entry_new(const char *node, size_t node_len, const char *user,
				size_t user_len, const char *tag, size_t tag_len, const char *msg,
				size_t msg_len)
{
	cfs_log_entry *e = xmalloc(sizeof(*e) + node_len + user_len + tag_len + msg_len + 4);
	char *p = e->strings;
	const struct {
		const char *s;
		size_t n;
		const char **to;
	} parts[] = { { node, node_len, &e->node },
		      { user, user_len, &e->user },
		      { tag, tag_len, &e->tag },
		      { msg, msg_len, &e->msg } };
	for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
		if (parts[i].n)
			memcpy(p, parts[i].s, parts[i].n);
		p[parts[i].n] = '\0';
		*parts[i].to = p;
		p += parts[i].n + 1;
	}
	e->size = CFS_LOG_ENTRY_HEADER + node_len + user_len + tag_len + msg_len;
	return e;
}

static int entry_cmp(const cfs_log_entry *a, const cfs_log_entry *b)
{
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	int r = strcmp(a->node, b->node);
	if (r)
		return r;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

static int entry_cmp_qsort(const void *a, const void *b)
{
	return entry_cmp(*(cfs_log_entry *const *)a, *(cfs_log_entry *const *)b);
}

/* The first index whose entry is not older than e. */
static size_t lower_bound(const cfs_log *l, const cfs_log_entry *e)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_cmp(l->v[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The oldest go until the rest fit the bound; returns how many went. */
static size_t trim(cfs_log *l)
{
	size_t drop = 0;
	while (l->bytes > CFS_LOG_MAX_BYTES) {
		l->bytes -= l->v[drop]->size;
		free(l->v[drop++]);
	}
	if (drop) {
		memmove(l->v, l->v + drop, (l->n - drop) * sizeof(*l->v));
		l->n -= drop;
	}
	return drop;
}

/* Copies src into dst (at most max bytes, never a character or a replacement cut in half) as the log
 * keeps text: control characters as pmxcfs writes them ("#010" for a newline), bytes that are not
 * UTF-8 as '?'. Returns the bytes written. */
static size_t clean_text(char *dst, size_t max, const char *src, size_t len)
{
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)src[i];
		char rep[5];
		const char *piece = rep;
		size_t n = 1, take = 1;
		if (c < 0x20 || c == 0x7f) {
			snprintf(rep, sizeof(rep), "#%03u", c);
			n = 4;
		} else if (c < 0x80) {
			rep[0] = (char)c;
		} else {
			size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (want <= len - i && pve_utf8_valid(src + i, want)) {
				piece = src + i;
				n = take = want;
			} else {
				rep[0] = '?';
			}
		}
		if (n > max - out)
			break;
		memcpy(dst + out, piece, n);
		out += n;
		i += take;
	}
	return out;
}

/* A local entry's string: cleaned, at most max bytes. */
static size_t clean_field(char *buf, size_t max, const char *s)
{
	return clean_text(buf, max, s ? s : "", s ? strlen(s) : 0);
}

const cfs_log_entry *cfs_log_add(cfs_log *l, const char *node, const char *tag, const char *user,
				 uint32_t pid, uint8_t pri, uint32_t time, const char *msg,
				 size_t msg_len)
{
	char nb[CFS_LOG_MAX_NAME], ub[CFS_LOG_MAX_NAME], tb[CFS_LOG_MAX_NAME];
	char mb[CFS_LOG_MAX_ENTRY];
	size_t nl = clean_field(nb, sizeof(nb), node);
	size_t ul = clean_field(ub, sizeof(ub), user);
	size_t tl = clean_field(tb, sizeof(tb), tag);
	/* the message gets what the entry's limit leaves (pmxcfs cuts it the same way) */
	size_t ml = clean_text(mb, CFS_LOG_MAX_ENTRY - CFS_LOG_ENTRY_HEADER - nl - ul - tl,
			       msg ? msg : "", msg ? msg_len : 0);
	cfs_log_entry *e = entry_new(nb, nl, ub, ul, tb, tl, mb, ml);
	e->pid = pid;
	e->pri = pri > 7 ? 7 : pri;
	e->time = time;
	/* the uid is this node's counter; an entry of an earlier run in the same second may hold it */
	size_t at;
	for (;;) {
		e->uid = l->next_uid++;
		at = lower_bound(l, e);
		if (at == l->n || entry_cmp(l->v[at], e) != 0)
			break;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(*l->v));
	l->v[at] = e;
	l->n++;
	l->bytes += e->size;
	/* the new entry stays, unless the clock went back past what the bound keeps */
	return trim(l) > at ? NULL : e;
}

void cfs_log_encode_entry(pve_buf *b, const cfs_log_entry *e)
{
	uint8_t h[CFS_LOG_ENTRY_HEADER] = { 0 };
	size_t nl = strlen(e->node), ul = strlen(e->user), tl = strlen(e->tag), ml = strlen(e->msg);
	cfs_put32(h, e->uid);
	cfs_put32(h + 4, e->time);
	cfs_put32(h + 8, e->pid);
	h[12] = e->pri;
	h[13] = (uint8_t)nl;
	h[14] = (uint8_t)ul;
	h[15] = (uint8_t)tl;
	cfs_put16(h + 16, (uint16_t)ml);
	pve_buf_append(b, h, sizeof(h));
	pve_buf_append(b, e->node, nl);
	pve_buf_append(b, e->user, ul);
	pve_buf_append(b, e->tag, tl);
	pve_buf_append(b, e->msg, ml);
}

void cfs_log_encode(const cfs_log *l, pve_buf *b)
{
	for (size_t i = 0; i < l->n; i++)
		cfs_log_encode_entry(b, l->v[i]);
}

/* A string from the wire: UTF-8 without control characters (what cfs_log_add keeps). */
static bool wire_text_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return pve_utf8_valid((const char *)p, n);
}

/* Every entry of data, each checked; -EBADMSG (and nothing returned) for anything malformed. */
static int decode_all(const uint8_t *data, size_t len, cfs_log_entry ***ret, size_t *ret_n)
{
	cfs_log_entry **v = NULL;
	size_t n = 0, cap = 0;
	for (size_t pos = 0; pos < len;) {
		const uint8_t *h = data + pos;
		if (len - pos < CFS_LOG_ENTRY_HEADER)
			goto bad;
		size_t nl = h[13], ul = h[14], tl = h[15], ml = cfs_get16(h + 16);
		size_t size = CFS_LOG_ENTRY_HEADER + nl + ul + tl + ml;
		if (h[12] > 7 || nl == 0 || cfs_get16(h + 18) != 0 || size > CFS_LOG_MAX_ENTRY ||
		    size > len - pos)
			goto bad;
		const uint8_t *s = h + CFS_LOG_ENTRY_HEADER;
		if (!wire_text_ok(s, nl) || !wire_text_ok(s + nl, ul) ||
		    !wire_text_ok(s + nl + ul, tl) || !wire_text_ok(s + nl + ul + tl, ml))
			goto bad;
		cfs_log_entry *e = entry_new((const char *)s, nl, (const char *)s + nl, ul,
					     (const char *)s + nl + ul, tl,
					     (const char *)s + nl + ul + tl, ml);
		e->uid = cfs_get32(h);
		e->time = cfs_get32(h + 4);
		e->pid = cfs_get32(h + 8);
		e->pri = h[12];
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = e;
		pos += size;
	}
	*ret = v;
	*ret_n = n;
	return 0;
bad:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -EBADMSG;
}

int cfs_log_merge(cfs_log *l, const uint8_t *data, size_t len)
{
	cfs_log_entry **in = NULL;
	size_t n_in = 0;
	int r = decode_all(data, len, &in, &n_in);
	if (r < 0)
		return r;
	if (n_in == 0)
		return 0;
	qsort(in, n_in, sizeof(*in), entry_cmp_qsort);
	/* both in order: one pass, an entry the log holds (or one sent twice) taken once */
	size_t cap = l->n + n_in;
	cfs_log_entry **out = xmalloc(cap * sizeof(*out));
	size_t i = 0, j = 0, k = 0;
	int added = 0;
	while (i < l->n || j < n_in) {
		if (j == n_in || (i < l->n && entry_cmp(l->v[i], in[j]) < 0)) {
			out[k++] = l->v[i++];
			continue;
		}
		if ((i < l->n && entry_cmp(l->v[i], in[j]) == 0) ||
		    (k > 0 && entry_cmp(out[k - 1], in[j]) == 0)) {
			free(in[j++]);
			continue;
		}
		l->bytes += in[j]->size;
		out[k++] = in[j++];
		added++;
	}
	free(in);
	free(l->v);
	l->v = out;
	l->n = k;
	l->cap = cap;
	trim(l);
	return added;
}

static void json_string(pve_buf *b, const char *s)
{
	pve_buf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		/* the log holds no control characters: only these two need escaping */
		if (*p == '"' || *p == '\\')
			pve_buf_append(b, "\\", 1);
		pve_buf_append(b, p, 1);
	}
	pve_buf_puts(b, "\"");
}

void cfs_log_dump_json(const cfs_log *l, pve_buf *b, const char *user, size_t max)
{
	pve_buf_puts(b, "{\n\"data\": [\n");
	size_t count = 0;
	for (size_t i = l->n; i-- > 0 && count < max;) {
		const cfs_log_entry *e = l->v[i];
		if (user && *user && strcmp(user, e->user) != 0)
			continue;
		pve_buf_printf(b, "%s{\"uid\": %u, \"time\": %u, \"pri\": %u, \"tag\": ",
			       count ? ",\n" : "", e->uid, e->time, (unsigned)e->pri);
		json_string(b, e->tag);
		pve_buf_printf(b, ", \"pid\": %u, \"node\": ", e->pid);
		json_string(b, e->node);
		pve_buf_puts(b, ", \"user\": ");
		json_string(b, e->user);
		pve_buf_puts(b, ", \"msg\": ");
		json_string(b, e->msg);
		pve_buf_puts(b, "}");
		count++;
	}
	pve_buf_puts(b, count ? "\n]\n}\n" : "]\n}\n");
}
