/* The node shell's xterm.js messages, parsed apart from the pty so that a fuzz target reaches them. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* The most one input message ("0:<len>:<data>") may carry: one relay chunk. */
#define XTERM_INPUT_MAX (64 * 1024)

typedef enum xterm_msg_type {
	XTERM_INPUT, /* "0:<len>:<data>" */
	XTERM_RESIZE, /* "1:<cols>:<rows>:" */
	XTERM_PING, /* "2" */
} xterm_msg_type;

typedef struct xterm_msg {
	xterm_msg_type type;
	const char *data; /* XTERM_INPUT: points into the buffer parsed */
	size_t len;
	unsigned cols, rows; /* XTERM_RESIZE */
} xterm_msg;

/* Parses the message at the start of buf[0..len): returns the bytes it takes (> 0) and fills ret, 0
 * when the message is not complete yet, -EBADMSG when it is malformed (the console then closes). */
ssize_t pved_xterm_msg_parse(const char *buf, size_t len, xterm_msg *ret);
