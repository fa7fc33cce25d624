/* access: authentication and authorization as pure functions over text: keys and certificates, tickets,
 * CSRF tokens, API tokens, passwords (pve and pam realms), user.cfg and permission evaluation. No file I/O
 * under etc/pve: the daemon moves the bytes, this library parses, verifies, signs and prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/common.h"

/* ---- identities ---------------------------------------------------------------------------------------
 * A userid is "name@realm" as common's pve-userid format defines it: the name holds no whitespace, ':',
 * '/' or '!'. A token id is "userid!tokenname", tokenname as Proxmox's token regex. An authid, whom a
 * request comes from, is either. Identities are compared whole: a token is never its user. */

bool pve_userid_valid(const char *s);
bool pve_tokenid_valid(const char *s);
/* The user an authid acts for: a copy of a valid userid, the owner of a valid token id, NULL else. */
char *pve_authid_user(const char *authid);
/* authid is userid itself or one of its tokens. */
bool pve_authid_of_user(const char *authid, const char *userid);

/* ---- keys and certificates ------------------------------------------------------------------------ */

/* A new RSA 2048 key pair as PEM: the private key as PKCS#8, the public key as SubjectPublicKeyInfo. */
int pve_authkey_generate(char **ret_key_pem, char **ret_pub_pem, pve_error **err);

/* The ticket keys, parsed once: the private key (NULL in a verifier), the current public key and the public
 * key from before the last rotation (authkey.pub.old, NULL if none; used for verification only). When
 * pub_pem is NULL and key_pem is given, the public key is taken from the private key. */
typedef struct pve_authkeys pve_authkeys;
int pve_authkeys_load(const char *key_pem, const char *pub_pem, const char *old_pub_pem,
		      pve_authkeys **ret, pve_error **err);
void pve_authkeys_free(pve_authkeys *k);
static inline void pve_authkeys_freep(pve_authkeys **k)
{
	pve_authkeys_free(*k);
}
#define _cleanup_authkeys_ _cleanup_(pve_authkeys_freep)

/* A self-signed CA (RSA 2048, 10 years) with common name cn, e.g. "pved Cluster Manager CA". */
int pve_ca_create(const char *cn, char **ret_cert_pem, char **ret_key_pem, pve_error **err);
/* A node certificate signed by the CA (RSA 2048, 2 years, serverAuth), CN = node, subjectAltName with node
 * and every entry of altnames (NULL-terminated, may be NULL): IP entries for those that parse as IPv4/IPv6
 * addresses, DNS entries for the rest. */
int pve_node_cert_create(const char *ca_cert_pem, const char *ca_key_pem, const char *node,
			 char *const *altnames, char **ret_cert_pem, char **ret_key_pem,
			 pve_error **err);
/* (a certificate's fingerprint: client/'s pve_client_pem_fingerprint) */
/* The subject as remote-viewer takes it for "host-subject" (Proxmox's read_x509_subject_spice):
 * "OU=pved,CN=node". NULL and an error for a PEM that holds no certificate. */
char *pve_cert_subject_spice(const char *cert_pem, pve_error **err);

/* The content for pve-www.key: base64 of 32 random bytes (no newline). */
int pve_csrf_secret_generate(char **ret, pve_error **err);

/* ---- tickets ----------------------------------------------------------------------------------------- */

#define PVE_TICKET_MAX 4096
#define PVE_TICKET_MIN_AGE (-300)
#define PVE_TICKET_MAX_AGE 7200

/* "<prefix>:<data with ':' as %3A>:<8 upper hex now>::<base64 RSA-SHA256 signature>". NULL if k has no
 * private key or data is too long for a ticket. */
char *pve_ticket_create(const pve_authkeys *k, const char *prefix, const char *data, time_t now);
/* Verifies the signature with the current, then the old public key, and the age (now - ticket time) within
 * [min_age, max_age]. Returns 0 and the unescaped data (and the age) or -EACCES "invalid ticket" /
 * "ticket expired". ret_data and ret_age may be NULL. */
int pve_ticket_verify(const pve_authkeys *k, const char *prefix, const char *ticket, time_t now,
		      int min_age, int max_age, char **ret_data, int *ret_age, pve_error **err);

/* "<8HEX now>:<base64 HMAC-SHA256("<8HEX now>:<userid>", secret) without '=' padding>". */
char *pve_csrf_create(const char *secret, const char *userid, time_t now);
/* Valid for age -300..7200 s; -EACCES "invalid csrf token" otherwise. Compares in constant time. */
int pve_csrf_verify(const char *secret, const char *userid, const char *token, time_t now,
		    pve_error **err);

