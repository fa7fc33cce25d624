/* Tests of term/: the PSF parser on tiny fonts made here, VNC authentication's DES answer against a
 * known vector, keysyms to the bytes a console gets, the RFB message parser's limits and a session over
 * a socketpair (the handshake, a wrong password, an update after output). */
#include <poll.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <vterm_keycodes.h>

#include "term/term-internal.h"
#include "tests/unit/test.h"

/* A PSF2 font of 3 glyphs 8x2 (0: blank, 1: a bar, 2: a dot), with a unicode table when table. */
static size_t make_psf2(uint8_t *out, bool table)
{
	static const uint8_t hdr[32] = { 0x72, 0xb5, 0x4a, 0x86, 0, 0, 0, 0, 32, 0, 0,
					 0,    1,    0,	   0,	 0, 3, 0, 0, 0,	 2, 0,
					 0,    0,    2,	   0,	 0, 0, 8, 0, 0,	 0 };
	size_t n = 0;
	memcpy(out, hdr, sizeof(hdr));
	if (!table)
		out[12] = 0;
	n = sizeof(hdr);
	static const uint8_t glyphs[] = { 0, 0, 0xff, 0xff, 0x80, 0 };
	memcpy(out + n, glyphs, sizeof(glyphs));
	n += sizeof(glyphs);
	if (table) {
		/* glyph 0: ' '; glyph 1: 'A' and U+00C4 (UTF-8), a sequence; glyph 2: U+FFFD */
		static const uint8_t t[] = { ' ', 0xff, 'A',  0xc3, 0x84, 0xfe,
					     'B', 0xff, 0xef, 0xbf, 0xbd, 0xff };
		memcpy(out + n, t, sizeof(t));
		n += sizeof(t);
	}
	return n;
}

static void test_psf2(void)
{
	uint8_t buf[128];
	size_t n = make_psf2(buf, true);
	term_font *f = NULL;
	pve_error *err = NULL;
	check_int(term_font_parse(buf, n, &f, &err), 0);
	check(f && !err);
	if (!f)
		return;
	check_int(term_font_width(f), 8);
	check_int(term_font_height(f), 2);
	check_int(term_font_glyph(f, 'A')[0], 0xff);
	check_int(term_font_glyph(f, 0xc4)[1], 0xff);
	check_int(term_font_glyph(f, ' ')[0], 0);
	/* 'B' only in a sequence, 'Z' nowhere: U+FFFD's glyph */
	check_int(term_font_glyph(f, 'B')[0], 0x80);
	check_int(term_font_glyph(f, 'Z')[0], 0x80);
	term_font_free(f);

	/* without a table, glyph i is code point i; past them, the first glyph */
	n = make_psf2(buf, false);
	check_int(term_font_parse(buf, n, &f, NULL), 0);
	check_int(term_font_glyph(f, 1)[0], 0xff);
	check_int(term_font_glyph(f, 'A')[0], 0);
	term_font_free(f);

	/* cut short: the glyphs, then the table */
	n = make_psf2(buf, true);
	check_int(term_font_parse(buf, 36, &f, &err), -EINVAL);
	check(err && strstr(err->message, "do not fit"));
	pve_error_free(err);
	err = NULL;
	check_int(term_font_parse(buf, n - 1, &f, &err), -EINVAL);
	check(err && strstr(err->message, "ends early"));
	pve_error_free(err);
	err = NULL;
	/* bad UTF-8 in the table, a glyph size that does not match, not a font */
	buf[38 + 3] = 0xc3;
	buf[38 + 4] = 'x';
	check_int(term_font_parse(buf, n, &f, NULL), -EINVAL);
	n = make_psf2(buf, true);
	buf[20] = 3;
	check_int(term_font_parse(buf, n, &f, NULL), -EINVAL);
	check_int(term_font_parse("hello", 5, &f, NULL), -EINVAL);
}

