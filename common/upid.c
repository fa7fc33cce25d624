/* Task IDs (UPIDs): UPID:node:pid:pstart:starttime:type:id:user: as Proxmox writes and parses them. */
#include <ctype.h>
#include <inttypes.h>

#include "common/common.h"

char *pve_upid_format(const pve_upid *u)
{
	return xasprintf("UPID:%s:%08" PRIX32 ":%08" PRIX64 ":%08" PRIX32 ":%s:%s:%s:", u->node,
			 u->pid, u->pstart, u->starttime, u->type, u->id, u->user);
}

/* Hex field of min..max digits; upper or lower case. */
static bool parse_hex(const char *s, size_t len, size_t min, size_t max, uint64_t *ret)
{
	if (len < min || len > max)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		v = v << 4 | (uint64_t)(isdigit((unsigned char)s[i]) ?
						s[i] - '0' :
						tolower((unsigned char)s[i]) - 'a' + 10);
	}
	*ret = v;
	return true;
}

static bool node_ok(const char *s, size_t len)
{
	if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* No control characters, whitespace, ':' or '/' (the UPID goes into URLs and file names). */
static bool field_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == '/' || c == ':')
			return false;
	}
	return true;
}

int pve_upid_parse(const char *s, pve_upid *ret, pve_error **err)
{
	pve_upid u = { 0 };
	const char *f[7];
	size_t l[7];
	size_t n = 0;
	if (!s || !startswith(s, "UPID:") || strlen(s) > 512)
		goto bad;
	const char *p = s + 5;
	/* Seven fields, each ended by ':', and nothing after the last. */
	while (n < 7) {
		const char *c = strchr(p, ':');
		if (!c)
			goto bad;
		f[n] = p;
		l[n] = (size_t)(c - p);
		n++;
		p = c + 1;
	}
	if (*p)
		goto bad;
	uint64_t pid, pstart, start;
	if (!node_ok(f[0], l[0]) || l[0] >= sizeof(u.node) || !parse_hex(f[1], l[1], 8, 8, &pid) ||
	    !parse_hex(f[2], l[2], 8, 16, &pstart) || !parse_hex(f[3], l[3], 8, 8, &start))
		goto bad;
	if (l[4] == 0 || l[4] >= sizeof(u.type) || !field_ok(f[4], l[4]) || l[5] >= sizeof(u.id) ||
	    !field_ok(f[5], l[5]) || l[6] == 0 || l[6] >= sizeof(u.user) || !field_ok(f[6], l[6]) ||
	    !memchr(f[6], '@', l[6]))
		goto bad;
	memcpy(u.node, f[0], l[0]);
	u.pid = (uint32_t)pid;
	u.pstart = pstart;
	u.starttime = (uint32_t)start;
	memcpy(u.type, f[4], l[4]);
	memcpy(u.id, f[5], l[5]);
	memcpy(u.user, f[6], l[6]);
	*ret = u;
	return 0;
bad:
	return pve_error_set(err, EINVAL, "unable to parse worker upid '%.128s'", s ? s : "");
}
