/* The SPICE proxy (Proxmox's spiceproxy): a CONNECT from the front's SPICE port, whose proxy ticket
 * names the VM's node and SPICE port, relayed to that port on localhost both ways within windows. */
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

typedef struct tunnel {
	pved_call *call;
	struct bufferevent *bev;
	bool accepted;
	uint32_t taken; /* client bytes QEMU's socket took since the last grant */
} tunnel;

static void tunnel_free(tunnel *t)
{
	if (t->bev)
		bufferevent_free(t->bev);
	free(t);
}

/* QEMU's bytes to the client, as far as the front's window goes; reading waits for more of it. */
static void tunnel_read(struct bufferevent *bev, void *arg)
{
	tunnel *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
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

static void tunnel_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	tunnel *t = arg;
	if (what & BEV_EVENT_CONNECTED) {
		t->accepted = true;
		pved_call_tunnel_accept(t->call, tunnel_data, tunnel_closed, tunnel_window, t,
					TUNNEL_WINDOW);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (!t->accepted) {
		pve_error *err = NULL;
		pve_error_set(&err, ECONNREFUSED, "unable to connect to the SPICE port");
		pved_call_fail(t->call, err);
	} else {
		pved_call_stream_end(t->call);
	}
	tunnel_free(t);
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
	if (!here)
		return pved_call_fail_statusf(
			c, 501, "SPICE proxy to another node ('%s') is not supported yet", to.node);
	log_debug("spice proxy: VM %lld port %d for %s", to.vmid, to.port, c->client);
	tunnel *t = xcalloc(1, sizeof(*t));
	t->call = c;
	t->bev = bufferevent_socket_new(d->base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)to.port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bufferevent_setcb(t->bev, tunnel_read, tunnel_written, tunnel_event, t);
	bufferevent_setwatermark(t->bev, EV_READ, 0, TUNNEL_CHUNK);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(t->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		tunnel_free(t);
		return pved_call_fail_statusf(c, 500, "unable to connect to the SPICE port %d",
					      to.port);
	}
}
