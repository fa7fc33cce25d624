/* The front: pved fork+execs pved-api with one socketpair per worker thread and its certificate in a
 * memfd, restarts it when it dies, and on reload lets a fresh one take over while the old one drains. */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/core/pved.h"

#define RESTART_DELAY_MAX_SEC 10
#define WIRE_SNDBUF (4 << 20) /* bytes queued on a wire, each way */

typedef struct front_proc front_proc;

/* One worker thread's connection. */
typedef struct front_wire {
	front_proc *proc;
	pved_conn *conn;
	bool ready;
} front_wire;

struct front_proc {
	pved *d;
	pid_t pid;
	front_wire wires[PVE_FRONT_MAX_WORKERS];
	unsigned n_wires, n_ready;
	bool retiring; /* replaced by a newer front; draining */
	front_proc *next;
};

#define MAX_LISTEN 8

struct pved_front {
	front_proc *procs;
	int listen_fds[MAX_LISTEN]; /* made once; every front serves the same sockets */
	size_t n_listen;
	int spice_fd; /* the SPICE proxy's listening socket, or -1 */
	struct event *sigchld;
	struct event *restart;
	int restart_delay;
};

static void front_spawn(pved *d);

static int cert_memfd(pved *d, pve_error **err)
{
	_cleanup_free_ char *cert_path = xasprintf("nodes/%s/pve-ssl.pem", d->node);
	_cleanup_free_ char *key_path = xasprintf("nodes/%s/pve-ssl.key", d->node);
	_cleanup_free_ char *cert = NULL, *key = NULL;
	size_t cert_len, key_len;
	if (pve_store_read(d->store, cert_path, &cert, &cert_len, NULL, err) < 0 ||
	    pve_store_read(d->store, key_path, &key, &key_len, NULL, err) < 0)
		return -EIO;
	/* No CLOEXEC: the child keeps it across exec; the parent closes its copy at once. */
	_cleanup_close_ int fd = memfd_create("pved-api-cert", 0);
	if (fd < 0)
		return pve_error_set(err, errno, "memfd_create: %m");
	if (write(fd, cert, cert_len) != (ssize_t)cert_len || write(fd, "\n", 1) != 1 ||
	    write(fd, key, key_len) != (ssize_t)key_len || lseek(fd, 0, SEEK_SET) < 0)
		return pve_error_set(err, errno, "writing the certificate for pved-api: %m");
	return TAKE_FD(fd);
}

static void proc_unlink(pved_front *f, front_proc *p)
{
	for (front_proc **q = &f->procs; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			return;
		}
}

static void on_ready(void *ud)
{
	front_wire *w = ud;
	front_proc *p = w->proc;
	pved_front *f = p->d->front;
	if (w->ready)
		return;
	w->ready = true;
	/* Serving means every worker is: until then the older fronts go on. */
	if (++p->n_ready < p->n_wires)
		return;
	f->restart_delay = 0;
	log_info("pved-api %d is serving", (int)p->pid);
	/* The new front accepts on the same sockets: the older ones stop accepting and finish what they
	 * have. */
	for (front_proc *o = f->procs; o; o = o->next)
		if (o != p && !o->retiring) {
			o->retiring = true;
			kill(o->pid, SIGTERM);
		}
}

static void on_close(void *ud)
{
	front_wire *w = ud;
	w->conn = NULL;
}

static void proc_close_wires(front_proc *p)
{
	for (unsigned i = 0; i < p->n_wires; i++)
		if (p->wires[i].conn)
			pved_conn_close(p->wires[i].conn);
}

