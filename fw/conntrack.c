/* The conntrack log: ctnetlink's NEW and DESTROY events read from the kernel and formatted as
 * pvefw-logger writes them with log_nf_conntrack (libnetfilter_conntrack's default output). The
 * parser reads what the kernel sends (fuzz-fw-conntrack), every length checked before use. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <time.h>

#include "fw/fw-internal.h"

/* The largest attribute table of a level: the message's own (CTA_*). */
#define TB_MAX 64

typedef struct {
	const struct nlattr *tb[TB_MAX];
} attrs;

static int attr_cb(const struct nlattr *a, void *data)
{
	attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);
	/* mnl_attr_parse has checked that the attribute lies within its parent. */
	if (type < TB_MAX)
		t->tb[type] = a;
	return MNL_CB_OK;
}

/* The attributes nested in a (none when a is NULL or malformed). */
static bool nested(const struct nlattr *a, attrs *ret)
{
	*ret = (attrs){ 0 };
	return a && mnl_attr_parse_nested(a, attr_cb, ret) >= 0;
}

static bool get_u8(const struct nlattr *a, uint8_t *ret)
{
	if (!a || mnl_attr_get_payload_len(a) < 1)
		return false;
	*ret = *(const uint8_t *)mnl_attr_get_payload(a);
	return true;
}

static bool get_be16(const struct nlattr *a, uint16_t *ret)
{
	uint16_t v;
	if (!a || mnl_attr_get_payload_len(a) < 2)
		return false;
	memcpy(&v, mnl_attr_get_payload(a), 2);
	*ret = be16toh(v);
	return true;
}

static bool get_be32(const struct nlattr *a, uint32_t *ret)
{
	uint32_t v;
	if (!a || mnl_attr_get_payload_len(a) < 4)
		return false;
	memcpy(&v, mnl_attr_get_payload(a), 4);
	*ret = be32toh(v);
	return true;
}

static bool get_be64(const struct nlattr *a, uint64_t *ret)
{
	uint64_t v;
	if (!a || mnl_attr_get_payload_len(a) < 8)
		return false;
	memcpy(&v, mnl_attr_get_payload(a), 8);
	*ret = be64toh(v);
	return true;
}

/* A string only when its terminator is inside the attribute. */
static const char *get_str(const struct nlattr *a)
{
	if (!a)
		return NULL;
	const char *s = mnl_attr_get_payload(a);
	size_t n = mnl_attr_get_payload_len(a);
	return n && memchr(s, '\0', n) ? s : NULL;
}

static void parse_tuple(const struct nlattr *a, pve_fw_ct_tuple *t)
{
	attrs tu, ip, pr;
	if (!nested(a, &tu))
		return;
	if (nested(tu.tb[CTA_TUPLE_IP], &ip)) {
		const struct nlattr *s4 = ip.tb[CTA_IP_V4_SRC], *d4 = ip.tb[CTA_IP_V4_DST];
		const struct nlattr *s6 = ip.tb[CTA_IP_V6_SRC], *d6 = ip.tb[CTA_IP_V6_DST];
		if (s4 && d4 && mnl_attr_get_payload_len(s4) >= 4 &&
		    mnl_attr_get_payload_len(d4) >= 4) {
			t->addr_len = 4;
			memcpy(t->src, mnl_attr_get_payload(s4), 4);
			memcpy(t->dst, mnl_attr_get_payload(d4), 4);
		} else if (s6 && d6 && mnl_attr_get_payload_len(s6) >= 16 &&
			   mnl_attr_get_payload_len(d6) >= 16) {
			t->addr_len = 16;
			memcpy(t->src, mnl_attr_get_payload(s6), 16);
			memcpy(t->dst, mnl_attr_get_payload(d6), 16);
		}
	}
	if (nested(tu.tb[CTA_TUPLE_PROTO], &pr)) {
		get_u8(pr.tb[CTA_PROTO_NUM], &t->proto);
		get_be16(pr.tb[CTA_PROTO_SRC_PORT], &t->sport);
		get_be16(pr.tb[CTA_PROTO_DST_PORT], &t->dport);
		bool v6 = t->proto == IPPROTO_ICMPV6;
		get_be16(pr.tb[v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID], &t->icmp_id);
		get_u8(pr.tb[v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE], &t->icmp_type);
		get_u8(pr.tb[v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE], &t->icmp_code);
	}
	t->has_zone = get_be16(tu.tb[CTA_TUPLE_ZONE], &t->zone);
}

