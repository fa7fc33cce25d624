/* pved-ctmon: the per-container monitor and the exec helper, kept tiny (a static musl binary of about
 * 100 KiB of RSS: the issue wants no per-container helper above 200 KiB), so it uses the C library and
 * raw system calls only; the starter has done every set-up that needs libcap, libseccomp or libnl.
 *
 *   pved-ctmon monitor VMID RUN_DIR CGROUP INIT_PID NTTYS [HOST_VETH...]   (fd 3: the starter's line
 *       to lxc_start_finish, told one byte once the monitor runs; then per console, /dev/console
 *       first and /dev/tty1..NTTYS after it, its pty master and its listening socket: 4 and 5, 6 and
 *       7, ...) stays the init's parent, serves the consoles, reaps the init, then kills what is left
 *       in the cgroup, removes it, the host veths and the run files, and exits with the init's
 *       status (128+N for a signal N).
 *   pved-ctmon exec RUN_DIR VMID UID GID CWD -- ARGV... (stdio: the command's; env: the command's)
 *       joins the running container (namespaces through the init's pidfd, cgroup, capabilities,
 *       no_new_privs, the seccomp filter the starter saved) and runs ARGV, exiting with its status.
 *
 * The console protocol (lxc.h): a client connecting to RUN_DIR/VMID.console (or VMID.ttyN) gets that
 * console as a plain byte stream both ways, no header. One client at a time: a new client takes the
 * console over and the old one is disconnected. A client leaving (or a slow one dropped after 2 s)
 * never stops the container. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECCOMP_MODE_FILTER
#define SECCOMP_MODE_FILTER 2
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 2
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1
#endif
#define CLONED_ENV "_PVED_CTMON_SEALED"

struct sock_filter_ {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct sock_fprog_ {
	unsigned short len;
	struct sock_filter_ *filter;
};

static char buf[8192];

static void logmsg(const char *what)
{
	dprintf(2, "pved-ctmon: %s: %s\n", what, strerror(errno));
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static int write_file(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	int r = write_all(fd, v, strlen(v));
	close(fd);
	return r;
}

static int read_file(const char *path, char *out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r;
	while (n < max - 1 && (r = read(fd, out + n, max - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	out[n] = '\0';
	return (int)n;
}

static int populated(const char *cg)
{
	char p[PATH_MAX], b[256];
	snprintf(p, sizeof(p), "%s/cgroup.events", cg);
	return read_file(p, b, sizeof(b)) > 0 && strstr(b, "populated 1") != NULL;
}

static void kill_procs(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	FILE *f = fdopen(fd, "r");
	char line[32];
	while (f && fgets(line, sizeof(line), f)) {
		long pid = strtol(line, NULL, 10);
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
	}
	if (f)
		fclose(f);
}

/* Removes a cgroup and those below it (an init may have made some), deepest first. */
static void rm_tree(const char *dir, int depth)
{
	if (rmdir(dir) == 0 || errno == ENOENT || depth > 16)
		return;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	char ents[4096];
	long n;
	/* getdents64 directly: musl's readdir would pull in more than the monitor needs */
	while ((n = syscall(SYS_getdents64, fd, ents, sizeof(ents))) > 0) {
		for (long off = 0; off < n;) {
			unsigned short reclen;
			memcpy(&reclen, ents + off + 16, sizeof(reclen));
			unsigned char type = (unsigned char)ents[off + 18];
			const char *name = ents + off + 19;
			if (type == 4 /* DT_DIR */ && name[0] != '.') {
				char sub[PATH_MAX];
				snprintf(sub, sizeof(sub), "%s/%s", dir, name);
				rm_tree(sub, depth + 1);
			}
			off += reclen;
		}
	}
	close(fd);
	rmdir(dir);
}

static void destroy_cgroup(const char *cg)
{
	char ns[PATH_MAX];
	snprintf(ns, sizeof(ns), "%s/ns", cg);
	if (populated(cg)) {
		char kill_path[PATH_MAX];
		snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", cg);
		if (write_file(kill_path, "1") < 0)
			for (int i = 0; i < 20 && populated(cg); i++) {
				kill_procs(ns);
				kill_procs(cg);
				usleep(5000);
			}
		for (int i = 0; i < 400 && populated(cg); i++)
			usleep(5000);
	}
	rm_tree(cg, 0);
}

