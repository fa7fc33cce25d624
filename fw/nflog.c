/* The firewall log: nflog packets (the rules' `log group N`) read from the kernel and formatted as
 * pvefw-logger writes them to /var/log/pve-firewall.log. The parser reads what the kernel sends
 * (fuzz-fw-nflog), every length checked before use. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fw/fw-internal.h"

typedef struct {
	const struct nlattr *tb[NFULA_MAX + 1];
} attrs;

static int attr_cb(const struct nlattr *a, void *data)
{
	attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);
	/* mnl_attr_parse has checked that the attribute lies within the message. */
	if (type <= NFULA_MAX)
		t->tb[type] = a;
	return MNL_CB_OK;
}

static bool attr_u32(const struct nlattr *a, uint32_t *ret)
{
	if (!a || mnl_attr_get_payload_len(a) < 4)
		return false;
	uint32_t v;
	memcpy(&v, mnl_attr_get_payload(a), 4);
	*ret = ntohl(v);
	return true;
}

const struct nlmsghdr *pve_fw_nlmsg_next(const void *buf, size_t len, size_t *off)
{
	if (*off > len || len - *off < sizeof(struct nlmsghdr))
		return NULL;
	const struct nlmsghdr *nlh = (const void *)((const uint8_t *)buf + *off);
	if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - *off)
		return NULL;
	/* Within len (checked above), so the aligned step cannot overflow. */
	*off += NLMSG_ALIGN(nlh->nlmsg_len);
	return nlh;
}

int pve_fw_nflog_parse(const void *msg, size_t len, pve_fw_nflog_pkt *ret, pve_error **err)
{
	const struct nlmsghdr *nlh = msg;
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) + sizeof(struct nfgenmsg) ||
	    nlh->nlmsg_len > len)
		return pve_error_set(err, EBADMSG, "truncated nflog message");
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return pve_error_set(err, EBADMSG, "not an nflog packet (type %u)",
				     nlh->nlmsg_type);
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	attrs t = { 0 };
	if (mnl_attr_parse(nlh, sizeof(*g), attr_cb, &t) < 0)
		return pve_error_set(err, EBADMSG, "malformed nflog attributes");
	pve_fw_nflog_pkt p = { .family = g->nfgen_family };
	if (t.tb[NFULA_PACKET_HDR] && mnl_attr_get_payload_len(t.tb[NFULA_PACKET_HDR]) >=
					      sizeof(struct nfulnl_msg_packet_hdr)) {
		struct nfulnl_msg_packet_hdr ph;
		memcpy(&ph, mnl_attr_get_payload(t.tb[NFULA_PACKET_HDR]), sizeof(ph));
		p.hw_protocol = ntohs(ph.hw_protocol);
	}
	if (t.tb[NFULA_PREFIX]) {
		const char *s = mnl_attr_get_payload(t.tb[NFULA_PREFIX]);
		size_t n = mnl_attr_get_payload_len(t.tb[NFULA_PREFIX]);
		/* A string only when its terminator is inside the attribute. */
		if (n && memchr(s, '\0', n))
			p.prefix = s;
	}
	attr_u32(t.tb[NFULA_IFINDEX_INDEV], &p.indev);
	attr_u32(t.tb[NFULA_IFINDEX_OUTDEV], &p.outdev);
	attr_u32(t.tb[NFULA_IFINDEX_PHYSINDEV], &p.physindev);
	attr_u32(t.tb[NFULA_IFINDEX_PHYSOUTDEV], &p.physoutdev);
	attr_u32(t.tb[NFULA_MARK], &p.mark);
	if (t.tb[NFULA_TIMESTAMP] && mnl_attr_get_payload_len(t.tb[NFULA_TIMESTAMP]) >=
					     sizeof(struct nfulnl_msg_packet_timestamp)) {
		struct nfulnl_msg_packet_timestamp ts;
		memcpy(&ts, mnl_attr_get_payload(t.tb[NFULA_TIMESTAMP]), sizeof(ts));
		p.sec = (int64_t)be64toh(ts.sec);
		p.has_time = true;
	}
	if (t.tb[NFULA_HWHEADER]) {
		p.hwhdr = mnl_attr_get_payload(t.tb[NFULA_HWHEADER]);
		p.hwhdr_len = mnl_attr_get_payload_len(t.tb[NFULA_HWHEADER]);
	}
	if (t.tb[NFULA_PAYLOAD]) {
		p.payload = mnl_attr_get_payload(t.tb[NFULA_PAYLOAD]);
		p.payload_len = mnl_attr_get_payload_len(t.tb[NFULA_PAYLOAD]);
	}
	*ret = p;
	return 0;
}

