/* net: the node network: /etc/network/interfaces in ifupdown2's syntax (parsed, edited, printed back
 * byte for byte where nothing changed) and its application to the kernel through netlink (libnl-route-3),
 * and the attachment of guests' taps and veths to bridges. */
#pragma once

#include "common/common.h"

/* ---- the interfaces file ---------------------------------------------------------------------------
 * The file is kept line by line: lines outside stanzas (comments, blank lines, `source`, `mapping`, what
 * pved does not know), `auto`/`allow-*` lines, and `iface` stanzas with their option and comment lines.
 * A line nothing changed is printed as it was read; a changed option keeps its spelling and indentation.
 * A stanza ends at a blank line or at the next keyword line (iface, auto, allow-*, source, mapping), as
 * Proxmox reads it. */

#define PVE_NET_MAX_FILE (1024 * 1024) /* bytes of the file */
#define PVE_NET_MAX_LINE 4096 /* bytes of one line */
#define PVE_NET_MAX_LINES 65536
#define PVE_NET_MAX_IFACES 4096 /* stanzas */
#define PVE_NET_MAX_PORTS 1024 /* ports of a bridge, slaves of a bond */
#define PVE_NET_MAX_NAME 64 /* an interface name in the file; the kernel takes 15 */

typedef struct pve_net_config pve_net_config;

/* text need not be NUL-terminated. Refused (EINVAL, naming the line): a NUL byte, invalid UTF-8, a line
 * or file over the limits, an `iface` line without a name or with an unknown family. */
int pve_net_config_parse(const char *text, size_t len, pve_net_config **ret, pve_error **err);
char *pve_net_config_print(const pve_net_config *c);
void pve_net_config_free(pve_net_config *c);
static inline void pve_net_config_freep(pve_net_config **c)
{
	pve_net_config_free(*c);
}
#define _cleanup_net_config_ _cleanup_(pve_net_config_freep)

/* The interfaces the file names (stanzas and auto lines), in file order, each once; lo included. */
char **pve_net_config_names(const pve_net_config *c);
bool pve_net_config_has(const pve_net_config *c, const char *name);

/* What Proxmox reports of one interface (its read_etc_network_interfaces), as a JSON object with
 * Proxmox's keys: type, method, method6, families, autostart, address/netmask/cidr, address6/netmask6/
 * cidr6, gateway(6), mtu, bridge_ports, bridge_stp, bridge_fd, bridge_vlan_aware, bridge_vids, slaves,
 * bond_mode, bond_miimon, bond_xmit_hash_policy, bond-primary, vlan-raw-device, vlan-id, comments,
 * options (unknown lines), priority. is_physical tells whether a name not otherwise typed is a NIC
 * (may be NULL: then only the names Proxmox takes for NICs are). NULL when the file has no such
 * interface. */
cJSON *pve_net_iface_describe(const pve_net_config *c, const char *name,
			      bool (*is_physical)(const char *name, void *ud), void *ud);

/* ---- edits --------------------------------------------------------------------------------------------
 * Keys are the API's (bridge_ports, slaves, bond_mode, vlan-raw-device, mtu, comments, ...); the file gets
 * ifupdown2's spelling for a new line and keeps an existing line's own. address/address6 take
 * "ADDR/PREFIX" (a separate netmask line is folded in). A NULL value deletes the key. */
int pve_net_iface_set(pve_net_config *c, const char *name, const char *key, const char *value,
		      pve_error **err);
/* A new stanza `iface NAME inet manual` at the end (with `auto NAME` when autostart); EEXIST. */
int pve_net_iface_add(pve_net_config *c, const char *name, bool autostart, pve_error **err);
/* Removes the stanzas and the name from auto lines; false when there was none. */
bool pve_net_iface_remove(pve_net_config *c, const char *name);
void pve_net_iface_set_autostart(pve_net_config *c, const char *name, bool autostart);
/* The stanzas' methods: `static` when an address of that family is set, else `manual` (as Proxmox's
 * API writes them); dhcp and others are kept when the family has no address key. */
void pve_net_iface_fix_methods(pve_net_config *c, const char *name);

/* ---- applying it --------------------------------------------------------------------------------------
 * From the configuration in force (old, may be NULL) to the new one: links of the new file's bridges,
 * bonds and VLANs created or changed (master, MTU, bridge and bond options, up), their addresses and
 * default routes set; bridges, bonds and VLANs the old file had and the new has not removed, addresses
 * and gateways the old had and the new has not taken away. Links neither file names are not touched.
 * Only what differs from the kernel's state is changed. netns: a path (/run/netns/NAME) whose network
 * namespace is changed instead of the caller's, or NULL. log (may be NULL) gets one line per change. */
int pve_net_apply(const pve_net_config *old, const pve_net_config *new_cfg, const char *netns,
		  FILE *log, pve_error **err);

/* The links in netns (NULL: the caller's) by name: for each, whether it is up and whether it is a
 * physical device (no link kind). Fills *ret_names (NULL-terminated), ret_up and ret_phys (arrays
 * as long, may be NULL). */
int pve_net_links(const char *netns, char ***ret_names, bool **ret_up, bool **ret_phys,
		  pve_error **err);

/* ---- guests -------------------------------------------------------------------------------------------
 * Puts link ifname (a VM's tap, a container's veth) on bridge with the MTU (0: the bridge's) and sets it
 * up; tag (0: none) is its untagged VLAN on a VLAN-aware bridge. ENOENT names the missing bridge. */
int pve_net_attach(const char *netns, const char *ifname, const char *bridge, unsigned mtu,
		   unsigned tag, pve_error **err);
/* A guest NIC's rate limit, as Proxmox's tap_rate_limit: mbps MiB/s with a 1 MiB burst both ways, an
 * htb qdisc at the root (to the guest) and an ingress policer (from it); whatever limit was there is
 * removed first, and mbps <= 0 leaves none. 1 (with *err saying why) when only the limit to the guest
 * is set: the kernel has no ingress policer (cls_basic, act_police). */
int pve_net_rate_limit(const char *netns, const char *ifname, double mbps, pve_error **err);
/* A guest NIC's rate= (MiB/s, pve_net_rate_limit; 0: none) and link_down=1 on ifname, in the caller's
 * namespace; a limit refused is an error naming param (the NIC's netN). 1 with *ret_warning saying
 * why when only the limit to the guest is set. */
int pve_net_nic_limits(const char *ifname, double rate, bool down, const char *param,
		       pve_error **ret_warning, pve_error **err);
/* Sets link ifname up or down (a NIC's link_down). */
int pve_net_link_state(const char *netns, const char *ifname, bool up, pve_error **err);
