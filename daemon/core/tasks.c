/* Tasks: workers (`pved --task-worker`, spawned) with a UPID, their logs and the active and index files, as Proxmox keeps them. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "daemon/core/tasks-internal.h"

#define TASKS_DIR "var/log/pve/tasks"
#define KILL_GRACE_SEC 5
/* The tail of a log read for its status line, as Proxmox reads it. */
#define STATUS_TAIL 4096
/* Index files past this are read from their last part only. */
#define MAX_INDEX_READ (8 * 1024 * 1024)

/* A worker spawned ahead, waiting for its order on the pipe: a task starts without waiting for an exec
 * and a dynamic link (several ms), and the next one is spawned after the answer has gone. */
typedef struct warm_worker {
	pid_t pid; /* 0: none */
	uint64_t pstart;
	int order_fd; /* the pipe's write end */
} warm_worker;

struct pved_tasks {
	pved *d;
	char *dir; /* <root>/var/log/pve/tasks */
	struct event *sigchld;
	pved_task **v;
	size_t n, cap;
	warm_worker warm;
	struct event *rewarm; /* spawns the next warm worker off the path of the call that used one */
};

static void warm_end(pved_tasks *t);
static void rewarm_cb(evutil_socket_t fd, short what, void *arg);

typedef struct kill_ctx {
	pved *d;
	char *upid;
} kill_ctx;

/* The warning count of this process when it is a task worker: pved_task_warn has no context to keep it
 * in, and a worker runs one task. */
static unsigned worker_warnings;

/* ---- small helpers ---- */

void pved_task_free(pved_task *t)
{
	if (!t)
		return;
	if (t->kill_timer) {
		kill_ctx *k = event_get_callback_arg(t->kill_timer);
		event_free(t->kill_timer);
		if (k) {
			free(k->upid);
			free(k);
		}
	}
	free(t->upid_str);
	free(t->status);
	free(t);
}

/* Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot, which tells a process from a
 * later one with the same pid. */
static int proc_starttime(pid_t pid, uint64_t *ret)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[1024];
	ssize_t k = read(fd, buf, sizeof(buf) - 1);
	if (k <= 0)
		return -EIO;
	buf[k] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return -EIO;
	p++;
	/* p is before field 3 (state); field 22 is 20 fields on */
	for (int field = 3; field < 22; field++) {
		p += strspn(p, " ");
		p += strcspn(p, " ");
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EIO;
	*ret = v;
	return 0;
}

static bool process_matches(const pve_upid *u)
{
	uint64_t st;
	return u->pid > 0 && proc_starttime((pid_t)u->pid, &st) == 0 && st == u->pstart;
}

char *pved_task_log_path(const pved *d, const pve_upid *u, const char *upid_str)
{
	_cleanup_free_ char *rel = xasprintf("%s/%X/%s", TASKS_DIR, u->starttime & 0xf, upid_str);
	return pved_path(d, rel);
}

char *pved_task_read_status(const char *log_path)
{
	_cleanup_close_ int fd = open(log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return xasprintf("unable to open file - %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return xstrdup("unexpected status");
	off_t off = st.st_size > STATUS_TAIL ? st.st_size - STATUS_TAIL : 0;
	char buf[STATUS_TAIL + 1];
	ssize_t k = pread(fd, buf, STATUS_TAIL, off);
	if (k <= 0)
		return xasprintf("unable to read tail (got %zd bytes)", k < 0 ? (ssize_t)0 : k);
	buf[k] = '\0';
	/* the last non-empty line */
	while (k > 0 && buf[k - 1] == '\n')
		buf[--k] = '\0';
	char *line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	if (strcmp(line, "TASK OK") == 0)
		return xstrdup("OK");
	if (strncmp(line, "TASK ERROR: ", 12) == 0 && line[12])
		return xstrdup(line + 12);
	if (strncmp(line, "TASK WARNINGS: ", 15) == 0 && line[15] &&
	    strspn(line + 15, "0123456789") == strlen(line + 15))
		return xstrdup(line + 5);
	return xstrdup("unexpected status");
}

const char *pved_task_status_type(const char *status)
{
	if (!status || !*status || strcmp(status, "unexpected status") == 0)
		return "unknown";
	if (strcmp(status, "OK") == 0)
		return "ok";
	if (strncmp(status, "WARNINGS: ", 10) == 0 && status[10] &&
	    strspn(status + 10, "0123456789") == strlen(status + 10))
		return "warning";
	return "error";
}

cJSON *pved_task_to_json(const pved_task *t)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "upid", t->upid_str);
	cJSON_AddStringToObject(o, "node", t->upid.node);
	cJSON_AddNumberToObject(o, "pid", t->upid.pid);
	cJSON_AddNumberToObject(o, "pstart", (double)t->upid.pstart);
	cJSON_AddNumberToObject(o, "starttime", t->upid.starttime);
	cJSON_AddStringToObject(o, "type", t->upid.type);
	cJSON_AddStringToObject(o, "id", t->upid.id);
	cJSON_AddStringToObject(o, "user", t->upid.user);
	if (!t->running) {
		cJSON_AddNumberToObject(o, "endtime", (double)t->endtime);
		cJSON_AddStringToObject(o, "status", t->status ? t->status : "unexpected status");
	}
	return o;
}

