/* Tests of the config store, once with its plain-file backend and once over pvecfs (each case's
 * name ending in _pvecfs): atomicity, digests, locks and the watch. */
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cluster/cluster.h"
#include "tests/unit/test.h"

/* The root of the pvecfs a _pvecfs case runs against (NULL: the plain files of test_tmpdir()). */
static char *cfs_root;

static const char *store_root(void)
{
	return cfs_root ? cfs_root : test_tmpdir();
}

static pve_store *open_store(void)
{
	pve_store *s = NULL;
	_cleanup_error_ pve_error *err = NULL;
	int r = pve_store_open(store_root(), &s, &err);
	check_int(r, 0);
	if (r < 0)
		abort();
	return s;
}

static char *path_in(pve_store *s, const char *rel)
{
	return xasprintf("%s/%s", pve_store_dir(s), rel);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static char *read_str(pve_store *s, const char *rel)
{
	char *data = NULL;
	size_t len = 0;
	if (pve_store_read(s, rel, &data, &len, NULL, NULL) < 0)
		return NULL;
	return data;
}

static int count_tmp_files(const char *dir)
{
	_cleanup_free_ char *cmd = xasprintf("find '%s' -name '.pved-tmp-*' | wc -l", dir);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void test_open(void)
{
	pve_store *s = open_store();
	_cleanup_free_ char *want = xasprintf("%s/etc/pve", store_root());
	check_streq(pve_store_dir(s), want);
	check_int(mode_of(want), 0755);
	_cleanup_free_ char *priv = path_in(s, "priv");
	check_int(mode_of(priv), 0700);
	pve_store_free(s);

	/* opening again is fine; a missing root is not */
	s = open_store();
	pve_store_free(s);
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *missing = xasprintf("%s/nope", store_root());
	check_int(pve_store_open(missing, &s, &err), -ENOENT);
	check(err && err->code == ENOENT);
	pve_store_free(NULL);
}

static void test_read_write(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;

	check_int(pve_store_write(s, "user.cfg", "abc", 3, NULL, &err), 0);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	char digest[41];
	check_int(pve_store_read(s, "user.cfg", &data, &len, digest, &err), 0);
	check_int(len, 3);
	check_streq(data, "abc");
	check_streq(digest, "a9993e364706816aba3e25717850c26c9cd0d89d"); /* SHA-1("abc") */
	_cleanup_free_ char *p1 = path_in(s, "user.cfg");
	check_int(mode_of(p1), 0640);

	/* parent directories are made; priv/ files are private */
	check_int(pve_store_write(s, "nodes/n1/qemu-server/100.conf", "memory: 512\n", 12, NULL,
				  &err),
		  0);
	check_int(pve_store_write(s, "priv/shadow.cfg", "x", 1, NULL, &err), 0);
	check_int(pve_store_write(s, "priv/storage/local.pw", "pw", 2, NULL, &err), 0);
	check_int(pve_store_write(s, "nodes/n1/priv/k", "k", 1, NULL, &err), 0);
	_cleanup_free_ char *p2 = path_in(s, "nodes/n1/qemu-server/100.conf");
	_cleanup_free_ char *p3 = path_in(s, "priv/shadow.cfg");
	_cleanup_free_ char *p4 = path_in(s, "priv/storage");
	_cleanup_free_ char *p5 = path_in(s, "priv/storage/local.pw");
	_cleanup_free_ char *p6 = path_in(s, "nodes/n1");
	_cleanup_free_ char *p7 = path_in(s, "nodes/n1/priv");
	_cleanup_free_ char *p8 = path_in(s, "nodes/n1/priv/k");
	check_int(mode_of(p2), 0640);
	check_int(mode_of(p3), 0600);
	check_int(mode_of(p4), 0700);
	check_int(mode_of(p5), 0600);
	check_int(mode_of(p6), 0755);
	check_int(mode_of(p7), 0700);
	check_int(mode_of(p8), 0600);

	/* binary data and empty files; NULL out-parameters */
	check_int(pve_store_write(s, "bin", "a\0b", 3, NULL, &err), 0);
	free(data);
	data = NULL;
	check_int(pve_store_read(s, "bin", &data, &len, NULL, &err), 0);
	check(len == 3 && memcmp(data, "a\0b", 3) == 0);
	check_int(pve_store_write(s, "empty", NULL, 0, NULL, &err), 0);
	free(data);
	data = NULL;
	check_int(pve_store_read(s, "empty", &data, &len, digest, &err), 0);
	check_int(len, 0);
	check_streq(data, "");
	check_streq(digest, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	check_int(pve_store_read(s, "empty", NULL, NULL, NULL, &err), 0);
	check(!err);

	check_int(pve_store_read(s, "missing.cfg", &data, &len, digest, &err), -ENOENT);
	check(err && err->code == ENOENT);
	pve_error_freep(&err);
	check_int(pve_store_read(s, "nodes", &data, &len, digest, &err), -EISDIR);
	pve_error_freep(&err);
	check_int(count_tmp_files(pve_store_dir(s)), 0);

	char d2[41];
	pve_store_digest("abc", 3, d2);
	check_streq(d2, "a9993e364706816aba3e25717850c26c9cd0d89d");
	pve_store_free(s);
}

static void test_digest_guard(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	char digest[41];

	check_int(pve_store_write(s, "storage.cfg", "v1", 2, NULL, &err), 0);
	check_int(pve_store_read(s, "storage.cfg", NULL, NULL, digest, &err), 0);
	check_int(pve_store_write(s, "storage.cfg", "v2", 2, digest, &err), 0);
	/* the old digest is stale now */
	check_int(pve_store_write(s, "storage.cfg", "v3", 2, digest, &err), -ESTALE);
	check(err && err->code == ESTALE);
	if (err)
		check_streq(
			err->message,
			"detected modified configuration - file changed by other user? Try again.");
	pve_error_freep(&err);
	_cleanup_free_ char *cur = read_str(s, "storage.cfg");
	check_streq(cur, "v2");
	/* upper case is the same digest */
	check_int(pve_store_read(s, "storage.cfg", NULL, NULL, digest, &err), 0);
	for (char *p = digest; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	check_int(pve_store_write(s, "storage.cfg", "v4", 2, digest, &err), 0);
	/* a missing file never matches; a malformed digest is a bad parameter */
	check_int(pve_store_write(s, "new.cfg", "x", 1, digest, &err), -ESTALE);
	pve_error_freep(&err);
	check(!pve_store_exists(s, "new.cfg"));
	check_int(pve_store_write(s, "storage.cfg", "x", 1, "abc", &err), -EINVAL);
	check(err && err->param && strcmp(err->param, "digest") == 0);
	pve_error_freep(&err);
	check_int(count_tmp_files(pve_store_dir(s)), 0);
	pve_store_free(s);
}

static void test_create(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_create(s, "nodes/n1/lxc/200.conf", "a", 1, &err), 0);
	check_int(pve_store_create(s, "nodes/n1/lxc/200.conf", "b", 1, &err), -EEXIST);
	check(err && err->code == EEXIST);
	pve_error_freep(&err);
	_cleanup_free_ char *cur = read_str(s, "nodes/n1/lxc/200.conf");
	check_streq(cur, "a");
	check_int(count_tmp_files(pve_store_dir(s)), 0);
	pve_store_free(s);
}

static void test_delete(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_write(s, "a/b/c.cfg", "x", 1, NULL, &err), 0);
	check_int(pve_store_delete(s, "a/b", &err), -ENOTEMPTY);
	pve_error_freep(&err);
	check_int(pve_store_delete(s, "a/b/c.cfg", &err), 0);
	check(!pve_store_exists(s, "a/b/c.cfg"));
	check_int(pve_store_delete(s, "a/b/c.cfg", &err), -ENOENT);
	check(err && err->code == ENOENT);
	pve_error_freep(&err);
	check_int(pve_store_delete(s, "x/y/z", &err), -ENOENT);
	pve_error_freep(&err);
	check_int(pve_store_delete(s, "a/b", &err), 0);
	check(!pve_store_exists(s, "a/b"));
	check(pve_store_exists(s, "a"));
	pve_store_free(s);
}

static void test_rename(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_write(s, "nodes/n1/qemu-server/100.conf", "cfg", 3, NULL, &err), 0);
	check_int(pve_store_rename(s, "nodes/n1/qemu-server/100.conf",
				   "nodes/n2/qemu-server/100.conf", &err),
		  0);
	check(!pve_store_exists(s, "nodes/n1/qemu-server/100.conf"));
	_cleanup_free_ char *cur = read_str(s, "nodes/n2/qemu-server/100.conf");
	check_streq(cur, "cfg");
	/* pvecfs keeps a vmid unique across nodes: the second 100.conf is refused there */
	check_int(pve_store_write(s, "nodes/n1/qemu-server/100.conf", "other", 5, NULL, &err),
		  cfs_root ? -EEXIST : 0);
	pve_error_freep(&err);
	if (cfs_root)
		check_int(pve_store_write(s, "nodes/n1/qemu-server/100.conf.tmp", "other", 5, NULL,
					  &err),
			  0);
	check_int(pve_store_rename(s,
				   cfs_root ? "nodes/n1/qemu-server/100.conf.tmp" :
					      "nodes/n1/qemu-server/100.conf",
				   "nodes/n2/qemu-server/100.conf", &err),
		  -EEXIST);
	check(err && err->code == EEXIST);
	pve_error_freep(&err);
	free(cur);
	cur = read_str(s, "nodes/n2/qemu-server/100.conf");
	check_streq(cur, "cfg");
	check_int(pve_store_rename(s, "nope.cfg", "nope2.cfg", &err), -ENOENT);
	pve_error_freep(&err);
	check_int(pve_store_rename(s, "nodes/n1/qemu-server/100.conf", "../x", &err), -EINVAL);
	pve_error_freep(&err);
	pve_store_free(s);
}

static void test_mkdir_list_exists(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_mkdir(s, "nodes/n1/lxc", &err), 0);
	check_int(pve_store_mkdir(s, "nodes/n1/lxc", &err), 0);
	check_int(pve_store_mkdir(s, "priv/storage", &err), 0);
	_cleanup_free_ char *pd = path_in(s, "priv/storage");
	check_int(mode_of(pd), 0700);
	check(pve_store_exists(s, "nodes/n1/lxc"));
	check(!pve_store_exists(s, "nodes/n2"));
	check(!pve_store_exists(s, "../etc"));

	check_int(pve_store_write(s, "nodes/n1/b.cfg", "", 0, NULL, &err), 0);
	check_int(pve_store_write(s, "nodes/n1/a.cfg", "", 0, NULL, &err), 0);
	check_int(pve_store_write(s, "nodes/n1/.hidden", "", 0, NULL, &err), 0);
	_cleanup_strv_free_ char **names = NULL;
	check_int(pve_store_list(s, "nodes/n1", &names, &err), 0);
	check_int(strv_length(names), 3);
	if (strv_length(names) == 3) {
		check_streq(names[0], "a.cfg");
		check_streq(names[1], "b.cfg");
		check_streq(names[2], "lxc");
	}
	strv_free(names);
	names = NULL;
	check_int(pve_store_list(s, NULL, &names, &err), 0);
	check_int(strv_length(names), 2); /* nodes, priv; not the store's lock file */
	strv_free(names);
	names = NULL;
	check_int(pve_store_mkdir(s, "empty", &err), 0);
	check_int(pve_store_list(s, "empty", &names, &err), 0);
	check(names && names[0] == NULL);
	strv_free(names);
	names = NULL;
	check_int(pve_store_list(s, "missing", &names, &err), -ENOENT);
	pve_error_freep(&err);
	check_int(pve_store_list(s, "nodes/n1/a.cfg", &names, &err), -ENOTDIR);
	pve_error_freep(&err);
	check(!names);
	pve_store_free(s);
}

