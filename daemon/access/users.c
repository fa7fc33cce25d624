/* The access-control handlers: users, groups, roles, ACLs, tokens, permissions, password. Each change
 * reads user.cfg (and the priv/ files) under the store lock "file-user_cfg", changes it in memory, writes
 * it back against the digest it read and reloads the daemon's access state at once. */
#include "daemon/access/access-internal.h"

/* Sets (hash) or removes (NULL) the password hash of name in priv/shadow.cfg; a removal of what is not
 * there writes nothing. */
static int shadow_change(pved *d, const char *name, const char *hash, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	pve_shadowcfg *s = NULL;
	int r = pve_store_read(d->store, "priv/shadow.cfg", &text, &len, NULL, NULL);
	if (r == -ENOENT)
		s = pve_shadowcfg_new();
	else if (r < 0)
		return pve_error_set(err, -r, "cannot read shadow.cfg");
	else if ((r = pve_shadowcfg_parse(text, len, &s, err)) < 0)
		return r;
	r = 0;
	bool changed = true;
	if (hash)
		r = pve_shadowcfg_set(s, name, hash, err);
	else
		changed = pve_shadowcfg_delete(s, name);
	_cleanup_free_ char *out = r < 0 || !changed ? NULL : pve_shadowcfg_print(s);
	pve_shadowcfg_free(s);
	if (r < 0 || !changed)
		return r;
	return pve_store_write(d->store, "priv/shadow.cfg", out, strlen(out), NULL, err);
}

/* Sets (hash) or removes (NULL) the secret of each token in ids. */
static int tokencfg_change(pved *d, char *const *ids, const char *hash, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	pve_tokencfg *t = NULL;
	int r = pve_store_read(d->store, "priv/token.cfg", &text, &len, NULL, NULL);
	if (r == -ENOENT)
		t = pve_tokencfg_new();
	else if (r < 0)
		return pve_error_set(err, -r, "cannot read token.cfg");
	else if ((r = pve_tokencfg_parse(text, len, &t, err)) < 0)
		return r;
	r = 0;
	for (char *const *id = ids; r >= 0 && id && *id; id++) {
		if (hash)
			r = pve_tokencfg_set(t, *id, hash, err);
		else
			pve_tokencfg_delete(t, *id);
	}
	_cleanup_free_ char *out = r < 0 ? NULL : pve_tokencfg_print(t);
	pve_tokencfg_free(t);
	if (r < 0)
		return r;
	return pve_store_write(d->store, "priv/token.cfg", out, strlen(out), NULL, err);
}

/* "name" of "name@pve": how Proxmox keys shadow.cfg. NULL for other realms. */
static char *pve_realm_name(const char *userid)
{
	const char *at = strrchr(userid, '@');
	if (!at || strcmp(at, "@pve") != 0)
		return NULL;
	return xstrndup(userid, (size_t)(at - userid));
}

static const char *realm_of(const char *userid)
{
	const char *at = strrchr(userid, '@');
	return at ? at + 1 : "";
}

/* ---- permission helpers: what the route table's check lists cannot say (the filters of the list
 * calls, the roles an ACL change may hand out) ---------------------------------------------------------- */

static bool is_root(const pved_call *c)
{
	return strcmp(c->authid, "root@pam") == 0;
}

static bool any_priv(const pved_call *c, const char *path, const char *const *privs)
{
	for (; *privs; privs++)
		if (pved_call_permitted(c, path, *privs))
			return true;
	return false;
}

/* May the caller use privs on /access/groups/GROUP for group g? */
static bool group_allowed(const pved_call *c, const char *g, const char *const *privs)
{
	_cleanup_free_ char *path = xasprintf("/access/groups/%s", g);
	return any_priv(c, path, privs);
}

/* userid-group: any of privs on /access/groups, or on a group that userid belongs to. */
static bool user_group_allowed(const pved_call *c, const pve_usercfg *cfg, const char *userid,
			       const char *const *privs)
{
	if (any_priv(c, "/access/groups", privs))
		return true;
	const pve_user *u = pve_usercfg_find_user(cfg, userid);
	for (char **g = u ? u->groups : NULL; g && *g; g++)
		if (group_allowed(c, *g, privs))
			return true;
	return false;
}

static int deny(pve_error **err, const char *what)
{
	return pve_error_set(err, EACCES, "Permission check failed (%s)", what);
}

static const char *const PRIVS_LIST[] = { "User.Modify", "Sys.Audit", NULL };

/* ---- small JSON helpers -------------------------------------------------------------------------------- */

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v && *v)
		cJSON_AddStringToObject(o, k, v);
}

static cJSON *token_info(const pve_token *t, bool with_name)
{
	cJSON *o = cJSON_CreateObject();
	if (with_name)
		cJSON_AddStringToObject(o, "tokenid", strrchr(t->tokenid, '!') + 1);
	cJSON_AddNumberToObject(o, "expire", (double)t->expire);
	cJSON_AddNumberToObject(o, "privsep", t->privsep ? 1 : 0);
	add_str(o, "comment", t->comment);
	return o;
}

/* A token of userid (a token id whose user is userid; not userid itself). */
static bool token_of(const char *tokenid, const char *userid)
{
	return pve_tokenid_valid(tokenid) && pve_authid_of_user(tokenid, userid);
}

/* Tokens never make, change or remove tokens: a token of either kind could otherwise give itself (or a
 * new token) its user's whole privileges, and tokens outlive the sessions that make them. */
static bool refuse_token_caller(pved_call *c)
{
	if (!pve_tokenid_valid(c->authid))
		return false;
	pve_error *err = NULL;
	pve_error_set(&err, EACCES,
		      "Permission check failed (API tokens cannot manage API tokens)");
	pved_call_fail(c, err);
	return true;
}

