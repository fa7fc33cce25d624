/* api: what the files of pved-api share: HTTP/1.1 request parsing with limits, response heads, parameter
 * and credential decoding (pure functions, no I/O, so unit tests and fuzz targets call them), the sandbox
 * and the server itself. */
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "api/api.h"

/* Proxmox's limits (pve-http-server AnyEvent.pm), and ours for the request line. */
#define PVE_HTTP_MAX_HEADERS 64
#define PVE_HTTP_MAX_HEADER_LINE 8192
#define PVE_HTTP_MAX_URL 8192
#define PVE_HTTP_MAX_BODY (512 * 1024)
#define PVE_HTTP_MAX_JSON_DEPTH 32
/* Parameters of a query string or a body, each value of a repeated key counted: pved takes at most
 * PVE_SCHEMA_MAX_PARAMS; the front stops decoding past it, so a body of many keys costs nothing. */
#define PVE_HTTP_MAX_PARAMS PVE_SCHEMA_MAX_PARAMS

/* ---- requests (api/http.c) ------------------------------------------------------------------------- */

typedef struct pve_http_header {
	char *name;
	char *value;
} pve_http_header;

/* One HTTP request as read from a client, before anything in it is interpreted. */
typedef struct pve_http_request {
	char *method; /* "GET" */
	char *url; /* the request target as sent: "/api2/json/version?x=1" */
	unsigned short http_major, http_minor;
	pve_http_header *headers;
	size_t n_headers;
	char *body; /* NUL-terminated, body_len bytes (may hold NULs) */
	size_t body_len;
	bool keep_alive; /* the connection may carry another request after this one */
	bool upgrade; /* Connection: upgrade was asked for */
	/* An upload (POST .../storage/{storage}/upload, the one path that takes a large body): the request
	 * is delivered after its headers, body empty; the caller takes the next content_length bytes of
	 * the connection as the body, then feeds the parser again. */
	bool stream_body;
	uint64_t content_length;
} pve_http_request;

void pve_http_request_free(pve_http_request *r);
/* The first header with this name (case-insensitive), or NULL. */
const char *pve_http_request_header(const pve_http_request *r, const char *name);

typedef struct pve_http_parser pve_http_parser;

pve_http_parser *pve_http_parser_new(void);
void pve_http_parser_free(pve_http_parser *p);
/* Feeds len bytes of a connection's input. Returns how many bytes were consumed; when they complete a
 * request, *ret gets it and parsing stops right after it, so the caller feeds the rest (a pipelined
 * request) when it has answered this one. On a malformed or oversized request returns a negative errno,
 * sets *ret_status (400, 413, 414 or 431) and *err; the parser is then dead and the connection should be
 * closed after the error answer. */
ssize_t pve_http_parser_feed(pve_http_parser *p, const char *data, size_t len,
			     pve_http_request **ret, int *ret_status, pve_error **err);
/* True once a byte of the next request has been consumed (the receive timeout then applies). */
bool pve_http_parser_started(const pve_http_parser *p);
/* True once after the headers of a request that sent "Expect: 100-continue": the caller answers
 * "HTTP/1.1 100 Continue" so the client sends its body. */
bool pve_http_parser_take_continue(pve_http_parser *p);
/* Whether an API path (below /api2/json) is the upload path: /nodes/{node}/storage/{storage}/upload. */
bool pve_http_is_upload_path(const char *path);

/* ---- responses (api/http.c) ------------------------------------------------------------------------ */

/* The standard reason phrase of a status, or "Unknown". */
const char *pve_http_status_text(int status);
/* A reason phrase safe in a status line: printable ASCII only (control characters, CR/LF and every byte
 * over 0x7e dropped: a reason may quote what a client sent), spaces collapsed, at most 256 bytes; the
 * standard phrase when nothing is left. */
char *pve_http_reason_sanitize(int status, const char *reason);
/* RFC 7231 date: "Tue, 24 Nov 2026 13:26:28 GMT". */
void pve_http_date(time_t t, char buf[static 64]);
/* Whether an Accept-Encoding header value accepts gzip (a "gzip;q=0" refuses it). */
bool pve_http_accepts_gzip(const char *accept_encoding);
/* Appends data compressed in gzip format to out. */
int pve_http_gzip(const void *data, size_t len, pve_buf *out, pve_error **err);
/* gzip as a stream, for an answer that arrives in pieces: each write appends what zlib has ready (maybe
 * nothing); the one with finish appends the rest and the trailer. Its state is about 256 KiB. */
