/* daemon/access: what the access area's files share: user.cfg, domains.cfg and priv/tfa.cfg as
 * pved_cfgedit files, the edits the handlers make of them, and their handler tables. */
#pragma once

#include "daemon/core/auth-internal.h"

/* ---- the area's config files (usercfg-edit.c) ------------------------------------------------------------
 * Each is changed only through pved_cfgedit (the store lock taken on timers, never waited for on the loop)
 * and read for GETs with pved_cfgfile_read: the digest a GET answers is the one an edit checks. A file
 * that does not parse is the server's error (EIO, 500), naming the file and the line. */

/* user.cfg (a pve_usercfg), under the store lock "file-user_cfg". */
extern const pved_cfgfile pved_usercfg_file;
/* domains.cfg (a pve_sectioncfg, checked as pve_domains_parse checks it), under "file-domains_cfg". */
extern const pved_cfgfile pved_domains_file;
/* priv/tfa.cfg (a pve_tfacfg), under "file-tfa_cfg". */
extern const pved_cfgfile pved_tfacfg_file;

/* The files read without the lock; ret_digest may be NULL. */
int pved_usercfg_read(pved *d, pve_usercfg **ret, char ret_digest[PVE_STORE_DIGEST_LEN + 1],
		      pve_error **err);
int pved_domains_read(pved *d, pve_sectioncfg **ret, char ret_digest[PVE_STORE_DIGEST_LEN + 1],
		      pve_error **err);
int pved_tfacfg_read(pved *d, pve_tfacfg **ret, pve_error **err);

/* ---- a call's change of one of them ------------------------------------------------------------------- */

typedef struct pved_access_edit pved_access_edit;
/* Returns as pved_cfgedit's change: < 0 with err, 0 (write the file) or PVED_CFGEDIT_KEEP. */
typedef int (*pved_access_edit_fn)(pved_access_edit *e, void *cfg, pve_error **err);

struct pved_access_edit {
	pved_call *c;
	/* On the loop, the file locked and parsed. */
	pved_access_edit_fn change;
	/* Optional (change may clear it): the priv/ files that go with the change, written under the
	 * same lock before the file itself, and after a change that keeps the file too. */
	pved_access_edit_fn also;
	/* Optional: the end, the lock released; NULL is pved_usercfg_answer. Takes err. */
	void (*done)(pved_access_edit *e, int r, pve_error *err);
	const char *event; /* the audit line of pved_usercfg_answer, or the done's own use */
	cJSON *data; /* the answer pved_usercfg_answer gives; freed after done unless taken */
	char *secret; /* a password hash, a token secret's hash or a TFA response: wiped when freed */
	char **ids; /* token ids for also, or the user a TFA response is checked for */
	/* Proxmox's errmsg of lock_user_config(sub {...}, "create user failed"): what the change fails
	 * with is answered as Proxmox's locked code dies, a 500 "create user failed: <message>" (see
	 * pved_error_wrap). NULL: the change's error as it is. */
	const char *failed;
	/* Optional, set before the run: work that blocks, on the login queue with the lock held,
	 * after change (a realm's connection check); its error is prefixed as change's. priv is for
	 * it (freed with priv_free). */
	int (*check)(pved_access_edit *e, pve_error **err);
	void *priv;
	void (*priv_free)(void *priv);
};

/* A new edit for the call (its other members zero). */
pved_access_edit *pved_access_edit_new(pved_call *c, pved_access_edit_fn change, const char *event);
/* Runs e (taken: freed after its done) on file f, refused when digest (may be NULL) is not the file's. */
void pved_access_edit_run(pved_access_edit *e, const pved_cfgfile *f, const char *digest);
/* The common case: a change of user.cfg against the call's "digest", answered by pved_usercfg_answer. */
void pved_usercfg_change(pved_call *c, pved_access_edit_fn change, const char *event);
/* The end of a user.cfg change: fails the call with err (r < 0), or reloads the access state, writes the
 * audit line e->event (if any) and replies e->data. */
void pved_usercfg_answer(pved_access_edit *e, int r, pve_error *err);

/* A plain error as Proxmox's handlers die outside a lock: 500 with the message alone. */
void pved_access_fail_plain(pved_call *c, const char *fmt, ...) _printf_(2, 3);
/* The same as an error (EIO: 500) for a change to return. */
int pved_access_error_plain(pve_error **err, const char *fmt, ...) _printf_(2, 3);

/* ---- realms ------------------------------------------------------------------------------------------- */

/* The type of a realm ("pam", "pve", "ldap", "ad", "openid") or NULL if there is no such realm. */
char *pved_realm_type(pved *d, const char *realm);
/* datacenter.cfg's "webauthn:" settings (relying party id, name and origin), as Proxmox keeps them;
 * -EIO "webauthn not configured" (a 500, as Proxmox answers) when there are none. */
int pved_webauthn_config(pved *d, pve_webauthn_config *ret, pve_error **err);
/* An ldap or ad realm's settings with its bind password (priv/realm/<realm>.pw), ready to connect. */
int pved_realm_ldap_config(pved *d, const char *realm, pve_ldap_config **ret, pve_error **err);

/* The API level pved follows and its own version, as /version and /nodes/{node}/version answer them. */
cJSON *pved_version_object(void);

/* Proxmox's reauth_user_for_user_modification, for a change to the user the "userid" parameter names:
 * only root@pam changes root@pam; any other caller gives its own password in the parameter param, checked
 * off the loop against its realm (pve, pam, ldap, ad) and, when wrong, counted like a failed login and
 * audited as "<what> refused" (403 "authentication failure"). A token is refused. then(c) runs when all
 * is well; else the call is answered. */
void pved_reauth(pved_call *c, const char *param, const char *what, void (*then)(pved_call *c));

extern const pved_handler pved_handlers_access[];
extern const pved_handler pved_handlers_users[];
extern const pved_handler pved_handlers_tfa[];
extern const pved_handler pved_handlers_realms[];
extern const pved_handler pved_handlers_pools[];
extern const pved_task_kind pved_tasks_realms[];
