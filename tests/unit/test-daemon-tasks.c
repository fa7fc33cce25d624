/* Tests of pved's tasks: real workers (this test program spawned as `--task-worker`, as pved spawns
 * itself), their logs, the index and active files, a restart, and workers started while other threads
 * are busy. */
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon/core/tasks-internal.h"
#include "tests/unit/test.h"

static const pved_area *const test_areas[2];

static pved *setup(void)
{
	pved *d = xcalloc(1, sizeof(*d));
	d->areas = test_areas;
	d->base = event_base_new();
	d->root = xstrdup(test_tmpdir());
	d->node = xstrdup("n1");
	_cleanup_error_ pve_error *err = NULL;
	check_int(pve_store_open(d->root, &d->store, &err), 0);
	check_int(pved_tasks_init(d, &err), 0);
	check(d->tasks != NULL);
	return d;
}

static void teardown(pved *d)
{
	pved_tasks_free(d->tasks);
	pve_store_free(d->store);
	event_base_free(d->base);
	free(d->root);
	free(d->node);
	free(d);
}

static void loop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	*(bool *)arg = true;
}

/* Runs the loop until the task has ended (or max_sec passed); true if it ended. */
static bool wait_task(pved *d, const char *upid, int max_sec)
{
	bool timed_out = false;
	struct event *tmo = evtimer_new(d->base, loop_timeout_cb, &timed_out);
	struct timeval tv = { .tv_sec = max_sec };
	evtimer_add(tmo, &tv);
	for (;;) {
		const pved_task *t = pved_task_find(d, upid);
		if (!t || !t->running || timed_out)
			break;
		event_base_loop(d->base, EVLOOP_ONCE);
	}
	event_free(tmo);
	const pved_task *t = pved_task_find(d, upid);
	return t && !t->running;
}

static char *slurp(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	pve_buf b = { 0 };
	char buf[4096];
	ssize_t k;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		pve_buf_append(&b, buf, (size_t)k);
	if (!b.data)
		pve_buf_append(&b, "", 0);
	return pve_buf_steal(&b);
}

static char *log_of(pved *d, const char *upid)
{
	pve_upid u;
	if (pve_upid_parse(upid, &u, NULL) < 0)
		return NULL;
	_cleanup_free_ char *path = pved_task_log_path(d, &u, upid);
	return slurp(path);
}

static char *tasks_file(pved *d, const char *name)
{
	_cleanup_free_ char *rel = xasprintf("var/log/pve/tasks/%s", name);
	_cleanup_free_ char *path = pved_path(d, rel);
	return slurp(path);
}

static const char *status_of(pved *d, const char *upid)
{
	const pved_task *t = pved_task_find(d, upid);
	return t && !t->running ? t->status : NULL;
}

/* ---- task bodies: run in the spawned worker ---- */

