/* The firewall: Proxmox's .fw files (cluster.fw, host.fw, <vmid>.fw) parsed, checked and printed, and
 * compiled into one nftables ruleset applied through libnftnl as one atomic netlink batch. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/common.h"

/* Limits on what a file may hold: pmxcfs keeps a file within 1 MiB, and every list is bounded. */
#define PVE_FW_MAX_TEXT (1024 * 1024)
#define PVE_FW_MAX_LINE 4096
#define PVE_FW_MAX_RULES 8192 /* per rule list (a file's [RULES] or one group) */
#define PVE_FW_MAX_ENTRIES 65536 /* ipset entries in a file */
#define PVE_FW_MAX_SETS 1024 /* ipsets, aliases or groups in a file */
#define PVE_FW_MAX_NAME 64 /* ipset and alias names (Proxmox's limit) */
#define PVE_FW_MAX_GROUP_NAME 18 /* security group names (Proxmox's limit) */
#define PVE_FW_MAX_FIELD 512 /* a rule's source, dest, ports... */
#define PVE_FW_MAX_PORTS 15 /* Proxmox's "(> 15 numbers)" */

typedef enum {
	PVE_FW_CLUSTER, /* etc/pve/firewall/cluster.fw */
	PVE_FW_HOST, /* etc/pve/nodes/<node>/host.fw */
	PVE_FW_VM, /* etc/pve/firewall/<vmid>.fw */
} pve_fw_kind;

/* One rule line. type is "in", "out", "forward" or "group"; action is ACCEPT, DROP, REJECT or a group's
 * name; the rest are NULL when absent, as Proxmox's hash keys are. */
typedef struct {
	char *type;
	char *action;
	char *macro;
	bool enable;
	char *iface;
	char *source;
	char *dest;
	char *proto;
	char *dport;
	char *sport;
	char *icmp_type;
	char *log;
	char *comment;
} pve_fw_rule;

typedef struct {
	char *cidr; /* an address, a CIDR network, a range a-b or an alias name */
	bool nomatch;
	char *comment;
} pve_fw_ipset_entry;

typedef struct {
	char *name; /* lower case, as Proxmox keys it */
	char *comment;
	pve_fw_ipset_entry *entries;
	size_t n_entries;
} pve_fw_ipset;

typedef struct {
	char *name; /* as written; looked up case-insensitively */
	char *cidr;
	char *comment;
} pve_fw_alias;

typedef struct {
	char *name;
	char *comment;
	pve_fw_rule *rules;
	size_t n_rules;
} pve_fw_group;

typedef struct {
	char *key;
	char *value;
} pve_fw_option;

typedef struct {
	pve_fw_kind kind;
	pve_fw_option *options;
	size_t n_options;
	pve_fw_alias *aliases;
	size_t n_aliases;
	pve_fw_ipset *ipsets;
	size_t n_ipsets;
	pve_fw_rule *rules;
	size_t n_rules;
	pve_fw_group *groups; /* cluster.fw only */
	size_t n_groups;
} pve_fw_file;

pve_fw_file *pve_fw_file_new(pve_fw_kind kind);
/* Parses a file's text; a line that does not parse is an error naming the line. An empty text is an
 * empty file (a guest without a .fw file). */
int pve_fw_parse(pve_fw_kind kind, const char *text, size_t len, pve_fw_file **ret,
		 pve_error **err);
/* The file as Proxmox writes it: [OPTIONS], [ALIASES] and [IPSET]s sorted, [RULES], [group]s sorted.
 * "" when the file holds nothing (Proxmox then removes it). */
char *pve_fw_print(const pve_fw_file *f);
void pve_fw_file_free(pve_fw_file *f);
static inline void pve_fw_file_freep(pve_fw_file **f)
{
	pve_fw_file_free(*f);
}
#define _cleanup_fw_file_ _cleanup_(pve_fw_file_freep)

/* Options: checked and normalised as Proxmox's parse_*fw_option (key lower case, policies upper case,
 * log levels lower case). set replaces a key in place or appends it; a NULL value deletes it. */
int pve_fw_option_check(pve_fw_kind kind, const char *key, const char *value, char **ret_value,
			pve_error **err);
int pve_fw_option_set(pve_fw_file *f, const char *key, const char *value, pve_error **err);
const char *pve_fw_option_get(const pve_fw_file *f, const char *key);
/* A boolean or integer option, or def when it is not set. */
long long pve_fw_option_int(const pve_fw_file *f, const char *key, long long def);
/* The option names of a kind, NULL-terminated (for the API's option lists). */
const char *const *pve_fw_option_names(pve_fw_kind kind);

