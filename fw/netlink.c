/* The compiled ruleset sent to the kernel as one nfnetlink batch built with libnftnl: the kernel
 * commits the whole transaction or none of it, and an error names the object it is about. */
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fw/fw-internal.h"

/* nft's datatype numbers, so `nft list` prints the sets' keys as addresses and names. */
#define NFT_TYPE_VERDICT 1
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_IFNAME 41

/* The largest message one object needs: a rule with its expressions, or a chunk of set elements. */
#define MSG_ROOM (256 * 1024)
/* At most this many set elements go into one message. */
#define ELEMS_PER_MSG 512

typedef struct {
	pve_buf buf;
	uint32_t seq0, seq;
	uint32_t set_id;
	uint64_t nonce; /* random: the batch's anonymous set names differ from those in the table */
	const char *table;
	int family; /* the table's: NFPROTO_INET or NFPROTO_BRIDGE */
	size_t last; /* where the last message starts, for its ack */
	/* What each message is about, for the error: indexed by seq - seq0. */
	char **what;
	size_t n_what;
} batch;

static void *msg_room(batch *b)
{
	if (b->buf.cap - b->buf.len < MSG_ROOM + 1) {
		size_t cap = b->buf.cap ? b->buf.cap * 2 : 1024 * 1024;
		while (cap - b->buf.len < MSG_ROOM + 1)
			cap *= 2;
		b->buf.data = xrealloc(b->buf.data, cap);
		b->buf.cap = cap;
	}
	/* libmnl writes the header and zeroes attribute padding itself: no need to clear the room
	 * (clearing 256 KiB per message was most of a 20,000-message batch's own time). */
	return b->buf.data + b->buf.len;
}

static void msg_done(batch *b, struct nlmsghdr *nlh, char *what)
{
	b->last = b->buf.len;
	b->buf.len += nlh->nlmsg_len;
	b->what = xrealloc(b->what, (b->n_what + 1) * sizeof(*b->what));
	b->what[b->n_what++] = what;
	b->seq++;
}

static struct nlmsghdr *hdr(batch *b, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(msg_room(b), type, (uint16_t)b->family, flags, b->seq);
}

static void batch_free(batch *b)
{
	pve_buf_free(&b->buf);
	for (size_t i = 0; i < b->n_what; i++)
		free(b->what[i]);
	free(b->what);
}

static void batch_begin(batch *b, const char *table, int family)
{
	*b = (batch){ .table = table, .family = family };
	b->seq0 = b->seq = (uint32_t)time(NULL);
	if (pve_random_bytes(&b->nonce, sizeof(b->nonce), NULL) < 0)
		b->nonce = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	struct nlmsghdr *nlh = nftnl_batch_begin(msg_room(b), b->seq);
	msg_done(b, nlh, xstrdup("batch"));
}

static void batch_end(batch *b)
{
	struct nlmsghdr *nlh = nftnl_batch_end(msg_room(b), b->seq);
	msg_done(b, nlh, xstrdup("batch"));
}

static void add_table(batch *b, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, (uint32_t)b->family);
	struct nlmsghdr *nlh = hdr(b, type, flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	msg_done(b, nlh, xasprintf("table %s", b->table));
}

static void add_chain(batch *b, const fw_chain *c, uint16_t type)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, (uint32_t)b->family);
	if (c->base && type == NFT_MSG_NEWCHAIN) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, (uint32_t)c->hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	struct nlmsghdr *nlh = hdr(b, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	msg_done(b, nlh, xasprintf("chain %s", c->name));
}

/* A ct helper object: the kernel's helper def->name for its protocol, IPv4 only unless def->v6
 * (the table's families otherwise). */
static void add_ct_helper(batch *b, const char *obj, const fw_ct_helper_def *def)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, b->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, obj);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_CT_HELPER);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, (uint32_t)b->family);
	nftnl_obj_set_str(o, NFTNL_OBJ_CT_HELPER_NAME, def->name);
	nftnl_obj_set_u8(o, NFTNL_OBJ_CT_HELPER_L4PROTO, def->l4proto);
	if (!def->v6)
		nftnl_obj_set_u16(o, NFTNL_OBJ_CT_HELPER_L3PROTO, NFPROTO_IPV4);
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWOBJ, NLM_F_CREATE);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	msg_done(b, nlh, xasprintf("ct helper %s", obj));
}

/* Removes every rule of a chain (a DELRULE without a handle). */
static void flush_chain(batch *b, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)b->family);
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_DELRULE, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	msg_done(b, nlh, xasprintf("rules of chain %s", chain));
}

static struct nftnl_set *set_new(batch *b, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, (uint32_t)b->family);
	return s;
}

/* Adds interval elements [lo, hi] as nft encodes them: a start element and an end element at
 * hi + 1 (none when hi is the largest key). */
static void add_interval_elems(struct nftnl_set *s, const fw_range *r, size_t n, size_t keylen)
{
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, r[i].lo, (uint32_t)keylen);
		nftnl_set_elem_add(s, e);
		uint8_t end[16];
		memcpy(end, r[i].hi, keylen);
		bool carry = true;
		for (size_t k = keylen; k-- > 0 && carry;)
			carry = ++end[k] == 0;
		if (carry)
			continue;
		e = nftnl_set_elem_alloc();
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, end, (uint32_t)keylen);
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
		nftnl_set_elem_add(s, e);
	}
}

