/* The compiler: small rulesets in nft syntax, errors naming file and parameter, and (as root, in a
 * network namespace of its own) the netlink batch: applied whole, refused whole, one guest replaced. */
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "fw/fw.h"
#include "tests/unit/test.h"

static pve_fw_file *parse(pve_fw_kind kind, const char *text)
{
	pve_fw_file *f = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_fw_parse(kind, text, strlen(text), &f, &err) < 0)
		test_fail(__FILE__, __LINE__, "parse failed: %s", err->message);
	return f;
}

static const char cluster_text[] = "[OPTIONS]\nenable: 1\n"
				   "[ALIASES]\ngw 10.0.1.1\n"
				   "[IPSET mgmt]\n10.0.0.0/8\n!10.9.9.9\n"
				   "[RULES]\nIN SSH(ACCEPT) -source +mgmt\n"
				   "[group web]\nIN HTTP(ACCEPT)\n";

typedef struct {
	pve_fw_file *cluster, *host, *vm;
	pve_fw_nic nic;
	pve_fw_guest guest;
	pve_fw_input in;
} setup;

static void setup_init(setup *s, const char *cluster, const char *vm, const char *ifname)
{
	*s = (setup){ 0 };
	s->cluster = cluster ? parse(PVE_FW_CLUSTER, cluster) : NULL;
	s->vm = parse(PVE_FW_VM, vm);
	s->nic = (pve_fw_nic){
		.index = 0, .firewall = true, .has_mac = true, .mac = { 0x02, 0, 0, 0, 0x01, 0x00 }
	};
	snprintf(s->nic.ifname, sizeof(s->nic.ifname), "%s", ifname);
	s->guest = (pve_fw_guest){ .vmid = 100, .nics = &s->nic, .n_nics = 1, .fw = s->vm };
	s->in = (pve_fw_input){
		.cluster = s->cluster, .guests = &s->guest, .n_guests = 1, .table = "pved-fw-test"
	};
}

static void setup_clear(setup *s)
{
	pve_fw_file_free(s->cluster);
	pve_fw_file_free(s->vm);
}

static char *compile_text(setup *s)
{
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_fw_compile(&s->in, &rs, &err) < 0) {
		test_fail(__FILE__, __LINE__, "compile: %s", err->message);
		return xstrdup("");
	}
	return pve_fw_ruleset_nft(rs);
}

static void check_has(const char *text, const char *line)
{
	if (!strstr(text, line))
		test_fail(__FILE__, __LINE__, "no line '%s' in:\n%s", line, text);
}

