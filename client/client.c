/* client: the blocking HTTPS client (OpenSSL, HTTP/1.1) with a ticket login or an API token, pinning
 * the server certificate by its SHA-256 or verifying it with the system's CAs. */
#include <ctype.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client/client.h"

/* A PEM text larger than this holds no certificate of ours (a node's is under 2 KiB). */
#define PEM_MAX (1u << 20)

struct pve_client {
	char *host; /* as given in the URL, without brackets */
	char *port;
	char *fingerprint; /* normalised; NULL: verified with the system's CAs */
	SSL_CTX *ssl_ctx;
	char *token;
	char *ticket; /* after login */
	char *csrf;
	char *peer_fingerprint; /* of the last handshake */
	int timeout_sec; /* for each send, receive and connect; 0: none */
};

void pve_client_response_clear(pve_client_response *r)
{
	free(r->reason);
	cJSON_Delete(r->body);
	*r = (pve_client_response){ 0 };
}

static void parse_body(pve_client_response *r, const char *body, size_t len)
{
	if (len > 0)
		r->body = cJSON_ParseWithLength(body, len);
}

/* n bytes as upper-case hex pairs joined by ':', the way fingerprints are shown */
static char *hex_colon(const uint8_t *bytes, size_t n)
{
	char *out = xmalloc(3 * n + 1);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%02X%s", bytes[i], i + 1 < n ? ":" : "");
	return out;
}

char *pve_client_fingerprint_normalize(const char *s)
{
	uint8_t bytes[32];
	size_t n = 0;
	for (const char *p = s; *p;) {
		if (*p == ':' || *p == ' ') {
			p++;
			continue;
		}
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    n == sizeof(bytes))
			return NULL;
		char hex[3] = { p[0], p[1], 0 };
		bytes[n++] = (uint8_t)strtoul(hex, NULL, 16);
		p += 2;
	}
	if (n != sizeof(bytes))
		return NULL;
	return hex_colon(bytes, n);
}

static char *cert_fingerprint(X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!cert || !X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return NULL;
	return hex_colon(md, mdlen);
}

static bool is_ip_literal(const char *host)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

static int ssl_error(pve_error **err, int code, const char *fmt, ...) _printf_(3, 4);
static int ssl_error(pve_error **err, int code, const char *fmt, ...)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *what = xvasprintf(fmt, ap);
	va_end(ap);
	return pve_error_set(err, code, "%s%s%s", what, e ? ": " : "", buf);
}

typedef struct https_conn {
	int fd;
	SSL *ssl;
} https_conn;

static void https_conn_close(https_conn *hc)
{
	if (hc->ssl) {
		SSL_shutdown(hc->ssl);
		SSL_free(hc->ssl);
	}
	if (hc->fd >= 0)
		close(hc->fd);
	*hc = (https_conn){ .fd = -1 };
}

static int tcp_connect(const char *host, const char *port, int timeout_sec, pve_error **err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	int r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0)
		return pve_error_set(err, EHOSTUNREACH, "cannot resolve %s: %s", host,
				     gai_strerror(r));
	int last = ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		/* SO_SNDTIMEO bounds connect() too; a call that times out fails with EAGAIN. */
		struct timeval tv = { .tv_sec = timeout_sec };
		if (timeout_sec > 0 &&
		    (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
		     setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)) {
			last = errno;
			close(fd);
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			freeaddrinfo(ai);
			return fd;
		}
		last = errno;
		close(fd);
	}
	freeaddrinfo(ai);
	return pve_error_set(err, last, "cannot connect to %s port %s: %s", host, port,
			     strerror(last));
}

