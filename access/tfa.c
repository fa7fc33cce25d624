/* access/tfa.c: two-factor authentication: priv/tfa.cfg in Proxmox's JSON shape, TOTP (RFC 6238, through
 * liboath) with a one-step window and replay protection, and single-use recovery codes stored hashed. */
#include <ctype.h>
#include <math.h>

#include <cjson/cJSON.h>
#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "access/access-internal.h"

#define TFACFG_MAX_DEPTH 16
#define TFA_MAX_USERS 100000
#define TFA_MAX_ENTRIES 64 /* per user and kind */
#define TFA_ID_MAX 64
#define TFA_DESCRIPTION_MAX 255
#define TOTP_URI_MAX 1024
#define TOTP_SECRET_MIN 10 /* bytes: 80 bits, what the common authenticator apps create */
#define TOTP_SECRET_MAX 128
#define RECOVERY_SECRET_LEN 32
#define RECOVERY_CODE_MAX 64

struct pve_tfacfg {
	cJSON *root; /* validated by pve_tfacfg_parse: {"users": {userid: {...}}, ...} */
};

/* ---- TOTP ------------------------------------------------------------------------------------------ */

typedef struct totp {
	char secret[TOTP_SECRET_MAX];
	size_t secret_len;
	unsigned digits, period;
	int flags; /* oath_totp_flags: the HMAC */
} totp;

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* One query value, %-decoded in place into out (at most outsz - 1 bytes). */
static bool query_value(const char *s, size_t len, char *out, size_t outsz)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int ch = (unsigned char)s[i];
		if (ch == '%') {
			if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			ch = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (n + 1 >= outsz || ch == 0)
			return false;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return true;
}

