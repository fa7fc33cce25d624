/* access: helpers shared by the files of access/ (encodings, randomness, name checks), not exported. */
#pragma once

#include "access/access.h"

/* Standard base64 of len bytes; without '=' padding when pad is false. */
char *access_base64(const unsigned char *data, size_t len, bool pad);
/* Decodes standard base64 (padding optional, no whitespace); returns the length or -1. out must hold
 * len * 3 / 4 + 3 bytes. */
ssize_t access_unbase64(const char *s, size_t len, unsigned char *out);
/* Lower-case hex of len bytes. */
char *access_hex(const unsigned char *data, size_t len);
/* Fills buf with len bytes from the kernel's CSPRNG; aborts if it cannot (never expected). */
void access_random(void *buf, size_t len);
/* A COSE_Key (RFC 9053) at the start of cose: ES256 (P-256), RS256 or EdDSA (Ed25519). Returns the
 * bytes it takes, its key (ret may be NULL) and algorithm; -EINVAL for anything else. */
typedef struct evp_pkey_st EVP_PKEY;
int access_webauthn_cose_key(const unsigned char *cose, size_t len, EVP_PKEY **ret, int *ret_alg,
			     pve_error **err);
/* Compares two strings in time that depends only on their lengths. */
bool access_streq_ct(const char *a, const char *b);

/* Proxmox's name rules (PVE::Auth::Plugin, AccessControl.pm). */
bool access_valid_realm(const char *s, size_t len);
/* Groups, roles and pools: [A-Za-z0-9._-]+. */
bool access_valid_id(const char *s);

/* Sorts a string vector in place (strcmp order) and removes duplicates. */
void access_strv_sort_uniq(char **v);
/* Splits on ',' (and ';' or whitespace, like PVE::Tools::split_list), dropping empty items. */
char **access_split_list(const char *s);

/* Privileges as bits: the index into the sorted pve_privileges() (47 < 64). */
int access_priv_index(const char *priv);
const char *access_priv_name(int index);
uint64_t access_privs_mask(const char *const *privs);
uint64_t access_all_privs(void);

/* A string-keyed hash from keys (not copied) to indices, for the parsers and the compiled permissions. */
typedef struct access_hmap {
	const char **keys;
	size_t *vals;
	size_t cap, n;
} access_hmap;
void access_hmap_put(access_hmap *h, const char *key, size_t val);
/* Returns true and the value if found. */
bool access_hmap_get(const access_hmap *h, const char *key, size_t *ret);
void access_hmap_clear(access_hmap *h);

/* The next line of text from *pos on (which moves past it), without leading and trailing whitespace;
 * false at the end. */
bool access_line_next(const char *text, size_t len, size_t *pos, const char **ret_line,
		      size_t *ret_len);

/* What priv/shadow.cfg and priv/token.cfg hold: one (id, secret hash) per line, looked up by id, printed
 * sorted by id. The callers check the strings. */
typedef struct access_kv {
	char *key, *value;
} access_kv;
typedef struct access_kvtab {
	access_kv *e;
	size_t n, cap;
} access_kvtab;
const char *access_kvtab_get(const access_kvtab *t, const char *key);
/* Adds or replaces; false (and no change) for a new key when the table holds max entries already. */
bool access_kvtab_set(access_kvtab *t, const char *key, const char *value, size_t max);
/* True if key was there. */
bool access_kvtab_delete(access_kvtab *t, const char *key);
/* "<key><sep><value><end>" for each entry, sorted by key ("" when empty). */
char *access_kvtab_print(const access_kvtab *t, const char *sep, const char *end);
void access_kvtab_clear(access_kvtab *t);
