/* Authentication and permissions of pved: the keys, user.cfg, shadow.cfg and token.cfg as loaded from the
 * store, checked against each request's ticket, CSRF token or API token. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "daemon/core/auth-internal.h"

/* Proxmox rotates the ticket key every 24 hours; tickets signed with the previous key stay valid. */
#define AUTHKEY_LIFETIME_SEC (24 * 3600)
/* An RSA verification costs about 25 us, the request around it a few: remember tickets already verified
 * (by their exact bytes) until shortly before they would expire. The cache is emptied whenever the keys
 * or users change. */
#define TICKET_CACHE_SIZE 512
#define TICKET_CACHE_MAX_LEN 512

/* Failed logins, by "u:<userid>" and "c:<address>": a small open-addressed table (a slot is reused once
 * its window has passed, or the oldest of its probe range is), so its memory stays fixed whatever a
 * client sends. */
#define FAIL_SLOTS 4096
#define FAIL_PROBE 8
#define FAIL_KEY_MAX 128

typedef struct fail_slot {
	char key[FAIL_KEY_MAX];
	unsigned count;
	time_t since;
} fail_slot;

typedef struct ticket_slot {
	char ticket[TICKET_CACHE_MAX_LEN];
	char *userid;
	time_t valid_until;
} ticket_slot;

struct pved_auth {
	pve_authkeys *keys;
	char *csrf_secret;
	pve_usercfg *users;
	pve_perms *perms;
	pve_shadowcfg *shadow;
	pve_tokencfg *tokens;
	time_t key_time; /* when the current key was made */
	struct event *rotate;
	ticket_slot cache[TICKET_CACHE_SIZE];
	fail_slot fails[FAIL_SLOTS];
	int fail_window; /* seconds */
};

static void cache_clear(pved_auth *a)
{
	for (size_t i = 0; i < TICKET_CACHE_SIZE; i++) {
		free(a->cache[i].userid);
		a->cache[i] = (ticket_slot){ 0 };
	}
}

