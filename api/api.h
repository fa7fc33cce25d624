/* api: the wire codec between pved-api, pved and pvectl, and the route table (the API as data). */
#pragma once

#include <cjson/cJSON.h>

#include "common/common.h"

/* ---- wire format ------------------------------------------------------------------------------------
 * A stream of frames: a 12-byte header (little-endian u32 payload length, u16 type, u16 flags, u32 id)
 * and the payload. The length is checked against PVE_WIRE_MAX_FRAME before anything is read or allocated.
 * A request is one REQUEST frame. A response is a RESPONSE frame (status, reason, the body's length when
 * known, and the start of the body), followed by DATA frames while the body goes on; the frame that ends
 * it carries PVE_WIRE_FIN (and PVE_WIRE_ABORT when the body was cut short: the client must not take it
 * as complete).
 * Flow control: pved sends an answer's body bytes (in the RESPONSE and DATA frames) only within the
 * window its client granted, the request's "window" (PVE_WIRE_DEFAULT_WINDOW if none) plus every WINDOW
 * frame since; the front grants more as its client drains what it has, so a client that does not read
 * costs a bounded amount on both sides and pved stops producing. Websocket streams are outside it.
 * A websocket request answered with status 101 becomes a stream: each websocket message is one DATA
 * frame with the request's id, both ways; pved ends it with an empty DATA frame carrying FIN, the front
 * with CANCEL. An upload request (pve_request.upload: a POST to .../storage/{storage}/upload) waits for
 * pved's CONTINUE; then the front sends its form as it parses the multipart body: FIELD frames, a FILE
 * frame, the file's bytes as DATA frames and an empty DATA frame with FIN. A CONTINUE with
 * PVE_WIRE_RAW asks for the body as the client sent it instead (pved forwards it to another node), in
 * DATA frames within the window pved grants with WINDOW frames (none before the first), the last one
 * carrying FIN. pved answers with a RESPONSE as usual, possibly before the body is complete (then the
 * front stops sending it). */

#define PVE_WIRE_HEADER_SIZE 12u
#define PVE_WIRE_MAX_FRAME (1u << 20)
/* pved-api runs up to this many worker threads, each with its own wire to pved. */
#define PVE_FRONT_MAX_WORKERS 8

enum pve_wire_type {
	PVE_WIRE_REQUEST = 1, /* payload: JSON object, see pve_request */
	PVE_WIRE_RESPONSE = 2, /* payload: u16 status, u16 reason length, reason, body bytes */
	PVE_WIRE_DATA = 3, /* payload: more body bytes of the response with the same id */
	PVE_WIRE_CANCEL =
		4, /* empty: the client went away; the request with this id may be dropped */
	PVE_WIRE_READY =
		5, /* empty, pved-api to pved: listening and sandboxed; an older front may drain */
	PVE_WIRE_CONTINUE =
		6, /* empty, pved to pved-api: the upload with this id may send its body now */
	/* u32: more bytes of its answer's body pved may send for this id; from pved, more bytes of a raw
	 * upload's body the front may send */
	PVE_WIRE_WINDOW = 7,
	PVE_WIRE_FIELD = 8, /* an upload's form field: u16 name length, name, value */
	PVE_WIRE_FILE =
		9, /* an upload's file part: three u16-length strings: name, filename, type */
};
#define PVE_WIRE_FIN 0x1u
#define PVE_WIRE_LENGTH 0x2u /* RESPONSE: a u64 body length follows the reason */
#define PVE_WIRE_ABORT 0x4u /* with FIN: the body is incomplete */
/* RESPONSE: the body is a file, not JSON: a u16 length and the file's description follow the reason
 * (and the length): its Content-Type, a NUL, the name to save it as (Content-Disposition), a NUL, and
 * "gzip" when it goes out gzip-encoded whatever the client asked (Proxmox's task log download). */
#define PVE_WIRE_FILE_BODY 0x8u
#define PVE_WIRE_MAX_FILE_META 1024
/* CONTINUE: the upload's body as it came, not parsed, within pved's windows */
#define PVE_WIRE_RAW 0x10u
#define PVE_WIRE_DEFAULT_WINDOW (1u << 20)

typedef struct pve_wire_header {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint32_t id;
} pve_wire_header;

void pve_wire_header_encode(uint8_t buf[PVE_WIRE_HEADER_SIZE], const pve_wire_header *h);
/* Refuses (EMSGSIZE, EPROTO) a payload over the limit or an unknown type. */
int pve_wire_header_decode(const uint8_t buf[PVE_WIRE_HEADER_SIZE], pve_wire_header *ret,
			   pve_error **err);

