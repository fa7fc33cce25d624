/* Forwarding (Proxmox's proxyto): a call whose {node} names another cluster member goes to that node's
 * API on port 8006, over TLS pinned to the node's certificate in the store, with the caller's
 * credentials; the node's answer (status, reason, body) goes back as it is. A websocket (a console's
 * vncwebsocket) is upgraded there too, and its messages are relayed both ways: the front ends the
 * client's websocket, pved speaks a websocket client (wslay) to the node. A file answer (a task log's
 * download) streams back as it comes, paced by the client's window. On the loop, never waiting:
 * connect, handshake, request and answer are bufferevent callbacks under two timers. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <wslay/wslay.h>
#include <zlib.h>

#include "client/client.h"
#include "daemon/core/pved.h"

#define PROXY_PORT 8006
#define PROXY_PORT_STR "8006"
/* TCP connect and TLS handshake: Proxmox's 30 s (AnyEvent::HTTP's timeout in pveproxy). */
#define PROXY_CONNECT_TIMEOUT_SEC 30
/* From the request sent to the answer's last byte: long-running work is a task, whose UPID comes back
 * at once; a synchronous call that takes longer than this is cut off (595). */
#define PROXY_CALL_TIMEOUT_SEC 300
/* A websocket's upgrade: from the request sent to the node's 101 (a console's is at once). */
#define PROXY_UPGRADE_TIMEOUT_SEC 30
/* After one side of a relayed websocket closed: how long the other may take to finish its closing
 * handshake before the connection is dropped. */
#define PROXY_WS_LINGER_SEC 5
/* The relay's bounds. Towards the client: the node is not read while the wire to the front holds more
 * than this (the node's bufferevent reads at most PROXY_WS_READ_MAX ahead). Towards the node: the
 * wire has no window for a websocket's data, so a node that takes less than the client sends ends
 * the console once this much waits for it. */
#define PROXY_WS_WIRE_MAX (1u << 20)
#define PROXY_WS_READ_MAX (64u << 10)
#define PROXY_WS_SEND_MAX (256u << 10)
#define PROXY_WS_QUEUE_MAX (1u << 20)
/* A streamed file answer: the node's connection is read at most PROXY_DL_READ_MAX ahead, and its body
 * is parsed only while less than PROXY_DL_BUF_MAX of it waits for the client's window. */
#define PROXY_DL_READ_MAX (64u << 10)
#define PROXY_DL_BUF_MAX (256u << 10)
/* A forwarded upload: its body passes as the client sent it. At most PROXY_UP_WINDOW of it is granted
 * to the front and not yet written to the node; more is granted once less than half of that is. It
 * may stall PROXY_UP_IDLE_SEC (the front's own bound for a client's upload); after its last byte the
 * node's answer has PROXY_CALL_TIMEOUT_SEC. */
#define PROXY_UP_WINDOW (2u << 20)
#define PROXY_UP_IDLE_SEC 60
#define MEMBERS_MAX (1024 * 1024)

typedef struct proxy_call proxy_call;

struct pved_proxy {
	SSL_CTX *ctx;
	proxy_call *calls;
};

struct proxy_call {
	pved *d;
	pved_call *c;
	char *node;
	char *addr; /* "IP:8006" for messages */
	char *fingerprint; /* the pin: SHA-256 of nodes/<node>/pve-ssl.pem */
	pve_buf request; /* sent once the pin is checked */
	struct bufferevent *bev;
	struct event *timer;
	bool connected;
	pve_client_http resp;
	/* A websocket: upgraded on the node, then relayed (c is NULL once the client's side ended). */
	bool websocket;
	bool relaying;
	bool starting; /* the client's 101 is being sent: its end waits for it */
	wslay_event_context_ptr ws;
	/* A file answer: its 200 streams back (the call answering, its producer this), the node's
	 * gzip undone (the front gzips it again, as the node sent it). */
	bool download;
	bool streaming;
	bool eof; /* the node's connection ended: the parser hears of it once the input is taken */
	bool gunzip, gunzip_end;
	z_stream zs;
	size_t body_off; /* resp.body's bytes already taken */
	pve_error *stream_err; /* the stream's end by an error, told by the producer */
	/* An upload: its body is relayed (up_sending) from the request's head on to its last byte;
	 * up_granted is what the front may still send. */
	bool upload;
	bool up_sending;
	uint64_t up_granted;
	proxy_call *prev, *next;
};

