/* The server loop of pved-api: TLS listeners, client connections (keep-alive, pipelining, timeouts),
 * static files from the www directory, the frames to and from pved that carry API requests, and the
 * SPICE proxy's plain-HTTP listener, whose CONNECT becomes a tunnel of bytes through pved. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <strings.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <wslay/wslay.h>

#include "front/front-internal.h"

#define MAX_CONNS 1024 /* in all, shared out between the workers */
/* Connections per client address (an IPv6 client: per /64), over all workers: one client holding idle
 * connections must not take them all. Twice what one busy client opens at once (wrk -c64, the permission
 * matrix's 64 threads, a NATed office), since a connection its client closed counts until we read its
 * end; one address still holds an eighth of MAX_CONNS at most. pved may set another
 * (pved-api --max-per-client). */
#define MAX_PER_CLIENT 128
#define MAX_LISTENERS 16
/* s from the accept to a completed TLS handshake and the first byte of a request: a client holding
 * connections open without a word loses them soon. */
#define FIRST_BYTE_TIMEOUT 5
#define REQUEST_TIMEOUT 30 /* s to receive a whole request (slowloris) */
#define IDLE_TIMEOUT 60 /* s a keep-alive connection may wait for its next request */
/* A refused request whose body may still be coming (a 413) is answered, then its body read and dropped
 * for a while before the close, as nginx's lingering_close does: a client that writes its whole body
 * before it reads (python-requests, urllib) would otherwise see a reset instead of the answer. */
#define LINGER_TIME 10 /* s at most after the answer */
#define LINGER_IDLE 2 /* s without a byte: the client has stopped */
#define LINGER_MAX (64u << 20) /* bytes at most */
/* The rest of an upload answered early is dropped and the connection goes on, if it comes in time. */
#define DISCARD_TIME 30
#define DISCARD_IDLE 5
#define WRITE_TIMEOUT 60 /* s a client may take to read what we send */
#define DRAIN_TIMEOUT 30 /* s after SIGTERM before the last connections are dropped */
/* Answers stream from pved to the client: pved may send FRONT_WINDOW bytes of a body ahead, and more is
 * granted as the client's output drains below STREAM_LOW, so a client that does not read costs about
 * their sum here (and pved stops producing). */
#define FRONT_WINDOW (128u << 10)
#define STREAM_LOW (32u << 10)
#define NOTSENT_LOWAT (128 << 10)
/* An answer rewritten for /api2/extjs is held whole (the rewrite needs all of it), so it is bounded:
 * the ExtJS format serves the web interface's forms, whose answers are small. What all of a worker's
 * connections hold so, until their clients have taken it, is bounded too; past that such an answer is
 * refused (503) rather than held. */
#define EXTJS_MAX (4u << 20)
#define HELD_BUDGET (64u << 20)
#define FILE_CHUNK (256u << 10)
#define GZIP_MIN 1024
#define WS_MAX_MESSAGE (PVE_WIRE_MAX_FRAME - 64) /* one message travels in one frame to pved */
#define WS_MAX_QUEUED (1u << 20)
/* Uploads: body bytes go to pved in frames of UPLOAD_CHUNK; reading from the client pauses while more
 * than UPLOAD_HIGH waits for pved, and resumes below UPLOAD_LOW, so memory stays flat at any size. */
#define UPLOAD_CHUNK (256u << 10)
#define UPLOAD_HIGH (4u << 20)
#define UPLOAD_LOW (1u << 20)
#define UPLOAD_IDLE_TIMEOUT 60 /* s an upload may stall */

enum conn_state {
	C_READING, /* waiting for (more of) a request */
	C_LINGER, /* answered with an error: the rest of the input is dropped until the client stops */
	C_WAITING, /* the request is with pved */
	C_STREAMING, /* the answer's head went out; its body comes from pved as the window allows */
	C_WRITING, /* an answer is going out; then READING again, or the end */
	C_WEBSOCKET, /* upgraded: websocket messages and pved's DATA frames relayed both ways */
	C_TUNNEL, /* a SPICE proxy's CONNECT accepted: bytes and DATA frames, both ways within windows */
};

struct front;

/* Connections per client address, shared by the workers, which accept on the same sockets. */
#define CLIENT_BUCKETS 256
typedef struct client_count {
	uint8_t key[16];
	unsigned n;
	struct client_count *next;
} client_count;

struct conn {
	struct front *f;
	struct conn *prev, *next;
	struct bufferevent *bev;
	struct event *timer;
	pve_http_parser *parser;
	char *client;
	enum conn_state state;
	const char *timer_what; /* what the timer limits, for the log */
	bool close_after; /* close once the answer is out */
	bool linger_after; /* ... lingering first: the request's body may still be coming */
	uint8_t client_key[16]; /* counted under this key in the front set's table */
	bool counted;
	unsigned served; /* requests answered */
	uint64_t idle_seq; /* when it last became idle: the oldest idle one goes first */
	struct timespec deadline; /* lingering or discarding ends by then */
	uint64_t linger_bytes;

	pve_http_request *req;
	enum pve_front_target target;
	uint32_t id; /* the wire id while WAITING */
	bool have_head; /* the RESPONSE frame came; DATA frames follow */
	int status;
	char *reason;
	pve_buf body; /* an answer held whole (ExtJS) */
	size_t held; /* its bytes, counted in the worker's budget until the answer is out */
	/* A streamed answer: its announced length (or PVE_WIRE_NO_LENGTH), what came of it, how it is
	 * framed to the client, and the bytes taken from the window and not yet granted again. */
	uint64_t resp_total, resp_got;
	enum { OUT_LENGTH, OUT_CHUNKED, OUT_UNTIL_CLOSE } out_mode;
	pve_http_gzip_stream *gz;
	uint32_t unacked;

	int file_fd; /* a static file being sent */
	off_t file_off, file_size;

	bool ws_wanted; /* the request asked for a websocket upgrade */
	wslay_event_context_ptr ws;
	bool ws_ended; /* pved ended the stream (or the client did): no CANCEL owed */
	bool spice; /* accepted on the SPICE proxy's port: one CONNECT, then a tunnel */

	bool body_pending; /* an upload body is still on the connection, unread */
	bool uploading; /* ... and is parsed here, its form going to pved as frames */
	bool upload_held; /* ... once pved says CONTINUE: it prepares the target first */
	bool upload_paused; /* reading stopped until pved's queue drains */
	/* pved asked for the body as it came (it forwards it): sent unparsed, within the window it
	 * grants */
	bool upload_raw;
	uint64_t upload_window;
	bool discarding; /* answered early: the rest of the body is read and dropped */
	uint64_t upload_left;
	/* The upload's multipart body, parsed here: the text field being read, whether the file part
	 * came and is going on, and its bytes from one read, sent to pved as one DATA frame. */
	pve_multipart *mp;
	char *boundary;
	char *field_name;
	pve_buf field;
	bool in_file, had_file;
	struct evbuffer *file_bytes;
};

/* One worker: an event loop in its own thread, with its own wire to pved and its own connections. */
struct front {
	struct event_base *base;
	SSL_CTX *ssl; /* shared by the workers */
	struct evconnlistener *listeners[MAX_LISTENERS];
	size_t n_listeners;
	bool listeners_paused;
	struct bufferevent *pved;
	int www_fd;
	uint32_t next_id;
	struct conn *conns;
	size_t n_conns, max_conns;
	uint64_t idle_seq;
	size_t held; /* bytes of answers held whole, over its connections (HELD_BUDGET) */
	bool draining;
	size_t n_upload_paused;
	struct event *drain_timer;
	int wake_fd; /* an eventfd: the first worker tells the others to drain */
	struct event *wake;
	pthread_t thread;
	bool thread_started;
	struct front_set *set;
};

typedef struct front_set {
	struct front *w;
	size_t n;
	struct event *sigterm, *sigint;
	/* The workers' threads exist before the sandbox (so it covers them, and nothing may create a
	 * thread after it) but wait here until it is in place: no network byte is handled before. */
	pthread_mutex_t lock;
	pthread_cond_t released_cond;
	bool released, go;
	pthread_mutex_t clients_lock;
	client_count *clients[CLIENT_BUCKETS];
	unsigned max_per_client;
	int first_byte_timeout;
	int request_timeout;
} front_set;

static void conn_process(struct conn *c);
static void upload_pause(struct conn *c, bool pause);
static void answer_done(struct conn *c);

/* ---- connections ------------------------------------------------------------------------------------ */

/* The key a client is counted under: an IPv4 address (as IPv4-mapped IPv6), or an IPv6 /64, which one
 * host usually has whole. */
static void client_key(const struct sockaddr *sa, socklen_t len, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		memcpy(key, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
	}
}

