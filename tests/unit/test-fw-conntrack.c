/* The conntrack log's parser and lines: ctnetlink events built here as the kernel sends them, the
 * lines pvefw-logger writes for them, messages that are not events; and (as root, in a network
 * namespace of its own) a loopback connection's NEW and DESTROY read from the kernel. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fw/fw.h"
#include "tests/unit/test.h"

typedef struct {
	int family;
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport;
} tuple_spec;

static void put_tuple(struct nlmsghdr *nlh, uint16_t type, const tuple_spec *t, bool reply)
{
	struct nlattr *tu = mnl_attr_nest_start(nlh, type);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	uint8_t a[16], b[16];
	inet_pton(t->family, reply ? t->dst : t->src, a);
	inet_pton(t->family, reply ? t->src : t->dst, b);
	bool v6 = t->family == AF_INET6;
	mnl_attr_put(nlh, v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, v6 ? 16 : 4, a);
	mnl_attr_put(nlh, v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, v6 ? 16 : 4, b);
	mnl_attr_nest_end(nlh, ip);
	struct nlattr *pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
	if (t->proto == IPPROTO_ICMP) {
		mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(t->sport));
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, reply ? 0 : 8);
		mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, 0);
	} else {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(reply ? t->dport : t->sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(reply ? t->sport : t->dport));
	}
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, tu);
}

static struct nlmsghdr *event_start(char *buf, uint8_t msg, uint16_t flags, int family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
	nlh->nlmsg_flags = flags;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	return nlh;
}

static char *line_of(const struct nlmsghdr *nlh, pve_fw_ct_type type)
{
	pve_fw_ct_event e;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, &err) < 0) {
		test_fail(__FILE__, __LINE__, "parse: %s", err->message);
		return xstrdup("");
	}
	check_int(e.type, type);
	return pve_fw_ct_format(&e, 1700000100);
}

static void test_lines(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	/* A TCP connection's first SYN, as the kernel reports a new entry. */
	tuple_spec tcp = { AF_INET, "10.100.0.2", "10.100.0.1", IPPROTO_TCP, 40000, 22 };
	struct nlmsghdr *nlh =
		event_start(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, AF_INET);
	put_tuple(nlh, CTA_TUPLE_ORIG, &tcp, false);
	put_tuple(nlh, CTA_TUPLE_REPLY, &tcp, true);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(12345));
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_CONFIRMED));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(120));
	struct nlattr *pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
	struct nlattr *pt = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);
	mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, 1);
	mnl_attr_nest_end(nlh, pt);
	mnl_attr_nest_end(nlh, pi);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(0));
	_cleanup_free_ char *l1 = line_of(nlh, PVE_FW_CT_NEW);
	check_streq(l1,
		    "    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.100.0.2 dst=10.100.0.1 "
		    "sport=40000 dport=22 [UNREPLIED] src=10.100.0.1 dst=10.100.0.2 "
		    "sport=22 dport=40000 mark=0\n");

	/* An IPv6 UDP flow's end, with counters, zones, the helper and timestamps. */
	setenv("TZ", "UTC", 1);
	tzset();
	tuple_spec udp = { AF_INET6, "fd00:100::2", "fd00:100::1", IPPROTO_UDP, 5000, 69 };
	nlh = event_start(buf, IPCTNL_MSG_CT_DELETE, 0, AF_INET6);
	put_tuple(nlh, CTA_TUPLE_ORIG, &udp, false);
	put_tuple(nlh, CTA_TUPLE_REPLY, &udp, true);
	mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED));
	struct nlattr *c = mnl_attr_nest_start(nlh, CTA_COUNTERS_ORIG);
	mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(2));
	mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(120));
	mnl_attr_nest_end(nlh, c);
	c = mnl_attr_nest_start(nlh, CTA_COUNTERS_REPLY);
	mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(1));
	mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(60));
	mnl_attr_nest_end(nlh, c);
	mnl_attr_put_u16(nlh, CTA_ZONE, htons(5));
	struct nlattr *h = mnl_attr_nest_start(nlh, CTA_HELP);
	mnl_attr_put_strz(nlh, CTA_HELP_NAME, "tftp");
	mnl_attr_nest_end(nlh, h);
	struct nlattr *ts = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);
	mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(1700000000ull * 1000000000ull));
	mnl_attr_put_u64(nlh, CTA_TIMESTAMP_STOP, htobe64(1700000003ull * 1000000000ull + 5));
	mnl_attr_nest_end(nlh, ts);
	_cleanup_free_ char *l2 = line_of(nlh, PVE_FW_CT_DESTROY);
	check_streq(l2, "[DESTROY] ipv6     10 udp      17 src=fd00:100::2 dst=fd00:100::1 "
			"sport=5000 dport=69 packets=2 bytes=120 src=fd00:100::1 "
			"dst=fd00:100::2 sport=69 dport=5000 packets=1 bytes=60 [ASSURED] zone=5 "
			"delta-time=3 [start=Tue Nov 14 22:13:20 2023] "
			"[stop=Tue Nov 14 22:13:23 2023] helper=tftp\n");

	/* ICMP: type, code and id; an update (no create flags) is told apart. */
	tuple_spec icmp = { AF_INET, "10.0.0.1", "10.0.0.2", IPPROTO_ICMP, 7, 0 };
	nlh = event_start(buf, IPCTNL_MSG_CT_NEW, 0, AF_INET);
	put_tuple(nlh, CTA_TUPLE_ORIG, &icmp, false);
	put_tuple(nlh, CTA_TUPLE_REPLY, &icmp, true);
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(30));
	_cleanup_free_ char *l3 = line_of(nlh, PVE_FW_CT_UPDATE);
	check_streq(l3,
		    " [UPDATE] ipv4     2 icmp     1 30 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 "
		    "id=7 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7\n");
}