/* otpauth://totp/LABEL?secret=BASE32[&digits=6|7|8][&period=N][&algorithm=SHA1|SHA256|SHA512][&issuer=..] */
static int totp_parse(const char *uri, totp *t, pve_error **err)
{
	*t = (totp){ .digits = 6, .period = PVE_TOTP_STEP };
	if (!uri || strnlen(uri, TOTP_URI_MAX + 1) > TOTP_URI_MAX)
		return pve_error_set(err, EINVAL, "invalid totp URI: too long");
	if (strncasecmp(uri, "otpauth://totp/", 15) != 0)
		return pve_error_set(err, EINVAL, "invalid totp URI: not otpauth://totp/");
	const char *q = strchr(uri + 15, '?');
	if (!q)
		return pve_error_set(err, EINVAL, "invalid totp URI: no secret");
	bool have_secret = false;
	for (const char *p = q + 1; *p;) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		if (eq) {
			size_t klen = (size_t)(eq - p);
			char val[TOTP_URI_MAX + 1];
			if (!query_value(eq + 1, len - klen - 1, val, sizeof(val)))
				return pve_error_set(err, EINVAL, "invalid totp URI: bad escape");
			if (klen == 6 && strncmp(p, "secret", 6) == 0) {
				/* Authenticator apps show secrets in groups, lower case, unpadded. */
				char clean[TOTP_URI_MAX + 8];
				size_t n = 0;
				for (char *s = val; *s; s++)
					if (*s != ' ' && *s != '=')
						clean[n++] = (char)toupper((unsigned char)*s);
				while (n % 8)
					clean[n++] = '=';
				clean[n] = '\0';
				char *bin = NULL;
				size_t binlen = 0;
				if (n == 0 ||
				    oath_base32_decode(clean, n, &bin, &binlen) != OATH_OK)
					return pve_error_set(err, EINVAL,
							     "invalid totp URI: bad base32 secret");
				bool ok = binlen >= TOTP_SECRET_MIN && binlen <= TOTP_SECRET_MAX;
				if (ok)
					memcpy(t->secret, bin, binlen);
				explicit_bzero(bin, binlen);
				free(bin);
				if (!ok)
					return pve_error_set(
						err, EINVAL,
						"invalid totp URI: the secret must have %d to %d bytes",
						TOTP_SECRET_MIN, TOTP_SECRET_MAX);
				t->secret_len = binlen;
				have_secret = true;
			} else if (klen == 6 && strncmp(p, "digits", 6) == 0) {
				long long v;
				if (pve_parse_int(val, 6, 8, &v) < 0)
					return pve_error_set(
						err, EINVAL,
						"invalid totp URI: digits must be 6 to 8");
				t->digits = (unsigned)v;
			} else if (klen == 6 && strncmp(p, "period", 6) == 0) {
				long long v;
				if (pve_parse_int(val, 10, 300, &v) < 0)
					return pve_error_set(
						err, EINVAL,
						"invalid totp URI: period must be 10 to 300");
				t->period = (unsigned)v;
			} else if (klen == 9 && strncmp(p, "algorithm", 9) == 0) {
				if (strcasecmp(val, "SHA1") == 0)
					t->flags = 0;
				else if (strcasecmp(val, "SHA256") == 0)
					t->flags = OATH_TOTP_HMAC_SHA256;
				else if (strcasecmp(val, "SHA512") == 0)
					t->flags = OATH_TOTP_HMAC_SHA512;
				else
					return pve_error_set(err, EINVAL,
							     "invalid totp URI: unknown algorithm");
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	if (!have_secret)
		return pve_error_set(err, EINVAL, "invalid totp URI: no secret");
	return 0;
}

static void totp_wipe(totp *t)
{
	explicit_bzero(t, sizeof(*t));
}

static int totp_code(const totp *t, long long step, char out[PVE_TOTP_CODE_MAX])
{
	if (step < 0)
		return -EINVAL;
	int r = oath_totp_generate2(t->secret, t->secret_len, (time_t)(step * t->period), t->period,
				    0, t->digits, t->flags, out);
	return r == OATH_OK ? 0 : -EINVAL;
}

int pve_totp_check_uri(const char *uri, pve_error **err)
{
	totp t;
	int r = totp_parse(uri, &t, err);
	totp_wipe(&t);
	return r;
}

int pve_totp_generate(const char *uri, time_t now, char ret_code[PVE_TOTP_CODE_MAX],
		      pve_error **err)
{
	totp t;
	int r = totp_parse(uri, &t, err);
	if (r >= 0 && (r = totp_code(&t, (long long)now / t.period, ret_code)) < 0)
		pve_error_set(err, EINVAL, "cannot compute the TOTP code");
	totp_wipe(&t);
	return r;
}

int pve_totp_verify(const char *uri, const char *code, time_t now, long long after_step,
		    long long *ret_step, pve_error **err)
{
	totp t;
	int r = totp_parse(uri, &t, err);
	if (r < 0)
		return r;
	size_t len = code ? strnlen(code, PVE_TOTP_CODE_MAX) : 0;
	bool shape = len == t.digits;
	for (size_t i = 0; shape && i < len; i++)
		shape = isdigit((unsigned char)code[i]);
	long long cur = (long long)now / t.period, found = -1;
	/* Every step of the window is computed and compared, so the time does not tell which one
	 * matched. */
	for (long long step = cur - 1; shape && step <= cur + 1; step++) {
		char want[PVE_TOTP_CODE_MAX];
		if (totp_code(&t, step, want) < 0)
			continue;
		if (CRYPTO_memcmp(want, code, t.digits) == 0 && found < 0)
			found = step;
		explicit_bzero(want, sizeof(want));
	}
	totp_wipe(&t);
	if (found < 0)
		return pve_error_set(err, EACCES, "invalid totp code");
	/* A code opens one login: the same (or an earlier) step again is a replay. */
	if (found <= after_step)
		return pve_error_set(err, EACCES, "totp code already used");
	if (ret_step)
		*ret_step = found;
	return 0;
}

/* ---- tfa.cfg: parse and validate -------------------------------------------------------------------- */

static bool is_str(const cJSON *o, const char *key, size_t max, bool optional)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return optional;
	return cJSON_IsString(v) && strlen(v->valuestring) <= max;
}

/* Steps and times are whole numbers that a double holds exactly: anything else would not print back as
 * itself (cJSON prints an overflowing "56e66666" as null, which no longer parses). */
static bool is_int(const cJSON *o, const char *key, bool optional)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return optional;
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	return isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740992.0;
}

