/* daemon: the parts of authentication that the login, TFA and access handlers share beyond
 * pved-internal.h: two-factor half tickets, priv/tfa.cfg access, brute-force limits, the audit log and
 * the core of the permission expressions ("check" lists). */
#pragma once

#include "daemon/pved-internal.h"

/* ---- two-factor login ------------------------------------------------------------------------------- */

/* A half ticket lives this long: enough to type a code, too short to be worth stealing. */
#define PVED_TFA_TICKET_MAX_AGE 120

/* "PVE:!tfa!<challenge JSON with the userid in "user">:<time>::<signature>". */
char *pved_auth_tfa_ticket(pved *d, const char *userid, const cJSON *challenge);
/* Verifies a half ticket (signature and the short lifetime) and returns its user. EACCES otherwise. */
int pved_auth_verify_tfa_ticket(pved *d, const char *ticket, char **ret_userid, pve_error **err);

/* priv/tfa.cfg from the store (a missing file is empty). With ret_lock, under the store lock
 * "file-tfa_cfg" (waits up to 2 s); the caller unlocks with pve_store_unlock. */
int pved_tfacfg_read(pved *d, pve_store_lock **ret_lock, pve_tfacfg **ret, pve_error **err);
int pved_tfacfg_write(pved *d, const pve_tfacfg *c, pve_error **err);

/* Proxmox's reauth_user_for_user_modification, for a change to the user the "userid" parameter names:
 * only root@pam changes root@pam; any other caller gives its own password in the parameter param, checked
 * off the loop against its realm (pve, pam, ldap, ad) and, when wrong, counted like a failed login and
 * audited as "<what> refused" (403 "authentication failure"). A token is refused. then(c) runs when all
 * is well; else the call is answered. */
void pved_reauth(pved_call *c, const char *param, const char *what, void (*then)(pved_call *c));

/* ---- brute force --------------------------------------------------------------------------------------
 * Failed logins are counted per user and per client address in a fixed window (60 s; the environment
 * variable PVED_LOGIN_FAIL_WINDOW, read at start, may set 1..3600 s for tests). Past the limit, logins
 * for that user or from that address are refused without checking anything until the window ends. */
#define PVED_LOGIN_FAIL_MAX_USER 5
#define PVED_LOGIN_FAIL_MAX_CLIENT 10
#define PVED_LOGIN_FAIL_WINDOW_SEC 60

bool pved_auth_login_blocked(pved *d, const char *userid, const char *client);
void pved_auth_login_failed(pved *d, const char *userid, const char *client);
/* Forgets the user's failures (not the address's). */
void pved_auth_login_succeeded(pved *d, const char *userid);

/* ---- the audit log: <root>/var/log/pve/audit.log ---------------------------------------------------------
 * One line per event: "<UTC time ISO 8601> <client> <user> <event>", control characters replaced. */
void pved_audit(pved *d, const char *client, const char *user, const char *fmt, ...) _printf_(4, 5);
/* A change made by an API call: "<event>" and the call's parameters that say what changed (userid,
 * tokenid, groupid, roleid, path, roles, users, groups, tokens, privs, privsep, enable, delete, realm,
 * type, poolid, vms, storage, scope, remove-vanished, enable-new, dry-run). */
void pved_audit_call(const pved_call *c, const char *event);
/* pved_usercfg_finish, with the audit line pved_audit_call(c, event) once the change is written. */
void pved_usercfg_finish_audit(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err,
			       cJSON *data, const char *event);
/* The end of a change the caller has written itself (user.cfg and priv/ files): ends the edit, then
 * fails the call with err (r < 0; data freed) or reloads the access state, writes the audit line (event
 * not NULL) and replies with data. */
void pved_usercfg_done_audit(pved_call *c, pved_usercfg_edit *e, int r, pve_error *err, cJSON *data,
			     const char *event);

/* ---- permission expressions --------------------------------------------------------------------------
 * Proxmox's check lists, evaluated over callbacks so that the logic is testable without a daemon:
 *   ["perm", path, [privs] (, "any", 1)]          every (or any) privilege on the path ({param}s put in)
 *   ["and", e...], ["or", e...]
 *   ["userid-param", "self"]                      the userid parameter names an existing user: the caller
 *                                                 itself (never a token of it)
 *   ["userid-param", "Realm.AllocateUser"]        Realm.AllocateUser on /access/realm/<its realm>
 *   ["userid-group", [privs] (, "groups_param", "create"|"update")]
 *                                                 any of privs on /access/groups, or else on a group of the
 *                                                 existing user (not for "create") and, with groups_param,
 *                                                 on every group in the "groups" parameter (at least one)
 *   ["perm-modify", path]                         Permissions.Modify on the path, or VM.Allocate (/vms/x),
 *                                                 Datastore.Allocate (/storage/x), Pool.Allocate
 *                                                 (/pool/x), Mapping.Modify (/mapping/type/x) there */
typedef struct pved_check_env {
	const char *authid; /* the caller, whole: "user@realm" or a token's "user@realm!name" */
	const cJSON *params;
	bool (*permitted)(void *ud, const char *path, const char *priv);
	bool (*user_exists)(void *ud, const char *userid);
	/* The groups userid is a member of (NULL-terminated, freed by the caller) */
	char **(*user_groups)(void *ud, const char *userid);
	void *ud;
} pved_check_env;

/* 1 allowed, 0 denied (*ret_what, if not yet set, names the first failing "path, privilege"), -EINVAL for
 * a malformed expression. */
int pved_check_eval(const pved_check_env *env, const cJSON *e, char **ret_what);

/* The callbacks over the daemon's loaded user.cfg. */
bool pved_auth_user_exists(pved *d, const char *userid);
char **pved_auth_user_groups(pved *d, const char *userid);
