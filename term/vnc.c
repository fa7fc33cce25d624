/* One VNC session: the RFB handshake as QEMU's VNC server does it for pved's VM consoles (3.8, 3.7
 * and 3.3 clients, VNC authentication with the ticket), then a poll loop between the client and the
 * console until either closes. */
#include <poll.h>
#include <vterm.h>

#include "term/term-internal.h"

/* The client has this long for each step of the handshake. */
#define HANDSHAKE_TIMEOUT_MS 10000
#define CONSOLE_CHUNK 4096

typedef struct session {
	int fd, console;
	term_screen *screen;
	rfb_pixfmt pixfmt;
	unsigned width, height;
	/* an update the client asked for and has not had: a full one, or the next damage */
	bool want, want_full;
	term_rect region;
	uint8_t in[RFB_MSG_MAX];
	size_t in_len;
} session;

static const rfb_pixfmt server_pixfmt = {
	.bpp = 32,
	.depth = 24,
	.big_endian = false,
	.true_colour = true,
	.max = { 255, 255, 255 },
	.shift = { 16, 8, 0 },
};

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* Exactly len bytes within the handshake's timeout. */
static int read_exact(int fd, void *buf, size_t len, const char *what, pve_error **err)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, HANDSHAKE_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return pve_error_set(err, ETIMEDOUT, "VNC client sent no %s within %d s",
					     what, HANDSHAKE_TIMEOUT_MS / 1000);
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pve_error_set(err, ECONNRESET, "VNC client left before its %s",
					     what);
		got += (size_t)n;
	}
	return 0;
}

static int send_all(int fd, const void *data, size_t len, pve_error **err)
{
	int r = pve_write_all(fd, data, len);
	if (r < 0)
		return pve_error_set(err, -r, "can't write to the VNC client: %s", strerror(-r));
	return 0;
}

static int handshake(session *s, const term_vnc_opts *o, pve_error **err)
{
	int r;
	if ((r = send_all(s->fd, "RFB 003.008\n", 12, err)) < 0)
		return r;
	char version[13] = { 0 };
	if ((r = read_exact(s->fd, version, 12, "protocol version", err)) < 0)
		return r;
	int minor;
	if (streq(version, "RFB 003.008\n"))
		minor = 8;
	else if (streq(version, "RFB 003.007\n"))
		minor = 7;
	else if (streq(version, "RFB 003.003\n"))
		minor = 3;
	else
		return pve_error_set(err, EPROTO, "VNC client speaks an unknown protocol version");

	/* VNC authentication (type 2), the only type offered */
	if (minor == 3) {
		uint8_t t[4];
		put32(t, 2);
		if ((r = send_all(s->fd, t, 4, err)) < 0)
			return r;
	} else {
		uint8_t types[2] = { 1, 2 }, chosen;
		if ((r = send_all(s->fd, types, 2, err)) < 0 ||
		    (r = read_exact(s->fd, &chosen, 1, "security type", err)) < 0)
			return r;
		if (chosen != 2)
			return pve_error_set(err, EPROTO, "VNC client chose security type %u",
					     chosen);
	}
	uint8_t challenge[16], response[16], expect[16];
	if ((r = pve_random_bytes(challenge, sizeof(challenge), err)) < 0)
		return r;
	if ((r = send_all(s->fd, challenge, 16, err)) < 0 ||
	    (r = read_exact(s->fd, response, 16, "authentication", err)) < 0)
		return r;
	rfb_des_response(o->password, challenge, expect);
	uint8_t diff = 0;
	for (size_t i = 0; i < 16; i++)
		diff |= response[i] ^ expect[i];
	if (diff != 0) {
		static const char reason[] = "Authentication failed";
		uint8_t res[8 + sizeof(reason) - 1];
		put32(res, 1);
		put32(res + 4, sizeof(reason) - 1);
		memcpy(res + 8, reason, sizeof(reason) - 1);
		/* 3.3 and 3.7 clients get no reason */
		(void)pve_write_all(s->fd, res, minor == 8 ? sizeof(res) : 4);
		return pve_error_set(err, EACCES, "VNC authentication failed");
	}
	uint8_t ok[4] = { 0 };
	if ((r = send_all(s->fd, ok, 4, err)) < 0)
		return r;

	uint8_t shared;
	if ((r = read_exact(s->fd, &shared, 1, "ClientInit", err)) < 0)
		return r;
	size_t nlen = strlen(o->title);
	_cleanup_free_ uint8_t *init = xmalloc(24 + nlen);
	put16(init, s->width);
	put16(init + 2, s->height);
	rfb_pixfmt_write(&s->pixfmt, init + 4);
	put32(init + 20, (uint32_t)nlen);
	memcpy(init + 24, o->title, nlen);
	return send_all(s->fd, init, 24 + nlen, err);
}