/* ---- the table ---- */

static pved_task *find(const pved_tasks *t, const char *upid)
{
	for (size_t i = t->n; i-- > 0;)
		if (strcmp(t->v[i]->upid_str, upid) == 0)
			return t->v[i];
	return NULL;
}

/* Appends; past the limit, the oldest finished task is forgotten (the index file still has it). */
static void add(pved_tasks *t, pved_task *task)
{
	if (t->n >= PVED_TASKS_MAX_ARCHIVE) {
		for (size_t i = 0; i < t->n; i++)
			if (!t->v[i]->running) {
				pved_task_free(t->v[i]);
				memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
				t->n--;
				break;
			}
	}
	if (t->n + 1 > t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = task;
}

size_t pved_tasks_count(const pved *d)
{
	return d->tasks ? d->tasks->n : 0;
}

const pved_task *pved_tasks_nth(const pved *d, size_t i)
{
	return d->tasks && i < d->tasks->n ? d->tasks->v[i] : NULL;
}

const pved_task *pved_task_find(const pved *d, const char *upid)
{
	return d->tasks ? find(d->tasks, upid) : NULL;
}

static int cmp_endtime_desc(const void *a, const void *b)
{
	const pved_task *x = *(pved_task *const *)a, *y = *(pved_task *const *)b;
	return (x->endtime < y->endtime) - (x->endtime > y->endtime);
}

/* The finished tasks the active file lists: the most recently ended ones. */
static size_t recent_finished(const pved_tasks *t, pved_task **out, size_t max)
{
	size_t n = 0;
	/* the table is in order of recording, so the last finished ones are near its end */
	for (size_t i = t->n; i-- > 0 && n < max * 4;)
		if (!t->v[i]->running)
			out[n++] = t->v[i];
	qsort(out, n, sizeof(*out), cmp_endtime_desc);
	return n < max ? n : max;
}

bool pved_task_is_active(const pved *d, const pved_task *task)
{
	if (task->running)
		return true;
	pved_task *recent[PVED_TASKS_ACTIVE_RECENT * 4];
	size_t n = recent_finished(d->tasks, recent, PVED_TASKS_ACTIVE_RECENT);
	for (size_t i = 0; i < n; i++)
		if (recent[i] == task)
			return true;
	return false;
}

/* Rewrites the active file (atomically): the running tasks, then recently finished ones. */
static void write_active(pved_tasks *t)
{
	pve_buf b = { 0 };
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->running)
			pve_buf_printf(&b, "%s\n", t->v[i]->upid_str);
	pved_task *recent[PVED_TASKS_ACTIVE_RECENT * 4];
	size_t n = recent_finished(t, recent, PVED_TASKS_ACTIVE_RECENT);
	for (size_t i = 0; i < n; i++)
		pve_buf_printf(&b, "%s %08llX %s 1\n", recent[i]->upid_str,
			       (unsigned long long)recent[i]->endtime, recent[i]->status);
	_cleanup_free_ char *path = xasprintf("%s/active", t->dir);
	_cleanup_free_ char *tmp = xasprintf("%s/.active.tmp.%d", t->dir, (int)getpid());
	_cleanup_close_ int fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	bool ok = fd >= 0;
	for (size_t off = 0; ok && off < b.len;) {
		ssize_t k = write(fd, b.data + off, b.len - off);
		if (k < 0 && errno == EINTR)
			continue;
		ok = k > 0;
		off += k > 0 ? (size_t)k : 0;
	}
	if (ok && rename(tmp, path) == 0) {
		pve_buf_free(&b);
		return;
	}
	log_warning("can't write %s: %m", path);
	if (fd >= 0)
		unlink(tmp);
	pve_buf_free(&b);
}