static int https_connect(pve_client *c, https_conn *hc, pve_error **err)
{
	*hc = (https_conn){ .fd = -1 };
	free(c->peer_fingerprint);
	c->peer_fingerprint = NULL;
	if (!c->ssl_ctx) {
		c->ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (!c->ssl_ctx)
			return ssl_error(err, ENOMEM, "SSL_CTX_new");
		SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
		SSL_CTX_set_default_verify_paths(c->ssl_ctx);
		/* The handshake never aborts on its own: the chain and name are checked after
		 * it, so the message can show the server's fingerprint. Nothing is sent before. */
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	int fd = tcp_connect(c->host, c->port, c->timeout_sec, err);
	if (fd < 0)
		return fd;
	hc->fd = fd;
	hc->ssl = SSL_new(c->ssl_ctx);
	if (!hc->ssl) {
		https_conn_close(hc);
		return ssl_error(err, ENOMEM, "SSL_new");
	}
	if (is_ip_literal(c->host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(hc->ssl), c->host);
	} else {
		SSL_set_tlsext_host_name(hc->ssl, c->host);
		SSL_set1_host(hc->ssl, c->host);
	}
	SSL_set_fd(hc->ssl, fd);
	if (SSL_connect(hc->ssl) != 1) {
		int r = ssl_error(err, EPROTO, "TLS handshake with %s:%s failed", c->host, c->port);
		https_conn_close(hc);
		return r;
	}

	c->peer_fingerprint = cert_fingerprint(SSL_get0_peer_certificate(hc->ssl));
	const char *seen = c->peer_fingerprint;
	if (!seen) {
		https_conn_close(hc);
		return pve_error_set(err, EPROTO, "%s:%s presented no certificate", c->host,
				     c->port);
	}
	if (c->fingerprint) {
		if (strcmp(seen, c->fingerprint) != 0) {
			https_conn_close(hc);
			return pve_error_set(
				err, EPERM,
				"certificate fingerprint mismatch: %s:%s presented %s, expected %s",
				c->host, c->port, seen, c->fingerprint);
		}
		return 0;
	}
	long v = SSL_get_verify_result(hc->ssl);
	if (v != X509_V_OK) {
		https_conn_close(hc);
		/* (what was presented is pve_client_peer_fingerprint's, for the caller's advice) */
		return pve_error_set(err, EPERM, "the certificate of %s:%s cannot be verified (%s)",
				     c->host, c->port, X509_verify_cert_error_string(v));
	}
	return 0;
}

static int ssl_write_all(https_conn *hc, const char *data, size_t len, pve_error **err)
{
	while (len > 0) {
		int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
		int n = SSL_write(hc->ssl, data, chunk);
		if (n <= 0)
			return ssl_error(err, EPIPE, "sending the request");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to cap more bytes; returns the count, 0 at the end of the stream, <0 on error. */
static int ssl_read_some(https_conn *hc, pve_buf *b, size_t cap, pve_error **err)
{
	char tmp[16384];
	int want = cap < sizeof(tmp) ? (int)cap : (int)sizeof(tmp);
	int n = SSL_read(hc->ssl, tmp, want);
	int saved = errno;
	if (n > 0) {
		pve_buf_append(b, tmp, (size_t)n);
		return n;
	}
	int e = SSL_get_error(hc->ssl, n);
	if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ) &&
	    (saved == EAGAIN || saved == EWOULDBLOCK)) {
		ERR_clear_error();
		return pve_error_set(err, ETIMEDOUT, "no response in time");
	}
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
		ERR_clear_error();
		/* a close without close_notify is common; the framing tells if it came early */
		return 0;
	}
	return ssl_error(err, EPROTO, "reading the response");
}

static bool is_unreserved(unsigned char ch)
{
	return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static void url_encode(pve_buf *b, const char *s, const char *keep)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p) || (keep && strchr(keep, *p)))
			pve_buf_append(b, p, 1);
		else
			pve_buf_printf(b, "%%%02X", *p);
	}
}

static void form_add(pve_buf *b, const char *name, const char *value)
{
	if (b->len)
		pve_buf_puts(b, "&");
	url_encode(b, name, NULL);
	pve_buf_puts(b, "=");
	url_encode(b, value, NULL);
}

static int form_encode(pve_buf *b, const cJSON *params, pve_error **err)
{
	if (!cJSON_IsObject(params))
		return pve_error_set(err, EINVAL, "the parameters are not an object");
	const cJSON *p;
	cJSON_ArrayForEach (p, params) {
		if (cJSON_IsString(p)) {
			form_add(b, p->string, p->valuestring);
			continue;
		}
		if (!cJSON_IsArray(p))
			return pve_error_set_param(err, EINVAL, p->string,
						   "parameter '%s' is not a string", p->string);
		const cJSON *v;
		cJSON_ArrayForEach (v, p) {
			if (!cJSON_IsString(v))
				return pve_error_set_param(err, EINVAL, p->string,
							   "parameter '%s' holds a non-string",
							   p->string);
			form_add(b, p->string, v->valuestring);
		}
	}
	return 0;
}

