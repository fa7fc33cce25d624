/* A container's start: the starter (a process forked from the task worker, detached from it) makes the
 * cgroup, clones the init into its new namespaces and cgroup, writes its id maps and creates its veths;
 * the init sets up its mounts, console, hostname, capabilities and seccomp and waits; once the caller's
 * lxc_start_finish says go, the init execs and the starter execs into the monitor (pved-ctmon), which
 * stays the init's parent. Messages go over SOCK_SEQPACKET socketpairs. */
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

extern char **environ;

enum { MSG_GO = 1, MSG_READY, MSG_ERROR, MSG_STARTED };

typedef struct start_msg {
	int32_t type, code;
	int32_t pid, pid2;
	char text[496];
} start_msg;

void lxc_spec_free(lxc_spec *s)
{
	if (!s)
		return;
	free(s->run_dir);
	free(s->rootfs);
	free(s->hostname);
	strv_free(s->mount_fstypes);
	free(s->cpuset);
	strv_free(s->argv);
	strv_free(s->env);
	free(s->cwd);
	free(s->cmode);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
	}
	free(s->mounts);
	for (size_t i = 0; i < s->n_devs; i++)
		free(s->devs[i].path);
	free(s->devs);
	free(s->cgroup_parent);
	free(s->log_path);
	free(s);
}

/* fds: n_fds of them passed along (SCM_RIGHTS), at most 1 + LXC_MAX_TTYS */
static int send_msg_fds(int fd, int type, int code, pid_t pid, pid_t pid2, const char *text,
			const int *fds, size_t n_fds)
{
	start_msg m = { .type = type, .code = code, .pid = pid, .pid2 = pid2 };
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	struct iovec iov = { &m, sizeof(m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * (1 + LXC_MAX_TTYS))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n_fds > 0 && n_fds <= 1 + LXC_MAX_TTYS) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

static int send_msg(int fd, int type, int code, pid_t pid, pid_t pid2, const char *text)
{
	return send_msg_fds(fd, type, code, pid, pid2, text, NULL, 0);
}

static int send_error(int fd, pve_error *e)
{
	return send_msg(fd, MSG_ERROR, e ? e->code : EIO, 0, 0, e ? e->message : "failed");
}

/* 0 with m filled (and up to max_fds fds in fds[] when some came along, the count in *ret_n; any
 * beyond are closed), -EPIPE at EOF: the other side is gone. */
static int recv_msg_fds(int fd, start_msg *m, int *fds, size_t max_fds, size_t *ret_n)
{
	struct iovec iov = { m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * (1 + LXC_MAX_TTYS))];
		struct cmsghdr align;
	} u;
	if (ret_n)
		*ret_n = 0;
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(*m))
		return -EBADMSG;
	m->text[sizeof(m->text) - 1] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t k = 0; k < cnt; k++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (ret_n && *ret_n < max_fds)
				fds[(*ret_n)++] = got;
			else
				close(got);
		}
	}
	return 0;
}

static int recv_msg(int fd, start_msg *m)
{
	return recv_msg_fds(fd, m, NULL, 0, NULL);
}