static bool is_bool(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return !v || cJSON_IsBool(v);
}

static bool hex_ok(const char *s, size_t want)
{
	size_t n = strlen(s);
	if (want && n != want)
		return false;
	for (; *s; s++)
		if (hexval(*s) < 0)
			return false;
	return n > 0;
}

static int check_user(const char *userid, const cJSON *u, pve_error **err)
{
	if (!pve_userid_valid(userid))
		return pve_error_set(err, EINVAL, "tfa.cfg: invalid user id '%.64s'", userid);
	if (!cJSON_IsObject(u))
		return pve_error_set(err, EINVAL, "tfa.cfg: user '%s' is not an object", userid);
	const cJSON *totps = cJSON_GetObjectItemCaseSensitive(u, "totp");
	if (totps) {
		if (!cJSON_IsArray(totps) || cJSON_GetArraySize(totps) > TFA_MAX_ENTRIES)
			return pve_error_set(err, EINVAL, "tfa.cfg: user '%s': bad totp list",
					     userid);
		const cJSON *e;
		cJSON_ArrayForEach (e, totps) {
			if (!cJSON_IsObject(e) || !is_str(e, "id", TFA_ID_MAX, false) ||
			    !is_str(e, "description", TFA_DESCRIPTION_MAX, true) ||
			    !is_int(e, "created", true) || !is_bool(e, "enable") ||
			    !is_str(e, "entry", TOTP_URI_MAX, false))
				return pve_error_set(err, EINVAL,
						     "tfa.cfg: user '%s': bad totp entry", userid);
		}
	}
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	if (rec && !cJSON_IsNull(rec)) {
		const cJSON *secret = cJSON_GetObjectItemCaseSensitive(rec, "secret");
		const cJSON *entries = cJSON_GetObjectItemCaseSensitive(rec, "entries");
		bool ok = cJSON_IsObject(rec) && cJSON_IsString(secret) &&
			  hex_ok(secret->valuestring, 0) &&
			  strlen(secret->valuestring) <= 2 * TOTP_SECRET_MAX &&
			  cJSON_IsArray(entries) &&
			  cJSON_GetArraySize(entries) <= TFA_MAX_ENTRIES &&
			  is_int(rec, "created", true);
		const cJSON *e;
		const cJSON *list = ok ? entries : NULL;
		cJSON_ArrayForEach (e, list)
			if (!cJSON_IsNull(e) && !(cJSON_IsString(e) && hex_ok(e->valuestring, 64)))
				ok = false;
		if (!ok)
			return pve_error_set(err, EINVAL, "tfa.cfg: user '%s': bad recovery entry",
					     userid);
	}
	if (!is_int(u, "totp-last-step", true) || !is_bool(u, "totp-locked") ||
	    !is_int(u, "tfa-locked-until", true))
		return pve_error_set(err, EINVAL, "tfa.cfg: user '%s': bad lock fields", userid);
	return 0;
}

int pve_tfacfg_parse(const char *text, size_t len, pve_tfacfg **ret, pve_error **err)
{
	if (len > PVE_TFACFG_MAX_SIZE)
		return pve_error_set(err, E2BIG, "tfa.cfg is larger than %d bytes",
				     PVE_TFACFG_MAX_SIZE);
	/* An empty file is an empty configuration, as Proxmox treats it. */
	size_t i = 0;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i == len) {
		*ret = pve_tfacfg_new();
		return 0;
	}
	_cleanup_json_ cJSON *root =
		pve_json_parse(text, len, PVE_TFACFG_MAX_SIZE, TFACFG_MAX_DEPTH, err);
	if (!root) {
		if (err && *err)
			pve_error_prefix(*err, "tfa.cfg: ");
		return -EINVAL;
	}
	if (!cJSON_IsObject(root))
		return pve_error_set(err, EINVAL, "tfa.cfg: not a JSON object");
	cJSON *users = cJSON_GetObjectItemCaseSensitive(root, "users");
	if (!users)
		cJSON_AddItemToObject(root, "users", users = cJSON_CreateObject());
	if (!cJSON_IsObject(users))
		return pve_error_set(err, EINVAL, "tfa.cfg: \"users\" is not an object");
	int n = 0, r;
	const cJSON *u;
	cJSON_ArrayForEach (u, users) {
		if (++n > TFA_MAX_USERS)
			return pve_error_set(err, E2BIG, "tfa.cfg: more than %d users",
					     TFA_MAX_USERS);
		if ((r = check_user(u->string, u, err)) < 0)
			return r;
	}
	pve_tfacfg *c = xcalloc(1, sizeof(*c));
	c->root = TAKE_PTR(root);
	*ret = c;
	return 0;
}

