/* Tests of the wire codec: frame headers, requests and responses split over frames. */
#include "api/api.h"
#include "tests/unit/test.h"

static void header_round_trip(void)
{
	uint8_t buf[PVE_WIRE_HEADER_SIZE];
	pve_wire_header h = { 1234, PVE_WIRE_RESPONSE, PVE_WIRE_FIN, 0xdeadbeef }, g;
	pve_wire_header_encode(buf, &h);
	check(buf[0] == 0xd2 && buf[1] == 0x04); /* little-endian on the wire */
	check(pve_wire_header_decode(buf, &g, NULL) == 0);
	check_int(g.len, 1234);
	check_int(g.type, PVE_WIRE_RESPONSE);
	check_int(g.flags, PVE_WIRE_FIN);
	check(g.id == 0xdeadbeef);
}

static void header_limits(void)
{
	uint8_t buf[PVE_WIRE_HEADER_SIZE];
	pve_wire_header g;
	_cleanup_error_ pve_error *err = NULL;
	pve_wire_header_encode(buf, &(pve_wire_header){ PVE_WIRE_MAX_FRAME + 1, PVE_WIRE_REQUEST, 0,
							1 });
	check_int(pve_wire_header_decode(buf, &g, &err), -EMSGSIZE);
	check(err && strstr(err->message, "exceeds"));
	pve_wire_header_encode(buf, &(pve_wire_header){ 0, PVE_WIRE_FILE, 0, 1 });
	check_int(pve_wire_header_decode(buf, &g, NULL), 0);
	pve_wire_header_encode(buf, &(pve_wire_header){ 0, PVE_WIRE_FILE + 1, 0, 1 });
	check_int(pve_wire_header_decode(buf, &g, NULL), -EPROTO);
	pve_wire_header_encode(buf, &(pve_wire_header){ 1, 99, 0, 1 });
	check_int(pve_wire_header_decode(buf, &g, NULL), -EPROTO);
	pve_wire_header_encode(buf, &(pve_wire_header){ 0, 0, 0, 1 });
	check_int(pve_wire_header_decode(buf, &g, NULL), -EPROTO);
}

static void request_round_trip(void)
{
	pve_request r = { .method = (char *)"POST",
			  .path = (char *)"/nodes/n1/startall",
			  .ticket = (char *)"PVE:a@pve:0::x",
			  .csrf = (char *)"00:y",
			  .client = (char *)"::1" };
	r.params = cJSON_CreateObject();
	cJSON_AddStringToObject(r.params, "force", "1");
	_cleanup_free_ char *payload = NULL;
	size_t len;
	check(pve_request_encode(&r, &payload, &len, NULL) == 0);
	pve_request *d = NULL;
	check(pve_request_decode(payload, len, &d, NULL) == 0);
	if (d) {
		check_streq(d->method, "POST");
		check_streq(d->path, "/nodes/n1/startall");
		check_streq(d->ticket, "PVE:a@pve:0::x");
		check_streq(d->csrf, "00:y");
		check(d->token == NULL);
		check_streq(d->client, "::1");
		check_streq(cJSON_GetObjectItem(d->params, "force")->valuestring, "1");
	}
	pve_request_free(d);
	cJSON_Delete(r.params);
}

static void request_decode_refuses(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"method\":1,\"path\":\"/\"}",
		"{\"path\":\"/\"}",
		"{\"method\":\"GET\"}",
		"{\"method\":\"GET\",\"path\":\"/\",\"params\":[]}",
		"{\"method\":\"GET\",\"path\":\"/\",\"token\":5}",
		/* pved re-checks what the front (or no front, on the local socket) sent. */
		"{\"method\":\"GET\",\"path\":\"/\",\"params\":{\"c\":\"\xff\"}}",
		"{\"method\":\"GET\",\"path\":\"/\",\"params\":{\"c\":\"a\\u0000b\"}}",
		"{\"method\":\"GET\",\"path\":\"/\xc0\xaf\"}",
		"{\"method\":\"GET\",\"path\":\"/\"} {}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_request *d = NULL;
		_cleanup_error_ pve_error *err = NULL;
		check(pve_request_decode(bad[i], strlen(bad[i]), &d, &err) < 0);
		check(d == NULL && err != NULL);
	}
	/* Nesting beyond the limit is refused before cJSON recurses. */
	pve_buf b = { 0 };
	pve_buf_puts(&b, "{\"method\":\"GET\",\"path\":\"/\",\"params\":{\"a\":");
	for (int i = 0; i < 100; i++)
		pve_buf_puts(&b, "[");
	for (int i = 0; i < 100; i++)
		pve_buf_puts(&b, "]");
	pve_buf_puts(&b, "}}");
	pve_request *d = NULL;
	check(pve_request_decode(b.data, b.len, &d, NULL) == -EPROTO);
	pve_buf_free(&b);
}

