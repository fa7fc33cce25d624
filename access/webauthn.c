/* access/webauthn.c: the pieces of WebAuthn (W3C Web Authentication, level 2) a relying party checks:
 * clientDataJSON, the attestation object and authenticator data (CBOR, through libcbor), COSE public
 * keys (ES256, RS256, EdDSA) and assertion signatures (OpenSSL); base64url. Each parser takes untrusted
 * bytes with a size limit and is fuzzed (tests/fuzz/fuzz-access-webauthn.c). */
#include <cbor.h>
#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "access/access-internal.h"

#define RP_ID_HASH_LEN 32
#define AUTH_DATA_MIN 37 /* rpIdHash, flags, signCount */
#define FLAG_UP 0x01 /* user present */
#define FLAG_AT 0x40 /* attested credential data follows */
#define FLAG_ED 0x80 /* extensions follow */

/* COSE (RFC 9053) key parameters and algorithms. */
#define COSE_KTY 1
#define COSE_ALG 3
#define COSE_EC2_CRV -1
#define COSE_EC2_X -2
#define COSE_EC2_Y -3
#define COSE_RSA_N -1
#define COSE_RSA_E -2
#define COSE_OKP_CRV -1
#define COSE_OKP_X -2
#define COSE_KTY_OKP 1
#define COSE_KTY_EC2 2
#define COSE_KTY_RSA 3
#define COSE_CRV_P256 1
#define COSE_CRV_ED25519 6

/* ---- base64url (RFC 4648 section 5, no padding) ---------------------------------------------------------- */

char *pve_base64url(const unsigned char *data, size_t len)
{
	char *s = access_base64(data, len, false);
	for (char *p = s; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return s;
}

int pve_unbase64url(const char *s, size_t max, unsigned char **ret, size_t *ret_len,
		    pve_error **err)
{
	size_t n = s ? strlen(s) : 0;
	if (n > 4 * ((max + 2) / 3) + 2)
		return pve_error_set(err, E2BIG, "base64url value longer than %zu bytes", max);
	_cleanup_free_ char *std = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		/* Standard base64's own characters are refused: one value, one spelling. */
		if (c == '+' || c == '/' || c == '=')
			return pve_error_set(err, EINVAL, "invalid base64url value");
		std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	std[n] = '\0';
	unsigned char *out = xmalloc(n * 3 / 4 + 3);
	ssize_t got = access_unbase64(std, n, out);
	if (got < 0 || (size_t)got > max) {
		free(out);
		return pve_error_set(err, EINVAL, "invalid base64url value");
	}
	*ret = out;
	*ret_len = (size_t)got;
	return 0;
}

/* ---- configuration: datacenter.cfg's "webauthn: rp=NAME,origin=URL,id=RPID" ----------------------------- */

void pve_webauthn_config_clear(pve_webauthn_config *c)
{
	free(c->rp);
	free(c->origin);
	free(c->id);
	*c = (pve_webauthn_config){ 0 };
}

int pve_webauthn_config_parse(const char *value, pve_webauthn_config *ret, pve_error **err)
{
	pve_webauthn_config c = { 0 };
	_cleanup_free_ char *copy = xstrdup(value ? value : "");
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		while (*kv == ' ' || *kv == '\t')
			kv++;
		char *eq = strchr(kv, '=');
		if (!eq) {
			pve_webauthn_config_clear(&c);
			return pve_error_set(err, EINVAL, "webauthn: '%s' is not key=value", kv);
		}
		*eq = '\0';
		const char *v = eq + 1;
		char **slot = streq(kv, "rp")	  ? &c.rp :
			      streq(kv, "origin") ? &c.origin :
			      streq(kv, "id")	  ? &c.id :
						    NULL;
		/* allow-subdomains and what later versions add change nothing here. */
		if (!slot)
			continue;
		if (!*v || strlen(v) > 256 || strpbrk(v, "\"\\ \t\r\n")) {
			pve_webauthn_config_clear(&c);
			return pve_error_set(err, EINVAL, "webauthn: invalid %s '%s'", kv, v);
		}
		free(*slot);
		*slot = xstrdup(v);
	}
	if (!c.id || !c.origin) {
		pve_webauthn_config_clear(&c);
		return pve_error_set(err, EINVAL, "webauthn: 'id' and 'origin' are required");
	}
	if (!c.rp)
		c.rp = xstrdup(c.id);
	*ret = c;
	return 0;
}

