/* pvectl's transports: wire frames over the node's local socket, and HTTPS (OpenSSL, HTTP/1.1)
 * with a ticket login or an API token, pinning the server certificate by its SHA-256. */
#include <ctype.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client/http-internal.h"
#include "tools/pvectl-internal.h"

/* The password or token read from a file or the terminal. */
#define SECRET_MAX 4096

void pvectl_response_clear(pvectl_response *r)
{
	free(r->reason);
	cJSON_Delete(r->body);
	*r = (pvectl_response){ 0 };
}

static int parse_body(pvectl_response *r, const char *body, size_t len)
{
	if (len == 0)
		return 0;
	r->body = cJSON_ParseWithLength(body, len);
	return 0;
}

/* ---- transport 1: the local socket ----------------------------------------------------------- */

static int local_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		      pvectl_response *ret, pve_error **err)
{
	const char *root = c->root ? c->root : "/";
	_cleanup_free_ char *sock =
		xasprintf("%s%srun/pved.sock", root, root[strlen(root) - 1] == '/' ? "" : "/");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof(sa.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "socket path %s is too long", sock);
	strcpy(sa.sun_path, sock);

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pve_error_set(err, errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		return pve_error_set(
			err, e,
			"cannot connect to pved at %s: %s (is pved running with --root %s?)", sock,
			strerror(e), root);
	}

	pve_request req = {
		.method = (char *)method,
		.path = (char *)path,
		.params = (cJSON *)params,
		.client = (char *)"local",
		/* The whole answer at once, as far as pvectl takes one: it reads every frame as it
		 * comes, so no WINDOW frame is needed below that. */
		.window = PVECTL_MAX_BODY + (1u << 20),
	};
	_cleanup_free_ char *payload = NULL;
	size_t payload_len;
	int r = pve_request_encode(&req, &payload, &payload_len, err);
	if (r < 0)
		return r;
	pve_buf out = { 0 };
	pve_wire_append_request(&out, 1, payload, payload_len);
	r = pve_write_all(fd, out.data, out.len);
	pve_buf_free(&out);
	if (r < 0)
		return pve_error_set(err, -r, "sending the request to %s: %s", sock, strerror(-r));

	pve_buf body = { 0 };
	bool have_head = false;
	for (;;) {
		uint8_t hb[PVE_WIRE_HEADER_SIZE];
		ssize_t got = pve_read_full(fd, hb, sizeof(hb));
		if (got != (ssize_t)sizeof(hb)) {
			pve_buf_free(&body);
			return pve_error_set(
				err, got < 0 ? (int)-got : EPIPE,
				"pved closed the connection before the response ended");
		}
		pve_wire_header h;
		r = pve_wire_header_decode(hb, &h, err);
		if (r < 0) {
			pve_buf_free(&body);
			return r;
		}
		_cleanup_free_ uint8_t *p = xmalloc(h.len ? h.len : 1);
		if (h.len && pve_read_full(fd, p, h.len) != (ssize_t)h.len) {
			pve_buf_free(&body);
			return pve_error_set(err, EPIPE,
					     "pved closed the connection inside a frame");
		}
		if (h.id != 1)
			continue; /* not ours; a frame for another request id cannot happen here */
		if (!have_head) {
			if (h.type != PVE_WIRE_RESPONSE) {
				pve_buf_free(&body);
				return pve_error_set(err, EPROTO,
						     "pved sent frame type %u before a response",
						     h.type);
			}
			const char *b;
			size_t blen;
			uint64_t total;
			r = pve_wire_response_decode(p, h.len, h.flags, &ret->status, &ret->reason,
						     &total, &b, &blen, err);
			if (r < 0) {
				pve_buf_free(&body);
				return r;
			}
			pve_buf_append(&body, b, blen);
			have_head = true;
		} else if (h.type == PVE_WIRE_DATA) {
			pve_buf_append(&body, p, h.len);
		} else {
			pve_buf_free(&body);
			return pve_error_set(err, EPROTO,
					     "pved sent frame type %u inside a response", h.type);
		}
		if (body.len > PVECTL_MAX_BODY) {
			pve_buf_free(&body);
			return pve_error_set(err, EFBIG, "response exceeds %u MiB",
					     PVECTL_MAX_BODY >> 20);
		}
		if (h.flags & PVE_WIRE_ABORT) {
			pve_buf_free(&body);
			return pve_error_set(err, EIO, "pved cut the response short");
		}
		if (h.flags & PVE_WIRE_FIN)
			break;
	}
	parse_body(ret, body.data, body.len);
	pve_buf_free(&body);
	return 0;
}