pve_fw_ipset *pve_fw_find_ipset(const pve_fw_file *f, const char *name);
pve_fw_alias *pve_fw_find_alias(const pve_fw_file *f, const char *name);
pve_fw_group *pve_fw_find_group(const pve_fw_file *f, const char *name);

void pve_fw_rule_clear(pve_fw_rule *r);
void pve_fw_rule_copy(pve_fw_rule *dst, const pve_fw_rule *src);
/* Parses one rule line (without its section); in_group refuses GROUP and -i. */
int pve_fw_rule_parse(const char *line, bool in_group, pve_fw_rule *ret, pve_error **err);
/* Prints one rule line as Proxmox's format_rules (allow_iface: not in a group). */
char *pve_fw_rule_format(const pve_fw_rule *r, bool allow_iface);

/* Checks a rule as Proxmox's verify_rule: the error names the parameter (type, action, macro, iface,
 * proto, dport, sport, icmp-type, source, dest, log). cluster (may be NULL) holds groups, cluster
 * ipsets and aliases, local the file the rule is in (NULL for group rules). The macro name is
 * replaced by its canonical spelling. */
int pve_fw_rule_verify(pve_fw_rule *r, pve_fw_kind env, bool in_group, const pve_fw_file *cluster,
		       const pve_fw_file *local, pve_error **err);
/* An ipset entry or an alias's address: IP or CIDR (v4 or v6), normalised (/32 and /128 dropped). */
int pve_fw_parse_cidr(const char *s, char **ret_cidr, int *ret_family, pve_error **err);
/* Checks a port list ("22,80:90,ssh"): at most 15 numbers, ranges not backwards. */
int pve_fw_check_ports(const char *s, bool dport_icmp_names, pve_error **err);

/* Macros. */
typedef struct {
	const char *proto; /* NULL: the rule's */
	const char *dport; /* NULL: the rule's */
	const char *sport;
} pve_fw_macro_rule;
typedef struct {
	const char *name;
	const char *descr;
	const pve_fw_macro_rule *rules; /* terminated by an entry with all NULL */
	const pve_fw_macro_rule *rules_v6; /* the IPv6 version, when it differs; else NULL */
	bool v6_only; /* DHCPv6, NeighborDiscovery */
} pve_fw_macro;
/* The macro of that name, case-insensitively, or NULL. */
const pve_fw_macro *pve_fw_macro_find(const char *name);
const pve_fw_macro *pve_fw_macros(size_t *ret_n);

/* Names of protocols, ICMP types and ports: the number, or -1. */
int pve_fw_proto_number(const char *name);
int pve_fw_icmp_type(const char *name, bool v6, int *ret_code);
int pve_fw_service_port(const char *name);

/* ----- The compiler ----- */

/* A guest's NIC as the compiler needs it: net<index> is the interface ifname (tap<vmid>i<n> or what
 * a test names), with its MAC address for macfilter; firewall=1 in the guest's config. */
typedef struct {
	unsigned index;
	char ifname[16];
	uint8_t mac[6];
	bool has_mac;
	bool firewall;
} pve_fw_nic;

typedef struct {
	unsigned vmid;
	pve_fw_nic *nics;
	size_t n_nics;
	const pve_fw_file *fw; /* its <vmid>.fw, or NULL */
} pve_fw_guest;

typedef struct {
	const pve_fw_file *cluster; /* NULL: no cluster.fw, the firewall is off */
	const pve_fw_file *host; /* NULL: an empty host.fw */
	const pve_fw_guest *guests;
	size_t n_guests;
	const char *table; /* the inet table's name; NULL: "pved-firewall" */
	unsigned nflog_group; /* the nflog group logged rules go to (0 default) */
	/* The guests' rules in a bridge table, on each bridge port, as Proxmox filters bridged guests;
	 * false: in the inet table, which sees routed guest traffic and the host's only. */
	bool bridge;
	/* The conntrack helpers this kernel lacks (bit i: pve_fw_ct_helper_names[i]), left out of
	 * the ruleset: one the kernel does not have would make it refuse the whole batch. */
	unsigned ct_helpers_absent;
} pve_fw_input;

/* The conntrack helpers host.fw's nf_conntrack_helpers may name (Proxmox's list), NULL-terminated. */
extern const char *const pve_fw_ct_helper_names[];
/* Whether this network namespace's kernel has the conntrack helper of that name (nf_conntrack_ftp
 * for "ftp"): a batch that makes a ct helper object in a probe table and deletes it. Only the
 * kernel's "no such helper" counts as absent (a refusal for want of rights does not). Asked once
 * per helper and process. */
bool pve_fw_ct_helper_supported(const char *name);

/* Whether this network namespace's kernel takes bridge-family rules with conntrack and reject
 * (nf_conntrack_bridge, nft_reject_bridge): a batch that makes and deletes a probe table, so
 * nothing stays. Asked once per process. */