static void user_fields(cJSON *o, const pve_user *u)
{
	cJSON_AddNumberToObject(o, "enable", u->enable ? 1 : 0);
	cJSON_AddNumberToObject(o, "expire", (double)u->expire);
	add_str(o, "firstname", u->firstname);
	add_str(o, "lastname", u->lastname);
	add_str(o, "email", u->email);
	add_str(o, "comment", u->comment);
	add_str(o, "keys", u->keys);
}

static char **param_list(const pved_call *c, const char *name)
{
	const char *v = pved_call_str(c, name);
	return v ? pve_split_list(v) : NULL;
}

/* Replaces a text field with the parameter's value when given ("" clears it). */
static void set_field(const pved_call *c, const char *name, char **field)
{
	const char *v = pved_call_str(c, name);
	if (!v)
		return;
	free(*field);
	*field = *v ? xstrdup(v) : NULL;
}

/* The call's fields onto user u: all of them for a new user (the defaults where not given), only those
 * given for an update. */
static void user_set_fields(const pved_call *c, pve_user *u, bool create)
{
	if (create || pved_call_has(c, "enable"))
		u->enable = pved_call_int(c, "enable", 1);
	if (create || pved_call_has(c, "expire"))
		u->expire = pved_call_int(c, "expire", 0);
	set_field(c, "firstname", &u->firstname);
	set_field(c, "lastname", &u->lastname);
	set_field(c, "email", &u->email);
	set_field(c, "comment", &u->comment);
	set_field(c, "keys", &u->keys);
}

/* ---- passwords are hashed on a worker thread (crypt takes milliseconds) -------------------------------- */

typedef struct hashing {
	pved_call *call;
	char *password;
	char *hash;
	void (*next)(pved_call *c, const char *hash);
} hashing;

static void hash_work(void *arg)
{
	hashing *h = arg;
	h->hash = pve_password_hash(h->password);
}

static void hashing_free(hashing *h)
{
	explicit_bzero(h->password, strlen(h->password));
	free(h->password);
	free(h->hash);
	free(h);
}

static void hash_done(void *arg)
{
	hashing *h = arg;
	if (!h->hash) {
		pve_error *err = NULL;
		pve_error_set(&err, EIO, "cannot hash the password");
		pved_call_fail(h->call, err);
	} else {
		h->next(h->call, h->hash);
	}
	hashing_free(h);
}

static void with_hash(pved_call *c, const char *password, void (*next)(pved_call *, const char *))
{
	if (!password)
		return next(c, NULL);
	hashing *h = xcalloc(1, sizeof(*h));
	h->call = c;
	h->password = xstrdup(password);
	h->next = next;
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_AUTH, hash_work, hash_done, h, &err) < 0) {
		hashing_free(h);
		pved_call_fail(c, err);
	}
}

/* ---- a pam user's system password, set on a worker thread (chpasswd) -------------------------------------- */

typedef struct pam_setting {
	pved_call *call;
	char *user; /* the system user: the name of "name@pam" */
	char *password;
	const char *failed; /* Proxmox's errmsg around the setting, or NULL */
	void (*then)(pved_call *c);
	pve_error *err;
} pam_setting;

static void pam_set_work(void *arg)
{
	pam_setting *p = arg;
	pve_pam_set_password(p->user, p->password, &p->err);
}

static void pam_setting_free(pam_setting *p)
{
	explicit_bzero(p->password, strlen(p->password));
	free(p->password);
	free(p->user);
	pve_error_free(p->err);
	free(p);
}

static void pam_set_done(void *arg)
{
	pam_setting *p = arg;
	pved_call *c = p->call;
	if (p->err) {
		pved_error_wrap(p->err, p->failed);
		pved_call_fail(c, TAKE_PTR(p->err));
	} else {
		p->then(c);
	}
	pam_setting_free(p);
}

/* Sets the system password of the pam user "userid" to "password", then runs then(c); a failure answers
 * the call (prefixed with failed, as Proxmox's lock wrapper does, when it is not NULL). */
static void pved_pam_password_set(pved_call *c, const char *failed, void (*then)(pved_call *c))
{
	const char *userid = pved_call_str(c, "userid");
	const char *at = strrchr(userid, '@');
	pam_setting *p = xcalloc(1, sizeof(*p));
	p->call = c;
	p->user = xstrndup(userid, (size_t)(at - userid));
	p->password = xstrdup(pved_call_str(c, "password"));
	p->failed = failed;
	p->then = then;
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_AUTH, pam_set_work, pam_set_done, p, &err) < 0) {
		pam_setting_free(p);
		pved_call_fail(c, err);
	}
}

/* ---- /access/users -------------------------------------------------------------------------------------- */

static void h_users_index(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (pved_usercfg_read(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	bool all = any_priv(c, "/access/groups", PRIVS_LIST);
	bool full = pved_call_int(c, "full", 0);
	bool has_enabled = pved_call_has(c, "enabled");
	bool enabled = pved_call_int(c, "enabled", 0);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < cfg->n_users; i++) {
		const pve_user *u = &cfg->users[i];
		if (!all && strcmp(u->userid, c->authid) != 0 &&
		    !user_group_allowed(c, cfg, u->userid, PRIVS_LIST))
			continue;
		if (has_enabled && u->enable != enabled)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "userid", u->userid);
		user_fields(o, u);
		cJSON_AddStringToObject(o, "realm-type", realm_of(u->userid));
		if (full) {
			_cleanup_free_ char *groups = pve_strv_join(u->groups, ",");
			add_str(o, "groups", groups);
			cJSON *tokens = cJSON_AddArrayToObject(o, "tokens");
			for (size_t t = 0; t < cfg->n_tokens; t++)
				if (token_of(cfg->tokens[t].tokenid, u->userid))
					cJSON_AddItemToArray(tokens,
							     token_info(&cfg->tokens[t], true));
		}
		cJSON_AddItemToArray(list, o);
	}
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddStringToObject(extra, "digest", digest);
	pved_call_reply_with(c, list, extra);
}

