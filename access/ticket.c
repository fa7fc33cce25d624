/* access/ticket.c: RSA-signed authentication tickets (PVE:<user>:<time>::<signature>) and HMAC CSRF
 * prevention tokens, both checked on every API request, and the SPICE consoles' tickets. */
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

int pve_spice_ticket_create(const char *secret, const char *userid, long long vmid,
			    const char *node, int port, time_t now, char **ret_password,
			    char **ret_host, pve_error **err)
{
	(void)userid; /* Proxmox mixes it into the random password, which needs no more entropy */
	if (!secret || !node || now < 0 || (unsigned long long)now > 0xffffffffULL)
		return pve_error_set(err, EINVAL, "can't make a SPICE ticket");
	/* the password: 40 lower-case hex digits, as Proxmox's SHA-1 of random data (SPICE takes 60) */
	uint8_t rnd[20];
	int r = pve_random_bytes(rnd, sizeof(rnd), err);
	if (r < 0)
		return r;
	/* host: "pvespiceproxy:<8 hex time>:<vmid>:<node, lower case>:<port>::<sig>", the signature
	 * SHA-1 over the plain part and the CSRF secret, lower case as remote-viewer needs */
	_cleanup_free_ char *lnode = xstrdup(node);
	for (char *p = lnode; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	_cleanup_free_ char *plain = xasprintf("pvespiceproxy:%08llx:%lld:%s:%d",
					       (unsigned long long)now, vmid, lnode, port);
	_cleanup_free_ char *signed_text = xasprintf("%s%s", plain, secret);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(signed_text, strlen(signed_text), md, &mdlen, EVP_sha1(), NULL))
		return pve_error_set(err, EIO, "SHA-1 failed");
	_cleanup_free_ char *sig = pve_hex_encode(md, mdlen, false);
	*ret_password = pve_hex_encode(rnd, sizeof(rnd), false);
	*ret_host = xasprintf("%s::%s", plain, sig);
	return 0;
}
