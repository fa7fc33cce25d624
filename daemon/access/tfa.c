/* The /access/tfa handlers: users' TOTP entries and recovery codes in priv/tfa.cfg, changed under the
 * store lock "file-tfa_cfg" and, unless root@pam asks, only after the caller's password checked again. */
#include <cjson/cJSON.h>

#include "daemon/access/access-internal.h"

/* ---- who may see whose entries ----------------------------------------------------------------------- */

static bool env_permitted(void *ud, const char *path, const char *priv)
{
	return pved_call_permitted(ud, path, priv);
}

static bool env_user_exists(void *ud, const char *userid)
{
	return pved_auth_user_exists(((pved_call *)ud)->d, userid);
}

static char **env_user_groups(void *ud, const char *userid)
{
	return pved_auth_user_groups(((pved_call *)ud)->d, userid);
}

/* The read permission of the routes, for one user of the list. */
static bool may_read(pved_call *c, const char *userid)
{
	if (strcmp(c->authid, "root@pam") == 0)
		return true;
	_cleanup_json_ cJSON *params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "userid", userid);
	_cleanup_json_ cJSON *expr = cJSON_Parse(
		"[\"or\",[\"userid-param\",\"self\"],[\"userid-group\",[\"User.Modify\",\"Sys.Audit\"]]]");
	pved_check_env env = {
		.authid = c->authid,
		.params = params,
		.permitted = env_permitted,
		.user_exists = env_user_exists,
		.user_groups = env_user_groups,
		.ud = c,
	};
	return pved_check_eval(&env, expr, NULL) == 1;
}

/* ---- reading ---------------------------------------------------------------------------------------- */

static void h_tfa_list(pved_call *c)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_tfacfg_ pve_tfacfg *tfa = NULL;
	if (pved_tfacfg_read(c->d, &tfa, &err) < 0)
		return pved_call_fail(c, TAKE_PTR(err));
	cJSON *list = cJSON_CreateArray();
	_cleanup_strv_free_ char **users = pve_tfacfg_users(tfa);
	for (char **u = users; *u; u++) {
		if (!may_read(c, *u))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "userid", *u);
		cJSON_AddItemToObject(o, "entries", pve_tfacfg_list(tfa, *u));
		bool locked;
		long long until;
		pve_tfacfg_user_locks(tfa, *u, &locked, &until);
		if (locked)
			cJSON_AddBoolToObject(o, "totp-locked", true);
		if (until > time(NULL))
			cJSON_AddNumberToObject(o, "tfa-locked-until", (double)until);
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

static void h_tfa_user_list(pved_call *c)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_tfacfg_ pve_tfacfg *tfa = NULL;
	if (pved_tfacfg_read(c->d, &tfa, &err) < 0)
		return pved_call_fail(c, TAKE_PTR(err));
	pved_call_reply(c, pve_tfacfg_list(tfa, pved_call_str(c, "userid")));
}

static void h_tfa_get(pved_call *c)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_tfacfg_ pve_tfacfg *tfa = NULL;
	if (pved_tfacfg_read(c->d, &tfa, &err) < 0)
		return pved_call_fail(c, TAKE_PTR(err));
	const char *id = pved_call_str(c, "id");
	cJSON *e = pve_tfacfg_get(tfa, pved_call_str(c, "userid"), id);
	if (!e)
		return pved_call_failf(c, ENOENT, "No such tfa entry '%s'", id);
	pved_call_reply(c, e);
}

/* GET /access/users/{userid}/tfa, Proxmox's older view: the TFA type the user's realm enforces (its
 * domains.cfg `tfa` property's type) and, with multiple, the types the user has entries of. Proxmox's
 * code answers those as `user` while its schema calls them `types`: both are given, so clients written
 * against either work. Without multiple, `user` would be a pre-7.0 tfa.cfg's single type, which
 * tfa.cfg no longer has. */
