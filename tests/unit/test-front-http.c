/* Unit tests of pved-api's HTTP layer: request parsing with Proxmox's limits, pipelining, chunked bodies,
 * response heads, reason phrases, gzip, the ExtJS rewrite and websocket accept keys. */
#include <zlib.h>

#include "front/front-internal.h"
#include "tests/unit/test.h"

/* Feeds the whole buffer, in pieces of step bytes (0: at once), and returns the first request. */
static pve_http_request *parse_one(const char *data, size_t len, size_t step, int *ret_status,
				   int *ret_rc)
{
	pve_http_parser *p = pve_http_parser_new();
	pve_http_request *req = NULL;
	size_t off = 0;
	*ret_rc = 0;
	*ret_status = 0;
	while (off < len && !req) {
		size_t n = step && len - off > step ? step : len - off;
		pve_error *err = NULL;
		ssize_t r = pve_http_parser_feed(p, data + off, n, &req, ret_status, &err);
		pve_error_free(err);
		if (r < 0) {
			*ret_rc = (int)r;
			break;
		}
		off += (size_t)r;
		if (r == 0 && !req)
			break;
	}
	pve_http_parser_free(p);
	return req;
}

static void test_simple_get(void)
{
	static const char in[] =
		"GET /api2/json/version?x=1 HTTP/1.1\r\nHost: a\r\nCookie: c=1\r\n\r\n";
	size_t steps[] = { 0, 1, 7 };
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		int status, rc;
		pve_http_request *r = parse_one(in, sizeof(in) - 1, steps[i], &status, &rc);
		check(r != NULL);
		if (!r)
			continue;
		check_streq(r->method, "GET");
		check_streq(r->url, "/api2/json/version?x=1");
		check_int(r->n_headers, 2);
		check_streq(pve_http_request_header(r, "host"), "a");
		check_streq(pve_http_request_header(r, "COOKIE"), "c=1");
		check(pve_http_request_header(r, "X") == NULL);
		check(r->keep_alive);
		check_int(r->body_len, 0);
		pve_http_request_free(r);
	}
}

static void test_keep_alive_rules(void)
{
	int status, rc;
	pve_http_request *r = parse_one("GET / HTTP/1.0\r\n\r\n", 18, 0, &status, &rc);
	check(r && !r->keep_alive);
	pve_http_request_free(r);
	static const char ka[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	r = parse_one(ka, sizeof(ka) - 1, 0, &status, &rc);
	check(r && r->keep_alive);
	pve_http_request_free(r);
	static const char cl[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	r = parse_one(cl, sizeof(cl) - 1, 0, &status, &rc);
	check(r && !r->keep_alive);
	pve_http_request_free(r);
}

static char *headers_request(size_t n_headers, size_t value_len)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "GET / HTTP/1.1\r\n");
	_cleanup_free_ char *v = xmalloc(value_len + 1);
	memset(v, 'v', value_len);
	v[value_len] = '\0';
	for (size_t i = 0; i < n_headers; i++)
		pve_buf_printf(&b, "X-H%zu: %s\r\n", i, v);
	pve_buf_puts(&b, "\r\n");
	return pve_buf_steal(&b);
}

static void test_header_count_limit(void)
{
	int status, rc;
	_cleanup_free_ char *ok = headers_request(64, 4);
	pve_http_request *r = parse_one(ok, strlen(ok), 0, &status, &rc);
	check(r != NULL);
	check_int(r ? r->n_headers : 0, 64);
	pve_http_request_free(r);

	_cleanup_free_ char *bad = headers_request(65, 4);
	r = parse_one(bad, strlen(bad), 0, &status, &rc);
	check(r == NULL);
	check(rc < 0);
	check_int(status, 431);
}

static void test_header_line_limit(void)
{
	int status, rc;
	_cleanup_free_ char *ok = headers_request(1, 8000);
	pve_http_request *r = parse_one(ok, strlen(ok), 100, &status, &rc);
	check(r != NULL);
	pve_http_request_free(r);

	_cleanup_free_ char *bad = headers_request(1, 8200);
	r = parse_one(bad, strlen(bad), 100, &status, &rc);
	check(r == NULL);
	check_int(status, 431);
}

static void test_url_limit(void)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "GET /");
	for (int i = 0; i < 8300; i++)
		pve_buf_puts(&b, "a");
	pve_buf_puts(&b, " HTTP/1.1\r\n\r\n");
	int status, rc;
	pve_http_request *r = parse_one(b.data, b.len, 0, &status, &rc);
	check(r == NULL);
	check_int(status, 414);
	pve_buf_free(&b);
}

