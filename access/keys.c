/* access/keys.c: the ticket key pair (generate, load), the cluster CA and node certificates, and the
 * CSRF secret, all as PEM text in and out. */
#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "access/access-internal.h"
#include "access/keys-internal.h"

#define PEM_MAX (64 * 1024)

static void evp_pkey_freep(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}
static void x509_freep(X509 **p)
{
	X509_free(*p);
}
static void bio_freep(BIO **p)
{
	BIO_free_all(*p);
}
#define _cleanup_pkey_ _cleanup_(evp_pkey_freep)
#define _cleanup_x509_ _cleanup_(x509_freep)
#define _cleanup_bio_ _cleanup_(bio_freep)

/* The OpenSSL error queue's last entry, for a message; clears the queue. */
static int ssl_error(pve_error **err, int code, const char *what)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return pve_error_set(err, code, "%s: %s", what, buf);
}

static EVP_PKEY *rsa_generate(void)
{
	return EVP_RSA_gen(2048);
}

static char *pem_private(EVP_PKEY *key)
{
	_cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		return NULL;
	char *data;
	long n = BIO_get_mem_data(b, &data);
	return xstrndup(data, (size_t)n);
}

static char *pem_public(EVP_PKEY *key)
{
	_cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_PUBKEY(b, key))
		return NULL;
	char *data;
	long n = BIO_get_mem_data(b, &data);
	return xstrndup(data, (size_t)n);
}

static char *pem_cert(X509 *x)
{
	_cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509(b, x))
		return NULL;
	char *data;
	long n = BIO_get_mem_data(b, &data);
	return xstrndup(data, (size_t)n);
}

static BIO *pem_bio(const char *pem)
{
	size_t len = strnlen(pem, PEM_MAX + 1);
	if (len > PEM_MAX)
		return NULL;
	return BIO_new_mem_buf(pem, (int)len);
}

static EVP_PKEY *load_private(const char *pem, const char *what, pve_error **err)
{
	_cleanup_bio_ BIO *b = pem_bio(pem);
	if (!b) {
		pve_error_set(err, EINVAL, "%s: too large", what);
		return NULL;
	}
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (!k)
		ssl_error(err, EINVAL, what);
	return k;
}

static EVP_PKEY *load_public(const char *pem, const char *what, pve_error **err)
{
	_cleanup_bio_ BIO *b = pem_bio(pem);
	if (!b) {
		pve_error_set(err, EINVAL, "%s: too large", what);
		return NULL;
	}
	/* SubjectPublicKeyInfo ("PUBLIC KEY"), as Proxmox writes authkey.pub. */
	EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (!k)
		ssl_error(err, EINVAL, what);
	return k;
}

static X509 *load_cert(const char *pem, const char *what, pve_error **err)
{
	_cleanup_bio_ BIO *b = pem_bio(pem);
	if (!b) {
		pve_error_set(err, EINVAL, "%s: too large", what);
		return NULL;
	}
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!x)
		ssl_error(err, EINVAL, what);
	return x;
}

int pve_authkey_generate(char **ret_key_pem, char **ret_pub_pem, pve_error **err)
{
	_cleanup_pkey_ EVP_PKEY *key = rsa_generate();
	if (!key)
		return ssl_error(err, EIO, "cannot generate RSA key");
	_cleanup_free_ char *priv = pem_private(key);
	_cleanup_free_ char *pub = pem_public(key);
	if (!priv || !pub)
		return ssl_error(err, EIO, "cannot write RSA key");
	*ret_key_pem = TAKE_PTR(priv);
	*ret_pub_pem = TAKE_PTR(pub);
	return 0;
}

int pve_authkeys_load(const char *key_pem, const char *pub_pem, const char *old_pub_pem,
		      pve_authkeys **ret, pve_error **err)
{
	pve_authkeys *k = xcalloc(1, sizeof(*k));
	int r = -EINVAL;

	if (key_pem) {
		k->priv = load_private(key_pem, "authkey.key", err);
		if (!k->priv)
			goto fail;
		if (EVP_PKEY_get_base_id(k->priv) != EVP_PKEY_RSA) {
			r = pve_error_set(err, EINVAL, "authkey.key: not an RSA key");
			goto fail;
		}
	}
	if (pub_pem) {
		k->pub = load_public(pub_pem, "authkey.pub", err);
		if (!k->pub)
			goto fail;
	} else if (k->priv) {
		k->pub = k->priv;
		EVP_PKEY_up_ref(k->pub);
	} else {
		r = pve_error_set(err, EINVAL, "no public key for tickets");
		goto fail;
	}
	if (EVP_PKEY_get_base_id(k->pub) != EVP_PKEY_RSA) {
		r = pve_error_set(err, EINVAL, "authkey.pub: not an RSA key");
		goto fail;
	}
	if (old_pub_pem) {
		k->old_pub = load_public(old_pub_pem, "authkey.pub.old", err);
		if (!k->old_pub)
			goto fail;
		if (EVP_PKEY_get_base_id(k->old_pub) != EVP_PKEY_RSA) {
			r = pve_error_set(err, EINVAL, "authkey.pub.old: not an RSA key");
			goto fail;
		}
	}
	*ret = k;
	return 0;
fail:
	pve_authkeys_free(k);
	return r;
}

void pve_authkeys_free(pve_authkeys *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->priv);
	EVP_PKEY_free(k->pub);
	EVP_PKEY_free(k->old_pub);
	free(k);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	int r = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return r == 1 ? 0 : -1;
}