static client_count **client_slot(front_set *set, const uint8_t key[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	client_count **p = &set->clients[h % CLIENT_BUCKETS];
	while (*p && memcmp((*p)->key, key, 16) != 0)
		p = &(*p)->next;
	return p;
}

/* Counts a new connection of the client; false when it holds its share already. */
static bool client_take(front_set *set, const uint8_t key[16])
{
	pthread_mutex_lock(&set->clients_lock);
	client_count **p = client_slot(set, key);
	bool ok = !*p || (*p)->n < set->max_per_client;
	if (ok && !*p) {
		*p = xcalloc(1, sizeof(**p));
		memcpy((*p)->key, key, 16);
	}
	if (ok)
		(*p)->n++;
	pthread_mutex_unlock(&set->clients_lock);
	return ok;
}

static void client_put(front_set *set, const uint8_t key[16])
{
	pthread_mutex_lock(&set->clients_lock);
	client_count **p = client_slot(set, key);
	if (*p && --(*p)->n == 0) {
		client_count *gone = *p;
		*p = gone->next;
		free(gone);
	}
	pthread_mutex_unlock(&set->clients_lock);
}

static void reset_answer(struct conn *c)
{
	pve_http_request_free(c->req);
	c->req = NULL;
	c->id = 0;
	c->have_head = false;
	c->status = 0;
	free(c->reason);
	c->reason = NULL;
	pve_buf_free(&c->body);
	c->f->held -= c->held;
	c->held = 0;
	pve_http_gzip_stream_free(c->gz);
	c->gz = NULL;
	pve_multipart_free(c->mp);
	c->mp = NULL;
	free(c->boundary);
	c->boundary = NULL;
	free(c->field_name);
	c->field_name = NULL;
	pve_buf_free(&c->field);
	c->in_file = c->had_file = false;
	if (c->file_bytes)
		evbuffer_free(c->file_bytes);
	c->file_bytes = NULL;
	c->resp_total = c->resp_got = 0;
	c->unacked = 0;
	if (c->file_fd >= 0)
		close(c->file_fd);
	c->file_fd = -1;
}

static void send_frame(struct front *f, uint16_t type, uint32_t id, uint16_t flags)
{
	if (!f->pved)
		return;
	pve_buf b = { 0 };
	pve_wire_append_frame(&b, type, flags, id, NULL, 0);
	bufferevent_write(f->pved, b.data, b.len);
	pve_buf_free(&b);
}

static void listeners_enable(struct front *f, bool on)
{
	if (f->listeners_paused == !on)
		return;
	for (size_t i = 0; i < f->n_listeners; i++) {
		if (on)
			evconnlistener_enable(f->listeners[i]);
		else
			evconnlistener_disable(f->listeners[i]);
	}
	f->listeners_paused = !on;
}

static void conn_free(struct conn *c)
{
	struct front *f = c->f;
	if (c->upload_paused)
		f->n_upload_paused--;
	/* pved may drop the work; its answer will find no connection and be dropped too. */
	if ((c->state == C_WAITING || c->state == C_STREAMING ||
	     ((c->state == C_WEBSOCKET || c->state == C_TUNNEL) && !c->ws_ended)) &&
	    c->id)
		send_frame(f, PVE_WIRE_CANCEL, c->id, 0);
	if (c->ws)
		wslay_event_context_free(c->ws);
	reset_answer(c);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	pve_http_parser_free(c->parser);
	free(c->client);
	if (c->counted)
		client_put(f->set, c->client_key);
	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	f->n_conns--;
	if (!f->draining && f->n_conns < f->max_conns)
		listeners_enable(f, true);
	if (f->draining && f->n_conns == 0)
		event_base_loopexit(f->base, NULL);
}

static void arm_timer(struct conn *c, int seconds, const char *what)
{
	struct timeval tv = { .tv_sec = seconds };
	c->timer_what = what;
	evtimer_add(c->timer, &tv);
}

static void set_deadline(struct conn *c, int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += seconds;
}

static bool past_deadline(const struct conn *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > c->deadline.tv_sec ||
	       (now.tv_sec == c->deadline.tv_sec && now.tv_nsec >= c->deadline.tv_nsec);
}

/* A keep-alive connection waiting for its next request, with nothing of it read yet. */
static bool conn_idle(const struct conn *c)
{
	return c->state == C_READING && c->served && !c->discarding &&
	       !pve_http_parser_started(c->parser) &&
	       evbuffer_get_length(bufferevent_get_input(c->bev)) == 0;
}

/* All connections are taken (of a client, when key is given): the one idle the longest makes room for a
 * new one. */
static bool evict_idle(struct front *f, const uint8_t *key)
{
	struct conn *oldest = NULL;
	for (struct conn *c = f->conns; c; c = c->next)
		if (conn_idle(c) && (!key || memcmp(c->client_key, key, 16) == 0) &&
		    (!oldest || c->idle_seq < oldest->idle_seq))
			oldest = c;
	if (!oldest)
		return false;
	log_debug("%s: idle keep-alive connection dropped to make room", oldest->client);
	conn_free(oldest);
	return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	log_debug("%s: %s timeout, closing", c->client, c->timer_what ? c->timer_what : "?");
	conn_free(c);
}

/* Queues bytes; the write callback sees them out. */
static void conn_write(struct conn *c, const void *data, size_t len)
{
	bufferevent_write(c->bev, data, len);
}

static void start_writing(struct conn *c)
{
	c->state = C_WRITING;
	evtimer_del(c->timer);
}

/* The request waits for "100 Continue" before it sends its body. */
static bool expects_continue(const struct conn *c)
{
	const char *expect = pve_http_request_header(c->req, "Expect");
	return expect && strcasecmp(expect, "100-continue") == 0 && c->req->http_minor >= 1;
}

/* What follows an answer: keep-alive, the rest of an upload's body read and dropped, or the end. */
static bool answer_keep(struct conn *c)
{
	/* An upload answered before its body was all read (an error): the rest is read and dropped, as
	 * a client that sends all before it reads would not see the answer if we closed. One answered
	 * before pved asked for the body, whose client waits for 100 Continue, sends none: nothing to
	 * drop, and nothing tells where its next request would begin, so the connection ends. */
	if (c->body_pending && c->upload_held && expects_continue(c))
		c->close_after = true;
	else if (c->body_pending && !c->discarding) {
		c->discarding = true;
		set_deadline(c, DISCARD_TIME);
		upload_pause(c, false);
	}
	c->uploading = c->upload_held = c->upload_raw = false;
	c->upload_window = 0;
	bool keep = !c->close_after && !c->f->draining && c->req && c->req->keep_alive;
	c->close_after = !keep;
	/* A connection that ends while the body still comes lingers (reads and drops it) first: closed
	 * with input unread, it would be reset, and a reset can take the answer with it before the
	 * client read it (a forwarding pved saw "closed without a response"). */
	if (!keep && c->body_pending && c->discarding)
		c->linger_after = true;
	return keep;
}

static const char json_type[] = "application/json;charset=UTF-8";

/* An answer with a JSON body, whole; rewritten for /api2/extjs, gzipped when the client takes it. */
static void send_answer(struct conn *c, int status, const char *reason, const char *body,
			size_t len)
{
	_cleanup_free_ char *ext = NULL;
	if (c->target == PVE_FRONT_EXTJS) {
		ext = pve_http_extjs_body(status, reason, body, len);
		body = ext;
		len = strlen(ext);
		status = 200;
		reason = "OK";
	}
	bool gz = false;
	pve_buf zbuf = { 0 };
	if (len > GZIP_MIN && c->req &&
	    pve_http_accepts_gzip(pve_http_request_header(c->req, "Accept-Encoding")) &&
	    pve_http_gzip(body, len, &zbuf, NULL) == 0)
		gz = true;
	bool keep = answer_keep(c);
	pve_buf head = { 0 };
	pve_http_response_head(
		&head, status, reason, json_type, (int64_t)(gz ? zbuf.len : len),
		(gz ? PVE_HTTP_HEAD_GZIP : 0) | (keep ? PVE_HTTP_HEAD_KEEP_ALIVE : 0), time(NULL));
	/* Head and body in one write: one TLS record and one segment, not two. */
	pve_buf_append(&head, gz ? zbuf.data : body, gz ? zbuf.len : len);
	start_writing(c);
	conn_write(c, head.data, head.len);
	pve_buf_free(&head);
	pve_buf_free(&zbuf);
}

/* ---- streamed answers ----------------------------------------------------------------------------------
 * The head goes out when pved's RESPONSE frame comes: Content-Length when it tells the body's length and
 * the body is not gzipped, else chunked (HTTP/1.0: until the connection ends). The body follows as it
 * arrives, through a gzip stream when the client takes gzip; what pved sent is granted again (a WINDOW
 * frame) once the client's output is below STREAM_LOW. */

static void send_window(struct conn *c, uint32_t grant)
{
	struct front *f = c->f;
	if (!f->pved || !grant)
		return;
	pve_buf b = { 0 };
	pve_wire_append_window(&b, c->id, grant);
	bufferevent_write(f->pved, b.data, b.len);
	pve_buf_free(&b);
}

static void maybe_grant(struct conn *c)
{
	if (c->unacked && evbuffer_get_length(bufferevent_get_output(c->bev)) <= STREAM_LOW) {
		send_window(c, c->unacked);
		c->unacked = 0;
	}
}

/* file: a file answer's description (pved's PVE_WIRE_FILE_BODY), or NULL for JSON. */
static void stream_begin(struct conn *c, int status, const char *reason, uint64_t total,
			 const pve_wire_file_meta *file)
{
	bool gz = total == PVE_WIRE_NO_LENGTH || total > GZIP_MIN;
	gz = gz && pve_http_accepts_gzip(pve_http_request_header(c->req, "Accept-Encoding"));
	/* A file pved wants gzip-encoded goes so, whatever the client asked (Proxmox's task log). */
	if (file)
		gz = file->gzip;
	gz = gz && (c->gz = pve_http_gzip_stream_new());
	int64_t len = PVE_HTTP_NO_LENGTH;
	unsigned flags = gz ? PVE_HTTP_HEAD_GZIP : 0;
	if (!gz && total != PVE_WIRE_NO_LENGTH) {
		c->out_mode = OUT_LENGTH;
		len = (int64_t)total;
	} else if (c->req->http_major == 1 && c->req->http_minor >= 1) {
		c->out_mode = OUT_CHUNKED;
		flags |= PVE_HTTP_HEAD_CHUNKED;
	} else {
		c->out_mode = OUT_UNTIL_CLOSE;
		c->close_after = true;
	}
	if (answer_keep(c))
		flags |= PVE_HTTP_HEAD_KEEP_ALIVE;
	c->resp_total = total;
	c->resp_got = 0;
	pve_buf head = { 0 };
	pve_http_response_head(&head, status, reason, file ? file->content_type : json_type, len,
			       flags, time(NULL));
	if (file && file->filename && head.len >= 2) {
		/* Before the head's closing empty line; the name is printable ASCII without quotes
		 * (pve_wire_response_decode_file checked it). */
		head.len -= 2;
		pve_buf_printf(&head, "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
			       file->filename);
	}
	start_writing(c);
	c->state = C_STREAMING;
	conn_write(c, head.data, head.len);
	pve_buf_free(&head);
	/* The write callback runs as the output drains below the low mark: more is granted then. */
	bufferevent_setwatermark(c->bev, EV_WRITE, STREAM_LOW, 0);
}

/* Body bytes of a streamed answer; fin: the last. */
static void stream_data(struct conn *c, const char *data, size_t len, uint16_t flags)
{
	bool fin = flags & PVE_WIRE_FIN;
	c->resp_got += len;
	if ((flags & PVE_WIRE_ABORT) ||
	    (c->resp_total != PVE_WIRE_NO_LENGTH &&
	     (c->resp_got > c->resp_total || (fin && c->resp_got != c->resp_total)))) {
		/* The client must not take a cut answer as whole: no last chunk, no more bytes. */
		log_warning("%s: answer from pved %s; closing", c->client,
			    flags & PVE_WIRE_ABORT ? "cut short" : "differs from its length");
		conn_free(c);
		return;
	}
	pve_buf out = { 0 };
	if (c->gz && pve_http_gzip_stream_write(c->gz, data, len, fin, &out, NULL) < 0) {
		pve_buf_free(&out);
		conn_free(c);
		return;
	}
	const char *bytes = c->gz ? out.data : data;
	size_t n = c->gz ? out.len : len;
	if (c->out_mode == OUT_CHUNKED) {
		pve_buf framed = { 0 };
		if (n)
			pve_http_chunk(&framed, bytes, n);
		if (fin)
			pve_http_chunk(&framed, NULL, 0);
		if (framed.len)
			conn_write(c, framed.data, framed.len);
		pve_buf_free(&framed);
	} else if (n) {
		conn_write(c, bytes, n);
	}
	pve_buf_free(&out);
	if (fin) {
		/* Nothing is owed to pved any more; the answer ends when the output has drained. */
		c->state = C_WRITING;
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			answer_done(c);
		return;
	}
	c->unacked += (uint32_t)len;
	maybe_grant(c);
}

static void send_error(struct conn *c, int status, const char *message, bool close_conn)
{
	_cleanup_free_ char *body = pve_http_error_body(message);
	if (close_conn)
		c->close_after = true;
	send_answer(c, status, message, body, strlen(body));
}

/* A refusal of the front's own: a parameter at fault is named in "errors", as pved names it. */
static void send_pve_error(struct conn *c, const pve_error *err, bool close_conn)
{
	if (!err->param) {
		send_error(c, pve_error_http_status(err->code), err->message, close_conn);
		return;
	}
	_cleanup_free_ char *body = pve_http_param_error_body(err->param, err->message);
	if (close_conn)
		c->close_after = true;
	send_answer(c, 400, "Parameter verification failed.", body, strlen(body));
}

/* Drops what the client still sends after an error answer; the end comes with its EOF, a pause, the
 * deadline or the byte limit. */
static void linger_read(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	evbuffer_drain(in, n);
	c->linger_bytes += n;
	if (c->linger_bytes > LINGER_MAX || past_deadline(c)) {
		conn_free(c);
		return;
	}
	if (n)
		arm_timer(c, LINGER_IDLE, "lingering close");
}

/* The answer is out: next request, or the end. */
static void answer_done(struct conn *c)
{
	struct front *f = c->f;
	reset_answer(c);
	c->served++;
	if (c->close_after && c->linger_after && !f->draining) {
		c->state = C_LINGER;
		set_deadline(c, LINGER_TIME);
		arm_timer(c, LINGER_IDLE, "lingering close");
		bufferevent_enable(c->bev, EV_READ);
		linger_read(c);
		return;
	}
	if (c->close_after || f->draining) {
		conn_free(c);
		return;
	}
	c->state = C_READING;
	c->idle_seq = ++f->idle_seq;
	arm_timer(c, IDLE_TIMEOUT, "keep-alive");
	/* An idle connection may make room: accept again if that stopped for want of it. */
	if (f->listeners_paused)
		listeners_enable(f, true);
	conn_process(c);
}

static void fill_file(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t want = (size_t)(c->file_size - c->file_off);
	if (want > FILE_CHUNK)
		want = FILE_CHUNK;
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1) {
		conn_free(c);
		return;
	}
	ssize_t n = pread(c->file_fd, v.iov_base, want, c->file_off);
	if (n <= 0) {
		/* The file shrank or failed under us; the length is promised, so end the connection. */
		conn_free(c);
		return;
	}
	v.iov_len = (size_t)n;
	evbuffer_commit_space(out, &v, 1);
	c->file_off += n;
}