/* ---- clientDataJSON ------------------------------------------------------------------------------------- */

int pve_webauthn_check_client_data(const unsigned char *data, size_t len, const char *type,
				   const char *challenge, const char *origin, pve_error **err)
{
	if (len > PVE_WEBAUTHN_MAX_CLIENT_DATA)
		return pve_error_set(err, E2BIG, "clientDataJSON too long");
	_cleanup_json_ cJSON *cd =
		pve_json_parse((const char *)data, len, PVE_WEBAUTHN_MAX_CLIENT_DATA, 4, err);
	if (!cd || !cJSON_IsObject(cd))
		return pve_error_set(err, EINVAL, "clientDataJSON is not a JSON object");
	const char *t = pve_json_str(cd, "type"), *ch = pve_json_str(cd, "challenge"),
		   *o = pve_json_str(cd, "origin");
	if (!t || !streq(t, type))
		return pve_error_set(err, EACCES, "clientDataJSON: type is not %s", type);
	if (!ch || !challenge || !access_streq_ct(ch, challenge))
		return pve_error_set(err, EACCES, "clientDataJSON: wrong challenge");
	if (!o || !origin || !streq(o, origin))
		return pve_error_set(err, EACCES, "clientDataJSON: origin '%.128s' is not '%s'",
				     o ? o : "", origin ? origin : "");
	/* A credential made for another top-level site in a frame is not this origin's. */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cd, "crossOrigin")))
		return pve_error_set(err, EACCES, "clientDataJSON: cross-origin request");
	return 0;
}

/* ---- CBOR helpers ----------------------------------------------------------------------------------------- */

static void cbor_freep(cbor_item_t **i)
{
	if (*i)
		cbor_decref(i);
}
#define _cleanup_cbor_ _cleanup_(cbor_freep)

/* A definite CBOR map's value for the integer key k (negative for COSE's labels), or NULL. */
static cbor_item_t *map_int(const cbor_item_t *map, int64_t k)
{
	if (!cbor_isa_map(map) || !cbor_map_is_definite(map))
		return NULL;
	struct cbor_pair *p = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++) {
		const cbor_item_t *key = p[i].key;
		int64_t v;
		if (cbor_isa_uint(key))
			v = cbor_get_int(key) > INT64_MAX ? INT64_MIN : (int64_t)cbor_get_int(key);
		else if (cbor_isa_negint(key))
			v = cbor_get_int(key) >= INT64_MAX ? INT64_MIN :
							     -1 - (int64_t)cbor_get_int(key);
		else
			continue;
		if (v == k)
			return p[i].value;
	}
	return NULL;
}

/* A definite CBOR map's value for the text key k, or NULL. */
static cbor_item_t *map_str(const cbor_item_t *map, const char *k)
{
	if (!cbor_isa_map(map) || !cbor_map_is_definite(map))
		return NULL;
	size_t klen = strlen(k);
	struct cbor_pair *p = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++) {
		const cbor_item_t *key = p[i].key;
		if (cbor_isa_string(key) && cbor_string_is_definite(key) &&
		    cbor_string_length(key) == klen &&
		    memcmp(cbor_string_handle(key), k, klen) == 0)
			return p[i].value;
	}
	return NULL;
}

static bool int_value(const cbor_item_t *i, int64_t *ret)
{
	if (!i)
		return false;
	if (cbor_isa_uint(i) && cbor_get_int(i) <= INT64_MAX) {
		*ret = (int64_t)cbor_get_int(i);
		return true;
	}
	if (cbor_isa_negint(i) && cbor_get_int(i) < INT64_MAX) {
		*ret = -1 - (int64_t)cbor_get_int(i);
		return true;
	}
	return false;
}

static bool bytes_value(const cbor_item_t *i, const unsigned char **ret, size_t *ret_len)
{
	if (!i || !cbor_isa_bytestring(i) || !cbor_bytestring_is_definite(i))
		return false;
	*ret = cbor_bytestring_handle(i);
	*ret_len = cbor_bytestring_length(i);
	return true;
}

/* libcbor's cbor_load allocates an array or map of the size its header declares before it reads a
 * member: eight bytes could ask for gigabytes. Each header is checked first with the streaming
 * decoder: a collection declares no more members than bytes are left to hold them, and the items are
 * few. */
typedef struct cbor_scan {
	size_t left; /* bytes from the header being decoded on */
	size_t items;
	bool bad;
} cbor_scan;

#define CBOR_MAX_ITEMS 1024

