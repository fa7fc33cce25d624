/* The compiled ruleset printed in nft's syntax: what `pvectl firewall compile` shows and what `nft -f`
 * would load to the same effect (the benchmark loads it to compare). */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>

#include "fw/fw-internal.h"

static void print_key(pve_buf *b, const uint8_t *k, int family)
{
	char s[INET6_ADDRSTRLEN];
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, k, s, sizeof(s));
	pve_buf_puts(b, s);
}

static void print_range(pve_buf *b, const fw_range *r, int family)
{
	if (family == 0) {
		unsigned lo = (unsigned)(r->lo[0] << 8 | r->lo[1]),
			 hi = (unsigned)(r->hi[0] << 8 | r->hi[1]);
		if (lo == hi)
			pve_buf_printf(b, "%u", lo);
		else
			pve_buf_printf(b, "%u-%u", lo, hi);
		return;
	}
	size_t len = fw_key_len(family);
	int p = fw_range_prefix(r, len);
	print_key(b, r->lo, family);
	if (p == (int)len * 8)
		return;
	if (p >= 0) {
		pve_buf_printf(b, "/%d", p);
		return;
	}
	pve_buf_puts(b, "-");
	print_key(b, r->hi, family);
}

/* One value or range, or an anonymous set of them. family 0: ports. */
static void print_ranges(pve_buf *b, const fw_range *r, size_t n, int family)
{
	if (n == 1) {
		print_range(b, r, family);
		return;
	}
	pve_buf_puts(b, "{ ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			pve_buf_puts(b, ", ");
		print_range(b, &r[i], family);
	}
	pve_buf_puts(b, " }");
}

static const char *l4_name(unsigned p)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "ipv6-icmp";
	default:
		return NULL;
	}
}

static void print_tcp_flags(pve_buf *b, unsigned flags)
{
	static const char *const names[] = { "fin", "syn", "rst", "psh", "ack", "urg" };
	bool first = true;
	for (unsigned i = 0; i < ELEMENTSOF(names); i++)
		if (flags & (1u << i)) {
			pve_buf_printf(b, "%s%s", first ? "" : "|", names[i]);
			first = false;
		}
	if (first)
		pve_buf_puts(b, "0x0");
}

static void print_ether_type(pve_buf *b, unsigned type)
{
	switch (type) {
	case ETH_P_ARP:
		pve_buf_puts(b, "arp ");
		break;
	case ETH_P_IP:
		pve_buf_puts(b, "ip ");
		break;
	case ETH_P_IPV6:
		pve_buf_puts(b, "ip6 ");
		break;
	default:
		pve_buf_printf(b, "0x%04x ", type);
	}
}

/* family: the table's (NFPROTO_INET, NFPROTO_BRIDGE), where a frame's family is its ether type. */
static void print_match(pve_buf *b, const fw_match *m, int family)
{
	switch (m->kind) {
	case FW_M_IIFNAME:
		pve_buf_printf(b, "iifname \"%s\" ", m->name);
		break;
	case FW_M_OIFNAME:
		pve_buf_printf(b, "oifname \"%s\" ", m->name);
		break;
	case FW_M_NFPROTO:
		if (family == NFPROTO_BRIDGE) {
			pve_buf_puts(b, "meta protocol ");
			print_ether_type(b, m->value == 6 ? ETH_P_IPV6 : ETH_P_IP);
		} else {
			pve_buf_printf(b, "meta nfproto %s ", m->value == 6 ? "ipv6" : "ipv4");
		}
		break;
	case FW_M_ETHERTYPE:
		pve_buf_printf(b, "meta protocol %s", m->neg ? "!= " : "");
		print_ether_type(b, m->value);
		break;
	case FW_M_L4PROTO:
		if (l4_name(m->value))
			pve_buf_printf(b, "meta l4proto %s ", l4_name(m->value));
		else
			pve_buf_printf(b, "meta l4proto %u ", m->value);
		break;
	case FW_M_ADDR:
		pve_buf_printf(b, "%s %s %s", m->family == 6 ? "ip6" : "ip",
			       m->src ? "saddr" : "daddr", m->neg ? "!= " : "");
		if (m->name)
			pve_buf_printf(b, "@%s", m->name);
		else
			print_ranges(b, m->ranges, m->n_ranges, m->family);
		pve_buf_puts(b, " ");
		break;
	case FW_M_PORT:
		pve_buf_printf(b, "th %s ", m->src ? "sport" : "dport");
		print_ranges(b, m->ranges, m->n_ranges, 0);
		pve_buf_puts(b, " ");
		break;
	case FW_M_ICMP:
		pve_buf_printf(b, "%s type %u ", m->family == 6 ? "icmpv6" : "icmp", m->value);
		if (m->code >= 0)
			pve_buf_printf(b, "%s code %d ", m->family == 6 ? "icmpv6" : "icmp",
				       m->code);
		break;
	case FW_M_CT_STATE: {
		static const char *const names[] = { "invalid", "established", "related", "new", "",
						     "",	"untracked" };
		pve_buf_puts(b, "ct state ");
		bool first = true;
		for (unsigned i = 0; i < ELEMENTSOF(names); i++)
			if (m->value & (1u << i)) {
				pve_buf_printf(b, "%s%s", first ? "" : ",", names[i]);
				first = false;
			}
		pve_buf_puts(b, " ");
		break;
	}
	case FW_M_ETHER_SADDR_NE:
		pve_buf_printf(b, "ether saddr != %02x:%02x:%02x:%02x:%02x:%02x ", m->mac[0],
			       m->mac[1], m->mac[2], m->mac[3], m->mac[4], m->mac[5]);
		break;
	case FW_M_IFNAME_VMAP:
		pve_buf_printf(b, "%s vmap @%s ", m->src ? "iifname" : "oifname", m->name);
		break;
	case FW_M_PKTTYPE:
		pve_buf_printf(b, "meta pkttype %s ",
			       m->value == 1 ? "broadcast" :
			       m->value == 2 ? "multicast" :
					       "host");
		break;
	case FW_M_TCP_FLAGS:
		pve_buf_puts(b, "tcp flags & (");
		print_tcp_flags(b, m->value);
		pve_buf_printf(b, ") %s ", m->neg ? "!=" : "==");
		print_tcp_flags(b, (unsigned)m->code);
		pve_buf_puts(b, " ");
		break;
	case FW_M_METER_OVER:
		pve_buf_printf(
			b, "update @%s { %s saddr limit rate over %u/second burst %d packets } ",
			m->name, m->family == 6 ? "ip6" : "ip", m->value, m->code);
		break;
	}
}

