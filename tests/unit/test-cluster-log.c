/* Tests of pvecfs's cluster log without the daemon: appends and what text it keeps, the bound, the
 * merge of another node's entries (duplicates, order, the bound), malformed entries refused whole,
 * and pmxcfs's JSON. */
#include <cjson/cJSON.h>

#include "cluster/cfs-internal.h"
#include "tests/unit/test.h"

static const cfs_log_entry *add(cfs_log *l, const char *node, uint32_t time, const char *msg)
{
	return cfs_log_add(l, node, "pved", "root@pam", 42, 6, time, msg, strlen(msg));
}

/* The log's JSON, parsed (so it is valid JSON too): its "data" list. */
static cJSON *dump(const cfs_log *l, const char *user, size_t max)
{
	pve_buf b = { 0 };
	cfs_log_dump_json(l, &b, user, max);
	_cleanup_error_ pve_error *err = NULL;
	cJSON *o = pve_json_parse(b.data, b.len, 1 << 24, 4, &err);
	check(o != NULL);
	pve_buf_free(&b);
	cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(o, "data");
	cJSON_Delete(o);
	check(cJSON_IsArray(data));
	return data;
}

static const char *nth_str(const cJSON *list, int i, const char *key)
{
	return pve_json_str(cJSON_GetArrayItem(list, i), key);
}

static long long nth_int(const cJSON *list, int i, const char *key)
{
	long long v = -1;
	(void)pve_json_int(cJSON_GetArrayItem(list, i), key, &v);
	return v;
}

static void test_append(void)
{
	cfs_log *l = cfs_log_new(7);
	const cfs_log_entry *e = add(l, "n1", 100, "first");
	check(e != NULL);
	check_int(e->uid, 7);
	check_streq(e->node, "n1");
	check_streq(e->msg, "first");
	check_int(add(l, "n1", 101, "second")->uid, 8);
	check_int(cfs_log_count(l), 2);
	check_int(cfs_log_bytes(l),
		  2 * CFS_LOG_ENTRY_HEADER + 2 * strlen("n1pvedroot@pam") + 5 + 6);
	/* the empty log as pmxcfs writes it, then entries newest first with pmxcfs's fields */
	cfs_log *empty = cfs_log_new(1);
	pve_buf b = { 0 };
	cfs_log_dump_json(empty, &b, NULL, 50);
	check_streq(b.data, "{\n\"data\": [\n]\n}\n");
	pve_buf_free(&b);
	cfs_log_free(empty);
	cfs_log_dump_json(l, &b, NULL, 50);
	check_streq(b.data,
		    "{\n\"data\": [\n"
		    "{\"uid\": 8, \"time\": 101, \"pri\": 6, \"tag\": \"pved\", \"pid\": 42, "
		    "\"node\": \"n1\", \"user\": \"root@pam\", \"msg\": \"second\"},\n"
		    "{\"uid\": 7, \"time\": 100, \"pri\": 6, \"tag\": \"pved\", \"pid\": 42, "
		    "\"node\": \"n1\", \"user\": \"root@pam\", \"msg\": \"first\"}\n]\n}\n");
	pve_buf_free(&b);
	/* max and the user filter */
	(void)cfs_log_add(l, "n1", "pved", "other@pve", 1, 3, 102, "theirs", 6);
	cJSON *all = dump(l, NULL, 2);
	check_int(cJSON_GetArraySize(all), 2);
	check_streq(nth_str(all, 0, "msg"), "theirs");
	check_int(nth_int(all, 0, "pri"), 3);
	cJSON_Delete(all);
	cJSON *mine = dump(l, "root@pam", 50);
	check_int(cJSON_GetArraySize(mine), 2);
	check_streq(nth_str(mine, 0, "msg"), "second");
	cJSON_Delete(mine);
	cfs_log_free(l);
}

