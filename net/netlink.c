/* The interfaces file applied to the kernel through rtnetlink (libnl-route-3), links attached to bridges,
 * and the kernel's extended-ack messages carried into the errors. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <netlink/route/addr.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>
#include <netlink/route/route.h>
#include <sched.h>

#include "net/net.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

/* At most this many links are looked at: a node with more is not one pved manages. */
#define PVE_NET_MAX_LINKS 65536

/* One rtnetlink socket and the last error the kernel sent on it. */
typedef struct nlctx {
	struct nl_sock *sk;
	int err; /* the kernel's errno, positive */
	char msg[256]; /* its extended-ack message, or "" */
	FILE *log;
} nlctx;

typedef struct link_state {
	int index;
	char name[IFNAMSIZ];
	unsigned flags, mtu;
	int master, link;
	char kind[32];
	int vlan_id;
	bool have_br;
	unsigned br_stp, br_fd, br_vlan_filtering;
	bool have_bond;
	int bond_mode, bond_miimon, bond_xmit;
} link_state;

typedef struct links {
	link_state *v;
	size_t n;
} links;

/* ---- the socket ---------------------------------------------------------------------------------------- */

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	(void)nla;
	nlctx *ctx = arg;
	ctx->err = -e->error;
	ctx->msg[0] = '\0';
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (off >= h->nlmsg_len)
		return NL_STOP;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)h + off),
		      (int)(h->nlmsg_len - off), NULL) == 0 &&
	    tb[NLMSGERR_ATTR_MSG]) {
		int len = nla_len(tb[NLMSGERR_ATTR_MSG]);
		snprintf(ctx->msg, sizeof(ctx->msg), "%.*s", len,
			 (const char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
		/* the attribute carries its NUL */
		ctx->msg[strnlen(ctx->msg, sizeof(ctx->msg))] = '\0';
	}
	return NL_STOP;
}

/* netns: a path, or a name under /run/netns. */
static char *netns_path(const char *netns)
{
	return strchr(netns, '/') ? xstrdup(netns) : xasprintf("/run/netns/%s", netns);
}

static void ctx_close(nlctx *ctx)
{
	if (ctx->sk)
		nl_socket_free(ctx->sk);
	ctx->sk = NULL;
}

/* A socket in netns (NULL: the caller's): the thread enters the namespace only to create it, as a
 * socket stays in the namespace it was made in. */
static int ctx_open(nlctx *ctx, const char *netns, FILE *log, pve_error **err)
{
	*ctx = (nlctx){ .log = log };
	_cleanup_close_ int self = -1, target = -1;
	if (netns) {
		_cleanup_free_ char *p = netns_path(netns);
		target = open(p, O_RDONLY | O_CLOEXEC);
		if (target < 0)
			return pve_error_set(err, errno, "network namespace %s: %m", p);
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return pve_error_set(err, errno, "own network namespace: %m");
		if (setns(target, CLONE_NEWNET) < 0)
			return pve_error_set(err, errno, "entering network namespace %s: %m", p);
	}
	ctx->sk = nl_socket_alloc();
	int r = ctx->sk ? nl_connect(ctx->sk, NETLINK_ROUTE) : -NLE_NOMEM;
	if (self >= 0 && setns(self, CLONE_NEWNET) < 0)
		abort(); /* a thread left in another namespace would act on the wrong links */
	if (r < 0) {
		ctx_close(ctx);
		return pve_error_set(err, EIO, "netlink: %s", nl_geterror(r));
	}
	int one = 1;
	setsockopt(nl_socket_get_fd(ctx->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	nl_socket_modify_err_cb(ctx->sk, NL_CB_CUSTOM, on_error, ctx);
	return 0;
}

/* The error of a failed request: the kernel's errno and extended-ack message, naming what was asked. */
static int nl_fail(nlctx *ctx, int nlerr, pve_error **err, const char *fmt, ...) _printf_(4, 5);
static int nl_fail(nlctx *ctx, int nlerr, pve_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *what = xvasprintf(fmt, ap);
	va_end(ap);
	int e = ctx->err ? ctx->err : EIO;
	const char *why = ctx->err ? strerror(ctx->err) : nl_geterror(nlerr);
	if (ctx->msg[0])
		return pve_error_set(err, e, "%s: %s (%s)", what, ctx->msg, why);
	return pve_error_set(err, e, "%s: %s", what, why);
}

/* Sends msg (taken) and waits for the kernel's answer. */
static int nl_call(nlctx *ctx, struct nl_msg *msg)
{
	ctx->err = 0;
	ctx->msg[0] = '\0';
	return nl_send_sync(ctx->sk, msg);
}

/* ---- reading links --------------------------------------------------------------------------------------- */

static void parse_info(link_state *l, struct nlattr *linkinfo)
{
	struct nlattr *li[IFLA_INFO_MAX + 1];
	if (nla_parse_nested(li, IFLA_INFO_MAX, linkinfo, NULL) < 0 || !li[IFLA_INFO_KIND])
		return;
	snprintf(l->kind, sizeof(l->kind), "%s", nla_get_string(li[IFLA_INFO_KIND]));
	if (!li[IFLA_INFO_DATA])
		return;
	if (streq(l->kind, "bridge")) {
		struct nlattr *b[IFLA_BR_MAX + 1];
		if (nla_parse_nested(b, IFLA_BR_MAX, li[IFLA_INFO_DATA], NULL) < 0)
			return;
		l->have_br = true;
		if (b[IFLA_BR_STP_STATE])
			l->br_stp = nla_get_u32(b[IFLA_BR_STP_STATE]);
		if (b[IFLA_BR_FORWARD_DELAY])
			l->br_fd = nla_get_u32(b[IFLA_BR_FORWARD_DELAY]);
		if (b[IFLA_BR_VLAN_FILTERING])
			l->br_vlan_filtering = nla_get_u8(b[IFLA_BR_VLAN_FILTERING]);
	} else if (streq(l->kind, "vlan")) {
		struct nlattr *v[IFLA_VLAN_MAX + 1];
		if (nla_parse_nested(v, IFLA_VLAN_MAX, li[IFLA_INFO_DATA], NULL) == 0 &&
		    v[IFLA_VLAN_ID])
			l->vlan_id = nla_get_u16(v[IFLA_VLAN_ID]);
	} else if (streq(l->kind, "bond")) {
		struct nlattr *b[IFLA_BOND_MAX + 1];
		if (nla_parse_nested(b, IFLA_BOND_MAX, li[IFLA_INFO_DATA], NULL) < 0)
			return;
		l->have_bond = true;
		l->bond_mode = b[IFLA_BOND_MODE] ? nla_get_u8(b[IFLA_BOND_MODE]) : -1;
		l->bond_miimon = b[IFLA_BOND_MIIMON] ? (int)nla_get_u32(b[IFLA_BOND_MIIMON]) : -1;
		l->bond_xmit = b[IFLA_BOND_XMIT_HASH_POLICY] ?
				       nla_get_u8(b[IFLA_BOND_XMIT_HASH_POLICY]) :
				       -1;
	}
}

static int on_link(struct nl_msg *msg, void *arg)
{
	links *ls = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWLINK || ls->n >= PVE_NET_MAX_LINKS)
		return NL_OK;
	struct nlattr *tb[IFLA_MAX + 1];
	if (nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
		return NL_OK;
	const struct ifinfomsg *ifi = nlmsg_data(h);
	link_state l = { .index = ifi->ifi_index, .flags = ifi->ifi_flags, .vlan_id = -1 };
	snprintf(l.name, sizeof(l.name), "%s", nla_get_string(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		l.mtu = nla_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_MASTER])
		l.master = (int)nla_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINK])
		l.link = (int)nla_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINKINFO])
		parse_info(&l, tb[IFLA_LINKINFO]);
	ls->v = xrealloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
	ls->v[ls->n++] = l;
	return NL_OK;
}