static void print_rule(pve_buf *b, const pve_fw_ruleset *rs, const fw_rule *r)
{
	pve_buf_puts(b, "\t\t");
	for (size_t i = 0; i < r->n_m; i++)
		print_match(b, &r->m[i], rs->family);
	if (r->log_prefix)
		pve_buf_printf(b,
			       "limit rate %u/second burst %u packets log prefix \"%s\" group %u ",
			       rs->log_rate, rs->log_burst, r->log_prefix, rs->nflog_group);
	if (r->ct_helper)
		pve_buf_printf(b, "ct helper set \"%s\" ", r->ct_helper);
	switch (r->verdict) {
	case FW_V_NONE:
		break;
	case FW_V_ACCEPT:
		pve_buf_puts(b, "accept");
		break;
	case FW_V_DROP:
		pve_buf_puts(b, "drop");
		break;
	case FW_V_RETURN:
		pve_buf_puts(b, "return");
		break;
	case FW_V_JUMP:
		pve_buf_printf(b, "jump %s", r->target);
		break;
	case FW_V_REJECT_TCP:
		pve_buf_puts(b, "reject with tcp reset");
		break;
	case FW_V_REJECT:
		pve_buf_puts(b, "reject with icmpx port-unreachable");
		break;
	case FW_V_NOTRACK:
		pve_buf_puts(b, "notrack");
		break;
	}
	/* No trailing blank: `nft list` prints none either. */
	while (b->len && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	pve_buf_puts(b, "\n");
}

static const char *hook_name(int hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING:
		return "prerouting";
	case NF_INET_LOCAL_IN:
		return "input";
	case NF_INET_FORWARD:
		return "forward";
	case NF_INET_LOCAL_OUT:
		return "output";
	default:
		return "postrouting";
	}
}

static void print_chain_body(pve_buf *b, const pve_fw_ruleset *rs, const fw_chain *c)
{
	if (c->base)
		pve_buf_printf(b, "\t\ttype filter hook %s priority %d; policy accept;\n",
			       hook_name(c->hook), c->prio);
	for (size_t j = 0; j < c->n_rules; j++)
		print_rule(b, rs, &c->rules[j]);
}