static void test_bad_paths(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	char long_path[1100];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	const char *bad[] = { "",
			      "/etc/passwd",
			      "..",
			      "../x",
			      "a/../b",
			      ".",
			      "./a",
			      "a/./b",
			      "a//b",
			      "a/",
			      "/",
			      "a\nb",
			      "a\tb",
			      "a\x7f",
			      "x/\x01y",
			      ".pved-store.lock",
			      ".pved-tmp-1",
			      long_path };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		check_int(pve_store_write(s, bad[i], "x", 1, NULL, &err), -EINVAL);
		check(err && err->code == EINVAL);
		pve_error_freep(&err);
		check_int(pve_store_read(s, bad[i], NULL, NULL, NULL, &err), -EINVAL);
		pve_error_freep(&err);
		check_int(pve_store_create(s, bad[i], "x", 1, &err), -EINVAL);
		pve_error_freep(&err);
		check_int(pve_store_delete(s, bad[i], &err), -EINVAL);
		pve_error_freep(&err);
		check_int(pve_store_mkdir(s, bad[i], &err), -EINVAL);
		pve_error_freep(&err);
		check_int(pve_store_rename(s, bad[i], "ok", &err), -EINVAL);
		pve_error_freep(&err);
		check(!pve_store_exists(s, bad[i]));
	}
	/* 1024 is fine, 1025 is not; a segment is at most 255 */
	for (size_t i = 100; i < sizeof(long_path); i += 101)
		long_path[i] = '/';
	long_path[1024] = '\0';
	check_int(pve_store_write(s, long_path, "x", 1, NULL, &err), 0);
	check(!err);
	pve_error_freep(&err);
	long_path[1024] = 'a';
	long_path[1025] = '\0';
	check_int(pve_store_write(s, long_path, "x", 1, NULL, &err), -EINVAL);
	pve_error_freep(&err);
	memset(long_path, 'a', 256);
	long_path[256] = '\0';
	check_int(pve_store_write(s, long_path, "x", 1, NULL, &err), -EINVAL);
	pve_error_freep(&err);

	/* the size limit, on writes and on reads of a file that grew behind the store's back */
	size_t big = PVE_STORE_MAX_FILE + 1;
	_cleanup_free_ char *data = xcalloc(1, big);
	check_int(pve_store_write(s, "big", data, big, NULL, &err), -E2BIG);
	check(err && err->code == E2BIG);
	pve_error_freep(&err);
	check_int(pve_store_write(s, "max", data, big - 1, NULL, &err), 0);
	_cleanup_free_ char *p = path_in(s, "big");
	FILE *f = fopen(p, "w");
	check(f && fwrite(data, 1, big, f) == big);
	if (f)
		fclose(f);
	check_int(pve_store_read(s, "big", NULL, NULL, NULL, &err), -E2BIG);
	pve_error_freep(&err);

	/* a symlink is not followed as a file (pvecfs has none to plant) */
	_cleanup_free_ char *lnk = path_in(s, "link");
	if (!cfs_root) {
		check_int(symlink("/etc/passwd", lnk), 0);
		check_int(pve_store_read(s, "link", NULL, NULL, NULL, &err), -EINVAL);
		pve_error_freep(&err);
	}

	/* lock names are one segment */
	pve_store_lock *l = NULL;
	check_int(pve_store_lock_acquire(s, "a/b", 0, &l, &err), -EINVAL);
	pve_error_freep(&err);
	check_int(pve_store_lock_acquire(s, "..", 0, &l, &err), -EINVAL);
	pve_error_freep(&err);
	check(!l);
	pve_store_free(s);
}

