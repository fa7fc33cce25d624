/* Tests of kvm's QMP clients: the parser; the asynchronous client against a scripted monitor (greeting,
 * capabilities, ids, events, a monitor that hangs, one that dies, a callback that frees the client);
 * the blocking client; both against a real QEMU (-machine none) when one is installed. */
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kvm/kvm.h"
#include "tests/unit/test.h"

static void test_parse(void)
{
	kvm_qmp_msg m;
	static const char greeting[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}}, "
		"\"capabilities\": [\"oob\"]}}";
	check_int(kvm_qmp_parse(greeting, strlen(greeting), &m, NULL), 0);
	check_int(m.kind, KVM_QMP_GREETING);
	kvm_qmp_msg_clear(&m);

	static const char ret[] = "{\"return\": {\"status\": \"running\"}, \"id\": \"pved-3\"}";
	check_int(kvm_qmp_parse(ret, strlen(ret), &m, NULL), 0);
	check_int(m.kind, KVM_QMP_RETURN);
	check_streq(m.id, "pved-3");
	check_streq(pve_json_str(m.value, "status"), "running");
	kvm_qmp_msg_clear(&m);

	static const char error[] =
		"{\"id\": \"x\", \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command "
		"foo has not been found\"}}";
	check_int(kvm_qmp_parse(error, strlen(error), &m, NULL), 0);
	check_int(m.kind, KVM_QMP_ERROR);
	check_streq(m.error_class, "CommandNotFound");
	check_streq(m.error_desc, "The command foo has not been found");
	kvm_qmp_msg_clear(&m);

	static const char event[] =
		"{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": "
		"\"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}";
	check_int(kvm_qmp_parse(event, strlen(event), &m, NULL), 0);
	check_int(m.kind, KVM_QMP_EVENT);
	check_streq(m.event, "SHUTDOWN");
	check_streq(pve_json_str(m.value, "reason"), "guest-shutdown");
	kvm_qmp_msg_clear(&m);

	static const char *const bad[] = { "[]",
					   "{}",
					   "{\"event\": 3}",
					   "{\"error\": {}}",
					   "{\"QMP\": 1}",
					   "{\"return\": 1",
					   "nonsense",
					   "{\"event\":\"\"}" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error *e = NULL;
		check_int(kvm_qmp_parse(bad[i], strlen(bad[i]), &m, &e), -EINVAL);
		check(e != NULL);
		pve_error_free(e);
	}
}

/* ---- a scripted monitor: a thread serving one connection on a unix socket ---- */

enum script { SCRIPT_NORMAL, SCRIPT_HANG, SCRIPT_DIE };

typedef struct monitor {
	char path[108];
	int lfd;
	enum script script;
	pthread_t thread;
	int commands;
} monitor;

static void mon_send(int fd, const char *s)
{
	(void)!write(fd, s, strlen(s));
}

/* Serves: greeting; answers each command with its id; "query-status" answers after an event; "hang"
 * is never answered; "die" closes. */
static void *mon_run(void *arg)
{
	monitor *m = arg;
	int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	mon_send(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
		char *nl;
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			cJSON *req = cJSON_Parse(buf);
			const char *cmd = pve_json_str(req, "execute"),
				   *id = pve_json_str(req, "id");
			m->commands++;
			char out[512];
			if (cmd && streq(cmd, "die")) {
				cJSON_Delete(req);
				close(fd);
				return NULL;
			}
			if (cmd && streq(cmd, "query-status"))
				mon_send(fd,
					 "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, "
					 "\"microseconds\": 0}}\r\n");
			if (cmd && streq(cmd, "bad"))
				snprintf(out, sizeof(out),
					 "{\"error\": {\"class\": \"GenericError\", \"desc\": "
					 "\"no such thing\"}, \"id\": \"%s\"}\r\n",
					 id ? id : "");
			else
				snprintf(out, sizeof(out),
					 "{\"return\": {\"status\": \"paused\", \"cmd\": \"%s\"}, "
					 "\"id\": \"%s\"}\r\n",
					 cmd ? cmd : "", id ? id : "");
			if (!(cmd && streq(cmd, "hang")) && m->script != SCRIPT_HANG)
				mon_send(fd, out);
			if (m->script == SCRIPT_DIE && m->commands >= 2) {
				cJSON_Delete(req);
				close(fd);
				return NULL;
			}
			cJSON_Delete(req);
			memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf) + 1);
			len = strlen(buf);
		}
	}
	close(fd);
	return NULL;
}

static void mon_start(monitor *m, enum script script)
{
	*m = (monitor){ .script = script };
	snprintf(m->path, sizeof(m->path), "%s/qmp.sock", test_tmpdir());
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, m->path);
	m->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(bind(m->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(m->lfd, 1) == 0);
	pthread_create(&m->thread, NULL, mon_run, m);
}

