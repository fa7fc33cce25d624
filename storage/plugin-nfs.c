/* storage: the nfs plugin: pved mounts server:export at the storage's path (mount -t nfs with the
 * storage's options), and from there on it is a dir storage, shared by nature. */
#include "storage/net-internal.h"

#define NFS_PORT 2049
#define NFS_EXPORT_MAX 4096

static const char *const nfs_fstypes[] = { "nfs", "nfs4", NULL };

/* Checks what goes into mount's arguments: argv has no shell, but a value must not turn into an
 * option. */
static int nfs_mount_args(const pve_storage *s, char **ret_source, char **ret_options,
			  char **ret_env, pve_error **err)
{
	_cleanup_free_ char *server = NULL;
	int port;
	if (pve_netfs_server(s, &pve_netfs_nfs, &server, &port, err) < 0)
		return -EINVAL;
	const char *export = pve_storage_option(s, "export");
	if (!export || export[0] != '/' || strlen(export) > NFS_EXPORT_MAX ||
	    strpbrk(export, "\n\r\t"))
		return pve_error_set_param(err, EINVAL, "export", "invalid export '%.100s'",
					   export ? export : "");
	const char *options = pve_storage_option(s, "options");
	/* an IPv6 address goes in brackets: [addr]:/export */
	*ret_source = strchr(server, ':') ? xasprintf("[%s]:%s", server, export) :
					    xasprintf("%s:%s", server, export);
	*ret_options = options ? xstrdup(options) : NULL;
	*ret_env = NULL;
	return 0;
}

const pve_netfs pve_netfs_nfs = {
	.fstypes = nfs_fstypes,
	.default_port = NFS_PORT,
	.mount_args = nfs_mount_args,
	.probe = pve_net_probe_nfs,
};

static int nfs_activate(const pve_storage *s, pve_error **err)
{
	return pve_netfs_activate(s, &pve_netfs_nfs, err);
}

static int nfs_deactivate(const pve_storage *s, pve_error **err)
{
	return pve_netfs_deactivate(s, &pve_netfs_nfs, err);
}

static int nfs_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	return pve_netfs_status(s, &pve_netfs_nfs, ret, err);
}

static const char *const nfs_formats[] = { "raw", "qcow2", "vmdk", NULL };
static const char *const nfs_required[] = { "server", "export", NULL };
static const char *const nfs_options[] = { "server",
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

const pve_storage_plugin pve_storage_plugin_nfs = {
	.type = "nfs",
	.content_allowed = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR | PVE_CONTENT_VZTMPL |
			   PVE_CONTENT_ISO | PVE_CONTENT_BACKUP | PVE_CONTENT_SNIPPETS |
			   PVE_CONTENT_IMPORT,
	.content_default = PVE_CONTENT_IMAGES,
	.formats = nfs_formats,
	.default_format = "raw",
	.shared = true,
	.required = nfs_required,
	.options = nfs_options,
	.activate = nfs_activate,
	.deactivate = nfs_deactivate,
	.status = nfs_status,
	PVE_NETFS_DIR_OPS,
};