/* Sends the elements of s in messages of at most ELEMS_PER_MSG ranges. type NEWSETELEM or
 * DELSETELEM. */
static void add_elems_msgs(batch *b, const char *name, uint32_t set_id, uint16_t type,
			   const fw_range *ranges, size_t n, size_t keylen, const fw_vmap_elem *vm,
			   size_t n_vm, unsigned only_vmid)
{
	size_t total = ranges ? n : n_vm;
	for (size_t off = 0; off < total; off += ELEMS_PER_MSG) {
		size_t cnt = total - off < ELEMS_PER_MSG ? total - off : ELEMS_PER_MSG;
		struct nftnl_set *s = set_new(b, name);
		if (set_id)
			nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
		size_t added = 0;
		if (ranges) {
			add_interval_elems(s, ranges + off, cnt, keylen);
			added = cnt;
		} else {
			for (size_t i = off; i < off + cnt; i++) {
				if (only_vmid && vm[i].vmid != only_vmid)
					continue;
				struct nftnl_set_elem *e = nftnl_set_elem_alloc();
				char key[IFNAMSIZ] = { 0 };
				memcpy(key, vm[i].ifname, strnlen(vm[i].ifname, IFNAMSIZ - 1));
				nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, IFNAMSIZ);
				if (type == NFT_MSG_NEWSETELEM) {
					nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
					nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN,
							       vm[i].chain);
				}
				nftnl_set_elem_add(s, e);
				added++;
			}
		}
		if (added) {
			struct nlmsghdr *nlh =
				hdr(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			msg_done(b, nlh, xasprintf("elements of set %s", name));
		}
		nftnl_set_free(s);
	}
}

static void add_named_set(batch *b, const fw_set *set, unsigned only_vmid)
{
	struct nftnl_set *s = set_new(b, set->name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++b->set_id);
	if (set->type == FW_SET_VMAP) {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_IFNAME);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, IFNAMSIZ);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
		/* nft reads an ifname key in host byte order only when the set says so. */
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
		nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1);
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	} else if (set->type == FW_SET_METER4 || set->type == FW_SET_METER6) {
		bool v6 = set->type == FW_SET_METER6;
		/* Filled by the rules (dynset), its entries expire, and its size bounds the memory
		 * a flood of sources takes. */
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, v6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v6 ? 16 : 4);
		nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FW_METER_TIMEOUT_MS);
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, FW_METER_SIZE);
	} else {
		bool v6 = set->type == FW_SET_ADDR6;
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, v6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v6 ? 16 : 4);
	}
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	msg_done(b, nlh, xasprintf("set %s", set->name));
	if (set->type == FW_SET_VMAP)
		add_elems_msgs(b, set->name, b->set_id, NFT_MSG_NEWSETELEM, NULL, 0, 0, set->elems,
			       set->n_elems, only_vmid);
	else if (set->type == FW_SET_ADDR4 || set->type == FW_SET_ADDR6)
		add_elems_msgs(b, set->name, b->set_id, NFT_MSG_NEWSETELEM, set->ranges,
			       set->n_ranges, set->type == FW_SET_ADDR6 ? 16 : 4, NULL, 0, 0);
}

/* ----- Expressions ----- */

static void e_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
}

static void e_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len)
{
	uint8_t zero[16] = { 0 };
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	nftnl_rule_add_expr(r, e);
}

static void e_lookup(struct nftnl_rule *r, const char *set, uint32_t set_id, bool inv, bool vmap)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (set_id)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (vmap)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	if (inv)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	nftnl_rule_add_expr(r, e);
}

static void e_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	nftnl_rule_add_expr(r, e);
}

static void e_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	nftnl_rule_add_expr(r, e);
}

/* A match of intervals: one value (cmp), one prefix (bitwise, cmp), one range (range), or an
 * anonymous interval set made in the same batch. */
static void e_ranges(batch *b, struct nftnl_rule *r, const fw_range *v, size_t n, size_t keylen,
		     uint32_t keytype, bool neg)
{
	if (n == 1) {
		int p = fw_range_prefix(&v[0], keylen);
		if (p == (int)keylen * 8) {
			e_cmp(r, neg ? NFT_CMP_NEQ : NFT_CMP_EQ, v[0].lo, (uint32_t)keylen);
			return;
		}
		if (p > 0) {
			uint8_t mask[16] = { 0 };
			for (int bit = 0; bit < p; bit++)
				mask[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
			e_bitwise(r, mask, (uint32_t)keylen);
			e_cmp(r, neg ? NFT_CMP_NEQ : NFT_CMP_EQ, v[0].lo, (uint32_t)keylen);
			return;
		}
		struct nftnl_expr *e = nftnl_expr_alloc("range");
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, neg ? NFT_RANGE_NEQ : NFT_RANGE_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, v[0].lo, (uint32_t)keylen);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, v[0].hi, (uint32_t)keylen);
		nftnl_rule_add_expr(r, e);
		return;
	}
	/* The anonymous set goes into the batch before the rule that binds it. It has a name of its
	 * own: for "__set%d" the kernel finds a free number by scanning every set of the table, for
	 * each new one, which makes a ruleset of thousands of lists take seconds. The batch's seq
	 * keeps the names apart from those of the sets still in the table. */
	uint32_t id = ++b->set_id;
	char name[40];
	snprintf(name, sizeof(name), "__set%016llx_%u", (unsigned long long)b->nonce, id);
	struct nftnl_set *s = set_new(b, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS,
			  NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, keytype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)keylen);
	/* EXCL: a name taken after all is an error, never another set's elements. */
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	msg_done(b, nlh, xstrdup("anonymous set"));
	add_elems_msgs(b, name, id, NFT_MSG_NEWSETELEM, v, n, keylen, NULL, 0, 0);
	e_lookup(r, name, id, neg, false);
}

