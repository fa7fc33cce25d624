/* The wire codec: frames between pved-api, pved and pvectl, and the request and response payloads. */
#include "api/api.h"

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pve_wire_header_encode(uint8_t buf[PVE_WIRE_HEADER_SIZE], const pve_wire_header *h)
{
	put_u32(buf, h->len);
	put_u16(buf + 4, h->type);
	put_u16(buf + 6, h->flags);
	put_u32(buf + 8, h->id);
}

int pve_wire_header_decode(const uint8_t buf[PVE_WIRE_HEADER_SIZE], pve_wire_header *ret,
			   pve_error **err)
{
	pve_wire_header h = {
		.len = get_u32(buf),
		.type = get_u16(buf + 4),
		.flags = get_u16(buf + 6),
		.id = get_u32(buf + 8),
	};
	if (h.len > PVE_WIRE_MAX_FRAME)
		return pve_error_set(err, EMSGSIZE, "frame of %u bytes exceeds the limit of %u",
				     h.len, PVE_WIRE_MAX_FRAME);
	if (h.type < PVE_WIRE_REQUEST || h.type > PVE_WIRE_FILE)
		return pve_error_set(err, EPROTO, "unknown frame type %u", h.type);
	*ret = h;
	return 0;
}

void pve_wire_append_frame(pve_buf *out, uint16_t type, uint16_t flags, uint32_t id,
			   const void *payload, size_t len)
{
	uint8_t hdr[PVE_WIRE_HEADER_SIZE];
	pve_wire_header_encode(hdr, &(pve_wire_header){ (uint32_t)len, type, flags, id });
	pve_buf_append(out, hdr, sizeof(hdr));
	pve_buf_append(out, payload, len);
}

