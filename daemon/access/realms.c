/* The realm handlers: /access/domains/{realm} (domains.cfg, changed under the store lock "file-domains_cfg"
 * against its digest; bind passwords in priv/realm/<realm>.pw) and the realm sync task, which reads an
 * ldap or ad directory and merges its users and groups into user.cfg. */
#include <cjson/cJSON.h>

#include "daemon/access/access-internal.h"

/* Parameters that are not realm properties stored in domains.cfg. */
static bool not_a_property(const char *key)
{
	static const char *const skip[] = { "realm",  "type",	"password",
					    "digest", "delete", "check-connection" };
	for (size_t i = 0; i < ELEMENTSOF(skip); i++)
		if (strcmp(key, skip[i]) == 0)
			return true;
	return false;
}

/* Sets (password) or removes (NULL) the realm's bind password. */
static int password_change(pved *d, const char *realm, const char *password, pve_error **err)
{
	_cleanup_free_ char *path = xasprintf("priv/realm/%s.pw", realm);
	if (!password) {
		int r = pve_store_delete(d->store, path, NULL);
		return r == -ENOENT ? 0 :
		       r < 0	    ? pve_error_set(err, -r, "cannot remove %s", path) :
				      0;
	}
	_cleanup_free_ char *text = xasprintf("%s\n", password);
	int r = pve_store_write(d->store, path, text, strlen(text), NULL, err);
	explicit_bzero(text, strlen(text));
	return r;
}

/* The realm's bind password as the call gives it (none: removed), before domains.cfg names the realm or
 * once it no longer does. */
static int password_also(pved_access_edit *e, void *cfg, pve_error **err)
{
	(void)cfg;
	return password_change(e->c->d, pved_call_str(e->c, "realm"),
			       pved_call_str(e->c, "password"), err);
}

static void realm_done(pved_access_edit *e, int r, pve_error *err)
{
	pved_call *c = e->c;
	if (r < 0)
		return pved_call_fail(c, err);
	const char *realm = pved_call_str(c, "realm");
	if (streq(e->event, "realm create"))
		log_info("realm '%s' (%s) added by %s", realm, pved_call_str(c, "type"), c->authid);
	else if (streq(e->event, "realm delete"))
		log_info("realm '%s' deleted by %s", realm, c->authid);
	pved_audit_call(c, e->event);
	pved_call_reply(c, NULL);
}

/* check-connection: Proxmox's check_connection of an ldap or ad realm, off the loop with the lock held,
 * with the settings the change made (e->priv) and the call's or the stored bind password. */
static int connection_check(pved_access_edit *e, pve_error **err)
{
	return e->priv ? pve_ldap_check_connection(e->priv, err) : 0;
}

/* A change of domains.cfg against the call's digest; its bind password with it. failed: Proxmox's errmsg
 * of lock_domain_config, which prefixes the change's errors. */
static void realm_change(pved_call *c, pved_access_edit_fn change, const char *event,
			 const char *failed)
{
	pved_access_edit *e = pved_access_edit_new(c, change, event);
	e->also = password_also;
	e->done = realm_done;
	e->failed = failed;
	/* The check's hop to a thread only for a call that asks for it. */
	if (pved_call_int(c, "check-connection", 0))
		e->check = connection_check;
	pved_access_edit_run(e, &pved_domains_file, pved_call_str(c, "digest"));
}

/* The call's properties onto section s (each checked for the realm's type). */
static int apply_params(pved_call *c, pve_section *s, pve_error **err)
{
	const char *type = pve_section_type(s);
	const cJSON *p;
	cJSON_ArrayForEach (p, c->params) {
		if (not_a_property(p->string))
			continue;
		_cleanup_free_ char *v = NULL;
		if (cJSON_IsString(p))
			v = xstrdup(p->valuestring);
		else if (cJSON_IsNumber(p))
			v = xasprintf("%lld", (long long)p->valuedouble);
		else
			continue;
		int r = pve_realm_check_property(type, p->string, v, err);
		if (r < 0)
			return r;
		if (pve_section_set(s, p->string, v) < 0)
			return pve_error_set_param(err, EINVAL, p->string, "invalid value");
	}
	return 0;
}

/* Proxmox's required options: server1 for ldap and ad, base_dn and user_attr for ldap, domain for ad. */
static int check_required(const pve_section *s, pve_error **err)
{
	const char *type = pve_section_type(s);
	const char *need[3] = { NULL };
	if (strcmp(type, "ldap") == 0) {
		need[0] = "server1";
		need[1] = "base_dn";
		need[2] = "user_attr";
	} else if (strcmp(type, "ad") == 0) {
		need[0] = "server1";
		need[1] = "domain";
	}
	for (size_t i = 0; i < ELEMENTSOF(need) && need[i]; i++)
		if (!pve_section_get(s, need[i]))
			return pve_error_set_param(err, EINVAL, need[i],
						   "property is missing and it is not optional");
	return 0;
}