static void test_guest_chains(void)
{
	setup s;
	setup_init(
		&s, cluster_text,
		"[OPTIONS]\nenable: 1\nipfilter: 1\npolicy_in: REJECT\nlog_level_in: info\n"
		"[IPSET ipfilter-net0]\n10.0.1.2\n"
		"[RULES]\nIN ACCEPT -source gw -p tcp -dport 22\nIN DNS(ACCEPT) -i net0\n"
		"GROUP web\nOUT DROP -dest 10.0.2.0/24,10.0.3.5,10.0.2.7\n"
		"IN ACCEPT -source 10.0.0.1,10.0.0.0/24,10.0.1.0/24 -p udp -sport 1000:2000,2001\n"
		"IN ACCEPT -source 10.5.0.1,10.5.0.3,10.5.0.5 -p tcp -dport 1,3,5,7,9,11\n"
		"|IN DROP\n",
		"tap100i0");
	_cleanup_free_ char *t = compile_text(&s);
	check_has(t, "\t\telements = { \"tap100i0\" : jump guest-100-in }\n");
	check_has(t, "\t\tiifname vmap @vm-out\n");
	check_has(t, "\tchain guest-100-in {\n");
	/* aliases resolve, macros expand per NIC, groups are jumps */
	check_has(t,
		  "\t\tmeta nfproto ipv4 meta l4proto tcp ip saddr 10.0.1.1 th dport 22 accept\n");
	check_has(t, "\t\toifname \"tap100i0\" meta l4proto udp th dport 53 accept\n");
	check_has(t, "\t\toifname \"tap100i0\" meta l4proto tcp th dport 53 accept\n");
	check_has(t, "\t\tjump group-web-in\n");
	/* lists merge into one interval where they touch; short lists become a rule per value (an
	 * anonymous set costs the kernel a walk of the batch), longer ones stay sets */
	check_has(t, "\t\tmeta nfproto ipv4 ip daddr 10.0.2.0/24 drop\n"
		     "\t\tmeta nfproto ipv4 ip daddr 10.0.3.5 drop\n");
	check_has(t, "ip saddr 10.0.0.0/23 th sport 1000-2001 accept\n");
	check_has(t, "ip saddr { 10.5.0.1, 10.5.0.3, 10.5.0.5 } th dport { 1, 3, 5, 7, 9, 11 } "
		     "accept\n");
	/* spoofing: the MAC, the ipfilter set (and link-local IPv6) */
	check_has(t, "\t\tiifname \"tap100i0\" ether saddr != 02:00:00:00:01:00 drop\n");
	check_has(t, "\t\tiifname \"tap100i0\" meta nfproto ipv4 ip saddr != "
		     "@v4-guest-100-ipfilter-net0 drop\n");
	check_has(t, "ip6 saddr != @v6-guest-100-ipfilter-net0 ip6 saddr != fe80::/10 drop\n");
	/* the policy, logged with the rate limit, and REJECT through do-reject */
	check_has(t, "\t\tlimit rate 1/second burst 5 packets log prefix \":100:6:guest-100-in: "
		     "policy REJECT: \" group 0\n\t\tjump do-reject\n\t}\n");
	/* cluster ipsets with a nomatch twin */
	check_has(t, "ip saddr @v4-dc-mgmt ip saddr != @v4-dc-mgmt-nomatch th dport 22 accept\n");
	check_has(t, "\tset v4-dc-mgmt-nomatch {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
		     "\t\telements = { 10.9.9.9 }\n");
	check(!strstr(t, "DROP\n"));
	setup_clear(&s);
}

static void test_disabled(void)
{
	setup s;
	setup_init(&s, "[OPTIONS]\nenable: 0\n", "[OPTIONS]\nenable: 1\n", "tap100i0");
	_cleanup_free_ char *t = compile_text(&s);
	/* nothing but deletes: the tables, the legacy bridge one, every guest table of both
	 * families */
	check(startswith(t, "table inet pved-fw-test\ndelete table inet pved-fw-test\n"
			    "table bridge pved-fw-test\ndelete table bridge pved-fw-test\n"
			    "table inet pved-fw-test-g0\ndelete table inet pved-fw-test-g0\n"));
	check(endswith(t, "table bridge pved-fw-test-g15\ndelete table bridge pved-fw-test-g15\n"));
	check(!strchr(t, '{'));
	setup_clear(&s);
	/* A guest with its firewall off has no chains and no map element. */
	setup_init(&s, cluster_text, "[OPTIONS]\nenable: 0\n[RULES]\nIN DROP\n", "tap100i0");
	_cleanup_free_ char *t2 = compile_text(&s);
	check(!strstr(t2, "guest-100"));
	setup_clear(&s);
}

