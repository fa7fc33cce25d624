/* The per-VM lock, as Proxmox's lock_config: an flock on <root>/run/lock/qemu-server/lock-<vmid>.conf,
 * local to the node, waited for 10 s, released when its holder closes it or dies. Task workers wait for
 * it; pved's loop tries again on a timer. Long operations also set the config's `lock:` key. */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/qemu/qemu-internal.h"

#define RETRY_MS 20

char *qemu_lock_path(const pved *d, long long vmid)
{
	_cleanup_free_ char *rel = xasprintf("run/lock/qemu-server/lock-%lld.conf", vmid);
	return pved_path(d, rel);
}

static int open_lock(const pved *d, long long vmid, char **ret_path, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *path = qemu_lock_path(d, vmid);
	_cleanup_free_ char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	_cleanup_free_ char *lockdir = xstrndup(dir, (size_t)(strrchr(dir, '/') - dir));
	(void)mkdir(lockdir, 0755);
	(void)mkdir(dir, 0755);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return pve_error_set(err, errno, "can't open file '%s' - %m", path);
	*ret_fd = fd;
	*ret_path = TAKE_PTR(path);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int qemu_lock_wait(pved *d, long long vmid, int timeout_ms, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	int r = open_lock(d, vmid, &path, &fd, err);
	if (r < 0)
		return r;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return pve_error_set(err, errno, "can't lock file '%s' - %m", path);
		if (now_ms() >= deadline)
			return pve_error_set(err, EBUSY, "can't lock file '%s' - got timeout",
					     path);
		usleep(RETRY_MS * 1000);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

typedef struct lock_job {
	pved *d;
	long long vmid;
	int fd;
	char *path;
	uint64_t deadline;
	struct event *timer;
	qemu_lock_fn done;
	void *ud;
} lock_job;

static void job_finish(lock_job *j, int fd, pve_error *err)
{
	if (j->timer)
		event_free(j->timer);
	if (fd < 0 && j->fd >= 0)
		close(j->fd);
	qemu_lock_fn done = j->done;
	void *ud = j->ud;
	pved *d = j->d;
	free(j->path);
	free(j);
	done(d, fd, err, ud);
}

static void attempt(evutil_socket_t s, short what, void *arg)
{
	(void)s, (void)what;
	lock_job *j = arg;
	if (flock(j->fd, LOCK_EX | LOCK_NB) == 0)
		return job_finish(j, j->fd, NULL);
	pve_error *err = NULL;
	if (errno != EWOULDBLOCK && errno != EINTR) {
		pve_error_set(&err, errno, "can't lock file '%s' - %m", j->path);
		return job_finish(j, -1, err);
	}
	if (now_ms() >= j->deadline) {
		pve_error_set(&err, EBUSY, "can't lock file '%s' - got timeout", j->path);
		return job_finish(j, -1, err);
	}
	if (!j->timer)
		j->timer = evtimer_new(j->d->base, attempt, j);
	struct timeval tv = { 0, RETRY_MS * 1000 };
	evtimer_add(j->timer, &tv);
}

void qemu_lock_async(pved *d, long long vmid, qemu_lock_fn done, void *ud)
{
	lock_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->vmid = vmid;
	j->done = done;
	j->ud = ud;
	j->fd = -1;
	j->deadline = now_ms() + QEMU_LOCK_TIMEOUT_MS;
	pve_error *err = NULL;
	if (open_lock(d, vmid, &j->path, &j->fd, &err) < 0)
		return job_finish(j, -1, err);
	attempt(-1, 0, j);
}
