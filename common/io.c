/* common: whole reads and writes on blocking file descriptors, past EINTR and short transfers; starting
 * programs. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

int pve_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pve_copy_sparse(const char *from, const char *to, uint64_t rate, pve_error **err)
{
	enum { CHUNK = 1 << 20 };
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m", from);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CLOEXEC);
	if (out < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m", to);
	_cleanup_free_ char *buf = xmalloc(CHUNK);
	int64_t start = pve_now_ms();
	uint64_t done = 0;
	off_t pos = 0;
	for (;;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only a hole to the end */
		off_t hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return pve_error_set(err, errno, "unable to read '%s': %m", from);
		for (pos = data; pos < hole;) {
			size_t n = hole - pos < CHUNK ? (size_t)(hole - pos) : CHUNK;
			ssize_t got = pread(in, buf, n, pos);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return pve_error_set(err, got < 0 ? errno : EIO,
						     "unable to read '%s': %s", from,
						     got < 0 ? strerror(errno) : "short file");
			for (ssize_t w = 0; w < got;) {
				ssize_t k = pwrite(out, buf + w, (size_t)(got - w), pos + w);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					return pve_error_set(err, k < 0 ? errno : EIO,
							     "unable to write '%s': %s", to,
							     k < 0 ? strerror(errno) : "no space");
				w += k;
			}
			pos += got;
			done += (uint64_t)got;
			/* ahead of the rate: wait until the bytes so far are due */
			double due = rate ? (double)done / (double)rate -
						     (double)(pve_now_ms() - start) / 1000 :
					    0;
			if (due > 0) {
				struct timespec ts = { (time_t)due,
						       (long)((due - (double)(time_t)due) * 1e9) };
				while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
					;
			}
		}
	}
	if (fsync(out) < 0)
		return pve_error_set(err, errno, "unable to write '%s': %m", to);
	return 0;
}

ssize_t pve_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int pve_read_file(const char *path, size_t max, char **ret, size_t *ret_len, pve_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pve_error_set(err, errno, "unable to open %s: %m", path);
	/* Read to the end: a generated file (/proc, pvecfs's .members) may give no size. */
	pve_buf b = { 0 };
	for (;;) {
		char chunk[8192];
		ssize_t n = pve_read_full(fd, chunk, sizeof(chunk));
		if (n < 0) {
			pve_buf_free(&b);
			return pve_error_set(err, (int)-n, "unable to read %s: %s", path,
					     strerror((int)-n));
		}
		if (b.len + (size_t)n > max) {
			pve_buf_free(&b);
			return pve_error_set(err, E2BIG, "%s is larger than %zu bytes", path, max);
		}
		pve_buf_append(&b, chunk, (size_t)n);
		if ((size_t)n < sizeof(chunk))
			break;
	}
	*ret_len = b.len;
	*ret = b.data ? pve_buf_steal(&b) : xstrdup("");
	return 0;
}

int pve_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  pve_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (pve_mkdir_p(dir, 0755, err) < 0)
			return -EIO;
	} else {
		free(dir);
		dir = xstrdup(slash ? "/" : ".");
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return pve_error_set(err, errno, "unable to create %s: %m", tmp);
	if (fchmod(fd, mode) < 0 || pve_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return pve_error_set(err, e, "unable to write %s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return pve_error_set(err, e, "unable to rename %s: %s", tmp, strerror(e));
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

int pve_mkdir_p(const char *path, mode_t mode, pve_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			int e = errno;
			return pve_error_set(err, e, "unable to create directory '%s': %s", p,
					     strerror(e));
		}
		if (!c)
			return 0;
		*s = c;
	}
}

int64_t pve_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The program's path: a bare name is looked up in the system's directories, not in $PATH. */
static int spawn_path(const char *name, char buf[static 4096], const char **ret)
{
	if (strchr(name, '/')) {
		*ret = name;
		return 0;
	}
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		if ((size_t)snprintf(buf, 4096, "%s/%s", dirs[i], name) >= 4096)
			return -ENAMETOOLONG;
		if (access(buf, X_OK) == 0) {
			*ret = buf;
			return 0;
		}
	}
	return -ENOENT;
}

int pve_spawn(const pve_spawn_opts *o, pid_t *ret_pid, pve_error **err)
{
	if (o->n_fds > PVE_SPAWN_MAX_FDS)
		return pve_error_set(err, EINVAL, "at most %d fds for a child", PVE_SPAWN_MAX_FDS);
	char buf[4096];
	const char *path;
	int r = spawn_path(o->path, buf, &path);
	if (r < 0)
		return pve_error_set(err, -r, "cannot run %s: %s", o->path, strerror(-r));
	/* Copies above the range the child's fds go to, so no dup2 overwrites another's source. */
	int high[PVE_SPAWN_MAX_FDS];
	size_t n_high = 0;
	for (; n_high < o->n_fds; n_high++) {
		high[n_high] = fcntl(o->fds[n_high], F_DUPFD_CLOEXEC, 3 + PVE_SPAWN_MAX_FDS);
		if (high[n_high] < 0) {
			r = -errno;
			break;
		}
	}
	if (r == 0) {
		posix_spawn_file_actions_t fa;
		posix_spawnattr_t attr;
		sigset_t none, all;
		sigemptyset(&none);
		sigfillset(&all);
		posix_spawn_file_actions_init(&fa);
		posix_spawnattr_init(&attr);
		const int std[3] = { o->stdin_fd, o->stdout_fd, o->stderr_fd };
		for (int i = 0; i < 3; i++)
			if (std[i] >= 0)
				posix_spawn_file_actions_adddup2(&fa, std[i], i);
		for (size_t i = 0; i < o->n_fds; i++)
			posix_spawn_file_actions_adddup2(&fa, high[i], 3 + (int)i);
		posix_spawn_file_actions_addclosefrom_np(&fa, 3 + (int)o->n_fds);
		short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
		if (o->new_session)
			flags |= POSIX_SPAWN_SETSID;
		else if (o->new_group)
			flags |= POSIX_SPAWN_SETPGROUP; /* group 0: the child's own pid */
		posix_spawnattr_setflags(&attr, flags);
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &all);
		r = -posix_spawn(ret_pid, path, &fa, &attr, o->argv, o->envp ? o->envp : environ);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
	}
	for (size_t i = 0; i < n_high; i++)
		close(high[i]);
	if (r < 0)
		return pve_error_set(err, -r, "cannot start %s: %s", path, strerror(-r));
	return 0;
}
