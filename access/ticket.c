/* access/ticket.c: RSA-signed authentication tickets (PVE:<user>:<time>::<signature>) and HMAC CSRF
 * prevention tokens, both checked on every API request. */
#include <ctype.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "access/access-internal.h"
#include "access/keys-internal.h"

#define TICKET_DATA_MAX 2048
#define SIG_MAX 1024 /* bytes: RSA up to 8192 bit */
#define CSRF_MAX 128

static bool prefix_ok(const char *prefix)
{
	if (!prefix || !*prefix || strlen(prefix) > 32)
		return false;
	for (const char *p = prefix; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	return true;
}

/* Data is escaped like URI::Escape with ':' (and '%', so unescaping gives back the same bytes). Spaces
 * and control characters would break the ticket's grammar, so they are refused. */
static char *data_escape(const char *data)
{
	_cleanup_(pve_buf_free) pve_buf b = { 0 };
	for (const unsigned char *p = (const unsigned char *)data; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f)
			return NULL;
		if (*p == ':' || *p == '%')
			pve_buf_printf(&b, "%%%02X", *p);
		else
			pve_buf_append(&b, p, 1);
	}
	return pve_buf_steal(&b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* URI unescape (%XX); a '%' not followed by two hex digits stays as it is, like uri_unescape. */
static char *data_unescape(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return out;
}

char *pve_ticket_create(const pve_authkeys *k, const char *prefix, const char *data, time_t now)
{
	if (!k || !k->priv || !prefix_ok(prefix) || now < 0 ||
	    (unsigned long long)now > 0xffffffffULL)
		return NULL;
	_cleanup_free_ char *esc = NULL;
	if (data) {
		esc = data_escape(data);
		if (!esc || !*esc || strlen(esc) > TICKET_DATA_MAX)
			return NULL;
	}
	_cleanup_free_ char *plain =
		esc ? xasprintf("%s:%s:%08llX", prefix, esc, (unsigned long long)now) :
		      xasprintf("%s:%08llX", prefix, (unsigned long long)now);

	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return NULL;
	unsigned char sig[SIG_MAX];
	size_t siglen = sizeof(sig);
	int ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->priv) == 1 &&
		 EVP_DigestSign(md, sig, &siglen, (const unsigned char *)plain, strlen(plain)) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		ERR_clear_error();
		return NULL;
	}
	_cleanup_free_ char *b64 = access_base64(sig, siglen, true);
	return xasprintf("%s::%s", plain, b64);
}

static bool sig_ok(EVP_PKEY *key, const char *plain, size_t plain_len, const unsigned char *sig,
		   size_t siglen)
{
	if (!key)
		return false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return false;
	bool ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		  EVP_DigestVerify(md, sig, siglen, (const unsigned char *)plain, plain_len) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

int pve_ticket_verify(const pve_authkeys *k, const char *prefix, const char *ticket, time_t now,
		      int min_age, int max_age, char **ret_data, int *ret_age, pve_error **err)
{
	if (!k || !prefix_ok(prefix) || !ticket)
		return pve_error_set(err, EACCES, "invalid ticket");
	size_t len = strnlen(ticket, PVE_TICKET_MAX + 1);
	if (len > PVE_TICKET_MAX)
		return pve_error_set(err, EACCES, "invalid ticket");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)ticket[i] <= 0x20 || ticket[i] == 0x7f)
			return pve_error_set(err, EACCES, "invalid ticket");

	size_t plen = strlen(prefix);
	if (len <= plen || strncmp(ticket, prefix, plen) != 0 || ticket[plen] != ':')
		return pve_error_set(err, EACCES, "invalid ticket");

	/* The signature has no ':', so it follows the last "::", which must come after the prefix's
	 * ':' (in "PVE::x" the only "::" is that one): every length below is then a difference of
	 * positions in the right order. */
	const char *body = ticket + plen + 1;
	const char *sep = NULL;
	for (const char *p = body; (p = strstr(p, "::")); p++)
		sep = p;
	if (!sep)
		return pve_error_set(err, EACCES, "invalid ticket");
	const char *sigtxt = sep + 2;
	size_t siglen_txt = strlen(sigtxt);
	if (siglen_txt == 0 || strchr(sigtxt, ':') || siglen_txt > SIG_MAX * 4 / 3 + 4)
		return pve_error_set(err, EACCES, "invalid ticket");

	/* plain = "<prefix>:[<data>:]<8 hex>" */
	const char *plain = ticket;
	size_t plain_len = (size_t)(sep - ticket);
	size_t body_len = (size_t)(sep - body);
	if (body_len < 8)
		return pve_error_set(err, EACCES, "invalid ticket");
	const char *ts = body + body_len - 8;
	unsigned long long ttime = 0;
	for (int i = 0; i < 8; i++) {
		char c = ts[i];
		int v = (c >= 'a' && c <= 'f') ? -1 : hexval(c);
		if (v < 0)
			return pve_error_set(err, EACCES, "invalid ticket");
		ttime = ttime << 4 | (unsigned)v;
	}
	const char *data = NULL;
	size_t data_len = 0;
	if (body_len > 8) {
		/* "<data>:" before the time; data non-empty. */
		if (body_len < 10 || ts[-1] != ':')
			return pve_error_set(err, EACCES, "invalid ticket");
		data = body;
		data_len = body_len - 9;
	}

	unsigned char sig[SIG_MAX + 3];
	ssize_t siglen = access_unbase64(sigtxt, siglen_txt, sig);
	if (siglen <= 0 || siglen > SIG_MAX)
		return pve_error_set(err, EACCES, "invalid ticket");

	if (!sig_ok(k->pub, plain, plain_len, sig, (size_t)siglen) &&
	    !sig_ok(k->old_pub, plain, plain_len, sig, (size_t)siglen))
		return pve_error_set(err, EACCES, "invalid ticket");

	long long age = (long long)now - (long long)ttime;
	/* Strictly inside the window, as Proxmox checks it. */
	if (age >= max_age)
		return pve_error_set(err, EACCES, "ticket expired");
	if (age <= min_age)
		return pve_error_set(err, EACCES, "invalid ticket");

	if (ret_data)
		*ret_data = data ? data_unescape(data, data_len) : xstrdup("");
	if (ret_age)
		*ret_age = (int)age;
	return 0;
}