cJSON *pved_cluster_members(pved *d)
{
	if (!d->pvecfs)
		return NULL;
	_cleanup_free_ char *path = pved_path(d, "etc/pve/.members");
	_cleanup_free_ char *text = NULL;
	size_t len;
	cJSON *m = NULL;
	if (pve_read_file(path, MEMBERS_MAX, &text, &len, NULL) < 0 ||
	    !(m = pve_json_parse(text, len, MEMBERS_MAX, 16, NULL)))
		return NULL;
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "cluster"))) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

static void proxy_call_free(proxy_call *p)
{
	if (!p)
		return;
	pved_proxy *px = p->d->proxy;
	if (p->prev)
		p->prev->next = p->next;
	else if (px && px->calls == p)
		px->calls = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->bev)
		bufferevent_free(p->bev);
	if (p->timer)
		event_free(p->timer);
	if (p->ws)
		wslay_event_context_free(p->ws);
	if (p->gunzip)
		inflateEnd(&p->zs);
	pve_error_free(p->stream_err);
	pve_client_http_clear(&p->resp);
	pve_buf_free(&p->request);
	free(p->node);
	free(p->addr);
	free(p->fingerprint);
	free(p);
}

/* Ends the forward with an error of ours, in Proxmox's envelope. */
static void proxy_fail(proxy_call *p, int status, const char *fmt, ...) _printf_(3, 4);
static void proxy_fail(proxy_call *p, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *m = xvasprintf(fmt, ap);
	va_end(ap);
	log_warning("forward to node %s: %s", p->node, m);
	pved_call *c = p->c;
	proxy_call_free(p);
	pved_call_fail_statusf(c, status, "%s", m);
}

static void proxy_done(proxy_call *p)
{
	pved_call *c = p->c;
	int status = p->resp.status;
	_cleanup_free_ char *reason =
		xstrndup(p->resp.reason.data ? p->resp.reason.data : "", p->resp.reason.len);
	pve_buf body = p->resp.body;
	p->resp.body = (pve_buf){ 0 };
	proxy_call_free(p);
	pved_call_reply_body(c, status, *reason ? reason : "OK", &body);
}

/* The TLS peer's certificate against the pin; the request goes out only after it matched. */
static int check_pin(proxy_call *p, pve_error **err)
{
	SSL *ssl = bufferevent_openssl_get_ssl(p->bev);
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (!cert)
		return pve_error_set(err, EPROTO, "node '%s' (%s) presented no certificate",
				     p->node, p->addr);
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
		BIO_free(bio);
		return pve_error_set(err, ENOMEM, "cannot read the certificate of node '%s'",
				     p->node);
	}
	char *pem;
	long n = BIO_get_mem_data(bio, &pem);
	_cleanup_free_ char *seen = pve_client_pem_fingerprint(pem, (size_t)n);
	BIO_free(bio);
	if (!seen)
		return pve_error_set(err, EPROTO, "cannot read the certificate of node '%s'",
				     p->node);
	if (strcmp(seen, p->fingerprint) != 0)
		return pve_error_set(err, EPERM,
				     "the certificate of node '%s' (%s) does not match "
				     "nodes/%s/pve-ssl.pem: it presented %s, expected %s",
				     p->node, p->addr, p->node, seen, p->fingerprint);
	return 0;
}

static void ws_start(proxy_call *p);
static void dl_start(proxy_call *p);

/* ---- a forwarded upload -------------------------------------------------------------------------------- */

static void up_arm(proxy_call *p, int sec)
{
	struct timeval tv = { sec, 0 };
	evtimer_add(p->timer, &tv);
}

/* More of the body for the front to send, while what it may send and what waits for the node are
 * under half the window. */
static void up_grant(proxy_call *p)
{
	if (!p->up_sending)
		return;
	uint64_t held = p->up_granted + evbuffer_get_length(bufferevent_get_output(p->bev));
	if (held >= PROXY_UP_WINDOW / 2)
		return;
	uint32_t more = (uint32_t)(PROXY_UP_WINDOW - held);
	p->up_granted += more;
	pved_call_body_grant(p->c, more);
}

static void up_data(void *ud, const void *data, size_t len)
{
	proxy_call *p = ud;
	/* the server keeps the front within the grants */
	p->up_granted -= len < p->up_granted ? len : p->up_granted;
	bufferevent_write(p->bev, data, len);
	up_arm(p, PROXY_UP_IDLE_SEC);
	up_grant(p);
}

static void up_end(void *ud)
{
	proxy_call *p = ud;
	p->up_sending = false;
	up_arm(p, PROXY_CALL_TIMEOUT_SEC);
}