/* ---- SPICE tickets (Proxmox's assemble_spice_ticket, verify_spice_connect_url) ---------------------
 * The proxy ticket, "pvespiceproxy:<8 hex now>:<vmid>:<node>:<port>::<hex SHA-1 of the part before
 * '::' and the secret>", is what remote-viewer gets as its host and sends back in its CONNECT (with
 * ":<port>" after it): lower case and short, as remote-viewer needs. The password, 40 random hex
 * digits, is what QEMU's SPICE server is told (set_password) and the client proves. */
#define PVE_SPICE_TICKET_MAX 256
#define PVE_SPICE_NODE_MAX 63
/* Proxmox's window: valid for an age strictly between these (s). */
#define PVE_SPICE_TICKET_MIN_AGE (-20)
#define PVE_SPICE_TICKET_MAX_AGE 40

typedef struct pve_spice_target {
	long long vmid;
	char node[PVE_SPICE_NODE_MAX + 1]; /* lower case */
	int port;
} pve_spice_target;

/* EINVAL for a node name a ticket cannot carry (letters, digits, '-' and '.'; lower-cased). */
int pve_spice_ticket_create(const char *secret, long long vmid, const char *node, int port,
			    time_t now, char **ret_proxyticket, char **ret_password,
			    pve_error **err);
/* Checks a CONNECT's target: the signature, the age and that the port asked for is the one signed.
 * -EACCES "invalid ticket" or "ticket expired". */
int pve_spice_ticket_verify(const char *secret, const char *connect, time_t now,
			    pve_spice_target *ret, pve_error **err);

/* ---- API tokens -------------------------------------------------------------------------------------- */

/* Parses the value after "PVEAPIToken=": "user@realm!tokenid=SECRET" (or a space for '='). Returns the
 * userid ("user@realm"), the token name ("tokenid") and the secret; -EINVAL "invalid API token" if
 * malformed. Any out pointer may be NULL. */
int pve_token_header_parse(const char *value, char **ret_userid, char **ret_tokenname,
			   char **ret_secret, pve_error **err);

/* A fresh secret: a random (v4) UUID in lower case. */
char *pve_token_secret_generate(void);
/* "$pved-sha256$<16-byte salt hex>$<hex sha256(salt || secret)>". */
char *pve_token_secret_hash(const char *secret);
/* Constant time in the secret; false for a malformed hash. */
bool pve_token_secret_check(const char *hash, const char *secret);

/* priv/token.cfg: lines "<user@realm!tokenid> <hash>". */
typedef struct pve_tokencfg pve_tokencfg;
int pve_tokencfg_parse(const char *text, size_t len, pve_tokencfg **ret, pve_error **err);
pve_tokencfg *pve_tokencfg_new(void);
/* The stored hash for a full token id, or NULL. */
const char *pve_tokencfg_get(const pve_tokencfg *c, const char *tokenid);
/* Adds or replaces; -EINVAL for an invalid token id or a hash with whitespace. */
int pve_tokencfg_set(pve_tokencfg *c, const char *tokenid, const char *hash, pve_error **err);
/* Returns true if it was there. */
bool pve_tokencfg_delete(pve_tokencfg *c, const char *tokenid);
char *pve_tokencfg_print(const pve_tokencfg *c);
void pve_tokencfg_free(pve_tokencfg *c);

/* ---- passwords: pve realm (priv/shadow.cfg) and pam realm ------------------------------------------- */

/* crypt(3) SHA-256 ("$5$<16 char salt>$..."); NULL only if crypt fails. */
char *pve_password_hash(const char *password);
/* Constant-time compare of crypt(password, hash) with hash; false for a malformed or locked hash. */
bool pve_password_check(const char *hash, const char *password);

/* priv/shadow.cfg: lines "<userid>:<crypted hash>:". */
typedef struct pve_shadowcfg pve_shadowcfg;
int pve_shadowcfg_parse(const char *text, size_t len, pve_shadowcfg **ret, pve_error **err);
pve_shadowcfg *pve_shadowcfg_new(void);
const char *pve_shadowcfg_get(const pve_shadowcfg *c, const char *userid);
int pve_shadowcfg_set(pve_shadowcfg *c, const char *userid, const char *hash, pve_error **err);
bool pve_shadowcfg_delete(pve_shadowcfg *c, const char *userid);
char *pve_shadowcfg_print(const pve_shadowcfg *c);
void pve_shadowcfg_free(pve_shadowcfg *c);

