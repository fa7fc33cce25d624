/* The QEMU guest agent: the reader of what qemu-ga sends (its sync framing, then QMP's replies), an
 * asynchronous client on a libevent loop, the same client run to its end for task workers, and the
 * base64 the agent carries file contents in. */
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kvm/kvm-internal.h"

#define QGA_DEFAULT_TIMEOUT_MS 5000

/* ---- the reader -------------------------------------------------------------------------------------- */

void kvm_qga_reader_init(kvm_qga_reader *r, long long sync_id)
{
	*r = (kvm_qga_reader){ .sync_id = sync_id };
}

void kvm_qga_reader_clear(kvm_qga_reader *r)
{
	pve_buf_free(&r->buf);
	*r = (kvm_qga_reader){ 0 };
}

void kvm_qga_reader_add(kvm_qga_reader *r, const void *data, size_t len)
{
	/* what was consumed goes once it is most of the buffer, so reading stays linear */
	if (r->off > 0 && r->off * 2 >= r->buf.len) {
		memmove(r->buf.data, r->buf.data + r->off, r->buf.len - r->off);
		r->buf.len -= r->off;
		r->off = 0;
	}
	pve_buf_append(&r->buf, data, len);
}

/* The next complete line from off (without its end), or NULL; *ret_next is where the one after starts. */
static const char *next_line(const kvm_qga_reader *r, size_t from, size_t *ret_len,
			     size_t *ret_next)
{
	const char *start = r->buf.data + from;
	const char *nl = memchr(start, '\n', r->buf.len - from);
	if (!nl)
		return NULL;
	size_t len = (size_t)(nl - start);
	*ret_next = from + len + 1;
	if (len > 0 && start[len - 1] == '\r')
		len--;
	*ret_len = len;
	return start;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\xff')
			return false;
	return true;
}

int kvm_qga_reader_next(kvm_qga_reader *r, kvm_qmp_msg *ret, pve_error **err)
{
	while (r->off < r->buf.len) {
		if (!r->synced) {
			/* everything up to the 0xFF that starts the sync's answer is a former
			 * client's */
			const char *ff = memchr(r->buf.data + r->off, 0xff, r->buf.len - r->off);
			if (!ff) {
				r->off = r->buf.len;
				return 0;
			}
			size_t from = (size_t)(ff - r->buf.data) + 1, len, next;
			const char *line = next_line(r, from, &len, &next);
			if (!line) {
				if (r->buf.len - from > KVM_QGA_MAX_LINE)
					return pve_error_set(err, E2BIG,
							     "QGA: an answer longer than %d bytes",
							     KVM_QGA_MAX_LINE);
				return 0;
			}
			r->off = from;
			/* a line that is not the answer to this sync (another 0xFF, a former
			 * client's sync) is skipped */
			if (memchr(line, 0xff, len))
				continue;
			r->off = next;
			kvm_qmp_msg m;
			if (kvm_qmp_parse(line, len, &m, NULL) < 0)
				continue;
			bool ours = m.kind == KVM_QMP_RETURN && cJSON_IsNumber(m.value) &&
				    m.value->valuedouble == (double)r->sync_id;
			kvm_qmp_msg_clear(&m);
			if (ours) {
				r->synced = true;
				return 2;
			}
			continue;
		}
		size_t len, next;
		const char *line = next_line(r, r->off, &len, &next);
		if (!line) {
			if (r->buf.len - r->off > KVM_QGA_MAX_LINE)
				return pve_error_set(err, E2BIG,
						     "QGA: an answer longer than %d bytes",
						     KVM_QGA_MAX_LINE);
			return 0;
		}
		r->off = next;
		if (blank(line, len))
			continue;
		kvm_qmp_msg m;
		pve_error *e = NULL;
		if (kvm_qmp_parse(line, len, &m, &e) < 0) {
			int rc = pve_error_set(err, EPROTO, "QGA: %s", e->message);
			pve_error_free(e);
			return rc;
		}
		if (m.kind != KVM_QMP_RETURN && m.kind != KVM_QMP_ERROR) {
			kvm_qmp_msg_clear(&m);
			return pve_error_set(err, EPROTO, "QGA: a message that is no answer");
		}
		*ret = m;
		return 1;
	}
	return 0;
}