/* The client went away (or its body was malformed): the call is gone, and the node's connection
 * with this, so the node drops the partial upload. */
static void up_close(void *ud)
{
	proxy_call_free(ud);
}

static const pved_form_callbacks up_callbacks = {
	.data = up_data,
	.end = up_end,
	.close = up_close,
};

/* The head went to the node: the client's body follows it as it comes. p may be gone after this. */
static void up_start(proxy_call *p)
{
	up_arm(p, PROXY_UP_IDLE_SEC);
	p->up_sending = true;
	p->up_granted = PROXY_UP_WINDOW;
	pved_call_receive_body(p->c, &up_callbacks, p, PROXY_UP_WINDOW);
}

/* A file answer's 200 head is in: its body goes to the client as it comes. */
static bool dl_ready(const proxy_call *p)
{
	return p->download && p->resp.head_done && p->resp.status == 200;
}

/* Feeds what arrived (and at eof the close) to the response's parser; true when the forward ended
 * (p is gone) or became a relay. */
static bool proxy_feed(proxy_call *p, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(p->bev);
	_cleanup_error_ pve_error *err = NULL;
	int r = 0;
	while (r == 0 && evbuffer_get_length(in) > 0 && !dl_ready(p)) {
		size_t n = evbuffer_get_contiguous_space(in);
		const char *at = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		size_t before = p->resp.consumed;
		r = pve_client_http_feed(&p->resp, at, n, &err);
		/* After a 101's head the websocket's frames follow: they stay for the relay. */
		evbuffer_drain(in, r == 1 ? p->resp.consumed - before : n);
		if (r == 0 && p->download && p->resp.body.len > PVE_CLIENT_MAX_BODY)
			r = pve_error_set(&err, EFBIG, "response exceeds %u MiB",
					  PVE_CLIENT_MAX_BODY >> 20);
	}
	if (r == 0 && eof && !dl_ready(p))
		r = pve_client_http_feed(&p->resp, NULL, 0, &err);
	if (r >= 0 && dl_ready(p)) {
		p->eof = eof;
		dl_start(p);
		return true;
	}
	if (r == 1 && p->websocket && p->resp.status == 101) {
		if (!p->resp.hp.upgrade || eof)
			proxy_fail(p, 502, "node '%s' (%s) answered the websocket upgrade badly",
				   p->node, p->addr);
		else
			ws_start(p);
	} else if (r == 1)
		proxy_done(p);
	else if (r < 0)
		proxy_fail(p, 502, "node '%s' (%s) answered badly: %s", p->node, p->addr,
			   err->message);
	return r != 0;
}

static bool ws_pump(proxy_call *p);
static void ws_end(proxy_call *p);
static void dl_readable(proxy_call *p);

static void proxy_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	proxy_call *p = arg;
	if (p->streaming)
		dl_readable(p);
	else if (p->relaying)
		ws_pump(p);
	else
		proxy_feed(p, false);
}

/* The node took what was written: more of the relay's frames may go. */
static void proxy_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	proxy_call *p = arg;
	if (p->relaying)
		ws_pump(p);
	else if (p->up_sending)
		up_grant(p);
}

static void proxy_event_cb(struct bufferevent *bev, short what, void *arg)
{
	proxy_call *p = arg;
	if (what & BEV_EVENT_CONNECTED) {
		_cleanup_error_ pve_error *err = NULL;
		if (check_pin(p, &err) < 0)
			return proxy_fail(p, 596, "%s", err->message);
		p->connected = true;
		struct timeval tv = { p->websocket ? PROXY_UPGRADE_TIMEOUT_SEC :
						     PROXY_CALL_TIMEOUT_SEC,
				      0 };
		evtimer_add(p->timer, &tv);
		bufferevent_write(bev, p->request.data, p->request.len);
		pve_buf_free(&p->request);
		bufferevent_enable(bev, EV_READ);
		if (p->upload)
			up_start(p);
		return;
	}
	int saved = EVUTIL_SOCKET_ERROR();
	if (p->streaming) {
		/* the close ends the answer, or cuts it short: the parser tells once it has the rest */
		p->eof = true;
		return dl_readable(p);
	}
	if (p->relaying) {
		/* the node closed: what it sent before goes to the client, then the client's end */
		if (ws_pump(p))
			ws_end(p);
		return;
	}
	if (p->connected) {
		/* the close decides: the end of an answer framed by it, or one cut short */
		proxy_feed(p, true);
		return;
	}
	/* Before the handshake's end: the node refused, reset or could not be reached, or TLS failed.
	 * The socket's own error first; errno only when it names a network failure (it may be stale). */
	/* (libevent records a failed system call as an error of library 0: not TLS's) */
	unsigned long e = 0, any;
	while ((any = bufferevent_get_openssl_error(bev)) != 0)
		if (!e && ERR_GET_LIB(any) != 0)
			e = any;
	int so_error = 0;
	socklen_t len = sizeof(so_error);
	if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
		so_error = 0;
	if (!so_error && e) {
		char buf[256];
		ERR_error_string_n(e, buf, sizeof(buf));
		return proxy_fail(p, 596, "TLS with node '%s' (%s) failed: %s", p->node, p->addr,
				  buf);
	}
	if (!so_error && (saved == ECONNREFUSED || saved == ECONNRESET || saved == EHOSTUNREACH ||
			  saved == ENETUNREACH || saved == ETIMEDOUT || saved == EPIPE))
		so_error = saved;
	proxy_fail(p, 595, "node '%s' (%s) is unreachable: %s", p->node, p->addr,
		   so_error ? strerror(so_error) : "it closed the connection");
}