/* Blocking (run it in a thread): pam_authenticate then pam_acct_mgmt for user with password, through the
 * PAM service (e.g. "pved"). -EACCES "authentication failure" on a wrong password or a refused account. */
int pve_pam_authenticate(const char *service, const char *user, const char *password,
			 pve_error **err);
/* Blocking (run it in a thread): sets the system password of user (a pam realm user) to password, as
 * Proxmox's PAM plugin does (usermod -p with a crypt SHA-256 hash): here `chpasswd -e`, the hash on its
 * standard input, so neither the password nor its hash is in a command line. At most 20 s. */
int pve_pam_set_password(const char *user, const char *password, pve_error **err);

/* ---- user.cfg ---------------------------------------------------------------------------------------- */

#define PVE_USERCFG_MAX_SIZE (1024 * 1024)
#define PVE_USERCFG_MAX_ENTRIES 100000

typedef struct pve_user {
	char *userid; /* "name@realm" */
	bool enable;
	long long expire; /* epoch seconds, 0 = never */
	char *firstname, *lastname, *email, *comment, *keys; /* NULL when empty */
	char **groups; /* the groups listing this user (derived from group lines), NULL-terminated */
} pve_user;

typedef struct pve_token {
	char *tokenid; /* full id: "name@realm!tokenname" */
	long long expire;
	bool privsep;
	char *comment;
} pve_token;

typedef struct pve_group {
	char *groupid;
	char **members; /* userids, NULL-terminated */
	char *comment;
} pve_group;

typedef struct pve_role {
	char *roleid;
	char **privs; /* NULL-terminated */
} pve_role;

enum pve_acl_type { PVE_ACL_USER, PVE_ACL_GROUP, PVE_ACL_TOKEN };

/* One (path, subject) pair; a user.cfg acl line naming several subjects is split into several entries
 * and joined again on print. */
typedef struct pve_acl {
	char *path;
	bool propagate;
	enum pve_acl_type type;
	char *ugid; /* userid, groupid (without '@') or full token id */
	char **roles; /* NULL-terminated */
} pve_acl;

typedef struct pve_pool {
	char *poolid;
	char *comment;
	char **vms; /* vmids as strings, NULL-terminated */
	char **storage; /* storage ids, NULL-terminated */
} pve_pool;

typedef struct pve_usercfg {
	pve_user *users;
	size_t n_users;
	pve_token *tokens;
	size_t n_tokens;
	pve_group *groups;
	size_t n_groups;
	pve_role *roles; /* custom roles only */
	size_t n_roles;
	pve_acl *acls;
	size_t n_acls;
	pve_pool *pools;
	size_t n_pools;
} pve_usercfg;

/* Proxmox's normalize_path: collapses '/'s, drops a trailing '/', adds a leading one; NULL for characters
 * outside [A-Za-z0-9._-/]. */
char *pve_acl_path_normalize(const char *path);
/* A normalized path of a kind Proxmox accepts for ACLs (check_path): /, /access[/groups|realm[/x]],
 * /nodes[/x], /pool[/a[/b[/c]]], /sdn/..., /storage[/x], /vms[/vmid], /mapping[/type[/id]]. */
bool pve_acl_path_valid(const char *path);

/* Parses user.cfg. Errors name the line ("user.cfg line 12: ..."); more than 1 MiB or 100,000 entries is
 * -E2BIG. Like Proxmox, entries that refer to unknown users/groups/roles are dropped rather than failing
 * the whole file (a file written by hand keeps working); a syntax error fails. */
int pve_usercfg_parse(const char *text, size_t len, pve_usercfg **ret, pve_error **err);
pve_usercfg *pve_usercfg_new(void);
/* Proxmox's order: users, tokens, groups, pools, roles, acls (each sorted, as Proxmox writes them). */
char *pve_usercfg_print(const pve_usercfg *c);
void pve_usercfg_free(pve_usercfg *c);
static inline void pve_usercfg_freep(pve_usercfg **c)
{
	pve_usercfg_free(*c);
}
#define _cleanup_usercfg_ _cleanup_(pve_usercfg_freep)