int kvm_qga_timeout_ms(const char *command)
{
	static const struct {
		const char *command;
		int ms;
	} table[] = {
		/* a freeze syncs every file system; killed halfway it may stay frozen */
		{ "guest-fsfreeze-freeze", 60 * 60 * 1000 },
		/* Windows guests run hook scripts on thaw */
		{ "guest-fsfreeze-thaw", 3 * 60 * 1000 },
		{ "guest-fstrim", 10 * 60 * 1000 },
		{ "guest-shutdown", 10 * 60 * 1000 },
	};
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(command, table[i].command))
			return table[i].ms;
	return QGA_DEFAULT_TIMEOUT_MS;
}

/* ---- base64 -------------------------------------------------------------------------------------------- */

char *kvm_base64_encode(const void *data, size_t len)
{
	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

char *kvm_base64_decode(const char *s, size_t len, size_t *ret_len)
{
	/* EVP_DecodeBlock skips blanks at either end and counts padding as zero bytes: both checked
	 * here */
	if (len % 4 != 0 || len > (size_t)INT_MAX)
		return NULL;
	size_t pad = 0;
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' ||
		    (s[i] == '=' && i < len - pad))
			return NULL;
	char *out = xmalloc(len / 4 * 3 + 1);
	int n = len ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len) : 0;
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*ret_len = (size_t)n - pad;
	out[*ret_len] = '\0';
	return out;
}

/* ---- the asynchronous client ------------------------------------------------------------------------- */

typedef struct qga_cmd qga_cmd;
struct qga_cmd {
	char *command;
	char *line;
	int timeout_ms;
	unsigned flags;
	kvm_qga_reply_fn fn;
	void *ud;
	qga_cmd *next;
};

enum qga_state { QGA_SYNC, QGA_READY, QGA_DEAD };

struct kvm_qga {
	struct event_base *base;
	struct bufferevent *bev;
	char *name;
	enum qga_state state;
	kvm_qga_reader reader;
	qga_cmd *head, *tail; /* head is in flight once sent */
	bool sent; /* head was written */
	struct event *timer; /* the sync's or the head command's time limit */
	unsigned busy;
	bool freed;
};

static void real_free(kvm_qga *q)
{
	if (q->bev)
		bufferevent_free(q->bev);
	if (q->timer)
		event_free(q->timer);
	kvm_qga_reader_clear(&q->reader);
	free(q->name);
	free(q);
}

static void leave(kvm_qga *q)
{
	if (--q->busy == 0 && q->freed)
		real_free(q);
}

/* Takes the head command off and answers it. */
static void answer_head(kvm_qga *q, const kvm_qmp_msg *m, const pve_error *err)
{
	qga_cmd *c = q->head;
	if (!c)
		return;
	q->head = c->next;
	if (!q->head)
		q->tail = NULL;
	q->sent = false;
	q->busy++;
	c->fn(c->ud, m, err);
	free(c->command);
	free(c->line);
	free(c);
	leave(q);
}

/* The connection is over: every command fails with the error. */
static void qga_die(kvm_qga *q, int code, const char *fmt, ...) _printf_(3, 4);
static void qga_die(kvm_qga *q, int code, const char *fmt, ...)
{
	if (q->state == QGA_DEAD)
		return;
	q->state = QGA_DEAD;
	if (q->bev)
		bufferevent_disable(q->bev, EV_READ | EV_WRITE);
	evtimer_del(q->timer);
	pve_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	pve_error_setv(&err, code, fmt, ap);
	va_end(ap);
	q->busy++;
	while (q->head)
		answer_head(q, NULL, err);
	pve_error_free(err);
	leave(q);
}

static void arm(kvm_qga *q, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(q->timer, &tv);
}

