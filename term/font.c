/* PSF1 and PSF2 console fonts (kbd's formats, console-setup's files), with their unicode tables, read
 * through zlib so that a .psf.gz is read as it is installed. */
#include <fcntl.h>
#include <zlib.h>

#include "term/term.h"

/* Console fonts are a few KiB; this bounds what a damaged or hostile file makes us hold. */
#define FONT_FILE_MAX (1 << 20)
#define FONT_WIDTH_MAX 32
#define FONT_HEIGHT_MAX 64
#define FONT_GLYPHS_MAX 65536

#define PSF1_MODE512 0x01
#define PSF1_MODEHASTAB 0x02
#define PSF1_MODESEQ 0x04
#define PSF1_SEPARATOR 0xffff
#define PSF1_STARTSEQ 0xfffe
#define PSF2_HAS_UNICODE_TABLE 0x01
#define PSF2_SEPARATOR 0xff
#define PSF2_STARTSEQ 0xfe

typedef struct font_map {
	uint32_t cp, glyph;
} font_map;

struct term_font {
	unsigned width, height, n_glyphs;
	size_t glyph_size;
	uint8_t *glyphs;
	font_map *map; /* sorted by cp; without a unicode table, glyph i is code point i */
	size_t n_map, cap_map;
	uint32_t fallback;
};

void term_font_free(term_font *f)
{
	if (!f)
		return;
	free(f->glyphs);
	free(f->map);
	free(f);
}

unsigned term_font_width(const term_font *f)
{
	return f->width;
}

unsigned term_font_height(const term_font *f)
{
	return f->height;
}

static void map_add(term_font *f, uint32_t cp, uint32_t glyph)
{
	if (f->n_map == f->cap_map) {
		f->cap_map = f->cap_map ? 2 * f->cap_map : 512;
		f->map = xrealloc(f->map, f->cap_map * sizeof(*f->map));
	}
	f->map[f->n_map++] = (font_map){ cp, glyph };
}

static int map_cmp(const void *a, const void *b)
{
	const font_map *x = a, *y = b;
	if (x->cp != y->cp)
		return x->cp < y->cp ? -1 : 1;
	/* the first glyph listed for a code point wins */
	return x->glyph < y->glyph ? -1 : x->glyph > y->glyph;
}

static bool glyph_of(const term_font *f, uint32_t cp, uint32_t *ret)
{
	if (!f->map) {
		if (cp >= f->n_glyphs)
			return false;
		*ret = cp;
		return true;
	}
	size_t lo = 0, hi = f->n_map;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->map[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->n_map || f->map[lo].cp != cp)
		return false;
	*ret = f->map[lo].glyph;
	return true;
}

const uint8_t *term_font_glyph(const term_font *f, uint32_t cp)
{
	uint32_t g;
	if (!glyph_of(f, cp, &g))
		g = f->fallback;
	return f->glyphs + (size_t)g * f->glyph_size;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One UTF-8 character of the PSF2 table at p (before end): its length, or 0 when malformed. */
static size_t utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *ret)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = p[0] < 0x80		 ? 1 :
		   (p[0] & 0xe0) == 0xc0 ? 2 :
		   (p[0] & 0xf0) == 0xe0 ? 3 :
		   (p[0] & 0xf8) == 0xf0 ? 4 :
					   0;
	if (n == 0 || (size_t)(end - p) < n)
		return 0;
	uint32_t cp = n == 1 ? p[0] : p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret = cp;
	return n;
}

static int psf1_table(term_font *f, const uint8_t *p, const uint8_t *end, pve_error **err)
{
	for (uint32_t g = 0; g < f->n_glyphs; g++) {
		bool seq = false;
		for (;;) {
			if (end - p < 2)
				return pve_error_set(err, EINVAL,
						     "PSF1 font: its unicode table ends early");
			uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8;
			p += 2;
			if (v == PSF1_SEPARATOR)
				break;
			if (v == PSF1_STARTSEQ)
				seq = true; /* sequences (combining forms) are not drawn */
			else if (!seq)
				map_add(f, v, g);
		}
	}
	return 0;
}

static int psf2_table(term_font *f, const uint8_t *p, const uint8_t *end, pve_error **err)
{
	for (uint32_t g = 0; g < f->n_glyphs; g++) {
		bool seq = false;
		for (;;) {
			if (p == end)
				return pve_error_set(err, EINVAL,
						     "PSF2 font: its unicode table ends early");
			if (*p == PSF2_SEPARATOR) {
				p++;
				break;
			}
			if (*p == PSF2_STARTSEQ) {
				seq = true;
				p++;
				continue;
			}
			uint32_t cp;
			size_t n = utf8_decode(p, end, &cp);
			if (n == 0)
				return pve_error_set(err, EINVAL,
						     "PSF2 font: bad UTF-8 in its unicode table");
			p += n;
			if (!seq)
				map_add(f, cp, g);
		}
	}
	return 0;
}

