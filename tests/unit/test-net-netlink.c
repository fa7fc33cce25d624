/* net/'s netlink side in a network namespace the test makes (root only, else skipped): a configuration
 * applied, applied again without a change, changed and taken back; links attached to a bridge; the
 * kernel's refusals named. The namespace is removed at the end of each case. */
#include <sys/wait.h>

#include "net/net.h"
#include "tests/unit/test.h"

static char ns[64];

static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *cmd = xvasprintf(fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static bool ns_up(void)
{
	if (geteuid() != 0) {
		test_skip("needs root");
		return false;
	}
	snprintf(ns, sizeof(ns), "pvednetu%d", (int)getpid());
	if (sh("ip netns add %s 2>/dev/null", ns) != 0) {
		test_skip("no network namespaces");
		return false;
	}
	check(sh("ip -n %s link add ut0a type veth peer name ut0b", ns) == 0);
	return true;
}

static void ns_down(void)
{
	sh("ip netns delete %s 2>/dev/null", ns);
}

/* The output of an ip command in the namespace. */
static char *ipq(const char *args)
{
	_cleanup_free_ char *cmd = xasprintf("ip -n %s %s 2>&1", ns, args);
	FILE *f = popen(cmd, "r");
	pve_buf b = { 0 };
	char buf[4096];
	size_t n;
	while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		pve_buf_append(&b, buf, n);
	if (f)
		pclose(f);
	pve_buf_puts(&b, "");
	return pve_buf_steal(&b);
}

static pve_net_config *parse(const char *text)
{
	pve_net_config *c = NULL;
	check(pve_net_config_parse(text, strlen(text), &c, NULL) == 0);
	return c;
}

static int apply(const pve_net_config *old, const pve_net_config *new_cfg, char **ret_log,
		 pve_error **err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *log = open_memstream(&buf, &len);
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", ns);
	int r = pve_net_apply(old, new_cfg, path, log, err);
	fclose(log);
	*ret_log = buf;
	return r;
}

static const char conf1[] = "auto ut0a\n"
			    "iface ut0a inet manual\n"
			    "\n"
			    "auto utbr0\n"
			    "iface utbr0 inet static\n"
			    "\taddress 10.88.0.1/24\n"
			    "\tgateway 10.88.0.254\n"
			    "\tbridge-ports ut0a\n"
			    "\tbridge-stp off\n"
			    "\tbridge-fd 0\n"
			    "\tmtu 1400\n";

static void apply_idempotent_and_back(void)
{
	if (!ns_up())
		return;
	_cleanup_net_config_ pve_net_config *c1 = parse(conf1);
	pve_error *err = NULL;
	_cleanup_free_ char *log1 = NULL, *log2 = NULL, *log3 = NULL;
	check(apply(NULL, c1, &log1, &err) == 0);
	if (err)
		test_fail(__FILE__, __LINE__, "apply: %s", err->message);
	check(log1 && strstr(log1, "created bridge utbr0"));
	_cleanup_free_ char *br = ipq("-d link show utbr0");
	check(strstr(br, "mtu 1400") != NULL);
	_cleanup_free_ char *port = ipq("link show ut0a");
	check(strstr(port, "master utbr0") != NULL);
	_cleanup_free_ char *addr = ipq("addr show utbr0");
	check(strstr(addr, "10.88.0.1/24") != NULL);
	_cleanup_free_ char *route = ipq("route show default");
	check(strstr(route, "via 10.88.0.254 dev utbr0") != NULL);

	/* again: nothing to do */
	check(apply(c1, c1, &log2, &err) == 0);
	check(log2 && !*log2);
	if (log2 && *log2)
		test_fail(__FILE__, __LINE__, "second apply changed: %s", log2);

	/* back to nothing: the bridge, its address and its route go; the veth stays */
	_cleanup_net_config_ pve_net_config *c0 = parse("auto ut0a\niface ut0a inet manual\n");
	check(apply(c1, c0, &log3, &err) == 0);
	_cleanup_free_ char *gone = ipq("link show utbr0");
	check(strstr(gone, "does not exist") != NULL);
	_cleanup_free_ char *still = ipq("link show ut0a");
	check(strstr(still, "ut0a@") != NULL && !strstr(still, "master"));
	pve_error_free(err);
	ns_down();
}

static void attach(void)
{
	if (!ns_up())
		return;
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", ns);
	pve_error *err = NULL;
	check(pve_net_attach(path, "ut0a", "nobr0", 0, 0, &err) == -ENOENT);
	check(err && strstr(err->message, "bridge 'nobr0' does not exist"));
	pve_error_free(TAKE_PTR(err));
	check(sh("ip -n %s link add utbr1 mtu 1450 type bridge", ns) == 0);
	check(pve_net_attach(path, "ut0a", "utbr1", 0, 0, &err) == 0);
	_cleanup_free_ char *port = ipq("link show ut0a");
	check(strstr(port, "mtu 1450") && strstr(port, "master utbr1"));
	check(pve_net_attach(path, "ut0b", "utbr1", 1300, 0, &err) == 0);
	_cleanup_free_ char *port2 = ipq("link show ut0b");
	check(strstr(port2, "mtu 1300") && strstr(port2, "master utbr1"));
	/* a tag needs a VLAN-aware bridge */
	check(pve_net_attach(path, "ut0a", "utbr1", 0, 10, &err) == -EINVAL);
	check(err && strstr(err->message, "not VLAN aware"));
	pve_error_free(TAKE_PTR(err));

	char **names = NULL;
	bool *up = NULL, *phys = NULL;
	check(pve_net_links(path, &names, &up, &phys, &err) == 0);
	check(names && strv_contains(names, "utbr1") && strv_contains(names, "ut0a"));
	for (size_t i = 0; names && names[i]; i++)
		if (streq(names[i], "ut0a"))
			check(up[i] && !phys[i]);
	strv_free(names);
	free(up);
	free(phys);
	ns_down();
}

static void attach_tag(void)
{
	if (!ns_up())
		return;
	if (sh("ip -n %s link add utbr5 type bridge vlan_filtering 1 2>/dev/null", ns) != 0) {
		ns_down();
		test_skip(
			"no bridge VLAN filtering in this kernel (tests/lab/lab-network.sh runs this "
			"case in the lab)");
		return;
	}
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", ns);
	pve_error *err = NULL;
	check(pve_net_attach(path, "ut0a", "utbr5", 0, 10, &err) == 0);
	if (err)
		test_fail(__FILE__, __LINE__, "attach: %s", err->message);
	/* the guest's VLAN: 10, untagged to the guest and its PVID; VLAN 1 gone */
	_cleanup_free_ char *cmd = xasprintf("bridge -n %s -color=never vlan show dev ut0a", ns);
	FILE *f = popen(cmd, "r");
	char buf[4096] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		pclose(f);
	check(strstr(buf, "10 PVID Egress Untagged") != NULL);
	check(!strstr(buf, " 1 PVID"));
	pve_error_free(err);
	ns_down();
}

static void kernel_refusal_named(void)
{
	if (!ns_up())
		return;
	/* an MTU the veth cannot take: the kernel's own words reach the error */
	_cleanup_net_config_ pve_net_config *c =
		parse("auto ut0a\niface ut0a inet manual\n\tmtu 70000\n");
	pve_error *err = NULL;
	_cleanup_free_ char *log = NULL, *log2 = NULL;
	check(apply(NULL, c, &log, &err) < 0);
	check(err && strstr(err->message, "ut0a"));
	if (err && !strstr(err->message, "invalid mtu"))
		test_fail(__FILE__, __LINE__, "error: %s", err->message);
	pve_error_free(TAKE_PTR(err));
	/* a bridge as a bridge's port: the kernel says why not through its extended ack */
	_cleanup_net_config_ pve_net_config *c2 = parse("auto utbr3\niface utbr3 inet manual\n"
							"\tbridge-ports none\n\n"
							"auto utbr2\niface utbr2 inet manual\n"
							"\tbridge-ports utbr3\n");
	check(apply(NULL, c2, &log2, &err) < 0);
	check(err && strstr(err->message, "of 'utbr3'"));
	if (err && !strstr(err->message, "Can not enslave a bridge to a bridge"))
		test_fail(__FILE__, __LINE__, "no kernel message: %s", err->message);
	pve_error_free(err);
	ns_down();
}

/* Seconds 3 MiB take over TCP from namespace from to to's address (a server there reads them). */
static double transfer_secs(const char *from, const char *to, const char *addr)
{
	static const char server[] =
		"import socket,sys\n"
		"s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
		"s.bind((sys.argv[1],5001));s.listen(1);s.settimeout(20);c,_=s.accept()\n"
		"c.settimeout(20)\n"
		"while c.recv(65536): pass\n";
	static const char client[] =
		"import socket,sys,time\n"
		"for i in range(100):\n"
		"  try: c=socket.create_connection((sys.argv[1],5001));break\n"
		"  except OSError: time.sleep(0.05)\n"
		"t=time.time();c.sendall(b'x'*3*1024*1024);c.shutdown(socket.SHUT_WR)\n"
		"c.settimeout(20);c.recv(1);print(time.time()-t)\n";
	_cleanup_free_ char *srv =
		xasprintf("ip netns exec %s /usr/bin/python3 -c \"%s\" %s &", to, server, addr);
	check(sh("%s", srv) == 0);
	_cleanup_free_ char *cmd =
		xasprintf("ip netns exec %s /usr/bin/python3 -c \"%s\" %s", from, client, addr);
	FILE *f = popen(cmd, "r");
	double secs = -1;
	if (!f || fscanf(f, "%lf", &secs) != 1)
		secs = -1;
	if (f)
		pclose(f);
	return secs;
}

/* Two namespaces joined by ut0a (the host's side, rate limited) and ut0b (the guest's). */
static bool rate_setup(char *peer, size_t size)
{
	if (!ns_up())
		return false;
	snprintf(peer, size, "%sp", ns);
	check(sh("ip netns add %s", peer) == 0);
	check(sh("ip -n %s link set ut0b netns %s", ns, peer) == 0);
	check(sh("ip -n %s addr add 10.77.0.1/24 dev ut0a && ip -n %s link set ut0a up", ns, ns) ==
	      0);
	check(sh("ip -n %s addr add 10.77.0.2/24 dev ut0b && ip -n %s link set ut0b up && "
		 "ip -n %s link set lo up",
		 peer, peer, peer) == 0);
	return true;
}

/* rate=1 (MB/s) to the guest: about 1 MiB/s through the htb; set twice (the old limit goes first),
 * none again after 0. */
static void rate_limit_to_guest(void)
{
	char peer[80];
	if (!rate_setup(peer, sizeof(peer)))
		return;
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", ns);
	pve_error *err = NULL;
	for (int i = 0; i < 2; i++) {
		int r = pve_net_rate_limit(path, "ut0a", 1, &err);
		check(r >= 0);
		if (r < 0)
			test_fail(__FILE__, __LINE__, "rate limit: %s", err->message);
		pve_error_free(TAKE_PTR(err));
	}
	/* 3 MiB with a 1 MiB burst at 1 MiB/s: about 2 s; unlimited, a few ms. */
	double secs = transfer_secs(ns, peer, "10.77.0.2");
	printf("# 3 MiB to the guest at rate=1: %.2f s\n", secs);
	check(secs > 1.2 && secs < 8);
	check(pve_net_rate_limit(path, "ut0a", 0, NULL) == 0);
	double free_secs = transfer_secs(ns, peer, "10.77.0.2");
	check(free_secs >= 0 && free_secs < 0.8);
	sh("ip netns delete %s 2>/dev/null", peer);
	ns_down();
}

/* rate=1 from the guest: the ingress policer, where the kernel has one. */
static void rate_limit_from_guest(void)
{
	char peer[80];
	if (!rate_setup(peer, sizeof(peer)))
		return;
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", ns);
	pve_error *err = NULL;
	int r = pve_net_rate_limit(path, "ut0a", 1, &err);
	check(r >= 0);
	if (r == 1) {
		check(err && strstr(err->message, "traffic from 'ut0a' is not rate limited"));
		test_skip("%s", err ? err->message : "no ingress policer");
	} else if (r == 0) {
		double secs = transfer_secs(peer, ns, "10.77.0.1");
		printf("# 3 MiB from the guest at rate=1: %.2f s\n", secs);
		check(secs > 1.2 && secs < 15);
	}
	pve_error_free(err);
	sh("ip netns delete %s 2>/dev/null", peer);
	ns_down();
}

/* link_down: the link is set down and stays so; up again; a missing link is ENOENT. */
static void link_state(void)
{
	if (!ns_up())
		return;
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", ns);
	check(sh("ip -n %s link set ut0a up", ns) == 0);
	check(pve_net_link_state(path, "ut0a", false, NULL) == 0);
	_cleanup_free_ char *l = ipq("link show ut0a");
	check(strstr(l, "state DOWN") && !strstr(l, ",UP"));
	check(pve_net_link_state(path, "ut0a", true, NULL) == 0);
	_cleanup_free_ char *l2 = ipq("link show ut0a");
	check(strstr(l2, ",UP") != NULL);
	pve_error *err = NULL;
	check(pve_net_link_state(path, "nosuch0", false, &err) == -ENOENT);
	pve_error_free(err);
	ns_down();
}

TEST_MAIN(TEST(apply_idempotent_and_back), TEST(attach), TEST(attach_tag),
	  TEST(kernel_refusal_named), TEST(rate_limit_to_guest), TEST(rate_limit_from_guest),
	  TEST(link_state))