static int links_read(nlctx *ctx, links *ret, pve_error **err)
{
	*ret = (links){ 0 };
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP);
	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		abort();
	nl_socket_modify_cb(ctx->sk, NL_CB_VALID, NL_CB_CUSTOM, on_link, ret);
	ctx->err = 0;
	int r = nl_send_auto(ctx->sk, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_recvmsgs_default(ctx->sk);
	nl_socket_modify_cb(ctx->sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	if (r < 0) {
		free(ret->v);
		*ret = (links){ 0 };
		return nl_fail(ctx, r, err, "reading links");
	}
	return 0;
}

static link_state *find(links *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (streq(ls->v[i].name, name))
			return &ls->v[i];
	return NULL;
}

int pve_net_links(const char *netns, char ***ret_names, bool **ret_up, bool **ret_phys,
		  pve_error **err)
{
	nlctx ctx;
	int r = ctx_open(&ctx, netns, NULL, err);
	if (r < 0)
		return r;
	links ls;
	r = links_read(&ctx, &ls, err);
	ctx_close(&ctx);
	if (r < 0)
		return r;
	char **names = strv_new();
	bool *up = xcalloc(ls.n + 1, sizeof(bool)), *phys = xcalloc(ls.n + 1, sizeof(bool));
	for (size_t i = 0; i < ls.n; i++) {
		strv_push(&names, xstrdup(ls.v[i].name));
		up[i] = ls.v[i].flags & IFF_UP;
		phys[i] = !ls.v[i].kind[0] && !(ls.v[i].flags & IFF_LOOPBACK);
	}
	free(ls.v);
	*ret_names = names;
	if (ret_up)
		*ret_up = up;
	else
		free(up);
	if (ret_phys)
		*ret_phys = phys;
	else
		free(phys);
	return 0;
}

/* ---- changing links ----------------------------------------------------------------------------------- */

static struct nl_msg *link_msg(int type, int flags, int index, int family)
{
	struct ifinfomsg ifi = { .ifi_family = (unsigned char)family, .ifi_index = index };
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags);
	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		abort();
	return msg;
}

static void logf_(nlctx *ctx, const char *fmt, ...) _printf_(2, 3);
static void logf_(nlctx *ctx, const char *fmt, ...)
{
	if (!ctx->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(ctx->log, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->log);
}

/* What a bridge, bond or VLAN of the file wants of its link. */
typedef struct want {
	const char *name, *type;
	int mtu; /* 0: not set */
	/* bridge */
	bool stp, vlan_aware;
	bool vlan_filtering_now; /* the link has it on: turning it off must say so */
	unsigned fd; /* seconds */
	/* bond */
	int bond_mode, bond_miimon, bond_xmit;
	/* vlan */
	const char *raw;
	int vlan_id;
} want;

static void put_info(struct nl_msg *msg, const want *w)
{
	struct nlattr *li = nla_nest_start(msg, IFLA_LINKINFO);
	nla_put_string(msg, IFLA_INFO_KIND, w->type);
	struct nlattr *data = nla_nest_start(msg, IFLA_INFO_DATA);
	if (streq(w->type, "bridge")) {
		nla_put_u32(msg, IFLA_BR_STP_STATE, w->stp);
		/* the kernel counts in hundredths of a second */
		nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, w->fd * 100);
		/* only when asked: kernels without bridge VLAN filtering refuse the attribute */
		if (w->vlan_aware || w->vlan_filtering_now)
			nla_put_u8(msg, IFLA_BR_VLAN_FILTERING, w->vlan_aware);
	} else if (streq(w->type, "bond")) {
		nla_put_u8(msg, IFLA_BOND_MODE, (uint8_t)w->bond_mode);
		if (w->bond_miimon >= 0)
			nla_put_u32(msg, IFLA_BOND_MIIMON, (uint32_t)w->bond_miimon);
		if (w->bond_xmit >= 0)
			nla_put_u8(msg, IFLA_BOND_XMIT_HASH_POLICY, (uint8_t)w->bond_xmit);
	} else if (streq(w->type, "vlan")) {
		nla_put_u16(msg, IFLA_VLAN_ID, (uint16_t)w->vlan_id);
	}
	nla_nest_end(msg, data);
	nla_nest_end(msg, li);
}