/* Walks the frames in buf: returns the body reassembled from RESPONSE and DATA frames. */
static char *reassemble(const pve_buf *frames, int *ret_status, uint64_t *ret_total,
			size_t *ret_frames)
{
	pve_buf body = { 0 };
	size_t off = 0, n = 0;
	bool fin = false;
	while (off < frames->len && !fin) {
		pve_wire_header h;
		check(pve_wire_header_decode((const uint8_t *)frames->data + off, &h, NULL) == 0);
		const char *p = frames->data + off + PVE_WIRE_HEADER_SIZE;
		if (h.type == PVE_WIRE_RESPONSE) {
			_cleanup_free_ char *reason = NULL;
			const char *b;
			size_t blen;
			uint64_t total;
			check(pve_wire_response_decode(p, h.len, h.flags, ret_status, &reason,
						       &total, &b, &blen, NULL) == 0);
			check_streq(reason, "OK");
			check(h.flags & PVE_WIRE_LENGTH);
			*ret_total = total;
			pve_buf_append(&body, b, blen);
		} else {
			check_int(h.type, PVE_WIRE_DATA);
			pve_buf_append(&body, p, h.len);
		}
		fin = h.flags & PVE_WIRE_FIN;
		off += PVE_WIRE_HEADER_SIZE + h.len;
		n++;
	}
	check(fin && off == frames->len);
	*ret_frames = n;
	return pve_buf_steal(&body);
}

static void response_split_over_frames(void)
{
	size_t sizes[] = { 0, 10, PVE_WIRE_MAX_FRAME - 6, PVE_WIRE_MAX_FRAME,
			   3 * PVE_WIRE_MAX_FRAME + 17 };
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		char *body = xmalloc(sizes[i] + 1);
		for (size_t j = 0; j < sizes[i]; j++)
			body[j] = (char)('a' + j % 26);
		pve_buf frames = { 0 };
		pve_wire_append_response(&frames, 7, 200, "OK", body, sizes[i]);
		int status = 0;
		size_t n = 0;
		uint64_t total = 0;
		_cleanup_free_ char *got = reassemble(&frames, &status, &total, &n);
		check_int(status, 200);
		check(total == sizes[i]);
		check(memcmp(got, body, sizes[i]) == 0);
		check(n >= 1);
		pve_buf_free(&frames);
		free(body);
	}
}

static void response_decode_refuses(void)
{
	int status;
	char *reason = NULL;
	const char *b;
	size_t blen;
	uint64_t total;
	check(pve_wire_response_decode("\xc8\x00", 2, 0, &status, &reason, &total, &b, &blen,
				       NULL) == -EPROTO);
	check(pve_wire_response_decode("\xc8\x00\x09\x00OK", 6, 0, &status, &reason, &total, &b,
				       &blen, NULL) == -EPROTO);
	check(pve_wire_response_decode("\x05\x00\x00\x00", 4, 0, &status, &reason, &total, &b,
				       &blen, NULL) == -EPROTO);
	/* A length that the frame overruns, a length cut short. */
	check(pve_wire_response_decode("\xc8\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
				       "ab",
				       14, PVE_WIRE_LENGTH, &status, &reason, &total, &b, &blen,
				       NULL) == -EPROTO);
	check(pve_wire_response_decode("\xc8\x00\x00\x00\x01\x00", 6, PVE_WIRE_LENGTH, &status,
				       &reason, &total, &b, &blen, NULL) == -EPROTO);
	check(reason == NULL);
}