static int fn_ok(pved *d, const cJSON *args, pve_error **err)
{
	(void)err;
	printf("hello from %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(args, "who")));
	printf("node %s, base %s, tasks %s, auth %s\n", d->node, d->base ? "set" : "NULL",
	       d->tasks ? "set" : "NULL", d->auth ? "set" : "NULL");
	/* the store works in the worker (opened afresh) */
	if (pve_store_write(d->store, "from-task", "x", 1, NULL, err) < 0)
		return -EIO;
	return 0;
}

static int fn_fail(pved *d, const cJSON *args, pve_error **err)
{
	(void)d, (void)args;
	fprintf(stderr, "about to fail\n");
	return pve_error_set(err, EIO, "disk on fire\nreally");
}

static int fn_warn(pved *d, const cJSON *args, pve_error **err)
{
	(void)d, (void)args, (void)err;
	pved_task_warn("careful %d", 1);
	printf("in between");
	pved_task_warn("twice");
	printf("no newline at the end");
	return 0;
}

static int fn_sleep(pved *d, const cJSON *args, pve_error **err)
{
	(void)d, (void)err;
	if (cJSON_IsTrue(cJSON_GetObjectItem(args, "ignore")))
		signal(SIGTERM, SIG_IGN);
	printf("sleeping\n");
	fflush(stdout);
	/* a child in the same process group, which a stop must end too */
	if (fork() == 0) {
		sleep(60);
		_exit(0);
	}
	sleep(60);
	return 0;
}

static int fn_fds(pved *d, const cJSON *args, pve_error **err)
{
	(void)d, (void)args, (void)err;
	int open_fds = 0;
	for (int fd = 3; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			open_fds++;
	/* the store's fd only: nothing of the parent's */
	printf("fds %d\n", open_fds);
	return 0;
}

static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;

/* Takes the lock the blocking pool's threads hold in test_many_while_busy: a fresh process image has it
 * free; a child only forked from the busy process would often find it held forever. */
static int fn_quick(pved *d, const cJSON *args, pve_error **err)
{
	(void)d, (void)err;
	pthread_mutex_lock(&busy_lock);
	printf("task %d\n", cJSON_GetObjectItem(args, "n")->valueint);
	pthread_mutex_unlock(&busy_lock);
	return 0;
}

/* Writes to the fd it was given, and tells which fds it has. */
static int fn_given_fd(pved *d, const cJSON *args, pve_error **err)
{
	(void)d, (void)args, (void)err;
	(void)!write(PVED_TASK_FD(0), "hi", 2);
	close(PVED_TASK_FD(0));
	printf("fd 4 %s\n", fcntl(PVED_TASK_FD(1), F_GETFD) >= 0 ? "open" : "closed");
	return 0;
}

static const pved_task_kind test_kinds[] = {
	{ "vncshell", fn_given_fd }, { "qmstart", fn_ok },    { "vzdump", fn_fail },
	{ "qmstop", fn_warn },	     { "srvreload", fn_fds }, { "qmigrate", fn_sleep },
	{ "qmsuspend", fn_sleep },   { "imgcopy", fn_quick }, { NULL, NULL },
};
static const pved_area test_area = { .name = "test",
				     .tasks = (const pved_task_kind *const[]){ test_kinds, NULL } };
static const pved_area *const test_areas[2] = { &test_area, NULL };

static cJSON *args_str(const char *key, const char *value)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, key, value);
	return o;
}

/* ---- tests ---- */