static void ws_pump(struct conn *c);

static void on_conn_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->state == C_WEBSOCKET) {
		ws_pump(c);
		return;
	}
	if (c->state == C_STREAMING || c->state == C_TUNNEL) {
		maybe_grant(c);
		return;
	}
	if (c->state != C_WRITING)
		return;
	if (c->file_fd >= 0 && c->file_off < c->file_size) {
		fill_file(c);
		return;
	}
	/* A write callback deferred from before the answer was queued (a plain socket, the SPICE
	 * proxy's, is writable at once after the accept) is not the answer's drain. */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	answer_done(c);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (what & BEV_EVENT_ERROR) {
		unsigned long e;
		while ((e = bufferevent_get_openssl_error(c->bev)))
			log_debug("%s: TLS: %s", c->client, ERR_reason_error_string(e));
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(c);
}

/* ---- static files ----------------------------------------------------------------------------------- */

static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, /* a FIFO must not block */
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return fd;
	/* Older kernels: walk the components, following no link and no "..". */
	_cleanup_free_ char *copy = xstrdup(rel);
	_cleanup_close_ int cur = -1;
	for (char *p = copy;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (p[0] == '\0' && slash) {
			p = slash + 1;
			continue;
		}
		if (p[0] == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
			errno = EACCES;
			return -1;
		}
		int nfd = openat(cur >= 0 ? cur : dirfd, p,
				 slash ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC :
					 O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (nfd < 0)
			return -1;
		closep(&cur);
		cur = nfd;
		if (!slash)
			return TAKE_FD(cur);
		p = slash + 1;
	}
}

