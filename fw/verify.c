/* A rule's meaning checked as pve-firewall's verify_rule: each error names the parameter it is about,
 * so the API's 400 says which one is wrong. */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "fw/fw-internal.h"

static bool proto_has_ports(const char *proto)
{
	int n = pve_fw_proto_number(proto);
	return n == 6 || n == 17 || n == 33 || n == 132 || n == 136;
}

static bool proto_is_icmp(const char *proto)
{
	return proto &&
	       (streq(proto, "icmp") || streq(proto, "icmpv6") || streq(proto, "ipv6-icmp"));
}

/* The family of an address spec (0 when it says none), or an error naming param. */
static int check_addr(const char *param, const char *v, const pve_fw_file *cluster,
		      const pve_fw_file *local, int *family, pve_error **err)
{
	if (v[0] == '+') {
		const char *name = v + 1;
		bool dc = startswith(name, "dc/"), guest = startswith(name, "guest/");
		if (dc || guest)
			name = strchr(name, '/') + 1;
		if (!pve_fw_name_valid(name, PVE_FW_MAX_NAME))
			return pve_error_set_param(err, EINVAL, param, "invalid ipset name '%s'",
						   v);
		if (!(!guest && pve_fw_find_ipset(cluster, name)) &&
		    !(!dc && pve_fw_find_ipset(local, name)))
			return pve_error_set_param(err, EINVAL, param, "no such ipset '%s'", name);
		return 0;
	}
	const char *name = v;
	bool dc = startswith(name, "dc/"), guest = startswith(name, "guest/");
	if (dc || guest)
		name = strchr(name, '/') + 1;
	if (isalpha((unsigned char)name[0]) && !strchr(name, ':')) {
		if (!pve_fw_name_valid(name, PVE_FW_MAX_NAME))
			return pve_error_set_param(err, EINVAL, param, "invalid alias name '%s'",
						   v);
		const pve_fw_alias *a = NULL;
		if (!dc)
			a = pve_fw_find_alias(local, name);
		if (!a && !guest)
			a = pve_fw_find_alias(cluster, name);
		if (!a)
			return pve_error_set_param(err, EINVAL, param, "no such alias '%s'", v);
		int fam = 0;
		if (pve_fw_parse_cidr(a->cidr, NULL, &fam, NULL) == 0) {
			if (*family && fam != *family)
				return pve_error_set_param(
					err, EINVAL, param,
					"detected mixed ipv4/ipv6 addresses in rule");
			*family = fam;
		}
		return 0;
	}
	if (!*v || v[0] == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,"))
		return pve_error_set_param(err, EINVAL, param, "extraneous commas in list");
	_cleanup_strv_free_ char **elems = pve_strv_split(v, ",");
	size_t n = strv_length(elems);
	int fam = 0;
	bool range = false;
	for (size_t i = 0; i < n; i++) {
		int f;
		_cleanup_error_ pve_error *e = NULL;
		if (pve_fw_parse_addr_elem(elems[i], &f, &e) < 0)
			return pve_error_set_param(err, EINVAL, param, "invalid IP address: %s",
						   e->message);
		if (strchr(elems[i], '-'))
			range = true;
		if (fam && f != fam)
			return pve_error_set_param(err, EINVAL, param,
						   "detected mixed ipv4/ipv6 addresses in address "
						   "list '%s'",
						   v);
		fam = f;
	}
	if (range && n > 1)
		return pve_error_set_param(err, EINVAL, param, "you can't use a range in a list");
	if (*family && fam != *family)
		return pve_error_set_param(err, EINVAL, param,
					   "detected mixed ipv4/ipv6 addresses in rule");
	*family = fam;
	return 0;
}

static bool iface_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

int pve_fw_rule_verify(pve_fw_rule *r, pve_fw_kind env, bool in_group, const pve_fw_file *cluster,
		       const pve_fw_file *local, pve_error **err)
{
	if (!r->type)
		return pve_error_set_param(err, EINVAL, "type", "missing property");
	if (!r->action)
		return pve_error_set_param(err, EINVAL, "action", "missing property");
	bool group = streq(r->type, "group");
	if (group) {
		if (in_group)
			return pve_error_set_param(err, EINVAL, "type",
						   "security groups not allowed");
		if (!pve_fw_name_valid(r->action, PVE_FW_MAX_GROUP_NAME))
			return pve_error_set_param(err, EINVAL, "action",
						   "invalid characters in security group name");
		if (!pve_fw_find_group(cluster, r->action))
			return pve_error_set_param(err, EINVAL, "action",
						   "no such security group '%s'", r->action);
	} else if (streq(r->type, "in") || streq(r->type, "out") || streq(r->type, "forward")) {
		if (streq(r->type, "forward") && env == PVE_FW_VM)
			return pve_error_set_param(err, EINVAL, "type",
						   "invalid rule type 'forward' for rule_env 'vm'");
		if (!streq(r->action, "ACCEPT") && !streq(r->action, "DROP") &&
		    !streq(r->action, "REJECT"))
			return pve_error_set_param(err, EINVAL, "action", "unknown action '%s'",
						   r->action);
		if (streq(r->type, "forward") && streq(r->action, "REJECT"))
			return pve_error_set_param(err, EINVAL, "action",
						   "cannot define REJECT rules on forward chain");
	} else {
		return pve_error_set_param(err, EINVAL, "type", "unknown rule type '%s'", r->type);
	}
	if (r->iface) {
		if (!iface_valid(r->iface))
			return pve_error_set_param(err, EINVAL, "iface", "invalid format - %s",
						   r->iface);
		if (env == PVE_FW_VM) {
			unsigned long long n;
			if (!startswith(r->iface, "net") ||
			    pve_parse_uint(r->iface + 3, 31, &n) < 0)
				return pve_error_set_param(err, EINVAL, "iface",
							   "value does not match the regex pattern "
							   "'net\\d+'");
		}
	}
	if (r->log && !pve_fw_log_level_valid(r->log))
		return pve_error_set_param(err, EINVAL, "log", "unknown log level '%s'", r->log);
	if (group)
		return 0;
	const pve_fw_macro *m = NULL;
	if (r->macro) {
		m = pve_fw_macro_find(r->macro);
		if (!m)
			return pve_error_set_param(err, EINVAL, "macro", "unknown macro '%s'",
						   r->macro);
		if (!streq(m->name, r->macro)) {
			free(r->macro);
			r->macro = xstrdup(m->name);
		}
	}
	int family = 0;
	bool icmp = proto_is_icmp(r->proto);
	if (r->proto) {
		if (pve_fw_proto_number(r->proto) < 0)
			return pve_error_set_param(err, EINVAL, "proto", "unknown protocol '%s'",
						   r->proto);
		if (streq(r->proto, "icmp"))
			family = 4;
		else if (icmp)
			family = 6;
	}
	if (r->dport) {
		_cleanup_error_ pve_error *e = NULL;
		if (pve_fw_check_ports(r->dport, icmp, &e) < 0)
			return pve_error_set_param(err, EINVAL, "dport", "%s", e->message);
		if (!r->proto)
			return pve_error_set_param(err, EINVAL, "proto",
						   "missing property - 'dport' requires this "
						   "property");
		if (!proto_has_ports(r->proto) && !icmp)
			return pve_error_set_param(err, EINVAL, "dport",
						   "protocol '%s' does not support ports",
						   r->proto);
	}
	if (r->icmp_type) {
		if (!icmp)
			return pve_error_set_param(err, EINVAL, "proto",
						   "missing property - 'icmp-type' requires this "
						   "property");
		if (r->dport)
			return pve_error_set_param(err, EINVAL, "icmp-type",
						   "'icmp-type' cannot be specified together with "
						   "'dport'");
		if (pve_fw_icmp_type(r->icmp_type, family == 6, NULL) == -1)
			return pve_error_set_param(err, EINVAL, "icmp-type",
						   "invalid icmp-type '%s' for proto '%s'",
						   r->icmp_type, r->proto);
	}
	if (r->sport) {
		_cleanup_error_ pve_error *e = NULL;
		if (pve_fw_check_ports(r->sport, false, &e) < 0)
			return pve_error_set_param(err, EINVAL, "sport", "%s", e->message);
		if (!r->proto)
			return pve_error_set_param(err, EINVAL, "proto",
						   "missing property - 'sport' requires this "
						   "property");
		if (!proto_has_ports(r->proto))
			return pve_error_set_param(err, EINVAL, "sport",
						   "protocol '%s' does not support ports",
						   r->proto);
	}
	if (r->source) {
		int ret = check_addr("source", r->source, cluster, local, &family, err);
		if (ret < 0)
			return ret;
	}
	if (r->dest) {
		int ret = check_addr("dest", r->dest, cluster, local, &family, err);
		if (ret < 0)
			return ret;
	}
	if (m && m->v6_only && family == 4)
		return pve_error_set_param(err, EINVAL, "macro",
					   "macro '%s' is IPv6 only, the rule is IPv4", m->name);
	return 0;
}