pve_user *pve_usercfg_find_user(const pve_usercfg *c, const char *userid);
pve_token *pve_usercfg_find_token(const pve_usercfg *c, const char *tokenid);
pve_group *pve_usercfg_find_group(const pve_usercfg *c, const char *groupid);
pve_role *pve_usercfg_find_role(const pve_usercfg *c, const char *roleid);
pve_pool *pve_usercfg_find_pool(const pve_usercfg *c, const char *poolid);
/* Adds a user (enabled, never expiring, other fields NULL); -EEXIST if present, -EINVAL if the userid is
 * invalid. ret (may be NULL) points into c and is valid until the next change of c. */
int pve_usercfg_add_user(pve_usercfg *c, const char *userid, pve_user **ret, pve_error **err);
/* Sets the roles of subject ugid (type) at path: replaces an existing entry (and its propagate flag), adds
 * one, or removes it when roles is NULL or empty. -EINVAL for a bad path, unknown role, user, group or
 * token. */
int pve_usercfg_set_acl(pve_usercfg *c, const char *path, enum pve_acl_type type, const char *ugid,
			char *const *roles, bool propagate, pve_error **err);

/* Proxmox's update_acl for one role: gives role to subject ugid at path with the propagate flag (moving
 * it from an entry with the other flag), or takes it away when remove. -EINVAL (with the parameter:
 * "path", "roles", "users", "groups", "tokens") for a bad path or an unknown role or subject. */
int pve_usercfg_acl_update(pve_usercfg *c, const char *path, enum pve_acl_type type,
			   const char *ugid, const char *role, bool propagate, bool remove,
			   pve_error **err);
/* Removes a user with its tokens, its and its tokens' ACL entries and its group memberships (the
 * caller removes its password and token secrets from the priv/ files). -ENOENT if absent. */
int pve_usercfg_delete_user(pve_usercfg *c, const char *userid, pve_error **err);
/* Makes the user a member of groups (NULL-terminated, may be NULL): only those, or also those when
 * append. -ENOENT for an unknown user, -EINVAL (param "groups") for an unknown group, before any change. */
int pve_usercfg_set_user_groups(pve_usercfg *c, const char *userid, char *const *groups,
				bool append, pve_error **err);
/* -EINVAL for an invalid id, -EEXIST if present. comment may be NULL. */
int pve_usercfg_add_group(pve_usercfg *c, const char *groupid, const char *comment,
			  pve_error **err);
/* Removes a group, its ACL entries and its users' membership; -ENOENT if absent. */
int pve_usercfg_delete_group(pve_usercfg *c, const char *groupid, pve_error **err);
/* Creates (create: -EEXIST if present) or changes (-ENOENT if absent) a custom role: its privileges become
 * privs, or privs are added when append. -EINVAL for a built-in role, an invalid id or privilege. */
int pve_usercfg_set_role(pve_usercfg *c, const char *roleid, char *const *privs, bool create,
			 bool append, pve_error **err);
/* Removes a custom role and it from every ACL entry (entries left without roles go). */
int pve_usercfg_delete_role(pve_usercfg *c, const char *roleid, pve_error **err);
/* Adds token tokenid ("user@realm!name"); -EINVAL invalid id, -ENOENT unknown user, -EEXIST present.
 * ret (may be NULL) points into c until its next change. */
int pve_usercfg_add_token(pve_usercfg *c, const char *tokenid, long long expire, bool privsep,
			  const char *comment, pve_token **ret, pve_error **err);
/* Removes the token and its ACL entries (the caller removes its secret); -ENOENT if absent. */
int pve_usercfg_delete_token(pve_usercfg *c, const char *tokenid, pve_error **err);

/* exists, enable != 0 and not expired at now; root@pam is always enabled, even if absent. A token id
 * ("user@realm!name") is enabled when its user is and the token exists and is not expired. */
bool pve_usercfg_user_enabled(const pve_usercfg *c, const char *userid, time_t now);

/* ---- privileges, roles and permission evaluation --------------------------------------------------- */

/* All privilege names, NULL-terminated, sorted. */
const char *const *pve_privileges(void);
bool pve_privilege_valid(const char *priv);
/* The privileges of a built-in role (NULL-terminated, sorted) or NULL if roleid is not built in. */
const char *const *pve_builtin_role_privs(const char *roleid);
/* Built-in role names, NULL-terminated. */
const char *const *pve_builtin_roles(void);

/* Compiled permissions: built from a pve_usercfg once per change (it copies what it needs; c may be freed
 * afterwards). Checks compare user and token expiry with time(NULL). */