static char **build_env(const lxc_spec *s)
{
	char **env = strv_new();
	bool path = false, term = false, container = false;
	for (char **e = s->env; e && *e && strv_length(env) < LXC_MAX_ENV; e++) {
		path |= startswith(*e, "PATH=");
		term |= startswith(*e, "TERM=");
		container |= startswith(*e, "container=");
		strv_push(&env, xstrdup(*e));
	}
	if (!path)
		strv_push(
			&env,
			xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	if (!term)
		strv_push(&env, xstrdup("TERM=linux"));
	if (!container)
		strv_push(&env, xstrdup("container=lxc"));
	/* systemd's getty generator starts a getty on each (LXC sets it the same way) */
	if (lxc_ttys(s)) {
		pve_buf b = { 0 };
		pve_buf_puts(&b, "container_ttys=");
		for (unsigned i = 1; i <= lxc_ttys(s); i++)
			pve_buf_printf(&b, "%stty%u", i > 1 ? " " : "", i);
		strv_push(&env, pve_buf_steal(&b));
	}
	return env;
}

/* Whether the init must wait for its parent's work (id maps, veths) before its own set-up. */
static bool needs_parent(const lxc_spec *s)
{
	return s->unprivileged || s->n_nics > 0;
}

/* The init, in its new namespaces: everything that can fail is done and reported before the caller's
 * go, so a start either ends with the init's exec or with an error naming the step. */
static _Noreturn void init_main(const lxc_spec *s, int sock, scmp_filter_ctx ctx, unsigned flags)
{
	pve_error *err = NULL;
	start_msg m;
	int masters[1 + LXC_MAX_TTYS], slave = -1;
	for (size_t i = 0; i < ELEMENTSOF(masters); i++)
		masters[i] = -1;
	bool inherit_stdio = flags & LXC_START_FOREGROUND;
	/* the parent's death ends a start that is not finished yet */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (needs_parent(s) && (recv_msg(sock, &m) < 0 || m.type != MSG_GO))
		_exit(1);
	if (s->unprivileged) {
		if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0) {
			pve_error_set(&err, errno, "can't become root in the user namespace: %s",
				      strerror(errno));
			goto fail;
		}
	}
	if (lxc_nics_configure(s, &err) < 0 || lxc_mounts_setup(s, masters, &slave, &err) < 0 ||
	    lxc_pivot_root(s->rootfs, &err) < 0)
		goto fail;
	{
		_cleanup_free_ char *def = xasprintf("CT%lld", s->vmid);
		const char *h = s->hostname && *s->hostname ? s->hostname : def;
		if (sethostname(h, strlen(h)) < 0) {
			pve_error_set(&err, errno, "can't set the hostname %s: %s", h,
				      strerror(errno));
			goto fail;
		}
	}
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
		pve_error_set(&err, errno, "can't make the console the controlling tty: %s",
			      strerror(errno));
		goto fail;
	}
	if (!inherit_stdio)
		for (int i = 0; i < 3; i++)
			if (dup2(slave, i) < 0) {
				pve_error_set(&err, errno, "dup2: %s", strerror(errno));
				goto fail;
			}
	if (chdir(s->cwd && *s->cwd ? s->cwd : "/") < 0) {
		pve_error_set(&err, errno, "can't change to %s in the container: %s",
			      s->cwd ? s->cwd : "/", strerror(errno));
		goto fail;
	}
	if (lxc_caps_apply(lxc_caps_keep(s), &err) < 0)
		goto fail;
	if (send_msg_fds(sock, MSG_READY, 0, 0, 0, NULL, masters, 1 + lxc_ttys(s)) < 0)
		_exit(1);
	for (size_t i = 0; i < ELEMENTSOF(masters); i++)
		if (masters[i] >= 0)
			close(masters[i]);
	if (!(flags & LXC_START_NOWAIT) && (recv_msg(sock, &m) < 0 || m.type != MSG_GO))
		_exit(1);
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		pve_error_set(&err, errno, "can't set no_new_privs: %s", strerror(errno));
		goto fail;
	}
	int r = seccomp_load(ctx);
	if (r < 0) {
		pve_error_set(&err, -r, "can't load the seccomp filter: %s", strerror(-r));
		goto fail;
	}
	(void)prctl(PR_SET_PDEATHSIG, 0);
	/* nothing of the host's but stdio goes into the container */
	(void)syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
	environ = build_env(s);
	execvp(s->argv[0], s->argv);
	pve_error_set(&err, errno, "can't run %s in the container: %s", s->argv[0],
		      strerror(errno));
fail:
	send_error(sock, err);
	_exit(127);
}

static int listen_console(const char *path, pve_error **err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "console socket path %s is too long", path);
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pve_error_set(err, errno, "socket: %s", strerror(errno));
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 4) < 0) {
		int e = errno;
		close(fd);
		return pve_error_set(err, e, "can't listen on %s: %s", path, strerror(e));
	}
	return fd;
}

void lxc_run_files_remove(const char *run_dir, long long vmid)
{
	const char *suffixes[] = { "pid", "console", "bpf" };
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		_cleanup_free_ char *p = lxc_run_file(run_dir, vmid, suffixes[i]);
		(void)unlink(p);
	}
	for (unsigned i = 1; i <= LXC_MAX_TTYS; i++) {
		_cleanup_free_ char *p = lxc_console_path(run_dir, vmid, i);
		(void)unlink(p);
	}
}

