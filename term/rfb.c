/* RFB (RFC 6143) as the server reads it: the client's messages, parsed at the edge into rfb_msg with
 * a limit on every length; the client's pixel format; VNC authentication's DES answer. */
#include <nettle/des.h>

#include "term/term-internal.h"

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool rfb_pixfmt_valid(const rfb_pixfmt *p)
{
	if (!p->true_colour || (p->bpp != 8 && p->bpp != 16 && p->bpp != 32))
		return false;
	for (int i = 0; i < 3; i++) {
		/* a channel's maximum is 2^n - 1 and fits the pixel at its shift */
		uint32_t m = p->max[i];
		if (m == 0 || (m & (m + 1)) != 0 || p->shift[i] >= p->bpp ||
		    ((uint64_t)m << p->shift[i]) >> p->bpp != 0)
			return false;
	}
	return true;
}

static void pixfmt_read(const uint8_t *b, rfb_pixfmt *p)
{
	*p = (rfb_pixfmt){
		.bpp = b[0],
		.depth = b[1],
		.big_endian = b[2] != 0,
		.true_colour = b[3] != 0,
		.max = { be16(b + 4), be16(b + 6), be16(b + 8) },
		.shift = { b[10], b[11], b[12] },
	};
}

void rfb_pixfmt_write(const rfb_pixfmt *p, uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = p->bpp;
	out[1] = p->depth;
	out[2] = p->big_endian;
	out[3] = p->true_colour;
	for (int i = 0; i < 3; i++) {
		out[4 + 2 * i] = (uint8_t)(p->max[i] >> 8);
		out[5 + 2 * i] = (uint8_t)p->max[i];
		out[10 + i] = p->shift[i];
	}
}

void rfb_pixels_convert(const rfb_pixfmt *p, const uint32_t *px, size_t n, uint8_t *out)
{
	size_t bytes = p->bpp / 8;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = px[i], v = 0;
		for (int k = 0; k < 3; k++) {
			uint32_t ch = (c >> (16 - 8 * k)) & 0xff;
			v |= (ch * p->max[k] + 127) / 255 << p->shift[k];
		}
		for (size_t j = 0; j < bytes; j++) {
			size_t at = p->big_endian ? bytes - 1 - j : j;
			out[i * bytes + at] = (uint8_t)(v >> (8 * j));
		}
	}
}

ssize_t rfb_msg_parse(const uint8_t *buf, size_t len, rfb_msg *ret)
{
	if (len == 0)
		return 0;
	rfb_msg m = { .type = buf[0] };
	size_t need;
	switch (buf[0]) {
	case RFB_SET_PIXEL_FORMAT:
		if (len < 20)
			return 0;
		pixfmt_read(buf + 4, &m.pixfmt);
		if (!rfb_pixfmt_valid(&m.pixfmt))
			return -EBADMSG;
		need = 20;
		break;
	case RFB_SET_ENCODINGS:
		if (len < 4)
			return 0;
		m.encodings.n = be16(buf + 2);
		if (m.encodings.n > RFB_ENCODINGS_MAX)
			return -EMSGSIZE;
		need = 4 + 4 * (size_t)m.encodings.n;
		break;
	case RFB_UPDATE_REQUEST:
		if (len < 10)
			return 0;
		m.update.incremental = buf[1] != 0;
		m.update.x = be16(buf + 2);
		m.update.y = be16(buf + 4);
		m.update.w = be16(buf + 6);
		m.update.h = be16(buf + 8);
		need = 10;
		break;
	case RFB_KEY_EVENT:
		if (len < 8)
			return 0;
		m.key.down = buf[1] != 0;
		m.key.keysym = be32(buf + 4);
		need = 8;
		break;
	case RFB_POINTER_EVENT:
		if (len < 6)
			return 0;
		m.pointer.buttons = buf[1];
		m.pointer.x = be16(buf + 2);
		m.pointer.y = be16(buf + 4);
		need = 6;
		break;
	case RFB_CLIENT_CUT_TEXT:
		if (len < 8)
			return 0;
		/* (a negative length is the extended clipboard, which we never offered) */
		m.cut.len = be32(buf + 4);
		if (m.cut.len > RFB_CUT_TEXT_MAX)
			return -EMSGSIZE;
		m.cut.text = buf + 8;
		need = 8 + (size_t)m.cut.len;
		break;
	default:
		return -EBADMSG;
	}
	if (len < need)
		return 0;
	*ret = m;
	return (ssize_t)need;
}

static uint8_t reverse_bits(uint8_t b)
{
	uint8_t r = 0;
	for (int i = 0; i < 8; i++)
		if (b & (1u << i))
			r |= (uint8_t)(0x80u >> i);
	return r;
}

void rfb_des_response(const char *password, const uint8_t challenge[16], uint8_t ret[16])
{
	uint8_t key[DES_KEY_SIZE] = { 0 };
	for (size_t i = 0; i < DES_KEY_SIZE && password[i]; i++)
		key[i] = reverse_bits((uint8_t)password[i]);
	struct des_ctx ctx;
	/* nettle ignores the parity bits and says 0 for a weak key, whose schedule it sets all the same:
	 * VNC's key is whatever the password is. */
	(void)des_set_key(&ctx, key);
	des_encrypt(&ctx, 16, ret, challenge);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(&ctx, sizeof(ctx));
}
