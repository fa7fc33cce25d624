/* Fuzz target: WebAuthn's untrusted inputs. The first byte picks the parser: 0 an attestation object
 * (CBOR, authData, COSE key, a packed statement), 1 clientDataJSON, 2 a COSE key, 3 an assertion (u16
 * COSE key length, the key, u16 authData length, authData, the signature), 4 a browser's
 * PublicKeyCredential JSON through tfa.cfg's registration and login, 5 base64url and the datacenter.cfg
 * setting. */
#include <cjson/cJSON.h>

#include "access/access-internal.h"
#include <openssl/evp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char client_data[] =
	"{\"type\":\"webauthn.create\",\"challenge\":\"AAAA\",\"origin\":\"http://localhost\"}";

static size_t take_u16(const uint8_t **p, size_t *left)
{
	if (*left < 2)
		return 0;
	size_t n = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	return n > *left ? *left : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *p = data + 1;
	size_t left = size - 1;
	pve_webauthn_credential c = { 0 };
	pve_webauthn_config wa = { .rp = (char *)"pve",
				   .origin = (char *)"http://localhost",
				   .id = (char *)"localhost" };
	switch (mode % 6) {
	case 0:
		if (pve_webauthn_parse_attestation(p, left, client_data, sizeof(client_data) - 1,
						   "localhost", &c, NULL) == 0) {
			if (!c.cred_id_len || !c.cose_len)
				abort();
			pve_webauthn_credential_clear(&c);
		}
		break;
	case 1:
		(void)pve_webauthn_check_client_data(p, left, "webauthn.get", "AAAA",
						     "http://localhost", NULL);
		break;
	case 2: {
		EVP_PKEY *k = NULL;
		int alg = 0;
		int used = access_webauthn_cose_key(p, left, &k, &alg, NULL);
		if (used >= 0 && ((size_t)used > left || !k))
			abort();
		EVP_PKEY_free(k);
		break;
	}
	case 3: {
		size_t kl = take_u16(&p, &left);
		const uint8_t *key = p;
		p += kl;
		left -= kl;
		size_t al = take_u16(&p, &left);
		const uint8_t *ad = p;
		p += al;
		left -= al;
		(void)pve_webauthn_verify_assertion(key, kl, "localhost", ad, al, client_data,
						    sizeof(client_data) - 1, p, left, NULL, NULL);
		break;
	}
	case 4: {
		char *json = strndup((const char *)p, left);
		pve_tfacfg *t = pve_tfacfg_new();
		char *ch = NULL;
		if (pve_tfacfg_webauthn_challenge(t, "a@pve", &wa, 1000, &ch, NULL) == 0) {
			(void)pve_tfacfg_webauthn_register(t, "a@pve", &wa, ch, json, NULL, 1001,
							   NULL, NULL);
			(void)pve_tfacfg_verify_webauthn(t, "a@pve", &wa, "AAAA", json, 1002, NULL);
		}
		free(ch);
		pve_tfacfg_free(t);
		free(json);
		break;
	}
	case 5: {
		char *s = strndup((const char *)p, left);
		unsigned char *b = NULL;
		size_t n = 0;
		if (pve_unbase64url(s, 4096, &b, &n, NULL) == 0) {
			char *back = pve_base64url(b, n);
			free(back);
			free(b);
		}
		pve_webauthn_config cfg = { 0 };
		if (pve_webauthn_config_parse(s, &cfg, NULL) == 0)
			pve_webauthn_config_clear(&cfg);
		free(s);
		break;
	}
	}
	return 0;
}
