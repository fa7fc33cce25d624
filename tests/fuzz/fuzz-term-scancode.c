/* Fuzzes the SPICE keyboard's scancode decoder (term/scancode.c) as a session feeds it: every byte a
 * client's key messages carry, through term_kbd_scancode into a terminal. The state must stay within
 * its bounds and every key must be one the terminal knows or a plain character. */
#include "term/term-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A font of one blank 8x1 glyph: the screen needs one, and drawing is not what is fuzzed. */
static const uint8_t font_data[] = { 0x72, 0xb5, 0x4a, 0x86, 0, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 1,
				     0,	   0,	 0,    1,    0, 0, 0, 1, 0,  0, 0, 8, 0, 0, 0, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	term_font *f = NULL;
	if (term_font_parse(font_data, sizeof(font_data), &f, NULL) < 0)
		abort();
	term_screen *s = term_screen_new(f, 80, 25);
	term_kbd k = { 0 };
	for (size_t i = 0; i < size; i++) {
		bool down = false;
		uint32_t sym = term_kbd_scancode(&k, data[i], &down);
		if (k.skip > 2)
			abort();
		uint32_t v;
		if (sym && term_keysym_map(sym, &v) == KEYSYM_NONE)
			abort(); /* the table names a key the terminal does not know */
		if (sym)
			term_screen_key(s, sym, down);
		term_screen_output(s)->len = 0;
	}
	term_screen_free(s);
	term_font_free(f);
	return 0;
}
