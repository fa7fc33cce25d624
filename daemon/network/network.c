/* /nodes/{node}/network: the interfaces file's pending copy (interfaces.new) edited as Proxmox's
 * Network.pm does, listed with the kernel's links, reverted, and applied by the srvreload task. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "daemon/network/network-internal.h"

#define IFACES "etc/network/interfaces"
#define IFACES_NEW "etc/network/interfaces.new"
#define IFACES_LOCK "file-network_interfaces"

/* ---- the files ---------------------------------------------------------------------------------------- */

/* path's bytes, ENOENT when missing; at most PVE_NET_MAX_FILE. */
static int read_file(const char *path, char **ret, size_t *ret_len, pve_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return -ENOENT;
		return pve_error_set(err, e, "unable to open %s: %s", path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return pve_error_set(err, EIO, "%s is not a regular file", path);
	if (st.st_size > PVE_NET_MAX_FILE)
		return pve_error_set(err, E2BIG, "%s is larger than %d bytes", path,
				     PVE_NET_MAX_FILE);
	size_t len = (size_t)st.st_size;
	_cleanup_free_ char *buf = xmalloc(len + 1);
	ssize_t n = pve_read_full(fd, buf, len);
	if (n < 0 || (size_t)n != len)
		return pve_error_set(err, EIO, "unable to read %s", path);
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The pending copy if there is one, else the file in force; "" when neither exists. */
static int ifaces_read(pved *d, char **ret_text, size_t *ret_len,
		       char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	_cleanup_free_ char *pnew = pved_path(d, IFACES_NEW), *pcur = pved_path(d, IFACES);
	char *text = NULL;
	size_t len = 0;
	int r = read_file(pnew, &text, &len, err);
	if (r == -ENOENT)
		r = read_file(pcur, &text, &len, err);
	if (r == -ENOENT) {
		text = xstrdup("");
		r = 0;
	}
	if (r < 0)
		return r;
	pve_store_digest(text, len, ret_digest);
	*ret_text = text;
	*ret_len = len;
	return 0;
}

/* Edits go to the pending copy, if what is there is still what the edit read (all writers hold the
 * store lock: the compare and the write do not race). */
static int ifaces_write(pved *d, const char *text, size_t len, const char *expected_digest,
			pve_error **err)
{
	_cleanup_free_ char *cur = NULL;
	size_t cur_len;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	int r = ifaces_read(d, &cur, &cur_len, digest, err);
	if (r < 0)
		return r;
	if (expected_digest && strcmp(expected_digest, digest) != 0)
		return pve_error_set(err, ESTALE, PVED_CFGEDIT_MODIFIED);
	_cleanup_free_ char *path = pved_path(d, IFACES_NEW);
	return pve_write_file_atomic(path, text, len, 0644, err);
}

static int cfg_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	return pve_net_config_parse(text, len, (pve_net_config **)ret, err);
}

static char *cfg_print(const void *cfg)
{
	return pve_net_config_print(cfg);
}

static void cfg_free(void *cfg)
{
	pve_net_config_free(cfg);
}

static const pved_cfgfile ifaces_file = {
	.path = "/" IFACES,
	.lock = IFACES_LOCK,
	.parse = cfg_parse,
	.print = cfg_print,
	.free = cfg_free,
	.read = ifaces_read,
	.write = ifaces_write,
};

/* ---- the kernel's links, read off the loop ------------------------------------------------------------- */

typedef struct links {
	char **names;
	bool *up, *phys;
} links;

static void links_clear(links *l)
{
	strv_free(l->names);
	free(l->up);
	free(l->phys);
	*l = (links){ 0 };
}

static ssize_t links_find(const links *l, const char *name)
{
	for (size_t i = 0; l->names && l->names[i]; i++)
		if (streq(l->names[i], name))
			return (ssize_t)i;
	return -1;
}

static bool links_is_physical(const char *name, void *ud)
{
	const links *l = ud;
	ssize_t i = links_find(l, name);
	return i >= 0 && l->phys[i];
}

/* ---- GET /nodes/{node}/network ------------------------------------------------------------------------ */

typedef struct list_job {
	pved_call *c;
	links l;
	int r;
	pve_error *err;
} list_job;

static void list_work(void *arg)
{
	list_job *j = arg;
	j->r = pve_net_links(pved_network_netns(), &j->l.names, &j->l.up, &j->l.phys, &j->err);
}

/* A unified diff of a against b with the whole file as context: Proxmox's "changes". */
static char *diff_text(const char *a, const char *b)
{
	_cleanup_strv_free_ char **la = pve_strv_split(a, "\n"), **lb = pve_strv_split(b, "\n");
	size_t n = strv_length(la), m = strv_length(lb);
	if (n && !*la[n - 1])
		n--;
	if (m && !*lb[m - 1])
		m--;
	pve_buf out = { 0 };
	pve_buf_printf(&out, "--- /%s\n+++ /%s\n@@ -1,%zu +1,%zu @@\n", IFACES, IFACES_NEW, n, m);
	/* the longest common subsequence, for files of up to 1,000 lines each (2 MB of table, a few
	 * ms on the loop); longer ones are shown as replaced whole */
	if (n <= 1000 && m <= 1000) {
		uint16_t *t = xcalloc((n + 1) * (m + 1), sizeof(*t));
#define T(i, k) t[(i) * (m + 1) + (k)]
		for (size_t i = n; i-- > 0;)
			for (size_t k = m; k-- > 0;)
				T(i, k) = streq(la[i], lb[k])	    ? T(i + 1, k + 1) + 1 :
					  T(i + 1, k) > T(i, k + 1) ? T(i + 1, k) :
								      T(i, k + 1);
		size_t i = 0, k = 0;
		while (i < n || k < m) {
			if (i < n && k < m && streq(la[i], lb[k])) {
				pve_buf_printf(&out, " %s\n", la[i]);
				i++, k++;
			} else if (k < m && (i == n || T(i, k + 1) >= T(i + 1, k))) {
				pve_buf_printf(&out, "+%s\n", lb[k++]);
			} else {
				pve_buf_printf(&out, "-%s\n", la[i++]);
			}
		}
#undef T
		free(t);
	} else {
		for (size_t i = 0; i < n; i++)
			pve_buf_printf(&out, "-%s\n", la[i]);
		for (size_t k = 0; k < m; k++)
			pve_buf_printf(&out, "+%s\n", lb[k]);
	}
	return pve_buf_steal(&out);
}

/* Proxmox's "changes": the diff of the file in force against the pending copy, when there is one. */
static char *pending_changes(pved *d)
{
	_cleanup_free_ char *pnew = pved_path(d, IFACES_NEW), *pcur = pved_path(d, IFACES);
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t alen, blen;
	if (read_file(pnew, &b, &blen, NULL) < 0)
		return NULL;
	if (read_file(pcur, &a, &alen, NULL) < 0)
		a = xstrdup("");
	if (streq(a, b))
		return NULL;
	return diff_text(a, b);
}

static bool type_matches(const char *filter, const char *type)
{
	if (streq(filter, "any_bridge") || streq(filter, "any_local_bridge"))
		return streq(type, "bridge") || streq(type, "OVSBridge");
	if (streq(filter, "include_sdn"))
		return true;
	return streq(filter, type);
}

/* Bridges are listed to those who may use them (Proxmox's check_sdn_bridge on the local zone). */
static bool may_see_bridge(pved_call *c, const char *name)
{
	if (streq(c->authid, "root@pam"))
		return true;
	_cleanup_free_ char *path = xasprintf("/sdn/zones/localnetwork/%s", name);
	return pved_call_permitted(c, path, "SDN.Audit") || pved_call_permitted(c, path, "SDN.Use");
}

/* The list: the file's interfaces and the NICs it does not name, as Proxmox lists them. */
static cJSON *list_answer(pved_call *c, const pve_net_config *cfg, const links *l)
{
	const char *filter = pved_call_str(c, "type");
	_cleanup_strv_free_ char **names = pve_net_config_names(cfg);
	for (size_t i = 0; l->names[i]; i++)
		if (l->phys[i] && !strv_contains(names, l->names[i]))
			strv_push(&names, xstrdup(l->names[i]));
	cJSON *list = cJSON_CreateArray();
	for (char **n = names; *n; n++) {
		if (streq(*n, "lo"))
			continue;
		cJSON *o = pve_net_iface_describe(cfg, *n, links_is_physical, (void *)l);
		if (!o) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "eth");
			cJSON_AddStringToObject(o, "method", "manual");
			cJSON_AddStringToObject(o, "method6", "manual");
			cJSON *fam = cJSON_AddArrayToObject(o, "families");
			cJSON_AddItemToArray(fam, cJSON_CreateString("inet"));
		}
		const char *type = pve_json_str(o, "type");
		if ((filter && !type_matches(filter, type)) ||
		    (streq(type, "bridge") && !may_see_bridge(c, *n))) {
			cJSON_Delete(o);
			continue;
		}
		ssize_t li = links_find(l, *n);
		if (li >= 0 && l->phys[li])
			cJSON_AddNumberToObject(o, "exists", 1);
		if (li >= 0 && l->up[li])
			cJSON_AddNumberToObject(o, "active", 1);
		cJSON_AddStringToObject(o, "iface", *n);
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

static void list_done(void *arg)
{
	list_job *j = arg;
	pved_call *c = j->c;
	pve_error *err = TAKE_PTR(j->err);
	pve_net_config *cfg = NULL;
	int r = j->r;
	if (r >= 0)
		r = pved_cfgfile_read(c->d, &ifaces_file, (void **)&cfg, NULL, &err);
	if (r < 0) {
		links_clear(&j->l);
		free(j);
		return pved_call_fail(c, err);
	}
	cJSON *list = list_answer(c, cfg, &j->l);
	pve_net_config_free(cfg);
	links_clear(&j->l);
	free(j);
	cJSON *extra = NULL;
	_cleanup_free_ char *changes = pending_changes(c->d);
	if (changes) {
		extra = cJSON_CreateObject();
		cJSON_AddStringToObject(extra, "changes", changes);
	}
	pved_call_reply_with(c, list, extra);
}

static void h_index(pved_call *c)
{
	list_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	pve_error *err = NULL;
	if (pved_run_blocking(c->d, PVED_QUEUE_SCAN, list_work, list_done, j, &err) < 0) {
		free(j);
		pved_call_fail(c, err);
	}
}

/* ---- GET /nodes/{node}/network/{iface} ----------------------------------------------------------------- */

/* A NIC of the kernel that the file does not name, as Proxmox lists it. */
static cJSON *plain_nic(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "eth");
	cJSON_AddStringToObject(o, "method", "manual");
	cJSON_AddStringToObject(o, "method6", "manual");
	cJSON *fam = cJSON_AddArrayToObject(o, "families");
	cJSON_AddItemToArray(fam, cJSON_CreateString("inet"));
	cJSON_AddNumberToObject(o, "exists", 1);
	return o;
}