/* The password hash of a pve user (e->secret; NULL removes one left behind), before user.cfg names it. */
static int shadow_also(pved_access_edit *e, void *cfg, pve_error **err)
{
	(void)cfg;
	_cleanup_free_ char *name = pve_realm_name(pved_call_str(e->c, "userid"));
	return name ? shadow_change(e->c->d, name, e->secret, err) : 0;
}

/* Proxmox's "no such group 'G'" for the first of groups that user.cfg lacks. */
static int groups_exist(const pve_usercfg *cfg, char *const *groups, pve_error **err)
{
	for (char *const *g = groups; g && *g; g++)
		if (!pve_usercfg_find_group(cfg, *g))
			return pved_access_error_plain(err, "no such group '%s'", *g);
	return 0;
}

static int user_create_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pved_call *c = e->c;
	pve_usercfg *cfg = cfgp;
	const char *userid = pved_call_str(c, "userid");
	_cleanup_strv_free_ char **groups = param_list(c, "groups");
	/* The route's check list (userid-param, userid-group with groups_param) allowed the call. */
	int r;
	if (pve_usercfg_find_user(cfg, userid))
		return pved_access_error_plain(err, "user '%s' already exists", userid);
	if ((r = groups_exist(cfg, groups, err)) < 0)
		return r;
	if ((r = pve_usercfg_add_user(cfg, userid, NULL, err)) < 0 ||
	    (r = pve_usercfg_set_user_groups(cfg, userid, groups, true, err)) < 0)
		return r;
	user_set_fields(c, pve_usercfg_find_user(cfg, userid), true);
	return 0;
}

static void user_create(pved_call *c, const char *hash)
{
	pved_access_edit *e = pved_access_edit_new(c, user_create_change, "user create");
	e->also = shadow_also;
	e->secret = hash ? xstrdup(hash) : NULL;
	e->failed = "create user failed";
	pved_access_edit_run(e, &pved_usercfg_file, NULL);
}

static void user_create_pam_set(pved_call *c)
{
	user_create(c, NULL);
}

/* Proxmox's domain_set_password: a pve user's hash goes to shadow.cfg, a pam user's password to the
 * system (chpasswd), other realms keep theirs. The check of the realm and the setting come before the
 * user is added, as in Proxmox (a password refused adds no user). */
static void h_users_create(pved_call *c)
{
	const char *userid = pved_call_str(c, "userid");
	const char *password = pved_call_str(c, "password");
	/* Proxmox adds a user of a realm that does not exist (who can never log in); pved refuses,
	 * naming the parameter. */
	_cleanup_free_ char *type = pved_realm_type(c->d, realm_of(userid));
	if (!type) {
		pve_error *err = NULL;
		pve_error_set_param(&err, EINVAL, "userid", "domain '%s' does not exist",
				    realm_of(userid));
		return pved_call_fail(c, err);
	}
	if (!password)
		return user_create(c, NULL);
	if (strcmp(type, "pve") == 0)
		return with_hash(c, password, user_create);
	if (strcmp(type, "pam") != 0)
		return pved_access_fail_plain(
			c, "create user failed: can't set password on auth type '%s'", type);
	/* A pam user: the system's password is set first, so the user must not exist yet. */
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (pve_usercfg_find_user(cfg, userid))
		return pved_access_fail_plain(c, "create user failed: user '%s' already exists",
					      userid);
	pved_pam_password_set(c, "create user failed", user_create_pam_set);
}

static void h_users_get(pved_call *c)
{
	pve_error *err = NULL;
	const char *userid = pved_call_str(c, "userid");
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const pve_user *u = pve_usercfg_find_user(cfg, userid);
	if (!u)
		return pved_access_fail_plain(c, "no such user ('%s')", userid);
	cJSON *o = cJSON_CreateObject();
	user_fields(o, u);
	cJSON *groups = cJSON_AddArrayToObject(o, "groups");
	for (char **g = u->groups; g && *g; g++)
		cJSON_AddItemToArray(groups, cJSON_CreateString(*g));
	cJSON *tokens = cJSON_AddObjectToObject(o, "tokens");
	for (size_t t = 0; t < cfg->n_tokens; t++)
		if (token_of(cfg->tokens[t].tokenid, userid))
			cJSON_AddItemToObject(tokens, strrchr(cfg->tokens[t].tokenid, '!') + 1,
					      token_info(&cfg->tokens[t], false));
	pved_call_reply(c, o);
}

static int user_update_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pved_call *c = e->c;
	pve_usercfg *cfg = cfgp;
	const char *userid = pved_call_str(c, "userid");
	_cleanup_strv_free_ char **groups = param_list(c, "groups");
	if (!pve_usercfg_find_user(cfg, userid))
		return pved_access_error_plain(err, "no such user ('%s')", userid);
	/* The route's schema: "append" requires "groups". */
	int r = groups_exist(cfg, groups, err);
	if (r < 0)
		return r;
	if (groups && (r = pve_usercfg_set_user_groups(cfg, userid, groups,
						       pved_call_int(c, "append", 0), err)) < 0)
		return r;
	user_set_fields(c, pve_usercfg_find_user(cfg, userid), false);
	return 0;
}

static void h_users_update(pved_call *c)
{
	pved_access_edit *e = pved_access_edit_new(c, user_update_change, "user update");
	e->failed = "update user failed";
	pved_access_edit_run(e, &pved_usercfg_file, NULL);
}

/* tfa.cfg has a lock of its own: the user's second factors go in an edit of their own once user.cfg is
 * written (a failure there is reported; the factors left over would only ask a later user of the same
 * name for more, never for less). No write when the user had none. */
static int tfa_forget_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	(void)err;
	return pve_tfacfg_delete_user(cfg, pved_call_str(e->c, "userid")) ? 0 : PVED_CFGEDIT_KEEP;
}

static void user_deleted(pved_access_edit *e, int r, pve_error *err)
{
	if (r < 0)
		return pved_call_fail(e->c, err);
	pved_audit_call(e->c, "user delete");
	pved_call_reply(e->c, NULL);
}

