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
#define WEBAUTHN_CHALLENGE_LEN 32
#define WEBAUTHN_TIMEOUT 60 /* s, for the browser and for the challenge kept */
#define WEBAUTHN_B64_MAX 4096 /* a stored credential id or COSE key, base64url */
#define WEBAUTHN_USED_MAX 64 /* challenges remembered against a replay, per user */

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
	const cJSON *was = cJSON_GetObjectItemCaseSensitive(u, "webauthn");
	if (was) {
		if (!cJSON_IsArray(was) || cJSON_GetArraySize(was) > TFA_MAX_ENTRIES)
			return pve_error_set(err, EINVAL, "tfa.cfg: user '%s': bad webauthn list",
					     userid);
		const cJSON *e;
		cJSON_ArrayForEach (e, was) {
			/* Entries in another shape (Proxmox's webauthn-rs state) stay as they are
			 * and serve no login. */
			if (!cJSON_IsObject(e) || !is_str(e, "id", TFA_ID_MAX, false) ||
			    !is_str(e, "description", TFA_DESCRIPTION_MAX, true) ||
			    !is_int(e, "created", true) || !is_bool(e, "enable"))
				return pve_error_set(err, EINVAL,
						     "tfa.cfg: user '%s': bad webauthn entry",
						     userid);
		}
	}
	const cJSON *reg = cJSON_GetObjectItemCaseSensitive(u, "webauthn-reg");
	if (reg && (!cJSON_IsObject(reg) || !is_str(reg, "challenge", 128, false) ||
		    !is_int(reg, "created", false)))
		return pve_error_set(err, EINVAL, "tfa.cfg: user '%s': bad webauthn-reg", userid);
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(u, "webauthn-used");
	if (used) {
		bool ok = cJSON_IsArray(used) && cJSON_GetArraySize(used) <= WEBAUTHN_USED_MAX;
		const cJSON *e;
		const cJSON *items = ok ? used : NULL;
		cJSON_ArrayForEach (e, items)
			ok = ok && cJSON_IsObject(e) && is_str(e, "challenge", 128, false) &&
			     is_int(e, "until", false);
		if (!ok)
			return pve_error_set(err, EINVAL, "tfa.cfg: user '%s': bad webauthn-used",
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

/* A webauthn entry in pved's shape: {"credential": {"cred_id", "cose" (base64url), "counter"}}. */
static const cJSON *webauthn_credential(const cJSON *e)
{
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(e, "credential");
	if (!cJSON_IsObject(cr) || !is_str(cr, "cred_id", WEBAUTHN_B64_MAX, false) ||
	    !is_str(cr, "cose", WEBAUTHN_B64_MAX, false) || !is_int(cr, "counter", false))
		return NULL;
	return cr;
}

static size_t webauthn_enabled(const cJSON *u)
{
	const cJSON *e;
	size_t n = 0;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "webauthn"))
		n += entry_enabled(e) && webauthn_credential(e);
	return n;
}

bool pve_tfacfg_needs_tfa(const pve_tfacfg *c, const char *userid)
{
	const cJSON *u = user_of(c, userid);
	return u && (totp_enabled(u) > 0 || recovery_left(u) > 0 || webauthn_enabled(u) > 0);
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
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "webauthn"))
		cJSON_AddItemToArray(list, entry_info("webauthn", e));
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
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "webauthn"))
		if (streq_ptr(pve_json_str(e, "id"), id))
			return entry_info("webauthn", e);
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

/* An entry of the list kind ("totp", "webauthn") by its id. */
static cJSON *find_entry(cJSON *u, const char *kind, const char *id, int *ret_index)
{
	int i = 0;
	cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, kind)) {
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
						 find_entry(u, "totp", id, NULL);
	if (!e)
		e = find_entry(u, "webauthn", id, NULL);
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
	    (!rec || cJSON_IsNull(rec)) &&
	    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "webauthn")) == 0 &&
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
	} else if (find_entry(u, "totp", id, &idx)) {
		cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(u, "totp"), idx);
	} else if (find_entry(u, "webauthn", id, &idx)) {
		cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(u, "webauthn"), idx);
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

/* ---- WebAuthn entries ------------------------------------------------------------------------------------- */

static char *random_challenge(void)
{
	unsigned char raw[WEBAUTHN_CHALLENGE_LEN];
	access_random(raw, sizeof(raw));
	return pve_base64url(raw, sizeof(raw));
}