/* A streamed answer's start: no length; a window frame; an upload's form frames and their checks. */
static void stream_and_form_frames(void)
{
	pve_buf f = { 0 };
	pve_wire_append_response_start(&f, 3, 200, "OK", PVE_WIRE_NO_LENGTH, "{\"da", 4, false);
	pve_wire_header h;
	check(pve_wire_header_decode((const uint8_t *)f.data, &h, NULL) == 0);
	check(!(h.flags & (PVE_WIRE_FIN | PVE_WIRE_LENGTH)));
	int status;
	_cleanup_free_ char *reason = NULL;
	const char *b;
	size_t blen;
	uint64_t total;
	check(pve_wire_response_decode(f.data + PVE_WIRE_HEADER_SIZE, h.len, h.flags, &status,
				       &reason, &total, &b, &blen, NULL) == 0);
	check(total == PVE_WIRE_NO_LENGTH && blen == 4 && memcmp(b, "{\"da", 4) == 0);
	pve_buf_free(&f);

	pve_wire_append_window(&f, 9, 131072);
	check(pve_wire_header_decode((const uint8_t *)f.data, &h, NULL) == 0);
	check_int(h.type, PVE_WIRE_WINDOW);
	uint32_t grant = 0;
	check(pve_wire_window_decode(f.data + PVE_WIRE_HEADER_SIZE, h.len, &grant, NULL) == 0);
	check_int(grant, 131072);
	check(pve_wire_window_decode("abc", 3, &grant, NULL) == -EPROTO);
	pve_buf_free(&f);

	pve_wire_append_field(&f, 4, "content", "iso", 3);
	check(pve_wire_header_decode((const uint8_t *)f.data, &h, NULL) == 0);
	_cleanup_free_ char *name = NULL, *value = NULL;
	check(pve_wire_field_decode(f.data + PVE_WIRE_HEADER_SIZE, h.len, &name, &value, NULL) ==
	      0);
	check_streq(name, "content");
	check_streq(value, "iso");
	pve_buf_free(&f);
	_cleanup_error_ pve_error *err = NULL;
	char *n2 = NULL, *v2 = NULL;
	check(pve_wire_field_decode("\x01\x00"
				    "a\xff",
				    4, &n2, &v2, &err) == -EINVAL);
	check_streq(err ? err->param : NULL, "a");
	pve_error_freep(&err);
	check(pve_wire_field_decode("\x01\x00"
				    "ab\x00"
				    "c",
				    5, &n2, &v2, &err) == -EINVAL);
	pve_error_freep(&err);
	check(pve_wire_field_decode("\x05\x00"
				    "ab",
				    4, &n2, &v2, &err) == -EPROTO);
	pve_error_freep(&err);
	check(n2 == NULL && v2 == NULL);

	pve_wire_append_file(&f, 4, "filename", "x.iso", NULL);
	check(pve_wire_header_decode((const uint8_t *)f.data, &h, NULL) == 0);
	check_int(h.type, PVE_WIRE_FILE);
	_cleanup_free_ char *fname = NULL, *ffile = NULL, *ftype = NULL;
	check(pve_wire_file_decode(f.data + PVE_WIRE_HEADER_SIZE, h.len, &fname, &ffile, &ftype,
				   NULL) == 0);
	check_streq(fname, "filename");
	check_streq(ffile, "x.iso");
	check(ftype == NULL);
	pve_buf_free(&f);
	char *a = NULL, *c = NULL, *t = NULL;
	check(pve_wire_file_decode("\x01\x00"
				   "n\x02\x00\xc3(\x00\x00",
				   9, &a, &c, &t, &err) == -EINVAL);
	pve_error_freep(&err);
	check(pve_wire_file_decode("\x01\x00"
				   "n\x01\x00"
				   "x\x00\x00"
				   "z",
				   10, &a, &c, &t, &err) == -EPROTO);
	check(a == NULL && c == NULL && t == NULL);
}

TEST_MAIN(TEST(header_round_trip), TEST(header_limits), TEST(request_round_trip),
	  TEST(request_decode_refuses), TEST(response_split_over_frames),
	  TEST(response_decode_refuses), TEST(stream_and_form_frames))