static void user_delete_written(pved_access_edit *e, int r, pve_error *err)
{
	pved_call *c = e->c;
	if (r < 0)
		return pved_call_fail(c, err);
	pved_auth_reload(c->d);
	pved_access_edit *t = pved_access_edit_new(c, tfa_forget_change, NULL);
	t->done = user_deleted;
	pved_access_edit_run(t, &pved_tfacfg_file, NULL);
}

/* The user's password hash and its tokens' secrets (e->ids) go before the user. */
static int user_delete_also(pved_access_edit *e, void *cfg, pve_error **err)
{
	int r = shadow_also(e, cfg, err);
	return r < 0 || !e->ids[0] ? r : tokencfg_change(e->c->d, e->ids, NULL, err);
}

static int user_delete_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pve_usercfg *cfg = cfgp;
	const char *userid = pved_call_str(e->c, "userid");
	/* Proxmox would delete it; without root@pam nobody could manage the node locally. */
	if (strcmp(userid, "root@pam") == 0)
		return pved_access_error_plain(err, "cannot delete user 'root@pam'");
	/* Gone meanwhile: as for root@pam below, nothing to do. */
	if (!pve_usercfg_find_user(cfg, userid))
		return PVED_CFGEDIT_KEEP;
	e->ids = xcalloc(cfg->n_tokens + 1, sizeof(char *));
	for (size_t t = 0, n = 0; t < cfg->n_tokens; t++)
		if (token_of(cfg->tokens[t].tokenid, userid))
			e->ids[n++] = xstrdup(cfg->tokens[t].tokenid);
	int r = pve_usercfg_delete_user(cfg, userid, err);
	return r < 0 ? r : 0;
}

static void h_users_delete(pved_call *c)
{
	/* Proxmox: a user that does not exist fails the permission check of anyone but root@pam
	 * (check_user_exist dies: a 500), while root@pam's delete goes through and changes nothing. */
	const char *userid = pved_call_str(c, "userid");
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (!pve_usercfg_find_user(cfg, userid) && strcmp(userid, "root@pam") != 0) {
		if (!is_root(c))
			return pved_access_fail_plain(c, "no such user ('%s')", userid);
		return pved_call_reply(c, NULL);
	}
	pved_access_edit *e = pved_access_edit_new(c, user_delete_change, NULL);
	e->also = user_delete_also;
	e->done = user_delete_written;
	e->failed = "delete user failed";
	pved_access_edit_run(e, &pved_usercfg_file, NULL);
}

/* ---- /access/users/{userid}/token ---------------------------------------------------------------------- */

static void h_tokens_index(pved_call *c)
{
	pve_error *err = NULL;
	const char *userid = pved_call_str(c, "userid");
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (!pve_usercfg_find_user(cfg, userid))
		return pved_access_fail_plain(c, "no such user ('%s')", userid);
	cJSON *list = cJSON_CreateArray();
	for (size_t t = 0; t < cfg->n_tokens; t++)
		if (token_of(cfg->tokens[t].tokenid, userid))
			cJSON_AddItemToArray(list, token_info(&cfg->tokens[t], true));
	pved_call_reply(c, list);
}

static char *full_tokenid(const pved_call *c)
{
	return xasprintf("%s!%s", pved_call_str(c, "userid"), pved_call_str(c, "tokenid"));
}

/* Proxmox's check_token_exist: "no such user ('U')" or "no such token 'T' for user 'U'". */
static int token_exists(const pved_call *c, const pve_usercfg *cfg, pve_error **err)
{
	const char *userid = pved_call_str(c, "userid");
	if (!pve_usercfg_find_user(cfg, userid))
		return pved_access_error_plain(err, "no such user ('%s')", userid);
	_cleanup_free_ char *id = full_tokenid(c);
	if (!pve_usercfg_find_token(cfg, id))
		return pved_access_error_plain(err, "no such token '%s' for user '%s'",
					       pved_call_str(c, "tokenid"), userid);
	return 0;
}

static void h_token_get(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_free_ char *id = full_tokenid(c);
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0 || token_exists(c, cfg, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, token_info(pve_usercfg_find_token(cfg, id), false));
}

/* The secrets of the tokens e->ids: set to e->secret's hash, or removed (NULL), before user.cfg. */
static int tokens_also(pved_access_edit *e, void *cfg, pve_error **err)
{
	(void)cfg;
	return tokencfg_change(e->c->d, e->ids, e->secret, err);
}

/* A token with a new secret: the hash goes to token.cfg, the secret itself only into the answer. */
static int token_create_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	pved_call *c = e->c;
	pve_token *t = NULL;
	const char *userid = pved_call_str(c, "userid");
	if (!pve_usercfg_find_user(cfg, userid))
		return pved_access_error_plain(err, "no such user ('%s')", userid);
	if (pve_usercfg_find_token(cfg, e->ids[0]))
		return pved_access_error_plain(err, "Token already exists.");
	int r = pve_usercfg_add_token(cfg, e->ids[0], pved_call_int(c, "expire", 0),
				      pved_call_int(c, "privsep", 1), pved_call_str(c, "comment"),
				      &t, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *secret = pve_token_secret_generate();
	e->secret = pve_token_secret_hash(secret);
	e->data = cJSON_CreateObject();
	cJSON_AddStringToObject(e->data, "full-tokenid", e->ids[0]);
	cJSON_AddItemToObject(e->data, "info", token_info(t, false));
	cJSON_AddStringToObject(e->data, "value", secret);
	explicit_bzero(secret, strlen(secret));
	return 0;
}

static int token_update_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	pved_call *c = e->c;
	int r = token_exists(c, cfg, err);
	if (r < 0)
		return r;
	pve_token *t = pve_usercfg_find_token(cfg, e->ids[0]);
	_cleanup_strv_free_ char **del = param_list(c, "delete");
	for (char **k = del; k && *k; k++) {
		if (strcmp(*k, "comment") != 0)
			return pve_error_set_param(err, EINVAL, "delete", "unknown option '%s'",
						   *k);
		free(t->comment);
		t->comment = NULL;
	}
	if (pved_call_has(c, "expire"))
		t->expire = pved_call_int(c, "expire", 0);
	if (pved_call_has(c, "privsep"))
		t->privsep = pved_call_int(c, "privsep", 1);
	set_field(c, "comment", &t->comment);
	e->data = token_info(t, false);
	return 0;
}

