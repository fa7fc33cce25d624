/* Unit tests of access/: keys and certificates, tickets, CSRF tokens, API tokens, passwords and PAM. */
#include <pwd.h>
#include <sys/wait.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>

#include "access/access.h"
#include "tests/unit/test.h"

#define CSRF_KAT "wnjjJpaR2OdHK/rSFn02tJbpvgRn2HKbvaNvw0eP6Sc"
#define SHA256_KAT "$5$abcdefgh$S2MFiMLM0Fx9tpZilpwJjII1Fm11Xg6iJfNG5D2TKC0"

/* One key pair per run: RSA generation takes a moment. */
static char *key_pem, *pub_pem;

static void ensure_keys(void)
{
	if (key_pem)
		return;
	_cleanup_error_ pve_error *err = NULL;
	int r = pve_authkey_generate(&key_pem, &pub_pem, &err);
	check_int(r, 0);
}

static void authkey_generate_and_load(void)
{
	ensure_keys();
	check(strstr(key_pem, "-----BEGIN PRIVATE KEY-----") != NULL);
	check(strstr(pub_pem, "-----BEGIN PUBLIC KEY-----") != NULL);

	_cleanup_error_ pve_error *err = NULL;
	_cleanup_authkeys_ pve_authkeys *k = NULL;
	check_int(pve_authkeys_load(key_pem, pub_pem, NULL, &k, &err), 0);

	/* A verifier without the private key. */
	_cleanup_authkeys_ pve_authkeys *v = NULL;
	check_int(pve_authkeys_load(NULL, pub_pem, NULL, &v, &err), 0);

	/* Garbage is refused with a message. */
	_cleanup_authkeys_ pve_authkeys *bad = NULL;
	check_int(pve_authkeys_load("-----BEGIN PRIVATE KEY-----\nxx\n", NULL, NULL, &bad, &err),
		  -EINVAL);
	check(err && err->code == EINVAL);
	check(bad == NULL);
}

static void ticket_roundtrip(void)
{
	ensure_keys();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_authkeys_ pve_authkeys *k = NULL;
	check_int(pve_authkeys_load(key_pem, pub_pem, NULL, &k, &err), 0);

	time_t now = 1700000000;
	_cleanup_free_ char *t = pve_ticket_create(k, "PVE", "root@pam", now);
	check(t != NULL);
	check(strncmp(t, "PVE:root@pam:6553F100::", 23) == 0);

	_cleanup_free_ char *data = NULL;
	int age = -1;
	check_int(pve_ticket_verify(k, "PVE", t, now + 10, PVE_TICKET_MIN_AGE, PVE_TICKET_MAX_AGE,
				    &data, &age, &err),
		  0);
	check_streq(data, "root@pam");
	check_int(age, 10);

	/* A verifier holding only the public key accepts it; a verifier cannot sign. */
	_cleanup_authkeys_ pve_authkeys *v = NULL;
	check_int(pve_authkeys_load(NULL, pub_pem, NULL, &v, &err), 0);
	check_int(pve_ticket_verify(v, "PVE", t, now, -300, 7200, NULL, NULL, &err), 0);
	check(pve_ticket_create(v, "PVE", "root@pam", now) == NULL);

	/* ':' in data is escaped and comes back. */
	_cleanup_free_ char *t2 = pve_ticket_create(k, "PVE", "a:b%41@pve", now);
	check(t2 && strstr(t2, "a%3Ab%2541@pve") != NULL);
	_cleanup_free_ char *d2 = NULL;
	check_int(pve_ticket_verify(k, "PVE", t2, now, -300, 7200, &d2, NULL, &err), 0);
	check_streq(d2, "a:b%41@pve");

	/* Whitespace in data cannot be put in a ticket. */
	check(pve_ticket_create(k, "PVE", "a b@pve", now) == NULL);
}

