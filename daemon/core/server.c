/* The server: frames from the local socket and the fronts, and each request through route, authentication,
 * validation, permission and handler, answered in Proxmox's envelope. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon/core/auth-internal.h"

/* Proxmox delays every failed authentication by 3 s to slow down guessing; the delay is a timer, so
 * other requests go on meanwhile. */
#define AUTH_FAIL_DELAY_SEC 3
#define MAX_CALLS_PER_CONN 4096
/* An answer's body goes out in DATA frames of at most this, as the client's window allows; a producer
 * (pved_call_reply_stream) makes at most this much ahead of what may be sent. */
#define STREAM_FRAME (256u << 10)
#define STREAM_CHUNK (64u << 10)

typedef struct call call;

struct pved_conn {
	pved_server *srv;
	struct bufferevent *bev;
	bool front;
	bool root; /* a local peer with uid 0: root@pam */
	bool closed;
	unsigned n_calls; /* calls in flight; the conn lives on until they have answered */
	call *calls;
	void (*on_ready)(void *ud);
	void (*on_close)(void *ud);
	void *ud;
	unsigned drain_waiters; /* streams with on_drain set */
	pved_conn *next;
};

struct call {
	pved_call pub;
	pved_conn *conn;
	uint32_t id;
	bool cancelled;
	pve_request *req;
	char *authid;
	char *userid;
	struct event *delay; /* holds the answer back: the failed-authentication delay */
	/* The answer, sent within the window the client grants (its request's "window", then WINDOW
	 * frames): the bytes made and not yet sent, and the producer of the rest, if any. */
	bool answering;
	bool head_sent;
	int status;
	char *reason;
	char *file_meta; /* a file answer's description (PVE_WIRE_FILE_BODY), or NULL: JSON */
	size_t file_meta_len;
	pve_buf pending;
	size_t pending_off;
	pved_produce_fn produce;
	void (*produce_free)(void *ud);
	void *produce_ud;
	bool produced_all;
	uint64_t window;
	bool streaming; /* accepted websocket: open until one side ends it */
	bool tunnel; /* ... a tunnel: its DATA both ways within windows (pved_call_tunnel_accept) */
	void (*on_window)(void *ud); /* the front granted more of the window */
	bool receiving; /* an upload's form: FIELD, FILE and DATA frames until one with FIN */
	bool raw; /* ... or its body as it came: DATA frames within raw_window */
	uint64_t raw_window;
	const pved_form_callbacks *form;
	bool form_file; /* its file part began */
	pved_stream_data_fn on_data;
	pved_stream_close_fn on_close;
	void *stream_ud;
	void (*on_drain)(void *ud); /* waits for the connection's output to drain */
	void *drain_ud;
	bool drain_now; /* its turn in the drain being handled */
	call *prev, *next;
};

struct pved_server {
	pved *d;
	struct evconnlistener *local;
	pved_conn *conns;
	pved_handler_fn *handlers; /* by route index */
};

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void call_free(call *k);

/* The client ended a stream: tell the handler, then drop the call. */
static void stream_closed(call *k)
{
	k->streaming = false;
	if (k->on_close)
		k->on_close(k->stream_ud);
	call_free(k);
}
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* ---- connections ------------------------------------------------------------------------------------- */