static void append_index(pved_tasks *t, const pved_task *task)
{
	_cleanup_free_ char *path = xasprintf("%s/index", t->dir);
	_cleanup_free_ char *line = xasprintf("%s %08llX %s\n", task->upid_str,
					      (unsigned long long)task->endtime, task->status);
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	/* one write of a short line to an O_APPEND file: lines never interleave */
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		log_warning("can't append to %s: %m", path);
}

static void append_log(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	/* the final line must start a line of its own */
	struct stat st;
	char last = '\n';
	if (fstat(fd, &st) == 0 && st.st_size > 0)
		(void)!pread(fd, &last, 1, st.st_size - 1);
	_cleanup_free_ char *s = xasprintf("%s%s\n", last == '\n' ? "" : "\n", text);
	(void)!write(fd, s, strlen(s));
}

/* A task's start and end in the cluster log, as pvedaemon writes them there ("starting task UPID", "end
 * task UPID STATUS"), by the task's user. pvecfs answers from RAM, so the call is fine on the loop; a
 * store on plain files keeps no cluster log. */
static void log_to_cluster(pved *d, int priority, const char *user, const char *msg)
{
	_cleanup_error_ pve_error *err = NULL;
	if (d->store && pve_store_log(d->store, "pved", user, priority, msg, &err) < 0)
		log_warning("can't add to the cluster log: %s", err->message);
}

/* The task has ended: its status from its log, into the index and the active file. */
static void finish(pved_tasks *t, pved_task *task, int wstatus, bool have_wstatus)
{
	pved *d = t->d;
	_cleanup_free_ char *log = pved_task_log_path(d, &task->upid, task->upid_str);
	char *status = pved_task_read_status(log);
	if (have_wstatus && WIFSIGNALED(wstatus) && strcmp(status, "unexpected status") == 0) {
		/* killed before it could write its last line: say so there, as a Proxmox worker would */
		int sig = WTERMSIG(wstatus);
		free(status);
		if (sig == SIGTERM || sig == SIGINT)
			status = xstrdup("received interrupt");
		else
			status = xasprintf("killed by signal %d (%s)", sig, strsignal(sig));
		_cleanup_free_ char *line = xasprintf("TASK ERROR: %s", status);
		append_log(log, line);
	}
	task->running = false;
	task->endtime = time(NULL);
	struct stat st;
	if (!have_wstatus && stat(log, &st) == 0 && st.st_mtime < task->endtime)
		/* it ended unwatched: its last log line is the best guess */
		task->endtime = st.st_mtime;
	free(task->status);
	task->status = status;
	if (task->kill_timer)
		event_del(task->kill_timer);
	append_index(t, task);
	write_active(t);
	log_debug("task %s ended: %s", task->upid_str, status);
	/* Proxmox: err for a task that failed, info for one that ended OK or with warnings */
	const char *type = pved_task_status_type(status);
	_cleanup_free_ char *msg = xasprintf("end task %s %s", task->upid_str, status);
	log_to_cluster(d, streq(type, "ok") || streq(type, "warning") ? PVE_LOG_INFO : PVE_LOG_ERR,
		       task->upid.user, msg);
	pved_areas_task_ended(d, task->upid.type, task->upid.id);
}

void pved_tasks_refresh(pved *d)
{
	pved_tasks *t = d->tasks;
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		pved_task *task = t->v[i];
		if (task->running && !task->ours && !process_matches(&task->upid))
			finish(t, task, 0, false);
	}
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	pved_tasks *t = arg;
	/* the worker spawned ahead died before it had a task: the next task spawns its own */
	if (t->warm.pid && waitpid(t->warm.pid, NULL, WNOHANG) == t->warm.pid) {
		close(t->warm.order_fd);
		t->warm = (warm_worker){ 0 };
	}
	for (size_t i = 0; i < t->n; i++) {
		pved_task *task = t->v[i];
		if (!task->running || !task->ours)
			continue;
		int st;
		pid_t r = waitpid((pid_t)task->upid.pid, &st, WNOHANG);
		if (r == (pid_t)task->upid.pid)
			finish(t, task, st, true);
		else if (r < 0 && errno == ECHILD) /* not ours after all (reaped elsewhere) */
			finish(t, task, 0, false);
	}
}

