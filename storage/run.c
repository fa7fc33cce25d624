/* storage: the one runner of the external tools storage plugins need (qemu-img, lvm2, mkfs, mount,
 * iscsiadm, showmount, smbclient...): fork and exec without a shell, in its own process group, a
 * fixed environment, stdout kept for the caller up to a limit, stderr kept for the error, and an
 * optional time limit that kills the tool with whatever it started. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "storage/net-internal.h"

/* What we keep of a tool's output: reports (qemu-img info, lvs, showmount) are small; stderr is for
 * one message. */
#define RUN_MAX_OUT (4 * 1024 * 1024)
#define RUN_MAX_ERR (16 * 1024)
/* The message taken from stderr, on one line. */
#define RUN_MSG_MAX 400
#define RUN_ENV_MAX 16

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

/* A tool's stderr on one line: its lines (trimmed) joined by "; ", without its own name in front
 * (qemu-img's "qemu-img: "), without mount.cifs's pointer to its manual page, cut at RUN_MSG_MAX. */
static char *one_line(const char *msg, const char *name)
{
	pve_buf b = { 0 };
	size_t nl = strlen(name);
	_cleanup_strv_free_ char **lines = pve_strv_split(msg ? msg : "", "\n\r");
	for (char **l = lines; *l && b.len < RUN_MSG_MAX; l++) {
		char *s = *l + strspn(*l, " \t");
		size_t len = strlen(s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		if (strncmp(s, name, nl) == 0 && s[nl] == ':' && s[nl + 1] == ' ')
			s += nl + 2;
		if (!*s || startswith(s, "Refer to the mount.cifs(8)"))
			continue;
		if (b.len)
			pve_buf_puts(&b, "; ");
		pve_buf_puts(&b, s);
	}
	if (!b.data)
		return xstrdup("");
	if (b.len > RUN_MSG_MAX)
		b.data[RUN_MSG_MAX] = '\0';
	return pve_buf_steal(&b);
}

int pve_storage_run_ex(const char *const argv[], const char *const env[], int timeout_ms,
		       char **ret_out, int *ret_status, pve_error **err)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	/* "lvcreate", "qemu-img create", but "mount", not "mount -t" */
	_cleanup_free_ char *what = argv[1] && argv[1][0] != '-' && strlen(argv[1]) < 32 ?
					    xasprintf("%s %s", name, argv[1]) :
					    xstrdup(name);
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
	/* stdin from /dev/null, the pipes as stdout and stderr, a process group of its own (so the time
	 * limit ends mount.nfs and friends too). lvm2 complains about every inherited fd; it must not read
	 * a user's lvm.conf overrides from the daemon's environment either, so the environment is fixed. */
	const char *envp[RUN_ENV_MAX + 4] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
					      "LVM_SUPPRESS_FD_WARNINGS=1" };
	size_t n_env = 3;
	for (size_t i = 0; env && env[i] && n_env < RUN_ENV_MAX + 3; i++)
		envp[n_env++] = env[i];
	envp[n_env] = NULL;
	_cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pve_spawn_opts so = { .path = argv[0],
			      .argv = (char *const *)argv,
			      .envp = (char *const *)envp,
			      .stdin_fd = devnull,
			      .stdout_fd = out[1],
			      .stderr_fd = errp[1],
			      .new_group = true };
	pid_t pid;
	pve_error *serr = NULL;
	int sr = devnull < 0 ? -errno : pve_spawn(&so, &pid, &serr);
	if (sr < 0) {
		close(out[0]);
		close(out[1]);
		close(errp[0]);
		close(errp[1]);
		pve_error_free(serr);
		/* as a shell answers a command it cannot find */
		if (sr == -ENOENT)
			return pve_error_set(err, ENOENT, "%s: cannot run %s", what, argv[0]);
		return pve_error_set(err, -sr, "%s: cannot start: %s", name, strerror(-sr));
	}
	close(out[1]);
	close(errp[1]);
	_cleanup_close_ int ofd = out[0], efd = errp[0];
	pve_buf ob = { 0 }, eb = { 0 };
	bool oopen = true, eopen = true, overflow = false, timed_out = false;
	long long deadline = timeout_ms > 0 ? pve_now_ms() + timeout_ms : 0;
	while (oopen || eopen) {
		int wait = -1;
		if (deadline) {
			long long left = deadline - pve_now_ms();
			if (left <= 0) {
				timed_out = true;
				break;
			}
			wait = (int)left;
		}
		struct pollfd p[2] = { { .fd = oopen ? ofd : -1, .events = POLLIN },
				       { .fd = eopen ? efd : -1, .events = POLLIN } };
		if (poll(p, 2, wait) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			drain(ofd, &ob, RUN_MAX_OUT, &oopen, &overflow);
		if (p[1].revents)
			drain(efd, &eb, RUN_MAX_ERR, &eopen, NULL);
	}
	if (timed_out)
		kill(-pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	bool exited = status != -1 && WIFEXITED(status);
	int code = exited ? WEXITSTATUS(status) : -1;
	int r = 0;
	_cleanup_free_ char *msg = one_line(eb.data, name);
	if (timed_out)
		r = pve_error_set(err, ETIMEDOUT, "%s: no answer within %d s", what,
				  (timeout_ms + 999) / 1000);
	else if (overflow)
		r = pve_error_set(err, E2BIG, "%s: output larger than %d bytes", what, RUN_MAX_OUT);
	else if (code == 127 && !*msg)
		r = pve_error_set(err, ENOENT, "%s: cannot run %s", what, argv[0]);
	else if (!exited && status != -1 && WIFSIGNALED(status))
		r = pve_error_set(err, EIO, "%s killed by signal %d", what, WTERMSIG(status));
	else if (!exited)
		r = pve_error_set(err, EIO, "%s failed", what);
	else if (code != 0 && !ret_status)
		r = *msg ? pve_error_set(err, EIO, "%s failed (exit code %d): %s", what, code,
					 msg) :
			   pve_error_set(err, EIO, "%s failed with exit code %d", what, code);
	if (r < 0) {
		pve_buf_free(&ob);
		pve_buf_free(&eb);
		return r;
	}
	if (ret_status)
		*ret_status = code;
	if (ret_out && ret_status && code != 0 && eb.len) {
		/* a caller that takes the status also wants to know why */
		pve_buf_puts(&ob, "");
		pve_buf_append(&ob, "\n", 1);
		pve_buf_append(&ob, eb.data, eb.len);
	}
	pve_buf_free(&eb);
	if (ret_out)
		*ret_out = ob.data ? pve_buf_steal(&ob) : xstrdup("");
	else
		pve_buf_free(&ob);
	return 0;
}

int pve_storage_run(const char *const argv[], char **ret_out, pve_error **err)
{
	return pve_storage_run_ex(argv, NULL, 0, ret_out, NULL, err);
}