static int link_create(nlctx *ctx, links *ls, const want *w, pve_error **err)
{
	struct nl_msg *msg = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, AF_UNSPEC);
	nla_put_string(msg, IFLA_IFNAME, w->name);
	if (w->mtu)
		nla_put_u32(msg, IFLA_MTU, (uint32_t)w->mtu);
	if (streq(w->type, "vlan")) {
		link_state *raw = find(ls, w->raw);
		if (!raw) {
			nlmsg_free(msg);
			return pve_error_set(err, ENOENT, "vlan '%s': no raw device '%s'", w->name,
					     w->raw);
		}
		nla_put_u32(msg, IFLA_LINK, (uint32_t)raw->index);
	}
	put_info(msg, w);
	int r = nl_call(ctx, msg);
	if (r < 0)
		return nl_fail(ctx, r, err, "creating %s '%s'", w->type, w->name);
	logf_(ctx, "created %s %s", w->type, w->name);
	return 0;
}

static int link_delete(nlctx *ctx, const link_state *l, pve_error **err)
{
	struct nl_msg *msg = link_msg(RTM_DELLINK, 0, l->index, AF_UNSPEC);
	int r = nl_call(ctx, msg);
	if (r < 0 && ctx->err != ENODEV)
		return nl_fail(ctx, r, err, "removing '%s'", l->name);
	logf_(ctx, "removed %s %s", l->kind[0] ? l->kind : "link", l->name);
	return 0;
}

static const link_state nomaster;
#define NOMASTER (&nomaster)

/* Sets what differs of mtu (0: leave), master and up. */
static int link_set(nlctx *ctx, const link_state *l, unsigned mtu, const link_state *master,
		    bool up, pve_error **err)
{
	/* master: NULL leaves it, NOMASTER releases the link */
	int mi = master == NOMASTER ? 0 : master ? master->index : -1;
	bool want_mtu = mtu && l->mtu != mtu, want_master = mi >= 0 && l->master != mi;
	bool want_up = up && !(l->flags & IFF_UP);
	if (!want_mtu && !want_master && !want_up)
		return 0;
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, l->index, AF_UNSPEC);
	struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(msg));
	if (want_up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	if (want_mtu)
		nla_put_u32(msg, IFLA_MTU, mtu);
	if (want_master)
		nla_put_u32(msg, IFLA_MASTER, (uint32_t)mi);
	int r = nl_call(ctx, msg);
	if (r < 0)
		return nl_fail(ctx, r, err, "setting %s%s%s%s%s of '%s'", want_mtu ? "mtu" : "",
			       want_mtu && want_master ? ", " : "", want_master ? "master" : "",
			       (want_mtu || want_master) && want_up ? ", " : "",
			       want_up ? "up" : "", l->name);
	if (want_mtu)
		logf_(ctx, "%s: mtu %u", l->name, mtu);
	if (want_master && mi)
		logf_(ctx, "%s: master %s", l->name, master->name);
	else if (want_master)
		logf_(ctx, "%s: released", l->name);
	if (want_up)
		logf_(ctx, "%s: up", l->name);
	return 0;
}

static int link_down(nlctx *ctx, const link_state *l, pve_error **err)
{
	if (!(l->flags & IFF_UP))
		return 0;
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, l->index, AF_UNSPEC);
	struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(msg));
	ifi->ifi_change = IFF_UP;
	int r = nl_call(ctx, msg);
	if (r < 0)
		return nl_fail(ctx, r, err, "setting '%s' down", l->name);
	return 0;
}

static int link_set_info(nlctx *ctx, const link_state *l, const want *w, pve_error **err)
{
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, l->index, AF_UNSPEC);
	put_info(msg, w);
	int r = nl_call(ctx, msg);
	if (r < 0)
		return nl_fail(ctx, r, err, "setting the %s options of '%s'", w->type, w->name);
	logf_(ctx, "%s: %s options set", w->name, w->type);
	return 0;
}

/* One VLAN or a range (end > vid) on a bridge port; del removes it. flags: PVID, UNTAGGED. */
static int port_vlan(nlctx *ctx, const link_state *port, unsigned vid, unsigned end, unsigned flags,
		     bool del, pve_error **err)
{
	struct nl_msg *msg = link_msg(del ? RTM_DELLINK : RTM_SETLINK, 0, port->index, AF_BRIDGE);
	struct nlattr *spec = nla_nest_start(msg, IFLA_AF_SPEC);
	struct bridge_vlan_info v = { .flags = (uint16_t)flags, .vid = (uint16_t)vid };
	if (end > vid) {
		v.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
		nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(v), &v);
		v = (struct bridge_vlan_info){ .flags = (uint16_t)(flags |
								   BRIDGE_VLAN_INFO_RANGE_END),
					       .vid = (uint16_t)end };
	}
	nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(v), &v);
	nla_nest_end(msg, spec);
	int r = nl_call(ctx, msg);
	if (r < 0 && !(del && ctx->err == ENOENT))
		return nl_fail(ctx, r, err, "%s VLAN %u%s%.0u on '%s'", del ? "removing" : "adding",
			       vid, end > vid ? "-" : "", end > vid ? end : 0, port->name);
	return 0;
}