static void test_psf1(void)
{
	size_t cap = 4 + 256 * 4 + 256 * 6;
	_cleanup_free_ uint8_t *b = xcalloc(1, cap);
	b[0] = 0x36, b[1] = 0x04, b[2] = 0x02, b[3] = 4;
	memset(b + 4 + 'x' * 4, 0xff, 4);
	uint8_t *t = b + 4 + 256 * 4;
	for (int g = 0; g < 256; g++) {
		*t++ = (uint8_t)g, *t++ = 0;
		if (g == 'x')
			*t++ = 0x00, *t++ = 0x25;
		*t++ = 0xff, *t++ = 0xff;
	}
	term_font *f = NULL;
	check_int(term_font_parse(b, 4 + 256 * 4 + 3, &f, NULL), -EINVAL); /* the table cut short */
	check_int(term_font_parse(b, (size_t)(t - b), &f, NULL), 0);
	if (!f)
		return;
	check_int(term_font_width(f), 8);
	check_int(term_font_height(f), 4);
	check_int(term_font_glyph(f, 0x2500)[3], 0xff);
	check_int(term_font_glyph(f, 'x')[0], 0xff);
	check_int(term_font_glyph(f, 'y')[0], 0);
	term_font_free(f);
}

static void test_font_file(void)
{
	term_font *f = NULL;
	pve_error *err = NULL;
	check_int(term_font_load("/nonexistent/font.psf.gz", &f, &err), -ENOENT);
	check(err && strstr(err->message, "/nonexistent/font.psf.gz") &&
	      strstr(err->message, TERM_FONT_PACKAGE));
	pve_error_free(err);
	if (access(TERM_FONT_PATH, R_OK) != 0)
		return test_skip("%s is not installed", TERM_FONT_PATH);
	check_int(term_font_load(TERM_FONT_PATH, &f, NULL), 0);
	if (!f)
		return;
	check_int(term_font_width(f), 8);
	check_int(term_font_height(f), 16);
	/* a box-drawing line has pixels, a space none */
	const uint8_t *g = term_font_glyph(f, 0x2500);
	int bits = 0;
	for (int i = 0; i < 16; i++)
		bits |= g[i];
	check(bits != 0);
	g = term_font_glyph(f, ' ');
	bits = 0;
	for (int i = 0; i < 16; i++)
		bits |= g[i];
	check_int(bits, 0);
	term_font_free(f);
}

static void test_des(void)
{
	/* VNC authentication: key "password" bit-reversed is 0e86cece eef64e26; DES of the challenge
	 * 0..15 with it (computed apart: python-cryptography, DES-ECB) */
	uint8_t challenge[16], out[16];
	for (int i = 0; i < 16; i++)
		challenge[i] = (uint8_t)i;
	rfb_des_response("password", challenge, out);
	static const uint8_t want[16] = { 0xb8, 0x66, 0x92, 0x41, 0x25, 0xc8, 0xee, 0xbb,
					  0x9d, 0xeb, 0xc1, 0xdb, 0x61, 0xc5, 0x38, 0xe2 };
	check(memcmp(out, want, 16) == 0);
	/* only the first 8 bytes count; a short password is NUL-padded */
	uint8_t longer[16];
	rfb_des_response("password-and-more", challenge, longer);
	check(memcmp(out, longer, 16) == 0);
	rfb_des_response("pass", challenge, longer);
	check(memcmp(out, longer, 16) != 0);
}

/* The bytes typing keysym (with held modifiers, pressed in order) gives a console. */
static char *typed(const term_font *f, const uint32_t *syms, size_t n)
{
	term_screen *s = term_screen_new(f, 80, 25);
	for (size_t i = 0; i < n; i++)
		term_screen_key(s, syms[i], true);
	for (size_t i = n; i-- > 0;)
		term_screen_key(s, syms[i], false);
	pve_buf *out = term_screen_output(s);
	char *r = xstrndup(out->data ? out->data : "", out->len);
	term_screen_free(s);
	return r;
}

#define check_typed(f, want, ...)                                               \
	do {                                                                    \
		static const uint32_t syms_[] = { __VA_ARGS__ };                \
		_cleanup_free_ char *got_ = typed(f, syms_, ELEMENTSOF(syms_)); \
		check_streq(got_, want);                                        \
	} while (0)

