/* storage: the registry of storage types: those with ops (dir, btrfs, lvm, lvmthin, ...) are defined in
 * their plugin files; the others are listed with their properties and content so storage.cfg can name
 * them, and every op on them is refused until their plugin exists. */
#include "storage/storage-internal.h"

#define C(x) PVE_CONTENT_##x

static const char *const raw_subvol[] = { "raw", "subvol", NULL };

static const char *const req_pool[] = { "pool", NULL };

static const char *const opt_zfs[] = { "pool", "blocksize", "sparse", "mountpoint", NULL };

static const pve_storage_plugin plugin_zfspool = {
	.type = "zfspool",
	.content_allowed = C(IMAGES) | C(ROOTDIR),
	.content_default = C(IMAGES) | C(ROOTDIR),
	.formats = raw_subvol,
	.default_format = "raw",
	.required = req_pool,
	.options = opt_zfs,
	.unavailable = "ZFS is not in Debian main",
};

static const pve_storage_plugin *const plugins[] = {
	&pve_storage_plugin_dir,   &pve_storage_plugin_btrfs,
	&pve_storage_plugin_lvm,   &pve_storage_plugin_lvmthin,
	&pve_storage_plugin_nfs,   &pve_storage_plugin_cifs,
	&pve_storage_plugin_iscsi, &pve_storage_plugin_iscsidirect,
	&plugin_zfspool,	   NULL,
};

const pve_storage_plugin *const *pve_storage_plugins(void)
{
	return plugins;
}