/* The credentials of u as [{"type": "public-key", "id": ...}] (excludeCredentials, allowCredentials). */
static cJSON *credential_list(const cJSON *u, bool enabled_only)
{
	cJSON *list = cJSON_CreateArray();
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "webauthn")) {
		const cJSON *cr = webauthn_credential(e);
		if (!cr || (enabled_only && !entry_enabled(e)))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", "public-key");
		cJSON_AddStringToObject(o, "id", pve_json_str(cr, "cred_id"));
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

int pve_tfacfg_webauthn_challenge(pve_tfacfg *c, const char *userid, const pve_webauthn_config *wa,
				  time_t now, char **ret_challenge, pve_error **err)
{
	if (!pve_userid_valid(userid))
		return pve_error_set_param(err, EINVAL, "userid", "invalid user id");
	cJSON *u = user_get(c, userid);
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(u, "webauthn")) >= TFA_MAX_ENTRIES)
		return pve_error_set(err, ENOSPC, "user '%s' has %d webauthn entries already",
				     userid, TFA_MAX_ENTRIES);
	_cleanup_free_ char *challenge = random_challenge();
	_cleanup_free_ char *handle = pve_base64url((const unsigned char *)userid, strlen(userid));
	/* PublicKeyCredentialCreationOptions as webauthn-rs serializes them for Proxmox's web
	 * interface: binary members in base64url. */
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	cJSON *pk = cJSON_AddObjectToObject(o, "publicKey");
	cJSON *rp = cJSON_AddObjectToObject(pk, "rp");
	cJSON_AddStringToObject(rp, "name", wa->rp);
	cJSON_AddStringToObject(rp, "id", wa->id);
	cJSON *user = cJSON_AddObjectToObject(pk, "user");
	cJSON_AddStringToObject(user, "id", handle);
	cJSON_AddStringToObject(user, "name", userid);
	cJSON_AddStringToObject(user, "displayName", userid);
	cJSON_AddStringToObject(pk, "challenge", challenge);
	cJSON *params = cJSON_AddArrayToObject(pk, "pubKeyCredParams");
	static const int algs[] = { PVE_COSE_ES256, PVE_COSE_EDDSA, PVE_COSE_RS256 };
	for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "type", "public-key");
		cJSON_AddNumberToObject(a, "alg", algs[i]);
		cJSON_AddItemToArray(params, a);
	}
	cJSON_AddNumberToObject(pk, "timeout", WEBAUTHN_TIMEOUT * 1000);
	cJSON_AddStringToObject(pk, "attestation", "none");
	cJSON_AddItemToObject(pk, "excludeCredentials", credential_list(u, false));
	cJSON *sel = cJSON_AddObjectToObject(pk, "authenticatorSelection");
	cJSON_AddBoolToObject(sel, "requireResidentKey", false);
	cJSON_AddStringToObject(sel, "userVerification", "discouraged");
	/* One registration at a time: a new challenge replaces the last. */
	cJSON *reg = cJSON_CreateObject();
	cJSON_AddStringToObject(reg, "challenge", challenge);
	cJSON_AddNumberToObject(reg, "created", (double)now);
	set_member(u, "webauthn-reg", reg);
	*ret_challenge = pve_json_print(o);
	return 0;
}

/* The members of a browser's PublicKeyCredential JSON (Proxmox's web interface sends binary members in
 * base64url): rawId and those of "response" named in names, decoded. */
static int credential_json(const char *json, const char *const *names, unsigned char **ret,
			   size_t *ret_len, char **ret_raw_id, pve_error **err)
{
	_cleanup_json_ cJSON *o = pve_json_parse(json, strlen(json), 16384, 4, err);
	if (!cJSON_IsObject(o))
		return pve_error_set(err, EINVAL, "the webauthn response is not a JSON object");
	const char *type = pve_json_str(o, "type"), *raw = pve_json_str(o, "rawId");
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
	if (!type || !streq(type, "public-key") || !raw || !cJSON_IsObject(resp))
		return pve_error_set(err, EINVAL,
				     "the webauthn response lacks type, rawId or response");
	size_t i = 0;
	int r = 0;
	for (; names[i] && r == 0; i++) {
		const char *v = pve_json_str(resp, names[i]);
		r = v ? pve_unbase64url(v, PVE_WEBAUTHN_MAX_ATTESTATION, &ret[i], &ret_len[i],
					err) :
			pve_error_set(err, EINVAL, "the webauthn response lacks %s", names[i]);
	}
	if (r < 0) {
		while (i-- > 1)
			free(ret[i - 1]);
		return r;
	}
	*ret_raw_id = xstrdup(raw);
	return 0;
}