static int set_serial(X509 *x)
{
	unsigned char raw[16];
	access_random(raw, sizeof(raw));
	raw[0] &= 0x7f; /* positive */
	BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (!bn)
		return -1;
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ai ? 0 : -1;
}

static X509 *cert_new(EVP_PKEY *key, const char *cn, long days)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), days * 24 * 3600) ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)"pved", -1,
				       -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				       0) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int pve_ca_create(const char *cn, char **ret_cert_pem, char **ret_key_pem, pve_error **err)
{
	if (!cn || !*cn || strlen(cn) > 64)
		return pve_error_set(err, EINVAL, "invalid CA common name");
	_cleanup_pkey_ EVP_PKEY *key = rsa_generate();
	if (!key)
		return ssl_error(err, EIO, "cannot generate CA key");
	_cleanup_x509_ X509 *x = cert_new(key, cn, 3650);
	if (!x)
		return ssl_error(err, EIO, "cannot create CA certificate");
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		return ssl_error(err, EIO, "cannot sign CA certificate");
	_cleanup_free_ char *cert = pem_cert(x);
	_cleanup_free_ char *priv = pem_private(key);
	if (!cert || !priv)
		return ssl_error(err, EIO, "cannot write CA certificate");
	*ret_cert_pem = TAKE_PTR(cert);
	*ret_key_pem = TAKE_PTR(priv);
	return 0;
}

/* A DNS name for a SAN: no commas (they would split the extension string) and printable. */
static bool san_name_ok(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == ',' || c == ':')
			return false;
	}
	return true;
}

static void san_append(pve_buf *san, const char *name)
{
	unsigned char addr[sizeof(struct in6_addr)];
	bool ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
	pve_buf_printf(san, "%s%s:%s", san->len ? "," : "", ip ? "IP" : "DNS", name);
}

int pve_node_cert_create(const char *ca_cert_pem, const char *ca_key_pem, const char *node,
			 char *const *altnames, char **ret_cert_pem, char **ret_key_pem,
			 pve_error **err)
{
	if (!node || !san_name_ok(node) || strlen(node) > 64)
		return pve_error_set(err, EINVAL, "invalid node name '%s'", node ? node : "");
	/* IPv6 addresses contain ':', which san_name_ok refuses for DNS names: check by kind. */
	for (char *const *a = altnames; a && *a; a++) {
		unsigned char addr[sizeof(struct in6_addr)];
		if (inet_pton(AF_INET6, *a, addr) == 1 || inet_pton(AF_INET, *a, addr) == 1)
			continue;
		if (!san_name_ok(*a))
			return pve_error_set(err, EINVAL, "invalid certificate alt name '%s'", *a);
	}
	if (strv_length(altnames) > 100)
		return pve_error_set(err, E2BIG, "too many certificate alt names");

	_cleanup_x509_ X509 *ca = load_cert(ca_cert_pem, "CA certificate", err);
	if (!ca)
		return -EINVAL;
	_cleanup_pkey_ EVP_PKEY *ca_key = load_private(ca_key_pem, "CA key", err);
	if (!ca_key)
		return -EINVAL;
	if (X509_check_private_key(ca, ca_key) != 1)
		return ssl_error(err, EINVAL, "CA key does not match the CA certificate");

	_cleanup_pkey_ EVP_PKEY *key = rsa_generate();
	if (!key)
		return ssl_error(err, EIO, "cannot generate node key");
	_cleanup_x509_ X509 *x = cert_new(key, node, 730);
	if (!x)
		return ssl_error(err, EIO, "cannot create node certificate");

	_cleanup_(pve_buf_free) pve_buf san = { 0 };
	san_append(&san, node);
	for (char *const *a = altnames; a && *a; a++)
		if (strcmp(*a, node) != 0)
			san_append(&san, *a);

	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(x, ca, NID_subject_alt_name, san.data) < 0 ||
	    X509_sign(x, ca_key, EVP_sha256()) <= 0)
		return ssl_error(err, EIO, "cannot sign node certificate");

	_cleanup_free_ char *cert = pem_cert(x);
	_cleanup_free_ char *priv = pem_private(key);
	if (!cert || !priv)
		return ssl_error(err, EIO, "cannot write node certificate");
	*ret_cert_pem = TAKE_PTR(cert);
	*ret_key_pem = TAKE_PTR(priv);
	return 0;
}

int pve_csrf_secret_generate(char **ret, pve_error **err)
{
	(void)err;
	unsigned char raw[32];
	access_random(raw, sizeof(raw));
	*ret = access_base64(raw, sizeof(raw), true);
	return 0;
}

char *pve_cert_subject_spice(const char *cert_pem, pve_error **err)
{
	X509 *x = load_cert(cert_pem, "certificate", err);
	if (!x)
		return NULL;
	char *line = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	X509_free(x);
	if (!line) {
		ssl_error(err, EIO, "certificate subject");
		return NULL;
	}
	/* "/OU=pved/CN=node" as "OU=pved,CN=node": a '/' that starts a "key=" is a separator */
	pve_buf b = { 0 };
	for (const char *p = line + (line[0] == '/'); *p; p++) {
		size_t key = *p == '/' ?
				     strspn(p + 1,
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789_") :
				     0;
		pve_buf_append(&b, key && p[1 + key] == '=' ? "," : p, 1);
	}
	OPENSSL_free(line);
	if (!b.data)
		pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}
