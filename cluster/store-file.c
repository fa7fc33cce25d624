/* The config store's plain-file backend: files under <root>/etc/pve, replaced by atomic rename. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "cluster/store-internal.h"

/* Serialises read-compare-rename, deletes, renames and lock changes between processes. It is opened
 * afresh for each use: an flock belongs to an open file description, which a fork would share. */
#define STORE_LOCK_FILE ".pved-store.lock"
#define TMP_PREFIX ".pved-tmp-"
#define LOCK_DIR "priv/lock"
#define LOCK_OWNER "owner"
/* Deeper trees than this are not walked (cleanup, watch); pmxcfs trees are a few levels deep. */
#define MAX_DEPTH 16
#define MAX_LIST 65536
#define MAX_WATCH_PATHS 4096

typedef struct watch_entry {
	int wd;
	char *rel; /* "" for the top */
} watch_entry;

typedef struct file_store {
	int rootfd;
	int ifd;
	watch_entry *watches;
	size_t n_watches, cap_watches;
} file_store;

static file_store *FS(pve_store *s)
{
	return s->priv;
}

static mode_t file_mode(const char *path)
{
	return pve_store_path_private(path) ? 0600 : 0640;
}

/* Takes the store-wide flock; returns the fd that holds it. */
static int store_lock_take(file_store *fs, const char *what, pve_error **err)
{
	_cleanup_close_ int fd = openat(fs->rootfd, STORE_LOCK_FILE,
					O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return pve_error_set(err, errno, "%s: can't open the store lock: %m", what);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return pve_error_set(err, errno, "%s: can't take the store lock: %m", what);
	return TAKE_FD(fd);
}

/* Opens (and with create, makes, like mkdir -p) the directory made of the first n bytes of path. */
static int open_dir(file_store *fs, const char *path, size_t n, bool create, pve_error **err)
{
	_cleanup_close_ int fd = openat(fs->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open the config store: %m");
	size_t pos = 0;
	while (pos < n) {
		const char *seg = path + pos;
		size_t len = strcspn(seg, "/");
		if (pos + len > n)
			len = n - pos;
		_cleanup_free_ char *name = xstrndup(seg, len);
		_cleanup_free_ char *sofar = xstrndup(path, pos + len);
		bool made = false;
		bool priv = strcmp(name, "priv") == 0 || pve_store_path_private(sofar);
		mode_t mode = priv ? 0700 : 0755;
		if (create) {
			if (mkdirat(fd, name, mode) == 0)
				made = true;
			else if (errno != EEXIST)
				return pve_error_set(err, errno, "can't create directory '%s': %m",
						     sofar);
		}
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0)
			return pve_error_set(err, errno, "can't open directory '%s': %m", sofar);
		/* the umask may have taken bits the mode needs (or left some it must not have) */
		if (made)
			(void)fchmod(next, mode);
		close(fd);
		fd = next;
		pos += len + 1;
	}
	return TAKE_FD(fd);
}

/* The parent directory of path, and its last segment. */
static int open_parent(file_store *fs, const char *path, bool create, const char **ret_base,
		       pve_error **err)
{
	const char *slash = strrchr(path, '/');
	*ret_base = slash ? slash + 1 : path;
	return open_dir(fs, path, slash ? (size_t)(slash - path) : 0, create, err);
}

static int read_fd(int fd, const char *path, char **ret_data, size_t *ret_len, pve_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return pve_error_set(err, errno, "can't stat '%s': %m", path);
	if (S_ISDIR(st.st_mode))
		return pve_error_set(err, EISDIR, "'%s' is a directory", path);
	if (!S_ISREG(st.st_mode))
		return pve_error_set(err, EINVAL, "'%s' is not a regular file", path);
	if (st.st_size > PVE_STORE_MAX_FILE)
		return pve_error_set(err, E2BIG, "'%s' is larger than %d bytes", path,
				     PVE_STORE_MAX_FILE);
	pve_buf b = { 0 };
	char chunk[16384];
	for (;;) {
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			pve_buf_free(&b);
			return pve_error_set(err, e, "can't read '%s': %s", path, strerror(e));
		}
		if (k == 0)
			break;
		if (b.len + (size_t)k > PVE_STORE_MAX_FILE) {
			pve_buf_free(&b);
			return pve_error_set(err, E2BIG, "'%s' is larger than %d bytes", path,
					     PVE_STORE_MAX_FILE);
		}
		pve_buf_append(&b, chunk, (size_t)k);
	}
	*ret_len = b.len;
	if (!b.data)
		pve_buf_append(&b, "", 0);
	*ret_data = pve_buf_steal(&b);
	return 0;
}

