/* daemon/access: what the access area's files share: user.cfg and domains.cfg edits, and their handler
 * tables. */
#pragma once

#include "daemon/core/auth-internal.h"

/* ---- user.cfg and domains.cfg edits (usercfg-edit.c), shared by the access, realm and pool handlers ---- */

struct pved_call;

typedef struct pved_usercfg_edit {
	pve_store_lock *lock;
	pve_usercfg *cfg;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	bool exists;
} pved_usercfg_edit;

/* Reads user.cfg (a missing one is the empty default); with lock, under the store lock "file-user_cfg".
 * A digest (may be NULL) must match the file's. */
int pved_usercfg_load(pve_store *store, pved_usercfg_edit *e, bool lock, const char *digest,
		      pve_error **err);
/* pved_usercfg_load with the call's store and its "digest" parameter. */
int pved_usercfg_read(struct pved_call *c, pved_usercfg_edit *e, bool lock, pve_error **err);
/* Writes e->cfg back against the digest read (or creates the file). */
int pved_usercfg_store(pve_store *store, pved_usercfg_edit *e, pve_error **err);
int pved_usercfg_commit(struct pved_call *c, pved_usercfg_edit *e, pve_error **err);
/* Unlocks and frees. */
void pved_usercfg_edit_end(pved_usercfg_edit *e);
/* Ends a change: commits (unless r < 0 or err), ends the edit, reloads the access state, answers data
 * (or the error). */
void pved_usercfg_finish(struct pved_call *c, pved_usercfg_edit *e, int r, pve_error *err,
			 cJSON *data);
/* domains.cfg, parsed and checked (a missing file: no sections); ret_digest may be NULL. */
int pved_domains_read(pve_store *store, pve_sectioncfg **ret,
		      char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err);
/* The type of a realm ("pam", "pve", "ldap", "ad", "openid") or NULL if there is no such realm. */
char *pved_realm_type(pved *d, const char *realm);
/* An ldap or ad realm's settings with its bind password (priv/realm/<realm>.pw), ready to connect. */
int pved_realm_ldap_config(pved *d, const char *realm, pve_ldap_config **ret, pve_error **err);

/* The API level pved follows and its own version, as /version and /nodes/{node}/version answer them. */
cJSON *pved_version_object(void);

/* pved_usercfg_finish, with the audit line pved_audit_call(c, event) once the change is written. */
void pved_usercfg_finish_audit(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err,
			       cJSON *data, const char *event);
/* The end of a change the caller has written itself (user.cfg and priv/ files): ends the edit, then
 * fails the call with err (r < 0; data freed) or reloads the access state, writes the audit line (event
 * not NULL) and replies with data. */
void pved_usercfg_done_audit(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err, cJSON *data,
			     const char *event);

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