static void add_rule(batch *b, const pve_fw_ruleset *rs, const fw_chain *c, const fw_rule *fr,
		     size_t index)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)b->family);
	for (size_t i = 0; i < fr->n_m; i++) {
		const fw_match *m = &fr->m[i];
		switch (m->kind) {
		case FW_M_IIFNAME:
		case FW_M_OIFNAME: {
			char name[IFNAMSIZ] = { 0 };
			memcpy(name, m->name, strnlen(m->name, IFNAMSIZ - 1));
			e_meta(r, m->kind == FW_M_IIFNAME ? NFT_META_IIFNAME : NFT_META_OIFNAME);
			e_cmp(r, NFT_CMP_EQ, name, IFNAMSIZ);
			break;
		}
		case FW_M_NFPROTO:
			if (b->family == NFPROTO_BRIDGE) {
				/* A bridge's packets are frames: the family is the ether type. */
				uint16_t v = htobe16(m->value == 6 ? ETH_P_IPV6 : ETH_P_IP);
				e_meta(r, NFT_META_PROTOCOL);
				e_cmp(r, NFT_CMP_EQ, &v, 2);
			} else {
				uint8_t v = m->value == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
				e_meta(r, NFT_META_NFPROTO);
				e_cmp(r, NFT_CMP_EQ, &v, 1);
			}
			break;
		case FW_M_ETHERTYPE: {
			uint16_t v = htobe16((uint16_t)m->value);
			e_meta(r, NFT_META_PROTOCOL);
			e_cmp(r, m->neg ? NFT_CMP_NEQ : NFT_CMP_EQ, &v, 2);
			break;
		}
		case FW_M_L4PROTO: {
			uint8_t v = (uint8_t)m->value;
			e_meta(r, NFT_META_L4PROTO);
			e_cmp(r, NFT_CMP_EQ, &v, 1);
			break;
		}
		case FW_M_ADDR: {
			bool v6 = m->family == 6;
			uint32_t off = v6 ? (m->src ? 8 : 24) : (m->src ? 12 : 16);
			e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, v6 ? 16 : 4);
			if (m->name)
				e_lookup(r, m->name, 0, m->neg, false);
			else
				e_ranges(b, r, m->ranges, m->n_ranges, v6 ? 16 : 4,
					 v6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR, m->neg);
			break;
		}
		case FW_M_PORT:
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, m->src ? 0 : 2, 2);
			e_ranges(b, r, m->ranges, m->n_ranges, 2, NFT_TYPE_INET_SERVICE, m->neg);
			break;
		case FW_M_ICMP: {
			uint8_t t = (uint8_t)m->value;
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
			e_cmp(r, NFT_CMP_EQ, &t, 1);
			if (m->code >= 0) {
				uint8_t code = (uint8_t)m->code;
				e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 1, 1);
				e_cmp(r, NFT_CMP_EQ, &code, 1);
			}
			break;
		}
		case FW_M_CT_STATE: {
			struct nftnl_expr *e = nftnl_expr_alloc("ct");
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
			nftnl_rule_add_expr(r, e);
			uint32_t mask = m->value, zero = 0;
			e_bitwise(r, &mask, 4);
			e_cmp(r, NFT_CMP_NEQ, &zero, 4);
			break;
		}
		case FW_M_ETHER_SADDR_NE: {
			uint16_t type = ARPHRD_ETHER;
			e_meta(r, NFT_META_IIFTYPE);
			e_cmp(r, NFT_CMP_EQ, &type, 2);
			e_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6);
			e_cmp(r, NFT_CMP_NEQ, m->mac, 6);
			break;
		}
		case FW_M_IFNAME_VMAP:
			e_meta(r, m->src ? NFT_META_IIFNAME : NFT_META_OIFNAME);
			e_lookup(r, m->name, 0, false, true);
			break;
		case FW_M_PKTTYPE: {
			uint8_t v = (uint8_t)m->value;
			e_meta(r, NFT_META_PKTTYPE);
			e_cmp(r, NFT_CMP_EQ, &v, 1);
			break;
		}
		case FW_M_TCP_FLAGS: {
			uint8_t mask = (uint8_t)m->value, want = (uint8_t)m->code;
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
			e_bitwise(r, &mask, 1);
			e_cmp(r, m->neg ? NFT_CMP_NEQ : NFT_CMP_EQ, &want, 1);
			break;
		}
		case FW_M_METER_OVER: {
			bool v6 = m->family == 6;
			e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 8 : 12, v6 ? 16 : 4);
			/* The source's own limit, inverted: the dynset breaks (no match) while the
			 * source is under it. */
			struct nftnl_expr *lim = nftnl_expr_alloc("limit");
			nftnl_expr_set_u64(lim, NFTNL_EXPR_LIMIT_RATE, m->value);
			nftnl_expr_set_u64(lim, NFTNL_EXPR_LIMIT_UNIT, 1);
			nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_BURST, (uint32_t)m->code);
			nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
			nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
			struct nftnl_expr *e = nftnl_expr_alloc("dynset");
			nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
			nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, m->name);
			nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, lim, 0);
			nftnl_rule_add_expr(r, e);
			break;
		}
		}
	}
	if (fr->log_prefix) {
		struct nftnl_expr *e = nftnl_expr_alloc("limit");
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rs->log_rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, rs->log_burst);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("log");
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, (uint16_t)rs->nflog_group);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, fr->log_prefix);
		nftnl_rule_add_expr(r, e);
	}
	if (fr->ct_helper) {
		struct nftnl_expr *e = nftnl_expr_alloc("objref");
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_CT_HELPER);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, fr->ct_helper);
		nftnl_rule_add_expr(r, e);
	}
	switch (fr->verdict) {
	case FW_V_NONE:
		break;
	case FW_V_ACCEPT:
		e_verdict(r, NF_ACCEPT, NULL);
		break;
	case FW_V_DROP:
		e_verdict(r, NF_DROP, NULL);
		break;
	case FW_V_RETURN:
		e_verdict(r, NFT_RETURN, NULL);
		break;
	case FW_V_JUMP:
		e_verdict(r, NFT_JUMP, fr->target);
		break;
	case FW_V_REJECT_TCP:
		e_reject(r, NFT_REJECT_TCP_RST, 0);
		break;
	case FW_V_REJECT:
		e_reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH);
		break;
	case FW_V_NOTRACK:
		nftnl_rule_add_expr(r, nftnl_expr_alloc("notrack"));
		break;
	}
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	msg_done(b, nlh, xasprintf("rule %zu of chain %s", index + 1, c->name));
}