/* ----- Formatting, field by field as pvefw-logger ----- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void invalid_len(pve_buf *b, size_t len)
{
	pve_buf_printf(b, "LEN=%zu INVALID=LEN ", len);
}

static void print_tcp(pve_buf *b, const uint8_t *h, size_t len)
{
	pve_buf_puts(b, "PROTO=TCP ");
	if (len < 20)
		return invalid_len(b, len);
	pve_buf_printf(b, "SPT=%u DPT=%u SEQ=%u ACK=%u WINDOW=%u ", be16(h), be16(h + 2),
		       be32(h + 4), be32(h + 8), be16(h + 14));
	uint8_t f = h[13];
	static const struct {
		uint8_t bit;
		const char *name;
	} flags[] = { { 0x20, "URG" }, { 0x10, "ACK" }, { 0x08, "PSH" },
		      { 0x04, "RST" }, { 0x02, "SYN" }, { 0x01, "FIN" } };
	for (size_t i = 0; i < ELEMENTSOF(flags); i++)
		if (f & flags[i].bit)
			pve_buf_printf(b, "%s ", flags[i].name);
	if (f & 0x20)
		pve_buf_printf(b, "URGP=%u ", be16(h + 18));
}

static void print_udp(pve_buf *b, const uint8_t *h, size_t len)
{
	pve_buf_puts(b, "PROTO=UDP ");
	if (len < 8)
		return invalid_len(b, len);
	pve_buf_printf(b, "SPT=%u DPT=%u LEN=%u", be16(h), be16(h + 2), be16(h + 4));
}

static void print_icmp(pve_buf *b, const uint8_t *h, size_t len, bool v6)
{
	pve_buf_puts(b, v6 ? "PROTO=ICMPV6 " : "PROTO=ICMP ");
	if (len < 8)
		return invalid_len(b, len);
	pve_buf_printf(b, "TYPE=%u CODE=%u ", h[0], h[1]);
	bool echo = v6 ? h[0] == 128 || h[0] == 129 : h[0] == 8 || h[0] == 0;
	if (echo)
		pve_buf_printf(b, "ID=%u SEQ=%u ", be16(h + 4), be16(h + 6));
	else if (!v6 && h[0] == 12)
		pve_buf_printf(b, "PARAMETER=%u ", h[4]);
	else if (!v6 && h[0] == 5)
		pve_buf_printf(b, "GATEWAY=%u.%u.%u.%u ", h[4], h[5], h[6], h[7]);
	else if (!v6 && h[0] == 3 && h[1] == 4)
		pve_buf_printf(b, "MTU=%u ", be16(h + 6));
}

/* The transport header: false for a protocol pvefw-logger does not name. */
static bool print_l4(pve_buf *b, const uint8_t *h, size_t len, unsigned proto)
{
	switch (proto) {
	case 6:
		print_tcp(b, h, len);
		return true;
	case 17:
		print_udp(b, h, len);
		return true;
	case 1:
		print_icmp(b, h, len, false);
		return true;
	case 58:
		print_icmp(b, h, len, true);
		return true;
	case 132:
		pve_buf_puts(b, "PROTO=SCTP ");
		if (len < 12)
			invalid_len(b, len);
		else
			pve_buf_printf(b, "SPT=%u DPT=%u ", be16(h), be16(h + 2));
		return true;
	case 51:
		pve_buf_puts(b, "PROTO=AH ");
		return true;
	case 50:
		pve_buf_puts(b, "PROTO=ESP ");
		return true;
	case 2:
		pve_buf_puts(b, "PROTO=IGMP ");
		return true;
	default:
		return false;
	}
}