typedef struct pve_perms pve_perms;
int pve_perms_build(const pve_usercfg *c, pve_perms **ret, pve_error **err);
void pve_perms_free(pve_perms *p);
static inline void pve_perms_freep(pve_perms **p)
{
	pve_perms_free(*p);
}
#define _cleanup_perms_ _cleanup_(pve_perms_freep)
/* authid: "user@realm" or "user@realm!token". False for unknown privileges, disabled or expired users. */
bool pve_perms_check(const pve_perms *p, const char *authid, const char *path, const char *priv);
/* The privileges authid has on path (sorted, NULL-terminated, possibly empty; free with strv_free). */
char **pve_perms_privs(const pve_perms *p, const char *authid, const char *path);
/* Whether pve_perms_check gives the same answer for every child "<parent>/<name>" of parent: no ACL is
 * set anywhere below parent and, for /vms and /storage, no pool has a member there. Then *ret_allowed
 * is that answer, and a list of thousands of guests costs one check instead of one per guest. */
bool pve_perms_children_uniform(const pve_perms *p, const char *authid, const char *parent,
				const char *priv, bool *ret_allowed);
/* Proxmox's permissions(authid, path) as GET /access/permissions shows it: {"Priv": propagate}, 1
 * when a propagating ACL gives it, 0 when only non-propagating ACLs or pools do (a token of privilege
 * separation: 1 when it is 1 for both the token and its user). Unlike pve_perms_check, a disabled or
 * expired user (or an expired token) keeps its privileges here, as Proxmox lists them; logins and
 * checks refuse such users elsewhere. */
cJSON *pve_perms_path_map(const pve_perms *p, const char *authid, const char *path);
/* The privileges of the roles the ACLs alone give authid on path, Proxmox's roles(): no pool counts,
 * a token of privilege separation has its own (not cut to its user's), and a user's being disabled
 * does not matter. What a check uses is pve_perms_check. */
char **pve_perms_acl_privs(const pve_perms *p, const char *authid, const char *path);

/* ---- two-factor authentication: TOTP, recovery codes, priv/tfa.cfg ------------------------------------ */

#define PVE_TFACFG_MAX_SIZE (1024 * 1024)
#define PVE_TFA_RECOVERY_CODES 10
#define PVE_TOTP_STEP 30
#define PVE_TOTP_CODE_MAX 16 /* a code buffer: up to 8 digits and the NUL */

/* A TOTP key as an otpauth://totp/LABEL?secret=BASE32[&digits=6..8][&period=N][&algorithm=SHA1|SHA256|
 * SHA512] URI (what authenticator apps scan). -EINVAL with the reason for anything else, a secret below
 * 80 bits or above 1024. */
int pve_totp_check_uri(const char *uri, pve_error **err);
/* The code for the step that holds now (RFC 6238). */
int pve_totp_generate(const char *uri, time_t now, char ret_code[PVE_TOTP_CODE_MAX],
		      pve_error **err);
/* Accepts code for the step of now, the one before or the one after; a matching step not later than
 * after_step is a replay: -EACCES "totp code already used". Returns 0 and the step that matched. */
int pve_totp_verify(const char *uri, const char *code, time_t now, long long after_step,
		    long long *ret_step, pve_error **err);

/* priv/tfa.cfg, Proxmox's JSON: {"users": {"user@realm": {"totp": [{"id", "description", "created",
 * "enable", "entry": "otpauth://..."}], "recovery": {"secret", "entries": [hmac hex or null for a used
 * code], "created"}, "totp-locked", "tfa-locked-until", "totp-last-step"}}}. Members it does not know
 * (webauthn, u2f, yubico) are kept as they are. */
typedef struct pve_tfacfg pve_tfacfg;
/* An empty (or blank) text is an empty configuration; more than 1 MiB is -E2BIG. */
int pve_tfacfg_parse(const char *text, size_t len, pve_tfacfg **ret, pve_error **err);
pve_tfacfg *pve_tfacfg_new(void);
char *pve_tfacfg_print(const pve_tfacfg *c);
void pve_tfacfg_free(pve_tfacfg *c);
static inline void pve_tfacfg_freep(pve_tfacfg **c)
{
	pve_tfacfg_free(*c);
}
#define _cleanup_tfacfg_ _cleanup_(pve_tfacfg_freep)

