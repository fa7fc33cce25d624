/* Unit tests for access/tfa.c: RFC 6238 vectors, the one-step window, replay, recovery codes, tfa.cfg. */
#include <ctype.h>

#include <cjson/cJSON.h>

#include "access/access.h"
#include "tests/unit/test.h"

/* RFC 6238 appendix B: the ASCII seeds "1234567890" repeated to 20, 32 and 64 bytes, 8 digits. */
#define SEED20 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define SEED32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"
#define SEED64                                                                     \
	"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV" \
	"GY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA"
#define URI20 "otpauth://totp/test?secret=" SEED20 "&digits=8"
#define URI6 "otpauth://totp/pved:alice?secret=" SEED20 "&issuer=pved"

static void rfc6238_vectors(void)
{
	static const struct {
		long long t;
		const char *sha1, *sha256, *sha512;
	} v[] = {
		{ 59, "94287082", "46119246", "90693936" },
		{ 1111111109, "07081804", "68084774", "25091201" },
		{ 1111111111, "14050471", "67062674", "99943326" },
		{ 1234567890, "89005924", "91819424", "93441116" },
		{ 2000000000, "69279037", "90698825", "38618901" },
		{ 20000000000, "65353130", "77737706", "47863826" },
	};
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		char code[PVE_TOTP_CODE_MAX];
		check_int(pve_totp_generate(URI20, (time_t)v[i].t, code, NULL), 0);
		check_streq(code, v[i].sha1);
		check_int(pve_totp_generate("otpauth://totp/x?secret=" SEED32
					    "&digits=8&algorithm=SHA256",
					    (time_t)v[i].t, code, NULL),
			  0);
		check_streq(code, v[i].sha256);
		check_int(pve_totp_generate(
				  "otpauth://totp/x?algorithm=SHA512&digits=8&secret=" SEED64,
				  (time_t)v[i].t, code, NULL),
			  0);
		check_streq(code, v[i].sha512);
		long long step = 0;
		check_int(pve_totp_verify(URI20, v[i].sha1, (time_t)v[i].t, -1, &step, NULL), 0);
		check_int(step, v[i].t / 30);
	}
}

static void uri_checks(void)
{
	pve_error *err = NULL;
	check_int(pve_totp_check_uri(URI6, NULL), 0);
	/* Lower case, unpadded, with blanks as apps show it. */
	check_int(pve_totp_check_uri("otpauth://totp/x?secret=gezd%20gnbv%20gy3t%20qojq", NULL), 0);
	check(pve_totp_check_uri("otpauth://hotp/x?secret=" SEED20, &err) == -EINVAL);
	pve_error_free(TAKE_PTR(err));
	check(pve_totp_check_uri("otpauth://totp/x?secret=GEZDGNBV", &err) ==
	      -EINVAL); /* 40 bits */
	check(strstr(err->message, "secret") != NULL);
	pve_error_free(TAKE_PTR(err));
	check(pve_totp_check_uri("otpauth://totp/x?issuer=a", NULL) == -EINVAL);
	check(pve_totp_check_uri("otpauth://totp/x?secret=" SEED20 "&digits=9", NULL) == -EINVAL);
	check(pve_totp_check_uri("otpauth://totp/x?secret=" SEED20 "&algorithm=MD5", NULL) ==
	      -EINVAL);
	check(pve_totp_check_uri("otpauth://totp/x?secret=1!1!1!1!1!1!1!1!", NULL) == -EINVAL);
	check(pve_totp_check_uri("otpauth://totp/x?secret=%zz", NULL) == -EINVAL);
	check(pve_totp_check_uri(NULL, NULL) == -EINVAL);
}

