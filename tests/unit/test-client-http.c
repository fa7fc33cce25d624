/* The HTTPS client's response parser (client/http.c): the framings a server may use, in any pieces,
 * and the limits on the head and the body. */
#include "tests/unit/test.h"
#include "client/client.h"

/* Feeds text in pieces of step bytes, then the close; the parser's result. */
static int feed(pve_client_http *h, const char *text, size_t step, pve_error **err)
{
	size_t len = strlen(text);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		int r = pve_client_http_feed(h, text + off, n, err);
		if (r != 0)
			return r;
	}
	return pve_client_http_feed(h, NULL, 0, err);
}

static void expect_body(const char *text, int status, const char *reason, const char *body)
{
	for (size_t step = 1; step <= strlen(text); step = step * 2 + 1) {
		pve_client_http h;
		pve_client_http_init(&h, 1024);
		_cleanup_error_ pve_error *err = NULL;
		check_int(feed(&h, text, step, &err), 1);
		check_int(h.status, status);
		check(h.reason.len == strlen(reason) &&
		      memcmp(h.reason.data, reason, h.reason.len) == 0);
		check(h.body.len == strlen(body) &&
		      (h.body.len == 0 || memcmp(h.body.data, body, h.body.len) == 0));
		pve_client_http_clear(&h);
	}
}

static void expect_error(const char *text, int code, const char *message, size_t max_body)
{
	pve_client_http h;
	pve_client_http_init(&h, max_body);
	_cleanup_error_ pve_error *err = NULL;
	check_int(feed(&h, text, 7, &err), -code);
	check(err && strstr(err->message, message));
	pve_client_http_clear(&h);
}

static void test_framings(void)
{
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"data\":null}", 200, "OK",
		    "{\"data\":null}");
	/* chunk extensions and trailers are allowed and dropped */
	expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\n{\"dat\r\n8;x=1\r\na\":null}\r\n0\r\nX-T: 1\r\n\r\n",
		    200, "OK", "{\"data\":null}");
	/* neither: the body ends with the connection */
	expect_body("HTTP/1.0 401 permission denied\r\nServer: x\r\n\r\n{}", 401,
		    "permission denied", "{}");
	/* after the response nothing is read: the request said Connection: close */
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 500 x\r\n\r\n", 200,
		    "OK", "{}");
	expect_body("HTTP/1.1 204 No Content\r\n\r\n", 204, "No Content", "");
}

static void test_errors(void)
{
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", EPIPE,
		     "closed before the response ended", 1024);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", EPIPE,
		     "closed before the response ended", 1024);
	expect_error("", EPIPE, "without a response", 1024);
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n", EFBIG,
		     "response of 2048 bytes exceeds", 1024);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "800\r\n",
		     EFBIG, "exceeds", 1024);
	expect_error("FTP/1.1 200 OK\r\n\r\n", EPROTO, "malformed HTTP response", 1024);
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", EPROTO, "malformed", 1024);

	/* a head over 64 KiB */
	pve_buf b = { 0 };
	pve_buf_puts(&b, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 1100; i++)
		pve_buf_printf(&b, "X-Pad-%d: %060d\r\n", i, 0);
	pve_buf_puts(&b, "\r\n");
	expect_error(b.data, EPROTO, "head exceeds", 1024);
	pve_buf_free(&b);
}

/* A websocket's 101: complete at the head's end, whatever piece it comes in; consumed tells where the
 * websocket's frames begin. */
static void test_upgrade(void)
{
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n";
	static const char text[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
				   "\x82\x02OK";
	for (size_t step = 1; step <= sizeof(text) - 1; step = step * 2 + 1) {
		pve_client_http h;
		pve_client_http_init(&h, 1024);
		_cleanup_error_ pve_error *err = NULL;
		int r = 0;
		size_t off = 0;
		while (r == 0 && off < sizeof(text) - 1) {
			size_t n = sizeof(text) - 1 - off < step ? sizeof(text) - 1 - off : step;
			r = pve_client_http_feed(&h, text + off, n, &err);
			off += n;
		}
		check_int(r, 1);
		check_int(h.status, 101);
		check(h.hp.upgrade);
		check_int((long long)h.consumed, (long long)(sizeof(head) - 1));
		pve_client_http_clear(&h);
	}
}

/* The upgrade request: Connection: Upgrade with the key and the binary protocol, no Connection: close. */
static void test_upgrade_request(void)
{
	pve_client_request rq = { .method = "GET",
				  .path = "/nodes/n3/vncwebsocket",
				  .host = "10.0.0.3",
				  .port = "8006",
				  .ticket = "PVE:t",
				  .websocket_key = "dGhlIHNhbXBsZSBub25jZQ==" };
	pve_buf b = { 0 };
	check_int(pve_client_request_build(&rq, &b, NULL), 0);
	check(strstr(b.data, "GET /api2/json/nodes/n3/vncwebsocket HTTP/1.1\r\n") == b.data);
	check(strstr(b.data, "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"));
	check(strstr(b.data, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	check(strstr(b.data, "\r\nSec-WebSocket-Protocol: binary\r\n"));
	check(strstr(b.data, "\r\nCookie: PVEAuthCookie=PVE:t\r\n"));
	check(!strstr(b.data, "Connection: close"));
	pve_buf_free(&b);
}

/* A streamed response (a forwarded file answer): the head's headers kept and head_done at its end
 * whatever the pieces, the body over any limit, taken out of body as it comes. */
static void test_stream(void)
{
	static const char text[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				   "content-disposition: attachment; filename=\"t.log\"\r\n"
				   "X-Empty:\r\nContent-Encoding: gzip\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
	for (size_t step = 1; step <= sizeof(text) - 1; step = step * 2 + 1) {
		pve_client_http h;
		pve_client_http_init_stream(&h);
		_cleanup_error_ pve_error *err = NULL;
		pve_buf got = { 0 };
		int r = 0;
		for (size_t off = 0; r == 0 && off < sizeof(text) - 1; off += step) {
			size_t n = sizeof(text) - 1 - off < step ? sizeof(text) - 1 - off : step;
			r = pve_client_http_feed(&h, text + off, n, &err);
			if (h.head_done) {
				pve_buf_append(&got, h.body.data, h.body.len);
				h.body.len = 0;
			}
		}
		check_int(r, 1);
		check_int(h.status, 200);
		check(streq(pve_client_http_header(&h, "content-type"), "text/plain"));
		check(streq(pve_client_http_header(&h, "Content-Disposition"),
			    "attachment; filename=\"t.log\""));
		check(streq(pve_client_http_header(&h, "Content-Encoding"), "gzip"));
		check(!pve_client_http_header(&h, "Content-Length"));
		check(got.len == 7 && memcmp(got.data, "abcdefg", 7) == 0);
		pve_buf_free(&got);
		pve_client_http_clear(&h);
	}
	/* no length limit: a file of any size streams */
	static const char big[] = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n";
	pve_client_http h;
	pve_client_http_init_stream(&h);
	check_int(pve_client_http_feed(&h, big, sizeof(big) - 1, NULL), 0);
	check(h.head_done);
	pve_client_http_clear(&h);
}

TEST_MAIN(TEST(test_framings), TEST(test_errors), TEST(test_upgrade), TEST(test_upgrade_request),
	  TEST(test_stream))