static void conn_unlink(pved_conn *c)
{
	for (pved_conn **p = &c->srv->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
}

static void conn_maybe_free(pved_conn *c)
{
	if (c->closed && c->n_calls == 0)
		free(c);
}

void pved_conn_close(pved_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	bufferevent_free(c->bev);
	c->bev = NULL;
	conn_unlink(c);
	for (call *k = c->calls; k; k = k->next)
		k->cancelled = true;
	/* Streams end with their connection; the handlers hear of it and let go of the calls. The
	 * extra reference keeps the conn while its calls go. */
	c->n_calls++;
	for (call *k = c->calls, *next; k; k = next) {
		next = k->next;
		if (k->streaming)
			stream_closed(k);
		else if (k->answering)
			call_free(k); /* waiting for a window that will not come */
	}
	c->n_calls--;
	if (c->on_close)
		c->on_close(c->ud);
	conn_maybe_free(c);
}

static pved_conn *conn_new(pved_server *srv, int fd, bool front, bool root)
{
	pved_conn *c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->front = front;
	c->root = root;
	c->bev = bufferevent_socket_new(srv->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* Reads of up to a frame at a time: an upload's body comes in frames of 256 KiB. */
	bufferevent_set_max_single_read(c->bev, 256 * 1024);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = srv->conns;
	srv->conns = c;
	return c;
}

pved_conn *pved_server_add_front(pved *d, int fd, void (*on_ready)(void *ud),
				 void (*on_close)(void *ud), void *ud)
{
	pved_conn *c = conn_new(d->server, fd, true, false);
	if (!c)
		return NULL;
	c->on_ready = on_ready;
	c->on_close = on_close;
	c->ud = ud;
	return c;
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	pved_conn *c = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		pved_conn_close(c);
}

/* ---- answering ----------------------------------------------------------------------------------------- */

static void call_free(call *k)
{
	pved_conn *c = k->conn;
	k->streaming = k->receiving = false;
	if (k->prev)
		k->prev->next = k->next;
	else
		c->calls = k->next;
	if (k->next)
		k->next->prev = k->prev;
	c->n_calls--;
	if (k->on_drain)
		c->drain_waiters--;
	if (k->delay)
		event_free(k->delay);
	if (k->produce_free)
		k->produce_free(k->produce_ud);
	free(k->reason);
	free(k->file_meta);
	pve_buf_free(&k->pending);
	pve_request_free(k->req);
	cJSON_Delete(k->pub.params);
	free(k->authid);
	free(k->userid);
	free(k);
	conn_maybe_free(c);
}

/* Sends what the window allows of the answer: the RESPONSE frame first (with the length when all of the
 * body is made by then), then DATA frames; the call ends with the frame carrying FIN. A producer is asked
 * for more only while the window is open, so a client that does not read stops it. */
static void call_pump(call *k)
{
	if (k->cancelled || k->conn->closed) {
		call_free(k);
		return;
	}
	if (k->delay && evtimer_pending(k->delay, NULL))
		return;
	pve_buf frames = { 0 };
	bool done = false, wait = false;
	for (;;) {
		while (!k->produced_all && !wait &&
		       k->pending.len - k->pending_off < STREAM_CHUNK &&
		       (!k->head_sent || k->window > k->pending.len - k->pending_off)) {
			if (k->pending_off) {
				memmove(k->pending.data, k->pending.data + k->pending_off,
					k->pending.len - k->pending_off);
				k->pending.len -= k->pending_off;
				k->pending_off = 0;
			}
			size_t before = k->pending.len;
			_cleanup_error_ pve_error *err = NULL;
			int r = k->produce(k->produce_ud, &k->pending, STREAM_CHUNK, &err);
			if (r == PVED_PRODUCE_WAIT) {
				wait = true; /* pved_call_produce_ready pumps again */
				break;
			}
			if (r > 0)
				k->produced_all = true;
			if (r < 0 || (r == 0 && k->pending.len == before)) {
				log_warning("answer of %s cut short: %s",
					    k->req ? k->req->path : "a request",
					    err ? err->message : "its producer stalled");
				if (!k->head_sent) {
					/* Nothing went out yet: an error answer instead. */
					k->pending.len = k->pending_off = 0;
					pve_buf_puts(&k->pending, "{\"data\":null,\"message\":"
								  "\"internal error\\n\"}");
					free(k->reason);
					k->reason = xstrdup("internal error");
					k->status = 500;
					free(k->file_meta);
					k->file_meta = NULL;
					k->produced_all = true;
					break;
				}
				pve_wire_append_frame(&frames, PVE_WIRE_DATA,
						      PVE_WIRE_FIN | PVE_WIRE_ABORT, k->id, NULL,
						      0);
				done = true;
				goto out;
			}
		}
		size_t avail = k->pending.len - k->pending_off;
		const char *at = k->pending.data + k->pending_off;
		if (!k->head_sent) {
			size_t n = avail;
			if (n > k->window)
				n = (size_t)k->window;
			if (n > pve_wire_response_room(k->reason))
				n = pve_wire_response_room(k->reason);
			bool fin = k->produced_all && n == avail;
			pve_wire_append_response_start_file(
				&frames, k->id, k->status, k->reason,
				k->produced_all ? avail : PVE_WIRE_NO_LENGTH, k->file_meta,
				k->file_meta_len, at, n, fin);
			k->head_sent = true;
			k->pending_off += n;
			k->window -= n;
			if (fin) {
				done = true;
				break;
			}
			continue;
		}
		if (avail == 0 && k->produced_all) {
			pve_wire_append_frame(&frames, PVE_WIRE_DATA, PVE_WIRE_FIN, k->id, NULL, 0);
			done = true;
			break;
		}
		if (k->window == 0 || avail == 0)
			break;
		size_t n = avail;
		if (n > k->window)
			n = (size_t)k->window;
		if (n > STREAM_FRAME)
			n = STREAM_FRAME;
		bool fin = k->produced_all && n == avail;
		pve_wire_append_frame(&frames, PVE_WIRE_DATA, fin ? PVE_WIRE_FIN : 0, k->id, at, n);
		k->pending_off += n;
		k->window -= n;
		if (fin) {
			done = true;
			break;
		}
	}
out:
	/* A call that waits for its window holds no sent bytes. */
	if (k->pending_off == k->pending.len) {
		pve_buf_free(&k->pending);
		k->pending_off = 0;
	}
	if (frames.len)
		bufferevent_write(k->conn->bev, frames.data, frames.len);
	pve_buf_free(&frames);
	if (done)
		call_free(k);
}

static void delayed_send_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	call *k = arg;
	call_pump(k);
}

/* An answer begins: an upload still coming in ends here, its handler hears no more of it (the front
 * drops the rest). */
static void answer_begin(call *k)
{
	k->answering = true;
	if (k->receiving)
		k->streaming = k->receiving = false;
}

/* The answer: body is taken over; delay holds it back for the failed-authentication delay. */
static void call_answer(call *k, int status, const char *reason, pve_buf *body, bool delay)
{
	answer_begin(k);
	k->status = status;
	k->reason = xstrdup(reason);
	pve_buf_free(&k->pending);
	k->pending = *body;
	*body = (pve_buf){ 0 };
	k->pending_off = 0;
	k->produced_all = true;
	if (delay) {
		k->delay = evtimer_new(k->conn->srv->d->base, delayed_send_cb, k);
		struct timeval tv = { AUTH_FAIL_DELAY_SEC, 0 };
		evtimer_add(k->delay, &tv);
		return;
	}
	call_pump(k);
}

static void call_respond(call *k, int status, const char *reason, cJSON *body, bool delay)
{
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text)
		abort();
	/* Taken over as it is, no copy: the answer may be large. */
	size_t len = strlen(text);
	pve_buf b = { .data = text, .len = len, .cap = len + 1 };
	call_answer(k, status, reason, &b, delay);
}

