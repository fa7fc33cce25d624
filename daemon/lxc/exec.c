/* POST /nodes/{node}/lxc/{vmid}/exec (pved's, beyond Proxmox): a command run in a running container
 * through the runtime's exec helper, its input written and its output read with a bound per stream
 * (the rest is read and dropped, so the command never blocks on a full pipe) and a bound in time. The
 * API's runs are driven by the loop's events (pipes, the helper's pidfd, a timer): a long command
 * holds no thread, and any number run at once. Task workers run one to its end (exec_run). The answer
 * has the QEMU agent's exec-status shape. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>

#include "daemon/lxc/lxc-internal.h"
#include "daemon/nodes/console-internal.h"
#include <pty.h>

#define EXEC_DEFAULT_LIMIT (1024 * 1024)
#define EXEC_DEFAULT_TIMEOUT 30

typedef struct exec_job {
	pved *d;
	pved_call *c;
	long long vmid;
	char **argv, **env;
	char *cwd, *input;
	uid_t uid;
	gid_t gid;
	unsigned timeout_s;
	size_t limit;
	/* the result */
	int exitcode;
	pve_buf out, err;
	bool out_trunc, err_trunc, timed_out;
	pve_error *error;
} exec_job;

static void job_free(exec_job *j)
{
	strv_free(j->argv);
	strv_free(j->env);
	free(j->cwd);
	free(j->input);
	pve_buf_free(&j->out);
	pve_buf_free(&j->err);
	pve_error_free(j->error);
	free(j);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The helper forks the command into the container's pid namespace and waits for it: a timeout
 * kills that child (from /proc's children list) as well as the helper. */
static void kill_tree(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
			(void)kill((pid_t)atoi(p), SIGKILL);
	}
	(void)kill(pid, SIGKILL);
}

/* Reads what fd has into b up to limit (the rest dropped); false at EOF or an error. */
static bool drain(int fd, pve_buf *b, size_t limit, bool *trunc)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	size_t keep = b->len < limit ? limit - b->len : 0;
	if ((size_t)n > keep)
		*trunc = true;
	if (keep)
		pve_buf_append(b, buf, (size_t)n < keep ? (size_t)n : keep);
	return true;
}

/* A command's exit code as a shell gives it: 128 + the signal that ended it. */
static int exit_code(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Feeds the input and reads both outputs until they end or the time is up. */
static void exec_io(exec_job *j, pid_t pid, int fd_in, int fd_out, int fd_err)
{
	size_t in_off = 0, in_len = j->input ? strlen(j->input) : 0;
	double deadline = mono() + j->timeout_s;
	if (fd_in >= 0)
		(void)fcntl(fd_in, F_SETFL, O_NONBLOCK);
	if (fd_in >= 0 && in_len == 0)
		close_fd(&fd_in);
	while (fd_out >= 0 || fd_err >= 0) {
		struct pollfd p[3] = { { fd_out, POLLIN, 0 },
				       { fd_err, POLLIN, 0 },
				       { fd_in, POLLOUT, 0 } };
		double left = deadline - mono();
		if (left <= 0) {
			j->timed_out = true;
			kill_tree(pid);
			break;
		}
		int n = poll(p, 3, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p[0].revents && !drain(fd_out, &j->out, j->limit, &j->out_trunc))
			close_fd(&fd_out);
		if (p[1].revents && !drain(fd_err, &j->err, j->limit, &j->err_trunc))
			close_fd(&fd_err);
		if (p[2].revents & (POLLERR | POLLHUP)) {
			close_fd(&fd_in);
		} else if (p[2].revents & POLLOUT) {
			ssize_t w = write(fd_in, j->input + in_off, in_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len)
				close_fd(&fd_in);
		}
	}
	close_fd(&fd_in);
	close_fd(&fd_out);
	close_fd(&fd_err);
	int st = 0;
	/* the outputs ended: the command is ending too, unless it closed them itself */
	double stop = mono() + (j->timed_out ? 5 : j->timeout_s);
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
		if (mono() > stop) {
			j->timed_out = true;
			kill_tree(pid);
			stop = mono() + 5;
		}
		usleep(2000);
	}
	if (r < 0)
		j->exitcode = -1;
	else
		j->exitcode = exit_code(st);
	if (j->timed_out)
		j->exitcode = 124;
}

/* The job's command spawned with pipes for its input (when it has some) and outputs: 0 with its pid
 * and the parent's ends (*ret_in -1 without input), the child's ends closed; else j->error. */
