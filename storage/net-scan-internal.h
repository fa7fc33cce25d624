/* storage: the parsers of what the scan tools print about a server (showmount, smbclient -g,
 * iscsiadm's sendtargets discovery), apart from running the tools, so that a fuzz target reaches them.
 * The server controls what they print: each parser bounds what it keeps. */
#pragma once

#include <cjson/cJSON.h>

/* At most this many entries in a scan's answer. */
#define PVE_SCAN_MAX_ENTRIES 4096
/* At most this many portals of one iSCSI target, joined by ','. */
#define PVE_SCAN_MAX_PORTALS 64

/* Each takes the tool's whole output, NUL-terminated, and cuts it up in place. */
/* showmount --no-headers --exports: [{path, options}]. */
cJSON *pve_scan_parse_nfs(char *out);
/* smbclient -g -L: [{share, description}] of the disk shares, or NULL when the output holds no share
 * list at all (smbclient exits 0 when only the listing failed). */
cJSON *pve_scan_parse_cifs(char *out);
/* iscsiadm --mode discovery --type sendtargets: [{target, portal}], a target behind several portals
 * with them joined by ',' (at most PVE_SCAN_MAX_PORTALS; lines past 4 * PVE_SCAN_MAX_ENTRIES are not
 * read). */
cJSON *pve_scan_parse_iscsi(char *out);