static void test_errors(void)
{
	struct {
		const char *vm, *param, *msg;
	} cases[] = {
		{ "[OPTIONS]\nenable: 1\n[RULES]\nIN Nope(ACCEPT)\n", "macro",
		  "100.fw: rule 'IN Nope(ACCEPT)': macro: unknown macro 'Nope'" },
		{ "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 9:1\n", "dport",
		  "100.fw: rule 'IN ACCEPT -p tcp -dport 9:1': dport: backwards range '9:1' not "
		  "allowed, did you mean '1:9'?" },
		{ "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -source +nope\n", "source",
		  "100.fw: rule 'IN ACCEPT -source +nope': source: no such ipset 'nope'" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		setup s;
		setup_init(&s, cluster_text, cases[i].vm, "tap100i0");
		pve_fw_ruleset *rs = NULL;
		_cleanup_error_ pve_error *err = NULL;
		check(pve_fw_compile(&s.in, &rs, &err) < 0);
		check_streq(err ? err->param : NULL, cases[i].param);
		check_streq(err ? err->message : NULL, cases[i].msg);
		pve_fw_ruleset_free(rs);
		setup_clear(&s);
	}
}

/* As root, in a network namespace of the test's own (gone when the process ends). */
static bool own_netns(void)
{
	if (geteuid() != 0) {
		test_skip("needs root for a network namespace");
		return false;
	}
	static bool done;
	if (!done && unshare(CLONE_NEWNET) < 0) {
		test_skip("unshare(CLONE_NEWNET): %m");
		return false;
	}
	done = true;
	return true;
}

/* Guest 100's part of old replaced by its part of rs: the kernel then has rs. */
static void check_guest_replaced(const pve_fw_ruleset *old, const pve_fw_ruleset *rs)
{
	_cleanup_error_ pve_error *err = NULL;
	if (!rs || pve_fw_apply_guest(old, rs, 100, &err) < 0) {
		test_fail(__FILE__, __LINE__, "apply_guest: %s", err ? err->message : "no ruleset");
		return;
	}
	_cleanup_free_ char *rep = NULL;
	check_int(pve_fw_status(rs, &rep, NULL), 0);
	check_streq(rep, "");
}

static void test_apply_atomic(void)
{
	if (!own_netns())
		return;
	setup a;
	setup_init(&a, cluster_text,
		   "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 22,80\n", "tap100i0");
	_cleanup_fw_ruleset_ pve_fw_ruleset *rsa = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_fw_compile(&a.in, &rsa, &err) == 0);
	if (!rsa)
		return;
	if (pve_fw_apply(rsa, &err) < 0) {
		test_fail(__FILE__, __LINE__, "apply: %s", err->message);
		return;
	}
	_cleanup_free_ char *rep = NULL;
	check_int(pve_fw_status(rsa, &rep, NULL), 0);
	check_streq(rep, "");

	/* Two guests on one interface: the kernel refuses the second map element, and the whole
	 * batch with it; the first ruleset stays as it was. */
	setup b;
	setup_init(&b, cluster_text, "[OPTIONS]\nenable: 1\n[RULES]\nIN DROP\n", "tap100i0");
	pve_fw_guest two[2] = { b.guest, b.guest };
	two[1].vmid = 101;
	b.in.guests = two;
	b.in.n_guests = 2;
	_cleanup_fw_ruleset_ pve_fw_ruleset *rsb = NULL;
	check(pve_fw_compile(&b.in, &rsb, NULL) == 0);
	_cleanup_error_ pve_error *e2 = NULL;
	check(rsb && pve_fw_apply(rsb, &e2) < 0);
	check(e2 && strstr(e2->message, "nftables refused the ruleset (elements of set vm-in)"));
	_cleanup_free_ char *rep2 = NULL;
	check_int(pve_fw_status(rsa, &rep2, NULL), 0);

	/* One guest replaced: only its chain changes. */
	setup c;
	setup_init(&c, cluster_text,
		   "[OPTIONS]\nenable: 1\n[IPSET peers]\n10.1.0.0/16\n10.3.0.1\n"
		   "[RULES]\nIN ACCEPT -source +peers\nIN DROP -p udp\nIN Ping(ACCEPT)\n"
		   "IN ACCEPT -source 10.5.0.1,10.5.0.3 -p tcp -dport 1,3,5,7,9,11,13,15,17\n",
		   "tap100i0");
	_cleanup_fw_ruleset_ pve_fw_ruleset *rsc = NULL;
	check(pve_fw_compile(&c.in, &rsc, NULL) == 0);
	check_guest_replaced(rsa, rsc);
	_cleanup_free_ char *rep4 = NULL;
	check_int(pve_fw_status(rsa, &rep4, NULL), 1);
	if (!rep4 || !strstr(rep4, "chain guest-100-in: 7 rules, the kernel has 11\n"))
		test_fail(__FILE__, __LINE__, "report: %s", rep4 ? rep4 : "(null)");

	check(pve_fw_remove("pved-fw-test", NULL) == 0);
	_cleanup_free_ char *rep5 = NULL;
	check_int(pve_fw_status(rsa, &rep5, NULL), 1);
	check_streq(rep5, "table inet pved-fw-test: missing in the kernel\n"
			  "table inet pved-fw-test-g0: missing in the kernel\n");
	setup_clear(&a);
	setup_clear(&b);
	setup_clear(&c);
}