static void ticket_rejects(void)
{
	ensure_keys();
	pve_error *err = NULL;
	_cleanup_authkeys_ pve_authkeys *k = NULL;
	check_int(pve_authkeys_load(key_pem, pub_pem, NULL, &k, &err), 0);
	time_t now = 1700000000;
	_cleanup_free_ char *t = pve_ticket_create(k, "PVE", "alice@pve", now);

	/* expired */
	check_int(pve_ticket_verify(k, "PVE", t, now + 7200, -300, 7200, NULL, NULL, &err),
		  -EACCES);
	check_streq(err ? err->message : NULL, "ticket expired");
	pve_error_free(err), err = NULL;
	check_int(pve_ticket_verify(k, "PVE", t, now + 7199, -300, 7200, NULL, NULL, &err), 0);

	/* from the future beyond the skew */
	check_int(pve_ticket_verify(k, "PVE", t, now - 300, -300, 7200, NULL, NULL, &err), -EACCES);
	check_streq(err ? err->message : NULL, "invalid ticket");
	pve_error_free(err), err = NULL;
	check_int(pve_ticket_verify(k, "PVE", t, now - 299, -300, 7200, NULL, NULL, &err), 0);

	/* tampered user */
	_cleanup_free_ char *bad = xstrdup(t);
	memcpy(bad + 4, "alicf", 5);
	check_int(pve_ticket_verify(k, "PVE", bad, now, -300, 7200, NULL, NULL, &err), -EACCES);
	pve_error_free(err), err = NULL;

	/* tampered time */
	free(bad);
	bad = xstrdup(t);
	char *ts = strstr(bad, "@pve:") + 5;
	ts[7] = ts[7] == '0' ? '1' : '0';
	check_int(pve_ticket_verify(k, "PVE", bad, now, -300, 7200, NULL, NULL, &err), -EACCES);
	pve_error_free(err), err = NULL;

	/* tampered signature */
	free(bad);
	bad = xstrdup(t);
	char *sig = strstr(bad, "::") + 2;
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	check_int(pve_ticket_verify(k, "PVE", bad, now, -300, 7200, NULL, NULL, &err), -EACCES);
	pve_error_free(err), err = NULL;

	/* other prefix */
	check_int(pve_ticket_verify(k, "PVEVNC", t, now, -300, 7200, NULL, NULL, &err), -EACCES);
	pve_error_free(err), err = NULL;

	/* other key */
	_cleanup_free_ char *k2 = NULL, *p2 = NULL;
	check_int(pve_authkey_generate(&k2, &p2, &err), 0);
	_cleanup_authkeys_ pve_authkeys *other = NULL;
	check_int(pve_authkeys_load(k2, p2, NULL, &other, &err), 0);
	check_int(pve_ticket_verify(other, "PVE", t, now, -300, 7200, NULL, NULL, &err), -EACCES);
	pve_error_free(err), err = NULL;

	/* malformed inputs */
	static const char *const junk[] = {
		"",
		"PVE",
		"PVE:",
		"PVE::",
		"PVE:a@pve:6553F100::",
		"PVE:a@pve:6553F100:: x",
		"PVE:a@pve:6553f100::AAAA",
		"PVE:6553F100::!!!!",
		"XPVE:a@pve:6553F100::AAAA",
		"PVE:a b@pve:6553F100::AAAA",
		/* The only "::" is the prefix's ':' and the next: no body at all, nothing to count
		 * back from (the length once underflowed). */
		"PVE::==",
		"PVE::",
		"PVE:::",
		"PVE:::AAAA",
		"PVE::6553F100::AAAA",
	};
	for (size_t i = 0; i < ELEMENTSOF(junk); i++) {
		check_int(pve_ticket_verify(k, "PVE", junk[i], now, -300, 7200, NULL, NULL, &err),
			  -EACCES);
		pve_error_free(err), err = NULL;
	}
	/* over the size limit */
	_cleanup_free_ char *huge = xmalloc(PVE_TICKET_MAX + 10);
	memset(huge, 'A', PVE_TICKET_MAX + 9);
	memcpy(huge, "PVE:", 4);
	huge[PVE_TICKET_MAX + 9] = 0;
	check_int(pve_ticket_verify(k, "PVE", huge, now, -300, 7200, NULL, NULL, &err), -EACCES);
	pve_error_free(err);
}

