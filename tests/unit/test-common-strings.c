/* Tests of common's strings and numbers, whole reads and writes, JSON with limits, and UPIDs. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include "tests/unit/test.h"

static void test_parse_int(void)
{
	long long v = 7;
	check_int(pve_parse_int("42", 0, 100, &v), 0);
	check_int(v, 42);
	check_int(pve_parse_int("-5", -10, 10, &v), 0);
	check_int(v, -5);
	check_int(pve_parse_int("+5", -10, 10, &v), 0);
	check_int(v, 5);
	v = 7;
	check_int(pve_parse_int("", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int(" 1", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int("1 ", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int("0x10", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int("1.0", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int("-", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int("abc", 0, 100, &v), -EINVAL);
	check_int(pve_parse_int("101", 0, 100, &v), -ERANGE);
	check_int(pve_parse_int("-1", 0, 100, &v), -ERANGE);
	check_int(pve_parse_int("99999999999999999999", LLONG_MIN, LLONG_MAX, &v), -ERANGE);
	check_int(v, 7); /* untouched on failure */
	check_int(pve_parse_int("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), 0);
	check(v == LLONG_MAX);

	unsigned long long u;
	check_int(pve_parse_uint("18446744073709551615", ULLONG_MAX, &u), 0);
	check(u == ULLONG_MAX);
	check_int(pve_parse_uint("18446744073709551616", ULLONG_MAX, &u), -ERANGE);
	check_int(pve_parse_uint("-1", ULLONG_MAX, &u), -EINVAL);
	check_int(pve_parse_uint("10", 9, &u), -ERANGE);
}

static void test_parse_double(void)
{
	double d;
	check_int(pve_parse_double("1.5", &d), 0);
	check(d == 1.5);
	check_int(pve_parse_double("-.5", &d), 0);
	check(d == -0.5);
	check_int(pve_parse_double("5.", &d), 0);
	check_int(pve_parse_double("1e3", &d), 0);
	check(d == 1000);
	check_int(pve_parse_double("inf", &d), -EINVAL);
	check_int(pve_parse_double("nan", &d), -EINVAL);
	check_int(pve_parse_double("0x1p3", &d), -EINVAL);
	check_int(pve_parse_double(".", &d), -EINVAL);
	check_int(pve_parse_double("1e", &d), -EINVAL);
	check_int(pve_parse_double("", &d), -EINVAL);
	check_int(pve_parse_double("1e999", &d), -ERANGE);
}

static void test_parse_bool(void)
{
	bool b;
	const char *yes[] = { "1", "on", "yes", "true", "TRUE", "On", "YeS" };
	const char *no[] = { "0", "off", "no", "false", "FALSE", "Off" };
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		b = false;
		check_int(pve_parse_bool(yes[i], &b), 0);
		check(b);
	}
	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		b = true;
		check_int(pve_parse_bool(no[i], &b), 0);
		check(!b);
	}
	check_int(pve_parse_bool("2", &b), -EINVAL);
	check_int(pve_parse_bool("", &b), -EINVAL);
	check_int(pve_parse_bool("yes ", &b), -EINVAL);
	check_int(pve_parse_bool("y", &b), -EINVAL);
}