static void parse_counters(const struct nlattr *a, pve_fw_ct_tuple *t)
{
	attrs c;
	if (!nested(a, &c))
		return;
	uint32_t p32, b32;
	if (get_be64(c.tb[CTA_COUNTERS_PACKETS], &t->packets) &&
	    get_be64(c.tb[CTA_COUNTERS_BYTES], &t->bytes)) {
		t->has_counters = true;
	} else if (get_be32(c.tb[CTA_COUNTERS32_PACKETS], &p32) &&
		   get_be32(c.tb[CTA_COUNTERS32_BYTES], &b32)) {
		t->packets = p32;
		t->bytes = b32;
		t->has_counters = true;
	}
}

int pve_fw_ct_parse(const void *msg, size_t len, pve_fw_ct_event *ret, pve_error **err)
{
	const struct nlmsghdr *nlh = msg;
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) + sizeof(struct nfgenmsg) ||
	    nlh->nlmsg_len > len)
		return pve_error_set(err, EBADMSG, "truncated conntrack message");
	if (nlh->nlmsg_type >> 8 != NFNL_SUBSYS_CTNETLINK)
		return pve_error_set(err, EBADMSG, "not a conntrack message (type %u)",
				     nlh->nlmsg_type);
	pve_fw_ct_event e = { .tcp_state = -1, .sctp_state = -1 };
	switch (nlh->nlmsg_type & 0xff) {
	case IPCTNL_MSG_CT_NEW:
		/* A new entry is created; without those flags it is an update. */
		e.type = nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL) ? PVE_FW_CT_NEW :
									  PVE_FW_CT_UPDATE;
		break;
	case IPCTNL_MSG_CT_DELETE:
		e.type = PVE_FW_CT_DESTROY;
		break;
	default:
		return pve_error_set(err, EBADMSG, "not a conntrack event (type %u)",
				     nlh->nlmsg_type);
	}
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	e.family = g->nfgen_family;
	attrs t = { 0 };
	if (mnl_attr_parse(nlh, sizeof(*g), attr_cb, &t) < 0)
		return pve_error_set(err, EBADMSG, "malformed conntrack attributes");
	parse_tuple(t.tb[CTA_TUPLE_ORIG], &e.orig);
	parse_tuple(t.tb[CTA_TUPLE_REPLY], &e.reply);
	parse_counters(t.tb[CTA_COUNTERS_ORIG], &e.orig);
	parse_counters(t.tb[CTA_COUNTERS_REPLY], &e.reply);
	e.has_timeout = get_be32(t.tb[CTA_TIMEOUT], &e.timeout);
	e.has_status = get_be32(t.tb[CTA_STATUS], &e.status);
	e.has_mark = get_be32(t.tb[CTA_MARK], &e.mark);
	e.has_secmark = get_be32(t.tb[CTA_SECMARK], &e.secmark);
	e.has_use = get_be32(t.tb[CTA_USE], &e.use);
	e.has_zone = get_be16(t.tb[CTA_ZONE], &e.zone);
	attrs pi, sub;
	uint8_t state;
	if (nested(t.tb[CTA_PROTOINFO], &pi)) {
		if (nested(pi.tb[CTA_PROTOINFO_TCP], &sub) &&
		    get_u8(sub.tb[CTA_PROTOINFO_TCP_STATE], &state))
			e.tcp_state = state;
		if (nested(pi.tb[CTA_PROTOINFO_SCTP], &sub) &&
		    get_u8(sub.tb[CTA_PROTOINFO_SCTP_STATE], &state))
			e.sctp_state = state;
	}
	if (nested(t.tb[CTA_HELP], &sub))
		e.helper = get_str(sub.tb[CTA_HELP_NAME]);
	if (nested(t.tb[CTA_SECCTX], &sub))
		e.secctx = get_str(sub.tb[CTA_SECCTX_NAME]);
	if (nested(t.tb[CTA_TIMESTAMP], &sub)) {
		e.has_start = get_be64(sub.tb[CTA_TIMESTAMP_START], &e.start);
		e.has_stop = get_be64(sub.tb[CTA_TIMESTAMP_STOP], &e.stop);
	}
	*ret = e;
	return 0;
}

