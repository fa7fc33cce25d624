/* Authentication and permissions of pved: the keys, user.cfg, shadow.cfg and token.cfg as loaded from the
 * store, checked against each request's ticket, CSRF token or API token. */
#include <sys/stat.h>
#include <time.h>

#include "daemon/pved-internal.h"

/* Proxmox rotates the ticket key every 24 hours; tickets signed with the previous key stay valid. */
#define AUTHKEY_LIFETIME_SEC (24 * 3600)
/* An RSA verification costs about 25 us, the request around it a few: remember tickets already verified
 * (by their exact bytes) until shortly before they would expire. The cache is emptied whenever the keys
 * or users change. */
#define TICKET_CACHE_SIZE 512
#define TICKET_CACHE_MAX_LEN 512

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

static int load_keys(pved *d, pved_auth *a, pve_error **err)
{
	_cleanup_free_ char *key = read_opt(d, "priv/authkey.key");
	_cleanup_free_ char *pub = read_opt(d, "authkey.pub");
	_cleanup_free_ char *old = read_opt(d, "authkey.pub.old");
	_cleanup_free_ char *www = read_opt(d, "pve-www.key");
	if (!key || !pub || !www)
		return pve_error_set(err, ENOENT, "the node's keys are missing under %s",
				     pve_store_dir(d->store));
	pve_authkeys *k;
	int r = pve_authkeys_load(key, pub, old, &k, err);
	if (r < 0)
		return r;
	pve_authkeys_free(a->keys);
	a->keys = k;
	cache_clear(a);
	free(a->csrf_secret);
	/* Proxmox's secret is the HMAC key file's content without its line end. */
	www[strcspn(www, "\n")] = '\0';
	a->csrf_secret = TAKE_PTR(www);

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
	_cleanup_free_ char *data = NULL;
	int r = pve_ticket_verify(d->auth->keys, "PVEVNC", ticket, time(NULL), VNC_TICKET_MIN_AGE,
				  VNC_TICKET_MAX_AGE, &data, NULL, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *want = vnc_data(authid, path, port);
	if (strcmp(data, want) != 0)
		return pve_error_set(err, EACCES, "invalid vnc ticket");
	return 0;
}