static void free_parts(unsigned char **parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
}

int pve_tfacfg_webauthn_register(pve_tfacfg *c, const char *userid, const pve_webauthn_config *wa,
				 const char *challenge, const char *response,
				 const char *description, time_t now, char **ret_id,
				 pve_error **err)
{
	int r = check_description(description, err);
	if (r < 0)
		return r;
	cJSON *u = user_of(c, userid);
	const cJSON *reg = cJSON_GetObjectItemCaseSensitive(u, "webauthn-reg");
	long long created = 0;
	pve_json_int(reg, "created", &created);
	/* The challenge the client answers is the one it was given, and the last one made. */
	_cleanup_json_ cJSON *given = pve_json_parse(challenge, strlen(challenge), 8192, 6, NULL);
	const char *want =
		pve_json_str(cJSON_GetObjectItemCaseSensitive(given, "publicKey"), "challenge");
	const char *kept = pve_json_str(reg, "challenge");
	if (!want || !kept || !access_streq_ct(want, kept))
		return pve_error_set_param(err, EINVAL, "challenge",
					   "no such webauthn registration challenge");
	if (now - created > 5 * WEBAUTHN_TIMEOUT || now < created)
		return pve_error_set_param(err, EINVAL, "challenge",
					   "the webauthn registration challenge has expired");
	static const char *const names[] = { "clientDataJSON", "attestationObject", NULL };
	unsigned char *parts[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 };
	_cleanup_free_ char *raw_id = NULL;
	if ((r = credential_json(response, names, parts, lens, &raw_id, err)) < 0)
		return r;
	pve_webauthn_credential cred = { 0 };
	r = pve_webauthn_check_client_data(parts[0], lens[0], "webauthn.create", kept, wa->origin,
					   err);
	if (r == 0)
		r = pve_webauthn_parse_attestation(parts[1], lens[1], parts[0], lens[0], wa->id,
						   &cred, err);
	free_parts(parts, 2);
	if (r < 0) {
		if (err && *err && !(*err)->param)
			(*err)->param = xstrdup("value");
		return r;
	}
	_cleanup_free_ char *cred_id = pve_base64url(cred.cred_id, cred.cred_id_len);
	_cleanup_free_ char *cose = pve_base64url(cred.cose, cred.cose_len);
	uint32_t counter = cred.counter;
	pve_webauthn_credential_clear(&cred);
	if (!streq(cred_id, raw_id))
		return pve_error_set_param(err, EINVAL, "value",
					   "rawId is not the credential's id");
	const cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "webauthn")) {
		const cJSON *cr = webauthn_credential(e);
		if (cr && streq(pve_json_str(cr, "cred_id"), cred_id))
			return pve_error_set_param(err, EINVAL, "value",
						   "this authenticator is registered already");
	}
	cJSON *list = cJSON_GetObjectItemCaseSensitive(u, "webauthn");
	if (!list)
		list = cJSON_AddArrayToObject(u, "webauthn");
	_cleanup_free_ char *uuid = pve_token_secret_generate();
	char *id = xasprintf("webauthn-%s", uuid);
	cJSON *entry = cJSON_CreateObject();
	cJSON_AddStringToObject(entry, "id", id);
	cJSON_AddStringToObject(entry, "description", description ? description : "");
	cJSON_AddNumberToObject(entry, "created", (double)now);
	cJSON_AddBoolToObject(entry, "enable", true);
	cJSON *cr = cJSON_AddObjectToObject(entry, "credential");
	cJSON_AddStringToObject(cr, "cred_id", cred_id);
	cJSON_AddStringToObject(cr, "cose", cose);
	cJSON_AddNumberToObject(cr, "counter", counter);
	cJSON_AddItemToArray(list, entry);
	cJSON_DeleteItemFromObjectCaseSensitive(u, "webauthn-reg");
	if (ret_id)
		*ret_id = id;
	else
		free(id);
	return 0;
}

