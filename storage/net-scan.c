/* storage: the scans behind /nodes/{node}/scan/{nfs,cifs,iscsi}: what an NFS server exports, what
 * shares an SMB server offers, what targets an iSCSI portal has, each through the system's tool. */
#include "storage/net-internal.h"
#include "storage/net-scan-internal.h"
#include "storage/storage-net.h"

#define SCAN_TIMEOUT_MS PVE_NET_CMD_TIMEOUT_MS
#define SCAN_MAX_ENTRIES PVE_SCAN_MAX_ENTRIES
/* A portal's discovery answer is read only this far: each line is looked up among the targets so far,
 * and a target's portals are joined into one string. */
#define ISCSI_MAX_LINES (4 * SCAN_MAX_ENTRIES)
#define ISCSI_MAX_PORTALS PVE_SCAN_MAX_PORTALS
#define RPCBIND_PORT 111
#define SMB_PORT 445
#define ISCSI_PORT 3260

static int check_server(const char *server, int port, pve_error **err)
{
	if (!pve_net_server_ok(server) || strchr(server, '['))
		return pve_error_set_param(err, EINVAL, "server", "invalid server '%.100s'",
					   server ? server : "");
	return pve_net_check_connect(NULL, server, port, PVE_NET_CONNECT_TIMEOUT_MS, err);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
		s[--l] = '\0';
	return s;
}

int pve_storage_scan_nfs(const char *server, cJSON **ret, pve_error **err)
{
	_cleanup_free_ char *out = NULL;
	int r = check_server(server, RPCBIND_PORT, err);
	if (r < 0)
		return r;
	const char *argv[] = { "/usr/sbin/showmount", "--no-headers", "--exports", server, NULL };
	if (pve_storage_run_ex(argv, NULL, SCAN_TIMEOUT_MS, &out, NULL, err) < 0) {
		if (err && *err)
			pve_error_prefix(*err, "scan of NFS server '%s' failed", server);
		return -EIO;
	}
	*ret = pve_scan_parse_nfs(out);
	return 0;
}

cJSON *pve_scan_parse_nfs(char *out)
{
	cJSON *list = cJSON_CreateArray();
	_cleanup_strv_free_ char **lines = pve_strv_split(out, "\n");
	int n = 0;
	for (char **l = lines; *l && n < SCAN_MAX_ENTRIES; l++) {
		char *line = trim(*l);
		/* "PATH CLIENTS": the path may hold spaces, the client list does not */
		char *sp = strrchr(line, ' ');
		if (!sp || line[0] != '/')
			continue;
		*sp = '\0';
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", trim(line));
		cJSON_AddStringToObject(o, "options", sp + 1);
		cJSON_AddItemToArray(list, o);
		n++;
	}
	return list;
}

int pve_storage_scan_cifs(const char *server, const char *username, const char *password,
			  const char *domain, cJSON **ret, pve_error **err)
{
	_cleanup_free_ char *out = NULL, *target = NULL, *penv = NULL;
	int r = check_server(server, SMB_PORT, err);
	if (r < 0)
		return r;
	if (username && (!*username || username[0] == '-' || strpbrk(username, "%\n\r")))
		return pve_error_set_param(err, EINVAL, "username", "invalid username");
	if (domain && (!*domain || domain[0] == '-' || strpbrk(domain, " \t\n\r")))
		return pve_error_set_param(err, EINVAL, "domain", "invalid domain");
	if (password && strpbrk(password, "\n\r"))
		return pve_error_set_param(err, EINVAL, "password", "invalid password");
	target = xasprintf("//%s", server);
	const char *argv[12] = { "/usr/bin/smbclient", "-m", "smb3", "-d", "0", "-g", "-L", target };
	size_t n = 8;
	if (username) {
		argv[n++] = "-U";
		argv[n++] = username;
	} else {
		argv[n++] = "-N";
	}
	if (domain) {
		argv[n++] = "-W";
		argv[n++] = domain;
	}
	argv[n] = NULL;
	/* smbclient takes the password from $PASSWD: never on its command line */
	penv = xasprintf("PASSWD=%s", password ? password : "");
	const char *env[] = { username ? penv : NULL, NULL };
	r = pve_storage_run_ex(argv, env, SCAN_TIMEOUT_MS, &out, NULL, err);
	explicit_bzero(penv, strlen(penv));
	if (r < 0) {
		if (err && *err)
			pve_error_prefix(*err, "scan of SMB server '%s' failed", server);
		return -EIO;
	}
	cJSON *list = pve_scan_parse_cifs(out);
	if (!list)
		return pve_error_set(err, EIO, "scan of SMB server '%s' failed: no share list",
				     server);
	*ret = list;
	return 0;
}