/* A DROP policy never locks the administrators out: the management ipset and local_network reach
 * the API, SSH, SPICE and VNC before any rule. */
static void test_management(void)
{
	setup s;
	setup_init(&s,
		   "[OPTIONS]\nenable: 1\n[ALIASES]\nlocal_network 192.168.7.0/24\n"
		   "[IPSET management]\n10.7.0.5\n[RULES]\nIN DROP -p tcp -dport 8006\n",
		   "[OPTIONS]\nenable: 0\n", "tap100i0");
	_cleanup_free_ char *t = compile_text(&s);
	check_has(t, "\tchain host-in {\n\t\tmeta nfproto ipv4 meta l4proto tcp ip saddr "
		     "@v4-dc-management th dport 22 accept\n");
	check_has(t, "meta nfproto ipv4 meta l4proto tcp ip saddr 192.168.7.0/24 th dport 8006 "
		     "accept\n");
	check_has(t,
		  "meta nfproto ipv4 meta l4proto tcp ip saddr 192.168.7.0/24 th dport 5900-5999 "
		  "accept\n");
	check_has(t, "meta l4proto tcp th dport 8006 drop\n\t\tdrop\n\t}\n");
	setup_clear(&s);
}

/* in compiled and applied; the kernel then has it. NULL when that failed. */
static pve_fw_ruleset *apply_checked(const pve_fw_input *in)
{
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_fw_compile(in, &rs, &err) == 0);
	if (!rs)
		return NULL;
	if (pve_fw_apply(rs, &err) < 0) {
		test_fail(__FILE__, __LINE__, "apply: %s", err->message);
		return NULL;
	}
	_cleanup_free_ char *rep = NULL;
	check_int(pve_fw_status(rs, &rep, NULL), 0);
	check_streq(rep, "");
	return TAKE_PTR(rs);
}

static void apply_host_options(const pve_fw_input *in)
{
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = apply_checked(in);
	if (!rs)
		return;
	_cleanup_error_ pve_error *err = NULL;
	/* nf_conntrack_max is the initial namespace's (read-only here): refused, named, and the
	 * timeout after it written all the same. */
	int r = pve_fw_sysctl_apply(rs, &err);
	check(r == 0 || (err && strstr(err->message, "nf_conntrack_max")));
	char v[64] = "";
	_cleanup_close_ int fd =
		open("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established",
		     O_RDONLY | O_CLOEXEC);
	check(fd >= 0 && pve_read_full(fd, v, sizeof(v) - 1) > 0);
	check_streq(v, "7875\n");
	check(pve_fw_remove("pved-fw-test", NULL) == 0);
}

/* host.fw's options: proxmox-firewall's chains for smurfs, TCP flags and SYN floods, the invalid
 * drop left out when asked, and (in the namespace) applied with the conntrack settings written. */