static void h_users_tfa_type(pved_call *c)
{
	_cleanup_error_ pve_error *err = NULL;
	const char *userid = pved_call_str(c, "userid");
	const char *realm = strrchr(userid, '@');
	_cleanup_sectioncfg_ pve_sectioncfg *domains = NULL;
	if (pved_domains_read(c->d, &domains, NULL, &err) < 0)
		return pved_call_fail(c, TAKE_PTR(err));
	/* (pam and pve are always there, whether domains.cfg names them or not) */
	pve_section *s = realm ? pve_sectioncfg_find(domains, realm + 1) : NULL;
	if (!s && realm && !streq(realm + 1, "pam") && !streq(realm + 1, "pve"))
		return pved_call_failf(c, EIO, "auth domain '%s' does not exist", realm + 1);
	cJSON *res = cJSON_CreateObject();
	const char *tfa = s ? pve_section_get(s, "tfa") : NULL;
	const char *type = tfa ? strstr(tfa, "type=") : NULL;
	if (type) {
		type += strlen("type=");
		_cleanup_free_ char *t = xstrndup(type, strcspn(type, ","));
		cJSON_AddStringToObject(res, "realm", t);
	}
	if (pved_call_int(c, "multiple", 0)) {
		_cleanup_tfacfg_ pve_tfacfg *cfg = NULL;
		if (pved_tfacfg_read(c->d, &cfg, &err) < 0) {
			cJSON_Delete(res);
			return pved_call_fail(c, TAKE_PTR(err));
		}
		_cleanup_json_ cJSON *entries = pve_tfacfg_list(cfg, userid);
		cJSON *types = cJSON_AddArrayToObject(res, "types");
		const cJSON *e;
		cJSON_ArrayForEach (e, entries) {
			const char *t =
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
			bool seen = false;
			const cJSON *x;
			cJSON_ArrayForEach (x, types)
				seen = seen || streq_ptr(x->valuestring, t);
			if (t && !seen)
				cJSON_AddItemToArray(types, cJSON_CreateString(t));
		}
		cJSON_AddItemToObject(res, "user", cJSON_Duplicate(types, true));
	}
	pved_call_reply(c, res);
}

/* ---- changes: the caller's password first ------------------------------------------------------------ */

typedef struct reauth {
	pved_call *call;
	void (*then)(pved_call *c);
	const char *what; /* the change, for the audit log: "tfa change" */
	char *userid; /* the caller */
	char *password;
	char *hash; /* pve realm: the stored hash, copied on the loop */
	pve_ldap_config *ldap; /* ldap and ad realms: the realm's settings, read on the loop */
	pve_error *err;
} reauth;

static void reauth_work(void *arg)
{
	reauth *p = arg;
	const char *at = strrchr(p->userid, '@');
	_cleanup_free_ char *name = xstrndup(p->userid, (size_t)(at - p->userid));
	if (p->ldap)
		pve_ldap_authenticate(p->ldap, name, p->password, &p->err);
	else if (strcmp(at, "@pam") == 0)
		pve_pam_authenticate("pved", name, p->password, &p->err);
	else if (!p->hash || !pve_password_check(p->hash, p->password))
		pve_error_set(&p->err, EACCES, "authentication failure");
}

static void reauth_free(reauth *p)
{
	pve_error_free(p->err);
	explicit_bzero(p->password, strlen(p->password));
	free(p->password);
	free(p->userid);
	free(p->hash);
	pve_ldap_config_free(p->ldap);
	free(p);
}

static void reauth_done(void *arg)
{
	reauth *p = arg;
	pved_call *c = p->call;
	if (p->err) {
		pved_auth_login_failed(c->d, p->userid, c->client);
		pved_audit(c->d, c->client, p->userid, "%s refused: wrong password", p->what);
		pved_call_failf(c, EACCES, "authentication failure");
	} else {
		p->then(c);
	}
	reauth_free(p);
}

