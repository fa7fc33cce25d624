/* cloud-init: the files Proxmox's Cloudinit.pm writes on a VM's cloud-init drive, from its config and
 * byte for byte (guests and their tools compare them, and the instance id is a hash of them), and the
 * ISO9660 image they go on, made by genisoimage (or xorriso) with Proxmox's options. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kvm/kvm-internal.h"

/* ---- what the config says ------------------------------------------------------------------------ */

static const char *get(const pve_config *c, const char *key)
{
	return pve_config_get(c, NULL, key);
}

bool kvm_ostype_windows(const char *ostype)
{
	if (!ostype)
		return false;
	static const char *const win[] = { "wxp", "w2k", "w2k3", "w2k8", "wvista" };
	for (size_t i = 0; i < ELEMENTSOF(win); i++)
		if (streq(ostype, win[i]))
			return true;
	return startswith(ostype, "win") && ostype[3] >= '0' && ostype[3] <= '9';
}

const char *kvm_cloudinit_format(const pve_config *c)
{
	const char *t = get(c, "citype");
	if (t)
		return t;
	/* Windows' cloudbase-init reads ConfigDrive v2 only */
	return kvm_ostype_windows(get(c, "ostype")) ? "configdrive2" : "nocloud";
}

/* Proxmox's get_hostname_fqdn: the name (or VM<vmid>), with the VM's search domain when it has no dot. */
static void hostname_fqdn(const pve_config *c, long long vmid, char **ret_host, char **ret_fqdn)
{
	const char *name = get(c, "name");
	char *host = name ? xstrdup(name) : xasprintf("VM%lld", vmid);
	const char *search = get(c, "searchdomain");
	char *dot = strchr(host, '.');
	if (dot) {
		*ret_fqdn = xstrdup(host);
		*dot = '\0';
	} else if (search && *search) {
		*ret_fqdn = xasprintf("%s.%s", host, search);
	} else {
		*ret_fqdn = xstrdup(host);
	}
	*ret_host = host;
}

/* Splits on runs of blanks, without empty words. */
static char **words(const char *s)
{
	char **v = strv_new();
	if (!s)
		return v;
	_cleanup_strv_free_ char **parts = pve_strv_split(s, " \t\r\n");
	for (char **p = parts; *p; p++)
		if (**p)
			strv_push(&v, xstrdup(*p));
	return v;
}

/* Proxmox's get_dns_conf: the VM's search domains and name servers, else the host's. */
static void dns_conf(const pve_config *c, const kvm_ci_dns *host, char ***ret_search,
		     char ***ret_ns)
{
	const char *search = get(c, "searchdomain");
	*ret_search = words(search ? search : host ? host->search : NULL);
	const char *ns = get(c, "nameserver");
	if (ns) {
		*ret_ns = words(ns);
		return;
	}
	*ret_ns = strv_new();
	for (size_t i = 0; host && i < ELEMENTSOF(host->nameservers); i++)
		if (host->nameservers[i] && *host->nameservers[i])
			strv_push(ret_ns, xstrdup(host->nameservers[i]));
}

/* The SSH keys: url-decoded, one per line, blank lines dropped. */
static char **ssh_keys(const pve_config *c)
{
	const char *v = get(c, "sshkeys");
	char **keys = strv_new();
	if (!v)
		return keys;
	_cleanup_free_ char *dec = pve_uri_decode(v, strlen(v), false);
	_cleanup_strv_free_ char **lines = pve_strv_split(dec ? dec : v, "\n");
	for (char **l = lines; *l; l++) {
		bool blank = true;
		for (const char *p = *l; *p; p++)
			blank &= *p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v';
		if (!blank)
			strv_push(&keys, xstrdup(*l));
	}
	return keys;
}