static void test_host_options(void)
{
	setup s;
	setup_init(&s, cluster_text, "[OPTIONS]\nenable: 0\n", "tap100i0");
	s.host = parse(PVE_FW_HOST, "[OPTIONS]\ntcpflags: 1\ntcp_flags_log_level: info\n"
				    "protection_synflood: 1\nprotection_synflood_rate: 5\n"
				    "nf_conntrack_tcp_timeout_established: 7875\n"
				    "nf_conntrack_allow_invalid: 1\n");
	s.in.host = s.host;
	_cleanup_free_ char *t = compile_text(&s);
	check_has(t, "\tset v4-synflood-limit {\n\t\ttype ipv4_addr\n\t\tsize 65536\n"
		     "\t\tflags dynamic,timeout\n\t\ttimeout 60s\n\t}\n");
	check_has(t, "\tchain block-synflood {\n\t\tmeta l4proto tcp tcp flags & "
		     "(fin|syn|rst|ack) != syn return\n\t\tmeta nfproto ipv4 update "
		     "@v4-synflood-limit { ip saddr limit rate over 5/second burst 1000 packets } "
		     "drop\n");
	check_has(t, "meta l4proto tcp tcp flags & (fin|syn) == fin|syn limit rate 1/second burst "
		     "5 packets log prefix \":0:6:block-invalid-tcp: DROP: \" group 0\n"
		     "\t\tmeta l4proto tcp tcp flags & (fin|syn) == fin|syn drop\n");
	check_has(t, "meta l4proto tcp tcp flags & (fin|syn|rst|ack) == syn th sport 0 drop\n");
	/* nosmurfs is on by default, without a log twin. */
	check_has(t, "\tchain block-smurfs {\n\t\tmeta nfproto ipv4 ip saddr 0.0.0.0 return\n"
		     "\t\tmeta pkttype broadcast drop\n\t\tmeta nfproto ipv4 ip saddr 224.0.0.0/4 "
		     "drop\n\t}\n");
	check_has(t, "\t\tjump block-synflood\n\t\tjump block-invalid-tcp\n"
		     "\t\tjump block-smurfs\n\t\tjump host-in\n");
	check(!strstr(t, "ct state invalid drop"));
	pve_fw_file_free(s.host);
	s.host = parse(PVE_FW_HOST, "[OPTIONS]\nnosmurfs: 0\n");
	s.in.host = s.host;
	_cleanup_free_ char *t2 = compile_text(&s);
	check(!strstr(t2, "block-smurfs") && !strstr(t2, "synflood"));
	check_has(t2, "ct state invalid drop");
	pve_fw_file_free(s.host);

	if (own_netns()) {
		s.host = parse(PVE_FW_HOST, "[OPTIONS]\nprotection_synflood: 1\ntcpflags: 1\n"
					    "nf_conntrack_max: 40000\n"
					    "nf_conntrack_tcp_timeout_established: 7875\n");
		s.in.host = s.host;
		apply_host_options(&s.in);
		pve_fw_file_free(s.host);
	}
	setup_clear(&s);
}

/* nf_conntrack_helpers: a ct helper object each and the prerouting chain that assigns it to its
 * port (IPv4 only where pve-firewall's is); a helper the kernel lacks is left out and said; in the
 * namespace, applied (the helpers this kernel has built in or loaded: a test loads no module). */