/* Writers in forked processes, all with the same expected digest: exactly one wins, and the file is
 * always one writer's whole content. */
static void test_concurrent_digest(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	enum { N = 8, SIZE = 256 * 1024 };
	check_int(pve_store_write(s, "datacenter.cfg", "start", 5, NULL, &err), 0);
	char digest[41];
	check_int(pve_store_read(s, "datacenter.cfg", NULL, NULL, digest, &err), 0);

	int go[2];
	check_int(pipe2(go, O_CLOEXEC), 0);
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(go[1]);
			char c;
			if (read(go[0], &c, 1) < 0)
				_exit(3);
			char *buf = xmalloc(SIZE);
			memset(buf, 'A' + i, SIZE);
			pve_error *e = NULL;
			int r = pve_store_write(s, "datacenter.cfg", buf, SIZE, digest, &e);
			_exit(r == 0 ? 0 : r == -ESTALE ? 1 : 2);
		}
	}
	close(go[0]);
	close(go[1]); /* EOF wakes every child at once */
	int winners = 0, losers = 0, winner = -1;
	for (int i = 0; i < N; i++) {
		int st;
		check_int(waitpid(pids[i], &st, 0), pids[i]);
		check(WIFEXITED(st));
		if (WEXITSTATUS(st) == 0) {
			winners++;
			winner = i;
		} else if (WEXITSTATUS(st) == 1) {
			losers++;
		}
	}
	check_int(winners, 1);
	check_int(losers, N - 1);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	check_int(pve_store_read(s, "datacenter.cfg", &data, &len, NULL, &err), 0);
	check_int(len, SIZE);
	if (data && len == SIZE && winner >= 0) {
		bool whole = true;
		for (size_t j = 0; j < len; j++)
			if (data[j] != 'A' + winner)
				whole = false;
		check(whole);
	}
	check_int(count_tmp_files(pve_store_dir(s)), 0);
	pve_store_free(s);
}