/* The users with entries, sorted (free with strv_free). */
char **pve_tfacfg_users(const pve_tfacfg *c);
/* Whether a login of userid needs a second factor: an enabled TOTP or unused recovery codes. */
bool pve_tfacfg_needs_tfa(const pve_tfacfg *c, const char *userid);
/* The entries of userid as the API lists them: [{type, id, description, created[, enable: false]}]. */
cJSON *pve_tfacfg_list(const pve_tfacfg *c, const char *userid);
/* One entry as in the list ("recovery" is the recovery codes' id), or NULL. */
cJSON *pve_tfacfg_get(const pve_tfacfg *c, const char *userid, const char *id);
void pve_tfacfg_user_locks(const pve_tfacfg *c, const char *userid, bool *ret_totp_locked,
			   long long *ret_locked_until);
/* Clears the user's TOTP lock ("totp-locked") and second-factor lockout ("tfa-locked-until"), as
 * Proxmox's unlock_tfa; true if either was set (c changed: the caller writes it back). */
bool pve_tfacfg_unlock_user(pve_tfacfg *c, const char *userid);
/* The challenge put into the half ticket: {"totp": bool[, "recovery": [available per code]]}. */
cJSON *pve_tfacfg_challenge(const pve_tfacfg *c, const char *userid);
/* Adds a TOTP entry (the URI checked as pve_totp_check_uri, error param "totp"); its new id. */
int pve_tfacfg_add_totp(pve_tfacfg *c, const char *userid, const char *uri, const char *description,
			time_t now, char **ret_id, pve_error **err);
/* New recovery codes (PVE_TFA_RECOVERY_CODES of "xxxx-xxxx-xxxx-xxxx", NULL-terminated, to show once);
 * only their HMACs are stored. -EEXIST if the user has recovery codes already. */
int pve_tfacfg_add_recovery(pve_tfacfg *c, const char *userid, time_t now, char ***ret_codes,
			    pve_error **err);
/* description NULL: unchanged; enable -1: unchanged. -ENOENT for an unknown entry. */
int pve_tfacfg_update(pve_tfacfg *c, const char *userid, const char *id, const char *description,
		      int enable, pve_error **err);
int pve_tfacfg_delete(pve_tfacfg *c, const char *userid, const char *id, pve_error **err);
bool pve_tfacfg_delete_user(pve_tfacfg *c, const char *userid);
/* Checks a login's second factor, "totp:<code>" or "recovery:<code>". On success c changed (the TOTP
 * step is remembered against replay, the recovery code is used up): the caller writes it back.
 * -EACCES otherwise. */
int pve_tfacfg_verify(pve_tfacfg *c, const char *userid, const char *response, time_t now,
		      pve_error **err);

/* ---- WebAuthn (access/webauthn.c) -------------------------------------------------------------------------
 * A relying party's checks: the client's clientDataJSON, the authenticator's attestation object (CBOR)
 * and assertions, COSE public keys. Every input is untrusted and bounded. */

#define PVE_WEBAUTHN_MAX_CLIENT_DATA 4096
#define PVE_WEBAUTHN_MAX_ATTESTATION 8192
#define PVE_WEBAUTHN_MAX_AUTH_DATA 4096
#define PVE_WEBAUTHN_MAX_COSE_KEY 2048
#define PVE_WEBAUTHN_MAX_CRED_ID 1023 /* the spec's limit */
#define PVE_WEBAUTHN_MAX_SIGNATURE 1024
#define PVE_COSE_ES256 (-7)
#define PVE_COSE_EDDSA (-8)
#define PVE_COSE_RS256 (-257)

/* Base64url without padding; decoding takes at most max bytes (E2BIG beyond, EINVAL if malformed). */
char *pve_base64url(const unsigned char *data, size_t len);
int pve_unbase64url(const char *s, size_t max, unsigned char **ret, size_t *ret_len,
		    pve_error **err);

/* datacenter.cfg's "webauthn: rp=NAME,origin=https://HOST:8006,id=HOST" (Proxmox's property string;
 * rp defaults to id). */
typedef struct pve_webauthn_config {
	char *rp, *origin, *id;
} pve_webauthn_config;
int pve_webauthn_config_parse(const char *value, pve_webauthn_config *ret, pve_error **err);
void pve_webauthn_config_clear(pve_webauthn_config *c);

/* clientDataJSON: its type ("webauthn.create" or "webauthn.get"), challenge (base64url, compared in
 * constant time) and origin must be the ones given. -EACCES when they differ. */
int pve_webauthn_check_client_data(const unsigned char *data, size_t len, const char *type,
				   const char *challenge, const char *origin, pve_error **err);

/* A new credential, from an attestation object ("none", or "packed" self attestation whose signature
 * over authData and the hash of clientDataJSON is checked), for rp_id, with the user present. */