pve_tfacfg *pve_tfacfg_new(void)
{
	pve_tfacfg *c = xcalloc(1, sizeof(*c));
	c->root = cJSON_CreateObject();
	cJSON_AddItemToObject(c->root, "users", cJSON_CreateObject());
	return c;
}

char *pve_tfacfg_print(const pve_tfacfg *c)
{
	char *s = cJSON_PrintUnformatted(c->root);
	if (!s)
		abort();
	char *out = xasprintf("%s\n", s);
	free(s);
	return out;
}

void pve_tfacfg_free(pve_tfacfg *c)
{
	if (!c)
		return;
	cJSON_Delete(c->root);
	free(c);
}

static cJSON *users_of(const pve_tfacfg *c)
{
	return cJSON_GetObjectItemCaseSensitive(c->root, "users");
}

static cJSON *user_of(const pve_tfacfg *c, const char *userid)
{
	return cJSON_GetObjectItemCaseSensitive(users_of(c), userid);
}

static cJSON *user_get(pve_tfacfg *c, const char *userid)
{
	cJSON *u = user_of(c, userid);
	if (!u)
		cJSON_AddItemToObject(users_of(c), userid, u = cJSON_CreateObject());
	return u;
}

static bool entry_enabled(const cJSON *e)
{
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(e, "enable");
	return !cJSON_IsBool(en) || cJSON_IsTrue(en);
}

static size_t recovery_left(const cJSON *u)
{
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	const cJSON *e;
	size_t n = 0;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(rec, "entries"))
		n += cJSON_IsString(e);
	return n;
}

static size_t totp_enabled(const cJSON *u)
{
	const cJSON *e;
	size_t n = 0;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "totp"))
		n += entry_enabled(e);
	return n;
}

char **pve_tfacfg_users(const pve_tfacfg *c)
{
	size_t n = (size_t)cJSON_GetArraySize(users_of(c)), i = 0;
	char **v = xcalloc(n + 1, sizeof(*v));
	const cJSON *u;
	cJSON_ArrayForEach (u, users_of(c))
		v[i++] = xstrdup(u->string);
	access_strv_sort_uniq(v);
	return v;
}

bool pve_tfacfg_needs_tfa(const pve_tfacfg *c, const char *userid)
{
	const cJSON *u = user_of(c, userid);
	return u && (totp_enabled(u) > 0 || recovery_left(u) > 0);
}

static cJSON *entry_info(const char *type, const cJSON *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", type);
	const char *id = pve_json_str(e, "id");
	cJSON_AddStringToObject(o, "id", id ? id : type);
	const char *desc = pve_json_str(e, "description");
	cJSON_AddStringToObject(o, "description", desc ? desc : "");
	long long created = 0;
	pve_json_int(e, "created", &created);
	cJSON_AddNumberToObject(o, "created", (double)created);
	if (!entry_enabled(e))
		cJSON_AddBoolToObject(o, "enable", false);
	return o;
}

cJSON *pve_tfacfg_list(const pve_tfacfg *c, const char *userid)
{
	cJSON *list = cJSON_CreateArray();
	const cJSON *u = user_of(c, userid);
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "totp"))
		cJSON_AddItemToArray(list, entry_info("totp", e));
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	if (cJSON_IsObject(rec))
		cJSON_AddItemToArray(list, entry_info("recovery", rec));
	return list;
}

