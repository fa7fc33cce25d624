/* QMP, QEMU's JSON monitor: the one parser of its lines, an asynchronous client on a libevent loop (for
 * pved: commands with ids and time limits, events at any time, a QEMU that dies or hangs noticed) and a
 * blocking client for task workers and tools. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "kvm/kvm-internal.h"

#define DEFAULT_TIMEOUT_MS 10000

/* ---- the parser ------------------------------------------------------------------------------------- */

void kvm_qmp_msg_clear(kvm_qmp_msg *m)
{
	cJSON_Delete(m->root);
	*m = (kvm_qmp_msg){ 0 };
}

int kvm_qmp_parse(const char *line, size_t len, kvm_qmp_msg *ret, pve_error **err)
{
	cJSON *root = pve_json_parse(line, len, KVM_QMP_MAX_LINE, KVM_QMP_MAX_DEPTH, err);
	if (!root)
		return -EINVAL;
	kvm_qmp_msg m = { .root = root };
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return pve_error_set(err, EINVAL, "QMP: a message is no JSON object");
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	m.id = cJSON_IsString(id) ? id->valuestring : NULL;
	const cJSON *v;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "QMP"))) {
		if (!cJSON_IsObject(v))
			goto bad;
		m.kind = KVM_QMP_GREETING;
		m.value = v;
	} else if ((v = cJSON_GetObjectItemCaseSensitive(root, "return"))) {
		m.kind = KVM_QMP_RETURN;
		m.value = v;
	} else if ((v = cJSON_GetObjectItemCaseSensitive(root, "error"))) {
		m.kind = KVM_QMP_ERROR;
		m.error_class = pve_json_str(v, "class");
		m.error_desc = pve_json_str(v, "desc");
		if (!cJSON_IsObject(v) || !m.error_desc)
			goto bad;
		if (!m.error_class)
			m.error_class = "GenericError";
	} else if ((v = cJSON_GetObjectItemCaseSensitive(root, "event"))) {
		if (!cJSON_IsString(v) || !*v->valuestring)
			goto bad;
		m.kind = KVM_QMP_EVENT;
		m.event = v->valuestring;
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
		m.value = cJSON_IsObject(data) ? data : NULL;
	} else {
		goto bad;
	}
	*ret = m;
	return 0;
bad:
	cJSON_Delete(root);
	return pve_error_set(err, EINVAL, "QMP: unexpected message");
}

static double event_timestamp(const cJSON *root)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
	long long sec = 0, usec = 0;
	if (!pve_json_int(ts, "seconds", &sec))
		return 0;
	pve_json_int(ts, "microseconds", &usec);
	return (double)sec + (double)usec / 1e6;
}

static char *command_text(const char *command, cJSON *args, const char *id)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "execute", command);
	if (args)
		cJSON_AddItemToObject(o, "arguments", args);
	if (id)
		cJSON_AddStringToObject(o, "id", id);
	char *text = pve_json_print(o);
	cJSON_Delete(o);
	char *line = xasprintf("%s\r\n", text);
	free(text);
	return line;
}

static int unix_socket(const char *path, bool nonblock, int *ret_fd, pve_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "QMP socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return pve_error_set(err, errno, "QMP: socket: %m");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		/* A unix socket's backlog full: another client holds the monitor. */
		if (e == EAGAIN)
			e = EBUSY;
		return pve_error_set(err, e, "unable to connect to QMP socket %s: %s", path,
				     strerror(e));
	}
	*ret_fd = fd;
	return 0;
}

/* ---- the asynchronous client ---------------------------------------------------------------------- */

typedef struct qmp_cmd qmp_cmd;
struct qmp_cmd {
	kvm_qmp *q;
	char id[24];
	char *command;
	char *line; /* the text to send (until sent) */
	int timeout_ms;
	kvm_qmp_reply_fn fn;
	void *ud;
	struct event *timer;
	qmp_cmd *next;
};

enum qmp_state { QMP_GREETING, QMP_CAPABILITIES, QMP_READY, QMP_DEAD };

struct kvm_qmp {
	struct event_base *base;
	struct bufferevent *bev;
	kvm_qmp_callbacks cb;
	void *ud;
	enum qmp_state state;
	char *path;
	qmp_cmd *head, *tail; /* in order of queueing */
	unsigned long next_id;
	unsigned busy; /* callbacks running */
	bool freed; /* kvm_qmp_free ran during a callback */
	struct event *cap_timer;
};