void pve_wire_append_request(pve_buf *out, uint32_t id, const char *payload, size_t len)
{
	pve_wire_append_frame(out, PVE_WIRE_REQUEST, PVE_WIRE_FIN, id, payload, len);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static size_t reason_len(const char *reason)
{
	return strnlen(reason, 1024);
}

size_t pve_wire_response_room(const char *reason)
{
	return PVE_WIRE_MAX_FRAME - 4 - reason_len(reason) - 8 - 2 - PVE_WIRE_MAX_FILE_META;
}

void pve_wire_append_response_start_file(pve_buf *out, uint32_t id, int status, const char *reason,
					 uint64_t total, const char *meta, size_t meta_len,
					 const void *body, size_t len, bool fin)
{
	size_t rlen = reason_len(reason);
	bool sized = total != PVE_WIRE_NO_LENGTH;
	if (meta_len > PVE_WIRE_MAX_FILE_META)
		meta_len = PVE_WIRE_MAX_FILE_META;
	uint8_t hdr[PVE_WIRE_HEADER_SIZE], head[4], size[8], mlen[2];
	uint16_t flags = (fin ? PVE_WIRE_FIN : 0) | (sized ? PVE_WIRE_LENGTH : 0) |
			 (meta ? PVE_WIRE_FILE_BODY : 0);
	pve_wire_header_encode(hdr, &(pve_wire_header){ (uint32_t)(4 + rlen + (sized ? 8 : 0) +
								   (meta ? 2 + meta_len : 0) + len),
							PVE_WIRE_RESPONSE, flags, id });
	put_u16(head, (uint16_t)status);
	put_u16(head + 2, (uint16_t)rlen);
	pve_buf_append(out, hdr, sizeof(hdr));
	pve_buf_append(out, head, sizeof(head));
	pve_buf_append(out, reason, rlen);
	if (sized) {
		put_u64(size, total);
		pve_buf_append(out, size, sizeof(size));
	}
	if (meta) {
		put_u16(mlen, (uint16_t)meta_len);
		pve_buf_append(out, mlen, sizeof(mlen));
		pve_buf_append(out, meta, meta_len);
	}
	pve_buf_append(out, body, len);
}

void pve_wire_append_response_start(pve_buf *out, uint32_t id, int status, const char *reason,
				    uint64_t total, const void *body, size_t len, bool fin)
{
	pve_wire_append_response_start_file(out, id, status, reason, total, NULL, 0, body, len,
					    fin);
}

void pve_wire_file_meta_clear(pve_wire_file_meta *m)
{
	free(m->content_type);
	free(m->filename);
	*m = (pve_wire_file_meta){ 0 };
}

char *pve_wire_file_meta_encode(const pve_wire_file_meta *m, size_t *ret_len)
{
	char *s = xasprintf("%s%c%s%c%s", m->content_type ? m->content_type : "", 0,
			    m->filename ? m->filename : "", 0, m->gzip ? "gzip" : "");
	size_t a = strlen(s), b = strlen(s + a + 1), c = strlen(s + a + 1 + b + 1);
	*ret_len = a + 1 + b + 1 + c;
	return s;
}

bool pve_wire_file_meta_value_ok(const char *s, size_t n)
{
	if (n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

static int meta_decode(const uint8_t *p, size_t n, pve_wire_file_meta *m, pve_error **err)
{
	const char *s = (const char *)p, *end = s + n;
	const char *parts[3];
	size_t lens[3];
	for (int i = 0; i < 3; i++) {
		const char *z = i < 2 ? memchr(s, 0, (size_t)(end - s)) : end;
		if (!z)
			return pve_error_set(err, EPROTO, "file description malformed");
		parts[i] = s;
		lens[i] = (size_t)(z - s);
		if (!pve_wire_file_meta_value_ok(parts[i], lens[i]))
			return pve_error_set(err, EPROTO, "file description malformed");
		s = z < end ? z + 1 : end;
	}
	if (!lens[0] || (lens[2] && (lens[2] != 4 || memcmp(parts[2], "gzip", 4) != 0)))
		return pve_error_set(err, EPROTO, "file description malformed");
	m->content_type = xstrndup(parts[0], lens[0]);
	m->filename = lens[1] ? xstrndup(parts[1], lens[1]) : NULL;
	m->gzip = lens[2] != 0;
	return 0;
}

void pve_wire_append_response(pve_buf *out, uint32_t id, int status, const char *reason,
			      const char *body, size_t body_len)
{
	size_t first = pve_wire_response_room(reason);
	if (first > body_len)
		first = body_len;
	pve_wire_append_response_start(out, id, status, reason, body_len, body, first,
				       first == body_len);
	for (size_t off = first; off < body_len;) {
		size_t n = body_len - off;
		if (n > PVE_WIRE_MAX_FRAME)
			n = PVE_WIRE_MAX_FRAME;
		off += n;
		pve_wire_append_frame(out, PVE_WIRE_DATA, off == body_len ? PVE_WIRE_FIN : 0, id,
				      body + off - n, n);
	}
}

void pve_wire_append_response_head(pve_buf *out, uint32_t id, int status, const char *reason)
{
	pve_wire_append_response_start(out, id, status, reason, PVE_WIRE_NO_LENGTH, NULL, 0, false);
}

int pve_wire_response_decode(const void *payload, size_t len, uint16_t flags, int *ret_status,
			     char **ret_reason, uint64_t *ret_total, const char **ret_body,
			     size_t *ret_body_len, pve_error **err)
{
	return pve_wire_response_decode_file(payload, len, flags, ret_status, ret_reason, ret_total,
					     NULL, ret_body, ret_body_len, err);
}

int pve_wire_response_decode_file(const void *payload, size_t len, uint16_t flags, int *ret_status,
				  char **ret_reason, uint64_t *ret_total,
				  pve_wire_file_meta *ret_meta, const char **ret_body,
				  size_t *ret_body_len, pve_error **err)
{
	const uint8_t *p = payload;
	if (len < 4)
		return pve_error_set(err, EPROTO, "response frame too short");
	uint16_t status = get_u16(p), rlen = get_u16(p + 2);
	size_t off = 4 + (size_t)rlen;
	if (rlen > len - 4)
		return pve_error_set(err, EPROTO, "response reason overruns its frame");
	if (status < 100 || status > 599)
		return pve_error_set(err, EPROTO, "invalid response status %u", status);
	uint64_t total = PVE_WIRE_NO_LENGTH;
	if (flags & PVE_WIRE_LENGTH) {
		if (len - off < 8)
			return pve_error_set(err, EPROTO, "response length overruns its frame");
		total = get_u64(p + off);
		off += 8;
	}
	pve_wire_file_meta meta = { 0 };
	if (flags & PVE_WIRE_FILE_BODY) {
		if (len - off < 2)
			return pve_error_set(err, EPROTO, "file description overruns its frame");
		size_t mlen = get_u16(p + off);
		off += 2;
		if (mlen > PVE_WIRE_MAX_FILE_META || mlen > len - off)
			return pve_error_set(err, EPROTO, "file description overruns its frame");
		if (ret_meta && meta_decode(p + off, mlen, &meta, err) < 0)
			return -EPROTO;
		off += mlen;
	}
	if ((flags & PVE_WIRE_LENGTH) && (total == PVE_WIRE_NO_LENGTH || total < len - off)) {
		pve_wire_file_meta_clear(&meta);
		return pve_error_set(err, EPROTO, "response longer than its length");
	}
	if (ret_meta)
		*ret_meta = meta;
	*ret_status = status;
	*ret_reason = xstrndup((const char *)p + 4, rlen);
	*ret_total = total;
	*ret_body = (const char *)p + off;
	*ret_body_len = len - off;
	return 0;
}

void pve_wire_append_window(pve_buf *out, uint32_t id, uint32_t grant)
{
	uint8_t p[4];
	put_u32(p, grant);
	pve_wire_append_frame(out, PVE_WIRE_WINDOW, 0, id, p, sizeof(p));
}

int pve_wire_window_decode(const void *payload, size_t len, uint32_t *ret, pve_error **err)
{
	if (len != 4)
		return pve_error_set(err, EPROTO, "window frame of %zu bytes", len);
	*ret = get_u32(payload);
	return 0;
}

/* ---- an upload's form --------------------------------------------------------------------------------- */

static void put_str16(pve_buf *out, const char *s, size_t len)
{
	uint8_t l[2];
	put_u16(l, (uint16_t)len);
	pve_buf_append(out, l, sizeof(l));
	pve_buf_append(out, s, len);
}

/* A string of the form: within max bytes, UTF-8, no NUL (what pved takes from the front is checked
 * again, as the local socket has no front). */
static int check_text(const char *what, const char *s, size_t len, size_t max, pve_error **err)
{
	if (len > max)
		return pve_error_set(err, E2BIG, "%s too long (at most %zu bytes)", what, max);
	if (memchr(s, '\0', len))
		return pve_error_set(err, EINVAL, "NUL character in %s", what);
	if (!pve_utf8_valid(s, len))
		return pve_error_set(err, EINVAL, "%s is not valid UTF-8", what);
	return 0;
}

/* Takes a u16-length string at *off; a copy. */
static int take_str16(const uint8_t *p, size_t len, size_t *off, const char *what, size_t max,
		      char **ret, pve_error **err)
{
	if (len - *off < 2)
		return pve_error_set(err, EPROTO, "%s overruns its frame", what);
	size_t n = get_u16(p + *off);
	*off += 2;
	if (len - *off < n)
		return pve_error_set(err, EPROTO, "%s overruns its frame", what);
	int r = check_text(what, (const char *)p + *off, n, max, err);
	if (r < 0)
		return r;
	*ret = xstrndup((const char *)p + *off, n);
	*off += n;
	return 0;
}

void pve_wire_append_field(pve_buf *out, uint32_t id, const char *name, const char *value,
			   size_t value_len)
{
	pve_buf p = { 0 };
	put_str16(&p, name, strnlen(name, PVE_WIRE_MAX_FIELD_NAME));
	pve_buf_append(&p, value, value_len);
	pve_wire_append_frame(out, PVE_WIRE_FIELD, 0, id, p.data, p.len);
	pve_buf_free(&p);
}

int pve_wire_field_decode(const void *payload, size_t len, char **ret_name, char **ret_value,
			  pve_error **err)
{
	const uint8_t *p = payload;
	size_t off = 0;
	_cleanup_free_ char *name = NULL;
	int r = take_str16(p, len, &off, "form field name", PVE_WIRE_MAX_FIELD_NAME, &name, err);
	if (r < 0)
		return r;
	_cleanup_error_ pve_error *e = NULL;
	r = check_text("value", (const char *)p + off, len - off, PVE_WIRE_MAX_FIELD_VALUE, &e);
	if (r < 0)
		return pve_error_set_param(err, -r, name, "%s", e->message);
	*ret_value = xstrndup((const char *)p + off, len - off);
	*ret_name = TAKE_PTR(name);
	return 0;
}

void pve_wire_append_file(pve_buf *out, uint32_t id, const char *name, const char *filename,
			  const char *content_type)
{
	pve_buf p = { 0 };
	put_str16(&p, name, strnlen(name, PVE_WIRE_MAX_FIELD_NAME));
	put_str16(&p, filename, strnlen(filename, PVE_WIRE_MAX_FILENAME));
	/* No type and an empty one are the same to pved. */
	put_str16(&p, content_type ? content_type : "",
		  content_type ? strnlen(content_type, PVE_WIRE_MAX_FIELD_VALUE) : 0);
	pve_wire_append_frame(out, PVE_WIRE_FILE, 0, id, p.data, p.len);
	pve_buf_free(&p);
}

int pve_wire_file_decode(const void *payload, size_t len, char **ret_name, char **ret_filename,
			 char **ret_type, pve_error **err)
{
	const uint8_t *p = payload;
	size_t off = 0;
	_cleanup_free_ char *name = NULL, *filename = NULL, *type = NULL;
	int r = take_str16(p, len, &off, "file part name", PVE_WIRE_MAX_FIELD_NAME, &name, err);
	if (r == 0)
		r = take_str16(p, len, &off, "file name", PVE_WIRE_MAX_FILENAME, &filename, err);
	if (r == 0)
		r = take_str16(p, len, &off, "file part type", PVE_WIRE_MAX_FIELD_VALUE, &type,
			       err);
	if (r < 0)
		return r;
	if (off != len)
		return pve_error_set(err, EPROTO, "file frame has %zu bytes too many", len - off);
	*ret_name = TAKE_PTR(name);
	*ret_filename = TAKE_PTR(filename);
	*ret_type = type[0] ? TAKE_PTR(type) : NULL;
	return 0;
}

/* ---- request payloads: a JSON object ---------------------------------------------------------------- */

static void add_opt(cJSON *o, const char *name, const char *value)
{
	if (value)
		cJSON_AddStringToObject(o, name, value);
}

int pve_request_encode(const pve_request *r, char **ret_payload, size_t *ret_len, pve_error **err)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "method", r->method);
	cJSON_AddStringToObject(o, "path", r->path);
	cJSON_AddItemToObject(o, "params",
			      r->params ? cJSON_Duplicate(r->params, true) : cJSON_CreateObject());
	add_opt(o, "ticket", r->ticket);
	add_opt(o, "csrf", r->csrf);
	add_opt(o, "token", r->token);
	add_opt(o, "client", r->client);
	if (r->websocket)
		cJSON_AddTrueToObject(o, "websocket");
	if (r->window)
		cJSON_AddNumberToObject(o, "window", r->window);
	if (r->upload) {
		cJSON_AddTrueToObject(o, "upload");
		add_opt(o, "upload_type", r->upload_type);
		cJSON_AddNumberToObject(o, "upload_length", (double)r->upload_length);
	}
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		abort();
	size_t len = strlen(s);
	if (len > PVE_WIRE_MAX_FRAME) {
		free(s);
		return pve_error_set(err, EMSGSIZE, "request of %zu bytes exceeds the frame limit",
				     len);
	}
	*ret_payload = s;
	*ret_len = len;
	return 0;
}

/* The front's JSON depth limit plus the request's own envelope. */
#define PVE_HTTP_WIRE_MAX_DEPTH 40

static int take_str(const cJSON *o, const char *name, bool required, char **ret, pve_error **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!v) {
		if (required)
			return pve_error_set(err, EPROTO, "request lacks '%s'", name);
		return 0;
	}
	if (!cJSON_IsString(v))
		return pve_error_set(err, EPROTO, "request field '%s' is not a string", name);
	*ret = xstrdup(v->valuestring);
	return 0;
}