static void test_ct_helpers(void)
{
	setup s;
	setup_init(&s, cluster_text, "[OPTIONS]\nenable: 0\n", "tap100i0");
	s.host = parse(PVE_FW_HOST, "[OPTIONS]\nnf_conntrack_helpers: ftp,irc,tftp,sip\n");
	s.in.host = s.host;
	_cleanup_free_ char *t = compile_text(&s);
	check_has(t, "\tct helper helper-ftp-tcp {\n\t\ttype \"ftp\" protocol tcp\n\t}\n"
		     "\tct helper helper-irc-tcp {\n\t\ttype \"irc\" protocol tcp\n"
		     "\t\tl3proto ip\n\t}\n"
		     "\tct helper helper-sip-udp {\n\t\ttype \"sip\" protocol udp\n\t}\n"
		     "\tct helper helper-tftp-udp {\n\t\ttype \"tftp\" protocol udp\n\t}\n");
	check_has(t, "\tchain ct-helpers {\n"
		     "\t\ttype filter hook prerouting priority 0; policy accept;\n"
		     "\t\tmeta l4proto tcp th dport 21 ct helper set \"helper-ftp-tcp\"\n"
		     "\t\tmeta nfproto ipv4 meta l4proto tcp th dport 6667 ct helper set "
		     "\"helper-irc-tcp\"\n"
		     "\t\tmeta l4proto udp th dport 5060 ct helper set \"helper-sip-udp\"\n"
		     "\t\tmeta l4proto udp th dport 69 ct helper set \"helper-tftp-udp\"\n\t}\n");
	{
		_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
		check(pve_fw_compile(&s.in, &rs, NULL) == 0);
		check_int(rs ? pve_fw_ruleset_ct_helpers_absent(rs) : 99, 0);
		check(rs && !pve_fw_ruleset_log_conntrack(rs));
	}

	/* The kernel lacks tftp (bit 8) and pptp, which is not asked for. */
	s.in.ct_helpers_absent = 1u << 8 | 1u << 4;
	_cleanup_free_ char *t2 = compile_text(&s);
	check(!strstr(t2, "tftp") && strstr(t2, "helper-ftp-tcp"));
	{
		_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
		check(pve_fw_compile(&s.in, &rs, NULL) == 0);
		check_int(rs ? pve_fw_ruleset_ct_helpers_absent(rs) : 0, 1u << 8);
	}
	s.in.ct_helpers_absent = 0;
	pve_fw_file_free(s.host);

	/* None asked for: no chain; log_nf_conntrack is read also while the firewall is off. */
	s.host = parse(PVE_FW_HOST, "[OPTIONS]\nlog_nf_conntrack: 1\n");
	s.in.host = s.host;
	_cleanup_free_ char *t3 = compile_text(&s);
	check(!strstr(t3, "ct helper") && !strstr(t3, "ct-helpers"));
	{
		pve_fw_input off = s.in;
		_cleanup_fw_file_ pve_fw_file *cl = parse(PVE_FW_CLUSTER, "[OPTIONS]\nenable: 0\n");
		off.cluster = cl;
		_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
		check(pve_fw_compile(&off, &rs, NULL) == 0);
		check(rs && pve_fw_ruleset_log_conntrack(rs) && !pve_fw_ruleset_enabled(rs));
	}
	pve_fw_file_free(s.host);

	/* The option's errors name it. */
	_cleanup_free_ char *v = NULL;
	_cleanup_error_ pve_error *err = NULL;
	check(pve_fw_option_check(PVE_FW_HOST, "nf_conntrack_helpers", "ftp,bogus", &v, &err) < 0);
	check(err && err->param && streq(err->param, "nf_conntrack_helpers") &&
	      strstr(err->message, "unknown helper bogus"));
	_cleanup_error_ pve_error *err2 = NULL;
	check(pve_fw_option_check(PVE_FW_HOST, "nf_conntrack_helpers", "ftp,,tftp", &v, &err2) < 0);
	check(err2 && err2->param && streq(err2->param, "nf_conntrack_helpers"));

	if (own_netns() && access("/sys/module/nf_conntrack_ftp", F_OK) == 0 &&
	    access("/sys/module/nf_conntrack_tftp", F_OK) == 0) {
		check(pve_fw_ct_helper_supported("ftp") && pve_fw_ct_helper_supported("tftp"));
		s.host = parse(PVE_FW_HOST, "[OPTIONS]\nnf_conntrack_helpers: ftp,tftp\n");
		s.in.host = s.host;
		pve_fw_ruleset_free(apply_checked(&s.in));
		check(pve_fw_remove("pved-fw-test", NULL) == 0);
		pve_fw_file_free(s.host);
	}
	setup_clear(&s);
}

/* Guests in a bridge table of their own: their chains there, run per port at prerouting (out) and postrouting
 * (in), with the cluster's ipsets and groups copied; the inet table keeps the host's. Applied where
 * the kernel has bridge conntrack and reject (the lab's; this build host lacks both). */