char *kvm_cloudinit_user_data(const pve_config *c, long long vmid, bool mask_password)
{
	_cleanup_free_ char *host = NULL, *fqdn = NULL;
	hostname_fqdn(c, vmid, &host, &fqdn);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\nfqdn: %s\n", host,
		       fqdn);
	const char *user = get(c, "ciuser"), *password = get(c, "cipassword");
	if (user)
		pve_buf_printf(&b, "user: %s\n", user);
	if (user && streq(user, "root"))
		pve_buf_puts(&b, "disable_root: False\n");
	if (password)
		pve_buf_printf(&b, "password: %s\n", mask_password ? "**********" : password);
	if (get(c, "sshkeys")) {
		_cleanup_strv_free_ char **keys = ssh_keys(c);
		pve_buf_puts(&b, "ssh_authorized_keys:\n");
		for (char **k = keys; *k; k++)
			pve_buf_printf(&b, "  - %s\n", *k);
	}
	pve_buf_puts(&b, "chpasswd:\n  expire: False\n");
	if (!user || !streq(user, "root"))
		pve_buf_puts(&b, "users:\n  - default\n");
	bool upgrade = true;
	const char *up = get(c, "ciupgrade");
	if (up && pve_parse_bool(up, &upgrade) < 0)
		upgrade = true;
	if (upgrade)
		pve_buf_puts(&b, "package_upgrade: true\n");
	return pve_buf_steal(&b);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NICs that have an ipconfig, in Proxmox's order: net<N> sorted as strings (net10 before net2). */
static char **ci_nets(const pve_config *c)
{
	char **v = strv_new();
	for (int i = 0; i < KVM_MAX_NETS; i++) {
		char key[16], ip[24];
		snprintf(key, sizeof(key), "net%d", i);
		snprintf(ip, sizeof(ip), "ipconfig%d", i);
		const char *ipv = get(c, ip);
		if (get(c, key) && ipv && *ipv)
			strv_push(&v, xstrdup(key));
	}
	qsort(v, strv_length(v), sizeof(char *), str_cmp);
	return v;
}

typedef struct ipconf {
	char ip[64], gw[64], ip6[64], gw6[64];
	bool valid;
} ipconf;

static void copy_opt(const cJSON *o, const char *key, char *dst, size_t n)
{
	const char *v = pve_json_str(o, key);
	snprintf(dst, n, "%s", v ? v : "");
}

/* Proxmox's parse_ipconfig: a value it warns about is no config at all; neither address is DHCP for
 * both. */
static ipconf parse_ipconfig(const kvm_schema *s, const char *value)
{
	ipconf r = { 0 };
	cJSON *o = NULL;
	if (pve_propstr_parse(value, kvm_schema_named_format(s, "pve-qm-ipconfig"), &o, NULL) < 0)
		return r;
	copy_opt(o, "ip", r.ip, sizeof(r.ip));
	copy_opt(o, "gw", r.gw, sizeof(r.gw));
	copy_opt(o, "ip6", r.ip6, sizeof(r.ip6));
	copy_opt(o, "gw6", r.gw6, sizeof(r.gw6));
	cJSON_Delete(o);
	if ((*r.gw && !*r.ip) || (*r.gw6 && !*r.ip6) || (*r.gw && streq(r.ip, "dhcp")) ||
	    (*r.gw6 && (streq(r.ip6, "dhcp") || streq(r.ip6, "auto"))))
		return r;
	if (!*r.ip && !*r.ip6) {
		strcpy(r.ip, "dhcp");
		strcpy(r.ip6, "dhcp");
	}
	r.valid = true;
	return r;
}

