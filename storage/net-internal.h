/* storage: what the network storages (nfs, cifs, iscsi) share inside storage/: a command runner
 * with a time limit, a TCP reachability check, mount-table lookups, and the dir plugin's ops on a
 * mounted share. */
#pragma once

#include "storage/storage-internal.h"

/* The time a command may take before it is killed (mount, iscsiadm, showmount, smbclient). */
#define PVE_NET_CMD_TIMEOUT_MS (60 * 1000)
/* The time a server has to accept a TCP connection before it counts as unreachable. */
#define PVE_NET_CONNECT_TIMEOUT_MS 3000

/* Runs argv (argv[0] an absolute path, NULL-terminated) without a shell, in its own process group,
 * killed after timeout_ms. env: extra "NAME=VALUE" entries (NULL-terminated, may be NULL) besides
 * PATH and LC_ALL. *ret_out (may be NULL) gets stdout. ret_status NULL: a non-zero exit is an error
 * (EIO with the command's stderr); else the exit status goes there. ETIMEDOUT when killed. */
int pve_net_run(const char *const argv[], const char *const env[], int timeout_ms, char **ret_out,
		int *ret_status, pve_error **err);

/* Whether host:port accepts a TCP connection within timeout_ms; EHOSTUNREACH "storage 'id' is not
 * online: cannot connect to server 'host' port N: why" otherwise (id may be NULL for scans). */
int pve_net_check_connect(const char *id, const char *host, int port, int timeout_ms,
			  pve_error **err);
/* Splits "host", "host:port", "[v6]" or "[v6]:port"; *ret_port stays as given without a port.
 * EINVAL for anything else. */
int pve_net_split_hostport(const char *s, char **ret_host, int *ret_port, pve_error **err);
/* A server name or address safe to put into a mount source or an argument: no leading '-', no
 * whitespace, ',', '/', or control characters. */
bool pve_net_server_ok(const char *s);
/* The port=N in a mount options string, or def. */
int pve_net_option_port(const char *options, int def);

/* Whether path is a mount point of one of fstypes (NULL-terminated) in /proc/self/mountinfo. */
bool pve_net_is_mounted(const char *path, const char *const fstypes[]);

/* A mounted file storage: its mount point ("path", or /mnt/pve/<id>) and mount types. */
typedef struct pve_netfs {
	const char *const *fstypes;
	/* Mounts the share at path (which exists): the type's mount command. */
	int (*mount)(const pve_storage *s, const char *path, pve_error **err);
	/* Its server and port, checked before mounting. */
	int (*server)(const pve_storage *s, char **ret_host, int *ret_port, pve_error **err);
} pve_netfs;

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
