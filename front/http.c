/* HTTP/1.1 for pved-api: request parsing through http-parser with Proxmox's limits, and the pieces of an
 * answer (status line and headers, gzip, the ExtJS rewrite, websocket accept keys), all without I/O. */
#include <http_parser.h>
#include <limits.h>
#include <openssl/evp.h>
#include <strings.h>
#include <zlib.h>

#include "front/front-internal.h"

struct pve_http_parser {
	http_parser hp;
	pve_http_request *cur;
	pve_buf url, field, value, body;
	bool in_value; /* the last header callback was a value: a new field starts a new header */
	bool started;
	bool done;
	bool dead;
	bool want_continue; /* Expect: 100-continue was asked for and not yet answered */
	int status;
	pve_error *err;
};

void pve_http_request_free(pve_http_request *r)
{
	if (!r)
		return;
	free(r->method);
	free(r->url);
	for (size_t i = 0; i < r->n_headers; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->body);
	free(r);
}

const char *pve_http_request_header(const pve_http_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static int fail(pve_http_parser *p, int status, int code, const char *msg)
{
	p->status = status;
	pve_error_set(&p->err, code, "%s", msg);
	return -1;
}

static pve_http_parser *parser_of(http_parser *hp)
{
	return hp->data;
}

static int on_message_begin(http_parser *hp)
{
	pve_http_parser *p = parser_of(hp);
	pve_http_request_free(p->cur);
	p->cur = xcalloc(1, sizeof(*p->cur));
	p->url.len = p->field.len = p->value.len = p->body.len = 0;
	p->in_value = false;
	p->started = true;
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
	pve_http_parser *p = parser_of(hp);
	if (p->url.len + len > PVE_HTTP_MAX_URL)
		return fail(p, 414, E2BIG, "request URI too long (limit 8 KiB)");
	pve_buf_append(&p->url, at, len);
	return 0;
}

static int commit_header(pve_http_parser *p)
{
	pve_http_request *r = p->cur;
	if (r->n_headers >= PVE_HTTP_MAX_HEADERS)
		return fail(p, 431, E2BIG, "too many header lines (limit 64)");
	if (memchr(p->field.data ? p->field.data : "", '\0', p->field.len) ||
	    memchr(p->value.data ? p->value.data : "", '\0', p->value.len))
		return fail(p, 400, EINVAL, "NUL byte in a header");
	r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof(*r->headers));
	r->headers[r->n_headers++] = (pve_http_header){
		.name = xstrndup(p->field.data ? p->field.data : "", p->field.len),
		.value = xstrndup(p->value.data ? p->value.data : "", p->value.len),
	};
	p->field.len = p->value.len = 0;
	p->in_value = false;
	return 0;
}

static int check_line(pve_http_parser *p)
{
	if (p->field.len + p->value.len + 2 > PVE_HTTP_MAX_HEADER_LINE)
		return fail(p, 431, E2BIG, "header line too long (limit 8 KiB)");
	return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	pve_http_parser *p = parser_of(hp);
	if (p->in_value && commit_header(p) < 0)
		return -1;
	pve_buf_append(&p->field, at, len);
	return check_line(p);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	pve_http_parser *p = parser_of(hp);
	p->in_value = true;
	pve_buf_append(&p->value, at, len);
	return check_line(p);
}

bool pve_http_is_upload_path(const char *path)
{
	/* "/nodes/N/storage/S/upload": five segments, none empty. */
	static const char *const want[] = { "nodes", NULL, "storage", NULL, "upload" };
	const char *s = path;
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		if (*s != '/')
			return false;
		s++;
		size_t n = strcspn(s, "/");
		if (n == 0 || (want[i] && (strlen(want[i]) != n || strncmp(s, want[i], n) != 0)))
			return false;
		s += n;
	}
	return *s == '\0';
}

/* A POST to the upload path: its body is streamed, not held (Proxmox takes large bodies only there). */
static bool is_upload(pve_http_parser *p)
{
	if (p->hp.method != HTTP_POST)
		return false;
	_cleanup_free_ char *rest = NULL;
	_cleanup_free_ char *url = xstrndup(p->url.data ? p->url.data : "", p->url.len);
	int t = pve_front_classify(url, &rest, NULL);
	return (t == PVE_FRONT_API || t == PVE_FRONT_EXTJS) && pve_http_is_upload_path(rest);
}