/* ----- Sending ----- */

typedef struct {
	batch *b;
	int error;
	char *what;
	char *extack;
	bool done;
} ack_state;

static void ack_cb(const struct nlmsghdr *nlh, ack_state *st)
{
	if (nlh->nlmsg_type != NLMSG_ERROR)
		return;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t seq = e->msg.nlmsg_seq;
	if (e->error && !st->error) {
		st->error = -e->error;
		size_t i = seq - st->b->seq0;
		st->what = xstrdup(i < st->b->n_what ? st->b->what[i] : "batch");
		/* The kernel's own words, when it has some (NETLINK_EXT_ACK). */
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
			size_t off = sizeof(*e) + ((nlh->nlmsg_flags & NLM_F_CAPPED) ?
							   0 :
							   e->msg.nlmsg_len - sizeof(e->msg));
			const struct nlattr *a;
			mnl_attr_for_each(a, nlh, off)
			{
				if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG) {
					free(st->extack);
					st->extack = xstrdup(mnl_attr_get_str(a));
				}
			}
		}
	}
	/* The last message asks for an ack; the kernel sends it after every error. */
	if (seq == st->b->seq - 2)
		st->done = true;
}

/* The batches' socket, kept open per thread and network namespace: closing a socket that has just
 * committed waits in the kernel for the transaction's deferred release (its NETLINK_URELEASE handler
 * flushes nf_tables' destroy work, an RCU grace period), 5-20 ms that a kept socket never pays. */
static __thread struct {
	struct mnl_socket *nl;
	dev_t dev;
	ino_t ino;
} batch_sock;

static void batch_sock_drop(void)
{
	if (batch_sock.nl)
		mnl_socket_close(batch_sock.nl);
	batch_sock.nl = NULL;
}

static struct mnl_socket *batch_sock_get(pve_error **err)
{
	struct stat ns;
	if (stat("/proc/thread-self/ns/net", &ns) < 0)
		ns = (struct stat){ 0 };
	if (batch_sock.nl && (batch_sock.dev != ns.st_dev || batch_sock.ino != ns.st_ino))
		batch_sock_drop();
	if (batch_sock.nl) {
		/* nothing of an earlier answer may be left to read */
		char drop[4096];
		while (recv(mnl_socket_get_fd(batch_sock.nl), drop, sizeof(drop), MSG_DONTWAIT) > 0)
			;
		return batch_sock.nl;
	}
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl) {
		pve_error_set(err, errno, "cannot open the nftables netlink socket: %m");
		return NULL;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		pve_error_set(err, errno, "cannot bind the nftables netlink socket: %m");
		mnl_socket_close(nl);
		return NULL;
	}
	int one = 1;
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	int rcv = 8 * 1024 * 1024;
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	batch_sock.nl = nl;
	batch_sock.dev = ns.st_dev;
	batch_sock.ino = ns.st_ino;
	return nl;
}