/* "10.0.0.5/24" -> address and dotted netmask; EINVAL "not a CIDR" as Proxmox's split_ip4. */
static int split_ip4(const char *ip, char **ret_addr, char **ret_mask, pve_error **err)
{
	const char *slash = strchr(ip, '/');
	long long prefix;
	if (!slash || pve_parse_int(slash + 1, 0, 32, &prefix) < 0)
		return pve_error_set(err, EINVAL, "not a CIDR: %s", ip);
	uint32_t m = prefix ? 0xffffffffu << (32 - prefix) : 0;
	*ret_addr = xstrndup(ip, (size_t)(slash - ip));
	*ret_mask = xasprintf("%u.%u.%u.%u", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
	return 0;
}

static int nic(const pve_config *c, const kvm_schema *s, const char *key, kvm_net *ret,
	       pve_error **err)
{
	int r = kvm_net_parse(s, key, get(c, key), ret, err);
	if (r < 0)
		return r;
	if (!ret->macaddr[0])
		return pve_error_set(err, EINVAL, "network interface '%s' has no mac address", key);
	for (char *p = ret->macaddr; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int nocloud_network(const pve_config *c, const kvm_schema *s, const kvm_ci_dns *host,
			   char **ret, pve_error **err)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "version: 1\nconfig:\n");
	_cleanup_strv_free_ char **nets = ci_nets(c);
	for (char **k = nets; *k; k++) {
		const char *id = *k + 3;
		char ipkey[24];
		snprintf(ipkey, sizeof(ipkey), "ipconfig%s", id);
		kvm_net n;
		int r = nic(c, s, *k, &n, err);
		if (r < 0) {
			pve_buf_free(&b);
			return r;
		}
		ipconf ip = parse_ipconfig(s, get(c, ipkey));
		pve_buf_printf(&b,
			       "    - type: physical\n      name: eth%s\n      mac_address: '%s'\n"
			       "      subnets:\n",
			       id, n.macaddr);
		if (!ip.valid)
			continue;
		if (streq(ip.ip, "dhcp")) {
			pve_buf_puts(&b, "      - type: dhcp4\n");
		} else if (*ip.ip) {
			_cleanup_free_ char *addr = NULL, *mask = NULL;
			r = split_ip4(ip.ip, &addr, &mask, err);
			if (r < 0) {
				pve_buf_free(&b);
				return r;
			}
			pve_buf_printf(&b,
				       "      - type: static\n        address: '%s'\n"
				       "        netmask: '%s'\n",
				       addr, mask);
			if (*ip.gw)
				pve_buf_printf(&b, "        gateway: '%s'\n", ip.gw);
		}
		if (streq(ip.ip6, "dhcp")) {
			pve_buf_puts(&b, "      - type: dhcp6\n");
		} else if (streq(ip.ip6, "auto")) {
			/* SLAAC, which cloud-init knows since 19.4 */
			pve_buf_puts(&b, "      - type: ipv6_slaac\n");
		} else if (*ip.ip6) {
			pve_buf_printf(&b, "      - type: static6\n        address: '%s'\n",
				       ip.ip6);
			if (*ip.gw6)
				pve_buf_printf(&b, "        gateway: '%s'\n", ip.gw6);
		}
	}
	_cleanup_strv_free_ char **search = NULL, **ns = NULL;
	dns_conf(c, host, &search, &ns);
	/* Proxmox tests two array references here, which are always true */
	pve_buf_puts(&b, "    - type: nameserver\n");
	if (ns[0]) {
		pve_buf_puts(&b, "      address:\n");
		for (char **v = ns; *v; v++)
			pve_buf_printf(&b, "      - '%s'\n", *v);
	}
	if (search[0]) {
		pve_buf_puts(&b, "      search:\n");
		for (char **v = search; *v; v++)
			pve_buf_printf(&b, "      - '%s'\n", *v);
	}
	*ret = pve_buf_steal(&b);
	return 0;
}

/* ENI, as ConfigDrive v2 carries it (configdrive2_network), or with each static address's name
 * servers for cloudbase-init (cloudbase_network_eni). */
static int eni_network(const pve_config *c, const kvm_schema *s, const kvm_ci_dns *host,
		       bool cloudbase, char **ret, pve_error **err)
{
	pve_buf b = { 0 };
	_cleanup_strv_free_ char **search = NULL, **ns = NULL;
	dns_conf(c, host, &search, &ns);
	_cleanup_free_ char *ns_text = pve_strv_join(ns, " ");
	_cleanup_free_ char *search_text = pve_strv_join(search, " ");
	if (!cloudbase) {
		pve_buf_puts(&b, "auto lo\niface lo inet loopback\n\n");
		if (ns[0])
			pve_buf_printf(&b, "        dns_nameservers %s\n", ns_text);
		if (search[0])
			pve_buf_printf(&b, "        dns_search %s\n", search_text);
	}
	_cleanup_strv_free_ char **nets = ci_nets(c);
	for (char **k = nets; *k; k++) {
		const char *id = *k + 3;
		char ipkey[24];
		snprintf(ipkey, sizeof(ipkey), "ipconfig%s", id);
		ipconf ip = parse_ipconfig(s, get(c, ipkey));
		pve_buf_printf(&b, "auto eth%s\n", id);
		if (!ip.valid)
			continue;
		if (streq(ip.ip, "dhcp")) {
			pve_buf_printf(&b, "iface eth%s inet dhcp\n", id);
		} else if (*ip.ip) {
			_cleanup_free_ char *addr = NULL, *mask = NULL;
			int r = split_ip4(ip.ip, &addr, &mask, err);
			if (r < 0) {
				pve_buf_free(&b);
				return r;
			}
			pve_buf_printf(&b,
				       "iface eth%s inet static\n        address %s\n"
				       "        netmask %s\n",
				       id, addr, mask);
			if (*ip.gw)
				pve_buf_printf(&b, "        gateway %s\n", ip.gw);
			if (cloudbase && ns[0])
				pve_buf_printf(&b, "        dns-nameservers %s\n", ns_text);
		}
		if (streq(ip.ip6, "dhcp") || streq(ip.ip6, "auto")) {
			pve_buf_printf(&b, "iface eth%s inet6 %s\n", id, ip.ip6);
		} else if (*ip.ip6) {
			const char *slash = strchr(ip.ip6, '/');
			_cleanup_free_ char *addr =
				xstrndup(ip.ip6, slash ? (size_t)(slash - ip.ip6) : strlen(ip.ip6));
			pve_buf_printf(&b,
				       "iface eth%s inet6 static\n        address %s\n"
				       "        netmask %s\n",
				       id, addr, slash ? slash + 1 : "");
			if (*ip.gw6)
				pve_buf_printf(&b, "        gateway %s\n", ip.gw6);
			if (cloudbase && ns[0])
				pve_buf_printf(&b, "        dns-nameservers %s\n", ns_text);
		}
	}
	*ret = pve_buf_steal(&b);
	return 0;
}

/* OpenNebula's context.sh (generate_opennebula). */
static int opennebula_context(const pve_config *c, const kvm_schema *s, long long vmid,
			      const kvm_ci_dns *host, char **ret, pve_error **err)
{
	pve_buf b = { 0 };
	const char *user = get(c, "ciuser");
	pve_buf_printf(&b, "USERNAME=%s\n", user && *user ? user : "root");
	const char *password = get(c, "cipassword");
	if (password) {
		/* Perl's encode_base64: lines of 76 characters, each ended by a newline */
		_cleanup_free_ char *b64 = kvm_base64_encode(password, strlen(password));
		pve_buf_puts(&b, "CRYPTED_PASSWORD_BASE64=");
		for (size_t i = 0, n = strlen(b64); i < n; i += 76) {
			pve_buf_append(&b, b64 + i, n - i < 76 ? n - i : 76);
			pve_buf_puts(&b, "\n");
		}
		pve_buf_puts(&b, "\n");
	}
	const char *keys = get(c, "sshkeys");
	if (keys) {
		_cleanup_free_ char *dec = pve_uri_decode(keys, strlen(keys), false);
		_cleanup_strv_free_ char **lines = pve_strv_split(dec ? dec : keys, "\n");
		pve_buf_puts(&b, "SSH_PUBLIC_KEY=\"");
		/* split(/\s*\n\s* /): the blanks around each line break go, trailing empty lines too */
		size_t n = strv_length(lines);
		while (n > 0 && !*lines[n - 1])
			n--;
		for (size_t i = 0; i < n; i++) {
			const char *l = lines[i];
			size_t len = strlen(l);
			if (i > 0)
				while (*l == ' ' || *l == '\t' || *l == '\r')
					l++, len--;
			if (i + 1 < n)
				while (len > 0 && (l[len - 1] == ' ' || l[len - 1] == '\t' ||
						   l[len - 1] == '\r'))
					len--;
			if (i > 0)
				pve_buf_puts(&b, "\n");
			pve_buf_append(&b, l, len);
		}
		pve_buf_puts(&b, "\"\n");
	}
	_cleanup_free_ char *hostname = NULL, *fqdn = NULL;
	hostname_fqdn(c, vmid, &hostname, &fqdn);
	pve_buf_printf(&b, "SET_HOSTNAME=%s\n", hostname);
	_cleanup_strv_free_ char **search = NULL, **ns = NULL;
	dns_conf(c, host, &search, &ns);
	if (ns[0]) {
		_cleanup_free_ char *t = pve_strv_join(ns, " ");
		pve_buf_printf(&b, "DNS=\"%s\"\n", t);
	}
	if (search[0]) {
		_cleanup_free_ char *t = pve_strv_join(search, " ");
		pve_buf_printf(&b, "SEARCH_DOMAIN=\"%s\"\n", t);
	}
	bool enabled = false;
	_cleanup_strv_free_ char **nets = ci_nets(c);
	for (char **k = nets; *k; k++) {
		const char *id = *k + 3;
		char ipkey[24];
		snprintf(ipkey, sizeof(ipkey), "ipconfig%s", id);
		kvm_net n;
		int r = kvm_net_parse(s, *k, get(c, *k), &n, err);
		if (r < 0) {
			pve_buf_free(&b);
			return r;
		}
		ipconf ip = parse_ipconfig(s, get(c, ipkey));
		if (!ip.valid)
			continue;
		/* Proxmox reads the MAC address from a key parse_net never sets: it stays empty */
		const char *mac = "";
		if (*ip.ip) {
			enabled = true;
			if (streq(ip.ip, "dhcp")) {
				pve_buf_printf(&b, "ETH%s_DHCP=YES\n", id);
			} else {
				_cleanup_free_ char *addr = NULL, *mask = NULL;
				r = split_ip4(ip.ip, &addr, &mask, err);
				if (r < 0) {
					pve_buf_free(&b);
					return r;
				}
				pve_buf_printf(&b, "ETH%s_IP=%s\nETH%s_MASK=%s\nETH%s_MAC=%s\n", id,
					       addr, id, mask, id, mac);
				if (*ip.gw)
					pve_buf_printf(&b, "ETH%s_GATEWAY=%s\n", id, ip.gw);
			}
			if (n.mtu)
				pve_buf_printf(&b, "ETH%s_MTU=%d\n", id, n.mtu);
		}
		if (*ip.ip6) {
			enabled = true;
			if (streq(ip.ip6, "dhcp")) {
				pve_buf_printf(&b, "ETH%s_DHCP6=YES\n", id);
			} else if (streq(ip.ip6, "auto")) {
				pve_buf_printf(&b, "ETH%s_AUTO6=YES\n", id);
			} else {
				const char *slash = strchr(ip.ip6, '/');
				_cleanup_free_ char *addr = xstrndup(
					ip.ip6, slash ? (size_t)(slash - ip.ip6) : strlen(ip.ip6));
				pve_buf_printf(&b, "ETH%s_IP6=%s\nETH%s_MASK6=%s\nETH%s_MAC6=%s\n",
					       id, addr, id, slash ? slash + 1 : "", id, mac);
				if (*ip.gw6)
					pve_buf_printf(&b, "ETH%s_GATEWAY6=%s\n", id, ip.gw6);
			}
			if (n.mtu)
				pve_buf_printf(&b, "ETH%s_MTU=%d\n", id, n.mtu);
		}
	}
	if (enabled)
		pve_buf_puts(&b, "NETWORK=YES\n");
	*ret = pve_buf_steal(&b);
	return 0;
}

int kvm_cloudinit_network(const pve_config *c, const kvm_schema *s, const kvm_ci_dns *host,
			  char **ret, pve_error **err)
{
	const char *format = kvm_cloudinit_format(c);
	if (streq(format, "nocloud"))
		return nocloud_network(c, s, host, ret, err);
	bool cloudbase = streq(format, "configdrive2") && kvm_ostype_windows(get(c, "ostype"));
	return eni_network(c, s, host, cloudbase, ret, err);
}

static char *sha1_hex(const char *a, const char *b)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(ctx, a, strlen(a)) || !EVP_DigestUpdate(ctx, b, strlen(b)) ||
	    !EVP_DigestFinal_ex(ctx, md, &n))
		abort();
	EVP_MD_CTX_free(ctx);
	return pve_hex_encode(md, n, false);
}

