/* The /access handlers of the foundation: login (tickets, with the two-step TFA login and the brute-force
 * limits), the realm list. */
#include <cjson/cJSON.h>

#include "daemon/access/access-internal.h"

typedef struct login {
	pved_call *call;
	char *userid;
	char *password;
	char *hash; /* pve realm: the stored hash, copied on the loop */
	pve_ldap_config *ldap; /* ldap and ad realms: the realm's settings, read on the loop */
	pve_error *err;
} login;

static void login_free(login *l)
{
	free(l->userid);
	if (l->password)
		explicit_bzero(l->password, strlen(l->password));
	free(l->password);
	free(l->hash);
	pve_ldap_config_free(l->ldap);
	pve_error_free(l->err);
	free(l);
}

static void cap_set(cJSON *cap, const char *area, const char *priv)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(cap, area);
	if (o && !cJSON_GetObjectItemCaseSensitive(o, priv))
		cJSON_AddNumberToObject(o, priv, 1);
}

/* Proxmox's compute_api_permission: per area of the web interface, the privileges the user holds
 * somewhere in it (on the area's top path or any ACL path below it), so the interface shows only what
 * may work. Privileges on a pool count for guests and storage. */
static cJSON *capabilities(pved *d, const char *userid)
{
	static const struct {
		const char *area;
		const char *prefixes[4];
	} areas[] = {
		{ "vms", { "VM.", "Permissions.Modify" } },
		{ "access", { "User.", "Group.", "Permissions.Modify" } },
		{ "storage", { "Datastore.", "Permissions.Modify" } },
		{ "nodes", { "Sys.", "Permissions.Modify" } },
		{ "sdn", { "SDN.", "Permissions.Modify" } },
		{ "dc", { "Sys.Audit", "Sys.Modify", "SDN." } },
		{ "mapping", { "Mapping.", "Permissions.Modify" } },
	};
	static const char *const required[] = { "/",	    "/nodes", "/access/groups", "/vms",
						"/storage", "/sdn",   "/mapping" };
	cJSON *cap = cJSON_CreateObject();
	for (size_t i = 0; i < ELEMENTSOF(areas); i++)
		cJSON_AddObjectToObject(cap, areas[i].area);
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	_cleanup_perms_ pve_perms *perms = NULL;
	if (pved_usercfg_read(d, &cfg, NULL, &err) < 0 || pve_perms_build(cfg, &perms, &err) < 0) {
		log_warning("capabilities of %s: %s", userid, err->message);
		return cap;
	}
	bool root = strcmp(userid, "root@pam") == 0;
	_cleanup_strv_free_ char **paths = strv_new();
	for (size_t i = 0; i < ELEMENTSOF(required); i++)
		strv_push(&paths, xstrdup(required[i]));
	for (size_t i = 0; i < cfg->n_acls; i++)
		if (!strv_contains(paths, cfg->acls[i].path))
			strv_push(&paths, xstrdup(cfg->acls[i].path));
	for (char **p = paths; *p; p++) {
		_cleanup_strv_free_ char **privs = NULL;
		if (root) {
			privs = strv_new();
			for (const char *const *pr = pve_builtin_role_privs("Administrator"); *pr;
			     pr++)
				strv_push(&privs, xstrdup(*pr));
		} else {
			privs = pve_perms_privs(perms, userid, *p);
		}
		/* The area is the path's first component ("/" is the datacenter's). */
		size_t n = strcspn(*p + 1, "/");
		_cleanup_free_ char *top = n ? xstrndup(*p + 1, n) : xstrdup("dc");
		bool pool = strcmp(top, "pool") == 0;
		for (char **pr = privs; pr && *pr; pr++) {
			if (pool) {
				if (startswith(*pr, "VM.") || streq(*pr, "Permissions.Modify"))
					cap_set(cap, "vms", *pr);
				if (startswith(*pr, "Datastore.") ||
				    streq(*pr, "Permissions.Modify"))
					cap_set(cap, "storage", *pr);
				continue;
			}
			for (size_t i = 0; i < ELEMENTSOF(areas); i++) {
				if (strcmp(areas[i].area, top) != 0)
					continue;
				for (const char *const *pre = areas[i].prefixes; *pre; pre++)
					if (startswith(*pr, *pre))
						cap_set(cap, top, *pr);
			}
		}
	}
	return cap;
}