/* Deletes a host veth by name (RTM_DELLINK): its peer went with the container's netns, which the
 * kernel tears down asynchronously; a new start of the same container must find the name free. */
static void del_link(const char *name)
{
	/* rtnetlink's layout, spelled out: musl-gcc sees no kernel headers */
	struct {
		uint32_t len;
		uint16_t type, flags;
		uint32_t seq, pid;
		/* struct ifinfomsg */
		uint8_t family, pad;
		uint16_t iftype;
		int32_t index;
		uint32_t ifflags, change;
		/* struct rtattr IFLA_IFNAME */
		uint16_t rta_len, rta_type;
		char name[16];
	} req;
	size_t n = strlen(name);
	if (n >= sizeof(req.name))
		return;
	memset(&req, 0, sizeof(req));
	/* the header, ifinfomsg and the attribute aligned to 4, nothing after it */
	req.len = (uint32_t)(32 + ((4 + n + 1 + 3) & ~3u));
	req.type = 17; /* RTM_DELLINK */
	req.flags = 1 | 4; /* NLM_F_REQUEST | NLM_F_ACK */
	req.rta_type = 3; /* IFLA_IFNAME */
	req.rta_len = (uint16_t)(4 + n + 1); /* RTA_LENGTH */
	memcpy(req.name, name, n);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0 /* NETLINK_ROUTE */);
	if (fd < 0)
		return;
	if (send(fd, &req, req.len, 0) >= 0) {
		char ack[512];
		(void)recv(fd, ack, sizeof(ack), 0);
	}
	close(fd);
}

#define MAX_CONSOLES 7 /* /dev/console and /dev/tty1..6 */

/* One console: its pty master, its listening socket, its client (or -1). */
struct console {
	int master, lfd, client;
};

