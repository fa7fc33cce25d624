/* pvecfs and corosync under pved (pved --pvecfs, or a root that is in a cluster): started before the
 * config store is opened, so the store finds pvecfs; restarted when they die (the store's requests fail
 * meanwhile, as a read-only root would); stopped last.
 *
 * corosync runs in cluster mode when the root holds etc/corosync/corosync.conf. It has fixed paths (/run/corosync.pid,
 * /etc/corosync, /var/lib/corosync): for a root other than /, it runs in a mount namespace of its own
 * where the root's run/corosync, etc/corosync and var/lib/corosync are bound over them, so several
 * nodes, each in its own network namespace, run on one machine. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/core/pved.h"

#define RESTART_DELAY_SEC 1
#define STOP_WAIT_MS 5000

/* One process pved keeps running. */
typedef struct child {
	const char *name;
	pved *d;
	pid_t pid;
	int (*spawn)(pved *d, pid_t *pid, pve_error **err);
	struct event *sigchld, *restart;
} child;

struct pved_pvecfs {
	bool cluster;
	child pvecfs, corosync; /* corosync.spawn is NULL when pved does not run it */
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

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static int spawn_pvecfs(pved *d, pid_t *pid, pve_error **err)
{
	_cleanup_free_ char *exe = xasprintf("%s/pvecfs", d->bindir);
	char *argv[] = { exe,	  (char *)"--root",
			 d->root, (char *)"--node",
			 d->node, d->pvecfs->cluster ? (char *)"--cluster" : NULL,
			 NULL };
	pve_spawn_opts so = { .path = exe,
			      .argv = argv,
			      .stdin_fd = -1,
			      .stdout_fd = -1,
			      .stderr_fd = -1,
			      .new_group = true };
	return pve_spawn(&so, pid, err);
}

static bool root_is_slash(const pved *d)
{
	return streq(d->root, "/");
}

static int spawn_corosync(pved *d, pid_t *pid, pve_error **err)
{
	pve_spawn_opts so = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .new_group = true };
	if (root_is_slash(d)) {
		char *argv[] = { (char *)"corosync", (char *)"-f", NULL };
		so.path = "corosync";
		so.argv = argv;
		return pve_spawn(&so, pid, err);
	}
	/* unshare and sh both exec: the pid is corosync's */
	_cleanup_free_ char *run = pved_path(d, "run/corosync");
	_cleanup_free_ char *etc = pved_path(d, "etc/corosync");
	_cleanup_free_ char *lib = pved_path(d, "var/lib/corosync");
	char *dirs[] = { run, etc, lib };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (pve_mkdir_p(dirs[i], 0755, err) < 0)
			return -EIO;
	char *argv[] = { (char *)"unshare",
			 (char *)"--mount",
			 (char *)"--propagation",
			 (char *)"private",
			 (char *)"sh",
			 (char *)"-c",
			 (char *)"mount --bind \"$1\" /run && mount --bind \"$2\" /etc/corosync && "
				 "mount --bind \"$3\" /var/lib/corosync && exec corosync -f",
			 (char *)"corosync",
			 run,
			 etc,
			 lib,
			 NULL };
	so.path = "unshare";
	so.argv = argv;
	return pve_spawn(&so, pid, err);
}

/* The pid of a corosync that serves this root already (its pid file names a live corosync), or 0. */
static pid_t corosync_running(pved *d)
{
	_cleanup_free_ char *path = root_is_slash(d) ? xstrdup("/run/corosync.pid") :
						       pved_path(d, "run/corosync/corosync.pid");
	_cleanup_free_ char *text = NULL;
	size_t len;
	long long pid;
	if (pve_read_file(path, 64, &text, &len, NULL) < 0)
		return 0;
	text[strcspn(text, "\n")] = '\0';
	if (pve_parse_int(text, 1, INT32_MAX, &pid) < 0)
		return 0;
	_cleanup_free_ char *comm_path = xasprintf("/proc/%lld/comm", pid);
	_cleanup_free_ char *comm = NULL;
	if (pve_read_file(comm_path, 64, &comm, &len, NULL) < 0 || !startswith(comm, "corosync"))
		return 0;
	return (pid_t)pid;
}