typedef struct pve_http_gzip_stream pve_http_gzip_stream;
pve_http_gzip_stream *pve_http_gzip_stream_new(void);
int pve_http_gzip_stream_write(pve_http_gzip_stream *z, const void *data, size_t len, bool finish,
			       pve_buf *out, pve_error **err);
void pve_http_gzip_stream_free(pve_http_gzip_stream *z);
/* One chunk of chunked transfer encoding; len 0 appends the last chunk (and the empty trailer). */
void pve_http_chunk(pve_buf *out, const void *data, size_t len);
/* The status line and headers of an API answer, up to and including the empty line. content_length
 * PVE_HTTP_NO_LENGTH: none (chunked, or until the connection ends). */
#define PVE_HTTP_NO_LENGTH (-1)
#define PVE_HTTP_HEAD_GZIP 0x1u
#define PVE_HTTP_HEAD_KEEP_ALIVE 0x2u
#define PVE_HTTP_HEAD_CHUNKED 0x4u
void pve_http_response_head(pve_buf *out, int status, const char *reason, const char *content_type,
			    int64_t content_length, unsigned flags, time_t now);
/* Proxmox's error envelope: {"data":null,"message":"..."}. */
char *pve_http_error_body(const char *message);
/* ... for a parameter at fault: {"data":null,"errors":{"param":"message"},"message":"Parameter
 * verification failed.\n"}, as pved answers. */
char *pve_http_param_error_body(const char *param, const char *message);
/* Rewrites a json-format answer into the ExtJS form: {"success":..,"status":..,"message":..,"data":..}. */
char *pve_http_extjs_body(int status, const char *reason, const char *body, size_t len);
/* Content-Type for a static file, by its extension. */
const char *pve_http_mime_type(const char *path);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2), or NULL for a malformed key. */
char *pve_http_websocket_accept(const char *key);
/* A websocket upgrade request: GET, Upgrade: websocket, Sec-WebSocket-Version: 13, a key. */
bool pve_http_is_websocket(const pve_http_request *r);

/* ---- the SPICE proxy (front/params.c) ----------------------------------------------------------------
 * Its port takes one request, "CONNECT <proxy ticket>:<port> HTTP/1.x", parsed by pve_http_parser as any
 * other (the same limits); pved checks the ticket. */
#define PVE_SPICE_CONNECT_MAX 256
/* The CONNECT's target, printable ASCII of at most PVE_SPICE_CONNECT_MAX bytes. Another method: 501
 * (Proxmox's "method 'GET' not available"); a bad target: 400. */
int pve_spice_connect_target(const pve_http_request *r, char **ret_target, int *ret_status,
			     pve_error **err);

/* ---- parameters and credentials (api/params.c) ----------------------------------------------------- */

/* Percent-decodes len bytes (plus_space: '+' is a space, as in forms). Refuses a malformed escape and an
 * encoded NUL; reject_ctl also refuses control characters (for paths). */
int pve_front_uri_decode(const char *s, size_t len, bool plus_space, bool reject_ctl, char **ret,
			 pve_error **err);
/* Adds the pairs of an "a=1&b=2" string to params (an object), in time linear in len: a key seen twice
 * becomes an array of strings; "_dc" is dropped. Refuses (EINVAL) a malformed escape, a NUL, invalid
 * UTF-8 (naming the parameter in err->param) and more than PVE_HTTP_MAX_PARAMS values in params. */
int pve_params_parse_urlencoded(const char *s, size_t len, cJSON *params, pve_error **err);
/* A JSON object body (at most PVE_HTTP_MAX_JSON_DEPTH deep, PVE_HTTP_MAX_PARAMS members, strictly UTF-8,
 * no NUL, nothing after it: pve_json_parse's rules); returns the object. */
int pve_params_parse_json(const char *s, size_t len, cJSON **ret, pve_error **err);
/* The uri-decoded value of cookie name in a Cookie header, or NULL. */
char *pve_cookie_get(const char *cookie_header, const char *name);
/* An Authorization header: "PVEAuthCookie=TICKET" fills *ret_ticket; "PVEAPIToken=USER@REALM!ID=SECRET"
 * (or a space before the secret) fills *ret_token with "USER@REALM!ID=SECRET". Others: 0, nothing set. */
int pve_auth_header_parse(const char *value, char **ret_ticket, char **ret_token);
/* The peer's address as text; an IPv4-mapped IPv6 address is shown as IPv4. */
char *pve_client_address(const struct sockaddr *sa, socklen_t len);