static void ldap_config_free(void *p)
{
	pve_ldap_config_free(p);
}

static int plan_connection_check(pved_access_edit *e, const pve_section *s, pve_error **err)
{
	pved_call *c = e->c;
	if (!pved_call_int(c, "check-connection", 0))
		return 0;
	const char *type = pve_section_type(s);
	if (strcmp(type, "ldap") != 0 && strcmp(type, "ad") != 0)
		return pved_access_error_plain(
			err,
			"'check-connection' parameter can only be set for realms of type 'ldap' or 'ad'");
	_cleanup_free_ char *stored = NULL;
	const char *pw = pved_call_str(c, "password");
	if (!pw) {
		_cleanup_free_ char *path = xasprintf("priv/realm/%s.pw", pve_section_id(s));
		if (pve_store_read(c->d->store, path, &stored, NULL, NULL, NULL) >= 0 && stored)
			stored[strcspn(stored, "\r\n")] = '\0';
		pw = stored;
	}
	pve_ldap_config *cfg = NULL;
	int r = pve_ldap_config_from_section(s, pw, &cfg, err);
	if (stored)
		explicit_bzero(stored, strlen(stored));
	if (r < 0)
		return r;
	e->priv = cfg;
	e->priv_free = ldap_config_free;
	return 0;
}

/* Only one realm is the default. */
static void clear_defaults(pve_sectioncfg *cfg, const pve_section *keep)
{
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		pve_section *s = pve_sectioncfg_nth(cfg, i);
		if (s != keep)
			pve_section_delete(s, "default");
	}
}

static bool is_default(const pve_section *s)
{
	bool b = false;
	const char *v = pve_section_get(s, "default");
	return v && pve_parse_bool(v, &b) == 0 && b;
}

static bool directory_type(const char *type)
{
	return strcmp(type, "ldap") == 0 || strcmp(type, "ad") == 0;
}

static int create_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	pved_call *c = e->c;
	const char *realm = pved_call_str(c, "realm");
	const char *type = pved_call_str(c, "type");
	pve_section *s = NULL;
	int r;
	/* pam and pve are always there, as in Proxmox's domains.cfg. */
	if (pve_sectioncfg_find(cfg, realm) || strcmp(realm, "pam") == 0 ||
	    strcmp(realm, "pve") == 0)
		return pved_access_error_plain(err, "domain '%s' already exists", realm);
	if (strcmp(type, "pam") == 0 || strcmp(type, "pve") == 0)
		return pved_access_error_plain(err, "unable to create builtin type '%s'", type);
	if ((r = pve_sectioncfg_add(cfg, type, realm, &s, err)) < 0 ||
	    (r = apply_params(c, s, err)) < 0 || (r = check_required(s, err)) < 0)
		return r;
	if (is_default(s))
		clear_defaults(cfg, s);
	if (!directory_type(type))
		e->also = NULL;
	return plan_connection_check(e, s, err);
}

static void h_domains_create(pved_call *c)
{
	realm_change(c, create_change, "realm create", "add auth server failed");
}