static void login_reply(pved_call *c, const char *userid, bool with_ticket)
{
	cJSON *data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "username", userid);
	if (with_ticket) {
		_cleanup_free_ char *ticket = pved_auth_ticket(c->d, userid);
		_cleanup_free_ char *csrf = pved_auth_csrf(c->d, userid);
		cJSON_AddStringToObject(data, "ticket", ticket);
		cJSON_AddStringToObject(data, "CSRFPreventionToken", csrf);
	}
	/* No clustername: a standalone node has none, and Proxmox leaves it out then. */
	cJSON_AddItemToObject(data, "cap", capabilities(c->d, userid));
	pved_call_reply(c, data);
}

/* Verify mode (path and privs given): answers whether the user holds every privilege there. */
static bool login_privs_ok(pved_call *c, const char *userid)
{
	const char *path = pved_call_str(c, "path");
	const char *privs = pved_call_str(c, "privs");
	if (!path || !privs)
		return true;
	_cleanup_strv_free_ char **list = pve_split_list(privs);
	for (char **p = list; p && *p; p++)
		if (!pved_auth_permitted(c->d, userid, path, *p))
			return false;
	return true;
}

static void login_work(void *arg)
{
	login *l = arg;
	const char *realm = strrchr(l->userid, '@') + 1;
	if (l->ldap) {
		/* Bind and search, each limited to PVE_LDAP_TIMEOUT_MS. */
		_cleanup_free_ char *name = xstrndup(l->userid, (size_t)(realm - 1 - l->userid));
		pve_ldap_authenticate(l->ldap, name, l->password, &l->err);
	} else if (strcmp(realm, "pam") == 0) {
		_cleanup_free_ char *name = xstrndup(l->userid, (size_t)(realm - 1 - l->userid));
		pve_pam_authenticate("pved", name, l->password, &l->err);
	} else if (!l->hash || !pve_password_check(l->hash, l->password)) {
		pve_error_set(&l->err, EACCES, "authentication failure");
	}
}

static void fail_auth(pved_call *c, const char *userid, const char *why);

/* A login that passed: the ticket, the user's failures forgotten, the audit line. */
static void login_ok(pved_call *c, const char *userid, bool second_step)
{
	log_info("successful auth for user '%s'%s", userid, second_step ? " (second factor)" : "");
	pved_auth_login_succeeded(c->d, userid, c->client);
	pved_audit(c->d, c->client, userid, second_step ? "login ok (second factor)" : "login ok");
	login_reply(c, userid, true);
}

/* e->ids[0] the user, e->ids[1] the webauthn challenge of the half ticket (or none), e->secret the
 * response: a used recovery code, the last TOTP step, a webauthn counter and used challenge must stick,
 * so the response is checked in an edit of tfa.cfg. */
static int tfa_verify_change(pved_access_edit *e, void *tfa, pve_error **err)
{
	int r;
	if (startswith(e->secret, "webauthn:")) {
		pve_webauthn_config wa = { 0 };
		r = pved_webauthn_config(e->c->d, &wa, err);
		if (r == 0)
			r = pve_tfacfg_verify_webauthn(tfa, e->ids[0], &wa, e->ids[1],
						       e->secret + 9, time(NULL), err);
		pve_webauthn_config_clear(&wa);
	} else {
		r = pve_tfacfg_verify(tfa, e->ids[0], e->secret, time(NULL), err);
	}
	return r < 0 ? r : 0;
}

static void tfa_verified(pved_access_edit *e, int r, pve_error *err)
{
	_cleanup_error_ pve_error *verr = err;
	if (r < 0)
		return fail_auth(e->c, e->ids[0], verr->message);
	login_ok(e->c, e->ids[0], e->event != NULL);
}

/* Checks a second-factor response for userid, then ends the login; event "second factor" for the second
 * step of a two-step login, NULL for the one-step "otp". */
static void tfa_check(pved_call *c, const char *userid, const char *response, const char *event,
		      const char *webauthn_challenge)
{
	pved_access_edit *e = pved_access_edit_new(c, tfa_verify_change, event);
	e->done = tfa_verified;
	e->ids = xcalloc(3, sizeof(char *));
	e->ids[0] = xstrdup(userid);
	e->ids[1] = webauthn_challenge ? xstrdup(webauthn_challenge) : NULL;
	e->secret = xstrdup(response);
	pved_access_edit_run(e, &pved_tfacfg_file, NULL);
}

