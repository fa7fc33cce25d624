/* term: a terminal shown over VNC or SPICE, pved's own vncterm and spiceterm: an RFB 3.8 server for one
 * client on an accepted fd, a SPICE server for one client on libspice-server, a terminal emulated by
 * libvterm on a console fd, drawn with a PSF console font. */
#pragma once

#include <sys/types.h>

#include "common/common.h"

/* The font drawn with, and the package that has it (a missing font names both). */
#define TERM_FONT_PATH "/usr/share/consolefonts/Uni2-VGA16.psf.gz"
#define TERM_FONT_PACKAGE "console-setup-linux"
/* The terminal is fixed at this size, as vncterm's default. */
#define TERM_COLS 80
#define TERM_ROWS 25

/* ---- PSF console fonts (term/font.c) ---- */

typedef struct term_font term_font;
/* A PSF1 or PSF2 font file, gzip-compressed or not: an error naming the file (and, when it is missing,
 * TERM_FONT_PACKAGE) otherwise. */
int term_font_load(const char *path, term_font **ret, pve_error **err);
/* The same from the file's (uncompressed) bytes. */
int term_font_parse(const void *data, size_t len, term_font **ret, pve_error **err);
void term_font_free(term_font *f);
static inline void term_font_freep(term_font **f)
{
	term_font_free(*f);
}
#define _cleanup_font_ _cleanup_(term_font_freep)
unsigned term_font_width(const term_font *f);
unsigned term_font_height(const term_font *f);
/* The glyph of code point cp: height rows of (width + 7) / 8 bytes, the leftmost pixel the top bit;
 * U+FFFD's, '?''s or the first glyph when the font has none for cp. */
const uint8_t *term_font_glyph(const term_font *f, uint32_t cp);

/* ---- the VNC server (term/vnc.c) ---- */

typedef struct term_vnc_opts {
	const char *password; /* VNC authentication: its first 8 bytes count, as in QEMU */
	const char *title; /* ServerInit's name: "CT 100 console" */
	const term_font *font;
} term_vnc_opts;

/* Serves the client on fd (handshake, then screen and keys) with the terminal on console until
 * either side ends: 0 when one closed, else an error (authentication failed, a malformed message,
 * a timeout in the handshake). Blocking: for a console task, never for pved's loop. */
int term_vnc_serve(int fd, int console, const term_vnc_opts *o, pve_error **err);

/* ---- the SPICE server (term/spice.c) ---- */

typedef struct term_spice_opts {
	int port; /* on 127.0.0.1, TLS only, bound by libspice-server */
	int reserved_fd; /* a socket that holds the port until then (closed), or -1 */
	const char *password; /* the SPICE ticket: valid password_lifetime seconds */
	unsigned password_lifetime;
	/* PEM files: the cluster's CA, the node's certificate and key */
	const char *ca_file, *cert_file, *key_file;
	unsigned timeout; /* seconds for the client to come */
	const char *title; /* the session's name */
	const term_font *font;
} term_spice_opts;

/* Listens on the port, serves one SPICE client (main, display and inputs channels: the terminal's
 * screen and keyboard) with the terminal on console until the client leaves or the console closes:
 * 0 then; an error when no client came within the timeout, or the server could not start. Runs its
 * own poll loop: for a console task, never for pved's loop. */
int term_spice_serve(int console, const term_spice_opts *o, pve_error **err);