static ticket_slot *cache_slot(pved_auth *a, const char *ticket)
{
	/* FNV-1a: the slot only decides where to look; the whole ticket is compared. */
	uint32_t h = 2166136261u;
	for (const char *p = ticket; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &a->cache[h % TICKET_CACHE_SIZE];
}

static char *read_opt(pved *d, const char *path)
{
	char *data = NULL;
	if (pve_store_read(d->store, path, &data, NULL, NULL, NULL) < 0)
		return NULL;
	return data;
}

/* The ticket keys from the store; with ret_www, the CSRF secret too. */
static int read_keys(pved *d, pve_authkeys **ret_keys, char **ret_www, pve_error **err)
{
	_cleanup_free_ char *key = read_opt(d, "priv/authkey.key");
	_cleanup_free_ char *pub = read_opt(d, "authkey.pub");
	_cleanup_free_ char *old = read_opt(d, "authkey.pub.old");
	_cleanup_free_ char *www = ret_www ? read_opt(d, "pve-www.key") : NULL;
	if (!key || !pub || (ret_www && !www))
		return pve_error_set(err, ENOENT, "the node's keys are missing under %s",
				     pve_store_dir(d->store));
	int r = pve_authkeys_load(key, pub, old, ret_keys, err);
	if (r < 0)
		return r;
	if (ret_www) {
		/* Proxmox's secret is the HMAC key file's content without its line end. */
		www[strcspn(www, "\n")] = '\0';
		*ret_www = TAKE_PTR(www);
	}
	return 0;
}

static int load_keys(pved *d, pved_auth *a, pve_error **err)
{
	pve_authkeys *k;
	char *www;
	int r = read_keys(d, &k, &www, err);
	if (r < 0)
		return r;
	pve_authkeys_free(a->keys);
	a->keys = k;
	cache_clear(a);
	free(a->csrf_secret);
	a->csrf_secret = www;

	_cleanup_free_ char *path = xasprintf("%s/authkey.pub", pve_store_dir(d->store));
	struct stat st;
	a->key_time = stat(path, &st) == 0 ? st.st_mtime : time(NULL);
	return 0;
}

static int load_users(pved *d, pved_auth *a, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	pve_usercfg *users = NULL;
	int r = pve_store_read(d->store, "user.cfg", &text, &len, NULL, NULL);
	if (r == -ENOENT)
		users = pve_usercfg_new();
	else if (r < 0 || pve_usercfg_parse(text, len, &users, err) < 0)
		return r < 0 ? pve_error_set(err, -r, "cannot read user.cfg") : -EINVAL;

	pve_perms *perms;
	r = pve_perms_build(users, &perms, err);
	if (r < 0) {
		pve_usercfg_free(users);
		return r;
	}

	_cleanup_free_ char *shadow_text = NULL, *token_text = NULL;
	size_t shadow_len = 0, token_len = 0;
	pve_shadowcfg *shadow = NULL;
	pve_tokencfg *tokens = NULL;
	if (pve_store_read(d->store, "priv/shadow.cfg", &shadow_text, &shadow_len, NULL, NULL) < 0)
		shadow = pve_shadowcfg_new();
	else if (pve_shadowcfg_parse(shadow_text, shadow_len, &shadow, err) < 0)
		goto fail;
	if (pve_store_read(d->store, "priv/token.cfg", &token_text, &token_len, NULL, NULL) < 0)
		tokens = pve_tokencfg_new();
	else if (pve_tokencfg_parse(token_text, token_len, &tokens, err) < 0)
		goto fail;

	pve_usercfg_free(a->users);
	pve_perms_free(a->perms);
	pve_shadowcfg_free(a->shadow);
	pve_tokencfg_free(a->tokens);
	cache_clear(a);
	a->users = users;
	a->perms = perms;
	a->shadow = shadow;
	a->tokens = tokens;
	return 0;
fail:
	pve_usercfg_free(users);
	pve_perms_free(perms);
	pve_shadowcfg_free(shadow);
	pve_tokencfg_free(tokens);
	return -EINVAL;
}

/* A new key pair; the current public key stays valid for verification as authkey.pub.old. */
static int rotate_key(pved *d, pve_error **err)
{
	_cleanup_free_ char *key = NULL, *pub = NULL;
	int r = pve_authkey_generate(&key, &pub, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *cur = read_opt(d, "authkey.pub");
	if (cur &&
	    (r = pve_store_write(d->store, "authkey.pub.old", cur, strlen(cur), NULL, err)) < 0)
		return r;
	if ((r = pve_store_write(d->store, "priv/authkey.key", key, strlen(key), NULL, err)) < 0 ||
	    (r = pve_store_write(d->store, "authkey.pub", pub, strlen(pub), NULL, err)) < 0)
		return r;
	return load_keys(d, d->auth, err);
}

static void rotate_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	pved_auth *a = d->auth;
	time_t now = time(NULL);
	if (now - a->key_time >= AUTHKEY_LIFETIME_SEC) {
		_cleanup_error_ pve_error *err = NULL;
		if (rotate_key(d, &err) < 0)
			log_error("cannot rotate the ticket key: %s", err->message);
		else
			log_info("rotated the ticket key");
	}
	struct timeval tv = { 600, 0 };
	evtimer_add(a->rotate, &tv);
}

int pved_auth_init(pved *d, pve_error **err)
{
	pved_auth *a = xcalloc(1, sizeof(*a));
	d->auth = a;
	int r = load_keys(d, a, err);
	if (r >= 0)
		r = load_users(d, a, err);
	if (r < 0) {
		pved_auth_free(a);
		d->auth = NULL;
		return r;
	}
	a->fail_window = PVED_LOGIN_FAIL_WINDOW_SEC;
	const char *w = getenv("PVED_LOGIN_FAIL_WINDOW");
	long long wv;
	if (w && pve_parse_int(w, 1, 3600, &wv) == 0)
		a->fail_window = (int)wv;
	a->rotate = evtimer_new(d->base, rotate_cb, d);
	rotate_cb(-1, 0, d);
	return 0;
}

void pved_auth_free(pved_auth *a)
{
	if (!a)
		return;
	if (a->rotate)
		event_free(a->rotate);
	cache_clear(a);
	pve_authkeys_free(a->keys);
	free(a->csrf_secret);
	pve_usercfg_free(a->users);
	pve_perms_free(a->perms);
	pve_shadowcfg_free(a->shadow);
	pve_tokencfg_free(a->tokens);
	free(a);
}

void pved_auth_reload(pved *d)
{
	_cleanup_error_ pve_error *err = NULL;
	if (load_keys(d, d->auth, &err) < 0 || load_users(d, d->auth, &err) < 0)
		log_error("keeping the previous access configuration: %s", err->message);
}

bool pved_auth_user_enabled(pved *d, const char *userid)
{
	return pve_usercfg_user_enabled(d->auth->users, userid, time(NULL));
}

int pved_auth_verify_ticket(pved *d, const char *ticket, char **ret_userid, pve_error **err)
{
	time_t now = time(NULL);
	ticket_slot *slot = strlen(ticket) < TICKET_CACHE_MAX_LEN ? cache_slot(d->auth, ticket) :
								    NULL;
	if (slot && slot->userid && now < slot->valid_until && strcmp(slot->ticket, ticket) == 0) {
		if (!pved_auth_user_enabled(d, slot->userid))
			return pve_error_set(err, EACCES, "user '%s' is disabled or does not exist",
					     slot->userid);
		*ret_userid = xstrdup(slot->userid);
		return 0;
	}
	_cleanup_free_ char *userid = NULL;
	int age = 0;
	int r = pve_ticket_verify(d->auth->keys, "PVE", ticket, now, PVE_TICKET_MIN_AGE,
				  PVE_TICKET_MAX_AGE, &userid, &age, err);
	if (r < 0)
		return r;
	/* A half ticket of a two-factor login opens nothing but the second step. */
	if (startswith(userid, "!tfa!"))
		return pve_error_set(err, EACCES, "ticket needs a second factor");
	if (!pved_auth_user_enabled(d, userid))
		return pve_error_set(err, EACCES, "user '%s' is disabled or does not exist",
				     userid);
	if (slot && age >= 0) {
		free(slot->userid);
		snprintf(slot->ticket, sizeof(slot->ticket), "%s", ticket);
		slot->userid = xstrdup(userid);
		/* A little before the real end, so a cached ticket never outlives the signed one. */
		slot->valid_until = now + (PVE_TICKET_MAX_AGE - age) - 5;
	}
	*ret_userid = TAKE_PTR(userid);
	return 0;
}

static int auth_token(pved *d, const char *value, char **ret_authid, pve_error **err)
{
	_cleanup_free_ char *userid = NULL, *name = NULL, *secret = NULL;
	int r = pve_token_header_parse(value, &userid, &name, &secret, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tokenid = xasprintf("%s!%s", userid, name);
	const char *hash = pve_tokencfg_get(d->auth->tokens, tokenid);
	if (!hash || !pve_token_secret_check(hash, secret) || !pved_auth_user_enabled(d, tokenid))
		return pve_error_set(err, EACCES, "invalid token value!");
	*ret_authid = TAKE_PTR(tokenid);
	return 0;
}

int pved_auth_request(pved *d, const pve_request *r, bool needs_csrf, bool allowtoken,
		      char **ret_authid, pve_error **err)
{
	if (r->token) {
		if (!allowtoken)
			return pve_error_set(
				err, EACCES,
				"URI '%s' not available with API token, need proper ticket.",
				r->path);
		return auth_token(d, r->token, ret_authid, err);
	}
	if (!r->ticket)
		return pve_error_set(err, EACCES, "No ticket");
	_cleanup_free_ char *userid = NULL;
	int ret = pved_auth_verify_ticket(d, r->ticket, &userid, err);
	if (ret < 0)
		return ret;
	if (needs_csrf) {
		if (!r->csrf)
			return pve_error_set(err, EACCES, "Permission denied - invalid csrf token");
		if (pve_csrf_verify(d->auth->csrf_secret, userid, r->csrf, time(NULL), NULL) < 0)
			return pve_error_set(err, EACCES, "Permission denied - invalid csrf token");
	}
	*ret_authid = TAKE_PTR(userid);
	return 0;
}

bool pved_auth_permitted(pved *d, const char *authid, const char *path, const char *priv)
{
	if (!authid)
		return false;
	if (strcmp(authid, "root@pam") == 0)
		return true;
	return pve_perms_check(d->auth->perms, authid, path, priv);
}

char *pved_auth_ticket(pved *d, const char *userid)
{
	return pve_ticket_create(d->auth->keys, "PVE", userid, time(NULL));
}

char *pved_auth_csrf(pved *d, const char *userid)
{
	return pve_csrf_create(d->auth->csrf_secret, userid, time(NULL));
}

char *pved_auth_shadow_hash(pved *d, const char *userid)
{
	/* Proxmox keys shadow.cfg by the user name without "@pve". */
	const char *at = strrchr(userid, '@');
	if (!at || strcmp(at, "@pve") != 0)
		return NULL;
	_cleanup_free_ char *name = xstrndup(userid, (size_t)(at - userid));
	const char *hash = pve_shadowcfg_get(d->auth->shadow, name);
	return hash ? xstrdup(hash) : NULL;
}

/* Proxmox's VNC tickets live 40 s (and allow 20 s of clock skew): long enough to open the websocket. */
#define VNC_TICKET_MIN_AGE (-20)
#define VNC_TICKET_MAX_AGE 40

static char *vnc_data(const char *authid, const char *path, int port)
{
	return xasprintf("%s:%s:%d", authid, path, port);
}

char *pved_auth_vncticket(pved *d, const char *authid, const char *path, int port)
{
	_cleanup_free_ char *data = vnc_data(authid, path, port);
	return pve_ticket_create(d->auth->keys, "PVEVNC", data, time(NULL));
}

int pved_auth_verify_vncticket(pved *d, const char *ticket, const char *authid, const char *path,
			       int port, pve_error **err)
{
	/* A task worker (the console) has no auth state: it reads the keys from the store. */
	_cleanup_authkeys_ pve_authkeys *own = NULL;
	if (!d->auth) {
		int r = read_keys(d, &own, NULL, err);
		if (r < 0)
			return r;
	}
	_cleanup_free_ char *data = NULL;
	int r = pve_ticket_verify(d->auth ? d->auth->keys : own, "PVEVNC", ticket, time(NULL),
				  VNC_TICKET_MIN_AGE, VNC_TICKET_MAX_AGE, &data, NULL, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *want = vnc_data(authid, path, port);
	if (strcmp(data, want) != 0)
		return pve_error_set(err, EACCES, "invalid vnc ticket");
	return 0;
}

/* ---- two-factor half tickets ----------------------------------------------------------------------------- */

char *pved_auth_tfa_ticket(pved *d, const char *userid, const cJSON *challenge)
{
	_cleanup_json_ cJSON *c = cJSON_Duplicate(challenge, true);
	cJSON_DeleteItemFromObjectCaseSensitive(c, "user");
	cJSON_AddStringToObject(c, "user", userid);
	_cleanup_free_ char *json = pve_json_print(c);
	_cleanup_free_ char *data = xasprintf("!tfa!%s", json);
	return pve_ticket_create(d->auth->keys, "PVE", data, time(NULL));
}

int pved_auth_verify_tfa_ticket(pved *d, const char *ticket, char **ret_userid, pve_error **err)
{
	_cleanup_free_ char *data = NULL;
	int r = pve_ticket_verify(d->auth->keys, "PVE", ticket, time(NULL), PVE_TICKET_MIN_AGE,
				  PVED_TFA_TICKET_MAX_AGE, &data, NULL, err);
	if (r < 0)
		return r;
	if (!startswith(data, "!tfa!"))
		return pve_error_set(err, EACCES, "not a tfa challenge");
	/* Signed by us: the JSON is ours, but parse it with limits all the same. A full ticket of a user
	 * named "!tfa!{...}@realm" never passes: a user id ends in its realm, never in a JSON object. */
	_cleanup_json_ cJSON *c =
		pve_json_parse(data + 5, strlen(data + 5), PVE_TICKET_MAX, 8, NULL);
	const char *user = pve_json_str(c, "user");
	if (!user)
		return pve_error_set(err, EACCES, "invalid tfa challenge");
	if (!pved_auth_user_enabled(d, user))
		return pve_error_set(err, EACCES, "user '%s' is disabled or does not exist", user);
	*ret_userid = xstrdup(user);
	return 0;
}

/* ---- failed logins ---------------------------------------------------------------------------------------- */

static fail_slot *fail_find(pved_auth *a, const char *kind, const char *who, time_t now,
			    bool create)
{
	char key[FAIL_KEY_MAX];
	snprintf(key, sizeof(key), "%s:%s", kind, who ? who : "");
	uint32_t h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	fail_slot *victim = NULL;
	bool victim_live = false;
	for (unsigned i = 0; i < FAIL_PROBE; i++) {
		fail_slot *s = &a->fails[(h + i) % FAIL_SLOTS];
		bool live = s->key[0] && now < s->since + a->fail_window;
		if (live && strcmp(s->key, key) == 0)
			return s;
		/* A free or expired slot first, else the oldest live one. */
		if (!live && (!victim || victim_live)) {
			victim = s;
			victim_live = false;
		} else if (live && (!victim || (victim_live && s->since < victim->since))) {
			victim = s;
			victim_live = true;
		}
	}
	if (!create)
		return NULL;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->count = 0;
	victim->since = now;
	return victim;
}

bool pved_auth_login_blocked(pved *d, const char *userid, const char *client)
{
	time_t now = time(NULL);
	const fail_slot *u = fail_find(d->auth, "u", userid, now, false);
	const fail_slot *c = fail_find(d->auth, "c", client, now, false);
	return (u && u->count >= PVED_LOGIN_FAIL_MAX_USER) ||
	       (c && c->count >= PVED_LOGIN_FAIL_MAX_CLIENT);
}

void pved_auth_login_failed(pved *d, const char *userid, const char *client)
{
	time_t now = time(NULL);
	fail_find(d->auth, "u", userid, now, true)->count++;
	fail_find(d->auth, "c", client, now, true)->count++;
}

void pved_auth_login_succeeded(pved *d, const char *userid)
{
	fail_slot *u = fail_find(d->auth, "u", userid, time(NULL), false);
	if (u)
		*u = (fail_slot){ 0 };
}

/* ---- the audit log ---------------------------------------------------------------------------------------- */

static void audit_field(pve_buf *b, const char *s, bool spaces)
{
	if (!s || !*s)
		s = "-";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		pve_buf_append(b, ch < 0x20 || ch == 0x7f || (!spaces && ch == ' ') ? "?" : s, 1);
	}
}

void pved_audit(pved *d, const char *client, const char *user, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *event = xvasprintf(fmt, ap);
	va_end(ap);
	time_t now = time(NULL);
	struct tm tm;
	char when[32];
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "%s ", when);
	audit_field(&b, client, false);
	pve_buf_puts(&b, " ");
	audit_field(&b, user, false);
	pve_buf_puts(&b, " ");
	audit_field(&b, event, true);
	pve_buf_puts(&b, "\n");

	_cleanup_free_ char *dir = pved_path(d, "var/log/pve");
	_cleanup_free_ char *path = pved_path(d, "var/log/pve/audit.log");
	(void)mkdir(dir, 0755);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	/* One write per line with O_APPEND: lines from the workers never interleave. */
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len)
		log_warning("cannot write the audit log %s: %m", path);
	pve_buf_free(&b);
}