static void test_not_events(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	pve_fw_ct_event e;
	/* Another subsystem's message, a request type, a message cut short. */
	struct nlmsghdr *nlh = event_start(buf, IPCTNL_MSG_CT_NEW, 0, AF_INET);
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | 0;
	_cleanup_error_ pve_error *e1 = NULL;
	check(pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, &e1) == -EBADMSG);
	nlh = event_start(buf, IPCTNL_MSG_CT_GET, 0, AF_INET);
	_cleanup_error_ pve_error *e2 = NULL;
	check(pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, &e2) == -EBADMSG);
	nlh = event_start(buf, IPCTNL_MSG_CT_NEW, 0, AF_INET);
	_cleanup_error_ pve_error *e3 = NULL;
	check(pve_fw_ct_parse(nlh, nlh->nlmsg_len - 1, &e, &e3) == -EBADMSG);
	/* An attribute claiming more than the message has is not read. */
	nlh = event_start(buf, IPCTNL_MSG_CT_NEW, 0, AF_INET);
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(1));
	((struct nlattr *)((char *)nlh + nlh->nlmsg_len - 8))->nla_len = 64;
	check(pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, NULL) == 0 && !e.has_timeout);
	/* Nested attributes too short for what they carry are left out; the line still ends. */
	nlh = event_start(buf, IPCTNL_MSG_CT_DELETE, 0, AF_INET);
	struct nlattr *tu = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put_u16(nlh, CTA_IP_V4_SRC, 1);
	mnl_attr_put_u16(nlh, CTA_IP_V4_DST, 1);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_nest_end(nlh, tu);
	_cleanup_free_ char *l = line_of(nlh, PVE_FW_CT_DESTROY);
	check_streq(l, "[DESTROY] ipv4     2 unknown  0 src=0.0.0.0 dst=0.0.0.0 src=0.0.0.0 "
		       "dst=0.0.0.0\n");
}

/* The walk over one recv's messages stops at a length that does not fit, and after a last message
 * of an unaligned length (where NLMSG_NEXT's size_t length wrapped). */