int pve_request_decode(const void *payload, size_t len, pve_request **ret, pve_error **err)
{
	if (len > PVE_WIRE_MAX_FRAME)
		return pve_error_set(err, EMSGSIZE, "request exceeds the frame limit");
	/* Our own encoding, but it crossed a process boundary from the unprivileged side (or came from
	 * a local client, which no front checked): the common reader's rules again, so every string
	 * pved takes from here is UTF-8 without a NUL. */
	_cleanup_error_ pve_error *e = NULL;
	cJSON *o = pve_json_parse(payload, len, PVE_WIRE_MAX_FRAME, PVE_HTTP_WIRE_MAX_DEPTH, &e);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return pve_error_set(err, EPROTO, "request is not a JSON object%s%s", e ? ": " : "",
				     e ? e->message : "");
	}
	pve_request *r = xcalloc(1, sizeof(*r));
	int ret_code;
	if ((ret_code = take_str(o, "method", true, &r->method, err)) < 0 ||
	    (ret_code = take_str(o, "path", true, &r->path, err)) < 0 ||
	    (ret_code = take_str(o, "ticket", false, &r->ticket, err)) < 0 ||
	    (ret_code = take_str(o, "csrf", false, &r->csrf, err)) < 0 ||
	    (ret_code = take_str(o, "token", false, &r->token, err)) < 0 ||
	    (ret_code = take_str(o, "client", false, &r->client, err)) < 0 ||
	    (ret_code = take_str(o, "upload_type", false, &r->upload_type, err)) < 0) {
		cJSON_Delete(o);
		pve_request_free(r);
		return ret_code;
	}
	r->websocket = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "websocket"));
	r->upload = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "upload"));
	const cJSON *ul = cJSON_GetObjectItemCaseSensitive(o, "upload_length");
	if (ul && (!cJSON_IsNumber(ul) || ul->valuedouble < 0 || ul->valuedouble > 0x1p53)) {
		cJSON_Delete(o);
		pve_request_free(r);
		return pve_error_set(err, EPROTO, "request field 'upload_length' is not a size");
	}
	r->upload_length = ul ? (uint64_t)ul->valuedouble : 0;
	const cJSON *win = cJSON_GetObjectItemCaseSensitive(o, "window");
	if (win &&
	    (!cJSON_IsNumber(win) || win->valuedouble < 1 || win->valuedouble > UINT32_MAX)) {
		cJSON_Delete(o);
		pve_request_free(r);
		return pve_error_set(err, EPROTO, "request field 'window' is not a size");
	}
	r->window = win ? (uint32_t)win->valuedouble : 0;
	cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(o, "params");
	cJSON_Delete(o);
	if (params && !cJSON_IsObject(params)) {
		cJSON_Delete(params);
		pve_request_free(r);
		return pve_error_set(err, EPROTO, "request parameters are not an object");
	}
	r->params = params ? params : cJSON_CreateObject();
	*ret = r;
	return 0;
}

void pve_request_free(pve_request *r)
{
	if (!r)
		return;
	free(r->method);
	free(r->path);
	cJSON_Delete(r->params);
	free(r->ticket);
	free(r->csrf);
	free(r->token);
	free(r->client);
	free(r->upload_type);
	free(r);
}
