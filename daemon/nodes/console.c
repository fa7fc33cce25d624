/* Consoles: the node shell (termproxy, spoken to by xterm.js), vncwebsocket, which relays an upgraded
 * websocket to a console's port on localhost, and the task that shows a guest's console socket as a
 * terminal over VNC (term/). The guests' consoles use them. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "daemon/nodes/console-internal.h"
#include "daemon/nodes/nodes-internal.h"
#include "term/term.h"

/* The client has this long to connect to a console, and then to say who it is. */
#define CONSOLE_CONNECT_TIMEOUT_MS 10000
#define AUTH_LINE_MAX 4096
#define RELAY_CHUNK XTERM_INPUT_MAX

/* ---- vncwebsocket: the relay ---------------------------------------------------------------------------- */

typedef struct relay {
	pved_call *call;
	struct bufferevent *bev;
	bool accepted;
} relay;

static void relay_free(relay *r)
{
	if (r->bev)
		bufferevent_free(r->bev);
	free(r);
}

static void relay_data(void *ud, const void *data, size_t len)
{
	relay *r = ud;
	bufferevent_write(r->bev, data, len);
}

static void relay_closed(void *ud)
{
	relay_free(ud);
}

static void relay_read(struct bufferevent *bev, void *arg)
{
	relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[RELAY_CHUNK];
	int n;
	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0)
		pved_call_stream_send(r->call, buf, (size_t)n);
}

static void relay_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	relay *r = arg;
	if (what & BEV_EVENT_CONNECTED) {
		r->accepted = true;
		pved_call_stream_accept(r->call, relay_data, relay_closed, r);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (!r->accepted) {
		pve_error *err = NULL;
		pve_error_set(&err, ECONNREFUSED, "unable to connect to the console");
		pved_call_fail(r->call, err);
	} else {
		relay_read(r->bev, r);
		pved_call_stream_end(r->call);
	}
	relay_free(r);
}

void pved_console_websocket(pved_call *c, const char *path)
{
	pve_error *err = NULL;
	if (!c->websocket) {
		pve_error_set(&err, EINVAL, "websocket upgrade required");
		return pved_call_fail(c, err);
	}
	int port = (int)pved_call_int(c, "port", 0);
	if (pved_auth_verify_vncticket(c->d, pved_call_str(c, "vncticket"), c->authid, path, port,
				       &err) < 0)
		return pved_call_fail(c, err);

	relay *r = xcalloc(1, sizeof(*r));
	r->call = c;
	r->bev = bufferevent_socket_new(c->d->base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bufferevent_setcb(r->bev, relay_read, NULL, relay_event, r);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		relay_free(r);
		pve_error_set(&err, ECONNREFUSED, "unable to connect to the console on port %d",
			      port);
		return pved_call_fail(c, err);
	}
}

static void h_vncwebsocket(pved_call *c)
{
	_cleanup_free_ char *path = xasprintf("/nodes/%s", c->d->node);
	pved_console_websocket(c, path);
}

/* ---- termproxy: the node shell ---------------------------------------------------------------------------
 * A task listens on a port on localhost for the relay's connection. The first line must be
 * "<user>:<vncticket>\n" (xterm.js sends it first, as for Proxmox's termproxy), answered "OK"; then a
 * login runs on a pty, and the client's messages are "0:<len>:<data>" (input), "1:<cols>:<rows>:" (resize)
 * and "2" (ping). */

int pved_console_listen(int *ret_port, pve_error **err)
{
	return pve_listen_local_port(CONSOLE_PORT_MIN, CONSOLE_PORT_MAX, ret_port, err);
}

