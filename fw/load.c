/* A node's firewall configuration read through a source (the config store): cluster.fw, host.fw, the
 * guests' configs for their NICs and their .fw files. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "fw/fw.h"

void pve_fw_config_free(pve_fw_config *c)
{
	if (!c)
		return;
	pve_fw_file_free(c->cluster);
	pve_fw_file_free(c->host);
	for (size_t i = 0; i < c->n_guests; i++) {
		free(c->guests[i].nics);
		pve_fw_file_free((pve_fw_file *)c->guests[i].fw);
	}
	free(c->guests);
	free(c);
}

static int load_file(const pve_fw_source *src, const char *path, pve_fw_kind kind,
		     pve_fw_file **ret, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	_cleanup_error_ pve_error *e = NULL;
	int r = src->read(src->ctx, path, &text, &len, &e);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return pve_error_set(err, e ? e->code : -r, "%s: %s", path,
				     e ? e->message : strerror(-r));
	pve_fw_file *f = NULL;
	r = pve_fw_parse(kind, text, len, &f, &e);
	if (r < 0)
		return pve_error_set(err, e->code, "%s: %s", path, e->message);
	*ret = f;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int pve_fw_guest_nics(unsigned vmid, const pve_config *conf, bool container, pve_fw_nic **ret,
		      size_t *ret_n)
{
	pve_fw_nic *nics = NULL;
	size_t n = 0;
	for (unsigned i = 0; i < 32; i++) {
		char key[8];
		snprintf(key, sizeof(key), "net%u", i);
		const char *v = pve_config_get(conf, NULL, key);
		if (!v)
			continue;
		pve_fw_nic nic = { .index = i };
		snprintf(nic.ifname, sizeof(nic.ifname), "%s%ui%u", container ? "veth" : "tap",
			 vmid, i);
		_cleanup_strv_free_ char **parts = pve_strv_split(v, ",");
		for (size_t j = 0; parts[j]; j++) {
			char *eq = strchr(parts[j], '=');
			if (!eq)
				continue;
			*eq = '\0';
			const char *k = parts[j], *val = eq + 1;
			if (streq(k, "firewall"))
				nic.firewall = streq(val, "1");
			else if (streq(k, "macaddr") || parse_mac(val, nic.mac) == 0)
				nic.has_mac = parse_mac(val, nic.mac) == 0;
		}
		nics = xrealloc(nics, (n + 1) * sizeof(*nics));
		nics[n++] = nic;
	}
	*ret = nics;
	*ret_n = n;
	return 0;
}

/* The guests of one config directory (nodes/<node>/qemu-server or lxc) with their .fw files. */
static int load_guests(const pve_fw_source *src, pve_fw_config *c, const char *dir, bool container,
		       pve_error **err)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_error_ pve_error *e = NULL;
	int r = src->list(src->ctx, dir, &names, &e);
	if (r < 0 && r != -ENOENT)
		return pve_error_set(err, -r, "%s: %s", dir, e ? e->message : strerror(-r));
	for (size_t i = 0; names && names[i]; i++) {
		unsigned long long vmid;
		if (!endswith(names[i], ".conf"))
			continue;
		_cleanup_free_ char *id = xstrndup(names[i], strlen(names[i]) - 5);
		if (pve_parse_uint(id, 999999999, &vmid) < 0 || vmid < 100)
			continue;
		if (c->n_guests >= PVE_FW_MAX_GUESTS)
			return pve_error_set(err, E2BIG, "more than %d guests", PVE_FW_MAX_GUESTS);
		_cleanup_free_ char *cpath = xasprintf("%s/%s", dir, names[i]);
		_cleanup_free_ char *text = NULL;
		size_t len;
		_cleanup_error_ pve_error *e2 = NULL;
		if (src->read(src->ctx, cpath, &text, &len, &e2) < 0)
			continue; /* removed meanwhile */
		_cleanup_config_ pve_config *conf = NULL;
		if (pve_config_parse(text, len, &conf, NULL) < 0)
			continue; /* the guest's area reports a broken config; its guest gets no rules */
		pve_fw_guest g = { .vmid = (unsigned)vmid };
		pve_fw_guest_nics(g.vmid, conf, container, &g.nics, &g.n_nics);
		_cleanup_free_ char *fwpath = xasprintf("firewall/%llu.fw", vmid);
		pve_fw_file *fw = NULL;
		r = load_file(src, fwpath, PVE_FW_VM, &fw, err);
		if (r < 0) {
			free(g.nics);
			return r;
		}
		g.fw = fw;
		c->guests = xrealloc(c->guests, (c->n_guests + 1) * sizeof(*c->guests));
		c->guests[c->n_guests++] = g;
	}
	return 0;
}

/* The guests' rules go to a bridge table where the kernel takes one; PVED_FW_GUEST_TABLE=inet keeps
 * them in the inet table (routed guests, as the integration test builds them on any kernel). */
static bool guests_bridged(void)
{
	const char *t = getenv("PVED_FW_GUEST_TABLE");
	if (t && streq(t, "inet"))
		return false;
	return pve_fw_bridge_supported();
}

/* The helpers host.fw names that this kernel lacks (probed once each). */
static unsigned ct_helpers_absent(const pve_fw_file *host)
{
	_cleanup_strv_free_ char **names =
		pve_strv_split(pve_fw_option_get(host, "nf_conntrack_helpers"), ",");
	unsigned absent = 0;
	for (size_t i = 0; pve_fw_ct_helper_names[i]; i++)
		if (strv_contains(names, pve_fw_ct_helper_names[i]) &&
		    !pve_fw_ct_helper_supported(pve_fw_ct_helper_names[i]))
			absent |= 1u << i;
	return absent;
}

int pve_fw_config_load(const pve_fw_source *src, const char *node, pve_fw_config **ret,
		       pve_error **err)
{
	_cleanup_fw_config_ pve_fw_config *c = xcalloc(1, sizeof(*c));
	int r = load_file(src, "firewall/cluster.fw", PVE_FW_CLUSTER, &c->cluster, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *hostpath = xasprintf("nodes/%s/host.fw", node);
	r = load_file(src, hostpath, PVE_FW_HOST, &c->host, err);
	if (r < 0)
		return r;
	/* VMs' NICs are taps, containers' veths; a vmid is one guest's on a node */
	_cleanup_free_ char *qdir = xasprintf("nodes/%s/qemu-server", node);
	_cleanup_free_ char *ldir = xasprintf("nodes/%s/lxc", node);
	r = load_guests(src, c, qdir, false, err);
	if (r == 0)
		r = load_guests(src, c, ldir, true, err);
	if (r < 0)
		return r;
	c->input = (pve_fw_input){ .cluster = c->cluster,
				   .host = c->host,
				   .guests = c->guests,
				   .n_guests = c->n_guests,
				   .bridge = guests_bridged(),
				   .ct_helpers_absent = ct_helpers_absent(c->host) };
	*ret = TAKE_PTR(c);
	return 0;
}