cJSON *pve_tfacfg_get(const pve_tfacfg *c, const char *userid, const char *id)
{
	const cJSON *u = user_of(c, userid);
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	if (strcmp(id, "recovery") == 0)
		return cJSON_IsObject(rec) ? entry_info("recovery", rec) : NULL;
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "totp"))
		if (streq_ptr(pve_json_str(e, "id"), id))
			return entry_info("totp", e);
	return NULL;
}

void pve_tfacfg_user_locks(const pve_tfacfg *c, const char *userid, bool *ret_totp_locked,
			   long long *ret_locked_until)
{
	const cJSON *u = user_of(c, userid);
	*ret_totp_locked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "totp-locked"));
	*ret_locked_until = 0;
	pve_json_int(u, "tfa-locked-until", ret_locked_until);
}

bool pve_tfacfg_unlock_user(pve_tfacfg *c, const char *userid)
{
	cJSON *u = user_of(c, userid);
	if (!cJSON_IsObject(u))
		return false;
	/* A "totp-locked": false is no lock, but goes too: Proxmox leaves the member out when unlocked. */
	bool was = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "totp-locked")) ||
		   cJSON_HasObjectItem(u, "tfa-locked-until");
	cJSON_DeleteItemFromObjectCaseSensitive(u, "totp-locked");
	cJSON_DeleteItemFromObjectCaseSensitive(u, "tfa-locked-until");
	return was;
}

cJSON *pve_tfacfg_challenge(const pve_tfacfg *c, const char *userid)
{
	const cJSON *u = user_of(c, userid);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "totp", totp_enabled(u) > 0);
	/* Proxmox's RecoveryState: which of the codes are still available. */
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	if (recovery_left(u) > 0) {
		cJSON *avail = cJSON_AddArrayToObject(o, "recovery");
		const cJSON *e;
		cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(rec, "entries"))
			cJSON_AddItemToArray(avail, cJSON_CreateBool(cJSON_IsString(e)));
	}
	return o;
}

/* ---- changes ---------------------------------------------------------------------------------------------- */

static int check_description(const char *d, pve_error **err)
{
	if (d && strlen(d) > TFA_DESCRIPTION_MAX)
		return pve_error_set_param(err, EINVAL, "description", "too long (max %d)",
					   TFA_DESCRIPTION_MAX);
	for (const char *p = d; p && *p; p++)
		if ((unsigned char)*p < 0x20)
			return pve_error_set_param(err, EINVAL, "description",
						   "control characters are not allowed");
	return 0;
}

int pve_tfacfg_add_totp(pve_tfacfg *c, const char *userid, const char *uri, const char *description,
			time_t now, char **ret_id, pve_error **err)
{
	if (!pve_userid_valid(userid))
		return pve_error_set_param(err, EINVAL, "userid", "invalid user id");
	int r = check_description(description, err);
	if (r < 0)
		return r;
	if ((r = pve_totp_check_uri(uri, err)) < 0) {
		if (err && *err && !(*err)->param)
			(*err)->param = xstrdup("totp");
		return r;
	}
	cJSON *u = user_get(c, userid);
	cJSON *list = cJSON_GetObjectItemCaseSensitive(u, "totp");
	if (!list)
		list = cJSON_AddArrayToObject(u, "totp");
	if (cJSON_GetArraySize(list) >= TFA_MAX_ENTRIES)
		return pve_error_set(err, ENOSPC, "user '%s' has %d TOTP entries already", userid,
				     TFA_MAX_ENTRIES);
	_cleanup_free_ char *uuid = pve_token_secret_generate();
	char *id = xasprintf("totp-%s", uuid);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "id", id);
	cJSON_AddStringToObject(e, "description", description ? description : "");
	cJSON_AddNumberToObject(e, "created", (double)now);
	cJSON_AddBoolToObject(e, "enable", true);
	cJSON_AddStringToObject(e, "entry", uri);
	cJSON_AddItemToArray(list, e);
	if (ret_id)
		*ret_id = id;
	else
		free(id);
	return 0;
}