static char *csrf_digest(const char *secret, const char *hextime, const char *userid)
{
	_cleanup_free_ char *msg = xasprintf("%s:%s", hextime, userid);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg,
		  strlen(msg), md, &n)) {
		ERR_clear_error();
		return NULL;
	}
	return access_base64(md, n, false);
}

char *pve_csrf_create(const char *secret, const char *userid, time_t now)
{
	if (!secret || !userid || now < 0 || (unsigned long long)now > 0xffffffffULL)
		return NULL;
	char hextime[16];
	snprintf(hextime, sizeof(hextime), "%08llX", (unsigned long long)now);
	_cleanup_free_ char *digest = csrf_digest(secret, hextime, userid);
	if (!digest)
		return NULL;
	return xasprintf("%s:%s", hextime, digest);
}

int pve_csrf_verify(const char *secret, const char *userid, const char *token, time_t now,
		    pve_error **err)
{
	if (!secret || !userid || !token)
		return pve_error_set(err, EACCES, "invalid csrf token");
	size_t len = strnlen(token, CSRF_MAX + 1);
	if (len > CSRF_MAX || len < 10 || token[8] != ':')
		return pve_error_set(err, EACCES, "invalid csrf token");
	char hextime[9];
	unsigned long long ttime = 0;
	for (int i = 0; i < 8; i++) {
		char c = token[i];
		int v = (c >= 'a' && c <= 'f') ? -1 : hexval(c);
		if (v < 0)
			return pve_error_set(err, EACCES, "invalid csrf token");
		ttime = ttime << 4 | (unsigned)v;
		hextime[i] = c;
	}
	hextime[8] = 0;
	_cleanup_free_ char *digest = csrf_digest(secret, hextime, userid);
	if (!digest || !access_streq_ct(digest, token + 9))
		return pve_error_set(err, EACCES, "invalid csrf token");
	long long age = (long long)now - (long long)ttime;
	if (age <= PVE_TICKET_MIN_AGE || age >= PVE_TICKET_MAX_AGE)
		return pve_error_set(err, EACCES, "invalid csrf token");
	return 0;
}

/* ---- SPICE tickets ------------------------------------------------------------------------------------ */

#define SPICE_PREFIX "pvespiceproxy:"

/* The hex SHA-1 of plain and the secret, as Proxmox signs a proxy ticket: 40 lower-case digits. */
static bool spice_sign(const char *secret, const char *plain, char ret[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, plain, strlen(plain)) == 1 &&
		  EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
		  EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 20;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return false;
	}
	for (unsigned i = 0; i < 20; i++)
		snprintf(ret + 2 * i, 3, "%02x", md[i]);
	return true;
}

static bool spice_node_ok(const char *node, size_t len)
{
	if (!len || len > PVE_SPICE_NODE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(islower((unsigned char)node[i]) || isdigit((unsigned char)node[i]) ||
		      node[i] == '-' || node[i] == '.'))
			return false;
	return true;
}