static int batch_send(batch *b, pve_error **err)
{
	struct mnl_socket *nl = batch_sock_get(err);
	if (!nl)
		return -EIO;
	int r = 0;
	ack_state st = { .b = b };
	_cleanup_free_ char *buf = xmalloc(MNL_SOCKET_BUFFER_SIZE * 4);
	/* The whole batch in one send, so the kernel sees one transaction. */
	int size = (int)(b->buf.len + 4096);
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (mnl_socket_sendto(nl, b->buf.data, b->buf.len) < 0) {
		r = pve_error_set(err, errno, "cannot send the nftables batch: %m");
		goto out;
	}
	uint32_t portid = mnl_socket_get_portid(nl);
	while (!st.done) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);
		if (n < 0) {
			r = pve_error_set(err, errno, "cannot read the kernel's answer: %m");
			goto out;
		}
		/* Every message of the answer: errors and the last message's ack. */
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_pid == portid || nlh->nlmsg_pid == 0)
				ack_cb(nlh, &st);
	}
	if (st.error) {
		errno = st.error;
		/* r is set below; the state is freed after the out label. */
		r = pve_error_set(err, st.error, "nftables refused the ruleset (%s): %m%s%s",
				  st.what, st.extack ? ": " : "", st.extack ? st.extack : "");
	}
out:
	free(st.what);
	free(st.extack);
	/* a socket that failed to send or to read is not trusted with the next batch */
	if (r < 0 && !st.error)
		batch_sock_drop();
	return r;
}

/* Asks the kernel to acknowledge the last message so far (the one before the batch's end): its
 * answer ends the wait. */
static void ack_last(batch *b)
{
	((struct nlmsghdr *)(b->buf.data + b->last))->nlmsg_flags |= NLM_F_ACK;
}

/* Deletes the table of rs's family (made first when missing, so the delete cannot fail) and, when
 * rs has rules, makes it again with them. */
static void replace_table(batch *b, const pve_fw_ruleset *rs, const char *table, int family)
{
	b->table = table;
	b->family = family;
	add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	add_table(b, NFT_MSG_DELTABLE, 0);
	if (!rs || !rs->enabled)
		return;
	add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	for (size_t i = 0; i < rs->n_helpers; i++)
		add_ct_helper(b, rs->helpers[i].obj, rs->helpers[i].def);
	for (size_t i = 0; i < rs->n_chains; i++)
		add_chain(b, &rs->chains[i], NFT_MSG_NEWCHAIN);
	for (size_t i = 0; i < rs->n_sets; i++)
		add_named_set(b, &rs->sets[i], 0);
	for (size_t i = 0; i < rs->n_chains; i++)
		for (size_t j = 0; j < rs->chains[i].n_rules; j++)
			add_rule(b, rs, &rs->chains[i], &rs->chains[i].rules[j], j);
}

/* Every guest table of both families, each replaced by its shard of rs or deleted: the guests' tables
 * of a layout before (the other family, more shards) go in the same transaction. The bridge table
 * named as the inet one, where guests were before they were sharded, goes too. */
static void replace_guest_tables(batch *b, const pve_fw_ruleset *rs, const char *table)
{
	replace_table(b, NULL, table, NFPROTO_BRIDGE);
	static const int families[] = { NFPROTO_INET, NFPROTO_BRIDGE };
	for (size_t f = 0; f < ELEMENTSOF(families); f++) {
		const pve_fw_ruleset *g = rs && rs->enabled ? rs->guests : NULL;
		for (size_t k = 0; k < FW_MAX_SHARDS; k++) {
			char name[128];
			fw_guest_table_name(table, k, name, sizeof(name));
			bool mine = g && g->family == families[f];
			replace_table(b, mine ? g : NULL, name, families[f]);
			/* name is gone after this turn: the batch must not point to it */
			b->table = table;
			g = g ? g->next : NULL;
		}
	}
}

int pve_fw_apply(const pve_fw_ruleset *rs, pve_error **err)
{
	batch b;
	batch_begin(&b, rs->table, NFPROTO_INET);
	/* Every table in one transaction: the kernel swaps old for new, or keeps the old. */
	replace_table(&b, rs, rs->table, NFPROTO_INET);
	replace_guest_tables(&b, rs, rs->table);
	ack_last(&b);
	batch_end(&b);
	int r = batch_send(&b, err);
	batch_free(&b);
	return r;
}

int pve_fw_remove(const char *table, pve_error **err)
{
	batch b;
	table = table ? table : "pved-firewall";
	batch_begin(&b, table, NFPROTO_INET);
	replace_table(&b, NULL, table, NFPROTO_INET);
	replace_guest_tables(&b, NULL, table);
	ack_last(&b);
	batch_end(&b);
	int r = batch_send(&b, err);
	batch_free(&b);
	return r;
}