static void ticket_rotation(void)
{
	ensure_keys();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_authkeys_ pve_authkeys *old = NULL;
	check_int(pve_authkeys_load(key_pem, pub_pem, NULL, &old, &err), 0);
	time_t now = 1700000000;
	_cleanup_free_ char *t = pve_ticket_create(old, "PVE", "bob@pve", now);

	/* Rotate: new key pair, the old public key kept. */
	_cleanup_free_ char *nk = NULL, *np = NULL;
	check_int(pve_authkey_generate(&nk, &np, &err), 0);
	_cleanup_authkeys_ pve_authkeys *rotated = NULL;
	check_int(pve_authkeys_load(nk, np, pub_pem, &rotated, &err), 0);
	_cleanup_free_ char *data = NULL;
	check_int(pve_ticket_verify(rotated, "PVE", t, now + 60, -300, 7200, &data, NULL, &err), 0);
	check_streq(data, "bob@pve");

	/* New tickets are signed with the new key and verify too. */
	_cleanup_free_ char *t2 = pve_ticket_create(rotated, "PVE", "bob@pve", now);
	check_int(pve_ticket_verify(rotated, "PVE", t2, now, -300, 7200, NULL, NULL, &err), 0);
	/* ...but not with the old key alone. */
	check_int(pve_ticket_verify(old, "PVE", t2, now, -300, 7200, NULL, NULL, &err), -EACCES);

	/* After a second rotation the first key is gone. */
	_cleanup_free_ char *nk2 = NULL, *np2 = NULL;
	pve_error_free(err), err = NULL;
	check_int(pve_authkey_generate(&nk2, &np2, &err), 0);
	_cleanup_authkeys_ pve_authkeys *twice = NULL;
	check_int(pve_authkeys_load(nk2, np2, np, &twice, &err), 0);
	check_int(pve_ticket_verify(twice, "PVE", t, now, -300, 7200, NULL, NULL, &err), -EACCES);
}

static void csrf(void)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *secret = NULL;
	check_int(pve_csrf_secret_generate(&secret, &err), 0);
	check(strlen(secret) == 44);
	time_t now = 1700000000;
	_cleanup_free_ char *tok = pve_csrf_create(secret, "root@pam", now);
	check(tok != NULL);
	check(strncmp(tok, "6553F100:", 9) == 0);
	check_int(strlen(tok), 9 + 43); /* base64 of 32 bytes without '=' */
	check(strchr(tok, '=') == NULL);

	check_int(pve_csrf_verify(secret, "root@pam", tok, now, &err), 0);
	check_int(pve_csrf_verify(secret, "root@pam", tok, now + 7199, &err), 0);
	check_int(pve_csrf_verify(secret, "root@pam", tok, now - 299, &err), 0);
	check_int(pve_csrf_verify(secret, "root@pam", tok, now + 7200, &err), -EACCES);
	check_streq(err ? err->message : NULL, "invalid csrf token");
	check_int(pve_csrf_verify(secret, "root@pam", tok, now - 300, NULL), -EACCES);
	check_int(pve_csrf_verify(secret, "alice@pve", tok, now, NULL), -EACCES);
	check_int(pve_csrf_verify("other", "root@pam", tok, now, NULL), -EACCES);
	_cleanup_free_ char *bad = xstrdup(tok);
	bad[20] = bad[20] == 'x' ? 'y' : 'x';
	check_int(pve_csrf_verify(secret, "root@pam", bad, now, NULL), -EACCES);
	check_int(pve_csrf_verify(secret, "root@pam", "", now, NULL), -EACCES);
	check_int(pve_csrf_verify(secret, "root@pam", "6553F100", now, NULL), -EACCES);
	check_int(pve_csrf_verify(secret, "root@pam", "6553f100:abc", now, NULL), -EACCES);

	/* Known answer: HMAC-SHA256("6553F100:root@pam", "key"), base64 without padding, computed with
	 * `printf '6553F100:root@pam' | openssl dgst -sha256 -hmac key -binary | base64`. */
	_cleanup_free_ char *kat = pve_csrf_create("key", "root@pam", now);
	check_streq(kat, "6553F100:" CSRF_KAT);
}

/* Proxmox's SPICE proxy ticket: made and checked, its window of -20..40 s (exclusive), the port
 * bound, and a known answer: SHA-1 of "pvespiceproxy:6553f100:100:node1:61000" and "key", computed
 * with `printf 'pvespiceproxy:6553f100:100:node1:61000key' | sha1sum`. */