char *kvm_cloudinit_meta_data(const pve_config *c, const char *user, const char *network)
{
	const char *format = kvm_cloudinit_format(c);
	_cleanup_free_ char *id = sha1_hex(user, network);
	if (streq(format, "nocloud"))
		return xasprintf("instance-id: %s\n", id);
	if (!kvm_ostype_windows(get(c, "ostype")))
		return xasprintf("{\n     \"uuid\": \"%s\",\n     \"network_config\": { "
				 "\"content_path\": \"/content/0000\" }\n}\n",
				 id);
	/* cloudbase-init's: the password and the keys go into the meta data */
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "uuid", id);
	cJSON *nc = cJSON_AddObjectToObject(o, "network_config");
	cJSON_AddStringToObject(nc, "content_path", "/content/0000");
	const char *password = get(c, "cipassword");
	if (password && *password && !streq(password, "0"))
		cJSON_AddStringToObject(o, "admin_pass", password);
	if (get(c, "sshkeys")) {
		_cleanup_strv_free_ char **keys = ssh_keys(c);
		cJSON *pk = keys[0] ? cJSON_AddObjectToObject(o, "public_keys") : NULL;
		for (size_t i = 0; keys[i]; i++) {
			char name[32];
			snprintf(name, sizeof(name), "key-%zu", i);
			cJSON_AddStringToObject(pk, name, keys[i]);
		}
	}
	char *text = pve_json_print(o);
	cJSON_Delete(o);
	return text;
}