void pved_console_reply(pved_call *c, int port, const char *ticket, const char *upid, bool cert,
			const char *password)
{
	cJSON *o = cJSON_CreateObject();
	if (cert) {
		_cleanup_free_ char *pem = NULL;
		size_t len = 0;
		(void)pve_store_read(c->d->store, "pve-root-ca.pem", &pem, &len, NULL, NULL);
		cJSON_AddStringToObject(o, "cert", pem ? pem : "");
	}
	cJSON_AddNumberToObject(o, "port", port);
	cJSON_AddStringToObject(o, "ticket", ticket);
	cJSON_AddStringToObject(o, "upid", upid);
	cJSON_AddStringToObject(o, "user", c->authid);
	if (password)
		cJSON_AddStringToObject(o, "password", password);
	pved_call_reply(c, o);
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Reads "<user>:<ticket>\n" within the timeout; leaves whatever came after it in rest. */
static int read_auth_line(int fd, char **ret_line, pve_buf *rest, pve_error **err)
{
	pve_buf b = { 0 };
	for (;;) {
		char *nl = b.data ? memchr(b.data, '\n', b.len) : NULL;
		if (nl) {
			pve_buf_append(rest, nl + 1, b.len - (size_t)(nl + 1 - b.data));
			*nl = '\0';
			*ret_line = pve_buf_steal(&b);
			return 0;
		}
		if (b.len > AUTH_LINE_MAX || wait_readable(fd, CONSOLE_CONNECT_TIMEOUT_MS) <= 0) {
			pve_buf_free(&b);
			return pve_error_set(err, EACCES,
					     "no authentication from the console client");
		}
		char buf[512];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			pve_buf_free(&b);
			return pve_error_set(err, EACCES,
					     "the console client left before authenticating");
		}
		pve_buf_append(&b, buf, (size_t)n);
	}
}

/* A decimal field of at most 10 digits and at most max, ended by ':': 1 and the position after the
 * ':' in *pos, 0 when the buffer ends first, -EBADMSG otherwise. strtoul would read on past the
 * message's end (the buffer keeps stale bytes there once consumed messages are moved out) and take
 * signs and blanks. */
static int xterm_field(const char *buf, size_t len, size_t *pos, unsigned long max,
		       unsigned long *ret)
{
	unsigned long v = 0;
	size_t i = *pos;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i - *pos >= 10)
			return -EBADMSG;
		v = v * 10 + (unsigned long)(buf[i] - '0');
		if (v > max)
			return -EBADMSG;
	}
	if (i == len)
		return 0;
	if (i == *pos || buf[i] != ':')
		return -EBADMSG;
	*pos = i + 1;
	*ret = v;
	return 1;
}

ssize_t pved_xterm_msg_parse(const char *buf, size_t len, xterm_msg *ret)
{
	if (len == 0)
		return 0;
	if (buf[0] == '2') {
		*ret = (xterm_msg){ .type = XTERM_PING };
		return 1;
	}
	if (buf[0] != '0' && buf[0] != '1')
		return -EBADMSG;
	if (len < 2)
		return 0;
	if (buf[1] != ':')
		return -EBADMSG;
	size_t pos = 2;
	unsigned long a, b;
	int r;
	if (buf[0] == '0') {
		if ((r = xterm_field(buf, len, &pos, XTERM_INPUT_MAX, &a)) <= 0)
			return r;
		if (len - pos < a)
			return 0;
		*ret = (xterm_msg){ .type = XTERM_INPUT, .data = buf + pos, .len = a };
		return (ssize_t)(pos + a);
	}
	if ((r = xterm_field(buf, len, &pos, USHRT_MAX, &a)) <= 0 ||
	    (r = xterm_field(buf, len, &pos, USHRT_MAX, &b)) <= 0)
		return r;
	*ret = (xterm_msg){ .type = XTERM_RESIZE, .cols = (unsigned)a, .rows = (unsigned)b };
	return (ssize_t)pos;
}

/* Consumes complete xterm.js messages from in; input goes to the pty (or a VM's serial port, where the
 * resize fails and does no harm). Returns false on a malformed message. */