int pve_spice_ticket_create(const char *secret, long long vmid, const char *node, int port,
			    time_t now, char **ret_proxyticket, char **ret_password,
			    pve_error **err)
{
	if (!secret || now < 0 || (unsigned long long)now > 0xffffffffULL || vmid <= 0 ||
	    port <= 0 || port > 65535)
		return pve_error_set(err, EINVAL, "cannot make a spice ticket");
	/* remote-viewer wants the host (the proxy ticket) in lower case */
	_cleanup_free_ char *lc = xstrdup(node);
	for (char *p = lc; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!spice_node_ok(lc, strlen(lc)))
		return pve_error_set(err, EINVAL, "node name '%s' does not fit a spice ticket",
				     node);
	unsigned char raw[20];
	int r = pve_random_bytes(raw, sizeof(raw), err);
	if (r < 0)
		return r;
	char password[41], sig[41];
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(password + 2 * i, 3, "%02x", raw[i]);
	_cleanup_free_ char *plain = xasprintf(SPICE_PREFIX "%08llx:%lld:%s:%d",
					       (unsigned long long)now, vmid, lc, port);
	if (!spice_sign(secret, plain, sig))
		return pve_error_set(err, EIO, "cannot sign a spice ticket");
	*ret_proxyticket = xasprintf("%s::%s", plain, sig);
	*ret_password = xstrdup(password);
	return 0;
}

/* A decimal number of at most max, all of s[0..len). */
static bool spice_number(const char *s, size_t len, unsigned long long max, long long *ret)
{
	_cleanup_free_ char *t = xstrndup(s, len);
	unsigned long long v;
	if (pve_parse_uint(t, max, &v) < 0)
		return false;
	*ret = (long long)v;
	return true;
}

int pve_spice_ticket_verify(const char *secret, const char *connect, time_t now,
			    pve_spice_target *ret, pve_error **err)
{
	/* "pvespiceproxy:<8 hex time>:<vmid>:<node>:<port>::<40 hex signature>:<port>": the proxy
	 * ticket the client was given as its host, and the port it connects to */
	size_t len = connect ? strnlen(connect, PVE_SPICE_TICKET_MAX + 1) : 0;
	if (!secret || len > PVE_SPICE_TICKET_MAX || !startswith(connect, SPICE_PREFIX))
		return pve_error_set(err, EACCES, "invalid ticket");
	const char *end = connect + len;
	const char *colon = strrchr(connect, ':');
	long long port = 0;
	if (!colon || !spice_number(colon + 1, (size_t)(end - colon - 1), 65535, &port) ||
	    colon - connect < (ptrdiff_t)(strlen(SPICE_PREFIX) + 42))
		return pve_error_set(err, EACCES, "invalid ticket");
	const char *sig = colon - 40;
	if (sig[-1] != ':' || sig[-2] != ':')
		return pve_error_set(err, EACCES, "invalid ticket");
	for (const char *p = sig; p < colon; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return pve_error_set(err, EACCES, "invalid ticket");
	_cleanup_free_ char *plain = xstrndup(connect, (size_t)(sig - 2 - connect));
	/* <8 hex time>:<vmid>:<node>:<signed port> */
	const char *t = plain + strlen(SPICE_PREFIX);
	const char *c1 = strchr(t, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *c3 = strrchr(plain, ':');
	long long vmid = 0, signed_port = 0;
	if (!c1 || c1 - t != 8 || !c2 || c3 <= c2 ||
	    !spice_number(c1 + 1, (size_t)(c2 - c1 - 1), 999999999, &vmid) ||
	    !spice_node_ok(c2 + 1, (size_t)(c3 - c2 - 1)) ||
	    !spice_number(c3 + 1, strlen(c3 + 1), 65535, &signed_port))
		return pve_error_set(err, EACCES, "invalid ticket");
	unsigned long long ttime = 0;
	for (int i = 0; i < 8; i++) {
		int v = hexval(t[i]);
		if (v < 0 || isupper((unsigned char)t[i]))
			return pve_error_set(err, EACCES, "invalid ticket");
		ttime = ttime * 16 + (unsigned)v;
	}
	char want[41];
	if (!spice_sign(secret, plain, want) || CRYPTO_memcmp(want, sig, 40) != 0)
		return pve_error_set(err, EACCES, "invalid ticket");
	long long age = (long long)now - (long long)ttime;
	if (age <= PVE_SPICE_TICKET_MIN_AGE || age >= PVE_SPICE_TICKET_MAX_AGE)
		return pve_error_set(err, EACCES, "ticket expired");
	/* the port signed is the port asked for: a ticket opens one VM's SPICE server */
	if (signed_port != port)
		return pve_error_set(err, EACCES, "invalid ticket");
	ret->vmid = vmid;
	snprintf(ret->node, sizeof(ret->node), "%.*s", (int)(c3 - c2 - 1), c2 + 1);
	ret->port = (int)port;
	return 0;
}