static void serve_static(struct conn *c, const char *path)
{
	struct front *f = c->f;
	bool head = strcmp(c->req->method, "HEAD") == 0;
	if (!head && strcmp(c->req->method, "GET") != 0) {
		send_error(c, 501, "method not implemented", false);
		return;
	}
	const char *rel = path + (path[0] == '/');
	if (rel[0] == '\0')
		rel = "index.html";
	int fd = f->www_fd >= 0 ? open_beneath(f->www_fd, rel) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		send_error(c, 404, "File not found", false);
		return;
	}
	/* A precompressed twin (the web build writes FILE.gz beside each script, stylesheet and page)
	 * goes instead when the client takes gzip and it is not older than the file, as nginx's
	 * gzip_static: the bytes pved-api sends shrink without compressing anything per request. */
	bool gz = false;
	if (pve_http_accepts_gzip(pve_http_request_header(c->req, "Accept-Encoding"))) {
		_cleanup_free_ char *zrel = xasprintf("%s.gz", rel);
		int zfd = open_beneath(f->www_fd, zrel);
		struct stat zst;
		if (zfd >= 0 && fstat(zfd, &zst) == 0 && S_ISREG(zst.st_mode) &&
		    zst.st_mtime >= st.st_mtime) {
			close(fd);
			fd = zfd;
			st.st_size = zst.st_size;
			gz = true;
		} else if (zfd >= 0) {
			close(zfd);
		}
	}
	char date[64], mod[64];
	pve_http_date(time(NULL), date);
	pve_http_date(st.st_mtime, mod);
	bool keep = !c->close_after && !f->draining && c->req->keep_alive;
	c->close_after = !keep;
	/* A browser sends back the Last-Modified it got: the same string means the same file. */
	const char *ims = pve_http_request_header(c->req, "If-Modified-Since");
	bool unchanged = ims && strcmp(ims, mod) == 0;
	pve_buf h = { 0 };
	pve_buf_printf(&h,
		       "HTTP/1.1 %s\r\n"
		       "Connection: %s\r\n"
		       "Date: %s\r\n"
		       "Last-Modified: %s\r\n"
		       "Server: pve-api-daemon/3.0\r\n",
		       unchanged ? "304 Not Modified" : "200 OK", keep ? "Keep-Alive" : "close",
		       date, mod);
	if (!unchanged)
		pve_buf_printf(&h, "Content-Length: %lld\r\nContent-Type: %s\r\n",
			       (long long)st.st_size, pve_http_mime_type(rel));
	if (gz && !unchanged)
		pve_buf_puts(&h, "Content-Encoding: gzip\r\n");
	/* A cache keeps the two encodings apart. */
	pve_buf_puts(&h, "Vary: Accept-Encoding\r\n\r\n");
	start_writing(c);
	conn_write(c, h.data, h.len);
	pve_buf_free(&h);
	if (head || unchanged) {
		close(fd);
		return;
	}
	c->file_fd = fd;
	c->file_off = 0;
	c->file_size = st.st_size;
}

/* ---- uploads --------------------------------------------------------------------------------------------
 * The multipart body of an upload is parsed here, unprivileged, once pved has sent CONTINUE for it (until
 * then at most UPLOAD_CHUNK of it is read): pved gets the text fields as FIELD frames, the file part as a
 * FILE frame and its bytes as DATA frames, then an empty DATA frame with FIN. pved parses no multipart.
 * It may answer at any time instead; the answer ends the upload. A malformed body is answered here.
 * An upload pved forwards to another node (CONTINUE with RAW) goes as it came instead, unparsed, within
 * the window pved grants: that node's front parses it. */

static void upload_pause(struct conn *c, bool pause)
{
	if (c->upload_paused == pause)
		return;
	c->upload_paused = pause;
	if (pause) {
		c->f->n_upload_paused++;
		bufferevent_disable(c->bev, EV_READ);
	} else {
		c->f->n_upload_paused--;
		bufferevent_enable(c->bev, EV_READ);
	}
}

static struct evbuffer *pved_out(struct conn *c)
{
	return bufferevent_get_output(c->f->pved);
}

static int mp_begin(void *ud, const char *name, const char *filename, const char *ctype,
		    pve_error **err)
{
	struct conn *c = ud;
	if (strlen(name) > PVE_WIRE_MAX_FIELD_NAME || !pve_utf8_valid(name, strlen(name)))
		return pve_error_set(err, EINVAL, "invalid form field name");
	if (filename) {
		if (c->had_file)
			return pve_error_set(err, EINVAL, "more than one file in the upload");
		if (strlen(filename) > PVE_WIRE_MAX_FILENAME ||
		    !pve_utf8_valid(filename, strlen(filename)))
			return pve_error_set_param(err, EINVAL, "filename", "invalid file name");
		/* A type is only passed on: anything unfit is as none. */
		if (ctype && (strlen(ctype) > PVE_WIRE_MAX_FIELD_VALUE ||
			      !pve_utf8_valid(ctype, strlen(ctype))))
			ctype = NULL;
		c->had_file = c->in_file = true;
		pve_buf b = { 0 };
		pve_wire_append_file(&b, c->id, name, filename, ctype);
		evbuffer_add(pved_out(c), b.data, b.len);
		pve_buf_free(&b);
		return 0;
	}
	if (c->had_file)
		return pve_error_set(err, EINVAL, "form field '%s' after the file", name);
	free(c->field_name);
	c->field_name = xstrdup(name);
	c->field.len = 0;
	return 0;
}

static int mp_data(void *ud, const void *data, size_t len, pve_error **err)
{
	struct conn *c = ud;
	if (c->in_file) {
		evbuffer_add(c->file_bytes, data, len);
		return 0;
	}
	if (c->field.len + len > PVE_WIRE_MAX_FIELD_VALUE)
		return pve_error_set_param(err, E2BIG, c->field_name,
					   "value too long (at most %d bytes)",
					   PVE_WIRE_MAX_FIELD_VALUE);
	pve_buf_append(&c->field, data, len);
	return 0;
}

static int mp_end(void *ud, pve_error **err)
{
	struct conn *c = ud;
	if (c->in_file) {
		c->in_file = false;
		return 0;
	}
	const char *v = c->field.data ? c->field.data : "";
	if (memchr(v, '\0', c->field.len))
		return pve_error_set_param(err, EINVAL, c->field_name,
					   "NUL character in the value");
	if (!pve_utf8_valid(v, c->field.len))
		return pve_error_set_param(err, EINVAL, c->field_name, "value is not valid UTF-8");
	pve_buf b = { 0 };
	pve_wire_append_field(&b, c->id, c->field_name, v, c->field.len);
	evbuffer_add(pved_out(c), b.data, b.len);
	pve_buf_free(&b);
	return 0;
}

static const pve_multipart_callbacks mp_callbacks = {
	.part_begin = mp_begin,
	.part_data = mp_data,
	.part_end = mp_end,
};

/* n bytes of src go to pved as one DATA frame: moved, not copied. */
static void data_frame(struct conn *c, struct evbuffer *src, size_t n)
{
	uint8_t hdr[PVE_WIRE_HEADER_SIZE];
	pve_wire_header_encode(hdr, &(pve_wire_header){ (uint32_t)n, PVE_WIRE_DATA, 0, c->id });
	evbuffer_add(pved_out(c), hdr, sizeof(hdr));
	evbuffer_remove_buffer(src, pved_out(c), n);
}

/* The file bytes of one read go to pved as one frame. */
static void flush_file_bytes(struct conn *c)
{
	size_t n = evbuffer_get_length(c->file_bytes);
	if (n)
		data_frame(c, c->file_bytes, n);
}

/* The body is not a form we can pass on: answered here (400, or 413 for a limit), pved drops its
 * side. */
static void upload_refuse(struct conn *c, const pve_error *err)
{
	log_debug("%s: upload refused: %s", c->client, err->message);
	send_frame(c->f, PVE_WIRE_CANCEL, c->id, 0);
	if (err->param)
		send_pve_error(c, err, false);
	else
		send_error(c, err->code == E2BIG ? 413 : 400, err->message, false);
}

static void upload_pump(struct conn *c)
{
	struct front *f = c->f;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (!f->pved) {
		conn_free(c);
		return;
	}
	if (c->upload_held)
		return;
	bool moved = false;
	while (c->uploading && c->upload_left > 0 && evbuffer_get_length(in) > 0) {
		if (evbuffer_get_length(pved_out(c)) > UPLOAD_HIGH ||
		    (c->upload_raw && c->upload_window == 0)) {
			upload_pause(c, true);
			break;
		}
		size_t n = evbuffer_get_length(in);
		if (n > UPLOAD_CHUNK)
			n = UPLOAD_CHUNK;
		if (n > c->upload_left)
			n = (size_t)c->upload_left;
		if (c->upload_raw) {
			if (n > c->upload_window)
				n = (size_t)c->upload_window;
			data_frame(c, in, n);
			c->upload_window -= n;
			c->upload_left -= n;
			moved = true;
			continue;
		}
		struct evbuffer_iovec v[16];
		int k = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, ELEMENTSOF(v));
		size_t fed = 0;
		_cleanup_error_ pve_error *err = NULL;
		int r = 0;
		for (int i = 0; i < k && i < (int)ELEMENTSOF(v) && fed < n && r == 0; i++) {
			size_t take = v[i].iov_len < n - fed ? v[i].iov_len : n - fed;
			r = pve_multipart_feed(c->mp, v[i].iov_base, take, &err);
			fed += take;
		}
		evbuffer_drain(in, fed);
		c->upload_left -= fed;
		if (r < 0) {
			upload_refuse(c, err);
			return;
		}
		flush_file_bytes(c);
		moved = true;
	}
	if (c->uploading && c->upload_left == 0) {
		_cleanup_error_ pve_error *err = NULL;
		c->uploading = false;
		c->body_pending = false;
		upload_pause(c, false);
		/* Back to the usual read limit; a pipelined request waits for the answer. */
		bufferevent_setwatermark(c->bev, EV_READ, 0, 64 * 1024);
		evtimer_del(c->timer);
		if (!c->upload_raw && pve_multipart_finish(c->mp, &err) < 0) {
			upload_refuse(c, err);
			return;
		}
		send_frame(f, PVE_WIRE_DATA, c->id, PVE_WIRE_FIN);
	} else if (moved) {
		arm_timer(c, UPLOAD_IDLE_TIMEOUT, "upload");
	}
}