static int token_delete_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	int r = token_exists(e->c, cfg, err);
	if (r < 0)
		return r;
	r = pve_usercfg_delete_token(cfg, e->ids[0], err);
	return r < 0 ? r : 0;
}

/* A change of the token the call names (tokens never manage tokens). As Proxmox, the user (create) or
 * the token (update, delete) is looked up before the lock, where its absence is a plain 500, and
 * again under it, where the error carries the call's failed prefix. */
static void token_change(pved_call *c, pved_access_edit_fn change, bool secret, const char *event,
			 const char *failed)
{
	if (refuse_token_caller(c))
		return;
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	if (change == token_create_change) {
		_cleanup_free_ char *id = full_tokenid(c);
		const char *userid = pved_call_str(c, "userid");
		if (!pve_usercfg_find_user(cfg, userid))
			return pved_access_fail_plain(c, "no such user ('%s')", userid);
		if (pve_usercfg_find_token(cfg, id)) {
			pve_error_set_param(&err, EINVAL, "tokenid", "Token already exists.");
			return pved_call_fail(c, err);
		}
	} else if (token_exists(c, cfg, &err) < 0) {
		return pved_call_fail(c, err);
	}
	pved_access_edit *e = pved_access_edit_new(c, change, event);
	e->ids = xcalloc(2, sizeof(char *));
	e->ids[0] = full_tokenid(c);
	e->also = secret ? tokens_also : NULL;
	e->failed = failed;
	pved_access_edit_run(e, &pved_usercfg_file, NULL);
}

static void h_token_create(pved_call *c)
{
	token_change(c, token_create_change, true, "token create", "generating token failed");
}

static void h_token_update(pved_call *c)
{
	token_change(c, token_update_change, false, "token update", "updating token info failed");
}

static void h_token_delete(pved_call *c)
{
	token_change(c, token_delete_change, true, "token delete", "deleting token failed");
}

/* ---- /access/groups ------------------------------------------------------------------------------------- */

static void h_groups_index(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < cfg->n_groups; i++) {
		const pve_group *g = &cfg->groups[i];
		if (!group_allowed(c, g->groupid, PRIVS_LIST))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "groupid", g->groupid);
		add_str(o, "comment", g->comment);
		_cleanup_free_ char *users = pve_strv_join(g->members, ",");
		cJSON_AddStringToObject(o, "users", users);
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

/* A change of user.cfg answered with Proxmox's texts: its errors prefixed with failed. */
static void usercfg_change_failing(pved_call *c, pved_access_edit_fn change, const char *event,
				   const char *failed)
{
	pved_access_edit *e = pved_access_edit_new(c, change, event);
	e->failed = failed;
	pved_access_edit_run(e, &pved_usercfg_file, NULL);
}

static int group_create_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	const char *groupid = pved_call_str(e->c, "groupid");
	if (pve_usercfg_find_group(cfg, groupid))
		return pved_access_error_plain(err, "group '%s' already exists", groupid);
	int r = pve_usercfg_add_group(cfg, groupid, pved_call_str(e->c, "comment"), err);
	return r < 0 ? r : 0;
}

static void h_groups_create(pved_call *c)
{
	usercfg_change_failing(c, group_create_change, "group create", "create group failed");
}

static void h_groups_get(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (pved_usercfg_read(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	const pve_group *g = pve_usercfg_find_group(cfg, pved_call_str(c, "groupid"));
	if (!g)
		return pved_access_fail_plain(c, "group '%s' does not exist",
					      pved_call_str(c, "groupid"));
	cJSON *o = cJSON_CreateObject();
	add_str(o, "comment", g->comment);
	cJSON *members = cJSON_AddArrayToObject(o, "members");
	for (char **m = g->members; m && *m; m++)
		if (pve_usercfg_find_user(cfg, *m))
			cJSON_AddItemToArray(members, cJSON_CreateString(*m));
	cJSON_AddStringToObject(o, "digest", digest);
	pved_call_reply(c, o);
}

static int group_update_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	pve_group *g = pve_usercfg_find_group(cfg, pved_call_str(e->c, "groupid"));
	if (!g)
		return pved_access_error_plain(err, "group '%s' does not exist",
					       pved_call_str(e->c, "groupid"));
	set_field(e->c, "comment", &g->comment);
	return 0;
}

static void h_groups_update(pved_call *c)
{
	usercfg_change_failing(c, group_update_change, "group update", "update group failed");
}

static int group_delete_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	const char *groupid = pved_call_str(e->c, "groupid");
	if (!pve_usercfg_find_group(cfg, groupid))
		return pved_access_error_plain(err, "group '%s' does not exist", groupid);
	int r = pve_usercfg_delete_group(cfg, groupid, err);
	return r < 0 ? r : 0;
}

static void h_groups_delete(pved_call *c)
{
	usercfg_change_failing(c, group_delete_change, "group delete", "delete group failed");
}

/* ---- /access/roles -------------------------------------------------------------------------------------- */

static cJSON *role_entry(const char *roleid, const char *const *privs, bool special)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "roleid", roleid);
	_cleanup_free_ char *joined = pve_strv_join((char *const *)privs, ",");
	cJSON_AddStringToObject(o, "privs", joined);
	if (special)
		cJSON_AddNumberToObject(o, "special", 1);
	return o;
}

static void h_roles_index(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *list = cJSON_CreateArray();
	for (const char *const *r = pve_builtin_roles(); *r; r++)
		cJSON_AddItemToArray(list, role_entry(*r, pve_builtin_role_privs(*r), true));
	for (size_t i = 0; i < cfg->n_roles; i++)
		cJSON_AddItemToArray(list,
				     role_entry(cfg->roles[i].roleid,
						(const char *const *)cfg->roles[i].privs, false));
	pved_call_reply(c, list);
}