/* Sends the head command when the agent is synced and nothing is in flight. */
static void send_next(kvm_qga *q)
{
	if (q->state != QGA_READY || q->sent || !q->head)
		return;
	qga_cmd *c = q->head;
	bufferevent_write(q->bev, c->line, strlen(c->line));
	q->sent = true;
	/* a no-reply command is done once written: write_cb says when */
	arm(q, c->timeout_ms);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	kvm_qga *q = arg;
	if (q->state == QGA_SYNC)
		qga_die(q, EIO, KVM_QGA_NOT_RUNNING);
	else if (q->head)
		qga_die(q, ETIMEDOUT, "%s qga command '%s' failed - got timeout", q->name,
			q->head->command);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	kvm_qga *q = arg;
	if (q->state != QGA_READY || !q->sent || !q->head || !(q->head->flags & KVM_QGA_NO_REPLY) ||
	    evbuffer_get_length(bufferevent_get_output(bev)))
		return;
	/* the agent does not answer these when they work: the connection has nothing more to say */
	q->busy++;
	evtimer_del(q->timer);
	answer_head(q, NULL, NULL);
	if (!q->freed)
		qga_die(q, ECONNRESET,
			"%s qga: the connection ended after a command without answer", q->name);
	leave(q);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	kvm_qga *q = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	q->busy++;
	size_t n;
	while (!q->freed && q->state != QGA_DEAD && (n = evbuffer_get_length(in)) > 0) {
		char buf[65536];
		int k = evbuffer_remove(in, buf, n < sizeof(buf) ? n : sizeof(buf));
		if (k <= 0)
			break;
		kvm_qga_reader_add(&q->reader, buf, (size_t)k);
		for (;;) {
			kvm_qmp_msg m;
			pve_error *err = NULL;
			int r = kvm_qga_reader_next(&q->reader, &m, &err);
			if (r < 0) {
				qga_die(q, -r, "%s qga: %s", q->name, err->message);
				pve_error_free(err);
				break;
			}
			if (r == 0)
				break;
			if (r == 2) {
				evtimer_del(q->timer);
				q->state = QGA_READY;
				send_next(q);
				continue;
			}
			/* an answer nobody waits for (after a no-reply command) is dropped */
			if (q->sent && q->head && !(q->head->flags & KVM_QGA_NO_REPLY)) {
				evtimer_del(q->timer);
				answer_head(q, &m, NULL);
				if (!q->freed)
					send_next(q);
			}
			kvm_qmp_msg_clear(&m);
			if (q->freed || q->state == QGA_DEAD)
				break;
		}
	}
	leave(q);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	kvm_qga *q = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (q->state == QGA_SYNC)
		qga_die(q, EIO, KVM_QGA_NOT_RUNNING);
	else if (q->head)
		qga_die(q, ECONNRESET, "%s qga command '%s' failed - client closed connection",
			q->name, q->head->command);
	else
		qga_die(q, ECONNRESET, "%s qga: client closed connection", q->name);
}

static char *command_line(const char *command, cJSON *args)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "execute", command);
	if (args)
		cJSON_AddItemToObject(o, "arguments", args);
	_cleanup_free_ char *text = pve_json_print(o);
	cJSON_Delete(o);
	return xasprintf("%s\n", text);
}

