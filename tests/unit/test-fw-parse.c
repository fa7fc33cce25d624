/* The .fw parser and writer: Proxmox's documented examples round trip, options are normalised, macros
 * resolve, and bad input names the line or the parameter. */
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

static char *parse_err(pve_fw_kind kind, const char *text)
{
	pve_fw_file *f = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_fw_parse(kind, text, strlen(text), &f, &err) == 0) {
		pve_fw_file_free(f);
		return xstrdup("(parsed)");
	}
	return xstrdup(err->message);
}

static const char cluster_doc[] =
	"[OPTIONS]\n"
	"enable: 1\n"
	"Policy_In: drop\n"
	"\n"
	"[ALIASES]\n"
	"local_network 1.2.3.4 # the LAN\n"
	"v6net fd00::/64\n"
	"\n"
	"[IPSET management]\n"
	"192.168.2.10\n"
	"!10.0.0.5          # nomatch entry\n"
	"10.1.0.0/16\n"
	"\n"
	"[RULES]\n"
	"IN SSH(ACCEPT) -i net0 -source +management -log nolog\n"
	"IN ACCEPT -source 192.168.0.1/24,10.0.0.1 -dport 123,222:333 -p tcp\n"
	"IN DROP --icmp-type echo-request --proto icmp --log info\n"
	"GROUP webserver\n"
	"|IN SSH(ACCEPT) -i net0   # disabled\n"
	"\n"
	"[group webserver] # web\n"
	"IN HTTP(ACCEPT)\n"
	"IN ACCEPT -p tcp -dport 443\n";

static const char cluster_printed[] =
	"[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n"
	"[ALIASES]\n\nlocal_network 1.2.3.4 # the LAN\nv6net fd00::/64\n\n"
	"[IPSET management]\n\n!10.0.0.5 # nomatch entry\n10.1.0.0/16\n192.168.2.10\n\n"
	"[RULES]\n\n"
	"IN SSH(ACCEPT) -i net0 -source +management -log nolog\n"
	"IN ACCEPT -source 192.168.0.1/24,10.0.0.1 -p tcp -dport 123,222:333\n"
	"IN DROP -p icmp -log info -icmp-type echo-request\n"
	"GROUP webserver\n"
	"|IN SSH(ACCEPT) -i net0 # disabled\n\n"
	"[group webserver] # web\n\nIN HTTP(ACCEPT)\nIN ACCEPT -p tcp -dport 443\n\n";

static void test_round_trip(void)
{
	_cleanup_fw_file_ pve_fw_file *f = parse(PVE_FW_CLUSTER, cluster_doc);
	if (!f)
		return;
	check_int(f->n_rules, 5);
	check_int(f->n_groups, 1);
	check_int(f->n_ipsets, 1);
	check_int(f->ipsets[0].n_entries, 3);
	check(f->ipsets[0].entries[1].nomatch);
	check_streq(f->ipsets[0].entries[1].comment, "nomatch entry");
	check_streq(f->rules[0].macro, "SSH");
	check_streq(f->rules[0].action, "ACCEPT");
	check_streq(f->rules[0].iface, "net0");
	check_streq(f->rules[3].type, "group");
	check(!f->rules[4].enable);
	check_streq(f->rules[4].comment, "disabled");
	check_streq(pve_fw_option_get(f, "policy_in"), "DROP");
	_cleanup_free_ char *out = pve_fw_print(f);
	check_streq(out, cluster_printed);
	_cleanup_fw_file_ pve_fw_file *g = parse(PVE_FW_CLUSTER, out);
	_cleanup_free_ char *out2 = g ? pve_fw_print(g) : NULL;
	check_streq(out2, out);
}

static void test_vm_and_host(void)
{
	_cleanup_fw_file_ pve_fw_file *v =
		parse(PVE_FW_VM, "[OPTIONS]\nenable: 1\nipfilter: 1\nlog_level_in: INFO\n"
				 "[IPSET ipfilter-net0]\n10.0.0.2\n[RULES]\nOUT ACCEPT -p udp\n");
	check_streq(pve_fw_option_get(v, "log_level_in"), "info");
	check_int(pve_fw_option_int(v, "ipfilter", 0), 1);
	check_int(pve_fw_option_int(v, "macfilter", 1), 1);
	_cleanup_fw_file_ pve_fw_file *h =
		parse(PVE_FW_HOST, "[OPTIONS]\nnf_conntrack_max: 196608\nnosmurfs: 1\n"
				   "[RULES]\nIN ACCEPT -i eth0 -p tcp -dport 8006\n");
	check_int(pve_fw_option_int(h, "nf_conntrack_max", 0), 196608);
	_cleanup_fw_file_ pve_fw_file *e = parse(PVE_FW_VM, "");
	_cleanup_free_ char *s = e ? pve_fw_print(e) : NULL;
	check_streq(s, "");
}

