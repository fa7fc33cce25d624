/* Tests of kvm's guest-agent client: the reader (a former client's leftovers skipped up to the sync's
 * answer, replies, garbage, a line over the limit), base64, and the asynchronous client and its blocking
 * wrapper against a scripted agent (sync, answers, errors, a command the agent does not answer, an agent
 * that never syncs, a socket nobody serves, a callback that frees the client). */
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kvm/kvm.h"
#include "tests/unit/test.h"

static void feed(kvm_qga_reader *r, const char *s)
{
	kvm_qga_reader_add(r, s, strlen(s));
}

static void test_reader(void)
{
	kvm_qga_reader r;
	kvm_qmp_msg m;
	kvm_qga_reader_init(&r, 4242);
	/* a former client's answers, a former sync, then ours split over two reads */
	feed(&r, "{\"return\": {\"old\": 1}}\n\xff{\"return\": 17}\n{\"return\": {}}\n\xff{\"ret");
	check_int(kvm_qga_reader_next(&r, &m, NULL), 0);
	feed(&r, "urn\": 4242}\n{\"return\": {\"host-name\": \"vm\"}}\n\n{\"error\": {\"class\": "
		 "\"GenericError\", \"desc\": \"nope\"}}\n{\"return\": 1");
	check_int(kvm_qga_reader_next(&r, &m, NULL), 2);
	check_int(kvm_qga_reader_next(&r, &m, NULL), 1);
	check_int(m.kind, KVM_QMP_RETURN);
	check_streq(pve_json_str(m.value, "host-name"), "vm");
	kvm_qmp_msg_clear(&m);
	check_int(kvm_qga_reader_next(&r, &m, NULL), 1);
	check_int(m.kind, KVM_QMP_ERROR);
	check_streq(m.error_desc, "nope");
	kvm_qmp_msg_clear(&m);
	check_int(kvm_qga_reader_next(&r, &m, NULL), 0);
	feed(&r, "}\r\n");
	check_int(kvm_qga_reader_next(&r, &m, NULL), 1);
	kvm_qmp_msg_clear(&m);
	/* once synced, what is no answer is an error */
	feed(&r, "{\"event\": \"X\"}\n");
	pve_error *err = NULL;
	check_int(kvm_qga_reader_next(&r, &m, &err), -EPROTO);
	check(err != NULL);
	pve_error_free(err);
	kvm_qga_reader_clear(&r);

	/* an answer without its end, over the limit, is refused rather than buffered on */
	kvm_qga_reader_init(&r, 1);
	feed(&r, "\xff{\"return\": 1}\n{\"return\": \"");
	check_int(kvm_qga_reader_next(&r, &m, NULL), 2);
	char *big = xmalloc(1024 * 1024);
	memset(big, 'a', 1024 * 1024);
	int rc = 0;
	for (int i = 0; i < 49 && rc == 0; i++) {
		kvm_qga_reader_add(&r, big, 1024 * 1024);
		err = NULL;
		rc = kvm_qga_reader_next(&r, &m, &err);
		if (rc < 0)
			pve_error_free(err);
	}
	check_int(rc, -E2BIG);
	free(big);
	kvm_qga_reader_clear(&r);

	/* before the sync nothing else counts: not even garbage */
	kvm_qga_reader_init(&r, 7);
	feed(&r, "garbage\n\xffnot json\n\xff{\"return\": 8}\n");
	check_int(kvm_qga_reader_next(&r, &m, NULL), 0);
	feed(&r, "\xff{\"return\": 7}\n");
	check_int(kvm_qga_reader_next(&r, &m, NULL), 2);
	kvm_qga_reader_clear(&r);
}

static void test_base64(void)
{
	static const struct {
		const char *plain, *b64;
	} cases[] = { { "", "" },
		      { "f", "Zg==" },
		      { "fo", "Zm8=" },
		      { "foo", "Zm9v" },
		      { "foobar", "Zm9vYmFy" } };
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *e = kvm_base64_encode(cases[i].plain, strlen(cases[i].plain));
		check_streq(e, cases[i].b64);
		size_t n = 99;
		_cleanup_free_ char *d = kvm_base64_decode(cases[i].b64, strlen(cases[i].b64), &n);
		check(d != NULL);
		check_int(n, strlen(cases[i].plain));
		check_streq(d, cases[i].plain);
	}
	/* a NUL byte survives */
	size_t n = 0;
	_cleanup_free_ char *nul = kvm_base64_decode("AGE=", 4, &n);
	check(nul && n == 2 && nul[0] == 0 && nul[1] == 'a');
	static const char *const bad[] = { "Zg=", "Z===", "Zm 9v", "Zg==Zg==", "Zm9v\n", "Zm$v" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		check(kvm_base64_decode(bad[i], strlen(bad[i]), &n) == NULL);
}