/* ----- The line ----- */

static const char *l3_name(uint8_t family)
{
	return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "unknown";
}

static const char *l4_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_GRE:
		return "gre";
	case IPPROTO_DCCP:
		return "dccp";
	default:
		return "unknown";
	}
}

/* The addresses follow the message's family, as libnetfilter_conntrack prints them (zeros when
 * the tuple had none). */
static void print_addrs(pve_buf *b, uint8_t family, const pve_fw_ct_tuple *t)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	if (family == AF_INET) {
		uint8_t src[4] = { 0 }, dst[4] = { 0 };
		if (t->addr_len == 4) {
			memcpy(src, t->src, 4);
			memcpy(dst, t->dst, 4);
		}
		inet_ntop(AF_INET, src, s, sizeof(s));
		inet_ntop(AF_INET, dst, d, sizeof(d));
	} else if (family == AF_INET6) {
		uint8_t src[16] = { 0 }, dst[16] = { 0 };
		if (t->addr_len == 16) {
			memcpy(src, t->src, 16);
			memcpy(dst, t->dst, 16);
		}
		inet_ntop(AF_INET6, src, s, sizeof(s));
		inet_ntop(AF_INET6, dst, d, sizeof(d));
	} else {
		return;
	}
	pve_buf_printf(b, "src=%s dst=%s ", s, d);
}