static void h_roles_get(pved_call *c)
{
	pve_error *err = NULL;
	const char *roleid = pved_call_str(c, "roleid");
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *const *privs = pve_builtin_role_privs(roleid);
	const pve_role *r = privs ? NULL : pve_usercfg_find_role(cfg, roleid);
	if (r)
		privs = (const char *const *)r->privs;
	if (!privs)
		return pved_access_fail_plain(c, "role '%s' does not exist", roleid);
	cJSON *o = cJSON_CreateObject();
	for (; *privs; privs++)
		cJSON_AddNumberToObject(o, *privs, 1);
	pved_call_reply(c, o);
}

static int role_set(pved_access_edit *e, pve_usercfg *cfg, bool create, pve_error **err)
{
	pved_call *c = e->c;
	const char *roleid = pved_call_str(c, "roleid");
	bool exists = pve_builtin_role_privs(roleid) || pve_usercfg_find_role(cfg, roleid);
	if (create && exists)
		return pved_access_error_plain(err, "role '%s' already exists", roleid);
	if (!create && !exists)
		return pved_access_error_plain(err, "role '%s' does not exist", roleid);
	_cleanup_strv_free_ char **privs = param_list(c, "privs");
	int r = pve_usercfg_set_role(cfg, pved_call_str(c, "roleid"), privs, create,
				     !create && pved_call_int(c, "append", 0), err);
	return r < 0 ? r : 0;
}

static int role_create_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	return role_set(e, cfg, true, err);
}

static int role_update_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	return role_set(e, cfg, false, err);
}

/* Proxmox's pve-priv-list format: an unknown privilege is the parameter's error, before any lock. */
static bool privs_valid(pved_call *c)
{
	_cleanup_strv_free_ char **privs = param_list(c, "privs");
	for (char **p = privs; p && *p; p++)
		if (!pve_privilege_valid(*p)) {
			pve_error *err = NULL;
			pve_error_set_param(&err, EINVAL, "privs", "invalid privilege '%s'", *p);
			pved_call_fail(c, err);
			return false;
		}
	return true;
}

static void h_roles_create(pved_call *c)
{
	const char *roleid = pved_call_str(c, "roleid");
	if (!privs_valid(c))
		return;
	if (strncasecmp(roleid, "PVE", 3) == 0) {
		pve_error *err = NULL;
		pve_error_set_param(
			&err, EINVAL, "roleid",
			"cannot use role ID starting with the (case-insensitive) 'PVE' namespace");
		return pved_call_fail(c, err);
	}
	usercfg_change_failing(c, role_create_change, "role set", "create role failed");
}

static void h_roles_update(pved_call *c)
{
	const char *roleid = pved_call_str(c, "roleid");
	if (pve_builtin_role_privs(roleid))
		return pved_access_fail_plain(c, "auto-generated role '%s' cannot be modified",
					      roleid);
	if (!privs_valid(c))
		return;
	usercfg_change_failing(c, role_update_change, "role set", "update role failed");
}

static int role_delete_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	const char *roleid = pved_call_str(e->c, "roleid");
	if (!pve_usercfg_find_role(cfg, roleid))
		return pved_access_error_plain(err, "role '%s' does not exist", roleid);
	int r = pve_usercfg_delete_role(cfg, roleid, err);
	return r < 0 ? r : 0;
}

static void h_roles_delete(pved_call *c)
{
	const char *roleid = pved_call_str(c, "roleid");
	if (pve_builtin_role_privs(roleid))
		return pved_access_fail_plain(c, "auto-generated role '%s' cannot be deleted",
					      roleid);
	usercfg_change_failing(c, role_delete_change, "role delete", "delete role failed");
}

/* ---- /access/acl ---------------------------------------------------------------------------------------- */

/* Proxmox's check_perm_modify: Permissions.Modify on the path, or the allocation privilege of its kind. */
static bool perm_modify_allowed(const pved_call *c, const char *path)
{
	if (pved_call_permitted(c, path, "Permissions.Modify"))
		return true;
	const char *alt = NULL;
	if (strncmp(path, "/storage/", 9) == 0 && path[9])
		alt = "Datastore.Allocate";
	else if (strncmp(path, "/vms/", 5) == 0 && path[5])
		alt = "VM.Allocate";
	else if (strncmp(path, "/pool/", 6) == 0 && path[6])
		alt = "Pool.Allocate";
	return alt && pved_call_permitted(c, path, alt);
}

static const char *acl_type_name(enum pve_acl_type t)
{
	return t == PVE_ACL_USER ? "user" : t == PVE_ACL_GROUP ? "group" : "token";
}

static void h_acl_get(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (pved_usercfg_read(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < cfg->n_acls; i++) {
		const pve_acl *a = &cfg->acls[i];
		if (!perm_modify_allowed(c, a->path))
			continue;
		for (char **r = a->roles; r && *r; r++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "path", a->path);
			cJSON_AddStringToObject(o, "type", acl_type_name(a->type));
			cJSON_AddStringToObject(o, "ugid", a->ugid);
			cJSON_AddStringToObject(o, "roleid", *r);
			cJSON_AddNumberToObject(o, "propagate", a->propagate ? 1 : 0);
			cJSON_AddItemToArray(list, o);
		}
	}
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddStringToObject(extra, "digest", digest);
	pved_call_reply_with(c, list, extra);
}

/* Without Permissions.Modify (perm-modify through VM.Allocate and the like) a caller hands out or takes
 * away only roles whose privileges it holds itself on the path. */
