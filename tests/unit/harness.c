/* The unit-test harness: runs the cases of one test program and prints a line for each. */
#include <ftw.h>

#include "tests/unit/test.h"

static struct {
	bool failed;
	bool skipped;
	char *skip_reason;
	char *tmpdir;
	const char *name;
} cur;

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	printf("FAIL %s: %s:%d: %s\n", cur.name, file, line, msg);
	fflush(stdout);
	cur.failed = true;
}

void test_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(cur.skip_reason);
	cur.skip_reason = xvasprintf(fmt, ap);
	va_end(ap);
	cur.skipped = true;
}

const char *test_tmpdir(void)
{
	if (!cur.tmpdir) {
		char tmpl[] = "/tmp/pved-unit-XXXXXX";
		if (!mkdtemp(tmpl)) {
			perror("mkdtemp");
			abort();
		}
		cur.tmpdir = xstrdup(tmpl);
	}
	return cur.tmpdir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int test_main(int argc, char **argv, const struct test_case *cases, size_t n)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		if (only && strcmp(only, cases[i].name) != 0)
			continue;
		cur = (typeof(cur)){ .name = cases[i].name };
		cases[i].fn();
		if (cur.failed)
			failures++;
		else if (cur.skipped)
			printf("skip %s: %s\n", cur.name, cur.skip_reason);
		else
			printf("ok %s\n", cur.name);
		fflush(stdout);
		if (cur.tmpdir)
			nftw(cur.tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(cur.tmpdir);
		free(cur.skip_reason);
	}
	return failures ? 1 : 0;
}