static void cmd_free(qmp_cmd *c)
{
	if (c->timer)
		event_free(c->timer);
	free(c->command);
	free(c->line);
	free(c);
}

static void real_free(kvm_qmp *q)
{
	if (q->bev)
		bufferevent_free(q->bev);
	if (q->cap_timer)
		event_free(q->cap_timer);
	free(q->path);
	free(q);
}

/* Runs after a callback: frees the client if a callback freed it. true when it is gone. */
static bool leave(kvm_qmp *q)
{
	q->busy--;
	if (q->busy == 0 && q->freed) {
		real_free(q);
		return true;
	}
	return false;
}

/* Takes the command out of the queue and answers it (ret or err). */
static void cmd_answer(kvm_qmp *q, qmp_cmd *c, const cJSON *ret, const pve_error *err)
{
	qmp_cmd **pp = &q->head, *prev = NULL;
	while (*pp && *pp != c) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = c->next;
		if (q->tail == c)
			q->tail = prev;
	}
	q->busy++;
	c->fn(c->ud, ret, err);
	cmd_free(c);
	leave(q);
}

/* Fails every pending command with err. */
static void fail_all(kvm_qmp *q, const pve_error *err)
{
	while (q->head)
		cmd_answer(q, q->head, NULL, err);
}

/* The connection is over: commands fail, on_close runs once (it may free q). */
static void qmp_die(kvm_qmp *q, int code, const char *fmt, ...) _printf_(3, 4);
static void qmp_die(kvm_qmp *q, int code, const char *fmt, ...)
{
	if (q->state == QMP_DEAD)
		return;
	q->state = QMP_DEAD;
	pve_error *err = NULL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		pve_error_setv(&err, code, fmt, ap);
		va_end(ap);
	}
	if (q->bev)
		bufferevent_disable(q->bev, EV_READ | EV_WRITE);
	if (q->cap_timer)
		evtimer_del(q->cap_timer);
	q->busy++;
	pve_error *cmd_err = NULL;
	pve_error_set(&cmd_err, err ? err->code : ECONNRESET, "%s",
		      err ? err->message : "QEMU closed the monitor connection");
	fail_all(q, cmd_err);
	pve_error_free(cmd_err);
	if (!q->freed && q->cb.on_close)
		q->cb.on_close(q->ud, err);
	pve_error_free(err);
	leave(q);
}

static void send_queued(kvm_qmp *q)
{
	for (qmp_cmd *c = q->head; c; c = c->next)
		if (c->line) {
			bufferevent_write(q->bev, c->line, strlen(c->line));
			free(c->line);
			c->line = NULL;
		}
}

static void cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	qmp_cmd *c = arg;
	kvm_qmp *q = c->q;
	q->busy++;
	pve_error *err = NULL;
	pve_error_set(&err, ETIMEDOUT, "VM %s qmp command '%s' failed - got timeout", q->path,
		      c->command);
	cmd_answer(q, c, NULL, err);
	/* A monitor that does not answer in time belongs to a hung QEMU: the connection is not
	 * trusted any more (a late answer could be taken for the next command's). */
	if (!q->freed)
		qmp_die(q, ETIMEDOUT, "%s", err->message);
	pve_error_free(err);
	leave(q);
}

static void cap_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	kvm_qmp *q = arg;
	qmp_die(q, ETIMEDOUT, "QMP %s: no greeting or capabilities in time", q->path);
}

static void capabilities_done(void *ud, const cJSON *ret, const pve_error *err)
{
	kvm_qmp *q = ud;
	(void)ret;
	if (err) {
		if (q->state != QMP_DEAD)
			qmp_die(q, err->code, "QMP %s: qmp_capabilities: %s", q->path,
				err->message);
		return;
	}
	q->state = QMP_READY;
	evtimer_del(q->cap_timer);
	send_queued(q);
	if (q->cb.on_ready)
		q->cb.on_ready(q->ud);
}