/* bridge-vids ("2-100 200") added on a port of a VLAN-aware bridge. */
static int port_vids(nlctx *ctx, const link_state *port, const char *vids, pve_error **err)
{
	_cleanup_strv_free_ char **items = pve_split_list(vids ? vids : "2-4094");
	for (char **it = items; *it; it++) {
		unsigned long long a, b;
		char *dash = strchr(*it, '-');
		if (dash)
			*dash = '\0';
		if (pve_parse_uint(*it, 4094, &a) < 0 || a < 1 ||
		    (dash && (pve_parse_uint(dash + 1, 4094, &b) < 0 || b < a)))
			return pve_error_set(err, EINVAL, "bad VLAN list item '%s'", *it);
		int r = port_vlan(ctx, port, (unsigned)a, dash ? (unsigned)b : 0, 0, false, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- addresses and routes ---------------------------------------------------------------------------- */

/* ADDR/PREFIX on link index: present (add) or gone. */
static int address(nlctx *ctx, struct nl_cache *addrs, int index, const char *ifname,
		   const char *cidr, bool add, pve_error **err)
{
	struct nl_addr *a = NULL;
	if (nl_addr_parse(cidr, AF_UNSPEC, &a) < 0)
		return pve_error_set(err, EINVAL, "%s: invalid address '%s'", ifname, cidr);
	bool present = false;
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *l = rtnl_addr_get_local(ra);
		if (rtnl_addr_get_ifindex(ra) == index && l && nl_addr_cmp(l, a) == 0 &&
		    nl_addr_get_prefixlen(l) == nl_addr_get_prefixlen(a))
			present = true;
	}
	int r = 0;
	if (present != add) {
		struct rtnl_addr *ra = rtnl_addr_alloc();
		rtnl_addr_set_ifindex(ra, index);
		rtnl_addr_set_local(ra, a);
		ctx->err = 0;
		ctx->msg[0] = '\0';
		r = add ? rtnl_addr_add(ctx->sk, ra, NLM_F_REPLACE) :
			  rtnl_addr_delete(ctx->sk, ra, 0);
		rtnl_addr_put(ra);
		if (r < 0 && !(!add && ctx->err == EADDRNOTAVAIL))
			r = nl_fail(ctx, r, err, "%s address %s on '%s'",
				    add ? "adding" : "removing", cidr, ifname);
		else {
			logf_(ctx, "%s: address %s %s", ifname, cidr, add ? "added" : "removed");
			r = 0;
		}
	}
	nl_addr_put(a);
	return r;
}

/* The default route of gw's family through gw on link index: present (add) or gone. */
static int gateway(nlctx *ctx, int index, const char *ifname, const char *gw, bool add,
		   pve_error **err)
{
	struct nl_addr *g = NULL, *dst = NULL;
	if (nl_addr_parse(gw, AF_UNSPEC, &g) < 0)
		return pve_error_set(err, EINVAL, "%s: invalid gateway '%s'", ifname, gw);
	int family = nl_addr_get_family(g);
	struct nl_cache *routes = NULL;
	int r = rtnl_route_alloc_cache(ctx->sk, family, 0, &routes);
	if (r < 0) {
		nl_addr_put(g);
		return nl_fail(ctx, r, err, "reading routes");
	}
	bool present = false;
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *d = rtnl_route_get_dst(rt);
		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || (d && nl_addr_get_prefixlen(d)) ||
		    rtnl_route_get_nnexthops(rt) != 1)
			continue;
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
		struct nl_addr *ng = rtnl_route_nh_get_gateway(nh);
		if (ng && nl_addr_cmp(ng, g) == 0 && rtnl_route_nh_get_ifindex(nh) == index)
			present = true;
	}
	nl_cache_free(routes);
	if (present != add) {
		struct rtnl_route *rt = rtnl_route_alloc();
		nl_addr_parse(family == AF_INET6 ? "::/0" : "0.0.0.0/0", family, &dst);
		rtnl_route_set_family(rt, (uint8_t)family);
		rtnl_route_set_dst(rt, dst);
		rtnl_route_set_table(rt, RT_TABLE_MAIN);
		if (add) {
			rtnl_route_set_protocol(rt, RTPROT_BOOT);
			rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
			rtnl_route_set_type(rt, RTN_UNICAST);
		}
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
		rtnl_route_nh_set_gateway(nh, g);
		rtnl_route_nh_set_ifindex(nh, index);
		rtnl_route_add_nexthop(rt, nh);
		ctx->err = 0;
		ctx->msg[0] = '\0';
		r = add ? rtnl_route_add(ctx->sk, rt, NLM_F_CREATE | NLM_F_REPLACE) :
			  rtnl_route_delete(ctx->sk, rt, 0);
		rtnl_route_put(rt);
		nl_addr_put(dst);
		if (r < 0 && !(!add && ctx->err == ESRCH))
			r = nl_fail(ctx, r, err, "%s the default route via %s on '%s'",
				    add ? "adding" : "removing", gw, ifname);
		else {
			logf_(ctx, "%s: default route via %s %s", ifname, gw,
			      add ? "added" : "removed");
			r = 0;
		}
	}
	nl_addr_put(g);
	return r < 0 ? r : 0;
}

/* ---- the configuration --------------------------------------------------------------------------------- */

static int bond_mode_num(const char *m)
{
	static const char *const modes[] = { "balance-rr", "active-backup", "balance-xor",
					     "broadcast",  "802.3ad",	    "balance-tlb",
					     "balance-alb" };
	for (size_t i = 0; i < ELEMENTSOF(modes); i++)
		if (m && streq(m, modes[i]))
			return (int)i;
	return m ? -1 : 0;
}