static void window_and_replay(void)
{
	const time_t now = 1700000015; /* step 56666667 */
	const long long step = now / 30;
	char prev[PVE_TOTP_CODE_MAX], cur[PVE_TOTP_CODE_MAX], next[PVE_TOTP_CODE_MAX],
		far[PVE_TOTP_CODE_MAX];
	check_int(pve_totp_generate(URI6, now - 30, prev, NULL), 0);
	check_int(pve_totp_generate(URI6, now, cur, NULL), 0);
	check_int(pve_totp_generate(URI6, now + 30, next, NULL), 0);
	check_int(pve_totp_generate(URI6, now + 60, far, NULL), 0);
	check_int(strlen(cur), 6);
	long long got = 0;
	check_int(pve_totp_verify(URI6, prev, now, -1, &got, NULL), 0);
	check_int(got, step - 1);
	check_int(pve_totp_verify(URI6, next, now, -1, &got, NULL), 0);
	check_int(got, step + 1);
	check_int(pve_totp_verify(URI6, cur, now, -1, &got, NULL), 0);
	check_int(got, step);
	pve_error *err = NULL;
	if (strcmp(far, cur) && strcmp(far, prev) && strcmp(far, next)) {
		check_int(pve_totp_verify(URI6, far, now, -1, NULL, &err), -EACCES);
		pve_error_free(TAKE_PTR(err));
	}
	/* The same step again, or an earlier one, is a replay. */
	check_int(pve_totp_verify(URI6, cur, now, step, NULL, &err), -EACCES);
	check_streq(err->message, "totp code already used");
	pve_error_free(TAKE_PTR(err));
	check_int(pve_totp_verify(URI6, prev, now, step, NULL, NULL), -EACCES);
	check_int(pve_totp_verify(URI6, next, now, step, NULL, NULL), 0);
	/* Wrong shapes. */
	check_int(pve_totp_verify(URI6, "12345", now, -1, NULL, NULL), -EACCES);
	check_int(pve_totp_verify(URI6, "1234567", now, -1, NULL, NULL), -EACCES);
	check_int(pve_totp_verify(URI6, "abcdef", now, -1, NULL, NULL), -EACCES);
	check_int(pve_totp_verify(URI6, "", now, -1, NULL, NULL), -EACCES);
	check_int(pve_totp_verify(URI6, NULL, now, -1, NULL, NULL), -EACCES);
}

static void cfg_totp_login(void)
{
	_cleanup_tfacfg_ pve_tfacfg *c = pve_tfacfg_new();
	const time_t now = 1700000015;
	_cleanup_free_ char *id = NULL;
	check(!pve_tfacfg_needs_tfa(c, "alice@pve"));
	check_int(pve_tfacfg_add_totp(c, "alice@pve", URI6, "phone", now, &id, NULL), 0);
	check(id && strncmp(id, "totp-", 5) == 0);
	check(pve_tfacfg_needs_tfa(c, "alice@pve"));
	check(!pve_tfacfg_needs_tfa(c, "bob@pve"));
	pve_error *err = NULL;
	check_int(pve_tfacfg_add_totp(c, "alice@pve", "otpauth://totp/x", NULL, now, NULL, &err),
		  -EINVAL);
	check_streq(err->param, "totp");
	pve_error_free(TAKE_PTR(err));

	char code[PVE_TOTP_CODE_MAX];
	check_int(pve_totp_generate(URI6, now, code, NULL), 0);
	_cleanup_free_ char *resp = xasprintf("totp:%s", code);
	check_int(pve_tfacfg_verify(c, "alice@pve", resp, now, NULL), 0);
	/* Replay, also after a print and parse round trip (the step is stored). */
	_cleanup_free_ char *text = pve_tfacfg_print(c);
	_cleanup_tfacfg_ pve_tfacfg *c2 = NULL;
	check_int(pve_tfacfg_parse(text, strlen(text), &c2, NULL), 0);
	check_int(pve_tfacfg_verify(c2, "alice@pve", resp, now, &err), -EACCES);
	check_streq(err->message, "totp code already used");
	pve_error_free(TAKE_PTR(err));
	check_int(pve_tfacfg_verify(c2, "alice@pve", "totp:000000x", now, NULL), -EACCES);
	check_int(pve_tfacfg_verify(c2, "bob@pve", resp, now, NULL), -EACCES);
	check_int(pve_tfacfg_verify(c2, "alice@pve", "webauthn:{}", now, NULL), -EACCES);

	/* Disabled entries do not count. */
	check_int(pve_tfacfg_update(c2, "alice@pve", id, "old phone", 0, NULL), 0);
	check(!pve_tfacfg_needs_tfa(c2, "alice@pve"));
	check_int(pve_totp_generate(URI6, now + 30, code, NULL), 0);
	_cleanup_free_ char *resp2 = xasprintf("totp:%s", code);
	check_int(pve_tfacfg_verify(c2, "alice@pve", resp2, now + 30, NULL), -EACCES);
	_cleanup_json_ cJSON *e = pve_tfacfg_get(c2, "alice@pve", id);
	check_streq(pve_json_str(e, "description"), "old phone");
	check(cJSON_IsFalse(cJSON_GetObjectItem(e, "enable")));
	check_int(pve_tfacfg_update(c2, "alice@pve", "nope", NULL, 1, NULL), -ENOENT);
	check_int(pve_tfacfg_delete(c2, "alice@pve", id, NULL), 0);
	check_int(pve_tfacfg_delete(c2, "alice@pve", id, NULL), -ENOENT);
	_cleanup_strv_free_ char **users = pve_tfacfg_users(c2);
	check_int(strv_length(users), 0);
}