static char *recovery_hash(const char *secret_hex, const char *code)
{
	unsigned char key[TOTP_SECRET_MAX];
	size_t klen = strlen(secret_hex) / 2;
	for (size_t i = 0; i < klen && i < sizeof(key); i++)
		key[i] = (unsigned char)(hexval(secret_hex[2 * i]) * 16 +
					 hexval(secret_hex[2 * i + 1]));
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!HMAC(EVP_sha256(), key, (int)(klen < sizeof(key) ? klen : sizeof(key)),
		  (const unsigned char *)code, strlen(code), mac, &maclen))
		abort();
	explicit_bzero(key, sizeof(key));
	return access_hex(mac, maclen);
}

int pve_tfacfg_add_recovery(pve_tfacfg *c, const char *userid, time_t now, char ***ret_codes,
			    pve_error **err)
{
	if (!pve_userid_valid(userid))
		return pve_error_set_param(err, EINVAL, "userid", "invalid user id");
	cJSON *u = user_get(c, userid);
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	if (old && !cJSON_IsNull(old))
		return pve_error_set(err, EEXIST, "user '%s' already has recovery keys", userid);
	unsigned char secret[RECOVERY_SECRET_LEN];
	access_random(secret, sizeof(secret));
	_cleanup_free_ char *secret_hex = access_hex(secret, sizeof(secret));
	explicit_bzero(secret, sizeof(secret));

	char **codes = xcalloc(PVE_TFA_RECOVERY_CODES + 1, sizeof(*codes));
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "secret", secret_hex);
	cJSON *entries = cJSON_AddArrayToObject(rec, "entries");
	cJSON_AddNumberToObject(rec, "created", (double)now);
	for (size_t i = 0; i < PVE_TFA_RECOVERY_CODES; i++) {
		uint16_t w[4];
		access_random(w, sizeof(w));
		/* Proxmox's shape: four groups of four hex digits, 64 random bits. */
		codes[i] = xasprintf("%04x-%04x-%04x-%04x", w[0], w[1], w[2], w[3]);
		_cleanup_free_ char *h = recovery_hash(secret_hex, codes[i]);
		cJSON_AddItemToArray(entries, cJSON_CreateString(h));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(u, "recovery");
	cJSON_AddItemToObject(u, "recovery", rec);
	*ret_codes = codes;
	return 0;
}

static cJSON *find_totp(cJSON *u, const char *id, int *ret_index)
{
	int i = 0;
	cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "totp")) {
		if (streq_ptr(pve_json_str(e, "id"), id)) {
			if (ret_index)
				*ret_index = i;
			return e;
		}
		i++;
	}
	return NULL;
}

static void set_member(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

int pve_tfacfg_update(pve_tfacfg *c, const char *userid, const char *id, const char *description,
		      int enable, pve_error **err)
{
	cJSON *u = user_of(c, userid);
	cJSON *e = strcmp(id, "recovery") == 0 ? cJSON_GetObjectItemCaseSensitive(u, "recovery") :
						 find_totp(u, id, NULL);
	if (!cJSON_IsObject(e))
		return pve_error_set(err, ENOENT, "no such tfa entry '%s'", id);
	int r = check_description(description, err);
	if (r < 0)
		return r;
	if (description)
		set_member(e, "description", cJSON_CreateString(description));
	if (enable >= 0)
		set_member(e, "enable", cJSON_CreateBool(enable));
	return 0;
}

/* A user without any entry left goes from the file, as in Proxmox. */
static void drop_if_empty(pve_tfacfg *c, const char *userid)
{
	cJSON *u = user_of(c, userid);
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	if (u && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "totp")) == 0 &&
	    (!rec || cJSON_IsNull(rec)) && !cJSON_GetObjectItemCaseSensitive(u, "webauthn") &&
	    !cJSON_GetObjectItemCaseSensitive(u, "u2f") &&
	    !cJSON_GetObjectItemCaseSensitive(u, "yubico"))
		cJSON_DeleteItemFromObjectCaseSensitive(users_of(c), userid);
}