static void proxy_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	proxy_call *p = arg;
	if (p->relaying)
		return ws_end(p); /* a closing handshake that did not finish */
	if (p->streaming) {
		if (!p->stream_err)
			pve_error_set(&p->stream_err, ETIMEDOUT,
				      "node '%s' (%s) sent nothing of the file for %d s", p->node,
				      p->addr, PROXY_CALL_TIMEOUT_SEC);
		return pved_call_produce_ready(p->c);
	}
	if (!p->connected)
		return proxy_fail(p, 595,
				  "node '%s' (%s) is unreachable: no connection within %d s",
				  p->node, p->addr, PROXY_CONNECT_TIMEOUT_SEC);
	if (p->up_sending)
		return proxy_fail(p, 408, "the upload to node '%s' (%s) made no progress for %d s",
				  p->node, p->addr, PROXY_UP_IDLE_SEC);
	proxy_fail(p, 595, "node '%s' (%s) did not answer within %d s", p->node, p->addr,
		   p->websocket ? PROXY_UPGRADE_TIMEOUT_SEC : PROXY_CALL_TIMEOUT_SEC);
}

/* ---- a relayed websocket ---------------------------------------------------------------------------------
 * The node's side is a wslay client on the TLS bufferevent; the client's side is the call's stream (the
 * front ends the client's websocket: its messages come as DATA frames, each sent on as one binary
 * message, and each message of the node's goes back as one). Pings and the closing handshake are
 * wslay's on each side; a close on either ends the other. */

/* Ends the relay: the client's stream (if it is still there) and the node's connection. */
static void ws_end(proxy_call *p)
{
	pved_call *c = p->c;
	p->c = NULL;
	p->relaying = false;
	if (c)
		pved_call_stream_end(c);
	proxy_call_free(p);
}

/* The client's side ended (its close, or the front's): a close to the node, and a short wait for its
 * answer. */