static void recovery_codes(void)
{
	_cleanup_tfacfg_ pve_tfacfg *c = pve_tfacfg_new();
	_cleanup_strv_free_ char **codes = NULL;
	check_int(pve_tfacfg_add_recovery(c, "bob@pve", 100, &codes, NULL), 0);
	check_int(strv_length(codes), PVE_TFA_RECOVERY_CODES);
	check_int(strlen(codes[0]), 19);
	check(codes[0][4] == '-' && codes[0][9] == '-' && codes[0][14] == '-');
	check(strcmp(codes[0], codes[1]) != 0);
	check(pve_tfacfg_needs_tfa(c, "bob@pve"));
	_cleanup_strv_free_ char **again = NULL;
	check_int(pve_tfacfg_add_recovery(c, "bob@pve", 100, &again, NULL), -EEXIST);

	/* Stored hashed only. */
	_cleanup_free_ char *text = pve_tfacfg_print(c);
	check(strstr(text, codes[0]) == NULL);

	_cleanup_free_ char *r0 = xasprintf("recovery:%s", codes[0]);
	check_int(pve_tfacfg_verify(c, "bob@pve", r0, 100, NULL), 0);
	check_int(pve_tfacfg_verify(c, "bob@pve", r0, 100, NULL), -EACCES);
	_cleanup_json_ cJSON *ch = pve_tfacfg_challenge(c, "bob@pve");
	cJSON *avail = cJSON_GetObjectItem(ch, "recovery");
	check_int(cJSON_GetArraySize(avail), PVE_TFA_RECOVERY_CODES);
	check(cJSON_IsFalse(cJSON_GetArrayItem(avail, 0)));
	check(cJSON_IsTrue(cJSON_GetArrayItem(avail, 1)));
	check(cJSON_IsFalse(cJSON_GetObjectItem(ch, "totp")));
	/* Upper case with blanks works too; used up after a round trip it stays used. */
	_cleanup_free_ char *up = xstrdup(codes[1]);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	_cleanup_free_ char *r1 = xasprintf("recovery: %s ", up);
	check_int(pve_tfacfg_verify(c, "bob@pve", r1, 100, NULL), 0);
	free(text);
	text = pve_tfacfg_print(c);
	_cleanup_tfacfg_ pve_tfacfg *c2 = NULL;
	check_int(pve_tfacfg_parse(text, strlen(text), &c2, NULL), 0);
	check_int(pve_tfacfg_verify(c2, "bob@pve", r0, 100, NULL), -EACCES);
	_cleanup_free_ char *r2 = xasprintf("recovery:%s", codes[2]);
	check_int(pve_tfacfg_verify(c2, "bob@pve", r2, 100, NULL), 0);
	check_int(pve_tfacfg_verify(c2, "bob@pve", "recovery:0000-0000-0000-0000", 100, NULL),
		  -EACCES);
	check_int(pve_tfacfg_verify(c2, "bob@pve", "recovery:", 100, NULL), -EACCES);
	/* Using all codes ends the need for a second factor. */
	for (size_t i = 3; i < PVE_TFA_RECOVERY_CODES; i++) {
		_cleanup_free_ char *r = xasprintf("recovery:%s", codes[i]);
		check_int(pve_tfacfg_verify(c2, "bob@pve", r, 100, NULL), 0);
	}
	check(!pve_tfacfg_needs_tfa(c2, "bob@pve"));
	_cleanup_json_ cJSON *list = pve_tfacfg_list(c2, "bob@pve");
	check_int(cJSON_GetArraySize(list), 1);
	check_streq(pve_json_str(cJSON_GetArrayItem(list, 0), "id"), "recovery");
	check_int(pve_tfacfg_delete(c2, "bob@pve", "recovery", NULL), 0);
	check(!pve_tfacfg_delete_user(c2, "bob@pve"));
}