int pve_client_request_build(const pve_client_request *rq, pve_buf *ret, pve_error **err)
{
	bool in_body = !rq->body_type &&
		       (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0);
	pve_buf form = { 0 };
	if (rq->params) {
		int r = form_encode(&form, rq->params, err);
		if (r < 0) {
			pve_buf_free(&form);
			return r;
		}
	}

	pve_buf req = { 0 };
	pve_buf_printf(&req, "%s /api2/json", rq->method);
	url_encode(&req, rq->path, "/:@!$'()*+,;=");
	if (!in_body && form.len)
		pve_buf_printf(&req, "?%s", form.data);
	bool v6 = strchr(rq->host, ':') != NULL;
	pve_buf_printf(&req, " HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: pved-client\r\n",
		       v6 ? "[" : "", rq->host, v6 ? "]" : "", rq->port);
	if (rq->websocket_key)
		pve_buf_printf(&req,
			       "Connection: Upgrade\r\nUpgrade: websocket\r\n"
			       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
			       "Sec-WebSocket-Protocol: binary\r\n",
			       rq->websocket_key);
	else
		pve_buf_puts(&req, "Accept: application/json\r\nConnection: close\r\n");
	if (rq->token)
		pve_buf_printf(&req, "Authorization: PVEAPIToken=%s\r\n", rq->token);
	if (rq->ticket) {
		pve_buf_printf(&req, "Cookie: PVEAuthCookie=%s\r\n", rq->ticket);
		if (strcmp(rq->method, "GET") != 0 && rq->csrf)
			pve_buf_printf(&req, "CSRFPreventionToken: %s\r\n", rq->csrf);
	}
	if (in_body)
		pve_buf_printf(&req,
			       "Content-Type: application/x-www-form-urlencoded\r\n"
			       "Content-Length: %zu\r\n",
			       form.len);
	else if (rq->body_type)
		pve_buf_printf(&req, "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n",
			       rq->body_type, rq->body_length);
	pve_buf_puts(&req, "\r\n");
	if (in_body)
		pve_buf_append(&req, form.data, form.len);
	pve_buf_free(&form);
	*ret = req;
	return 0;
}

static int http_exchange(pve_client *c, const char *method, const char *path, const cJSON *params,
			 bool with_auth, pve_client_response *ret, pve_error **err)
{
	pve_client_request rq = {
		.method = method,
		.path = path,
		.host = c->host,
		.port = c->port,
		.params = params,
		.ticket = with_auth ? c->ticket : NULL,
		.csrf = with_auth ? c->csrf : NULL,
		.token = with_auth ? c->token : NULL,
	};
	pve_buf req = { 0 };
	int br = pve_client_request_build(&rq, &req, err);
	if (br < 0)
		return br;

	https_conn hc;
	int r = https_connect(c, &hc, err);
	if (r < 0) {
		pve_buf_free(&req);
		return r;
	}
	r = ssl_write_all(&hc, req.data, req.len, err);
	pve_buf_free(&req);
	if (r < 0) {
		https_conn_close(&hc);
		return r;
	}

	/* The response, framed by http-parser (Content-Length, chunked, or up to the close). */
	pve_client_http h;
	pve_client_http_init(&h, PVE_CLIENT_MAX_BODY);
	pve_buf chunk = { 0 };
	for (;;) {
		chunk.len = 0;
		r = ssl_read_some(&hc, &chunk, 16384, err);
		if (r < 0)
			break;
		r = pve_client_http_feed(&h, chunk.data, chunk.len, err);
		if (r != 0)
			break;
	}
	if (r == 1) {
		ret->status = h.status;
		ret->reason = xstrndup(h.reason.data ? h.reason.data : "", h.reason.len);
		parse_body(ret, h.body.data, h.body.len);
		r = 0;
	} else if (r == -EPIPE && h.seen == 0) {
		if (err) {
			pve_error_free(*err);
			*err = NULL;
		}
		r = pve_error_set(err, EPIPE, "%s:%s closed the connection without a response",
				  c->host, c->port);
	}
	pve_buf_free(&chunk);
	pve_client_http_clear(&h);
	https_conn_close(&hc);
	return r;
}