/* Drops what is left of an answered upload's body; then the connection goes on as usual. */
static void discard_body(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	if (n > c->upload_left)
		n = (size_t)c->upload_left;
	evbuffer_drain(in, n);
	c->upload_left -= n;
	if (c->upload_left > 0) {
		if (past_deadline(c)) {
			log_debug("%s: the rest of an answered upload is too slow; closing",
				  c->client);
			conn_free(c);
		} else if (n) {
			arm_timer(c, DISCARD_IDLE, "discarded upload");
		}
		return;
	}
	c->discarding = false;
	c->body_pending = false;
	bufferevent_setwatermark(c->bev, EV_READ, 0, 64 * 1024);
	if (c->state == C_READING)
		arm_timer(c, IDLE_TIMEOUT, "keep-alive");
}

static void upload_start(struct conn *c)
{
	if (c->boundary)
		c->mp = pve_multipart_new(c->boundary, &mp_callbacks, c);
	c->file_bytes = evbuffer_new();
	if (!c->file_bytes)
		abort();
	c->uploading = true;
	c->upload_held = true;
	c->body_pending = c->upload_left > 0;
	bufferevent_setwatermark(c->bev, EV_READ, 0, UPLOAD_CHUNK);
	bufferevent_set_max_single_read(c->bev, UPLOAD_CHUNK);
	arm_timer(c, UPLOAD_IDLE_TIMEOUT, "upload");
}

/* pved is ready for the body: a client that asked to be told (Expect: 100-continue) is told now, so
 * one whose upload pved refuses first sends nothing. */
static void upload_continue(struct conn *c)
{
	if (!c->uploading || !c->upload_held)
		return;
	c->upload_held = false;
	if (!c->mp) {
		_cleanup_error_ pve_error *err = NULL;
		_cleanup_free_ char *b = NULL;
		if (pve_multipart_boundary(pve_http_request_header(c->req, "Content-Type"), &b,
					   &err) == 0 ||
		    !err)
			pve_error_set(&err, EINVAL, "malformed multipart boundary");
		pve_error_prefix(err, "upload needs a multipart/form-data body");
		c->upload_held = true; /* nothing of the body was asked for */
		upload_refuse(c, err);
		return;
	}
	if (expects_continue(c) && c->upload_left > 0)
		conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	upload_pump(c);
}

/* pved's queue drained below the low mark: paused uploads go on. */
static void on_pved_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct front *f = arg;
	if (f->n_upload_paused == 0)
		return;
	for (struct conn *c = f->conns, *next; c; c = next) {
		next = c->next;
		if (c->upload_paused) {
			upload_pause(c, false);
			upload_pump(c);
		}
	}
}

/* ---- API requests ------------------------------------------------------------------------------------ */

/* The request (an encoded payload) to pved under a new id; the connection waits for the answer. */
static void send_request(struct conn *c, const char *payload, size_t len)
{
	struct front *f = c->f;
	if (++f->next_id == 0)
		f->next_id = 1;
	c->id = f->next_id;
	c->state = C_WAITING;
	/* Reading goes on, so a client that goes away is noticed (and the request cancelled); a
	 * pipelined request waits in the input buffer, bounded by the read watermark. */
	evtimer_del(c->timer);
	pve_buf b = { 0 };
	pve_wire_append_request(&b, c->id, payload, len);
	bufferevent_write(f->pved, b.data, b.len);
	pve_buf_free(&b);
}

static void forward_api(struct conn *c, const char *path)
{
	struct front *f = c->f;
	if (!f->pved) {
		send_error(c, 502, "pved is not available", false);
		return;
	}
	_cleanup_error_ pve_error *err = NULL;
	pve_request *r = NULL;
	if (pve_front_build_request(c->req, path, c->client, &r, &err) < 0) {
		send_pve_error(c, err, false);
		return;
	}
	r->websocket = c->ws_wanted = pve_http_is_websocket(c->req);
	r->window = FRONT_WINDOW;
	if (c->req->stream_body) {
		const char *ct = pve_http_request_header(c->req, "Content-Type");
		/* The body is parsed here; one that is no form is refused when pved asks for it, so
		 * authentication and permission are answered first, as Proxmox does. */
		(void)pve_multipart_boundary(ct, &c->boundary, NULL);
		r->upload = true;
		r->upload_type = ct ? xstrdup(ct) : NULL;
		r->upload_length = c->req->content_length;
	}
	_cleanup_free_ char *payload = NULL;
	size_t len = 0;
	int rc = pve_request_encode(r, &payload, &len, &err);
	pve_request_free(r);
	if (rc < 0) {
		send_error(c, 413, err->message, false);
		return;
	}
	send_request(c, payload, len);
	if (c->req->stream_body)
		upload_start(c);
}

/* ---- the SPICE proxy ---------------------------------------------------------------------------------
 * A CONNECT on its port goes to pved as a request of method CONNECT ({"connect": target}); pved checks
 * the ticket and connects to the VM's SPICE port, then answers 101 and a WINDOW frame: the bytes of the
 * client it may be sent. From then on the client's bytes go to pved as DATA frames within the windows
 * pved grants, and pved's DATA frames go to the client within FRONT_WINDOW, granted again as the
 * client takes them (as a streamed answer's body), so a side that does not read stops the other. */

/* An HTTP/1.0 answer without a body, as Proxmox's proxy refuses; the connection ends after it. */
static void spice_refuse(struct conn *c, int status, const char *reason)
{
	_cleanup_free_ char *r = pve_http_reason_sanitize(status, reason);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "HTTP/1.0 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
		       status, r);
	c->close_after = true;
	start_writing(c);
	conn_write(c, b.data, b.len);
	pve_buf_free(&b);
}

static void spice_request(struct conn *c)
{
	struct front *f = c->f;
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *target = NULL;
	int status = 400;
	if (pve_spice_connect_target(c->req, &target, &status, &err) < 0) {
		log_debug("%s: spice proxy: %s", c->client, err->message);
		spice_refuse(c, status, err->message);
		return;
	}
	if (!f->pved) {
		spice_refuse(c, 502, "pved is not available");
		return;
	}
	pve_request r = {
		.method = (char *)"CONNECT",
		.path = (char *)"/",
		.params = cJSON_CreateObject(),
		.client = c->client,
		.websocket = true,
		.window = FRONT_WINDOW,
	};
	cJSON_AddStringToObject(r.params, "connect", target);
	/* another node's proxy forwarding to this one (Proxmox's loop guard) */
	if (pve_http_request_header(c->req, "PVEDisableProxy"))
		cJSON_AddTrueToObject(r.params, "noproxy");
	_cleanup_free_ char *payload = NULL;
	size_t len = 0;
	int rc = pve_request_encode(&r, &payload, &len, &err);
	cJSON_Delete(r.params);
	if (rc < 0) {
		spice_refuse(c, 400, err->message);
		return;
	}
	send_request(c, payload, len);
}

/* The client's bytes to pved, as far as its window goes; the rest waits in the input, which the read
 * watermark bounds. */
static void tunnel_pump(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (c->upload_window > 0 && evbuffer_get_length(in) > 0 && c->f->pved) {
		size_t n = evbuffer_get_length(in);
		if (n > c->upload_window)
			n = (size_t)c->upload_window;
		if (n > UPLOAD_CHUNK)
			n = UPLOAD_CHUNK;
		const unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)n);
		if (!data)
			break;
		pve_buf b = { 0 };
		pve_wire_append_frame(&b, PVE_WIRE_DATA, 0, c->id, data, n);
		bufferevent_write(c->f->pved, b.data, b.len);
		pve_buf_free(&b);
		evbuffer_drain(in, n);
		c->upload_window -= n;
	}
}

static void tunnel_open(struct conn *c)
{
	c->state = C_TUNNEL;
	free(c->reason);
	c->reason = NULL;
	/* as Proxmox's: the request's protocol, then an empty line */
	const char *ok = c->req->http_minor == 1 ? "HTTP/1.1 200 OK\r\n\r\n" :
						   "HTTP/1.0 200 OK\r\n\r\n";
	conn_write(c, ok, strlen(ok));
	/* a console may sit idle for hours: no request or keep-alive limit from here on */
	evtimer_del(c->timer);
	bufferevent_setwatermark(c->bev, EV_WRITE, STREAM_LOW, 0);
}