static int role_grantable(const pved_call *c, const pve_usercfg *cfg, const char *path,
			  const char *role, bool remove, pve_error **err)
{
	if (pved_call_permitted(c, path, "Permissions.Modify"))
		return 0;
	const char *const *privs = pve_builtin_role_privs(role);
	const pve_role *r = privs ? NULL : pve_usercfg_find_role(cfg, role);
	if (r)
		privs = (const char *const *)r->privs;
	for (; privs && *privs; privs++)
		if (!pved_call_permitted(c, path, *privs))
			return pve_error_set_param(
				err, EINVAL, "role",
				"Cannot %s role '%s' - requires "
				"'Permissions.Modify' or superset of privileges.",
				remove ? "remove" : "add", role);
	return 0;
}

static int acl_update_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pved_call *c = e->c;
	pve_usercfg *cfg = cfgp;
	_cleanup_free_ char *path = pve_acl_path_normalize(pved_call_str(c, "path"));
	_cleanup_strv_free_ char **roles = param_list(c, "roles");
	_cleanup_strv_free_ char **users = param_list(c, "users");
	_cleanup_strv_free_ char **groups = param_list(c, "groups");
	_cleanup_strv_free_ char **tokens = param_list(c, "tokens");
	bool propagate = pved_call_int(c, "propagate", 1);
	bool remove = pved_call_int(c, "delete", 0);
	int r = 0;
	/* Proxmox's order and texts: each role, then its groups, users and tokens. */
	for (char **role = roles; r >= 0 && role && *role; role++) {
		if (!pve_builtin_role_privs(*role) && !pve_usercfg_find_role(cfg, *role))
			return pved_access_error_plain(err, "role '%s' does not exist", *role);
		if (!is_root(c))
			r = role_grantable(c, cfg, path, *role, remove, err);
		for (char **g = groups; r >= 0 && g && *g; g++)
			if (!pve_usercfg_find_group(cfg, *g))
				return pved_access_error_plain(err, "group '%s' does not exist",
							       *g);
		for (char **u = users; r >= 0 && u && *u; u++)
			if (!pve_usercfg_find_user(cfg, *u))
				return pved_access_error_plain(err, "user '%s' does not exist", *u);
		for (char **t = tokens; r >= 0 && t && *t; t++) {
			_cleanup_free_ char *user = xstrndup(*t, strcspn(*t, "!"));
			if (!pve_usercfg_find_user(cfg, user))
				return pved_access_error_plain(err, "no such user ('%s')", user);
			if (!pve_usercfg_find_token(cfg, *t))
				return pved_access_error_plain(err,
							       "no such token '%s' for user '%s'",
							       strchr(*t, '!') + 1, user);
		}
		for (char **g = groups; r >= 0 && g && *g; g++)
			r = pve_usercfg_acl_update(cfg, path, PVE_ACL_GROUP, *g, *role, propagate,
						   remove, err);
		for (char **u = users; r >= 0 && u && *u; u++)
			r = pve_usercfg_acl_update(cfg, path, PVE_ACL_USER, *u, *role, propagate,
						   remove, err);
		for (char **t = tokens; r >= 0 && t && *t; t++)
			r = pve_usercfg_acl_update(cfg, path, PVE_ACL_TOKEN, *t, *role, propagate,
						   remove, err);
	}
	return r < 0 ? r : 0;
}

static void h_acl_update(pved_call *c)
{
	pve_error *err = NULL;
	/* Proxmox names all three. */
	if (!pved_call_has(c, "users") && !pved_call_has(c, "groups") &&
	    !pved_call_has(c, "tokens")) {
		cJSON *errors = cJSON_CreateObject();
		static const char *const which[] = { "users", "groups", "tokens" };
		for (size_t i = 0; i < ELEMENTSOF(which); i++)
			cJSON_AddStringToObject(
				errors, which[i],
				"either 'users', 'groups' or 'tokens' is required.");
		return pved_call_fail_errors(c, errors);
	}
	_cleanup_free_ char *path = pve_acl_path_normalize(pved_call_str(c, "path"));
	if (!path || !pve_acl_path_valid(path)) {
		pve_error_set_param(&err, EINVAL, "path", "invalid ACL path '%s'",
				    pved_call_str(c, "path"));
		return pved_call_fail(c, err);
	}
	/* The route checked perm-modify on the path; which roles the caller may hand out there is
	 * not something a check list can say (role_grantable). */
	usercfg_change_failing(c, acl_update_change, "acl update", "ACL update failed");
}

/* ---- /access/permissions -------------------------------------------------------------------------------- */

/* One path of the answer; keep_empty: also when nothing is granted there (a path asked for). */
static void add_perm_path(cJSON *o, const pve_perms *perms, const char *authid, const char *path,
			  bool keep_empty)
{
	if (cJSON_GetObjectItemCaseSensitive(o, path))
		return;
	cJSON *p = pve_perms_path_map(perms, authid, path);
	if (!keep_empty && !cJSON_GetArraySize(p)) {
		cJSON_Delete(p);
		return;
	}
	cJSON_AddItemToObject(o, path, p);
}

/* An ACL path and every path above it (Proxmox's ACL tree has a node for each). */
static void add_acl_tree_path(cJSON *o, const pve_perms *perms, const char *authid,
			      const char *path)
{
	_cleanup_free_ char *p = pve_acl_path_normalize(path);
	if (!p)
		return;
	for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		add_perm_path(o, perms, authid, p, false);
		*slash = '/';
	}
	add_perm_path(o, perms, authid, p, false);
}

/* Proxmox's rule: the caller itself, or a user asking for one of its tokens; anyone else (a token
 * asking for its user or a sibling included) needs Sys.Audit on /access. */
