/* storage: running qemu-img (fork, exec, no shell) and reading its answer and its complaints. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "storage/storage.h"

/* What we keep of qemu-img's output: `info` answers are small; stderr is for one message. */
#define QEMU_IMG_MAX_OUT (1024 * 1024)
#define QEMU_IMG_MAX_ERR (16 * 1024)

static void drain(int fd, pve_buf *b, size_t max, bool *open_)
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
}

int pve_qemu_img(const char *const argv[], char **ret_out, pve_error **err)
{
	int out[2], errp[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return pve_error_set(err, errno, "qemu-img: pipe: %m");
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return pve_error_set(err, e, "qemu-img: pipe: %s", strerror(e));
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(errp[0]);
		close(errp[1]);
		return pve_error_set(err, e, "qemu-img: fork: %s", strerror(e));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(errp[1], 2) < 0)
			_exit(127);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		static char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
					      (char *)"LC_ALL=C", NULL };
		execve("/usr/bin/qemu-img", (char *const *)argv, envp);
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	_cleanup_close_ int ofd = out[0], efd = errp[0];
	pve_buf ob = { 0 }, eb = { 0 };
	bool oopen = true, eopen = true;
	while (oopen || eopen) {
		struct pollfd p[2] = { { .fd = oopen ? ofd : -1, .events = POLLIN },
				       { .fd = eopen ? efd : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			drain(ofd, &ob, QEMU_IMG_MAX_OUT, &oopen);
		if (p[1].revents)
			drain(efd, &eb, QEMU_IMG_MAX_ERR, &eopen);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	if (status != 0) {
		if (!eb.data)
			pve_buf_puts(&eb, "");
		char *msg = eb.data;
		size_t l = strlen(msg);
		while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
			msg[--l] = '\0';
		if (startswith(msg, "qemu-img: "))
			msg += strlen("qemu-img: ");
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*msg)
			pve_error_set(err, ENOENT, "qemu-img %s: cannot run /usr/bin/qemu-img",
				      argv[1] ? argv[1] : "");
		else
			pve_error_set(err, EIO, "qemu-img %s failed: %s", argv[1] ? argv[1] : "",
				      *msg ? msg : "unknown error");
		pve_buf_free(&ob);
		pve_buf_free(&eb);
		return -EIO;
	}
	pve_buf_free(&eb);
	if (ret_out)
		*ret_out = ob.data ? pve_buf_steal(&ob) : xstrdup("");
	else
		pve_buf_free(&ob);
	return 0;
}