bool pve_fw_bridge_supported(void);

typedef struct pve_fw_ruleset pve_fw_ruleset;

/* Compiles the files into a ruleset; a rule that does not verify is an error naming the file and the
 * rule, and nothing is compiled. A disabled firewall (cluster enable: 0) is an empty ruleset, which
 * applies as "no table". */
int pve_fw_compile(const pve_fw_input *in, pve_fw_ruleset **ret, pve_error **err);
/* The ruleset as `nft -f` reads it (the table's delete first, so it replaces what is there). */
char *pve_fw_ruleset_nft(const pve_fw_ruleset *rs);
/* The part of the ruleset that belongs to one guest, in nft syntax (its chains and map elements). */
char *pve_fw_ruleset_guest_nft(const pve_fw_ruleset *rs, unsigned vmid);
size_t pve_fw_ruleset_guest_count(const pve_fw_ruleset *rs);
bool pve_fw_ruleset_enabled(const pve_fw_ruleset *rs);
/* The guests' rules are in a bridge table. */
bool pve_fw_ruleset_bridged(const pve_fw_ruleset *rs);
/* The helpers host.fw asks for that the ruleset leaves out (ct_helpers_absent's bits). */
unsigned pve_fw_ruleset_ct_helpers_absent(const pve_fw_ruleset *rs);
/* host.fw's log_nf_conntrack: conntrack's NEW and DESTROY events go to the firewall log. */
bool pve_fw_ruleset_log_conntrack(const pve_fw_ruleset *rs);
void pve_fw_ruleset_free(pve_fw_ruleset *rs);
static inline void pve_fw_ruleset_freep(pve_fw_ruleset **p)
{
	pve_fw_ruleset_free(*p);
}
#define _cleanup_fw_ruleset_ _cleanup_(pve_fw_ruleset_freep)

/* Applies the whole ruleset in one netlink batch: the table is deleted (when there) and made again
 * in the same transaction, so the kernel swaps old for new or keeps the old one and answers why. An
 * empty (disabled) ruleset removes the table. Runs in the caller's network namespace. */
int pve_fw_apply(const pve_fw_ruleset *rs, pve_error **err);
/* Replaces one guest's chains and map elements in one batch, leaving every other guest's alone; the
 * previous ruleset must be the one applied (old), which says what to remove. */
int pve_fw_apply_guest(const pve_fw_ruleset *old, const pve_fw_ruleset *rs, unsigned vmid,
		       pve_error **err);
/* Compares the ruleset with the kernel's table: chains and their rule counts, sets and their
 * element counts. 0 when they agree, 1 when not, with what differs, line by line, in the report. */
int pve_fw_status(const pve_fw_ruleset *rs, char **ret_report, pve_error **err);
/* Writes host.fw's conntrack settings (nf_conntrack_max, nf_conntrack_tcp_timeout_established,
 * nf_conntrack_tcp_timeout_syn_recv) to /proc/sys/net/netfilter, in the caller's network namespace,
 * those that differ only; after pve_fw_apply (conntrack is loaded by then). The error names the
 * file; the ruleset stays applied. */
int pve_fw_sysctl_apply(const pve_fw_ruleset *rs, pve_error **err);
/* Removes the table (when there). */
int pve_fw_remove(const char *table, pve_error **err);

/* ----- The firewall log ----- */

/* One nflog packet message; the pointers are into the message. */
typedef struct {
	uint8_t family; /* the hook's: AF_INET, AF_INET6, AF_BRIDGE */
	uint16_t hw_protocol;
	const char *prefix; /* NULL: none */
	uint32_t indev, outdev, physindev, physoutdev; /* interface indices, 0: none */
	uint32_t mark;
	bool has_time;
	int64_t sec;
	const uint8_t *hwhdr;
	size_t hwhdr_len;
	const uint8_t *payload; /* the packet from its network header */
	size_t payload_len;
} pve_fw_nflog_pkt;

/* Parses one netlink message of len bytes (NFULNL_MSG_PACKET); EBADMSG for anything else. */
int pve_fw_nflog_parse(const void *msg, size_t len, pve_fw_nflog_pkt *ret, pve_error **err);
/* The interface name of an index (false: unknown, the number is printed). */
typedef bool (*pve_fw_ifname_fn)(uint32_t index, char name[17], void *ctx);
/* The line pvefw-logger writes for it, with its newline: "<vmid> <level> <chain> <time> <ACTION>:
 * IN=... OUT=... MAC=... SRC=... DST=... ... PROTO=... SPT=... DPT=...". now: when the message has
 * no timestamp. */