static void test_text(void)
{
	cfs_log *l = cfs_log_new(1);
	/* control characters as pmxcfs writes them, a byte that is not UTF-8 as '?', UTF-8 kept,
	 * quotes and backslashes escaped in the JSON */
	const char raw[] = "a\nb\tc\x01 \xff \xc3\xa4 \"q\" \\ \0z";
	const cfs_log_entry *e = cfs_log_add(l, "n1", "t", "u", 1, 6, 1, raw, sizeof(raw) - 1);
	check_streq(e->msg, "a#010b#009c#001 ? \xc3\xa4 \"q\" \\ #000z");
	cJSON *list = dump(l, NULL, 1);
	check_streq(nth_str(list, 0, "msg"), "a#010b#009c#001 ? \xc3\xa4 \"q\" \\ #000z");
	cJSON_Delete(list);
	/* a message past the entry's limit is cut to it, never inside a character */
	pve_buf big = { 0 };
	for (int i = 0; i < 3000; i++)
		pve_buf_puts(&big, "\xc3\xa4");
	e = cfs_log_add(l, "n1", "t", "u", 1, 6, 2, big.data, big.len);
	check(e->size <= CFS_LOG_MAX_ENTRY);
	check(e->size > CFS_LOG_MAX_ENTRY - 2);
	check(pve_utf8_valid(e->msg, strlen(e->msg)));
	/* a tag and a user past 255 bytes are cut to them */
	pve_buf longname = { 0 };
	for (int i = 0; i < 300; i++)
		pve_buf_puts(&longname, "x");
	e = cfs_log_add(l, "n1", longname.data, longname.data, 1, 9, 3, "m", 1);
	check_int(strlen(e->tag), CFS_LOG_MAX_NAME);
	check_int(strlen(e->user), CFS_LOG_MAX_NAME);
	check_int(e->pri, 7);
	pve_buf_free(&big);
	pve_buf_free(&longname);
	cfs_log_free(l);
}

static void test_bound(void)
{
	cfs_log *l = cfs_log_new(1);
	char msg[1000];
	memset(msg, 'm', sizeof(msg));
	for (uint32_t i = 0; i < 1000; i++)
		check(cfs_log_add(l, "n1", "t", "u", 1, 6, 1000 + i, msg, sizeof(msg)) != NULL);
	check(cfs_log_bytes(l) <= CFS_LOG_MAX_BYTES);
	check(cfs_log_bytes(l) > CFS_LOG_MAX_BYTES - 1100);
	/* the newest stay */
	size_t n = cfs_log_count(l);
	check_int(cfs_log_nth(l, n - 1)->time, 1999);
	check_int(cfs_log_nth(l, 0)->time, 2000 - n);
	/* an entry older than all that the bound keeps goes at once */
	check(cfs_log_add(l, "n1", "t", "u", 1, 6, 5, msg, sizeof(msg)) == NULL);
	check_int(cfs_log_count(l), n);
	check_int(cfs_log_nth(l, 0)->time, 2000 - n);
	cfs_log_free(l);
}

static void test_merge(void)
{
	cfs_log *a = cfs_log_new(1), *b = cfs_log_new(1);
	add(a, "n1", 10, "a10");
	add(a, "n1", 30, "a30");
	add(b, "n2", 20, "b20");
	add(b, "n2", 40, "b40");
	/* the same uid and time on two nodes are two entries */
	add(b, "n2", 10, "b10");
	pve_buf wire = { 0 };
	cfs_log_encode(a, &wire);
	check_int(cfs_log_merge(b, (const uint8_t *)wire.data, wire.len), 2);
	/* again: all known */
	check_int(cfs_log_merge(b, (const uint8_t *)wire.data, wire.len), 0);
	pve_buf_free(&wire);
	check_int(cfs_log_count(b), 5);
	const char *order[] = { "a10", "b10", "b20", "a30", "b40" };
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		check_streq(cfs_log_nth(b, i)->msg, order[i]);
	/* one entry sent twice in one message is taken once; the other way round converges */
	pve_buf two = { 0 };
	cfs_log_encode_entry(&two, cfs_log_nth(b, 4));
	cfs_log_encode_entry(&two, cfs_log_nth(b, 4));
	check_int(cfs_log_merge(a, (const uint8_t *)two.data, two.len), 1);
	check_int(cfs_log_merge(a, (const uint8_t *)two.data, two.len), 0);
	pve_buf_free(&two);
	pve_buf all = { 0 };
	cfs_log_encode(b, &all);
	check_int(cfs_log_merge(a, (const uint8_t *)all.data, all.len), 2);
	pve_buf_free(&all);
	check_int(cfs_log_count(a), 5);
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		check_streq(cfs_log_nth(a, i)->msg, order[i]);
	check_int(cfs_log_bytes(a), cfs_log_bytes(b));
	cfs_log_free(a);
	cfs_log_free(b);
}