static void test_run_tasks(void)
{
	pved *d = setup();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *u_ok = NULL, *u_fail = NULL, *u_warn = NULL, *u_fds = NULL;

	check_int(pved_task_start(d, "qmstart", "100", "root@pam", args_str("who", "the test"),
				  &u_ok, &err),
		  0);
	check_int(pved_task_start(d, "vzdump", "", "admin@pve", NULL, &u_fail, &err), 0);
	check_int(pved_task_start(d, "qmstop", "101", "user@pve!tok", NULL, &u_warn, &err), 0);
	check_int(pved_task_start(d, "srvreload", "", "root@pam", NULL, &u_fds, &err), 0);
	if (!u_ok || !u_fail || !u_warn || !u_fds) {
		teardown(d);
		return;
	}

	/* the UPID */
	pve_upid u;
	check_int(pve_upid_parse(u_ok, &u, &err), 0);
	check_streq(u.node, "n1");
	check_streq(u.type, "qmstart");
	check_streq(u.id, "100");
	check_streq(u.user, "root@pam");
	check(u.pid > 0 && u.pstart > 0);
	check(labs((long)u.starttime - (long)time(NULL)) < 5);
	check(strncmp(u_ok, "UPID:n1:", 8) == 0);
	/* the log file is there as soon as the task starts, under the starttime's last hex digit */
	_cleanup_free_ char *rel = xasprintf("var/log/pve/tasks/%X/%s", u.starttime & 0xf, u_ok);
	_cleanup_free_ char *path = pved_path(d, rel);
	struct stat st;
	check_int(stat(path, &st), 0);
	/* running tasks are in the active file */
	_cleanup_free_ char *active = tasks_file(d, "active");
	check(active && strstr(active, u_ok));
	const pved_task *t = pved_task_find(d, u_ok);
	check(t && t->running && t->ours);

	check(wait_task(d, u_ok, 10));
	check(wait_task(d, u_fail, 10));
	check(wait_task(d, u_warn, 10));
	check(wait_task(d, u_fds, 10));

	_cleanup_free_ char *log = log_of(d, u_ok);
	check_streq(log,
		    "hello from the test\nnode n1, base NULL, tasks NULL, auth NULL\nTASK OK\n");
	check_streq(status_of(d, u_ok), "OK");
	check(pve_store_exists(d->store, "from-task"));

	free(log);
	log = log_of(d, u_fail);
	check_streq(log, "about to fail\nTASK ERROR: disk on fire really\n");
	check_streq(status_of(d, u_fail), "disk on fire really");

	free(log);
	log = log_of(d, u_warn);
	check_streq(
		log,
		"WARN: careful 1\nin betweenWARN: twice\nno newline at the end\nTASK WARNINGS: 2\n");
	check_streq(status_of(d, u_warn), "WARNINGS: 2");

	free(log);
	log = log_of(d, u_fds);
	check_streq(log, "fds 1\nTASK OK\n");

	/* the index has each, with endtime and status; the active file lists them as finished */
	_cleanup_free_ char *index = tasks_file(d, "index");
	t = pved_task_find(d, u_fail);
	_cleanup_free_ char *line = xasprintf("%s %08llX disk on fire really\n", u_fail,
					      (unsigned long long)(t ? t->endtime : 0));
	check(index && strstr(index, line));
	free(line);
	line = xasprintf("%s %08llX OK\n", u_ok,
			 (unsigned long long)pved_task_find(d, u_ok)->endtime);
	check(index && strstr(index, line));
	check(index && strstr(index, "WARNINGS: 2\n"));
	free(active);
	active = tasks_file(d, "active");
	free(line);
	line = xasprintf("%s %08llX WARNINGS: 2 1\n", u_warn,
			 (unsigned long long)pved_task_find(d, u_warn)->endtime);
	check(active && strstr(active, line));
	check_int(pved_tasks_count(d), 4);

	/* JSON as the API shows it */
	cJSON *j = pved_task_to_json(pved_task_find(d, u_warn));
	check_streq(cJSON_GetObjectItem(j, "upid")->valuestring, u_warn);
	check_streq(cJSON_GetObjectItem(j, "user")->valuestring, "user@pve!tok");
	check_streq(cJSON_GetObjectItem(j, "status")->valuestring, "WARNINGS: 2");
	check_streq(cJSON_GetObjectItem(j, "id")->valuestring, "101");
	check(cJSON_GetObjectItem(j, "endtime") != NULL);
	cJSON_Delete(j);

	/* bad arguments */
	char *none = NULL;
	check_int(pved_task_start(d, "a:b", "", "root@pam", NULL, &none, &err), -EINVAL);
	pve_error_freep(&err);
	check_int(pved_task_start(d, "qmstart", "1 2", "root@pam", NULL, &none, &err), -EINVAL);
	pve_error_freep(&err);
	/* a type no area runs */
	check_int(pved_task_start(d, "qmclone", "100", "root@pam", NULL, &none, &err), -EINVAL);
	check(err && strstr(err->message, "'qmclone'"));
	pve_error_freep(&err);
	/* parameters over the pipe's size are refused, and nothing is left running */
	size_t before = pved_tasks_count(d);
	_cleanup_free_ char *big = xmalloc(PVED_TASK_MAX_ARGS + 2);
	memset(big, 'x', PVED_TASK_MAX_ARGS + 1);
	big[PVED_TASK_MAX_ARGS + 1] = '\0';
	check_int(pved_task_start(d, "qmstart", "100", "root@pam", args_str("who", big), &none,
				  &err),
		  -E2BIG);
	pve_error_freep(&err);
	check_int(pved_tasks_count(d), before);
	check(!none);
	teardown(d);
}