static void test_bad_files(void)
{
	struct {
		pve_fw_kind kind;
		const char *text, *msg;
	} cases[] = {
		{ PVE_FW_VM, "IN ACCEPT\n", "line 1: line outside a section" },
		{ PVE_FW_VM, "[RULES]\nIN ACCEPT -x 1\n",
		  "line 2: unable to parse rule parameters: -x 1" },
		{ PVE_FW_VM, "[RULES]\nUP ACCEPT\n", "line 2: unknown rule type 'UP'" },
		{ PVE_FW_VM, "[OPTIONS]\npolicy_in: MAYBE\n",
		  "line 2: value 'MAYBE' is not ACCEPT, DROP or REJECT" },
		{ PVE_FW_VM, "[OPTIONS]\nnosmurfs: 1\n", "line 2: unknown option 'nosmurfs'" },
		{ PVE_FW_HOST, "[IPSET x1]\n", "line 1: section [IPSET] not allowed in host.fw" },
		{ PVE_FW_VM, "[group web]\n",
		  "line 1: security groups are defined in cluster.fw only" },
		{ PVE_FW_CLUSTER, "[group averyveryverylongname]\n",
		  "line 1: security group name too long" },
		{ PVE_FW_CLUSTER, "[IPSET 1abc]\n", "line 1: invalid ipset name '1abc'" },
		{ PVE_FW_CLUSTER, "[IPSET ab]\n0.0.0.0/0\n",
		  "line 2: a zero prefix is not allowed in ipset entries" },
		{ PVE_FW_CLUSTER, "[ALIASES]\nfoo 300.1.1.1\n",
		  "line 2: value does not look like a valid IP address or CIDR network" },
		{ PVE_FW_CLUSTER, "[RULES]\nIN ACCEPT -log loud\n",
		  "line 2: unable to parse rule parameters: -log loud" },
		{ PVE_FW_CLUSTER, "[group g1]\nGROUP g2\n", "line 2: unknown rule type 'GROUP'" },
		{ PVE_FW_CLUSTER, "[FOO]\n", "line 1: unknown section [FOO]" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *m = parse_err(cases[i].kind, cases[i].text);
		check_streq(m, cases[i].msg);
	}
	/* Sizes are limited before anything is kept. */
	_cleanup_free_ char *big = xmalloc(PVE_FW_MAX_TEXT + 2);
	memset(big, '#', PVE_FW_MAX_TEXT + 1);
	big[PVE_FW_MAX_TEXT + 1] = '\0';
	_cleanup_free_ char *m = parse_err(PVE_FW_VM, big);
	check_streq(m, "firewall file larger than 1048576 bytes");
}

/* verify_rule's checks, each naming its parameter. */
static void test_verify(void)
{
	_cleanup_fw_file_ pve_fw_file *cluster = parse(PVE_FW_CLUSTER, cluster_doc);
	_cleanup_fw_file_ pve_fw_file *vm =
		parse(PVE_FW_VM, "[ALIASES]\nmine 10.9.9.9\n[IPSET ipfilter-net0]\n10.0.0.2\n");
	struct {
		const char *line, *param, *msg;
	} cases[] = {
		{ "IN ACCEPT -p tcp -dport 22", NULL, NULL },
		{ "IN ssh(ACCEPT) -source +management", NULL, NULL },
		{ "IN ACCEPT -source mine", NULL, NULL },
		{ "IN ACCEPT -source dc/local_network -dest guest/mine", NULL, NULL },
		{ "IN ACCEPT -source +guest/ipfilter-net0", NULL, NULL },
		{ "GROUP webserver -i net1", NULL, NULL },
		{ "IN Ping(DROP)", NULL, NULL },
		{ "IN ACCEPT -p icmp -icmp-type echo-request", NULL, NULL },
		{ "IN ACCEPT -p tcp -dport ssh,80:90", NULL, NULL },
		{ "IN ACCEPT -source 10.0.0.1-10.0.0.10", NULL, NULL },
		{ "IN Nope(ACCEPT)", "macro", "unknown macro 'Nope'" },
		{ "IN ACCEPT -p tcp -dport 90:80", "dport",
		  "backwards range '90:80' not allowed, did you mean '80:90'?" },
		{ "IN ACCEPT -p tcp -dport 70000", "dport", "invalid port '70000'" },
		{ "IN ACCEPT -p tcp -dport 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "dport",
		  "too many entries in port list (> 15 numbers)" },
		{ "IN ACCEPT -dport 22", "proto",
		  "missing property - 'dport' requires this property" },
		{ "IN ACCEPT -p gre -dport 22", "dport", "protocol 'gre' does not support ports" },
		{ "IN ACCEPT -p nonsense", "proto", "unknown protocol 'nonsense'" },
		{ "IN ACCEPT -source +nosuch", "source", "no such ipset 'nosuch'" },
		{ "IN ACCEPT -source +dc/ipfilter-net0", "source",
		  "no such ipset 'ipfilter-net0'" },
		{ "IN ACCEPT -dest nosuch", "dest", "no such alias 'nosuch'" },
		{ "IN ACCEPT -source 10.0.0.1,fd00::1", "source",
		  "detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,fd00::1'" },
		{ "IN ACCEPT -source 10.0.0.1 -dest v6net", "dest",
		  "detected mixed ipv4/ipv6 addresses in rule" },
		{ "IN ACCEPT -source 10.0.0.1-10.0.0.3,10.1.1.1", "source",
		  "you can't use a range in a list" },
		{ "IN ACCEPT -i eth0", "iface",
		  "value does not match the regex pattern 'net\\d+'" },
		{ "GROUP nosuch", "action", "no such security group 'nosuch'" },
		{ "IN ACCEPT -p icmp -icmp-type bogus", "icmp-type",
		  "invalid icmp-type 'bogus' for proto 'icmp'" },
		{ "IN ACCEPT -icmp-type echo-request", "proto",
		  "missing property - 'icmp-type' requires this property" },
		{ "FORWARD ACCEPT", "type", "invalid rule type 'forward' for rule_env 'vm'" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		pve_fw_rule r;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_fw_rule_parse(cases[i].line, false, &r, &err) < 0) {
			test_fail(__FILE__, __LINE__, "%s: %s", cases[i].line, err->message);
			continue;
		}
		int ret = pve_fw_rule_verify(&r, PVE_FW_VM, false, cluster, vm, &err);
		if (!cases[i].param) {
			if (ret < 0)
				test_fail(__FILE__, __LINE__, "%s: %s", cases[i].line,
					  err->message);
		} else if (ret == 0) {
			test_fail(__FILE__, __LINE__, "%s: verified", cases[i].line);
		} else {
			check_streq(err->param, cases[i].param);
			check_streq(err->message, cases[i].msg);
		}
		if (i == 1)
			check_streq(r.macro, "SSH");
		pve_fw_rule_clear(&r);
	}
	/* Cluster: REJECT is refused on forward rules, which only host and cluster have. */
	pve_fw_rule r;
	check(pve_fw_rule_parse("FORWARD REJECT", false, &r, NULL) == 0);
	_cleanup_error_ pve_error *err = NULL;
	check(pve_fw_rule_verify(&r, PVE_FW_CLUSTER, false, cluster, NULL, &err) < 0);
	check_streq(err ? err->message : NULL, "cannot define REJECT rules on forward chain");
	pve_fw_rule_clear(&r);
}

static void test_macros(void)
{
	size_t n;
	const pve_fw_macro *all = pve_fw_macros(&n);
	check_int(n, 86);
	check(all != NULL);
	const pve_fw_macro *m = pve_fw_macro_find("smb");
	check(m && streq(m->name, "SMB"));
	check_streq(m->rules[2].dport, "1024:65535");
	check_streq(m->rules[2].sport, "137");
	m = pve_fw_macro_find("Ping");
	check(m && m->rules_v6 && streq(m->rules_v6[0].proto, "icmpv6"));
	m = pve_fw_macro_find("GRE");
	check(m && streq(m->rules[0].proto, "47") && !m->rules[0].dport);
	/* Every macro's ports check as a rule's would. */
	for (size_t i = 0; i < n; i++)
		for (const pve_fw_macro_rule *r = all[i].rules; r->proto; r++) {
			bool icmp = strstr(r->proto, "icmp") != NULL;
			if (r->dport && pve_fw_check_ports(r->dport, icmp, NULL) < 0)
				test_fail(__FILE__, __LINE__, "%s: dport %s", all[i].name,
					  r->dport);
		}
}

static void test_options(void)
{
	_cleanup_fw_file_ pve_fw_file *f = pve_fw_file_new(PVE_FW_CLUSTER);
	_cleanup_error_ pve_error *err = NULL;
	check(pve_fw_option_set(f, "policy_forward", "drop", NULL) == 0);
	check(pve_fw_option_set(f, "enable", "1", NULL) == 0);
	check(pve_fw_option_set(f, "ndp", "1", &err) < 0);
	check_streq(err ? err->param : NULL, "ndp");
	check(pve_fw_option_set(f, "enable", NULL, NULL) == 0);
	_cleanup_free_ char *s = pve_fw_print(f);
	check_streq(s, "[OPTIONS]\n\npolicy_forward: DROP\n\n");
}

/* Every option name the API lists is one the parser takes, at every level. */
static void test_option_names(void)
{
	for (int k = PVE_FW_CLUSTER; k <= PVE_FW_VM; k++) {
		size_t n = 0;
		for (const char *const *p = pve_fw_option_names(k); *p; p++, n++) {
			char *v = NULL;
			const char *value = strstr(*p, "policy")	      ? "DROP" :
					    strstr(*p, "log_level")	      ? "info" :
					    streq(*p, "nf_conntrack_helpers") ? "ftp" :
										"1";
			if (pve_fw_option_check(k, *p, value, &v, NULL) < 0)
				test_fail(__FILE__, __LINE__, "kind %d: option %s refused", k, *p);
			free(v);
		}
		check_int(n, k == PVE_FW_CLUSTER ? 6 : k == PVE_FW_HOST ? 20 : 13);
	}
}

TEST_MAIN(TEST(test_round_trip), TEST(test_vm_and_host), TEST(test_bad_files), TEST(test_verify),
	  TEST(test_macros), TEST(test_options), TEST(test_option_names))
