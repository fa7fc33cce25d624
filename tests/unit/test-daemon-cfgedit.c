/* Tests of config-file edits: the store lock waited for on the loop's timers (the loop goes on), the
 * client's digest, a broken file answered as the server's error, changes that fail, and a new file. */
#include <event2/event.h>

#include "daemon/core/pved.h"
#include "tests/unit/test.h"

/* The test's config: text, where a '!' is a parse error. */
typedef struct lines {
	char *text;
} lines;

static int lines_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	int line = 1;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '!')
			return pve_error_set(err, EINVAL, "line %d: '!' is not allowed", line);
		line += text[i] == '\n';
	}
	lines *l = xcalloc(1, sizeof(*l));
	l->text = xstrndup(text, len);
	*ret = l;
	return 0;
}

static char *lines_print(const void *cfg)
{
	return xstrdup(((const lines *)cfg)->text);
}

static void lines_free(void *cfg)
{
	lines *l = cfg;
	free(l->text);
	free(l);
}

static const pved_cfgfile lines_file = {
	.path = "test.cfg",
	.lock = "file-test_cfg",
	.parse = lines_parse,
	.print = lines_print,
	.free = lines_free,
};

typedef struct edit {
	const char *line; /* appended; "fail" fails, "keep" changes nothing */
	bool done;
	int r;
	char *message, *param;
} edit;

static int change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	edit *e = ud;
	lines *l = cfg;
	if (streq(e->line, "fail"))
		return pve_error_set(err, EPERM, "refused");
	if (streq(e->line, "keep"))
		return PVED_CFGEDIT_KEEP;
	char *t = xasprintf("%s%s\n", l->text, e->line);
	free(l->text);
	l->text = t;
	return 0;
}

static void done(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	edit *e = ud;
	e->done = true;
	e->r = r;
	e->message = err ? xstrdup(err->message) : NULL;
	e->param = err && err->param ? xstrdup(err->param) : NULL;
	pve_error_free(err);
}

static void edit_clear(edit *e)
{
	free(e->message);
	free(e->param);
}

static pved *setup(void)
{
	pved *d = xcalloc(1, sizeof(*d));
	d->base = event_base_new();
	d->root = xstrdup(test_tmpdir());
	check_int(pve_store_open(d->root, &d->store, NULL), 0);
	return d;
}

static void teardown(pved *d)
{
	pve_store_free(d->store);
	event_base_free(d->base);
	free(d->root);
	free(d);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	(*(unsigned *)arg)++;
}

/* Runs the loop until the edit is done or ms passed; counts the turns of a 10 ms timer meanwhile. */
static unsigned run_until(pved *d, edit *e, int ms)
{
	unsigned ticks = 0;
	struct event *tick = event_new(d->base, -1, EV_PERSIST, tick_cb, &ticks);
	struct timeval tv = { 0, 10000 };
	event_add(tick, &tv);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (e->done || el >= ms)
			break;
		event_base_loop(d->base, EVLOOP_ONCE);
	}
	event_free(tick);
	return ticks;
}

static char *content(pved *d)
{
	char *text = NULL;
	if (pve_store_read(d->store, "test.cfg", &text, NULL, NULL, NULL) < 0)
		return NULL;
	return text;
}

static void start(pved *d, edit *e, const char *digest, int timeout_ms)
{
	pved_cfgedit ce = { .file = &lines_file,
			    .digest = digest,
			    .timeout_ms = timeout_ms,
			    .change = change,
			    .done = done };
	pved_cfgedit_run(d, &ce, e);
}

/* A missing file is created; a free lock means the edit is done before pved_cfgedit_run returns. */
static void test_new_file_and_free_lock(void)
{
	pved *d = setup();
	edit e = { .line = "one" };
	start(d, &e, NULL, 0);
	check(e.done);
	check_int(e.r, 0);
	_cleanup_free_ char *text = content(d);
	check_streq(text, "one\n");
	edit f = { .line = "two" };
	start(d, &f, NULL, 0);
	check(f.done && f.r == 0);
	free(text);
	text = content(d);
	check_streq(text, "one\ntwo\n");
	/* the lock was released both times */
	pve_store_lock *l = NULL;
	check_int(pve_store_lock_acquire(d->store, "file-test_cfg", 0, &l, NULL), 0);
	pve_store_unlock(l);
	edit_clear(&e);
	edit_clear(&f);
	teardown(d);
}

/* While another holds the lock, the edit waits on timers: the loop goes on meanwhile, and the edit is
 * made once the lock is free. */