void pved_reauth(pved_call *c, const char *param, const char *what, void (*then)(pved_call *c))
{
	const char *userid = pved_call_str(c, "userid");
	bool root = strcmp(c->authid, "root@pam") == 0;
	if (userid && strcmp(userid, "root@pam") == 0 && !root)
		return pved_call_failf(
			c, EACCES, "Permission check failed (only root@pam may change root@pam)");
	if (root)
		return then(c);
	/* A token has no password to give: it never changes what its user alone may (the routes
	 * refuse tokens too). */
	if (!pve_userid_valid(c->authid))
		return pved_call_failf(c, EACCES,
				       "Permission check failed (not with an API token)");
	const char *password = pved_call_str(c, param);
	if (!password) {
		pve_error *err = NULL;
		pve_error_set_param(&err, EINVAL, param, "password is required to modify user");
		return pved_call_fail(c, err);
	}
	if (pved_auth_login_blocked(c->d, c->authid, c->client))
		return pved_call_failf(c, EACCES, "authentication failure");
	const char *realm = strrchr(c->authid, '@') + 1;
	pve_ldap_config *ldap = NULL;
	if (strcmp(realm, "pam") != 0 && strcmp(realm, "pve") != 0) {
		_cleanup_free_ char *type = pved_realm_type(c->d, realm);
		_cleanup_error_ pve_error *err = NULL;
		if (!type || (strcmp(type, "ldap") != 0 && strcmp(type, "ad") != 0) ||
		    pved_realm_ldap_config(c->d, realm, &ldap, &err) < 0)
			return pved_call_failf(c, EACCES, "authentication failure");
	}
	reauth *p = xcalloc(1, sizeof(*p));
	p->call = c;
	p->then = then;
	p->what = what;
	p->userid = xstrdup(c->authid);
	p->password = xstrdup(password);
	p->hash = pved_auth_shadow_hash(c->d, c->authid);
	p->ldap = ldap;
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_AUTH, reauth_work, reauth_done, p, &err) < 0) {
		reauth_free(p);
		pved_call_fail(c, err);
	}
}

/* The end of a change of a user's entries: the audit line names the change (e->event) and the user. */
static void changed(pved_access_edit *e, int r, pve_error *err)
{
	pved_call *c = e->c;
	if (r < 0)
		return pved_call_fail(c, err);
	pved_audit(c->d, c->client, c->authid, "tfa %s for user %s", e->event,
		   pved_call_str(c, "userid"));
	pved_call_reply(c, TAKE_PTR(e->data));
}

static void change(pved_call *c, pved_access_edit_fn fn, const char *what)
{
	pved_access_edit *e = pved_access_edit_new(c, fn, what);
	e->done = changed;
	pved_access_edit_run(e, &pved_tfacfg_file, NULL);
}

static int do_add(pved_access_edit *e, void *tfa, pve_error **err)
{
	pved_call *c = e->c;
	const char *userid = pved_call_str(c, "userid");
	const char *type = pved_call_str(c, "type");
	if (!pved_auth_user_exists(c->d, userid))
		return pve_error_set(err, ENOENT, "no such user ('%s')", userid);
	time_t now = time(NULL);
	if (strcmp(type, "totp") == 0) {
		const char *uri = pved_call_str(c, "totp"), *value = pved_call_str(c, "value");
		if (!uri)
			return pve_error_set_param(err, EINVAL, "totp", "missing totp URI");
		if (!value)
			return pve_error_set_param(err, EINVAL, "value", "missing current code");
		int r = pve_totp_check_uri(uri, err);
		if (r < 0) {
			if (err && *err && !(*err)->param)
				(*err)->param = xstrdup("totp");
			return r;
		}
		/* The code shows that the user's authenticator holds the same secret. */
		if (pve_totp_verify(uri, value, now, -1, NULL, NULL) < 0)
			return pve_error_set_param(err, EINVAL, "value", "TOTP code mismatch");
		_cleanup_free_ char *id = NULL;
		if ((r = pve_tfacfg_add_totp(tfa, userid, uri, pved_call_str(c, "description"), now,
					     &id, err)) < 0)
			return r;
		e->data = cJSON_CreateObject();
		cJSON_AddStringToObject(e->data, "id", id);
		return 0;
	}
	if (strcmp(type, "recovery") == 0) {
		_cleanup_strv_free_ char **codes = NULL;
		int r = pve_tfacfg_add_recovery(tfa, userid, now, &codes, err);
		if (r < 0)
			return r;
		e->data = cJSON_CreateObject();
		cJSON_AddStringToObject(e->data, "id", "recovery");
		cJSON *list = cJSON_AddArrayToObject(e->data, "recovery");
		for (char **p = codes; *p; p++)
			cJSON_AddItemToArray(list, cJSON_CreateString(*p));
		return 0;
	}
	if (strcmp(type, "webauthn") == 0) {
		/* Two calls, as Proxmox's: without a value the challenge for the browser, then its
		 * answer with the challenge it answers. */
		pve_webauthn_config wa = { 0 };
		int r = pved_webauthn_config(c->d, &wa, err);
		const char *challenge = pved_call_str(c, "challenge");
		const char *value = pved_call_str(c, "value");
		_cleanup_free_ char *out = NULL;
		if (r == 0 && !value) {
			r = pve_tfacfg_webauthn_challenge(tfa, userid, &wa, now, &out, err);
			if (r == 0) {
				e->data = cJSON_CreateObject();
				cJSON_AddStringToObject(e->data, "challenge", out);
			}
		} else if (r == 0 && !challenge) {
			r = pve_error_set_param(err, EINVAL, "challenge",
						"missing the webauthn challenge");
		} else if (r == 0) {
			r = pve_tfacfg_webauthn_register(tfa, userid, &wa, challenge, value,
							 pved_call_str(c, "description"), now, &out,
							 err);
			if (r == 0) {
				e->data = cJSON_CreateObject();
				cJSON_AddStringToObject(e->data, "id", out);
			}
		}
		pve_webauthn_config_clear(&wa);
		return r;
	}
	return pve_error_set_param(err, EINVAL, "type", "type '%s' is not supported by pved", type);
}