int term_font_parse(const void *data, size_t len, term_font **ret, pve_error **err)
{
	const uint8_t *b = data, *end = b + len;
	_cleanup_font_ term_font *f = xcalloc(1, sizeof(*f));
	const uint8_t *glyphs, *table = NULL;
	bool psf2 = false;
	if (len >= 4 && b[0] == 0x36 && b[1] == 0x04) {
		f->width = 8;
		f->height = b[3];
		f->n_glyphs = b[2] & PSF1_MODE512 ? 512 : 256;
		f->glyph_size = b[3];
		glyphs = b + 4;
		if (b[2] & (PSF1_MODEHASTAB | PSF1_MODESEQ))
			table = glyphs;
	} else if (len >= 32 && le32(b) == 0x864ab572) {
		psf2 = true;
		uint32_t hdr = le32(b + 8), flags = le32(b + 12), n = le32(b + 16);
		uint32_t size = le32(b + 20), h = le32(b + 24), w = le32(b + 28);
		if (hdr < 32 || hdr > len)
			return pve_error_set(err, EINVAL, "PSF2 font: bad header size %u", hdr);
		if (w == 0 || w > FONT_WIDTH_MAX || h == 0 || h > FONT_HEIGHT_MAX ||
		    size != h * ((w + 7) / 8))
			return pve_error_set(err, EINVAL,
					     "PSF2 font: glyphs of %ux%u in %u bytes are not drawn",
					     w, h, size);
		if (n == 0 || n > FONT_GLYPHS_MAX)
			return pve_error_set(err, EINVAL, "PSF2 font: %u glyphs", n);
		f->width = w;
		f->height = h;
		f->n_glyphs = n;
		f->glyph_size = size;
		glyphs = b + hdr;
		if (flags & PSF2_HAS_UNICODE_TABLE)
			table = glyphs;
	} else {
		return pve_error_set(err, EINVAL, "not a PSF font");
	}
	if (f->height == 0 || f->height > FONT_HEIGHT_MAX)
		return pve_error_set(err, EINVAL, "PSF1 font: glyphs %u pixels high", f->height);
	size_t bytes = (size_t)f->n_glyphs * f->glyph_size;
	if ((size_t)(end - glyphs) < bytes)
		return pve_error_set(err, EINVAL, "PSF font: %u glyphs do not fit in the file",
				     f->n_glyphs);
	f->glyphs = xmalloc(bytes);
	memcpy(f->glyphs, glyphs, bytes);
	if (table) {
		table += bytes;
		int r = psf2 ? psf2_table(f, table, end, err) : psf1_table(f, table, end, err);
		if (r < 0)
			return r;
		if (!f->map)
			f->map =
				xmalloc(sizeof(*f->map)); /* a table mapping nothing maps nothing */
		qsort(f->map, f->n_map, sizeof(*f->map), map_cmp);
	}
	uint32_t g;
	if (glyph_of(f, 0xfffd, &g) || glyph_of(f, '?', &g))
		f->fallback = g;
	*ret = TAKE_PTR(f);
	return 0;
}

int term_font_load(const char *path, term_font **ret, pve_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return pve_error_set(err, e, "console font %s is missing: install %s", path,
					     TERM_FONT_PACKAGE);
		return pve_error_set(err, e, "can't open console font %s: %s", path, strerror(e));
	}
	gzFile z = gzdopen(fd, "rb");
	if (!z) {
		close(fd);
		return pve_error_set(err, ENOMEM, "can't read console font %s", path);
	}
	_cleanup_free_ uint8_t *buf = xmalloc(FONT_FILE_MAX + 1);
	size_t len = 0;
	int n;
	while (len <= FONT_FILE_MAX &&
	       (n = gzread(z, buf + len, (unsigned)(FONT_FILE_MAX + 1 - len))) > 0)
		len += (size_t)n;
	int zerr;
	const char *zmsg = gzerror(z, &zerr);
	_cleanup_free_ char *msg = xstrdup(zmsg ? zmsg : "");
	gzclose(z);
	if (zerr != Z_OK && zerr != Z_BUF_ERROR)
		return pve_error_set(err, EIO, "can't read console font %s: %s", path, msg);
	if (len > FONT_FILE_MAX)
		return pve_error_set(err, E2BIG, "console font %s is larger than %d bytes", path,
				     FONT_FILE_MAX);
	int r = term_font_parse(buf, len, ret, err);
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "console font %s: ", path);
	return r;
}
