/* daemon: the parts of authentication that the login, TFA and access handlers share beyond
 * daemon/core/pved.h: two-factor half tickets, brute-force limits, the audit log and
 * the core of the permission expressions ("check" lists). */
#pragma once

#include "daemon/core/pved.h"

/* ---- two-factor login ------------------------------------------------------------------------------- */

/* A half ticket lives this long: enough to type a code, too short to be worth stealing. */
#define PVED_TFA_TICKET_MAX_AGE 120

/* "PVE:!tfa!<challenge JSON with the userid in "user">:<time>::<signature>". */
char *pved_auth_tfa_ticket(pved *d, const char *userid, const cJSON *challenge);
/* Verifies a half ticket (signature and the short lifetime) and returns its user and, when ret_challenge
 * is not NULL, the challenge object it carries. EACCES otherwise. */
int pved_auth_verify_tfa_ticket(pved *d, const char *ticket, char **ret_userid,
				cJSON **ret_challenge, pve_error **err);

/* ---- brute force ----------------------------------------------------------------------------------------
 * Failed logins are counted per (user, client address) and per client address (an IPv6 address by its
 * /64, which one client holds whole) in a fixed window (60 s; the environment variable
 * PVED_LOGIN_FAIL_WINDOW, read at start, may set 1..3600 s for tests). Past a limit nothing is refused:
 * each further attempt of that pair or address waits for its turn (a timer, never the loop), turns
 * spaced 1 s, 2 s, 4 s ... up to 30 s apart, and is then checked as usual. So guessing from one address
 * slows to a few tries a minute, while the user logs in at once from anywhere else (and a valid ticket
 * renews itself without waiting). An attempt whose turn would come more than 60 s ahead is refused
 * unchecked: the waiting attempts of one pair or address stay few.
 *
 * The counters live in two fixed tables (their memory stays fixed whatever clients send), hashed with
 * HMAC-SHA256 under a key drawn at start, so nobody can choose names that meet in the table. A counter
 * past its limit is never evicted for a new one. When every slot a new (user, address) could take holds
 * such a counter, its failure still counts for the address; when the address cannot get a slot either
 * (thousands of addresses past their limits at once), the failure goes uncounted and pved logs a warning
 * once a window. */
#define PVED_LOGIN_FAIL_MAX_USER 5 /* per (user, address) */
#define PVED_LOGIN_FAIL_MAX_CLIENT 10 /* per address */
#define PVED_LOGIN_FAIL_WINDOW_SEC 60
#define PVED_LOGIN_DELAY_FIRST_MS 1000
#define PVED_LOGIN_DELAY_MAX_MS 30000
#define PVED_LOGIN_QUEUE_MAX_MS 60000
/* An address past its limit fills about 3 pair slots a window (10 free failures, then turns), so the
 * pair table takes ~2700 such addresses at once; 40 bytes a slot. */
#define PVED_LOGIN_PAIR_SLOTS 8192
#define PVED_LOGIN_ADDR_SLOTS 4096

typedef struct pved_login_limits pved_login_limits;
/* NULL only without kernel randomness for the key. */
pved_login_limits *pved_login_limits_new(int window_sec, pve_error **err);
void pved_login_limits_free(pved_login_limits *l);
/* Called as an attempt arrives (now_ms: CLOCK_MONOTONIC): 0 to check it at once, else how many ms it
 * waits for its turn (taken now), or -1 when it is refused unchecked (turn too far ahead). */
long long pved_login_limits_delay(pved_login_limits *l, const char *userid, const char *client,
				  uint64_t now_ms);
/* Is the pair or the address past its limit? */
bool pved_login_limits_over(pved_login_limits *l, const char *userid, const char *client,
			    uint64_t now_ms);
void pved_login_limits_failed(pved_login_limits *l, const char *userid, const char *client,
			      uint64_t now_ms);
/* Forgets the pair's failures (not the address's). */
void pved_login_limits_succeeded(pved_login_limits *l, const char *userid, const char *client);

/* The same on the daemon's tables, now. */
long long pved_auth_login_delay(pved *d, const char *userid, const char *client);
bool pved_auth_login_blocked(pved *d, const char *userid, const char *client);
void pved_auth_login_failed(pved *d, const char *userid, const char *client);
void pved_auth_login_succeeded(pved *d, const char *userid, const char *client);

/* ---- the audit log: <root>/var/log/pve/audit.log ---------------------------------------------------------
 * One line per event: "<UTC time ISO 8601> <client> <user> <event>", control characters replaced. */
void pved_audit(pved *d, const char *client, const char *user, const char *fmt, ...) _printf_(4, 5);
/* A change made by an API call: "<event>" and the call's parameters that say what changed (userid,
 * tokenid, groupid, roleid, path, roles, users, groups, tokens, privs, privsep, enable, delete, realm,
 * type, poolid, vms, storage, scope, remove-vanished, enable-new, dry-run). */
void pved_audit_call(const pved_call *c, const char *event);

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