static void test_bridge(void)
{
	setup s;
	setup_init(&s, cluster_text,
		   "[OPTIONS]\nenable: 1\npolicy_in: REJECT\npolicy_out: REJECT\n"
		   "[RULES]\nGROUP web\nIN ACCEPT -source +dc/mgmt -p tcp -dport 22\n"
		   "OUT REJECT -p tcp -dport 25\n",
		   "tap100i0");
	s.in.bridge = true;
	_cleanup_free_ char *t = compile_text(&s);
	const char *br = strstr(t, "table bridge pved-fw-test-g0 {\n");
	check(br != NULL);
	if (!br) {
		setup_clear(&s);
		return;
	}
	/* The inet table has no guest chain and no map. */
	_cleanup_free_ char *inet = xstrndup(t, (size_t)(br - t));
	check(!strstr(inet, "guest-100") && !strstr(inet, "vm-in"));
	check_has(br, "\tchain guest-out-prerouting {\n"
		      "\t\ttype filter hook prerouting priority 0; policy accept;\n"
		      "\t\tmeta protocol != arp ct state established,related accept\n"
		      "\t\tmeta protocol != arp ct state invalid drop\n"
		      "\t\tiifname vmap @vm-out\n");
	check_has(br, "\t\ttype filter hook postrouting priority 0; policy accept;\n");
	check_has(br, "\t\tmeta protocol arp accept\n\t\toifname vmap @vm-in\n");
	check_has(br, "\tset v4-dc-mgmt {\n");
	check_has(br, "\tchain group-web-in {\n");
	check_has(br, "meta protocol ip meta l4proto tcp ip saddr @v4-dc-mgmt ip saddr != "
		      "@v4-dc-mgmt-nomatch th dport 22 accept\n");
	/* REJECT where a bridge can (out, at prerouting), DROP where it cannot (in). */
	check_has(br, "\tchain guest-100-out {\n\t\tiifname \"tap100i0\" ether saddr != "
		      "02:00:00:00:01:00 drop\n\t\tmeta protocol arp accept\n");
	check_has(br, "meta l4proto tcp th dport 25 jump do-reject\n");
	check_has(br, "\t\tjump do-reject\n\t}\n");
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
	check(pve_fw_compile(&s.in, &rs, NULL) == 0);
	_cleanup_free_ char *g = rs ? pve_fw_ruleset_guest_nft(rs, 100) : NULL;
	check(g && strstr(g, "flush chain bridge pved-fw-test-g0 guest-100-in\n"));
	const char *in = strstr(br, "\tchain guest-100-in {\n");
	check(in != NULL);
	if (in) {
		_cleanup_free_ char *body = xstrndup(in, strcspn(in + 1, "}") + 1);
		check(!strstr(body, "do-reject") && strstr(body, "\t\tdrop\n"));
	}
	check_int((int)pve_fw_ruleset_guest_count(rs), 1);
	check(pve_fw_ruleset_bridged(rs));

	if (rs && own_netns()) {
		if (!pve_fw_bridge_supported()) {
			test_skip(
				"this kernel refuses bridge-family conntrack or reject (the lab has "
				"both)");
		} else {
			_cleanup_error_ pve_error *err = NULL;
			if (pve_fw_apply(rs, &err) < 0)
				test_fail(__FILE__, __LINE__, "apply: %s", err->message);
			_cleanup_free_ char *rep = NULL;
			check_int(pve_fw_status(rs, &rep, NULL), 0);
			check_streq(rep, "");
			/* One guest replaced in the bridge table. */
			setup c;
			setup_init(&c, cluster_text, "[OPTIONS]\nenable: 1\n[RULES]\nIN DROP\n",
				   "tap100i0");
			c.in.bridge = true;
			_cleanup_fw_ruleset_ pve_fw_ruleset *rc = NULL;
			check(pve_fw_compile(&c.in, &rc, NULL) == 0);
			check_guest_replaced(rs, rc);
			/* Back to the inet table: the bridge one goes in the same batch. */
			setup_clear(&c);
			s.in.bridge = false;
			pve_fw_ruleset_free(apply_checked(&s.in));
			check(pve_fw_remove("pved-fw-test", NULL) == 0);
		}
	}
	setup_clear(&s);
}