static int xmit_num(const char *x)
{
	if (!x)
		return -1;
	return streq(x, "layer2") ? 0 : streq(x, "layer3+4") ? 1 : streq(x, "layer2+3") ? 2 : -2;
}

static bool is_virtual(const char *type)
{
	return streq(type, "bridge") || streq(type, "bond") || streq(type, "vlan");
}

/* What a described interface wants of its link (pointers into o). */
static int want_of(const cJSON *o, const char *name, want *w, pve_error **err)
{
	long long v;
	*w = (want){ .name = name, .type = pve_json_str(o, "type"), .bond_miimon = -1 };
	if (strlen(name) >= IFNAMSIZ)
		return pve_error_set(err, EINVAL, "interface name '%s' is longer than %d bytes",
				     name, IFNAMSIZ - 1);
	if (pve_json_int(o, "mtu", &v)) {
		if (v < 68 || v > 65535)
			return pve_error_set(err, EINVAL, "%s: invalid mtu %lld", name, v);
		w->mtu = (int)v;
	}
	const char *stp = pve_json_str(o, "bridge_stp");
	w->stp = stp && streq(stp, "on");
	w->fd = pve_json_int(o, "bridge_fd", &v) && v >= 0 && v <= 30 ? (unsigned)v : 0;
	w->vlan_aware = pve_json_int(o, "bridge_vlan_aware", &v) && v;
	w->bond_mode = bond_mode_num(pve_json_str(o, "bond_mode"));
	if (w->bond_mode < 0)
		return pve_error_set(err, EINVAL, "bond '%s': unknown bond mode '%s'", name,
				     pve_json_str(o, "bond_mode"));
	if (pve_json_int(o, "bond_miimon", &v) && v >= 0 && v <= 100000)
		w->bond_miimon = (int)v;
	w->bond_xmit = xmit_num(pve_json_str(o, "bond_xmit_hash_policy"));
	if (w->bond_xmit == -2)
		return pve_error_set(err, EINVAL, "bond '%s': unknown transmit hash policy", name);
	w->raw = pve_json_str(o, "vlan-raw-device");
	w->vlan_id = pve_json_int(o, "vlan-id", &v) ? (int)v : 0;
	if (streq(w->type, "vlan") && (!w->raw || w->vlan_id < 1 || w->vlan_id > 4094))
		return pve_error_set(err, EINVAL, "vlan '%s': needs a raw device and an id", name);
	return 0;
}

/* Whether the existing link l is what w wants in kind and in what cannot change in place. */
static bool same_kind(links *ls, const link_state *l, const want *w)
{
	if (!streq(l->kind, w->type))
		return false;
	if (streq(w->type, "vlan")) {
		link_state *raw = find(ls, w->raw);
		return raw && l->link == raw->index && l->vlan_id == w->vlan_id;
	}
	if (streq(w->type, "bond"))
		return !l->have_bond || l->bond_mode == w->bond_mode;
	return true;
}

static bool options_differ(const link_state *l, const want *w)
{
	if (streq(w->type, "bridge"))
		return !l->have_br || (l->br_stp != 0) != w->stp || l->br_fd != w->fd * 100 ||
		       (l->br_vlan_filtering != 0) != w->vlan_aware;
	if (streq(w->type, "bond"))
		return (w->bond_miimon >= 0 && l->bond_miimon != w->bond_miimon) ||
		       (w->bond_xmit >= 0 && l->bond_xmit != w->bond_xmit);
	return false;
}

static char **ports_list(const cJSON *o, const char *key)
{
	const char *v = o ? pve_json_str(o, key) : NULL;
	return pve_strv_split(v ? v : "", " ");
}

static cJSON *describe(const pve_net_config *c, const char *name)
{
	return c ? pve_net_iface_describe(c, name, NULL, NULL) : NULL;
}

static int reread(nlctx *ctx, links *ls, pve_error **err)
{
	free(ls->v);
	return links_read(ctx, ls, err);
}