/* The second step: the half ticket from the first, the response in "password". */
static void login_second_step(pved_call *c, const char *userid)
{
	_cleanup_free_ char *ticket_user = NULL;
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_json_ cJSON *data = NULL;
	const char *challenge = pved_call_str(c, "tfa-challenge");
	if (pved_auth_verify_tfa_ticket(c->d, challenge, &ticket_user, &data, &err) < 0)
		return fail_auth(c, userid, err->message);
	if (strcmp(ticket_user, userid) != 0)
		return fail_auth(c, userid, "tfa challenge of another user");
	const cJSON *wa = cJSON_GetObjectItemCaseSensitive(data, "webauthn");
	tfa_check(c, userid, pved_call_str(c, "password"), "second factor",
		  pve_json_str(cJSON_GetObjectItemCaseSensitive(wa, "publicKey"), "challenge"));
}

static void fail_auth(pved_call *c, const char *userid, const char *why)
{
	log_notice("authentication failure; rhost=%s user=%s msg=%s", c->client,
		   userid ? userid : "", why);
	pved_auth_login_failed(c->d, userid, c->client);
	pved_audit(c->d, c->client, userid, "login failed: %s", why);
	pve_error *err = NULL;
	pve_error_set(&err, EACCES, "authentication failure");
	pved_call_fail(c, err);
}

/* The user passed the password: a full ticket, or the half ticket of a two-factor login. An "otp"
 * parameter answers the second factor at once (Proxmox's older one-step login). */
static void login_granted(pved_call *c, const char *userid)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_tfacfg_ pve_tfacfg *tfa = NULL;
	if (pved_tfacfg_read(c->d, &tfa, &err) < 0) {
		log_error("cannot read tfa.cfg: %s", err->message);
		return fail_auth(c, userid, "cannot read the TFA configuration");
	}
	if (pve_tfacfg_needs_tfa(tfa, userid)) {
		const char *otp = pved_call_str(c, "otp");
		if (!otp) {
			_cleanup_json_ cJSON *challenge = pve_tfacfg_challenge(tfa, userid);
			/* A security key's challenge too, when the node has a webauthn setting. */
			pve_webauthn_config wa = { 0 };
			_cleanup_error_ pve_error *werr = NULL;
			if (pved_webauthn_config(c->d, &wa, &werr) == 0)
				pve_tfacfg_challenge_webauthn(tfa, userid, &wa, challenge);
			pve_webauthn_config_clear(&wa);
			_cleanup_free_ char *half = pved_auth_tfa_ticket(c->d, userid, challenge);
			_cleanup_free_ char *csrf = pved_auth_csrf(c->d, userid);
			pved_audit(c->d, c->client, userid,
				   "login: password ok, second factor needed");
			cJSON *data = cJSON_CreateObject();
			cJSON_AddStringToObject(data, "username", userid);
			cJSON_AddStringToObject(data, "ticket", half);
			cJSON_AddStringToObject(data, "CSRFPreventionToken", csrf);
			cJSON_AddNumberToObject(data, "NeedTFA", 1);
			return pved_call_reply(c, data);
		}
		_cleanup_free_ char *resp = xasprintf("totp:%s", otp);
		tfa_check(c, userid, resp, NULL, NULL);
		explicit_bzero(resp, strlen(resp));
		return;
	}
	login_ok(c, userid, false);
}

static void login_done(void *arg)
{
	login *l = arg;
	pved_call *c = l->call;
	/* The user may have been disabled while the password was checked. */
	if (!l->err && !pved_auth_user_enabled(c->d, l->userid))
		pve_error_set(&l->err, EACCES, "user disabled");
	if (l->err) {
		fail_auth(c, l->userid, l->err->message);
	} else if (!login_privs_ok(c, l->userid)) {
		fail_auth(c, l->userid, "permission check failed");
	} else if (pved_call_has(c, "path")) {
		/* Verify mode: no ticket comes out of it. */
		login_reply(c, l->userid, false);
	} else {
		login_granted(c, l->userid);
	}
	login_free(l);
}