static bool xterm_messages(pve_buf *in, int pty)
{
	size_t off = 0;
	while (off < in->len) {
		xterm_msg m;
		ssize_t n = pved_xterm_msg_parse(in->data + off, in->len - off, &m);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		off += (size_t)n;
		if (m.type == XTERM_INPUT && pve_write_all(pty, m.data, m.len) < 0)
			return false;
		if (m.type == XTERM_RESIZE) {
			struct winsize ws = { .ws_col = (unsigned short)m.cols,
					      .ws_row = (unsigned short)m.rows };
			ioctl(pty, TIOCSWINSZ, &ws);
		}
	}
	if (off > 0) {
		memmove(in->data, in->data + off, in->len - off);
		in->len -= off;
	}
	return true;
}

/* The listening socket is PVED_TASK_FD(0).
 * args: {"port": the console port, "authid": who may connect, "path": the ACL path of its ticket} */
static int shell_task(pved *d, const cJSON *args, pve_error **err)
{
	const cJSON *jport = cJSON_GetObjectItemCaseSensitive(args, "port");
	const cJSON *jauthid = cJSON_GetObjectItemCaseSensitive(args, "authid");
	const cJSON *jpath = cJSON_GetObjectItemCaseSensitive(args, "path");
	if (!cJSON_IsNumber(jport) || !cJSON_IsString(jauthid) || !cJSON_IsString(jpath))
		return pve_error_set(err, EINVAL, "the console task lacks its port, user or path");
	const struct {
		int port;
		const char *authid, *path;
	} s_ = { jport->valueint, jauthid->valuestring, jpath->valuestring }, *s = &s_;
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	printf("starting termproxy on port %d for %s\n", s->port, s->authid);
	fflush(stdout);
	_cleanup_close_ int fd = -1;
	pve_buf in = { 0 };
	int r = pved_console_xterm_accept(d, lfd, s->port, s->authid, s->path, &fd, &in, err);
	if (r < 0)
		return r;

	int pty;
	pid_t pid = forkpty(&pty, NULL, NULL, NULL);
	if (pid < 0) {
		pve_buf_free(&in);
		return pve_error_set(err, errno, "forkpty: %m");
	}
	if (pid == 0) {
		setenv("TERM", "xterm-256color", 1);
		/* root@pam gets the root shell, as in Proxmox; anyone else logs in as a system user. */
		if (strcmp(s->authid, "root@pam") == 0)
			execl("/bin/login", "login", "-f", "root", (char *)NULL);
		else
			execl("/bin/login", "login", (char *)NULL);
		_exit(127);
	}
	pved_console_xterm_relay(fd, pty, &in);
	pve_buf_free(&in);
	close(pty);
	kill(pid, SIGHUP);
	waitpid(pid, NULL, 0);
	printf("console closed\n");
	return 0;
}

/* The one client of a console task, within the time it has to connect. */
static int accept_client(int lfd, pve_error **err)
{
	if (wait_readable(lfd, CONSOLE_CONNECT_TIMEOUT_MS) <= 0)
		return pve_error_set(err, ETIMEDOUT, "no connection to the console within %d s",
				     CONSOLE_CONNECT_TIMEOUT_MS / 1000);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "accept: %m");
	return fd;
}

int pved_console_xterm_accept(pved *d, int lfd, int port, const char *authid, const char *path,
			      int *ret_fd, pve_buf *rest, pve_error **err)
{
	_cleanup_close_ int fd = accept_client(lfd, err);
	if (fd < 0)
		return fd;
	_cleanup_free_ char *line = NULL;
	int r = read_auth_line(fd, &line, rest, err);
	if (r < 0)
		return r;
	char *colon = strchr(line, ':');
	if (!colon || (size_t)(colon - line) != strlen(authid) ||
	    strncmp(line, authid, (size_t)(colon - line)) != 0 ||
	    pved_auth_verify_vncticket(d, colon + 1, authid, path, port, err) < 0) {
		pve_buf_free(rest);
		return pve_error_set(err, EACCES, "console authentication failed");
	}
	(void)pve_write_all(fd, "OK", 2);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

void pved_console_xterm_relay(int fd, int target, pve_buf *in)
{
	bool ok = xterm_messages(in, target);
	while (ok) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = target, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char buf[8192];
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(target, buf, sizeof(buf));
			if (n <= 0 || pve_write_all(fd, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0 || in->len + (size_t)n > 2 * RELAY_CHUNK)
				break;
			pve_buf_append(in, buf, (size_t)n);
			ok = xterm_messages(in, target);
		}
	}
}