static int apply(nlctx *ctx, const pve_net_config *old, const pve_net_config *cfg, pve_error **err)
{
	_cleanup_strv_free_ char **names = pve_net_config_names(cfg);
	_cleanup_strv_free_ char **old_names = old ? pve_net_config_names(old) : strv_new();
	links ls = { 0 };
	struct nl_cache *addrs = NULL;
	int r = links_read(ctx, &ls, err);
	if (r < 0)
		return r;

	/* 1. what the old file had and the new has not (or of another kind): removed */
	for (char **n = old_names; *n && r >= 0; n++) {
		_cleanup_json_ cJSON *od = describe(old, *n), *nd = describe(cfg, *n);
		const char *ot = od ? pve_json_str(od, "type") : NULL;
		if (!ot || !is_virtual(ot))
			continue;
		if (nd && streq(pve_json_str(nd, "type"), ot))
			continue;
		link_state *l = find(&ls, *n);
		if (l && streq(l->kind, ot))
			r = link_delete(ctx, l, err);
	}
	if (r >= 0)
		r = reread(ctx, &ls, err);

	/* 2. the new file's bonds, bridges and VLANs created, in that order (a VLAN on a bond or a
	 * bridge needs it first); one of another kind or that cannot change in place made again */
	const char *order[] = { "bond", "bridge", "vlan" };
	for (size_t k = 0; k < ELEMENTSOF(order) && r >= 0; k++)
		for (char **n = names; *n && r >= 0; n++) {
			_cleanup_json_ cJSON *d = describe(cfg, *n);
			if (!d || !streq(pve_json_str(d, "type"), order[k]))
				continue;
			want w;
			r = want_of(d, *n, &w, err);
			link_state *l = r >= 0 ? find(&ls, *n) : NULL;
			if (r >= 0 && l && !same_kind(&ls, l, &w)) {
				if (l->kind[0] == '\0')
					r = pve_error_set(err, EEXIST,
							  "'%s' exists and is not a %s", *n,
							  w.type);
				else
					r = link_delete(ctx, l, err);
				l = NULL;
			}
			if (r >= 0 && !l)
				r = link_create(ctx, &ls, &w, err);
			if (r >= 0)
				r = reread(ctx, &ls, err);
		}

	/* 3. options, masters, MTUs, up */
	for (char **n = names; *n && r >= 0; n++) {
		_cleanup_json_ cJSON *d = describe(cfg, *n), *od = describe(old, *n);
		if (!d || streq(*n, "lo"))
			continue;
		want w;
		r = want_of(d, *n, &w, err);
		link_state *l = r >= 0 ? find(&ls, *n) : NULL;
		if (!l)
			continue; /* a NIC the file names that this node does not have */
		w.vlan_filtering_now = l->br_vlan_filtering;
		if (is_virtual(w.type) && options_differ(l, &w))
			r = link_set_info(ctx, l, &w, err);
		/* ports and slaves: the new ones enslaved, the ones taken out released */
		const char *pkey = streq(w.type, "bridge") ? "bridge_ports" :
				   streq(w.type, "bond")   ? "slaves" :
							     NULL;
		if (r >= 0 && pkey) {
			_cleanup_strv_free_ char **ports = ports_list(d, pkey);
			_cleanup_strv_free_ char **oports = ports_list(od, pkey);
			for (char **p = oports; *p && r >= 0; p++) {
				link_state *pl = find(&ls, *p);
				if (!strv_contains(ports, *p) && pl && pl->master == l->index) {
					r = link_set(ctx, pl, 0, NOMASTER, false, err);
				}
			}
			for (char **p = ports; *p && r >= 0; p++) {
				link_state *pl = find(&ls, *p);
				if (!pl) {
					r = pve_error_set(err, ENOENT, "%s '%s': no port '%s'",
							  w.type, *n, *p);
					break;
				}
				if (pl->master == l->index)
					continue;
				/* a bond takes only slaves that are down, and opens them itself */
				bool bond = streq(w.type, "bond");
				if (bond)
					r = link_down(ctx, pl, err);
				if (bond && r >= 0)
					pl->flags &= ~(unsigned)IFF_UP;
				if (r >= 0)
					r = link_set(ctx, pl, 0, l, !bond, err);
				if (r >= 0 && streq(w.type, "bridge") && w.vlan_aware)
					r = port_vids(ctx, pl, pve_json_str(d, "bridge_vids"), err);
			}
			if (r >= 0)
				r = reread(ctx, &ls, err);
			l = find(&ls, *n);
		}
		if (r >= 0 && l) {
			long long a = 0;
			bool up = pve_json_int(d, "autostart", &a) && a;
			/* a VLAN is up only on a raw device that is up, as ifupdown2 brings up the
			 * devices below the ones it starts */
			link_state *raw = streq(w.type, "vlan") ? find(&ls, w.raw) : NULL;
			if (up && raw)
				r = link_set(ctx, raw, 0, NULL, true, err);
		}
		if (r >= 0 && l) {
			long long a = 0;
			bool up = pve_json_int(d, "autostart", &a) && a;
			r = link_set(ctx, l, (unsigned)w.mtu, NULL, up, err);
		}
	}
	if (r >= 0)
		r = reread(ctx, &ls, err);

	/* 4. addresses and default routes: the new ones set, the ones the old file had taken away */
	if (r >= 0) {
		r = rtnl_addr_alloc_cache(ctx->sk, &addrs);
		if (r < 0)
			r = nl_fail(ctx, r, err, "reading addresses");
	}
	const char *akeys[] = { "cidr", "cidr6" }, *gkeys[] = { "gateway", "gateway6" };
	for (char **n = old_names; *n && r >= 0; n++) {
		_cleanup_json_ cJSON *d = describe(cfg, *n), *od = describe(old, *n);
		link_state *l = find(&ls, *n);
		if (!l || !od)
			continue;
		for (size_t k = 0; k < 2 && r >= 0; k++) {
			const char *oa = pve_json_str(od, akeys[k]),
				   *na = pve_json_str(d, akeys[k]);
			if (oa && !streq_ptr(oa, na))
				r = address(ctx, addrs, l->index, *n, oa, false, err);
			const char *og = pve_json_str(od, gkeys[k]),
				   *ng = pve_json_str(d, gkeys[k]);
			if (r >= 0 && og && !streq_ptr(og, ng))
				r = gateway(ctx, l->index, *n, og, false, err);
		}
	}
	for (char **n = names; *n && r >= 0; n++) {
		_cleanup_json_ cJSON *d = describe(cfg, *n);
		link_state *l = find(&ls, *n);
		if (!l || !d || streq(*n, "lo"))
			continue;
		for (size_t k = 0; k < 2 && r >= 0; k++) {
			const char *a = pve_json_str(d, akeys[k]), *g = pve_json_str(d, gkeys[k]);
			if (a)
				r = address(ctx, addrs, l->index, *n, a, true, err);
			if (r >= 0 && g)
				r = gateway(ctx, l->index, *n, g, true, err);
		}
	}
	if (addrs)
		nl_cache_free(addrs);
	free(ls.v);
	return r < 0 ? r : 0;
}

int pve_net_apply(const pve_net_config *old, const pve_net_config *new_cfg, const char *netns,
		  FILE *log, pve_error **err)
{
	nlctx ctx;
	int r = ctx_open(&ctx, netns, log, err);
	if (r < 0)
		return r;
	r = apply(&ctx, old, new_cfg, err);
	ctx_close(&ctx);
	return r;
}