static qmp_cmd *cmd_new(kvm_qmp *q, const char *command, cJSON *args, int timeout_ms,
			kvm_qmp_reply_fn fn, void *ud)
{
	qmp_cmd *c = xcalloc(1, sizeof(*c));
	c->q = q;
	snprintf(c->id, sizeof(c->id), "pved-%lu", ++q->next_id);
	c->command = xstrdup(command);
	c->line = command_text(command, args, c->id);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	c->fn = fn;
	c->ud = ud;
	c->timer = evtimer_new(q->base, cmd_timeout, c);
	struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
	return c;
}

static void enqueue(kvm_qmp *q, qmp_cmd *c, bool front)
{
	if (front) {
		c->next = q->head;
		q->head = c;
		if (!q->tail)
			q->tail = c;
		return;
	}
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
}

static void handle_line(kvm_qmp *q, const char *line, size_t len)
{
	kvm_qmp_msg m;
	pve_error *err = NULL;
	if (kvm_qmp_parse(line, len, &m, &err) < 0) {
		qmp_die(q, EPROTO, "QMP %s: %s", q->path, err->message);
		pve_error_free(err);
		return;
	}
	switch (m.kind) {
	case KVM_QMP_GREETING:
		if (q->state == QMP_GREETING) {
			q->state = QMP_CAPABILITIES;
			qmp_cmd *c = cmd_new(q, "qmp_capabilities", NULL, DEFAULT_TIMEOUT_MS,
					     capabilities_done, q);
			enqueue(q, c, true);
			bufferevent_write(q->bev, c->line, strlen(c->line));
			free(c->line);
			c->line = NULL;
		}
		break;
	case KVM_QMP_RETURN:
	case KVM_QMP_ERROR: {
		qmp_cmd *c = q->head;
		if (m.id)
			for (c = q->head; c && !streq(c->id, m.id); c = c->next)
				;
		/* An answer to nothing we asked (or without the id we sent): ignored. */
		if (!c || c->line)
			break;
		if (m.kind == KVM_QMP_RETURN) {
			cmd_answer(q, c, m.value, NULL);
		} else {
			pve_error *e = NULL;
			pve_error_set(&e, EIO, "VM qmp command '%s' failed - %s", c->command,
				      m.error_desc);
			cmd_answer(q, c, NULL, e);
			pve_error_free(e);
		}
		break;
	}
	case KVM_QMP_EVENT:
		if (q->cb.on_event) {
			q->busy++;
			q->cb.on_event(q->ud, m.event, m.value, event_timestamp(m.root));
			leave(q);
		}
		break;
	}
	kvm_qmp_msg_clear(&m);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	kvm_qmp *q = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	q->busy++;
	while (q->state != QMP_DEAD && !q->freed) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (!line) {
			if (evbuffer_get_length(in) > KVM_QMP_MAX_LINE)
				qmp_die(q, E2BIG, "QMP %s: a message longer than %d bytes", q->path,
					KVM_QMP_MAX_LINE);
			break;
		}
		if (len > 0)
			handle_line(q, line, len);
		free(line);
	}
	leave(q);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	kvm_qmp *q = arg;
	if (what & BEV_EVENT_EOF)
		qmp_die(q, 0, NULL);
	else if (what & BEV_EVENT_ERROR)
		qmp_die(q, errno ? errno : EIO, "QMP %s: %s", q->path,
			strerror(errno ? errno : EIO));
}

int kvm_qmp_connect(struct event_base *base, const char *path, const kvm_qmp_callbacks *cb,
		    void *ud, kvm_qmp **ret, pve_error **err)
{
	int fd;
	int r = unix_socket(path, true, &fd, err);
	if (r < 0)
		return r;
	kvm_qmp *q = xcalloc(1, sizeof(*q));
	q->base = base;
	q->cb = *cb;
	q->ud = ud;
	q->path = xstrdup(path);
	q->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!q->bev) {
		close(fd);
		free(q->path);
		free(q);
		return pve_error_set(err, ENOMEM, "QMP: no bufferevent");
	}
	bufferevent_setcb(q->bev, read_cb, NULL, event_cb, q);
	bufferevent_enable(q->bev, EV_READ | EV_WRITE);
	q->cap_timer = evtimer_new(base, cap_timeout, q);
	struct timeval tv = { DEFAULT_TIMEOUT_MS / 1000, 0 };
	evtimer_add(q->cap_timer, &tv);
	*ret = q;
	return 0;
}

