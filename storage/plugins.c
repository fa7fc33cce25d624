/* storage: the registry of storage types: dir has its ops; the others are listed with their properties and
 * content so storage.cfg can name them, and every op on them is refused until their plugin exists. */
#include "storage/storage-internal.h"

#define C(x) PVE_CONTENT_##x

static const char *const raw_only[] = { "raw", NULL };
static const char *const raw_subvol[] = { "raw", "subvol", NULL };
static const char *const file_formats[] = { "raw", "qcow2", "vmdk", NULL };
static const char *const raw_qcow2[] = { "raw", "qcow2", NULL };

static const char *const req_path[] = { "path", NULL };
static const char *const req_vg[] = { "vgname", NULL };
static const char *const req_thin[] = { "vgname", "thinpool", NULL };
static const char *const req_nfs[] = { "server", "export", NULL };
static const char *const req_cifs[] = { "server", "share", NULL };
static const char *const req_iscsi[] = { "portal", "target", NULL };
static const char *const req_pool[] = { "pool", NULL };

static const char *const opt_btrfs[] = { "path", "preallocation", "is_mountpoint", NULL };
static const char *const opt_lvm[] = { "vgname",      "base",
				       "saferemove",  "saferemove_throughput",
				       "tagged_only", "snapshot-as-volume-chain",
				       NULL };
static const char *const opt_thin[] = { "vgname", "thinpool", NULL };
static const char *const opt_nfs[] = { "server",
				       "export",
				       "path",
				       "options",
				       "preallocation",
				       "create-base-path",
				       "create-subdirs",
				       "content-dirs",
				       "mkdir",
				       "snapshot-as-volume-chain",
				       NULL };
static const char *const opt_cifs[] = { "server",
					"share",
					"path",
					"username",
					"password",
					"domain",
					"smbversion",
					"subdir",
					"options",
					"preallocation",
					"create-base-path",
					"create-subdirs",
					"content-dirs",
					"mkdir",
					"snapshot-as-volume-chain",
					NULL };
static const char *const opt_iscsi[] = { "portal", "target", NULL };
static const char *const opt_zfs[] = { "pool", "blocksize", "sparse", "mountpoint", NULL };

static const pve_storage_plugin plugin_btrfs = {
	.type = "btrfs",
	.content_allowed = C(IMAGES) | C(ROOTDIR) | C(VZTMPL) | C(ISO) | C(BACKUP) | C(SNIPPETS) |
			   C(IMPORT),
	.content_default = C(IMAGES) | C(ROOTDIR),
	.formats = raw_subvol,
	.default_format = "raw",
	.required = req_path,
	.options = opt_btrfs,
	.unavailable = "the btrfs plugin is not written yet",
};

static const pve_storage_plugin plugin_lvm = {
	.type = "lvm",
	.content_allowed = C(IMAGES) | C(ROOTDIR),
	.content_default = C(IMAGES),
	.formats = raw_qcow2,
	.default_format = "raw",
	.required = req_vg,
	.options = opt_lvm,
	.unavailable = "the lvm plugin is not written yet",
};

static const pve_storage_plugin plugin_lvmthin = {
	.type = "lvmthin",
	.content_allowed = C(IMAGES) | C(ROOTDIR),
	.content_default = C(IMAGES) | C(ROOTDIR),
	.formats = raw_only,
	.default_format = "raw",
	.required = req_thin,
	.options = opt_thin,
	.unavailable = "the lvmthin plugin is not written yet",
};

static const pve_storage_plugin plugin_nfs = {
	.type = "nfs",
	.content_allowed = C(IMAGES) | C(ROOTDIR) | C(VZTMPL) | C(ISO) | C(BACKUP) | C(SNIPPETS) |
			   C(IMPORT),
	.content_default = C(IMAGES),
	.formats = file_formats,
	.default_format = "raw",
	.shared = true,
	.required = req_nfs,
	.options = opt_nfs,
	.unavailable = "the nfs plugin is not written yet",
};

static const pve_storage_plugin plugin_cifs = {
	.type = "cifs",
	.content_allowed = C(IMAGES) | C(ROOTDIR) | C(VZTMPL) | C(ISO) | C(BACKUP) | C(SNIPPETS) |
			   C(IMPORT),
	.content_default = C(IMAGES),
	.formats = file_formats,
	.default_format = "raw",
	.shared = true,
	.required = req_cifs,
	.options = opt_cifs,
	.unavailable = "the cifs plugin is not written yet",
};

static const pve_storage_plugin plugin_iscsi = {
	.type = "iscsi",
	.content_allowed = C(IMAGES),
	.content_default = C(IMAGES),
	.formats = raw_only,
	.default_format = "raw",
	.shared = true,
	.required = req_iscsi,
	.options = opt_iscsi,
	.unavailable = "the iscsi plugin is not written yet",
};

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
	&pve_storage_plugin_dir, &plugin_btrfs,	  &plugin_lvm,
	&plugin_lvmthin,	 &plugin_nfs,	  &plugin_cifs,
	&plugin_iscsi,		 &plugin_zfspool, NULL,
};

const pve_storage_plugin *const *pve_storage_plugins(void)
{
	return plugins;
}