/* The password (or second factor) is checked: on a thread for PAM, crypt and LDAP. Takes userid. */
static void login_check(pved_call *c, char *userid_owned)
{
	_cleanup_free_ char *userid = userid_owned;
	if (pved_call_has(c, "tfa-challenge"))
		return login_second_step(c, userid);
	if (!pved_auth_user_enabled(c->d, userid))
		return fail_auth(c, userid, "no such user or user disabled");
	const char *at = strrchr(userid, '@');
	pve_ldap_config *ldap = NULL;
	if (strcmp(at, "@pam") != 0 && strcmp(at, "@pve") != 0) {
		/* Users of ldap and ad realms exist in user.cfg (added or synced) and log in there. */
		_cleanup_free_ char *type = pved_realm_type(c->d, at + 1);
		_cleanup_error_ pve_error *err = NULL;
		if (!type || (strcmp(type, "ldap") != 0 && strcmp(type, "ad") != 0))
			return fail_auth(c, userid, "unknown realm");
		if (pved_realm_ldap_config(c->d, at + 1, &ldap, &err) < 0)
			return fail_auth(c, userid, err->message);
	}

	login *l = xcalloc(1, sizeof(*l));
	l->ldap = ldap;
	l->call = c;
	l->userid = TAKE_PTR(userid);
	l->password = xstrdup(pved_call_str(c, "password"));
	l->hash = pved_auth_shadow_hash(c->d, l->userid);
	/* PAM and crypt take milliseconds to seconds: never on the loop. */
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_AUTH, login_work, login_done, l, &err) < 0) {
		login_free(l);
		pved_call_fail(c, err);
	}
}

/* An attempt past the brute-force limits, waiting for its turn. */
typedef struct login_wait {
	pved_call *call;
	char *userid;
	struct event *timer;
} login_wait;

static void login_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	login_wait *w = arg;
	pved_call *c = w->call;
	char *userid = w->userid;
	event_free(w->timer);
	free(w);
	login_check(c, userid);
}

static void h_access_ticket(pved_call *c)
{
	const char *username = pved_call_str(c, "username");
	const char *password = pved_call_str(c, "password");
	const char *realm = pved_call_str(c, "realm");
	_cleanup_free_ char *userid = NULL;
	if (strchr(username, '@'))
		userid = xstrdup(username);
	else if (realm)
		userid = xasprintf("%s@%s", username, realm);
	else
		return fail_auth(c, username, "no realm");

	/* A still valid ticket renews itself (the web interface does so every few minutes). A ticket
	 * cannot be guessed: its renewal never waits for anybody's failures. */
	if (!pved_call_has(c, "tfa-challenge") && strncmp(password, "PVE:", 4) == 0) {
		_cleanup_free_ char *ticket_user = NULL;
		_cleanup_error_ pve_error *err = NULL;
		if (pved_auth_verify_ticket(c->d, password, &ticket_user, &err) < 0)
			return fail_auth(c, userid, err->message);
		if (strcmp(ticket_user, userid) != 0)
			return fail_auth(c, userid, "ticket of another user");
		if (!login_privs_ok(c, userid))
			return fail_auth(c, userid, "permission check failed");
		return login_reply(c, userid, !pved_call_has(c, "path"));
	}

	/* Past the limits of this user from this address (or of this address), the attempt waits for
	 * its turn and is checked then; the same user elsewhere is not slowed down. */
	long long delay = pved_auth_login_delay(c->d, userid, c->client);
	if (delay < 0) {
		log_notice("authentication refused; rhost=%s user=%s msg=too many failures",
			   c->client, userid);
		pved_audit(c->d, c->client, userid, "login refused: too many failures");
		pve_error *err = NULL;
		pve_error_set(&err, EACCES, "authentication failure");
		return pved_call_fail(c, err);
	}
	if (delay == 0)
		return login_check(c, TAKE_PTR(userid));
	log_notice("authentication delayed %lld ms; rhost=%s user=%s msg=too many failures", delay,
		   c->client, userid);
	pved_audit(c->d, c->client, userid, "login delayed %lld ms: too many failures", delay);
	login_wait *w = xcalloc(1, sizeof(*w));
	w->call = c;
	w->userid = TAKE_PTR(userid);
	w->timer = evtimer_new(c->d->base, login_wait_cb, w);
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
	evtimer_add(w->timer, &tv);
}

