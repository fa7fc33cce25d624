/* Strings and numbers: whole-string number parsing, Proxmox booleans and disk sizes, string vectors,
 * percent-encoding, hex and kernel randomness. */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sys/random.h>

#include "common/common.h"

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Digits only after an optional sign: strtoll alone would accept leading spaces and "0x". */
static bool is_decimal(const char *s, bool allow_minus)
{
	if (*s == '+' || (allow_minus && *s == '-'))
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int pve_parse_int(const char *s, long long min, long long max, long long *ret)
{
	if (!s || !is_decimal(s, true))
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int pve_parse_uint(const char *s, unsigned long long max, unsigned long long *ret)
{
	if (!s || !is_decimal(s, false))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* Perl's "is_number" from JSONSchema.pm: [+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)? */
static bool is_perl_number(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	size_t ip = strspn(s, "0123456789");
	s += ip;
	size_t fp = 0;
	if (*s == '.') {
		s++;
		fp = strspn(s, "0123456789");
		s += fp;
	}
	if (ip == 0 && fp == 0)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		size_t ep = strspn(s, "0123456789");
		if (ep == 0)
			return false;
		s += ep;
	}
	return *s == '\0';
}

int pve_parse_double(const char *s, double *ret)
{
	if (!s || !is_perl_number(s))
		return -EINVAL;
	errno = 0;
	double v = strtod(s, NULL);
	if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
		return -ERANGE;
	if (!isfinite(v))
		return -ERANGE;
	*ret = v;
	return 0;
}

int pve_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	static const char *const no[] = { "0", "off", "no", "false" };
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int pve_parse_size(const char *s, uint64_t *ret_bytes)
{
	if (!s)
		return -EINVAL;
	const char *p = s;
	size_t ip = strspn(p, "0123456789");
	if (ip == 0)
		return -EINVAL;
	unsigned __int128 whole = 0;
	for (size_t i = 0; i < ip; i++) {
		whole = whole * 10 + (unsigned)(p[i] - '0');
		if (whole > UINT64_MAX)
			return -ERANGE;
	}
	p += ip;
	/* The fraction as num / den; digits past 18 are dropped (they change less than a byte). */
	unsigned __int128 num = 0, den = 1;
	if (*p == '.') {
		p++;
		size_t fp = strspn(p, "0123456789");
		if (fp == 0)
			return -EINVAL;
		for (size_t i = 0; i < fp && i < 18; i++) {
			num = num * 10 + (unsigned)(p[i] - '0');
			den *= 10;
		}
		p += fp;
	}
	unsigned shift = 0;
	switch (*p) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1] != '\0')
		return -EINVAL;
	unsigned __int128 bytes = (whole << shift) + ((num << shift) / den);
	if (bytes > UINT64_MAX)
		return -ERANGE;
	*ret_bytes = (uint64_t)bytes;
	return 0;
}

char *pve_format_size(uint64_t bytes)
{
	static const char units[] = "KMGT";
	uint64_t v = bytes;
	int u = -1;
	while (u < 3 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		return xasprintf("%" PRIu64, v);
	return xasprintf("%" PRIu64 "%c", v, units[u]);
}

char **pve_strv_split(const char *s, const char *separators)
{
	size_t n = 0, cap = 8;
	char **v = xmalloc(cap * sizeof(char *));
	const char *p = s ? s : "";
	for (;;) {
		p += strspn(p, separators);
		if (!*p)
			break;
		size_t k = strcspn(p, separators);
		if (n + 2 > cap)
			v = xrealloc(v, (cap *= 2) * sizeof(char *));
		v[n++] = xstrndup(p, k);
		p += k;
	}
	v[n] = NULL;
	return v;
}

char *pve_strv_join(char *const *v, const char *sep)
{
	pve_buf b = { 0 };
	for (size_t i = 0; v && v[i]; i++) {
		if (i > 0)
			pve_buf_puts(&b, sep);
		pve_buf_puts(&b, v[i]);
	}
	return pve_buf_steal(&b);
}

char **pve_split_list(const char *s)
{
	return pve_strv_split(s, ",; \t\n\r\v\f");
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *pve_uri_decode(const char *s, size_t len, bool plus_is_space)
{
	_cleanup_free_ char *out = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return NULL;
			int hi = unhex(s[i + 1]), lo = unhex(s[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return NULL;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '\0') {
			return NULL;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return TAKE_PTR(out);
}

char *pve_uri_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s);
	char *out = xmalloc(len * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isascii(*p) && (isalnum(*p) || strchr("-._~", *p))) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *pve_hex_encode(const void *data, size_t len, bool upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	const unsigned char *p = data;
	char *out = xmalloc(len * 2 + 1);
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[len * 2] = '\0';
	return out;
}

int pve_random_bytes(void *buf, size_t len, pve_error **err)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = getrandom(p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return pve_error_set(err, errno, "getrandom: %m");
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

void pve_random_mac(const char *prefix, char ret[18])
{
	uint8_t r[6] = { 0 };
	(void)pve_random_bytes(r, sizeof(r), NULL);
	r[0] = (uint8_t)((r[0] & 0xfe) | 2); /* unicast, locally administered */
	snprintf(ret, 18, "%02X:%02X:%02X:%02X:%02X:%02X", r[0], r[1], r[2], r[3], r[4], r[5]);
	for (size_t i = 0; prefix && prefix[i] && i < 17; i++)
		ret[i] = (char)toupper((unsigned char)prefix[i]);
}

char *pve_random_password(size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	_cleanup_free_ char *out = xmalloc(len + 1);
	size_t n = 0;
	while (n < len) {
		uint8_t rnd[64];
		if (pve_random_bytes(rnd, sizeof(rnd), NULL) < 0)
			return NULL;
		/* 248 = 4 * 62: rejecting bytes above keeps every character equally likely. */
		for (size_t i = 0; i < sizeof(rnd) && n < len; i++)
			if (rnd[i] < 248)
				out[n++] = alphabet[rnd[i] % 62];
	}
	out[n] = '\0';
	return TAKE_PTR(out);
}