int kvm_qmp_command(kvm_qmp *q, const char *command, cJSON *args, int timeout_ms,
		    kvm_qmp_reply_fn fn, void *ud, pve_error **err)
{
	if (q->state == QMP_DEAD || q->freed) {
		cJSON_Delete(args);
		return pve_error_set(err, ECONNRESET, "QMP %s: the connection is closed", q->path);
	}
	qmp_cmd *c = cmd_new(q, command, args, timeout_ms, fn, ud);
	enqueue(q, c, false);
	if (q->state == QMP_READY)
		send_queued(q);
	return 0;
}

bool kvm_qmp_is_ready(const kvm_qmp *q)
{
	return q && q->state == QMP_READY && !q->freed;
}

void kvm_qmp_free(kvm_qmp *q)
{
	if (!q || q->freed)
		return;
	q->freed = true;
	q->busy++;
	q->state = QMP_DEAD;
	if (q->bev)
		bufferevent_disable(q->bev, EV_READ | EV_WRITE);
	pve_error *err = NULL;
	pve_error_set(&err, ECANCELED, "QMP %s: the connection was closed", q->path);
	fail_all(q, err);
	pve_error_free(err);
	leave(q);
}

/* ---- the blocking client ---------------------------------------------------------------------------- */

struct kvm_qmp_sync {
	int fd;
	char *path;
	pve_buf in;
	unsigned long next_id;
	bool eof;
	void (*on_event)(void *ud, const char *event, const cJSON *data);
	void *event_ud;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The next message, waiting until deadline: 0 with *ret, ETIMEDOUT, or EPIPE at the end. */
static int sync_next(kvm_qmp_sync *q, uint64_t deadline, kvm_qmp_msg *ret, pve_error **err)
{
	for (;;) {
		char *nl = q->in.len ? memchr(q->in.data, '\n', q->in.len) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - q->in.data);
			size_t ll = len > 0 && q->in.data[len - 1] == '\r' ? len - 1 : len;
			int r = ll ? kvm_qmp_parse(q->in.data, ll, ret, err) : 1;
			memmove(q->in.data, nl + 1, q->in.len - len - 1);
			q->in.len -= len + 1;
			q->in.data[q->in.len] = '\0';
			if (r == 1)
				continue;
			return r;
		}
		if (q->in.len > KVM_QMP_MAX_LINE)
			return pve_error_set(err, E2BIG, "QMP %s: a message longer than %d bytes",
					     q->path, KVM_QMP_MAX_LINE);
		if (q->eof)
			return pve_error_set(err, EPIPE, "QMP %s: QEMU closed the connection",
					     q->path);
		uint64_t now = now_ms();
		if (now >= deadline)
			return pve_error_set(err, ETIMEDOUT, "QMP %s: got timeout", q->path);
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		int n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pve_error_set(err, errno, "QMP %s: poll: %m", q->path);
		if (n == 0)
			continue;
		char buf[65536];
		ssize_t k = read(q->fd, buf, sizeof(buf));
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			q->eof = true;
			continue;
		}
		pve_buf_append(&q->in, buf, (size_t)k);
	}
}

static void sync_event(kvm_qmp_sync *q, const kvm_qmp_msg *m)
{
	if (q->on_event)
		q->on_event(q->event_ud, m->event, m->value);
}

int kvm_qmp_sync_open(const char *path, int timeout_ms, kvm_qmp_sync **ret, pve_error **err)
{
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT_MS;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int fd;
	int r;
	/* QEMU serves one client per monitor socket: another one (pved, another worker) may hold it
	 * for a moment. */
	for (;;) {
		pve_error *e = NULL;
		r = unix_socket(path, false, &fd, &e);
		if (r == 0)
			break;
		if ((r != -EBUSY && r != -ECONNREFUSED) || now_ms() >= deadline) {
			if (err && !*err)
				*err = e;
			else
				pve_error_free(e);
			return r;
		}
		pve_error_free(e);
		usleep(20 * 1000);
	}
	kvm_qmp_sync *q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	q->path = xstrdup(path);
	kvm_qmp_msg m;
	for (;;) {
		r = sync_next(q, deadline, &m, err);
		if (r < 0) {
			kvm_qmp_sync_close(q);
			return r;
		}
		bool greeting = m.kind == KVM_QMP_GREETING;
		kvm_qmp_msg_clear(&m);
		if (greeting)
			break;
	}
	int left = (int)(deadline > now_ms() ? deadline - now_ms() : 1);
	r = kvm_qmp_sync_command(q, "qmp_capabilities", NULL, left, NULL, err);
	if (r < 0) {
		kvm_qmp_sync_close(q);
		return r;
	}
	*ret = q;
	return 0;
}

