/* Unit tests of lxc_ostype_detect and lxc_setup_rootfs against small fake rootfs trees: the files
 * Proxmox's set-up writes for Debian, Ubuntu and Alpine, nothing for unmanaged, and a hostile rootfs
 * whose /etc files are symlinks to host files. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc/lxc.h"
#include "tests/unit/test.h"

static char *mkroot(void)
{
	char *p = xasprintf("%s/root", test_tmpdir());
	check(mkdir(p, 0755) == 0);
	return p;
}

/* Writes rel (its parent directories made) below root. */
static void put(const char *root, const char *rel, const char *data)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		(void)mkdir(p, 0755);
		*s = '/';
	}
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	if (fd >= 0)
		check(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
}

static char *get(const char *root, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	return n < 0 ? NULL : xstrndup(buf, (size_t)n);
}

static lxc_nic nic(const char *name, const char *ip, const char *gw, const char *ip6,
		   const char *gw6)
{
	lxc_nic n = { 0 };
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.ip, sizeof(n.ip), "%s", ip);
	snprintf(n.gw, sizeof(n.gw), "%s", gw);
	snprintf(n.ip6, sizeof(n.ip6), "%s", ip6);
	snprintf(n.gw6, sizeof(n.gw6), "%s", gw6);
	return n;
}

