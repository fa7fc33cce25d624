/* The .fw files: parsed line by line as pve-firewall's generic_fw_config_parser reads them, and
 * printed as its save_*fw_conf writes them, so parse, print, parse is the identity. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "fw/fw-internal.h"

pve_fw_file *pve_fw_file_new(pve_fw_kind kind)
{
	pve_fw_file *f = xcalloc(1, sizeof(*f));
	f->kind = kind;
	return f;
}

void pve_fw_rule_clear(pve_fw_rule *r)
{
	if (!r)
		return;
	free(r->type);
	free(r->action);
	free(r->macro);
	free(r->iface);
	free(r->source);
	free(r->dest);
	free(r->proto);
	free(r->dport);
	free(r->sport);
	free(r->icmp_type);
	free(r->log);
	free(r->comment);
	memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void pve_fw_rule_copy(pve_fw_rule *dst, const pve_fw_rule *src)
{
	dst->type = dup_or_null(src->type);
	dst->action = dup_or_null(src->action);
	dst->macro = dup_or_null(src->macro);
	dst->enable = src->enable;
	dst->iface = dup_or_null(src->iface);
	dst->source = dup_or_null(src->source);
	dst->dest = dup_or_null(src->dest);
	dst->proto = dup_or_null(src->proto);
	dst->dport = dup_or_null(src->dport);
	dst->sport = dup_or_null(src->sport);
	dst->icmp_type = dup_or_null(src->icmp_type);
	dst->log = dup_or_null(src->log);
	dst->comment = dup_or_null(src->comment);
}

static void ipset_clear(pve_fw_ipset *s)
{
	free(s->name);
	free(s->comment);
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].cidr);
		free(s->entries[i].comment);
	}
	free(s->entries);
}

static void group_clear(pve_fw_group *g)
{
	free(g->name);
	free(g->comment);
	for (size_t i = 0; i < g->n_rules; i++)
		pve_fw_rule_clear(&g->rules[i]);
	free(g->rules);
}

void pve_fw_file_free(pve_fw_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_options; i++) {
		free(f->options[i].key);
		free(f->options[i].value);
	}
	free(f->options);
	for (size_t i = 0; i < f->n_aliases; i++) {
		free(f->aliases[i].name);
		free(f->aliases[i].cidr);
		free(f->aliases[i].comment);
	}
	free(f->aliases);
	for (size_t i = 0; i < f->n_ipsets; i++)
		ipset_clear(&f->ipsets[i]);
	free(f->ipsets);
	for (size_t i = 0; i < f->n_rules; i++)
		pve_fw_rule_clear(&f->rules[i]);
	free(f->rules);
	for (size_t i = 0; i < f->n_groups; i++)
		group_clear(&f->groups[i]);
	free(f->groups);
	free(f);
}

/* ----- Options ----- */

enum opt_type { OPT_BOOL, OPT_UINT, OPT_POLICY, OPT_LOGLEVEL, OPT_WORD, OPT_HELPERS };

typedef struct {
	const char *name;
	enum opt_type type;
} opt_def;

static const opt_def cluster_opts[] = {
	{ "enable", OPT_UINT },
	{ "ebtables", OPT_BOOL },
	{ "policy_in", OPT_POLICY },
	{ "policy_out", OPT_POLICY },
	{ "policy_forward", OPT_POLICY },
	{ "log_ratelimit", OPT_WORD },
	{ NULL, 0 },
};
static const opt_def host_opts[] = {
	{ "enable", OPT_BOOL },
	{ "nosmurfs", OPT_BOOL },
	{ "tcpflags", OPT_BOOL },
	{ "ndp", OPT_BOOL },
	{ "log_nf_conntrack", OPT_BOOL },
	{ "nf_conntrack_allow_invalid", OPT_BOOL },
	{ "protection_synflood", OPT_BOOL },
	{ "nftables", OPT_BOOL },
	{ "log_level_in", OPT_LOGLEVEL },
	{ "log_level_out", OPT_LOGLEVEL },
	{ "log_level_forward", OPT_LOGLEVEL },
	{ "tcp_flags_log_level", OPT_LOGLEVEL },
	{ "smurf_log_level", OPT_LOGLEVEL },
	{ "nf_conntrack_helpers", OPT_HELPERS },
	{ "nf_conntrack_max", OPT_UINT },
	{ "nf_conntrack_tcp_timeout_established", OPT_UINT },
	{ "nf_conntrack_tcp_timeout_syn_recv", OPT_UINT },
	{ "protection_synflood_rate", OPT_UINT },
	{ "protection_synflood_burst", OPT_UINT },
	{ "protection_limit", OPT_UINT },
	{ NULL, 0 },
};
static const opt_def vm_opts[] = {
	{ "enable", OPT_BOOL },
	{ "dhcp", OPT_BOOL },
	{ "ndp", OPT_BOOL },
	{ "radv", OPT_BOOL },
	{ "macfilter", OPT_BOOL },
	{ "ipfilter", OPT_BOOL },
	{ "ips", OPT_BOOL },
	{ "log_level_in", OPT_LOGLEVEL },
	{ "log_level_out", OPT_LOGLEVEL },
	{ "policy_in", OPT_POLICY },
	{ "policy_out", OPT_POLICY },
	{ "ips_queues", OPT_WORD },
	{ "layer2_protocols", OPT_WORD },
	{ NULL, 0 },
};

