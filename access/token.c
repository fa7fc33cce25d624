/* access/token.c: API tokens: the Authorization header value, secrets (generated, stored hashed, checked)
 * and priv/token.cfg. */
#include <ctype.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <uuid/uuid.h>

#include "access/access-internal.h"

#define TOKEN_HEADER_MAX 512
#define TOKEN_SECRET_MAX 128
#define TOKENCFG_MAX_SIZE (4 * 1024 * 1024)
#define TOKENCFG_MAX_ENTRIES 100000
#define HASH_PREFIX "$pved-sha256$"
#define SALT_LEN 16

int pve_token_header_parse(const char *value, char **ret_userid, char **ret_tokenname,
			   char **ret_secret, pve_error **err)
{
	if (!value)
		return pve_error_set(err, EINVAL, "invalid API token");
	size_t len = strnlen(value, TOKEN_HEADER_MAX + 1);
	if (len > TOKEN_HEADER_MAX)
		return pve_error_set(err, EINVAL, "invalid API token: too long");

	/* The token id cannot hold '=' or a space (its user part has no whitespace, its name is
	 * realm-like), so the first of them ends it. */
	const char *sep = value + strcspn(value, "= ");
	if (!*sep)
		return pve_error_set(err, EINVAL, "invalid API token: no secret");
	const char *secret = sep + 1;
	if (!*secret || strlen(secret) > TOKEN_SECRET_MAX)
		return pve_error_set(err, EINVAL, "invalid API token: bad secret");
	for (const char *p = secret; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return pve_error_set(err, EINVAL, "invalid API token: bad secret");

	_cleanup_free_ char *tokenid = xstrndup(value, (size_t)(sep - value));
	if (!pve_tokenid_valid(tokenid))
		return pve_error_set(err, EINVAL, "invalid API token id");
	char *bang = strchr(tokenid, '!');

	if (ret_userid)
		*ret_userid = xstrndup(tokenid, (size_t)(bang - tokenid));
	if (ret_tokenname)
		*ret_tokenname = xstrdup(bang + 1);
	if (ret_secret)
		*ret_secret = xstrdup(secret);
	return 0;
}

char *pve_token_secret_generate(void)
{
	/* uuid_generate_random reads the kernel CSPRNG: 122 random bits. */
	uuid_t u;
	char out[UUID_STR_LEN];
	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
	return xstrdup(out);
}

static bool sha256_salted(const unsigned char *salt, size_t salt_len, const char *secret,
			  unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return false;
	unsigned int n = 0;
	bool ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(md, salt, salt_len) == 1 &&
		  EVP_DigestUpdate(md, secret, strlen(secret)) == 1 &&
		  EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(md);
	return ok;
}

char *pve_token_secret_hash(const char *secret)
{
	unsigned char salt[SALT_LEN], digest[32];
	access_random(salt, sizeof(salt));
	if (!sha256_salted(salt, sizeof(salt), secret, digest))
		return NULL;
	_cleanup_free_ char *salt_hex = access_hex(salt, sizeof(salt));
	_cleanup_free_ char *digest_hex = access_hex(digest, sizeof(digest));
	return xasprintf(HASH_PREFIX "%s$%s", salt_hex, digest_hex);
}

static bool unhex(const char *s, size_t len, unsigned char *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi = -1, lo = -1;
		char a = s[2 * i], b = s[2 * i + 1];
		hi = isdigit((unsigned char)a) ? a - '0' :
		     (a >= 'a' && a <= 'f')    ? a - 'a' + 10 :
						 -1;
		lo = isdigit((unsigned char)b) ? b - '0' :
		     (b >= 'a' && b <= 'f')    ? b - 'a' + 10 :
						 -1;
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

bool pve_token_secret_check(const char *hash, const char *secret)
{
	if (!hash || !secret)
		return false;
	size_t plen = strlen(HASH_PREFIX);
	if (strncmp(hash, HASH_PREFIX, plen) != 0)
		return false;
	const char *salt_hex = hash + plen;
	if (strlen(salt_hex) != SALT_LEN * 2 + 1 + 64 || salt_hex[SALT_LEN * 2] != '$')
		return false;
	unsigned char salt[SALT_LEN], want[32], got[32];
	if (!unhex(salt_hex, SALT_LEN, salt) || !unhex(salt_hex + SALT_LEN * 2 + 1, 32, want))
		return false;
	if (strlen(secret) > TOKEN_SECRET_MAX || !sha256_salted(salt, sizeof(salt), secret, got))
		return false;
	return CRYPTO_memcmp(want, got, sizeof(got)) == 0;
}

/* ---- token.cfg ------------------------------------------------------------------------------------ */

struct pve_tokencfg {
	access_kvtab t; /* full token id -> secret hash */
};

pve_tokencfg *pve_tokencfg_new(void)
{
	return xcalloc(1, sizeof(pve_tokencfg));
}

void pve_tokencfg_free(pve_tokencfg *c)
{
	if (!c)
		return;
	access_kvtab_clear(&c->t);
	free(c);
}

const char *pve_tokencfg_get(const pve_tokencfg *c, const char *tokenid)
{
	return c ? access_kvtab_get(&c->t, tokenid) : NULL;
}

int pve_tokencfg_set(pve_tokencfg *c, const char *tokenid, const char *hash, pve_error **err)
{
	if (!pve_tokenid_valid(tokenid))
		return pve_error_set(err, EINVAL, "invalid token id '%s'", tokenid);
	if (!*hash || strlen(hash) > 256 || strpbrk(hash, " \t\r\n"))
		return pve_error_set(err, EINVAL, "invalid token secret hash");
	if (!access_kvtab_set(&c->t, tokenid, hash, TOKENCFG_MAX_ENTRIES))
		return pve_error_set(err, E2BIG, "too many API tokens");
	return 0;
}

bool pve_tokencfg_delete(pve_tokencfg *c, const char *tokenid)
{
	return access_kvtab_delete(&c->t, tokenid);
}

char *pve_tokencfg_print(const pve_tokencfg *c)
{
	return access_kvtab_print(&c->t, " ", "\n");
}

int pve_tokencfg_parse(const char *text, size_t len, pve_tokencfg **ret, pve_error **err)
{
	if (len > TOKENCFG_MAX_SIZE)
		return pve_error_set(err, E2BIG, "token.cfg is larger than %d bytes",
				     TOKENCFG_MAX_SIZE);
	if (memchr(text, 0, len))
		return pve_error_set(err, EINVAL, "token.cfg contains a NUL byte");
	pve_tokencfg *c = pve_tokencfg_new();
	size_t lineno = 0, pos = 0, ll;
	const char *line;
	int r;
	while (access_line_next(text, len, &pos, &line, &ll)) {
		lineno++;
		/* Blank lines and comments. */
		if (ll == 0 || *line == '#')
			continue;
		_cleanup_free_ char *l = xstrndup(line, ll);
		char *sp = l + strcspn(l, " \t");
		if (!*sp) {
			r = pve_error_set(err, EINVAL,
					  "token.cfg line %zu: expected '<tokenid> <secret>'",
					  lineno);
			goto fail;
		}
		*sp++ = 0;
		sp += strspn(sp, " \t");
		r = pve_tokencfg_set(c, l, sp, err);
		if (r < 0) {
			if (err && *err)
				pve_error_prefix(*err, "token.cfg line %zu", lineno);
			goto fail;
		}
	}
	*ret = c;
	return 0;
fail:
	pve_tokencfg_free(c);
	return r;
}