static void config_done(void *arg)
{
	list_job *j = arg;
	pved_call *c = j->c;
	pve_error *err = TAKE_PTR(j->err);
	ssize_t i = j->r >= 0 ? links_find(&j->l, pved_call_str(c, "iface")) : -1;
	bool nic = i >= 0 && j->l.phys[i];
	links_clear(&j->l);
	free(j);
	if (!err && !nic)
		pve_error_set_param(&err, EINVAL, "iface", "interface does not exist");
	if (!nic)
		return pved_call_fail(c, err);
	pve_error_free(err);
	pved_call_reply(c, plain_nic());
}

static void h_config(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_net_config_ pve_net_config *cfg = NULL;
	if (pved_cfgfile_read(c->d, &ifaces_file, (void **)&cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *o = pve_net_iface_describe(cfg, pved_call_str(c, "iface"), NULL, NULL);
	if (o)
		return pved_call_reply(c, o);
	/* not in the file: a NIC of the kernel, as Proxmox counts them among the interfaces */
	list_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	if (pved_run_blocking(c->d, PVED_QUEUE_SCAN, list_work, config_done, j, &err) < 0) {
		free(j);
		pved_call_fail(c, err);
	}
}

/* ---- edits: POST, PUT and DELETE of an interface ------------------------------------------------------ */

typedef struct net_edit {
	pved_call *c;
	/* what the check looks for in the kernel: names the file does not define, and the parameter
	 * and message naming each one that is missing */
	char **need;
	char **need_param;
	char **need_msg;
	const char *absent; /* a new interface: not a NIC of the kernel either */
} net_edit;

static void net_edit_free(net_edit *e)
{
	strv_free(e->need);
	strv_free(e->need_param);
	strv_free(e->need_msg);
	free(e);
}

static void need(net_edit *e, const char *name, const char *param, char *msg)
{
	strv_push(&e->need, xstrdup(name));
	strv_push(&e->need_param, xstrdup(param));
	strv_push(&e->need_msg, msg);
}

/* On the scan queue, the lock held: the ports the file does not define must be links of the kernel. */
static int ports_check(void *cfg, void *ud, pve_error **err)
{
	(void)cfg;
	net_edit *e = ud;
	if ((!e->need || !e->need[0]) && !e->absent)
		return 0;
	_cleanup_(links_clear) links l = { 0 };
	int r = pve_net_links(pved_network_netns(), &l.names, &l.up, &l.phys, err);
	if (r < 0)
		return r;
	ssize_t a = e->absent ? links_find(&l, e->absent) : -1;
	if (a >= 0 && l.phys[a])
		return pve_error_set_param(err, EINVAL, "iface", "interface already exists");
	for (size_t i = 0; e->need && e->need[i]; i++) {
		ssize_t k = links_find(&l, e->need[i]);
		/* an interface itself (not a port) must be a NIC: Proxmox counts no other link */
		if (k < 0 || (streq(e->need_param[i], "iface") && !l.phys[k]))
			return pve_error_set_param(err, EINVAL, e->need_param[i], "%s",
						   e->need_msg[i]);
	}
	return 0;
}

static void edit_done(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	net_edit *e = ud;
	pved_call *c = e->c;
	net_edit_free(e);
	if (r < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, NULL);
}

static void edit_run(pved_call *c, int (*change)(pved *, void *, void *, pve_error **))
{
	net_edit *e = xcalloc(1, sizeof(*e));
	e->c = c;
	pved_cfgedit ce = {
		.file = &ifaces_file,
		.change = change,
		.check = ports_check,
		.queue = PVED_QUEUE_SCAN,
		.done = edit_done,
	};
	pved_cfgedit_run(c->d, &ce, e);
}

static int netmask_to_prefix(const char *mask)
{
	struct in_addr a;
	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	uint32_t m = ntohl(a.s_addr);
	int bits = 0;
	while (bits < 32 && (m & (1u << (31 - bits))))
		bits++;
	if (bits < 32 && (m << bits) != 0)
		return -1;
	return bits;
}

/* Proxmox's check of a host IPv6 address: global, unique-local or link-local unicast. */
static int check_ipv6(const char *addr, pve_error **err)
{
	struct in6_addr a;
	if (inet_pton(AF_INET6, addr, &a) != 1)
		return pve_error_set_param(err, EINVAL, "address6",
					   "%s is not a valid host IPv6 address.", addr);
	const char *type = NULL;
	if (IN6_IS_ADDR_UNSPECIFIED(&a))
		type = "UNSPECIFIED";
	else if (IN6_IS_ADDR_LOOPBACK(&a))
		type = "LOOPBACK";
	else if (IN6_IS_ADDR_MULTICAST(&a))
		type = "MULTICAST";
	else if (IN6_IS_ADDR_V4MAPPED(&a))
		type = "IPV4MAP";
	if (type)
		return pve_error_set_param(
			err, EINVAL, "address6",
			"%s with type '%s', cannot be used as host IPv6 address.", addr, type);
	return 0;
}

/* The ports of a bridge or bond as given: split on Proxmox's list separators. */
static char **ports_of(const char *v)
{
	return pve_split_list(v ? v : "");
}

/* Refuses a gateway or a port another interface already has (Proxmox's check_duplicate*). */
static int check_duplicates(pved_call *c, pve_net_config *cfg, const char *iface, pve_error **err)
{
	_cleanup_strv_free_ char **names = pve_net_config_names(cfg);
	const char *pparam = pved_call_has(c, "bridge_ports") ? "bridge_ports" :
			     pved_call_has(c, "slaves")	      ? "slaves" :
								NULL;
	_cleanup_strv_free_ char **mine = ports_of(pparam ? pved_call_str(c, pparam) : NULL);
	for (char **n = names; *n; n++) {
		if (streq(*n, iface))
			continue;
		_cleanup_json_ cJSON *o = pve_net_iface_describe(cfg, *n, NULL, NULL);
		if (!o)
			continue;
		if (pved_call_has(c, "gateway") && pve_json_str(o, "gateway"))
			return pve_error_set_param(
				err, EINVAL, "gateway",
				"Default gateway already exists on interface '%s'.", *n);
		if (pved_call_has(c, "gateway6") && pve_json_str(o, "gateway6"))
			return pve_error_set_param(
				err, EINVAL, "gateway6",
				"Default ipv6 gateway already exists on interface '%s'.", *n);
		const char *keys[] = { "bridge_ports", "slaves" };
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			_cleanup_strv_free_ char **theirs = ports_of(pve_json_str(o, keys[i]));
			for (char **p = mine; *p; p++)
				if (strv_contains(theirs, *p))
					return pve_error_set_param(
						err, EINVAL, pparam,
						"%s is already used on interface '%s'.", *p, *n);
		}
	}
	return 0;
}

static bool is_bond_name(const char *n)
{
	return startswith(n, "bond") && n[4] && strspn(n + 4, "0123456789") == strlen(n + 4);
}

static bool is_vlan_n_name(const char *n)
{
	return startswith(n, "vlan") && n[4] && strspn(n + 4, "0123456789") == strlen(n + 4);
}

static int set(pve_net_config *cfg, const char *iface, const char *key, const char *v,
	       pve_error **err)
{
	return pve_net_iface_set(cfg, iface, key, v, err);
}

/* The settings of a create or an update, as Proxmox's Network.pm takes them. */
static int apply_params(net_edit *e, pve_net_config *cfg, const char *iface, const char *type,
			bool create, pve_error **err)
{
	pved_call *c = e->c;
	if (startswith(type, "OVS"))
		return pve_error_set_param(
			err, EINVAL, "type",
			"Open VSwitch is not installed (need package 'openvswitch-switch')");
	if (streq(type, "fabric") || streq(type, "vnet") || streq(type, "unknown"))
		return pve_error_set_param(err, EINVAL, "type",
					   "interfaces of type '%s' are not supported by pved",
					   type);
	if (create && streq(type, "bond") && !is_bond_name(iface))
		return pve_error_set_param(err, EINVAL, "iface",
					   "a bond's name must be bond<N>, not '%s'", iface);
	if (create && streq(type, "alias") && !strchr(iface, ':'))
		return pve_error_set_param(err, EINVAL, "iface",
					   "an alias's name must be <iface>:<N>, not '%s'", iface);
	for (const char *const *k = (const char *const[]){ "ovs_ports", "ovs_tag", "ovs_options",
							   "ovs_bridge", "ovs_bonds", NULL };
	     *k; k++)
		if (pved_call_has(c, *k))
			return pve_error_set_param(
				err, EINVAL, *k,
				"Open VSwitch is not installed (need package 'openvswitch-switch')");
	if (check_duplicates(c, cfg, iface, err) < 0)
		return -EINVAL;

	/* addresses: cidr or address and netmask, stored as ADDR/PREFIX */
	const char *cidr = pved_call_str(c, "cidr"), *addr = pved_call_str(c, "address");
	if (cidr && addr)
		return pve_error_set_param(err, EINVAL, "address", "address conflicts with cidr");
	if (cidr && pved_call_has(c, "netmask"))
		return pve_error_set_param(err, EINVAL, "netmask", "netmask conflicts with cidr");
	if (addr) {
		const char *mask = pved_call_str(c, "netmask");
		int bits = strspn(mask, "0123456789") == strlen(mask) ? atoi(mask) :
									netmask_to_prefix(mask);
		if (bits < 0 || bits > 32)
			return pve_error_set_param(err, EINVAL, "netmask", "invalid netmask '%s'",
						   mask);
		_cleanup_free_ char *v = xasprintf("%s/%d", addr, bits);
		if (set(cfg, iface, "address", v, err) < 0)
			return -EINVAL;
	} else if (cidr && set(cfg, iface, "address", cidr, err) < 0) {
		return -EINVAL;
	}
	const char *cidr6 = pved_call_str(c, "cidr6"), *addr6 = pved_call_str(c, "address6");
	if (cidr6 && addr6)
		return pve_error_set_param(err, EINVAL, "address6",
					   "address6 conflicts with cidr6");
	if (cidr6 && pved_call_has(c, "netmask6"))
		return pve_error_set_param(err, EINVAL, "netmask6",
					   "netmask6 conflicts with cidr6");
	_cleanup_free_ char *v6 =
		addr6 ? xasprintf("%s/%lld", addr6, pved_call_int(c, "netmask6", 0)) :
		cidr6 ? xstrdup(cidr6) :
			NULL;
	if (v6) {
		_cleanup_free_ char *a6 = xstrndup(v6, strcspn(v6, "/"));
		if (check_ipv6(a6, err) < 0 || set(cfg, iface, "address6", v6, err) < 0)
			return -EINVAL;
	}
	const char *simple[] = { "gateway",   "gateway6",     "comments",
				 "comments6", "bond-primary", "vlan-raw-device" };
	for (size_t i = 0; i < ELEMENTSOF(simple); i++)
		if (pved_call_has(c, simple[i]) &&
		    set(cfg, iface, simple[i], pved_call_str(c, simple[i]), err) < 0)
			return -EINVAL;
	const char *ints[] = { "mtu", "vlan-id" };
	for (size_t i = 0; i < ELEMENTSOF(ints); i++)
		if (pved_call_has(c, ints[i])) {
			_cleanup_free_ char *v = xasprintf("%lld", pved_call_int(c, ints[i], 0));
			if (set(cfg, iface, ints[i], v, err) < 0)
				return -EINVAL;
		}

	/* ports: space-separated, each a link the file defines or the kernel has */
	const char *pkeys[] = { "bridge_ports", "slaves" };
	for (size_t i = 0; i < ELEMENTSOF(pkeys); i++) {
		if (!pved_call_has(c, pkeys[i]) && !(create && streq(type, i ? "bond" : "bridge")))
			continue;
		_cleanup_strv_free_ char **ports = ports_of(pved_call_str(c, pkeys[i]));
		if (strv_length(ports) > PVE_NET_MAX_PORTS)
			return pve_error_set_param(err, E2BIG, pkeys[i], "more than %d ports",
						   PVE_NET_MAX_PORTS);
		for (char **p = ports; *p; p++) {
			if (streq(*p, iface))
				return pve_error_set_param(err, EINVAL, pkeys[i],
							   "'%s' cannot be a port of itself", *p);
			if (!pve_net_config_has(cfg, *p))
				need(e, *p, pkeys[i],
				     i ? xasprintf("bond '%s' - unable to find slave '%s'", iface,
						   *p) :
					 xasprintf("bridge '%s' - unable to find bridge port '%s'",
						   iface, *p));
		}
		_cleanup_free_ char *joined = pve_strv_join(ports, " ");
		if (set(cfg, iface, pkeys[i], *joined ? joined : "none", err) < 0)
			return -EINVAL;
	}
	if (create && streq(type, "bridge")) {
		if (set(cfg, iface, "bridge_stp", "off", err) < 0 ||
		    set(cfg, iface, "bridge_fd", "0", err) < 0)
			return -EINVAL;
	}
	if (pved_call_has(c, "bridge_vlan_aware")) {
		bool on = pved_call_int(c, "bridge_vlan_aware", 0) != 0;
		if (set(cfg, iface, "bridge_vlan_aware", on ? "yes" : NULL, err) < 0)
			return -EINVAL;
		_cleanup_json_ cJSON *o = pve_net_iface_describe(cfg, iface, NULL, NULL);
		if (on && !pved_call_has(c, "bridge_vids") && !pve_json_str(o, "bridge_vids") &&
		    set(cfg, iface, "bridge_vids", "2-4094", err) < 0)
			return -EINVAL;
	}
	if (pved_call_has(c, "bridge_vids")) {
		_cleanup_strv_free_ char **vids = pve_split_list(pved_call_str(c, "bridge_vids"));
		if (!vids[0])
			return pve_error_set_param(err, EINVAL, "bridge_vids",
						   "VLAN list items are empty");
		_cleanup_free_ char *joined = pve_strv_join(vids, " ");
		if (set(cfg, iface, "bridge_vids", joined, err) < 0)
			return -EINVAL;
	}
	if (create && streq(type, "bond")) {
		if (!pved_call_has(c, "bond_miimon") &&
		    set(cfg, iface, "bond_miimon", "100", err) < 0)
			return -EINVAL;
		if (!pved_call_has(c, "bond_mode") &&
		    set(cfg, iface, "bond_mode", "balance-rr", err) < 0)
			return -EINVAL;
	}
	if (pved_call_has(c, "bond_mode")) {
		const char *mode = pved_call_str(c, "bond_mode");
		if (startswith(mode, "lacp-") || streq(mode, "balance-slb"))
			return pve_error_set_param(err, EINVAL, "bond_mode",
						   "bond mode '%s' is one of Open vSwitch's", mode);
		if (set(cfg, iface, "bond_mode", mode, err) < 0)
			return -EINVAL;
	}
	if (pved_call_has(c, "bond_xmit_hash_policy")) {
		_cleanup_json_ cJSON *o = pve_net_iface_describe(cfg, iface, NULL, NULL);
		const char *mode = pve_json_str(o, "bond_mode");
		if (!mode || (!streq(mode, "balance-xor") && !streq(mode, "802.3ad")))
			return pve_error_set_param(
				err, EINVAL, "bond_xmit_hash_policy",
				"a transmit hash policy needs bond mode balance-xor or 802.3ad");
		if (set(cfg, iface, "bond_xmit_hash_policy",
			pved_call_str(c, "bond_xmit_hash_policy"), err) < 0)
			return -EINVAL;
	}

	/* VLANs: NAME.N, vlanN with vlan-raw-device, or a name of its own with both */
	if (streq(type, "vlan")) {
		_cleanup_json_ cJSON *o = pve_net_iface_describe(cfg, iface, NULL, NULL);
		const char *raw = pve_json_str(o, "vlan-raw-device");
		if (!raw)
			return pve_error_set_param(err, EINVAL, "vlan-raw-device",
						   "missing vlan-raw-device option");
		long long id = 0;
		if (!pve_json_int(o, "vlan-id", &id) || id < 1 || id > 4094)
			return pve_error_set_param(err, EINVAL, "vlan-id",
						   "vlan '%s' needs a vlan-id from 1 to 4094",
						   iface);
		if (!is_vlan_n_name(iface) && !strchr(iface, '.') && !pved_call_has(c, "vlan-id") &&
		    create)
			return pve_error_set_param(err, EINVAL, "vlan-id",
						   "missing vlan-id option");
		if (!pve_net_config_has(cfg, raw))
			need(e, raw, "vlan-raw-device",
			     xasprintf("vlan '%s' - unable to find parent '%s'", iface, raw));
	}

	if (pved_call_has(c, "autostart"))
		pve_net_iface_set_autostart(cfg, iface, pved_call_int(c, "autostart", 0) != 0);
	pve_net_iface_fix_methods(cfg, iface);
	return 0;
}

static int create_change(pved *d, void *cfgp, void *ud, pve_error **err)
{
	(void)d;
	net_edit *e = ud;
	pve_net_config *cfg = cfgp;
	const char *iface = pved_call_str(e->c, "iface"), *type = pved_call_str(e->c, "type");
	if (pve_net_config_has(cfg, iface))
		return pve_error_set_param(err, EINVAL, "iface", "interface already exists");
	e->absent = iface;
	if (pve_net_iface_add(cfg, iface, pved_call_int(e->c, "autostart", 0) != 0, err) < 0)
		return -EINVAL;
	return apply_params(e, cfg, iface, type, true, err);
}

static void h_create(pved_call *c)
{
	edit_run(c, create_change);
}

static int update_change(pved *d, void *cfgp, void *ud, pve_error **err)
{
	(void)d;
	net_edit *e = ud;
	pved_call *c = e->c;
	pve_net_config *cfg = cfgp;
	const char *iface = pved_call_str(c, "iface");
	/* a NIC the file does not name gets a stanza, if the kernel has it (the check asks) */
	if (!pve_net_config_has(cfg, iface)) {
		if (pve_net_iface_add(cfg, iface, false, err) < 0)
			return -EINVAL;
		need(e, iface, "iface", xstrdup("interface does not exist"));
	}
	/* an interface named only on an auto line gets a stanza of its own */
	_cleanup_json_ cJSON *o = pve_net_iface_describe(cfg, iface, NULL, NULL);
	if (!pve_json_int(o, "priority", &(long long){ 0 }) &&
	    pve_net_iface_add(cfg, iface, true, err) < 0)
		return -EINVAL;
	_cleanup_strv_free_ char **del =
		pve_split_list(pved_call_str(c, "delete") ? pved_call_str(c, "delete") : "");
	for (char **k = del; *k; k++) {
		if (pved_call_has(c, *k))
			return pve_error_set_param(
				err, EINVAL, "delete",
				"cannot set and delete property '%s' at the same time", *k);
		if (streq(*k, "autostart")) {
			pve_net_iface_set_autostart(cfg, iface, false);
			continue;
		}
		const char *key = streq(*k, "cidr")  ? "address" :
				  streq(*k, "cidr6") ? "address6" :
						       *k;
		if (streq(key, "netmask") || streq(key, "netmask6") || streq(key, "families") ||
		    streq(key, "type"))
			continue;
		if (pve_net_iface_set(cfg, iface, key, NULL, err) < 0) {
			pve_error_free(*err);
			*err = NULL;
			return pve_error_set_param(err, EINVAL, "delete", "unknown setting '%s'",
						   *k);
		}
	}
	const char *type = pved_call_str(c, "type");
	const char *have = pve_json_str(o, "type");
	/* The type is the one the file gives it (Proxmox's GUI sends it back unchanged) */
	return apply_params(e, cfg, iface, have && !streq(have, "unknown") ? have : type, false,
			    err);
}

static void h_update(pved_call *c)
{
	edit_run(c, update_change);
}

static int delete_change(pved *d, void *cfgp, void *ud, pve_error **err)
{
	(void)d;
	net_edit *e = ud;
	const char *iface = pved_call_str(e->c, "iface");
	if (!pve_net_config_has(cfgp, iface))
		return pve_error_set_param(err, EINVAL, "iface", "interface does not exist");
	pve_net_iface_remove(cfgp, iface);
	return 0;
}

static void h_delete(pved_call *c)
{
	edit_run(c, delete_change);
}

/* ---- DELETE /nodes/{node}/network: the pending copy goes ------------------------------------------- */

static int revert_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d, (void)cfg, (void)ud, (void)err;
	return PVED_CFGEDIT_KEEP;
}

