/* storage: what the network storages (nfs, cifs, iscsi, iscsidirect) share inside storage/: the
 * tool runner with a time limit (storage/run.c), server probes, iSCSI names and portals, mount-table
 * lookups, mounting a share, and the dir plugin's ops on a mounted share. */
#pragma once

#include "storage/storage-internal.h"

/* The time a command may take before it is killed (mount, iscsiadm, showmount, smbclient, iscsi-ls):
 * a server that answers TCP but nothing else must not hold a worker thread for minutes. */
#define PVE_NET_CMD_TIMEOUT_MS (30 * 1000)
/* The time a server has to accept a TCP connection (and answer a probe) before it counts as
 * unreachable. */
#define PVE_NET_CONNECT_TIMEOUT_MS 3000
/* The time statvfs on a mounted share may take (a hard NFS mount whose server is gone hangs). */
#define PVE_NET_STATVFS_TIMEOUT_MS 3000

/* Whether host:port accepts a TCP connection within timeout_ms; EHOSTUNREACH "storage 'id' is not
 * online: cannot connect to server 'host' port N: why" otherwise (id may be NULL for scans). */
int pve_net_check_connect(const char *id, const char *host, int port, int timeout_ms,
			  pve_error **err);
/* Whether an NFS server answers at host:port: a TCP connection and an ONC RPC NULL call to the NFS
 * program; any answer (even a refusal) or a closed connection counts, silence until timeout_ms does
 * not. EHOSTUNREACH "storage 'id' is not online: ..." naming the server otherwise (id may be
 * NULL). */
int pve_net_probe_nfs(const char *id, const char *host, int port, int timeout_ms, pve_error **err);
/* The same for an SMB server: an SMB2 NEGOTIATE request. */
int pve_net_probe_smb(const char *id, const char *host, int port, int timeout_ms, pve_error **err);
/* statvfs(path) in a child process killed after timeout_ms, so a hung mount cannot hang the
 * caller: 0 and *ret filled, or -ETIMEDOUT, or the negative errno of statvfs. */
int pve_net_statvfs(const char *path, int timeout_ms, pve_storage_status *ret);
/* Splits "host", "host:port", "[v6]" or "[v6]:port"; *ret_port stays as given without a port.
 * EINVAL for anything else. */
int pve_net_split_hostport(const char *s, char **ret_host, int *ret_port, pve_error **err);
/* A server name or address safe to put into a mount source or an argument: no leading '-', no
 * whitespace, ',', '/', or control characters. */
bool pve_net_server_ok(const char *s);
/* The port=N in a mount options string, or def. */
int pve_net_option_port(const char *options, int def);

#define PVE_ISCSI_PORT 3260
/* An iSCSI name: iqn.YYYY-MM.reverse.domain[:anything], eui.HEX or naa.HEX; no spaces, nothing a
 * tool could take for an option. */
bool pve_net_iscsi_name_ok(const char *t);
/* A portal (host[:port], [v6][:port]; port 3260 by default): its parts and the normalized
 * "host:port" / "[v6]:port" (each may be NULL). EINVAL (param "portal") otherwise. */
int pve_net_iscsi_portal(const char *portal, char **ret_host, int *ret_port, char **ret_portal,
			 pve_error **err);

/* Whether path is a mount point of one of fstypes (NULL-terminated) in /proc/self/mountinfo. */
bool pve_net_is_mounted(const char *path, const char *const fstypes[]);

/* A mounted file storage: its mount point ("path", or /mnt/pve/<id>) and mount types. */
typedef struct pve_netfs {
	const char *const *fstypes;
	int default_port; /* the server's port, unless the options say port=N */
	/* Checks the share's properties and makes mount's source ("server:/export",
	 * "//server/share/subdir") and option list (NULL for none); *ret_env (may stay NULL) gets
	 * the environment mount needs (cifs: its password). */
	int (*mount_args)(const pve_storage *s, char **ret_source, char **ret_options,
			  char **ret_env, pve_error **err);
	/* Asks the server whether it serves, beyond a TCP connection (NULL: connecting is all). */
	int (*probe)(const char *id, const char *host, int port, int timeout_ms, pve_error **err);
} pve_netfs;