int kvm_cloudinit_dump(const pve_config *c, const kvm_schema *s, long long vmid,
		       const kvm_ci_dns *host, const char *type, bool mask_password, char **ret,
		       pve_error **err)
{
	const char *format = kvm_cloudinit_format(c);
	bool nocloud = streq(format, "nocloud");
	if (streq(type, "user")) {
		*ret = kvm_cloudinit_user_data(c, vmid, mask_password);
		return 0;
	}
	/* Proxmox dumps the plain ENI and meta data for every other format, Windows' too */
	_cleanup_free_ char *network = NULL;
	int r = nocloud ? nocloud_network(c, s, host, &network, err) :
			  eni_network(c, s, host, false, &network, err);
	if (r < 0)
		return r;
	if (streq(type, "network")) {
		*ret = TAKE_PTR(network);
		return 0;
	}
	/* the instance id from the real password, as on the drive */
	_cleanup_free_ char *user = kvm_cloudinit_user_data(c, vmid, false);
	_cleanup_free_ char *id = sha1_hex(user, network);
	*ret = nocloud ? xasprintf("instance-id: %s\n", id) :
			 xasprintf("{\n     \"uuid\": \"%s\",\n     \"network_config\": { "
				   "\"content_path\": \"/content/0000\" }\n}\n",
				   id);
	return 0;
}