static void spice_ticket(void)
{
	_cleanup_error_ pve_error *err = NULL;
	time_t now = 1700000000;
	_cleanup_free_ char *host = NULL, *password = NULL;
	check_int(pve_spice_ticket_create("secret", 100, "Node1", 61000, now, &host, &password,
					  &err),
		  0);
	check(host && strncmp(host, "pvespiceproxy:6553f100:100:node1:61000::", 40) == 0);
	check_int(strlen(host), 40 + 40);
	check(password && strlen(password) == 40 && strspn(password, "0123456789abcdef") == 40);
	_cleanup_free_ char *target = xasprintf("%s:61000", host);
	pve_spice_target t = { 0 };
	check_int(pve_spice_ticket_verify("secret", target, now, &t, &err), 0);
	check_int(t.vmid, 100);
	check_streq(t.node, "node1");
	check_int(t.port, 61000);
	check_int(pve_spice_ticket_verify("secret", target, now + 39, &t, NULL), 0);
	check_int(pve_spice_ticket_verify("secret", target, now - 19, &t, NULL), 0);
	check_int(pve_spice_ticket_verify("secret", target, now + 40, &t, &err), -EACCES);
	check_streq(err ? err->message : NULL, "ticket expired");
	pve_error_free(err), err = NULL;
	check_int(pve_spice_ticket_verify("secret", target, now - 20, &t, NULL), -EACCES);
	check_int(pve_spice_ticket_verify("other", target, now, &t, &err), -EACCES);
	check_streq(err ? err->message : NULL, "invalid ticket");
	/* another port than the one signed: another VM's */
	_cleanup_free_ char *other = xasprintf("%s:61001", host);
	check_int(pve_spice_ticket_verify("secret", other, now, &t, NULL), -EACCES);
	_cleanup_free_ char *vm = xstrdup(target);
	vm[24] = '1'; /* vmid 100 -> 110 */
	check_int(pve_spice_ticket_verify("secret", vm, now, &t, NULL), -EACCES);
	static const char *const bad[] = {
		"",
		"pvespiceproxy:",
		"pvespiceproxy:6553f100:100:node1:61000",
		"pvespiceproxy:6553f100:100:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68",
		"pvespiceproxy:6553F100:100:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
		"pvespiceproxy:6553f100:100:no de:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
		"pvespiceproxy:6553f100:x:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
		"pvespiceproxy:6553f100:100:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff6:61000",
		"pvespiceproxy:6553f100:100:node1:61000:::812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
		"pvespiceproxy:6553f100:100:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:",
		"pvespiceproxy:6553f100:100:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:999999",
		"pvespiceproxy:6553f100:100::61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
		"xvespiceproxy:6553f100:100:node1:61000::812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		check_int(pve_spice_ticket_verify("key", bad[i], now, &t, NULL), -EACCES);
	check_int(pve_spice_ticket_verify("key",
					  "pvespiceproxy:6553f100:100:node1:61000::"
					  "812a685ecb3be53918c64fdaec52644c8bb5ff68:61000",
					  now, &t, NULL),
		  0);
	/* a name a ticket cannot carry */
	char *h = NULL, *pw = NULL;
	check_int(pve_spice_ticket_create("secret", 100, "a:b", 61000, now, &h, &pw, NULL),
		  -EINVAL);
	check(h == NULL && pw == NULL);
}

static void token_header(void)
{
	_cleanup_error_ pve_error *err = NULL;
	char *u = NULL, *n = NULL, *s = NULL;
	check_int(pve_token_header_parse("root@pam!mytoken=5f3c5e59-3c3a-4d8c-9f59-1e0c2a9b1d7e",
					 &u, &n, &s, &err),
		  0);
	check_streq(u, "root@pam");
	check_streq(n, "mytoken");
	check_streq(s, "5f3c5e59-3c3a-4d8c-9f59-1e0c2a9b1d7e");
	free(u), free(n), free(s);

	/* A space instead of '='. */
	check_int(pve_token_header_parse("a.b@pve!t-1 secret", &u, &n, &s, &err), 0);
	check_streq(u, "a.b@pve");
	check_streq(n, "t-1");
	check_streq(s, "secret");
	free(u), free(n), free(s);

	/* '=' inside the secret stays in the secret. */
	check_int(pve_token_header_parse("x@pve!tt=a=b", NULL, NULL, &s, &err), 0);
	check_streq(s, "a=b");
	free(s);

	static const char *const bad[] = {
		"",
		"root@pam",
		"root@pam!tok",
		"root@pam!tok=",
		"root@pam=secret",
		"!tok=secret",
		"root@pam!=sec",
		"root@pam!tt=se cret",
		"root@p!tok=secret",
		"ro/ot@pam!tok=s",
		"root@pam!tt!uu=s",
		"root@pam!tt\t=s",
		"root@pam!t=s",
		"admin@pve!x@pve!tok=s", /* a userid never holds a '!' */
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error *e = NULL;
		u = n = s = NULL;
		if (pve_token_header_parse(bad[i], &u, &n, &s, &e) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
		check(e && e->code == EINVAL);
		check(u == NULL && n == NULL && s == NULL);
		pve_error_free(e);
	}
	/* too long */
	_cleanup_free_ char *huge = xmalloc(2000);
	memset(huge, 'a', 1999);
	huge[1999] = 0;
	memcpy(huge, "a@pve!t=", 8);
	check_int(pve_token_header_parse(huge, NULL, NULL, NULL, NULL), -EINVAL);
}

static void token_secret(void)
{
	_cleanup_free_ char *s1 = pve_token_secret_generate();
	_cleanup_free_ char *s2 = pve_token_secret_generate();
	check_int(strlen(s1), 36);
	check(s1[14] == '4'); /* version 4 */
	check(strcmp(s1, s2) != 0);

	_cleanup_free_ char *h1 = pve_token_secret_hash(s1);
	_cleanup_free_ char *h1b = pve_token_secret_hash(s1);
	check(strncmp(h1, "$pved-sha256$", 13) == 0);
	check_int(strlen(h1), 13 + 32 + 1 + 64);
	check(strcmp(h1, h1b) != 0); /* salted */
	check(pve_token_secret_check(h1, s1));
	check(pve_token_secret_check(h1b, s1));
	check(!pve_token_secret_check(h1, s2));
	check(!pve_token_secret_check(h1, ""));
	check(!pve_token_secret_check("", s1));
	check(!pve_token_secret_check(s1, s1)); /* plaintext is not a hash */
	_cleanup_free_ char *broken = xstrdup(h1);
	broken[strlen(broken) - 1] = broken[strlen(broken) - 1] == '0' ? '1' : '0';
	check(!pve_token_secret_check(broken, s1));
}

static void token_cfg(void)
{
	_cleanup_error_ pve_error *err = NULL;
	const char *text = "root@pam!bb $pved-sha256$aa$bb\n\n# comment\n  a@pve!xx   hash2  \n";
	pve_tokencfg *c = NULL;
	check_int(pve_tokencfg_parse(text, strlen(text), &c, &err), 0);
	if (!c)
		return;
	check_streq(pve_tokencfg_get(c, "root@pam!bb"), "$pved-sha256$aa$bb");
	check_streq(pve_tokencfg_get(c, "a@pve!xx"), "hash2");
	check(pve_tokencfg_get(c, "a@pve!yy") == NULL);
	check_int(pve_tokencfg_set(c, "a@pve!yy", "h3", &err), 0);
	check_int(pve_tokencfg_set(c, "a@pve!xx", "h2b", &err), 0);
	check(pve_tokencfg_delete(c, "root@pam!bb"));
	check(!pve_tokencfg_delete(c, "root@pam!bb"));
	check_int(pve_tokencfg_set(c, "nobang@pve", "h", NULL), -EINVAL);
	check_int(pve_tokencfg_set(c, "a@pve!zz", "h with space", NULL), -EINVAL);
	_cleanup_free_ char *out = pve_tokencfg_print(c);
	check_streq(out, "a@pve!xx h2b\na@pve!yy h3\n");
	pve_tokencfg_free(c);

	const char *bad = "a@pve!xx h\nnot-a-token h\n";
	c = NULL;
	check_int(pve_tokencfg_parse(bad, strlen(bad), &c, &err), -EINVAL);
	check(err && strstr(err->message, "line 2") != NULL);
	check(c == NULL);
}

static void password_hash(void)
{
	_cleanup_free_ char *h = pve_password_hash("s3cret pass");
	check(h != NULL);
	check(strncmp(h, "$5$", 3) == 0);
	check_int(strchr(h + 3, '$') - (h + 3), 16); /* 16-character salt */
	check(pve_password_check(h, "s3cret pass"));
	check(!pve_password_check(h, "s3cret pas"));
	check(!pve_password_check(h, ""));
	_cleanup_free_ char *h2 = pve_password_hash("s3cret pass");
	check(strcmp(h, h2) != 0);
	/* A hash written by another crypt implementation (Proxmox's) checks too:
	 * python3 -c 'import crypt; print(crypt.crypt("proxmox", "$5$abcdefgh"))'. */
	check(pve_password_check(SHA256_KAT, "proxmox"));
	check(!pve_password_check("!", "x"));
	check(!pve_password_check("", ""));
	check(!pve_password_check("*", ""));
}

static void shadow_cfg(void)
{
	_cleanup_error_ pve_error *err = NULL;
	const char *text = "bob:$5$abc$def:\n\nalice:$5$x$y:\n";
	pve_shadowcfg *c = NULL;
	check_int(pve_shadowcfg_parse(text, strlen(text), &c, &err), 0);
	check_streq(pve_shadowcfg_get(c, "alice"), "$5$x$y");
	check_int(pve_shadowcfg_set(c, "carol", "$5$q$r", &err), 0);
	check(pve_shadowcfg_delete(c, "bob"));
	check_int(pve_shadowcfg_set(c, "bad:name", "$5$q$r", NULL), -EINVAL);
	_cleanup_free_ char *out = pve_shadowcfg_print(c);
	check_streq(out, "alice:$5$x$y:\ncarol:$5$q$r:\n");
	pve_shadowcfg_free(c);

	const char *bad = "ok:$5$a$b:\nbroken line\n";
	c = NULL;
	check_int(pve_shadowcfg_parse(bad, strlen(bad), &c, &err), -EINVAL);
	check(err && strstr(err->message, "line 2") != NULL);
}

/* Runs argv, feeding input on stdin; returns the exit status. */
static int run(const char *input, const char *const argv[])
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[0], 0);
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[0]);
	if (input && write(fds[1], input, strlen(input)) < 0)
		(void)0;
	close(fds[1]);
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void pam_real(void)
{
	if (geteuid() != 0) {
		test_skip("needs root to create a throwaway system user");
		return;
	}
	if (access("/usr/sbin/useradd", X_OK) != 0 || access("/etc/pam.d/pved", R_OK) != 0) {
		test_skip("no useradd or no /etc/pam.d/pved");
		return;
	}
	unsigned int rnd;
	if (getentropy(&rnd, sizeof(rnd)) < 0)
		rnd = (unsigned int)getpid();
	char user[32];
	snprintf(user, sizeof(user), "pvedtest%06u", rnd % 1000000);
	const char *const add[] = {
		"/usr/sbin/useradd", "-M", "-s", "/usr/sbin/nologin", user, NULL
	};
	if (run(NULL, add) != 0) {
		test_fail(__FILE__, __LINE__, "useradd %s failed", user);
		return;
	}
	_cleanup_free_ char *line = xasprintf("%s:Corr3ct-h0rse\n", user);
	const char *const chpasswd[] = { "/usr/sbin/chpasswd", NULL };
	int r = run(line, chpasswd);
	check_int(r, 0);
	if (r == 0) {
		pve_error *err = NULL;
		check_int(pve_pam_authenticate("pved", user, "Corr3ct-h0rse", &err), 0);
		pve_error_free(err), err = NULL;
		check_int(pve_pam_authenticate("pved", user, "wrong", &err), -EACCES);
		check(err && strstr(err->message, "authentication failure") != NULL);
		pve_error_free(err), err = NULL;
		check_int(pve_pam_authenticate("pved", "pvedtest-nosuchuser", "x", &err), -EACCES);
		pve_error_free(err), err = NULL;
		check_int(pve_pam_authenticate("pved", user, "", &err), -EACCES);
		pve_error_free(err);
	}
	const char *const del[] = { "/usr/sbin/userdel", "-r", user, NULL };
	/* userdel -r complains that there is no home directory (-M): the user is gone anyway. */
	run(NULL, del);
	check(getpwnam(user) == NULL);
}