/* Unconditional writers against a reader: the reader never sees a torn or partial file. */
static void test_never_torn(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	enum { N = 3, SIZE = 128 * 1024, ROUNDS = 30 };
	_cleanup_free_ char *init = xmalloc(SIZE);
	memset(init, 'a', SIZE);
	check_int(pve_store_write(s, "f", init, SIZE, NULL, &err), 0);
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char *buf = xmalloc(SIZE);
			memset(buf, 'b' + i, SIZE);
			for (int k = 0; k < ROUNDS; k++)
				if (pve_store_write(s, "f", buf, SIZE, NULL, NULL) < 0)
					_exit(1);
			_exit(0);
		}
	}
	int bad = 0, reads = 0;
	for (;;) {
		int running = 0;
		for (int i = 0; i < N; i++)
			if (pids[i] > 0) {
				int st;
				pid_t r = waitpid(pids[i], &st, WNOHANG);
				if (r == 0) {
					running++;
				} else {
					check(r == pids[i] && WIFEXITED(st) &&
					      WEXITSTATUS(st) == 0);
					pids[i] = 0;
				}
			}
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if (pve_store_read(s, "f", &data, &len, NULL, NULL) < 0 || len != SIZE) {
			bad++;
		} else {
			for (size_t j = 1; j < len; j++)
				if (data[j] != data[0]) {
					bad++;
					break;
				}
		}
		reads++;
		if (!running)
			break;
	}
	check_int(bad, 0);
	check(reads > 0);
	check_int(count_tmp_files(pve_store_dir(s)), 0);
	pve_store_free(s);
}

/* A writer killed after its temporary file is complete but before the rename (it waits for the store
 * lock, which the test holds) leaves the old file; the next open removes its temporary file. */
static void test_crash_safety(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_write(s, "nodes/n1/qemu-server/100.conf", "old\n", 4, NULL, &err), 0);

	_cleanup_free_ char *lockpath = path_in(s, ".pved-store.lock");
	_cleanup_close_ int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	check(lockfd >= 0);
	check_int(flock(lockfd, LOCK_EX), 0);

	enum { SIZE = 64 * 1024 };
	pid_t pid = fork();
	if (pid == 0) {
		char *buf = xmalloc(SIZE);
		memset(buf, 'n', SIZE);
		pve_store_write(s, "nodes/n1/qemu-server/100.conf", buf, SIZE, NULL, NULL);
		_exit(0);
	}
	/* wait until the child's temporary file holds all its bytes */
	_cleanup_free_ char *dir = path_in(s, "nodes/n1/qemu-server");
	_cleanup_free_ char *cmd =
		xasprintf("find '%s' -name '.pved-tmp-*' -size %dc | wc -l", dir, (int)SIZE);
	bool seen = false;
	for (int i = 0; i < 500 && !seen; i++) {
		FILE *f = popen(cmd, "r");
		int n = 0;
		if (f) {
			if (fscanf(f, "%d", &n) != 1)
				n = 0;
			pclose(f);
		}
		seen = n == 1;
		if (!seen)
			usleep(10000);
	}
	check(seen);
	kill(pid, SIGKILL);
	int st;
	check_int(waitpid(pid, &st, 0), pid);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	check_int(flock(lockfd, LOCK_UN), 0);

	_cleanup_free_ char *cur = read_str(s, "nodes/n1/qemu-server/100.conf");
	check(cur && strcmp(cur, "old\n") == 0); /* not check_streq: a failure would print 64 KiB */
	check_int(count_tmp_files(pve_store_dir(s)), 1);
	_cleanup_strv_free_ char **names = NULL;
	check_int(pve_store_list(s, "nodes/n1/qemu-server", &names, &err), 0);
	check_int(strv_length(names), 1);

	/* the root's owner recovers at its start: a live writer's temporary file (flock'ed) survives, a
	 * dead one's does not; a mere open (a task worker, pvectl) walks nothing */
	int live_fd = -1;
	{
		_cleanup_free_ char *live = path_in(s, "nodes/.pved-tmp-live");
		live_fd = open(live, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		check(live_fd >= 0 && flock(live_fd, LOCK_EX) == 0);
	}
	pve_store *s2 = open_store();
	check_int(count_tmp_files(pve_store_dir(s)), 2);
	check_int(pve_store_recover(s2, NULL, NULL), 0);
	check_int(count_tmp_files(pve_store_dir(s)), 1);
	pve_store_free(s2);
	close(live_fd);
	s2 = open_store();
	check_int(pve_store_recover(s2, NULL, NULL), 0);
	check_int(count_tmp_files(pve_store_dir(s)), 0);
	free(cur);
	cur = read_str(s2, "nodes/n1/qemu-server/100.conf");
	check(cur && strcmp(cur, "old\n") == 0);
	pve_store_free(s2);
	pve_store_free(s);
}

