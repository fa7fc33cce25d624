/* setup: the OS type of an unpacked rootfs and the set-up Proxmox does in it (LXC/Setup/ in pve-container):
 * hostname, /etc/hosts, network config, resolv.conf, root's password and ssh keys. Every file is read
 * and written through openat2 RESOLVE_IN_ROOT and replaced by rename, so a hostile rootfs's symlinks
 * (/etc/hosts -> the host's /etc/shadow) resolve inside it and are replaced, never followed out. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lxc/rootfs-internal.h"

#define SETUP_MAX_FILE (1024 * 1024)
#define PVE_HEAD "# --- BEGIN PVE ---\n"
#define PVE_TAIL "# --- END PVE ---\n"

/* ---- files inside the rootfs -------------------------------------------------------------------------- */

/* A regular file's contents (at most SETUP_MAX_FILE), or NULL (missing, not a regular file). */
static char *ct_read(int root, const char *path)
{
	_cleanup_close_ int fd = lxc_open_in_root(root, path, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SETUP_MAX_FILE)
		return NULL;
	char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = pve_read_full(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static bool ct_exists(int root, const char *path, mode_t type)
{
	_cleanup_close_ int fd = lxc_open_in_root(root, path, O_PATH, 0);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && (!type || (st.st_mode & S_IFMT) == type);
}

/* Writes path whole: a new file beside it, renamed over it (a symlink there is replaced, not
 * followed). An existing regular file's owner and mode stay; a new one gets mode and the owner of
 * the rootfs's / (the container's root, shifted for an unprivileged container). */
static int ct_write(int root, const char *path, const char *data, mode_t mode, pve_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash || !slash[1])
		return pve_error_set(err, EINVAL, "bad path '%s'", path);
	*slash = 0;
	const char *name = slash + 1;
	_cleanup_close_ int pfd =
		lxc_open_in_root(root, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0);
	if (pfd < 0)
		return pve_error_set(err, -pfd, "container's '%s': %s", dir[0] ? dir : "/",
				     strerror(-pfd));
	struct stat rst, st;
	if (fstat(root, &rst) < 0)
		return pve_error_set(err, errno, "stat rootfs: %m");
	uid_t uid = rst.st_uid;
	gid_t gid = rst.st_gid;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		uid = st.st_uid;
		gid = st.st_gid;
		mode = st.st_mode & 07777;
	}
	_cleanup_free_ char *tmp = xasprintf(".%s.pved-tmp", name);
	(void)unlinkat(pfd, tmp, 0);
	_cleanup_close_ int fd =
		openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return pve_error_set(err, errno, "cannot write container's '%s': %m", path);
	int r = pve_write_all(fd, data, strlen(data));
	if (r == 0 && (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0))
		r = -errno;
	if (r == 0 && renameat(pfd, tmp, pfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(pfd, tmp, 0);
		return pve_error_set(err, -r, "cannot write container's '%s': %s", path,
				     strerror(-r));
	}
	return 0;
}

/* A directory (one level) made if missing, owned by the container's root. */
static int ct_mkdir(int root, const char *path, mode_t mode, pve_error **err)
{
	if (ct_exists(root, path, S_IFDIR))
		return 0;
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return pve_error_set(err, EINVAL, "bad path '%s'", path);
	*slash = 0;
	_cleanup_close_ int pfd =
		lxc_open_in_root(root, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0);
	struct stat rst;
	if (pfd < 0 || fstat(root, &rst) < 0)
		return pve_error_set(err, pfd < 0 ? -pfd : errno, "container's '%s' is missing",
				     dir);
	if (mkdirat(pfd, slash + 1, mode) < 0 ||
	    fchownat(pfd, slash + 1, rst.st_uid, rst.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return pve_error_set(err, errno, "cannot make container's '%s': %m", path);
	return 0;
}

/* Each missing directory of path made, 0755. */
static int ct_mkdir_p(int root, const char *path, pve_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		bool last = !*s;
		*s = 0;
		int r = ct_mkdir(root, p, 0755, err);
		if (r < 0 || last)
			return r;
		*s = '/';
	}
}

/* Proxmox's ct_modify_file: data between "# --- BEGIN PVE ---" and "# --- END PVE ---", replacing that
 * section where the file has one, else appended (or the whole file with replace). */
static int ct_modify(int root, const char *path, const char *data, bool replace, mode_t mode,
		     pve_error **err)
{
	_cleanup_free_ char *old = ct_read(root, path);
	pve_buf b = { 0 };
	bool nl = data[0] && data[strlen(data) - 1] != '\n';
	const char *beg = NULL, *end = NULL;
	for (const char *l = old; l && *l;) {
		const char *e = strchrnul(l, '\n');
		if (!beg && startswith(l, "# --- BEGIN PVE ---"))
			beg = l;
		else if (beg && startswith(l, "# --- END PVE ---")) {
			end = *e ? e + 1 : e;
			break;
		}
		l = *e ? e + 1 : e;
	}
	/* Nothing to say and no section to empty: the file stays as it is. */
	if (!data[0] && !(old && beg && end))
		return 0;
	if (old && beg && end) {
		pve_buf_append(&b, old, (size_t)(beg - old));
		pve_buf_printf(&b, PVE_HEAD "%s%s" PVE_TAIL, data, nl ? "\n" : "");
		pve_buf_puts(&b, end);
	} else if (old && !replace) {
		pve_buf_puts(&b, old);
		if (b.len && b.data[b.len - 1] != '\n')
			pve_buf_puts(&b, "\n");
		pve_buf_printf(&b, PVE_HEAD "%s%s" PVE_TAIL, data, nl ? "\n" : "");
	} else {
		pve_buf_printf(&b, PVE_HEAD "%s%s" PVE_TAIL, data, nl ? "\n" : "");
	}
	_cleanup_free_ char *text = pve_buf_steal(&b);
	return ct_write(root, path, text, mode, err);
}

/* ---- the OS type --------------------------------------------------------------------------------------- */

/* KEY's value in an os-release text, unquoted; NULL if absent. */
static char *os_release_get(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l;) {
		const char *e = strchrnul(l, '\n');
		if ((size_t)(e - l) > kl && strncmp(l, key, kl) == 0 && l[kl] == '=') {
			const char *v = l + kl + 1;
			size_t n = (size_t)(e - v);
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
				v++;
				n -= 2;
			}
			return xstrndup(v, n);
		}
		l = *e ? e + 1 : e;
	}
	return NULL;
}