int pve_client_new(const char *host, const char *port, const char *fingerprint, pve_client **ret,
		   pve_error **err)
{
	_cleanup_free_ char *fp = NULL;
	if (fingerprint) {
		fp = pve_client_fingerprint_normalize(fingerprint);
		if (!fp)
			return pve_error_set(err, EINVAL, "'%s' is not a SHA-256 fingerprint",
					     fingerprint);
	}
	pve_client *c = xmalloc(sizeof(*c));
	*c = (pve_client){
		.host = xstrdup(host),
		.port = xstrdup(port),
		.fingerprint = TAKE_PTR(fp),
	};
	*ret = c;
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void pve_client_free(pve_client *c)
{
	if (!c)
		return;
	if (c->ssl_ctx)
		SSL_CTX_free(c->ssl_ctx);
	free(c->host);
	free(c->port);
	free(c->fingerprint);
	free_secret(c->token);
	free_secret(c->ticket);
	free(c->csrf);
	free(c->peer_fingerprint);
	free(c);
}

void pve_client_set_token(pve_client *c, const char *token)
{
	free_secret(c->token);
	c->token = token ? xstrdup(token) : NULL;
}

void pve_client_set_ticket(pve_client *c, const char *ticket, const char *csrf)
{
	free_secret(c->ticket);
	free(c->csrf);
	c->ticket = ticket ? xstrdup(ticket) : NULL;
	c->csrf = csrf ? xstrdup(csrf) : NULL;
}

void pve_client_set_timeout(pve_client *c, int seconds)
{
	c->timeout_sec = seconds > 0 ? seconds : 0;
}

int pve_client_login(pve_client *c, const char *user, const char *password, pve_error **err)
{
	cJSON *params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "username", user);
	cJSON_AddStringToObject(params, "password", password);
	pve_client_response resp = { 0 };
	int r = http_exchange(c, "POST", "/access/ticket", params, false, &resp, err);
	cJSON *pw = cJSON_GetObjectItemCaseSensitive(params, "password");
	if (cJSON_IsString(pw))
		explicit_bzero(pw->valuestring, strlen(pw->valuestring));
	cJSON_Delete(params);
	if (r < 0)
		return r;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(resp.body, "data");
	const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(data, "ticket");
	const cJSON *csrf = cJSON_GetObjectItemCaseSensitive(data, "CSRFPreventionToken");
	if (resp.status != 200 || !cJSON_IsString(ticket) || !cJSON_IsString(csrf)) {
		r = pve_error_set(err, EACCES, "login as %s at %s:%s failed: %d %s", user, c->host,
				  c->port, resp.status,
				  resp.reason && *resp.reason ? resp.reason : "");
		pve_client_response_clear(&resp);
		return r;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "NeedTFA")) ||
	    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(data, "NeedTFA")) == 1) {
		pve_client_response_clear(&resp);
		return pve_error_set(
			err, EOPNOTSUPP,
			"%s needs a second factor, which this client does not support: use an API "
			"token",
			user);
	}
	free_secret(c->ticket);
	free(c->csrf);
	c->ticket = xstrdup(ticket->valuestring);
	c->csrf = xstrdup(csrf->valuestring);
	pve_client_response_clear(&resp);
	return 0;
}

int pve_client_call(pve_client *c, const char *method, const char *path, const cJSON *params,
		    pve_client_response *ret, pve_error **err)
{
	*ret = (pve_client_response){ 0 };
	int r = http_exchange(c, method, path, params, true, ret, err);
	if (r < 0)
		pve_client_response_clear(ret);
	return r;
}

const char *pve_client_peer_fingerprint(const pve_client *c)
{
	return c->peer_fingerprint;
}

char *pve_client_pem_fingerprint(const char *pem, size_t len)
{
	if (len > PEM_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	char *fp = cert_fingerprint(x);
	X509_free(x);
	return fp;
}