static void test_locks(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	pve_store_lock *l1 = NULL, *l2 = NULL;

	check_int(pve_store_lock_acquire(s, "file-user.cfg", 0, &l1, &err), 0);
	check(l1);
	_cleanup_free_ char *ldir = path_in(s, "priv/lock/file-user.cfg");
	check_int(mode_of(ldir), 0700);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check_int(pve_store_lock_acquire(s, "file-user.cfg", 100, &l2, &err), -EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	check(waited >= 95 && waited < 2000); /* ms rounding on both sides */
	check(err && err->code == EBUSY && strstr(err->message, "got timeout") &&
	      strstr(err->message, "can't lock file '"));
	pve_error_freep(&err);
	check(!l2);
	/* another lock name is independent */
	check_int(pve_store_lock_acquire(s, "storage-local", 0, &l2, &err), 0);
	pve_store_unlock(l2);
	l2 = NULL;

	/* another process sees it held */
	pid_t pid = fork();
	if (pid == 0) {
		pve_store_lock *l = NULL;
		int r = pve_store_lock_acquire(s, "file-user.cfg", 0, &l, NULL);
		_exit(r == -EBUSY ? 0 : 1);
	}
	int st;
	check_int(waitpid(pid, &st, 0), pid);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	check_int(pve_store_lock_refresh(l1, &err), 0);
	pve_store_unlock(l1);
	l1 = NULL;
	check(!pve_store_exists(s, "priv/lock/file-user.cfg"));

	/* a waiter gets the lock when another process releases it */
	int ready[2];
	check_int(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		pve_store_lock *l = NULL;
		if (pve_store_lock_acquire(s, "file-user.cfg", 0, &l, NULL) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		usleep(200000);
		pve_store_unlock(l);
		_exit(0);
	}
	close(ready[1]);
	char c;
	check_int(read(ready[0], &c, 1), 1);
	close(ready[0]);
	check_int(pve_store_lock_acquire(s, "file-user.cfg", 5000, &l1, &err), 0);
	check_int(waitpid(pid, &st, 0), pid);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* expiry: a lock whose mtime is older than 120 s may be taken over */
	struct timespec old[2];
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 119;
	old[1] = old[0];
	check_int(utimensat(AT_FDCWD, ldir, old, 0), 0);
	check_int(pve_store_lock_acquire(s, "file-user.cfg", 0, &l2, &err), -EBUSY);
	pve_error_freep(&err);
	old[0].tv_sec -= 2;
	old[1] = old[0];
	check_int(utimensat(AT_FDCWD, ldir, old, 0), 0);
	check_int(pve_store_lock_acquire(s, "file-user.cfg", 0, &l2, &err), 0);
	/* the old holder learns it lost the lock, and its unlock leaves the new holder's lock alone */
	check_int(pve_store_lock_refresh(l1, &err), -EBUSY);
	check(err && err->code == EBUSY);
	pve_error_freep(&err);
	pve_store_unlock(l1);
	check(pve_store_exists(s, "priv/lock/file-user.cfg"));
	check_int(pve_store_lock_refresh(l2, &err), 0);
	/* the refresh moved the mtime to now */
	struct stat sst;
	check_int(stat(ldir, &sst), 0);
	check(time(NULL) - sst.st_mtime < 5);
	pve_store_unlock(l2);
	check(!pve_store_exists(s, "priv/lock/file-user.cfg"));
	pve_store_unlock(NULL);
	pve_store_free(s);
}

static char *read_file_str(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char buf[256];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void write_file_str(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	check(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

/* Locks record their holder; at a pved's start the locks of holders that are gone are cleared (a kill -9
 * mid-edit must not refuse edits for 120 s), those of live holders and those that record none stay. */
static void test_stale_locks(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_strv_free_ char **cleared = NULL;

	/* nothing locked yet: nothing to clear */
	check_int(pve_store_recover(s, &cleared, &err), 0);
	check(!cleared);

	/* a child takes a lock and dies without releasing it, as a killed pved would */
	pid_t pid = fork();
	if (pid == 0) {
		pve_store_lock *l = NULL;
		_exit(pve_store_lock_acquire(s, "file-storage_cfg", 0, &l, NULL) == 0 ? 0 : 1);
	}
	int st;
	check_int(waitpid(pid, &st, 0), pid);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	_cleanup_free_ char *owner_path = path_in(s, "priv/lock/file-storage_cfg/owner");
	_cleanup_free_ char *owner = read_file_str(owner_path);
	_cleanup_free_ char *want_pid = xasprintf(" %d ", (int)pid);
	check(owner && strstr(owner, want_pid));
	pve_store_lock *l = NULL;
	check_int(pve_store_lock_acquire(s, "file-storage_cfg", 0, &l, &err), -EBUSY);
	pve_error_freep(&err);

	/* a live holder's lock (this process) */
	pve_store_lock *mine = NULL;
	check_int(pve_store_lock_acquire(s, "file-user_cfg", 0, &mine, &err), 0);
	/* a live pid with another start time: the pid was reused, the holder is gone */
	pve_store_lock *reused = NULL;
	check_int(pve_store_lock_acquire(s, "file-tfa_cfg", 0, &reused, &err), 0);
	_cleanup_free_ char *reused_path = path_in(s, "priv/lock/file-tfa_cfg/owner");
	_cleanup_free_ char *reused_owner = read_file_str(reused_path);
	unsigned long long start = 0;
	char tok[64];
	int opid = 0;
	check(reused_owner && sscanf(reused_owner, "%63s %d %llu", tok, &opid, &start) == 3 &&
	      opid == getpid());
	_cleanup_free_ char *forged = xasprintf("%s %d %llu\n", tok, (int)getpid(), start + 1);
	write_file_str(reused_path, forged);
	/* a lock that records no holder (only a token): it can only expire */
	_cleanup_free_ char *old_dir = path_in(s, "priv/lock/file-domains_cfg");
	_cleanup_free_ char *old_owner = path_in(s, "priv/lock/file-domains_cfg/owner");
	check_int(mkdir(old_dir, 0700), 0);
	write_file_str(old_owner, "0123456789abcdef0123456789abcdef");
	/* a lock dir whose owner was never written (its maker died between mkdir and write) */
	_cleanup_free_ char *empty_dir = path_in(s, "priv/lock/storage-local");
	check_int(mkdir(empty_dir, 0700), 0);

	check_int(pve_store_recover(s, &cleared, &err), 3);
	check_int(strv_length(cleared), 3);
	bool got_dead = false, got_reused = false, got_empty = false;
	for (char **p = cleared; p && *p; p++) {
		got_dead |= streq(*p, "file-storage_cfg");
		got_reused |= streq(*p, "file-tfa_cfg");
		got_empty |= streq(*p, "storage-local");
	}
	check(got_dead && got_reused && got_empty);
	check(!pve_store_exists(s, "priv/lock/file-storage_cfg"));
	check(pve_store_exists(s, "priv/lock/file-user_cfg"));
	check(pve_store_exists(s, "priv/lock/file-domains_cfg"));

	/* the dead holder's lock is free at once; the live holder's is not */
	check_int(pve_store_lock_acquire(s, "file-storage_cfg", 0, &l, &err), 0);
	pve_store_unlock(l);
	check_int(pve_store_lock_acquire(s, "file-user_cfg", 0, &l, &err), -EBUSY);
	pve_error_freep(&err);
	check_int(pve_store_lock_refresh(mine, &err), 0);
	pve_store_unlock(mine);
	check(!pve_store_exists(s, "priv/lock/file-user_cfg"));
	/* the holder whose lock was cleared learns it lost it */
	check_int(pve_store_lock_refresh(reused, &err), -EBUSY);
	pve_error_freep(&err);
	pve_store_unlock(reused);
	pve_store_free(s);
}

typedef struct seen {
	char **v;
	size_t n;
} seen;

static void on_change(const char *path, void *userdata)
{
	seen *sn = userdata;
	sn->v = xrealloc(sn->v, (sn->n + 2) * sizeof(char *));
	sn->v[sn->n++] = xstrdup(path);
	sn->v[sn->n] = NULL;
}

static bool seen_has(const seen *sn, const char *path)
{
	for (size_t i = 0; i < sn->n; i++)
		if (strcmp(sn->v[i], path) == 0)
			return true;
	return false;
}

static void seen_reset(seen *sn)
{
	for (size_t i = 0; i < sn->n; i++)
		free(sn->v[i]);
	free(sn->v);
	*sn = (seen){ 0 };
}

/* Waits for the fd to become readable, then drains it. */
static void drain(pve_store *s, int fd, seen *sn)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	check_int(poll(&p, 1, 2000), 1);
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_watch_read(s, on_change, sn, &err), 0);
}

static void test_watch(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_mkdir(s, "nodes/n1/qemu-server", &err), 0);
	check_int(pve_store_watch_read(s, on_change, NULL, &err), -EBADF);
	pve_error_freep(&err);
	int fd = pve_store_watch_fd(s, &err);
	check(fd >= 0);
	check_int(pve_store_watch_fd(s, &err), fd);
	check(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	seen sn = { 0 };

	/* nothing yet: draining an empty watch calls nothing */
	check_int(pve_store_watch_read(s, on_change, &sn, &err), 0);
	check_int(sn.n, 0);

	check_int(pve_store_write(s, "user.cfg", "a", 1, NULL, &err), 0);
	check_int(pve_store_write(s, "user.cfg", "b", 1, NULL, &err), 0);
	drain(s, fd, &sn);
	check_int(sn.n, 1); /* once per path, and no temporary files */
	check(seen_has(&sn, "user.cfg"));
	seen_reset(&sn);

	check_int(pve_store_write(s, "nodes/n1/qemu-server/100.conf", "a", 1, NULL, &err), 0);
	drain(s, fd, &sn);
	check(seen_has(&sn, "nodes/n1/qemu-server/100.conf"));
	seen_reset(&sn);

	/* a new directory's files, written before the watch read, and files written after */
	check_int(pve_store_write(s, "nodes/n2/lxc/200.conf", "a", 1, NULL, &err), 0);
	drain(s, fd, &sn);
	check(seen_has(&sn, "nodes/n2"));
	check(seen_has(&sn, "nodes/n2/lxc/200.conf"));
	seen_reset(&sn);
	check_int(pve_store_write(s, "nodes/n2/lxc/201.conf", "a", 1, NULL, &err), 0);
	drain(s, fd, &sn);
	check(seen_has(&sn, "nodes/n2/lxc/201.conf"));
	check_int(sn.n, 1);
	seen_reset(&sn);

	check_int(pve_store_rename(s, "nodes/n2/lxc/201.conf", "nodes/n1/lxc/201.conf", &err), 0);
	check_int(pve_store_delete(s, "user.cfg", &err), 0);
	drain(s, fd, &sn);
	check(seen_has(&sn, "nodes/n2/lxc/201.conf"));
	check(seen_has(&sn, "nodes/n1/lxc/201.conf"));
	check(seen_has(&sn, "user.cfg"));
	seen_reset(&sn);

	/* locks are not changes */
	pve_store_lock *l = NULL;
	check_int(pve_store_lock_acquire(s, "x", 0, &l, &err), 0);
	check_int(pve_store_lock_refresh(l, &err), 0);
	pve_store_unlock(l);
	check_int(pve_store_write(s, "marker", "", 0, NULL, &err), 0);
	drain(s, fd, &sn);
	check_int(sn.n, 1);
	check(seen_has(&sn, "marker"));
	seen_reset(&sn);

	/* a directory moved away and back reports under its new name */
	check_int(pve_store_rename(s, "nodes/n2", "moved", &err), 0);
	drain(s, fd, &sn);
	seen_reset(&sn);
	check_int(pve_store_write(s, "moved/lxc/300.conf", "a", 1, NULL, &err), 0);
	drain(s, fd, &sn);
	check(seen_has(&sn, "moved/lxc/300.conf"));
	check_int(sn.n, 1);
	seen_reset(&sn);
	pve_store_free(s);
}

/* The cluster log: none on plain files (appends do nothing, reads are empty); over pvecfs appends are
 * read back newest first, with the caller's pid, filtered by user and counted by max. */
static void test_cluster_log(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_log(s, "pved", "root@pam", 8, "x", &err), -EINVAL);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_store_log(s, "pved", "root@pam", 6, "", &err), -EINVAL);
	pve_error_free(TAKE_PTR(err));
	check_int(pve_store_log(s, "pved", "root@pam", 6, "starting task one", &err), 0);
	check_int(pve_store_log(s, "pved", "other@pve", 3, "end task two failed", &err), 0);
	_cleanup_free_ char *all = NULL, *mine = NULL, *one = NULL;
	check_int(pve_store_log_read(s, NULL, 0, &all, &err), 0);
	check_int(pve_store_log_read(s, "root@pam", 0, &mine, &err), 0);
	check_int(pve_store_log_read(s, NULL, 1, &one, &err), 0);
	if (!cfs_root) {
		check_streq(all, "{\n\"data\": [\n]\n}\n");
		check_streq(mine, all);
		pve_store_free(s);
		return;
	}
	/* pvecfs begins its log with an entry of its own, as pmxcfs does */
	_cleanup_free_ char *pid = xasprintf("\"pid\": %d,", (int)getpid());
	check(strstr(all, "\"msg\": \"end task two failed\"") < strstr(all, "starting task one"));
	check(strstr(all, "starting cluster log") != NULL);
	check(strstr(all, "\"pri\": 3, \"tag\": \"pved\"") != NULL);
	check(strstr(all, pid) != NULL);
	check(strstr(mine, "starting task one") && !strstr(mine, "end task two"));
	check(strstr(one, "end task two") && !strstr(one, "starting task one"));
	/* .clusterlog shows the same (its 50 newest) */
	_cleanup_free_ char *file = path_in(s, ".clusterlog"), *text = NULL;
	size_t len;
	check_int(pve_read_file(file, 1 << 20, &text, &len, &err), 0);
	check_streq(text, all);
	pve_store_free(s);
}

/* ---- the same cases over pvecfs ---- */

/* build/tests/test-x -> build/bin/pvecfs; a sanitizer build's tests use the plain build's daemon when
 * it has none of its own. */
static char *pvecfs_bin(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	char *p = xasprintf("%s/../bin/pvecfs", self);
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	p = xasprintf("%s/../../bin/pvecfs", self);
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

static pid_t cfs_pid;

/* Starts pvecfs on cfs_root and waits until its socket answers. */
static bool start_pvecfs(const char *bin)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* a test that dies takes its pvecfs along (which unmounts) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0 && !getenv("PVED_TEST_VERBOSE"))
			dup2(null, 2);
		execl(bin, "pvecfs", "--root", cfs_root, "--node", "n1", (char *)NULL);
		_exit(127);
	}
	cfs_pid = pid;
	_cleanup_free_ char *sock = xasprintf("%s/run/pvecfs.sock", cfs_root);
	for (int i = 0; i < 500; i++) {
		pve_store *s = NULL;
		if (access(sock, F_OK) == 0 && pve_store_open(cfs_root, &s, NULL) == 0) {
			pve_store_free(s);
			return true;
		}
		usleep(10000);
	}
	return false;
}