static void h_domains_read(pved_call *c)
{
	pve_error *err = NULL;
	const char *realm = pved_call_str(c, "realm");
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (pved_domains_read(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	const pve_section *s = pve_sectioncfg_find(cfg, realm);
	const char *type = pve_domains_realm_type(cfg, realm);
	if (!type)
		return pved_access_fail_plain(c, "domain '%s' does not exist", realm);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", type);
	if (!s && strcmp(realm, "pam") == 0)
		cJSON_AddStringToObject(o, "comment", "Linux PAM standard authentication");
	else if (!s)
		cJSON_AddStringToObject(o, "comment", "pved authentication server");
	for (size_t i = 0; s && i < pve_section_count(s); i++) {
		const char *k = pve_section_key(s, i), *v = pve_section_value(s, i);
		long long n;
		bool b;
		/* Numbers and flags as JSON numbers, like Proxmox's typed config. */
		if (strcmp(k, "port") == 0 && pve_parse_int(v, 1, 65535, &n) == 0)
			cJSON_AddNumberToObject(o, k, (double)n);
		else if ((strcmp(k, "default") == 0 || strcmp(k, "secure") == 0 ||
			  strcmp(k, "verify") == 0 || strcmp(k, "case-sensitive") == 0) &&
			 pve_parse_bool(v, &b) == 0)
			cJSON_AddNumberToObject(o, k, b ? 1 : 0);
		else
			cJSON_AddStringToObject(o, k, v);
	}
	cJSON_AddStringToObject(o, "digest", digest);
	pved_call_reply(c, o);
}

static int update_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	pved_call *c = e->c;
	const char *realm = pved_call_str(c, "realm");
	pve_section *s = pve_sectioncfg_find(cfg, realm);
	int r;
	/* pam and pve may get a comment or the default flag: a section of their own. */
	if (!s && (strcmp(realm, "pam") == 0 || strcmp(realm, "pve") == 0)) {
		if ((r = pve_sectioncfg_add(cfg, realm, realm, &s, err)) < 0)
			return r;
	} else if (!s) {
		return pved_access_error_plain(err, "domain '%s' does not exist", realm);
	}
	if (!pved_call_has(c, "delete") && !pved_call_has(c, "password")) {
		bool any = false;
		const cJSON *p;
		cJSON_ArrayForEach (p, c->params)
			any = any || !not_a_property(p->string);
		if (!any)
			return pved_access_error_plain(err, "no options specified");
	}
	bool delete_pw = false;
	_cleanup_strv_free_ char **del = pve_split_list(pved_call_str(c, "delete") ?: "");
	for (char **k = del; *k; k++) {
		if (strcmp(*k, "password") == 0)
			delete_pw = true;
		else
			pve_section_delete(s, *k);
	}
	if ((r = apply_params(c, s, err)) < 0 || (r = check_required(s, err)) < 0)
		return r;
	if (is_default(s))
		clear_defaults(cfg, s);
	if ((r = plan_connection_check(e, s, err)) < 0)
		return r;
	if (!pved_call_has(c, "password") && !delete_pw) {
		e->also = NULL;
		return 0;
	}
	if (!directory_type(pve_section_type(s)))
		return pve_error_set_param(err, EINVAL, "password",
					   "realms of type '%s' have no bind password",
					   pve_section_type(s));
	e->event = "realm update (bind password changed)";
	return 0;
}

static void h_domains_update(pved_call *c)
{
	realm_change(c, update_change, "realm update", "update auth server failed");
}

static int delete_change(pved_access_edit *e, void *cfg, pve_error **err)
{
	const char *realm = pved_call_str(e->c, "realm");
	/* Proxmox's domains.cfg always holds them again on its next read. */
	if (strcmp(realm, "pam") == 0 || strcmp(realm, "pve") == 0)
		return pved_access_error_plain(err, "cannot delete built-in realm '%s'", realm);
	if (!pve_sectioncfg_remove(cfg, realm))
		return pved_access_error_plain(err, "authentication domain '%s' does not exist",
					       realm);
	return 0;
}

static void h_domains_delete(pved_call *c)
{
	realm_change(c, delete_change, "realm delete", "delete auth server failed");
}

/* ---- sync ----------------------------------------------------------------------------------------------- */

/* The sync options of a realm: its sync-defaults-options under what the call gives. enable_new < 0: not
 * given. */
static int sync_opts(pved *d, const char *realm, const char *scope, const char *remove_vanished,
		     int enable_new, pve_realm_sync_opts *ret, pve_error **err)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	int r = pved_domains_read(d, &cfg, NULL, err);
	if (r < 0)
		return r;
	const pve_section *s = pve_sectioncfg_find(cfg, realm);
	return pve_realm_sync_opts_get(s ? pve_section_get(s, "sync-defaults-options") : NULL,
				       scope, remove_vanished, enable_new, ret, err);
}

static const char *arg_str(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct sync_run {
	const char *realm;
	const pve_ldap_sync *s;
	const pve_realm_sync_opts *opts;
	const char *what;
	bool dry_run;
} sync_run;

/* What the directory gave, merged into user.cfg under its lock; a dry run writes nothing. */
static int sync_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	sync_run *run = ud;
	printf("got data from server, updating %s\n", run->what);
	int r = pve_realm_sync_apply(cfg, run->realm, run->s, run->opts, stdout, err);
	if (r < 0)
		return r;
	if (!run->dry_run)
		return 0;
	printf("\nNOTE: Dry test run, changes were NOT written to the configuration.\n");
	return PVED_CFGEDIT_KEEP;
}

/* In the task worker: the directory first (slow, without the lock), then user.cfg under its lock.
 * args: {realm, scope, remove-vanished, enable-new (-1: not given), dry-run, client, authid}. */