static void ws_close_node(proxy_call *p)
{
	wslay_event_queue_close(p->ws, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
	struct timeval tv = { PROXY_WS_LINGER_SEC, 0 };
	evtimer_add(p->timer, &tv);
}

static void ws_drained(void *ud)
{
	proxy_call *p = ud;
	bufferevent_enable(p->bev, EV_READ);
	ws_pump(p);
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			  void *ud)
{
	(void)flags;
	proxy_call *p = ud;
	/* The client's wire is full: the node waits (its bufferevent stops at its watermark). */
	if (p->c && pved_call_stream_congested(p->c, PROXY_WS_WIRE_MAX, ws_drained, p)) {
		bufferevent_disable(p->bev, EV_READ);
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return pve_ws_bev_recv(ctx, p->bev, buf, len);
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
			  void *ud)
{
	(void)flags;
	proxy_call *p = ud;
	return pve_ws_bev_send(ctx, p->bev, data, len, PROXY_WS_SEND_MAX);
}

static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	(void)ud;
	if (pve_random_bytes(buf, len, NULL) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
		      void *ud)
{
	(void)ctx;
	proxy_call *p = ud;
	if (arg->opcode == WSLAY_CONNECTION_CLOSE && p->c) {
		/* wslay answers the node's close; the client's stream ends now */
		pved_call *c = p->c;
		p->c = NULL;
		pved_call_stream_end(c);
		struct timeval tv = { PROXY_WS_LINGER_SEC, 0 };
		evtimer_add(p->timer, &tv);
		return;
	}
	if (wslay_is_ctrl_frame(arg->opcode) || !p->c)
		return;
	pved_call_stream_send(p->c, arg->msg, arg->msg_length);
}

/* Reads what the node sent, writes what is queued for it, and ends the relay once both sides closed
 * or the connection failed; false when it ended (p is gone). */
static bool ws_pump(proxy_call *p)
{
	if (wslay_event_recv(p->ws) != 0 || wslay_event_send(p->ws) != 0) {
		log_info("websocket to node %s (%s) failed", p->node, p->addr);
		ws_end(p);
		return false;
	}
	if (!wslay_event_want_read(p->ws) && !wslay_event_want_write(p->ws) &&
	    evbuffer_get_length(bufferevent_get_output(p->bev)) == 0) {
		ws_end(p);
		return false;
	}
	return true;
}

/* A message of the client's, sent on to the node as a binary message. */
static void ws_client_data(void *ud, const void *data, size_t len)
{
	proxy_call *p = ud;
	if (wslay_event_get_queued_msg_length(p->ws) + len > PROXY_WS_QUEUE_MAX) {
		log_warning("websocket to node %s (%s): the node takes less than the client sends "
			    "(%u bytes waiting); closing",
			    p->node, p->addr, PROXY_WS_QUEUE_MAX);
		return ws_end(p);
	}
	struct wslay_event_msg m = { WSLAY_BINARY_FRAME, data, len };
	if (wslay_event_queue_msg(p->ws, &m) != 0)
		return ws_end(p);
	ws_pump(p);
}

/* The client's side ended; its call is gone after this returns. */
static void ws_client_closed(void *ud)
{
	proxy_call *p = ud;
	p->c = NULL;
	if (p->starting)
		return;
	ws_close_node(p);
	ws_pump(p);
}

/* The node answered 101: the client's upgrade is accepted, and the relay begins with whatever of the
 * node's frames came with the head. */
static void ws_start(proxy_call *p)
{
	static const struct wslay_event_callbacks callbacks = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.genmask_callback = ws_genmask_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	evtimer_del(p->timer);
	if (wslay_event_context_client_init(&p->ws, &callbacks, p) != 0)
		return proxy_fail(p, 500, "cannot make a websocket client");
	/* One message of the node's goes back in one wire frame. */
	wslay_event_config_set_max_recv_msg_length(p->ws, PVE_WIRE_MAX_FRAME);
	bufferevent_setwatermark(p->bev, EV_READ, 0, PROXY_WS_READ_MAX);
	p->relaying = true;
	/* The accept may end the client's side at once (it left): the close waits until after. */
	p->starting = true;
	pved_call_stream_accept(p->c, ws_client_data, ws_client_closed, p);
	p->starting = false;
	if (!p->c)
		ws_close_node(p);
	ws_pump(p);
}

/* ---- a streamed file answer -------------------------------------------------------------------------------
 * The node's 200 goes back as a file answer (its Content-Type and Content-Disposition's name) whose
 * producer takes the node's body as it is parsed: the client's window paces the producer, the producer's
 * buffer (PROXY_DL_BUF_MAX) the parsing, and the bufferevent's read watermark the node's connection, so
 * a client that reads slowly holds the node's sending and no more than those bounds in pved. The call
 * owns p from then on (the producer's ud): the call's end frees it. */

static void dl_free(void *ud)
{
	proxy_call *p = ud;
	proxy_call_free(p);
}

static size_t dl_buffered(const proxy_call *p)
{
	return p->resp.body.len - p->body_off;
}

/* Parses what the node sent, while the body waiting for the client is under its bound; the close once
 * all before it is parsed. */
static void dl_fill(proxy_call *p)
{
	if (p->stream_err || p->resp.done)
		return;
	if (p->body_off && p->body_off == p->resp.body.len)
		p->resp.body.len = p->body_off = 0;
	struct evbuffer *in = bufferevent_get_input(p->bev);
	_cleanup_error_ pve_error *err = NULL;
	int r = 0;
	while (r == 0 && dl_buffered(p) < PROXY_DL_BUF_MAX && evbuffer_get_length(in) > 0) {
		if (p->body_off > PROXY_DL_BUF_MAX) {
			memmove(p->resp.body.data, p->resp.body.data + p->body_off, dl_buffered(p));
			p->resp.body.len -= p->body_off;
			p->body_off = 0;
		}
		size_t n = evbuffer_get_contiguous_space(in);
		if (n > PROXY_DL_BUF_MAX - dl_buffered(p))
			n = PROXY_DL_BUF_MAX - dl_buffered(p);
		r = pve_client_http_feed(&p->resp, (const char *)evbuffer_pullup(in, (ev_ssize_t)n),
					 n, &err);
		evbuffer_drain(in, n);
	}
	if (r == 0 && p->eof && evbuffer_get_length(in) == 0)
		r = pve_client_http_feed(&p->resp, NULL, 0, &err);
	if (r < 0)
		pve_error_set(&p->stream_err, err->code, "node '%s' (%s) answered badly: %s",
			      p->node, p->addr, err->message);
	if (r == 1)
		evbuffer_drain(in, evbuffer_get_length(in));
}

/* The node sent more (or closed): the producer is asked, if the client's window is open. */
static void dl_readable(proxy_call *p)
{
	struct timeval tv = { PROXY_CALL_TIMEOUT_SEC, 0 };
	evtimer_add(p->timer, &tv);
	pved_call_produce_ready(p->c);
}

/* Takes the body's bytes that came, as they are or un-gzipped, about room of them. */
static int dl_produce(void *ud, pve_buf *out, size_t room, pve_error **err)
{
	proxy_call *p = ud;
	dl_fill(p);
	if (p->stream_err)
		return pve_error_set(err, p->stream_err->code, "%s", p->stream_err->message);
	size_t before = out->len;
	if (!p->gunzip) {
		size_t n = dl_buffered(p) < room ? dl_buffered(p) : room;
		pve_buf_append(out, p->resp.body.data + p->body_off, n);
		p->body_off += n;
	} else {
		char buf[16 * 1024];
		while (!p->gunzip_end && out->len - before < room && dl_buffered(p) > 0) {
			size_t want = room - (out->len - before);
			p->zs.next_in = (Bytef *)p->resp.body.data + p->body_off;
			p->zs.avail_in = (uInt)dl_buffered(p);
			p->zs.next_out = (Bytef *)buf;
			p->zs.avail_out = (uInt)(want < sizeof(buf) ? want : sizeof(buf));
			int z = inflate(&p->zs, Z_NO_FLUSH);
			p->body_off = (size_t)((char *)p->zs.next_in - p->resp.body.data);
			pve_buf_append(out, buf, (size_t)((char *)p->zs.next_out - buf));
			if (z == Z_STREAM_END)
				p->gunzip_end = true;
			else if (z == Z_BUF_ERROR)
				break; /* more of the input is needed */
			else if (z != Z_OK)
				return pve_error_set(err, EPROTO,
						     "node '%s' (%s) sent a broken gzip body: %s",
						     p->node, p->addr,
						     p->zs.msg ? p->zs.msg : "inflate failed");
		}
		if (p->gunzip_end)
			p->body_off = p->resp.body.len; /* nothing counts after the gzip's end */
	}
	if (out->len > before) {
		struct timeval tv = { PROXY_CALL_TIMEOUT_SEC, 0 };
		evtimer_add(p->timer, &tv);
	}
	if (p->resp.done && dl_buffered(p) == 0) {
		if (p->gunzip && !p->gunzip_end)
			return pve_error_set(err, EPROTO, "node '%s' (%s) sent a cut gzip body",
					     p->node, p->addr);
		return 1;
	}
	return out->len > before ? 0 : PVED_PRODUCE_WAIT;
}

/* A header's value for the file's description, or NULL when the front could not write it as it is. */
static const char *dl_meta_value(const char *v)
{
	return v && *v && pve_wire_file_meta_value_ok(v, strlen(v)) ? v : NULL;
}

/* The node's 200 head is in: the client's answer begins, its body the producer's. */
static void dl_start(proxy_call *p)
{
	const char *enc = pve_client_http_header(&p->resp, "Content-Encoding");
	if (enc && strcasecmp(enc, "gzip") == 0) {
		if (inflateInit2(&p->zs, 15 + 16) != Z_OK)
			return proxy_fail(p, 500, "cannot make a gzip decoder");
		p->gunzip = true;
	} else if (enc && *enc && strcasecmp(enc, "identity") != 0) {
		return proxy_fail(p, 502, "node '%s' (%s) answered with Content-Encoding '%s'",
				  p->node, p->addr, dl_meta_value(enc) ? enc : "?");
	}
	const char *type = dl_meta_value(pve_client_http_header(&p->resp, "Content-Type"));
	/* Content-Disposition: attachment; filename="NAME" */
	_cleanup_free_ char *name = NULL;
	const char *disp = pve_client_http_header(&p->resp, "Content-Disposition");
	const char *at = disp ? strstr(disp, "filename=\"") : NULL;
	const char *end = at ? strchr(at + 10, '"') : NULL;
	if (end && pve_wire_file_meta_value_ok(at + 10, (size_t)(end - at - 10)))
		name = xstrndup(at + 10, (size_t)(end - at - 10));
	bufferevent_setwatermark(p->bev, EV_READ, 0, PROXY_DL_READ_MAX);
	struct timeval tv = { PROXY_CALL_TIMEOUT_SEC, 0 };
	evtimer_add(p->timer, &tv);
	p->streaming = true;
	/* p may be gone when this returns: a short answer ends at once. */
	pved_call_reply_file(p->c, type ? type : "application/octet-stream",
			     name && *name ? name : NULL, p->gunzip, dl_produce, dl_free, p);
}

static pved_proxy *proxy_state(pved *d, pve_error **err)
{
	if (d->proxy)
		return d->proxy;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return pve_error_set(err, ENOMEM, "cannot make a TLS context"), NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No chain check: the pin (the node's certificate in the cluster's tree) is checked after the
	 * handshake and before anything is sent, as Proxmox pins its nodes' certificates. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	d->proxy = xcalloc(1, sizeof(*d->proxy));
	d->proxy->ctx = ctx;
	return d->proxy;
}

/* The route's placeholders are in the path already: not sent again as parameters. */
static bool is_path_param(const char *route_path, const char *name)
{
	_cleanup_free_ char *ph = xasprintf("{%s}", name);
	return strstr(route_path, ph) != NULL;
}

/* A validated value as Proxmox's clients send it: booleans as 1 or 0, numbers as JSON prints them. */
static char *param_text(const cJSON *v)
{
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "1" : "0");
	return pve_json_print(v);
}

/* The call's parameters as the client library sends them (strings, lists as arrays of strings), but
 * the path's placeholders. */
static cJSON *params_as_strings(const pved_call *c)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *v;
	cJSON_ArrayForEach (v, c->params) {
		if (is_path_param(c->route->path, v->string))
			continue;
		if (!cJSON_IsArray(v)) {
			_cleanup_free_ char *t = param_text(v);
			cJSON_AddStringToObject(out, v->string, t);
			continue;
		}
		cJSON *list = cJSON_AddArrayToObject(out, v->string);
		const cJSON *e;
		cJSON_ArrayForEach (e, v) {
			_cleanup_free_ char *t = param_text(e);
			cJSON_AddItemToArray(list, cJSON_CreateString(t));
		}
	}
	return out;
}

