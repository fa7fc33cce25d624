/* The SPICE proxy (Proxmox's spiceproxy): a CONNECT from the front's SPICE port, whose proxy ticket
 * names the VM's node and SPICE port, relayed to that port on localhost both ways within windows;
 * another cluster node's ticket goes to that node's SPICE proxy with the same CONNECT, as Proxmox's
 * handle_spice_proxy_request does. */
#include <arpa/inet.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>

#include "daemon/core/pved.h"
#include "kvm/kvm.h"

/* What the front may send of the client's bytes ahead of what QEMU took, and the most read from QEMU
 * at once: a slow side holds the other back, at about these bounds. */
#define TUNNEL_WINDOW (256u << 10)
#define TUNNEL_CHUNK (64u << 10)
/* Another node's SPICE proxy: Proxmox's port; its answer's head, and the time it has for it. */
#define REMOTE_PORT 3128
#define REMOTE_HEAD_MAX 1024
#define REMOTE_TIMEOUT_S 10

typedef struct tunnel {
	pved_call *call;
	struct bufferevent *bev;
	bool accepted;
	uint32_t taken; /* client bytes QEMU's socket took since the last grant */
	char *remote; /* another node's name: its proxy's "200 OK" comes before the tunnel */
	char *connect; /* ... and the CONNECT's target, sent on to it */
} tunnel;

static void tunnel_free(tunnel *t)
{
	if (t->bev)
		bufferevent_free(t->bev);
	free(t->remote);
	free(t->connect);
	free(t);
}

/* QEMU's bytes to the client, as far as the front's window goes; reading waits for more of it. */
static bool remote_head(tunnel *t);

static void tunnel_read(struct bufferevent *bev, void *arg)
{
	tunnel *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (!t->accepted && (!t->remote || !remote_head(t)))
		return;
	char buf[TUNNEL_CHUNK];
	for (;;) {
		uint64_t window = pved_call_window(t->call);
		size_t want = evbuffer_get_length(in);
		if (!want)
			break;
		if (!window) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
		if (want > window)
			want = (size_t)window;
		if (want > sizeof(buf))
			want = sizeof(buf);
		int n = evbuffer_remove(in, buf, want);
		if (n <= 0)
			break;
		pved_call_stream_send(t->call, buf, (size_t)n);
	}
	bufferevent_enable(bev, EV_READ);
}

static void tunnel_window(void *ud)
{
	tunnel *t = ud;
	tunnel_read(t->bev, t);
}

/* The client's bytes: to QEMU's socket; granted again once it took them (tunnel_written). */
static void tunnel_data(void *ud, const void *data, size_t len)
{
	tunnel *t = ud;
	bufferevent_write(t->bev, data, len);
	t->taken += (uint32_t)len;
}

static void tunnel_written(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tunnel *t = arg;
	if (t->accepted && t->taken) {
		pved_call_body_grant(t->call, t->taken);
		t->taken = 0;
	}
}

static void tunnel_closed(void *ud)
{
	tunnel_free(ud);
}

/* The other node's proxy answered (its head whole in the input): "200 OK" opens the tunnel, with
 * what followed the head relayed as the client's window allows (true); anything else is the answer to
 * the client, and the tunnel is gone (false). */
static bool remote_head(tunnel *t)
{
	struct evbuffer *in = bufferevent_get_input(t->bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) <= REMOTE_HEAD_MAX)
			return false;
		pved_call_fail_statusf(t->call, 502, "SPICE proxy of node '%s': answer too long",
				       t->remote);
		tunnel_free(t);
		return false;
	}
	if ((size_t)end.pos + 4 > REMOTE_HEAD_MAX) {
		pved_call_fail_statusf(t->call, 502, "SPICE proxy of node '%s': answer too long",
				       t->remote);
		tunnel_free(t);
		return false;
	}
	char head[REMOTE_HEAD_MAX + 1];
	size_t n = (size_t)end.pos + 4;
	evbuffer_remove(in, head, n);
	head[n] = '\0';
	head[strcspn(head, "\r\n")] = '\0';
	/* "HTTP/1.0 <status> <reason>", as Proxmox's proxy and ours answer */
	int status = 0, off = 0;
	if (sscanf(head, "HTTP/1.%*1[01] %3d %n", &status, &off) < 1 || status < 100 ||
	    status > 599) {
		pved_call_fail_statusf(t->call, 502, "SPICE proxy of node '%s': bad answer",
				       t->remote);
		tunnel_free(t);
		return false;
	}
	if (status != 200) {
		const char *reason = off ? head + off : "";
		pved_call_fail_statusf(t->call, status, "%s", *reason ? reason : "refused");
		tunnel_free(t);
		return false;
	}
	bufferevent_set_timeouts(t->bev, NULL, NULL);
	t->accepted = true;
	return pved_call_tunnel_accept(t->call, tunnel_data, tunnel_closed, tunnel_window, t,
				       TUNNEL_WINDOW);
}