static void console_accept(struct console *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* takeover: the newest client gets the console */
	if (c->client >= 0)
		close(c->client);
	c->client = fd;
	if (c->master < -1)
		c->master = -c->master - 2;
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void console_output(struct console *c, short revents)
{
	if (revents & POLLIN) {
		ssize_t n = read(c->master, buf, sizeof(buf));
		/* without a client the output is read and dropped, so the container never blocks */
		if (n > 0 && c->client >= 0 && write_all(c->client, buf, (size_t)n) < 0) {
			close(c->client);
			c->client = -1;
		}
	} else if (revents & (POLLHUP | POLLERR)) {
		/* nobody holds the slave (a tty nothing opened yet, or closed): polling it would spin;
		 * a client's input still reopens interest */
		c->master = -c->master - 2;
	}
}

static void console_input(struct console *c)
{
	ssize_t n = read(c->client, buf, sizeof(buf));
	if (n <= 0) {
		close(c->client);
		c->client = -1;
		return;
	}
	if (c->master < -1)
		c->master = -c->master - 2;
	if (c->master >= 0)
		(void)write_all(c->master, buf, (size_t)n);
}

static int monitor(int argc, char **argv)
{
	if (argc < 7)
		return 2;
	const char *vmid = argv[2], *run_dir = argv[3], *cg = argv[4];
	pid_t init = (pid_t)strtol(argv[5], NULL, 10);
	int n = 1 + (int)strtol(argv[6], NULL, 10);
	if (n < 1 || n > MAX_CONSOLES)
		return 2;
	struct console con[MAX_CONSOLES];
	for (int i = 0; i < n; i++) {
		con[i] = (struct console){ 4 + 2 * i, 5 + 2 * i, -1 };
		fcntl(con[i].master, F_SETFD, FD_CLOEXEC);
		fcntl(con[i].lfd, F_SETFD, FD_CLOEXEC);
	}
	/* tell the starter's caller that the monitor runs (lxc_start_finish waits for this byte) */
	if (write(3, "M", 1) < 0 && errno != EBADF)
		logmsg("can't tell the caller");
	close(3);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	int status = 0;
	for (;;) {
		/* the init may have ended before the signalfd existed: look first, then wait */
		pid_t w = waitpid(init, &status, WNOHANG);
		if (w == init)
			break;
		struct pollfd p[1 + 3 * MAX_CONSOLES];
		p[0] = (struct pollfd){ sfd, POLLIN, 0 };
		for (int i = 0; i < n; i++) {
			/* a negative fd is not polled */
			p[1 + 3 * i] = (struct pollfd){ con[i].master, POLLIN, 0 };
			p[2 + 3 * i] = (struct pollfd){ con[i].lfd, POLLIN, 0 };
			p[3 + 3 * i] = (struct pollfd){ con[i].client, POLLIN, 0 };
		}
		/* a tty whose slave nobody opened yet hangs up: while a client waits on it, look again
		 * five times a second for a getty that opened it since */
		int timeout = -1;
		for (int i = 0; i < n; i++)
			if (con[i].master < -1 && con[i].client >= 0)
				timeout = 200;
		int r = poll(p, (nfds_t)(1 + 3 * n), timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r == 0)
			for (int i = 0; i < n; i++)
				if (con[i].master < -1 && con[i].client >= 0)
					con[i].master = -con[i].master - 2;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
		}
		for (int i = 0; i < n; i++) {
			if (p[2 + 3 * i].revents & POLLIN)
				console_accept(&con[i]);
			if (p[1 + 3 * i].revents)
				console_output(&con[i], p[1 + 3 * i].revents);
			if (con[i].client >= 0 && p[3 + 3 * i].fd == con[i].client &&
			    (p[3 + 3 * i].revents & (POLLIN | POLLHUP | POLLERR)))
				console_input(&con[i]);
		}
	}
	for (int i = 0; i < n; i++)
		if (con[i].client >= 0)
			close(con[i].client);
	destroy_cgroup(cg);
	for (int i = 7; i < argc; i++)
		del_link(argv[i]);
	char path[PATH_MAX];
	for (int i = 1; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.tty%d", run_dir, vmid, i);
		unlink(path);
	}
	const char *suffixes[] = { "console", "bpf", "pid" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", run_dir, vmid, suffixes[i]);
		unlink(path);
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* CVE-2019-5736: a process in the container could open this helper's binary through /proc/<pid>/exe
 * and write it once the helper execs. The helper runs from a sealed memfd copy, so there is nothing
 * of the host's to write. */
static void run_sealed(char **argv)
{
	if (getenv(CLONED_ENV))
		return;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int mfd = (int)syscall(SYS_memfd_create, "pved-ctmon", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (src < 0 || mfd < 0) {
		logmsg("can't copy the helper");
		exit(125);
	}
	ssize_t n;
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write_all(mfd, buf, (size_t)n) < 0)
			exit(125);
	close(src);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		logmsg("can't seal the helper");
		exit(125);
	}
	setenv(CLONED_ENV, "1", 1);
	extern char **environ;
	syscall(SYS_execveat, mfd, "", argv, environ, 0x1000 /* AT_EMPTY_PATH */);
	logmsg("can't run the sealed helper");
	exit(125);
}

static int exec_mode(int argc, char **argv)
{
	if (argc < 9 || strcmp(argv[7], "--") != 0)
		return 2;
	run_sealed(argv);
	unsetenv(CLONED_ENV);
	/* no process of the container may look into this one (/proc/<pid>/mem, fds) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	const char *run_dir = argv[2], *vmid = argv[3], *cwd = argv[6];
	uid_t uid = (uid_t)strtoul(argv[4], NULL, 10);
	gid_t gid = (gid_t)strtoul(argv[5], NULL, 10);
	char path[PATH_MAX], info[4096];
	snprintf(path, sizeof(path), "%s/%s.pid", run_dir, vmid);
	if (read_file(path, info, sizeof(info)) <= 0) {
		dprintf(2, "pved-ctmon: CT %s is not running\n", vmid);
		return 125;
	}
	long init = 0;
	unsigned long long start = 0, caps = 0;
	int userns = 0, nnp = 1;
	char cg[PATH_MAX] = "";
	for (char *l = strtok(info, "\n"); l; l = strtok(NULL, "\n")) {
		if (!strncmp(l, "init ", 5))
			sscanf(l + 5, "%ld %llu", &init, &start);
		else if (!strncmp(l, "cgroup ", 7) && strlen(l + 7) < sizeof(cg))
			strcpy(cg, l + 7);
		else if (!strncmp(l, "caps ", 5))
			caps = strtoull(l + 5, NULL, 10);
		else if (!strncmp(l, "userns ", 7))
			userns = l[7] == '1';
		else if (!strncmp(l, "nnp ", 4))
			nnp = l[4] == '1';
	}
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)init, 0);
	if (init <= 1 || pidfd < 0) {
		dprintf(2, "pved-ctmon: CT %s is not running\n", vmid);
		return 125;
	}
	/* the seccomp program the starter exported, loaded as it is */
	snprintf(path, sizeof(path), "%s/%s.bpf", run_dir, vmid);
	static char bpf[65536];
	int blen = read_file(path, bpf, sizeof(bpf));
	if (blen <= 0 || blen % 8) {
		dprintf(2, "pved-ctmon: CT %s has no seccomp filter file\n", vmid);
		return 125;
	}
	char procs[PATH_MAX + 32], me[32];
	snprintf(procs, sizeof(procs), "%s/ns/cgroup.procs", cg);
	/* the init's own cgroup when it made some below ns (systemd's init.scope): ns itself then
	 * has controllers for its children and takes no process */
	char icg[PATH_MAX], vm_ns[64];
	snprintf(path, sizeof(path), "/proc/%ld/cgroup", init);
	snprintf(vm_ns, sizeof(vm_ns), "/%s/ns/", vmid);
	if (read_file(path, icg, sizeof(icg)) > 0) {
		/* the cgroup2 line; a hybrid host lists its v1 hierarchies first */
		char *v2 = !strncmp(icg, "0::/", 4) ? icg : strstr(icg, "\n0::/");
		v2 = v2 && *v2 == '\n' ? v2 + 1 : v2;
		if (v2)
			v2[strcspn(v2, "\n")] = '\0';
		char *rel = v2 ? strstr(v2, vm_ns) : NULL;
		if (rel && !strstr(rel, "..") && !strchr(rel, '\\'))
			snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", cg,
				 rel + strlen(vm_ns) - 4);
	}
	snprintf(me, sizeof(me), "%d", (int)getpid());
	if (cg[0] && write_file(procs, me) < 0) {
		logmsg("can't join the container's cgroup");
		return 125;
	}
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
		    CLONE_NEWCGROUP | (userns ? CLONE_NEWUSER : 0);
	if (setns(pidfd, flags) < 0) {
		logmsg("can't join the container's namespaces");
		return 125;
	}
	close(pidfd);
	/* a pid namespace counts from the next child on */
	pid_t child = fork();
	if (child < 0) {
		logmsg("fork");
		return 125;
	}
	if (child > 0) {
		int st;
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		while (waitpid(child, &st, 0) < 0)
			if (errno != EINTR)
				_exit(125);
		/* _exit: nothing to flush, and a sanitizer build's leak check at exit would ptrace a
		 * process that made itself non-dumpable and wait forever */
		_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
	}
	for (int c = 0; c < 64; c++)
		if (!(caps & (1ull << c)))
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* As the init: with no_new_privs, or loaded while this process still has CAP_SYS_ADMIN in the
	 * container's namespace (before it takes the user's ids), so that su and sudo work inside. */
	struct sock_fprog_ prog = { (unsigned short)(blen / 8), (struct sock_filter_ *)bpf };
	if ((nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		logmsg("can't load the seccomp filter");
		_exit(125);
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		logmsg("can't take the user's ids in the container");
		_exit(125);
	}
	if (chdir(cwd) < 0) {
		logmsg(cwd);
		_exit(125);
	}
	execvp(argv[8], argv + 8);
	dprintf(2, "pved-ctmon: can't run %s: %s\n", argv[8], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "monitor"))
		return monitor(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "exec"))
		return exec_mode(argc, argv);
	dprintf(2, "usage: pved-ctmon monitor VMID RUN_DIR CGROUP INIT_PID [HOST_VETH...]\n"
		   "       pved-ctmon exec RUN_DIR VMID UID GID CWD -- ARGV...\n");
	return 2;
}