void pved_call_reply_stream(pved_call *c, pved_produce_fn produce, void (*free_ud)(void *ud),
			    void *ud)
{
	call *k = (call *)c;
	answer_begin(k);
	k->status = 200;
	k->reason = xstrdup("OK");
	k->produce = produce;
	k->produce_free = free_ud;
	k->produce_ud = ud;
	call_pump(k);
}

void pved_call_produce_ready(pved_call *c)
{
	call_pump((call *)c);
}

void pved_call_reply_file(pved_call *c, const char *content_type, const char *filename, bool gzip,
			  pved_produce_fn produce, void (*free_ud)(void *ud), void *ud)
{
	call *k = (call *)c;
	pve_wire_file_meta m = { (char *)content_type, (char *)filename, gzip };
	k->file_meta = pve_wire_file_meta_encode(&m, &k->file_meta_len);
	pved_call_reply_stream(c, produce, free_ud, ud);
}

void pved_call_stream_accept(pved_call *c, pved_stream_data_fn on_data,
			     pved_stream_close_fn on_close, void *ud)
{
	call *k = (call *)c;
	k->streaming = true;
	k->on_data = on_data;
	k->on_close = on_close;
	k->stream_ud = ud;
	if (k->cancelled || k->conn->closed) {
		stream_closed(k);
		return;
	}
	pve_buf frames = { 0 };
	pve_wire_append_response_head(&frames, k->id, 101, "Switching Protocols");
	bufferevent_write(k->conn->bev, frames.data, frames.len);
	pve_buf_free(&frames);
}

bool pved_call_tunnel_accept(pved_call *c, pved_stream_data_fn on_data,
			     pved_stream_close_fn on_close, void (*on_window)(void *ud), void *ud,
			     uint32_t grant)
{
	call *k = (call *)c;
	/* a client gone already: stream_accept hands the call back (on_close) and frees it */
	bool gone = k->cancelled || k->conn->closed;
	k->tunnel = true;
	k->on_window = on_window;
	pved_call_stream_accept(c, on_data, on_close, ud);
	if (!gone)
		pved_call_body_grant(c, grant);
	return !gone;
}

uint64_t pved_call_window(const pved_call *c)
{
	return ((const call *)c)->window;
}

static void receive_start(call *k, const pved_form_callbacks *cb, void *ud, bool raw,
			  uint32_t window)
{
	k->streaming = true;
	k->receiving = true;
	k->raw = raw;
	k->form = cb;
	k->on_close = cb->close;
	k->stream_ud = ud;
	if (k->cancelled || k->conn->closed) {
		stream_closed(k);
		return;
	}
	/* The front holds the body back until now: nothing of it arrives before the handlers above. */
	pve_buf frames = { 0 };
	pve_wire_append_frame(&frames, PVE_WIRE_CONTINUE, raw ? PVE_WIRE_RAW : 0, k->id, NULL, 0);
	if (raw) {
		k->raw_window = window;
		pve_wire_append_window(&frames, k->id, window);
	}
	bufferevent_write(k->conn->bev, frames.data, frames.len);
	pve_buf_free(&frames);
}

void pved_call_receive_form(pved_call *c, const pved_form_callbacks *cb, void *ud)
{
	receive_start((call *)c, cb, ud, false, 0);
}

void pved_call_receive_body(pved_call *c, const pved_form_callbacks *cb, void *ud, uint32_t window)
{
	receive_start((call *)c, cb, ud, true, window);
}