/* Header values go out as they came; a CR or LF in one would add a header of the caller's. */
static bool header_safe(const char *s)
{
	return !s || !strpbrk(s, "\r\n");
}

int pved_node_fingerprint(pved *d, const char *node, char **ret, pve_error **err)
{
	_cleanup_free_ char *path = xasprintf("nodes/%s/pve-ssl.pem", node);
	_cleanup_free_ char *cert = NULL;
	size_t len;
	int r = pve_store_read(d->store, path, &cert, &len, NULL, err);
	if (r < 0)
		return r;
	if (!(*ret = pve_client_pem_fingerprint(cert, len)))
		return pve_error_set(err, EINVAL, "%s holds no certificate", path);
	return 0;
}

void pved_proxy_forward(pved_call *c, const char *node, const pved_proxy_request *rq)
{
	pved *d = c->d;
	_cleanup_error_ pve_error *err = NULL;

	_cleanup_json_ cJSON *m = pved_cluster_members(d);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(m, "nodelist"), node);
	if (!cJSON_IsObject(n))
		return pved_call_fail_statusf(c, 404, "no such cluster node '%s'", node);
	const char *ip = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "ip"));
	unsigned char raw[16];
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;
	if (ip && inet_pton(AF_INET, ip, raw) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(PROXY_PORT);
		memcpy(&sin->sin_addr, raw, 4);
		sslen = sizeof(*sin);
	} else if (ip && inet_pton(AF_INET6, ip, raw) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(PROXY_PORT);
		memcpy(&sin6->sin6_addr, raw, 16);
		sslen = sizeof(*sin6);
	} else {
		return pved_call_fail_statusf(
			c, 500, "unable to get remote IP address for node '%s'", node);
	}
	const cJSON *online = cJSON_GetObjectItemCaseSensitive(n, "online");
	if (cJSON_IsNumber(online) && online->valuedouble == 0)
		return pved_call_fail_statusf(
			c, 595, "node '%s' is offline: not in the cluster's membership", node);

	const char *ticket = rq->ticket, *csrf = rq->csrf;
	if (!header_safe(ticket) || !header_safe(csrf) || !header_safe(rq->token))
		return pved_call_fail_statusf(c, 401, "invalid credentials");
	if (c->upload && !header_safe(c->upload_type))
		return pved_call_fail_statusf(c, 400, "invalid Content-Type");

	_cleanup_free_ char *fp = NULL;
	if (pved_node_fingerprint(d, node, &fp, &err) < 0)
		return pved_call_fail_statusf(c, 500, "cannot forward to node '%s': %s", node,
					      err->message);

	/* A websocket's key: 16 random bytes in base64 (RFC 6455). */
	char ws_key[25] = "";
	if (c->websocket) {
		unsigned char raw_key[16];
		if (pve_random_bytes(raw_key, sizeof(raw_key), &err) < 0)
			return pved_call_fail(c, TAKE_PTR(err));
		EVP_EncodeBlock((unsigned char *)ws_key, raw_key, sizeof(raw_key));
	}

	_cleanup_json_ cJSON *params = params_as_strings(c);
	pve_client_request creq = {
		.method = rq->method,
		.path = rq->path,
		.host = ip,
		.port = PROXY_PORT_STR,
		.params = params,
		.ticket = ticket,
		.csrf = csrf,
		.token = rq->token,
		.websocket_key = c->websocket ? ws_key : NULL,
		/* the node's front tells a body that is not a form, as ours would */
		.body_type = c->upload ? (c->upload_type ? c->upload_type : "") : NULL,
		.body_length = c->upload_length,
	};
	pve_buf request = { 0 };
	if (pve_client_request_build(&creq, &request, &err) < 0)
		return pved_call_fail(c, TAKE_PTR(err));
	pved_proxy *px = proxy_state(d, &err);
	if (!px) {
		pve_buf_free(&request);
		return pved_call_fail(c, TAKE_PTR(err));
	}

	proxy_call *p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->c = c;
	p->node = xstrdup(node);
	p->addr = xasprintf("%s%s%s:%d", ss.ss_family == AF_INET6 ? "[" : "", ip,
			    ss.ss_family == AF_INET6 ? "]" : "", PROXY_PORT);
	p->fingerprint = TAKE_PTR(fp);
	p->websocket = c->websocket;
	p->upload = c->upload;
	p->download = rq->download && !c->websocket;
	if (p->download)
		pve_client_http_init_stream(&p->resp);
	else
		pve_client_http_init(&p->resp, PVE_CLIENT_MAX_BODY);
	p->request = request;
	p->next = px->calls;
	if (px->calls)
		px->calls->prev = p;
	px->calls = p;

	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int saved = errno;
		return proxy_fail(p, 500, "cannot make a socket: %s", strerror(saved));
	}
	SSL *ssl = SSL_new(px->ctx);
	if (!ssl) {
		close(fd);
		return proxy_fail(p, 500, "cannot make a TLS connection");
	}
	p->bev = bufferevent_openssl_socket_new(d->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!p->bev) {
		SSL_free(ssl);
		close(fd);
		return proxy_fail(p, 500, "cannot make a TLS connection");
	}
	/* Proxmox's nodes close without close_notify at times; the HTTP framing tells an early end. */
	bufferevent_openssl_set_allow_dirty_shutdown(p->bev, 1);
	bufferevent_setcb(p->bev, proxy_read_cb, proxy_write_cb, proxy_event_cb, p);
	p->timer = evtimer_new(d->base, proxy_timer_cb, p);
	struct timeval tv = { PROXY_CONNECT_TIMEOUT_SEC, 0 };
	evtimer_add(p->timer, &tv);
	if (pve_log_enabled(PVE_LOG_DEBUG))
		log_debug("forwarding %s %s to node %s (%s)", rq->method, rq->path, node, p->addr);
	/* A connect that fails at once reaches proxy_event_cb as well (libevent runs it, and may have
	 * run it before this returns, p gone): nothing here touches p after it. */
	bufferevent_socket_connect(p->bev, (struct sockaddr *)&ss, (int)sslen);
}

void pved_proxy_free(pved *d)
{
	pved_proxy *px = d->proxy;
	if (!px)
		return;
	/* Calls still waiting for another node end with the daemon: answered (their clients are
	 * gone by now, so this only lets go of them). A streamed answer's p went with its call, as the
	 * server went before this. */
	while (px->calls) {
		if (px->calls->relaying)
			ws_end(px->calls);
		else
			proxy_fail(px->calls, 503, "pved is stopping");
	}
	SSL_CTX_free(px->ctx);
	free(px);
	d->proxy = NULL;
}
