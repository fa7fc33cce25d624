/* pvecfs under pved (pved --pvecfs): started before the config store is opened, so the store finds
 * it; restarted when it dies (the store's requests fail meanwhile, as a read-only root would); stopped
 * last. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/core/pved.h"

#define RESTART_DELAY_SEC 1

struct pved_pvecfs {
	pid_t pid;
	bool cluster;
	struct event *sigchld, *restart;
};

static bool socket_answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int spawn(pved *d, pve_error **err)
{
	pved_pvecfs *p = d->pvecfs;
	_cleanup_free_ char *exe = xasprintf("%s/pvecfs", d->bindir);
	char *argv[] = { exe,	  (char *)"--root",
			 d->root, (char *)"--node",
			 d->node, p->cluster ? (char *)"--cluster" : NULL,
			 NULL };
	pve_spawn_opts so = { .path = exe,
			      .argv = argv,
			      .stdin_fd = -1,
			      .stdout_fd = -1,
			      .stderr_fd = -1,
			      .new_group = true };
	return pve_spawn(&so, &p->pid, err);
}

int pved_pvecfs_start(pved *d, bool cluster, pve_error **err)
{
	pved_pvecfs *p = xcalloc(1, sizeof(*p));
	p->cluster = cluster;
	d->pvecfs = p;
	_cleanup_free_ char *sock = pved_path(d, "run/pvecfs.sock");
	/* one that outlived an earlier pved (it runs in a process group of its own) serves on: it is
	 * used, not replaced, and not supervised */
	if (socket_answers(sock)) {
		log_info("using the running pvecfs of this root");
		return 0;
	}
	int r = spawn(d, err);
	if (r < 0)
		return r;
	/* before the loop runs: nothing else to do until the store is there (an import of many
	 * plain files, or corosync coming up, take seconds) */
	for (int i = 0; i < 300; i++) {
		int st;
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return pve_error_set(err, EIO, "pvecfs exited at its start (status %d)",
					     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		if (socket_answers(sock))
			return 0;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return pve_error_set(err, ETIMEDOUT, "pvecfs did not answer on '%s' within 15 s", sock);
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	_cleanup_error_ pve_error *err = NULL;
	if (d->stopping || d->pvecfs->pid)
		return;
	if (spawn(d, &err) < 0) {
		log_error("can't restart pvecfs: %s", err->message);
		struct timeval tv = { RESTART_DELAY_SEC, 0 };
		evtimer_add(d->pvecfs->restart, &tv);
	}
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	pved *d = arg;
	pved_pvecfs *p = d->pvecfs;
	int st;
	if (!p->pid || waitpid(p->pid, &st, WNOHANG) != p->pid)
		return;
	log_error("pvecfs (pid %d) exited (status %d); restarting it", (int)p->pid,
		  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	p->pid = 0;
	struct timeval tv = { RESTART_DELAY_SEC, 0 };
	evtimer_add(p->restart, &tv);
}

int pved_pvecfs_watch(pved *d, pve_error **err)
{
	pved_pvecfs *p = d->pvecfs;
	p->sigchld = evsignal_new(d->base, SIGCHLD, sigchld_cb, d);
	p->restart = evtimer_new(d->base, restart_cb, d);
	if (!p->sigchld || !p->restart || evsignal_add(p->sigchld, NULL) < 0)
		return pve_error_set(err, EIO, "can't watch pvecfs");
	return 0;
}

void pved_pvecfs_stop(pved *d)
{
	pved_pvecfs *p = d->pvecfs;
	if (!p)
		return;
	if (p->sigchld)
		event_free(p->sigchld);
	if (p->restart)
		event_free(p->restart);
	if (p->pid > 0) {
		/* pvecfs unmounts on SIGTERM; it has a few seconds */
		kill(p->pid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
				p->pid = 0;
				break;
			}
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
	}
	free(p);
	d->pvecfs = NULL;
}