const char *lxc_ostype_detect(const char *dir)
{
	static const char *const known[] = { "alpine",	 "archlinux", "centos", "debian",
					     "devuan",	 "fedora",    "gentoo", "openeuler",
					     "opensuse", "ubuntu",    "nixos",	"unmanaged" };
	static const char *const alias[][2] = {
		{ "opensuse-leap", "opensuse" },
		{ "opensuse-tumbleweed", "opensuse" },
		{ "opensuse-slowroll", "opensuse" },
		{ "openEuler", "openeuler" },
		{ "arch", "archlinux" },
		{ "sles", "opensuse" },
		{ "rocky", "centos" },
		{ "almalinux", "centos" },
	};
	/* Proxmox's fall-back checks, in its order: a marker file each. */
	static const char *const markers[][2] = {
		{ "/etc/debian_version", "debian" },	   { "/etc/devuan_version", "devuan" },
		{ "/etc/SuSE-brand", "opensuse" },	   { "/etc/SuSE-release", "opensuse" },
		{ "/etc/fedora-release", "fedora" },	   { "/etc/centos-release", "centos" },
		{ "/etc/redhat-release", "centos" },	   { "/etc/arch-release", "archlinux" },
		{ "/etc/alpine-release", "alpine" },	   { "/etc/gentoo-release", "gentoo" },
		{ "/etc/openEuler-release", "openeuler" },
	};
	_cleanup_close_ int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return "unmanaged";
	_cleanup_free_ char *osr = ct_read(root, "/etc/os-release");
	if (!osr)
		osr = ct_read(root, "/usr/lib/os-release");
	_cleanup_free_ char *id = osr ? os_release_get(osr, "ID") : NULL;
	if (id) {
		for (size_t i = 0; i < ELEMENTSOF(known); i++)
			if (streq(id, known[i]))
				return known[i];
		for (size_t i = 0; i < ELEMENTSOF(alias); i++)
			if (streq(id, alias[i][0]))
				return alias[i][1];
	}
	_cleanup_free_ char *lsb = ct_read(root, "/etc/lsb-release");
	if (lsb && strcasestr(lsb, "DISTRIB_ID=Ubuntu"))
		return "ubuntu";
	for (size_t i = 0; i < ELEMENTSOF(markers); i++)
		if (ct_exists(root, markers[i][0], S_IFREG))
			return markers[i][1];
	if (ct_exists(root, "/nix/store", S_IFDIR))
		return "nixos";
	/* Proxmox refuses an os-release it does not know ("unable to detect OS distribution") unless
	 * the config says unmanaged; pved's busybox template has one (ID=busybox), and such a system is
	 * what unmanaged means: the runtime sets its addresses and hostname, nothing is written. */
	return "unmanaged";
}

/* ---- addresses ------------------------------------------------------------------------------------------- */