void pved_call_body_grant(pved_call *c, uint32_t grant)
{
	call *k = (call *)c;
	if (!(k->receiving && k->raw) && !(k->tunnel && k->streaming))
		return;
	if (k->conn->closed || !grant)
		return;
	k->raw_window += grant;
	pve_buf frame = { 0 };
	pve_wire_append_window(&frame, k->id, grant);
	bufferevent_write(k->conn->bev, frame.data, frame.len);
	pve_buf_free(&frame);
}

/* The call of an open stream with this id, if any. */
static call *stream_call(pved_conn *c, uint32_t id)
{
	for (call *k = c->calls; k; k = k->next)
		if (k->id == id && k->streaming)
			return k;
	return NULL;
}

/* A form frame out of place or malformed: the handler lets go of the call, which is answered 400. */
static void form_refuse(call *k, pve_error *err)
{
	if (err->code == EPROTO)
		err->code = EINVAL; /* bad input from the client's side: 400 */
	k->streaming = k->receiving = false;
	k->form->close(k->stream_ud);
	pved_call_fail(&k->pub, err);
}

/* A frame of an upload's form. The callbacks may answer, which frees the call: nothing touches it
 * after one unless it is still there. */
static void form_frame(pved_conn *c, call *k, const pve_wire_header *h, const void *payload)
{
	pve_error *err = NULL;
	void *ud = k->stream_ud;
	const pved_form_callbacks *cb = k->form;
	uint32_t id = k->id;
	if (k->raw && h->type != PVE_WIRE_DATA) {
		pve_error_set(&err, EPROTO, "form frame in a raw upload");
		return form_refuse(k, err);
	}
	if (k->raw && h->len > k->raw_window) {
		pve_error_set(&err, EPROTO, "upload data beyond its window");
		return form_refuse(k, err);
	}
	if (h->type == PVE_WIRE_FIELD) {
		_cleanup_free_ char *name = NULL, *value = NULL;
		if (pve_wire_field_decode(payload, h->len, &name, &value, &err) < 0)
			return form_refuse(k, err);
		if (k->form_file) {
			pve_error_set(&err, EINVAL, "form field '%s' after the file", name);
			return form_refuse(k, err);
		}
		cb->field(ud, name, value);
		return;
	}
	if (h->type == PVE_WIRE_FILE) {
		_cleanup_free_ char *name = NULL, *filename = NULL, *type = NULL;
		if (pve_wire_file_decode(payload, h->len, &name, &filename, &type, &err) < 0)
			return form_refuse(k, err);
		if (k->form_file) {
			pve_error_set(&err, EINVAL, "more than one file in the upload");
			return form_refuse(k, err);
		}
		k->form_file = true;
		cb->file(ud, name, filename, type);
		return;
	}
	bool fin = h->flags & PVE_WIRE_FIN;
	if (h->len) {
		if (k->raw) {
			k->raw_window -= h->len;
		} else if (!k->form_file) {
			pve_error_set(&err, EPROTO, "upload data before its file part");
			return form_refuse(k, err);
		}
		cb->data(ud, payload, h->len);
		if (stream_call(c, id) != k)
			return; /* answered (an error): no end follows */
	}
	if (fin) {
		k->streaming = k->receiving = false;
		cb->end(ud);
	}
}

void pved_call_stream_send(pved_call *c, const void *data, size_t len)
{
	call *k = (call *)c;
	if (k->conn->closed)
		return;
	if (k->tunnel)
		k->window -= len < k->window ? len : k->window;
	pve_buf frames = { 0 };
	for (size_t off = 0; off < len;) {
		size_t n = len - off > PVE_WIRE_MAX_FRAME ? PVE_WIRE_MAX_FRAME : len - off;
		pve_wire_append_frame(&frames, PVE_WIRE_DATA, 0, k->id, (const char *)data + off,
				      n);
		off += n;
	}
	bufferevent_write(k->conn->bev, frames.data, frames.len);
	pve_buf_free(&frames);
}

bool pved_call_stream_congested(pved_call *c, size_t limit, void (*on_drain)(void *ud), void *ud)
{
	call *k = (call *)c;
	if (k->conn->closed || evbuffer_get_length(bufferevent_get_output(k->conn->bev)) <= limit)
		return false;
	if (!k->on_drain)
		k->conn->drain_waiters++;
	k->on_drain = on_drain;
	k->drain_ud = ud;
	return true;
}

