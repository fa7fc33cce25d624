/* client: HTTP/1.1 responses through http-parser, which frames them (Content-Length, chunked, or up
 * to the close), with the client's limits on the head and the body. */
#include <limits.h>

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

static int on_header_part(http_parser *hp, const char *at, size_t len)
{
	(void)at;
	return head_bytes(http_of(hp), len);
}

static int on_headers_complete(http_parser *hp)
{
	pve_client_http *h = http_of(hp);
	h->status = hp->status_code;
	if (h->status < 100 || h->status > 599) {
		pve_error_set(&h->err, EPROTO, "malformed HTTP status line");
		return -1;
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
	if (len > h->max_body - h->body.len) {
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
	if (hp->content_length > h->max_body - h->body.len) {
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
	.on_header_field = on_header_part,
	.on_header_value = on_header_part,
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

void pve_client_http_clear(pve_client_http *h)
{
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
