/* client: HTTP/1.1 responses through http-parser, which frames them (Content-Length, chunked, or up
 * to the close), with the client's limits on the head and the body. */
#include <limits.h>
#include <strings.h>

#include "client/client.h"

static pve_client_http *http_of(http_parser *hp)
{
	return hp->data;
}

/* Counts head bytes against the limit; -1 stops the parser. */
static int head_bytes(pve_client_http *h, size_t len)
{
	h->head_bytes += len;
	if (h->head_bytes > PVE_CLIENT_HTTP_MAX_HEAD) {
		pve_error_set(&h->err, EPROTO, "response head exceeds %u bytes",
			      PVE_CLIENT_HTTP_MAX_HEAD);
		return -1;
	}
	return 0;
}

static int on_status(http_parser *hp, const char *at, size_t len)
{
	pve_client_http *h = http_of(hp);
	if (head_bytes(h, len) < 0)
		return -1;
	pve_buf_append(&h->reason, at, len);
	return 0;
}

/* A streamed response keeps its headers as "name\0value\0" pairs: a name's first piece ends the value
 * before it, a value's first piece the name. */
static int on_header_piece(http_parser *hp, const char *at, size_t len, bool value)
{
	pve_client_http *h = http_of(hp);
	if (head_bytes(h, len) < 0)
		return -1;
	if (!h->stream)
		return 0;
	if (h->headers.len && h->in_value != value)
		pve_buf_append(&h->headers, "", 1);
	h->in_value = value;
	pve_buf_append(&h->headers, at, len);
	return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	return on_header_piece(hp, at, len, false);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	return on_header_piece(hp, at, len, true);
}

static int on_headers_complete(http_parser *hp)
{
	pve_client_http *h = http_of(hp);
	h->status = hp->status_code;
	if (h->status < 100 || h->status > 599) {
		pve_error_set(&h->err, EPROTO, "malformed HTTP status line");
		return -1;
	}
	if (h->stream) {
		/* a value without bytes: its name still ends */
		if (h->headers.len && !h->in_value)
			pve_buf_append(&h->headers, "", 1);
		if (h->headers.len)
			pve_buf_append(&h->headers, "", 1);
		h->in_value = false;
		h->head_done = true;
		return 0;
	}
	/* http-parser keeps ULLONG_MAX when there is no Content-Length */
	if (!(hp->flags & F_CHUNKED) && hp->content_length != ULLONG_MAX &&
	    hp->content_length > h->max_body) {
		pve_error_set(&h->err, EFBIG, "response of %llu bytes exceeds %zu MiB",
			      (unsigned long long)hp->content_length, h->max_body >> 20);
		return -1;
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	pve_client_http *h = http_of(hp);
	if (!h->stream && len > h->max_body - h->body.len) {
		pve_error_set(&h->err, EFBIG, "response exceeds %zu MiB", h->max_body >> 20);
		return -1;
	}
	pve_buf_append(&h->body, at, len);
	return 0;
}

/* A chunk's announced size counts before its bytes come: a server cannot make the client wait for a
 * body it would refuse. */
static int on_chunk_header(http_parser *hp)
{
	pve_client_http *h = http_of(hp);
	if (!h->stream && hp->content_length > h->max_body - h->body.len) {
		pve_error_set(&h->err, EFBIG, "response exceeds %zu MiB", h->max_body >> 20);
		return -1;
	}
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	http_of(hp)->done = true;
	/* One response is all: whatever follows is not read. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_chunk_header = on_chunk_header,
	.on_message_complete = on_message_complete,
};

void pve_client_http_init(pve_client_http *h, size_t max_body)
{
	*h = (pve_client_http){ .max_body = max_body };
	http_parser_init(&h->hp, HTTP_RESPONSE);
	h->hp.data = h;
}

void pve_client_http_init_stream(pve_client_http *h)
{
	pve_client_http_init(h, SIZE_MAX);
	h->stream = true;
}

const char *pve_client_http_header(const pve_client_http *h, const char *name)
{
	const char *at = h->headers.data, *end = at + h->headers.len;
	while (at && at < end) {
		const char *value = memchr(at, 0, (size_t)(end - at));
		if (!value || ++value >= end)
			return NULL;
		const char *next = memchr(value, 0, (size_t)(end - value));
		if (!next)
			return NULL;
		if (strcasecmp(at, name) == 0)
			return value;
		at = next + 1;
	}
	return NULL;
}

void pve_client_http_clear(pve_client_http *h)
{
	pve_buf_free(&h->headers);
	pve_buf_free(&h->reason);
	pve_buf_free(&h->body);
	pve_error_free(h->err);
	*h = (pve_client_http){ 0 };
}

int pve_client_http_feed(pve_client_http *h, const char *data, size_t len, pve_error **err)
{
	if (h->done)
		return 1;
	if (h->err)
		return pve_error_set(err, h->err->code, "%s", h->err->message);
	size_t fed = http_parser_execute(&h->hp, &settings, len ? data : NULL, len);
	h->seen += len;
	h->consumed += fed;
	if (h->done)
		return 1;
	if (h->err)
		return pve_error_set(err, h->err->code, "%s", h->err->message);
	enum http_errno e = HTTP_PARSER_ERRNO(&h->hp);
	if (e == HPE_INVALID_EOF_STATE || (len == 0 && e == HPE_OK))
		return pve_error_set(err, EPIPE,
				     h->seen ? "the connection closed before the response ended" :
					       "the connection closed without a response");
	if (e != HPE_OK || fed != len)
		return pve_error_set(err, EPROTO, "malformed HTTP response: %s",
				     http_errno_description(e));
	return 0;
}