static void stop_pvecfs(int sig)
{
	if (cfs_pid > 0) {
		kill(cfs_pid, sig);
		int st;
		waitpid(cfs_pid, &st, 0);
	}
	cfs_pid = 0;
}

static void run_pvecfs(void (*fn)(void))
{
	_cleanup_free_ char *bin = pvecfs_bin();
	if (!bin) {
		test_skip("no pvecfs binary beside the tests (make all)");
		return;
	}
	if (access("/dev/fuse", R_OK | W_OK) < 0 || geteuid() != 0) {
		test_skip("pvecfs needs /dev/fuse and root");
		return;
	}
	char tmpl[] = "/tmp/pved-cfs-test-XXXXXX";
	if (!mkdtemp(tmpl)) {
		test_fail(__FILE__, __LINE__, "mkdtemp: %m");
		return;
	}
	cfs_root = tmpl;
	if (start_pvecfs(bin))
		fn();
	else
		test_fail(__FILE__, __LINE__, "pvecfs did not start");
	stop_pvecfs(SIGTERM);
	_cleanup_free_ char *mnt = xasprintf("%s/etc/pve", tmpl);
	(void)umount2(mnt, MNT_DETACH);
	_cleanup_free_ char *rm = xasprintf("rm -rf '%s'", tmpl);
	if (system(rm) != 0)
		test_fail(__FILE__, __LINE__, "can't remove %s", tmpl);
	cfs_root = NULL;
}