static void add_then(pved_call *c)
{
	change(c, do_add, "entry added");
}

static void h_tfa_add(pved_call *c)
{
	pved_reauth(c, "password", "tfa change", add_then);
}

static int do_update(pved_access_edit *e, void *tfa, pve_error **err)
{
	pved_call *c = e->c;
	int enable = pved_call_has(c, "enable") ? (int)pved_call_int(c, "enable", 1) != 0 : -1;
	int r = pve_tfacfg_update(tfa, pved_call_str(c, "userid"), pved_call_str(c, "id"),
				  pved_call_str(c, "description"), enable, err);
	return r < 0 ? r : 0;
}

static void update_then(pved_call *c)
{
	change(c, do_update, "entry updated");
}

static void h_tfa_update(pved_call *c)
{
	pved_reauth(c, "password", "tfa change", update_then);
}

static int do_delete(pved_access_edit *e, void *tfa, pve_error **err)
{
	pved_call *c = e->c;
	int r = pve_tfacfg_delete(tfa, pved_call_str(c, "userid"), pved_call_str(c, "id"), err);
	return r < 0 ? r : 0;
}

static void delete_then(pved_call *c)
{
	change(c, do_delete, "entry deleted");
}

static void h_tfa_delete(pved_call *c)
{
	pved_reauth(c, "password", "tfa change", delete_then);
}

/* ---- /access/users/{userid}/unlock-tfa ---------------------------------------------------------------- */

/* A user that was not locked: nothing to write. */
static int unlock_change(pved_access_edit *e, void *tfa, pve_error **err)
{
	(void)err;
	return pve_tfacfg_unlock_user(tfa, pved_call_str(e->c, "userid")) ? 0 : PVED_CFGEDIT_KEEP;
}

static void unlocked(pved_access_edit *e, int r, pve_error *err)
{
	pved_call *c = e->c;
	if (r < 0)
		return pved_call_fail(c, err);
	bool was_locked = r != PVED_CFGEDIT_KEEP;
	if (was_locked)
		pved_audit(c->d, c->client, c->authid, "tfa unlocked for user %s",
			   pved_call_str(c, "userid"));
	pved_call_reply(c, cJSON_CreateBool(was_locked));
}

static void h_users_unlock_tfa(pved_call *c)
{
	pved_access_edit *e = pved_access_edit_new(c, unlock_change, NULL);
	e->done = unlocked;
	pved_access_edit_run(e, &pved_tfacfg_file, NULL);
}

const pved_handler pved_handlers_tfa[] = {
	{ "access_tfa_list", h_tfa_list },
	{ "access_tfa_user_list", h_tfa_user_list },
	{ "access_tfa_add", h_tfa_add },
	{ "access_tfa_get", h_tfa_get },
	{ "access_tfa_update", h_tfa_update },
	{ "access_tfa_delete", h_tfa_delete },
	{ "access_users_unlock_tfa", h_users_unlock_tfa },
	{ "access_users_tfa_type", h_users_tfa_type },
	{ NULL, NULL },
};
