/* The container's NICs: a veth pair per NIC made from the host with its peer created right in the
 * container's network namespace under its inside name, then addressed from inside before the init runs. */
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "lxc/lxc-internal.h"

static void sock_free(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

static struct nl_sock *sock_open(pve_error **err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0) {
		if (sk)
			nl_socket_free(sk);
		pve_error_set(err, EIO, "can't open a netlink socket");
		return NULL;
	}
	return sk;
}

int lxc_nics_create(const lxc_spec *s, pid_t child, pve_error **err)
{
	if (!s->n_nics)
		return 0;
	__attribute__((cleanup(sock_free))) struct nl_sock *sk = sock_open(err);
	if (!sk)
		return -EIO;
	for (size_t i = 0; i < s->n_nics && i < LXC_MAX_NICS; i++) {
		const lxc_nic *n = &s->nics[i];
		struct rtnl_link *link = rtnl_link_veth_alloc();
		if (!link)
			return pve_error_set(err, ENOMEM, "can't make a veth");
		struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
		rtnl_link_set_name(link, n->host_name);
		rtnl_link_set_name(peer, n->name);
		rtnl_link_set_ns_pid(peer, child);
		if (n->mtu) {
			rtnl_link_set_mtu(link, n->mtu);
			rtnl_link_set_mtu(peer, n->mtu);
		}
		if (n->hwaddr[0]) {
			struct nl_addr *a = NULL;
			if (nl_addr_parse(n->hwaddr, AF_LLC, &a) < 0) {
				rtnl_link_put(peer);
				rtnl_link_put(link);
				return pve_error_set(err, EINVAL, "bad MAC address '%s'",
						     n->hwaddr);
			}
			rtnl_link_set_addr(peer, a);
			nl_addr_put(a);
		}
		int r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_put(peer);
		rtnl_link_put(link);
		if (r < 0)
			return pve_error_set(err, r == -NLE_EXIST ? EEXIST : EIO,
					     "can't create veth %s for %s: %s", n->host_name,
					     n->name, nl_geterror(r));
	}
	return 0;
}

static int link_up(struct nl_sock *sk, const char *name, pve_error **err)
{
	struct rtnl_link *l = NULL, *ch = rtnl_link_alloc();
	int r = rtnl_link_get_kernel(sk, 0, name, &l);
	if (r >= 0) {
		rtnl_link_set_flags(ch, IFF_UP);
		r = rtnl_link_change(sk, l, ch, 0);
	}
	if (l)
		rtnl_link_put(l);
	rtnl_link_put(ch);
	if (r < 0)
		return pve_error_set(err, EIO, "can't bring %s up: %s", name, nl_geterror(r));
	return 0;
}

static int add_addr(struct nl_sock *sk, int index, const char *cidr, const char *dev,
		    pve_error **err)
{
	struct nl_addr *a = NULL;
	if (nl_addr_parse(cidr, AF_UNSPEC, &a) < 0 || !strchr(cidr, '/')) {
		if (a)
			nl_addr_put(a);
		return pve_error_set(err, EINVAL, "bad address '%s' for %s", cidr, dev);
	}
	struct rtnl_addr *ra = rtnl_addr_alloc();
	rtnl_addr_set_ifindex(ra, index);
	rtnl_addr_set_local(ra, a);
	int r = rtnl_addr_add(sk, ra, 0);
	rtnl_addr_put(ra);
	nl_addr_put(a);
	if (r < 0)
		return pve_error_set(err, EIO, "can't add %s to %s: %s", cidr, dev, nl_geterror(r));
	return 0;
}

static int add_gw(struct nl_sock *sk, int index, const char *gw, int family, pve_error **err)
{
	struct nl_addr *a = NULL, *dst = NULL;
	if (nl_addr_parse(gw, family, &a) < 0)
		return pve_error_set(err, EINVAL, "bad gateway '%s'", gw);
	(void)nl_addr_parse(family == AF_INET ? "0.0.0.0/0" : "::/0", family, &dst);
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	rtnl_route_set_family(rt, (uint8_t)family);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_nh_set_ifindex(nh, index);
	rtnl_route_nh_set_gateway(nh, a);
	rtnl_route_add_nexthop(rt, nh);
	int r = rtnl_route_add(sk, rt, NLM_F_CREATE);
	rtnl_route_put(rt);
	nl_addr_put(a);
	if (dst)
		nl_addr_put(dst);
	if (r < 0)
		return pve_error_set(err, EIO, "can't add the route via %s: %s", gw,
				     nl_geterror(r));
	return 0;
}

/* lo up with one ioctl: a container without NICs needs no netlink socket (and libnl's caches) */
static int lo_up(pve_error **err)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return pve_error_set(err, errno, "can't find lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return pve_error_set(err, errno, "can't bring lo up: %s", strerror(errno));
	return 0;
}

int lxc_nics_configure(const lxc_spec *s, pve_error **err)
{
	int r = lo_up(err);
	if (r < 0 || !s->n_nics)
		return r;
	__attribute__((cleanup(sock_free))) struct nl_sock *sk = sock_open(err);
	if (!sk)
		return -EIO;
	for (size_t i = 0; r == 0 && i < s->n_nics && i < LXC_MAX_NICS; i++) {
		const lxc_nic *n = &s->nics[i];
		int index = (int)if_nametoindex(n->name);
		if (!index)
			return pve_error_set(err, ENODEV, "%s is missing in the container",
					     n->name);
		/* dhcp and auto are the init's business (its network config, written by the set-up) */
		if (strchr(n->ip, '/'))
			r = add_addr(sk, index, n->ip, n->name, err);
		if (r == 0 && strchr(n->ip6, '/'))
			r = add_addr(sk, index, n->ip6, n->name, err);
		if (r == 0 && !n->link_down)
			r = link_up(sk, n->name, err);
		if (r == 0 && n->gw[0] && !n->link_down)
			r = add_gw(sk, index, n->gw, AF_INET, err);
		if (r == 0 && n->gw6[0] && !n->link_down)
			r = add_gw(sk, index, n->gw6, AF_INET6, err);
	}
	return r;
}