typedef struct pve_webauthn_credential {
	unsigned char *cred_id, *cose; /* the credential id and its COSE public key */
	size_t cred_id_len, cose_len;
	uint32_t counter;
} pve_webauthn_credential;
int pve_webauthn_parse_attestation(const unsigned char *att, size_t len,
				   const unsigned char *client_data, size_t cd_len,
				   const char *rp_id, pve_webauthn_credential *ret,
				   pve_error **err);
void pve_webauthn_credential_clear(pve_webauthn_credential *c);

/* An assertion: authenticator data for rp_id with the user present, signed (over it and the hash of
 * clientDataJSON) by the credential's COSE key; its signature counter. */
int pve_webauthn_verify_assertion(const unsigned char *cose, size_t cose_len, const char *rp_id,
				  const unsigned char *auth_data, size_t ad_len,
				  const unsigned char *client_data, size_t cd_len,
				  const unsigned char *sig, size_t sig_len, uint32_t *ret_counter,
				  pve_error **err);

/* WebAuthn entries in tfa.cfg ("webauthn": [{id, description, created, enable, "credential": {"cred_id",
 * "cose" (base64url), "counter"}}]). Registration: a challenge (PublicKeyCredentialCreationOptions as
 * JSON text; the user's pending registration is kept in the file), then the browser's answer to it
 * (PublicKeyCredential JSON with base64url members) makes the entry; errors name "challenge" or
 * "value". */
int pve_tfacfg_webauthn_challenge(pve_tfacfg *c, const char *userid, const pve_webauthn_config *wa,
				  time_t now, char **ret_challenge, pve_error **err);
int pve_tfacfg_webauthn_register(pve_tfacfg *c, const char *userid, const pve_webauthn_config *wa,
				 const char *challenge, const char *response,
				 const char *description, time_t now, char **ret_id,
				 pve_error **err);
/* Adds "webauthn": {"publicKey": PublicKeyCredentialRequestOptions} with a fresh challenge to a login's
 * challenge object, when the user has an enabled credential and wa is given. */
void pve_tfacfg_challenge_webauthn(const pve_tfacfg *c, const char *userid,
				   const pve_webauthn_config *wa, cJSON *challenge);
/* A login's "webauthn:<PublicKeyCredential JSON>" answer to challenge (the base64url one of the half
 * ticket): origin, rp id, signature, a growing counter, and the challenge not used before. On success c
 * changed (counter, used challenge): the caller writes it back. -EACCES otherwise. */
int pve_tfacfg_verify_webauthn(pve_tfacfg *c, const char *userid, const pve_webauthn_config *wa,
			       const char *challenge, const char *response, time_t now,
			       pve_error **err);

/* ---- realms: domains.cfg, the ldap and ad realms, realm sync ---------------------------------------- */

#define PVE_DOMAINS_MAX_SIZE (256 * 1024)
/* Every LDAP call (connect, bind, search) gives up after this long. */
#define PVE_LDAP_TIMEOUT_MS 5000
/* A sync refuses directories with more entries than user.cfg may hold. */
#define PVE_LDAP_MAX_ENTRIES 50000

/* Proxmox's realm id: [A-Za-z][A-Za-z0-9.\-_]+, at most 32 characters. */
bool pve_realm_id_valid(const char *realm);
/* One property of a realm of type (pam, pve, ldap, ad, openid) as domains.cfg and the API hold it:
 * -EINVAL with param = key for a key the type does not have or a malformed value. */
int pve_realm_check_property(const char *type, const char *key, const char *value, pve_error **err);
/* domains.cfg (SectionConfig "TYPE: REALM"): every section checked with pve_realm_check_property, known
 * types only, valid and unique realm ids, pam and pve only as themselves. More than
 * PVE_DOMAINS_MAX_SIZE is -E2BIG. Errors name the realm. */
int pve_domains_parse(const char *text, size_t len, pve_sectioncfg **ret, pve_error **err);
/* The type of realm: from c (may be NULL), "pam" and "pve" always; NULL if unknown. */
const char *pve_domains_realm_type(const pve_sectioncfg *c, const char *realm);