bool pve_fw_bridge_supported(void)
{
	static int known = -1;
	int v = __atomic_load_n(&known, __ATOMIC_ACQUIRE);
	if (v >= 0)
		return v;
	/* A prerouting chain with the expressions the guests' table needs, in a table that the
	 * same batch deletes. */
	_cleanup_free_ char *name = xasprintf("pved-probe-%d", (int)getpid());
	batch b;
	batch_begin(&b, name, NFPROTO_BRIDGE);
	add_table(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	/* NF_BR_PRE_ROUTING, whose header cannot go beside linux/if_arp.h's: the same number. */
	fw_chain pre = { .name = (char *)"probe", .base = true, .hook = NF_INET_PRE_ROUTING };
	add_chain(&b, &pre, NFT_MSG_NEWCHAIN);
	fw_match ct = { .kind = FW_M_CT_STATE, .value = 2 };
	fw_rule rule = { .m = &ct, .n_m = 1, .verdict = FW_V_REJECT_TCP };
	pve_fw_ruleset rs = { .table = name, .family = NFPROTO_BRIDGE };
	add_rule(&b, &rs, &pre, &rule, 0);
	fw_rule notrack = { .verdict = FW_V_NOTRACK };
	add_rule(&b, &rs, &pre, &notrack, 1);
	add_table(&b, NFT_MSG_DELTABLE, 0);
	ack_last(&b);
	batch_end(&b);
	_cleanup_error_ pve_error *err = NULL;
	v = batch_send(&b, &err) == 0;
	batch_free(&b);
	__atomic_store_n(&known, v, __ATOMIC_RELEASE);
	return v;
}

bool pve_fw_ct_helper_supported(const char *name)
{
	/* 0 unknown, 1 present, 2 absent, per helper */
	static int known[16];
	size_t i = 0;
	while (fw_ct_helper_defs[i].name && !streq(fw_ct_helper_defs[i].name, name))
		i++;
	if (!fw_ct_helper_defs[i].name || i >= ELEMENTSOF(known))
		return false;
	int v = __atomic_load_n(&known[i], __ATOMIC_ACQUIRE);
	if (v)
		return v == 1;
	/* The object alone, in a table the same batch deletes: the kernel looks the helper up when
	 * the object is made. */
	_cleanup_free_ char *table = xasprintf("pved-probe-%d", (int)getpid());
	batch b;
	batch_begin(&b, table, NFPROTO_INET);
	add_table(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	add_ct_helper(&b, "probe", &fw_ct_helper_defs[i]);
	add_table(&b, NFT_MSG_DELTABLE, 0);
	ack_last(&b);
	batch_end(&b);
	_cleanup_error_ pve_error *err = NULL;
	int r = batch_send(&b, &err);
	batch_free(&b);
	/* Only "no such helper" is an answer; no rights to ask (pvectl as a user) is none. */
	v = r == -ENOENT || r == -EOPNOTSUPP ? 2 : 1;
	__atomic_store_n(&known[i], v, __ATOMIC_RELEASE);
	return v == 1;
}

static const fw_chain *chain_of(const pve_fw_ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_chains; i++)
		if (streq(rs->chains[i].name, name))
			return &rs->chains[i];
	return NULL;
}

static const fw_set *set_of(const pve_fw_ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_sets; i++)
		if (streq(rs->sets[i].name, name))
			return &rs->sets[i];
	return NULL;
}

/* The guest's map elements in s, in order, are the same in both rulesets. */
static bool same_elems(const fw_set *a, const fw_set *b, unsigned vmid)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < a->n_elems && a->elems[i].vmid != vmid)
			i++;
		while (j < b->n_elems && b->elems[j].vmid != vmid)
			j++;
		if (i == a->n_elems || j == b->n_elems)
			return i == a->n_elems && j == b->n_elems;
		if (!streq(a->elems[i].ifname, b->elems[j].ifname) ||
		    !streq(a->elems[i].chain, b->elems[j].chain))
			return false;
		i++;
		j++;
	}
}