static int sync_task(pved *d, const cJSON *args, pve_error **err)
{
	const char *realm = arg_str(args, "realm");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(args, "enable-new");
	bool dry_run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "dry-run"));
	if (!realm)
		return pve_error_set(err, EINVAL, "the sync task lacks its realm");
	pve_realm_sync_opts opts;
	int r = sync_opts(d, realm, arg_str(args, "scope"), arg_str(args, "remove-vanished"),
			  cJSON_IsNumber(en) ? en->valueint : -1, &opts, err);
	if (r < 0)
		return r;
	pve_ldap_config *cfg = NULL;
	if ((r = pved_realm_ldap_config(d, realm, &cfg, err)) < 0)
		return r;
	bool groups = opts.scope & PVE_SYNC_GROUPS;
	const char *what = opts.scope == (PVE_SYNC_USERS | PVE_SYNC_GROUPS) ? "users and groups" :
			   groups					    ? "groups" :
									      "users";
	printf("%sstarting sync for realm %s\n", dry_run ? "(dry test run) " : "", realm);
	_cleanup_ldap_sync_ pve_ldap_sync *s = NULL;
	r = pve_ldap_fetch(cfg, groups, &s, err);
	pve_ldap_config_free(cfg);
	if (r < 0)
		return r;
	for (char **w = s->warnings; w && *w; w++)
		pved_task_warn("%s", *w);
	sync_run run = { realm, s, &opts, what, dry_run };
	r = pved_cfgfile_edit_blocking(d, &pved_usercfg_file, sync_change, &run, err);
	if (r == 0) {
		printf("successfully updated %s configuration\n", what);
		pved_audit(d, arg_str(args, "client"), arg_str(args, "authid"),
			   "realm sync realm=%s: %s written to user.cfg", realm, what);
	}
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "syncing %s failed", what);
	return r < 0 ? r : 0;
}

static void h_domains_sync(pved_call *c)
{
	pve_error *err = NULL;
	const char *realm = pved_call_str(c, "realm");
	_cleanup_free_ char *type = pved_realm_type(c->d, realm);
	if (!type) {
		pve_error_set_param(&err, EINVAL, "realm", "Realm does not exist.");
		return pved_call_fail(c, err);
	}
	if (!directory_type(type))
		return pved_access_fail_plain(
			c, "Cannot sync realm type '%s'! Only LDAP/AD realms can be synced.", type);
	bool dry_run = pved_call_int(c, "dry-run", 0);
	const char *rv = pved_call_str(c, "remove-vanished");
	_cleanup_free_ char *legacy = NULL;
	if (!rv && (pved_call_int(c, "full", 0) || pved_call_int(c, "purge", 0))) {
		/* The deprecated flags, mapped as Proxmox does. */
		legacy = xasprintf("%s%s", pved_call_int(c, "full", 0) ? "entry;properties" : "",
				   pved_call_int(c, "purge", 0) ?
					   (pved_call_int(c, "full", 0) ? ";acl" : "acl") :
					   "");
		rv = legacy;
	}
	int enable_new = pved_call_has(c, "enable-new") ? (int)pved_call_int(c, "enable-new", 1) :
							  -1;
	/* Bad options and a realm that cannot be reached are the call's errors, not the task's. */
	pve_realm_sync_opts opts;
	pve_ldap_config *cfg = NULL;
	if (sync_opts(c->d, realm, pved_call_str(c, "scope"), rv, enable_new, &opts, &err) < 0 ||
	    pved_realm_ldap_config(c->d, realm, &cfg, &err) < 0)
		return pved_call_fail(c, err);
	pve_ldap_config_free(cfg);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "realm", realm);
	if (pved_call_str(c, "scope"))
		cJSON_AddStringToObject(args, "scope", pved_call_str(c, "scope"));
	if (rv)
		cJSON_AddStringToObject(args, "remove-vanished", rv);
	cJSON_AddNumberToObject(args, "enable-new", enable_new);
	cJSON_AddBoolToObject(args, "dry-run", dry_run);
	cJSON_AddStringToObject(args, "client", c->client);
	cJSON_AddStringToObject(args, "authid", c->authid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(c->d, dry_run ? "auth-realm-sync-test" : "auth-realm-sync", realm,
			    c->authid, args, &upid, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *event = xasprintf("realm sync started (%s)", upid);
	pved_audit_call(c, event);
	pved_call_reply(c, cJSON_CreateString(upid));
}

const pved_task_kind pved_tasks_realms[] = {
	{ "auth-realm-sync", sync_task },
	{ "auth-realm-sync-test", sync_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_realms[] = {
	{ "access_domains_create", h_domains_create },
	{ "access_domains_read", h_domains_read },
	{ "access_domains_update", h_domains_update },
	{ "access_domains_delete", h_domains_delete },
	{ "access_domains_sync", h_domains_sync },
	{ NULL, NULL },
};