/* The starter: runs in a process of its own and ends in the monitor's exec or _exit. */
static _Noreturn void starter_main(const lxc_spec *s, int wsock, unsigned flags)
{
	bool foreground = flags & LXC_START_FOREGROUND;
	pve_error *err = NULL;
	_cleanup_free_ char *cg = NULL;
	pid_t pid = -1;
	int masters[1 + LXC_MAX_TTYS], lfds[1 + LXC_MAX_TTYS], csock[2] = { -1, -1 };
	size_t n_masters = 0, n_ttys = lxc_ttys(s);
	for (size_t i = 0; i < ELEMENTSOF(masters); i++)
		masters[i] = lfds[i] = -1;
	bool cg_made = false;
	start_msg m;
	_cleanup_free_ char *nsdir = NULL;
	_cleanup_close_ int cgfd = -1;
	scmp_filter_ctx ctx = NULL;

	if (pve_mkdir_p(s->run_dir, 0755, &err) < 0)
		goto fail;
	cg = lxc_cgroup_dir(s, &err);
	if (!cg)
		goto fail;
	/* one left by a container whose monitor died (the state said stopped): its processes and its
	 * device program go, or a second program would stack on the first */
	if (lxc_cgroup_destroy(cg) < 0) {
		pve_error_set(&err, EBUSY, "CT %lld's old cgroup %s cannot be removed", s->vmid,
			      cg);
		goto fail;
	}
	if (lxc_cgroup_create(s, cg, &err) < 0)
		goto fail;
	cg_made = true;
	if (lxc_devices_attach(s, cg, &err) < 0)
		goto fail;
	nsdir = xasprintf("%s/ns", cg);
	cgfd = open(nsdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		pve_error_set(&err, errno, "can't open cgroup %s: %s", nsdir, strerror(errno));
		goto fail;
	}
	ctx = lxc_seccomp_build(s, &err);
	if (!ctx)
		goto fail;
	{
		/* the same filter for pct exec's processes, which pved-ctmon loads without libseccomp */
		_cleanup_free_ char *bpf = lxc_run_file(s->run_dir, s->vmid, "bpf");
		_cleanup_close_ int fd =
			open(bpf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		int r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
		if (r < 0) {
			pve_error_set(&err, -r, "can't write %s: %s", bpf, strerror(-r));
			goto fail;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, csock) < 0) {
		pve_error_set(&err, errno, "socketpair: %s", strerror(errno));
		goto fail;
	}
	uint64_t cflags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
			  CLONE_NEWCGROUP | CLONE_INTO_CGROUP;
	if (s->unprivileged)
		cflags |= CLONE_NEWUSER;
	struct clone_args ca = { .flags = cflags,
				 .exit_signal = SIGCHLD,
				 .cgroup = (uint64_t)cgfd };
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		pve_error_set(&err, errno, "can't make the container's namespaces: %s",
			      strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(csock[0]);
		init_main(s, csock[1], ctx, flags);
	}
	close(csock[1]);
	csock[1] = -1;
	if (s->unprivileged && lxc_idmap_write(s, pid, &err) < 0)
		goto fail;
	if (lxc_nics_create(s, pid, &err) < 0)
		goto fail;
	if ((needs_parent(s) && send_msg(csock[0], MSG_GO, 0, 0, 0, NULL) < 0) ||
	    recv_msg_fds(csock[0], &m, masters, ELEMENTSOF(masters), &n_masters) < 0) {
		pve_error_set(&err, EIO, "the container's init died during its set-up");
		goto fail;
	}
	if (m.type != MSG_READY || n_masters != 1 + n_ttys) {
		pve_error_set(&err, m.code > 0 ? m.code : EIO, "%s", m.text);
		goto fail;
	}
	lxc_runinfo ri = { .init_pid = pid,
			   .starttime = lxc_proc_starttime(pid),
			   .monitor_pid = getpid(),
			   .caps = lxc_caps_keep(s),
			   .userns = s->unprivileged,
			   .no_new_privs = s->no_new_privs };
	snprintf(ri.cgroup, sizeof(ri.cgroup), "%s", cg);
	if (lxc_runinfo_write(s->run_dir, s->vmid, &ri, &err) < 0)
		goto fail;
	for (unsigned i = 0; i <= n_ttys; i++) {
		_cleanup_free_ char *cpath = lxc_console_path(s->run_dir, s->vmid, i);
		lfds[i] = listen_console(cpath, &err);
		if (lfds[i] < 0)
			goto fail;
	}
	if (!(flags & LXC_START_NOWAIT)) {
		if (send_msg(wsock, MSG_READY, 0, pid, getpid(), NULL) < 0)
			goto fail_quiet;
		/* the caller's bridges, then its go (lxc_start_finish); its end ends the start */
		if (recv_msg(wsock, &m) < 0 || m.type != MSG_GO)
			goto fail_quiet;
		if (send_msg(csock[0], MSG_GO, 0, 0, 0, NULL) < 0) {
			pve_error_set(&err, EIO, "the container's init died before its exec");
			goto fail;
		}
	}
	int r = recv_msg(csock[0], &m);
	if (r == 0) {
		pve_error_set(&err, m.code > 0 ? m.code : EIO, "%s", m.text);
		goto fail;
	}
	/* EOF: the init's exec closed its end */
	if (send_msg(wsock, MSG_STARTED, 0, pid, getpid(), NULL) < 0 && !foreground)
		goto fail_quiet;
	{
		_cleanup_free_ char *mon = lxc_ctmon_path();
		char vmid[32], ipid[32];
		snprintf(vmid, sizeof(vmid), "%lld", s->vmid);
		snprintf(ipid, sizeof(ipid), "%d", (int)pid);
		/* the monitor's fds: 3 the line to the caller, on which it says it runs, then per
		 * console (0: /dev/console, N: /dev/ttyN) its pty master and its listening socket; all
		 * moved up first, as any may sit where another goes */
		int hi[3 + 2 * (1 + LXC_MAX_TTYS)];
		size_t n_hi = 0;
		hi[n_hi++] = wsock >= 0 ? fcntl(wsock, F_DUPFD_CLOEXEC, 32) : -1;
		for (size_t i = 0; i <= n_ttys; i++) {
			hi[n_hi++] = fcntl(masters[i], F_DUPFD_CLOEXEC, 32);
			hi[n_hi++] = fcntl(lfds[i], F_DUPFD_CLOEXEC, 32);
		}
		for (size_t i = 0; i < n_hi; i++) {
			if (i == 0 && wsock < 0)
				close(3);
			else if (hi[i] < 0 || dup2(hi[i], 3 + (int)i) < 0)
				goto fail_quiet;
		}
		if (!foreground) {
			int nul = open(s->log_path ? s->log_path : "/dev/null",
				       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
			if (nul >= 0) {
				int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (in >= 0)
					dup2(in, 0);
				dup2(nul, 1);
				dup2(nul, 2);
			}
		}
		(void)syscall(SYS_close_range, 3 + (unsigned)n_hi, ~0u, 0);
		char name[] = "pved-ctmon", verb[] = "monitor", ttys[16];
		snprintf(ttys, sizeof(ttys), "%zu", n_ttys);
		/* the host veths too: their peers die with the netns, but only some time after */
		char *argv[8 + LXC_MAX_NICS] = { name, verb, vmid, s->run_dir, cg, ipid, ttys };
		for (size_t i = 0; i < s->n_nics && i < LXC_MAX_NICS; i++)
			argv[7 + i] = (char *)s->nics[i].host_name;
		execv(mon, argv);
		pve_error_set(&err, errno, "can't run %s: %s", mon, strerror(errno));
	}
fail_quiet:
fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (cg_made)
		(void)lxc_cgroup_destroy(cg);
	lxc_run_files_remove(s->run_dir, s->vmid);
	if (wsock < 0) {
		fprintf(stderr, "pved-ctrun: %s\n", err ? err->message : "the start failed");
		_exit(125);
	}
	if (err)
		send_error(wsock, err);
	_exit(1);
}

static int check_spec(const lxc_spec *s, pve_error **err)
{
	if (!s->rootfs || !s->run_dir || !s->argv || !s->argv[0])
		return pve_error_set(err, EINVAL,
				     "a container needs a rootfs, a run directory and an init");
	if (strv_length(s->argv) > LXC_MAX_ARGS || strv_length(s->env) > LXC_MAX_ENV)
		return pve_error_set(err, E2BIG, "too many arguments or environment variables");
	if (s->n_nics > LXC_MAX_NICS || s->n_mounts > LXC_MAX_MOUNT_POINTS ||
	    s->n_devs > LXC_MAX_DEVS || s->n_idmaps > LXC_MAX_IDMAPS)
		return pve_error_set(err, E2BIG, "too many NICs, mount points, devices or id maps");
	struct stat st;
	if (stat(s->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return pve_error_set(err, ENOTDIR, "the rootfs %s is not a directory", s->rootfs);
	lxc_running cur;
	if (lxc_state(s->run_dir, s->vmid, &cur) == 1)
		return pve_error_set(err, EEXIST, "CT %lld is already running", s->vmid);
	return 0;
}

int lxc_run_foreground(const lxc_spec *s, pve_error **err)
{
	int r = check_spec(s, err);
	if (r < 0)
		return r;
	starter_main(s, -1, LXC_START_FOREGROUND | LXC_START_NOWAIT);
}

static int wait_monitor(int fd, long long vmid, pve_error **err);

int lxc_start_ex(const lxc_spec *s, unsigned flags, lxc_running *ret, pve_error **err)
{
	bool foreground = flags & LXC_START_FOREGROUND;
	int r = check_spec(s, err);
	if (r < 0)
		return r;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return pve_error_set(err, errno, "socketpair: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return pve_error_set(err, e, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		close(sv[0]);
		if (!foreground) {
			/* detached: the container outlives the worker and belongs to no session */
			setsid();
			pid_t p = fork();
			if (p != 0)
				_exit(p < 0);
		}
		starter_main(s, sv[1], flags);
	}
	close(sv[1]);
	if (!foreground)
		(void)waitpid(pid, NULL, 0);
	start_msg m;
	r = recv_msg(sv[0], &m);
	int want = flags & LXC_START_NOWAIT ? MSG_STARTED : MSG_READY;
	if (r < 0 || m.type != want) {
		close(sv[0]);
		if (foreground)
			(void)waitpid(pid, NULL, 0);
		if (r < 0)
			return pve_error_set(err, EIO, "the container's starter died");
		return pve_error_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
	}
	ret->init_pid = m.pid;
	ret->monitor_pid = m.pid2;
	ret->starttime = lxc_proc_starttime(m.pid);
	ret->sync_fd = sv[0];
	if (flags & LXC_START_NOWAIT) {
		r = wait_monitor(sv[0], s->vmid, err);
		close(sv[0]);
		ret->sync_fd = -1;
		return r;
	}
	return 0;
}

int lxc_start(const lxc_spec *s, lxc_running *ret, pve_error **err)
{
	return lxc_start_ex(s, 0, ret, err);
}

int lxc_start_finish(const lxc_spec *s, const lxc_running *r, pve_error **err)
{
	(void)s;
	_cleanup_close_ int fd = r->sync_fd;
	start_msg m;
	if (fd < 0)
		return pve_error_set(err, EBADF, "CT %lld's start is not pending", s->vmid);
	if (send_msg(fd, MSG_GO, 0, 0, 0, NULL) < 0 || recv_msg(fd, &m) < 0)
		return pve_error_set(err, EIO, "CT %lld's starter died", s->vmid);
	if (m.type != MSG_STARTED)
		return pve_error_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
	return wait_monitor(fd, s->vmid, err);
}

/* After the starter's STARTED: the monitor's one byte once it runs, or the starter's error when its
 * exec failed. */
static int wait_monitor(int fd, long long vmid, pve_error **err)
{
	start_msg m;
	ssize_t n;
	do
		n = recv(fd, &m, sizeof(m), 0);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return 0;
	if (n == (ssize_t)sizeof(m) && m.type == MSG_ERROR) {
		m.text[sizeof(m.text) - 1] = '\0';
		return pve_error_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
	}
	return pve_error_set(err, EIO, "CT %lld's monitor did not start", vmid);
}