static void scan_array(void *ctx, size_t n)
{
	cbor_scan *s = ctx;
	s->bad |= n > s->left;
}

static void scan_map(void *ctx, size_t n)
{
	cbor_scan *s = ctx;
	s->bad |= n > s->left / 2;
}

static int cbor_prescan(const unsigned char *data, size_t len, pve_error **err)
{
	struct cbor_callbacks cb = cbor_empty_callbacks;
	cb.array_start = scan_array;
	cb.map_start = scan_map;
	cbor_scan s = { 0 };
	for (size_t pos = 0; pos < len;) {
		s.left = len - pos;
		struct cbor_decoder_result r = cbor_stream_decode(data + pos, len - pos, &cb, &s);
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
			return pve_error_set(err, EINVAL, "invalid CBOR at byte %zu", pos);
		pos += r.read;
		if (s.bad || ++s.items > CBOR_MAX_ITEMS)
			return pve_error_set(err, EINVAL, "invalid CBOR at byte %zu", pos);
	}
	return 0;
}

/* One CBOR item from the start of data (len bytes), its size in *ret_used. */
static cbor_item_t *load_one(const unsigned char *data, size_t len, size_t *ret_used,
			     pve_error **err)
{
	if (cbor_prescan(data, len, err) < 0)
		return NULL;
	struct cbor_load_result res;
	cbor_item_t *i = cbor_load(data, len, &res);
	if (!i || res.error.code != CBOR_ERR_NONE) {
		if (i)
			cbor_decref(&i);
		pve_error_set(err, EINVAL, "invalid CBOR at byte %zu", res.error.position);
		return NULL;
	}
	*ret_used = res.read;
	return i;
}

/* ---- COSE keys -------------------------------------------------------------------------------------------- */

static EVP_PKEY *pkey_from(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return k;
}

int access_webauthn_cose_key(const unsigned char *cose, size_t len, EVP_PKEY **ret, int *ret_alg,
			     pve_error **err)
{
	if (len > PVE_WEBAUTHN_MAX_COSE_KEY)
		return pve_error_set(err, E2BIG, "COSE key too long");
	size_t used = 0;
	_cleanup_cbor_ cbor_item_t *key = load_one(cose, len, &used, err);
	if (!key)
		return -EINVAL;
	int64_t kty, alg, crv = 0;
	if (!int_value(map_int(key, COSE_KTY), &kty) || !int_value(map_int(key, COSE_ALG), &alg))
		return pve_error_set(err, EINVAL, "COSE key without kty or alg");
	const unsigned char *x = NULL, *y = NULL, *n = NULL, *e = NULL;
	size_t xl = 0, yl = 0, nl = 0, el = 0;
	EVP_PKEY *k = NULL;
	if (kty == COSE_KTY_EC2 && alg == PVE_COSE_ES256) {
		if (!int_value(map_int(key, COSE_EC2_CRV), &crv) || crv != COSE_CRV_P256 ||
		    !bytes_value(map_int(key, COSE_EC2_X), &x, &xl) ||
		    !bytes_value(map_int(key, COSE_EC2_Y), &y, &yl) || xl != 32 || yl != 32)
			return pve_error_set(err, EINVAL, "invalid ES256 COSE key");
		unsigned char point[65] = { 0x04 };
		memcpy(point + 1, x, 32);
		memcpy(point + 33, y, 32);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (bld &&
		    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
						    0) &&
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
						     sizeof(point)))
			k = pkey_from("EC", bld);
		OSSL_PARAM_BLD_free(bld);
	} else if (kty == COSE_KTY_RSA && alg == PVE_COSE_RS256) {
		if (!bytes_value(map_int(key, COSE_RSA_N), &n, &nl) ||
		    !bytes_value(map_int(key, COSE_RSA_E), &e, &el) || nl < 256 || nl > 1024 ||
		    el == 0 || el > 8)
			return pve_error_set(err, EINVAL, "invalid RS256 COSE key");
		BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
			k = pkey_from("RSA", bld);
		OSSL_PARAM_BLD_free(bld);
		BN_free(bn);
		BN_free(be);
	} else if (kty == COSE_KTY_OKP && alg == PVE_COSE_EDDSA) {
		if (!int_value(map_int(key, COSE_OKP_CRV), &crv) || crv != COSE_CRV_ED25519 ||
		    !bytes_value(map_int(key, COSE_OKP_X), &x, &xl) || xl != 32)
			return pve_error_set(err, EINVAL, "invalid EdDSA COSE key");
		k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
	} else {
		return pve_error_set(err, EINVAL, "unsupported COSE key (kty %lld, alg %lld)",
				     (long long)kty, (long long)alg);
	}
	if (!k)
		return pve_error_set(err, EINVAL, "COSE key is not a valid public key");
	if (ret)
		*ret = k;
	else
		EVP_PKEY_free(k);
	if (ret_alg)
		*ret_alg = (int)alg;
	return (int)used;
}

