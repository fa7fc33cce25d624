/* The compiler: cluster.fw, host.fw and the guests' .fw files into an inet table of chains, sets and
 * verdict maps for the host, and the guests' part in tables of their own, sharded by vmid: bridge
 * ones where the kernel has bridge conntrack, else inet ones (the layout is in docs/ARCHITECTURE.md,
 * "Firewall"). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <strings.h>

#include "fw/fw-internal.h"

/* nf_conntrack_common.h's NF_CT_STATE_BIT values. */
#define CT_INVALID 1u
#define CT_ESTABLISHED 2u
#define CT_RELATED 4u
#define CT_UNTRACKED 64u

size_t fw_key_len(int family)
{
	return family == 6 ? 16 : 4;
}

/* ----- Building ----- */

typedef struct {
	pve_fw_ruleset *rs;
	const pve_fw_input *in;
	const pve_fw_guest *guest; /* while compiling a guest */
	const pve_fw_file *local; /* the file whose ipsets and aliases a rule sees */
	const char *where; /* "cluster.fw", "host.fw", "100.fw" for errors */
	size_t vm_in, vm_out; /* the verdict maps' indices in rs->sets */
	bool bridge; /* compiling into the guests' bridge table */
} ctx;

static fw_chain *add_chain(pve_fw_ruleset *rs, const char *name, unsigned vmid)
{
	rs->chains = xrealloc(rs->chains, (rs->n_chains + 1) * sizeof(*rs->chains));
	fw_chain *c = &rs->chains[rs->n_chains++];
	*c = (fw_chain){ .name = xstrdup(name), .hook = -1, .vmid = vmid };
	return c;
}

static fw_chain *add_base_chain(pve_fw_ruleset *rs, const char *name, int hook, int prio)
{
	fw_chain *c = add_chain(rs, name, 0);
	c->base = true;
	c->hook = hook;
	c->prio = prio;
	return c;
}

/* From the end: the chain asked for is nearly always one just made (the guest's), and a search
 * from the start made compiling 1,000 guests quadratic. */
static fw_chain *find_chain(pve_fw_ruleset *rs, const char *name)
{
	for (size_t i = rs->n_chains; i-- > 0;)
		if (streq(rs->chains[i].name, name))
			return &rs->chains[i];
	return NULL;
}

static fw_set *add_set(pve_fw_ruleset *rs, const char *name, fw_set_type type, unsigned vmid)
{
	rs->sets = xrealloc(rs->sets, (rs->n_sets + 1) * sizeof(*rs->sets));
	fw_set *s = &rs->sets[rs->n_sets++];
	*s = (fw_set){ .name = xstrdup(name), .type = type, .vmid = vmid };
	return s;
}

/* Chains and sets are looked up by name after more are added: never keep a pointer across adds. */
static fw_rule *add_rule(fw_chain *c)
{
	c->rules = xrealloc(c->rules, (c->n_rules + 1) * sizeof(*c->rules));
	fw_rule *r = &c->rules[c->n_rules++];
	*r = (fw_rule){ 0 };
	return r;
}

static fw_match *add_match(fw_rule *r, fw_match_kind kind)
{
	r->m = xrealloc(r->m, (r->n_m + 1) * sizeof(*r->m));
	fw_match *m = &r->m[r->n_m++];
	*m = (fw_match){ .kind = kind, .code = -1 };
	return m;
}

static void match_name(fw_rule *r, fw_match_kind kind, const char *name)
{
	add_match(r, kind)->name = xstrdup(name);
}

static void match_value(fw_rule *r, fw_match_kind kind, unsigned value)
{
	add_match(r, kind)->value = value;
}

static void set_verdict(fw_rule *r, fw_verdict v, const char *target)
{
	r->verdict = v;
	r->target = target ? xstrdup(target) : NULL;
}

static void match_free(fw_match *m)
{
	free(m->name);
	free(m->ranges);
}

static void rule_free(fw_rule *r)
{
	for (size_t i = 0; i < r->n_m; i++)
		match_free(&r->m[i]);
	free(r->m);
	free(r->log_prefix);
	free(r->ct_helper);
	free(r->target);
}

/* A copy of r's matches (a rule compiled once per family starts from the same prefix). */
static void rule_copy_matches(fw_rule *dst, const fw_rule *src)
{
	for (size_t i = 0; i < src->n_m; i++) {
		fw_match *m = add_match(dst, src->m[i].kind);
		*m = src->m[i];
		m->name = src->m[i].name ? xstrdup(src->m[i].name) : NULL;
		if (src->m[i].n_ranges) {
			m->ranges = xmalloc(src->m[i].n_ranges * sizeof(*m->ranges));
			memcpy(m->ranges, src->m[i].ranges,
			       src->m[i].n_ranges * sizeof(*m->ranges));
		}
	}
}

void pve_fw_ruleset_free(pve_fw_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n_chains; i++) {
		for (size_t j = 0; j < rs->chains[i].n_rules; j++)
			rule_free(&rs->chains[i].rules[j]);
		free(rs->chains[i].rules);
		free(rs->chains[i].name);
	}
	free(rs->chains);
	for (size_t i = 0; i < rs->n_sets; i++) {
		free(rs->sets[i].name);
		free(rs->sets[i].ranges);
		free(rs->sets[i].elems);
	}
	free(rs->sets);
	free(rs->helpers);
	free(rs->table);
	pve_fw_ruleset_free(rs->guests);
	pve_fw_ruleset_free(rs->next);
	free(rs);
}

void fw_guest_table_name(const char *table, size_t k, char *buf, size_t size)
{
	snprintf(buf, size, "%s-g%zu", table, k);
}

const pve_fw_ruleset *fw_shard_of(const pve_fw_ruleset *rs, unsigned vmid)
{
	const pve_fw_ruleset *g = rs->guests;
	for (size_t k = vmid % (rs->n_shards ? rs->n_shards : 1); g && k; k--)
		g = g->next;
	return g;
}

bool pve_fw_ruleset_enabled(const pve_fw_ruleset *rs)
{
	return rs->enabled;
}

bool pve_fw_ruleset_bridged(const pve_fw_ruleset *rs)
{
	return rs->guests && rs->guests->family == NFPROTO_BRIDGE;
}

unsigned pve_fw_ruleset_ct_helpers_absent(const pve_fw_ruleset *rs)
{
	return rs->ct_helpers_absent;
}

bool pve_fw_ruleset_log_conntrack(const pve_fw_ruleset *rs)
{
	return rs->log_conntrack;
}

size_t pve_fw_ruleset_guest_count(const pve_fw_ruleset *rs)
{
	size_t n = 0;
	for (const pve_fw_ruleset *g = rs->guests; g; g = g->next)
		n += g->n_guests;
	return n;
}

/* ----- Intervals ----- */

static int key_cmp(const uint8_t *a, const uint8_t *b, size_t len)
{
	return memcmp(a, b, len);
}

/* k + 1; false when k was the largest key (all ones). */
static bool key_inc(uint8_t *k, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++k[i] != 0)
			return true;
	return false;
}

static int cmp_range(const void *a, const void *b, void *keylen)
{
	return key_cmp(((const fw_range *)a)->lo, ((const fw_range *)b)->lo, *(size_t *)keylen);
}

void fw_ranges_merge(fw_range **ranges, size_t *n, size_t keylen)
{
	if (*n < 2)
		return;
	qsort_r(*ranges, *n, sizeof(**ranges), cmp_range, &keylen);
	size_t out = 0;
	for (size_t i = 1; i < *n; i++) {
		fw_range *last = &(*ranges)[out];
		uint8_t next[16];
		memcpy(next, last->hi, keylen);
		bool more = key_inc(next, keylen);
		/* Overlapping or adjacent: one interval. */
		if (!more || key_cmp((*ranges)[i].lo, next, keylen) <= 0) {
			if (key_cmp((*ranges)[i].hi, last->hi, keylen) > 0)
				memcpy(last->hi, (*ranges)[i].hi, keylen);
			continue;
		}
		(*ranges)[++out] = (*ranges)[i];
	}
	*n = out + 1;
}