static void test_walk(void)
{
	uint32_t buf[16] = { 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	size_t off = 0;
	nlh->nlmsg_len = 21;
	check(pve_fw_nlmsg_next(buf, 21, &off) == nlh);
	check(off == 24 && !pve_fw_nlmsg_next(buf, 21, &off));
	off = 0;
	nlh->nlmsg_len = 0xfffffff0u;
	check(!pve_fw_nlmsg_next(buf, sizeof(buf), &off) && off == 0);
	nlh->nlmsg_len = 8;
	check(!pve_fw_nlmsg_next(buf, sizeof(buf), &off));
	nlh->nlmsg_len = 16;
	((struct nlmsghdr *)&buf[4])->nlmsg_len = 48;
	check(pve_fw_nlmsg_next(buf, sizeof(buf), &off) == nlh);
	check(pve_fw_nlmsg_next(buf, sizeof(buf), &off) == (void *)&buf[4]);
	check(!pve_fw_nlmsg_next(buf, sizeof(buf), &off) && off == sizeof(buf));
}

/* Reads events from fd until one's line has want in it (2 s at most). */
static char *wait_line(int fd, const char *want)
{
	static char buf[65536];
	for (int i = 0; i < 40; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		size_t off = 0;
		for (const struct nlmsghdr *nlh; (nlh = pve_fw_nlmsg_next(buf, (size_t)n, &off));) {
			pve_fw_ct_event e;
			if (pve_fw_ct_parse(nlh, nlh->nlmsg_len, &e, NULL) < 0)
				continue;
			char *line = pve_fw_ct_format(&e, time(NULL));
			if (strstr(line, want))
				return line;
			free(line);
		}
	}
	return NULL;
}

/* Flushes this namespace's conntrack table (a DELETE without a tuple), as `conntrack -F`. */
static void flush_conntrack(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	check(nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0);
	if (!nl)
		return;
	struct nlmsghdr *nlh =
		event_start(buf, IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, AF_INET);
	nlh->nlmsg_seq = 1;
	check(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	check(n > 0 && mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL) >= 0);
	mnl_socket_close(nl);
}

static void test_live(void)
{
	if (geteuid() != 0) {
		test_skip("needs root for a network namespace");
		return;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		test_skip("unshare(CLONE_NEWNET): %m");
		return;
	}
	check(system("ip link set lo up") == 0);
	/* Conntrack runs in a namespace once a rule needs it: the firewall's table does. */
	_cleanup_fw_file_ pve_fw_file *cl = NULL;
	static const char text[] = "[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n";
	check(pve_fw_parse(PVE_FW_CLUSTER, text, strlen(text), &cl, NULL) == 0);
	pve_fw_input in = { .cluster = cl, .table = "pved-ct-test" };
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_fw_compile(&in, &rs, &err) == 0);
	if (!rs || pve_fw_apply(rs, &err) < 0) {
		test_fail(__FILE__, __LINE__, "apply: %s", err ? err->message : "");
		return;
	}
	_cleanup_close_ int fd = pve_fw_ct_open(&err);
	if (fd < 0) {
		test_fail(__FILE__, __LINE__, "open: %s", err->message);
		return;
	}
	_cleanup_close_ int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	check(bind(srv, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(srv, 1) == 0 &&
	      getsockname(srv, (struct sockaddr *)&a, &alen) == 0);
	_cleanup_close_ int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(connect(cli, (struct sockaddr *)&a, sizeof(a)) == 0);
	char want[128];
	snprintf(want, sizeof(want), "dst=127.0.0.1 sport=%u", ntohs(a.sin_port));
	_cleanup_free_ char *l1 = wait_line(fd, "[NEW]");
	check(l1 && startswith(l1, "    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=127.0.0.1 "));
	snprintf(want, sizeof(want), "dport=%u [UNREPLIED]", ntohs(a.sin_port));
	check(l1 && strstr(l1, want));
	flush_conntrack();
	_cleanup_free_ char *l2 = wait_line(fd, "[DESTROY]");
	snprintf(want, sizeof(want), "dport=%u ", ntohs(a.sin_port));
	check(l2 && startswith(l2, "[DESTROY] ipv4     2 tcp      6 ") && strstr(l2, want) &&
	      strstr(l2, "[ASSURED]"));
	check(pve_fw_remove("pved-ct-test", NULL) == 0);
}

TEST_MAIN(TEST(test_lines), TEST(test_not_events), TEST(test_walk), TEST(test_live))
