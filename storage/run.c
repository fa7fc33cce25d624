/* storage: running the external tools storage plugins need (qemu-img, lvm2, mkfs...): fork and exec
 * without a shell, a fixed environment, stdout kept for the caller and stderr kept for the
 * error. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "storage/storage.h"

/* What we keep of a tool's output: reports (qemu-img info, lvs) are small; stderr is for one
 * message. */
#define RUN_MAX_OUT (4 * 1024 * 1024)
#define RUN_MAX_ERR (16 * 1024)

static void drain(int fd, pve_buf *b, size_t max, bool *open_, bool *overflow)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			*open_ = false;
		return;
	}
	if (b->len + (size_t)n <= max)
		pve_buf_append(b, buf, (size_t)n);
	else if (overflow)
		*overflow = true;
}

/* The child: stdin from /dev/null, the pipes as stdout and stderr, default signals, then exec. */
__attribute__((noreturn)) static void child(const char *const argv[], int out, int errfd)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(127);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* lvm2 complains about every inherited fd; it must not read a user's lvm.conf overrides
	 * from the daemon's environment either, so the environment is fixed */
	static char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				      (char *)"LC_ALL=C", (char *)"LVM_SUPPRESS_FD_WARNINGS=1",
				      NULL };
	if (strchr(argv[0], '/')) {
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	char path[4096];
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirs[i], argv[0]) >= sizeof(path))
			_exit(127);
		execve(path, (char *const *)argv, envp);
	}
	_exit(127);
}

int pve_storage_run(const char *const argv[], char **ret_out, pve_error **err)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *verb = argv[1] ? argv[1] : "";
	int out[2], errp[2];
	if (pipe2(out, O_CLOEXEC) < 0) {
		int e = errno;
		return pve_error_set(err, e, "%s: pipe: %s", name, strerror(e));
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return pve_error_set(err, e, "%s: pipe: %s", name, strerror(e));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(errp[0]);
		close(errp[1]);
		return pve_error_set(err, e, "%s: fork: %s", name, strerror(e));
	}
	if (pid == 0)
		child(argv, out[1], errp[1]);
	close(out[1]);
	close(errp[1]);
	_cleanup_close_ int ofd = out[0], efd = errp[0];
	pve_buf ob = { 0 }, eb = { 0 };
	bool oopen = true, eopen = true, overflow = false;
	while (oopen || eopen) {
		struct pollfd p[2] = { { .fd = oopen ? ofd : -1, .events = POLLIN },
				       { .fd = eopen ? efd : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			drain(ofd, &ob, RUN_MAX_OUT, &oopen, &overflow);
		if (p[1].revents)
			drain(efd, &eb, RUN_MAX_ERR, &eopen, NULL);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (status != 0 || overflow) {
		if (!eb.data)
			pve_buf_puts(&eb, "");
		/* one line: lvm2 indents each of its messages, qemu-img prefixes its name */
		char *msg = eb.data;
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		msg += strspn(msg, " ");
		size_t l = strlen(msg);
		while (l && msg[l - 1] == ' ')
			msg[--l] = '\0';
		size_t nl = strlen(name);
		if (strncmp(msg, name, nl) == 0 && msg[nl] == ':' && msg[nl + 1] == ' ')
			msg += nl + 2;
		int r;
		if (overflow)
			r = pve_error_set(err, E2BIG, "%s %s: output larger than %d bytes", name,
					  verb, RUN_MAX_OUT);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*msg)
			r = pve_error_set(err, ENOENT, "%s %s: cannot run %s", name, verb, argv[0]);
		else
			r = pve_error_set(err, EIO, "%s %s failed: %s", name, verb,
					  *msg ? msg : "unknown error");
		pve_buf_free(&ob);
		pve_buf_free(&eb);
		return r;
	}
	pve_buf_free(&eb);
	if (ret_out)
		*ret_out = ob.data ? pve_buf_steal(&ob) : xstrdup("");
	else
		pve_buf_free(&ob);
	return 0;
}
