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

static int send_msg(int fd, int type, int code, pid_t pid, pid_t pid2, const char *text,
		    int pass_fd)
{
	start_msg m = { .type = type, .code = code, .pid = pid, .pid2 = pid2 };
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	struct iovec iov = { &m, sizeof(m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (pass_fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

static int send_error(int fd, pve_error *e)
{
	return send_msg(fd, MSG_ERROR, e ? e->code : EIO, 0, 0, e ? e->message : "failed", -1);
}

/* 0 with m filled (and *ret_fd when one came along), -EPIPE at EOF: the other side is gone. */
static int recv_msg(int fd, start_msg *m, int *ret_fd)
{
	struct iovec iov = { m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
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
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int got;
			memcpy(&got, CMSG_DATA(c), sizeof(int));
			if (ret_fd)
				*ret_fd = got;
			else
				close(got);
		}
	return 0;
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
	return env;
}

/* The init, in its new namespaces: everything that can fail is done and reported before the caller's
 * go, so a start either ends with the init's exec or with an error naming the step. */
static _Noreturn void init_main(const lxc_spec *s, int sock, scmp_filter_ctx ctx,
				bool inherit_stdio)
{
	pve_error *err = NULL;
	start_msg m;
	int master = -1, slave = -1;
	if (recv_msg(sock, &m, NULL) < 0 || m.type != MSG_GO)
		_exit(1);
	/* the parent's death ends a start that is not finished yet */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (s->unprivileged) {
		if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0) {
			pve_error_set(&err, errno, "can't become root in the user namespace: %s",
				      strerror(errno));
			goto fail;
		}
	}
	if (lxc_nics_configure(s, &err) < 0 || lxc_mounts_setup(s, &master, &slave, &err) < 0 ||
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
	if (send_msg(sock, MSG_READY, 0, 0, 0, NULL, master) < 0)
		_exit(1);
	close(master);
	if (recv_msg(sock, &m, NULL) < 0 || m.type != MSG_GO)
		_exit(1);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
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

static void remove_run_files(const char *run_dir, long long vmid)
{
	const char *suffixes[] = { "pid", "console", "bpf" };
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		_cleanup_free_ char *p = lxc_run_file(run_dir, vmid, suffixes[i]);
		(void)unlink(p);
	}
}

/* The starter: runs in a process of its own and ends in the monitor's exec or _exit. */
static _Noreturn void starter_main(const lxc_spec *s, int wsock, bool foreground)
{
	pve_error *err = NULL;
	_cleanup_free_ char *cg = NULL;
	pid_t pid = -1;
	int master = -1, csock[2] = { -1, -1 }, lfd = -1;
	bool cg_made = false;
	start_msg m;
	_cleanup_free_ char *nsdir = NULL;
	_cleanup_close_ int cgfd = -1;
	scmp_filter_ctx ctx = NULL;

	if (pve_mkdir_p(s->run_dir, 0755, &err) < 0)
		goto fail;
	cg = lxc_cgroup_dir(s, &err);
	if (!cg || lxc_cgroup_create(s, cg, &err) < 0)
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
	uint64_t flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
			 CLONE_NEWCGROUP | CLONE_INTO_CGROUP;
	if (s->unprivileged)
		flags |= CLONE_NEWUSER;
	struct clone_args ca = { .flags = flags, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgfd };
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		pve_error_set(&err, errno, "can't make the container's namespaces: %s",
			      strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(csock[0]);
		init_main(s, csock[1], ctx, foreground);
	}
	close(csock[1]);
	csock[1] = -1;
	if (s->unprivileged && lxc_idmap_write(s, pid, &err) < 0)
		goto fail;
	if (lxc_nics_create(s, pid, &err) < 0)
		goto fail;
	if (send_msg(csock[0], MSG_GO, 0, 0, 0, NULL, -1) < 0 ||
	    recv_msg(csock[0], &m, &master) < 0) {
		pve_error_set(&err, EIO, "the container's init died during its set-up");
		goto fail;
	}
	if (m.type != MSG_READY || master < 0) {
		pve_error_set(&err, m.code > 0 ? m.code : EIO, "%s", m.text);
		goto fail;
	}
	lxc_runinfo ri = { .init_pid = pid,
			   .starttime = lxc_proc_starttime(pid),
			   .monitor_pid = getpid(),
			   .caps = lxc_caps_keep(s),
			   .userns = s->unprivileged };
	snprintf(ri.cgroup, sizeof(ri.cgroup), "%s", cg);
	if (lxc_runinfo_write(s->run_dir, s->vmid, &ri, &err) < 0)
		goto fail;
	{
		_cleanup_free_ char *cpath = lxc_run_file(s->run_dir, s->vmid, "console");
		lfd = listen_console(cpath, &err);
		if (lfd < 0)
			goto fail;
	}
	if (send_msg(wsock, MSG_READY, 0, pid, getpid(), NULL, -1) < 0)
		goto fail_quiet;
	/* the caller's bridges, then its go (lxc_start_finish); its end ends the start */
	if (recv_msg(wsock, &m, NULL) < 0 || m.type != MSG_GO)
		goto fail_quiet;
	if (send_msg(csock[0], MSG_GO, 0, 0, 0, NULL, -1) < 0) {
		pve_error_set(&err, EIO, "the container's init died before its exec");
		goto fail;
	}
	int r = recv_msg(csock[0], &m, NULL);
	if (r == 0) {
		pve_error_set(&err, m.code > 0 ? m.code : EIO, "%s", m.text);
		goto fail;
	}
	/* EOF: the init's exec closed its end */
	if (send_msg(wsock, MSG_STARTED, 0, pid, getpid(), NULL, -1) < 0 && !foreground)
		goto fail_quiet;
	{
		_cleanup_free_ char *mon = lxc_ctmon_path();
		char vmid[32], ipid[32];
		snprintf(vmid, sizeof(vmid), "%lld", s->vmid);
		snprintf(ipid, sizeof(ipid), "%d", (int)pid);
		/* the monitor's fds: 3 the console's master, 4 its listening socket, 5 the line to the
		 * caller, on which it says it runs */
		int hi[3] = { fcntl(master, F_DUPFD_CLOEXEC, 10), fcntl(lfd, F_DUPFD_CLOEXEC, 10),
			      fcntl(wsock, F_DUPFD_CLOEXEC, 10) };
		/* (moved up first: any of them may sit on 3..5 already) */
		for (int i = 0; i < 3; i++)
			if (hi[i] < 0 || dup2(hi[i], 3 + i) < 0)
				goto fail_quiet;
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
		(void)syscall(SYS_close_range, 6, ~0u, 0);
		char name[] = "pved-ctmon", verb[] = "monitor";
		char *argv[] = { name, verb, vmid, s->run_dir, cg, ipid, NULL };
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
	remove_run_files(s->run_dir, s->vmid);
	if (err)
		send_error(wsock, err);
	_exit(1);
}

int lxc_start_ex(const lxc_spec *s, bool foreground, lxc_running *ret, pve_error **err)
{
	if (!s->rootfs || !s->run_dir || !s->argv || !s->argv[0])
		return pve_error_set(err, EINVAL,
				     "a container needs a rootfs, a run directory and an "
				     "init");
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
		starter_main(s, sv[1], foreground);
	}
	close(sv[1]);
	if (!foreground)
		(void)waitpid(pid, NULL, 0);
	start_msg m;
	int r = recv_msg(sv[0], &m, NULL);
	if (r < 0 || m.type != MSG_READY) {
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
	return 0;
}

int lxc_start(const lxc_spec *s, lxc_running *ret, pve_error **err)
{
	return lxc_start_ex(s, false, ret, err);
}

int lxc_start_finish(const lxc_spec *s, const lxc_running *r, pve_error **err)
{
	(void)s;
	_cleanup_close_ int fd = r->sync_fd;
	start_msg m;
	if (fd < 0)
		return pve_error_set(err, EBADF, "CT %lld's start is not pending", s->vmid);
	if (send_msg(fd, MSG_GO, 0, 0, 0, NULL, -1) < 0 || recv_msg(fd, &m, NULL) < 0)
		return pve_error_set(err, EIO, "CT %lld's starter died", s->vmid);
	if (m.type != MSG_STARTED)
		return pve_error_set(err, m.code > 0 ? m.code : EIO, "%s", m.text);
	/* then the monitor's one byte once it runs, or the starter's error when its exec failed */
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
	return pve_error_set(err, EIO, "CT %lld's monitor did not start", s->vmid);
}
