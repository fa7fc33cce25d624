/* access/util.c: the small encodings, randomness and name checks the other files of access/ share. */
#include <ctype.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "access/access-internal.h"

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *access_base64(const unsigned char *data, size_t len, bool pad)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0, i = 0;

	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
		out[o++] = b64_chars[v >> 18 & 63];
		out[o++] = b64_chars[v >> 12 & 63];
		out[o++] = b64_chars[v >> 6 & 63];
		out[o++] = b64_chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		out[o++] = b64_chars[v >> 18 & 63];
		out[o++] = b64_chars[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = b64_chars[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = 0;
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t access_unbase64(const char *s, size_t len, unsigned char *out)
{
	/* At most two '=' at the end. */
	size_t padding = 0;
	while (len > 0 && s[len - 1] == '=' && padding < 2) {
		len--;
		padding++;
	}
	if (len % 4 == 1 || (padding && (len + padding) % 4 != 0))
		return -1;

	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, so one value has one encoding. */
	if (acc != 0)
		return -1;
	return (ssize_t)o;
}

char *access_hex(const unsigned char *data, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	char *out = xmalloc(len * 2 + 1);
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexd[data[i] >> 4];
		out[2 * i + 1] = hexd[data[i] & 15];
	}
	out[len * 2] = 0;
	return out;
}

void access_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t r = getrandom(p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* Without randomness no key or salt is safe; this never happens on Linux >= 3.17. */
			abort();
		}
		p += r;
		len -= (size_t)r;
	}
}

bool access_streq_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

bool access_valid_realm(const char *s, size_t len)
{
	/* [A-Za-z][A-Za-z0-9.\-_]+ */
	if (len < 2 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return true;
}

bool pve_userid_valid(const char *s)
{
	/* common's pve-userid format is the definition, so the API and user.cfg agree. */
	return s && pve_format_check("pve-userid", s, NULL) == 0;
}

bool pve_tokenid_valid(const char *s)
{
	/* The format also takes a bare token name, which is not a token id. */
	return s && strchr(s, '!') && pve_format_check("pve-tokenid", s, NULL) == 0;
}

char *pve_authid_user(const char *authid)
{
	if (pve_userid_valid(authid))
		return xstrdup(authid);
	if (pve_tokenid_valid(authid))
		return xstrndup(authid, (size_t)(strchr(authid, '!') - authid));
	return NULL;
}

bool pve_authid_of_user(const char *authid, const char *userid)
{
	_cleanup_free_ char *owner = pve_authid_user(authid);
	return owner && userid && strcmp(owner, userid) == 0;
}

bool access_valid_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!isalnum(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void access_strv_sort_uniq(char **v)
{
	size_t n = strv_length(v);
	if (n < 2)
		return;
	qsort(v, n, sizeof(char *), cmp_str);
	size_t o = 1;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i], v[o - 1]) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	v[o] = NULL;
}