static int read_at(int dirfd, const char *name, const char *path, char **ret_data, size_t *ret_len,
		   pve_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return pve_error_set(err, EINVAL, "'%s' is not a regular file", path);
		if (errno == ENOENT)
			return pve_error_set(err, ENOENT, "'%s' does not exist", path);
		return pve_error_set(err, errno, "can't open '%s': %m", path);
	}
	return read_fd(fd, path, ret_data, ret_len, err);
}

static void random_name(char buf[sizeof(TMP_PREFIX) + 16])
{
	uint8_t rnd[8] = { 0 };
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		/* O_EXCL catches a collision; the name needs only to be unlikely to repeat */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t v = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &v, sizeof(rnd));
	}
	int n = snprintf(buf, sizeof(TMP_PREFIX), "%s", TMP_PREFIX);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(buf + n + 2 * i, 3, "%02x", rnd[i]);
}

/* A temporary file in dirfd, flock'ed while it lives so cleanup can tell a live writer's file from a
 * dead one's. */
static int tmp_create(int dirfd, mode_t mode, char name[sizeof(TMP_PREFIX) + 16], const char *path,
		      pve_error **err)
{
	for (int tries = 0; tries < 16; tries++) {
		random_name(name);
		_cleanup_close_ int fd = openat(
			dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return pve_error_set(err, errno,
					     "can't create a temporary file for '%s': %m", path);
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR)
				return pve_error_set(err, errno, "can't lock a temporary file: %m");
		struct stat st;
		if (fstat(fd, &st) < 0)
			return pve_error_set(err, errno, "can't stat a temporary file: %m");
		/* a cleanup took it for a dead writer's between open and flock */
		if (st.st_nlink == 0)
			continue;
		if (fchmod(fd, mode) < 0) {
			int e = errno;
			unlinkat(dirfd, name, 0);
			return pve_error_set(err, e, "can't set the mode of '%s': %s", path,
					     strerror(e));
		}
		return TAKE_FD(fd);
	}
	return pve_error_set(err, EEXIST, "can't create a temporary file for '%s'", path);
}