/* A signature by key (COSE algorithm alg) over a || b. */
static int verify_sig(EVP_PKEY *key, int alg, const unsigned char *a, size_t al,
		      const unsigned char *b, size_t bl, const unsigned char *sig, size_t sl,
		      pve_error **err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = 0;
	if (alg == PVE_COSE_EDDSA) {
		/* Ed25519 signs the message itself: one buffer. */
		unsigned char *m = xmalloc(al + bl);
		memcpy(m, a, al);
		memcpy(m + al, b, bl);
		ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestVerify(md, sig, sl, m, al + bl) == 1;
		free(m);
	} else {
		ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		     EVP_DigestVerifyUpdate(md, a, al) == 1 &&
		     EVP_DigestVerifyUpdate(md, b, bl) == 1 &&
		     EVP_DigestVerifyFinal(md, sig, sl) == 1;
	}
	EVP_MD_CTX_free(md);
	return ok ? 0 : pve_error_set(err, EACCES, "invalid signature");
}

/* ---- authenticator data ----------------------------------------------------------------------------------- */

typedef struct auth_data {
	uint8_t flags;
	uint32_t counter;
	const unsigned char *cred_id, *cose;
	size_t cred_id_len, cose_len;
} auth_data;

/* rpIdHash (must be SHA-256 of rp_id), flags (user present), signCount, and with attested, the
 * credential (AAGUID, id, COSE key). */
static int parse_auth_data(const unsigned char *ad, size_t len, const char *rp_id, bool attested,
			   auth_data *ret, pve_error **err)
{
	if (len < AUTH_DATA_MIN || len > PVE_WEBAUTHN_MAX_AUTH_DATA)
		return pve_error_set(err, EINVAL, "authenticator data of %zu bytes", len);
	unsigned char want[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)rp_id, strlen(rp_id), want);
	if (CRYPTO_memcmp(ad, want, RP_ID_HASH_LEN) != 0)
		return pve_error_set(err, EACCES, "authenticator data is not for '%s'", rp_id);
	auth_data a = { .flags = ad[32] };
	a.counter = (uint32_t)ad[33] << 24 | (uint32_t)ad[34] << 16 | (uint32_t)ad[35] << 8 |
		    ad[36];
	if (!(a.flags & FLAG_UP))
		return pve_error_set(err, EACCES, "the user was not present");
	if (attested) {
		if (!(a.flags & FLAG_AT) || len < AUTH_DATA_MIN + 18)
			return pve_error_set(err, EINVAL, "no attested credential data");
		size_t off = AUTH_DATA_MIN + 16; /* past the AAGUID */
		size_t idl = (size_t)ad[off] << 8 | ad[off + 1];
		off += 2;
		if (idl == 0 || idl > PVE_WEBAUTHN_MAX_CRED_ID || idl > len - off)
			return pve_error_set(err, EINVAL, "invalid credential id length");
		a.cred_id = ad + off;
		a.cred_id_len = idl;
		off += idl;
		int used = access_webauthn_cose_key(ad + off, len - off, NULL, NULL, err);
		if (used < 0)
			return used;
		a.cose = ad + off;
		a.cose_len = (size_t)used;
		off += (size_t)used;
		/* Extensions may follow, nothing else. */
		if (off != len && !(a.flags & FLAG_ED))
			return pve_error_set(err, EINVAL, "trailing bytes in authenticator data");
	}
	*ret = a;
	return 0;
}

void pve_webauthn_credential_clear(pve_webauthn_credential *c)
{
	free(c->cred_id);
	free(c->cose);
	*c = (pve_webauthn_credential){ 0 };
}

