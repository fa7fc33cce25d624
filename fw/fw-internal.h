/* What the firewall's files share inside fw/. */
#pragma once

#include "fw/fw.h"

bool pve_fw_log_level_valid(const char *s);
bool pve_fw_name_valid(const char *s, size_t max);
int pve_fw_parse_addr_elem(const char *s, int *ret_family, pve_error **err);

/* ----- The compiled ruleset: one representation printed as nft text (nft-text.c) and sent as
 * netlink messages (netlink.c), so what `pvectl firewall compile` prints is what is applied. ----- */

/* A closed interval of big-endian keys (addresses, ports), len bytes of lo and hi used. */
typedef struct {
	uint8_t lo[16];
	uint8_t hi[16];
} fw_range;

typedef enum {
	FW_M_IIFNAME, /* name */
	FW_M_OIFNAME,
	FW_M_NFPROTO, /* value: 4 or 6 (in a bridge table, the frame's ether type) */
	FW_M_ETHERTYPE, /* value: ETH_P_*, neg */
	FW_M_L4PROTO, /* value: protocol number */
	FW_M_ADDR, /* family, src, neg; set name or ranges */
	FW_M_PORT, /* src; ranges (2-byte keys) */
	FW_M_ICMP, /* family (4: icmp, 6: icmpv6), value: type, code (-1 any) */
	FW_M_CT_STATE, /* value: mask of NF_CT_STATE bits the state must have one of */
	FW_M_ETHER_SADDR_NE, /* mac */
	FW_M_IFNAME_VMAP, /* iif (src) or oif name looked up in the verdict map name */
	FW_M_PKTTYPE, /* value: PACKET_BROADCAST, ... (the link layer's destination kind) */
	FW_M_TCP_FLAGS, /* (flags & value) == code, or != with neg */
	/* A per-source meter: the source address (family) updates set name, whose limit of value
	 * packets a second with a burst of code matches when the source goes over it. */
	FW_M_METER_OVER,
} fw_match_kind;

typedef struct {
	fw_match_kind kind;
	bool src;
	bool neg;
	int family;
	unsigned value;
	int code;
	char *name;
	fw_range *ranges;
	size_t n_ranges;
	uint8_t mac[6];
} fw_match;

typedef enum {
	FW_V_NONE,
	FW_V_ACCEPT,
	FW_V_DROP,
	FW_V_RETURN,
	FW_V_JUMP,
	FW_V_REJECT_TCP, /* reject with tcp reset (after meta l4proto tcp) */
	FW_V_REJECT, /* reject with icmpx port-unreachable */
	FW_V_NOTRACK, /* a packet without conntrack becomes untracked; the chain goes on */
} fw_verdict;

typedef struct {
	fw_match *m;
	size_t n_m;
	char *log_prefix; /* NULL: no log statement; logged with the rate limit of log_ratelimit */
	char *ct_helper; /* NULL, or `ct helper set` of the table's ct helper object of this name */
	fw_verdict verdict;
	char *target; /* FW_V_JUMP */
} fw_rule;

typedef struct {
	char *name;
	bool base;
	int hook; /* NF_INET_* */
	int prio;
	fw_rule *rules;
	size_t n_rules;
	unsigned vmid; /* the guest it belongs to, 0: the table's own */
} fw_chain;

/* METER4/6: dynamic sets the rules fill (a source's rate limit), with a timeout and a size. */
typedef enum { FW_SET_ADDR4, FW_SET_ADDR6, FW_SET_VMAP, FW_SET_METER4, FW_SET_METER6 } fw_set_type;

#define FW_METER_SIZE 65536 /* sources a meter holds at most: an attacker's addresses are many */
#define FW_METER_TIMEOUT_MS 60000

typedef struct {
	char ifname[16];
	char chain[64];
	unsigned vmid;
} fw_vmap_elem;

/* A conntrack helper as Proxmox assigns it: the kernel's helper for traffic to one port, IPv4 only
 * where the kernel's helper is (pve-firewall's $pve_fw_helpers). */
typedef struct {
	const char *name;
	uint8_t l4proto;
	uint16_t port;
	bool v6;
} fw_ct_helper_def;
extern const fw_ct_helper_def fw_ct_helper_defs[]; /* as pve_fw_ct_helper_names */

/* A ct helper object of the table: "helper-<name>-<tcp|udp>". */
typedef struct {
	char obj[48];
	const fw_ct_helper_def *def;
} fw_ct_helper;

typedef struct {
	char *name;
	fw_set_type type;
	fw_range *ranges; /* addresses, merged and sorted */
	size_t n_ranges;
	fw_vmap_elem *elems; /* FW_SET_VMAP */
	size_t n_elems;
	unsigned vmid; /* the guest it belongs to, 0: the table's own */
} fw_set;

struct pve_fw_ruleset {
	char *table;
	int family; /* NFPROTO_INET, NFPROTO_BRIDGE for the guests' table */
	/* The guests' part, in tables of their own, "<table>-g<k>" (fw_guest_table_name): bridge ones,
	 * which see each port, where the kernel has bridge conntrack, else inet ones, where bridged
	 * traffic between guests is not seen. Their chains, sets and maps, with copies of the
	 * cluster's ipsets, groups and do-reject. The guests are sharded by vmid (fw_shard_of) over
	 * one table per FW_SHARD_GUESTS of them (at most FW_MAX_SHARDS), since the kernel
	 * validates every table a transaction touches, whole: a change to one guest is then a
	 * transaction on a small table. NULL while the firewall is off. */
	struct pve_fw_ruleset *guests;
	struct pve_fw_ruleset *next; /* the next shard, in a shard */
	size_t n_shards; /* in the main ruleset */
	bool enabled;
	unsigned nflog_group;
	unsigned log_rate; /* per second */
	unsigned log_burst;
	fw_set *sets;
	size_t n_sets;
	fw_chain *chains;
	size_t n_chains;
	size_t n_guests;
	fw_ct_helper *helpers; /* host.fw's nf_conntrack_helpers the kernel has */
	size_t n_helpers;
	unsigned ct_helpers_absent; /* those it lacks */
	bool log_conntrack; /* host.fw's log_nf_conntrack */
	/* host.fw's conntrack settings, written to /proc/sys/net/netfilter/<name> on apply. */
	struct {
		const char *name;
		unsigned long long value;
	} sysctls[3];
	size_t n_sysctls;
};

/* Guests per shard table, and the most shard tables (every one is deleted when unused). */
#define FW_SHARD_GUESTS 64
#define FW_MAX_SHARDS 16
/* "<table>-g<k>". */
void fw_guest_table_name(const char *table, size_t k, char *buf, size_t size);
/* The shard table that holds guest vmid. */
const pve_fw_ruleset *fw_shard_of(const pve_fw_ruleset *rs, unsigned vmid);

/* Interval helpers shared by the printers. */
size_t fw_key_len(int family); /* 4, 16 */
void fw_ranges_merge(fw_range **ranges, size_t *n, size_t keylen);
/* The prefix length when [lo, hi] is one CIDR network, else -1. */
int fw_range_prefix(const fw_range *r, size_t keylen);