/* 130 guests: three guest tables, each guest in table vmid % 3 with its own copy of the shared
 * chains and maps; applied, and one guest replaced in its table alone (as root). */
static void test_shards(void)
{
	setup s;
	setup_init(&s, cluster_text, "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 22\n",
		   "tap100i0");
	pve_fw_guest guests[130];
	pve_fw_nic nics[130];
	for (unsigned i = 0; i < 130; i++) {
		guests[i] = s.guest;
		guests[i].vmid = 100 + i;
		nics[i] = s.nic;
		nics[i].mac[4] = (uint8_t)i;
		snprintf(nics[i].ifname, sizeof(nics[i].ifname), "tap%ui0", 100 + i);
		guests[i].nics = &nics[i];
	}
	s.in.guests = guests;
	s.in.n_guests = 130;
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = NULL;
	check(pve_fw_compile(&s.in, &rs, NULL) == 0);
	if (!rs) {
		setup_clear(&s);
		return;
	}
	check_int((int)pve_fw_ruleset_guest_count(rs), 130);
	_cleanup_free_ char *t = pve_fw_ruleset_nft(rs);
	for (int k = 0; k < 3; k++) {
		_cleanup_free_ char *head = xasprintf("table inet pved-fw-test-g%d {\n", k);
		const char *tab = strstr(t, head);
		check(tab != NULL);
		if (tab)
			check(strstr(tab, "\tchain do-reject {\n") != NULL);
	}
	check(!strstr(t, "table inet pved-fw-test-g3 {"));
	/* 100 % 3 == 1, 101 % 3 == 2 */
	_cleanup_free_ char *g100 = pve_fw_ruleset_guest_nft(rs, 100);
	check(strstr(g100, "flush chain inet pved-fw-test-g1 guest-100-in\n") != NULL);
	_cleanup_free_ char *g101 = pve_fw_ruleset_guest_nft(rs, 101);
	check(strstr(g101, "table inet pved-fw-test-g2 {\n") != NULL);
	const char *g1 = strstr(t, "table inet pved-fw-test-g1 {\n");
	const char *g2 = strstr(t, "table inet pved-fw-test-g2 {\n");
	check(g1 && g2 && strstr(g1, "\"tap100i0\" : jump guest-100-in") &&
	      strstr(g1, "\"tap100i0\" : jump guest-100-in") < g2);
	if (own_netns()) {
		_cleanup_fw_ruleset_ pve_fw_ruleset *on = apply_checked(&s.in);
		/* guest 100 changes: replaced in its table (the batch names no other), and the kernel
		 * then holds the new ruleset */
		pve_fw_file *vm = parse(PVE_FW_VM, "[OPTIONS]\nenable: 1\n[RULES]\nIN DROP\n");
		guests[0].fw = vm;
		_cleanup_fw_ruleset_ pve_fw_ruleset *rc = NULL;
		check(pve_fw_compile(&s.in, &rc, NULL) == 0);
		if (on)
			check_guest_replaced(on, rc);
		pve_fw_file_free(vm);
		/* fewer guests, one table: the other two go in the same batch */
		s.in.n_guests = 1;
		guests[0].fw = s.vm;
		pve_fw_ruleset_free(apply_checked(&s.in));
		check(pve_fw_remove("pved-fw-test", NULL) == 0);
	}
	setup_clear(&s);
}

TEST_MAIN(TEST(test_guest_chains), TEST(test_disabled), TEST(test_errors), TEST(test_management),
	  TEST(test_host_options), TEST(test_ct_helpers), TEST(test_apply_atomic),
	  TEST(test_bridge), TEST(test_shards))