static bool san_has(X509 *x, int type, const char *value)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != type)
			continue;
		if (type == GEN_DNS) {
			const char *s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
			found |= strcmp(s, value) == 0;
		} else if (type == GEN_IPADD) {
			unsigned char want[16];
			int len = strchr(value, ':') ? 16 : 4;
			inet_pton(len == 16 ? AF_INET6 : AF_INET, value, want);
			found |= ASN1_STRING_length(g->d.iPAddress) == len &&
				 memcmp(ASN1_STRING_get0_data(g->d.iPAddress), want, (size_t)len) ==
					 0;
		}
	}
	GENERAL_NAMES_free(names);
	return found;
}

static X509 *parse_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

static void certificates(void)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *ca = NULL, *ca_key = NULL;
	check_int(pve_ca_create("pved Cluster Manager CA", &ca, &ca_key, &err), 0);
	if (!ca)
		return;
	char a1[] = "node1.example.com", a2[] = "192.0.2.10", a3[] = "2001:db8::1",
	     a4[] = "localhost";
	char *alt[] = { a1, a2, a3, a4, NULL };
	_cleanup_free_ char *cert = NULL, *key = NULL;
	check_int(pve_node_cert_create(ca, ca_key, "node1", alt, &cert, &key, &err), 0);
	if (!cert)
		return;

	X509 *cax = parse_cert(ca), *x = parse_cert(cert);
	check(cax && x);
	EVP_PKEY *capub = X509_get0_pubkey(cax);
	check_int(X509_verify(cax, capub), 1); /* self-signed */
	check_int(X509_verify(x, capub), 1); /* signed by the CA */
	check_int(X509_check_ca(cax), 1);
	check_int(X509_check_ca(x), 0);
	check(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	check(san_has(x, GEN_DNS, "node1"));
	check(san_has(x, GEN_DNS, "node1.example.com"));
	check(san_has(x, GEN_DNS, "localhost"));
	check(san_has(x, GEN_IPADD, "192.0.2.10"));
	check(san_has(x, GEN_IPADD, "2001:db8::1"));
	check(!san_has(x, GEN_DNS, "192.0.2.10"));
	/* The node key matches its certificate. */
	BIO *b = BIO_new_mem_buf(key, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	check(k && X509_check_private_key(x, k) == 1);
	/* Validity: about 2 years and 10 years. */
	int days = 0, secs = 0;
	ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
	check(days >= 729 && days <= 731);
	ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cax), X509_get0_notAfter(cax));
	check(days >= 3649 && days <= 3651);
	EVP_PKEY_free(k);
	X509_free(cax);
	X509_free(x);

	/* A mismatching CA key is refused; bad alt names are refused. */
	_cleanup_free_ char *ca2 = NULL, *ca2_key = NULL;
	check_int(pve_ca_create("other", &ca2, &ca2_key, &err), 0);
	_cleanup_free_ char *c3 = NULL, *k3 = NULL;
	check_int(pve_node_cert_create(ca, ca2_key, "node1", NULL, &c3, &k3, NULL), -EINVAL);
	char b1[] = "a,b";
	char *badalt[] = { b1, NULL };
	check_int(pve_node_cert_create(ca, ca_key, "node1", badalt, &c3, &k3, NULL), -EINVAL);
}

TEST_MAIN(TEST(authkey_generate_and_load), TEST(ticket_roundtrip), TEST(ticket_rejects),
	  TEST(ticket_rotation), TEST(csrf), TEST(spice_ticket), TEST(token_header),
	  TEST(token_secret), TEST(token_cfg), TEST(password_hash), TEST(shadow_cfg),
	  TEST(pam_real), TEST(certificates))
