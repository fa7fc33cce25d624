/* Tests of pvecfs's .rrd text without the daemon: the nodes' lines joined, sorted by key, one per key
 * (the one heard last), old values and malformed lines left out, and the bound. */
#include "cluster/cfs-internal.h"
#include "tests/unit/test.h"

static char *dump(const cfs_rrd_source *v, size_t n, int64_t now, size_t max)
{
	pve_buf b = { 0 };
	cfs_rrd_dump(v, n, now, max, &b);
	return b.data ? pve_buf_steal(&b) : xstrdup("");
}

#define check_dump(v, now, max, want)                                       \
	do {                                                                \
		_cleanup_free_ char *t_ = dump(v, ELEMENTSOF(v), now, max); \
		check_streq(t_, want);                                      \
	} while (0)

static cfs_rrd_source src(const char *text, int64_t time)
{
	return (cfs_rrd_source){ text, strlen(text), time };
}

static void test_join(void)
{
	cfs_rrd_source v[] = {
		src("pve-node-9.0/n2:10::1000:0.5\npve-vm-9.0/200:0:ct:stopped:0:1000\n", 1000),
		src("pve-node-9.0/n1:20::1000:0.1\npve-storage-9.0/n1/local:1000:10:5", 1000),
		src("", 1000),
	};
	check_dump(v, 1001, SIZE_MAX,
		   "pve-node-9.0/n1:20::1000:0.1\n"
		   "pve-node-9.0/n2:10::1000:0.5\n"
		   "pve-storage-9.0/n1/local:1000:10:5\n"
		   "pve-vm-9.0/200:0:ct:stopped:0:1000\n");
	_cleanup_free_ char *none = dump(NULL, 0, 1001, SIZE_MAX);
	check_streq(none, "");
}

static void test_newest_per_key(void)
{
	/* a guest that moved: both nodes published it; the one heard last counts */
	cfs_rrd_source v[] = {
		src("pve-vm-9.0/100:old\n", 1000),
		src("pve-vm-9.0/100:new\n", 1010),
		src("pve-vm-9.0/100:older\n", 990),
	};
	check_dump(v, 1010, SIZE_MAX, "pve-vm-9.0/100:new\n");
	/* of one time, the later source */
	cfs_rrd_source w[] = { src("k:a\n", 5), src("k:b\n", 5) };
	check_dump(w, 5, SIZE_MAX, "k:b\n");
}

static void test_age(void)
{
	cfs_rrd_source v[] = { src("a:1\n", 1000), src("b:2\n", 1000 - CFS_RRD_MAX_AGE_SEC),
			       src("c:3\n", 999 - CFS_RRD_MAX_AGE_SEC) };
	check_dump(v, 1000, SIZE_MAX, "a:1\nb:2\n");
}

static void test_malformed(void)
{
	char big[CFS_RRD_MAX_LINE + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[1] = ':';
	big[sizeof(big) - 1] = '\0';
	cfs_rrd_source v[] = {
		src("no-colon\n:nokey\nnodata:\n\n\nctl:a\tb\nesc:\x1b[2J\ndel:\x7f\nok:1\n", 1),
		src(big, 1),
	};
	check_dump(v, 1, SIZE_MAX, "ok:1\n");
	/* one byte less is a line pmxcfs takes */
	big[sizeof(big) - 2] = '\0';
	_cleanup_free_ char *u = dump(&(cfs_rrd_source){ big, strlen(big), 1 }, 1, 1, SIZE_MAX);
	check_int(strlen(u), CFS_RRD_MAX_LINE + 1);
}

static void test_bound(void)
{
	cfs_rrd_source v[] = { src("a:1\nb:22\nc:3\n", 1) };
	/* whole lines only: b's does not fit, c's does */
	check_dump(v, 1, 8, "a:1\nc:3\n");
}

TEST_MAIN(TEST(test_join), TEST(test_newest_per_key), TEST(test_age), TEST(test_malformed),
	  TEST(test_bound))