static void test_keysyms(void)
{
	uint8_t buf[128];
	term_font *f = NULL;
	check_int(term_font_parse(buf, make_psf2(buf, true), &f, NULL), 0);
	if (!f)
		return;
	check_typed(f, "a", 'a');
	check_typed(f, "~", '~');
	check_typed(f, "\xc3\xa9", 0xe9); /* Latin-1 keysym: é as UTF-8 */
	check_typed(f, "\xe2\x82\xac", 0x010020ac); /* Unicode keysym: € */
	check_typed(f, "\r", 0xff0d);
	check_typed(f, "\x7f", 0xff08);
	check_typed(f, "\t", 0xff09);
	check_typed(f, "\x1b", 0xff1b);
	check_typed(f, "\x1b[3~", 0xffff);
	check_typed(f, "\x1b[A", 0xff52);
	check_typed(f, "\x1b[B", 0xff54);
	check_typed(f, "\x1b[C", 0xff53);
	check_typed(f, "\x1b[D", 0xff51);
	check_typed(f, "\x1b[H", 0xff50);
	check_typed(f, "\x1b[F", 0xff57);
	check_typed(f, "\x1b[5~", 0xff55);
	check_typed(f, "\x1b[6~", 0xff56);
	check_typed(f, "\x1b[2~", 0xff63);
	check_typed(f, "\x1bOP", 0xffbe); /* F1 */
	check_typed(f, "\x1bOS", 0xffc1); /* F4 */
	check_typed(f, "\x1b[15~", 0xffc2); /* F5 */
	check_typed(f, "\x1b[24~", 0xffc9); /* F12 */
	check_typed(f, "\x03", 0xffe3, 'c'); /* Ctrl+C */
	check_typed(f, "\x03", 0xffe4, 'C');
	check_typed(f, "\r", 0xffe3, 'm'); /* Ctrl+M is CR, not a CSI u */
	check_typed(f, "\x1b", 0xffe3, '[');
	check_typed(f, "\x1b\x01", 0xffe3, 0xffe9, 'a'); /* Ctrl+Alt+A */
	check_typed(f,
		    "\x1b"
		    "x",
		    0xffe9, 'x'); /* Alt+x */
	check_typed(f, "A", 0xffe1, 'A'); /* Shift+A: the keysym is already 'A' */
	check_typed(f, "5", 0xffb5); /* KP_5 */
	check_typed(f, "", 0xffe1); /* a modifier alone */
	check_typed(f, "", 0x0100d800); /* a surrogate */
	check_typed(f, "", 0x12345678); /* nothing known */
	term_font_free(f);
}