static bool ip_in_cidr(const char *ip, const char *cidr, int family)
{
	unsigned char a[16], n[16];
	const char *slash = strchr(cidr, '/');
	if (!slash || strlen(cidr) >= 64)
		return false;
	char net[64];
	memcpy(net, cidr, (size_t)(slash - cidr));
	net[slash - cidr] = 0;
	long long bits;
	size_t len = family == AF_INET ? 4 : 16;
	if (inet_pton(family, ip, a) != 1 || inet_pton(family, net, n) != 1 ||
	    pve_parse_int(slash + 1, 0, (long long)len * 8, &bits) < 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		int keep = bits >= 8 ? 8 : (int)(bits > 0 ? bits : 0);
		unsigned char mask = (unsigned char)(keep ? 0xff << (8 - keep) : 0);
		if ((a[i] & mask) != (n[i] & mask))
			return false;
		bits -= 8;
	}
	return true;
}

/* "a.b.c.d/n" -> address and dotted netmask. */
static bool v4_split(const char *cidr, char addr[64], char mask[16])
{
	const char *slash = strchr(cidr, '/');
	long long bits;
	if (!slash || (size_t)(slash - cidr) >= 64 || pve_parse_int(slash + 1, 0, 32, &bits) < 0)
		return false;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = 0;
	uint32_t m = bits ? 0xffffffffu << (32 - bits) : 0;
	snprintf(mask, 16, "%u.%u.%u.%u", m >> 24, (m >> 16) & 0xff, (m >> 8) & 0xff, m & 0xff);
	return true;
}

/* No line breaks or control characters in what goes into a config line. */
static bool line_safe(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* ---- /etc/network/interfaces (Debian, Ubuntu before 17.10, Alpine, Devuan) ------------------------- */

typedef struct netcfg {
	const lxc_nic *nic;
	const char *ip, *ip6; /* "" none */
	bool done_auto, done4, done6;
} netcfg;

typedef struct ifsection {
	bool active, v6;
	netcfg *net;
	char **attrs;
} ifsection;

/* The route scripts Proxmox writes for a gateway outside the subnet, and takes out again. */
static void gateway_scripts(pve_buf *b, const char *ifname, const char *gw)
{
	pve_buf_printf(
		b,
		"\tpost-up ip route add %s dev %s\n\tpost-up ip route add default via %s dev %s\n"
		"\tpre-down ip route del default via %s dev %s\n\tpre-down ip route del %s dev %s\n",
		gw, ifname, gw, ifname, gw, ifname, gw, ifname);
}

static bool is_gateway_script(const char *a)
{
	return (startswith(a, "post-up ip route add ") ||
		startswith(a, "pre-down ip route del ")) &&
	       strstr(a, " dev ");
}

static void print_section(pve_buf *out, ifsection *sec, bool cidr_form)
{
	if (!sec->active)
		return;
	netcfg *n = sec->net;
	const char *ifname = n->nic->name;
	if (!n->done_auto) {
		pve_buf_printf(out, "auto %s\n", ifname);
		n->done_auto = true;
	}
	const char *ip = sec->v6 ? n->ip6 : n->ip;
	const char *gw = sec->v6 ? n->nic->gw6 : n->nic->gw;
	if (sec->v6)
		n->done6 = true;
	else
		n->done4 = true;
	const char *fam = sec->v6 ? "inet6" : "inet";
	if (!ip[0]) {
		/* no address: no iface line */
	} else if (streq(ip, "dhcp") || streq(ip, "manual") || (sec->v6 && streq(ip, "auto"))) {
		pve_buf_printf(out, "iface %s %s %s\n\n", ifname, fam, ip);
	} else {
		pve_buf_printf(out, "iface %s %s static\n", ifname, fam);
		char addr[64], mask[16];
		const char *slash = strchr(ip, '/');
		if (cidr_form || !slash)
			pve_buf_printf(out, "\taddress %s\n", ip);
		else if (!sec->v6 && v4_split(ip, addr, mask))
			pve_buf_printf(out, "\taddress %s\n\tnetmask %s\n", addr, mask);
		else
			pve_buf_printf(out, "\taddress %.*s\n\tnetmask %s\n", (int)(slash - ip), ip,
				       slash + 1);
		if (gw[0]) {
			bool reach = ip_in_cidr(gw, ip, sec->v6 ? AF_INET6 : AF_INET) ||
				     (sec->v6 && ip_in_cidr(gw, "fe80::/10", AF_INET6));
			if (reach)
				pve_buf_printf(out, "\tgateway %s\n", gw);
			else
				gateway_scripts(out, ifname, gw);
		}
		for (char **a = sec->attrs; a && *a; a++)
			if (!is_gateway_script(*a))
				pve_buf_printf(out, "\t%s\n", *a);
		pve_buf_puts(out, "\n");
	}
	strv_free(sec->attrs);
	*sec = (ifsection){ 0 };
}

static netcfg *net_find(netcfg *nets, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(nets[i].nic->name) == len && strncmp(nets[i].nic->name, name, len) == 0)
			return &nets[i];
	return NULL;
}