/* Volatile status: over pvecfs this node's values are read back (by its node name, "n1"); on plain
 * files a set does nothing and a get finds nothing. Bad keys and sizes are refused on both. */
static void test_status(void)
{
	pve_store *s = open_store();
	pve_error *err = NULL;
	check_int(pve_store_status_set(s, "resources.0", "[1]", 3, &err), 0);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = pve_store_status_get(s, "n1", "resources.0", &data, &len, &err);
	if (cfs_root) {
		check_int(r, 0);
		check_int((int)len, 3);
		check_streq(data, "[1]");
	} else {
		check_int(r, -ENOENT);
		check(err && err->code == ENOENT);
	}
	pve_error_free(err);
	err = NULL;
	check_int(pve_store_status_get(s, "n2", "resources.0", &data, &len, NULL), -ENOENT);
	check_int(pve_store_status_set(s, "a/b", "x", 1, NULL), -EINVAL);
	check_int(pve_store_status_get(s, "../n1", "k", &data, &len, NULL), -EINVAL);
	_cleanup_free_ char *big = xcalloc(PVE_STORE_STATUS_MAX_VALUE + 2, 1);
	check_int(pve_store_status_set(s, "big", big, PVE_STORE_STATUS_MAX_VALUE + 1, &err),
		  -E2BIG);
	pve_error_free(err);
	pve_store_free(s);
}