/* A DATA frame from pved for a tunnel: its bytes to the client; FIN ends the tunnel once they are out. */
static void tunnel_from_pved(struct conn *c, const pve_wire_header *h, const char *payload)
{
	if (h->len > 0) {
		conn_write(c, payload, h->len);
		c->unacked += h->len;
		maybe_grant(c);
	}
	if (h->flags & PVE_WIRE_FIN) {
		c->ws_ended = true;
		c->close_after = true;
		start_writing(c);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_free(c);
	}
}

static void handle_request(struct conn *c, pve_http_request *req)
{
	c->req = req;
	if (c->spice) {
		spice_request(c);
		return;
	}
	if (req->stream_body) {
		c->upload_left = req->content_length;
		c->body_pending = req->content_length > 0;
	}
	if (!req->keep_alive)
		c->close_after = true;
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *rest = NULL;
	int t = pve_front_classify(req->url, &rest, &err);
	c->target = t < 0 ? PVE_FRONT_API : (enum pve_front_target)t;
	if (t < 0) {
		send_error(c, 400, err->message, false);
		return;
	}
	log_debug("%s: %s %s", c->client, req->method, req->url);
	switch (c->target) {
	case PVE_FRONT_STATIC:
		serve_static(c, rest);
		return;
	case PVE_FRONT_OTHER: {
		_cleanup_free_ char *msg = xasprintf("unsupported format '%s'", rest);
		send_error(c, 501, msg, false);
		return;
	}
	case PVE_FRONT_API:
	case PVE_FRONT_EXTJS:
		forward_api(c, rest);
		return;
	}
}

static void conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (c->discarding) {
		discard_body(c);
		if (c->discarding)
			return;
	}
	while (c->state == C_READING && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		pve_http_request *req = NULL;
		int status = 400;
		_cleanup_error_ pve_error *err = NULL;
		bool was_started = pve_http_parser_started(c->parser);
		ssize_t n =
			pve_http_parser_feed(c->parser, v.iov_base, v.iov_len, &req, &status, &err);
		if (n < 0) {
			log_debug("%s: bad request: %s", c->client, err ? err->message : "?");
			if (c->spice) {
				spice_refuse(c, status, err ? err->message : "bad request");
				return;
			}
			c->target = PVE_FRONT_API;
			c->linger_after = true;
			send_error(c, status, err ? err->message : "bad request", true);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		if (req) {
			handle_request(c, req);
			continue;
		}
		if (!was_started && pve_http_parser_started(c->parser))
			arm_timer(c, c->f->set->request_timeout, "request");
		if (pve_http_parser_take_continue(c->parser))
			conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		if (n == 0)
			break;
	}
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->state == C_WEBSOCKET)
		ws_pump(c);
	else if (c->state == C_TUNNEL)
		tunnel_pump(c);
	else if (c->state == C_LINGER)
		linger_read(c);
	else if (c->uploading)
		upload_pump(c);
	else
		conn_process(c);
}