/* The connection's output drained (libevent's write callback, at its low watermark of 0): the streams
 * that waited for it go on. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pved_conn *c = arg;
	if (!c->drain_waiters)
		return;
	/* Each waiting stream once (one that is congested again waits for the next drain); a callback
	 * may end its stream or another, so the list is walked again from its head after each. */
	for (call *k = c->calls; k; k = k->next)
		k->drain_now = k->on_drain != NULL;
	c->n_calls++;
	for (bool again = true; again && !c->closed;) {
		again = false;
		for (call *k = c->calls; k; k = k->next)
			if (k->drain_now) {
				k->drain_now = false;
				if (!k->on_drain)
					continue;
				void (*fn)(void *ud) = k->on_drain;
				k->on_drain = NULL;
				c->drain_waiters--;
				fn(k->drain_ud);
				again = true;
				break;
			}
	}
	c->n_calls--;
	conn_maybe_free(c);
}

void pved_call_stream_end(pved_call *c)
{
	call *k = (call *)c;
	k->streaming = false;
	if (!k->cancelled && !k->conn->closed) {
		pve_buf frames = { 0 };
		pve_wire_append_frame(&frames, PVE_WIRE_DATA, PVE_WIRE_FIN, k->id, NULL, 0);
		bufferevent_write(k->conn->bev, frames.data, frames.len);
		pve_buf_free(&frames);
	}
	call_free(k);
}

void pved_call_reply_json(pved_call *c, const char *data_json, size_t len)
{
	call *k = (call *)c;
	pve_buf body = { 0 };
	pve_buf_puts(&body, "{\"data\":");
	pve_buf_append(&body, data_json, len);
	pve_buf_puts(&body, "}");
	call_answer(k, 200, "OK", &body, false);
}

void pved_call_reply_body(pved_call *c, int status, const char *reason, pve_buf *body)
{
	call_answer((call *)c, status, reason, body, false);
}

void pved_call_reply_with(pved_call *c, cJSON *data, cJSON *extra)
{
	call *k = (call *)c;
	cJSON *body = extra ? extra : cJSON_CreateObject();
	cJSON_AddItemToObject(body, "data", data ? data : cJSON_CreateNull());
	call_respond(k, 200, "OK", body, false);
}

void pved_call_reply(pved_call *c, cJSON *data)
{
	pved_call_reply_with(c, data, NULL);
}

/* Proxmox's error envelope: the message is the reason phrase and "message"; "errors" for parameters. */
static void call_fail_full(call *k, int status, const char *message, cJSON *errors)
{
	cJSON *body = cJSON_CreateObject();
	cJSON_AddNullToObject(body, "data");
	_cleanup_free_ char *m = xasprintf("%s\n", message);
	cJSON_AddStringToObject(body, "message", m);
	if (errors)
		cJSON_AddItemToObject(body, "errors", errors);
	/* The reason phrase is the message's first line, as Proxmox's server takes it. */
	_cleanup_free_ char *reason = xstrndup(message, strcspn(message, "\n"));
	call_respond(k, status, reason, body, status == 401);
}

void pved_call_fail(pved_call *c, pve_error *err)
{
	call *k = (call *)c;
	int status = pve_error_http_status(err->code);
	if (err->code == EACCES && !k->authid)
		status = 401;
	cJSON *errors = NULL;
	if (err->param) {
		errors = cJSON_CreateObject();
		cJSON_AddStringToObject(errors, err->param, err->message);
		status = 400;
	}
	call_fail_full(k, status, errors ? "Parameter verification failed." : err->message, errors);
	pve_error_free(err);
}

void pved_call_failf(pved_call *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pve_error *err = NULL;
	pve_error_setv(&err, code, fmt, ap);
	va_end(ap);
	pved_call_fail(c, err);
}

void pved_call_fail_errors(pved_call *c, cJSON *errors)
{
	call_fail_full((call *)c, 400, "Parameter verification failed.", errors);
}

void pved_call_fail_status(pved_call *c, int status, pve_error *err)
{
	call_fail_full((call *)c, status, err->message, NULL);
	pve_error_free(err);
}

void pved_call_fail_statusf(pved_call *c, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *m = xvasprintf(fmt, ap);
	va_end(ap);
	call_fail_full((call *)c, status, m, NULL);
}

/* ---- parameter access for handlers ---------------------------------------------------------------------- */

const char *pved_call_str(const pved_call *c, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

long long pved_call_int(const pved_call *c, const char *name, long long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, name);
	return cJSON_IsNumber(v) ? (long long)v->valuedouble : def;
}

bool pved_call_has(const pved_call *c, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(c->params, name) != NULL;
}

bool pved_call_permitted(const pved_call *c, const char *path, const char *priv)
{
	return pved_auth_permitted(c->d, c->authid, path, priv);
}