char **access_split_list(const char *s)
{
	size_t n = 0, cap = 4;
	char **v = xmalloc(cap * sizeof(char *));
	const char *p = s;

	while (*p) {
		while (*p && (*p == ',' || *p == ';' || isspace((unsigned char)*p) || *p == 0))
			p++;
		const char *start = p;
		while (*p && *p != ',' && *p != ';' && !isspace((unsigned char)*p))
			p++;
		if (p > start) {
			if (n + 1 >= cap)
				v = xrealloc(v, (cap *= 2) * sizeof(char *));
			v[n++] = xstrndup(start, (size_t)(p - start));
		}
	}
	v[n] = NULL;
	return v;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void hmap_grow(access_hmap *h)
{
	access_hmap n = { 0 };
	n.cap = h->cap ? h->cap * 2 : 16;
	n.keys = xcalloc(n.cap, sizeof(*n.keys));
	n.vals = xcalloc(n.cap, sizeof(*n.vals));
	for (size_t i = 0; i < h->cap; i++)
		if (h->keys[i])
			access_hmap_put(&n, h->keys[i], h->vals[i]);
	free(h->keys);
	free(h->vals);
	*h = n;
}

void access_hmap_put(access_hmap *h, const char *key, size_t val)
{
	if ((h->n + 1) * 2 > h->cap)
		hmap_grow(h);
	size_t i = hash_str(key) & (h->cap - 1);
	while (h->keys[i]) {
		if (strcmp(h->keys[i], key) == 0) {
			h->keys[i] = key;
			h->vals[i] = val;
			return;
		}
		i = (i + 1) & (h->cap - 1);
	}
	h->keys[i] = key;
	h->vals[i] = val;
	h->n++;
}

bool access_hmap_get(const access_hmap *h, const char *key, size_t *ret)
{
	if (!h->cap)
		return false;
	size_t i = hash_str(key) & (h->cap - 1);
	while (h->keys[i]) {
		if (strcmp(h->keys[i], key) == 0) {
			if (ret)
				*ret = h->vals[i];
			return true;
		}
		i = (i + 1) & (h->cap - 1);
	}
	return false;
}

void access_hmap_clear(access_hmap *h)
{
	free(h->keys);
	free(h->vals);
	*h = (access_hmap){ 0 };
}

/* ---- the one-secret-per-line priv/ files -------------------------------------------------------------- */

bool access_line_next(const char *text, size_t len, size_t *pos, const char **ret_line,
		      size_t *ret_len)
{
	if (*pos >= len)
		return false;
	const char *line = text + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t ll = nl ? (size_t)(nl - line) : len - *pos;
	*pos += ll + (nl ? 1 : 0);
	while (ll && isspace((unsigned char)line[ll - 1]))
		ll--;
	while (ll && isspace((unsigned char)*line)) {
		line++;
		ll--;
	}
	*ret_line = line;
	*ret_len = ll;
	return true;
}

static access_kv *kvtab_find(const access_kvtab *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].key, key) == 0)
			return &t->e[i];
	return NULL;
}

const char *access_kvtab_get(const access_kvtab *t, const char *key)
{
	const access_kv *e = t && key ? kvtab_find(t, key) : NULL;
	return e ? e->value : NULL;
}

bool access_kvtab_set(access_kvtab *t, const char *key, const char *value, size_t max)
{
	access_kv *e = kvtab_find(t, key);
	if (e) {
		free(e->value);
		e->value = xstrdup(value);
		return true;
	}
	if (t->n >= max)
		return false;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->e = xrealloc(t->e, t->cap * sizeof(*t->e));
	}
	t->e[t->n++] = (access_kv){ xstrdup(key), xstrdup(value) };
	return true;
}

bool access_kvtab_delete(access_kvtab *t, const char *key)
{
	access_kv *e = kvtab_find(t, key);
	if (!e)
		return false;
	free(e->key);
	free(e->value);
	size_t i = (size_t)(e - t->e);
	memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(*t->e));
	t->n--;
	return true;
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const access_kv *)a)->key, ((const access_kv *)b)->key);
}

char *access_kvtab_print(const access_kvtab *t, const char *sep, const char *end)
{
	_cleanup_free_ access_kv *sorted = xmalloc((t->n + 1) * sizeof(*sorted));
	if (t->n)
		memcpy(sorted, t->e, t->n * sizeof(*sorted));
	qsort(sorted, t->n, sizeof(*sorted), cmp_kv);
	_cleanup_(pve_buf_free) pve_buf b = { 0 };
	for (size_t i = 0; i < t->n; i++)
		pve_buf_printf(&b, "%s%s%s%s", sorted[i].key, sep, sorted[i].value, end);
	return pve_buf_steal(&b);
}

void access_kvtab_clear(access_kvtab *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].key);
		free(t->e[i].value);
	}
	free(t->e);
	*t = (access_kvtab){ 0 };
}