int kvm_qga_open(struct event_base *base, const char *path, const char *name, kvm_qga **ret,
		 pve_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "agent socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pve_error_set(err, errno, "socket: %m");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		/* a unix socket's backlog is full: other clients wait for the agent already */
		if (e == EAGAIN)
			return pve_error_set(err, EBUSY,
					     "%s qga socket is busy: other clients are waiting for "
					     "the agent",
					     name);
		return pve_error_set(err, e, KVM_QGA_NOT_RUNNING);
	}
	unsigned char rnd[4];
	if (pve_random_bytes(rnd, sizeof(rnd), err) < 0) {
		close(fd);
		return -EIO;
	}
	/* a positive id that fits every JSON reader */
	long long id =
		1 + (((long long)rnd[0] << 24 | rnd[1] << 16 | rnd[2] << 8 | rnd[3]) & 0x7ffffffe);
	kvm_qga *q = xcalloc(1, sizeof(*q));
	q->base = base;
	q->name = xstrdup(name);
	kvm_qga_reader_init(&q->reader, id);
	q->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	q->timer = evtimer_new(base, timeout_cb, q);
	if (!q->bev || !q->timer) {
		if (!q->bev)
			close(fd);
		real_free(q);
		return pve_error_set(err, ENOMEM, "QGA: no bufferevent");
	}
	bufferevent_setcb(q->bev, read_cb, write_cb, event_cb, q);
	bufferevent_enable(q->bev, EV_READ | EV_WRITE);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "id", (double)id);
	_cleanup_free_ char *sync = command_line("guest-sync-delimited", args);
	/* 0xFF first: the agent drops what a former client left half-written */
	bufferevent_write(q->bev, "\xff", 1);
	bufferevent_write(q->bev, sync, strlen(sync));
	arm(q, KVM_QGA_SYNC_TIMEOUT_MS);
	*ret = q;
	return 0;
}

void kvm_qga_command(kvm_qga *q, const char *command, cJSON *args, int timeout_ms, unsigned flags,
		     kvm_qga_reply_fn fn, void *ud)
{
	qga_cmd *c = xcalloc(1, sizeof(*c));
	c->command = xstrdup(command);
	c->line = command_line(command, args);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : kvm_qga_timeout_ms(command);
	c->flags = flags;
	c->fn = fn;
	c->ud = ud;
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	if (q->state == QGA_DEAD || q->freed) {
		pve_error *err = NULL;
		pve_error_set(&err, ECONNRESET,
			      "%s qga command '%s' failed - client closed connection", q->name,
			      command);
		q->busy++;
		while (q->head)
			answer_head(q, NULL, err);
		pve_error_free(err);
		leave(q);
		return;
	}
	send_next(q);
}

void kvm_qga_free(kvm_qga *q)
{
	if (!q || q->freed)
		return;
	q->freed = true;
	q->busy++;
	if (q->state != QGA_DEAD)
		qga_die(q, ECANCELED, "%s qga: the connection was closed", q->name);
	leave(q);
}

/* ---- the same, run to its end ------------------------------------------------------------------------ */

typedef struct run_ctx {
	struct event_base *base;
	bool done;
	cJSON *ret;
	pve_error *err;
} run_ctx;

static void run_reply(void *ud, const kvm_qmp_msg *m, const pve_error *err)
{
	run_ctx *x = ud;
	x->done = true;
	if (err)
		pve_error_set(&x->err, err->code, "%s", err->message);
	else if (m && m->kind == KVM_QMP_ERROR)
		pve_error_set(&x->err, EIO, "Agent error: %s", m->error_desc);
	else if (m)
		x->ret = cJSON_Duplicate(m->value, true);
	event_base_loopbreak(x->base);
}

int kvm_qga_run(const char *path, const char *name, const char *command, cJSON *args,
		int timeout_ms, unsigned flags, cJSON **ret_return, pve_error **err)
{
	run_ctx x = { .base = event_base_new() };
	if (!x.base) {
		cJSON_Delete(args);
		return pve_error_set(err, ENOMEM, "QGA: no event loop");
	}
	kvm_qga *q = NULL;
	int r = kvm_qga_open(x.base, path, name, &q, err);
	if (r < 0) {
		cJSON_Delete(args);
		event_base_free(x.base);
		return r;
	}
	kvm_qga_command(q, command, args, timeout_ms, flags, run_reply, &x);
	while (!x.done)
		if (event_base_loop(x.base, EVLOOP_ONCE) < 0)
			break;
	kvm_qga_free(q);
	event_base_free(x.base);
	if (!x.done)
		return pve_error_set(err, EIO, "QGA: the event loop failed");
	if (x.err) {
		r = -x.err->code;
		if (err && !*err)
			*err = x.err;
		else
			pve_error_free(x.err);
		return r < 0 ? r : -EIO;
	}
	if (ret_return)
		*ret_return = x.ret;
	else
		cJSON_Delete(x.ret);
	return 0;
}