void kvm_qmp_sync_set_event_cb(kvm_qmp_sync *q,
			       void (*on_event)(void *ud, const char *event, const cJSON *data),
			       void *ud)
{
	q->on_event = on_event;
	q->event_ud = ud;
}

/* The reply to the command sent with id. */
static int sync_reply(kvm_qmp_sync *q, const char *command, const char *id, int timeout_ms,
		      cJSON **ret_return, pve_error **err)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		kvm_qmp_msg m;
		pve_error *e = NULL;
		int r = sync_next(q, deadline, &m, &e);
		if (r < 0) {
			r = pve_error_set(err, -r, "VM qmp command '%s' failed - %s", command,
					  r == -ETIMEDOUT ? "got timeout" : e->message);
			pve_error_free(e);
			return r;
		}
		if (m.kind == KVM_QMP_EVENT) {
			sync_event(q, &m);
		} else if ((m.kind == KVM_QMP_RETURN || m.kind == KVM_QMP_ERROR) &&
			   (!m.id || streq(m.id, id))) {
			if (m.kind == KVM_QMP_ERROR) {
				r = pve_error_set(err, EIO, "VM qmp command '%s' failed - %s",
						  command, m.error_desc);
				kvm_qmp_msg_clear(&m);
				return r;
			}
			if (ret_return)
				*ret_return = cJSON_Duplicate(m.value, true);
			kvm_qmp_msg_clear(&m);
			return 0;
		}
		kvm_qmp_msg_clear(&m);
	}
}

int kvm_qmp_sync_command(kvm_qmp_sync *q, const char *command, cJSON *args, int timeout_ms,
			 cJSON **ret_return, pve_error **err)
{
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT_MS;
	char id[24];
	snprintf(id, sizeof(id), "pved-%lu", ++q->next_id);
	_cleanup_free_ char *line = command_text(command, args, id);
	if (pve_write_all(q->fd, line, strlen(line)) < 0)
		return pve_error_set(err, EPIPE, "VM qmp command '%s' failed - %s", command,
				     "QEMU closed the connection");
	return sync_reply(q, command, id, timeout_ms, ret_return, err);
}

int kvm_qmp_sync_getfd(kvm_qmp_sync *q, const char *fdname, int fd, pve_error **err)
{
	char id[24];
	snprintf(id, sizeof(id), "pved-%lu", ++q->next_id);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "fdname", fdname);
	_cleanup_free_ char *line = command_text("getfd", args, id);
	/* the fd rides on the command's bytes (SCM_RIGHTS); QEMU takes it with the command */
	struct iovec iov = { .iov_base = line, .iov_len = strlen(line) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(q->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != iov.iov_len)
		return pve_error_set(err, EPIPE, "VM qmp command 'getfd' failed - %s",
				     "QEMU closed the connection");
	return sync_reply(q, "getfd", id, DEFAULT_TIMEOUT_MS, NULL, err);
}

int kvm_qmp_sync_wait_event(kvm_qmp_sync *q, const char *event, bool eof_ok, int timeout_ms,
			    pve_error **err)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		kvm_qmp_msg m;
		pve_error *e = NULL;
		int r = sync_next(q, deadline, &m, &e);
		if (r == -EPIPE && eof_ok) {
			pve_error_free(e);
			return 0;
		}
		if (r < 0) {
			if (err && !*err)
				*err = e;
			else
				pve_error_free(e);
			return r;
		}
		bool match = m.kind == KVM_QMP_EVENT && streq(m.event, event);
		if (m.kind == KVM_QMP_EVENT)
			sync_event(q, &m);
		kvm_qmp_msg_clear(&m);
		if (match)
			return 0;
	}
}

void kvm_qmp_sync_close(kvm_qmp_sync *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	pve_buf_free(&q->in);
	free(q->path);
	free(q);
}