/* An ldap or ad realm, ready to connect: taken from its domains.cfg section. */
typedef struct pve_ldap_config {
	char *realm;
	bool ad; /* type ad: users bind as user@domain (userPrincipalName) */
	char *server1, *server2;
	int port; /* 0: 389, or 636 for ldaps */
	char *mode; /* ldap, ldaps, ldap+starttls */
	bool verify; /* check the server's certificate (against capath) */
	char *capath;
	char *base_dn, *bind_dn, *bind_password; /* NULL bind_dn: anonymous */
	char *user_attr; /* default uid, sAMAccountName for ad */
	char *domain; /* ad */
	char *filter; /* user filter, applied at login and sync */
	char **user_classes, **group_classes;
	char *group_dn, *group_name_attr, *group_filter;
	/* sync_attributes: pairs "ours=theirs" for firstname, lastname, email, comment, keys */
	char *attr_map[5];
	int timeout_ms; /* PVE_LDAP_TIMEOUT_MS unless a test says otherwise */
} pve_ldap_config;

/* bind_password: the content of priv/realm/<realm>.pw (first line), or NULL. -EINVAL for a section that
 * is not ldap or ad, or lacks server1 (or base_dn for ldap). */
int pve_ldap_config_from_section(const pve_section *s, const char *bind_password,
				 pve_ldap_config **ret, pve_error **err);
void pve_ldap_config_free(pve_ldap_config *c);
static inline void pve_ldap_config_freep(pve_ldap_config **c)
{
	pve_ldap_config_free(*c);
}
#define _cleanup_ldap_config_ _cleanup_(pve_ldap_config_freep)

/* RFC 4515 escaping of a value inside a search filter. */
char *pve_ldap_filter_escape(const char *value);

/* Blocking (run it on a thread): checks username's password. ldap: binds as bind_dn (or anonymously),
 * finds the one entry with user_attr=username (and filter) under base_dn, then binds as it. ad: binds as
 * username@domain. -EACCES "authentication failure" for a wrong password or an unknown user, -EIO when
 * no server answers. An empty password always fails (an LDAP bind without one is anonymous). */
/* Blocking: Proxmox's check_connection, a connection to the realm's server and its service bind (bind_dn
 * with its password, or anonymous), each step within the realm's time limit. */
int pve_ldap_check_connection(const pve_ldap_config *c, pve_error **err);
int pve_ldap_authenticate(const pve_ldap_config *c, const char *username, const char *password,
			  pve_error **err);

typedef struct pve_ldap_user {
	char *userid; /* "name@realm" */
	char *dn; /* lower case, to match group members */
	char *fields[5]; /* firstname, lastname, email, comment, keys (NULL when absent) */
} pve_ldap_user;

typedef struct pve_ldap_group {
	char *groupid; /* "name-realm" */
	char **members; /* userids, NULL-terminated */
} pve_ldap_group;

typedef struct pve_ldap_sync {
	pve_ldap_user *users;
	size_t n_users;
	pve_ldap_group *groups;
	size_t n_groups;
	char **warnings; /* entries skipped (names Proxmox would not accept), NULL-terminated */
} pve_ldap_sync;

/* Blocking: reads the realm's users (user_classes, filter) and, with groups, its groups
 * (group_classes, group_filter, under group_dn or base_dn) with their members among those users. */
int pve_ldap_fetch(const pve_ldap_config *c, bool groups, pve_ldap_sync **ret, pve_error **err);
void pve_ldap_sync_free(pve_ldap_sync *s);
static inline void pve_ldap_sync_freep(pve_ldap_sync **s)
{
	pve_ldap_sync_free(*s);
}
#define _cleanup_ldap_sync_ _cleanup_(pve_ldap_sync_freep)

enum { PVE_SYNC_USERS = 1, PVE_SYNC_GROUPS = 2 };
enum { PVE_VANISHED_ACL = 1, PVE_VANISHED_PROPERTIES = 2, PVE_VANISHED_ENTRY = 4 };

typedef struct pve_realm_sync_opts {
	int scope; /* PVE_SYNC_USERS | PVE_SYNC_GROUPS */
	int remove_vanished; /* PVE_VANISHED_* */
	bool enable_new;
} pve_realm_sync_opts;

/* Proxmox's parse_sync_opts: each option from the call (NULL / -1 when not given), else from the
 * realm's sync-defaults-options property string (may be NULL), else its default (remove-vanished
 * none, enable-new 1). -EINVAL (param "scope") when no scope is given anywhere. */
int pve_realm_sync_opts_get(const char *defaults, const char *scope, const char *remove_vanished,
			    int enable_new, pve_realm_sync_opts *ret, pve_error **err);
/* Proxmox's update_users / update_groups on c for realm; one line per change to log (may be NULL). */
int pve_realm_sync_apply(pve_usercfg *c, const char *realm, const pve_ldap_sync *s,
			 const pve_realm_sync_opts *o, FILE *log, pve_error **err);