char *pve_fw_nflog_format(const pve_fw_nflog_pkt *p, time_t now, pve_fw_ifname_fn ifname,
			  void *ctx);
/* A non-blocking NETLINK_NETFILTER socket bound to nflog group, in the caller's namespace,
 * copying 256 bytes of each packet; the fd, or a negative errno. */
int pve_fw_nflog_open(unsigned group, pve_error **err);

/* The next whole netlink message of buf (len bytes, as one recv gives them) at *off, with *off moved
 * past it; NULL at the end or at a message whose length does not fit what is left. (NLMSG_NEXT's
 * and libmnl's walks wrap on a hostile nlmsg_len.) */
struct nlmsghdr;
const struct nlmsghdr *pve_fw_nlmsg_next(const void *buf, size_t len, size_t *off);

/* One conntrack event (ctnetlink, conntrack.c): what the kernel sent, each field with whether it
 * was there; pointers are into the message. */
typedef enum { PVE_FW_CT_NEW, PVE_FW_CT_UPDATE, PVE_FW_CT_DESTROY } pve_fw_ct_type;
typedef struct {
	uint8_t addr_len; /* 4, 16; 0: no addresses */
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport; /* GRE: the keys */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	bool has_zone, has_counters;
	uint16_t zone;
	uint64_t packets, bytes;
} pve_fw_ct_tuple;

typedef struct {
	pve_fw_ct_type type;
	uint8_t family; /* AF_INET, AF_INET6 */
	pve_fw_ct_tuple orig, reply;
	bool has_timeout, has_status, has_mark, has_secmark, has_zone, has_use, has_start, has_stop;
	uint32_t timeout, status, mark, secmark, use;
	uint16_t zone;
	int tcp_state, sctp_state; /* -1: none */
	uint64_t start, stop; /* ns since the epoch (nf_conntrack_timestamp) */
	const char *helper, *secctx; /* NULL: none */
} pve_fw_ct_event;

/* Parses one ctnetlink message of len bytes (IPCTNL_MSG_CT_NEW or _DELETE); EBADMSG for anything
 * else. */
int pve_fw_ct_parse(const void *msg, size_t len, pve_fw_ct_event *ret, pve_error **err);
/* The line pvefw-logger writes for it (libnetfilter_conntrack's default output with the layer 3
 * protocol and timestamps), with its newline: "    [NEW] ipv4     2 tcp      6 120 SYN_SENT
 * src=... dst=... sport=... dport=... [UNREPLIED] src=... ...". now: a delta-time's end while the
 * connection lives. */
char *pve_fw_ct_format(const pve_fw_ct_event *e, time_t now);
/* A non-blocking NETLINK_NETFILTER socket subscribed to conntrack's NEW and DESTROY events in the
 * caller's namespace; the fd, or a negative errno. */
int pve_fw_ct_open(pve_error **err);

/* ----- Loading a node's firewall configuration ----- */

/* Where the files come from (the config store, in pved and pvectl): read gives -ENOENT for a file
 * that is not there; list gives the names in a directory (none when it is missing). Paths are
 * relative to etc/pve. */
typedef struct {
	int (*read)(void *ctx, const char *path, char **ret_text, size_t *ret_len, pve_error **err);
	int (*list)(void *ctx, const char *dir, char ***ret_names, pve_error **err);
	void *ctx;
} pve_fw_source;

/* A node's firewall files and its guests' NICs (from nodes/<node>/qemu-server/<vmid>.conf: netN
 * with firewall=1, its MAC; the tap is tap<vmid>i<N>), ready to compile: the guests in a bridge
 * table when this kernel takes one (pve_fw_bridge_supported). */
typedef struct {
	pve_fw_file *cluster;
	pve_fw_file *host;
	pve_fw_guest *guests;
	size_t n_guests;
	pve_fw_input input;
} pve_fw_config;

#define PVE_FW_MAX_GUESTS 100000
int pve_fw_config_load(const pve_fw_source *src, const char *node, pve_fw_config **ret,
		       pve_error **err);
void pve_fw_config_free(pve_fw_config *c);
static inline void pve_fw_config_freep(pve_fw_config **p)
{
	pve_fw_config_free(*p);
}
#define _cleanup_fw_config_ _cleanup_(pve_fw_config_freep)
/* The NICs of a guest config's netN values: a VM's ("virtio=BC:24:11:00:00:01,bridge=vmbr0,
 * firewall=1") on taps tap<vmid>i<n>, a container's ("name=eth0,hwaddr=...,firewall=1") on veths
 * veth<vmid>i<n>. */
int pve_fw_guest_nics(unsigned vmid, const pve_config *conf, bool container, pve_fw_nic **ret,
		      size_t *ret_n);
