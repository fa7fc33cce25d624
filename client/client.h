/* client: a blocking HTTPS client of a Proxmox-compatible API (pvectl's --url, pved's task workers):
 * OpenSSL with the server certificate pinned by its SHA-256 or checked against the system's CAs,
 * ticket login or API token, form-encoded parameters, JSON responses. */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>
#include <http_parser.h>

#include "common/common.h"

/* A whole response body is held in memory; this is its ceiling. */
#define PVE_CLIENT_MAX_BODY (64u << 20)

typedef struct pve_client pve_client;

/* A response: the status line and the body parsed as JSON (NULL when it was empty or not JSON). */
typedef struct pve_client_response {
	int status;
	char *reason;
	cJSON *body;
} pve_client_response;

void pve_client_response_clear(pve_client_response *r);

/* A client of https://host:port (host without brackets; nothing is connected yet). fingerprint:
 * "AA:BB:..." or "aabb...", the server certificate's SHA-256, which is then all that is checked; NULL:
 * the chain is verified with the system's CAs and the name (or IP address) against host. -EINVAL if
 * fingerprint is no SHA-256 fingerprint. */
int pve_client_new(const char *host, const char *port, const char *fingerprint, pve_client **ret,
		   pve_error **err);
void pve_client_free(pve_client *c);
static inline void pve_client_freep(pve_client **c)
{
	pve_client_free(*c);
}
#define _cleanup_client_ _cleanup_(pve_client_freep)

/* POST /access/ticket, then keeps the ticket and CSRF token for the calls after it. A refused login is
 * -EACCES ("login as USER at HOST:PORT failed: 401 ..."); a user who needs a second factor, which this
 * client does not answer, -EOPNOTSUPP. */
int pve_client_login(pve_client *c, const char *user, const char *password, pve_error **err);
/* Authenticates the calls with an API token, "user@realm!name=SECRET" (sent as PVEAPIToken=...). */
void pve_client_set_token(pve_client *c, const char *token);
/* Authenticates the calls with a ticket someone else got (a task acting for its caller), and the CSRF
 * token that goes with it for calls other than GET (may be NULL). */
void pve_client_set_ticket(pve_client *c, const char *ticket, const char *csrf);
/* Each connect, handshake, send and receive of a call fails after this many seconds without progress
 * (a response that does not come: ETIMEDOUT "no response in time"); 0, the default: no limit. */
void pve_client_set_timeout(pve_client *c, int seconds);

/* One call to /api2/json + path (a connection of its own). params: an object of strings (arrays of
 * strings for list parameters), NULL for none; anything else is -EINVAL. Fails only when no response
 * came (a TLS, certificate or connection error); an HTTP error is a response. The certificate's
 * errors are -EPERM: a fingerprint mismatch, or, without a fingerprint, "the certificate of HOST:PORT
 * cannot be verified (REASON)" (pve_client_peer_fingerprint tells what the server presented). */
int pve_client_call(pve_client *c, const char *method, const char *path, const cJSON *params,
		    pve_client_response *ret, pve_error **err);

/* The SHA-256 fingerprint ("AA:BB:...") of the certificate the last connection's server presented,
 * NULL before a handshake. */
const char *pve_client_peer_fingerprint(const pve_client *c);

/* "AA:bb:..." or "aabb..." (':' and ' ' between pairs ignored) to the canonical "AA:BB:..."; NULL when
 * it is not 32 bytes of hex. */
char *pve_client_fingerprint_normalize(const char *s);
/* The SHA-256 fingerprint ("AA:BB:...") of the first certificate in a PEM text of len bytes, NULL if
 * it holds none. */
char *pve_client_pem_fingerprint(const char *pem, size_t len);

/* ---- the pieces of a call, for a caller with a connection of its own (pved's forwarding, on its
 * event loop) ---- */

typedef struct pve_client_request {
	const char *method; /* GET, POST, PUT, DELETE */
	const char *path; /* below /api2/json */
	const char *host, *port; /* for the Host header; host without brackets */
	const cJSON *params; /* as pve_client_call takes them, or NULL */
	const char *ticket, *csrf, *token; /* each NULL when not sent; csrf only with a ticket and a
					    * method other than GET */
	const char *websocket_key; /* a websocket upgrade (RFC 6455's Sec-WebSocket-Key, protocol
				    * "binary") instead of Connection: close; NULL for a call */
	/* A body the caller sends after the head (an upload's, forwarded): its Content-Type and
	 * Content-Length; the parameters then go in the query string. NULL: none. */
	const char *body_type;
	uint64_t body_length;
} pve_client_request;
/* The request's bytes (HTTP/1.1, Connection: close or the upgrade): the parameters as a query string
 * (GET, DELETE, or with a body_type) or a form body (POST, PUT). -EINVAL for parameters that are not
 * strings. */
int pve_client_request_build(const pve_client_request *rq, pve_buf *ret, pve_error **err);

/* ---- HTTP/1.1 responses (http.c), apart from the TLS connection, so that a fuzz target reaches it ---- */

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
	size_t consumed; /* the bytes the response took: after an upgrade's head, what follows is the
			  * new protocol's */
	bool done;
	pve_error *err; /* a limit a callback hit */
	/* A streamed body (pve_client_http_init_stream): no length limit, as its reader takes body's
	 * bytes as they come; the head's headers are kept ("name\0value\0" each). */
	bool stream;
	bool head_done;
	pve_buf headers;
	bool in_value; /* the last header callback was a value's */
} pve_client_http;

/* A parser for one response whose body may hold at most max_body bytes. */
void pve_client_http_init(pve_client_http *h, size_t max_body);
/* A parser for a response whose body the caller takes out of h->body as it comes (bounding what it feeds
 * while body holds more than it wants): any length, the headers kept, head_done once they are in. */
void pve_client_http_init_stream(pve_client_http *h);
/* A header of a streamed response's head (case-insensitive name), or NULL. */
const char *pve_client_http_header(const pve_client_http *h, const char *name);
void pve_client_http_clear(pve_client_http *h);
/* Feeds what arrived; len 0 says the connection closed. 1 once the response is complete (bytes after
 * it are ignored: the request said Connection: close), 0 while more is needed, or a negative errno
 * with err: EPROTO for a malformed response, EFBIG over a limit, EPIPE for a close before the end. */
int pve_client_http_feed(pve_client_http *h, const char *data, size_t len, pve_error **err);