static int revert_also(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)cfg, (void)ud;
	_cleanup_free_ char *path = pved_path(d, IFACES_NEW);
	if (unlink(path) < 0 && errno != ENOENT)
		return pve_error_set(err, errno, "unable to remove %s: %m", path);
	return 0;
}

static void h_revert(pved_call *c)
{
	net_edit *e = xcalloc(1, sizeof(*e));
	e->c = c;
	pved_cfgedit ce = {
		.file = &ifaces_file,
		.change = revert_change,
		.also = revert_also,
		.done = edit_done,
	};
	pved_cfgedit_run(c->d, &ce, e);
}

/* ---- PUT /nodes/{node}/network: the srvreload task ---------------------------------------------------- */

static void h_reload(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(c->d, "srvreload", "networking", c->authid, NULL, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static int parse_or_empty(const char *path, pve_net_config **ret, bool *ret_exists, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_file(path, &text, &len, err);
	*ret_exists = r == 0;
	if (r == -ENOENT) {
		text = xstrdup("");
		r = 0;
	}
	if (r < 0)
		return r;
	r = pve_net_config_parse(text, len, ret, err);
	if (r < 0)
		pve_error_prefix(*err, "%s: ", path);
	return r;
}

/* In the worker, the lock held: the pending copy applied against the file in force, and made the file
 * in force only once the kernel took it; a failure puts back what was applied and keeps it pending. */
static int reload_task(pved *d, const cJSON *args, pve_error **err)
{
	(void)args;
	pve_store_lock *lock = NULL;
	int r = pve_store_lock_acquire(d->store, IFACES_LOCK, PVED_CFGEDIT_LOCK_TIMEOUT_MS, &lock,
				       err);
	if (r < 0)
		return r;
	_cleanup_free_ char *pcur = pved_path(d, IFACES), *pnew = pved_path(d, IFACES_NEW);
	_cleanup_net_config_ pve_net_config *cur = NULL, *pending = NULL;
	bool cur_exists, new_exists;
	const char *netns = pved_network_netns();
	r = parse_or_empty(pcur, &cur, &cur_exists, err);
	if (r >= 0)
		r = parse_or_empty(pnew, &pending, &new_exists, err);
	if (r >= 0 && netns)
		printf("network namespace %s\n", netns);
	if (r >= 0) {
		r = pve_net_apply(cur, new_exists ? pending : cur, netns, stdout, err);
		if (r < 0 && new_exists) {
			printf("applying failed: %s; restoring the configuration in force\n",
			       (*err)->message);
			pve_error *e2 = NULL;
			if (pve_net_apply(pending, cur, netns, stdout, &e2) < 0) {
				printf("restoring failed too: %s\n", e2->message);
				pve_error_free(e2);
			}
		}
	}
	if (r >= 0 && new_exists && rename(pnew, pcur) < 0)
		r = pve_error_set(err, errno, "unable to rename %s: %m", pnew);
	fflush(stdout);
	pve_store_unlock(lock);
	return r < 0 ? r : 0;
}

const pved_task_kind pved_tasks_network[] = {
	{ "srvreload", reload_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_network[] = {
	{ "network_index", h_index },	{ "network_create", h_create },
	{ "network_reload", h_reload }, { "network_revert", h_revert },
	{ "network_config", h_config }, { "network_update", h_update },
	{ "network_delete", h_delete }, { NULL, NULL },
};