static void test_stop(void)
{
	pved *d = setup();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *u1 = NULL, *u2 = NULL;
	check_int(pved_task_start(d, "qmigrate", "100", "root@pam", NULL, &u1, &err), 0);
	cJSON *ignore = cJSON_CreateObject();
	cJSON_AddTrueToObject(ignore, "ignore");
	check_int(pved_task_start(d, "qmsuspend", "101", "root@pam", ignore, &u2, &err), 0);
	if (!u1 || !u2) {
		teardown(d);
		return;
	}
	usleep(300000); /* let them print and fork */
	check(!wait_task(d, u1, 1));
	check_int(pved_task_stop(d, u1, &err), 0);
	check_int(pved_task_stop(d, u2, &err), 0);
	check(wait_task(d, u1, 5));
	check_streq(status_of(d, u1), "received interrupt");
	_cleanup_free_ char *log = log_of(d, u1);
	check_streq(log, "sleeping\nTASK ERROR: received interrupt\n");

	/* the one that ignores SIGTERM gets SIGKILL after 5 s, from a timer */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check(wait_task(d, u2, 15));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	check(t1.tv_sec - t0.tv_sec >= 3);
	check(status_of(d, u2) && strstr(status_of(d, u2), "killed by signal 9"));

	/* the workers' own children went with their process group */
	pve_upid u1p, u2p;
	check_int(pve_upid_parse(u1, &u1p, NULL), 0);
	check_int(pve_upid_parse(u2, &u2p, NULL), 0);
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) { /* init reaps the orphans a moment later */
		gone = kill(-(pid_t)u1p.pid, 0) < 0 && errno == ESRCH &&
		       kill(-(pid_t)u2p.pid, 0) < 0 && errno == ESRCH;
		if (!gone)
			usleep(20000);
	}
	check(gone);

	/* stopping an ended task is fine; an unknown one is not */
	check_int(pved_task_stop(d, u1, &err), 0);
	check_int(pved_task_stop(d, "UPID:n1:00000001:00000001:00000001:x::root@pam:", &err),
		  -ENOENT);
	teardown(d);
}

static void test_restart(void)
{
	pved *d = setup();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *u_ok = NULL, *u_fail = NULL, *u_run = NULL;
	check_int(pved_task_start(d, "qmstart", "100", "root@pam", args_str("who", "x"), &u_ok,
				  &err),
		  0);
	check_int(pved_task_start(d, "vzdump", "100", "admin@pve", NULL, &u_fail, &err), 0);
	check(wait_task(d, u_ok, 10));
	check(wait_task(d, u_fail, 10));
	check_int(pved_task_start(d, "qmigrate", "100", "root@pam", NULL, &u_run, &err), 0);
	if (!u_ok || !u_fail || !u_run) {
		teardown(d);
		return;
	}
	/* Let the worker write its first line: one stopped before it wrote anything has an empty log,
	 * which reads as "unable to read tail", not the "unexpected status" checked below. */
	{
		pve_upid ur;
		check_int(pve_upid_parse(u_run, &ur, NULL), 0);
		_cleanup_free_ char *run_log = pved_task_log_path(d, &ur, u_run);
		struct stat st;
		for (int i = 0; i < 500 && (stat(run_log, &st) < 0 || st.st_size == 0); i++)
			usleep(20000);
		check(stat(run_log, &st) == 0 && st.st_size > 0);
	}

	/* a task of an older pved whose process is gone and whose log has a last line, and one whose pid
	 * lives but belongs to another process (another start time) */
	pve_upid fake = { .pid = 0x7ffffff0,
			  .pstart = 1234,
			  .starttime = (uint32_t)time(NULL) - 100 };
	snprintf(fake.node, sizeof(fake.node), "n1");
	snprintf(fake.type, sizeof(fake.type), "qmstart");
	snprintf(fake.id, sizeof(fake.id), "300");
	snprintf(fake.user, sizeof(fake.user), "root@pam");
	_cleanup_free_ char *u_gone = pve_upid_format(&fake);
	fake.pid = (uint32_t)getpid();
	fake.pstart = 1;
	snprintf(fake.id, sizeof(fake.id), "301");
	_cleanup_free_ char *u_reused = pve_upid_format(&fake);
	{
		pve_upid g;
		check_int(pve_upid_parse(u_gone, &g, NULL), 0);
		_cleanup_free_ char *gone_log = pved_task_log_path(d, &g, u_gone);
		FILE *f = fopen(gone_log, "w");
		check(f != NULL);
		if (f) {
			fputs("working\nTASK OK\n", f);
			fclose(f);
		}
	}

	pved_tasks_free(d->tasks);
	check(d->tasks == NULL);
	{
		_cleanup_free_ char *path = pved_path(d, "var/log/pve/tasks/active");
		FILE *f = fopen(path, "a");
		check(f != NULL);
		if (f) {
			fprintf(f, "%s\n%s\n", u_gone, u_reused);
			fclose(f);
		}
	}
	check_int(pved_tasks_init(d, &err), 0);

	check_streq(status_of(d, u_ok), "OK");
	check_streq(status_of(d, u_fail), "disk on fire really");
	check_streq(status_of(d, u_gone), "OK");
	check_streq(status_of(d, u_reused), "unable to open file - No such file or directory");
	const pved_task *t = pved_task_find(d, u_run);
	check(t && t->running && !t->ours);
	check_int(pved_tasks_count(d), 5);
	/* each is in the index once */
	_cleanup_free_ char *index = tasks_file(d, "index");
	check(index && strstr(index, u_gone) && strstr(index, u_reused));
	check(index && strstr(index, u_ok) && strstr(strstr(index, u_ok) + 1, u_ok) == NULL);
	check(index && !strstr(index, u_run));

	/* the surviving worker of the old pved: stopped through /proc, not SIGCHLD */
	check_int(pved_task_stop(d, u_run, &err), 0);
	pve_upid u;
	check_int(pve_upid_parse(u_run, &u, NULL), 0);
	int st;
	/* the test process is still its parent */
	check_int(waitpid((pid_t)u.pid, &st, 0), (pid_t)u.pid);
	pved_tasks_refresh(d);
	t = pved_task_find(d, u_run);
	check(t && !t->running);
	/* nobody wrote its last line (it had no pved), so the log tells nothing */
	check_streq(status_of(d, u_run), "unexpected status");

	/* and again: nothing is listed twice */
	pved_tasks_free(d->tasks);
	check_int(pved_tasks_init(d, &err), 0);
	check_int(pved_tasks_count(d), 5);
	check_streq(status_of(d, u_run), "unexpected status");
	teardown(d);
}