int pve_tfacfg_delete(pve_tfacfg *c, const char *userid, const char *id, pve_error **err)
{
	cJSON *u = user_of(c, userid);
	int idx = -1;
	if (strcmp(id, "recovery") == 0) {
		const cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
		if (!cJSON_IsObject(rec))
			return pve_error_set(err, ENOENT, "no such tfa entry '%s'", id);
		cJSON_DeleteItemFromObjectCaseSensitive(u, "recovery");
	} else if (find_totp(u, id, &idx)) {
		cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(u, "totp"), idx);
	} else {
		return pve_error_set(err, ENOENT, "no such tfa entry '%s'", id);
	}
	drop_if_empty(c, userid);
	return 0;
}

bool pve_tfacfg_delete_user(pve_tfacfg *c, const char *userid)
{
	if (!user_of(c, userid))
		return false;
	cJSON_DeleteItemFromObjectCaseSensitive(users_of(c), userid);
	return true;
}

/* ---- the second factor at login --------------------------------------------------------------------------- */

static int verify_totp(cJSON *u, const char *code, time_t now, pve_error **err)
{
	long long last = -1;
	pve_json_int(u, "totp-last-step", &last);
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "totp")) {
		if (!entry_enabled(e))
			continue;
		long long step;
		if (pve_totp_verify(pve_json_str(e, "entry"), code, now, last, &step, NULL) == 0) {
			set_member(u, "totp-last-step", cJSON_CreateNumber((double)step));
			return 0;
		}
	}
	/* Said apart for the log: a replayed code is a sign of a watched login. */
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "totp"))
		if (entry_enabled(e) &&
		    pve_totp_verify(pve_json_str(e, "entry"), code, now, -1, NULL, NULL) == 0)
			return pve_error_set(err, EACCES, "totp code already used");
	return pve_error_set(err, EACCES, "invalid totp code");
}

static int verify_recovery(cJSON *u, const char *code, pve_error **err)
{
	cJSON *rec = cJSON_GetObjectItemCaseSensitive(u, "recovery");
	const char *secret = pve_json_str(rec, "secret");
	size_t len = strnlen(code, RECOVERY_CODE_MAX + 1);
	if (!secret || len == 0 || len > RECOVERY_CODE_MAX)
		return pve_error_set(err, EACCES, "invalid recovery code");
	/* Users copy codes with stray blanks or in upper case. */
	char norm[RECOVERY_CODE_MAX + 1];
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)code[i]))
			norm[n++] = (char)tolower((unsigned char)code[i]);
	norm[n] = '\0';
	_cleanup_free_ char *h = recovery_hash(secret, norm);
	explicit_bzero(norm, sizeof(norm));
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(rec, "entries");
	int i = 0, found = -1;
	const cJSON *e;
	cJSON_ArrayForEach (e, entries) {
		if (cJSON_IsString(e) && found < 0 && access_streq_ct(e->valuestring, h))
			found = i;
		i++;
	}
	if (found < 0)
		return pve_error_set(err, EACCES, "invalid recovery code");
	/* Used codes become null, keeping the others' positions (Proxmox's RecoveryState). */
	cJSON_ReplaceItemInArray(entries, found, cJSON_CreateNull());
	return 0;
}

int pve_tfacfg_verify(pve_tfacfg *c, const char *userid, const char *response, time_t now,
		      pve_error **err)
{
	cJSON *u = user_of(c, userid);
	if (!u || !response)
		return pve_error_set(err, EACCES, "no second factor configured");
	if (strncmp(response, "totp:", 5) == 0) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "totp-locked")))
			return pve_error_set(err, EACCES, "totp is locked for user '%s'", userid);
		return verify_totp(u, response + 5, now, err);
	}
	if (strncmp(response, "recovery:", 9) == 0)
		return verify_recovery(u, response + 9, err);
	return pve_error_set(err, EACCES, "unsupported second factor response");
}