static int on_headers_complete(http_parser *hp)
{
	pve_http_parser *p = parser_of(hp);
	if ((p->in_value || p->field.len) && commit_header(p) < 0)
		return -1;
	/* An upload's body is not ours to read: the request ends with its headers for http-parser (1:
	 * skip the body), and the caller takes content_length bytes from the connection. */
	bool upload = !memchr(p->url.data ? p->url.data : "", '\0', p->url.len) && is_upload(p);
	if (upload && (hp->content_length == ULLONG_MAX || (hp->flags & F_CHUNKED)))
		return fail(p, 411, EINVAL, "upload without content length header not supported");
	/* A declared length over the limit is refused before a byte of it is read. */
	if (!upload && hp->content_length != ULLONG_MAX && hp->content_length > PVE_HTTP_MAX_BODY)
		return fail(p, 413, E2BIG, "request body too large (limit 512 KiB)");
	if (memchr(p->url.data ? p->url.data : "", '\0', p->url.len))
		return fail(p, 400, EINVAL, "NUL byte in the request URI");
	pve_http_request *r = p->cur;
	r->method = xstrdup(http_method_str((enum http_method)hp->method));
	r->url = xstrndup(p->url.data ? p->url.data : "", p->url.len);
	r->http_major = hp->http_major;
	r->http_minor = hp->http_minor;
	r->upgrade = hp->upgrade;
	const char *expect = pve_http_request_header(r, "Expect");
	p->want_continue = expect && strcasecmp(expect, "100-continue") == 0 &&
			   hp->http_minor >= 1 && hp->content_length != ULLONG_MAX &&
			   hp->content_length > 0;
	if (upload) {
		r->stream_body = true;
		r->content_length = hp->content_length;
		p->want_continue = false; /* the caller answers it when it takes the body */
		return 1;
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	pve_http_parser *p = parser_of(hp);
	if (p->body.len + len > PVE_HTTP_MAX_BODY)
		return fail(p, 413, E2BIG, "request body too large (limit 512 KiB)");
	pve_buf_append(&p->body, at, len);
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	pve_http_parser *p = parser_of(hp);
	pve_http_request *r = p->cur;
	r->body = xmalloc(p->body.len + 1);
	if (p->body.len)
		memcpy(r->body, p->body.data, p->body.len);
	r->body[p->body.len] = '\0';
	r->body_len = p->body.len;
	/* An upgrade is not proxied yet: the answer ends the connection. */
	r->keep_alive = http_should_keep_alive(hp) && !r->upgrade;
	p->done = true;
	p->want_continue = false;
	/* Stop right after this request: a pipelined one waits until this one is answered. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

pve_http_parser *pve_http_parser_new(void)
{
	pve_http_parser *p = xcalloc(1, sizeof(*p));
	http_parser_init(&p->hp, HTTP_REQUEST);
	p->hp.data = p;
	return p;
}

void pve_http_parser_free(pve_http_parser *p)
{
	if (!p)
		return;
	pve_http_request_free(p->cur);
	pve_buf_free(&p->url);
	pve_buf_free(&p->field);
	pve_buf_free(&p->value);
	pve_buf_free(&p->body);
	pve_error_free(p->err);
	free(p);
}

bool pve_http_parser_started(const pve_http_parser *p)
{
	return p->started;
}

bool pve_http_parser_take_continue(pve_http_parser *p)
{
	bool r = p->want_continue && !p->done && !p->dead;
	p->want_continue = false;
	return r;
}

ssize_t pve_http_parser_feed(pve_http_parser *p, const char *data, size_t len,
			     pve_http_request **ret, int *ret_status, pve_error **err)
{
	*ret = NULL;
	if (p->dead) {
		*ret_status = 400;
		return pve_error_set(err, EPROTO, "connection unusable after a bad request");
	}
	if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED)
		http_parser_pause(&p->hp, 0);
	if (len == 0)
		return 0;
	size_t n = http_parser_execute(&p->hp, &settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
	if (e != HPE_OK && e != HPE_PAUSED) {
		p->dead = true;
		pve_http_request_free(p->cur);
		p->cur = NULL;
		if (p->err) {
			*ret_status = p->status;
			int code = p->err->code;
			if (err && !*err)
				*err = TAKE_PTR(p->err);
			return -code;
		}
		*ret_status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
		return pve_error_set(err, EINVAL, "malformed HTTP request: %s",
				     http_errno_description(e));
	}
	if (p->done) {
		p->done = false;
		p->started = false;
		*ret = TAKE_PTR(p->cur);
	}
	return (ssize_t)n;
}

/* ---- answers --------------------------------------------------------------------------------------- */

const char *pve_http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

char *pve_http_reason_sanitize(int status, const char *reason)
{
	pve_buf b = { 0 };
	bool space = false;
	for (const unsigned char *s = (const unsigned char *)(reason ? reason : "");
	     *s && b.len < 256; s++) {
		if (*s < 0x20 || *s >= 0x7f || *s == ' ') {
			/* Line breaks and tabs become one space; other control characters go. */
			if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
				space = b.len > 0;
			continue;
		}
		if (space && b.len + 2 > 256)
			break;
		if (space)
			pve_buf_append(&b, " ", 1);
		space = false;
		pve_buf_append(&b, s, 1);
	}
	if (b.len == 0) {
		pve_buf_free(&b);
		return xstrdup(pve_http_status_text(status));
	}
	return pve_buf_steal(&b);
}

void pve_http_date(time_t t, char buf[static 64])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, 64, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	/* By hand rather than strftime: the names must be English whatever the locale. */
	snprintf(buf, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool pve_http_accepts_gzip(const char *ae)
{
	if (!ae)
		return false;
	for (const char *s = ae; *s;) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		const char *tok = s;
		while (*s && *s != ',' && *s != ';' && *s != ' ' && *s != '\t')
			s++;
		size_t toklen = (size_t)(s - tok);
		double q = 1.0;
		while (*s && *s != ',') {
			if (*s == ';') {
				s++;
				while (*s == ' ' || *s == '\t')
					s++;
				if ((s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
					char *end;
					q = strtod(s + 2, &end);
					s = end;
					continue;
				}
			}
			if (*s && *s != ',')
				s++;
		}
		if (((toklen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
		     (toklen == 1 && tok[0] == '*')) &&
		    q > 0)
			return true;
	}
	return false;
}

int pve_http_gzip(const void *data, size_t len, pve_buf *out, pve_error **err)
{
	z_stream zs = { 0 };
	/* 15 + 16: a gzip wrapper rather than zlib's, as Content-Encoding: gzip means. */
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return pve_error_set(err, ENOMEM, "deflateInit2 failed");
	uLong bound = deflateBound(&zs, (uLong)len) + 32;
	pve_buf_append(out, "", 0);
	size_t start = out->len;
	out->data = xrealloc(out->data, start + bound + 1);
	out->cap = start + bound + 1;
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->data + start;
	zs.avail_out = (uInt)bound;
	int r = deflate(&zs, Z_FINISH);
	size_t produced = bound - zs.avail_out;
	deflateEnd(&zs);
	if (r != Z_STREAM_END)
		return pve_error_set(err, EIO, "gzip compression failed (%d)", r);
	out->len = start + produced;
	out->data[out->len] = '\0';
	return 0;
}

struct pve_http_gzip_stream {
	z_stream zs;
};

pve_http_gzip_stream *pve_http_gzip_stream_new(void)
{
	pve_http_gzip_stream *z = xcalloc(1, sizeof(*z));
	/* 15 + 16: a gzip wrapper, as Content-Encoding: gzip means. Level 1, as nginx's default: a long
	 * answer's compression costs a third of level 6's time for a few percent more bytes. */
	if (deflateInit2(&z->zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

int pve_http_gzip_stream_write(pve_http_gzip_stream *z, const void *data, size_t len, bool finish,
			       pve_buf *out, pve_error **err)
{
	z->zs.next_in = (Bytef *)(uintptr_t)data;
	z->zs.avail_in = (uInt)len;
	for (;;) {
		char tmp[16384];
		z->zs.next_out = (Bytef *)tmp;
		z->zs.avail_out = sizeof(tmp);
		int r = deflate(&z->zs, finish ? Z_FINISH : Z_NO_FLUSH);
		if (r == Z_STREAM_ERROR)
			return pve_error_set(err, EIO, "gzip compression failed (%d)", r);
		pve_buf_append(out, tmp, sizeof(tmp) - z->zs.avail_out);
		if (finish ? r == Z_STREAM_END : z->zs.avail_in == 0 && z->zs.avail_out != 0)
			return 0;
	}
}

void pve_http_gzip_stream_free(pve_http_gzip_stream *z)
{
	if (!z)
		return;
	deflateEnd(&z->zs);
	free(z);
}

void pve_http_chunk(pve_buf *out, const void *data, size_t len)
{
	if (len == 0) {
		pve_buf_puts(out, "0\r\n\r\n");
		return;
	}
	pve_buf_printf(out, "%zx\r\n", len);
	pve_buf_append(out, data, len);
	pve_buf_puts(out, "\r\n");
}

void pve_http_response_head(pve_buf *out, int status, const char *reason, const char *content_type,
			    int64_t content_length, unsigned flags, time_t now)
{
	char date[64];
	pve_http_date(now, date);
	_cleanup_free_ char *safe = pve_http_reason_sanitize(status, reason);
	pve_buf_printf(out,
		       "HTTP/1.1 %d %s\r\n"
		       "Cache-Control: max-age=0\r\n"
		       "Connection: %s\r\n"
		       "Date: %s\r\n"
		       "Pragma: no-cache\r\n"
		       "Server: pve-api-daemon/3.0\r\n",
		       status, safe, flags & PVE_HTTP_HEAD_KEEP_ALIVE ? "Keep-Alive" : "close",
		       date);
	if (content_length >= 0)
		pve_buf_printf(out, "Content-Length: %lld\r\n", (long long)content_length);
	else if (flags & PVE_HTTP_HEAD_CHUNKED)
		pve_buf_puts(out, "Transfer-Encoding: chunked\r\n");
	pve_buf_printf(out,
		       "Content-Type: %s\r\n"
		       "Expires: %s\r\n",
		       content_type, date);
	if (flags & PVE_HTTP_HEAD_GZIP)
		pve_buf_puts(out, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
	pve_buf_puts(out, "\r\n");
}

char *pve_http_error_body(const char *message)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNullToObject(o, "data");
	cJSON_AddStringToObject(o, "message", message ? message : "");
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	return s;
}

char *pve_http_param_error_body(const char *param, const char *message)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNullToObject(o, "data");
	cJSON *errors = cJSON_AddObjectToObject(o, "errors");
	cJSON_AddStringToObject(errors, param, message ? message : "");
	cJSON_AddStringToObject(o, "message", "Parameter verification failed.\n");
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	return s;
}

char *pve_http_extjs_body(int status, const char *reason, const char *body, size_t len)
{
	cJSON *in = cJSON_ParseWithLength(body, len);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "success", status == 200 ? 1 : 0);
	cJSON_AddNumberToObject(o, "status", status);
	cJSON *data = cJSON_IsObject(in) ? cJSON_DetachItemFromObjectCaseSensitive(in, "data") :
					   NULL;
	cJSON_AddItemToObject(o, "data", data ? data : cJSON_CreateNull());
	static const char *const keep[] = { "errors", "total", "changes" };
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		cJSON *v = cJSON_IsObject(in) ?
				   cJSON_DetachItemFromObjectCaseSensitive(in, keep[i]) :
				   NULL;
		if (v)
			cJSON_AddItemToObject(o, keep[i], v);
	}
	cJSON *msg = cJSON_IsObject(in) ? cJSON_GetObjectItemCaseSensitive(in, "message") : NULL;
	if (cJSON_IsString(msg))
		cJSON_AddStringToObject(o, "message", msg->valuestring);
	else if (status != 200 && reason)
		cJSON_AddStringToObject(o, "message", reason);
	cJSON_Delete(in);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	return s;
}

const char *pve_http_mime_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "html", "text/html; charset=utf-8" },
		{ "htm", "text/html; charset=utf-8" },
		{ "js", "application/javascript" },
		{ "mjs", "application/javascript" },
		{ "css", "text/css" },
		{ "json", "application/json" },
		{ "map", "application/json" },
		{ "png", "image/png" },
		{ "gif", "image/gif" },
		{ "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },
		{ "svg", "image/svg+xml" },
		{ "ico", "image/x-icon" },
		{ "woff", "font/woff" },
		{ "woff2", "font/woff2" },
		{ "ttf", "font/ttf" },
		{ "otf", "font/otf" },
		{ "eot", "application/vnd.ms-fontobject" },
		{ "wasm", "application/wasm" },
		{ "txt", "text/plain; charset=utf-8" },
		{ "xml", "application/xml" },
	};
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');
	if (dot)
		for (size_t i = 0; i < ELEMENTSOF(types); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

char *pve_http_websocket_accept(const char *key)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	/* The key is 16 random bytes in base64: 24 characters. */
	if (!key || strlen(key) != 24)
		return NULL;
	unsigned char raw[18];
	if (EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 || key[22] != '=' ||
	    key[23] != '=')
		return NULL;
	_cleanup_free_ char *cat = xasprintf("%s%s", key, guid);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return NULL;
	char *out = xmalloc(4 * ((mdlen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return out;
}

static bool header_has_token(const char *value, const char *token)
{
	if (!value)
		return false;
	size_t tl = strlen(token);
	for (const char *s = value; *s;) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		const char *t = s;
		while (*s && *s != ',')
			s++;
		const char *e = s;
		while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - t) == tl && strncasecmp(t, token, tl) == 0)
			return true;
	}
	return false;
}

bool pve_http_is_websocket(const pve_http_request *r)
{
	const char *v = pve_http_request_header(r, "Sec-WebSocket-Version");
	return strcmp(r->method, "GET") == 0 &&
	       header_has_token(pve_http_request_header(r, "Upgrade"), "websocket") && v &&
	       strcmp(v, "13") == 0 && pve_http_request_header(r, "Sec-WebSocket-Key");
}