void pve_tfacfg_challenge_webauthn(const pve_tfacfg *c, const char *userid,
				   const pve_webauthn_config *wa, cJSON *challenge)
{
	const cJSON *u = user_of(c, userid);
	if (!wa || webauthn_enabled(u) == 0)
		return;
	_cleanup_free_ char *ch = random_challenge();
	cJSON *w = cJSON_AddObjectToObject(challenge, "webauthn");
	cJSON *pk = cJSON_AddObjectToObject(w, "publicKey");
	cJSON_AddStringToObject(pk, "challenge", ch);
	cJSON_AddNumberToObject(pk, "timeout", WEBAUTHN_TIMEOUT * 1000);
	cJSON_AddStringToObject(pk, "rpId", wa->id);
	cJSON_AddItemToObject(pk, "allowCredentials", credential_list(u, true));
	cJSON_AddStringToObject(pk, "userVerification", "discouraged");
}

int pve_tfacfg_verify_webauthn(pve_tfacfg *c, const char *userid, const pve_webauthn_config *wa,
			       const char *challenge, const char *response, time_t now,
			       pve_error **err)
{
	cJSON *u = user_of(c, userid);
	if (!u || !wa || !challenge || webauthn_enabled(u) == 0)
		return pve_error_set(err, EACCES, "no webauthn second factor");
	/* A challenge answers once (it lives in the half ticket, which could be sent again). */
	cJSON *used = cJSON_GetObjectItemCaseSensitive(u, "webauthn-used");
	for (int i = cJSON_GetArraySize(used) - 1; i >= 0; i--) {
		const cJSON *e = cJSON_GetArrayItem(used, i);
		long long until = 0;
		pve_json_int(e, "until", &until);
		if (until < now)
			cJSON_DeleteItemFromArray(used, i);
		else if (streq_ptr(pve_json_str(e, "challenge"), challenge))
			return pve_error_set(err, EACCES, "webauthn challenge already used");
	}
	static const char *const names[] = { "clientDataJSON", "authenticatorData", "signature",
					     NULL };
	unsigned char *parts[3] = { NULL, NULL, NULL };
	size_t lens[3] = { 0, 0, 0 };
	_cleanup_free_ char *raw_id = NULL;
	int r = credential_json(response, names, parts, lens, &raw_id, err);
	if (r < 0)
		return r == -EACCES ? r : pve_error_set(err, EACCES, "invalid webauthn response");
	cJSON *entry = NULL, *cr = NULL;
	cJSON *e;
	cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(u, "webauthn")) {
		cJSON *x = (cJSON *)webauthn_credential(e);
		if (x && entry_enabled(e) && streq(pve_json_str(x, "cred_id"), raw_id)) {
			entry = e;
			cr = x;
		}
	}
	unsigned char *cose = NULL;
	size_t cose_len = 0;
	uint32_t counter = 0;
	if (!entry)
		r = pve_error_set(err, EACCES, "unknown webauthn credential");
	if (r == 0)
		r = pve_webauthn_check_client_data(parts[0], lens[0], "webauthn.get", challenge,
						   wa->origin, err);
	if (r == 0)
		r = pve_unbase64url(pve_json_str(cr, "cose"), PVE_WEBAUTHN_MAX_COSE_KEY, &cose,
				    &cose_len, err);
	if (r == 0)
		r = pve_webauthn_verify_assertion(cose, cose_len, wa->id, parts[1], lens[1],
						  parts[0], lens[0], parts[2], lens[2], &counter,
						  err);
	free(cose);
	free_parts(parts, 3);
	if (r < 0)
		return r == -EACCES ? r : pve_error_set(err, EACCES, "invalid webauthn response");
	/* A counter that does not grow means a cloned authenticator (both zero: one without). */
	long long stored = 0;
	pve_json_int(cr, "counter", &stored);
	if ((stored || counter) && (long long)counter <= stored)
		return pve_error_set(err, EACCES, "webauthn signature counter went back");
	set_member(cr, "counter", cJSON_CreateNumber(counter));
	if (!used)
		used = cJSON_AddArrayToObject(u, "webauthn-used");
	if (cJSON_GetArraySize(used) >= WEBAUTHN_USED_MAX)
		cJSON_DeleteItemFromArray(used, 0);
	cJSON *mark = cJSON_CreateObject();
	cJSON_AddStringToObject(mark, "challenge", challenge);
	cJSON_AddNumberToObject(mark, "until", (double)(now + 2 * WEBAUTHN_TIMEOUT + 120));
	cJSON_AddItemToArray(used, mark);
	return 0;
}