static const opt_def *opts_of(pve_fw_kind kind)
{
	return kind == PVE_FW_CLUSTER ? cluster_opts : kind == PVE_FW_HOST ? host_opts : vm_opts;
}

static const char *const cluster_opt_names[] = { "enable",     "ebtables",	 "policy_in",
						 "policy_out", "policy_forward", "log_ratelimit",
						 NULL };
static const char *const host_opt_names[] = { "enable",
					      "nosmurfs",
					      "tcpflags",
					      "ndp",
					      "log_nf_conntrack",
					      "nf_conntrack_allow_invalid",
					      "protection_synflood",
					      "nftables",
					      "log_level_in",
					      "log_level_out",
					      "log_level_forward",
					      "tcp_flags_log_level",
					      "smurf_log_level",
					      "nf_conntrack_helpers",
					      "nf_conntrack_max",
					      "nf_conntrack_tcp_timeout_established",
					      "nf_conntrack_tcp_timeout_syn_recv",
					      "protection_synflood_rate",
					      "protection_synflood_burst",
					      "protection_limit",
					      NULL };
static const char *const vm_opt_names[] = {
	"enable",	    "dhcp",	 "ndp",	       "radv",
	"macfilter",	    "ipfilter",	 "ips",	       "log_level_in",
	"log_level_out",    "policy_in", "policy_out", "ips_queues",
	"layer2_protocols", NULL
};

const char *const *pve_fw_option_names(pve_fw_kind kind)
{
	return kind == PVE_FW_CLUSTER ? cluster_opt_names :
	       kind == PVE_FW_HOST    ? host_opt_names :
					vm_opt_names;
}

static const char *const log_levels[] = { "emerg",  "alert", "crit",  "err",   "warning",
					  "notice", "info",  "debug", "nolog", NULL };

bool pve_fw_log_level_valid(const char *s)
{
	for (size_t i = 0; log_levels[i]; i++)
		if (streq(log_levels[i], s))
			return true;
	return false;
}

/* Proxmox's list; fw_ct_helper_defs (compile.c) says how each is assigned, in the same order. */
const char *const pve_fw_ct_helper_names[] = { "amanda", "ftp", "irc",	"netbios-ns", "pptp",
					       "sane",	 "sip", "snmp", "tftp",	      NULL };

