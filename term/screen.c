/* The terminal: libvterm reads the console's output and types the client's keys; its cells are drawn
 * into a frame buffer with the font, the cells that changed since the last update tracked as one
 * rectangle. */
#include <vterm.h>

#include "term/term-internal.h"

struct term_screen {
	const term_font *font;
	VTerm *vt;
	VTermScreen *vs;
	unsigned cols, rows, cw, ch, width, height;
	uint32_t *fb;
	VTermModifier mods;
	VTermPos cursor;
	bool cursor_visible;
	/* the cells changed and not drawn yet: [r0, r1) x [c0, c1), empty when r0 == r1 */
	unsigned r0, r1, c0, c1;
	pve_buf out;
};

static void damage_cells(term_screen *s, unsigned r0, unsigned r1, unsigned c0, unsigned c1)
{
	r1 = r1 > s->rows ? s->rows : r1;
	c1 = c1 > s->cols ? s->cols : c1;
	if (r0 >= r1 || c0 >= c1)
		return;
	if (s->r0 == s->r1) {
		s->r0 = r0, s->r1 = r1, s->c0 = c0, s->c1 = c1;
		return;
	}
	s->r0 = r0 < s->r0 ? r0 : s->r0;
	s->r1 = r1 > s->r1 ? r1 : s->r1;
	s->c0 = c0 < s->c0 ? c0 : s->c0;
	s->c1 = c1 > s->c1 ? c1 : s->c1;
}

static void damage_pos(term_screen *s, VTermPos p)
{
	if (p.row >= 0 && p.col >= 0)
		damage_cells(s, (unsigned)p.row, (unsigned)p.row + 1, (unsigned)p.col,
			     (unsigned)p.col + 1);
}

static int cb_damage(VTermRect r, void *user)
{
	if (r.start_row >= 0 && r.start_col >= 0 && r.end_row >= 0 && r.end_col >= 0)
		damage_cells(user, (unsigned)r.start_row, (unsigned)r.end_row,
			     (unsigned)r.start_col, (unsigned)r.end_col);
	return 1;
}

static int cb_movecursor(VTermPos pos, VTermPos oldpos, int visible, void *user)
{
	term_screen *s = user;
	damage_pos(s, oldpos);
	damage_pos(s, pos);
	s->cursor = pos;
	s->cursor_visible = visible;
	return 1;
}

static int cb_settermprop(VTermProp prop, VTermValue *val, void *user)
{
	term_screen *s = user;
	if (prop == VTERM_PROP_CURSORVISIBLE) {
		s->cursor_visible = val->boolean;
		damage_pos(s, s->cursor);
	}
	return 1;
}

static const VTermScreenCallbacks screen_callbacks = {
	.damage = cb_damage,
	.movecursor = cb_movecursor,
	.settermprop = cb_settermprop,
};

static void cb_output(const char *s, size_t len, void *user)
{
	pve_buf_append(&((term_screen *)user)->out, s, len);
}

term_screen *term_screen_new(const term_font *font, unsigned cols, unsigned rows)
{
	term_screen *s = xcalloc(1, sizeof(*s));
	s->font = font;
	s->cols = cols;
	s->rows = rows;
	s->cw = term_font_width(font);
	s->ch = term_font_height(font);
	s->width = cols * s->cw;
	s->height = rows * s->ch;
	s->fb = xcalloc((size_t)s->width * s->height, sizeof(*s->fb));
	s->vt = vterm_new((int)rows, (int)cols);
	if (!s->vt)
		abort();
	vterm_set_utf8(s->vt, 1);
	vterm_output_set_callback(s->vt, cb_output, s);
	vterm_state_set_bold_highbright(vterm_obtain_state(s->vt), 1);
	s->vs = vterm_obtain_screen(s->vt);
	vterm_screen_set_callbacks(s->vs, &screen_callbacks, s);
	vterm_screen_reset(s->vs, 1);
	s->cursor_visible = true;
	term_screen_redraw(s);
	return s;
}

void term_screen_free(term_screen *s)
{
	if (!s)
		return;
	vterm_free(s->vt);
	free(s->fb);
	pve_buf_free(&s->out);
	free(s);
}

void term_screen_size(const term_screen *s, unsigned *ret_width, unsigned *ret_height)
{
	*ret_width = s->width;
	*ret_height = s->height;
}

const uint32_t *term_screen_pixels(const term_screen *s)
{
	return s->fb;
}

pve_buf *term_screen_output(term_screen *s)
{
	return &s->out;
}

