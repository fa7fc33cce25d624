/* Authentication and permissions of pved: the keys, user.cfg, shadow.cfg and token.cfg as loaded from the
 * store, checked against each request's ticket, CSRF token or API token. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon/core/auth-internal.h"

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
	pved_login_limits *limits;
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
	int window = PVED_LOGIN_FAIL_WINDOW_SEC;
	const char *w = getenv("PVED_LOGIN_FAIL_WINDOW");
	long long wv;
	if (w && pve_parse_int(w, 1, 3600, &wv) == 0)
		window = (int)wv;
	a->limits = pved_login_limits_new(window, err);
	if (!a->limits) {
		pved_auth_free(a);
		d->auth = NULL;
		return -EIO;
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
	pved_login_limits_free(a->limits);
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
	/* Tickets are for users: a token authenticates with its secret, never with a ticket. */
	if (!pve_userid_valid(userid))
		return pve_error_set(err, EACCES, "invalid ticket");
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

bool pved_auth_children_uniform(pved *d, const char *authid, const char *parent, const char *priv,
				bool *ret_allowed)
{
	if (authid && strcmp(authid, "root@pam") == 0) {
		*ret_allowed = true;
		return true;
	}
	return authid &&
	       pve_perms_children_uniform(d->auth->perms, authid, parent, priv, ret_allowed);
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

/* ---- SPICE tickets: signed with the cluster's CSRF secret, as Proxmox's (any node checks them) ---- */

int pved_auth_spice_ticket(pved *d, long long vmid, int port, char **ret_proxyticket,
			   char **ret_password, pve_error **err)
{
	return pve_spice_ticket_create(d->auth->csrf_secret, vmid, d->node, port, time(NULL),
				       ret_proxyticket, ret_password, err);
}

int pved_auth_verify_spice(pved *d, const char *connect, pve_spice_target *ret, pve_error **err)
{
	return pve_spice_ticket_verify(d->auth->csrf_secret, connect, time(NULL), ret, err);
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

int pved_auth_verify_tfa_ticket(pved *d, const char *ticket, char **ret_userid,
				cJSON **ret_challenge, pve_error **err)
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
	if (ret_challenge)
		*ret_challenge = TAKE_PTR(c);
	return 0;
}

/* ---- failed logins ---------------------------------------------------------------------------------------- */

typedef struct fail_slot {
	uint64_t id[2]; /* the key's HMAC: the key itself is not kept */
	uint64_t since_ms; /* the window's start; 0: free */
	uint64_t turn_ms; /* the last turn given past the limit */
	uint32_t count; /* failures in the window */
	uint32_t over; /* turns given past the limit */
} fail_slot;

typedef struct fail_table {
	fail_slot *slots;
	size_t n;
	unsigned max; /* the limit */
} fail_table;

struct pved_login_limits {
	unsigned char key[32];
	uint64_t window_ms;
	fail_table pairs, addrs;
	uint64_t warned_ms; /* the last "failure not counted" warning */
};

#define FAIL_PROBE 8

pved_login_limits *pved_login_limits_new(int window_sec, pve_error **err)
{
	pved_login_limits *l = xcalloc(1, sizeof(*l));
	if (pve_random_bytes(l->key, sizeof(l->key), err) < 0) {
		free(l);
		return NULL;
	}
	l->window_ms = (uint64_t)window_sec * 1000;
	l->pairs = (fail_table){ xcalloc(PVED_LOGIN_PAIR_SLOTS, sizeof(fail_slot)),
				 PVED_LOGIN_PAIR_SLOTS, PVED_LOGIN_FAIL_MAX_USER };
	l->addrs = (fail_table){ xcalloc(PVED_LOGIN_ADDR_SLOTS, sizeof(fail_slot)),
				 PVED_LOGIN_ADDR_SLOTS, PVED_LOGIN_FAIL_MAX_CLIENT };
	return l;
}

void pved_login_limits_free(pved_login_limits *l)
{
	if (!l)
		return;
	explicit_bzero(l->key, sizeof(l->key));
	free(l->pairs.slots);
	free(l->addrs.slots);
	free(l);
}

/* The address as counted: an IPv6 address by its /64 (one client holds a whole /64), others as given
 * ("127.0.0.1", "local"). */
static void addr_key(pve_buf *b, const char *client)
{
	struct in6_addr a6;
	if (client && inet_pton(AF_INET6, client, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		pve_buf_append(b, "6", 1);
		pve_buf_append(b, a6.s6_addr, 8);
		return;
	}
	pve_buf_puts(b, "a");
	pve_buf_puts(b, client ? client : "");
}

/* HMAC-SHA256(key, kind '\0' userid '\0' address) cut to 128 bits: with a secret key nobody can
 * find names that meet in the table offline; 128 bits never collide by chance. */
static void fail_id(const pved_login_limits *l, const char *userid, const char *client,
		    uint64_t ret[2])
{
	pve_buf b = { 0 };
	if (userid) {
		pve_buf_puts(&b, "u");
		pve_buf_append(&b, "", 1);
		pve_buf_puts(&b, userid);
		pve_buf_append(&b, "", 1);
	}
	addr_key(&b, client);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	if (!HMAC(EVP_sha256(), l->key, (int)sizeof(l->key), (const unsigned char *)b.data, b.len,
		  md, &md_len))
		abort(); /* SHA-256 is always there; nothing sane is left to do without it */
	memcpy(ret, md, 2 * sizeof(uint64_t));
	pve_buf_free(&b);
}

static bool slot_live(const pved_login_limits *l, const fail_slot *s, uint64_t now)
{
	return s->since_ms && (now < s->since_ms + l->window_ms || s->turn_ms > now);
}

/* The slot counting id, or with create a fresh one for it: a free or dead slot first, else the oldest
 * live one under the limit; a slot past the limit is never taken. NULL if none is found. */
static fail_slot *fail_find(const pved_login_limits *l, fail_table *t, const uint64_t id[2],
			    uint64_t now, bool create)
{
	fail_slot *victim = NULL;
	bool victim_live = false;
	for (unsigned i = 0; i < FAIL_PROBE; i++) {
		fail_slot *s = &t->slots[(id[0] + i) % t->n];
		bool live = slot_live(l, s, now);
		if (s->since_ms && s->id[0] == id[0] && s->id[1] == id[1]) {
			if (live)
				return s;
			if (!create)
				return NULL;
			victim = s; /* its own dead slot: start afresh there */
			victim_live = false;
			break;
		}
		if (!live && (!victim || victim_live)) {
			victim = s;
			victim_live = false;
		} else if (live && s->count < t->max &&
			   (!victim || (victim_live && s->since_ms < victim->since_ms))) {
			victim = s;
			victim_live = true;
		}
	}
	if (!create || !victim)
		return NULL;
	*victim = (fail_slot){ .id = { id[0], id[1] }, .since_ms = now ? now : 1 };
	return victim;
}

/* The wait before an attempt counted in s (NULL: none) may be checked, taking its turn: 0 under the
 * limit, -1 when the turn would come too far ahead. */
static long long take_turn(fail_slot *s, unsigned max, uint64_t now)
{
	if (!s || s->count < max)
		return 0;
	uint64_t start = s->turn_ms > now ? s->turn_ms : now;
	if (start - now > PVED_LOGIN_QUEUE_MAX_MS)
		return -1;
	uint64_t step = (uint64_t)PVED_LOGIN_DELAY_FIRST_MS << (s->over < 16 ? s->over : 16);
	if (step > PVED_LOGIN_DELAY_MAX_MS)
		step = PVED_LOGIN_DELAY_MAX_MS;
	s->turn_ms = start + step;
	s->over++;
	return (long long)(s->turn_ms - now);
}

long long pved_login_limits_delay(pved_login_limits *l, const char *userid, const char *client,
				  uint64_t now_ms)
{
	uint64_t pid[2], aid[2];
	fail_id(l, userid ? userid : "", client, pid);
	fail_id(l, NULL, client, aid);
	fail_slot *p = fail_find(l, &l->pairs, pid, now_ms, false);
	fail_slot *a = fail_find(l, &l->addrs, aid, now_ms, false);
	/* a refusal takes no turn, or refused attempts would push the others' turns further out */
	uint64_t p_turn = p ? p->turn_ms : 0, a_turn = a ? a->turn_ms : 0;
	unsigned p_over = p ? p->over : 0, a_over = a ? a->over : 0;
	long long dp = take_turn(p, l->pairs.max, now_ms);
	long long da = take_turn(a, l->addrs.max, now_ms);
	if (dp < 0 || da < 0) {
		if (p)
			p->turn_ms = p_turn, p->over = p_over;
		if (a)
			a->turn_ms = a_turn, a->over = a_over;
		return -1;
	}
	return dp > da ? dp : da;
}

bool pved_login_limits_over(pved_login_limits *l, const char *userid, const char *client,
			    uint64_t now_ms)
{
	uint64_t pid[2], aid[2];
	fail_id(l, userid ? userid : "", client, pid);
	fail_id(l, NULL, client, aid);
	const fail_slot *p = fail_find(l, &l->pairs, pid, now_ms, false);
	const fail_slot *a = fail_find(l, &l->addrs, aid, now_ms, false);
	return (p && p->count >= l->pairs.max) || (a && a->count >= l->addrs.max);
}

void pved_login_limits_failed(pved_login_limits *l, const char *userid, const char *client,
			      uint64_t now_ms)
{
	uint64_t pid[2], aid[2];
	fail_id(l, userid ? userid : "", client, pid);
	fail_id(l, NULL, client, aid);
	fail_slot *p = fail_find(l, &l->pairs, pid, now_ms, true);
	fail_slot *a = fail_find(l, &l->addrs, aid, now_ms, true);
	if (p)
		p->count++;
	if (a)
		a->count++;
	if (!a && now_ms - l->warned_ms >= l->window_ms) {
		l->warned_ms = now_ms;
		log_warning("failed login of '%s' from %s not counted: every slot it could take "
			    "holds an address past its limit",
			    userid ? userid : "", client ? client : "");
	}
}

void pved_login_limits_succeeded(pved_login_limits *l, const char *userid, const char *client)
{
	uint64_t pid[2];
	fail_id(l, userid ? userid : "", client, pid);
	for (unsigned i = 0; i < FAIL_PROBE; i++) {
		fail_slot *s = &l->pairs.slots[(pid[0] + i) % l->pairs.n];
		if (s->since_ms && s->id[0] == pid[0] && s->id[1] == pid[1])
			*s = (fail_slot){ 0 };
	}
}

long long pved_auth_login_delay(pved *d, const char *userid, const char *client)
{
	return pved_login_limits_delay(d->auth->limits, userid, client, pve_now_ms());
}

bool pved_auth_login_blocked(pved *d, const char *userid, const char *client)
{
	return pved_login_limits_over(d->auth->limits, userid, client, pve_now_ms());
}

void pved_auth_login_failed(pved *d, const char *userid, const char *client)
{
	pved_login_limits_failed(d->auth->limits, userid, client, pve_now_ms());
}

void pved_auth_login_succeeded(pved *d, const char *userid, const char *client)
{
	pved_login_limits_succeeded(d->auth->limits, userid, client);
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