static void test_size(void)
{
	uint64_t v;
	check_int(pve_parse_size("32G", &v), 0);
	check(v == 32ULL << 30);
	check_int(pve_parse_size("1024", &v), 0);
	check(v == 1024);
	check_int(pve_parse_size("1.5K", &v), 0);
	check(v == 1536);
	check_int(pve_parse_size("0.5T", &v), 0);
	check(v == 1ULL << 39);
	check_int(pve_parse_size("1.0001K", &v), 0);
	check(v == 1024); /* rounded down, as Proxmox's int() */
	check_int(pve_parse_size("16777215T", &v), 0);
	check_int(pve_parse_size("16777216T", &v), -ERANGE);
	check_int(pve_parse_size("18446744073709551616", &v), -ERANGE);
	check_int(pve_parse_size("", &v), -EINVAL);
	check_int(pve_parse_size("G", &v), -EINVAL);
	check_int(pve_parse_size("1g", &v), -EINVAL);
	check_int(pve_parse_size("1GB", &v), -EINVAL);
	check_int(pve_parse_size("1.G", &v), -EINVAL);
	check_int(pve_parse_size(".5G", &v), -EINVAL);
	check_int(pve_parse_size("-1G", &v), -EINVAL);
	check_int(pve_parse_size("1 G", &v), -EINVAL);

	struct {
		uint64_t b;
		const char *s;
	} f[] = { { 0, "0" },
		  { 1, "1" },
		  { 1536, "1536" },
		  { 1024, "1K" },
		  { 1 << 20, "1M" },
		  { 3ULL << 30, "3G" },
		  { 32ULL << 30, "32G" },
		  { 1ULL << 40, "1T" },
		  { 2048ULL << 40, "2048T" },
		  { (1ULL << 30) + 1024, "1048577K" } };
	for (size_t i = 0; i < ELEMENTSOF(f); i++) {
		_cleanup_free_ char *s = pve_format_size(f[i].b);
		check_streq(s, f[i].s);
		check_int(pve_parse_size(s, &v), 0);
		check(v == f[i].b);
	}
}

static void test_prefix_suffix(void)
{
	check(startswith("pve-vmid", "pve-"));
	check(startswith("x", ""));
	check(!startswith("pv", "pve"));
	check(endswith("pve-vmid-list", "-list"));
	check(!endswith("list", "-list"));
	check(endswith("a", ""));
	check(streq_ptr(NULL, NULL));
	check(!streq_ptr("a", NULL));
	check(!streq_ptr(NULL, "a"));
	check(streq_ptr("a", "a"));
	check(streq("a", "a"));
}

static void test_strv(void)
{
	_cleanup_strv_free_ char **v = pve_strv_split(",,a,b;;c,", ",;");
	check_int(strv_length(v), 3);
	check_streq(v[0], "a");
	check_streq(v[1], "b");
	check_streq(v[2], "c");
	check(v[3] == NULL);
	_cleanup_free_ char *j = pve_strv_join(v, ", ");
	check_streq(j, "a, b, c");
	_cleanup_strv_free_ char **e = pve_strv_split("", ",");
	check_int(strv_length(e), 0);
	_cleanup_free_ char *je = pve_strv_join(e, ",");
	check_streq(je, "");
	_cleanup_free_ char *jn = pve_strv_join(NULL, ",");
	check_streq(jn, "");
	_cleanup_strv_free_ char **l = pve_split_list(" 100, 101;102\t103 ");
	check_int(strv_length(l), 4);
	check_streq(l[3], "103");
}

static void test_uri(void)
{
	_cleanup_free_ char *a = pve_uri_decode("a%20b+c%2Fd", 11, true);
	check_streq(a, "a b c/d");
	_cleanup_free_ char *b = pve_uri_decode("a+b", 3, false);
	check_streq(b, "a+b");
	check(pve_uri_decode("%2", 2, false) == NULL);
	check(pve_uri_decode("%", 1, false) == NULL);
	check(pve_uri_decode("%zz", 3, false) == NULL);
	check(pve_uri_decode("a%00b", 5, false) == NULL);
	/* len bounds the input: the %41 past it is not read. */
	_cleanup_free_ char *c = pve_uri_decode("ab%41", 2, false);
	check_streq(c, "ab");
	_cleanup_free_ char *d = pve_uri_decode("%c3%A9", 6, false);
	check_streq(d, "\xc3\xa9");

	_cleanup_free_ char *e = pve_uri_encode("UPID:node:0000/a b~._-\xc3\xa9");
	check_streq(e, "UPID%3Anode%3A0000%2Fa%20b~._-%C3%A9");
	_cleanup_free_ char *r = pve_uri_decode(e, strlen(e), false);
	check_streq(r, "UPID:node:0000/a b~._-\xc3\xa9");
}

