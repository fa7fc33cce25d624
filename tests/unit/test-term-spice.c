/* Tests of term/'s SPICE keyboard: set 1 scancodes (make, break, the 0xe0 prefix) through the
 * terminal to the bytes a console gets, with shift, caps lock, num lock and ctrl state. */
#include "term/term-internal.h"
#include "tests/unit/test.h"

/* A PSF2 font of one blank glyph 8x2: the screen needs one, the bytes typed do not depend on it. */
static term_font *tiny_font(void)
{
	static const uint8_t psf[] = { 0x72, 0xb5, 0x4a, 0x86, 0, 0, 0, 0, 32, 0, 0, 0,
				       0,    0,	   0,	 0,    1, 0, 0, 0, 2,  0, 0, 0,
				       2,    0,	   0,	 0,    8, 0, 0, 0, 0,  0 };
	term_font *f = NULL;
	check_int(term_font_parse(psf, sizeof(psf), &f, NULL), 0);
	return f;
}

/* The bytes a console gets for the scancode bytes codes[0..n). */
static char *typed(const term_font *f, const uint8_t *codes, size_t n)
{
	term_screen *s = term_screen_new(f, 80, 25);
	term_kbd k = { 0 };
	for (size_t i = 0; i < n; i++) {
		bool down = false;
		uint32_t sym = term_kbd_scancode(&k, codes[i], &down);
		if (sym)
			term_screen_key(s, sym, down);
	}
	pve_buf *out = term_screen_output(s);
	char *r = xstrndup(out->data ? out->data : "", out->len);
	term_screen_free(s);
	return r;
}

#define check_scan(f, want, ...)                                                  \
	do {                                                                      \
		static const uint8_t codes_[] = { __VA_ARGS__ };                  \
		_cleanup_free_ char *got_ = typed(f, codes_, ELEMENTSOF(codes_)); \
		check_streq(got_, want);                                          \
	} while (0)

static void test_scancodes(void)
{
	term_font *f = tiny_font();
	if (!f)
		return;
	check_scan(f, "a", 0x1e, 0x9e);
	check_scan(f, "ls\r", 0x26, 0xa6, 0x1f, 0x9f, 0x1c, 0x9c);
	check_scan(f, "A", 0x2a, 0x1e, 0x9e, 0xaa); /* Shift_L + a */
	check_scan(f, "!a", 0x36, 0x02, 0x82, 0xb6, 0x1e, 0x9e); /* Shift_R + 1, released */
	check_scan(f, "Aa", 0x3a, 0xba, 0x1e, 0x9e, 0x3a, 0xba, 0x1e, 0x9e); /* caps lock */
	check_scan(f, "a!", 0x3a, 0xba, 0x2a, 0x1e, 0x9e, 0x02, 0x82, 0xaa); /* caps + shift */
	check_scan(f, "A", 0x3a, 0x3a, 0x3a, 0xba, 0x1e); /* a held caps lock toggles once */
	check_scan(f, "\x03", 0x1d, 0x2e, 0xae, 0x9d); /* Ctrl+C */
	check_scan(f, "\x04", 0xe0, 0x1d, 0x20, 0xa0, 0xe0, 0x9d); /* Control_R + d */
	check_scan(f,
		   "\x1b"
		   "x",
		   0x38, 0x2d, 0xad, 0xb8); /* Alt+x */
	check_scan(f, "\x1b[A\x1b[D", 0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0x4b, 0xe0, 0xcb); /* arrows */
	check_scan(f, "\x1b[A", 0x48, 0xc8); /* keypad 8 without num lock */
	check_scan(f, "8", 0x45, 0xc5, 0x48, 0xc8); /* with it */
	check_scan(f, "\x1b[3~", 0xe0, 0x53); /* Delete */
	check_scan(f, "\n", 0xe0, 0x1c); /* KP_Enter: libvterm sends LF */
	check_scan(f, "/", 0xe0, 0x35); /* KP_Divide */
	check_scan(f,
		   "\x1b"
		   "OP",
		   0x3b); /* F1 */
	check_scan(f, "\x1b[24~", 0x58); /* F12 */
	check_scan(f, "\x7f\t", 0x0e, 0x0f);
	check_scan(f, "x", 0xe1, 0x1d, 0x45, 0x2d); /* Pause, then x */
	check_scan(f, "", 0xe0, 0x2a, 0xe0, 0xaa, 0x9e, 0x7f); /* fake shift, a break, an unknown */
	check_scan(f, "touch /tmp/x\r", 0x14, 0x18, 0x16, 0x2e, 0x23, 0x39, 0x35, 0x14, 0x32, 0x19,
		   0x35, 0x2d, 0x1c);
	term_font_free(f);
}

TEST_MAIN(TEST(test_scancodes))