static void print_ip4(pve_buf *b, const uint8_t *h, size_t len)
{
	if (len < 20)
		return invalid_len(b, len);
	size_t ihl = (size_t)(h[0] & 15) * 4;
	if (len <= ihl) {
		pve_buf_puts(b, "INVALID=IHL ");
		return;
	}
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, h + 12, s, sizeof(s));
	inet_ntop(AF_INET, h + 16, d, sizeof(d));
	pve_buf_printf(b, "SRC=%s DST=%s LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ", s, d,
		       be16(h + 2), h[1] & 0x1e, h[1] & 0xe0, h[8], be16(h + 4));
	uint16_t off = be16(h + 6);
	if (off & 0x1fff)
		pve_buf_printf(b, "FRAG=%u ", off & 0x1fff);
	if (off & 0x4000)
		pve_buf_puts(b, "DF ");
	if (off & 0x2000)
		pve_buf_puts(b, "MF ");
	if (!print_l4(b, h + ihl, len - ihl, h[9]))
		pve_buf_printf(b, "PROTO=%u ", h[9]);
}

static void print_ip6(pve_buf *b, const uint8_t *h, size_t len)
{
	if (len < 40)
		return invalid_len(b, len);
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, h + 8, s, sizeof(s));
	inet_ntop(AF_INET6, h + 24, d, sizeof(d));
	uint32_t flow = be32(h);
	pve_buf_printf(b, "SRC=%s DST=%s LEN=%u TC=%u FLOWLBL=%u HOPLIMIT=%u ", s, d, be16(h + 4),
		       (flow >> 20) & 0xff, flow & 0xfffff, h[7]);
	unsigned next = h[6];
	size_t off = 40;
	/* Extension headers are skipped (a bounded number), as pvefw-logger walks them. */
	for (int i = 0; i < 8; i++) {
		if (next != 0 && next != 43 && next != 60 && next != 44)
			break;
		if (len - off < 8)
			return invalid_len(b, len - off);
		if (next == 0)
			pve_buf_puts(b, "NEXTHDR=HOPOPTS ");
		else if (next == 60)
			pve_buf_puts(b, "NEXTHDR=DSTOPTS ");
		size_t ext = next == 44 ? 8 : ((size_t)h[off + 1] + 1) * 8;
		if (next == 44) {
			uint16_t offlg = be16(h + off + 2);
			pve_buf_printf(b, "FRAG=%u ID=%u ", offlg & 0x2fff, be32(h + off + 4));
			if (offlg & 1)
				pve_buf_puts(b, "MF ");
		}
		if (ext > len - off)
			return invalid_len(b, len - off);
		next = h[off];
		off += ext;
	}
	if (!print_l4(b, h + off, len - off, next))
		pve_buf_printf(b, "PROTO=%u ", next);
}

static void print_dev(pve_buf *b, const char *what, uint32_t index, pve_fw_ifname_fn ifname,
		      void *ctx)
{
	if (!index)
		return;
	char name[17] = "";
	if (ifname && ifname(index, name, ctx) && name[0])
		pve_buf_printf(b, "%s=%s ", what, name);
	else
		pve_buf_printf(b, "%s=%u ", what, index);
}

/* The prefix ":<vmid>:<level digit>:<chain>: <rest>" as pvefw-logger splits it; anything else is
 * vmid 0, level 6 (info), chain "-" and the whole prefix. */
static void split_prefix(const char *prefix, unsigned *vmid, unsigned *level, char *chain,
			 size_t chain_size, const char **rest)
{
	*vmid = 0;
	*level = 6;
	snprintf(chain, chain_size, "-");
	*rest = prefix;
	if (!prefix || prefix[0] != ':')
		return;
	const char *p = prefix + 1;
	unsigned long id = 0;
	while (*p >= '0' && *p <= '9' && id < 1000000000UL)
		id = id * 10 + (unsigned long)(*p++ - '0');
	if (p[0] != ':' || p[1] < '0' || p[1] > '7' || p[2] != ':')
		return;
	/* A chain name of printable characters only: the line stays one line. */
	const char *cs = p + 3, *ce = cs;
	while (*ce && *ce != ':' && *ce != ' ' && (unsigned char)*ce > 0x20 && *ce != 0x7f)
		ce++;
	size_t n = (size_t)(ce - cs);
	if (ce[0] != ':' || ce[1] != ' ' || !n || n >= chain_size)
		return;
	*vmid = (unsigned)id;
	*level = (unsigned)(p[1] - '0');
	memcpy(chain, cs, n);
	chain[n] = '\0';
	*rest = ce + 2;
}