/* Where a request goes. */
enum pve_front_target {
	PVE_FRONT_STATIC, /* a file from the www directory; *ret_rest is the decoded path */
	PVE_FRONT_API, /* /api2/json/... ; *ret_rest is the path below it */
	PVE_FRONT_EXTJS, /* /api2/extjs/... */
	PVE_FRONT_OTHER, /* /api2/<another format>: 501 */
};
/* Classifies a request target and decodes its path (once, refusing NUL and control characters);
 * a trailing '/' is dropped from an API path. Returns the target or a negative errno. */
int pve_front_classify(const char *url, char **ret_rest, pve_error **err);
/* Builds the request for pved from an API request: method, path (from pve_front_classify), parameters
 * (query over body), credentials from the Cookie, Authorization and CSRFPreventionToken headers. */
int pve_front_build_request(const pve_http_request *h, const char *path, const char *client,
			    pve_request **ret, pve_error **err);

/* ---- multipart/form-data (front/multipart.c) -------------------------------------------------------------
 * An incremental parser for upload bodies: feed it any split of the body; memory stays bounded by the
 * limits below whatever the size of the parts. */

#define PVE_MULTIPART_MAX_BOUNDARY 70 /* RFC 2046 */
#define PVE_MULTIPART_MAX_HEADERS 8192 /* one part's header block */
#define PVE_MULTIPART_MAX_PARTS 32

typedef struct pve_multipart pve_multipart;
typedef struct pve_multipart_callbacks {
	/* A part starts: its form field name, its filename and Content-Type (NULL when not given). */
	int (*part_begin)(void *ud, const char *name, const char *filename,
			  const char *content_type, pve_error **err);
	/* Some bytes of its content, in order. */
	int (*part_data)(void *ud, const void *data, size_t len, pve_error **err);
	int (*part_end)(void *ud, pve_error **err);
} pve_multipart_callbacks;

/* The boundary of a "multipart/form-data; boundary=..." Content-Type value; EINVAL for another type or a
 * missing, empty, overlong or malformed boundary. */
int pve_multipart_boundary(const char *content_type, char **ret, pve_error **err);
pve_multipart *pve_multipart_new(const char *boundary, const pve_multipart_callbacks *cb, void *ud);
/* Parses len more bytes; after an error (malformed input, a limit, a callback's error) every call fails. */
int pve_multipart_feed(pve_multipart *m, const void *data, size_t len, pve_error **err);
/* The body ended: EPROTO unless the close delimiter was seen. */
int pve_multipart_finish(pve_multipart *m, pve_error **err);
void pve_multipart_free(pve_multipart *m);

/* ---- the sandbox (api/sandbox.c) -------------------------------------------------------------------- */

/* As root: chroots into chroot_dir (when not NULL) and drops to user's uid, gid and no groups. Then,
 * as anyone, sets no_new_privs and installs the seccomp allow-list (pve_front_seccomp). */
int pve_front_sandbox(const char *chroot_dir, const char *user, pve_error **err);
int pve_front_seccomp(pve_error **err);

/* ---- the server (api/front.c) ----------------------------------------------------------------------- */

/* Each worker thread has its own event loop and wire to pved and accepts on the same listening sockets,
 * so the front uses as many cores as pved gives it wires. */
typedef struct pve_front_options {
	int pved_fds[PVE_FRONT_MAX_WORKERS]; /* one connected wire per worker */
	size_t n_pved_fds;
	const char *cert_pem; /* certificate chain then key */
	size_t cert_pem_len;
	const char *www_dir;
	char **listen; /* "127.0.0.1:8006", "[::]:8006": bound here (standalone use) */
	int listen_fds[8]; /* listening sockets pved made and passed on */
	size_t n_listen_fds;
	int spice_listen_fd; /* the SPICE proxy's (plain HTTP, CONNECT only), or -1 */
	const char *user;
	const char *chroot_dir;
	bool no_sandbox;
	/* Limits; 0: the default. */
	size_t max_conns; /* in all (1024) */
	unsigned max_per_client; /* from one address, an IPv6 one by its /64 (128) */
	int first_byte_timeout; /* s to a completed handshake and a request's first byte (5) */
	int request_timeout; /* s from a request's first byte to its last (30) */
} pve_front_options;

/* Runs pved-api until SIGTERM has drained it (0) or pved went away (0) or setup failed (< 0). The worker
 * threads exist before the sandbox, so it covers them, and wait until it is in place; each reports READY
 * on its own wire. */
int pve_front_run(const pve_front_options *o, pve_error **err);