static void test_waits_without_blocking(void)
{
	pved *d = setup();
	pve_store_lock *held = NULL;
	check_int(pve_store_lock_acquire(d->store, "file-test_cfg", 0, &held, NULL), 0);
	edit e = { .line = "late" };
	start(d, &e, NULL, 0);
	check(!e.done);
	unsigned ticks = run_until(d, &e, 500);
	check(!e.done);
	/* a 10 ms timer ran about 50 times in those 500 ms: nothing slept */
	check(ticks >= 30);
	check(content(d) == NULL);
	pve_store_unlock(held);
	run_until(d, &e, 2000);
	check(e.done && e.r == 0);
	_cleanup_free_ char *text = content(d);
	check_streq(text, "late\n");
	edit_clear(&e);

	/* past the timeout: Proxmox's message, nothing written */
	check_int(pve_store_lock_acquire(d->store, "file-test_cfg", 0, &held, NULL), 0);
	edit f = { .line = "never" };
	start(d, &f, NULL, 300);
	run_until(d, &f, 3000);
	check(f.done && f.r == -EBUSY);
	check(f.message && strstr(f.message, "got timeout"));
	free(text);
	text = content(d);
	check_streq(text, "late\n");
	pve_store_unlock(held);
	edit_clear(&f);
	teardown(d);
}

/* The client's digest must be the file's; a broken file is EIO naming it and its line; a change that
 * fails or keeps writes nothing. */
static void test_digest_parse_and_failures(void)
{
	pved *d = setup();
	check_int(pve_store_write(d->store, "test.cfg", "a\n", 2, NULL, NULL), 0);
	char digest[PVE_STORE_DIGEST_LEN + 1];
	void *cfg = NULL;
	check_int(pved_cfgfile_read(d, &lines_file, &cfg, digest, NULL), 0);
	lines_free(cfg);

	edit e = { .line = "b" };
	start(d, &e, "0000000000000000000000000000000000000000", 0);
	check(e.done && e.r == -EINVAL);
	check_streq(e.param, "digest");
	check_streq(e.message, PVED_CFGEDIT_MODIFIED);
	edit f = { .line = "b" };
	start(d, &f, digest, 0);
	check(f.done && f.r == 0);
	_cleanup_free_ char *text = content(d);
	check_streq(text, "a\nb\n");

	edit g = { .line = "fail" }, h = { .line = "keep" };
	start(d, &g, NULL, 0);
	check(g.done && g.r == -EPERM);
	check_streq(g.message, "refused");
	start(d, &h, NULL, 0);
	check(h.done && h.r == PVED_CFGEDIT_KEEP);
	free(text);
	text = content(d);
	check_streq(text, "a\nb\n");

	check_int(pve_store_write(d->store, "test.cfg", "a\nb!\n", 5, NULL, NULL), 0);
	edit i = { .line = "c" };
	start(d, &i, NULL, 0);
	check(i.done && i.r == -EIO);
	check_streq(i.message, "test.cfg: line 2: '!' is not allowed");
	check(i.param == NULL);
	free(text);
	text = content(d);
	check_streq(text, "a\nb!\n");
	/* and the lock is free after all of them */
	pve_store_lock *l = NULL;
	check_int(pve_store_lock_acquire(d->store, "file-test_cfg", 0, &l, NULL), 0);
	pve_store_unlock(l);
	edit_clear(&e), edit_clear(&f), edit_clear(&g), edit_clear(&h), edit_clear(&i);
	teardown(d);
}

/* The check runs on a queue's thread with the lock held (the loop goes on); its failure writes nothing,
 * and neither does a failing also; a good also is written before the file. */
static int slow_check(void *cfg, void *ud, pve_error **err)
{
	edit *e = ud;
	usleep(300000);
	if (strstr(((lines *)cfg)->text, "bad"))
		return pve_error_set(err, EHOSTUNREACH, "server '%s' does not answer", e->line);
	return 0;
}

static int also_side(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)cfg;
	edit *e = ud;
	if (streq(e->line, "side-fails"))
		return pve_error_set(err, EIO, "side file");
	/* the main file is not written yet */
	_cleanup_free_ char *main_text = content(d);
	_cleanup_free_ char *side = xasprintf("before: %s", main_text ? main_text : "(none)");
	return pve_store_write(d->store, "side.cfg", side, strlen(side), NULL, err);
}

static void start_checked(pved *d, edit *e)
{
	pved_cfgedit ce = { .file = &lines_file,
			    .change = change,
			    .check = slow_check,
			    .queue = PVED_QUEUE_STORAGE,
			    .also = also_side,
			    .done = done };
	pved_cfgedit_run(d, &ce, e);
}