static void h_permissions(pved_call *c)
{
	pve_error *err = NULL;
	const char *who = pved_call_str(c, "userid");
	if (!who)
		who = c->authid;
	_cleanup_free_ char *msg = NULL;
	if (pve_format_check(strchr(who, '!') ? "pve-tokenid" : "pve-userid", who, &msg) < 0) {
		pve_error_set_param(&err, EINVAL, "userid", "%s", msg ? msg : "invalid user id");
		return pved_call_fail(c, err);
	}
	bool own = strcmp(who, c->authid) == 0 ||
		   (!pve_tokenid_valid(c->authid) && token_of(who, c->authid));
	if (!own && !pved_call_permitted(c, "/access", "Sys.Audit")) {
		deny(&err, "/access, Sys.Audit");
		return pved_call_fail(c, err);
	}
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_perms_ pve_perms *perms = NULL;
	if (pve_perms_build(cfg, &perms, &err) < 0) {
		return pved_call_fail(c, err);
	}
	cJSON *o = cJSON_CreateObject();
	/* "" is no path, as Proxmox reads it: the whole tree */
	const char *path = pved_call_str(c, "path");
	if (path && *path) {
		_cleanup_free_ char *norm = pve_acl_path_normalize(path);
		if (!norm) {
			cJSON_Delete(o);
			pve_error_set_param(&err, EINVAL, "path", "invalid path '%s'", path);
			return pved_call_fail(c, err);
		}
		add_perm_path(o, perms, who, norm, true);
	} else {
		/* Proxmox's get_effective_permissions: the top paths, every node of the ACL tree,
		 * the pools and the guests and storages in them */
		static const char *const top[] = { "/",	    "/access", "/access/groups", "/nodes",
						   "/pool", "/sdn",    "/storage",	 "/vms" };
		for (size_t i = 0; i < ELEMENTSOF(top); i++)
			add_perm_path(o, perms, who, top[i], false);
		for (size_t i = 0; i < cfg->n_acls; i++)
			add_acl_tree_path(o, perms, who, cfg->acls[i].path);
		for (size_t i = 0; i < cfg->n_pools; i++) {
			const pve_pool *pool = &cfg->pools[i];
			_cleanup_free_ char *p = xasprintf("/pool/%s", pool->poolid);
			add_acl_tree_path(o, perms, who, p);
			for (char **v = pool->vms; v && *v; v++) {
				_cleanup_free_ char *vp = xasprintf("/vms/%s", *v);
				add_perm_path(o, perms, who, vp, false);
			}
			for (char **st = pool->storage; st && *st; st++) {
				_cleanup_free_ char *sp = xasprintf("/storage/%s", *st);
				add_perm_path(o, perms, who, sp, false);
			}
		}
	}
	pved_call_reply(c, o);
}

/* ---- /access/password ----------------------------------------------------------------------------------- */

/* user.cfg stays as it is: the new hash goes to shadow.cfg (e->also) under its lock. */
static int password_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	const char *userid = pved_call_str(e->c, "userid");
	if (!pve_usercfg_find_user(cfg, userid))
		return pved_access_error_plain(err, "no such user ('%s')", userid);
	return PVED_CFGEDIT_KEEP;
}

static void password_store(pved_call *c, const char *hash)
{
	pved_access_edit *e = pved_access_edit_new(c, password_change, "password change");
	e->also = shadow_also;
	e->secret = hash ? xstrdup(hash) : NULL;
	pved_access_edit_run(e, &pved_usercfg_file, pved_call_str(c, "digest"));
}

static void pam_password_done(pved_call *c)
{
	pved_audit_call(c, "password change");
	pved_call_reply(c, NULL);
}

/* Proxmox's domain_set_password, by the realm's type: pve (shadow.cfg), pam (the system's password),
 * anything else refused. */
static void password_confirmed(pved_call *c)
{
	const char *userid = pved_call_str(c, "userid");
	_cleanup_free_ char *type = pved_realm_type(c->d, realm_of(userid));
	if (!type)
		return pved_access_fail_plain(c, "auth domain '%s' does not exist",
					      realm_of(userid));
	if (strcmp(type, "pve") == 0)
		return with_hash(c, pved_call_str(c, "password"), password_store);
	if (strcmp(type, "pam") != 0)
		return pved_access_fail_plain(c, "can't set password on auth type '%s'", type);
	/* Nobody but root@pam changes another system user's password. */
	if (!is_root(c) && strcmp(c->authid, userid) != 0) {
		pve_error *err = NULL;
		pve_error_set(&err, EACCES, "Permission check failed");
		return pved_call_fail(c, err);
	}
	pved_pam_password_set(c, NULL, pam_password_done);
}

static void h_password(pved_call *c)
{
	const char *userid = pved_call_str(c, "userid");
	/* The route's check list: the caller itself, or Realm.AllocateUser and userid-group.
	 * Proxmox's reauth_user_for_user_modification first looks the user up. */
	if (!pved_auth_user_exists(c->d, userid))
		return pved_access_fail_plain(c, "no such user ('%s')", userid);
	/* As Proxmox: whoever is not root@pam confirms with their own current password, so a
	 * ticket left in a browser does not let anyone take over the account. */
	pved_reauth(c, "confirmation-password", "password change", password_confirmed);
}

const pved_handler pved_handlers_users[] = {
	{ "access_users_index", h_users_index },
	{ "access_users_create", h_users_create },
	{ "access_users_get", h_users_get },
	{ "access_users_update", h_users_update },
	{ "access_users_delete", h_users_delete },
	{ "access_tokens_index", h_tokens_index },
	{ "access_token_get", h_token_get },
	{ "access_token_create", h_token_create },
	{ "access_token_update", h_token_update },
	{ "access_token_delete", h_token_delete },
	{ "access_groups_index", h_groups_index },
	{ "access_groups_create", h_groups_create },
	{ "access_groups_get", h_groups_get },
	{ "access_groups_update", h_groups_update },
	{ "access_groups_delete", h_groups_delete },
	{ "access_roles_index", h_roles_index },
	{ "access_roles_create", h_roles_create },
	{ "access_roles_get", h_roles_get },
	{ "access_roles_update", h_roles_update },
	{ "access_roles_delete", h_roles_delete },
	{ "access_acl_get", h_acl_get },
	{ "access_acl_update", h_acl_update },
	{ "access_permissions", h_permissions },
	{ "access_password", h_password },
	{ NULL, NULL },
};