int pve_fw_apply_guest(const pve_fw_ruleset *old_all, const pve_fw_ruleset *all, unsigned vmid,
		       pve_error **err)
{
	/* Only a change within one guest is done this way: the shared chains must be the same, and
	 * the guests in the same table. */
	if (!old_all || !old_all->enabled || !all->enabled || !streq(old_all->table, all->table) ||
	    old_all->n_shards != all->n_shards || !old_all->guests || !all->guests ||
	    old_all->guests->family != all->guests->family)
		return pve_fw_apply(all, err);
	/* the guest's shard: a transaction on that table alone */
	const pve_fw_ruleset *old = fw_shard_of(old_all, vmid);
	const pve_fw_ruleset *rs = fw_shard_of(all, vmid);
	batch b;
	batch_begin(&b, rs->table, rs->family);
	/* The guest's map elements go first when they change: they reference its chains. */
	for (size_t i = 0; i < old->n_sets; i++) {
		const fw_set *s = &old->sets[i];
		if (s->type != FW_SET_VMAP)
			continue;
		const fw_set *n = set_of(rs, s->name);
		if (!(n && same_elems(s, n, vmid)))
			add_elems_msgs(&b, s->name, 0, NFT_MSG_DELSETELEM, NULL, 0, 0, s->elems,
				       s->n_elems, vmid);
	}
	/* Chains it keeps are flushed and filled again, chains it lost deleted, new ones made. */
	for (size_t i = 0; i < old->n_chains; i++) {
		const fw_chain *c = &old->chains[i];
		if (c->vmid != vmid)
			continue;
		flush_chain(&b, c->name);
		if (!chain_of(rs, c->name))
			add_chain(&b, c, NFT_MSG_DELCHAIN);
	}
	/* Sets it keeps lose their elements (a DELSETELEM without elements flushes) and get the new
	 * ones; sets it lost go, new ones are made. */
	for (size_t i = 0; i < old->n_sets; i++) {
		const fw_set *s = &old->sets[i];
		if (s->vmid != vmid)
			continue;
		struct nftnl_set *ns = set_new(&b, s->name);
		bool keep = set_of(rs, s->name) != NULL;
		struct nlmsghdr *nlh = hdr(&b, keep ? NFT_MSG_DELSETELEM : NFT_MSG_DELSET, 0);
		if (keep)
			nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		else
			nftnl_set_nlmsg_build_payload(nlh, ns);
		nftnl_set_free(ns);
		msg_done(&b, nlh, xasprintf("set %s", s->name));
	}
	for (size_t i = 0; i < rs->n_chains; i++)
		if (rs->chains[i].vmid == vmid && !chain_of(old, rs->chains[i].name))
			add_chain(&b, &rs->chains[i], NFT_MSG_NEWCHAIN);
	for (size_t i = 0; i < rs->n_sets; i++) {
		const fw_set *s = &rs->sets[i];
		if (s->vmid != vmid)
			continue;
		if (!set_of(old, s->name))
			add_named_set(&b, s, 0);
		else
			add_elems_msgs(&b, s->name, 0, NFT_MSG_NEWSETELEM, s->ranges, s->n_ranges,
				       s->type == FW_SET_ADDR6 ? 16 : 4, NULL, 0, 0);
	}
	for (size_t i = 0; i < rs->n_chains; i++)
		if (rs->chains[i].vmid == vmid)
			for (size_t j = 0; j < rs->chains[i].n_rules; j++)
				add_rule(&b, rs, &rs->chains[i], &rs->chains[i].rules[j], j);
	for (size_t i = 0; i < rs->n_sets; i++) {
		const fw_set *s = &rs->sets[i];
		if (s->type != FW_SET_VMAP)
			continue;
		const fw_set *o = set_of(old, s->name);
		if (!(o && same_elems(o, s, vmid)))
			add_elems_msgs(&b, s->name, 0, NFT_MSG_NEWSETELEM, NULL, 0, 0, s->elems,
				       s->n_elems, vmid);
	}
	add_table(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	ack_last(&b);
	batch_end(&b);
	int r = batch_send(&b, err);
	batch_free(&b);
	return r;
}

/* ----- Reading back what the kernel has ----- */

typedef int (*dump_fn)(const struct nlmsghdr *nlh, void *data);

static int dump(struct mnl_socket *nl, struct nlmsghdr *req, dump_fn fn, void *data,
		pve_error **err)
{
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return pve_error_set(err, errno, "cannot ask the kernel for its ruleset: %m");
	_cleanup_free_ char *buf = xmalloc(MNL_SOCKET_BUFFER_SIZE * 4);
	uint32_t portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);
		if (n < 0)
			return pve_error_set(err, errno, "cannot read the kernel's ruleset: %m");
		int r = mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, portid, fn, data);
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0) {
			/* ENOENT: the table or set is not there; the caller sees nothing listed. */
			if (errno == ENOENT)
				return 0;
			return pve_error_set(err, errno, "cannot read the kernel's ruleset: %m");
		}
	}
}

typedef struct {
	const char *table;
	char **names;
	size_t *counts;
	size_t n;
	size_t last;
} name_counts;

static size_t *count_of(name_counts *nc, const char *name, bool add)
{
	/* A dump lists a chain's rules one after another: the last name found is the likely one. */
	if (nc->n && streq(nc->names[nc->last], name))
		return &nc->counts[nc->last];
	for (size_t i = 0; i < nc->n; i++)
		if (streq(nc->names[i], name)) {
			nc->last = i;
			return &nc->counts[i];
		}
	if (!add)
		return NULL;
	nc->names = xrealloc(nc->names, (nc->n + 1) * sizeof(*nc->names));
	nc->counts = xrealloc(nc->counts, (nc->n + 1) * sizeof(*nc->counts));
	nc->names[nc->n] = xstrdup(name);
	nc->counts[nc->n] = 0;
	nc->last = nc->n;
	return &nc->counts[nc->n++];
}

