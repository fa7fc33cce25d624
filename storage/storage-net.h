/* storage: what the network storages publish besides their plugins: the scans behind
 * /nodes/{node}/scan/{nfs,cifs,iscsi}, each asking a server what it offers. */
#pragma once

#include <cjson/cJSON.h>

#include "common/common.h"

/* showmount -e SERVER: [{"path": "/export", "options": "clients"}]. EHOSTUNREACH "... server 'x'
 * ..." when the server does not answer. */
int pve_storage_scan_nfs(const char *server, cJSON **ret, pve_error **err);
/* smbclient -L //SERVER: [{"share": "name", "description": "comment"}], disk shares only. username
 * NULL: anonymous; password goes through the environment, never the command line. */
int pve_storage_scan_cifs(const char *server, const char *username, const char *password,
			  const char *domain, cJSON **ret, pve_error **err);
/* iscsiadm sendtargets discovery at PORTAL (host[:port]): [{"target": "iqn...", "portal":
 * "ip:port"}]. */
int pve_storage_scan_iscsi(const char *portal, cJSON **ret, pve_error **err);
