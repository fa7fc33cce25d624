/* The HTTPS client's certificate fingerprints (client/client.c): a PEM certificate's SHA-256 as
 * `openssl x509 -fingerprint -sha256` prints it, and the spellings of a fingerprint it accepts. */
#include <ctype.h>

#include "access/access.h"
#include "client/client.h"
#include "tests/unit/test.h"

/* What `openssl x509 -noout -fingerprint -sha256` says of the certificate in path, or NULL. */
static char *openssl_fingerprint(const char *path)
{
	_cleanup_free_ char *cmd =
		xasprintf("openssl x509 -noout -fingerprint -sha256 -in '%s' 2>/dev/null", path);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	char line[256] = "";
	bool got = fgets(line, sizeof(line), f) != NULL;
	if (pclose(f) != 0 || !got)
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	const char *eq = strchr(line, '=');
	return eq ? xstrdup(eq + 1) : NULL;
}

static void pem_fingerprint(void)
{
	if (system("openssl version >/dev/null 2>&1") != 0) {
		test_skip("no openssl command");
		return;
	}
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *ca = NULL, *ca_key = NULL, *cert = NULL, *key = NULL;
	check_int(pve_ca_create("test CA", &ca, &ca_key, &err), 0);
	check_int(pve_node_cert_create(ca, ca_key, "node1", NULL, &cert, &key, &err), 0);
	if (!ca || !cert)
		return;
	const char *pems[] = { ca, cert };
	for (size_t i = 0; i < ELEMENTSOF(pems); i++) {
		_cleanup_free_ char *path = xasprintf("%s/cert%zu.pem", test_tmpdir(), i);
		FILE *f = fopen(path, "we");
		check(f && fputs(pems[i], f) >= 0);
		if (f)
			fclose(f);
		_cleanup_free_ char *want = openssl_fingerprint(path);
		_cleanup_free_ char *got = pve_client_pem_fingerprint(pems[i], strlen(pems[i]));
		check(want != NULL);
		check_streq(got, want);
		/* of a chain, the first certificate counts */
		_cleanup_free_ char *chain = xasprintf("%s%s", pems[i], pems[1 - i]);
		_cleanup_free_ char *first = pve_client_pem_fingerprint(chain, strlen(chain));
		check_streq(first, want);
	}
	/* the two certificates differ, and so do their fingerprints */
	_cleanup_free_ char *a = pve_client_pem_fingerprint(ca, strlen(ca));
	_cleanup_free_ char *b = pve_client_pem_fingerprint(cert, strlen(cert));
	check(a && b && strcmp(a, b) != 0);
	/* the length is the PEM's: a certificate cut short is none */
	check(pve_client_pem_fingerprint(cert, strlen(cert) / 2) == NULL);
	check(pve_client_pem_fingerprint("not a certificate", 17) == NULL);
	check(pve_client_pem_fingerprint(key, strlen(key)) == NULL);
	check(pve_client_pem_fingerprint("", 0) == NULL);
}

static void fingerprint_normalize(void)
{
	const char *canon = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
			    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
	_cleanup_free_ char *lower = xstrdup(canon);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	_cleanup_free_ char *bare = xstrdup("");
	for (const char *p = canon; *p; p++)
		if (*p != ':') {
			char *n = xasprintf("%s%c", bare, *p);
			free(bare);
			bare = n;
		}
	const char *same[] = { canon, lower, bare };
	for (size_t i = 0; i < ELEMENTSOF(same); i++) {
		_cleanup_free_ char *n = pve_client_fingerprint_normalize(same[i]);
		check_streq(n, canon);
	}
	/* 31 or 33 bytes, an odd digit, a non-hex character: none */
	const char *bad[] = { canon + 3, "AA:BB", "", "0:11:22", "GG:" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		check(pve_client_fingerprint_normalize(bad[i]) == NULL);
	_cleanup_free_ char *longer = xasprintf("%s:00", canon);
	check(pve_client_fingerprint_normalize(longer) == NULL);

	/* a client is made with either spelling, and refuses what is none */
	_cleanup_error_ pve_error *err = NULL;
	pve_client *c = NULL;
	check_int(pve_client_new("127.0.0.1", "8006", lower, &c, &err), 0);
	check(c && pve_client_peer_fingerprint(c) == NULL);
	pve_client_free(c);
	c = NULL;
	check_int(pve_client_new("127.0.0.1", "8006", "AA:BB", &c, &err), -EINVAL);
	check(c == NULL && err && strstr(err->message, "AA:BB"));
	pve_client_free(NULL);
}

TEST_MAIN(TEST(pem_fingerprint), TEST(fingerprint_normalize))