int pved_console_connect(const char *path, pve_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return pve_error_set(err, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pve_error_set(err, errno, "socket: %m");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return pve_error_set(err, e, "can't connect to the console %s: %s", path,
				     strerror(e));
	}
	return fd;
}

cJSON *pved_console_vncterm_args(int port, const char *console, const char *password,
				 const char *title)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "port", port);
	cJSON_AddStringToObject(args, "console", console);
	cJSON_AddStringToObject(args, "password", password);
	cJSON_AddStringToObject(args, "title", title);
	return args;
}

/* What a terminal task (vncterm, spiceterm) starts with: its arguments, the font and a connection to the
 * console, in that order, so that a node without the font fails at once, naming the package. */
typedef struct term_task {
	long long port;
	const char *password, *title;
	term_font *font;
	int console;
} term_task;

static void term_task_done(term_task *t)
{
	term_font_free(t->font);
	closep(&t->console);
}

static int term_task_open(const cJSON *args, const char *name, term_task *ret, pve_error **err)
{
	term_task t = { .console = -1 };
	const char *console = pve_json_str(args, "console");
	t.password = pve_json_str(args, "password");
	t.title = pve_json_str(args, "title");
	if (!pve_json_int(args, "port", &t.port) || !console || !t.password || !t.title)
		return pve_error_set(err, EINVAL,
				     "the console task lacks its port, console or password");
	printf("starting %s on port %lld for %s\n", name, t.port, console);
	fflush(stdout);
	int r = term_font_load(TERM_FONT_PATH, &t.font, err);
	if (r < 0)
		return r;
	t.console = pved_console_connect(console, err);
	if (t.console < 0) {
		term_font_free(t.font);
		return t.console;
	}
	*ret = t;
	return 0;
}

