/* Inside term/: the RFB client messages, VNC authentication, keysyms and the screen, apart from the
 * session's sockets so that unit tests and a fuzz target reach them. */
#pragma once

#include "term/term.h"

/* ---- RFB client messages (term/rfb.c) ---- */

/* Limits on what a client's message may say: more ends the session. */
#define RFB_ENCODINGS_MAX 1024
#define RFB_CUT_TEXT_MAX (64 * 1024)
/* The largest message there is: a ClientCutText at its limit. */
#define RFB_MSG_MAX (8 + RFB_CUT_TEXT_MAX)

enum {
	RFB_SET_PIXEL_FORMAT = 0,
	RFB_SET_ENCODINGS = 2,
	RFB_UPDATE_REQUEST = 3,
	RFB_KEY_EVENT = 4,
	RFB_POINTER_EVENT = 5,
	RFB_CLIENT_CUT_TEXT = 6,
};

typedef struct rfb_pixfmt {
	uint8_t bpp, depth;
	bool big_endian, true_colour;
	uint16_t max[3]; /* red, green, blue */
	uint8_t shift[3];
} rfb_pixfmt;

typedef struct rfb_msg {
	uint8_t type;
	union {
		rfb_pixfmt pixfmt; /* SetPixelFormat */
		struct {
			uint16_t n; /* the encodings are not kept: only Raw is sent */
		} encodings;
		struct {
			bool incremental;
			uint16_t x, y, w, h;
		} update;
		struct {
			bool down;
			uint32_t keysym;
		} key;
		struct {
			uint8_t buttons;
			uint16_t x, y;
		} pointer;
		struct {
			const uint8_t *text; /* points into the buffer parsed: Latin-1 */
			uint32_t len;
		} cut;
	};
} rfb_msg;

/* The message at the start of buf[0..len): the bytes it takes (> 0) with ret filled, 0 when it is not
 * complete yet, -EBADMSG when malformed (an unknown type, a pixel format not drawn) and -EMSGSIZE past
 * a limit. */
ssize_t rfb_msg_parse(const uint8_t *buf, size_t len, rfb_msg *ret);
/* A pixel format the server can draw in: true colour of 8, 16 or 32 bits. */
bool rfb_pixfmt_valid(const rfb_pixfmt *p);
/* The 16 bytes ServerInit and SetPixelFormat carry. */
void rfb_pixfmt_write(const rfb_pixfmt *p, uint8_t out[16]);
/* Writes n pixels (0xRRGGBB) in the client's format: n * bpp / 8 bytes. */
void rfb_pixels_convert(const rfb_pixfmt *p, const uint32_t *px, size_t n, uint8_t *out);

/* VNC authentication's answer to challenge: DES with the password's first 8 bytes (NUL-padded), each
 * byte's bits reversed, on both halves. */
void rfb_des_response(const char *password, const uint8_t challenge[16], uint8_t ret[16]);

/* ---- keysyms (term/screen.c) ---- */

typedef enum {
	KEYSYM_NONE, /* nothing to type: a modifier, an unknown key, a key release */
	KEYSYM_CHAR, /* a code point */
	KEYSYM_KEY, /* a VTermKey */
	KEYSYM_MODIFIER, /* a VTermModifier bit */
} keysym_kind;

/* What an X keysym is to the terminal: its kind and value. */
keysym_kind term_keysym_map(uint32_t keysym, uint32_t *ret_value);

/* ---- the screen: libvterm and a frame buffer (term/screen.c) ---- */

typedef struct term_screen term_screen;

typedef struct term_rect {
	unsigned x, y, w, h; /* pixels */
} term_rect;

term_screen *term_screen_new(const term_font *font, unsigned cols, unsigned rows);
void term_screen_free(term_screen *s);
void term_screen_size(const term_screen *s, unsigned *ret_width, unsigned *ret_height);
/* The console's output. */
void term_screen_feed(term_screen *s, const char *data, size_t len);
/* A key pressed or released; what it types is appended to the output. */
void term_screen_key(term_screen *s, uint32_t keysym, bool down);
/* Latin-1 text typed in as keys (a client's clipboard): a line end is Return. */
void term_screen_type(term_screen *s, const uint8_t *text, size_t n);
/* What is to go to the console: typed keys, libvterm's answers to the console's queries. The caller
 * empties it. */
pve_buf *term_screen_output(term_screen *s);
/* That output written to the console fd and emptied; an error names the console. */
int term_screen_flush(term_screen *s, int console, pve_error **err);
/* Draws what changed and answers its bounding box (false when nothing did), then forgets it. */
bool term_screen_take_damage(term_screen *s, term_rect *ret);
/* Everything drawn as it is now. */
void term_screen_redraw(term_screen *s);
/* The frame buffer: width * height pixels 0xRRGGBB, row after row. */
const uint32_t *term_screen_pixels(const term_screen *s);

/* ---- PC scancodes (term/scancode.c) ---- */

/* What the keyboard's bytes have said so far. */
typedef struct term_kbd {
	bool e0; /* the last byte was the 0xe0 prefix */
	uint8_t skip; /* bytes of a Pause sequence still to come */
	bool shift_l, shift_r, caps, numlock;
	bool locks_held[2]; /* Caps Lock, Num Lock: a held key repeats its make code */
} term_kbd;

/* One byte of a set 1 scancode (a make code, or a break code with 0x80 set, after 0xe0 for the
 * extended keys): the X keysym of the key (US layout, shift and caps lock applied) with *ret_down,
 * or 0 when the byte types nothing (a prefix, a lock key, a key without a keysym). */
uint32_t term_kbd_scancode(term_kbd *k, uint8_t byte, bool *ret_down);