cJSON *pve_scan_parse_cifs(char *out)
{
	cJSON *list = cJSON_CreateArray();
	_cleanup_strv_free_ char **lines = pve_strv_split(out, "\n");
	int cnt = 0;
	bool listed = false;
	for (char **l = lines; *l && cnt < SCAN_MAX_ENTRIES; l++) {
		/* -g: "Disk|NAME|COMMENT"; every server lists its IPC$ too */
		listed |= startswith(*l, "IPC|") || startswith(*l, "Disk|");
		if (!startswith(*l, "Disk|"))
			continue;
		char *name = *l + 5, *bar = strchr(name, '|');
		if (!bar)
			continue;
		*bar = '\0';
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "share", name);
		cJSON_AddStringToObject(o, "description", trim(bar + 1));
		cJSON_AddItemToArray(list, o);
		cnt++;
	}
	if (!listed) {
		/* smbclient exits 0 when only the share listing (an RPC call) failed */
		cJSON_Delete(list);
		return NULL;
	}
	return list;
}

int pve_storage_scan_iscsi(const char *portal, cJSON **ret, pve_error **err)
{
	_cleanup_free_ char *host = NULL, *out = NULL, *p = NULL;
	int port = ISCSI_PORT;
	if (pve_net_split_hostport(portal, &host, &port, NULL) < 0)
		return pve_error_set_param(err, EINVAL, "portal", "invalid portal '%.100s'",
					   portal ? portal : "");
	if (pve_net_check_connect(NULL, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err) < 0)
		return -EHOSTUNREACH;
	p = strchr(host, ':') ? xasprintf("[%s]:%d", host, port) : xasprintf("%s:%d", host, port);
	const char *argv[] = { "/usr/sbin/iscsiadm", "--mode",	 "discovery", "--type",
			       "sendtargets",	     "--portal", p,	      NULL };
	if (pve_storage_run_ex(argv, NULL, SCAN_TIMEOUT_MS, &out, NULL, err) < 0) {
		if (err && *err)
			pve_error_prefix(*err, "scan of iSCSI portal '%s' failed", p);
		return -EIO;
	}
	*ret = pve_scan_parse_iscsi(out);
	return 0;
}

cJSON *pve_scan_parse_iscsi(char *out)
{
	/* "ADDR:PORT,TPGT TARGET" per portal and target; a target behind several portals gets them
	 * joined by ',' as Proxmox does */
	cJSON *list = cJSON_CreateArray();
	_cleanup_strv_free_ char **lines = pve_strv_split(out, "\n");
	int n = 0, read = 0;
	for (char **l = lines; *l && n < SCAN_MAX_ENTRIES && read < ISCSI_MAX_LINES; l++) {
		char *sp = strchr(*l, ' ');
		if (!sp)
			continue;
		read++;
		*sp = '\0';
		const char *target = trim(sp + 1);
		char *comma = strrchr(*l, ',');
		if (comma)
			*comma = '\0';
		/* iscsiadm's ADDR:PORT holds no ','; the joined list and its cap count on that */
		if (strchr(*l, ','))
			continue;
		cJSON *found = NULL, *e;
		cJSON_ArrayForEach (e, list)
			if (streq_ptr(pve_json_str(e, "target"), target))
				found = e;
		if (found) {
			const char *portals = pve_json_str(found, "portal");
			size_t k = 1;
			for (const char *c = portals; (c = strchr(c, ',')); c++)
				k++;
			/* Joining each repeat anew costs the string's length: without a cap, a portal
			 * answering one target a hundred thousand times holds a worker for minutes. */
			if (k >= ISCSI_MAX_PORTALS)
				continue;
			_cleanup_free_ char *joined = xasprintf("%s,%s", portals, *l);
			cJSON_ReplaceItemInObject(found, "portal", cJSON_CreateString(joined));
			continue;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "target", target);
		cJSON_AddStringToObject(o, "portal", *l);
		cJSON_AddItemToArray(list, o);
		n++;
	}
	return list;
}