bool kvm_volume_is_cloudinit(const char *file)
{
	/* Proxmox's drive_is_cloudinit: [:/](vm-<id>-)?cloudinit(.<format>)? at the end */
	if (!file)
		return false;
	const char *p = strrchr(file, ':'), *slash = strrchr(file, '/');
	if (!p || (slash && slash > p))
		p = slash;
	if (!p)
		return false;
	p++;
	if (startswith(p, "vm-")) {
		const char *q = p + 3;
		size_t digits = strspn(q, "0123456789");
		if (digits > 0 && q[digits] == '-')
			p = q + digits + 1;
	}
	if (!startswith(p, "cloudinit"))
		return false;
	p += 9;
	if (!*p)
		return true;
	static const char *const formats[] = {
		".raw", ".qcow", ".qcow2", ".qed", ".vmdk", ".cloop"
	};
	for (size_t i = 0; i < ELEMENTSOF(formats); i++)
		if (streq(p, formats[i]))
			return true;
	return false;
}

/* ---- the drive's files ------------------------------------------------------------------------- */

void kvm_ci_files_clear(kvm_ci_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->files[i].content);
	*f = (kvm_ci_files){ 0 };
}

static void add_file(kvm_ci_files *f, const char *path, char *content)
{
	f->files[f->n].path = path;
	f->files[f->n].len = strlen(content);
	f->files[f->n++].content = content;
}