static int job_spawn(exec_job *j, pid_t *ret_pid, int *ret_in, int *ret_out, int *ret_err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int r = 0;
	if ((j->input && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		r = pve_error_set(&j->error, errno, "pipe: %m");
	} else {
		_cleanup_free_ char *run = ct_run_dir(j->d);
		lxc_exec_opts o = { .argv = j->argv,
				    .env = j->env,
				    .cwd = j->cwd,
				    .uid = j->uid,
				    .gid = j->gid,
				    .fd_in = in[0],
				    .fd_out = out[1],
				    .fd_err = err[1] };
		r = lxc_exec_spawn(run, j->vmid, &o, ret_pid, &j->error);
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	if (r < 0) {
		close_fd(&in[1]);
		close_fd(&out[0]);
		close_fd(&err[0]);
		return r;
	}
	*ret_in = in[1];
	*ret_out = out[0];
	*ret_err = err[0];
	return 0;
}

/* Runs the job's command to its end (blocking: queue threads, task workers). */
static void exec_run(exec_job *j)
{
	pid_t pid;
	int in, out, err;
	if (job_spawn(j, &pid, &in, &out, &err) == 0)
		exec_io(j, pid, in, out, err);
}

int ct_exec_collect(pved *d, long long vmid, char *const *argv, unsigned timeout_s, size_t limit,
		    char **ret_out, int *ret_exitcode, pve_error **err)
{
	exec_job j = { .d = d, .vmid = vmid, .timeout_s = timeout_s, .limit = limit };
	j.argv = strv_new();
	for (char *const *a = argv; *a; a++)
		strv_push(&j.argv, xstrdup(*a));
	exec_run(&j);
	strv_free(j.argv);
	pve_buf_free(&j.err);
	if (j.error) {
		pve_buf_free(&j.out);
		*err = j.error;
		return -j.error->code;
	}
	*ret_out = j.out.data ? pve_buf_steal(&j.out) : xstrdup("");
	*ret_exitcode = j.exitcode;
	return 0;
}

/* Output as JSON text: valid UTF-8 as it is, other bytes as U+FFFD (a JSON string carries text). */
static cJSON *text_of(const pve_buf *b)
{
	pve_buf t = { 0 };
	size_t off = 0;
	while (off < b->len) {
		size_t ok = pve_utf8_valid_prefix(b->data + off, b->len - off);
		pve_buf_append(&t, b->data + off, ok);
		off += ok;
		if (off < b->len) {
			pve_buf_puts(&t, "\xef\xbf\xbd");
			off++;
		}
	}
	/* NUL bytes would end the C string: they are replaced too */
	for (size_t i = 0; i < t.len; i++)
		if (!t.data[i])
			t.data[i] = '?';
	cJSON *s = cJSON_CreateString(t.data ? t.data : "");
	pve_buf_free(&t);
	return s;
}

static void exec_done(void *arg)
{
	exec_job *j = arg;
	if (j->error) {
		pved_call_fail(j->c, j->error);
		j->error = NULL;
		return job_free(j);
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "exitcode", j->exitcode);
	cJSON_AddItemToObject(o, "out-data", text_of(&j->out));
	cJSON_AddItemToObject(o, "err-data", text_of(&j->err));
	if (j->out_trunc)
		cJSON_AddNumberToObject(o, "out-truncated", 1);
	if (j->err_trunc)
		cJSON_AddNumberToObject(o, "err-truncated", 1);
	if (j->timed_out)
		cJSON_AddNumberToObject(o, "timed-out", 1);
	pved_call_reply(j->c, o);
	job_free(j);
}

/* ---- the API's runs, on the loop ---------------------------------------------------------------- */

typedef struct exec_live {
	exec_job *j;
	pid_t pid;
	int pidfd, fd_in, fd_out, fd_err;
	size_t in_off, in_len;
	struct event *ev_in, *ev_out, *ev_err, *ev_exit, *timer;
	bool exited, killed;
	int status;
} exec_live;

static void live_close(struct event **ev, int *fd)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
	close_fd(fd);
}

/* The answer once the helper is reaped and both outputs have ended (or the time is up). */
static void live_maybe_done(exec_live *x, bool force)
{
	if (!x->exited || (!force && (x->fd_out >= 0 || x->fd_err >= 0)))
		return;
	exec_job *j = x->j;
	live_close(&x->ev_in, &x->fd_in);
	live_close(&x->ev_out, &x->fd_out);
	live_close(&x->ev_err, &x->fd_err);
	live_close(&x->ev_exit, &x->pidfd);
	event_free(x->timer);
	j->exitcode = exit_code(x->status);
	if (j->timed_out)
		j->exitcode = 124;
	free(x);
	exec_done(j);
}

/* A pipe of the command's output readable: what it has, kept up to the limit. */
static void live_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	exec_live *x = arg;
	exec_job *j = x->j;
	bool out = fd == x->fd_out;
	if (!drain(fd, out ? &j->out : &j->err, j->limit, out ? &j->out_trunc : &j->err_trunc)) {
		if (out)
			live_close(&x->ev_out, &x->fd_out);
		else
			live_close(&x->ev_err, &x->fd_err);
	}
	live_maybe_done(x, false);
}

