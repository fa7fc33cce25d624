/* The /access handlers of the foundation: login (tickets), the realm list. */
#include "daemon/pved-internal.h"

typedef struct login {
	pved_call *call;
	char *userid;
	char *password;
	char *hash; /* pve realm: the stored hash, copied on the loop */
	pve_error *err;
} login;

static void login_free(login *l)
{
	free(l->userid);
	if (l->password)
		explicit_bzero(l->password, strlen(l->password));
	free(l->password);
	free(l->hash);
	pve_error_free(l->err);
	free(l);
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
	if (strcmp(realm, "pam") == 0) {
		_cleanup_free_ char *name = xstrndup(l->userid, (size_t)(realm - 1 - l->userid));
		pve_pam_authenticate("pved", name, l->password, &l->err);
	} else if (!l->hash || !pve_password_check(l->hash, l->password)) {
		pve_error_set(&l->err, EACCES, "authentication failure");
	}
}

static void fail_auth(pved_call *c, const char *userid, const char *why)
{
	log_notice("authentication failure; rhost=%s user=%s msg=%s", c->client,
		   userid ? userid : "", why);
	pve_error *err = NULL;
	pve_error_set(&err, EACCES, "authentication failure");
	pved_call_fail(c, err);
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
	} else {
		log_info("successful auth for user '%s'", l->userid);
		login_reply(c, l->userid, !pved_call_has(c, "path"));
	}
	login_free(l);
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

	/* A still valid ticket renews itself (the web interface does so every few minutes). */
	if (strncmp(password, "PVE:", 4) == 0) {
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

	if (!pved_auth_user_enabled(c->d, userid))
		return fail_auth(c, userid, "no such user or user disabled");
	const char *at = strrchr(userid, '@');
	if (strcmp(at, "@pam") != 0 && strcmp(at, "@pve") != 0)
		return fail_auth(c, userid, "unknown realm");

	login *l = xcalloc(1, sizeof(*l));
	l->call = c;
	l->userid = TAKE_PTR(userid);
	l->password = xstrdup(password);
	l->hash = pved_auth_shadow_hash(c->d, l->userid);
	/* PAM and crypt take milliseconds to seconds: never on the loop. */
	pved_run_blocking(c->d, login_work, login_done, l);
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

/* pam and pve are built in, as in Proxmox; configurable realms (domains.cfg) come with access control. */
static void h_access_domains(pved_call *c)
{
	cJSON *list = cJSON_CreateArray();
	add_realm(list, "pam", "pam", "Linux PAM standard authentication");
	add_realm(list, "pve", "pve", "pved authentication server");
	pved_call_reply(c, list);
}

const pved_handler pved_handlers_access[] = {
	{ "access_ticket", h_access_ticket },
	{ "access_ticket_dummy", h_access_ticket_dummy },
	{ "access_domains", h_access_domains },
	{ NULL, NULL },
};