static void mon_stop(monitor *m)
{
	shutdown(m->lfd, SHUT_RDWR);
	pthread_join(m->thread, NULL);
	close(m->lfd);
	unlink(m->path);
}

/* ---- the asynchronous client ---- */

typedef struct run {
	struct event_base *base;
	kvm_qmp *q;
	int ready, closed, events, replies, errors, timeouts;
	char last_event[32];
	char last_cmd[32];
	bool free_in_reply;
	bool close_had_error;
} run;

static void on_ready(void *ud)
{
	((run *)ud)->ready++;
}

static void on_event(void *ud, const char *event, const cJSON *data, double ts)
{
	(void)data;
	run *r = ud;
	r->events++;
	snprintf(r->last_event, sizeof(r->last_event), "%s", event);
	check(ts == 1.0 || ts > 1000);
}

static void on_close(void *ud, const pve_error *err)
{
	run *r = ud;
	r->closed++;
	r->close_had_error = err != NULL;
	event_base_loopexit(r->base, NULL);
}

static void on_reply(void *ud, const cJSON *ret, const pve_error *err)
{
	run *r = ud;
	if (err) {
		r->errors++;
		if (err->code == ETIMEDOUT)
			r->timeouts++;
	} else {
		r->replies++;
		snprintf(r->last_cmd, sizeof(r->last_cmd), "%s",
			 pve_json_str(ret, "cmd") ? pve_json_str(ret, "cmd") : "");
	}
	if (r->free_in_reply && r->q) {
		kvm_qmp_free(r->q);
		r->q = NULL;
		event_base_loopexit(r->base, NULL);
	}
	if (r->replies + r->errors >= 3)
		event_base_loopexit(r->base, NULL);
}

static const kvm_qmp_callbacks callbacks = { on_ready, on_event, on_close };

static void loop_for(run *r, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(r->base, &tv);
	event_base_dispatch(r->base);
}

static void test_async(void)
{
	monitor m;
	mon_start(&m, SCRIPT_NORMAL);
	run r = { .base = event_base_new() };
	check_int(kvm_qmp_connect(r.base, m.path, &callbacks, &r, &r.q, NULL), 0);
	/* queued before the capabilities are negotiated: sent after */
	check_int(kvm_qmp_command(r.q, "query-status", NULL, 2000, on_reply, &r, NULL), 0);
	check_int(kvm_qmp_command(r.q, "bad", NULL, 2000, on_reply, &r, NULL), 0);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "x", "y");
	check_int(kvm_qmp_command(r.q, "query-version", args, 2000, on_reply, &r, NULL), 0);
	loop_for(&r, 3000);
	check_int(r.ready, 1);
	check_int(r.replies, 2);
	check_int(r.errors, 1);
	check_int(r.events, 1);
	check_streq(r.last_event, "STOP");
	check_streq(r.last_cmd, "query-version");
	check(kvm_qmp_is_ready(r.q));
	/* a command whose callback frees the client */
	r.free_in_reply = true;
	check_int(kvm_qmp_command(r.q, "query-name", NULL, 2000, on_reply, &r, NULL), 0);
	check_int(kvm_qmp_command(r.q, "hang", NULL, 2000, on_reply, &r, NULL), 0);
	loop_for(&r, 3000);
	check(r.q == NULL);
	check_int(r.replies, 3);
	check_int(r.errors, 2); /* the second command failed when the client was freed */
	check_int(r.closed, 0);
	event_base_free(r.base);
	mon_stop(&m);
}

static void test_async_hang(void)
{
	monitor m;
	mon_start(&m, SCRIPT_NORMAL);
	run r = { .base = event_base_new() };
	check_int(kvm_qmp_connect(r.base, m.path, &callbacks, &r, &r.q, NULL), 0);
	check_int(kvm_qmp_command(r.q, "hang", NULL, 200, on_reply, &r, NULL), 0);
	check_int(kvm_qmp_command(r.q, "query-status", NULL, 5000, on_reply, &r, NULL), 0);
	loop_for(&r, 3000);
	check_int(r.timeouts, 1);
	/* the command queued behind was answered (commands are pipelined); the connection is then
	 * given up, as a QEMU that does not answer in time is hung */
	check_int(r.replies, 1);
	check_int(r.errors, 1);
	check_int(r.closed, 1);
	check(r.close_had_error);
	check(!kvm_qmp_is_ready(r.q));
	pve_error *e = NULL;
	check_int(kvm_qmp_command(r.q, "x", NULL, 0, on_reply, &r, &e), -ECONNRESET);
	pve_error_free(e);
	kvm_qmp_free(r.q);
	event_base_free(r.base);
	mon_stop(&m);
}

