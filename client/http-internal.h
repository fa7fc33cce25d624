/* client: the HTTP/1.1 response parser of the HTTPS transport (http-parser), apart from the TLS
 * connection, so that a fuzz target reaches it. */
#pragma once

#include <http_parser.h>

#include "common/common.h"

/* An HTTP response head larger than this is refused: ours are a few hundred bytes. */
#define PVE_CLIENT_HTTP_MAX_HEAD (64u << 10)

typedef struct pve_client_http {
	http_parser hp;
	size_t max_body;
	int status;
	pve_buf reason;
	pve_buf body; /* de-chunked */
	size_t head_bytes; /* status line and headers so far */
	size_t seen; /* every byte fed */
	bool done;
	pve_error *err; /* a limit a callback hit */
} pve_client_http;

/* A parser for one response whose body may hold at most max_body bytes. */
void pve_client_http_init(pve_client_http *h, size_t max_body);
void pve_client_http_clear(pve_client_http *h);
/* Feeds what arrived; len 0 says the connection closed. 1 once the response is complete (bytes after
 * it are ignored: the request said Connection: close), 0 while more is needed, or a negative errno
 * with err: EPROTO for a malformed response, EFBIG over a limit, EPIPE for a close before the end. */
int pve_client_http_feed(pve_client_http *h, const char *data, size_t len, pve_error **err);