/* A request as the front received it: nothing in it is trusted yet. */
typedef struct pve_request {
	char *method; /* GET, POST, PUT, DELETE */
	char *path; /* below /api2/json, starting with '/': "/nodes/n1/status" */
	cJSON *params; /* object: query and body parameters, strings or (from a JSON body) JSON values */
	char *ticket; /* PVEAuthCookie value, from the cookie or the Authorization header, or NULL */
	char *csrf; /* CSRFPreventionToken header, or NULL */
	char *token; /* "user@realm!tokenid=SECRET" from Authorization: PVEAPIToken=..., or NULL */
	char *client; /* the peer's address, "127.0.0.1" or "::1", or "local" on the unix socket */
	bool websocket; /* a websocket upgrade: a 101 answer opens a stream of DATA frames both ways */
	bool upload; /* the body follows as DATA frames (see above); not in params */
	char *upload_type; /* the body's Content-Type header (with the multipart boundary) */
	uint64_t upload_length; /* its Content-Length */
	uint32_t window; /* bytes of the answer's body pved may send before a WINDOW frame; 0: default */
} pve_request;

/* Encodes into a frame payload; fails with EMSGSIZE when it would not fit in one frame. */
int pve_request_encode(const pve_request *r, char **ret_payload, size_t *ret_len, pve_error **err);
int pve_request_decode(const void *payload, size_t len, pve_request **ret, pve_error **err);
void pve_request_free(pve_request *r);

void pve_wire_append_frame(pve_buf *out, uint16_t type, uint16_t flags, uint32_t id,
			   const void *payload, size_t len);
void pve_wire_append_request(pve_buf *out, uint32_t id, const char *payload, size_t len);
/* Appends the frames of a whole response (RESPONSE with the length, then DATA frames as needed, FIN on
 * the last), whatever the window: for tests and for answers known to be small. */
void pve_wire_append_response(pve_buf *out, uint32_t id, int status, const char *reason,
			      const char *body, size_t body_len);
/* A RESPONSE frame: total is the body's length, or PVE_WIRE_NO_LENGTH; body the first len bytes of it
 * (at most pve_wire_response_room); fin when nothing follows. */
#define PVE_WIRE_NO_LENGTH UINT64_MAX
void pve_wire_append_response_start(pve_buf *out, uint32_t id, int status, const char *reason,
				    uint64_t total, const void *body, size_t len, bool fin);
/* The same with a file's description (PVE_WIRE_FILE_BODY; meta of meta_len bytes, at most
 * PVE_WIRE_MAX_FILE_META; NULL: a JSON answer). */
void pve_wire_append_response_start_file(pve_buf *out, uint32_t id, int status, const char *reason,
					 uint64_t total, const char *meta, size_t meta_len,
					 const void *body, size_t len, bool fin);
/* A file's description: type and name printable ASCII without '"', at most 255 bytes each. */
typedef struct pve_wire_file_meta {
	char *content_type;
	char *filename;
	bool gzip;
} pve_wire_file_meta;
void pve_wire_file_meta_clear(pve_wire_file_meta *m);
/* A value the front writes into a header as it is: printable ASCII, no quote or backslash (it goes
 * inside quotes), at most 255 bytes. */
bool pve_wire_file_meta_value_ok(const char *s, size_t n);
/* Encodes m into a new string of *ret_len bytes (with NULs inside). */
char *pve_wire_file_meta_encode(const pve_wire_file_meta *m, size_t *ret_len);
/* The most body bytes a RESPONSE frame with this reason can carry. */
size_t pve_wire_response_room(const char *reason);
/* A RESPONSE frame without a body and without FIN: the start of a stream (status 101). */
void pve_wire_append_response_head(pve_buf *out, uint32_t id, int status, const char *reason);
/* Splits a RESPONSE payload (flags from its header); ret_reason is a copy, ret_body points into
 * payload, *ret_total is the announced length or PVE_WIRE_NO_LENGTH. */
int pve_wire_response_decode(const void *payload, size_t len, uint16_t flags, int *ret_status,
			     char **ret_reason, uint64_t *ret_total, const char **ret_body,
			     size_t *ret_body_len, pve_error **err);
/* The same, also giving a file body's description (zeroed when the answer is JSON); ret_meta may be NULL
 * to skip it. */
int pve_wire_response_decode_file(const void *payload, size_t len, uint16_t flags, int *ret_status,
				  char **ret_reason, uint64_t *ret_total,
				  pve_wire_file_meta *ret_meta, const char **ret_body,
				  size_t *ret_body_len, pve_error **err);
void pve_wire_append_window(pve_buf *out, uint32_t id, uint32_t grant);
int pve_wire_window_decode(const void *payload, size_t len, uint32_t *ret, pve_error **err);

/* An upload's form as the front parsed it: its text fields (FIELD frames), then the file part (FILE),
 * whose bytes follow as DATA frames, then an empty DATA frame with FIN. Names and values are checked
 * again when decoded: UTF-8, no NUL, within the limits. */