static void child_stop(child *c)
{
	if (c->sigchld)
		event_free(c->sigchld);
	if (c->restart)
		event_free(c->restart);
	c->sigchld = c->restart = NULL;
	if (c->pid <= 0)
		return;
	/* pvecfs unmounts on SIGTERM, corosync leaves the cluster: they have a few seconds */
	kill(c->pid, SIGTERM);
	for (int ms = 0; ms < STOP_WAIT_MS; ms += 50) {
		if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			return;
		}
		sleep_ms(50);
	}
	log_warning("%s (pid %d) did not stop within %d s: killing it", c->name, (int)c->pid,
		    STOP_WAIT_MS / 1000);
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
}

static int start_corosync(pved *d, pved_pvecfs *p, pve_error **err)
{
	_cleanup_free_ char *conf = pved_path(d, "etc/corosync/corosync.conf");
	if (access(conf, F_OK) < 0)
		return 0; /* the caller runs this namespace's corosync */
	pid_t running = corosync_running(d);
	if (running) {
		log_info("using the running corosync (pid %d) of this root", (int)running);
		return 0;
	}
	p->corosync.spawn = spawn_corosync;
	return spawn_corosync(d, &p->corosync.pid, err);
}

int pved_pvecfs_start(pved *d, bool cluster, pve_error **err)
{
	pved_pvecfs *p = xcalloc(1, sizeof(*p));
	p->cluster = cluster;
	p->pvecfs = (child){ .name = "pvecfs", .d = d, .spawn = spawn_pvecfs };
	p->corosync = (child){ .name = "corosync", .d = d };
	d->pvecfs = p;
	_cleanup_free_ char *sock = pved_path(d, "run/pvecfs.sock");
	/* one that outlived an earlier pved (it runs in a process group of its own) serves on: it is
	 * used, not replaced, and not supervised; so is its corosync */
	if (socket_answers(sock)) {
		log_info("using the running pvecfs of this root");
		p->pvecfs.spawn = NULL;
		return 0;
	}
	int r;
	if (cluster && (r = start_corosync(d, p, err)) < 0)
		return r;
	if ((r = spawn_pvecfs(d, &p->pvecfs.pid, err)) < 0)
		return r;
	/* before the loop runs: nothing else to do until the store is there (an import of many
	 * plain files, or corosync coming up, take seconds) */
	for (int i = 0; i < 300; i++) {
		int st;
		if (waitpid(p->pvecfs.pid, &st, WNOHANG) == p->pvecfs.pid) {
			p->pvecfs.pid = 0;
			return pve_error_set(err, EIO, "pvecfs exited at its start (status %d)",
					     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		if (socket_answers(sock))
			return 0;
		sleep_ms(50);
	}
	return pve_error_set(err, ETIMEDOUT, "pvecfs did not answer on '%s' within 15 s", sock);
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	child *c = arg;
	_cleanup_error_ pve_error *err = NULL;
	if (c->d->stopping || c->pid)
		return;
	if (c->spawn(c->d, &c->pid, &err) < 0) {
		log_error("can't restart %s: %s", c->name, err->message);
		struct timeval tv = { RESTART_DELAY_SEC, 0 };
		evtimer_add(c->restart, &tv);
	}
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	child *c = arg;
	int st;
	if (!c->pid || waitpid(c->pid, &st, WNOHANG) != c->pid)
		return;
	log_error("%s (pid %d) exited (status %d); restarting it", c->name, (int)c->pid,
		  WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	c->pid = 0;
	struct timeval tv = { RESTART_DELAY_SEC, 0 };
	evtimer_add(c->restart, &tv);
}

static int child_watch(pved *d, child *c, pve_error **err)
{
	if (!c->spawn)
		return 0;
	c->sigchld = evsignal_new(d->base, SIGCHLD, sigchld_cb, c);
	c->restart = evtimer_new(d->base, restart_cb, c);
	if (!c->sigchld || !c->restart || evsignal_add(c->sigchld, NULL) < 0)
		return pve_error_set(err, EIO, "can't watch %s", c->name);
	return 0;
}

int pved_pvecfs_watch(pved *d, pve_error **err)
{
	int r = child_watch(d, &d->pvecfs->corosync, err);
	return r < 0 ? r : child_watch(d, &d->pvecfs->pvecfs, err);
}

void pved_restart(pved *d, const char *why)
{
	log_info("restarting pved: %s", why);
	d->restart = true;
	d->stopping = true;
	event_base_loopexit(d->base, NULL);
}

bool pved_pvecfs_clustered(const pved *d)
{
	return d->pvecfs && d->pvecfs->cluster;
}

void pved_pvecfs_stop(pved *d)
{
	pved_pvecfs *p = d->pvecfs;
	if (!p)
		return;
	child_stop(&p->pvecfs);
	child_stop(&p->corosync);
	free(p);
	d->pvecfs = NULL;
}

static bool root_has(const pved *d, const char *rel)
{
	_cleanup_free_ char *path = pved_path(d, rel);
	return access(path, F_OK) == 0;
}

/* corosync's files alone say nothing (Debian's corosync package installs a corosync.conf of its own):
 * the root is a cluster node when it has them and a tree that is a cluster's (pvecfs's database, a
 * plain tree with the cluster's corosync.conf, or a join under way). */
bool pved_root_in_cluster(const pved *d)
{
	return root_has(d, "etc/corosync/corosync.conf") && root_has(d, "etc/corosync/authkey") &&
	       (root_has(d, "var/lib/pve-cluster/config.db") ||
		root_has(d, "etc/pve/corosync.conf") || root_has(d, PVED_JOIN_MARKER));
}

const char *pved_pvecfs_mode(const pved *d, const char *asked)
{
	if (asked && !streq(asked, "auto"))
		return asked;
	if (pved_root_in_cluster(d))
		return "cluster";
	return asked || root_has(d, "var/lib/pve-cluster/config.db") ? "local" : NULL;
}

int pved_join_prepare(pved *d, pve_error **err)
{
	_cleanup_free_ char *marker = pved_path(d, PVED_JOIN_MARKER);
	if (access(marker, F_OK) < 0)
		return 0;
	_cleanup_free_ char *name =
		xasprintf("var/lib/pve-cluster/before-join-%lld", (long long)time(NULL));
	_cleanup_free_ char *aside = pved_path(d, name);
	if (pve_mkdir_p(aside, 0700, err) < 0)
		return -EIO;
	static const char *const db_files[] = { "config.db", "config.db-wal", "config.db-shm" };
	for (size_t i = 0; i < ELEMENTSOF(db_files); i++) {
		_cleanup_free_ char *rel = xasprintf("var/lib/pve-cluster/%s", db_files[i]);
		_cleanup_free_ char *from = pved_path(d, rel);
		_cleanup_free_ char *to = xasprintf("%s/%s", aside, db_files[i]);
		if (rename(from, to) < 0 && errno != ENOENT)
			return pve_error_set(err, errno, "cannot move %s aside: %m", from);
	}
	/* plain files under etc/pve (a node that never ran pvecfs) would be imported into the new
	 * database */
	_cleanup_free_ char *etc = pved_path(d, "etc/pve");
	_cleanup_free_ char *etc_aside = xasprintf("%s/etc-pve", aside);
	if (rename(etc, etc_aside) < 0 && errno != ENOENT)
		return pve_error_set(err, errno, "cannot move %s aside: %m", etc);
	if (mkdir(etc, 0755) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "cannot create %s: %m", etc);
	log_info("joining a cluster: this node's configuration before the join is in %s", aside);
	return 0;
}

#define TREE_WAIT_SEC 120

int pved_pvecfs_wait_tree(pved *d, pve_error **err)
{
	_cleanup_free_ char *marker = pved_path(d, PVED_JOIN_MARKER);
	if (access(marker, F_OK) < 0)
		return 0;
	log_info("waiting for the cluster's configuration (quorum and the first sync)");
	for (int ms = 0; ms < TREE_WAIT_SEC * 1000; ms += 100) {
		if (pve_store_exists(d->store, "user.cfg")) {
			if (unlink(marker) < 0)
				return pve_error_set(err, errno, "cannot remove %s: %m", marker);
			return 0;
		}
		sleep_ms(100);
	}
	return pve_error_set(
		err, ETIMEDOUT,
		"no cluster configuration arrived within %d s: is the cluster quorate?",
		TREE_WAIT_SEC);
}