int kvm_cloudinit_files(const pve_config *c, const kvm_schema *s, long long vmid,
			const kvm_ci_dns *host, const char *const custom[KVM_CI_CUSTOM_COUNT],
			kvm_ci_files *ret, pve_error **err)
{
	const char *format = kvm_cloudinit_format(c);
	*ret = (kvm_ci_files){ 0 };
	if (streq(format, "opennebula")) {
		char *ctx = NULL;
		int r = opennebula_context(c, s, vmid, host, &ctx, err);
		if (r < 0)
			return r;
		ret->label = "CONTEXT";
		add_file(ret, "context.sh", ctx);
		return 0;
	}
	if (!streq(format, "nocloud") && !streq(format, "configdrive2"))
		return pve_error_set_param(err, EINVAL, "citype",
					   "missing cloudinit methods for format '%s'", format);
	char *user = custom[KVM_CI_USER] ? xstrdup(custom[KVM_CI_USER]) :
					   kvm_cloudinit_user_data(c, vmid, false);
	char *network = NULL;
	if (custom[KVM_CI_NETWORK]) {
		network = xstrdup(custom[KVM_CI_NETWORK]);
	} else {
		int r = kvm_cloudinit_network(c, s, host, &network, err);
		if (r < 0) {
			free(user);
			return r;
		}
	}
	char *vendor = xstrdup(custom[KVM_CI_VENDOR] ? custom[KVM_CI_VENDOR] : "");
	char *meta = custom[KVM_CI_META] ? xstrdup(custom[KVM_CI_META]) :
					   kvm_cloudinit_meta_data(c, user, network);
	/* the drive is 4 MiB; with the ISO's own overhead the files must stay below 3 MiB */
	size_t sum = strlen(user) + strlen(network) + strlen(meta) + strlen(vendor);
	if (sum > KVM_CI_MAX_FILES) {
		free(user), free(network), free(meta), free(vendor);
		return pve_error_set(err, EINVAL, "Cloud-Init sum of snippets too big (> 3 MiB)");
	}
	if (streq(format, "nocloud")) {
		ret->label = "cidata";
		add_file(ret, "user-data", user);
		add_file(ret, "network-config", network);
		add_file(ret, "meta-data", meta);
		add_file(ret, "vendor-data", vendor);
	} else {
		ret->label = "config-2";
		add_file(ret, "openstack/latest/user_data", user);
		add_file(ret, "openstack/content/0000", network);
		add_file(ret, "openstack/latest/meta_data.json", meta);
		add_file(ret, "openstack/latest/vendor_data.json", vendor);
	}
	return 0;
}