static void *read_loop(void *arg)
{
	pve_store *s = arg;
	intptr_t bad = 0;
	for (int i = 0; i < 300; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		if (pve_store_read(s, "user.cfg", &data, &len, NULL, NULL) < 0 ||
		    !streq(data, "shared"))
			bad++;
	}
	return (void *)bad;
}

/* pved's blocking queues read the store from their threads while its loop uses it: no call takes
 * another's reply. */
static void test_threads(void)
{
	pve_store *s = open_store();
	check_int(pve_store_write(s, "user.cfg", "shared", 6, NULL, NULL), 0);
	pthread_t t[2];
	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		check_int(pthread_create(&t[i], NULL, read_loop, s), 0);
	int bad = 0;
	for (int i = 0; i < 300; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		bad += pve_store_read(s, "user.cfg", &data, &len, NULL, NULL) < 0 ||
		       !streq(data, "shared");
		bad += pve_store_status_set(s, "k", "v", 1, NULL) < 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		void *r = NULL;
		pthread_join(t[i], &r);
		bad += (int)(intptr_t)r;
	}
	check_int(bad, 0);
	pve_store_free(s);
}

/* pvecfs killed and started again (pved does that): the same watch fd reports "" once the new one
 * is there, and then the changes made through it. */
static void test_watch_restart(void)
{
	pve_store *s = open_store();
	_cleanup_error_ pve_error *err = NULL;
	int fd = pve_store_watch_fd(s, &err);
	check(fd >= 0);
	stop_pvecfs(SIGKILL);
	_cleanup_free_ char *mnt = xasprintf("%s/etc/pve", cfs_root);
	(void)umount2(mnt, MNT_DETACH);
	_cleanup_free_ char *bin = pvecfs_bin();
	check(start_pvecfs(bin));
	pve_store *s2 = open_store();
	seen sn = { 0 };
	bool got = false;
	for (int i = 0; i < 40 && !got; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) == 1)
			check_int(pve_store_watch_read(s, on_change, &sn, &err), 0);
		check_int(pve_store_write(s2, "user.cfg", "x", 1, NULL, &err), 0);
		got = seen_has(&sn, "user.cfg");
	}
	check(seen_has(&sn, ""));
	check(got);
	seen_reset(&sn);
	pve_store_free(s2);
	pve_store_free(s);
}

static void test_watch_restart_pvecfs(void)
{
	run_pvecfs(test_watch_restart);
}

#define PVECFS_CASE(name)               \
	static void name##_pvecfs(void) \
	{                               \
		run_pvecfs(name);       \
	}
PVECFS_CASE(test_cluster_log)
PVECFS_CASE(test_open)
PVECFS_CASE(test_read_write)
PVECFS_CASE(test_digest_guard)
PVECFS_CASE(test_create)
PVECFS_CASE(test_delete)
PVECFS_CASE(test_rename)
PVECFS_CASE(test_mkdir_list_exists)
PVECFS_CASE(test_bad_paths)
PVECFS_CASE(test_concurrent_digest)
PVECFS_CASE(test_never_torn)
PVECFS_CASE(test_locks)
PVECFS_CASE(test_watch)
PVECFS_CASE(test_status)
PVECFS_CASE(test_threads)

TEST_MAIN(TEST(test_open), TEST(test_read_write), TEST(test_digest_guard), TEST(test_create),
	  TEST(test_delete), TEST(test_rename), TEST(test_mkdir_list_exists), TEST(test_bad_paths),
	  TEST(test_concurrent_digest), TEST(test_never_torn), TEST(test_crash_safety),
	  TEST(test_locks), TEST(test_stale_locks), TEST(test_watch), TEST(test_cluster_log),
	  TEST(test_cluster_log_pvecfs), TEST(test_open_pvecfs), TEST(test_read_write_pvecfs),
	  TEST(test_digest_guard_pvecfs), TEST(test_create_pvecfs), TEST(test_delete_pvecfs),
	  TEST(test_rename_pvecfs), TEST(test_mkdir_list_exists_pvecfs),
	  TEST(test_bad_paths_pvecfs), TEST(test_concurrent_digest_pvecfs),
	  TEST(test_never_torn_pvecfs), TEST(test_locks_pvecfs), TEST(test_watch_pvecfs),
	  TEST(test_watch_restart_pvecfs), TEST(test_status), TEST(test_status_pvecfs),
	  TEST(test_threads), TEST(test_threads_pvecfs))