/* One rectangle, Raw, of the frame buffer, clipped to the region the client asked for. */
static int send_update(session *s, term_rect r, pve_error **err)
{
	term_rect q = s->region;
	unsigned x0 = r.x > q.x ? r.x : q.x, y0 = r.y > q.y ? r.y : q.y;
	unsigned x1 = r.x + r.w < q.x + q.w ? r.x + r.w : q.x + q.w;
	unsigned y1 = r.y + r.h < q.y + q.h ? r.y + r.h : q.y + q.h;
	uint16_t n = x0 < x1 && y0 < y1;
	size_t bpp = s->pixfmt.bpp / 8, row = n ? (size_t)(x1 - x0) * bpp : 0;
	size_t len = 4 + (n ? 12 + row * (y1 - y0) : 0);
	_cleanup_free_ uint8_t *msg = xmalloc(len);
	msg[0] = 0; /* FramebufferUpdate */
	msg[1] = 0;
	put16(msg + 2, n);
	if (n) {
		put16(msg + 4, x0);
		put16(msg + 6, y0);
		put16(msg + 8, x1 - x0);
		put16(msg + 10, y1 - y0);
		put32(msg + 12, 0); /* Raw */
		const uint32_t *fb = term_screen_pixels(s->screen);
		for (unsigned y = y0; y < y1; y++)
			rfb_pixels_convert(&s->pixfmt, fb + (size_t)y * s->width + x0, x1 - x0,
					   msg + 16 + (y - y0) * row);
	}
	s->want = s->want_full = false;
	return send_all(s->fd, msg, len, err);
}

/* Answers the pending request when there is something to send. */
static int flush_update(session *s, pve_error **err)
{
	if (!s->want)
		return 0;
	term_rect r;
	bool damaged = term_screen_take_damage(s->screen, &r);
	if (s->want_full)
		r = (term_rect){ 0, 0, s->width, s->height };
	else if (!damaged)
		return 0;
	return send_update(s, r, err);
}

static void handle_msg(session *s, const rfb_msg *m)
{
	switch (m->type) {
	case RFB_SET_PIXEL_FORMAT:
		s->pixfmt = m->pixfmt;
		break;
	case RFB_UPDATE_REQUEST:
		s->want = true;
		s->region = (term_rect){ m->update.x, m->update.y, m->update.w, m->update.h };
		if (!m->update.incremental) {
			/* drawn as it is now, damage and all */
			term_rect ignored;
			(void)term_screen_take_damage(s->screen, &ignored);
			s->want_full = true;
		}
		break;
	case RFB_KEY_EVENT:
		term_screen_key(s->screen, m->key.keysym, m->key.down);
		break;
	case RFB_CLIENT_CUT_TEXT:
		term_screen_type(s->screen, m->cut.text, m->cut.len);
		break;
	default: /* SetEncodings: Raw is always sent; PointerEvent: no mouse */
		break;
	}
}

static int read_client(session *s, pve_error **err)
{
	ssize_t n = read(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	s->in_len += (size_t)n;
	size_t off = 0;
	while (off < s->in_len) {
		rfb_msg m;
		ssize_t k = rfb_msg_parse(s->in + off, s->in_len - off, &m);
		if (k == -EMSGSIZE)
			return pve_error_set(err, EMSGSIZE,
					     "VNC client message of type %u is past its limit",
					     s->in[off]);
		if (k < 0)
			return pve_error_set(err, EBADMSG, "malformed VNC client message (type %u)",
					     s->in[off]);
		if (k == 0)
			break;
		handle_msg(s, &m);
		off += (size_t)k;
	}
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
	return 1;
}

int term_vnc_serve(int fd, int console, const term_vnc_opts *o, pve_error **err)
{
	_cleanup_free_ session *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->console = console;
	s->pixfmt = server_pixfmt;
	s->screen = term_screen_new(o->font, TERM_COLS, TERM_ROWS);
	term_screen_size(s->screen, &s->width, &s->height);
	int r = handshake(s, o, err);
	while (r >= 0) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = console, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = pve_error_set(err, errno, "poll: %m");
			break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[CONSOLE_CHUNK];
			ssize_t n = read(console, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* the console closed */
			term_screen_feed(s->screen, buf, (size_t)n);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read_client(s, err);
			if (r <= 0)
				break; /* 0: the client left */
		}
		if ((r = term_screen_flush(s->screen, s->console, err)) < 0 ||
		    (r = flush_update(s, err)) < 0)
			break;
	}
	term_screen_free(s->screen);
	return r < 0 ? r : 0;
}