int term_screen_flush(term_screen *s, int console, pve_error **err)
{
	if (s->out.len == 0)
		return 0;
	int r = pve_write_all(console, s->out.data, s->out.len);
	s->out.len = 0;
	if (r < 0)
		return pve_error_set(err, -r, "can't write to the console: %s", strerror(-r));
	return 0;
}

void term_screen_feed(term_screen *s, const char *data, size_t len)
{
	vterm_input_write(s->vt, data, len);
}

static uint32_t rgb_of(const term_screen *s, VTermColor c)
{
	vterm_screen_convert_color_to_rgb(s->vs, &c);
	return (uint32_t)c.rgb.red << 16 | (uint32_t)c.rgb.green << 8 | c.rgb.blue;
}

static void draw_cell(term_screen *s, unsigned row, unsigned col)
{
	VTermScreenCell cell;
	VTermPos pos = { .row = (int)row, .col = (int)col };
	if (!vterm_screen_get_cell(s->vs, pos, &cell))
		return;
	uint32_t fg = rgb_of(s, cell.fg), bg = rgb_of(s, cell.bg);
	bool invert = cell.attrs.reverse;
	if (s->cursor_visible && s->cursor.row == pos.row && s->cursor.col == pos.col)
		invert = !invert;
	if (invert) {
		uint32_t t = fg;
		fg = bg;
		bg = t;
	}
	uint32_t cp = cell.chars[0] ? cell.chars[0] : ' ';
	const uint8_t *g = term_font_glyph(s->font, cp);
	unsigned stride = (s->cw + 7) / 8;
	for (unsigned y = 0; y < s->ch; y++) {
		uint32_t *px = s->fb + (size_t)(row * s->ch + y) * s->width + (size_t)col * s->cw;
		const uint8_t *line = g + (size_t)y * stride;
		bool underline = cell.attrs.underline && y == s->ch - 1;
		for (unsigned x = 0; x < s->cw; x++)
			px[x] = underline || (line[x / 8] & (0x80 >> (x % 8))) ? fg : bg;
	}
}

void term_screen_redraw(term_screen *s)
{
	for (unsigned r = 0; r < s->rows; r++)
		for (unsigned c = 0; c < s->cols; c++)
			draw_cell(s, r, c);
	s->r0 = s->r1 = 0;
}

bool term_screen_take_damage(term_screen *s, term_rect *ret)
{
	if (s->r0 == s->r1)
		return false;
	for (unsigned r = s->r0; r < s->r1; r++)
		for (unsigned c = s->c0; c < s->c1; c++)
			draw_cell(s, r, c);
	*ret = (term_rect){ .x = s->c0 * s->cw,
			    .y = s->r0 * s->ch,
			    .w = (s->c1 - s->c0) * s->cw,
			    .h = (s->r1 - s->r0) * s->ch };
	s->r0 = s->r1 = 0;
	return true;
}

/* X keysyms (X11/keysymdef.h) the terminal has a key for. */
static const struct {
	uint32_t keysym;
	VTermKey key;
} keys[] = {
	{ 0xff08, VTERM_KEY_BACKSPACE }, { 0xff09, VTERM_KEY_TAB },
	{ 0xfe20, VTERM_KEY_TAB }, /* ISO_Left_Tab: Shift+Tab */
	{ 0xff0d, VTERM_KEY_ENTER },	 { 0xff1b, VTERM_KEY_ESCAPE },
	{ 0xffff, VTERM_KEY_DEL },	 { 0xff50, VTERM_KEY_HOME },
	{ 0xff51, VTERM_KEY_LEFT },	 { 0xff52, VTERM_KEY_UP },
	{ 0xff53, VTERM_KEY_RIGHT },	 { 0xff54, VTERM_KEY_DOWN },
	{ 0xff55, VTERM_KEY_PAGEUP },	 { 0xff56, VTERM_KEY_PAGEDOWN },
	{ 0xff57, VTERM_KEY_END },	 { 0xff63, VTERM_KEY_INS },
	{ 0xff8d, VTERM_KEY_KP_ENTER },	 { 0xff95, VTERM_KEY_HOME },
	{ 0xff96, VTERM_KEY_LEFT },	 { 0xff97, VTERM_KEY_UP },
	{ 0xff98, VTERM_KEY_RIGHT },	 { 0xff99, VTERM_KEY_DOWN },
	{ 0xff9a, VTERM_KEY_PAGEUP },	 { 0xff9b, VTERM_KEY_PAGEDOWN },
	{ 0xff9c, VTERM_KEY_END },	 { 0xff9e, VTERM_KEY_INS },
	{ 0xff9f, VTERM_KEY_DEL },
};