int pved_call_credentials(const pved_call *c, cJSON **ret, pve_error **err)
{
	const call *k = c->priv;
	const pve_request *r = k->req;
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	if (k->conn->root) {
		/* The local socket's trust reaches no HTTPS call: a ticket stands for it, as in
		 * forwarding. */
		_cleanup_free_ char *ticket = pved_auth_ticket(c->d, "root@pam");
		_cleanup_free_ char *csrf = pved_auth_csrf(c->d, "root@pam");
		if (!ticket || !csrf)
			return pve_error_set(err, EIO, "no key to sign a ticket for root@pam");
		cJSON_AddStringToObject(o, "ticket", ticket);
		cJSON_AddStringToObject(o, "csrf", csrf);
	} else if (r->token) {
		/* what authenticated the call (pved_auth_request takes a token first) */
		cJSON_AddStringToObject(o, "token", r->token);
	} else if (r->ticket) {
		cJSON_AddStringToObject(o, "ticket", r->ticket);
		if (r->csrf)
			cJSON_AddStringToObject(o, "csrf", r->csrf);
	} else {
		return pve_error_set(err, EACCES, "the call brought no credentials to hand on");
	}
	*ret = TAKE_PTR(o);
	return 0;
}

/* ---- permission expressions (Proxmox's "check" lists) -------------------------------------------------- */

static bool check_permitted(void *ud, const char *path, const char *priv)
{
	return pved_call_permitted(ud, path, priv);
}

static bool check_user_exists(void *ud, const char *userid)
{
	return pved_auth_user_exists(((pved_call *)ud)->d, userid);
}

static char **check_user_groups(void *ud, const char *userid)
{
	return pved_auth_user_groups(((pved_call *)ud)->d, userid);
}

/* The route's check list for this call (daemon/core/check.c evaluates it). */
static int check_expr(pved_call *c, const cJSON *e, char **ret_what)
{
	pved_check_env env = {
		.authid = c->authid ? c->authid : "",
		.params = c->params,
		.permitted = check_permitted,
		.user_exists = check_user_exists,
		.user_groups = check_user_groups,
		.ud = c,
	};
	return pved_check_eval(&env, e, ret_what);
}

/* ---- the request pipeline -------------------------------------------------------------------------------- */

static bool method_writes(const char *m)
{
	return strcmp(m, "GET") != 0;
}