/* Reads "iface NAME inet[6] METHOD": the name's span and whether it is inet6. */
static bool parse_iface(const char *l, const char **name, size_t *len, bool *v6)
{
	while (*l == ' ' || *l == '\t')
		l++;
	if (!startswith(l, "iface") || (l[5] != ' ' && l[5] != '\t'))
		return false;
	l += 5;
	l += strspn(l, " \t");
	*name = l;
	*len = strcspn(l, " \t");
	l += *len;
	l += strspn(l, " \t");
	if (startswith(l, "inet6") && (l[5] == ' ' || l[5] == '\t'))
		*v6 = true;
	else if (startswith(l, "inet") && (l[4] == ' ' || l[4] == '\t'))
		*v6 = false;
	else
		return false;
	return *len > 0;
}

static int setup_interfaces(int root, const lxc_setup *s, bool alpine, bool cidr_form,
			    pve_error **err)
{
	netcfg nets[LXC_MAX_NICS];
	size_t n = 0;
	for (size_t i = 0; i < s->n_nics && n < LXC_MAX_NICS; i++) {
		const lxc_nic *nic = &s->nics[i];
		if (!nic->name[0])
			continue;
		nets[n] = (netcfg){ .nic = nic, .ip = nic->ip, .ip6 = nic->ip6 };
		/* Alpine's ifupdown has no inet6 auto or dhcp: Proxmox makes them manual. */
		if (alpine && (streq(nic->ip6, "dhcp") || streq(nic->ip6, "auto")))
			nets[n].ip6 = "manual";
		if (nets[n].ip[0] || nets[n].ip6[0])
			n++;
	}
	if (n == 0)
		return 0;

	pve_buf out = { 0 };
	ifsection sec = { 0 };
	bool lo_auto = false; /* older templates (before Debian 8) lack it */
	_cleanup_free_ char *old = ct_read(root, "/etc/network/interfaces");
	for (char *l = old; l && *l;) {
		char *e = strchrnul(l, '\n');
		bool more = *e != 0;
		*e = 0;
		const char *t = l + strspn(l, " \t");
		const char *name;
		size_t len;
		bool v6;
		if (startswith(l, "# --- BEGIN PVE ---") || startswith(l, "# --- END PVE ---")) {
			/* markers around old route scripts: dropped with them */
		} else if (l[0] == '#') {
			pve_buf_printf(&out, "%s\n", l);
		} else if (!*t) {
			if (sec.active)
				print_section(&out, &sec, cidr_form);
			else
				pve_buf_printf(&out, "%s\n", l);
		} else if (parse_iface(l, &name, &len, &v6)) {
			print_section(&out, &sec, cidr_form);
			netcfg *nc = net_find(nets, n, name, len);
			if (!nc)
				pve_buf_printf(&out, "%s\n", l);
			else
				sec = (ifsection){
					.active = true, .v6 = v6, .net = nc, .attrs = strv_new()
				};
		} else if (startswith(t, "auto") && (t[4] == 0 || t[4] == ' ' || t[4] == '\t')) {
			for (const char *p = t + 4; *p;) {
				p += strspn(p, " \t");
				size_t w = strcspn(p, " \t");
				netcfg *nc = w ? net_find(nets, n, p, w) : NULL;
				if (nc)
					nc->done_auto = true;
				if (w == 2 && !strncmp(p, "lo", 2))
					lo_auto = true;
				p += w;
			}
			print_section(&out, &sec, cidr_form);
			pve_buf_printf(&out, "%s\n", l);
		} else if (startswith(t, "mapping ") || startswith(t, "allow-") ||
			   startswith(t, "source ") || startswith(t, "source-directory ")) {
			print_section(&out, &sec, cidr_form);
			pve_buf_printf(&out, "%s\n", l);
		} else if (sec.active) {
			size_t w = strcspn(t, " \t");
			bool skip = (w == 7 && !strncmp(t, "address", 7)) ||
				    (w == 7 && !strncmp(t, "netmask", 7)) ||
				    (w == 7 && !strncmp(t, "gateway", 7)) ||
				    (w == 9 && !strncmp(t, "broadcast", 9));
			if (!skip && strv_length(sec.attrs) < 256)
				strv_push(&sec.attrs, xstrdup(t));
		} else {
			pve_buf_printf(&out, "%s\n", l);
		}
		l = more ? e + 1 : e;
	}
	print_section(&out, &sec, cidr_form);

	bool sep = out.len && !(out.len >= 2 && out.data[out.len - 1] == '\n' &&
				out.data[out.len - 2] == '\n');
	/* New sections in name order, as Proxmox sorts them. */
	netcfg *order[LXC_MAX_NICS];
	for (size_t i = 0; i < n; i++)
		order[i] = &nets[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i;
		     j > 0 && strcmp(order[j - 1]->nic->name, order[j]->nic->name) > 0; j--) {
			netcfg *x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (size_t i = 0; i < n; i++) {
		netcfg *nc = order[i];
		for (int v6 = 0; v6 < 2; v6++) {
			if ((v6 ? nc->done6 : nc->done4) || !(v6 ? nc->ip6 : nc->ip)[0])
				continue;
			if (sep) {
				pve_buf_puts(&out, "\n");
				sep = false;
			}
			sec = (ifsection){ .active = true, .v6 = v6, .net = nc };
			print_section(&out, &sec, cidr_form);
		}
	}
	_cleanup_free_ char *body = pve_buf_steal(&out);
	_cleanup_free_ char *text =
		lo_auto ?
			xstrdup(body) :
			xasprintf("auto lo\niface lo inet loopback\niface lo inet6 loopback\n\n%s",
				  body);
	int r = ct_mkdir_p(root, "/etc/network", err);
	if (r < 0)
		return r;
	return ct_write(root, "/etc/network/interfaces", text, 0644, err);
}

/* Ubuntu from 17.10: systemd-networkd files, one per NIC. */
static int setup_networkd(int root, const lxc_setup *s, pve_error **err)
{
	bool any = false;
	for (size_t i = 0; i < s->n_nics; i++) {
		const lxc_nic *nic = &s->nics[i];
		if (!nic->name[0])
			continue;
		if (!any) {
			int r = ct_mkdir_p(root, "/etc/systemd/network", err);
			if (r < 0)
				return r;
			any = true;
		}
		pve_buf b = { 0 };
		pve_buf_printf(&b,
			       "[Match]\nName = %s\n\n[Network]\nDescription = Interface %s "
			       "autoconfigured by PVE\n",
			       nic->name, nic->name);
		pve_buf routes = { 0 };
		unsigned dhcp = 0;
		bool ra = false, has4 = false, has6 = false;
		if (streq(nic->ip, "dhcp"))
			dhcp |= 1;
		else if (nic->ip[0] && !streq(nic->ip, "manual")) {
			has4 = true;
			pve_buf_printf(&b, "Address = %s\n", nic->ip);
		}
		if (nic->gw[0]) {
			pve_buf_printf(&b, "Gateway = %s\n", nic->gw);
			if (has4 && !ip_in_cidr(nic->gw, nic->ip, AF_INET))
				pve_buf_printf(&routes,
					       "\n[Route]\nDestination = %s/32\nScope = link\n",
					       nic->gw);
		}
		if (streq(nic->ip6, "dhcp")) {
			dhcp |= 2;
			ra = true;
		} else if (streq(nic->ip6, "auto")) {
			ra = true;
		} else if (nic->ip6[0] && !streq(nic->ip6, "manual")) {
			has6 = true;
			pve_buf_printf(&b, "Address = %s\n", nic->ip6);
		}
		if (nic->gw6[0]) {
			ra = false;
			pve_buf_printf(&b, "Gateway = %s\n", nic->gw6);
			if (has6 && !ip_in_cidr(nic->gw6, nic->ip6, AF_INET6) &&
			    !ip_in_cidr(nic->gw6, "fe80::/10", AF_INET6))
				pve_buf_printf(&routes,
					       "\n[Route]\nDestination = %s/128\nScope = link\n",
					       nic->gw6);
		}
		static const char *const modes[] = { "no", "ipv4", "ipv6", "yes" };
		pve_buf_printf(&b, "DHCP = %s\nIPv6AcceptRA = %s\n", modes[dhcp],
			       ra ? "true" : "false");
		if (routes.len)
			pve_buf_append(&b, routes.data, routes.len);
		pve_buf_free(&routes);
		_cleanup_free_ char *text = pve_buf_steal(&b);
		_cleanup_free_ char *path = xasprintf("/etc/systemd/network/%s.network", nic->name);
		int r = ct_write(root, path, text, 0644, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- hostname, hosts, dns, root ---------------------------------------------------------------------- */

/* The host's resolvers and search list, Proxmox's default for a container without its own. */
static void host_dns(char **ret_search, char **ret_ns)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[8192];
		ssize_t n = pve_read_full(fd, buf, sizeof(buf) - 1);
		if (n > 0)
			text = xstrndup(buf, (size_t)n);
	}
	pve_buf ns = { 0 };
	unsigned count = 0;
	for (char *l = text; l && *l;) {
		char *e = strchrnul(l, '\n');
		bool more = *e != 0;
		*e = 0;
		char w[256];
		if (sscanf(l, "nameserver %255s", w) == 1 && count < 3 && line_safe(w)) {
			pve_buf_printf(&ns, "%s%s", count++ ? " " : "", w);
		} else if (startswith(l, "search ") && line_safe(l + 7)) {
			free(*ret_search);
			*ret_search = xstrdup(l + 7);
		}
		l = more ? e + 1 : e;
	}
	*ret_ns = pve_buf_steal(&ns);
}

static int set_dns(int root, const lxc_setup *s, pve_error **err)
{
	_cleanup_free_ char *hsearch = NULL, *hns = NULL;
	if (!s->nameserver || !s->searchdomain)
		host_dns(&hsearch, &hns);
	const char *search = s->searchdomain ? s->searchdomain : hsearch;
	const char *ns = s->nameserver ? s->nameserver : hns;
	pve_buf b = { 0 };
	_cleanup_strv_free_ char **sl = search ? pve_split_list(search) : NULL;
	if (sl && sl[0]) {
		_cleanup_free_ char *j = pve_strv_join(sl, " ");
		pve_buf_printf(&b, "search %s\n", j);
	}
	_cleanup_strv_free_ char **nl = ns ? pve_split_list(ns) : NULL;
	for (char **p = nl; p && *p; p++)
		pve_buf_printf(&b, "nameserver %s\n", *p);
	_cleanup_free_ char *data = b.data ? pve_buf_steal(&b) : xstrdup("");
	return ct_modify(root, "/etc/resolv.conf", data, true, 0644, err);
}

/* Whether a hosts text (without PVE's sections) has a line for addr. */
static bool hosts_has(const char *text, const char *addr)
{
	size_t al = strlen(addr);
	bool in_pve = false;
	for (const char *l = text; l && *l;) {
		const char *t = l + strspn(l, " \t");
		if (startswith(t, "# --- BEGIN PVE ---"))
			in_pve = true;
		else if (startswith(t, "# --- END PVE ---"))
			in_pve = false;
		else if (!in_pve && strncmp(t, addr, al) == 0 && (t[al] == ' ' || t[al] == '\t'))
			return true;
		l = strchrnul(l, '\n');
		if (*l)
			l++;
	}
	return false;
}

static int set_hostname(int root, const lxc_setup *s, pve_error **err)
{
	const char *hostname = s->hostname && s->hostname[0] ? s->hostname : "localhost";
	_cleanup_free_ char *namepart = xstrndup(hostname, strcspn(hostname, "."));
	_cleanup_free_ char *hsearch = NULL, *hns = NULL;
	if (!s->searchdomain)
		host_dns(&hsearch, &hns);
	const char *search = s->searchdomain ? s->searchdomain : hsearch;

	pve_buf names = { 0 };
	if (strchr(hostname, '.')) {
		pve_buf_printf(&names, "%s %s", hostname, namepart);
	} else {
		_cleanup_strv_free_ char **sl = search ? pve_split_list(search) : NULL;
		for (char **p = sl; p && *p; p++)
			pve_buf_printf(&names, "%s.%s ", hostname, *p);
		pve_buf_puts(&names, hostname);
	}
	_cleanup_free_ char *all = pve_buf_steal(&names);

	/* The primary address: the first NIC's static IPv4, else its static IPv6 (Proxmox: net0's). */
	char hostip[64] = "";
	if (s->n_nics) {
		const lxc_nic *nic = &s->nics[0];
		const char *ip =
			nic->ip[0] && !streq(nic->ip, "dhcp") && !streq(nic->ip, "manual") ?
				nic->ip :
			nic->ip6[0] && !streq(nic->ip6, "dhcp") && !streq(nic->ip6, "auto") &&
					!streq(nic->ip6, "manual") ?
				nic->ip6 :
				NULL;
		if (ip)
			snprintf(hostip, sizeof(hostip), "%.*s", (int)strcspn(ip, "/"), ip);
	}

	_cleanup_free_ char *old = ct_read(root, "/etc/hosts");
	pve_buf sec = { 0 };
	if (!old || !hosts_has(old, "127.0.0.1"))
		pve_buf_puts(&sec, "127.0.0.1 localhost.localnet localhost\n");
	if (!old || !hosts_has(old, "::1"))
		pve_buf_puts(&sec, "::1 localhost.localnet localhost\n");
	if (hostip[0])
		pve_buf_printf(&sec, "%s %s\n", hostip, all);
	else if (!streq(namepart, "localhost"))
		pve_buf_printf(&sec, "127.0.1.1 %s\n", all);
	else
		pve_buf_printf(&sec, "127.0.1.1 %s\n", namepart);
	_cleanup_free_ char *data = pve_buf_steal(&sec);
	int r = ct_modify(root, "/etc/hosts", data, false, 0644, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *hn = xasprintf("%s\n", namepart);
	return ct_write(root, "/etc/hostname", hn, 0644, err);
}

/* user's password field replaced in /etc/shadow (with the day of the change) or /etc/passwd. */
static int replace_pw(int root, const char *path, const char *user, const char *pw, bool shadow,
		      pve_error **err)
{
	_cleanup_free_ char *old = ct_read(root, path);
	if (!old)
		return pve_error_set(err, ENOENT, "container has no readable %s", path);
	size_t ul = strlen(user);
	pve_buf b = { 0 };
	for (const char *l = old; *l;) {
		const char *e = strchrnul(l, '\n');
		size_t len = (size_t)(e - l) + (*e ? 1 : 0);
		if (strncmp(l, user, ul) == 0 && l[ul] == ':') {
			const char *rest = l + ul + 1;
			const char *c1 = memchr(rest, ':', (size_t)(e - rest));
			const char *after = c1 ? c1 + 1 : e;
			if (shadow && c1) {
				const char *c2 = memchr(after, ':', (size_t)(e - after));
				if (c2) {
					pve_buf_printf(&b, "%s:%s:%lld:", user, pw,
						       (long long)(time(NULL) / 86400));
					pve_buf_append(&b, c2 + 1, (size_t)(l + len - (c2 + 1)));
					l += len;
					continue;
				}
			} else if (c1) {
				pve_buf_printf(&b, "%s:%s:", user, pw);
				pve_buf_append(&b, after, (size_t)(l + len - after));
				l += len;
				continue;
			}
		}
		pve_buf_append(&b, l, len);
		l += len;
	}
	_cleanup_free_ char *text = b.data ? pve_buf_steal(&b) : xstrdup("");
	return ct_write(root, path, text, shadow ? 0640 : 0644, err);
}

static int set_root_password(int root, const char *hash, pve_error **err)
{
	if (!ct_exists(root, "/etc/passwd", S_IFREG))
		return 0;
	if (!line_safe(hash) || strchr(hash, ':'))
		return pve_error_set_param(err, EINVAL, "password", "invalid password hash");
	if (ct_exists(root, "/etc/shadow", S_IFREG)) {
		int r = replace_pw(root, "/etc/shadow", "root", hash, true, err);
		return r < 0 ? r : replace_pw(root, "/etc/passwd", "root", "x", false, err);
	}
	return replace_pw(root, "/etc/passwd", "root", hash, false, err);
}

static int set_ssh_keys(int root, const char *keys, pve_error **err)
{
	/* root's home from /etc/passwd, as Proxmox reads it. */
	_cleanup_free_ char *pw = ct_read(root, "/etc/passwd");
	_cleanup_free_ char *home = NULL;
	for (const char *l = pw; l && *l;) {
		const char *e = strchrnul(l, '\n');
		if (startswith(l, "root:")) {
			const char *f = l;
			for (int i = 0; i < 5 && f < e; i++) {
				f = memchr(f, ':', (size_t)(e - f));
				f = f ? f + 1 : e;
			}
			const char *fe = memchr(f, ':', (size_t)(e - f));
			if (fe && fe > f)
				home = xstrndup(f, (size_t)(fe - f));
			break;
		}
		l = *e ? e + 1 : e;
	}
	if (!home || home[0] != '/')
		home = (free(home), xstrdup("/root"));
	if (!ct_exists(root, home, S_IFDIR))
		return pve_error_set(err, ENOENT, "home directory '%s' of root does not exist!",
				     home);
	_cleanup_free_ char *ssh = xasprintf("%s/.ssh", streq(home, "/") ? "" : home);
	int r = ct_mkdir(root, ssh, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *ak = xasprintf("%s/authorized_keys", ssh);
	return ct_modify(root, ak, keys, false, 0600, err);
}

static int setup_securetty(int root, pve_error **err)
{
	_cleanup_free_ char *old = ct_read(root, "/etc/securetty");
	if (!old)
		return 0; /* without one, root may log in on every device already */
	static const char *const add[] = { "console", "tty1", "tty2", "tty3", "tty4" };
	pve_buf b = { 0 };
	pve_buf_puts(&b, old);
	if (b.len && b.data[b.len - 1] != '\n')
		pve_buf_puts(&b, "\n");
	for (size_t i = 0; i < ELEMENTSOF(add); i++) {
		bool have = false;
		for (const char *l = old; *l && !have;) {
			size_t w = strcspn(l, " \t\n");
			have = w == strlen(add[i]) && !strncmp(l, add[i], w);
			l = strchrnul(l, '\n');
			if (*l)
				l++;
		}
		if (!have)
			pve_buf_printf(&b, "%s\n", add[i]);
	}
	_cleanup_free_ char *text = pve_buf_steal(&b);
	return ct_write(root, "/etc/securetty", text, 0644, err);
}

/* The major release from /etc/debian_version ("12.5", "bookworm/sid"); 0 if unknown. */
static int debian_version(int root)
{
	static const char *const sid[][2] = {
		{ "stretch/sid", "9" },	  { "buster/sid", "10" }, { "bullseye/sid", "11" },
		{ "bookworm/sid", "12" }, { "trixie/sid", "13" }, { "forky/sid", "14" },
		{ "kali-rolling", "12" },
	};
	_cleanup_free_ char *v = ct_read(root, "/etc/debian_version");
	if (!v)
		return 0;
	v[strcspn(v, "\n")] = 0;
	const char *s = v;
	for (size_t i = 0; i < ELEMENTSOF(sid); i++)
		if (streq(v, sid[i][0]))
			s = sid[i][1];
	return atoi(s);
}

/* Ubuntu's DISTRIB_RELEASE as major*100+minor (1710 for 17.10); 0 if unknown. */
static int ubuntu_version(int root)
{
	_cleanup_free_ char *lsb = ct_read(root, "/etc/lsb-release");
	_cleanup_free_ char *rel = lsb ? os_release_get(lsb, "DISTRIB_RELEASE") : NULL;
	int maj, min;
	if (!rel || sscanf(rel, "%d.%d", &maj, &min) != 2)
		return 0;
	return maj * 100 + min;
}

/* Alpine's /etc/alpine-release as major*100+minor. */
static int alpine_version(int root)
{
	_cleanup_free_ char *v = ct_read(root, "/etc/alpine-release");
	int maj, min;
	if (!v || sscanf(v, "%d.%d", &maj, &min) != 2)
		return 0;
	return maj * 100 + min;
}

/* An unmanaged system gets nothing written, except a busybox one (os-release ID=busybox, as pved's
 * template): the runtime sets static addresses itself, but DHCP is the init's, and busybox's init
 * scripts read ifupdown's file (Alpine's flavour, with netmasks) to know where to run udhcpc. */
static int busybox_interfaces(int root, const lxc_setup *s, pve_error **err)
{
	_cleanup_free_ char *osr = ct_read(root, "/etc/os-release");
	_cleanup_free_ char *id = osr ? os_release_get(osr, "ID") : NULL;
	if (!id || !streq(id, "busybox"))
		return 0;
	return setup_interfaces(root, s, true, false, err);
}

int lxc_setup_rootfs(const char *dir, const lxc_setup *s, pve_error **err)
{
	_cleanup_close_ int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return pve_error_set(err, errno, "container rootfs '%s': %m", dir);
	if (!line_safe(s->hostname) || !line_safe(s->nameserver) || !line_safe(s->searchdomain))
		return pve_error_set(err, EINVAL,
				     "hostname, nameserver or searchdomain holds a line break");
	for (size_t i = 0; i < s->n_nics; i++) {
		const lxc_nic *n = &s->nics[i];
		if (!line_safe(n->name) || !line_safe(n->ip) || !line_safe(n->ip6) ||
		    !line_safe(n->gw) || !line_safe(n->gw6) || strchr(n->name, '/') ||
		    streq(n->name, ".") || streq(n->name, ".."))
			return pve_error_set(err, EINVAL, "network device %zu: bad name or address",
					     i);
	}
	const char *ostype = s->ostype && s->ostype[0] ? s->ostype : lxc_ostype_detect(dir);
	if (streq(ostype, "unmanaged"))
		return busybox_interfaces(root, s, err);

	int r = 0;
	if (s->root_password_hash)
		r = set_root_password(root, s->root_password_hash, err);
	if (r == 0 && s->ssh_keys && s->ssh_keys[0])
		r = set_ssh_keys(root, s->ssh_keys, err);
	if (r < 0)
		return r;

	if (streq(ostype, "debian") || streq(ostype, "devuan")) {
		int v = streq(ostype, "debian") ? debian_version(root) : 0;
		r = setup_interfaces(root, s, false, v >= 10, err);
	} else if (streq(ostype, "alpine")) {
		r = setup_securetty(root, err);
		if (r == 0)
			r = setup_interfaces(root, s, true, alpine_version(root) >= 313, err);
	} else if (streq(ostype, "ubuntu")) {
		r = ubuntu_version(root) >= 1710 ? setup_networkd(root, s, err) :
						   setup_interfaces(root, s, false, false, err);
	}
	/* Other types (centos, fedora, ...) get no network files from pved: their formats are not
	 * written here, and the runtime sets the addresses inside before the init runs. */
	if (r == 0)
		r = set_hostname(root, s, err);
	if (r == 0)
		r = set_dns(root, s, err);
	return r;
}