/* Two full logs merged keep the newest within the bound, whichever side they came from. */
static void test_merge_bound(void)
{
	cfs_log *a = cfs_log_new(1), *b = cfs_log_new(1);
	char msg[500];
	memset(msg, 'm', sizeof(msg));
	for (uint32_t i = 0; i < 400; i++) {
		(void)cfs_log_add(a, "n1", "t", "u", 1, 6, 2 * i, msg, sizeof(msg));
		(void)cfs_log_add(b, "n2", "t", "u", 1, 6, 2 * i + 1, msg, sizeof(msg));
	}
	pve_buf wire = { 0 };
	cfs_log_encode(a, &wire);
	check(cfs_log_merge(b, (const uint8_t *)wire.data, wire.len) > 0);
	pve_buf_free(&wire);
	check(cfs_log_bytes(b) <= CFS_LOG_MAX_BYTES);
	size_t n = cfs_log_count(b);
	/* both nodes' newest, alternating, up to the last one */
	check_int(cfs_log_nth(b, n - 1)->time, 799);
	check_streq(cfs_log_nth(b, n - 1)->node, "n2");
	check_streq(cfs_log_nth(b, n - 2)->node, "n1");
	for (size_t i = 1; i < n; i++)
		check_int(cfs_log_nth(b, i)->time, cfs_log_nth(b, i - 1)->time + 1);
	cfs_log_free(a);
	cfs_log_free(b);
}

static void test_malformed(void)
{
	cfs_log *src = cfs_log_new(1), *l = cfs_log_new(1);
	add(src, "n1", 10, "ok");
	add(l, "n2", 5, "mine");
	pve_buf good = { 0 };
	cfs_log_encode(src, &good);
	size_t n = good.len;
	struct {
		size_t at;
		uint8_t value;
	} breaks[] = {
		{ 12, 8 }, /* priority past 7 */
		{ 13, 0 }, /* no node */
		{ 13, 200 }, /* the node runs past the entry */
		{ 18, 1 }, /* reserved */
		{ CFS_LOG_ENTRY_HEADER, '\n' }, /* a control character */
		{ CFS_LOG_ENTRY_HEADER + 1, 0xff }, /* not UTF-8 */
		{ 17, 0x10 }, /* a message past the entry's limit */
	};
	for (size_t i = 0; i < ELEMENTSOF(breaks); i++) {
		pve_buf bad = { 0 };
		pve_buf_append(&bad, good.data, n);
		/* a good entry first: nothing of a malformed message is taken */
		pve_buf_append(&bad, good.data, n);
		((uint8_t *)bad.data)[n + breaks[i].at] = breaks[i].value;
		check_int(cfs_log_merge(l, (const uint8_t *)bad.data, bad.len), -EBADMSG);
		pve_buf_free(&bad);
	}
	/* cut short anywhere */
	for (size_t cut = 1; cut < n; cut++)
		check_int(cfs_log_merge(l, (const uint8_t *)good.data, cut), -EBADMSG);
	check_int(cfs_log_count(l), 1);
	check_int(cfs_log_merge(l, (const uint8_t *)good.data, n), 1);
	check_int(cfs_log_merge(l, NULL, 0), 0);
	pve_buf_free(&good);
	cfs_log_free(src);
	cfs_log_free(l);
}

TEST_MAIN(TEST(test_append), TEST(test_text), TEST(test_bound), TEST(test_merge),
	  TEST(test_merge_bound), TEST(test_malformed))