static void test_hex_random(void)
{
	_cleanup_free_ char *h = pve_hex_encode("\x01\xab\xff", 3, false);
	check_streq(h, "01abff");
	_cleanup_free_ char *H = pve_hex_encode("\x01\xab\xff", 3, true);
	check_streq(H, "01ABFF");
	_cleanup_free_ char *z = pve_hex_encode("", 0, true);
	check_streq(z, "");

	uint8_t a[32] = { 0 }, b[32] = { 0 };
	check_int(pve_random_bytes(a, sizeof(a), NULL), 0);
	check_int(pve_random_bytes(b, sizeof(b), NULL), 0);
	check(memcmp(a, b, sizeof(a)) != 0);

	_cleanup_free_ char *p1 = pve_random_password(24);
	_cleanup_free_ char *p2 = pve_random_password(24);
	check(p1 && p2);
	check_int(strlen(p1), 24);
	check(strspn(p1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == 24);
	check(!streq(p1, p2));
	_cleanup_free_ char *p0 = pve_random_password(0);
	check_streq(p0, "");
}

static void test_json(void)
{
	_cleanup_error_ pve_error *err = NULL;
	const char *t = "{\"a\":\"x\",\"n\":5,\"f\":1.5,\"s\":\"12\",\"arr\":[1,[2,{\"b\":null}]]}";
	cJSON *v = pve_json_parse(t, strlen(t), 1024, 32, &err);
	check(v != NULL);
	check_streq(pve_json_str(v, "a"), "x");
	check(pve_json_str(v, "n") == NULL);
	check(pve_json_str(v, "missing") == NULL);
	long long n = 0;
	check(pve_json_int(v, "n", &n) && n == 5);
	check(!pve_json_int(v, "f", &n));
	check(pve_json_int(v, "s", &n) && n == 12);
	check(!pve_json_int(v, "a", &n));
	_cleanup_free_ char *p = pve_json_print(v);
	check_streq(p, t);
	cJSON_Delete(v);

	/* Too long. */
	check(pve_json_parse(t, strlen(t), 10, 32, &err) == NULL);
	check(err && err->code == E2BIG);
	pve_error_freep(&err);

	/* Depth: 3 levels allowed with max 3, 4 refused; brackets in strings do not count. */
	const char *d3 = "[[[\"[[[[[[\"]]]";
	v = pve_json_parse(d3, strlen(d3), 1024, 3, &err);
	check(v != NULL);
	cJSON_Delete(v);
	const char *d4 = "[[[{}]]]";
	check(pve_json_parse(d4, strlen(d4), 1024, 3, &err) == NULL);
	check(err && err->code == EINVAL && strstr(err->message, "nested"));
	pve_error_freep(&err);
	/* Deeper than cJSON's own limit: refused by our scan, no deep recursion. */
	_cleanup_free_ char *deep = xmalloc(200001);
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	deep[200000] = '\0';
	check(pve_json_parse(deep, 200000, 1 << 20, 32, &err) == NULL);
	check(err && err->code == EINVAL);
	pve_error_freep(&err);

	/* Invalid JSON names the offset. */
	const char *bad = "{\"a\":1,}";
	check(pve_json_parse(bad, strlen(bad), 1024, 32, &err) == NULL);
	check(err && err->code == EINVAL && startswith(err->message, "invalid JSON at offset "));
	pve_error_freep(&err);
	const char *trail = "{} x";
	check(pve_json_parse(trail, strlen(trail), 1024, 32, &err) == NULL);
	check_streq(err ? err->message : NULL, "invalid JSON at offset 3");
	pve_error_freep(&err);
	check(pve_json_parse("{}\0{}", 5, 1024, 32, &err) == NULL);
	check_streq(err ? err->message : NULL, "invalid JSON at offset 2");
	pve_error_freep(&err);
	check(pve_json_parse("", 0, 1024, 32, &err) == NULL);
	pve_error_freep(&err);
	/* Not NUL-terminated: only len bytes are read. */
	v = pve_json_parse("[1]garbage", 3, 1024, 32, &err);
	check(v != NULL);
	cJSON_Delete(v);
}

static void test_upid(void)
{
	pve_upid u = { .pid = 0x35D677, .pstart = 0x3AB00C3, .starttime = 0x66DC5987 };
	strcpy(u.node, "proxmox");
	strcpy(u.type, "qmclone");
	strcpy(u.id, "132");
	strcpy(u.user, "root@pam");
	_cleanup_free_ char *s = pve_upid_format(&u);
	check_streq(s, "UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:132:root@pam:");
	pve_upid p;
	check_int(pve_upid_parse(s, &p, NULL), 0);
	check_streq(p.node, "proxmox");
	check_int(p.pid, 0x35D677);
	check(p.pstart == 0x3AB00C3);
	check_int(p.starttime, 0x66DC5987);
	check_streq(p.type, "qmclone");
	check_streq(p.id, "132");
	check_streq(p.user, "root@pam");

	/* Large pstart gets more digits; empty id allowed; lower-case hex accepted. */
	u.pstart = 0x123456789ULL;
	u.id[0] = '\0';
	_cleanup_free_ char *s2 = pve_upid_format(&u);
	check_streq(s2, "UPID:proxmox:0035D677:123456789:66DC5987:qmclone::root@pam:");
	check_int(pve_upid_parse(s2, &p, NULL), 0);
	check(p.pstart == 0x123456789ULL);
	check_streq(p.id, "");
	check_int(pve_upid_parse("UPID:n1:0035d677:03ab00c3:66dc5987:vncshell::root@pam!tok:", &p,
				 NULL),
		  0);
	check_streq(p.user, "root@pam!tok");

	const char *bad[] = {
		"",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:132:root@pam",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:132:root@pam::",
		"UPID:proxmox:35D677:03AB00C3:66DC5987:qmclone:132:root@pam:",
		"UPID:proxmox:0035D677:03AB00C3:66DC598:qmclone:132:root@pam:",
		"UPID:proxmox:0035D67G:03AB00C3:66DC5987:qmclone:132:root@pam:",
		"UPID:-bad:0035D677:03AB00C3:66DC5987:qmclone:132:root@pam:",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987::132:root@pam:",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:1/2:root@pam:",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:1 2:root@pam:",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:1\n:root@pam:",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:132:root:",
		"UPID:proxmox:0035D677:03AB00C3:66DC5987:qmclone:132::",
		"UPID:proxmox:0035D677:123456789ABCDEF01:66DC5987:qmclone:132:root@pam:",
		"upid:proxmox:0035D677:03AB00C3:66DC5987:qmclone:132:root@pam:",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_error_ pve_error *err = NULL;
		if (pve_upid_parse(bad[i], &p, &err) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted bad UPID '%s'", bad[i]);
		check(err && err->code == EINVAL);
	}
}

/* A reader that takes what a pipe brings in odd little pieces, so the writer sees short writes. */
static void *drain_pipe(void *arg)
{
	int fd = *(int *)arg;
	size_t total = 0;
	char buf[777];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	return (void *)total;
}

static void test_whole_io(void)
{
	int p[2];
	check_int(pipe2(p, O_CLOEXEC), 0);
	size_t len =
		3u << 20; /* far more than a pipe holds: write_all must go on after short writes */
	char *data = xmalloc(len);
	memset(data, 'x', len);
	pthread_t t;
	check_int(pthread_create(&t, NULL, drain_pipe, &p[0]), 0);
	check_int(pve_write_all(p[1], data, len), 0);
	close(p[1]);
	void *got;
	pthread_join(t, &got);
	check((size_t)got == len);
	close(p[0]);

	/* read_full: everything asked for, fewer only at the end of the stream. */
	check_int(pipe2(p, O_CLOEXEC), 0);
	check_int(pve_write_all(p[1], "hello world", 11), 0);
	close(p[1]);
	char buf[32] = { 0 };
	check_int((int)pve_read_full(p[0], buf, 5), 5);
	check_streq(buf, "hello");
	check_int((int)pve_read_full(p[0], buf, sizeof(buf)), 6);
	check_int((int)pve_read_full(p[0], buf, sizeof(buf)), 0);
	close(p[0]);

	/* A reader that went away: an error, not a loop. */
	check_int(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	check_int(pve_write_all(p[1], "x", 1), -EPIPE);
	close(p[1]);
	check_int((int)pve_read_full(-1, buf, 1), -EBADF);
	free(data);
}

TEST_MAIN(TEST(test_parse_int), TEST(test_parse_double), TEST(test_parse_bool), TEST(test_size),
	  TEST(test_prefix_suffix), TEST(test_strv), TEST(test_uri), TEST(test_hex_random),
	  TEST(test_json), TEST(test_upid), TEST(test_whole_io))