static void accept_conn(struct front *f, evutil_socket_t fd, struct sockaddr *sa, int salen,
			bool spice)
{
	if (f->draining) {
		evutil_closesocket(fd);
		return;
	}
	uint8_t key[16];
	client_key(sa, (socklen_t)salen, key);
	/* A client at its share: its own idle keep-alive connection (here) makes room, else no more. */
	if (!client_take(f->set, key) && !(evict_idle(f, key) && client_take(f->set, key))) {
		log_debug("a client holds %u connections already; refusing another",
			  f->set->max_per_client);
		evutil_closesocket(fd);
		return;
	}
	/* All taken: an idle keep-alive connection makes room, else this one waits in the backlog. */
	if (f->n_conns >= f->max_conns && !evict_idle(f, NULL)) {
		client_put(f->set, key);
		evutil_closesocket(fd);
		listeners_enable(f, false);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Writable only while little is unsent: what a client has not yet taken waits here, within the
	 * answer's window, rather than in a send buffer the kernel grows to megabytes for a client that
	 * does not read. What is in flight is not limited, so a fast client's throughput is not. */
	int lowat = NOTSENT_LOWAT;
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	/* the SPICE proxy speaks plain HTTP, as Proxmox's: the SPICE link inside is TLS itself */
	SSL *ssl = spice ? NULL : SSL_new(f->ssl);
	if (!spice && !ssl) {
		client_put(f->set, key);
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = xcalloc(1, sizeof(*c));
	c->f = f;
	memcpy(c->client_key, key, 16);
	c->counted = true;
	c->file_fd = -1;
	c->client = pve_client_address(sa, (socklen_t)salen);
	c->parser = pve_http_parser_new();
	c->spice = spice;
	if (spice)
		c->bev = bufferevent_socket_new(f->base, fd,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	else
		c->bev = bufferevent_openssl_socket_new(f->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE |
								BEV_OPT_DEFER_CALLBACKS);
	c->timer = evtimer_new(f->base, on_timer, c);
	c->next = f->conns;
	if (f->conns)
		f->conns->prev = c;
	f->conns = c;
	f->n_conns++;
	if (!c->bev || !c->timer) {
		if (!c->bev)
			evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	if (!spice)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_conn_read, on_conn_write, on_conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 64 * 1024);
	struct timeval wt = { .tv_sec = WRITE_TIMEOUT };
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = C_READING;
	arm_timer(c, f->set->first_byte_timeout, "handshake and first byte");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	(void)l;
	accept_conn(arg, fd, sa, salen, false);
}

static void on_accept_spice(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			    int salen, void *arg)
{
	(void)l;
	accept_conn(arg, fd, sa, salen, true);
}

/* ---- websockets -----------------------------------------------------------------------------------------
 * After pved accepts an upgrade (status 101), each message from the client goes to pved as a DATA frame and
 * each DATA frame from pved goes to the client as a binary message; wslay does the framing, masking, pings
 * and the closing handshake. */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			  void *ud)
{
	(void)flags;
	struct conn *c = ud;
	return pve_ws_bev_recv(ctx, c->bev, buf, len);
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
			  void *ud)
{
	(void)flags;
	struct conn *c = ud;
	/* Bounded: a client that stops reading stops the relay until its socket drains. */
	return pve_ws_bev_send(ctx, c->bev, data, len, WS_MAX_QUEUED);
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
		      void *ud)
{
	(void)ctx;
	struct conn *c = ud;
	if (wslay_is_ctrl_frame(arg->opcode) || c->ws_ended || !c->f->pved)
		return;
	pve_buf b = { 0 };
	pve_wire_append_frame(&b, PVE_WIRE_DATA, 0, c->id, arg->msg, arg->msg_length);
	bufferevent_write(c->f->pved, b.data, b.len);
	pve_buf_free(&b);
}

/* Reads what the client sent, writes what is queued, and ends the connection once both sides closed. */
static void ws_pump(struct conn *c)
{
	if (wslay_event_recv(c->ws) != 0 || wslay_event_send(c->ws) != 0) {
		conn_free(c);
		return;
	}
	if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
}

static void ws_upgrade(struct conn *c)
{
	_cleanup_free_ char *accept =
		pve_http_websocket_accept(pve_http_request_header(c->req, "Sec-WebSocket-Key"));
	const char *proto = pve_http_request_header(c->req, "Sec-WebSocket-Protocol");
	pve_buf b = { 0 };
	pve_buf_printf(&b,
		       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
		       accept ? accept : "");
	/* noVNC and xterm.js ask for "binary", as with Proxmox. */
	if (proto && strstr(proto, "binary"))
		pve_buf_puts(&b, "Sec-WebSocket-Protocol: binary\r\n");
	pve_buf_puts(&b, "\r\n");
	conn_write(c, b.data, b.len);
	pve_buf_free(&b);

	static const struct wslay_event_callbacks callbacks = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	if (wslay_event_context_server_init(&c->ws, &callbacks, c) != 0) {
		conn_free(c);
		return;
	}
	wslay_event_config_set_max_recv_msg_length(c->ws, WS_MAX_MESSAGE);
	c->state = C_WEBSOCKET;
	/* A console may sit idle for hours: no request or keep-alive limit from here on. */
	evtimer_del(c->timer);
	free(c->reason);
	c->reason = NULL;
	pve_buf_free(&c->body);
	ws_pump(c);
}

/* A DATA frame from pved for an upgraded connection: one binary message; FIN ends the stream. */
static void ws_from_pved(struct conn *c, const pve_wire_header *h, const char *payload)
{
	if (h->len > 0) {
		struct wslay_event_msg m = { WSLAY_BINARY_FRAME, (const uint8_t *)payload, h->len };
		wslay_event_queue_msg(c->ws, &m);
	}
	if (h->flags & PVE_WIRE_FIN) {
		c->ws_ended = true;
		wslay_event_queue_close(c->ws, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
	}
	ws_pump(c);
}

/* ---- frames from pved -------------------------------------------------------------------------------- */

static struct conn *conn_by_id(struct front *f, uint32_t id)
{
	for (struct conn *c = f->conns; c; c = c->next)
		if ((c->state == C_WAITING || c->state == C_STREAMING || c->state == C_WEBSOCKET ||
		     c->state == C_TUNNEL) &&
		    c->id == id)
			return c;
	return NULL;
}

static void handle_frame(struct front *f, const pve_wire_header *h, const char *payload)
{
	if (h->type != PVE_WIRE_RESPONSE && h->type != PVE_WIRE_DATA &&
	    h->type != PVE_WIRE_CONTINUE && h->type != PVE_WIRE_WINDOW) {
		log_debug("ignoring frame type %u from pved", h->type);
		return;
	}
	struct conn *c = conn_by_id(f, h->id);
	if (!c)
		return; /* cancelled: the client went away */
	if (h->type == PVE_WIRE_CONTINUE) {
		if (c->state == C_WAITING && c->uploading && c->upload_held) {
			c->upload_raw = h->flags & PVE_WIRE_RAW;
			upload_continue(c);
		}
		return;
	}
	if (h->type == PVE_WIRE_WINDOW && c->spice) {
		uint32_t grant;
		if (pve_wire_window_decode(payload, h->len, &grant, NULL) < 0)
			return;
		if (c->upload_window + grant <= (1ull << 40))
			c->upload_window += grant;
		if (c->state == C_TUNNEL)
			tunnel_pump(c);
		return;
	}
	if (h->type == PVE_WIRE_WINDOW) {
		uint32_t grant;
		_cleanup_error_ pve_error *err = NULL;
		if (!c->uploading || !c->upload_raw ||
		    pve_wire_window_decode(payload, h->len, &grant, &err) < 0)
			return;
		/* bounded, so no sum of grants wraps */
		if (c->upload_window + grant <= (1ull << 40))
			c->upload_window += grant;
		upload_pause(c, false);
		upload_pump(c);
		return;
	}
	if (c->state == C_WEBSOCKET) {
		if (h->type == PVE_WIRE_DATA)
			ws_from_pved(c, h, payload);
		return;
	}
	if (c->state == C_TUNNEL) {
		if (h->type == PVE_WIRE_DATA)
			tunnel_from_pved(c, h, payload);
		return;
	}
	if (c->state == C_STREAMING) {
		if (h->type == PVE_WIRE_DATA)
			stream_data(c, payload, h->len, h->flags);
		else
			conn_free(c); /* a second RESPONSE: nothing sane follows */
		return;
	}
	const char *body;
	size_t blen;
	if (h->type == PVE_WIRE_RESPONSE) {
		uint64_t total;
		_cleanup_error_ pve_error *err = NULL;
		_cleanup_(pve_wire_file_meta_clear) pve_wire_file_meta file = { 0 };
		if (c->have_head ||
		    pve_wire_response_decode_file(payload, h->len, h->flags, &c->status, &c->reason,
						  &total, &file, &body, &blen, &err) < 0) {
			log_warning("bad response frame from pved for request %u", h->id);
			send_frame(f, PVE_WIRE_CANCEL, c->id, 0);
			send_error(c, 502, "bad answer from pved", true);
			return;
		}
		c->have_head = true;
		if (c->spice) {
			if (c->status == 101) {
				tunnel_open(c);
				tunnel_pump(c);
			} else {
				_cleanup_free_ char *reason = xstrdup(c->reason);
				spice_refuse(c, c->status, reason);
			}
			return;
		}
		if (c->ws_wanted && c->status == 101) {
			ws_upgrade(c);
			return;
		}
		/* A whole answer in one frame goes out as before (Content-Length, gzip in one piece);
		 * so does an ExtJS one, held whole for its rewrite. Others stream, and so does a file
		 * in any format (it is no JSON to rewrite). */
		if (file.content_type ||
		    (c->target != PVE_FRONT_EXTJS && !(h->flags & PVE_WIRE_FIN))) {
			_cleanup_free_ char *reason = xstrdup(c->reason);
			stream_begin(c, c->status, reason, total, file.content_type ? &file : NULL);
			stream_data(c, body, blen, h->flags);
			return;
		}
		if (total != PVE_WIRE_NO_LENGTH && total > EXTJS_MAX) {
			send_frame(f, PVE_WIRE_CANCEL, c->id, 0);
			send_error(c, 502, "answer too large for the ExtJS format", true);
			return;
		}
	} else if (!c->have_head) {
		send_frame(f, PVE_WIRE_CANCEL, c->id, 0);
		send_error(c, 502, "bad answer from pved", true);
		return;
	} else {
		body = payload;
		blen = h->len;
	}
	if (h->flags & PVE_WIRE_ABORT) {
		send_error(c, 502, "answer from pved cut short", true);
		return;
	}
	if (c->body.len + blen > EXTJS_MAX || f->held + blen > HELD_BUDGET) {
		if (!(h->flags & PVE_WIRE_FIN))
			send_frame(f, PVE_WIRE_CANCEL, c->id, 0);
		if (c->body.len + blen > EXTJS_MAX)
			send_error(c, 502, "answer too large for the ExtJS format", true);
		else
			send_error(c, 503, "too many large answers at once; try again", true);
		return;
	}
	pve_buf_append(&c->body, body, blen);
	c->held += blen;
	f->held += blen;
	if (h->flags & PVE_WIRE_FIN) {
		send_answer(c, c->status, c->reason, c->body.data ? c->body.data : "", c->body.len);
		return;
	}
	/* Held whole, within its bounds: the window opens again at once. */
	send_window(c, (uint32_t)blen);
}

static void on_pved_read(struct bufferevent *bev, void *arg)
{
	struct front *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		uint8_t hb[PVE_WIRE_HEADER_SIZE];
		if (evbuffer_copyout(in, hb, sizeof(hb)) < (ev_ssize_t)sizeof(hb))
			return;
		pve_wire_header h;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_wire_header_decode(hb, &h, &err) < 0) {
			log_error("bad frame from pved: %s; exiting", err->message);
			event_base_loopbreak(f->base);
			return;
		}
		if (evbuffer_get_length(in) < sizeof(hb) + h.len)
			return;
		evbuffer_drain(in, sizeof(hb));
		const char *payload = (const char *)evbuffer_pullup(in, h.len);
		handle_frame(f, &h, payload ? payload : "");
		evbuffer_drain(in, h.len);
	}
}

static void on_pved_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct front *f = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_info("pved closed the connection; exiting");
		event_base_loopbreak(f->base);
	}
}

/* ---- draining ------------------------------------------------------------------------------------------ */

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct front *f = arg;
	log_notice("drain timeout with %zu connections left", f->n_conns);
	event_base_loopexit(f->base, NULL);
}

static void front_drain(struct front *f)
{
	if (f->draining)
		return;
	f->draining = true;
	log_debug("draining %zu connections", f->n_conns);
	for (size_t i = 0; i < f->n_listeners; i++)
		evconnlistener_free(f->listeners[i]);
	f->n_listeners = 0;
	/* Idle connections go now; the others end after their answer. */
	for (struct conn *c = f->conns, *next; c; c = next) {
		next = c->next;
		if ((c->state == C_READING && !pve_http_parser_started(c->parser) &&
		     evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) ||
		    c->state == C_LINGER)
			conn_free(c);
	}
	if (f->n_conns == 0) {
		event_base_loopexit(f->base, NULL);
		return;
	}
	struct timeval tv = { .tv_sec = DRAIN_TIMEOUT };
	f->drain_timer = evtimer_new(f->base, on_drain_timeout, f);
	if (f->drain_timer)
		evtimer_add(f->drain_timer, &tv);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) == sizeof(v))
		front_drain(arg);
}

/* Wakes another worker's loop from this thread through that worker's eventfd: a libevent base is
 * touched only by the thread that runs it. */
static void front_wake(struct front *f)
{
	uint64_t one = 1;
	if (f->wake_fd >= 0 && write(f->wake_fd, &one, sizeof(one)) < 0)
		log_warning("waking a worker: %m");
}

/* SIGTERM (pved replaces or stops this front) reaches the first worker, whose loop has the signal
 * events; it drains itself and tells the others. */
static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	front_set *set = arg;
	log_info("draining");
	for (size_t i = 1; i < set->n; i++)
		front_wake(&set->w[i]);
	front_drain(&set->w[0]);
}

/* ---- setup --------------------------------------------------------------------------------------------- */