/* ---- loading after a restart ---- */

pved_task *pved_task_parse_line(char *line, bool active)
{
	char *sp = strchr(line, ' ');
	if (sp)
		*sp = '\0';
	pve_upid u;
	if (pve_upid_parse(line, &u, NULL) < 0)
		return NULL;
	pved_task *task = xcalloc(1, sizeof(*task));
	task->upid_str = xstrdup(line);
	task->upid = u;
	if (!sp) {
		task->running = true;
		return task;
	}
	char *end;
	errno = 0;
	unsigned long long endtime = strtoull(sp + 1, &end, 16);
	if (errno || end == sp + 1 || *end != ' ' || !end[1]) {
		pved_task_free(task);
		return NULL;
	}
	char *status = end + 1;
	size_t len = strlen(status);
	if (active && len > 2 && status[len - 2] == ' ' &&
	    (status[len - 1] == '0' || status[len - 1] == '1'))
		status[len - 2] = '\0';
	task->endtime = (time_t)endtime;
	task->status = xstrdup(status);
	return task;
}

/* Reads a file of lines, at most MAX_INDEX_READ bytes from its end. */
static char *read_tail(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	off_t off = st.st_size > MAX_INDEX_READ ? st.st_size - MAX_INDEX_READ : 0;
	pve_buf b = { 0 };
	char chunk[65536];
	for (;;) {
		ssize_t k = pread(fd, chunk, sizeof(chunk), off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || b.len + (size_t)k > MAX_INDEX_READ)
			break;
		pve_buf_append(&b, chunk, (size_t)k);
		off += k;
	}
	if (!b.data)
		pve_buf_append(&b, "", 0);
	char *s = pve_buf_steal(&b);
	if (st.st_size > MAX_INDEX_READ) { /* drop the partial first line */
		char *nl = strchr(s, '\n');
		memmove(s, nl ? nl + 1 : s + strlen(s), strlen(nl ? nl + 1 : s + strlen(s)) + 1);
	}
	return s;
}

static void load(pved_tasks *t)
{
	_cleanup_free_ char *index_path = xasprintf("%s/index", t->dir);
	_cleanup_free_ char *active_path = xasprintf("%s/active", t->dir);
	_cleanup_free_ char *index = read_tail(index_path);
	for (char *line = index, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		pved_task *task = pved_task_parse_line(line, false);
		if (!task)
			continue;
		pved_task *old = find(t, task->upid_str);
		if (old) {
			pved_task_free(task);
			continue;
		}
		add(t, task);
	}
	_cleanup_free_ char *active = read_tail(active_path);
	bool changed = false;
	for (char *line = active, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		pved_task *task = pved_task_parse_line(line, true);
		if (!task)
			continue;
		if (find(t, task->upid_str)) { /* already archived */
			pved_task_free(task);
			continue;
		}
		add(t, task);
		if (!task->running) {
			append_index(t, task);
			changed = true;
		} else if (!process_matches(&task->upid)) {
			/* it ended while no pved watched it */
			finish(t, task, 0, false);
			changed = true;
		}
	}
	if (changed)
		write_active(t);
}

/* ---- init and free ---- */

int pved_tasks_init(pved *d, pve_error **err)
{
	pved_tasks *t = xcalloc(1, sizeof(*t));
	t->d = d;
	t->dir = pved_path(d, TASKS_DIR);
	int r = 0;
	for (unsigned i = 0; r == 0 && i < 16; i++) {
		_cleanup_free_ char *sub = xasprintf("%s/%X", t->dir, i);
		r = pve_mkdir_p(sub, 0755, err);
	}
	if (r < 0) {
		free(t->dir);
		free(t);
		return r;
	}
	t->sigchld = evsignal_new(d->base, SIGCHLD, sigchld_cb, t);
	if (!t->sigchld || evsignal_add(t->sigchld, NULL) < 0) {
		if (t->sigchld)
			event_free(t->sigchld);
		free(t->dir);
		free(t);
		return pve_error_set(err, EIO, "can't watch SIGCHLD for tasks");
	}
	t->rewarm = event_new(d->base, -1, 0, rewarm_cb, t);
	if (t->rewarm) /* the first task too finds one waiting */
		event_active(t->rewarm, 0, 0);
	d->tasks = t;
	load(t);
	return 0;
}

