/* Unit tests of the JSON entry point's strictness: UTF-8, NUL (raw and escaped), trailing data, and the
 * naming of the top-level member a fault is in. */
#include <cjson/cJSON.h>

#include "tests/unit/test.h"

static void test_utf8(void)
{
	static const char *const good[] = { "",
					    "abc",
					    "\xc3\xa9",
					    "\xe2\x82\xac",
					    "\xf0\x9f\x98\x80",
					    "\xed\x9f\xbf",
					    "\xf4\x8f\xbf\xbf" };
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		check(pve_utf8_valid(good[i], strlen(good[i])));
	/* stray continuation, overlong forms, surrogates, past U+10FFFF, cut short, 0xff */
	static const char *const bad[] = { "\x80",
					   "\xc0\x80",
					   "\xc1\xbf",
					   "\xe0\x80\x80",
					   "\xed\xa0\x80",
					   "\xf0\x80\x80\x80",
					   "\xf4\x90\x80\x80",
					   "\xf5\x80\x80\x80",
					   "\xc3",
					   "\xe2\x82",
					   "\xff",
					   "a\xc3(b" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		check(!pve_utf8_valid(bad[i], strlen(bad[i])));
	check_int(pve_utf8_valid_prefix("ab\xc3\xa9\xff", 5), 4);
}

static void test_strict(void)
{
	_cleanup_error_ pve_error *err = NULL;
	/* Well-formed UTF-8 and escapes other than \u0000 pass. */
	const char *ok = "{\"c\":\"caf\xc3\xa9 \\u00e9 \\u0001 \\ud83d\\ude00\"}";
	cJSON *v = pve_json_parse(ok, strlen(ok), 1024, 8, &err);
	check(v != NULL);
	check_streq(pve_json_str(v, "c"), "caf\xc3\xa9 \xc3\xa9 \x01 \xf0\x9f\x98\x80");
	cJSON_Delete(v);

	static const char *const bad[] = {
		"{\"c\":\"a\xff\"}", /* invalid byte in a string */
		"{\"c\":\"a\xed\xa0\x80\"}", /* an encoded surrogate */
		"{\"c\":\"a\\u0000b\"}", /* would cut the string to "a" */
		"{\"c\":\"a\\ud800\"}", /* a lone surrogate escape (cJSON refuses it) */
		"{\"c\":1} {}", /* trailing data */
		"{\"c\":1}x",
		"[1]\xc3\xa9",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		check(pve_json_parse(bad[i], strlen(bad[i]), 1024, 8, &err) == NULL);
		check(err && err->code == EINVAL && !err->param);
		pve_error_freep(&err);
	}
	/* An escaped backslash before "u0000" is no NUL. */
	const char *bs = "[\"\\\\u0000\"]";
	v = pve_json_parse(bs, strlen(bs), 1024, 8, &err);
	check(v != NULL);
	cJSON_Delete(v);
}

static void test_member_named(void)
{
	_cleanup_error_ pve_error *err = NULL;
	const char *t = "{\"a\":\"x\",\"comment\":\"bad\xc3(\",\"z\":1}";
	check(pve_json_parse_ex(t, strlen(t), 1024, 8, PVE_JSON_NAME_MEMBER, &err) == NULL);
	check(err && err->code == EINVAL);
	check_streq(err ? err->param : NULL, "comment");
	check(err && strstr(err->message, "UTF-8"));
	pve_error_freep(&err);
	/* Nested: still the top-level member. */
	t = "{\"a\":{\"b\":[\"\\u0000\"]}}";
	check(pve_json_parse_ex(t, strlen(t), 1024, 8, PVE_JSON_NAME_MEMBER, &err) == NULL);
	check_streq(err ? err->param : NULL, "a");
	check(err && strstr(err->message, "NUL"));
	pve_error_freep(&err);
	/* In a key: nothing to name. Without the flag: never named. */
	t = "{\"a\xff\":1}";
	check(pve_json_parse_ex(t, strlen(t), 1024, 8, PVE_JSON_NAME_MEMBER, &err) == NULL);
	check(err && !err->param);
	pve_error_freep(&err);
	t = "{\"a\":\"\xff\"}";
	check(pve_json_parse(t, strlen(t), 1024, 8, &err) == NULL);
	check(err && !err->param);
}

TEST_MAIN(TEST(test_utf8), TEST(test_strict), TEST(test_member_named))