/* ---- a scripted agent: a thread serving connections on a unix socket ---- */

enum script { AGENT_NORMAL, AGENT_SILENT };

typedef struct agent {
	char path[108];
	int lfd;
	enum script script;
	pthread_t thread;
	int connections, commands;
} agent;

static void send_str(int fd, const char *s)
{
	(void)!write(fd, s, strlen(s));
}

/* Answers the sync (after a stale answer), "guest-ping" with {}, "guest-fail" with an error,
 * "guest-info" with its arguments; "guest-shutdown" and "guest-hang" not at all. */
static void serve(agent *a, int fd)
{
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - len - 1);
		if (k <= 0)
			return;
		len += (size_t)k;
		buf[len] = '\0';
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			char *start = buf;
			while (*start == '\xff')
				start++;
			cJSON *req = cJSON_Parse(start);
			const char *cmd = pve_json_str(req, "execute");
			const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "arguments");
			a->commands++;
			char out[1024];
			out[0] = '\0';
			if (a->script == AGENT_SILENT) {
				/* says nothing */
			} else if (cmd && streq(cmd, "guest-sync-delimited")) {
				long long id = 0;
				pve_json_int(args, "id", &id);
				snprintf(out, sizeof(out),
					 "{\"return\": {\"stale\": 1}}\n\xff{\"return\": %lld}\n",
					 id);
			} else if (cmd && streq(cmd, "guest-ping")) {
				snprintf(out, sizeof(out), "{\"return\": {}}\n");
			} else if (cmd && streq(cmd, "guest-fail")) {
				snprintf(out, sizeof(out),
					 "{\"error\": {\"class\": \"GenericError\", \"desc\": "
					 "\"no such file\"}}\n");
			} else if (cmd && streq(cmd, "guest-info")) {
				_cleanup_free_ char *t = args ? pve_json_print(args) :
								xstrdup("{}");
				snprintf(out, sizeof(out), "{\"return\": %s}\n", t);
			}
			send_str(fd, out);
			cJSON_Delete(req);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
	}
}

static void *agent_run(void *arg)
{
	agent *a = arg;
	for (;;) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return NULL;
		a->connections++;
		serve(a, fd);
		close(fd);
	}
}

static void agent_start(agent *a, enum script script)
{
	*a = (agent){ .script = script };
	snprintf(a->path, sizeof(a->path), "%s/qga.sock", test_tmpdir());
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, a->path);
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(listen(a->lfd, 4) == 0);
	pthread_create(&a->thread, NULL, agent_run, a);
}

static void agent_stop(agent *a)
{
	shutdown(a->lfd, SHUT_RDWR);
	pthread_join(a->thread, NULL);
	close(a->lfd);
	unlink(a->path);
}

typedef struct run {
	struct event_base *base;
	kvm_qga *q;
	int replies, errors, none, timeouts, not_running;
	char last[128];
	bool free_in_reply;
	int want;
} run;

static void on_reply(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	run *r = ud;
	if (err) {
		r->errors++;
		if (err->code == ETIMEDOUT)
			r->timeouts++;
		if (streq(err->message, KVM_QGA_NOT_RUNNING))
			r->not_running++;
		snprintf(r->last, sizeof(r->last), "%s", err->message);
	} else if (!m) {
		r->none++;
	} else if (m->kind == KVM_QMP_ERROR) {
		r->replies++;
		snprintf(r->last, sizeof(r->last), "error %s", m->error_desc);
	} else {
		r->replies++;
		_cleanup_free_ char *t = pve_json_print(m->value);
		snprintf(r->last, sizeof(r->last), "%s", t);
	}
	if (r->free_in_reply && r->q) {
		kvm_qga_free(r->q);
		r->q = NULL;
	}
	if (r->replies + r->errors + r->none >= r->want)
		event_base_loopbreak(r->base);
}

static void loop_for(run *r, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(r->base, &tv);
	event_base_dispatch(r->base);
}