void pved_tasks_free(pved_tasks *t)
{
	if (!t)
		return;
	warm_end(t);
	if (t->rewarm)
		event_free(t->rewarm);
	if (t->sigchld)
		event_free(t->sigchld);
	for (size_t i = 0; i < t->n; i++)
		pved_task_free(t->v[i]);
	free(t->v);
	free(t->dir);
	if (t->d && t->d->tasks == t)
		t->d->tasks = NULL;
	free(t);
}

/* ---- the worker ---- */

void pved_task_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	worker_warnings++;
	fflush(stdout);
	fprintf(stderr, "WARN: %s\n", msg);
	fflush(stderr);
}

/* ---- the worker: `pved --task-worker` ---- */

static const pved_task_kind *find_kind(const pved_area *const *areas, const char *type)
{
	for (const pved_area *const *a = areas; a && *a; a++)
		for (const pved_task_kind *const *t = (*a)->tasks; t && *t; t++)
			for (const pved_task_kind *k = *t; k->type; k++)
				if (strcmp(k->type, type) == 0)
					return k;
	return NULL;
}

/* The task's parameters from stdin, as the parent wrote them: {root, node, upid, debug, args}. */
static cJSON *read_order(bool *ret_empty)
{
	char *buf = xmalloc(PVED_TASK_MAX_ARGS + 1);
	size_t len = 0;
	for (;;) {
		ssize_t k = read(STDIN_FILENO, buf + len, PVED_TASK_MAX_ARGS + 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
		if (len > PVED_TASK_MAX_ARGS)
			break;
	}
	cJSON *o = len > 0 && len <= PVED_TASK_MAX_ARGS ? cJSON_ParseWithLength(buf, len) : NULL;
	free(buf);
	*ret_empty = len == 0;
	return o;
}

static const char *order_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Ends the worker: the final line after whatever the task printed, on a line of its own. */
static _Noreturn void worker_exit(int r, pve_error *err)
{
	fflush(stdout);
	fflush(stderr);
	_cleanup_free_ char *final = NULL;
	if (r < 0) {
		_cleanup_free_ char *msg =
			xstrdup(err && err->message ? err->message : strerror(-r));
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		final = xasprintf("TASK ERROR: %s", msg);
	} else if (worker_warnings) {
		final = xasprintf("TASK WARNINGS: %u", worker_warnings);
	} else {
		final = xstrdup("TASK OK");
	}
	struct stat st;
	char last = '\n';
	if (fstat(STDOUT_FILENO, &st) == 0 && st.st_size > 0)
		(void)!pread(STDOUT_FILENO, &last, 1, st.st_size - 1);
	_cleanup_free_ char *line = xasprintf("%s%s\n", last == '\n' ? "" : "\n", final);
	(void)!write(STDOUT_FILENO, line, strlen(line));
	_exit(r < 0 ? 1 : 0);
}

_Noreturn void pved_task_worker_main(const pved_area *const *areas)
{
	/* spawned through /proc/self/exe, it would be "exe" in ps and top */
	(void)prctl(PR_SET_NAME, "pved-task", 0, 0, 0);
	bool empty;
	cJSON *order = read_order(&empty);
	/* A worker spawned ahead whose pved ended before it had a task: nothing to say. */
	if (empty)
		_exit(0);
	const char *root = order_str(order, "root"), *node = order_str(order, "node");
	const char *upid = order_str(order, "upid");
	pve_upid u;
	if (!root || !node || !upid || pve_upid_parse(upid, &u, NULL) < 0) {
		fprintf(stderr, "pved --task-worker: no task on stdin (pved starts it)\n");
		_exit(127);
	}
	bool debug = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(order, "debug"));
	pve_log_init("pved-task", true, debug ? PVE_LOG_DEBUG : PVE_LOG_INFO);
	pved d = { .areas = areas, .root = xstrdup(root), .node = xstrdup(node) };
	_cleanup_free_ char *log = pved_task_log_path(&d, &u, upid);
	/* read too: the final line looks at its last byte */
	int fd = open(log, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		_exit(127);
	close(fd);
	close(null);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);

	pve_error *err = NULL;
	const pved_task_kind *kind = find_kind(areas, u.type);
	int r = kind ? 0 : pve_error_set(&err, EINVAL, "unknown task type '%s'", u.type);
	if (r == 0)
		r = pve_store_open(d.root, &d.store, &err);
	if (r == 0)
		r = kind->run(&d, cJSON_GetObjectItemCaseSensitive(order, "args"), &err);
	worker_exit(r, err);
}