int pve_fw_option_check(pve_fw_kind kind, const char *key, const char *value, char **ret_value,
			pve_error **err)
{
	const opt_def *d = opts_of(kind);
	while (d->name && strcasecmp(d->name, key) != 0)
		d++;
	if (!d->name)
		return pve_error_set_param(err, EINVAL, key, "unknown option '%s'", key);
	_cleanup_free_ char *v = NULL;
	unsigned long long n;
	switch (d->type) {
	case OPT_BOOL:
		if (!streq(value, "0") && !streq(value, "1"))
			return pve_error_set_param(err, EINVAL, d->name, "value '%s' is not 0 or 1",
						   value);
		v = xstrdup(value);
		break;
	case OPT_UINT:
		if (pve_parse_uint(value, UINT32_MAX, &n) < 0)
			return pve_error_set_param(err, EINVAL, d->name,
						   "value '%s' is not a number", value);
		v = xasprintf("%llu", n);
		break;
	case OPT_POLICY:
		if (strcasecmp(value, "ACCEPT") != 0 && strcasecmp(value, "DROP") != 0 &&
		    strcasecmp(value, "REJECT") != 0)
			return pve_error_set_param(err, EINVAL, d->name,
						   "value '%s' is not ACCEPT, DROP or REJECT",
						   value);
		v = xstrdup(value);
		for (char *p = v; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		break;
	case OPT_LOGLEVEL:
		v = xstrdup(value);
		for (char *p = v; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (*v && !pve_fw_log_level_valid(v))
			return pve_error_set_param(err, EINVAL, d->name, "unknown log level '%s'",
						   value);
		break;
	case OPT_HELPERS: {
		v = xstrdup(value);
		for (char *p = v; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		_cleanup_strv_free_ char **list = pve_strv_split(v, ",");
		_cleanup_free_ char *joined = pve_strv_join(list, ",");
		if (!streq(joined, v))
			return pve_error_set_param(err, EINVAL, d->name,
						   "extraneous commas in list");
		for (size_t i = 0; list && list[i]; i++) {
			size_t j = 0;
			while (pve_fw_ct_helper_names[j] &&
			       !streq(pve_fw_ct_helper_names[j], list[i]))
				j++;
			if (!pve_fw_ct_helper_names[j])
				return pve_error_set_param(err, EINVAL, d->name,
							   "unknown helper %s", list[i]);
		}
		break;
	}
	case OPT_WORD:
		if (!*value || strpbrk(value, " \t\r\n#"))
			return pve_error_set_param(err, EINVAL, d->name, "invalid value '%s'",
						   value);
		v = xstrdup(value);
		break;
	}
	if (strlen(v) > PVE_FW_MAX_FIELD)
		return pve_error_set_param(err, E2BIG, d->name, "value too long");
	*ret_value = TAKE_PTR(v);
	return 0;
}

const char *pve_fw_option_get(const pve_fw_file *f, const char *key)
{
	for (size_t i = 0; f && i < f->n_options; i++)
		if (streq(f->options[i].key, key))
			return f->options[i].value;
	return NULL;
}

long long pve_fw_option_int(const pve_fw_file *f, const char *key, long long def)
{
	const char *v = pve_fw_option_get(f, key);
	long long n;
	if (!v || !*v || pve_parse_int(v, 0, INT64_MAX, &n) < 0)
		return def;
	return n;
}

int pve_fw_option_set(pve_fw_file *f, const char *key, const char *value, pve_error **err)
{
	_cleanup_free_ char *lkey = xstrdup(key);
	for (char *p = lkey; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	size_t i = 0;
	while (i < f->n_options && !streq(f->options[i].key, lkey))
		i++;
	if (!value) {
		if (i < f->n_options) {
			free(f->options[i].key);
			free(f->options[i].value);
			memmove(&f->options[i], &f->options[i + 1],
				(f->n_options - i - 1) * sizeof(*f->options));
			f->n_options--;
		}
		return 0;
	}
	char *v = NULL;
	int r = pve_fw_option_check(f->kind, lkey, value, &v, err);
	if (r < 0)
		return r;
	if (i < f->n_options) {
		free(f->options[i].value);
		f->options[i].value = v;
		return 0;
	}
	f->options = xrealloc(f->options, (f->n_options + 1) * sizeof(*f->options));
	f->options[f->n_options++] = (pve_fw_option){ TAKE_PTR(lkey), v };
	return 0;
}

/* ----- Names ----- */

/* Proxmox's [A-Za-z][A-Za-z0-9\-\_]+ for ipset, alias and group names. */
bool pve_fw_name_valid(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n < 2 || n > max || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static char *lower_dup(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

pve_fw_ipset *pve_fw_find_ipset(const pve_fw_file *f, const char *name)
{
	for (size_t i = 0; f && i < f->n_ipsets; i++)
		if (strcasecmp(f->ipsets[i].name, name) == 0)
			return &f->ipsets[i];
	return NULL;
}

pve_fw_alias *pve_fw_find_alias(const pve_fw_file *f, const char *name)
{
	for (size_t i = 0; f && i < f->n_aliases; i++)
		if (strcasecmp(f->aliases[i].name, name) == 0)
			return &f->aliases[i];
	return NULL;
}

pve_fw_group *pve_fw_find_group(const pve_fw_file *f, const char *name)
{
	for (size_t i = 0; f && i < f->n_groups; i++)
		if (strcasecmp(f->groups[i].name, name) == 0)
			return &f->groups[i];
	return NULL;
}

/* ----- Addresses and ports ----- */

int pve_fw_parse_cidr(const char *s, char **ret_cidr, int *ret_family, pve_error **err)
{
	if (strlen(s) > 64)
		return pve_error_set(err, EINVAL,
				     "value does not look like a valid IP address or CIDR network");
	char addr[65];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	unsigned char buf[16];
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, addr, buf) != 1)
		return pve_error_set(err, EINVAL,
				     "value does not look like a valid IP address or CIDR network");
	unsigned long long prefix = family == AF_INET ? 32 : 128;
	if (slash && pve_parse_uint(slash + 1, family == AF_INET ? 32 : 128, &prefix) < 0)
		return pve_error_set(err, EINVAL,
				     "value does not look like a valid IP address or CIDR network");
	if (ret_cidr) {
		bool full = prefix == (family == AF_INET ? 32u : 128u);
		*ret_cidr = full ? xstrdup(addr) : xstrdup(s);
	}
	if (ret_family)
		*ret_family = family == AF_INET ? 4 : 6;
	return 0;
}

/* One element of an address list: an address, a network or a range a-b; its family (4, 6). */
int pve_fw_parse_addr_elem(const char *s, int *ret_family, pve_error **err)
{
	const char *dash = strchr(s, '-');
	if (!dash)
		return pve_fw_parse_cidr(s, NULL, ret_family, err);
	char a[65], b[65];
	size_t alen = (size_t)(dash - s), blen = strlen(dash + 1);
	if (alen == 0 || alen > 64 || blen == 0 || blen > 64)
		return pve_error_set(err, EINVAL, "invalid IP address: '%s'", s);
	memcpy(a, s, alen);
	a[alen] = '\0';
	memcpy(b, dash + 1, blen + 1);
	unsigned char x[16], y[16];
	int family = strchr(a, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, a, x) != 1 || inet_pton(family, b, y) != 1)
		return pve_error_set(err, EINVAL, "invalid IP address: '%s'", s);
	if (memcmp(x, y, family == AF_INET ? 4 : 16) > 0)
		return pve_error_set(err, EINVAL, "invalid IP range '%s': begin after end", s);
	*ret_family = family == AF_INET ? 4 : 6;
	return 0;
}

int pve_fw_check_ports(const char *s, bool dport_icmp_names, pve_error **err)
{
	if (!*s || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return pve_error_set(err, EINVAL, "extraneous commas in list");
	_cleanup_strv_free_ char **items = pve_strv_split(s, ",");
	unsigned count = 0;
	bool icmp = false;
	for (size_t i = 0; items[i]; i++) {
		const char *it = items[i];
		const char *colon = strchr(it, ':');
		unsigned long long a, b;
		if (colon && isdigit((unsigned char)it[0])) {
			_cleanup_free_ char *first = xstrndup(it, (size_t)(colon - it));
			if (pve_parse_uint(first, UINT32_MAX, &a) < 0 ||
			    pve_parse_uint(colon + 1, UINT32_MAX, &b) < 0)
				return pve_error_set(err, EINVAL, "invalid port '%s'", it);
			if (a > 65535)
				return pve_error_set(err, EINVAL, "invalid port '%llu'", a);
			if (b > 65535)
				return pve_error_set(err, EINVAL, "invalid port '%llu'", b);
			if (a > b)
				return pve_error_set(err, EINVAL,
						     "backwards range '%llu:%llu' not allowed, did "
						     "you mean '%llu:%llu'?",
						     a, b, b, a);
			count += 2;
		} else if (isdigit((unsigned char)it[0])) {
			if (pve_parse_uint(it, UINT32_MAX, &a) < 0)
				return pve_error_set(err, EINVAL, "invalid port '%s'", it);
			if (a > 65535)
				return pve_error_set(err, EINVAL, "invalid port '%llu'", a);
			count++;
		} else if (dport_icmp_names && (pve_fw_icmp_type(it, false, NULL) != -1 ||
						pve_fw_icmp_type(it, true, NULL) != -1)) {
			icmp = true;
		} else if (pve_fw_service_port(it) < 0) {
			return pve_error_set(err, EINVAL, "invalid port '%s'", it);
		} else {
			count++;
		}
	}
	if (icmp && count > 0)
		return pve_error_set(err, EINVAL, "ICMP ports not allowed in port range");
	if (count > PVE_FW_MAX_PORTS)
		return pve_error_set(err, EINVAL, "too many entries in port list (> 15 numbers)");
	return 0;
}

/* ----- Rules ----- */

/* Splits "text # comment" at the first '#', both trimmed; ret_comment is NULL when none. */
static void split_comment(char *line, char **ret_comment)
{
	*ret_comment = NULL;
	char *hash = strchr(line, '#');
	if (!hash)
		return;
	*hash = '\0';
	char *c = hash + 1;
	while (isspace((unsigned char)*c))
		c++;
	size_t n = strlen(c);
	while (n && isspace((unsigned char)c[n - 1]))
		c[--n] = '\0';
	*ret_comment = xstrdup(c);
	n = strlen(line);
	while (n && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
}

static char *next_token(char **p)
{
	char *s = *p;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return NULL;
	char *start = s;
	while (*s && !isspace((unsigned char)*s))
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return start;
}

int pve_fw_rule_parse(const char *text, bool in_group, pve_fw_rule *ret, pve_error **err)
{
	if (strlen(text) > PVE_FW_MAX_LINE)
		return pve_error_set(err, E2BIG, "rule line too long");
	_cleanup_free_ char *line = xstrdup(text);
	pve_fw_rule r = { .enable = true };
	char *comment;
	split_comment(line, &comment);
	r.comment = comment;
	char *p = line;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '|') {
		r.enable = false;
		p++;
	}
	char *type = next_token(&p), *action = next_token(&p);
	if (!type || !action) {
		pve_fw_rule_clear(&r);
		return pve_error_set(err, EINVAL, "unable to parse rule: %s", text);
	}
	r.type = lower_dup(type);
	if (!streq(r.type, "in") && !streq(r.type, "out") && !streq(r.type, "forward") &&
	    (!streq(r.type, "group") || in_group)) {
		int e = pve_error_set(err, EINVAL, "unknown rule type '%s'", type);
		pve_fw_rule_clear(&r);
		return e;
	}
	size_t alen = strlen(action);
	char *paren = strrchr(action, '(');
	if (!streq(r.type, "group") && paren && alen > 2 && action[alen - 1] == ')' &&
	    paren != action) {
		action[alen - 1] = '\0';
		*paren = '\0';
		if (streq(paren + 1, "ACCEPT") || streq(paren + 1, "DROP") ||
		    streq(paren + 1, "REJECT")) {
			r.macro = xstrdup(action);
			r.action = xstrdup(paren + 1);
		} else {
			*paren = '(';
			action[alen - 1] = ')';
		}
	}
	if (!r.action)
		r.action = xstrdup(action);
	for (;;) {
		char *opt = next_token(&p);
		if (!opt)
			break;
		char **slot = NULL;
		if (streq(opt, "-i"))
			slot = &r.iface;
		else if (streq(r.type, "group"))
			slot = NULL;
		else if (streq(opt, "-p") || streq(opt, "-proto") || streq(opt, "--proto"))
			slot = &r.proto;
		else if (streq(opt, "-dport") || streq(opt, "--dport"))
			slot = &r.dport;
		else if (streq(opt, "-sport") || streq(opt, "--sport"))
			slot = &r.sport;
		else if (streq(opt, "-source") || streq(opt, "--source"))
			slot = &r.source;
		else if (streq(opt, "-dest") || streq(opt, "--dest"))
			slot = &r.dest;
		else if (streq(opt, "-log") || streq(opt, "--log"))
			slot = &r.log;
		else if (streq(opt, "-icmp-type") || streq(opt, "--icmp-type"))
			slot = &r.icmp_type;
		char *val = slot ? next_token(&p) : NULL;
		if (!slot || !val || (slot == &r.log && !pve_fw_log_level_valid(val))) {
			while (isspace((unsigned char)*p))
				p++;
			int e = pve_error_set(err, EINVAL,
					      "unable to parse rule parameters: %s%s%s%s%s", opt,
					      val ? " " : "", val ? val : "", *p ? " " : "", p);
			pve_fw_rule_clear(&r);
			return e;
		}
		if (strlen(val) > PVE_FW_MAX_FIELD) {
			pve_fw_rule_clear(&r);
			return pve_error_set(err, E2BIG, "rule parameter %s too long", opt);
		}
		free(*slot);
		*slot = xstrdup(val);
	}
	*ret = r;
	return 0;
}

char *pve_fw_rule_format(const pve_fw_rule *r, bool allow_iface)
{
	pve_buf b = { 0 };
	if (!r->enable)
		pve_buf_puts(&b, "|");
	for (const char *t = r->type; *t; t++)
		pve_buf_printf(&b, "%c", toupper((unsigned char)*t));
	if (r->macro)
		pve_buf_printf(&b, " %s(%s)", r->macro, r->action);
	else
		pve_buf_printf(&b, " %s", r->action);
	if (allow_iface && r->iface)
		pve_buf_printf(&b, " -i %s", r->iface);
	if (!streq(r->type, "group")) {
		if (r->source)
			pve_buf_printf(&b, " -source %s", r->source);
		if (r->dest)
			pve_buf_printf(&b, " -dest %s", r->dest);
		if (r->proto)
			pve_buf_printf(&b, " -p %s", r->proto);
		if (r->dport)
			pve_buf_printf(&b, " -dport %s", r->dport);
		if (r->sport)
			pve_buf_printf(&b, " -sport %s", r->sport);
		if (r->log)
			pve_buf_printf(&b, " -log %s", r->log);
		if (r->icmp_type && *r->icmp_type)
			pve_buf_printf(&b, " -icmp-type %s", r->icmp_type);
	}
	if (r->comment && *r->comment)
		pve_buf_printf(&b, " # %s", r->comment);
	return pve_buf_steal(&b);
}

/* ----- Files ----- */

enum section { SEC_NONE, SEC_OPTIONS, SEC_ALIASES, SEC_RULES, SEC_IPSET, SEC_GROUP };

/* "[ipset name] # comment": the name (checked) and the comment. */
static int parse_named_header(const char *line, size_t skip, size_t max, const char *what,
			      char **ret_name, char **ret_comment, pve_error **err)
{
	_cleanup_free_ char *s = xstrdup(line + skip);
	char *close = strchr(s, ']');
	if (!close)
		return pve_error_set(err, EINVAL, "invalid %s header", what);
	*close = '\0';
	char *rest = close + 1;
	char *comment = NULL;
	split_comment(rest, &comment);
	_cleanup_free_ char *c = comment;
	for (char *q = rest; *q; q++)
		if (!isspace((unsigned char)*q))
			return pve_error_set(err, EINVAL, "invalid %s header", what);
	char *name = s;
	while (isspace((unsigned char)*name))
		name++;
	size_t n = strlen(name);
	while (n && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	if (n > max)
		return pve_error_set(err, EINVAL, "%s name too long", what);
	if (!pve_fw_name_valid(name, max))
		return pve_error_set(err, EINVAL, "invalid %s name '%s'", what, name);
	*ret_name = lower_dup(name);
	*ret_comment = TAKE_PTR(c);
	return 0;
}

static bool header_is(const char *line, const char *name)
{
	size_t n = strlen(name);
	return line[0] == '[' && strncasecmp(line + 1, name, n) == 0 && line[n + 1] == ']' &&
	       line[n + 2] == '\0';
}

static bool header_starts(const char *line, const char *word)
{
	size_t n = strlen(word);
	return line[0] == '[' && strncasecmp(line + 1, word, n) == 0 &&
	       (line[n + 1] == ' ' || line[n + 1] == '\t');
}

static int parse_line(pve_fw_file *f, enum section *sec, char *line, size_t *n_entries,
		      pve_error **err)
{
	if (header_is(line, "OPTIONS")) {
		*sec = SEC_OPTIONS;
		return 0;
	}
	if (header_is(line, "RULES")) {
		*sec = SEC_RULES;
		return 0;
	}
	if (header_is(line, "ALIASES")) {
		if (f->kind == PVE_FW_HOST)
			return pve_error_set(err, EINVAL,
					     "section [ALIASES] not allowed in host.fw");
		*sec = SEC_ALIASES;
		return 0;
	}
	if (header_starts(line, "IPSET")) {
		if (f->kind == PVE_FW_HOST)
			return pve_error_set(err, EINVAL, "section [IPSET] not allowed in host.fw");
		if (f->n_ipsets >= PVE_FW_MAX_SETS)
			return pve_error_set(err, E2BIG, "too many ipsets");
		char *name, *comment;
		int r = parse_named_header(line, 6, PVE_FW_MAX_NAME, "ipset", &name, &comment, err);
		if (r < 0)
			return r;
		if (pve_fw_find_ipset(f, name)) {
			free(comment);
			int e = pve_error_set(err, EEXIST, "ipset '%s' defined twice", name);
			free(name);
			return e;
		}
		f->ipsets = xrealloc(f->ipsets, (f->n_ipsets + 1) * sizeof(*f->ipsets));
		f->ipsets[f->n_ipsets++] = (pve_fw_ipset){ .name = name, .comment = comment };
		*sec = SEC_IPSET;
		return 0;
	}
	if (header_starts(line, "GROUP")) {
		if (f->kind != PVE_FW_CLUSTER)
			return pve_error_set(err, EINVAL,
					     "security groups are defined in cluster.fw only");
		if (f->n_groups >= PVE_FW_MAX_SETS)
			return pve_error_set(err, E2BIG, "too many security groups");
		char *name, *comment;
		int r = parse_named_header(line, 6, PVE_FW_MAX_GROUP_NAME, "security group", &name,
					   &comment, err);
		if (r < 0)
			return r;
		if (pve_fw_find_group(f, name)) {
			free(comment);
			int e = pve_error_set(err, EEXIST, "security group '%s' defined twice",
					      name);
			free(name);
			return e;
		}
		f->groups = xrealloc(f->groups, (f->n_groups + 1) * sizeof(*f->groups));
		f->groups[f->n_groups++] = (pve_fw_group){ .name = name, .comment = comment };
		*sec = SEC_GROUP;
		return 0;
	}
	if (line[0] == '[')
		return pve_error_set(err, EINVAL, "unknown section %s", line);

	switch (*sec) {
	case SEC_NONE:
		return pve_error_set(err, EINVAL, "line outside a section");
	case SEC_OPTIONS: {
		char *colon = strchr(line, ':');
		if (!colon)
			return pve_error_set(err, EINVAL, "can't parse option '%s'", line);
		*colon = '\0';
		char *key = line, *val = colon + 1;
		size_t k = strlen(key);
		while (k && isspace((unsigned char)key[k - 1]))
			key[--k] = '\0';
		while (isspace((unsigned char)*val))
			val++;
		if (strchr(key, ' ') || strchr(key, '\t') || !*key)
			return pve_error_set(err, EINVAL, "can't parse option '%s'", line);
		if (pve_fw_option_get(f, key))
			return pve_error_set(err, EEXIST, "option '%s' set twice", key);
		return pve_fw_option_set(f, key, val, err);
	}
	case SEC_ALIASES: {
		char *comment;
		split_comment(line, &comment);
		_cleanup_free_ char *c = comment;
		char *p = line;
		char *name = next_token(&p), *cidr = next_token(&p);
		if (!name || !cidr || next_token(&p))
			return pve_error_set(err, EINVAL, "can't parse alias '%s'", line);
		if (!pve_fw_name_valid(name, PVE_FW_MAX_NAME))
			return pve_error_set(err, EINVAL, "invalid alias name '%s'", name);
		if (pve_fw_find_alias(f, name))
			return pve_error_set(err, EEXIST, "alias '%s' defined twice", name);
		if (f->n_aliases >= PVE_FW_MAX_SETS)
			return pve_error_set(err, E2BIG, "too many aliases");
		char *norm;
		int r = pve_fw_parse_cidr(cidr, &norm, NULL, err);
		if (r < 0)
			return r;
		f->aliases = xrealloc(f->aliases, (f->n_aliases + 1) * sizeof(*f->aliases));
		f->aliases[f->n_aliases++] =
			(pve_fw_alias){ xstrdup(name), norm, (c && *c) ? TAKE_PTR(c) : NULL };
		return 0;
	}
	case SEC_IPSET: {
		pve_fw_ipset *s = &f->ipsets[f->n_ipsets - 1];
		char *comment;
		split_comment(line, &comment);
		_cleanup_free_ char *c = comment;
		char *p = line;
		bool nomatch = false;
		if (*p == '!') {
			nomatch = true;
			p++;
		}
		char *cidr = next_token(&p);
		if (!cidr || next_token(&p))
			return pve_error_set(err, EINVAL, "can't parse ipset entry '%s'", line);
		if (++*n_entries > PVE_FW_MAX_ENTRIES)
			return pve_error_set(err, E2BIG, "too many ipset entries");
		char *norm;
		if (strlen(cidr) > PVE_FW_MAX_NAME + 6)
			return pve_error_set(err, EINVAL, "invalid ipset entry '%s'", cidr);
		if (strchr(cidr, ':') || isdigit((unsigned char)cidr[0])) {
			int r = pve_fw_parse_cidr(cidr, &norm, NULL, err);
			if (r < 0)
				return r;
			const char *sl = strchr(norm, '/');
			if (sl && strspn(sl + 1, "0") == strlen(sl + 1)) {
				free(norm);
				return pve_error_set(
					err, EINVAL,
					"a zero prefix is not allowed in ipset entries");
			}
		} else {
			const char *n = cidr;
			if (startswith(n, "dc/") || startswith(n, "guest/"))
				n = strchr(n, '/') + 1;
			if (!pve_fw_name_valid(n, PVE_FW_MAX_NAME))
				return pve_error_set(err, EINVAL, "invalid ipset entry '%s'", cidr);
			norm = xstrdup(cidr);
		}
		s->entries = xrealloc(s->entries, (s->n_entries + 1) * sizeof(*s->entries));
		s->entries[s->n_entries++] =
			(pve_fw_ipset_entry){ norm, nomatch, (c && *c) ? TAKE_PTR(c) : NULL };
		return 0;
	}
	case SEC_RULES:
	case SEC_GROUP: {
		pve_fw_rule **rules = *sec == SEC_RULES ? &f->rules :
							  &f->groups[f->n_groups - 1].rules;
		size_t *n = *sec == SEC_RULES ? &f->n_rules : &f->groups[f->n_groups - 1].n_rules;
		if (*n >= PVE_FW_MAX_RULES)
			return pve_error_set(err, E2BIG, "too many rules");
		pve_fw_rule r;
		int ret = pve_fw_rule_parse(line, *sec == SEC_GROUP, &r, err);
		if (ret < 0)
			return ret;
		if (r.comment && !*r.comment) {
			free(r.comment);
			r.comment = NULL;
		}
		*rules = xrealloc(*rules, (*n + 1) * sizeof(**rules));
		(*rules)[(*n)++] = r;
		return 0;
	}
	}
	return 0;
}

int pve_fw_parse(pve_fw_kind kind, const char *text, size_t len, pve_fw_file **ret, pve_error **err)
{
	if (len > PVE_FW_MAX_TEXT)
		return pve_error_set(err, E2BIG, "firewall file larger than %d bytes",
				     PVE_FW_MAX_TEXT);
	if (memchr(text, '\0', len))
		return pve_error_set(err, EINVAL, "firewall file contains a NUL byte");
	_cleanup_fw_file_ pve_fw_file *f = pve_fw_file_new(kind);
	enum section sec = SEC_NONE;
	size_t n_entries = 0, lineno = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (n > PVE_FW_MAX_LINE)
			return pve_error_set(err, E2BIG, "line %zu: longer than %d bytes", lineno,
					     PVE_FW_MAX_LINE);
		_cleanup_free_ char *line = xstrndup(p, n);
		p += n + (nl ? 1 : 0);
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		size_t sl = strlen(s);
		while (sl && isspace((unsigned char)s[sl - 1]))
			s[--sl] = '\0';
		if (!*s || *s == '#')
			continue;
		_cleanup_error_ pve_error *e = NULL;
		if (parse_line(f, &sec, s, &n_entries, &e) < 0)
			return pve_error_set(err, e->code, "line %zu: %s", lineno, e->message);
	}
	*ret = TAKE_PTR(f);
	return 0;
}

static int cmp_alias(const void *a, const void *b)
{
	return strcasecmp(((const pve_fw_alias *)a)->name, ((const pve_fw_alias *)b)->name);
}

static int cmp_ipset(const void *a, const void *b)
{
	return strcmp(((const pve_fw_ipset *)a)->name, ((const pve_fw_ipset *)b)->name);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp((*(const pve_fw_ipset_entry *const *)a)->cidr,
		      (*(const pve_fw_ipset_entry *const *)b)->cidr);
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp(((const pve_fw_group *)a)->name, ((const pve_fw_group *)b)->name);
}

static void print_rules(pve_buf *b, const pve_fw_rule *rules, size_t n, bool allow_iface)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *l = pve_fw_rule_format(&rules[i], allow_iface);
		pve_buf_printf(b, "%s\n", l);
	}
}

char *pve_fw_print(const pve_fw_file *f)
{
	pve_buf b = { 0 };
	pve_buf_puts(&b, "");
	if (f->n_options) {
		pve_buf_puts(&b, "[OPTIONS]\n\n");
		for (size_t i = 0; i < f->n_options; i++)
			pve_buf_printf(&b, "%s: %s\n", f->options[i].key, f->options[i].value);
		pve_buf_puts(&b, "\n");
	}
	if (f->n_aliases) {
		_cleanup_free_ pve_fw_alias *sorted = xmalloc(f->n_aliases * sizeof(*sorted));
		memcpy(sorted, f->aliases, f->n_aliases * sizeof(*sorted));
		qsort(sorted, f->n_aliases, sizeof(*sorted), cmp_alias);
		pve_buf_puts(&b, "[ALIASES]\n\n");
		for (size_t i = 0; i < f->n_aliases; i++) {
			pve_buf_printf(&b, "%s %s", sorted[i].name, sorted[i].cidr);
			if (sorted[i].comment && *sorted[i].comment)
				pve_buf_printf(&b, " # %s", sorted[i].comment);
			pve_buf_puts(&b, "\n");
		}
		pve_buf_puts(&b, "\n");
	}
	if (f->n_ipsets) {
		_cleanup_free_ pve_fw_ipset *sets = xmalloc(f->n_ipsets * sizeof(*sets));
		memcpy(sets, f->ipsets, f->n_ipsets * sizeof(*sets));
		qsort(sets, f->n_ipsets, sizeof(*sets), cmp_ipset);
		for (size_t i = 0; i < f->n_ipsets; i++) {
			const pve_fw_ipset *s = &sets[i];
			if (s->comment && *s->comment)
				pve_buf_printf(&b, "[IPSET %s] # %s\n\n", s->name, s->comment);
			else
				pve_buf_printf(&b, "[IPSET %s]\n\n", s->name);
			_cleanup_free_ const pve_fw_ipset_entry **e =
				xmalloc((s->n_entries + 1) * sizeof(*e));
			for (size_t j = 0; j < s->n_entries; j++)
				e[j] = &s->entries[j];
			qsort(e, s->n_entries, sizeof(*e), cmp_entry);
			for (size_t j = 0; j < s->n_entries; j++) {
				/* A duplicate is written once, the first, as Proxmox's format_ipsets. */
				if (j > 0 && streq(e[j]->cidr, e[j - 1]->cidr))
					continue;
				pve_buf_printf(&b, "%s%s", e[j]->nomatch ? "!" : "", e[j]->cidr);
				if (e[j]->comment && *e[j]->comment)
					pve_buf_printf(&b, " # %s", e[j]->comment);
				pve_buf_puts(&b, "\n");
			}
			pve_buf_puts(&b, "\n");
		}
	}
	if (f->n_rules) {
		pve_buf_puts(&b, "[RULES]\n\n");
		print_rules(&b, f->rules, f->n_rules, true);
		pve_buf_puts(&b, "\n");
	}
	if (f->n_groups) {
		_cleanup_free_ pve_fw_group *groups = xmalloc(f->n_groups * sizeof(*groups));
		memcpy(groups, f->groups, f->n_groups * sizeof(*groups));
		qsort(groups, f->n_groups, sizeof(*groups), cmp_group);
		for (size_t i = 0; i < f->n_groups; i++) {
			if (groups[i].comment && *groups[i].comment)
				pve_buf_printf(&b, "[group %s] # %s\n\n", groups[i].name,
					       groups[i].comment);
			else
				pve_buf_printf(&b, "[group %s]\n\n", groups[i].name);
			print_rules(&b, groups[i].rules, groups[i].n_rules, false);
			pve_buf_puts(&b, "\n");
		}
	}
	return pve_buf_steal(&b);
}