int pved_console_vncterm_task(pved *d, const cJSON *args, pve_error **err)
{
	(void)d;
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	_cleanup_(term_task_done) term_task t = { .console = -1 };
	int r = term_task_open(args, "vncterm", &t, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = accept_client(lfd, err);
	if (fd < 0)
		return fd;
	term_vnc_opts o = { .password = t.password, .title = t.title, .font = t.font };
	r = term_vnc_serve(fd, t.console, &o, err);
	if (r < 0)
		return r;
	printf("console closed\n");
	return 0;
}

/* The SPICE password's lifetime, spiceterm's: every channel of the one client links with it. */
#define SPICE_TICKET_LIFETIME_S 300

int pved_console_spiceterm_task(pved *d, const cJSON *args, pve_error **err)
{
	_cleanup_close_ int lfd = PVED_TASK_FD(0);
	_cleanup_(term_task_done) term_task t = { .console = -1 };
	int r = term_task_open(args, "spiceterm", &t, err);
	if (r < 0)
		return r;
	/* libspice writes to the client's TLS connections with write(): a client that left is EPIPE */
	signal(SIGPIPE, SIG_IGN);
	const char *etc = pve_store_dir(d->store);
	_cleanup_free_ char *ca = xasprintf("%s/pve-root-ca.pem", etc);
	_cleanup_free_ char *cert = xasprintf("%s/nodes/%s/pve-ssl.pem", etc, d->node);
	_cleanup_free_ char *key = xasprintf("%s/nodes/%s/pve-ssl.key", etc, d->node);
	term_spice_opts o = {
		.port = (int)t.port,
		.reserved_fd = TAKE_FD(lfd),
		.password = t.password,
		.password_lifetime = SPICE_TICKET_LIFETIME_S,
		.ca_file = ca,
		.cert_file = cert,
		.key_file = key,
		.timeout = SPICE_CLIENT_TIMEOUT_S,
		.title = t.title,
		.font = t.font,
	};
	r = term_spice_serve(t.console, &o, err);
	if (r < 0)
		return r;
	printf("console closed\n");
	return 0;
}

int pved_console_spice_config(pved *d, int port, const char *password, const char *host,
			      const char *proxy, const char *title, cJSON **ret, pve_error **err)
{
	_cleanup_free_ char *certpath = xasprintf("nodes/%s/pve-ssl.pem", d->node);
	_cleanup_free_ char *cert = NULL, *ca = NULL;
	int r;
	if ((r = pve_store_read(d->store, certpath, &cert, NULL, NULL, err)) < 0 ||
	    (r = pve_store_read(d->store, "pve-root-ca.pem", &ca, NULL, NULL, err)) < 0)
		return r;
	_cleanup_free_ char *subject = pve_cert_subject_spice(cert, err);
	if (!subject)
		return -EINVAL;
	/* the CA on one line, its line breaks as "\n": the viewer's file is an INI file */
	pve_buf cabuf = { 0 };
	for (const char *p = ca; *p; p++)
		if (*p == '\n')
			pve_buf_puts(&cabuf, "\\n");
		else
			pve_buf_append(&cabuf, p, 1);
	_cleanup_free_ char *ca1 = pve_buf_steal(&cabuf);
	/* the proxy: the caller's choice, else this node, on the SPICE proxy's port (3128) */
	if (!proxy || !*proxy)
		proxy = d->node;
	bool v6 = strchr(proxy, ':') != NULL;
	_cleanup_free_ char *url = xasprintf("http://%s%s%s:%d", v6 ? "[" : "", proxy,
					     v6 ? "]" : "", d->spice_port ? d->spice_port : 3128);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "secure-attention", "Ctrl+Alt+Ins");
	cJSON_AddStringToObject(o, "toggle-fullscreen", "Shift+F11");
	cJSON_AddStringToObject(o, "release-cursor", "Ctrl+Alt+R");
	cJSON_AddStringToObject(o, "type", "spice");
	cJSON_AddStringToObject(o, "title", title);
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddStringToObject(o, "proxy", url);
	cJSON_AddNumberToObject(o, "tls-port", port);
	cJSON_AddStringToObject(o, "host-subject", subject);
	cJSON_AddStringToObject(o, "ca", ca1);
	cJSON_AddStringToObject(o, "password", password);
	cJSON_AddNumberToObject(o, "delete-this-file", 1);
	*ret = o;
	return 0;
}

static void h_termproxy(pved_call *c)
{
	pve_error *err = NULL;
	/* The node shell is for the node's own (pam) users, as the route says: a user of another realm
	 * has no account on the node to log in with, and tokens no login at all. */
	if (!pve_userid_valid(c->authid) || !endswith(c->authid, "@pam")) {
		pve_error_set(&err, EACCES, "Permission check failed (realm != pam)");
		return pved_call_fail(c, err);
	}
	int port;
	_cleanup_close_ int lfd = pved_console_listen(&port, &err);
	if (lfd < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *path = xasprintf("/nodes/%s", c->d->node);
	cJSON *args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "port", port);
	cJSON_AddStringToObject(args, "authid", c->authid);
	cJSON_AddStringToObject(args, "path", path);
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start_fds(c->d, "vncshell", "", c->authid, args, &lfd, 1, &upid, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *ticket = pved_auth_vncticket(c->d, c->authid, path, port);
	pved_console_reply(c, port, ticket, upid, false, NULL);
}

const pved_task_kind pved_tasks_console[] = {
	{ "vncshell", shell_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_console[] = {
	{ "node_termproxy", h_termproxy },
	{ "node_vncwebsocket", h_vncwebsocket },
	{ NULL, NULL },
};