static bool valid_word(const char *s, size_t max, bool empty_ok)
{
	if (!s || (!*s && !empty_ok) || strlen(s) >= max)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == ':' || *p == '/')
			return false;
	return true;
}

int pved_task_start(pved *d, const char *type, const char *id, const char *authid, cJSON *args,
		    char **ret_upid, pve_error **err)
{
	return pved_task_start_fds(d, type, id, authid, args, NULL, 0, ret_upid, err);
}

/* Spawns `pved --task-worker` (the binary this process runs, through /proc/self/exe) in a session of
 * its own, so stopping the task stops everything it started, with the read end of a new pipe as stdin:
 * *ret_order_fd is the write end. */
static int spawn_worker(const int *fds, size_t n_fds, pid_t *ret_pid, uint64_t *ret_pstart,
			int *ret_order_fd, pve_error **err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return pve_error_set(err, errno, "can't start task: %m");
	_cleanup_close_ int rfd = pipefd[0], wfd = pipefd[1];
	char *const argv[] = { (char *)"pved", (char *)"--task-worker", NULL };
	pve_spawn_opts so = { .path = "/proc/self/exe",
			      .argv = argv,
			      .stdin_fd = rfd,
			      .stdout_fd = -1,
			      .stderr_fd = -1,
			      .fds = fds,
			      .n_fds = n_fds,
			      .new_session = true };
	pid_t pid;
	int r = pve_spawn(&so, &pid, err);
	if (r < 0)
		return r;
	/* the child is not reaped before we return: it's there */
	r = proc_starttime(pid, ret_pstart);
	if (r < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return pve_error_set(err, -r, "can't start task: %s", strerror(-r));
	}
	*ret_pid = pid;
	*ret_order_fd = TAKE_FD(wfd);
	return 0;
}

/* Ends the warm worker: with its pipe closed, it reads the end and exits at once. */
static void warm_end(pved_tasks *t)
{
	if (!t->warm.pid)
		return;
	close(t->warm.order_fd);
	waitpid(t->warm.pid, NULL, 0);
	t->warm = (warm_worker){ 0 };
}

static void rewarm_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved_tasks *t = arg;
	if (t->warm.pid)
		return;
	_cleanup_error_ pve_error *err = NULL;
	warm_worker w;
	if (spawn_worker(NULL, 0, &w.pid, &w.pstart, &w.order_fd, &err) < 0) {
		log_warning("no task worker spawned ahead: %s", err->message);
		return;
	}
	t->warm = w;
}

