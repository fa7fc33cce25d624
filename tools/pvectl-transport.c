/* pvectl's transports: wire frames over the node's local socket, and HTTPS through client/ with the
 * password from a file or the terminal, or an API token. */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include "tools/pvectl-internal.h"

/* The password or token read from a file or the terminal. */
#define SECRET_MAX 4096

/* ---- transport 1: the local socket ----------------------------------------------------------- */

static int local_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		      pve_client_response *ret, pve_error **err)
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
	if (body.len > 0)
		ret->body = cJSON_ParseWithLength(body.data, body.len);
	pve_buf_free(&body);
	return 0;
}

/* ---- transport 2: HTTPS ---------------------------------------------------------------------- */

int pvectl_read_secret_file(const char *path, char **ret, pve_error **err)
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

/* The client's error for a certificate it cannot verify, with pvectl's advice: its option. */
static int https_advice(pvectl *c, int r, pve_error **err)
{
	const char *seen = pve_client_peer_fingerprint(c->https);
	if (r == -EPERM && !c->fingerprint && seen && err && *err) {
		_cleanup_free_ char *msg = xstrdup((*err)->message);
		pve_error_free(*err);
		*err = NULL;
		return pve_error_set(
			err, EPERM,
			"%s. If this is a pved node with its own self-signed certificate, check its "
			"fingerprint and pin it with --fingerprint (the server presented %s)",
			msg, seen);
	}
	return r;
}

static int https_login(pvectl *c, pve_error **err)
{
	_cleanup_free_ char *password = NULL;
	int r = c->password_file ? pvectl_read_secret_file(c->password_file, &password, err) :
				   prompt_password(c->user, &password, err);
	if (r < 0)
		return r;
	r = pve_client_login(c->https, c->user, password, err);
	explicit_bzero(password, strlen(password));
	if (r == -EOPNOTSUPP) {
		/* the client's second-factor refusal, with pvectl's way out */
		if (err) {
			pve_error_free(*err);
			*err = NULL;
		}
		return pve_error_set(
			err, EACCES,
			"%s needs a second factor, which pvectl does not support: use --token",
			c->user);
	}
	return r;
}

static int https_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		      pve_client_response *ret, pve_error **err)
{
	if (!c->https) {
		if (!c->token && !c->user)
			return pve_error_set(
				err, EINVAL,
				"--url needs --user (with --password-file) or --token");
		int r = pve_client_new(c->host, c->port, c->fingerprint, &c->https, err);
		if (r < 0)
			return r;
		if (c->token)
			pve_client_set_token(c->https, c->token);
	}
	if (!c->token && !c->logged_in) {
		int r = https_login(c, err);
		if (r < 0)
			return https_advice(c, r, err);
		c->logged_in = true;
	}
	return https_advice(c, pve_client_call(c->https, method, path, params, ret, err), err);
}

int pvectl_call(pvectl *c, const char *method, const char *path, const cJSON *params,
		pve_client_response *ret, pve_error **err)
{
	*ret = (pve_client_response){ 0 };
	int r = c->url ? https_call(c, method, path, params, ret, err) :
			 local_call(c, method, path, params, ret, err);
	if (r < 0)
		pve_client_response_clear(ret);
	return r;
}

void pvectl_transport_done(pvectl *c)
{
	pve_client_free(c->https);
	c->https = NULL;
}
