/* Fuzzes the RFB client message parser (term/rfb.c) as a VNC session feeds it: the input in two
 * pieces split at the first byte, parsed as far as complete messages go, the rest kept for the next
 * read; each message is applied to a terminal (keys typed, cut text pasted, pixels converted in the
 * format asked for). Every message must lie inside the buffer and within its limits, and parsing the
 * whole input at once must give the same messages as in pieces. */
#include "term/term-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A font of one blank 8x1 glyph: the screen needs one, and drawing is not what is fuzzed. */
static const uint8_t font_data[] = { 0x72, 0xb5, 0x4a, 0x86, 0, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 1,
				     0,	   0,	 0,    1,    0, 0, 0, 1, 0,  0, 0, 8, 0, 0, 0, 0 };

static void apply(term_screen *s, const rfb_msg *m)
{
	static const uint32_t px[4] = { 0xffffff, 0, 0x123456, 0xfedcba };
	uint8_t out[16];
	switch (m->type) {
	case RFB_SET_PIXEL_FORMAT:
		if (!rfb_pixfmt_valid(&m->pixfmt))
			abort();
		rfb_pixels_convert(&m->pixfmt, px, 4, out);
		break;
	case RFB_KEY_EVENT:
		term_screen_key(s, m->key.keysym, m->key.down);
		break;
	case RFB_CLIENT_CUT_TEXT:
		if (m->cut.len > RFB_CUT_TEXT_MAX)
			abort();
		term_screen_type(s, m->cut.text, m->cut.len);
		break;
	case RFB_SET_ENCODINGS:
		if (m->encodings.n > RFB_ENCODINGS_MAX)
			abort();
		break;
	}
}

static bool parse_all(term_screen *s, const uint8_t *buf, size_t len, size_t *ret_used,
		      uint64_t *digest)
{
	size_t off = 0;
	while (off < len) {
		rfb_msg m;
		ssize_t n = rfb_msg_parse(buf + off, len - off, &m);
		if (n < 0) {
			*ret_used = off;
			return false;
		}
		if (n == 0)
			break;
		if ((size_t)n > len - off || (size_t)n > RFB_MSG_MAX)
			abort();
		if (m.type == RFB_CLIENT_CUT_TEXT) {
			if (m.cut.text != buf + off + 8 || 8 + (size_t)m.cut.len != (size_t)n)
				abort();
			for (size_t i = 0; i < m.cut.len; i++)
				*digest = *digest * 31 + m.cut.text[i];
		}
		apply(s, &m);
		*digest = *digest * 131 + m.type * 7 + (uint64_t)n;
		off += (size_t)n;
	}
	*ret_used = off;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4 * RFB_MSG_MAX)
		return 0;
	static term_font *font;
	if (!font && term_font_parse(font_data, sizeof(font_data), &font, NULL) < 0)
		abort();
	size_t split = data[0] % size;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	if (split > len)
		split = len;

	term_screen *s = term_screen_new(font, 20, 4);
	uint64_t whole = 0, pieces = 0;
	size_t used_whole, used;
	bool ok_whole = parse_all(s, in, len, &used_whole, &whole);

	/* in pieces, each in a buffer of its own so that ASan sees a read past one */
	_cleanup_free_ uint8_t *first = xmalloc(split ? split : 1);
	memcpy(first, in, split);
	bool ok = parse_all(s, first, split, &used, &pieces);
	if (ok) {
		size_t rest = len - used;
		_cleanup_free_ uint8_t *second = xmalloc(rest ? rest : 1);
		memcpy(second, in + used, rest);
		size_t used2;
		ok = parse_all(s, second, rest, &used2, &pieces);
		used += used2;
	}
	if (ok != ok_whole || (ok && (used != used_whole || pieces != whole)))
		abort();
	term_rect r;
	(void)term_screen_take_damage(s, &r);
	term_screen_free(s);
	return 0;
}