void pved_audit_call(const pved_call *c, const char *event)
{
	static const char *const keys[] = { "userid",	  "tokenid", "groupid", "roleid",
					    "path",	  "roles",   "users",	"groups",
					    "tokens",	  "privs",   "privsep", "enable",
					    "delete",	  "realm",   "type",	"poolid",
					    "vms",	  "storage", "scope",	"remove-vanished",
					    "enable-new", "dry-run", NULL };
	pve_buf b = { 0 };
	pve_buf_puts(&b, event);
	for (const char *const *k = keys; *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, *k);
		if (cJSON_IsString(v))
			pve_buf_printf(&b, " %s=%s", *k, v->valuestring);
		else if (cJSON_IsNumber(v))
			pve_buf_printf(&b, " %s=%lld", *k, (long long)v->valuedouble);
	}
	_cleanup_free_ char *line = pve_buf_steal(&b);
	pved_audit(c->d, c->client, c->authid, "%s", line);
}

/* ---- user.cfg lookups for the permission expressions -------------------------------------------------- */

bool pved_auth_user_exists(pved *d, const char *userid)
{
	return strcmp(userid, "root@pam") == 0 || pve_usercfg_find_user(d->auth->users, userid);
}

char **pved_auth_user_groups(pved *d, const char *userid)
{
	const pve_user *u = pve_usercfg_find_user(d->auth->users, userid);
	char **v = xcalloc(strv_length(u ? u->groups : NULL) + 1, sizeof(*v));
	for (size_t i = 0; u && u->groups && u->groups[i]; i++)
		v[i] = xstrdup(u->groups[i]);
	return v;
}