static void test_msg_parse(void)
{
	rfb_msg m;
	static const uint8_t key[] = { 4, 1, 0, 0, 0, 0, 0xff, 0x0d };
	check_int(rfb_msg_parse(key, 7, &m), 0);
	check_int(rfb_msg_parse(key, 8, &m), 8);
	check(m.type == RFB_KEY_EVENT && m.key.down && m.key.keysym == 0xff0d);
	static const uint8_t upd[] = { 3, 1, 0, 1, 0, 2, 0, 3, 0, 4 };
	check_int(rfb_msg_parse(upd, sizeof(upd), &m), 10);
	check(m.update.incremental && m.update.x == 1 && m.update.y == 2 && m.update.w == 3 &&
	      m.update.h == 4);
	/* 16 bpp big endian 5-6-5 is drawn; 24 bpp and colour maps are not */
	uint8_t pf[20] = { 0, 0, 0, 0, 16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0 };
	check_int(rfb_msg_parse(pf, 20, &m), 20);
	check(m.pixfmt.bpp == 16 && m.pixfmt.big_endian && m.pixfmt.shift[0] == 11);
	pf[4] = 24;
	check_int(rfb_msg_parse(pf, 20, &m), -EBADMSG);
	pf[4] = 16, pf[7] = 0;
	check_int(rfb_msg_parse(pf, 20, &m), -EBADMSG);
	pf[7] = 1, pf[9] = 30; /* a maximum not 2^n - 1 */
	check_int(rfb_msg_parse(pf, 20, &m), -EBADMSG);
	pf[9] = 31, pf[14] = 12; /* red past 16 bits */
	check_int(rfb_msg_parse(pf, 20, &m), -EBADMSG);
	/* limits: encodings, cut text; unknown types */
	static const uint8_t enc[] = { 2, 0, 0x04, 0x01 };
	check_int(rfb_msg_parse(enc, 4, &m), -EMSGSIZE);
	static const uint8_t cut[] = { 6, 0, 0, 0, 0x00, 0x01, 0x00, 0x01 };
	check_int(rfb_msg_parse(cut, 8, &m), -EMSGSIZE);
	static const uint8_t neg[] = { 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0 };
	check_int(rfb_msg_parse(neg, 8, &m), -EMSGSIZE);
	static const uint8_t cut2[] = { 6, 0, 0, 0, 0, 0, 0, 2, 'h', 'i' };
	check_int(rfb_msg_parse(cut2, 9, &m), 0);
	check_int(rfb_msg_parse(cut2, 10, &m), 10);
	check(m.cut.len == 2 && m.cut.text == cut2 + 8);
	static const uint8_t bad[] = { 7 };
	check_int(rfb_msg_parse(bad, 1, &m), -EBADMSG);
	check_int(rfb_msg_parse(bad, 0, &m), 0);
}

static void test_pixels(void)
{
	uint32_t px[2] = { 0xff8000, 0x0000ff };
	uint8_t out[8];
	rfb_pixfmt le32 = { 32, 24, false, true, { 255, 255, 255 }, { 16, 8, 0 } };
	rfb_pixels_convert(&le32, px, 2, out);
	check(out[0] == 0x00 && out[1] == 0x80 && out[2] == 0xff && out[3] == 0 && out[4] == 0xff);
	rfb_pixfmt be16 = { 16, 16, true, true, { 31, 63, 31 }, { 11, 5, 0 } };
	rfb_pixels_convert(&be16, px, 2, out);
	check(out[0] == 0xfc && out[1] == 0x00 && out[2] == 0x00 && out[3] == 0x1f);
	rfb_pixfmt bgr8 = { 8, 8, false, true, { 7, 7, 3 }, { 0, 3, 6 } };
	rfb_pixels_convert(&bgr8, px, 2, out);
	check(out[0] == (7 | 4 << 3) && out[1] == 3 << 6);
}

/* ---- a session over a socketpair ---- */

typedef struct peer {
	int fd, console;
	const char *password;
	const term_font *font;
	int r;
} peer;

static int read_n(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0)
			return -ETIMEDOUT;
		ssize_t k = read(fd, (uint8_t *)buf + got, n - got);
		if (k <= 0)
			return -EIO;
		got += (size_t)k;
	}
	return 0;
}

static pid_t serve(int fd, int console, const char *password, const term_font *f)
{
	pid_t pid = fork();
	if (pid == 0) {
		term_vnc_opts o = { .password = password, .title = "CT 100 console", .font = f };
		_exit(term_vnc_serve(fd, console, &o, NULL) < 0 ? 1 : 0);
	}
	return pid;
}

static int handshake(int c, const char *password, uint16_t *w, uint16_t *h)
{
	uint8_t b[64];
	if (read_n(c, b, 12) < 0 || memcmp(b, "RFB 003.008\n", 12) != 0)
		return -1;
	pve_write_all(c, "RFB 003.008\n", 12);
	if (read_n(c, b, 2) < 0 || b[0] != 1 || b[1] != 2)
		return -1;
	pve_write_all(c, "\x02", 1);
	uint8_t challenge[16], resp[16];
	if (read_n(c, challenge, 16) < 0)
		return -1;
	rfb_des_response(password, challenge, resp);
	pve_write_all(c, resp, 16);
	if (read_n(c, b, 4) < 0)
		return -1;
	if (b[3] != 0)
		return 1;
	pve_write_all(c, "\x01", 1);
	if (read_n(c, b, 24) < 0)
		return -1;
	*w = (uint16_t)(b[0] << 8 | b[1]);
	*h = (uint16_t)(b[2] << 8 | b[3]);
	uint32_t nlen = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | b[22] << 8 | b[23];
	if (nlen != 14 || read_n(c, b, nlen) < 0 || memcmp(b, "CT 100 console", 14) != 0)
		return -1;
	return 0;
}