/* Path placeholders are parameters too; a body or query value that disagrees is an error, as in Proxmox. */
static bool merge_path_params(call *k, cJSON *params, cJSON *path_params)
{
	cJSON *p;
	cJSON_ArrayForEach (p, path_params) {
		const cJSON *given = cJSON_GetObjectItemCaseSensitive(params, p->string);
		if (given &&
		    !(cJSON_IsString(given) && strcmp(given->valuestring, p->valuestring) == 0) &&
		    !(cJSON_IsNumber(given) &&
		      strtoll(p->valuestring, NULL, 10) == (long long)given->valuedouble)) {
			cJSON *errors = cJSON_CreateObject();
			cJSON_AddStringToObject(
				errors, p->string,
				"duplicate parameter (already defined in URI) with conflicting values!");
			call_fail_full(k, 400, "Parameter verification failed.", errors);
			return false;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(params, p->string);
		cJSON_AddStringToObject(params, p->string, p->valuestring);
	}
	return true;
}

/* Forwarding moves one JSON answer, a file answer as it comes (a task log's download), a websocket (a
 * console's vncwebsocket; termproxy, vncproxy and spiceproxy are JSON answers of the node that runs the
 * console) or an upload's body as the client sent it. */
static void forward(call *k, const char *node)
{
	pve_request *r = k->req;
	/* root on the local socket: a fresh root@pam ticket, as a task that calls the API gets */
	_cleanup_json_ cJSON *root = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (k->conn->root && pved_call_credentials(&k->pub, &root, &err) < 0) {
		pved_call_fail_statusf(&k->pub, 500, "cannot forward to node '%s': %s", node,
				       err->message);
		return;
	}
	pved_proxy_request rq = {
		.method = r->method,
		.path = r->path,
		.ticket = root ? cJSON_GetStringValue(
					 cJSON_GetObjectItemCaseSensitive(root, "ticket")) :
				 r->ticket,
		.csrf = root ? cJSON_GetStringValue(
				       cJSON_GetObjectItemCaseSensitive(root, "csrf")) :
			       r->csrf,
		.token = r->token,
		.download = streq(k->pub.route->name, "task_log") &&
			    pved_call_int(&k->pub, "download", 0),
	};
	pved_proxy_forward(&k->pub, node, &rq);
}

static void dispatch(call *k)
{
	pved *d = k->conn->srv->d;
	pve_request *r = k->req;
	_cleanup_error_ pve_error *err = NULL;

	/* The SPICE proxy's CONNECT (from its port on the front): its ticket is its authentication. */
	if (streq(r->method, "CONNECT") && k->conn->front && r->websocket) {
		k->pub.params = TAKE_PTR(r->params);
		k->pub.client = r->client ? r->client : "local";
		k->pub.websocket = true;
		pved_spiceproxy_connect(&k->pub);
		return;
	}

	cJSON *path_params = cJSON_CreateObject();
	bool path_known = false;
	const pve_route *route =
		pve_routes_match(d->routes, r->method, r->path, path_params, &path_known);
	if (!route) {
		cJSON_Delete(path_params);
		pved_call_fail_statusf(&k->pub, 501, "Method '%s /api2/json%s' not implemented",
				       r->method, r->path);
		return;
	}
	k->pub.route = route;
	k->pub.params = TAKE_PTR(r->params);
	bool merged = merge_path_params(k, k->pub.params, path_params);
	cJSON_Delete(path_params);
	if (!merged)
		return;

	/* Authentication: "world" routes need none; root on the local socket is root@pam. */
	const cJSON *perms = route->permissions;
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(perms, "user");
	bool world = cJSON_IsString(user) && strcmp(user->valuestring, "world") == 0;
	if (r->token && !route->allowtoken) {
		pved_call_fail_statusf(&k->pub, 401,
				       "URI '%s' not available with API token, need proper ticket.",
				       r->path);
		return;
	}
	if (k->conn->root) {
		k->authid = xstrdup("root@pam");
	} else if (!world || r->ticket || r->token) {
		int ret = pved_auth_request(d, r, method_writes(r->method), route->allowtoken,
					    &k->authid, &err);
		if (ret < 0 && !world) {
			pved_call_fail_statusf(&k->pub, 401, "%s", err->message);
			return;
		}
	}
	if (k->authid) {
		/* The user behind a token only for a real token id: a '!' elsewhere in an id must
		 * never make another user of it. */
		k->userid = pve_authid_user(k->authid);
		if (!k->userid) {
			pved_call_fail_statusf(&k->pub, 401, "invalid user id '%s'", k->authid);
			return;
		}
	}
	k->pub.authid = k->authid;
	k->pub.userid = k->userid;
	k->pub.client = r->client ? r->client : "local";
	k->pub.websocket = r->websocket;

	/* An upload's parameters come in its body: its handler validates them. Only routes made for it. */
	const cJSON *takes = cJSON_GetObjectItemCaseSensitive(route->info, "upload");
	if (r->upload && !cJSON_IsTrue(takes) && !(cJSON_IsNumber(takes) && takes->valueint == 1)) {
		pved_call_fail_statusf(&k->pub, 400, "%s %s takes no upload", r->method, r->path);
		return;
	}
	k->pub.upload = r->upload;
	k->pub.upload_type = r->upload_type;
	k->pub.upload_length = r->upload_length;
	cJSON *errors = NULL;
	if (!r->upload &&
	    pve_schema_validate_params(route->parameters, k->pub.params, &errors) < 0) {
		call_fail_full(k, 400, "Parameter verification failed.", errors);
		return;
	}

	/* Another node's call goes there; that node checks the permissions. */
	if (route->proxyto) {
		const char *node = pved_call_str(&k->pub, route->proxyto);
		if (node && strcmp(node, d->node) != 0) {
			forward(k, node);
			return;
		}
	}

	/* As Proxmox's check_api_permission: "user": "all" lets every authenticated user in, and the
	 * handler decides what each sees (GET /cluster/options); its check is then documentation. */
	const cJSON *check = cJSON_GetObjectItemCaseSensitive(perms, "check");
	bool all = cJSON_IsString(user) && strcmp(user->valuestring, "all") == 0;
	if (check && !all && strcmp(k->authid ? k->authid : "", "root@pam") != 0) {
		_cleanup_free_ char *what = NULL;
		int ok = check_expr(&k->pub, check, &what);
		if (ok < 0) {
			pved_call_fail_statusf(&k->pub, 500,
					       "route %s %s: malformed permission check",
					       route->method, route->path);
			return;
		}
		if (!ok) {
			pved_call_fail_statusf(&k->pub, 403, "Permission check failed (%s)",
					       what ? what : "denied");
			return;
		}
	}

	pved_handler_fn fn = k->conn->srv->handlers[route - pve_routes_get(d->routes, 0)];
	if (pve_log_enabled(PVE_LOG_DEBUG))
		log_debug("%s %s %s by %s", k->pub.client, r->method, r->path,
			  k->authid ? k->authid : "(anonymous)");
	fn(&k->pub);
}

static void handle_request(pved_conn *c, const pve_wire_header *h, const void *payload)
{
	call *k = xcalloc(1, sizeof(*k));
	k->pub.d = c->srv->d;
	k->pub.priv = k;
	k->conn = c;
	k->id = h->id;
	k->next = c->calls;
	if (c->calls)
		c->calls->prev = k;
	c->calls = k;
	c->n_calls++;

	_cleanup_error_ pve_error *err = NULL;
	if (c->n_calls > MAX_CALLS_PER_CONN) {
		pved_call_fail_statusf(&k->pub, 503, "too many requests in flight");
		return;
	}
	k->window = PVE_WIRE_DEFAULT_WINDOW;
	if (pve_request_decode(payload, h->len, &k->req, &err) < 0) {
		pved_call_fail_statusf(&k->pub, 400, "%s", err->message);
		return;
	}
	if (k->req->window)
		k->window = k->req->window;
	dispatch(k);
}

static void handle_frame(pved_conn *c, const pve_wire_header *h, const void *payload)
{
	switch (h->type) {
	case PVE_WIRE_REQUEST:
		handle_request(c, h, payload);
		break;
	case PVE_WIRE_CANCEL:
		for (call *k = c->calls; k; k = k->next)
			if (k->id == h->id) {
				k->cancelled = true;
				if (k->streaming)
					stream_closed(k);
				else if (k->answering)
					call_free(k);
				break;
			}
		break;
	case PVE_WIRE_WINDOW: {
		uint32_t grant;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_wire_window_decode(payload, h->len, &grant, &err) < 0) {
			log_warning("bad window frame from %s: %s; closing",
				    c->front ? "pved-api" : "a local client", err->message);
			pved_conn_close(c);
			break;
		}
		for (call *k = c->calls; k; k = k->next)
			if (k->id == h->id) {
				/* Bounded, so no sum of grants wraps. */
				if (k->window + grant <= (1ull << 40))
					k->window += grant;
				if (k->answering && !k->streaming)
					call_pump(k);
				else if (k->streaming && k->on_window)
					k->on_window(k->stream_ud);
				break;
			}
		break;
	}
	case PVE_WIRE_DATA:
	case PVE_WIRE_FIELD:
	case PVE_WIRE_FILE: {
		/* Data of an open stream; for anything else (a stream just ended) it is dropped. */
		call *k = stream_call(c, h->id);
		if (!k)
			break;
		if (k->receiving) {
			form_frame(c, k, h, payload);
		} else if (h->type == PVE_WIRE_DATA && k->tunnel && h->len > k->raw_window) {
			log_warning("tunnel data beyond its window from pved-api; closing");
			pved_conn_close(c);
		} else if (h->type == PVE_WIRE_DATA) {
			if (k->tunnel)
				k->raw_window -= h->len;
			k->on_data(k->stream_ud, payload, h->len);
		}
		break;
	}
	case PVE_WIRE_READY:
		if (c->front && c->on_ready)
			c->on_ready(c->ud);
		break;
	default:
		log_warning("unexpected frame type %u from %s; closing", h->type,
			    c->front ? "pved-api" : "a local client");
		pved_conn_close(c);
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	pved_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		uint8_t raw[PVE_WIRE_HEADER_SIZE];
		if (evbuffer_copyout(in, raw, sizeof(raw)) < (ssize_t)sizeof(raw))
			return;
		pve_wire_header h;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_wire_header_decode(raw, &h, &err) < 0) {
			log_warning("bad frame from %s: %s; closing",
				    c->front ? "pved-api" : "a local client", err->message);
			pved_conn_close(c);
			return;
		}
		if (evbuffer_get_length(in) < PVE_WIRE_HEADER_SIZE + h.len)
			return;
		evbuffer_drain(in, PVE_WIRE_HEADER_SIZE);
		_cleanup_free_ uint8_t *payload = xmalloc(h.len + 1);
		evbuffer_remove(in, payload, h.len);
		payload[h.len] = 0;
		/* A handler may close the connection; keep it alive until this loop is done with it. */
		c->n_calls++;
		handle_frame(c, &h, payload);
		c->n_calls--;
		if (c->closed) {
			conn_maybe_free(c);
			return;
		}
	}
}