int pved_task_start_fds(pved *d, const char *type, const char *id, const char *authid, cJSON *args,
			const int *fds, size_t n_fds, char **ret_upid, pve_error **err)
{
	_cleanup_json_ cJSON *order = cJSON_CreateObject();
	cJSON_AddItemToObject(order, "args", args ? args : cJSON_CreateObject());
	pved_tasks *t = d->tasks;
	if (!t)
		return pve_error_set(err, EINVAL, "tasks can't be started here");
	if (!id)
		id = "";
	pve_upid u = { 0 };
	if (!valid_word(type, sizeof(u.type), false) || !valid_word(id, sizeof(u.id), true) ||
	    !valid_word(authid, sizeof(u.user), false) ||
	    !valid_word(d->node, sizeof(u.node), false))
		return pve_error_set(err, EINVAL, "invalid task type, id, user or node name");
	if (!find_kind(d->areas, type))
		return pve_error_set(err, EINVAL, "no area runs tasks of type '%s'", type);

	/* The order is written at once into an empty pipe, which holds 64 KiB: the write never waits. A
	 * task handed fds needs a worker spawned with them; any other takes the one spawned ahead. */
	time_t now = time(NULL);
	pid_t pid;
	int r;
	_cleanup_close_ int wfd = -1;
	if (n_fds == 0 && t->warm.pid) {
		pid = t->warm.pid;
		u.pstart = t->warm.pstart;
		wfd = t->warm.order_fd;
		t->warm = (warm_worker){ 0 };
	} else if ((r = spawn_worker(fds, n_fds, &pid, &u.pstart, &wfd, err)) < 0) {
		return r;
	}
	if (t->rewarm)
		event_active(t->rewarm, 0, 0);

	snprintf(u.node, sizeof(u.node), "%s", d->node);
	u.pid = (uint32_t)pid;
	u.starttime = (uint32_t)now;
	snprintf(u.type, sizeof(u.type), "%s", type);
	snprintf(u.id, sizeof(u.id), "%s", id);
	snprintf(u.user, sizeof(u.user), "%s", authid);
	_cleanup_free_ char *upid = pve_upid_format(&u);
	_cleanup_free_ char *log = pved_task_log_path(d, &u, upid);
	_cleanup_close_ int lfd =
		open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	int e = lfd < 0 ? errno : 0;
	if (!e) {
		cJSON_AddStringToObject(order, "root", d->root);
		cJSON_AddStringToObject(order, "node", d->node);
		cJSON_AddStringToObject(order, "upid", upid);
		cJSON_AddBoolToObject(order, "debug", pve_log_enabled(PVE_LOG_DEBUG));
		_cleanup_free_ char *text = cJSON_PrintUnformatted(order);
		size_t len = text ? strlen(text) : 0;
		if (len > PVED_TASK_MAX_ARGS)
			e = E2BIG;
		else if (pve_write_all(wfd, text, len) < 0)
			e = errno;
	}
	if (e) {
		/* The worker has run nothing of the task: it waits for the order. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (lfd >= 0)
			unlink(log);
		return pve_error_set(err, e, "can't start task: %s",
				     e == E2BIG ? "its parameters are too large" : strerror(e));
	}
	close(TAKE_FD(wfd));
	pved_task *task = xcalloc(1, sizeof(*task));
	task->upid_str = TAKE_PTR(upid);
	task->upid = u;
	task->running = true;
	task->ours = true;
	add(t, task);
	write_active(t);
	log_debug("task %s started", task->upid_str);
	_cleanup_free_ char *msg = xasprintf("starting task %s", task->upid_str);
	log_to_cluster(d, PVE_LOG_INFO, task->upid.user, msg);
	if (ret_upid)
		*ret_upid = xstrdup(task->upid_str);
	return 0;
}

/* ---- stopping ---- */

static void kill_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	kill_ctx *k = arg;
	pved_tasks *t = k->d->tasks;
	pved_task *task = t ? find(t, k->upid) : NULL;
	if (task && task->running && (task->ours || process_matches(&task->upid))) {
		log_info("task %s did not stop in %d s: SIGKILL", task->upid_str, KILL_GRACE_SEC);
		kill(-(pid_t)task->upid.pid, SIGKILL);
	}
}

int pved_task_stop(pved *d, const char *upid, pve_error **err)
{
	pved_tasks *t = d->tasks;
	pved_task *task = t ? find(t, upid) : NULL;
	if (!task)
		return pve_error_set(err, ENOENT, "no such task");
	if (!task->running)
		return 0;
	if (!task->ours && !process_matches(&task->upid)) {
		pved_tasks_refresh(d);
		return 0;
	}
	if (kill(-(pid_t)task->upid.pid, SIGTERM) < 0 && errno != ESRCH)
		return pve_error_set(err, errno, "can't stop task: %m");
	if (!task->kill_timer) {
		kill_ctx *k = xcalloc(1, sizeof(*k));
		k->d = d;
		k->upid = xstrdup(upid);
		task->kill_timer = evtimer_new(d->base, kill_timer_cb, k);
		if (!task->kill_timer) {
			free(k->upid);
			free(k);
			return 0;
		}
	}
	struct timeval tv = { .tv_sec = KILL_GRACE_SEC };
	evtimer_add(task->kill_timer, &tv);
	return 0;
}

/* Proxmox's check_task_user: a user owns the tasks of their tokens too; a token only its own. Whole
 * identities are compared: the task's user is split only when it is a real token id. */
bool pved_task_owned_by(const char *authid, const char *task_user)
{
	if (!authid)
		return false;
	if (strcmp(task_user, authid) == 0)
		return true;
	return pve_userid_valid(authid) && pve_tokenid_valid(task_user) &&
	       pve_authid_of_user(task_user, authid);
}

int pved_task_cmp_newest(const void *a, const void *b)
{
	const pved_task *x = *(const pved_task *const *)a, *y = *(const pved_task *const *)b;
	if (x->upid.starttime != y->upid.starttime)
		return x->upid.starttime < y->upid.starttime ? 1 : -1;
	return strcmp(y->upid_str, x->upid_str);
}