static int rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a filesystem without RENAME_NOREPLACE; callers hold the store lock, so check-then-rename is safe
	 * against every writer that goes through the store */
	struct stat st;
	if (fstatat(tofd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	if (renameat(fromfd, from, tofd, to) < 0)
		return -errno;
	return 0;
}

static int file_write(pve_store *s, const char *path, const void *data, size_t len,
		      const char *expected_digest, bool exclusive, pve_error **err)
{
	file_store *fs = FS(s);
	const char *base;
	_cleanup_close_ int dirfd = open_parent(fs, path, true, &base, err);
	if (dirfd < 0)
		return dirfd;

	char tmp[sizeof(TMP_PREFIX) + 16];
	_cleanup_close_ int lockfd = -1;
	_cleanup_close_ int fd = tmp_create(dirfd, file_mode(path), tmp, path, err);
	if (fd < 0)
		return fd;
	int r = pve_write_all(fd, data, len);
	if (r < 0) {
		r = pve_error_set(err, -r, "can't write '%s': %s", path, strerror(-r));
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = pve_error_set(err, errno, "can't write '%s' (fsync): %m", path);
		goto fail;
	}

	lockfd = store_lock_take(fs, path, err);
	if (lockfd < 0) {
		r = lockfd;
		goto fail;
	}
	if (expected_digest) {
		_cleanup_free_ char *cur = NULL;
		size_t cur_len = 0;
		char digest[PVE_STORE_DIGEST_LEN + 1];
		pve_error *rerr = NULL;
		r = read_at(dirfd, base, path, &cur, &cur_len, &rerr);
		if (r < 0 && r != -ENOENT && err && !*err)
			*err = TAKE_PTR(rerr);
		pve_error_free(rerr);
		if (r < 0 && r != -ENOENT)
			goto fail;
		bool match = false;
		if (r == 0) {
			pve_store_digest(cur, cur_len, digest);
			match = strcasecmp(digest, expected_digest) == 0;
		}
		if (!match) {
			r = pve_error_set(
				err, ESTALE,
				"detected modified configuration - file changed by other user? Try again.");
			goto fail;
		}
	}
	if (exclusive) {
		r = rename_noreplace(dirfd, tmp, dirfd, base);
		if (r == -EEXIST) {
			r = pve_error_set(err, EEXIST, "'%s' already exists", path);
			goto fail;
		}
	} else {
		r = renameat(dirfd, tmp, dirfd, base) < 0 ? -errno : 0;
	}
	if (r < 0) {
		r = pve_error_set(err, -r, "can't replace '%s': %s", path, strerror(-r));
		goto fail;
	}
	if (fsync(dirfd) < 0)
		return pve_error_set(err, errno, "can't sync the directory of '%s': %m", path);
	return 0;
fail:
	unlinkat(dirfd, tmp, 0);
	return r;
}

static int file_read(pve_store *s, const char *path, char **ret_data, size_t *ret_len,
		     pve_error **err)
{
	return read_at(FS(s)->rootfd, path, path, ret_data, ret_len, err);
}

static int file_remove(pve_store *s, const char *path, pve_error **err)
{
	file_store *fs = FS(s);
	const char *base;
	_cleanup_close_ int dirfd = open_parent(fs, path, false, &base, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int lockfd = store_lock_take(fs, path, err);
	if (lockfd < 0)
		return lockfd;
	if (unlinkat(dirfd, base, 0) < 0) {
		if (errno != EISDIR || unlinkat(dirfd, base, AT_REMOVEDIR) < 0) {
			if (errno == ENOENT)
				return pve_error_set(err, ENOENT, "'%s' does not exist", path);
			if (errno == ENOTEMPTY || errno == EEXIST)
				return pve_error_set(err, ENOTEMPTY, "directory '%s' is not empty",
						     path);
			return pve_error_set(err, errno, "can't delete '%s': %m", path);
		}
	}
	if (fsync(dirfd) < 0)
		return pve_error_set(err, errno, "can't sync the directory of '%s': %m", path);
	return 0;
}

static int file_rename(pve_store *s, const char *from, const char *to, pve_error **err)
{
	file_store *fs = FS(s);
	const char *from_base, *to_base;
	_cleanup_close_ int fromfd = open_parent(fs, from, false, &from_base, err);
	if (fromfd < 0)
		return fromfd == -ENOENT ? pve_error_set(err, ENOENT, "'%s' does not exist", from) :
					   fromfd;
	_cleanup_close_ int tofd = open_parent(fs, to, true, &to_base, err);
	if (tofd < 0)
		return tofd;
	_cleanup_close_ int lockfd = store_lock_take(fs, from, err);
	if (lockfd < 0)
		return lockfd;
	int r = rename_noreplace(fromfd, from_base, tofd, to_base);
	if (r == -EEXIST)
		return pve_error_set(err, EEXIST, "can't rename '%s' to '%s': target exists", from,
				     to);
	if (r == -ENOENT)
		return pve_error_set(err, ENOENT, "can't rename '%s': it does not exist", from);
	if (r < 0)
		return pve_error_set(err, -r, "can't rename '%s' to '%s': %s", from, to,
				     strerror(-r));
	if (fsync(tofd) < 0 || fsync(fromfd) < 0)
		return pve_error_set(err, errno, "can't sync the directory of '%s': %m", to);
	return 0;
}

static int file_mkdir(pve_store *s, const char *path, pve_error **err)
{
	_cleanup_close_ int fd = open_dir(FS(s), path, strlen(path), true, err);
	return fd < 0 ? fd : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int file_list(pve_store *s, const char *dir, char ***ret_names, pve_error **err)
{
	const char *what = dir ? dir : "/";
	int fd = openat(FS(s)->rootfd, dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return pve_error_set(err, ENOENT, "directory '%s' does not exist", what);
		return pve_error_set(err, errno, "can't open directory '%s': %m", what);
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return pve_error_set(err, e, "can't read directory '%s': %s", what, strerror(e));
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	errno = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n >= MAX_LIST) {
			r = pve_error_set(err, E2BIG, "directory '%s' has more than %d entries",
					  what, MAX_LIST);
			break;
		}
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
		names[n] = NULL;
		errno = 0;
	}
	if (!r && errno)
		r = pve_error_set(err, errno, "can't read directory '%s': %m", what);
	closedir(d);
	if (!names)
		names = xcalloc(1, sizeof(*names));
	if (r < 0) {
		strv_free(names);
		return r;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	*ret_names = names;
	return 0;
}

static bool file_exists(pve_store *s, const char *path)
{
	struct stat st;
	return fstatat(FS(s)->rootfd, path, &st, 0) == 0;
}

static bool is_dir_at(int dirfd, const struct dirent *de)
{
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	struct stat st;
	return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---- locks ----
 * A lock's owner file holds "<token> <pid> <starttime>\n": the token tells one acquisition from another
 * (a process may hold several locks), pid and /proc/PID/stat's starttime name the process that holds it,
 * so that the node's pved can clear at start the locks of holders that died (kill -9 mid-edit) rather
 * than answer 409 until they expire; the start time tells a reused pid from the holder. */

/* Field 22 of /proc/PID/stat; -ENOENT when there is no such process or it is a zombie (dead, not yet
 * reaped), other negative errnos when it cannot be told. */
static int proc_starttime(pid_t pid, unsigned long long *ret)
{
	char path[32], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* the command name (field 2) may hold spaces and ')': the other fields follow the last ')' */
	char *p = strrchr(buf, ')'), *save = NULL;
	if (!p)
		return -EIO;
	const char *tok = strtok_r(p + 1, " ", &save);
	if (!tok || strchr("ZX", tok[0]))
		return tok ? -ENOENT : -EIO;
	for (int field = 4; field <= 22 && tok; field++)
		tok = strtok_r(NULL, " ", &save);
	unsigned long long v;
	if (!tok || pve_parse_uint(tok, ULLONG_MAX, &v) < 0)
		return -EIO;
	*ret = v;
	return 0;
}

/* This process as a lock's holder, "<pid> <starttime>"; NULL if /proc cannot tell (the lock then records
 * no holder and only expires). */
static char *holder_self(void)
{
	unsigned long long start;
	pid_t pid = getpid();
	if (proc_starttime(pid, &start) < 0)
		return NULL;
	return xasprintf("%d %llu", (int)pid, start);
}

static bool token_matches(const char *owner, size_t len, const char *token)
{
	size_t tl = strlen(token);
	return len >= tl && memcmp(owner, token, tl) == 0 &&
	       (len == tl || owner[tl] == ' ' || owner[tl] == '\n');
}

static bool lock_owned(int dirfd, const char *name, const char *token)
{
	_cleanup_close_ int ld =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ld < 0)
		return false;
	_cleanup_free_ char *owner = NULL;
	size_t len = 0;
	if (read_at(ld, LOCK_OWNER, name, &owner, &len, NULL) < 0)
		return false;
	return token_matches(owner, len, token);
}

static int lock_set_owner(int dirfd, const char *name, const char *token, pve_error **err)
{
	_cleanup_close_ int ld =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ld < 0)
		return pve_error_set(err, errno, "can't open lock '%s': %m", name);
	_cleanup_close_ int fd =
		openat(ld, LOCK_OWNER, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return pve_error_set(err, errno, "can't write lock '%s': %m", name);
	_cleanup_free_ char *holder = holder_self();
	_cleanup_free_ char *text = holder ? xasprintf("%s %s\n", token, holder) : xstrdup(token);
	int r = pve_write_all(fd, text, strlen(text));
	if (r < 0)
		return pve_error_set(err, -r, "can't write lock '%s': %s", name, strerror(-r));
	if (utimensat(dirfd, name, NULL, 0) < 0)
		return pve_error_set(err, errno, "can't touch lock '%s': %m", name);
	return 0;
}

/* Is the lock in ld held by a process that is gone? Called under the store lock, under which every
 * owner file is written: a missing or empty one means its writer died between mkdir and write. An
 * owner without a holder (written where /proc could not tell) is never taken for stale. */
static bool lock_stale(int ld, const char *name)
{
	_cleanup_free_ char *owner = NULL;
	size_t len = 0;
	pve_error *e = NULL;
	int r = read_at(ld, LOCK_OWNER, name, &owner, &len, &e);
	pve_error_free(e);
	if (r == -ENOENT || (r == 0 && len == 0))
		return true;
	if (r < 0)
		return false;
	int pid;
	unsigned long long start, now_start;
	if (sscanf(owner, "%*s %d %llu", &pid, &start) != 2 || pid <= 0)
		return false;
	r = proc_starttime(pid, &now_start);
	if (r == -ENOENT || r == -ESRCH)
		return true;
	return r == 0 && now_start != start;
}

/* ---- walking the tree ---- */

/* Removes the temporary files of writers that died: a live writer holds its file's flock. */
static void cleanup_tmp(int dirfd, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (is_dir_at(dirfd, de)) {
			_cleanup_close_ int sub = openat(
				dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub >= 0)
				cleanup_tmp(sub, depth + 1);
			continue;
		}
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		_cleanup_close_ int tfd =
			openat(dirfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (tfd >= 0 && flock(tfd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

static int file_recover(pve_store *s, char ***ret_cleared, pve_error **err)
{
	file_store *fs = FS(s);
	cleanup_tmp(fs->rootfd, 0);
	pve_error *e = NULL;
	_cleanup_close_ int dirfd = open_dir(fs, LOCK_DIR, strlen(LOCK_DIR), false, &e);
	if (dirfd < 0) {
		int code = e->code;
		if (code == ENOENT) {
			pve_error_free(e);
			return 0; /* no lock was ever taken */
		}
		if (err)
			*err = e;
		else
			pve_error_free(e);
		return -code;
	}
	_cleanup_close_ int lockfd = store_lock_take(fs, "locks", err);
	if (lockfd < 0)
		return lockfd;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return pve_error_set(err, saved, "can't read '%s': %s", LOCK_DIR, strerror(saved));
	}
	char **cleared = NULL;
	size_t n = 0, seen = 0;
	struct dirent *de;
	while ((de = readdir(d)) && seen++ < MAX_LIST) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    !is_dir_at(dirfd, de))
			continue;
		_cleanup_close_ int ld =
			openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (ld < 0 || !lock_stale(ld, de->d_name))
			continue;
		(void)unlinkat(ld, LOCK_OWNER, 0);
		if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0)
			continue;
		cleared = xrealloc(cleared, (n + 2) * sizeof(*cleared));
		cleared[n++] = xstrdup(de->d_name);
		cleared[n] = NULL;
	}
	closedir(d);
	if (ret_cleared)
		*ret_cleared = cleared;
	else
		strv_free(cleared);
	return (int)n;
}

static int file_lock_try(pve_store *s, const char *name, const char *token, pve_error **err)
{
	file_store *fs = FS(s);
	_cleanup_close_ int dirfd = open_dir(fs, LOCK_DIR, strlen(LOCK_DIR), true, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int lockfd = store_lock_take(fs, name, err);
	if (lockfd < 0)
		return lockfd;
	if (mkdirat(dirfd, name, 0700) == 0)
		return lock_set_owner(dirfd, name, token, err);
	if (errno != EEXIST)
		return pve_error_set(err, errno, "can't create lock '%s': %m", name);
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return pve_error_set(err, errno, "can't stat lock '%s': %m", name);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec - st.st_mtim.tv_sec < PVE_STORE_LOCK_TIMEOUT_SEC)
		return -EBUSY;
	return lock_set_owner(dirfd, name, token, err); /* expired: take it over */
}

static int file_lock_refresh(pve_store *s, const char *name, const char *token, pve_error **err)
{
	file_store *fs = FS(s);
	_cleanup_close_ int dirfd = open_dir(fs, LOCK_DIR, strlen(LOCK_DIR), false, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int lockfd = store_lock_take(fs, name, err);
	if (lockfd < 0)
		return lockfd;
	if (!lock_owned(dirfd, name, token))
		return pve_error_set(err, EBUSY,
				     "lock '%s' was lost: it expired and was taken over", name);
	if (utimensat(dirfd, name, NULL, 0) < 0)
		return pve_error_set(err, errno, "can't refresh lock '%s': %m", name);
	return 0;
}

static void file_lock_release(pve_store *s, const char *name, const char *token)
{
	file_store *fs = FS(s);
	_cleanup_close_ int dirfd = open_dir(fs, LOCK_DIR, strlen(LOCK_DIR), false, NULL);
	if (dirfd < 0)
		return;
	_cleanup_close_ int lockfd = store_lock_take(fs, name, NULL);
	if (lockfd < 0 || !lock_owned(dirfd, name, token))
		return;
	_cleanup_close_ int ld =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ld >= 0)
		unlinkat(ld, LOCK_OWNER, 0);
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* ---- open and free ---- */

static int file_open(pve_store *s, const char *root, pve_error **err)
{
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	_cleanup_free_ char *dir =
		xasprintf("%.*s/etc/pve", (int)(rl == 1 && root[0] == '/' ? 0 : rl), root);

	_cleanup_close_ int rootfd = open(rl ? root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return pve_error_set(err, errno, "can't open root directory '%s': %m", root);
	if (mkdirat(rootfd, "etc", 0755) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "can't create '%.*s/etc': %m", (int)rl, root);
	if (mkdirat(rootfd, "etc/pve", 0755) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "can't create '%s': %m", dir);
	_cleanup_close_ int fd = openat(rootfd, "etc/pve", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open '%s': %m", dir);
	if (mkdirat(fd, "priv", 0700) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "can't create '%s/priv': %m", dir);
	if (fchmodat(fd, "priv", 0700, 0) < 0)
		return pve_error_set(err, errno, "can't set the mode of '%s/priv': %m", dir);

	file_store *fs = xcalloc(1, sizeof(*fs));
	fs->rootfd = TAKE_FD(fd);
	fs->ifd = -1;
	s->priv = fs;
	s->dir = TAKE_PTR(dir);
	return 0;
}

static void file_free(pve_store *s)
{
	file_store *fs = FS(s);
	if (!fs)
		return;
	if (fs->rootfd >= 0)
		close(fs->rootfd);
	if (fs->ifd >= 0)
		close(fs->ifd);
	for (size_t i = 0; i < fs->n_watches; i++)
		free(fs->watches[i].rel);
	free(fs->watches);
	free(fs);
	s->priv = NULL;
}

/* ---- watch ---- */

static bool ignored_path(const char *rel)
{
	size_t n = strlen(LOCK_DIR);
	return strncmp(rel, LOCK_DIR, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

static char *join(const char *dir, const char *name)
{
	return *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

/* Changed paths of one drain, each once, in order of arrival; NULL once there are too many. */
typedef struct path_set {
	char **v;
	size_t n, cap;
	bool overflow;
} path_set;

static void path_set_add(path_set *ps, const char *path)
{
	if (ps->overflow)
		return;
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i], path) == 0)
			return;
	if (ps->n >= MAX_WATCH_PATHS) {
		ps->overflow = true;
		return;
	}
	if (ps->n + 1 > ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->v = xrealloc(ps->v, ps->cap * sizeof(*ps->v));
	}
	ps->v[ps->n++] = xstrdup(path);
}

static void watch_set(file_store *fs, int wd, const char *rel)
{
	for (size_t i = 0; i < fs->n_watches; i++)
		if (fs->watches[i].wd == wd) {
			free(fs->watches[i].rel);
			fs->watches[i].rel = xstrdup(rel);
			return;
		}
	if (fs->n_watches + 1 > fs->cap_watches) {
		fs->cap_watches = fs->cap_watches ? fs->cap_watches * 2 : 16;
		fs->watches = xrealloc(fs->watches, fs->cap_watches * sizeof(*fs->watches));
	}
	fs->watches[fs->n_watches++] = (watch_entry){ .wd = wd, .rel = xstrdup(rel) };
}

static const char *watch_rel(file_store *fs, int wd)
{
	for (size_t i = 0; i < fs->n_watches; i++)
		if (fs->watches[i].wd == wd)
			return fs->watches[i].rel;
	return NULL;
}

static void watch_drop(file_store *fs, int wd)
{
	for (size_t i = 0; i < fs->n_watches; i++)
		if (fs->watches[i].wd == wd) {
			free(fs->watches[i].rel);
			fs->watches[i] = fs->watches[--fs->n_watches];
			return;
		}
}

/* A directory moved away: its watches (and those below it) would report under the old name. */
static void watch_drop_tree(file_store *fs, const char *rel)
{
	size_t n = strlen(rel);
	for (size_t i = 0; i < fs->n_watches;) {
		const char *r = fs->watches[i].rel;
		if (strncmp(r, rel, n) == 0 && (r[n] == '\0' || r[n] == '/')) {
			inotify_rm_watch(fs->ifd, fs->watches[i].wd);
			free(fs->watches[i].rel);
			fs->watches[i] = fs->watches[--fs->n_watches];
		} else {
			i++;
		}
	}
}

#define WATCH_MASK                                                                           \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR | \
	 IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* Watches rel and the directories below it; with ps, reports what is in them (a new directory's files
 * may have been written before its watch existed). */
static int watch_tree(pve_store *s, const char *rel, path_set *ps, int depth, pve_error **err)
{
	file_store *fs = FS(s);
	if (depth > MAX_DEPTH || ignored_path(rel))
		return 0;
	_cleanup_free_ char *abs = *rel ? xasprintf("%s/%s", s->dir, rel) : xstrdup(s->dir);
	int wd = inotify_add_watch(fs->ifd, abs, WATCH_MASK);
	if (wd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) /* gone again already */
			return 0;
		return pve_error_set(err, errno, "can't watch '%s': %m", abs);
	}
	watch_set(fs, wd, rel);
	int fd = openat(fs->rootfd, *rel ? rel : ".",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = join(rel, de->d_name);
		if (is_dir_at(fd, de)) {
			if (ps && !ignored_path(sub))
				path_set_add(ps, sub);
			r = watch_tree(s, sub, ps, depth + 1, err);
			if (r < 0)
				break;
		} else if (ps) {
			path_set_add(ps, sub);
		}
	}
	closedir(d);
	return r;
}

static int file_watch_fd(pve_store *s, pve_error **err)
{
	file_store *fs = FS(s);
	if (fs->ifd >= 0)
		return fs->ifd;
	fs->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fs->ifd < 0)
		return pve_error_set(err, errno, "can't watch the config store: %m");
	int r = watch_tree(s, "", NULL, 0, err);
	if (r < 0) {
		close(fs->ifd);
		fs->ifd = -1;
		for (size_t i = 0; i < fs->n_watches; i++)
			free(fs->watches[i].rel);
		fs->n_watches = 0;
		return r;
	}
	return fs->ifd;
}

static int file_watch_read(pve_store *s, pve_store_watch_fn cb, void *userdata, pve_error **err)
{
	file_store *fs = FS(s);
	if (fs->ifd < 0)
		return pve_error_set(err, EBADF, "the config store is not watched");
	path_set ps = { 0 };
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int r = 0;
	for (;;) {
		ssize_t k = read(fs->ifd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k <= 0) {
			r = pve_error_set(err, k < 0 ? errno : EIO,
					  "can't read the config store watch: %m");
			break;
		}
		for (char *p = buf; p < buf + k;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				ps.overflow = true;
				continue;
			}
			if (ev->mask & IN_IGNORED) {
				watch_drop(fs, ev->wd);
				continue;
			}
			const char *dir = watch_rel(fs, ev->wd);
			if (!dir || !ev->len || ev->name[0] == '\0')
				continue;
			if (strncmp(ev->name, ".pved-", 6) == 0)
				continue;
			_cleanup_free_ char *rel = join(dir, ev->name);
			if (ignored_path(rel))
				continue;
			if (ev->mask & IN_ISDIR) {
				if (ev->mask & IN_MOVED_FROM)
					watch_drop_tree(fs, rel);
				if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
					r = watch_tree(s, rel, &ps, 1, err);
					if (r < 0)
						goto out;
				}
				path_set_add(&ps, rel);
				continue;
			}
			if (ev->mask & IN_CREATE) /* a plain create is followed by its close */
				continue;
			path_set_add(&ps, rel);
		}
	}
out:
	if (r == 0) {
		if (ps.overflow)
			cb("", userdata);
		else
			for (size_t i = 0; i < ps.n; i++)
				cb(ps.v[i], userdata);
	}
	for (size_t i = 0; i < ps.n; i++)
		free(ps.v[i]);
	free(ps.v);
	return r;
}

const pve_store_ops pve_store_file_ops = {
	.name = "file",
	.open = file_open,
	.free = file_free,
	.read = file_read,
	.write = file_write,
	.remove = file_remove,
	.rename = file_rename,
	.mkdir = file_mkdir,
	.list = file_list,
	.exists = file_exists,
	.lock_try = file_lock_try,
	.lock_refresh = file_lock_refresh,
	.lock_release = file_lock_release,
	.recover = file_recover,
	.watch_fd = file_watch_fd,
	.watch_read = file_watch_read,
};