keysym_kind term_keysym_map(uint32_t keysym, uint32_t *ret_value)
{
	if ((keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff)) {
		*ret_value = keysym; /* Latin-1 keysyms are their code points */
		return KEYSYM_CHAR;
	}
	if ((keysym & 0xff000000) == 0x01000000) {
		uint32_t cp = keysym & 0x00ffffff;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 ||
		    (cp >= 0x7f && cp < 0xa0))
			return KEYSYM_NONE;
		*ret_value = cp;
		return KEYSYM_CHAR;
	}
	if (keysym >= 0xffb0 && keysym <= 0xffb9) { /* KP_0 .. KP_9 */
		*ret_value = '0' + (keysym - 0xffb0);
		return KEYSYM_CHAR;
	}
	switch (keysym) {
	case 0xffaa: /* KP_Multiply, Add, Separator, Subtract, Decimal, Divide */
	case 0xffab:
	case 0xffac:
	case 0xffad:
	case 0xffae:
	case 0xffaf:
		*ret_value = "*+,-./"[keysym - 0xffaa];
		return KEYSYM_CHAR;
	case 0xffe1: /* Shift_L, Shift_R */
	case 0xffe2:
		*ret_value = VTERM_MOD_SHIFT;
		return KEYSYM_MODIFIER;
	case 0xffe3: /* Control_L, Control_R */
	case 0xffe4:
		*ret_value = VTERM_MOD_CTRL;
		return KEYSYM_MODIFIER;
	case 0xffe7: /* Meta_L, Meta_R, Alt_L, Alt_R */
	case 0xffe8:
	case 0xffe9:
	case 0xffea:
		*ret_value = VTERM_MOD_ALT;
		return KEYSYM_MODIFIER;
	}
	if (keysym >= 0xffbe && keysym <= 0xffc9) { /* F1 .. F12 */
		*ret_value = VTERM_KEY_FUNCTION(1 + (keysym - 0xffbe));
		return KEYSYM_KEY;
	}
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].keysym == keysym) {
			*ret_value = keys[i].key;
			return KEYSYM_KEY;
		}
	return KEYSYM_NONE;
}

static void type_char(term_screen *s, uint32_t cp, VTermModifier mods)
{
	/* Ctrl with a letter or @[\]^_? is its control code, as xterm sends it; libvterm would send
	 * some of these (Ctrl+M, Ctrl+[, Ctrl+I ...) as CSI u sequences a console does not read. */
	uint32_t up = cp >= 'a' && cp <= 'z' ? cp - 0x20 : cp;
	if ((mods & VTERM_MOD_CTRL) && ((up >= '@' && up <= '_') || cp == '?')) {
		char seq[2];
		size_t n = 0;
		if (mods & VTERM_MOD_ALT)
			seq[n++] = 0x1b;
		seq[n++] = cp == '?' ? 0x7f : (char)(up & 0x1f);
		pve_buf_append(&s->out, seq, n);
		return;
	}
	vterm_keyboard_unichar(s->vt, cp, mods);
}

void term_screen_key(term_screen *s, uint32_t keysym, bool down)
{
	uint32_t v;
	keysym_kind k = term_keysym_map(keysym, &v);
	if (k == KEYSYM_MODIFIER) {
		if (down)
			s->mods |= (VTermModifier)v;
		else
			s->mods &= ~(VTermModifier)v;
		return;
	}
	if (!down)
		return;
	if (k == KEYSYM_CHAR)
		type_char(s, v, s->mods);
	else if (k == KEYSYM_KEY)
		vterm_keyboard_key(s->vt, (VTermKey)v,
				   keysym == 0xfe20 ? s->mods | VTERM_MOD_SHIFT : s->mods);
}

void term_screen_type(term_screen *s, const uint8_t *text, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == n || text[i + 1] != '\n')))
			vterm_keyboard_key(s->vt, VTERM_KEY_ENTER, VTERM_MOD_NONE);
		else if (text[i] == '\t')
			vterm_keyboard_key(s->vt, VTERM_KEY_TAB, VTERM_MOD_NONE);
		else if ((text[i] >= 0x20 && text[i] < 0x7f) || text[i] >= 0xa0)
			vterm_keyboard_unichar(s->vt, text[i], VTERM_MOD_NONE);
	}
}