#define PVE_WIRE_MAX_FIELD_NAME 256
#define PVE_WIRE_MAX_FIELD_VALUE 4096
#define PVE_WIRE_MAX_FILENAME 1024
void pve_wire_append_field(pve_buf *out, uint32_t id, const char *name, const char *value,
			   size_t value_len);
/* ret_name and ret_value are copies. */
int pve_wire_field_decode(const void *payload, size_t len, char **ret_name, char **ret_value,
			  pve_error **err);
void pve_wire_append_file(pve_buf *out, uint32_t id, const char *name, const char *filename,
			  const char *content_type);
/* ret_type is NULL when the part gave none. */
int pve_wire_file_decode(const void *payload, size_t len, char **ret_name, char **ret_filename,
			 char **ret_type, pve_error **err);

/* ---- listening sockets --------------------------------------------------------------------------------
 * "127.0.0.1:8006", "[::1]:8006", "[::]:8006" (dual-stack), "0.0.0.0:8006": a bound, listening,
 * non-blocking, close-on-exec TCP socket. */
int pve_listen_socket(const char *spec, pve_error **err);
/* A listening socket on 127.0.0.1 at the first free port of min..max (Proxmox's next_unused_port):
 * a console's, taken before the client is told it; a VM's SPICE port, closed again for QEMU to bind
 * (a start at the same moment may then take it first: that start fails). -EADDRINUSE when all are
 * taken. */
int pve_listen_local_port(int min, int max, int *ret_port, pve_error **err);

/* ---- the route table ----------------------------------------------------------------------------------
 * The routes are JSON data (api/routes/AREA/NN-NAME.json, embedded at build time): a list of objects,
 * each with "path" ("/nodes/{node}/status"), "method", and the fields of Proxmox's API viewer "info"
 * object: "name", "description", "parameters" (a JSON schema of type object), "returns", "permissions",
 * "protected", "proxyto", "allowtoken"; plus pved's own "index" (see below). */

typedef struct pve_route {
	const char *method; /* GET POST PUT DELETE */
	const char *path; /* "/nodes/{node}/status" */
	const char *name; /* the handler's name: "node_status"; daemon/ binds a handler to it */
	const char *area; /* the daemon area that serves it (its folder in api/routes/), or NULL */
	char **segments; /* "nodes", "{node}", "status" */
	size_t n_segments;
	const cJSON *info; /* the whole entry as published */
	const cJSON *parameters;
	const cJSON *permissions;
	bool protected_;
	bool allowtoken;
	const char *proxyto; /* "node" or NULL */
} pve_route;

typedef struct pve_routes pve_routes;

/* Parses the embedded route data; fails on a malformed entry, a duplicate method and path, or a route
 * that declares no permissions (every route must say who may call it). */
int pve_routes_load(pve_routes **ret, pve_error **err);
int pve_routes_load_json(const char *json, size_t len, pve_routes **ret, pve_error **err);
void pve_routes_free(pve_routes *t);
size_t pve_routes_count(const pve_routes *t);
const pve_route *pve_routes_get(const pve_routes *t, size_t i);
/* Finds the route for method and path (below /api2/json). Fills ret_path_params (an object) with the
 * placeholders' values. Returns NULL when nothing matches; *ret_path_known then tells whether the path
 * exists with another method (Proxmox answers 501 in both cases, with different messages). */
const pve_route *pve_routes_match(const pve_routes *t, const char *method, const char *path,
				  cJSON *ret_path_params, bool *ret_path_known);
/* The child names of a directory path, in table order ("/nodes/{node}" -> "status", "tasks", ...). */
char **pve_routes_children(const pve_routes *t, const char *path);
/* The whole table as Proxmox's API viewer data: a tree of {path, text, leaf, children, info:{METHOD:..}}. */
cJSON *pve_routes_apidoc(const pve_routes *t);

/* The embedded route data (generated from api/routes/AREA/NN-NAME.json by tools/embed-json). */
extern const char pve_routes_json[];
extern const size_t pve_routes_json_len;

/* ---- websockets over a bufferevent: the bodies of wslay's I/O callbacks, for the front's websockets
 * and pved's forwarded ones (api/ws.c) ---- */

struct bufferevent;
struct wslay_event_context;
/* What bev's input holds, at most len bytes; none: -1 with WSLAY_ERR_WOULDBLOCK set on ctx. */
ssize_t pve_ws_bev_recv(struct wslay_event_context *ctx, struct bufferevent *bev, uint8_t *buf,
			size_t len);
/* data appended to bev's output, unless that holds more than max already: -1 with
 * WSLAY_ERR_WOULDBLOCK (wslay sends it again at the next wslay_event_send, after the drain). */
ssize_t pve_ws_bev_send(struct wslay_event_context *ctx, struct bufferevent *bev,
			const uint8_t *data, size_t len, size_t max);