char *pve_fw_nflog_format(const pve_fw_nflog_pkt *p, time_t now, pve_fw_ifname_fn ifname, void *ctx)
{
	pve_buf b = { 0 };
	unsigned vmid, level;
	char chain[64];
	const char *rest;
	split_prefix(p->prefix, &vmid, &level, chain, sizeof(chain), &rest);
	pve_buf_printf(&b, "%u %u %s ", vmid, level, chain);
	time_t t = p->has_time && p->sec > 0 ? (time_t)p->sec : now;
	struct tm tm;
	char ts[64] = "";
	if (localtime_r(&t, &tm))
		strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S %z ", &tm);
	pve_buf_puts(&b, ts);
	/* The prefix is the rule's, but a line is one line: no control characters. */
	for (const char *c = rest; c && *c; c++)
		pve_buf_printf(&b, "%c", (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c);
	print_dev(&b, "IN", p->indev, ifname, ctx);
	print_dev(&b, "OUT", p->outdev, ifname, ctx);
	print_dev(&b, "PHYSIN", p->physindev, ifname, ctx);
	print_dev(&b, "PHYSOUT", p->physoutdev, ifname, ctx);
	if (p->hwhdr_len && p->hwhdr_len <= 64) {
		pve_buf_puts(&b, "MAC=");
		for (size_t i = 0; i < p->hwhdr_len; i++)
			pve_buf_printf(&b, "%02x%s", p->hwhdr[i], i + 1 < p->hwhdr_len ? ":" : "");
		pve_buf_puts(&b, " ");
	}
	unsigned proto = p->family == AF_BRIDGE ? p->hw_protocol : 0;
	if (p->family == AF_INET || proto == 0x0800)
		print_ip4(&b, p->payload, p->payload_len);
	else if (p->family == AF_INET6 || proto == 0x86dd)
		print_ip6(&b, p->payload, p->payload_len);
	if (p->mark)
		pve_buf_printf(&b, "mark=%u ", p->mark);
	pve_buf_puts(&b, "\n");
	return pve_buf_steal(&b);
}

/* ----- The socket ----- */

static int config_msg(struct mnl_socket *nl, unsigned group, uint8_t family, const void *data,
		      uint16_t attr, size_t len, pve_error **err)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons((uint16_t)group);
	mnl_attr_put(nlh, attr, len, data);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return pve_error_set(err, errno, "cannot configure nflog group %u: %m", group);
	char ack[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n = mnl_socket_recvfrom(nl, ack, sizeof(ack));
	if (n < 0)
		return pve_error_set(err, errno, "cannot configure nflog group %u: %m", group);
	if (mnl_cb_run(ack, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return pve_error_set(err, errno, "cannot configure nflog group %u: %m", group);
	return 0;
}

int pve_fw_nflog_open(unsigned group, pve_error **err)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return pve_error_set(err, errno, "cannot open the nflog netlink socket: %m");
	int r;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = pve_error_set(err, errno, "cannot bind the nflog netlink socket: %m");
		goto fail;
	}
	struct nfulnl_msg_config_cmd bind = { .command = NFULNL_CFG_CMD_BIND };
	/* Headers are what a line shows: 256 bytes of each packet are enough. */
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(256),
					       .copy_mode = NFULNL_COPY_PACKET };
	if ((r = config_msg(nl, group, AF_UNSPEC, &bind, NFULA_CFG_CMD, sizeof(bind), err)) < 0 ||
	    (r = config_msg(nl, group, AF_UNSPEC, &mode, NFULA_CFG_MODE, sizeof(mode), err)) < 0)
		goto fail;
	int fd = mnl_socket_get_fd(nl);
	/* The fd outlives the libmnl handle: only the handle's memory is freed. */
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0) {
		r = pve_error_set(err, errno, "cannot keep the nflog socket: %m");
		goto fail;
	}
	mnl_socket_close(nl);
	int fl = fcntl(dup_fd, F_GETFL);
	if (fl < 0 || fcntl(dup_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = pve_error_set(err, errno, "cannot make the nflog socket non-blocking: %m");
		close(dup_fd);
		return r;
	}
	return dup_fd;
fail:
	mnl_socket_close(nl);
	return r;
}