static void test_session(void)
{
	if (access(TERM_FONT_PATH, R_OK) != 0)
		return test_skip("%s is not installed", TERM_FONT_PATH);
	term_font *f = NULL;
	check_int(term_font_load(TERM_FONT_PATH, &f, NULL), 0);
	int cl[2], co[2];
	check_int(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cl), 0);
	check_int(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, co), 0);
	pid_t pid = serve(cl[1], co[1], "secret-ticket", f);
	close(cl[1]);
	close(co[1]);
	uint16_t w = 0, h = 0;
	check_int(handshake(cl[0], "secret-t", &w, &h), 0);
	check_int(w, 640);
	check_int(h, 400);
	/* a full update: one raw rectangle of the whole screen, all background */
	uint8_t req[10] = { 3, 0, 0, 0, 0, 0, 640 >> 8, 640 & 0xff, 400 >> 8, 400 & 0xff };
	pve_write_all(cl[0], req, 10);
	uint8_t hdr[16];
	check_int(read_n(cl[0], hdr, 16), 0);
	check(hdr[0] == 0 && hdr[3] == 1 && hdr[8] == 640 >> 8 && hdr[11] == (400 & 0xff));
	size_t n = (size_t)640 * 400 * 4;
	_cleanup_free_ uint8_t *px = xmalloc(n);
	check_int(read_n(cl[0], px, n), 0);
	/* keys go to the console */
	uint8_t key[8] = { 4, 1, 0, 0, 0, 0, 0, 'l' };
	pve_write_all(cl[0], key, 8);
	char typed_c;
	check_int(read_n(co[0], &typed_c, 1), 0);
	check_int(typed_c, 'l');
	/* output: an incremental update with pixels that are not the background */
	req[1] = 1;
	pve_write_all(cl[0], req, 10);
	pve_write_all(co[0], "\x1b[2;3HXX", 8);
	check_int(read_n(cl[0], hdr, 16), 0);
	unsigned rw = (unsigned)(hdr[8] << 8 | hdr[9]), rh = (unsigned)(hdr[10] << 8 | hdr[11]);
	check(rw > 0 && rh > 0 && rw * rh * 4 <= n);
	check_int(read_n(cl[0], px, (size_t)rw * rh * 4), 0);
	bool lit = false;
	for (size_t i = 0; i < (size_t)rw * rh; i++)
		lit |= px[i * 4] != 0 || px[i * 4 + 1] != 0 || px[i * 4 + 2] != 0;
	check(lit);
	/* a malformed message ends the session with an error */
	pve_write_all(cl[0], "\x63", 1);
	int status = 0;
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	close(cl[0]);
	close(co[0]);

	/* a wrong password: refused with the reason */
	check_int(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cl), 0);
	check_int(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, co), 0);
	pid = serve(cl[1], co[1], "secret-ticket", f);
	close(cl[1]);
	close(co[1]);
	check_int(handshake(cl[0], "wrong", &w, &h), 1);
	uint8_t reason[25];
	check_int(read_n(cl[0], reason, 25), 0);
	check(memcmp(reason + 4, "Authentication failed", 21) == 0);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	close(cl[0]);
	close(co[0]);
	term_font_free(f);
}

TEST_MAIN(TEST(test_psf2), TEST(test_psf1), TEST(test_font_file), TEST(test_des),
	  TEST(test_keysyms), TEST(test_msg_parse), TEST(test_pixels), TEST(test_session))
