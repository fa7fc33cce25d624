/* corosync.conf in Proxmox's dialect (PVE::Corosync's parse_conf and write_conf): read, printed, and
 * the nodelist edits of /cluster/config. */
#pragma once

#include <cjson/cJSON.h>

#include "common/common.h"

#define PVE_COROSYNC_MAX_SIZE (1024 * 1024)
#define PVE_COROSYNC_MAX_DEPTH 16
#define PVE_COROSYNC_MAX_NODES 512
/* Keys and sections in all: 512 nodes of a dozen keys each fit many times. */
#define PVE_COROSYNC_MAX_ENTRIES 16384
/* link0 .. link7, as Proxmox's MAX_LINK_INDEX. */
#define PVE_COROSYNC_MAX_LINKS 8

typedef struct pve_corosync_conf pve_corosync_conf;
/* text -> tree; -EINVAL with err naming the line on a syntax error; a limit on size (1 MiB), depth (16)
 * and entries (PVE_COROSYNC_MAX_NODES 512 nodes) */
int pve_corosync_conf_parse(const char *text, size_t len, pve_corosync_conf **ret, pve_error **err);
char *pve_corosync_conf_print(const pve_corosync_conf *c); /* Proxmox's layout, 2-space indent */
void pve_corosync_conf_free(pve_corosync_conf *c);
static inline void pve_corosync_conf_freep(pve_corosync_conf **c)
{
	pve_corosync_conf_free(*c);
}
/* Proxmox's JSON shape of the whole file (as PVE::Corosync::parse_conf gives, with nodelist.node
 * keyed by name and totem.interface keyed by linknumber), for GET /cluster/config/totem etc. */
cJSON *pve_corosync_conf_to_json(const pve_corosync_conf *c);
long long
pve_corosync_conf_version(const pve_corosync_conf *c); /* totem.config_version, 0 if none */
const char *pve_corosync_conf_cluster_name(const pve_corosync_conf *c);
/* A new cluster's file as `pvecm create` writes it: cluster_name, config_version 1, ip_version
 * ipv4-6, link_mode passive, secauth on, version 2, one interface per link, the one node (nodeid,
 * quorum_votes, ringN_addr per link), quorum provider corosync_votequorum, logging debug off
 * to_syslog yes; token_coefficient when given (>= 0). links: NULL-terminated addresses indexed by link
 * number (links[0] = link0's address). */
char *pve_corosync_conf_create(const char *cluster, const char *node, int nodeid, int votes,
			       const char *const *links, int token_coefficient);
/* addnode as ClusterConfig.pm's POST /cluster/config/nodes/{node}: nodeid 0 picks the lowest free
 * id; refuses (EEXIST/EINVAL, err with Proxmox's words) a name, nodeid or address already in use
 * unless force (force replaces the node of the same name); bumps config_version. votes < 0: the
 * replaced node's, else 1. In links, "" stands for a link number not given (link0 and link2 without
 * link1). The error names the parameter (node, nodeid, linkN); nothing is changed on an error. */
int pve_corosync_conf_add_node(pve_corosync_conf *c, const char *node, int nodeid, int votes,
			       const char *const *links, bool force, pve_error **err);
/* Removes the node (found by name, or by its ring0 or ring1 address as Proxmox does), its nodeid in
 * *ret_nodeid (may be NULL; 0 when it had none); ENOENT with Proxmox's words when there is none. Bumps
 * config_version. */
int pve_corosync_conf_del_node(pve_corosync_conf *c, const char *node, int *ret_nodeid,
			       pve_error **err);
/* the nodes: each {name, nodeid, quorum_votes, ring0_addr, ...} as an array of objects */
cJSON *pve_corosync_conf_nodes(const pve_corosync_conf *c);