static void live_in(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	exec_live *x = arg;
	ssize_t w = write(x->fd_in, x->j->input + x->in_off, x->in_len - x->in_off);
	if (w > 0)
		x->in_off += (size_t)w;
	if ((w < 0 && errno != EAGAIN && errno != EINTR) || x->in_off == x->in_len)
		live_close(&x->ev_in, &x->fd_in);
}

static void live_exit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	exec_live *x = arg;
	if (waitpid(x->pid, &x->status, WNOHANG) != x->pid)
		return;
	x->exited = true;
	live_close(&x->ev_exit, &x->pidfd);
	live_maybe_done(x, false);
}

/* Past the time: the helper and its command are killed; past five seconds more (something the
 * command left behind holds the outputs), the answer goes without the rest. */
static void live_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	exec_live *x = arg;
	if (!x->exited && !x->killed) {
		x->j->timed_out = true;
		x->killed = true;
		kill_tree(x->pid);
	} else if (x->exited) {
		x->j->timed_out = x->j->timed_out || x->killed;
		return live_maybe_done(x, true);
	} else {
		(void)kill(x->pid, SIGKILL);
	}
	struct timeval tv = { 5, 0 };
	evtimer_add(x->timer, &tv);
}

static void live_start(exec_job *j)
{
	pved *d = j->d;
	pid_t pid;
	int in, out, err;
	if (job_spawn(j, &pid, &in, &out, &err) < 0)
		return exec_done(j);
	int pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		/* (never on the kernels pved runs on: 5.3 and later) */
		pve_error_set(&j->error, errno, "pidfd_open: %m");
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		close_fd(&in);
		close_fd(&out);
		close_fd(&err);
		return exec_done(j);
	}
	exec_live *x = xcalloc(1, sizeof(*x));
	*x = (exec_live){ .j = j,
			  .pid = pid,
			  .pidfd = pidfd,
			  .fd_in = in,
			  .fd_out = out,
			  .fd_err = err,
			  .in_len = j->input ? strlen(j->input) : 0 };
	(void)fcntl(x->fd_out, F_SETFL, O_NONBLOCK);
	(void)fcntl(x->fd_err, F_SETFL, O_NONBLOCK);
	x->ev_out = event_new(d->base, x->fd_out, EV_READ | EV_PERSIST, live_read, x);
	x->ev_err = event_new(d->base, x->fd_err, EV_READ | EV_PERSIST, live_read, x);
	x->ev_exit = event_new(d->base, x->pidfd, EV_READ | EV_PERSIST, live_exit, x);
	x->timer = evtimer_new(d->base, live_timeout, x);
	event_add(x->ev_out, NULL);
	event_add(x->ev_err, NULL);
	event_add(x->ev_exit, NULL);
	struct timeval tv = { j->timeout_s, 0 };
	evtimer_add(x->timer, &tv);
	if (x->fd_in >= 0 && x->in_len) {
		(void)fcntl(x->fd_in, F_SETFL, O_NONBLOCK);
		x->ev_in = event_new(d->base, x->fd_in, EV_WRITE | EV_PERSIST, live_in, x);
		event_add(x->ev_in, NULL);
	} else {
		close_fd(&x->fd_in);
	}
}

static char **strings_of(const cJSON *a, const char *param, pve_error **err)
{
	char **v = strv_new();
	const cJSON *x;
	cJSON_ArrayForEach (x, a) {
		if (!cJSON_IsString(x)) {
			strv_free(v);
			pve_error_set_param(err, EINVAL, param, "items must be strings");
			return NULL;
		}
		strv_push(&v, xstrdup(x->valuestring));
	}
	return v;
}

/* ---- websocket=1: the command on a pty in a task, relayed as the consoles are ------------------- */