/* ---- transport 2: HTTPS ---------------------------------------------------------------------- */

char *pvectl_fingerprint_normalize(const char *s)
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
	char *out = xmalloc(3 * sizeof(bytes));
	for (size_t i = 0; i < sizeof(bytes); i++)
		sprintf(out + 3 * i, "%02X%s", bytes[i], i + 1 < sizeof(bytes) ? ":" : "");
	return out;
}

static char *cert_fingerprint(X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!cert || !X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return NULL;
	char *out = xmalloc(3 * mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(out + 3 * i, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
	return out;
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

static int tcp_connect(const char *host, const char *port, pve_error **err)
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

static int https_connect(pvectl *c, https_conn *hc, pve_error **err)
{
	*hc = (https_conn){ .fd = -1 };
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
	int fd = tcp_connect(c->host, c->port, err);
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

	X509 *cert = SSL_get0_peer_certificate(hc->ssl);
	_cleanup_free_ char *seen = cert_fingerprint(cert);
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
		return pve_error_set(
			err, EPERM,
			"the certificate of %s:%s cannot be verified (%s). If this is a pved "
			"node with its own self-signed certificate, check its fingerprint and "
			"pin it with --fingerprint (the server presented %s)",
			c->host, c->port, X509_verify_cert_error_string(v), seen);
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
	if (n > 0) {
		pve_buf_append(b, tmp, (size_t)n);
		return n;
	}
	int e = SSL_get_error(hc->ssl, n);
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

static void form_encode(pve_buf *b, const cJSON *params)
{
	const cJSON *p;
	cJSON_ArrayForEach (p, params) {
		if (cJSON_IsArray(p)) {
			const cJSON *v;
			cJSON_ArrayForEach (v, p) {
				_cleanup_free_ char *s = pvectl_value_text(v);
				form_add(b, p->string, s);
			}
		} else {
			_cleanup_free_ char *s = pvectl_value_text(p);
			form_add(b, p->string, s);
		}
	}
}

static int http_exchange(pvectl *c, const char *method, const char *path, const cJSON *params,
			 bool with_auth, pvectl_response *ret, pve_error **err)
{
	bool in_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
	pve_buf form = { 0 };
	if (params)
		form_encode(&form, params);

	pve_buf req = { 0 };
	pve_buf_printf(&req, "%s /api2/json", method);
	url_encode(&req, path, "/:@!$'()*+,;=");
	if (!in_body && form.len)
		pve_buf_printf(&req, "?%s", form.data);
	bool v6 = strchr(c->host, ':') != NULL;
	pve_buf_printf(&req,
		       " HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: pvectl\r\n"
		       "Accept: application/json\r\nConnection: close\r\n",
		       v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
	if (with_auth && c->token)
		pve_buf_printf(&req, "Authorization: PVEAPIToken=%s\r\n", c->token);
	if (with_auth && c->ticket) {
		pve_buf_printf(&req, "Cookie: PVEAuthCookie=%s\r\n", c->ticket);
		if (strcmp(method, "GET") != 0 && c->csrf)
			pve_buf_printf(&req, "CSRFPreventionToken: %s\r\n", c->csrf);
	}
	if (in_body)
		pve_buf_printf(&req,
			       "Content-Type: application/x-www-form-urlencoded\r\n"
			       "Content-Length: %zu\r\n",
			       form.len);
	pve_buf_puts(&req, "\r\n");
	if (in_body)
		pve_buf_append(&req, form.data, form.len);
	pve_buf_free(&form);

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
	pvectl_http h;
	pvectl_http_init(&h, PVECTL_MAX_BODY);
	pve_buf chunk = { 0 };
	for (;;) {
		chunk.len = 0;
		r = ssl_read_some(&hc, &chunk, 16384, err);
		if (r < 0)
			break;
		r = pvectl_http_feed(&h, chunk.data, chunk.len, err);
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
	pvectl_http_clear(&h);
	https_conn_close(&hc);
	return r;
}

static int read_secret_file(const char *path, char **ret, pve_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pve_error_set(err, errno, "cannot open %s: %s", path, strerror(errno));
	char buf[SECRET_MAX + 1];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return pve_error_set(err, errno, "reading %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0])
		return pve_error_set(err, EINVAL, "%s: the first line is empty", path);
	*ret = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int prompt_password(const char *user, char **ret, pve_error **err)
{
	_cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pve_error_set(
			err, ENOTTY,
			"no terminal to ask for the password of %s: pass --password-file", user);
	struct termios old, quiet;
	if (tcgetattr(fd, &old) < 0)
		return pve_error_set(err, errno, "tcgetattr: %s", strerror(errno));
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ICANON;
	_cleanup_free_ char *prompt = xasprintf("Password for %s: ", user);
	(void)!write(fd, prompt, strlen(prompt));
	tcsetattr(fd, TCSAFLUSH, &quiet);
	char buf[SECRET_MAX + 1];
	ssize_t n;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	if (n <= 0)
		return pve_error_set(err, n < 0 ? e : EINVAL, "no password read");
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*ret = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int https_login(pvectl *c, pve_error **err)
{
	_cleanup_free_ char *password = NULL;
	int r = c->password_file ? read_secret_file(c->password_file, &password, err) :
				   prompt_password(c->user, &password, err);
	if (r < 0)
		return r;
	cJSON *params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "username", c->user);
	cJSON_AddStringToObject(params, "password", password);
	explicit_bzero(password, strlen(password));
	pvectl_response resp = { 0 };
	r = http_exchange(c, "POST", "/access/ticket", params, false, &resp, err);
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
		r = pve_error_set(err, EACCES, "login as %s at %s:%s failed: %d %s", c->user,
				  c->host, c->port, resp.status,
				  resp.reason && *resp.reason ? resp.reason : "");
		pvectl_response_clear(&resp);
		return r;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "NeedTFA")) ||
	    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(data, "NeedTFA")) == 1) {
		pvectl_response_clear(&resp);
		return pve_error_set(
			err, EACCES,
			"%s needs a second factor, which pvectl does not support: use --token",
			c->user);
	}
	c->ticket = xstrdup(ticket->valuestring);
	c->csrf = xstrdup(csrf->valuestring);
	pvectl_response_clear(&resp);
	return 0;
}

static int https_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		      pvectl_response *ret, pve_error **err)
{
	if (!c->token && !c->ticket) {
		if (!c->user)
			return pve_error_set(
				err, EINVAL,
				"--url needs --user (with --password-file) or --token");
		int r = https_login(c, err);
		if (r < 0)
			return r;
	}
	return http_exchange(c, method, path, params, true, ret, err);
}

int pvectl_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		pvectl_response *ret, pve_error **err)
{
	*ret = (pvectl_response){ 0 };
	int r = c->url ? https_call(c, method, path, params, ret, err) :
			 local_call(c, method, path, params, ret, err);
	if (r < 0)
		pvectl_response_clear(ret);
	return r;
}

void pvectl_transport_done(pvectl *c)
{
	if (c->ssl_ctx)
		SSL_CTX_free(c->ssl_ctx);
	c->ssl_ctx = NULL;
	if (c->ticket)
		explicit_bzero(c->ticket, strlen(c->ticket));
	free(c->ticket);
	free(c->csrf);
	c->ticket = c->csrf = NULL;
}