static void test_check_and_also(void)
{
	pved *d = setup();
	check_int(pved_blocking_init(d, NULL), 0);
	edit e = { .line = "good" };
	start_checked(d, &e);
	check(!e.done);
	/* the lock is held while the check runs */
	pve_store_lock *l = NULL;
	check_int(pve_store_lock_acquire(d->store, "file-test_cfg", 0, &l, NULL), -EBUSY);
	unsigned ticks = run_until(d, &e, 3000);
	check(e.done && e.r == 0);
	check(ticks >= 10); /* the loop went on meanwhile */
	_cleanup_free_ char *text = content(d), *side = NULL;
	check_streq(text, "good\n");
	check_int(pve_store_read(d->store, "side.cfg", &side, NULL, NULL, NULL), 0);
	check_streq(side, "before: (none)");

	edit f = { .line = "bad" }, g = { .line = "side-fails" };
	start_checked(d, &f);
	run_until(d, &f, 3000);
	check(f.done && f.r == -EHOSTUNREACH);
	check_streq(f.message, "server 'bad' does not answer");
	start_checked(d, &g);
	run_until(d, &g, 3000);
	check(g.done && g.r == -EIO);
	free(text);
	text = content(d);
	check_streq(text, "good\n");
	/* a change that keeps the file still writes its side files, and skips the check */
	pve_store_delete(d->store, "side.cfg", NULL);
	edit h = { .line = "keep" };
	start_checked(d, &h);
	check(h.done && h.r == PVED_CFGEDIT_KEEP);
	free(side);
	side = NULL;
	check_int(pve_store_read(d->store, "side.cfg", &side, NULL, NULL, NULL), 0);
	check_streq(side, "before: good\n");
	check_int(pve_store_lock_acquire(d->store, "file-test_cfg", 0, &l, NULL), 0);
	pve_store_unlock(l);
	edit_clear(&e), edit_clear(&f), edit_clear(&g), edit_clear(&h);
	pved_blocking_free(d->blocking);
	teardown(d);
}

/* A file outside etc/pve (as the node's interfaces file): read and written through the hooks, under
 * the same lock; write gets the digest of what the edit read. */
static char outside_digest[PVE_STORE_DIGEST_LEN + 1];

static char *outside_path(pved *d)
{
	return xasprintf("%s/outside.cfg", d->root);
}

static int outside_read(pved *d, char **ret_text, size_t *ret_len,
			char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	(void)err;
	_cleanup_free_ char *path = outside_path(d);
	FILE *f = fopen(path, "re");
	char buf[4096];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	*ret_text = xstrndup(buf, n);
	*ret_len = n;
	pve_store_digest(buf, n, ret_digest);
	return 0;
}

static int outside_write(pved *d, const char *text, size_t len, const char *expected_digest,
			 pve_error **err)
{
	(void)err;
	snprintf(outside_digest, sizeof(outside_digest), "%s", expected_digest);
	_cleanup_free_ char *path = outside_path(d);
	FILE *f = fopen(path, "we");
	fwrite(text, 1, len, f);
	fclose(f);
	return 0;
}

static const pved_cfgfile outside_file = {
	.path = "/outside.cfg",
	.lock = "file-outside_cfg",
	.parse = lines_parse,
	.print = lines_print,
	.free = lines_free,
	.read = outside_read,
	.write = outside_write,
};

static void test_file_outside_the_store(void)
{
	pved *d = setup();
	edit e = { .line = "one" };
	pved_cfgedit ce = { .file = &outside_file, .change = change, .done = done };
	pved_cfgedit_run(d, &ce, &e);
	check(e.done && e.r == 0);
	char empty[PVE_STORE_DIGEST_LEN + 1];
	pve_store_digest("", 0, empty);
	check_streq(outside_digest, empty);
	_cleanup_free_ char *path = outside_path(d);
	FILE *f = fopen(path, "re");
	char buf[64] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	check_streq(buf, "one\n");
	check(!pve_store_exists(d->store, "outside.cfg"));
	/* a broken file is the server's error, named */
	f = fopen(path, "we");
	fputs("!\n", f);
	fclose(f);
	edit g = { .line = "two" };
	pved_cfgedit_run(d, &ce, &g);
	check(g.done && g.r == -EIO);
	check(g.message && strstr(g.message, "/outside.cfg: line 1"));
	edit_clear(&e);
	edit_clear(&g);
	teardown(d);
}

TEST_MAIN(TEST(test_new_file_and_free_lock), TEST(test_file_outside_the_store),
	  TEST(test_waits_without_blocking), TEST(test_digest_parse_and_failures),
	  TEST(test_check_and_also))