int pve_webauthn_parse_attestation(const unsigned char *att, size_t len,
				   const unsigned char *client_data, size_t cd_len,
				   const char *rp_id, pve_webauthn_credential *ret, pve_error **err)
{
	if (len > PVE_WEBAUTHN_MAX_ATTESTATION)
		return pve_error_set(err, E2BIG, "attestation object too long");
	size_t used = 0;
	_cleanup_cbor_ cbor_item_t *obj = load_one(att, len, &used, err);
	if (!obj)
		return -EINVAL;
	if (used != len)
		return pve_error_set(err, EINVAL, "trailing bytes after the attestation object");
	const cbor_item_t *fmt = map_str(obj, "fmt"), *stmt = map_str(obj, "attStmt");
	const unsigned char *ad;
	size_t adl;
	if (!fmt || !cbor_isa_string(fmt) || !cbor_string_is_definite(fmt) || !stmt ||
	    !cbor_isa_map(stmt) || !cbor_map_is_definite(stmt) ||
	    !bytes_value(map_str(obj, "authData"), &ad, &adl))
		return pve_error_set(err, EINVAL,
				     "attestation object lacks fmt, attStmt or authData");
	auth_data a;
	int r = parse_auth_data(ad, adl, rp_id, true, &a, err);
	if (r < 0)
		return r;
	size_t fl = cbor_string_length(fmt);
	const char *f = (const char *)cbor_string_handle(fmt);
	if (fl == 4 && memcmp(f, "none", 4) == 0) {
		/* What the relying party asked for (attestation "none"): no statement. */
		if (cbor_map_size(stmt) != 0)
			return pve_error_set(err, EINVAL, "'none' attestation with a statement");
	} else if (fl == 6 && memcmp(f, "packed", 6) == 0) {
		/* Self attestation: signed with the new credential's own key. A statement from a
		 * vendor's certificate (x5c) proves a model, which nothing here asks for. */
		const unsigned char *sig;
		size_t sl;
		int64_t alg;
		if (map_str(stmt, "x5c"))
			return pve_error_set(err, EINVAL,
					     "attestation with a certificate was not asked for");
		if (!int_value(map_str(stmt, "alg"), &alg) ||
		    !bytes_value(map_str(stmt, "sig"), &sig, &sl))
			return pve_error_set(err, EINVAL, "packed attestation lacks alg or sig");
		EVP_PKEY *k = NULL;
		int kalg = 0;
		if (access_webauthn_cose_key(a.cose, a.cose_len, &k, &kalg, err) < 0)
			return -EINVAL;
		unsigned char cdh[SHA256_DIGEST_LENGTH];
		SHA256(client_data, cd_len, cdh);
		r = kalg != alg ?
			    pve_error_set(err, EINVAL, "attestation alg differs from the key's") :
			    verify_sig(k, kalg, ad, adl, cdh, sizeof(cdh), sig, sl, err);
		EVP_PKEY_free(k);
		if (r < 0)
			return r;
	} else {
		return pve_error_set(err, EINVAL, "unsupported attestation format '%.*s'",
				     (int)(fl > 32 ? 32 : fl), f);
	}
	pve_webauthn_credential c = {
		.cred_id = xmalloc(a.cred_id_len),
		.cred_id_len = a.cred_id_len,
		.cose = xmalloc(a.cose_len),
		.cose_len = a.cose_len,
		.counter = a.counter,
	};
	memcpy(c.cred_id, a.cred_id, a.cred_id_len);
	memcpy(c.cose, a.cose, a.cose_len);
	*ret = c;
	return 0;
}

int pve_webauthn_verify_assertion(const unsigned char *cose, size_t cose_len, const char *rp_id,
				  const unsigned char *auth_data_bytes, size_t ad_len,
				  const unsigned char *client_data, size_t cd_len,
				  const unsigned char *sig, size_t sig_len, uint32_t *ret_counter,
				  pve_error **err)
{
	auth_data a;
	int r = parse_auth_data(auth_data_bytes, ad_len, rp_id, false, &a, err);
	if (r < 0)
		return r;
	if (sig_len == 0 || sig_len > PVE_WEBAUTHN_MAX_SIGNATURE)
		return pve_error_set(err, EINVAL, "invalid signature length");
	EVP_PKEY *k = NULL;
	int alg = 0;
	if (access_webauthn_cose_key(cose, cose_len, &k, &alg, err) < 0)
		return -EINVAL;
	unsigned char cdh[SHA256_DIGEST_LENGTH];
	SHA256(client_data, cd_len, cdh);
	r = verify_sig(k, alg, auth_data_bytes, ad_len, cdh, sizeof(cdh), sig, sig_len, err);
	EVP_PKEY_free(k);
	if (r < 0)
		return r;
	if (ret_counter)
		*ret_counter = a.counter;
	return 0;
}