/* ---- the ISO ---------------------------------------------------------------------------------------- */

static int write_file(const char *dir, const kvm_ci_file *f, pve_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, f->path);
	_cleanup_free_ char *parent = xstrdup(path);
	*strrchr(parent, '/') = '\0';
	int r = pve_mkdir_p(parent, 0755, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return pve_error_set(err, errno, "can't create %s: %m", path);
	if (pve_write_all(fd, f->content, f->len) < 0)
		return pve_error_set(err, errno, "can't write %s: %m", path);
	return 0;
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (streq(e->d_name, ".") || streq(e->d_name, ".."))
				continue;
			_cleanup_free_ char *p = xasprintf("%s/%s", path, e->d_name);
			struct stat st;
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(p);
			else
				unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

/* Runs argv, its output (and errors) read into *ret_out; 0 when it exits 0. */
static int run_tool(char *const *argv, char **ret_out, pve_error **err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return pve_error_set(err, errno, "pipe: %m");
	_cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pve_spawn_opts o = { .path = argv[0],
			     .argv = argv,
			     .stdin_fd = null,
			     .stdout_fd = pipefd[1],
			     .stderr_fd = pipefd[1] };
	pid_t pid;
	int r = pve_spawn(&o, &pid, err);
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}
	pve_buf out = { 0 };
	char buf[4096];
	ssize_t n;
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && out.len < 64 * 1024)
			pve_buf_append(&out, buf, (size_t)n);
	close(pipefd[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*ret_out = out.data ? pve_buf_steal(&out) : xstrdup("");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return pve_error_set(err, EIO, "%s failed (%s %d): %s", argv[0],
				     WIFEXITED(st) ? "exit code" : "signal",
				     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), *ret_out);
	return 0;
}

int kvm_cloudinit_iso(const kvm_ci_files *f, const char *workdir, const char *out_path,
		      uint64_t size, pve_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/files", workdir);
	remove_tree(dir);
	if (mkdir(dir, 0700) < 0)
		return pve_error_set(err, errno, "can't create %s: %m", dir);
	int r = 0;
	for (size_t i = 0; i < f->n && r >= 0; i++)
		r = write_file(dir, &f->files[i], err);
	if (r >= 0) {
		/* Proxmox's genisoimage options; xorriso speaks them as mkisofs */
		const char *geniso[] = { "/usr/bin/genisoimage",
					 "-quiet",
					 "-iso-level",
					 "3",
					 "-J",
					 "-R",
					 "-V",
					 f->label,
					 "-o",
					 out_path,
					 dir,
					 NULL };
		const char *xorriso[] = { "/usr/bin/xorriso",
					  "-as",
					  "mkisofs",
					  "-quiet",
					  "-iso-level",
					  "3",
					  "-J",
					  "-R",
					  "-V",
					  f->label,
					  "-o",
					  out_path,
					  dir,
					  NULL };
		const char *const *argv = access(geniso[0], X_OK) == 0 ? geniso : xorriso;
		_cleanup_free_ char *out = NULL;
		unlink(out_path);
		r = run_tool((char *const *)argv, &out, err);
	}
	remove_tree(dir);
	if (r < 0)
		return r;
	/* the ISO fills the whole volume: what a former, longer image left there goes */
	struct stat st;
	if (stat(out_path, &st) < 0)
		return pve_error_set(err, errno, "can't stat %s: %m", out_path);
	if ((uint64_t)st.st_size > size)
		return pve_error_set(
			err, EFBIG,
			"the cloud-init image (%lld bytes) does not fit its volume (%" PRIu64
			" bytes)",
			(long long)st.st_size, size);
	if (truncate(out_path, (off_t)size) < 0)
		return pve_error_set(err, errno, "can't size %s: %m", out_path);
	return 0;
}