/* Threads for pved-api: as configured, else one per CPU, between 1 and 4 (pveproxy runs 3 workers). */
static unsigned front_workers(const pved *d)
{
	if (d->api_workers)
		return d->api_workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	if (!d->stopping)
		front_spawn(d);
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	pved *d = arg;
	pved_front *f = d->front;
	for (front_proc *p = f->procs, *next; p; p = next) {
		next = p->next;
		int status;
		if (waitpid(p->pid, &status, WNOHANG) != p->pid)
			continue;
		bool expected = p->retiring || d->stopping;
		if (!expected)
			log_error("pved-api %d %s %d; restarting it", (int)p->pid,
				  WIFSIGNALED(status) ? "was killed by signal" :
							"exited with status",
				  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		proc_close_wires(p);
		proc_unlink(f, p);
		free(p);
		if (!expected) {
			/* Back off, so a front that cannot start does not spin. */
			f->restart_delay = f->restart_delay ? f->restart_delay * 2 : 1;
			if (f->restart_delay > RESTART_DELAY_MAX_SEC)
				f->restart_delay = RESTART_DELAY_MAX_SEC;
			struct timeval tv = { f->restart_delay - 1, 200000 };
			evtimer_add(f->restart, &tv);
		}
	}
}

static void front_spawn(pved *d)
{
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_close_ int certfd = cert_memfd(d, &err);
	if (certfd < 0) {
		log_error("cannot start pved-api: %s", err->message);
		return;
	}
	unsigned n_wires = front_workers(d);
	int sv[PVE_FRONT_MAX_WORKERS][2];
	for (unsigned i = 0; i < n_wires; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) < 0) {
			log_error("cannot start pved-api: socketpair: %m");
			for (unsigned j = 0; j < i; j++) {
				close(sv[j][0]);
				close(sv[j][1]);
			}
			return;
		}
	/* Room for a few upload frames (and a long answer) on each wire: with the default (about 200 KiB,
	 * less than a frame) each frame of an upload made the two processes take turns twice, and an
	 * upload to tmpfs went a quarter slower. FORCE, as root, past net.core.wmem_max. */
	for (unsigned i = 0; i < n_wires; i++)
		for (int k = 0; k < 2; k++) {
			int sz = WIRE_SNDBUF;
			if (setsockopt(sv[i][k], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
				setsockopt(sv[i][k], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		}
	_cleanup_free_ char *exe = xasprintf("%s/pved-api", d->bindir);
	_cleanup_free_ char *chroot_dir = pved_path(d, "run/pved-api-root");
	mkdir(chroot_dir, 0755);
	char level[16];
	snprintf(level, sizeof(level), "%d",
		 pve_log_enabled(PVE_LOG_DEBUG) ? PVE_LOG_DEBUG : PVE_LOG_INFO);
	const char *sandbox = getenv("PVED_API_NO_SANDBOX") ? "--no-sandbox" : NULL;
	pved_front *f = d->front;
	/* fd 3: the first wire to pved; fd 4: the certificate; 5...: the listening sockets; then the
	 * other workers' wires. */
	int fds[3 + MAX_LISTEN + PVE_FRONT_MAX_WORKERS], n_fds = 0;
	fds[n_fds++] = sv[0][1];
	fds[n_fds++] = certfd;
	for (size_t i = 0; i < f->n_listen; i++)
		fds[n_fds++] = f->listen_fds[i];
	for (unsigned i = 1; i < n_wires; i++)
		fds[n_fds++] = sv[i][1];
	/* the SPICE proxy's socket last, after the wires */
	char spicefd[16];
	if (f->spice_fd >= 0) {
		snprintf(spicefd, sizeof(spicefd), "%d", 3 + n_fds);
		fds[n_fds++] = f->spice_fd;
	}
	const char *argv[26 + 2 * (MAX_LISTEN + PVE_FRONT_MAX_WORKERS)];
	char fdnames[MAX_LISTEN + PVE_FRONT_MAX_WORKERS][16];
	size_t n = 0;
	argv[n++] = "pved-api";
	argv[n++] = "--fd";
	argv[n++] = "3";
	argv[n++] = "--cert-fd";
	argv[n++] = "4";
	for (int i = 2; i < n_fds - (f->spice_fd >= 0); i++) {
		snprintf(fdnames[i - 2], sizeof(fdnames[i - 2]), "%d", 3 + i);
		argv[n++] = i < 2 + (int)f->n_listen ? "--listen-fd" : "--fd";
		argv[n++] = fdnames[i - 2];
	}
	if (f->spice_fd >= 0) {
		argv[n++] = "--spice-listen-fd";
		argv[n++] = spicefd;
	}
	argv[n++] = "--www";
	argv[n++] = d->www;
	argv[n++] = "--chroot";
	argv[n++] = chroot_dir;
	argv[n++] = "--log-level";
	argv[n++] = level;
	/* The front's connection limits, from the environment (tests make them small). */
	static const char *const limits[][2] = {
		{ "PVED_API_MAX_CONNS", "--max-conns" },
		{ "PVED_API_MAX_PER_CLIENT", "--max-per-client" },
		{ "PVED_API_FIRST_BYTE_TIMEOUT", "--first-byte-timeout" },
		{ "PVED_API_REQUEST_TIMEOUT", "--request-timeout" },
	};
	for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
		const char *v = getenv(limits[i][0]);
		if (v && *v) {
			argv[n++] = limits[i][1];
			argv[n++] = v;
		}
	}
	if (sandbox)
		argv[n++] = sandbox;
	argv[n] = NULL;
	pid_t pid;
	pve_spawn_opts so = { .path = exe,
			      .argv = (char *const *)argv,
			      .stdin_fd = -1,
			      .stdout_fd = -1,
			      .stderr_fd = -1,
			      .fds = fds,
			      .n_fds = (size_t)n_fds };
	if (pve_spawn(&so, &pid, &err) < 0) {
		log_error("cannot start pved-api: %s", err->message);
		for (unsigned i = 0; i < n_wires; i++) {
			close(sv[i][0]);
			close(sv[i][1]);
		}
		return;
	}
	front_proc *p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->pid = pid;
	p->n_wires = n_wires;
	for (unsigned i = 0; i < n_wires; i++) {
		close(sv[i][1]);
		p->wires[i].proc = p;
		p->wires[i].conn =
			pved_server_add_front(d, sv[i][0], on_ready, on_close, &p->wires[i]);
	}
	p->next = d->front->procs;
	d->front->procs = p;
	log_debug("started pved-api %d", (int)pid);
}

int pved_front_start(pved *d, pve_error **err)
{
	pved_front *f = xcalloc(1, sizeof(*f));
	/* --listen takes one address or several separated by commas. */
	_cleanup_strv_free_ char **specs = pve_strv_split(d->listen ? d->listen : "[::]:8006", ",");
	for (char **p = specs; *p; p++) {
		int fd = strv_length(specs) > MAX_LISTEN ? -E2BIG : pve_listen_socket(*p, err);
		if (fd < 0) {
			if (fd == -E2BIG)
				pve_error_set(err, E2BIG, "at most %d listen addresses",
					      MAX_LISTEN);
			for (size_t i = 0; i < f->n_listen; i++)
				close(f->listen_fds[i]);
			free(f);
			return fd;
		}
		f->listen_fds[f->n_listen++] = fd;
	}
	/* The SPICE proxy: where asked, else on 3128 when that is free (a node for tests, or a second
	 * one on the host, goes on without it) */
	_cleanup_error_ pve_error *serr = NULL;
	f->spice_fd = pve_listen_socket(d->spice_listen ? d->spice_listen : "[::]:3128", &serr);
	if (f->spice_fd < 0 && d->spice_listen) {
		int r = pve_error_set(err, serr->code, "--spice-listen: %s", serr->message);
		for (size_t i = 0; i < f->n_listen; i++)
			close(f->listen_fds[i]);
		free(f);
		return r;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (f->spice_fd < 0)
		log_warning("no SPICE proxy: %s", serr->message);
	else if (getsockname(f->spice_fd, (struct sockaddr *)&ss, &sl) == 0)
		d->spice_port = ntohs(ss.ss_family == AF_INET6 ?
					      ((struct sockaddr_in6 *)&ss)->sin6_port :
					      ((struct sockaddr_in *)&ss)->sin_port);
	f->sigchld = evsignal_new(d->base, SIGCHLD, sigchld_cb, d);
	evsignal_add(f->sigchld, NULL);
	f->restart = evtimer_new(d->base, restart_cb, d);
	d->front = f;
	front_spawn(d);
	return 0;
}

void pved_front_reload(pved *d)
{
	if (d->front)
		front_spawn(d);
}

void pved_front_stop(pved *d)
{
	pved_front *f = d->front;
	if (!f)
		return;
	for (front_proc *p = f->procs; p; p = p->next)
		kill(p->pid, SIGTERM);
	/* Their wire closes with pved, so they exit even if the signal was missed; reap what is gone. */
	for (front_proc *p = f->procs, *next; p; p = next) {
		next = p->next;
		waitpid(p->pid, NULL, WNOHANG);
		proc_close_wires(p);
		free(p);
	}
	event_free(f->sigchld);
	event_free(f->restart);
	for (size_t i = 0; i < f->n_listen; i++)
		close(f->listen_fds[i]);
	if (f->spice_fd >= 0)
		close(f->spice_fd);
	free(f);
	d->front = NULL;
}