static void cfg_parse(void)
{
	pve_tfacfg *c = NULL;
	pve_error *err = NULL;
	check_int(pve_tfacfg_parse("", 0, &c, NULL), 0);
	pve_tfacfg_free(TAKE_PTR(c));
	/* Proxmox's file with members pved does not use: kept. */
	const char *px = "{\"users\":{\"root@pam\":{\"totp\":[{\"id\":\"a1\",\"description\":\"x\","
			 "\"created\":1,\"enable\":true,\"entry\":\"" URI6 "\"}],"
			 "\"webauthn\":[{\"id\":\"w\"}],\"totp-locked\":false}},"
			 "\"webauthn\":{\"rp\":\"pve\"}}";
	check_int(pve_tfacfg_parse(px, strlen(px), &c, &err), 0);
	if (err)
		test_fail(__FILE__, __LINE__, "%s", err->message);
	_cleanup_free_ char *out = pve_tfacfg_print(c);
	check(strstr(out, "\"webauthn\":{\"rp\":\"pve\"}") != NULL);
	check(strstr(out, "\"webauthn\":[{\"id\":\"w\"}]") != NULL);
	check(pve_tfacfg_needs_tfa(c, "root@pam"));
	pve_tfacfg_free(TAKE_PTR(c));

	static const char *bad[] = {
		"[]",
		"{\"users\":[]}",
		"{\"users\":{\"nouser\":{}}}",
		"{\"users\":{\"a@pve\":{\"totp\":{}}}}",
		"{\"users\":{\"a@pve\":{\"totp\":[{\"id\":1,\"entry\":\"x\"}]}}}",
		"{\"users\":{\"a@pve\":{\"totp\":[{\"id\":\"1\"}]}}}",
		"{\"users\":{\"a@pve\":{\"recovery\":{\"secret\":\"zz\",\"entries\":[]}}}}",
		"{\"users\":{\"a@pve\":{\"recovery\":{\"secret\":\"00\",\"entries\":[\"ab\"]}}}}",
		"{\"users\":{\"a@pve\":{\"totp-locked\":1}}}",
		"{\"users\":",
		/* Numbers that would not print back as themselves (inf prints as null). */
		"{\"users\":{\"a@pve\":{\"totp-last-step\":56e66666}}}",
		"{\"users\":{\"a@pve\":{\"totp-last-step\":1.5}}}",
		"{\"users\":{\"a@pve\":{\"tfa-locked-until\":-1e300}}}",
		/* Not a userid: a '!' never belongs to one. */
		"{\"users\":{\"a@pve!x@pve\":{}}}",
		"{\"users\":{\"a@pve!tok\":{}}}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		check_int(pve_tfacfg_parse(bad[i], strlen(bad[i]), &c, &err), -EINVAL);
		check(err != NULL);
		pve_error_free(TAKE_PTR(err));
	}
	_cleanup_free_ char *huge = xmalloc(PVE_TFACFG_MAX_SIZE + 2);
	memset(huge, ' ', PVE_TFACFG_MAX_SIZE + 1);
	huge[PVE_TFACFG_MAX_SIZE + 1] = 0;
	check_int(pve_tfacfg_parse(huge, PVE_TFACFG_MAX_SIZE + 1, &c, NULL), -E2BIG);
}

static void unlock_user(void)
{
	const char *text = "{\"users\":{\"a@pve\":{\"totp\":[{\"id\":\"t1\",\"description\":\"x\","
			   "\"created\":1,\"enable\":true,\"entry\":\"" URI6 "\"}],"
			   "\"webauthn\":[{\"id\":\"w\"}],\"totp-locked\":true,"
			   "\"tfa-locked-until\":2000000000},"
			   "\"b@pve\":{\"totp-locked\":false},\"c@pve\":{\"tfa-locked-until\":5}}}";
	pve_tfacfg *c = NULL;
	check_int(pve_tfacfg_parse(text, strlen(text), &c, NULL), 0);
	bool locked;
	long long until;
	pve_tfacfg_user_locks(c, "a@pve", &locked, &until);
	check(locked);
	check(until == 2000000000LL);
	char code[PVE_TOTP_CODE_MAX];
	check_int(pve_totp_generate(URI6, 1000, code, NULL), 0);
	_cleanup_free_ char *resp = xasprintf("totp:%s", code);
	check_int(pve_tfacfg_verify(c, "a@pve", resp, 1000, NULL), -EACCES);

	check(pve_tfacfg_unlock_user(c, "a@pve"));
	pve_tfacfg_user_locks(c, "a@pve", &locked, &until);
	check(!locked);
	check(until == 0);
	check_int(pve_tfacfg_verify(c, "a@pve", resp, 1000, NULL), 0);
	/* Nothing else of the user's goes, and a second unlock has nothing to do. */
	check(!pve_tfacfg_unlock_user(c, "a@pve"));
	_cleanup_free_ char *out = pve_tfacfg_print(c);
	check(strstr(out, "\"webauthn\":[{\"id\":\"w\"}]") != NULL);
	check(strstr(out, "\"t1\"") != NULL);
	/* false is no lock; a lockout alone is one; unknown users have none. */
	check(!pve_tfacfg_unlock_user(c, "b@pve"));
	check(pve_tfacfg_unlock_user(c, "c@pve"));
	check(!pve_tfacfg_unlock_user(c, "nobody@pve"));
	_cleanup_free_ char *out2 = pve_tfacfg_print(c);
	check(strstr(out2, "tfa-locked-until") == NULL);
	check(strstr(out2, "\"totp-locked\":true") == NULL);
	/* The result still parses as a tfa.cfg. */
	pve_tfacfg *c2 = NULL;
	check_int(pve_tfacfg_parse(out2, strlen(out2), &c2, NULL), 0);
	pve_tfacfg_free(c2);
	pve_tfacfg_free(c);
}

TEST_MAIN(TEST(rfc6238_vectors), TEST(uri_checks), TEST(window_and_replay), TEST(cfg_totp_login),
	  TEST(recovery_codes), TEST(cfg_parse), TEST(unlock_user))
