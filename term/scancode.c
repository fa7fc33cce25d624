/* PC keyboard scancodes (set 1, what a SPICE client sends) turned into the X keysyms the terminal
 * types, for a US layout: the shift, caps and num lock states kept between the bytes. */
#include "term/term-internal.h"

/* Set 1 make codes 0x00..0x58 without a prefix: the keysym unshifted and shifted (0: none). */
static const uint16_t plain[0x59][2] = {
	[0x01] = { 0xff1b, 0xff1b }, /* Escape */
	[0x02] = { '1', '!' },	     [0x03] = { '2', '@' },
	[0x04] = { '3', '#' },	     [0x05] = { '4', '$' },
	[0x06] = { '5', '%' },	     [0x07] = { '6', '^' },
	[0x08] = { '7', '&' },	     [0x09] = { '8', '*' },
	[0x0a] = { '9', '(' },	     [0x0b] = { '0', ')' },
	[0x0c] = { '-', '_' },	     [0x0d] = { '=', '+' },
	[0x0e] = { 0xff08, 0xff08 }, /* BackSpace */
	[0x0f] = { 0xff09, 0xfe20 }, /* Tab, ISO_Left_Tab */
	[0x10] = { 'q', 'Q' },	     [0x11] = { 'w', 'W' },
	[0x12] = { 'e', 'E' },	     [0x13] = { 'r', 'R' },
	[0x14] = { 't', 'T' },	     [0x15] = { 'y', 'Y' },
	[0x16] = { 'u', 'U' },	     [0x17] = { 'i', 'I' },
	[0x18] = { 'o', 'O' },	     [0x19] = { 'p', 'P' },
	[0x1a] = { '[', '{' },	     [0x1b] = { ']', '}' },
	[0x1c] = { 0xff0d, 0xff0d }, /* Return */
	[0x1d] = { 0xffe3, 0xffe3 }, /* Control_L */
	[0x1e] = { 'a', 'A' },	     [0x1f] = { 's', 'S' },
	[0x20] = { 'd', 'D' },	     [0x21] = { 'f', 'F' },
	[0x22] = { 'g', 'G' },	     [0x23] = { 'h', 'H' },
	[0x24] = { 'j', 'J' },	     [0x25] = { 'k', 'K' },
	[0x26] = { 'l', 'L' },	     [0x27] = { ';', ':' },
	[0x28] = { '\'', '"' },	     [0x29] = { '`', '~' },
	[0x2a] = { 0xffe1, 0xffe1 }, /* Shift_L */
	[0x2b] = { '\\', '|' },	     [0x2c] = { 'z', 'Z' },
	[0x2d] = { 'x', 'X' },	     [0x2e] = { 'c', 'C' },
	[0x2f] = { 'v', 'V' },	     [0x30] = { 'b', 'B' },
	[0x31] = { 'n', 'N' },	     [0x32] = { 'm', 'M' },
	[0x33] = { ',', '<' },	     [0x34] = { '.', '>' },
	[0x35] = { '/', '?' },	     [0x36] = { 0xffe2, 0xffe2 }, /* Shift_R */
	[0x37] = { 0xffaa, 0xffaa }, /* KP_Multiply */
	[0x38] = { 0xffe9, 0xffe9 }, /* Alt_L */
	[0x39] = { ' ', ' ' },	     [0x3b] = { 0xffbe, 0xffbe }, /* F1 .. F10 */
	[0x3c] = { 0xffbf, 0xffbf }, [0x3d] = { 0xffc0, 0xffc0 },
	[0x3e] = { 0xffc1, 0xffc1 }, [0x3f] = { 0xffc2, 0xffc2 },
	[0x40] = { 0xffc3, 0xffc3 }, [0x41] = { 0xffc4, 0xffc4 },
	[0x42] = { 0xffc5, 0xffc5 }, [0x43] = { 0xffc6, 0xffc6 },
	[0x44] = { 0xffc7, 0xffc7 }, [0x4a] = { 0xffad, 0xffad }, /* KP_Subtract */
	[0x4e] = { 0xffab, 0xffab }, /* KP_Add */
	[0x56] = { '<', '>' }, /* the 102nd key */
	[0x57] = { 0xffc8, 0xffc8 }, /* F11, F12 */
	[0x58] = { 0xffc9, 0xffc9 },
};

/* The keypad's 7..9, 4..6, 1..3, 0 and '.' (0x47..0x53, but for 0x4a and 0x4e): its digit with num
 * lock on, its cursor key otherwise; with the 0xe0 prefix the cursor block, whose codes are these. */
static const uint16_t keypad[0x53 - 0x47 + 1][2] = {
	{ '7', 0xff50 }, { '8', 0xff52 }, { '9', 0xff55 }, { 0, 0 },	    { '4', 0xff51 },
	{ '5', 0 },	 { '6', 0xff53 }, { 0, 0 },	   { '1', 0xff57 }, { '2', 0xff54 },
	{ '3', 0xff56 }, { '0', 0xff63 }, { '.', 0xffff },
};

static uint32_t extended(uint8_t code)
{
	switch (code) {
	case 0x1c:
		return 0xff8d; /* KP_Enter */
	case 0x1d:
		return 0xffe4; /* Control_R */
	case 0x35:
		return 0xffaf; /* KP_Divide */
	case 0x38:
		return 0xffea; /* Alt_R */
	}
	if (code >= 0x47 && code <= 0x53)
		return keypad[code - 0x47][1];
	return 0; /* 0x2a/0x36 around some keys: fake shifts, the Windows keys, ... */
}

uint32_t term_kbd_scancode(term_kbd *k, uint8_t byte, bool *ret_down)
{
	if (k->skip > 0) { /* Pause: 0xe1 0x1d 0x45, then its break */
		k->skip--;
		return 0;
	}
	if (byte == 0xe0) {
		k->e0 = true;
		return 0;
	}
	if (byte == 0xe1) {
		k->skip = 2;
		return 0;
	}
	bool down = !(byte & 0x80), e0 = k->e0;
	uint8_t code = byte & 0x7f;
	k->e0 = false;
	uint32_t sym;
	if (e0) {
		sym = extended(code);
	} else if (code >= 0x47 && code <= 0x53 && code != 0x4a && code != 0x4e) {
		sym = keypad[code - 0x47][k->numlock ? 0 : 1];
	} else if (code == 0x3a || code == 0x45) { /* Caps_Lock, Num_Lock: toggled when pressed */
		if (down && !k->locks_held[code == 0x45])
			*(code == 0x45 ? &k->numlock : &k->caps) ^= true;
		k->locks_held[code == 0x45] = down;
		return 0;
	} else if (code < ELEMENTSOF(plain)) {
		bool letter = plain[code][0] >= 'a' && plain[code][0] <= 'z';
		bool shift = k->shift_l || k->shift_r;
		sym = plain[code][(letter && k->caps) != shift];
	} else {
		sym = 0;
	}
	if (sym == 0xffe1)
		k->shift_l = down;
	else if (sym == 0xffe2)
		k->shift_r = down;
	if (sym)
		*ret_down = down;
	return sym;
}