static void print_set(pve_buf *b, const fw_set *s, bool only_guest, unsigned vmid)
{
	if (s->type == FW_SET_VMAP) {
		pve_buf_printf(b, "\tmap %s {\n\t\ttype ifname : verdict\n", s->name);
		bool first = true;
		for (size_t i = 0; i < s->n_elems; i++) {
			if (only_guest && s->elems[i].vmid != vmid)
				continue;
			pve_buf_printf(b, "%s\"%s\" : jump %s", first ? "\t\telements = { " : ", ",
				       s->elems[i].ifname, s->elems[i].chain);
			first = false;
		}
		if (!first)
			pve_buf_puts(b, " }\n");
		pve_buf_puts(b, "\t}\n");
		return;
	}
	if (s->type == FW_SET_METER4 || s->type == FW_SET_METER6) {
		pve_buf_printf(b,
			       "\tset %s {\n\t\ttype %s\n\t\tsize %u\n\t\tflags dynamic,timeout\n"
			       "\t\ttimeout %us\n\t}\n",
			       s->name, s->type == FW_SET_METER6 ? "ipv6_addr" : "ipv4_addr",
			       FW_METER_SIZE, FW_METER_TIMEOUT_MS / 1000);
		return;
	}
	int family = s->type == FW_SET_ADDR6 ? 6 : 4;
	pve_buf_printf(b, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", s->name,
		       family == 6 ? "ipv6_addr" : "ipv4_addr");
	if (s->n_ranges) {
		pve_buf_puts(b, "\t\telements = { ");
		for (size_t i = 0; i < s->n_ranges; i++) {
			if (i)
				pve_buf_puts(b, ", ");
			print_range(b, &s->ranges[i], family);
		}
		pve_buf_puts(b, " }\n");
	}
	pve_buf_puts(b, "\t}\n");
}

static const char *family_name(const pve_fw_ruleset *rs)
{
	return rs->family == NFPROTO_BRIDGE ? "bridge" : "inet";
}

static void print_table(pve_buf *b, const pve_fw_ruleset *rs)
{
	pve_buf_printf(b, "table %s %s {\n", family_name(rs), rs->table);
	for (size_t i = 0; i < rs->n_helpers; i++) {
		const fw_ct_helper *h = &rs->helpers[i];
		pve_buf_printf(b, "\tct helper %s {\n\t\ttype \"%s\" protocol %s\n", h->obj,
			       h->def->name, h->def->l4proto == 6 ? "tcp" : "udp");
		if (!h->def->v6)
			pve_buf_puts(b, "\t\tl3proto ip\n");
		pve_buf_puts(b, "\t}\n");
	}
	for (size_t i = 0; i < rs->n_sets; i++)
		print_set(b, &rs->sets[i], false, 0);
	for (size_t i = 0; i < rs->n_chains; i++) {
		const fw_chain *c = &rs->chains[i];
		pve_buf_printf(b, "\tchain %s {\n", c->name);
		print_chain_body(b, rs, c);
		pve_buf_puts(b, "\t}\n");
	}
	pve_buf_puts(b, "}\n");
}

char *pve_fw_ruleset_nft(const pve_fw_ruleset *rs)
{
	pve_buf b = { 0 };
	/* "table" makes it when missing, so the "delete" that follows never fails: one file, one
	 * transaction, the old tables replaced by the new, every guest table of both families
	 * included, as pve_fw_apply does. */
	pve_buf_printf(&b, "table inet %s\ndelete table inet %s\n", rs->table, rs->table);
	pve_buf_printf(&b, "table bridge %s\ndelete table bridge %s\n", rs->table, rs->table);
	for (int f = 0; f < 2; f++)
		for (size_t k = 0; k < FW_MAX_SHARDS; k++) {
			char name[128];
			fw_guest_table_name(rs->table, k, name, sizeof(name));
			const char *fam = f ? "bridge" : "inet";
			pve_buf_printf(&b, "table %s %s\ndelete table %s %s\n", fam, name, fam,
				       name);
		}
	if (!rs->enabled)
		return pve_buf_steal(&b);
	print_table(&b, rs);
	for (const pve_fw_ruleset *g = rs->guests; g; g = g->next)
		print_table(&b, g);
	return pve_buf_steal(&b);
}

char *pve_fw_ruleset_guest_nft(const pve_fw_ruleset *all, unsigned vmid)
{
	const pve_fw_ruleset *rs = fw_shard_of(all, vmid);
	if (!rs)
		return xstrdup("");
	const char *fam = family_name(rs);
	pve_buf b = { 0 };
	pve_buf_puts(&b, "");
	for (size_t i = 0; i < rs->n_chains; i++)
		if (rs->chains[i].vmid == vmid)
			pve_buf_printf(&b, "flush chain %s %s %s\n", fam, rs->table,
				       rs->chains[i].name);
	for (size_t i = 0; i < rs->n_sets; i++)
		if (rs->sets[i].vmid == vmid)
			pve_buf_printf(&b, "flush set %s %s %s\n", fam, rs->table,
				       rs->sets[i].name);
	pve_buf_printf(&b, "table %s %s {\n", fam, rs->table);
	for (size_t i = 0; i < rs->n_sets; i++)
		if (rs->sets[i].vmid == vmid)
			print_set(&b, &rs->sets[i], false, 0);
	for (size_t i = 0; i < rs->n_chains; i++) {
		const fw_chain *c = &rs->chains[i];
		if (c->vmid != vmid)
			continue;
		pve_buf_printf(&b, "\tchain %s {\n", c->name);
		print_chain_body(&b, rs, c);
		pve_buf_puts(&b, "\t}\n");
	}
	pve_buf_puts(&b, "}\n");
	return pve_buf_steal(&b);
}