/* The storage's server and port (server, and port=N in its options), checked. */
int pve_netfs_server(const pve_storage *s, const pve_netfs *fs, char **ret_host, int *ret_port,
		     pve_error **err);
/* Whether a storage's "options" (mount options) may go to mount as one argument. */
bool pve_netfs_options_ok(const char *options);

/* The storage with its path resolved: *ret is s with path set; *ret_buf holds it (free it). */
void pve_netfs_resolve(const pve_storage *s, pve_storage *ret, char **ret_buf);
int pve_netfs_activate(const pve_storage *s, const pve_netfs *fs, pve_error **err);
int pve_netfs_deactivate(const pve_storage *s, const pve_netfs *fs, pve_error **err);
int pve_netfs_status(const pve_storage *s, const pve_netfs *fs, pve_storage_status *ret,
		     pve_error **err);
/* Refuses an op on a share that is not mounted: ENODEV "storage 'x' is not mounted at 'p'". */
int pve_netfs_need_mounted(const pve_storage *s, const pve_netfs *fs, pve_error **err);

extern const pve_netfs pve_netfs_nfs, pve_netfs_cifs;

/* The dir plugin's ops on a mounted share, for both nfs and cifs (the pve_netfs by the storage's
 * type): each resolves the path, checks the mount where the op touches data, then calls the dir
 * plugin. */
int pve_netfs_alloc_image(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			  uint64_t size, char **ret_volname, pve_error **err);
int pve_netfs_free_image(const pve_storage *s, const char *volname, pve_error **err);
int pve_netfs_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			   pve_volume_info **ret, size_t *ret_n, pve_error **err);
int pve_netfs_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		   pve_error **err);
int pve_netfs_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			  uint64_t *ret_used, char **ret_format, pve_error **err);
int pve_netfs_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			    pve_error **err);
int pve_netfs_snapshot(const pve_storage *s, const char *volname, const char *snap,
		       pve_error **err);
int pve_netfs_snapshot_rollback(const pve_storage *s, const char *volname, const char *snap,
				pve_error **err);
int pve_netfs_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
			      pve_error **err);
int pve_netfs_clone_image(const pve_storage *s, const char *volname, long long vmid,
			  const char *snap, char **ret_volname, pve_error **err);
int pve_netfs_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			  pve_error **err);
bool pve_netfs_has_feature(const pve_storage *s, pve_volume_feature feature, const char *volname,
			   const char *snap);
int pve_netfs_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			    const char *target_name, char **ret_volname, pve_error **err);
int pve_netfs_get_attribute(const pve_storage *s, const char *volname, const char *attr,
			    char **ret_value, pve_error **err);
int pve_netfs_set_attribute(const pve_storage *s, const char *volname, const char *attr,
			    const char *value, pve_error **err);

/* Those ops, for a plugin table. */
#define PVE_NETFS_DIR_OPS                                                                          \
	.alloc_image = pve_netfs_alloc_image, .free_image = pve_netfs_free_image,                  \
	.list_volumes = pve_netfs_list_volumes, .path = pve_netfs_path,                            \
	.volume_size = pve_netfs_volume_size, .volume_resize = pve_netfs_volume_resize,            \
	.volume_snapshot = pve_netfs_snapshot,                                                     \
	.volume_snapshot_rollback = pve_netfs_snapshot_rollback,                                   \
	.volume_snapshot_delete = pve_netfs_snapshot_delete, .clone_image = pve_netfs_clone_image, \
	.create_base = pve_netfs_create_base, .volume_has_feature = pve_netfs_has_feature,         \
	.rename_volume = pve_netfs_rename_volume, .get_attribute = pve_netfs_get_attribute,        \
	.set_attribute = pve_netfs_set_attribute