static void h_access_ticket_dummy(pved_call *c)
{
	pved_call_reply(c, NULL);
}

static void add_realm(cJSON *list, const char *realm, const char *type, const char *comment)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "realm", realm);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "comment", comment);
	cJSON_AddItemToArray(list, o);
}

/* pam and pve are built in, as in Proxmox (domains.cfg may give them a comment or the default flag);
 * the others come from domains.cfg. */
/* POST /access/vncticket: whether a VNC ticket is authid's for path and whether authid has every one of
 * privs there, for a console proxy that holds a ticket it did not make. Anyone may ask (Proxmox's
 * "world"): the answer is yes (null) or 403, and tells nothing a ticket holder does not know. pved's
 * tickets are bound to the port they open as well, so one without port does not verify. */
static void h_access_vncticket_verify(pved_call *c)
{
	_cleanup_error_ pve_error *err = NULL;
	const char *authid = pved_call_str(c, "authid");
	_cleanup_free_ char *path = pve_acl_path_normalize(pved_call_str(c, "path"));
	if (!path) {
		pve_error_set_param(&err, EINVAL, "path", "invalid ACL path");
		return pved_call_fail(c, TAKE_PTR(err));
	}
	int port = pved_call_has(c, "port") ? (int)pved_call_int(c, "port", 0) : -1;
	if (port < 0 || pved_auth_verify_vncticket(c->d, pved_call_str(c, "vncticket"), authid,
						   path, port, &err) < 0)
		return pved_call_failf(c, EPERM, "permission denied - invalid vnc ticket");
	_cleanup_strv_free_ char **privs = pve_split_list(pved_call_str(c, "privs"));
	bool all = privs && privs[0];
	for (char **p = privs; all && *p; p++)
		all = pved_auth_permitted(c->d, authid, path, *p);
	if (!all)
		return pved_call_failf(c, EPERM, "no permission (%s, %s)", path,
				       pved_call_str(c, "privs"));
	pved_call_reply(c, cJSON_CreateNull());
}

static void h_access_domains(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_error *err = NULL;
	if (pved_domains_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *list = cJSON_CreateArray();
	static const char *const builtin[][2] = {
		{ "pam", "Linux PAM standard authentication" },
		{ "pve", "pved authentication server" },
	};
	bool have_default = false;
	for (size_t i = 0; i < ELEMENTSOF(builtin) + pve_sectioncfg_count(cfg); i++) {
		const pve_section *s = NULL;
		const char *realm, *type, *comment = NULL;
		if (i < ELEMENTSOF(builtin)) {
			realm = type = builtin[i][0];
			s = pve_sectioncfg_find(cfg, realm);
			comment = builtin[i][1];
		} else {
			s = pve_sectioncfg_nth(cfg, i - ELEMENTSOF(builtin));
			realm = pve_section_id(s);
			type = pve_section_type(s);
			if (strcmp(realm, "pam") == 0 || strcmp(realm, "pve") == 0)
				continue;
		}
		if (s && pve_section_get(s, "comment"))
			comment = pve_section_get(s, "comment");
		add_realm(list, realm, type, comment);
		cJSON *o = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
		bool def = false;
		if (s && pve_section_get(s, "default") &&
		    pve_parse_bool(pve_section_get(s, "default"), &def) == 0 && def &&
		    !have_default) {
			cJSON_AddNumberToObject(o, "default", 1);
			have_default = true;
		}
		const char *tfa = s ? pve_section_get(s, "tfa") : NULL;
		if (tfa) {
			/* "type=oath,..." or a bare "oath" */
			const char *t = startswith(tfa, "type=") ? tfa + 5 : tfa;
			_cleanup_free_ char *name = xstrndup(t, strcspn(t, ","));
			if (strcmp(name, "oath") == 0)
				cJSON_AddStringToObject(o, "tfa", name);
		}
	}
	pved_call_reply(c, list);
}

const pved_handler pved_handlers_access[] = {
	{ "access_ticket", h_access_ticket },
	{ "access_ticket_dummy", h_access_ticket_dummy },
	{ "access_domains", h_access_domains },
	{ "access_vncticket_verify", h_access_vncticket_verify },
	{ NULL, NULL },
};