static void print_l4(pve_buf *b, const pve_fw_ct_tuple *t)
{
	switch (t->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		pve_buf_printf(b, "sport=%u dport=%u ", t->sport, t->dport);
		break;
	case IPPROTO_GRE:
		pve_buf_printf(b, "srckey=0x%x dstkey=0x%x ", t->sport, t->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		pve_buf_printf(b, "type=%d code=%d id=%d ", t->icmp_type, t->icmp_code, t->icmp_id);
		break;
	}
}

static void print_tuple(pve_buf *b, uint8_t family, const pve_fw_ct_tuple *t, const char *zone)
{
	print_addrs(b, family, t);
	print_l4(b, t);
	if (t->has_zone)
		pve_buf_printf(b, "zone-%s=%u ", zone, t->zone);
}

static void print_counters(pve_buf *b, const pve_fw_ct_tuple *t)
{
	if (t->has_counters)
		pve_buf_printf(b, "packets=%llu bytes=%llu ", (unsigned long long)t->packets,
			       (unsigned long long)t->bytes);
}

/* ctime()'s form, in local time: "Mon Dec  7 18:41:15 2026". */
static void print_ctime(pve_buf *b, const char *what, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	char s[64] = "";
	if (localtime_r(&t, &tm))
		strftime(s, sizeof(s), "%a %b %e %H:%M:%S %Y", &tm);
	pve_buf_printf(b, "[%s=%s] ", what, s);
}

char *pve_fw_ct_format(const pve_fw_ct_event *e, time_t now)
{
	static const char *const tcp_states[] = { "NONE",	 "SYN_SENT",  "SYN_RECV",
						  "ESTABLISHED", "FIN_WAIT",  "CLOSE_WAIT",
						  "LAST_ACK",	 "TIME_WAIT", "CLOSE",
						  "SYN_SENT2" };
	static const char *const sctp_states[] = { "NONE",	     "CLOSED",
						   "COOKIE_WAIT",    "COOKIE_ECHOED",
						   "ESTABLISHED",    "SHUTDOWN_SENT",
						   "SHUTDOWN_RECD",  "SHUTDOWN_ACK_SENT",
						   "HEARTBEAT_SENT", "HEARTBEAT_ACKED" };
	pve_buf b = { 0 };
	pve_buf_printf(&b, "%9s ",
		       e->type == PVE_FW_CT_NEW	   ? "[NEW]" :
		       e->type == PVE_FW_CT_UPDATE ? "[UPDATE]" :
						     "[DESTROY]");
	pve_buf_printf(&b, "%-8s %u ", l3_name(e->family), e->family);
	pve_buf_printf(&b, "%-8s %u ", l4_name(e->orig.proto), e->orig.proto);
	if (e->has_timeout)
		pve_buf_printf(&b, "%u ", e->timeout);
	if (e->tcp_state >= 0)
		pve_buf_printf(
			&b, "%s ",
			tcp_states[(size_t)e->tcp_state < ELEMENTSOF(tcp_states) ? e->tcp_state :
										   0]);
	if (e->sctp_state >= 0)
		pve_buf_printf(
			&b, "%s ",
			sctp_states[(size_t)e->sctp_state < ELEMENTSOF(sctp_states) ? e->sctp_state :
										      0]);
	print_tuple(&b, e->family, &e->orig, "orig");
	print_counters(&b, &e->orig);
	if (e->has_status && !(e->status & IPS_SEEN_REPLY))
		pve_buf_puts(&b, "[UNREPLIED] ");
	print_tuple(&b, e->family, &e->reply, "reply");
	print_counters(&b, &e->reply);
	if (e->has_status) {
		if (e->status & IPS_HW_OFFLOAD)
			pve_buf_puts(&b, "[HW_OFFLOAD] ");
		else if (e->status & IPS_OFFLOAD)
			pve_buf_puts(&b, "[OFFLOAD] ");
		else if (e->status & IPS_ASSURED)
			pve_buf_puts(&b, "[ASSURED] ");
	}
	if (e->has_mark)
		pve_buf_printf(&b, "mark=%u ", e->mark);
	if (e->has_secmark)
		pve_buf_printf(&b, "secmark=%u ", e->secmark);
	/* The kernel's security context is text: a newline in it would start a line of its own. */
	if (e->secctx && !strpbrk(e->secctx, "\r\n"))
		pve_buf_printf(&b, "secctx=%s ", e->secctx);
	if (e->has_zone)
		pve_buf_printf(&b, "zone=%u ", e->zone);
	if (e->has_start) {
		uint64_t start = e->start / 1000000000u;
		uint64_t stop = e->has_stop && e->stop ? e->stop / 1000000000u : (uint64_t)now;
		pve_buf_printf(&b, "delta-time=%llu ", (unsigned long long)(stop - start));
		print_ctime(&b, "start", e->start);
	}
	if (e->has_stop)
		print_ctime(&b, "stop", e->stop);
	if (e->helper && !strpbrk(e->helper, "\r\n"))
		pve_buf_printf(&b, "helper=%s ", e->helper);
	if (e->has_use)
		pve_buf_printf(&b, "use=%u ", e->use);
	/* The last blank becomes the line's end. */
	b.data[b.len - 1] = '\n';
	return pve_buf_steal(&b);
}

/* ----- The socket ----- */

int pve_fw_ct_open(pve_error **err)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl)
		return pve_error_set(err, errno, "cannot open the conntrack netlink socket: %m");
	/* The event groups as a bind's bit mask (NF_NETLINK_CONNTRACK_NEW, _DESTROY). */
	unsigned groups = 1u << (NFNLGRP_CONNTRACK_NEW - 1) | 1u << (NFNLGRP_CONNTRACK_DESTROY - 1);
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		int r = pve_error_set(err, errno, "cannot subscribe to conntrack events: %m");
		mnl_socket_close(nl);
		return r;
	}
	/* Events come in bursts (a scan, a flood): room for many before the kernel drops some. */
	int size = 4 * 1024 * 1024;
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	/* The fd outlives the libmnl handle: only the handle's memory is freed. */
	int fd = fcntl(mnl_socket_get_fd(nl), F_DUPFD_CLOEXEC, 3);
	int r = fd < 0 ? pve_error_set(err, errno, "cannot keep the conntrack socket: %m") : fd;
	mnl_socket_close(nl);
	return r;
}