/* The listening socket is PVED_TASK_FD(0). args: {"vmid", "port", "authid", "path", "command"}. */
static int exec_task(pved *d, const cJSON *args, pve_error **err)
{
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	long long vmid = 0, port = 0;
	const char *authid = pve_json_str(args, "authid"), *path = pve_json_str(args, "path");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(args, "command");
	if (!pve_json_int(args, "vmid", &vmid) || !pve_json_int(args, "port", &port) || !authid ||
	    !path || !cJSON_IsArray(cmd))
		return pve_error_set(err, EINVAL,
				     "the exec task lacks its CT, port, user or command");
	_cleanup_strv_free_ char **argv = strings_of(cmd, "command", err);
	if (!argv)
		return -EINVAL;
	printf("waiting on port %lld for %s\n", port, authid);
	fflush(stdout);
	_cleanup_close_ int fd = -1;
	pve_buf in = { 0 };
	int r = pved_console_xterm_accept(d, lfd, (int)port, authid, path, &fd, &in, err);
	if (r < 0)
		return r;
	int master = -1, slave = -1;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
		pve_buf_free(&in);
		return pve_error_set(err, errno, "openpty: %m");
	}
	(void)fcntl(master, F_SETFD, FD_CLOEXEC);
	_cleanup_free_ char *run = ct_run_dir(d);
	lxc_exec_opts o = { .argv = argv, .fd_in = slave, .fd_out = slave, .fd_err = slave };
	pid_t pid;
	r = lxc_exec_spawn(run, vmid, &o, &pid, err);
	close(slave);
	if (r < 0) {
		close(master);
		pve_buf_free(&in);
		return r;
	}
	pved_console_xterm_relay(fd, master, &in);
	pve_buf_free(&in);
	close(master);
	kill_tree(pid);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	printf("exit code %d\n", exit_code(st));
	return 0;
}

static void exec_websocket(pved_call *c, long long vmid)
{
	pved *d = c->d;
	pve_error *err = NULL;
	int port;
	_cleanup_close_ int lfd = pved_console_listen(&port, &err);
	if (lfd < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/vms/%lld", vmid);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "vmid", (double)vmid);
	cJSON_AddNumberToObject(args, "port", port);
	cJSON_AddStringToObject(args, "authid", c->authid);
	cJSON_AddStringToObject(args, "path", path);
	cJSON_AddItemToObject(
		args, "command",
		cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c->params, "command"), true));
	char id[32];
	snprintf(id, sizeof(id), "%lld", vmid);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start_fds(d, "vzexec", id, c->authid, args, &lfd, 1, &upid, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *ticket = pved_auth_vncticket(d, c->authid, path, port);
	pved_console_reply(c, port, ticket, upid, false, NULL);
}

static void h_exec(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_free_ char *path = ct_conf_path(d, vmid);
	if (!pve_store_exists(d->store, path)) {
		pve_error_set(&err, ENOENT, "Configuration file '%s' does not exist", path);
		return pved_call_fail(c, err);
	}
	if (!ct_running(d, vmid, NULL)) {
		pve_error_set(&err, EINVAL, "CT %lld not running", vmid);
		return pved_call_fail(c, err);
	}
	exec_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->c = c;
	j->vmid = vmid;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(c->params, "command");
	j->argv = strings_of(cmd, "command", &err);
	if (j->argv && (!j->argv[0] || !j->argv[0][0]))
		pve_error_set_param(&err, EINVAL, "command", "no command given");
	else if (j->argv && strv_length(j->argv) > LXC_MAX_ARGS)
		pve_error_set_param(&err, EINVAL, "command", "more than %d items", LXC_MAX_ARGS);
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(c->params, "env");
	if (!err && env) {
		j->env = strings_of(env, "env", &err);
		if (j->env && strv_length(j->env) > LXC_MAX_ENV)
			pve_error_set_param(&err, EINVAL, "env", "more than %d items", LXC_MAX_ENV);
	}
	if (err) {
		job_free(j);
		return pved_call_fail(c, err);
	}
	if (pved_call_int(c, "websocket", 0)) {
		job_free(j);
		return exec_websocket(c, vmid);
	}
	const char *cwd = pved_call_str(c, "cwd"), *user = pved_call_str(c, "user");
	const char *input = pved_call_str(c, "input");
	j->cwd = cwd ? xstrdup(cwd) : NULL;
	j->input = input ? xstrdup(input) : NULL;
	if (user && !streq(user, "root")) {
		unsigned long uid = strtoul(user, NULL, 10);
		const char *colon = strchr(user, ':');
		unsigned long gid = colon ? strtoul(colon + 1, NULL, 10) : uid;
		if (uid >= LXC_UNPRIV_COUNT || gid >= LXC_UNPRIV_COUNT) {
			job_free(j);
			pve_error_set_param(&err, EINVAL, "user", "ids inside are below %u",
					    LXC_UNPRIV_COUNT);
			return pved_call_fail(c, err);
		}
		j->uid = (uid_t)uid;
		j->gid = (gid_t)gid;
	}
	j->timeout_s = (unsigned)pved_call_int(c, "timeout", EXEC_DEFAULT_TIMEOUT);
	j->limit = (size_t)pved_call_int(c, "output-limit", EXEC_DEFAULT_LIMIT);
	live_start(j);
}

const pved_task_kind pved_tasks_lxc_exec[] = {
	{ "vzexec", exec_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_exec[] = {
	{ "lxc_exec", h_exec },
	{ NULL, NULL },
};