/* ---- guests ------------------------------------------------------------------------------------------- */

int pve_net_attach(const char *netns, const char *ifname, const char *bridge, unsigned mtu,
		   unsigned tag, pve_error **err)
{
	nlctx ctx;
	int r = ctx_open(&ctx, netns, NULL, err);
	if (r < 0)
		return r;
	links ls;
	r = links_read(&ctx, &ls, err);
	if (r < 0) {
		ctx_close(&ctx);
		return r;
	}
	link_state *br = find(&ls, bridge), *port = find(&ls, ifname);
	if (!br || !streq(br->kind, "bridge"))
		r = pve_error_set(err, ENOENT, "bridge '%s' does not exist", bridge);
	else if (!port)
		r = pve_error_set(err, ENOENT, "interface '%s' does not exist", ifname);
	if (r >= 0)
		r = link_set(&ctx, port, mtu ? mtu : br->mtu, br, true, err);
	if (r >= 0 && tag && br->have_br && br->br_vlan_filtering) {
		/* the guest's frames untagged on the wire are its tag on the bridge, as Proxmox's
		 * tap_plug does it: VLAN 1 out, the tag in as PVID, untagged */
		r = port_vlan(&ctx, port, 1, 0, 0, true, err);
		if (r >= 0)
			r = port_vlan(&ctx, port, tag, 0,
				      BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, false,
				      err);
	} else if (r >= 0 && tag) {
		r = pve_error_set(err, EINVAL, "bridge '%s' is not VLAN aware: no tag %u on '%s'",
				  bridge, tag, ifname);
	}
	free(ls.v);
	ctx_close(&ctx);
	return r;
}

/* ---- guests' rate limits and link state ------------------------------------------------------------ */

/* One link of the kernel by name. */
static int link_of(nlctx *ctx, const char *ifname, link_state *ret, pve_error **err)
{
	links ls;
	int r = links_read(ctx, &ls, err);
	if (r < 0)
		return r;
	link_state *l = find(&ls, ifname);
	if (l)
		*ret = *l;
	free(ls.v);
	if (!l)
		return pve_error_set(err, ENOENT, "interface '%s' does not exist", ifname);
	return 0;
}

/* A qdisc removed; there being none is no error (Proxmox's `tc qdisc del` may fail too). */
static void qdisc_del(nlctx *ctx, int index, uint32_t parent, uint32_t handle)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC,
			   .tcm_ifindex = index,
			   .tcm_parent = parent,
			   .tcm_handle = handle };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_DELQDISC, 0);
	if (!msg || nlmsg_append(msg, &t, sizeof(t), NLMSG_ALIGNTO) < 0)
		abort();
	(void)nl_call(ctx, msg);
}

/* The time of len bytes at rate bytes/s in the kernel's scheduler ticks (64 ns). */
static uint32_t tc_ticks(uint64_t rate, uint64_t len)
{
	uint64_t t = len * 15625000ULL / rate; /* 10^9 / 64 ticks a second */
	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* The ingress policer, `tc filter add dev IF parent ffff: prio 50 basic police rate R burst B mtu
 * 64kb drop`, built by hand: libnl-route has no police action. */
static int add_policer(nlctx *ctx, const link_state *l, uint64_t rate, uint32_t burst,
		       pve_error **err)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC,
			   .tcm_ifindex = l->index,
			   .tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0),
			   .tcm_info = TC_H_MAKE(50u << 16, htons(ETH_P_ALL)) };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg || nlmsg_append(msg, &t, sizeof(t), NLMSG_ALIGNTO) < 0)
		abort();
	struct tc_police p = { .action = TC_POLICE_SHOT, .mtu = 65536 };
	p.rate.rate = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	p.rate.linklayer = TC_LINKLAYER_ETHERNET;
	/* The rate table as tc computes it: the kernel wants one (and a cell size) though it now
	 * works from the rate itself. */
	p.rate.cell_log = 9; /* 65536 >> 9 <= 255 */
	uint32_t rtab[256];
	for (unsigned i = 0; i < 256; i++)
		rtab[i] = tc_ticks(rate, (uint64_t)(i + 1) << p.rate.cell_log);
	p.burst = tc_ticks(rate, burst);
	nla_put_string(msg, TCA_KIND, "basic");
	struct nlattr *opts = nla_nest_start(msg, TCA_OPTIONS);
	struct nlattr *pol = nla_nest_start(msg, TCA_BASIC_POLICE);
	nla_put(msg, TCA_POLICE_TBF, sizeof(p), &p);
	nla_put(msg, TCA_POLICE_RATE, sizeof(rtab), rtab);
	if (rate > UINT32_MAX)
		nla_put_u64(msg, TCA_POLICE_RATE64, rate);
	nla_nest_end(msg, pol);
	nla_nest_end(msg, opts);
	int r = nl_call(ctx, msg);
	if (r < 0)
		return nl_fail(ctx, r, err, "rate limit on '%s' (ingress policer)", l->name);
	return 0;
}

static int send_tc(nlctx *ctx, struct nl_msg *msg, int built, const char *ifname, const char *what,
		   pve_error **err)
{
	if (built < 0)
		return pve_error_set(err, EIO, "rate limit on '%s' (%s): %s", ifname, what,
				     nl_geterror(built));
	int r = nl_call(ctx, msg);
	if (r < 0)
		return nl_fail(ctx, r, err, "rate limit on '%s' (%s)", ifname, what);
	return 0;
}