static void test_async_die(void)
{
	monitor m;
	mon_start(&m, SCRIPT_DIE);
	run r = { .base = event_base_new() };
	check_int(kvm_qmp_connect(r.base, m.path, &callbacks, &r, &r.q, NULL), 0);
	check_int(kvm_qmp_command(r.q, "hang", NULL, 5000, on_reply, &r, NULL), 0);
	loop_for(&r, 3000);
	check_int(r.closed, 1);
	check(!r.close_had_error); /* an EOF: QEMU went away */
	check_int(r.errors, 1);
	kvm_qmp_free(r.q);
	event_base_free(r.base);
	mon_stop(&m);

	pve_error *e = NULL;
	kvm_qmp *q = NULL;
	struct event_base *base = event_base_new();
	char path[256];
	snprintf(path, sizeof(path), "%s/none.sock", test_tmpdir());
	check_int(kvm_qmp_connect(base, path, &callbacks, &r, &q, &e), -ENOENT);
	pve_error_free(e);
	event_base_free(base);
}

static void test_sync(void)
{
	monitor m;
	mon_start(&m, SCRIPT_NORMAL);
	kvm_qmp_sync *q = NULL;
	check_int(kvm_qmp_sync_open(m.path, 2000, &q, NULL), 0);
	cJSON *ret = NULL;
	check_int(kvm_qmp_sync_command(q, "query-status", NULL, 2000, &ret, NULL), 0);
	check_streq(pve_json_str(ret, "status"), "paused");
	cJSON_Delete(ret);
	pve_error *e = NULL;
	check_int(kvm_qmp_sync_command(q, "bad", NULL, 2000, NULL, &e), -EIO);
	check_streq(e->message, "VM qmp command 'bad' failed - no such thing");
	pve_error_free(e);
	e = NULL;
	check_int(kvm_qmp_sync_command(q, "hang", NULL, 100, NULL, &e), -ETIMEDOUT);
	check_streq(e->message, "VM qmp command 'hang' failed - got timeout");
	pve_error_free(e);
	kvm_qmp_sync_close(q);
	mon_stop(&m);
}

/* ---- a real QEMU ---- */

static const char *qemu_binary(void)
{
	return access("/usr/bin/qemu-system-x86_64", X_OK) == 0 ? "/usr/bin/qemu-system-x86_64" :
								  NULL;
}

static pid_t start_qemu(const char *sock)
{
	_cleanup_free_ char *qmp = xasprintf("unix:%s,server=on,wait=off", sock);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl(qemu_binary(), "qemu-system-x86_64", "-machine", "none", "-nodefaults",
		      "-display", "none", "-qmp", qmp, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	return pid;
}

static void test_real_qemu(void)
{
	if (!qemu_binary())
		return test_skip("no qemu-system-x86_64");
	char sock[256];
	snprintf(sock, sizeof(sock), "%s/real.qmp", test_tmpdir());
	pid_t pid = start_qemu(sock);
	kvm_qmp_sync *q = NULL;
	pve_error *e = NULL;
	check_int(kvm_qmp_sync_open(sock, 5000, &q, &e), 0);
	cJSON *ret = NULL;
	check_int(kvm_qmp_sync_command(q, "query-version", NULL, 5000, &ret, NULL), 0);
	check(cJSON_GetObjectItem(cJSON_GetObjectItem(ret, "qemu"), "major") != NULL);
	cJSON_Delete(ret);
	check_int(kvm_qmp_sync_command(q, "no-such-command", NULL, 5000, NULL, &e), -EIO);
	pve_error_free(e);
	kvm_qmp_sync_close(q);

	/* and asynchronously, through to QEMU's end: quit answers, SHUTDOWN comes, the socket
	 * closes */
	run r = { .base = event_base_new() };
	check_int(kvm_qmp_connect(r.base, sock, &callbacks, &r, &r.q, NULL), 0);
	check_int(kvm_qmp_command(r.q, "query-status", NULL, 5000, on_reply, &r, NULL), 0);
	check_int(kvm_qmp_command(r.q, "quit", NULL, 5000, on_reply, &r, NULL), 0);
	loop_for(&r, 5000);
	check_int(r.ready, 1);
	check_int(r.replies, 2);
	check_int(r.closed, 1);
	check_streq(r.last_event, "SHUTDOWN");
	kvm_qmp_free(r.q);
	event_base_free(r.base);
	int st;
	check(waitpid(pid, &st, 0) == pid);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST_MAIN(TEST(test_parse), TEST(test_async), TEST(test_async_hang), TEST(test_async_die),
	  TEST(test_sync), TEST(test_real_qemu))