static void test_status_helpers(void)
{
	check_streq(pved_task_status_type("OK"), "ok");
	check_streq(pved_task_status_type("WARNINGS: 3"), "warning");
	check_streq(pved_task_status_type("WARNINGS: x"), "error");
	check_streq(pved_task_status_type("unexpected status"), "unknown");
	check_streq(pved_task_status_type(NULL), "unknown");
	check_streq(pved_task_status_type("command failed"), "error");

	const char *dir = test_tmpdir();
	_cleanup_free_ char *p = xasprintf("%s/log", dir);
	const struct {
		const char *text, *status;
	} cases[] = {
		{ "a\nTASK OK\n", "OK" },
		{ "TASK OK", "OK" },
		{ "a\nTASK ERROR: boom\n", "boom" },
		{ "TASK WARNINGS: 12\n\n", "WARNINGS: 12" },
		{ "TASK WARNINGS: x\n", "unexpected status" },
		{ "TASK OK\nmore\n", "unexpected status" },
		{ "", "unable to read tail (got 0 bytes)" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		FILE *f = fopen(p, "w");
		fputs(cases[i].text, f);
		fclose(f);
		_cleanup_free_ char *s = pved_task_read_status(p);
		check_streq(s, cases[i].status);
	}
	/* only the last 4 KiB are read */
	FILE *f = fopen(p, "w");
	for (int i = 0; i < 1000; i++)
		fputs("a long line of output\n", f);
	fputs("TASK ERROR: late\n", f);
	fclose(f);
	_cleanup_free_ char *s = pved_task_read_status(p);
	check_streq(s, "late");
}

/* This process's children, from /proc (pids, up to max). */
static size_t children(pid_t *out, size_t max)
{
	_cleanup_free_ char *path =
		xasprintf("/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
	_cleanup_free_ char *text = slurp(path);
	size_t n = 0;
	for (char *p = text; p && *p && n < max;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		out[n++] = (pid_t)v;
		p = end;
	}
	return n;
}

/* A worker is spawned ahead of the next task, after the one that used the last: the next task takes
 * it, and a task handed fds gets its own. */
static void test_warm_worker(void)
{
	pved *d = setup();
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *u1 = NULL, *u2 = NULL;
	check_int(pved_task_start(d, "qmstart", "1", "root@pam", args_str("who", "one"), &u1, &err),
		  0);
	check(u1 && wait_task(d, u1, 10));
	pid_t kids[8];
	size_t n = children(kids, 8);
	check_int(n, 1); /* the worker of task 1 is reaped; the one spawned ahead waits */
	check_int(pved_task_start(d, "qmstart", "2", "root@pam", args_str("who", "two"), &u2, &err),
		  0);
	pve_upid u;
	check(u2 && pve_upid_parse(u2, &u, NULL) == 0 && n == 1 && (pid_t)u.pid == kids[0]);
	check(wait_task(d, u2, 10));
	_cleanup_free_ char *log = log_of(d, u2);
	check(log && startswith(log, "hello from two\n"));
	/* freeing the table ends the one spawned ahead: no child is left */
	pved_tasks_free(d->tasks);
	check_int(children(kids, 8), 0);
	d->tasks = NULL;
	teardown(d);
}

/* A worker gets the fds it is handed, at PVED_TASK_FD(i), and no other. */
static void test_passes_fds(void)
{
	pved *d = setup();
	_cleanup_error_ pve_error *err = NULL;
	int p[2];
	check_int(pipe2(p, O_CLOEXEC), 0);
	_cleanup_free_ char *upid = NULL;
	check_int(pved_task_start_fds(d, "vncshell", "", "root@pam", NULL, &p[1], 1, &upid, &err),
		  0);
	close(p[1]);
	char buf[8] = "";
	check_int(read(p[0], buf, sizeof(buf)), 2);
	check_streq(buf, "hi");
	close(p[0]);
	check(upid && wait_task(d, upid, 10));
	_cleanup_free_ char *log = upid ? log_of(d, upid) : NULL;
	check_streq(log, "fd 4 closed\nTASK OK\n");
	int many[PVED_TASK_MAX_FDS + 1] = { 0 };
	char *none = NULL;
	check_int(pved_task_start_fds(d, "vncshell", "", "root@pam", NULL, many, ELEMENTSOF(many),
				      &none, &err),
		  -EINVAL);
	teardown(d);
}

/* ---- workers started while other threads are busy ---- */

static volatile bool busy_stop;

/* On the blocking pool: holds a lock, the allocator and stdio most of the time, as slow storage or LDAP
 * work would; a worker forked (without exec) at the wrong moment would inherit them held. */
static void busy_work(void *arg)
{
	(void)arg;
	while (!busy_stop) {
		pthread_mutex_lock(&busy_lock);
		for (int i = 0; i < 100; i++)
			free(xmalloc(1000 + (size_t)i * 100));
		char buf[64];
		snprintf(buf, sizeof(buf), "%d", rand());
		pthread_mutex_unlock(&busy_lock);
	}
}

static void busy_done(void *arg)
{
	(void)arg;
}

static void test_many_while_busy(void)
{
	pved *d = setup();
	_cleanup_error_ pve_error *err = NULL;
	check_int(pved_blocking_init(d, &err), 0);
	busy_stop = false;
	/* every thread of every queue */
	for (int i = 0; i < 8; i++)
		check_int(pved_run_blocking(d,
					    i < 4 ? PVED_QUEUE_STORAGE :
					    i < 6 ? PVED_QUEUE_AUTH :
						    PVED_QUEUE_SCAN,
					    busy_work, busy_done, NULL, &err),
			  0);
	enum { N = 200 };
	char *upids[N] = { 0 };
	for (int i = 0; i < N; i++) {
		cJSON *args = cJSON_CreateObject();
		cJSON_AddNumberToObject(args, "n", i);
		check_int(pved_task_start(d, "imgcopy", "", "root@pam", args, &upids[i], &err), 0);
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		if (upids[i] && wait_task(d, upids[i], 30) &&
		    streq_ptr(status_of(d, upids[i]), "OK"))
			ok++;
	}
	check_int(ok, N);
	_cleanup_free_ char *log = upids[N - 1] ? log_of(d, upids[N - 1]) : NULL;
	check_streq(log, "task 199\nTASK OK\n");
	for (int i = 0; i < N; i++)
		free(upids[i]);
	busy_stop = true;
	pved_blocking_free(d->blocking);
	teardown(d);
}

int main(int argc, char **argv)
{
	/* Spawned by pved_task_start through /proc/self/exe: this program is the worker. */
	if (argc == 2 && strcmp(argv[1], "--task-worker") == 0)
		pved_task_worker_main(test_areas);
	static const struct test_case cases[] = {
		TEST(test_run_tasks),	   TEST(test_stop),	   TEST(test_restart),
		TEST(test_passes_fds),	   TEST(test_warm_worker), TEST(test_many_while_busy),
		TEST(test_status_helpers),
	};
	return test_main(argc, argv, cases, ELEMENTSOF(cases));
}