/* ---- the local socket ------------------------------------------------------------------------------------ */

static void local_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			    int len, void *arg)
{
	(void)l, (void)sa, (void)len;
	pved_server *srv = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		close(fd);
		return;
	}
	conn_new(srv, fd, false, cred.uid == 0);
}

int pved_server_init(pved *d, pve_error **err)
{
	_cleanup_free_ pved_server *srv = xcalloc(1, sizeof(*srv));
	srv->d = d;

	int r = pved_areas_bind(d->routes, d->areas, &srv->handlers, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *path = pved_path(d, "run/pved.sock");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		free(srv->handlers);
		return pve_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);
	}
	strcpy(sun.sun_path, path);
	unlink(path);
	/* Root only: the socket grants root@pam to whoever can connect with uid 0, and nothing to others. */
	mode_t old = umask(0077);
	srv->local = evconnlistener_new_bind(d->base, local_accept_cb, srv,
					     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
					     (struct sockaddr *)&sun, sizeof(sun));
	int saved = errno;
	umask(old);
	if (!srv->local) {
		free(srv->handlers);
		return pve_error_set(err, saved, "cannot listen on %s: %s", path, strerror(saved));
	}
	d->server = TAKE_PTR(srv);
	return 0;
}

void pved_server_free(pved_server *s)
{
	if (!s)
		return;
	if (s->local)
		evconnlistener_free(s->local);
	while (s->conns)
		pved_conn_close(s->conns);
	free(s->handlers);
	free(s);
}