static void tunnel_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	tunnel *t = arg;
	if ((what & BEV_EVENT_CONNECTED) && t->remote) {
		/* as Proxmox's proxy passes it on, with the header that keeps it from going on */
		pve_buf b = { 0 };
		pve_buf_printf(&b,
			       "CONNECT %s HTTP/1.0\r\nHost: %s\r\nProxy-Connection: keep-alive\r\n"
			       "User-Agent: spiceproxy\r\nPVEDisableProxy: true\r\n\r\n",
			       t->connect, t->connect);
		bufferevent_write(t->bev, b.data, b.len);
		pve_buf_free(&b);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		t->accepted = true;
		pved_call_tunnel_accept(t->call, tunnel_data, tunnel_closed, tunnel_window, t,
					TUNNEL_WINDOW);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (!t->accepted && t->remote) {
		pved_call_fail_statusf(t->call, 502, "SPICE proxy of node '%s': %s", t->remote,
				       what & BEV_EVENT_TIMEOUT ? "no answer" :
								  "connection failed");
	} else if (!t->accepted) {
		pve_error *err = NULL;
		pve_error_set(&err, ECONNREFUSED, "unable to connect to the SPICE port");
		pved_call_fail(t->call, err);
	} else {
		pved_call_stream_end(t->call);
	}
	tunnel_free(t);
}

/* Another cluster node's SPICE proxy: its name as the members list spells it, and its address on
 * Proxmox's port. */
static int remote_address(pved *d, const char *node, char **ret_name, struct sockaddr_storage *ss,
			  socklen_t *ret_len)
{
	_cleanup_json_ cJSON *m = pved_cluster_members(d);
	const cJSON *n;
	cJSON_ArrayForEach (n, cJSON_GetObjectItemCaseSensitive(m, "nodelist")) {
		if (!n->string || strcasecmp(n->string, node) != 0)
			continue;
		const char *ip = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "ip"));
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		if (ip && inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(REMOTE_PORT);
			*ret_len = sizeof(*sin);
		} else if (ip && inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(REMOTE_PORT);
			*ret_len = sizeof(*sin6);
		} else {
			return -EADDRNOTAVAIL;
		}
		*ret_name = xstrdup(n->string);
		return 0;
	}
	return -ENOENT;
}

void pved_spiceproxy_connect(pved_call *c)
{
	pved *d = c->d;
	const char *connect = pved_call_str(c, "connect");
	pve_spice_target to;
	_cleanup_error_ pve_error *err = NULL;
	if (!connect || pved_auth_verify_spice(d, connect, &to, &err) < 0) {
		log_notice("spice proxy: %s from %s: %s", connect ? connect : "(no target)",
			   c->client, err ? err->message : "no target");
		/* as Proxmox's: any fault of the ticket is 401 "invalid ticket" */
		return pved_call_fail_statusf(c, 401, "invalid ticket");
	}
	if (to.port < KVM_SPICE_PORT_MIN || to.port > KVM_SPICE_PORT_MAX)
		return pved_call_fail_statusf(c, 403,
					      "SPICE Port %d is not in allowed range (%d, %d)",
					      to.port, KVM_SPICE_PORT_MIN, KVM_SPICE_PORT_MAX);
	/* the ticket names the node in lower case */
	bool here = streq(to.node, "localhost") || strcasecmp(to.node, d->node) == 0;
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen = sizeof(struct sockaddr_in);
	_cleanup_free_ char *remote = NULL;
	if (here) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)to.port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		if (pved_call_has(c, "noproxy"))
			return pved_call_fail_statusf(c, 500, "proxy loop detected");
		int r = remote_address(d, to.node, &remote, &ss, &sslen);
		if (r < 0)
			return pved_call_fail_statusf(
				c, 500, "unable to get remote IP address for node '%s'", to.node);
	}
	log_debug("spice proxy: VM %lld port %d%s%s for %s", to.vmid, to.port,
		  remote ? " on node " : "", remote ? remote : "", c->client);
	tunnel *t = xcalloc(1, sizeof(*t));
	t->call = c;
	if (remote) {
		t->remote = TAKE_PTR(remote);
		t->connect = xstrdup(connect);
	}
	t->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(t->bev, tunnel_read, tunnel_written, tunnel_event, t);
	bufferevent_setwatermark(t->bev, EV_READ, 0, TUNNEL_CHUNK);
	if (t->remote) {
		struct timeval tv = { .tv_sec = REMOTE_TIMEOUT_S };
		bufferevent_set_timeouts(t->bev, &tv, &tv);
	}
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(t->bev, (struct sockaddr *)&ss, (int)sslen) < 0) {
		tunnel_free(t);
		return pved_call_fail_statusf(c, 500, "unable to connect to the SPICE port %d",
					      to.port);
	}
}
