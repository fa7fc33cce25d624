/* Fuzz target: the parsers of credentials a client sends: tickets (first line of the input), CSRF tokens,
 * SPICE proxy tickets and API token header values, plus token.cfg and shadow.cfg text. */
#include "access/access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One verifier key for the whole run: generating RSA keys per input would dominate. */
static pve_authkeys *keys(void)
{
	static pve_authkeys *k;
	if (!k) {
		char *priv = NULL, *pub = NULL;
		if (pve_authkey_generate(&priv, &pub, NULL) < 0 ||
		    pve_authkeys_load(priv, pub, pub, &k, NULL) < 0)
			abort();
		free(priv);
		free(pub);
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	char *data_out = NULL;
	int age;
	pve_error *err = NULL;

	if (pve_ticket_verify(keys(), "PVE", s, 1700000000, -300, 7200, &data_out, &age, &err) == 0)
		abort(); /* nobody can forge our signature */
	pve_error_free(err), err = NULL;

	(void)pve_csrf_verify("secret", "root@pam", s, 1700000000, NULL);

	/* what passes is well formed (the samples' known-answer ticket does) */
	pve_spice_target st;
	if (pve_spice_ticket_verify("key", s, 1700000000, &st, NULL) == 0 &&
	    (st.port < 1 || st.port > 65535 || st.vmid < 0 || !st.node[0]))
		abort();

	char *u = NULL, *n = NULL, *sec = NULL;
	if (pve_token_header_parse(s, &u, &n, &sec, &err) == 0) {
		if (!u || !n || !sec || strchr(n, '!') || !strchr(u, '@'))
			abort();
		(void)pve_token_secret_check(
			"$pved-sha256$00112233445566778899aabbccddeeff$"
			"0000000000000000000000000000000000000000000000000000000000000000",
			sec);
	}
	free(u), free(n), free(sec);
	pve_error_free(err), err = NULL;
	(void)pve_token_secret_check(s, "x");

	pve_tokencfg *tc = NULL;
	if (pve_tokencfg_parse((const char *)data, size, &tc, &err) == 0) {
		char *out = pve_tokencfg_print(tc);
		pve_tokencfg *tc2 = NULL;
		if (pve_tokencfg_parse(out, strlen(out), &tc2, NULL) < 0)
			abort();
		pve_tokencfg_free(tc2);
		free(out);
		pve_tokencfg_free(tc);
	}
	pve_error_free(err), err = NULL;

	pve_shadowcfg *sc = NULL;
	if (pve_shadowcfg_parse((const char *)data, size, &sc, &err) == 0) {
		char *out = pve_shadowcfg_print(sc);
		pve_shadowcfg *sc2 = NULL;
		if (pve_shadowcfg_parse(out, strlen(out), &sc2, NULL) < 0)
			abort();
		pve_shadowcfg_free(sc2);
		free(out);
		pve_shadowcfg_free(sc);
	}
	pve_error_free(err);

	free(data_out);
	free(s);
	return 0;
}