static void test_async(void)
{
	/* the scripted agent writes to connections the client closed, as pved's peers may */
	signal(SIGPIPE, SIG_IGN);
	agent a;
	agent_start(&a, AGENT_NORMAL);
	run r = { .base = event_base_new(), .want = 3 };
	check_int(kvm_qga_open(r.base, a.path, "VM 100", &r.q, NULL), 0);
	kvm_qga_command(r.q, "guest-ping", NULL, 0, 0, on_reply, &r);
	kvm_qga_command(r.q, "guest-fail", NULL, 0, 0, on_reply, &r);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "path", "/etc/hostname");
	kvm_qga_command(r.q, "guest-info", args, 0, 0, on_reply, &r);
	loop_for(&r, 5000);
	check_int(r.replies, 3);
	check_int(r.errors, 0);
	check_streq(r.last, "{\"path\":\"/etc/hostname\"}");

	/* a command the agent does not answer times out; what is queued after it fails too */
	r = (run){ .base = r.base, .q = r.q, .want = 2 };
	kvm_qga_command(r.q, "guest-hang", NULL, 300, 0, on_reply, &r);
	kvm_qga_command(r.q, "guest-ping", NULL, 0, 0, on_reply, &r);
	loop_for(&r, 5000);
	check_int(r.timeouts, 2);
	check_int(r.errors, 2);
	check_streq(r.last, "VM 100 qga command 'guest-hang' failed - got timeout");
	kvm_qga_free(r.q);

	/* a no-reply command is done once sent; a callback may free the client */
	r = (run){ .base = r.base, .want = 2, .free_in_reply = true };
	check_int(kvm_qga_open(r.base, a.path, "VM 100", &r.q, NULL), 0);
	kvm_qga_command(r.q, "guest-shutdown", NULL, 0, KVM_QGA_NO_REPLY, on_reply, &r);
	kvm_qga_command(r.q, "guest-ping", NULL, 0, 0, on_reply, &r);
	loop_for(&r, 5000);
	check_int(r.none, 1);
	check_int(r.errors, 1);
	check(r.q == NULL);
	event_base_free(r.base);
	agent_stop(&a);
	check(a.connections >= 2);
}

static void test_not_running(void)
{
	/* no socket: the VM has no agent device */
	run r = { .base = event_base_new(), .want = 1 };
	_cleanup_free_ char *none = xasprintf("%s/none.sock", test_tmpdir());
	pve_error *err = NULL;
	check(kvm_qga_open(r.base, none, "VM 100", &r.q, &err) < 0);
	check(err && streq(err->message, KVM_QGA_NOT_RUNNING));
	pve_error_free(err);

	/* an agent that never answers the sync is not running, after 3 s as in Proxmox */
	agent a;
	agent_start(&a, AGENT_SILENT);
	check_int(kvm_qga_open(r.base, a.path, "VM 100", &r.q, NULL), 0);
	kvm_qga_command(r.q, "guest-ping", NULL, 0, 0, on_reply, &r);
	int64_t t0 = pve_now_ms();
	loop_for(&r, 6000);
	int64_t dt = pve_now_ms() - t0;
	check_int(r.not_running, 1);
	check(dt >= KVM_QGA_SYNC_TIMEOUT_MS - 100 && dt < KVM_QGA_SYNC_TIMEOUT_MS + 2000);
	kvm_qga_free(r.q);
	event_base_free(r.base);
	agent_stop(&a);
}

static void test_run(void)
{
	agent a;
	agent_start(&a, AGENT_NORMAL);
	cJSON *ret = NULL;
	check_int(kvm_qga_run(a.path, "VM 100", "guest-ping", NULL, 0, 0, &ret, NULL), 0);
	check(cJSON_IsObject(ret));
	cJSON_Delete(ret);
	pve_error *err = NULL;
	check_int(kvm_qga_run(a.path, "VM 100", "guest-fail", NULL, 0, 0, NULL, &err), -EIO);
	check(err && streq(err->message, "Agent error: no such file"));
	pve_error_free(err);
	ret = NULL;
	check_int(kvm_qga_run(a.path, "VM 100", "guest-shutdown", NULL, 0, KVM_QGA_NO_REPLY, &ret,
			      NULL),
		  0);
	check(ret == NULL);
	agent_stop(&a);
}

static void test_timeouts(void)
{
	check_int(kvm_qga_timeout_ms("guest-ping"), 5000);
	check_int(kvm_qga_timeout_ms("guest-fsfreeze-freeze"), 3600 * 1000);
	check_int(kvm_qga_timeout_ms("guest-fstrim"), 600 * 1000);
}

TEST_MAIN(TEST(test_reader), TEST(test_base64), TEST(test_async), TEST(test_not_running),
	  TEST(test_run), TEST(test_timeouts))