static int rate_limit(nlctx *ctx, const link_state *l, double mbps, pve_error **err)
{
	/* What was there goes first: the root qdisc takes its class, ingress its filter. */
	qdisc_del(ctx, l->index, TC_H_ROOT, 0);
	qdisc_del(ctx, l->index, TC_H_INGRESS, TC_H_MAKE(TC_H_INGRESS, 0));
	if (mbps <= 0)
		return 0;
	/* Proxmox's tap_rate_limit: MB/s are MiB/s, with a burst of 1 MiB. */
	uint64_t rate = (uint64_t)(mbps * 1024 * 1024);
	uint32_t burst = 1024 * 1024;
	if (rate < 1)
		rate = 1;
	struct nl_msg *msg = NULL;
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct rtnl_class *cl = rtnl_class_alloc();
	struct rtnl_qdisc *in = rtnl_qdisc_alloc();
	if (!q || !cl || !in)
		abort();
	/* Egress (to the guest): an htb whose one class has the rate. */
	rtnl_tc_set_ifindex(TC_CAST(q), l->index);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(1, 0));
	rtnl_tc_set_kind(TC_CAST(q), "htb");
	rtnl_htb_set_defcls(q, TC_HANDLE(1, 1));
	int b = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_EXCL, &msg);
	int r = send_tc(ctx, msg, b, l->name, "htb qdisc", err);
	if (r >= 0) {
		rtnl_tc_set_ifindex(TC_CAST(cl), l->index);
		rtnl_tc_set_parent(TC_CAST(cl), TC_HANDLE(1, 0));
		rtnl_tc_set_handle(TC_CAST(cl), TC_HANDLE(1, 1));
		rtnl_tc_set_kind(TC_CAST(cl), "htb");
		rtnl_htb_set_rate64(cl, rate);
		rtnl_htb_set_rbuffer(cl, burst);
		msg = NULL;
		b = rtnl_class_build_add_request(cl, NLM_F_CREATE | NLM_F_EXCL, &msg);
		r = send_tc(ctx, msg, b, l->name, "htb class", err);
	}
	/* Ingress (from the guest): a policer that drops beyond the rate. */
	if (r >= 0) {
		rtnl_tc_set_ifindex(TC_CAST(in), l->index);
		rtnl_tc_set_parent(TC_CAST(in), TC_H_INGRESS);
		rtnl_tc_set_handle(TC_CAST(in), TC_HANDLE(0xffffu, 0));
		rtnl_tc_set_kind(TC_CAST(in), "ingress");
		msg = NULL;
		b = rtnl_qdisc_build_add_request(in, NLM_F_CREATE | NLM_F_EXCL, &msg);
		r = send_tc(ctx, msg, b, l->name, "ingress qdisc", err);
	}
	if (r >= 0) {
		pve_error *perr = NULL;
		r = add_policer(ctx, l, rate, burst, &perr);
		/* A kernel without cls_basic or act_police (this build host's): the limit to the
		 * guest stays, the caller hears why the other way is not limited. */
		if (r == -ENOENT || r == -EOPNOTSUPP) {
			qdisc_del(ctx, l->index, TC_H_INGRESS, TC_H_MAKE(TC_H_INGRESS, 0));
			pve_error_set(err, -r, "traffic from '%s' is not rate limited: %s", l->name,
				      perr->message);
			r = 1;
		} else if (r < 0) {
			pve_error_set(err, perr->code, "%s", perr->message);
		}
		pve_error_free(perr);
	}
	if (r < 0) {
		/* Never half a limit: what was made goes. */
		qdisc_del(ctx, l->index, TC_H_ROOT, 0);
		qdisc_del(ctx, l->index, TC_H_INGRESS, TC_H_MAKE(TC_H_INGRESS, 0));
	}
	rtnl_qdisc_put(q);
	rtnl_class_put(cl);
	rtnl_qdisc_put(in);
	return r;
}

int pve_net_rate_limit(const char *netns, const char *ifname, double mbps, pve_error **err)
{
	nlctx ctx;
	int r = ctx_open(&ctx, netns, NULL, err);
	if (r < 0)
		return r;
	link_state l;
	r = link_of(&ctx, ifname, &l, err);
	if (r >= 0)
		r = rate_limit(&ctx, &l, mbps, err);
	ctx_close(&ctx);
	return r;
}

int pve_net_nic_limits(const char *ifname, double rate, bool down, const char *param,
		       pve_error **ret_warning, pve_error **err)
{
	nlctx ctx;
	int r = ctx_open(&ctx, NULL, NULL, err);
	if (r < 0)
		return r;
	link_state l;
	r = link_of(&ctx, ifname, &l, err);
	if (r >= 0) {
		_cleanup_error_ pve_error *w = NULL;
		r = rate_limit(&ctx, &l, rate, &w);
		if (r < 0)
			pve_error_set_param(err, w->code, param, "%s", w->message);
		else if (r > 0 && ret_warning)
			*ret_warning = TAKE_PTR(w);
	}
	if (r >= 0 && down) {
		int r2 = link_down(&ctx, &l, err);
		r = r2 < 0 ? r2 : r;
	}
	ctx_close(&ctx);
	return r;
}

int pve_net_link_state(const char *netns, const char *ifname, bool up, pve_error **err)
{
	nlctx ctx;
	int r = ctx_open(&ctx, netns, NULL, err);
	if (r < 0)
		return r;
	link_state l;
	r = link_of(&ctx, ifname, &l, err);
	if (r >= 0 && !up)
		r = link_down(&ctx, &l, err);
	else if (r >= 0 && !(l.flags & IFF_UP)) {
		struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, l.index, AF_UNSPEC);
		struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(msg));
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = IFF_UP;
		r = nl_call(&ctx, msg);
		if (r < 0)
			r = nl_fail(&ctx, r, err, "setting '%s' up", l.name);
	}
	ctx_close(&ctx);
	return r;
}