static void test_detect(void)
{
	static const struct {
		const char *file, *data, *want;
	} cases[] = {
		{ "etc/os-release", "NAME=\"Debian\"\nID=debian\n", "debian" },
		{ "etc/os-release", "ID=\"rocky\"\n", "centos" },
		{ "etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n", "ubuntu" },
		{ "etc/alpine-release", "3.19.1\n", "alpine" },
		{ "etc/debian_version", "12.5\n", "debian" },
		/* pved's busybox template: an os-release Proxmox does not know */
		{ "etc/os-release", "ID=busybox\n", "unmanaged" },
		{ "etc/hostname", "nothing to go by\n", "unmanaged" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *root = xasprintf("%s/r%zu", test_tmpdir(), i);
		check(mkdir(root, 0755) == 0);
		put(root, cases[i].file, cases[i].data);
		check_streq(lxc_ostype_detect(root), cases[i].want);
	}
}

static void test_debian(void)
{
	_cleanup_free_ char *root = mkroot();
	put(root, "etc/os-release", "ID=debian\n");
	put(root, "etc/debian_version", "12.5\n");
	put(root, "etc/hosts", "127.0.0.1\tlocalhost\n");
	put(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2::/bin:/bin/false\n");
	put(root, "etc/shadow", "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n");
	put(root, "etc/network/interfaces",
	    "# my comment\nauto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n"
	    "\tmtu 1400\n\taddress 1.2.3.4\n");
	_cleanup_free_ char *rh = xasprintf("%s/root", root);
	check(mkdir(rh, 0700) == 0);
	lxc_nic nics[] = {
		nic("eth0", "10.0.0.5/24", "10.0.0.1", "auto", ""),
		nic("eth1", "192.168.7.2/24", "192.168.8.1", "", ""),
	};
	lxc_setup s = {
		.ostype = "debian",
		.hostname = "ct1.example.com",
		.nameserver = "10.0.0.53 10.0.0.54",
		.searchdomain = "example.com",
		.root_password_hash = "$6$salt$hash",
		.ssh_keys = "ssh-ed25519 AAAA test@host",
		.nics = nics,
		.n_nics = 2,
	};
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	if (err)
		test_fail(__FILE__, __LINE__, "%s", err->message);
	_cleanup_free_ char *ifs = get(root, "etc/network/interfaces");
	check_streq(
		ifs,
		"# my comment\nauto lo\niface lo inet loopback\n\nauto eth0\n"
		"iface eth0 inet static\n\taddress 10.0.0.5/24\n\tgateway 10.0.0.1\n\tmtu 1400\n\n"
		"iface eth0 inet6 auto\n\n"
		"auto eth1\niface eth1 inet static\n\taddress 192.168.7.2/24\n"
		"\tpost-up ip route add 192.168.8.1 dev eth1\n"
		"\tpost-up ip route add default via 192.168.8.1 dev eth1\n"
		"\tpre-down ip route del default via 192.168.8.1 dev eth1\n"
		"\tpre-down ip route del 192.168.8.1 dev eth1\n\n");
	_cleanup_free_ char *hn = get(root, "etc/hostname");
	check_streq(hn, "ct1\n");
	_cleanup_free_ char *hosts = get(root, "etc/hosts");
	check_streq(hosts, "127.0.0.1\tlocalhost\n# --- BEGIN PVE ---\n"
			   "::1 localhost.localnet localhost\n10.0.0.5 ct1.example.com ct1\n"
			   "# --- END PVE ---\n");
	_cleanup_free_ char *rc = get(root, "etc/resolv.conf");
	check_streq(rc, "# --- BEGIN PVE ---\nsearch example.com\nnameserver 10.0.0.53\n"
			"nameserver 10.0.0.54\n# --- END PVE ---\n");
	_cleanup_free_ char *sh = get(root, "etc/shadow");
	check(sh && startswith(sh, "root:$6$salt$hash:") && strstr(sh, ":0:99999:7:::\nbin:*:"));
	_cleanup_free_ char *ak = get(root, "root/.ssh/authorized_keys");
	check_streq(ak, "# --- BEGIN PVE ---\nssh-ed25519 AAAA test@host\n# --- END PVE ---\n");

	/* Again (a start after a change): the sections are replaced, not added. */
	s.hostname = "ct2";
	s.root_password_hash = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	_cleanup_free_ char *hosts2 = get(root, "etc/hosts");
	check_streq(hosts2, "127.0.0.1\tlocalhost\n# --- BEGIN PVE ---\n"
			    "::1 localhost.localnet localhost\n10.0.0.5 ct2.example.com ct2\n"
			    "# --- END PVE ---\n");
	_cleanup_free_ char *ifs2 = get(root, "etc/network/interfaces");
	check_streq(ifs2, ifs);
	_cleanup_free_ char *sh2 = get(root, "etc/shadow");
	check_streq(sh2, sh);
}

/* Files the set-up writes belong to the container's root: the owner of the rootfs's / (shifted for
 * an unprivileged container). */
static void test_unprivileged_owner(void)
{
	_cleanup_free_ char *root = mkroot();
	put(root, "etc/debian_version", "12\n");
	put(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	_cleanup_free_ char *rh = xasprintf("%s/root", root);
	check(mkdir(rh, 0700) == 0);
	check(chown(root, 100000, 100000) == 0 && chown(rh, 100000, 100000) == 0);
	lxc_setup s = { .ostype = "debian",
			.hostname = "u",
			.nameserver = "1.1.1.1",
			.searchdomain = "",
			.ssh_keys = "ssh-rsa AAAA k" };
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	struct stat st;
	_cleanup_free_ char *ssh = xasprintf("%s/root/.ssh", root);
	_cleanup_free_ char *ak = xasprintf("%s/root/.ssh/authorized_keys", root);
	check(stat(ssh, &st) == 0 && st.st_uid == 100000 && (st.st_mode & 0777) == 0700);
	check(stat(ak, &st) == 0 && st.st_uid == 100000 && st.st_gid == 100000 &&
	      (st.st_mode & 0777) == 0600);
	_cleanup_free_ char *hn = xasprintf("%s/etc/hostname", root);
	check(stat(hn, &st) == 0 && st.st_uid == 100000);
}

/* A hostile rootfs: its /etc files are symlinks to host files, by absolute and relative paths. The
 * host files stay as they were; the symlinks are replaced inside. */
static void test_symlink_attack(void)
{
	_cleanup_free_ char *root = mkroot();
	_cleanup_free_ char *victim = xasprintf("%s/host-shadow", test_tmpdir());
	_cleanup_free_ char *victim2 = xasprintf("%s/host-hostname", test_tmpdir());
	put(test_tmpdir(), "host-shadow", "host secret\n");
	put(test_tmpdir(), "host-hostname", "host\n");
	put(root, "etc/debian_version", "12\n");
	_cleanup_free_ char *hosts = xasprintf("%s/etc/hosts", root);
	_cleanup_free_ char *hostname = xasprintf("%s/etc/hostname", root);
	_cleanup_free_ char *resolv = xasprintf("%s/etc/resolv.conf", root);
	check(symlink(victim, hosts) == 0);
	check(symlink("../../../../../../../../host-hostname", hostname) == 0);
	check(symlink(victim, resolv) == 0);
	lxc_nic nics[] = { nic("eth0", "dhcp", "", "", "") };
	lxc_setup s = { .ostype = "debian",
			.hostname = "evil",
			.nameserver = "1.1.1.1",
			.searchdomain = "x",
			.nics = nics,
			.n_nics = 1 };
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	_cleanup_free_ char *v = get(test_tmpdir(), "host-shadow");
	check_streq(v, "host secret\n");
	_cleanup_free_ char *v2 = get(test_tmpdir(), "host-hostname");
	check_streq(v2, "host\n");
	struct stat st;
	check(lstat(hosts, &st) == 0 && S_ISREG(st.st_mode));
	check(lstat(hostname, &st) == 0 && S_ISREG(st.st_mode));
	_cleanup_free_ char *hn = get(root, "etc/hostname");
	check_streq(hn, "evil\n");

	/* /etc itself a symlink to a host directory: resolved inside the root, where it is missing. */
	_cleanup_free_ char *root2 = xasprintf("%s/root2", test_tmpdir());
	_cleanup_free_ char *hostetc = xasprintf("%s/hostetc", test_tmpdir());
	check(mkdir(root2, 0755) == 0 && mkdir(hostetc, 0755) == 0);
	_cleanup_free_ char *etc2 = xasprintf("%s/etc", root2);
	check(symlink(hostetc, etc2) == 0);
	pve_error_free(err);
	err = NULL;
	check(lxc_setup_rootfs(root2, &s, &err) < 0);
	_cleanup_free_ char *h2 = xasprintf("%s/hostname", hostetc);
	check(access(h2, F_OK) < 0);
}

/* Nothing is written into an unmanaged rootfs, except the interfaces file into a busybox one, whose
 * init runs udhcpc on the NICs marked dhcp there. */
static void test_unmanaged(void)
{
	static const char *const ids[] = { "ID=busybox\n", "ID=mystery\n" };
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		_cleanup_free_ char *root = xasprintf("%s/root%zu", test_tmpdir(), i);
		check(mkdir(root, 0755) == 0);
		put(root, "etc/os-release", ids[i]);
		lxc_nic nics[] = { nic("eth0", "dhcp", "", "", "") };
		lxc_setup s = {
			.hostname = "bb", .nics = nics, .n_nics = 1, .nameserver = "1.1.1.1"
		};
		_cleanup_error_ pve_error *err = NULL;
		check_int(lxc_setup_rootfs(root, &s, &err), 0);
		_cleanup_free_ char *etc = xasprintf("%s/etc/hostname", root);
		check(access(etc, F_OK) < 0);
		_cleanup_free_ char *ifs = xasprintf("%s/etc/network/interfaces", root);
		_cleanup_free_ char *text = NULL;
		size_t len;
		bool made = pve_read_file(ifs, 65536, &text, &len, NULL) >= 0;
		if (i == 0)
			check(made && strstr(text, "iface eth0 inet dhcp\n"));
		else
			check(!made);
	}
}

static void test_alpine(void)
{
	_cleanup_free_ char *root = mkroot();
	put(root, "etc/alpine-release", "3.19.1\n");
	put(root, "etc/securetty", "console\nttyS0\n");
	lxc_nic nics[] = { nic("eth0", "10.1.0.2/16", "10.1.0.1", "dhcp", "") };
	lxc_setup s = { .ostype = "alpine",
			.hostname = "alp",
			.nameserver = "",
			.searchdomain = "",
			.nics = nics,
			.n_nics = 1 };
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	_cleanup_free_ char *ifs = get(root, "etc/network/interfaces");
	check_streq(ifs, "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\nauto eth0\n"
			 "iface eth0 inet static\n\taddress 10.1.0.2/16\n\tgateway 10.1.0.1\n\n"
			 "iface eth0 inet6 manual\n\n");
	_cleanup_free_ char *st = get(root, "etc/securetty");
	check_streq(st, "console\nttyS0\ntty1\ntty2\ntty3\ntty4\n");
	/* Empty nameserver and searchdomain: nothing to write, no resolv.conf made. */
	_cleanup_free_ char *rc = get(root, "etc/resolv.conf");
	check(rc == NULL);
}

static void test_ubuntu_networkd(void)
{
	_cleanup_free_ char *root = mkroot();
	put(root, "etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n");
	lxc_nic nics[] = { nic("eth0", "dhcp", "", "fd00::5/64", "fd00::1") };
	lxc_setup s = { .hostname = "u",
			.nameserver = "1.1.1.1",
			.searchdomain = "",
			.nics = nics,
			.n_nics = 1 };
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	_cleanup_free_ char *nd = get(root, "etc/systemd/network/eth0.network");
	check_streq(
		nd,
		"[Match]\nName = eth0\n\n[Network]\nDescription = Interface eth0 autoconfigured "
		"by PVE\nAddress = fd00::5/64\nGateway = fd00::1\nDHCP = ipv4\n"
		"IPv6AcceptRA = false\n");
}

static void test_bad_input(void)
{
	_cleanup_free_ char *root = mkroot();
	put(root, "etc/debian_version", "12\n");
	lxc_setup s = { .ostype = "debian", .hostname = "a\nb" };
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_setup_rootfs(root, &s, &err), -EINVAL);
	_cleanup_free_ char *hn = xasprintf("%s/etc/hostname", root);
	check(access(hn, F_OK) < 0);
}

TEST_MAIN(TEST(test_detect), TEST(test_debian), TEST(test_unprivileged_owner),
	  TEST(test_symlink_attack), TEST(test_unmanaged), TEST(test_alpine),
	  TEST(test_ubuntu_networkd), TEST(test_bad_input))