static int ssl_ctx_new(const pve_front_options *o, SSL_CTX **ret, pve_error **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return pve_error_set(err, ENOMEM, "SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5");
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	BIO *bio = BIO_new_mem_buf(o->cert_pem, (int)o->cert_pem_len);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int r = 0;
	if (!cert || SSL_CTX_use_certificate(ctx, cert) != 1) {
		r = pve_error_set(err, EINVAL, "no usable certificate in the certificate PEM");
	} else {
		/* Any further certificates are the chain. */
		X509 *extra;
		while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
			if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1)
				X509_free(extra);
		ERR_clear_error();
	}
	X509_free(cert);
	BIO_free(bio);
	if (r == 0) {
		bio = BIO_new_mem_buf(o->cert_pem, (int)o->cert_pem_len);
		EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			r = pve_error_set(err, EINVAL, "no private key matching the certificate");
		EVP_PKEY_free(key);
	}
	if (r < 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

static int add_listener(struct front *f, int fd, bool spice, pve_error **err)
{
	if (f->n_listeners >= MAX_LISTENERS)
		return pve_error_set(err, E2BIG, "too many listen addresses");
	evutil_make_socket_nonblocking(fd);
	struct evconnlistener *l =
		evconnlistener_new(f->base, spice ? on_accept_spice : on_accept, f,
				   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l)
		return pve_error_set(err, ENOMEM, "evconnlistener_new failed");
	f->listeners[f->n_listeners++] = l;
	return 0;
}

static int bind_listener(const char *spec, int fds[static MAX_LISTENERS], size_t *n,
			 pve_error **err)
{
	if (*n >= MAX_LISTENERS)
		return pve_error_set(err, E2BIG, "too many listen addresses");
	int fd = pve_listen_socket(spec, err);
	if (fd < 0)
		return fd;
	fds[(*n)++] = fd;
	return 0;
}

/* The listening sockets: those pved passed, and those of --listen, bound here; [::]:8006 if none. *n
 * counts what is open, also on failure. */
static int collect_listen_fds(const pve_front_options *o, int fds[static MAX_LISTENERS], size_t *n,
			      pve_error **err)
{
	*n = 0;
	for (size_t i = 0; i < o->n_listen_fds && *n < MAX_LISTENERS; i++)
		fds[(*n)++] = o->listen_fds[i];
	for (size_t i = 0; o->listen && o->listen[i]; i++) {
		int r = bind_listener(o->listen[i], fds, n, err);
		if (r < 0)
			return r;
	}
	return *n ? 0 : bind_listener("[::]:8006", fds, n, err);
}

/* One worker's loop, listeners (its own copies of the listening sockets) and wire. */
static int worker_init(struct front *f, front_set *set, SSL_CTX *ssl, int www_fd,
		       const int *listen_fds, size_t n_listen, int spice_fd, int pved_fd,
		       size_t max_conns, pve_error **err)
{
	f->set = set;
	f->ssl = ssl;
	f->www_fd = www_fd;
	f->max_conns = max_conns;
	f->wake_fd = -1;
	f->base = event_base_new();
	if (!f->base)
		return pve_error_set(err, ENOMEM, "event_base_new failed");
	for (size_t i = 0; i < n_listen + (spice_fd >= 0); i++) {
		int fd = fcntl(i < n_listen ? listen_fds[i] : spice_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return pve_error_set(err, errno, "dup of a listening socket: %m");
		int r = add_listener(f, fd, i == n_listen, err);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	evutil_make_socket_nonblocking(pved_fd);
	f->pved = bufferevent_socket_new(f->base, pved_fd, BEV_OPT_CLOSE_ON_FREE);
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->wake = f->wake_fd >= 0 ?
			  event_new(f->base, f->wake_fd, EV_READ | EV_PERSIST, on_wake, f) :
			  NULL;
	if (!f->pved || !f->wake)
		return pve_error_set(err, ENOMEM, "libevent setup failed");
	bufferevent_setcb(f->pved, on_pved_read, on_pved_write, on_pved_event, f);
	bufferevent_setwatermark(f->pved, EV_WRITE, UPLOAD_LOW, 0);
	bufferevent_enable(f->pved, EV_READ | EV_WRITE);
	event_add(f->wake, NULL);
	return 0;
}

static void worker_free(struct front *f)
{
	while (f->conns)
		conn_free(f->conns);
	for (size_t i = 0; i < f->n_listeners; i++)
		evconnlistener_free(f->listeners[i]);
	if (f->pved)
		bufferevent_free(f->pved);
	if (f->wake)
		event_free(f->wake);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	if (f->drain_timer)
		event_free(f->drain_timer);
	if (f->base)
		event_base_free(f->base);
}

/* A worker starts serving: it tells pved, then runs its loop. */
static void worker_run(struct front *f)
{
	send_frame(f, PVE_WIRE_READY, 0, 0);
	event_base_dispatch(f->base);
}

static void *worker_thread(void *arg)
{
	struct front *f = arg;
	front_set *set = f->set;
	pthread_mutex_lock(&set->lock);
	while (!set->released)
		pthread_cond_wait(&set->released_cond, &set->lock);
	bool go = set->go;
	pthread_mutex_unlock(&set->lock);
	if (go)
		worker_run(f);
	return NULL;
}

int pve_front_run(const pve_front_options *o, pve_error **err)
{
	size_t n = o->n_pved_fds;
	if (n == 0 || n > PVE_FRONT_MAX_WORKERS)
		return pve_error_set(err, EINVAL, "between 1 and %d wires to pved",
				     PVE_FRONT_MAX_WORKERS);
	front_set set = {
		.w = xcalloc(n, sizeof(struct front)),
		.n = n,
		.max_per_client = o->max_per_client ? o->max_per_client : MAX_PER_CLIENT,
		.first_byte_timeout = o->first_byte_timeout ? o->first_byte_timeout :
							      FIRST_BYTE_TIMEOUT,
		.request_timeout = o->request_timeout ? o->request_timeout : REQUEST_TIMEOUT,
	};
	size_t max_conns = o->max_conns ? o->max_conns : MAX_CONNS;
	pthread_mutex_init(&set.clients_lock, NULL);
	SSL_CTX *ssl = NULL;
	int listen_fds[MAX_LISTENERS], www_fd = -1;
	size_t n_listen = 0;
	signal(SIGPIPE, SIG_IGN);
	int r = ssl_ctx_new(o, &ssl, err);
	if (r == 0)
		r = collect_listen_fds(o, listen_fds, &n_listen, err);
	if (r == 0 && o->www_dir) {
		www_fd = open(o->www_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (www_fd < 0)
			r = pve_error_set(err, errno, "open %s: %m", o->www_dir);
	}
	size_t inited = 0;
	for (; r == 0 && inited < n; inited++)
		r = worker_init(&set.w[inited], &set, ssl, www_fd, listen_fds, n_listen,
				o->spice_listen_fd, o->pved_fds[inited],
				max_conns / n ? max_conns / n : 1, err);
	/* Each worker has its copies now. */
	for (size_t i = 0; i < n_listen; i++)
		close(listen_fds[i]);
	if (o->spice_listen_fd >= 0)
		close(o->spice_listen_fd);
	if (r == 0) {
		set.sigterm = evsignal_new(set.w[0].base, SIGTERM, on_sigterm, &set);
		set.sigint = evsignal_new(set.w[0].base, SIGINT, on_sigterm, &set);
		if (!set.sigterm || !set.sigint)
			r = pve_error_set(err, ENOMEM, "libevent setup failed");
	}
	pthread_mutex_init(&set.lock, NULL);
	pthread_cond_init(&set.released_cond, NULL);
	for (size_t i = 1; r == 0 && i < n; i++) {
		int e = pthread_create(&set.w[i].thread, NULL, worker_thread, &set.w[i]);
		if (e) {
			r = pve_error_set(err, e, "starting worker %zu: %s", i, strerror(e));
			break;
		}
		set.w[i].thread_started = true;
	}
	if (r == 0) {
		evsignal_add(set.sigterm, NULL);
		evsignal_add(set.sigint, NULL);
		if (!o->no_sandbox)
			r = pve_front_sandbox(o->chroot_dir, o->user, err);
	}
	/* The threads go on together, into their loops, or out if anything failed. */
	pthread_mutex_lock(&set.lock);
	set.released = true;
	set.go = r == 0;
	pthread_cond_broadcast(&set.released_cond);
	pthread_mutex_unlock(&set.lock);
	if (r == 0) {
		log_info("ready, %zu listeners, %zu workers", n_listen, n);
		worker_run(&set.w[0]);
	}
	/* The first loop ended (drained, or pved went away): the others drain too. */
	for (size_t i = 1; i < n; i++)
		if (set.w[i].thread_started) {
			front_wake(&set.w[i]);
			pthread_join(set.w[i].thread, NULL);
		}
	pthread_cond_destroy(&set.released_cond);
	pthread_mutex_destroy(&set.lock);
	if (set.sigterm)
		event_free(set.sigterm);
	if (set.sigint)
		event_free(set.sigint);
	for (size_t i = 0; i < inited; i++)
		worker_free(&set.w[i]);
	for (size_t i = 0; i < CLIENT_BUCKETS; i++)
		while (set.clients[i]) {
			client_count *next = set.clients[i]->next;
			free(set.clients[i]);
			set.clients[i] = next;
		}
	pthread_mutex_destroy(&set.clients_lock);
	/* A wire whose worker never started is still ours to close. */
	for (size_t i = inited; i < n; i++)
		close(o->pved_fds[i]);
	free(set.w);
	if (www_fd >= 0)
		close(www_fd);
	SSL_CTX_free(ssl);
	return r;
}