static void name_counts_clear(name_counts *nc)
{
	for (size_t i = 0; i < nc->n; i++)
		free(nc->names[i]);
	free(nc->names);
	free(nc->counts);
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	name_counts *nc = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    streq(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), nc->table))
		count_of(nc, nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), true);
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	name_counts *nc = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    streq(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), nc->table)) {
		size_t *n = count_of(nc, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), true);
		(*n)++;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	name_counts *nc = data;
	struct nftnl_set *s = nftnl_set_alloc();
	if (nftnl_set_nlmsg_parse(nlh, s) == 0 &&
	    streq(nftnl_set_get_str(s, NFTNL_SET_TABLE), nc->table) &&
	    !(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS))
		count_of(nc, nftnl_set_get_str(s, NFTNL_SET_NAME), true);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	size_t *n = data;
	struct nftnl_set *s = nftnl_set_alloc();
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0) {
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
		struct nftnl_set_elem *e;
		while ((e = nftnl_set_elems_iter_next(it))) {
			/* An interval is a start and an end element: count the starts. */
			if (!nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ||
			    !(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
			      NFT_SET_ELEM_INTERVAL_END))
				(*n)++;
		}
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static size_t expected_elems(const fw_set *s)
{
	return s->type == FW_SET_VMAP ? s->n_elems : s->n_ranges;
}

static bool is_meter(const fw_set *s)
{
	return s->type == FW_SET_METER4 || s->type == FW_SET_METER6;
}

/* Compares one table of a family with what it should hold: rs, or nothing when rs is NULL or
 * disabled. */
static int status_table(struct mnl_socket *nl, const pve_fw_ruleset *rs, const char *table,
			int family, pve_buf *rep, uint32_t *seq, pve_error **err)
{
	const char *fam = family == NFPROTO_BRIDGE ? "bridge" : "inet";
	name_counts chains = { .table = table }, rules = { .table = table },
		    sets = { .table = table };
	char req[8192];
	struct nlmsghdr *nlh;
	int r;
	nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETCHAIN, (uint16_t)family, NLM_F_DUMP, (*seq)++);
	if ((r = dump(nl, nlh, chain_cb, &chains, err)) < 0)
		goto out;
	nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETRULE, (uint16_t)family, NLM_F_DUMP, (*seq)++);
	if ((r = dump(nl, nlh, rule_cb, &rules, err)) < 0)
		goto out;
	nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSET, (uint16_t)family, NLM_F_DUMP, (*seq)++);
	if ((r = dump(nl, nlh, set_cb, &sets, err)) < 0)
		goto out;
	if (!rs || !rs->enabled) {
		if (chains.n || sets.n)
			pve_buf_printf(rep, "table %s %s: present, %s\n", fam, table,
				       rs ? "the firewall is disabled" :
					    "pved makes no such table");
		goto out;
	}
	if (!chains.n) {
		pve_buf_printf(rep, "table %s %s: missing in the kernel\n", fam, table);
		goto out;
	}
	for (size_t i = 0; i < rs->n_chains; i++) {
		const fw_chain *c = &rs->chains[i];
		size_t *n = count_of(&rules, c->name, false);
		if (!count_of(&chains, c->name, false))
			pve_buf_printf(rep, "chain %s: missing in the kernel\n", c->name);
		else if ((n ? *n : 0) != c->n_rules)
			pve_buf_printf(rep, "chain %s: %zu rules, the kernel has %zu\n", c->name,
				       c->n_rules, n ? *n : 0);
	}
	for (size_t i = 0; i < chains.n; i++)
		if (!chain_of(rs, chains.names[i]))
			pve_buf_printf(rep, "chain %s: in the kernel only\n", chains.names[i]);
	for (size_t i = 0; i < rs->n_sets; i++) {
		const fw_set *s = &rs->sets[i];
		if (!count_of(&sets, s->name, false)) {
			pve_buf_printf(rep, "set %s: missing in the kernel\n", s->name);
			continue;
		}
		struct nftnl_set *ns =
			set_new(&(batch){ .table = table, .family = family }, s->name);
		nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSETELEM, (uint16_t)family, NLM_F_DUMP,
					    (*seq)++);
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		nftnl_set_free(ns);
		size_t n = 0;
		if ((r = dump(nl, nlh, elem_cb, &n, err)) < 0)
			goto out;
		/* A meter's elements are the sources the rules saw. */
		if (!is_meter(s) && n != expected_elems(s))
			pve_buf_printf(rep, "set %s: %zu elements, the kernel has %zu\n", s->name,
				       expected_elems(s), n);
	}
	for (size_t i = 0; i < sets.n; i++)
		if (!set_of(rs, sets.names[i]))
			pve_buf_printf(rep, "set %s: in the kernel only\n", sets.names[i]);
out:
	name_counts_clear(&chains);
	name_counts_clear(&rules);
	name_counts_clear(&sets);
	return r;
}

int pve_fw_status(const pve_fw_ruleset *rs, char **ret_report, pve_error **err)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return pve_error_set(err, errno, "cannot open the nftables netlink socket: %m");
	pve_buf rep = { 0 };
	pve_buf_puts(&rep, "");
	int r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
	if (r < 0) {
		r = pve_error_set(err, errno, "cannot bind the nftables netlink socket: %m");
	} else {
		uint32_t seq = (uint32_t)time(NULL);
		r = status_table(nl, rs, rs->table, NFPROTO_INET, &rep, &seq, err);
		/* the bridge table of the same name is from before the guests were sharded */
		if (r >= 0)
			r = status_table(nl, NULL, rs->table, NFPROTO_BRIDGE, &rep, &seq, err);
		for (const pve_fw_ruleset *g = rs->enabled ? rs->guests : NULL; g && r >= 0;
		     g = g->next)
			r = status_table(nl, g, g->table, g->family, &rep, &seq, err);
	}
	mnl_socket_close(nl);
	if (r < 0) {
		pve_buf_free(&rep);
		return r;
	}
	bool same = rep.len == 0;
	*ret_report = pve_buf_steal(&rep);
	return same ? 0 : 1;
}