static void test_body_limit(void)
{
	int status, rc;
	/* A declared length over 512 KiB is refused before the body comes. */
	static const char big[] = "POST /api2/json/x HTTP/1.1\r\nContent-Length: 524289\r\n\r\n";
	pve_http_request *r = parse_one(big, sizeof(big) - 1, 0, &status, &rc);
	check(r == NULL);
	check_int(status, 413);

	/* Exactly 512 KiB passes. */
	size_t n = PVE_HTTP_MAX_BODY;
	pve_buf b = { 0 };
	pve_buf_printf(&b, "POST /api2/json/x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
	char *body = xmalloc(n);
	memset(body, 'a', n);
	pve_buf_append(&b, body, n);
	free(body);
	r = parse_one(b.data, b.len, 65536, &status, &rc);
	check(r != NULL);
	check_int(r ? r->body_len : 0, n);
	pve_http_request_free(r);
	pve_buf_free(&b);

	/* A chunked body that grows over the limit is cut off. */
	pve_buf_puts(&b, "POST /api2/json/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	char chunk[4096];
	memset(chunk, 'b', sizeof(chunk));
	for (int i = 0; i < 140; i++) {
		pve_buf_printf(&b, "%zx\r\n", sizeof(chunk));
		pve_buf_append(&b, chunk, sizeof(chunk));
		pve_buf_puts(&b, "\r\n");
	}
	pve_buf_puts(&b, "0\r\n\r\n");
	r = parse_one(b.data, b.len, 0, &status, &rc);
	check(r == NULL);
	check_int(status, 413);
	pve_buf_free(&b);
}

static void test_chunked_body(void)
{
	static const char in[] = "POST /api2/json/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
				 "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
				 "5\r\na=1&b\r\n4\r\n=two\r\n0\r\n\r\n";
	int status, rc;
	pve_http_request *r = parse_one(in, sizeof(in) - 1, 3, &status, &rc);
	check(r != NULL);
	if (r) {
		check_int(r->body_len, 9);
		check_streq(r->body, "a=1&b=two");
	}
	pve_http_request_free(r);
}

static void test_pipelining(void)
{
	static const char in[] = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
				 "POST /second HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
				 "GET /third HTTP/1.1\r\n\r\n";
	pve_http_parser *p = pve_http_parser_new();
	const char *urls[] = { "/first", "/second", "/third" };
	size_t off = 0, len = sizeof(in) - 1;
	for (int i = 0; i < 3; i++) {
		pve_http_request *r = NULL;
		int status = 0;
		_cleanup_error_ pve_error *err = NULL;
		ssize_t n = pve_http_parser_feed(p, in + off, len - off, &r, &status, &err);
		check(n > 0);
		check(r != NULL);
		if (n <= 0 || !r)
			break;
		off += (size_t)n;
		check_streq(r->url, urls[i]);
		if (i == 1)
			check_streq(r->body, "xyz");
		pve_http_request_free(r);
	}
	check_int(off, len);
	pve_http_parser_free(p);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"GET / HTTP/9.9.9\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int status, rc;
		pve_http_request *r = parse_one(bad[i], strlen(bad[i]), 0, &status, &rc);
		check(r == NULL);
		check(rc < 0);
		check_int(status, 400);
		pve_http_request_free(r);
	}
	/* After an error the parser refuses everything. */
	pve_http_parser *p = pve_http_parser_new();
	pve_http_request *r = NULL;
	int status;
	_cleanup_error_ pve_error *e1 = NULL, *e2 = NULL;
	check(pve_http_parser_feed(p, "X\r\n\r\n", 5, &r, &status, &e1) < 0);
	check(pve_http_parser_feed(p, "GET / HTTP/1.1\r\n\r\n", 18, &r, &status, &e2) < 0);
	check(r == NULL);
	pve_http_parser_free(p);
}

static void test_expect_continue(void)
{
	static const char in[] =
		"POST /x HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
	pve_http_parser *p = pve_http_parser_new();
	pve_http_request *r = NULL;
	int status;
	ssize_t n = pve_http_parser_feed(p, in, sizeof(in) - 1, &r, &status, NULL);
	check_int(n, sizeof(in) - 1);
	check(r == NULL);
	check(pve_http_parser_started(p));
	check(pve_http_parser_take_continue(p));
	check(!pve_http_parser_take_continue(p));
	n = pve_http_parser_feed(p, "abc", 3, &r, &status, NULL);
	check_int(n, 3);
	check(r != NULL);
	check(!pve_http_parser_started(p));
	pve_http_request_free(r);
	pve_http_parser_free(p);
}

static void test_reason_sanitize(void)
{
	_cleanup_free_ char *a =
		pve_http_reason_sanitize(400, "Parameter verification failed.\r\nX: 1");
	check_streq(a, "Parameter verification failed. X: 1");
	_cleanup_free_ char *b = pve_http_reason_sanitize(404, "\r\n\x01\x7f");
	check_streq(b, "Not Found");
	_cleanup_free_ char *c = pve_http_reason_sanitize(500, NULL);
	check_streq(c, "Internal Server Error");
	_cleanup_free_ char *d = pve_http_reason_sanitize(200, "  a\tb  \n");
	check_streq(d, "a b");
	char longr[1000];
	memset(longr, 'x', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	_cleanup_free_ char *e = pve_http_reason_sanitize(200, longr);
	check_int(strlen(e), 256);
	/* A reason quoting client bytes keeps printable ASCII only. */
	_cleanup_free_ char *f = pve_http_reason_sanitize(501, "no '/caf\xc3\xa9\xff\x80'");
	check_streq(f, "no '/caf'");
	_cleanup_free_ char *g = pve_http_reason_sanitize(400, "\xff\xfe");
	check_streq(g, "Bad Request");
}

static void test_response_head(void)
{
	pve_buf b = { 0 };
	pve_http_response_head(&b, 401, "no ticket\n", "application/json;charset=UTF-8", 42,
			       PVE_HTTP_HEAD_GZIP, 1795526788);
	check(strncmp(b.data, "HTTP/1.1 401 no ticket\r\n", 24) == 0);
	check(strstr(b.data, "\r\nContent-Length: 42\r\n") != NULL);
	check(strstr(b.data, "\r\nConnection: close\r\n") != NULL);
	check(strstr(b.data, "\r\nContent-Encoding: gzip\r\n") != NULL);
	check(strstr(b.data, "\r\nServer: pve-api-daemon/3.0\r\n") != NULL);
	check(strstr(b.data, "\r\nDate: Tue, 24 Nov 2026 13:26:28 GMT\r\n") != NULL);
	check(strstr(b.data, "\r\nPragma: no-cache\r\n") != NULL);
	check(b.len > 4 && memcmp(b.data + b.len - 4, "\r\n\r\n", 4) == 0);
	/* One line break per header: the reason added none. */
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	check_int(lines, 12);
	pve_buf_free(&b);
}

static void test_gzip_roundtrip(void)
{
	pve_buf in = { 0 };
	for (int i = 0; i < 2000; i++)
		pve_buf_printf(&in, "{\"vmid\":%d,\"name\":\"vm%d\"},", i, i);
	pve_buf z = { 0 };
	check_int(pve_http_gzip(in.data, in.len, &z, NULL), 0);
	check(z.len > 10 && z.len < in.len);
	check((unsigned char)z.data[0] == 0x1f && (unsigned char)z.data[1] == 0x8b);

	z_stream zs = { 0 };
	check_int(inflateInit2(&zs, 15 + 16), Z_OK);
	char *out = xmalloc(in.len + 16);
	zs.next_in = (Bytef *)z.data;
	zs.avail_in = (uInt)z.len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)(in.len + 16);
	check_int(inflate(&zs, Z_FINISH), Z_STREAM_END);
	check_int(zs.total_out, in.len);
	check(memcmp(out, in.data, in.len) == 0);
	inflateEnd(&zs);
	free(out);
	pve_buf_free(&in);
	pve_buf_free(&z);
}

/* A streamed answer's head: no length, chunked; the chunks; gzip fed in pieces inflates to the whole. */
static void test_streamed_answer(void)
{
	pve_buf b = { 0 };
	pve_http_response_head(&b, 200, "OK", "application/json", PVE_HTTP_NO_LENGTH,
			       PVE_HTTP_HEAD_CHUNKED | PVE_HTTP_HEAD_KEEP_ALIVE, 1795526788);
	check(strstr(b.data, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
	check(strstr(b.data, "Content-Length") == NULL);
	check(strstr(b.data, "\r\nConnection: Keep-Alive\r\n") != NULL);
	pve_buf_free(&b);
	pve_http_chunk(&b, "hello", 5);
	pve_http_chunk(&b, "0123456789abcdefg", 17);
	pve_http_chunk(&b, NULL, 0);
	check_streq(b.data, "5\r\nhello\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n");
	pve_buf_free(&b);

	pve_buf in = { 0 };
	for (int i = 0; i < 50000; i++)
		pve_buf_printf(&in, "{\"n\":%d,\"t\":\"line %d\"},", i, i * 7);
	pve_http_gzip_stream *z = pve_http_gzip_stream_new();
	check(z != NULL);
	pve_buf out = { 0 };
	for (size_t off = 0; off < in.len; off += 65536) {
		size_t n = in.len - off < 65536 ? in.len - off : 65536;
		check_int(pve_http_gzip_stream_write(z, in.data + off, n, false, &out, NULL), 0);
	}
	check_int(pve_http_gzip_stream_write(z, NULL, 0, true, &out, NULL), 0);
	pve_http_gzip_stream_free(z);
	check(out.len > 10 && out.len < in.len);
	z_stream zs = { 0 };
	check_int(inflateInit2(&zs, 15 + 16), Z_OK);
	char *dec = xmalloc(in.len + 16);
	zs.next_in = (Bytef *)out.data;
	zs.avail_in = (uInt)out.len;
	zs.next_out = (Bytef *)dec;
	zs.avail_out = (uInt)(in.len + 16);
	check_int(inflate(&zs, Z_FINISH), Z_STREAM_END);
	check_int(zs.total_out, in.len);
	check(memcmp(dec, in.data, in.len) == 0);
	inflateEnd(&zs);
	free(dec);
	pve_buf_free(&in);
	pve_buf_free(&out);
}

static void test_accepts_gzip(void)
{
	check(pve_http_accepts_gzip("gzip, deflate, br"));
	check(pve_http_accepts_gzip("deflate;q=0.5, GZIP;q=0.8"));
	check(pve_http_accepts_gzip("*"));
	check(!pve_http_accepts_gzip("gzip;q=0"));
	check(!pve_http_accepts_gzip("deflate, br"));
	check(!pve_http_accepts_gzip("xgzip"));
	check(!pve_http_accepts_gzip(""));
	check(!pve_http_accepts_gzip(NULL));
}

static void test_websocket_accept(void)
{
	/* RFC 6455 section 1.3. */
	_cleanup_free_ char *a = pve_http_websocket_accept("dGhlIHNhbXBsZSBub25jZQ==");
	check_streq(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	check(pve_http_websocket_accept("short") == NULL);
	check(pve_http_websocket_accept("dGhlIHNhbXBsZSBub25jZQ!!") == NULL);

	static const char ws[] =
		"GET /api2/json/nodes/n/qemu/100/vncwebsocket HTTP/1.1\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
	int status, rc;
	pve_http_request *r = parse_one(ws, sizeof(ws) - 1, 0, &status, &rc);
	check(r != NULL);
	if (r) {
		check(pve_http_is_websocket(r));
		check(r->upgrade);
		check(!r->keep_alive);
	}
	pve_http_request_free(r);
}

static void test_extjs_body(void)
{
	static const char err[] = "{\"data\":null,\"errors\":{\"vmid\":\"bad\"}}";
	_cleanup_free_ char *a =
		pve_http_extjs_body(400, "Parameter verification failed.", err, sizeof(err) - 1);
	cJSON *o = cJSON_Parse(a);
	check(o != NULL);
	check_int(cJSON_GetObjectItem(o, "success")->valueint, 0);
	check_int(cJSON_GetObjectItem(o, "status")->valueint, 400);
	check_streq(cJSON_GetObjectItem(o, "message")->valuestring,
		    "Parameter verification failed.");
	check_streq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "errors"), "vmid")->valuestring,
		    "bad");
	check(cJSON_IsNull(cJSON_GetObjectItem(o, "data")));
	cJSON_Delete(o);

	static const char ok[] = "{\"data\":[1,2],\"total\":2}";
	_cleanup_free_ char *b = pve_http_extjs_body(200, "OK", ok, sizeof(ok) - 1);
	check_streq(b, "{\"success\":1,\"status\":200,\"data\":[1,2],\"total\":2}");
}

static void test_error_body_and_mime(void)
{
	_cleanup_free_ char *e = pve_http_error_body("a \"quoted\" thing");
	check_streq(e, "{\"data\":null,\"message\":\"a \\\"quoted\\\" thing\"}");
	check_streq(pve_http_mime_type("index.html"), "text/html; charset=utf-8");
	check_streq(pve_http_mime_type("/pve2/js/pvemanagerlib.js"), "application/javascript");
	check_streq(pve_http_mime_type("a.b/noext"), "application/octet-stream");
	check_streq(pve_http_mime_type("x.PNG"), "image/png");
	char d[64];
	pve_http_date(0, d);
	check_streq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
	check_streq(pve_http_status_text(413), "Payload Too Large");
}

TEST_MAIN(TEST(test_simple_get), TEST(test_keep_alive_rules), TEST(test_header_count_limit),
	  TEST(test_header_line_limit), TEST(test_url_limit), TEST(test_body_limit),
	  TEST(test_chunked_body), TEST(test_pipelining), TEST(test_malformed),
	  TEST(test_expect_continue), TEST(test_reason_sanitize), TEST(test_response_head),
	  TEST(test_gzip_roundtrip), TEST(test_streamed_answer), TEST(test_accepts_gzip),
	  TEST(test_websocket_accept), TEST(test_extjs_body), TEST(test_error_body_and_mime))