int fw_range_prefix(const fw_range *r, size_t keylen)
{
	int bits = (int)keylen * 8;
	for (int p = 0; p <= bits; p++) {
		bool ok = true;
		for (int b = 0; b < bits && ok; b++) {
			int lo = (r->lo[b / 8] >> (7 - b % 8)) & 1,
			    hi = (r->hi[b / 8] >> (7 - b % 8)) & 1;
			ok = b < p ? lo == hi : lo == 0 && hi == 1;
		}
		if (ok)
			return p;
	}
	return -1;
}

/* "a", "a/n" or "a-b" into an interval of family (4, 6). */
static int parse_range(const char *s, fw_range *ret, int *ret_family, pve_error **err)
{
	fw_range r = { 0 };
	char a[65], b[65] = "";
	const char *dash = strchr(s, '-'), *slash = strchr(s, '/');
	size_t alen = dash ? (size_t)(dash - s) : slash ? (size_t)(slash - s) : strlen(s);
	if (alen > 64 || (dash && strlen(dash + 1) > 64))
		return pve_error_set(err, EINVAL, "invalid address '%s'", s);
	memcpy(a, s, alen);
	a[alen] = '\0';
	if (dash)
		strcpy(b, dash + 1);
	int af = strchr(a, ':') ? AF_INET6 : AF_INET;
	size_t len = af == AF_INET ? 4 : 16;
	if (inet_pton(af, a, r.lo) != 1 || (dash && inet_pton(af, b, r.hi) != 1))
		return pve_error_set(err, EINVAL, "invalid address '%s'", s);
	if (!dash) {
		unsigned long long prefix = len * 8;
		if (slash && pve_parse_uint(slash + 1, len * 8, &prefix) < 0)
			return pve_error_set(err, EINVAL, "invalid address '%s'", s);
		for (size_t bit = prefix; bit < len * 8; bit++)
			r.lo[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
		memcpy(r.hi, r.lo, len);
		for (size_t bit = prefix; bit < len * 8; bit++)
			r.hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
	}
	*ret = r;
	*ret_family = af == AF_INET ? 4 : 6;
	return 0;
}

/* ----- Addresses in rules ----- */

/* What a rule's -source or -dest means: a list of intervals of one family, or an ipset's sets. */
typedef struct {
	int family; /* 0: an ipset, which has both */
	fw_range *ranges;
	size_t n_ranges;
	char set4[96],
		set6[96]; /* an ipset: its v4 and v6 sets, and nomatch twins when they exist */
	char nomatch4[128], nomatch6[128];
} addr_spec;

static const pve_fw_alias *resolve_alias(ctx *c, const char *spec)
{
	const char *name = spec;
	bool dc = startswith(name, "dc/"), guest = startswith(name, "guest/");
	if (dc || guest)
		name = strchr(name, '/') + 1;
	const pve_fw_alias *a = NULL;
	if (!dc && c->local != c->in->cluster)
		a = pve_fw_find_alias(c->local, name);
	if (!a && !guest)
		a = pve_fw_find_alias(c->in->cluster, name);
	return a;
}

static void ipset_set_names(unsigned vmid, const char *name, char *v4, char *v6, size_t size)
{
	if (vmid) {
		snprintf(v4, size, "v4-guest-%u-%s", vmid, name);
		snprintf(v6, size, "v6-guest-%u-%s", vmid, name);
	} else {
		snprintf(v4, size, "v4-dc-%s", name);
		snprintf(v6, size, "v6-dc-%s", name);
	}
}

static int compile_addr(ctx *c, const char *param, const char *spec, addr_spec *ret,
			pve_error **err)
{
	*ret = (addr_spec){ 0 };
	if (spec[0] == '+') {
		const char *name = spec + 1;
		bool dc = startswith(name, "dc/"), guest = startswith(name, "guest/");
		if (dc || guest)
			name = strchr(name, '/') + 1;
		unsigned vmid = 0;
		if (!dc && c->guest && pve_fw_find_ipset(c->local, name))
			vmid = c->guest->vmid;
		_cleanup_free_ char *lname = xstrdup(name);
		for (char *p = lname; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		ipset_set_names(vmid, lname, ret->set4, ret->set6, sizeof(ret->set4));
		/* The nomatch twins exist when the ipset has such entries of their family (asked of
		 * the file: a search through thousands of sets for each rule was the compile's time). */
		const pve_fw_ipset *ips = pve_fw_find_ipset(vmid ? c->local : c->in->cluster, name);
		for (size_t i = 0; ips && i < ips->n_entries; i++) {
			const pve_fw_ipset_entry *e = &ips->entries[i];
			if (!e->nomatch)
				continue;
			const char *cidr = e->cidr;
			if (isalpha((unsigned char)cidr[0]) && !strchr(cidr, ':')) {
				const pve_fw_alias *a = resolve_alias(c, cidr);
				cidr = a ? a->cidr : "";
			}
			if (strchr(cidr, ':'))
				snprintf(ret->nomatch6, sizeof(ret->nomatch6), "%s-nomatch",
					 ret->set6);
			else if (*cidr)
				snprintf(ret->nomatch4, sizeof(ret->nomatch4), "%s-nomatch",
					 ret->set4);
		}
		return 0;
	}
	_cleanup_strv_free_ char **elems = pve_strv_split(spec, ",");
	for (size_t i = 0; elems[i]; i++) {
		const char *e = elems[i];
		const pve_fw_alias *a = NULL;
		if (isalpha((unsigned char)e[0]) && !strchr(e, ':')) {
			a = resolve_alias(c, e);
			if (!a) {
				free(ret->ranges);
				return pve_error_set_param(err, EINVAL, param, "no such alias '%s'",
							   e);
			}
			e = a->cidr;
		}
		fw_range r;
		int fam;
		if (parse_range(e, &r, &fam, err) < 0) {
			free(ret->ranges);
			return -EINVAL;
		}
		ret->ranges = xrealloc(ret->ranges, (ret->n_ranges + 1) * sizeof(*ret->ranges));
		ret->ranges[ret->n_ranges++] = r;
		ret->family = fam;
	}
	fw_ranges_merge(&ret->ranges, &ret->n_ranges, fw_key_len(ret->family));
	return 0;
}

/* Adds the match of an address spec for family (4, 6): intervals, or the ipset's set (and not its
 * nomatch twin). */
static void match_addr(fw_rule *r, const addr_spec *a, bool src, int family)
{
	fw_match *m = add_match(r, FW_M_ADDR);
	m->src = src;
	m->family = family;
	if (a->family) {
		m->ranges = xmalloc(a->n_ranges * sizeof(*m->ranges));
		memcpy(m->ranges, a->ranges, a->n_ranges * sizeof(*m->ranges));
		m->n_ranges = a->n_ranges;
		return;
	}
	m->name = xstrdup(family == 4 ? a->set4 : a->set6);
	const char *nm = family == 4 ? a->nomatch4 : a->nomatch6;
	if (*nm) {
		fw_match *n = add_match(r, FW_M_ADDR);
		n->src = src;
		n->family = family;
		n->neg = true;
		n->name = xstrdup(nm);
	}
}

/* "22,80:90,ssh" into sorted, merged 2-byte intervals. */
static int parse_ports(const char *s, fw_range **ret, size_t *ret_n, pve_error **err)
{
	_cleanup_strv_free_ char **items = pve_strv_split(s, ",");
	fw_range *v = NULL;
	size_t n = 0;
	for (size_t i = 0; items[i]; i++) {
		unsigned long long a, b;
		char *colon = strchr(items[i], ':');
		if (colon) {
			*colon = '\0';
			if (pve_parse_uint(items[i], 65535, &a) < 0 ||
			    pve_parse_uint(colon + 1, 65535, &b) < 0 || a > b) {
				free(v);
				return pve_error_set(err, EINVAL, "invalid port range in '%s'", s);
			}
		} else if (pve_parse_uint(items[i], 65535, &a) == 0) {
			b = a;
		} else {
			int p = pve_fw_service_port(items[i]);
			if (p < 0) {
				free(v);
				return pve_error_set(err, EINVAL, "invalid port '%s'", items[i]);
			}
			a = b = (unsigned)p;
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n] = (fw_range){ { (uint8_t)(a >> 8), (uint8_t)a },
				   { (uint8_t)(b >> 8), (uint8_t)b } };
		n++;
	}
	fw_ranges_merge(&v, &n, 2);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ----- Rules ----- */

static const char *nic_ifname(const pve_fw_guest *g, const char *iface)
{
	unsigned long long idx;
	if (!startswith(iface, "net") || pve_parse_uint(iface + 3, 31, &idx) < 0)
		return NULL;
	for (size_t i = 0; i < g->n_nics; i++)
		if (g->nics[i].index == idx)
			return g->nics[i].ifname;
	return NULL;
}

static fw_verdict action_verdict(const char *action)
{
	return streq(action, "ACCEPT") ? FW_V_ACCEPT :
	       streq(action, "DROP")   ? FW_V_DROP :
					 FW_V_REJECT;
}

/* Appends the verdict of action to chain, REJECT as a jump to do-reject. A bridge rejects only
 * before forwarding (prerouting and input: nft_reject_bridge), so where it cannot (the guests' in
 * chains, run at postrouting), REJECT drops. */
static void add_verdict(fw_rule *r, const char *action, bool can_reject)
{
	fw_verdict v = action_verdict(action);
	if (v == FW_V_REJECT && !can_reject)
		set_verdict(r, FW_V_DROP, NULL);
	else if (v == FW_V_REJECT)
		set_verdict(r, FW_V_JUMP, "do-reject");
	else
		set_verdict(r, v, NULL);
}

/* One expanded rule: proto, ports and ICMP type come from the rule or its macro's line. */
typedef struct {
	const char *proto, *dport, *sport, *icmp_type;
} rule_l4;

/* A port match of one interval. */
static void match_port(fw_rule *r, bool src, unsigned lo, unsigned hi)
{
	fw_match *m = add_match(r, FW_M_PORT);
	m->src = src;
	m->ranges = xcalloc(1, sizeof(*m->ranges));
	m->n_ranges = 1;
	m->ranges[0] = (fw_range){ { (uint8_t)(lo >> 8), (uint8_t)lo },
				   { (uint8_t)(hi >> 8), (uint8_t)hi } };
}

/* ifkind/ifname: the interface the rule is for (a guest's tap: oif for in, iif for out; a host
 * rule's -i: oif for out, iif for in and forward), or NULL. */
static int emit_family(ctx *c, const char *chain, const char *dir, const pve_fw_rule *src,
		       const rule_l4 *l4, const addr_spec *s, const addr_spec *d, int family,
		       fw_match_kind ifkind, const char *ifname, const char *log_prefix,
		       pve_error **err)
{
	fw_chain *ch = find_chain(c->rs, chain);
	fw_rule base = { 0 };
	if (ifname)
		match_name(&base, ifkind, ifname);
	if (family)
		match_value(&base, FW_M_NFPROTO, (unsigned)family);
	int proto = l4->proto ? pve_fw_proto_number(l4->proto) : -1;
	if (proto >= 0)
		match_value(&base, FW_M_L4PROTO, (unsigned)proto);
	if (s)
		match_addr(&base, s, true, family);
	if (d)
		match_addr(&base, d, false, family);
	bool icmp = proto == 1 || proto == 58;
	const char *icmp_type = l4->icmp_type ? l4->icmp_type : icmp ? l4->dport : NULL;
	if (icmp_type) {
		int code;
		int t = pve_fw_icmp_type(icmp_type, proto == 58, &code);
		if (t == -1) {
			rule_free(&base);
			return pve_error_set_param(err, EINVAL, "icmp-type",
						   "%s: invalid icmp-type '%s'", c->where,
						   icmp_type);
		}
		if (t >= 0) {
			fw_match *m = add_match(&base, FW_M_ICMP);
			m->family = proto == 58 ? 6 : 4;
			m->value = (unsigned)t;
			m->code = code;
		}
	}
	for (int which = 0; which < 2; which++) {
		const char *ports = which == 0 ? l4->sport : icmp ? NULL : l4->dport;
		if (!ports)
			continue;
		fw_match *m = add_match(&base, FW_M_PORT);
		m->src = which == 0;
		if (parse_ports(ports, &m->ranges, &m->n_ranges, err) < 0) {
			rule_free(&base);
			return -EINVAL;
		}
	}
	if (log_prefix) {
		fw_rule *lr = add_rule(ch);
		rule_copy_matches(lr, &base);
		lr->log_prefix = xstrdup(log_prefix);
	}
	fw_rule *r = add_rule(ch);
	*r = base;
	if (streq(src->type, "group")) {
		char g[64];
		snprintf(g, sizeof(g), "group-%s-%s", src->action, dir);
		set_verdict(r, FW_V_JUMP, g);
	} else {
		add_verdict(r, src->action, !c->bridge || streq(dir, "out"));
	}
	return 0;
}

/* The syslog number of a level, as pve-firewall puts it in the prefix (":vmid:level:chain: ") and
 * pvefw-logger reads it back. */
static int log_level_number(const char *level)
{
	static const char *const names[] = { "emerg",	"alert",  "crit", "err",
					     "warning", "notice", "info", "debug" };
	for (int i = 0; i < (int)ELEMENTSOF(names); i++)
		if (streq(level, names[i]))
			return i;
	return 6;
}

/* Compiles one rule of a .fw file into chain. dir is "in", "out" or "forward". */
static int compile_rule(ctx *c, const char *chain, const char *dir, pve_fw_rule *rule,
			bool in_group, pve_fw_kind env, pve_error **err)
{
	if (!rule->enable)
		return 0;
	_cleanup_error_ pve_error *e = NULL;
	if (pve_fw_rule_verify(rule, env, in_group, c->in->cluster, in_group ? NULL : c->local,
			       &e) < 0) {
		_cleanup_free_ char *line = pve_fw_rule_format(rule, true);
		return pve_error_set_param(err, e->code, e->param, "%s: rule '%s': %s: %s",
					   c->where, line, e->param ? e->param : "rule",
					   e->message);
	}
	const char *ifname = rule->iface;
	fw_match_kind ifkind = streq(dir, "out") ? FW_M_OIFNAME : FW_M_IIFNAME;
	if (c->guest && ifname) {
		ifname = nic_ifname(c->guest, rule->iface);
		ifkind = streq(dir, "in") ? FW_M_OIFNAME : FW_M_IIFNAME;
		/* A rule for a NIC the guest does not have matches nothing. */
		if (!ifname)
			return 0;
	}
	if (streq(rule->type, "group")) {
		/* A group's chains hold their own rules; the call carries only -i. */
		rule_l4 none = { 0 };
		return emit_family(c, chain, dir, rule, &none, NULL, NULL, 0, ifkind, ifname, NULL,
				   err);
	}
	addr_spec s = { 0 }, d = { 0 };
	int r = 0;
	if (rule->source && (r = compile_addr(c, "source", rule->source, &s, err)) < 0)
		return r;
	if (rule->dest && (r = compile_addr(c, "dest", rule->dest, &d, err)) < 0) {
		free(s.ranges);
		return r;
	}
	/* The families the rule applies to: what its addresses or protocol say, else both when an
	 * ipset is named (its v4 and v6 sets), else one rule for any family. */
	int fam = s.family ? s.family : d.family;
	if (rule->proto && streq(rule->proto, "icmp"))
		fam = 4;
	else if (rule->proto && (streq(rule->proto, "icmpv6") || streq(rule->proto, "ipv6-icmp")))
		fam = 6;
	bool ipset = (rule->source && !s.family) || (rule->dest && !d.family);
	char prefix[128];
	const char *log_prefix = NULL;
	if (rule->log && !streq(rule->log, "nolog")) {
		snprintf(prefix, sizeof(prefix), ":%u:%d:%s: %s: ", c->guest ? c->guest->vmid : 0,
			 log_level_number(rule->log), chain, rule->action);
		log_prefix = prefix;
	}
	const pve_fw_macro *m = rule->macro ? pve_fw_macro_find(rule->macro) : NULL;
	for (int pass = 0; pass < 2 && r >= 0; pass++) {
		/* pass 0: IPv4 (or any family), pass 1: IPv6. */
		int family;
		const pve_fw_macro_rule *lines = NULL;
		if (m && m->rules_v6 && !m->v6_only && !fam) {
			family = pass == 0 ? 4 : 6;
			lines = pass == 0 ? m->rules : m->rules_v6;
		} else if (fam || ipset) {
			family = fam ? fam : (pass == 0 ? 4 : 6);
			if (fam && pass == 1)
				break;
			lines = m ? (family == 6 && m->rules_v6 ? m->rules_v6 : m->rules) : NULL;
		} else {
			if (pass == 1)
				break;
			family = m && m->v6_only ? 6 : 0;
			lines = m ? m->rules : NULL;
		}
		if (!lines) {
			rule_l4 l4 = { rule->proto, rule->dport, rule->sport, rule->icmp_type };
			r = emit_family(c, chain, dir, rule, &l4, rule->source ? &s : NULL,
					rule->dest ? &d : NULL, family, ifkind, ifname, log_prefix,
					err);
			continue;
		}
		for (const pve_fw_macro_rule *l = lines; l->proto && r >= 0; l++) {
			rule_l4 l4 = { l->proto, l->dport ? l->dport : rule->dport,
				       l->sport ? l->sport : rule->sport, NULL };
			/* icmp lines belong to one family: skip them in the other. */
			int lf = streq(l4.proto, "icmp") ? 4 : strstr(l4.proto, "icmpv6") ? 6 : 0;
			if (lf && family && lf != family)
				continue;
			r = emit_family(c, chain, dir, rule, &l4, rule->source ? &s : NULL,
					rule->dest ? &d : NULL, family ? family : lf, ifkind,
					ifname, log_prefix, err);
		}
	}
	free(s.ranges);
	free(d.ranges);
	return r;
}

static void add_policy(fw_chain *ch, const char *policy, const char *log_level, unsigned vmid,
		       const char *chain, bool can_reject)
{
	if (log_level && *log_level && !streq(log_level, "nolog")) {
		fw_rule *lr = add_rule(ch);
		lr->log_prefix = xasprintf(":%u:%d:%s: policy %s: ", vmid,
					   log_level_number(log_level), chain, policy);
	}
	add_verdict(add_rule(ch), policy, can_reject);
}

/* allow_invalid: host.fw's nf_conntrack_allow_invalid, which lets invalid packets on to the rules
 * (asymmetric routing, where conntrack sees one direction only). In a bridge table ARP has no
 * conntrack entry, which ct reads as invalid: it passes these rules untouched. */
static void add_ct_rules(fw_chain *ch, bool allow_invalid, bool bridge)
{
	for (int k = 0; k < (allow_invalid ? 1 : 2); k++) {
		fw_rule *r = add_rule(ch);
		if (bridge) {
			fw_match *m = add_match(r, FW_M_ETHERTYPE);
			m->value = ETH_P_ARP;
			m->neg = true;
		}
		match_value(r, FW_M_CT_STATE, k == 0 ? CT_ESTABLISHED | CT_RELATED : CT_INVALID);
		set_verdict(r, k == 0 ? FW_V_ACCEPT : FW_V_DROP, NULL);
	}
}

/* ----- Sets ----- */

static int add_ipset_sets(ctx *c, const pve_fw_ipset *ipset, unsigned vmid, pve_error **err)
{
	char v4[96], v6[96];
	ipset_set_names(vmid, ipset->name, v4, v6, sizeof(v4));
	fw_set *s4 = add_set(c->rs, v4, FW_SET_ADDR4, vmid);
	size_t i4 = (size_t)(s4 - c->rs->sets);
	add_set(c->rs, v6, FW_SET_ADDR6, vmid);
	size_t i6 = i4 + 1;
	ssize_t n4 = -1, n6 = -1; /* the nomatch sets, made when needed */
	for (size_t i = 0; i < ipset->n_entries; i++) {
		const pve_fw_ipset_entry *e = &ipset->entries[i];
		const char *cidr = e->cidr;
		if (isalpha((unsigned char)cidr[0]) && !strchr(cidr, ':')) {
			const pve_fw_alias *a = resolve_alias(c, cidr);
			if (!a)
				return pve_error_set(err, EINVAL,
						     "%s: ipset '%s': no such alias '%s'", c->where,
						     ipset->name, cidr);
			cidr = a->cidr;
		}
		fw_range r;
		int fam;
		if (parse_range(cidr, &r, &fam, err) < 0)
			return -EINVAL;
		size_t idx = fam == 4 ? i4 : i6;
		if (e->nomatch) {
			ssize_t *n = fam == 4 ? &n4 : &n6;
			if (*n < 0) {
				char name[128];
				snprintf(name, sizeof(name), "%s-nomatch", fam == 4 ? v4 : v6);
				add_set(c->rs, name, fam == 4 ? FW_SET_ADDR4 : FW_SET_ADDR6, vmid);
				*n = (ssize_t)c->rs->n_sets - 1;
			}
			idx = (size_t)*n;
		}
		fw_set *s = &c->rs->sets[idx];
		s->ranges = xrealloc(s->ranges, (s->n_ranges + 1) * sizeof(*s->ranges));
		s->ranges[s->n_ranges++] = r;
	}
	for (size_t i = i4; i < c->rs->n_sets; i++)
		fw_ranges_merge(&c->rs->sets[i].ranges, &c->rs->sets[i].n_ranges,
				c->rs->sets[i].type == FW_SET_ADDR6 ? 16 : 4);
	return 0;
}

/* ----- Guests ----- */

static int compile_guest(ctx *c, const pve_fw_guest *g, pve_error **err)
{
	const pve_fw_file *fw = g->fw;
	if (!fw || !pve_fw_option_int(fw, "enable", 0))
		return 0;
	bool any = false;
	for (size_t i = 0; i < g->n_nics; i++)
		any |= g->nics[i].firewall;
	if (!any)
		return 0;
	char where[32];
	snprintf(where, sizeof(where), "%u.fw", g->vmid);
	c->guest = g;
	c->local = fw;
	c->where = where;
	c->rs->n_guests++;
	for (size_t i = 0; i < fw->n_ipsets; i++) {
		int r = add_ipset_sets(c, &fw->ipsets[i], g->vmid, err);
		if (r < 0)
			return r;
	}
	char in[64], out[64];
	snprintf(in, sizeof(in), "guest-%u-in", g->vmid);
	snprintf(out, sizeof(out), "guest-%u-out", g->vmid);
	add_chain(c->rs, in, g->vmid);
	add_chain(c->rs, out, g->vmid);

	/* Out: spoofing first (macfilter on by default, ipfilter when asked), then DHCP, NDP and
	 * router advertisements as the options say, the rules, the policy. */
	bool macfilter = pve_fw_option_int(fw, "macfilter", 1);
	bool ipfilter = pve_fw_option_int(fw, "ipfilter", 0);
	for (size_t i = 0; i < g->n_nics; i++) {
		const pve_fw_nic *n = &g->nics[i];
		if (!n->firewall)
			continue;
		if (macfilter && n->has_mac) {
			fw_rule *r = add_rule(find_chain(c->rs, out));
			match_name(r, FW_M_IIFNAME, n->ifname);
			memcpy(add_match(r, FW_M_ETHER_SADDR_NE)->mac, n->mac, 6);
			set_verdict(r, FW_V_DROP, NULL);
		}
		if (ipfilter) {
			char setname[32], v4[96], v6[96];
			snprintf(setname, sizeof(setname), "ipfilter-net%u", n->index);
			ipset_set_names(g->vmid, setname, v4, v6, sizeof(v4));
			bool have = pve_fw_find_ipset(fw, setname) != NULL;
			for (int fam = 4; fam <= 6; fam += 2) {
				fw_rule *r = add_rule(find_chain(c->rs, out));
				match_name(r, FW_M_IIFNAME, n->ifname);
				match_value(r, FW_M_NFPROTO, (unsigned)fam);
				fw_match *m = add_match(r, FW_M_ADDR);
				m->src = true;
				m->neg = true;
				m->family = fam;
				if (have) {
					m->name = xstrdup(fam == 4 ? v4 : v6);
					/* Link-local IPv6 is always the guest's own (NDP needs it). */
					if (fam == 6) {
						fw_match *ll = add_match(r, FW_M_ADDR);
						ll->src = true;
						ll->neg = true;
						ll->family = 6;
						ll->ranges = xcalloc(1, sizeof(*ll->ranges));
						ll->n_ranges = 1;
						ll->ranges->lo[0] = ll->ranges->hi[0] = 0xfe;
						ll->ranges->lo[1] = 0x80;
						ll->ranges->hi[1] = 0xbf;
						memset(ll->ranges->hi + 2, 0xff, 14);
					}
				} else if (fam == 4) {
					/* No ipset: only DHCP's 0.0.0.0 leaves. */
					m->ranges = xcalloc(1, sizeof(*m->ranges));
					m->n_ranges = 1;
				} else {
					/* No ipset: link-local IPv6 only (NDP needs it). */
					m->ranges = xcalloc(1, sizeof(*m->ranges));
					m->n_ranges = 1;
					fw_range *lr = m->ranges;
					lr->lo[0] = 0xfe;
					lr->lo[1] = 0x80;
					memcpy(lr->hi, lr->lo, 16);
					lr->hi[1] = 0xbf;
					memset(lr->hi + 2, 0xff, 14);
				}
				set_verdict(r, FW_V_DROP, NULL);
			}
		}
	}
	if (c->bridge) {
		/* ARP that passed macfilter leaves: the inet table never saw it, and a guest with
		 * policy_out DROP still needs its neighbours. */
		fw_rule *r = add_rule(find_chain(c->rs, out));
		add_match(r, FW_M_ETHERTYPE)->value = ETH_P_ARP;
		set_verdict(r, FW_V_ACCEPT, NULL);
	}
	fw_chain *o = find_chain(c->rs, out);
	if (pve_fw_option_int(fw, "dhcp", 0)) {
		/* Requests out (DHCP to 67, DHCPv6 to 547), answers in (68, 546). */
		for (int dir = 0; dir < 2; dir++)
			for (int v6 = 0; v6 < 2; v6++) {
				fw_rule *r = add_rule(find_chain(c->rs, dir ? in : out));
				match_value(r, FW_M_L4PROTO, 17);
				unsigned port = v6 ? (dir ? 546 : 547) : (dir ? 68 : 67);
				match_port(r, false, port, port);
				set_verdict(r, FW_V_ACCEPT, NULL);
			}
	}
	if (!pve_fw_option_int(fw, "radv", 0)) {
		fw_rule *r = add_rule(o);
		match_value(r, FW_M_L4PROTO, 58);
		fw_match *m = add_match(r, FW_M_ICMP);
		m->family = 6;
		m->value = 134;
		set_verdict(r, FW_V_DROP, NULL);
	}
	if (pve_fw_option_int(fw, "ndp", 1)) {
		for (int dir = 0; dir < 2; dir++)
			for (unsigned t = 133; t <= 136; t++) {
				fw_rule *r = add_rule(find_chain(c->rs, dir ? in : out));
				match_value(r, FW_M_L4PROTO, 58);
				fw_match *m = add_match(r, FW_M_ICMP);
				m->family = 6;
				m->value = t;
				set_verdict(r, FW_V_ACCEPT, NULL);
			}
	}
	for (size_t i = 0; i < fw->n_rules; i++) {
		pve_fw_rule *rule = &fw->rules[i];
		bool isin = streq(rule->type, "in"), isout = streq(rule->type, "out");
		bool group = streq(rule->type, "group");
		int r = 0;
		if (isin || group)
			r = compile_rule(c, in, "in", rule, false, PVE_FW_VM, err);
		if (r >= 0 && (isout || group))
			r = compile_rule(c, out, "out", rule, false, PVE_FW_VM, err);
		if (r >= 0 && !isin && !isout && !group)
			r = compile_rule(c, in, rule->type, rule, false, PVE_FW_VM, err);
		if (r < 0)
			return r;
	}
	const char *pin = pve_fw_option_get(fw, "policy_in");
	const char *pout = pve_fw_option_get(fw, "policy_out");
	add_policy(find_chain(c->rs, in), pin ? pin : "DROP", pve_fw_option_get(fw, "log_level_in"),
		   g->vmid, in, !c->bridge);
	/* An accepted packet out of a guest goes on to the receiver's chain: out's ACCEPT is a
	 * verdict of this base chain only, the next base chain (guest-in) still looks. */
	add_policy(find_chain(c->rs, out), pout ? pout : "ACCEPT",
		   pve_fw_option_get(fw, "log_level_out"), g->vmid, out, true);

	fw_set *vin = &c->rs->sets[c->vm_in], *vout = &c->rs->sets[c->vm_out];
	for (size_t i = 0; i < g->n_nics; i++) {
		if (!g->nics[i].firewall)
			continue;
		for (int k = 0; k < 2; k++) {
			fw_set *s = k ? vout : vin;
			s->elems = xrealloc(s->elems, (s->n_elems + 1) * sizeof(*s->elems));
			fw_vmap_elem *e = &s->elems[s->n_elems++];
			*e = (fw_vmap_elem){ .vmid = g->vmid };
			snprintf(e->ifname, sizeof(e->ifname), "%s", g->nics[i].ifname);
			snprintf(e->chain, sizeof(e->chain), "%s", k ? out : in);
		}
	}
	c->guest = NULL;
	return 0;
}

/* Rules with short lists become one rule per combination: a list in the kernel is an anonymous set,
 * and each one bound in a batch costs the kernel a walk of the whole transaction
 * (__nft_set_trans_bind), so thousands of them make a big ruleset's batch quadratic. Values in one
 * list are disjoint after merging, so a packet matches at most one of the rules made. */
#define EXPAND_MAX 16

static void expand_lists(pve_fw_ruleset *rs)
{
	for (size_t ci = 0; ci < rs->n_chains; ci++) {
		fw_chain *c = &rs->chains[ci];
		fw_rule *out = NULL;
		size_t n_out = 0;
		for (size_t ri = 0; ri < c->n_rules; ri++) {
			fw_rule *r = &c->rules[ri];
			size_t product = 1;
			for (size_t m = 0; m < r->n_m; m++)
				if (!r->m[m].name && r->m[m].n_ranges > 1)
					product *= r->m[m].n_ranges;
			if (product == 1 || product > EXPAND_MAX) {
				out = xrealloc(out, (n_out + 1) * sizeof(*out));
				out[n_out++] = *r;
				continue;
			}
			out = xrealloc(out, (n_out + product) * sizeof(*out));
			for (size_t k = 0; k < product; k++) {
				fw_rule *e = &out[n_out++];
				*e = (fw_rule){ .verdict = r->verdict };
				e->target = r->target ? xstrdup(r->target) : NULL;
				e->log_prefix = r->log_prefix ? xstrdup(r->log_prefix) : NULL;
				rule_copy_matches(e, r);
				size_t rest = k;
				for (size_t m = 0; m < e->n_m; m++) {
					fw_match *x = &e->m[m];
					if (x->name || x->n_ranges < 2)
						continue;
					fw_range pick = x->ranges[rest % x->n_ranges];
					rest /= x->n_ranges;
					x->ranges[0] = pick;
					x->n_ranges = 1;
				}
			}
			rule_free(r);
		}
		free(c->rules);
		c->rules = out;
		c->n_rules = n_out;
	}
}

/* ----- host.fw's options ----- */

/* TCP flag bits (the byte at offset 13 of the header). */
#define TF_FIN 0x01u
#define TF_SYN 0x02u
#define TF_RST 0x04u
#define TF_PSH 0x08u
#define TF_ACK 0x10u
#define TF_URG 0x20u
#define PKT_BROADCAST 1u /* linux/if_packet.h's PACKET_BROADCAST */

/* A drop in one of the option chains, after its log twin at host.fw's log level for it. */
static void add_option_drop(pve_fw_ruleset *rs, const char *chain, fw_rule base,
			    const char *log_level)
{
	fw_chain *ch = find_chain(rs, chain);
	if (log_level && !streq(log_level, "nolog")) {
		fw_rule *lr = add_rule(ch);
		rule_copy_matches(lr, &base);
		lr->log_prefix = xasprintf(":0:%d:%s: DROP: ", log_level_number(log_level), chain);
	}
	fw_rule *r = add_rule(ch);
	*r = base;
	set_verdict(r, FW_V_DROP, NULL);
}

static fw_rule tcp_flags_rule(unsigned mask, unsigned want, bool neg)
{
	fw_rule r = { 0 };
	match_value(&r, FW_M_L4PROTO, 6);
	fw_match *m = add_match(&r, FW_M_TCP_FLAGS);
	m->value = mask;
	m->code = (int)want;
	m->neg = neg;
	return r;
}

/* An IPv4 source of one prefix (lo with the first bits of mask kept). */
static void match_saddr4(fw_rule *r, uint8_t first, int bits)
{
	match_value(r, FW_M_NFPROTO, 4);
	fw_match *m = add_match(r, FW_M_ADDR);
	m->src = true;
	m->family = 4;
	m->ranges = xcalloc(1, sizeof(*m->ranges));
	m->n_ranges = 1;
	m->ranges->lo[0] = m->ranges->hi[0] = first;
	for (int bit = bits; bit < 32; bit++)
		m->ranges->hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

/* nosmurfs, tcpflags and protection_synflood as proxmox-firewall's block-smurfs,
 * block-invalid-tcp and block-synflood chains, jumped to from input after conntrack (so only new
 * connections pay for them); the conntrack settings are kept for pve_fw_sysctl_apply. */
static void add_host_options(pve_fw_ruleset *rs, const pve_fw_file *host)
{
	static const char *const sysctls[] = { "nf_conntrack_max",
					       "nf_conntrack_tcp_timeout_established",
					       "nf_conntrack_tcp_timeout_syn_recv" };
	for (size_t i = 0; i < ELEMENTSOF(sysctls); i++) {
		long long v = pve_fw_option_int(host, sysctls[i], -1);
		if (v < 0)
			continue;
		rs->sysctls[rs->n_sysctls].name = sysctls[i];
		rs->sysctls[rs->n_sysctls++].value = (unsigned long long)v;
	}
	if (pve_fw_option_int(host, "protection_synflood", 0)) {
		long long rate = pve_fw_option_int(host, "protection_synflood_rate", 200);
		long long burst = pve_fw_option_int(host, "protection_synflood_burst", 1000);
		add_set(rs, "v4-synflood-limit", FW_SET_METER4, 0);
		add_set(rs, "v6-synflood-limit", FW_SET_METER6, 0);
		fw_chain *ch = add_chain(rs, "block-synflood", 0);
		/* Only a new connection's SYN is counted: the rest returns at once. */
		fw_rule *r = add_rule(ch);
		*r = tcp_flags_rule(TF_FIN | TF_SYN | TF_RST | TF_ACK, TF_SYN, true);
		set_verdict(r, FW_V_RETURN, NULL);
		for (int fam = 4; fam <= 6; fam += 2) {
			r = add_rule(ch);
			match_value(r, FW_M_NFPROTO, (unsigned)fam);
			fw_match *m = add_match(r, FW_M_METER_OVER);
			m->family = fam;
			m->name = xstrdup(fam == 4 ? "v4-synflood-limit" : "v6-synflood-limit");
			m->value = rate > 0 ? (unsigned)rate : 1;
			m->code = (int)(burst > 0 ? burst : 1);
			set_verdict(r, FW_V_DROP, NULL);
		}
		set_verdict(add_rule(find_chain(rs, "input")), FW_V_JUMP, "block-synflood");
	}
	if (pve_fw_option_int(host, "tcpflags", 0)) {
		/* The combinations no TCP stack sends (pve-firewall's PVEFW-tcpflags). */
		static const unsigned bad[][2] = {
			{ TF_FIN | TF_SYN | TF_RST | TF_PSH | TF_ACK | TF_URG,
			  TF_FIN | TF_PSH | TF_URG },
			{ TF_FIN | TF_SYN | TF_RST | TF_PSH | TF_ACK | TF_URG, 0 },
			{ TF_SYN | TF_RST, TF_SYN | TF_RST },
			{ TF_FIN | TF_SYN, TF_FIN | TF_SYN },
		};
		const char *level = pve_fw_option_get(host, "tcp_flags_log_level");
		add_chain(rs, "block-invalid-tcp", 0);
		for (size_t i = 0; i < ELEMENTSOF(bad); i++)
			add_option_drop(rs, "block-invalid-tcp",
					tcp_flags_rule(bad[i][0], bad[i][1], false), level);
		/* A SYN from port 0. */
		fw_rule r = tcp_flags_rule(TF_FIN | TF_SYN | TF_RST | TF_ACK, TF_SYN, false);
		match_port(&r, true, 0, 0);
		add_option_drop(rs, "block-invalid-tcp", r, level);
		set_verdict(add_rule(find_chain(rs, "input")), FW_V_JUMP, "block-invalid-tcp");
	}
	/* On unless host.fw says nosmurfs: 0, as pve-firewall. */
	if (pve_fw_option_int(host, "nosmurfs", 1)) {
		const char *level = pve_fw_option_get(host, "smurf_log_level");
		fw_chain *ch = add_chain(rs, "block-smurfs", 0);
		/* DHCP's 0.0.0.0 source is no smurf. */
		fw_rule *r = add_rule(ch);
		match_saddr4(r, 0, 32);
		set_verdict(r, FW_V_RETURN, NULL);
		fw_rule bc = { 0 };
		match_value(&bc, FW_M_PKTTYPE, PKT_BROADCAST);
		add_option_drop(rs, "block-smurfs", bc, level);
		fw_rule mc = { 0 };
		match_saddr4(&mc, 224, 4);
		add_option_drop(rs, "block-smurfs", mc, level);
		set_verdict(add_rule(find_chain(rs, "input")), FW_V_JUMP, "block-smurfs");
	}
}

/* pve-firewall's ports and families of each helper, in pve_fw_ct_helper_names' order. */
const fw_ct_helper_def fw_ct_helper_defs[] = {
	{ "amanda", 17, 10080, true }, { "ftp", 6, 21, true },
	{ "irc", 6, 6667, false },     { "netbios-ns", 17, 137, false },
	{ "pptp", 6, 1723, false },    { "sane", 6, 6566, true },
	{ "sip", 17, 5060, true },     { "snmp", 17, 161, false },
	{ "tftp", 17, 69, true },      { NULL, 0, 0, false },
};

/* nf_conntrack_helpers as pve-firewall's raw PREROUTING rules (`-p tcp --dport 21 -j CT --helper
 * ftp`): a ct helper object per helper and a prerouting chain that assigns it to new connections
 * to its port, the host's and routed guests' alike. The helper makes the connections it expects
 * (FTP data, a TFTP reply) RELATED, which the base chains accept; the rules still decide the
 * control connection. Helpers the kernel lacks are left out (the batch would fail). */
static void add_ct_helpers(pve_fw_ruleset *rs, const pve_fw_file *host, unsigned absent)
{
	const char *list = pve_fw_option_get(host, "nf_conntrack_helpers");
	_cleanup_strv_free_ char **names = pve_strv_split(list, ",");
	fw_chain *ch = NULL;
	for (size_t i = 0; fw_ct_helper_defs[i].name; i++) {
		const fw_ct_helper_def *def = &fw_ct_helper_defs[i];
		if (!strv_contains(names, def->name))
			continue;
		if (absent & (1u << i)) {
			rs->ct_helpers_absent |= 1u << i;
			continue;
		}
		rs->helpers = xrealloc(rs->helpers, (rs->n_helpers + 1) * sizeof(*rs->helpers));
		fw_ct_helper *h = &rs->helpers[rs->n_helpers++];
		h->def = def;
		snprintf(h->obj, sizeof(h->obj), "helper-%s-%s", def->name,
			 def->l4proto == 6 ? "tcp" : "udp");
		if (!ch)
			ch = add_base_chain(rs, "ct-helpers", NF_INET_PRE_ROUTING, 0);
		fw_rule *r = add_rule(ch);
		if (!def->v6)
			match_value(r, FW_M_NFPROTO, 4);
		match_value(r, FW_M_L4PROTO, def->l4proto);
		match_port(r, false, def->port, def->port);
		r->ct_helper = xstrdup(h->obj);
	}
}

/* ----- The table ----- */

/* What host and guest rules both reach, made in each table that has rules: the cluster's ipsets,
 * do-reject and the groups' chains; and the guests' verdict maps where the guests are. */
static int compile_shared(ctx *c, bool maps, pve_error **err)
{
	pve_fw_ruleset *rs = c->rs;
	const pve_fw_file *cl = c->in->cluster;
	for (size_t i = 0; i < cl->n_ipsets; i++) {
		int r = add_ipset_sets(c, &cl->ipsets[i], 0, err);
		if (r < 0)
			return r;
	}
	if (maps) {
		add_set(rs, "vm-in", FW_SET_VMAP, 0);
		c->vm_in = rs->n_sets - 1;
		add_set(rs, "vm-out", FW_SET_VMAP, 0);
		c->vm_out = rs->n_sets - 1;
	}

	/* do-reject: TCP gets a reset, the rest ICMP port unreachable (Proxmox's PVEFW-reject). */
	fw_chain *rej = add_chain(rs, "do-reject", 0);
	fw_rule *r = add_rule(rej);
	match_value(r, FW_M_L4PROTO, 6);
	set_verdict(r, FW_V_REJECT_TCP, NULL);
	set_verdict(add_rule(rej), FW_V_REJECT, NULL);

	for (size_t i = 0; i < cl->n_groups; i++) {
		const pve_fw_group *g = &cl->groups[i];
		char gin[64], gout[64], gfwd[64];
		snprintf(gin, sizeof(gin), "group-%s-in", g->name);
		snprintf(gout, sizeof(gout), "group-%s-out", g->name);
		snprintf(gfwd, sizeof(gfwd), "group-%s-forward", g->name);
		add_chain(rs, gin, 0);
		add_chain(rs, gout, 0);
		add_chain(rs, gfwd, 0);
		char where[64];
		snprintf(where, sizeof(where), "cluster.fw [group %s]", g->name);
		c->where = where;
		c->local = NULL;
		for (size_t j = 0; j < g->n_rules; j++) {
			pve_fw_rule *gr = &g->rules[j];
			const char *chain = streq(gr->type, "in")  ? gin :
					    streq(gr->type, "out") ? gout :
								     gfwd;
			int ret = compile_rule(c, chain, gr->type, gr, true, PVE_FW_CLUSTER, err);
			if (ret < 0)
				return ret;
		}
	}
	c->local = cl;
	c->where = "cluster.fw";
	return 0;
}

/* The base chains that send a guest's traffic to its chains by interface, conntrack first
 * (established and related traffic is not filtered again). In the inet table: the out chains
 * before the host's and the forward rules, the in chains after. In the bridge table: out when a
 * frame enters the bridge from a port, in when it leaves through one (ARP in passes, as the inet
 * table never saw it). The frames the bridge sends itself (the answers of its reject, a multicast
 * query) have no conntrack, which reads as invalid: they are made untracked on their way out and
 * pass; the host's own packets carry the inet table's conntrack. */
static void add_guest_bases(ctx *c, bool allow_invalid)
{
	static const struct {
		const char *name;
		int hook, prio;
		bool out_map;
	} inet[] = {
		{ "guest-out-input", NF_INET_LOCAL_IN, -10, true },
		{ "guest-out-forward", NF_INET_FORWARD, -10, true },
		{ "guest-in-forward", NF_INET_FORWARD, -5, false },
		{ "guest-in-output", NF_INET_LOCAL_OUT, 10, false },
	}, bridge[] = {
		{ "guest-out-prerouting", NF_BR_PRE_ROUTING, 0, true },
		{ "guest-in-postrouting", NF_BR_POST_ROUTING, 0, false },
	};
	if (c->bridge) {
		fw_chain *lo = add_base_chain(c->rs, "guest-local-output", NF_BR_LOCAL_OUT, 0);
		set_verdict(add_rule(lo), FW_V_NOTRACK, NULL);
	}
	size_t n = c->bridge ? ELEMENTSOF(bridge) : ELEMENTSOF(inet);
	for (size_t i = 0; i < n; i++) {
		const __typeof__(inet[0]) *g = c->bridge ? &bridge[i] : &inet[i];
		fw_chain *b = add_base_chain(c->rs, g->name, g->hook, g->prio);
		if (c->bridge && !g->out_map) {
			fw_rule *own = add_rule(b);
			match_value(own, FW_M_CT_STATE, CT_UNTRACKED);
			set_verdict(own, FW_V_ACCEPT, NULL);
		}
		add_ct_rules(b, allow_invalid, c->bridge);
		if (c->bridge && !g->out_map) {
			fw_rule *arp = add_rule(b);
			add_match(arp, FW_M_ETHERTYPE)->value = ETH_P_ARP;
			set_verdict(arp, FW_V_ACCEPT, NULL);
		}
		fw_match *m = add_match(add_rule(b), FW_M_IFNAME_VMAP);
		m->src = g->out_map;
		m->name = xstrdup(g->out_map ? "vm-out" : "vm-in");
	}
}

int pve_fw_compile(const pve_fw_input *in, pve_fw_ruleset **ret, pve_error **err)
{
	_cleanup_fw_ruleset_ pve_fw_ruleset *rs = xcalloc(1, sizeof(*rs));
	rs->table = xstrdup(in->table ? in->table : "pved-firewall");
	rs->family = NFPROTO_INET;
	rs->nflog_group = in->nflog_group;
	rs->log_rate = 1;
	rs->log_burst = 5;
	const pve_fw_file *cl = in->cluster;
	/* The conntrack log is the host's, kept also while no rules are. */
	rs->log_conntrack = in->host && pve_fw_option_int(in->host, "log_nf_conntrack", 0);
	rs->enabled = cl && pve_fw_option_int(cl, "enable", 0);
	if (!rs->enabled) {
		*ret = TAKE_PTR(rs);
		return 0;
	}
	const char *ratelimit = pve_fw_option_get(cl, "log_ratelimit");
	if (ratelimit) {
		/* enable=1,rate=1/second,burst=5: the rate is per second, minute, hour or day; pved
		 * keeps per second (at least 1) and the burst. */
		unsigned long long v;
		const char *p = strstr(ratelimit, "burst=");
		if (p && pve_parse_uint(strndupa(p + 6, strcspn(p + 6, ",")), 65535, &v) == 0)
			rs->log_burst = (unsigned)v;
		p = strstr(ratelimit, "rate=");
		if (p && pve_parse_uint(strndupa(p + 5, strcspn(p + 5, "/,")), 65535, &v) == 0 && v)
			rs->log_rate = (unsigned)v;
	}
	ctx c = { .rs = rs, .in = in, .local = cl, .where = "cluster.fw" };
	int r = compile_shared(&c, false, err);
	if (r < 0)
		return r;
	const pve_fw_file *host = in->host;
	bool allow_invalid = host && pve_fw_option_int(host, "nf_conntrack_allow_invalid", 0);

	/* The guests: in tables of their own, bridge ones (which see every port of a bridge, and so
	 * the traffic between two guests on it) where the kernel takes them, sharded by vmid. */
	size_t n_shards = (in->n_guests + FW_SHARD_GUESTS - 1) / FW_SHARD_GUESTS;
	n_shards = n_shards < 1 ? 1 : n_shards > FW_MAX_SHARDS ? FW_MAX_SHARDS : n_shards;
	ctx shards[FW_MAX_SHARDS];
	pve_fw_ruleset **tail = &rs->guests;
	for (size_t k = 0; k < n_shards; k++) {
		pve_fw_ruleset *g = xcalloc(1, sizeof(*g));
		char name[128];
		fw_guest_table_name(rs->table, k, name, sizeof(name));
		g->table = xstrdup(name);
		g->family = in->bridge ? NFPROTO_BRIDGE : NFPROTO_INET;
		g->enabled = true;
		g->nflog_group = rs->nflog_group;
		g->log_rate = rs->log_rate;
		g->log_burst = rs->log_burst;
		*tail = g;
		tail = &g->next;
		shards[k] = (ctx){
			.rs = g, .in = in, .local = cl, .where = "cluster.fw", .bridge = in->bridge
		};
		if ((r = compile_shared(&shards[k], true, err)) < 0)
			return r;
		add_guest_bases(&shards[k], allow_invalid);
	}
	rs->n_shards = n_shards;

	/* The host: cluster.fw's and host.fw's rules, the host's rules first (proxmox-firewall's
	 * host-in before cluster-in), then the cluster's policy. */
	bool host_on = !host || pve_fw_option_int(host, "enable", 1);
	fw_chain *input = add_base_chain(rs, "input", NF_INET_LOCAL_IN, 0);
	fw_rule *lo = add_rule(input);
	match_name(lo, FW_M_IIFNAME, "lo");
	set_verdict(lo, FW_V_ACCEPT, NULL);
	add_ct_rules(input, allow_invalid, false);
	fw_chain *output = add_base_chain(rs, "output", NF_INET_LOCAL_OUT, 0);
	lo = add_rule(output);
	match_name(lo, FW_M_OIFNAME, "lo");
	set_verdict(lo, FW_V_ACCEPT, NULL);
	add_ct_rules(output, allow_invalid, false);
	fw_chain *fwd = add_base_chain(rs, "forward", NF_INET_FORWARD, 0);
	add_ct_rules(fwd, allow_invalid, false);
	add_chain(rs, "host-in", 0);
	add_chain(rs, "host-out", 0);
	add_chain(rs, "host-forward", 0);
	if (host_on) {
		add_host_options(rs, host);
		add_ct_helpers(rs, host, in->ct_helpers_absent);
	}
	set_verdict(add_rule(find_chain(rs, "input")), FW_V_JUMP, "host-in");
	set_verdict(add_rule(find_chain(rs, "output")), FW_V_JUMP, "host-out");
	set_verdict(add_rule(find_chain(rs, "forward")), FW_V_JUMP, "host-forward");
	if (host_on) {
		/* Proxmox's management access first, so a DROP policy never locks the administrators
		 * out: the ipset "management" and the alias "local_network" reach the API (8006),
		 * SSH, SPICE (3128) and VNC (5900-5999). */
		static const unsigned mgmt_ports[][2] = {
			{ 22, 22 }, { 3128, 3128 }, { 5900, 5999 }, { 8006, 8006 }
		};
		const pve_fw_alias *ln = pve_fw_find_alias(cl, "local_network");
		for (int src = 0; src < 2; src++) {
			addr_spec a = { 0 };
			if (src == 0 && !pve_fw_find_ipset(cl, "management"))
				continue;
			if (src == 1 && !ln)
				continue;
			int r2 = compile_addr(&c, "source",
					      src == 0 ? "+dc/management" : "dc/local_network", &a,
					      err);
			if (r2 < 0)
				return r2;
			for (int fam = 4; fam <= 6; fam += 2) {
				if (a.family && a.family != fam)
					continue;
				for (size_t p = 0; p < ELEMENTSOF(mgmt_ports); p++) {
					fw_rule *mr = add_rule(find_chain(rs, "host-in"));
					match_value(mr, FW_M_NFPROTO, (unsigned)fam);
					match_value(mr, FW_M_L4PROTO, 6);
					match_addr(mr, &a, true, fam);
					match_port(mr, false, mgmt_ports[p][0], mgmt_ports[p][1]);
					set_verdict(mr, FW_V_ACCEPT, NULL);
				}
			}
			free(a.ranges);
		}
		const pve_fw_file *files[2] = { host, cl };
		for (int f = 0; f < 2; f++) {
			if (!files[f])
				continue;
			c.local = files[f];
			c.where = f == 0 ? "host.fw" : "cluster.fw";
			for (size_t i = 0; i < files[f]->n_rules; i++) {
				pve_fw_rule *rule = &files[f]->rules[i];
				int ret2 = 0;
				bool group = streq(rule->type, "group");
				pve_fw_kind env = f == 0 ? PVE_FW_HOST : PVE_FW_CLUSTER;
				if (streq(rule->type, "in") || group)
					ret2 = compile_rule(&c, "host-in", "in", rule, false, env,
							    err);
				if (ret2 >= 0 && (streq(rule->type, "out") || group))
					ret2 = compile_rule(&c, "host-out", "out", rule, false, env,
							    err);
				if (ret2 >= 0 && streq(rule->type, "forward"))
					ret2 = compile_rule(&c, "host-forward", "forward", rule,
							    false, env, err);
				if (ret2 < 0)
					return ret2;
			}
		}
		const char *pin = pve_fw_option_get(cl, "policy_in");
		const char *pout = pve_fw_option_get(cl, "policy_out");
		const char *pfwd = pve_fw_option_get(cl, "policy_forward");
		add_policy(find_chain(rs, "host-in"), pin ? pin : "DROP",
			   pve_fw_option_get(host, "log_level_in"), 0, "host-in", true);
		add_policy(find_chain(rs, "host-out"), pout ? pout : "ACCEPT",
			   pve_fw_option_get(host, "log_level_out"), 0, "host-out", true);
		add_policy(find_chain(rs, "host-forward"), pfwd ? pfwd : "ACCEPT",
			   pve_fw_option_get(host, "log_level_forward"), 0, "host-forward", true);
	}

	for (size_t i = 0; i < in->n_guests; i++) {
		const pve_fw_guest *g = &in->guests[i];
		int ret2 = compile_guest(&shards[g->vmid % n_shards], g, err);
		if (ret2 < 0)
			return ret2;
	}
	expand_lists(rs);
	for (pve_fw_ruleset *g = rs->guests; g; g = g->next)
		expand_lists(g);
	*ret = TAKE_PTR(rs);
	return 0;
}
