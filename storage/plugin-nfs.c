/* storage: the nfs plugin: pved mounts server:export at the storage's path (mount -t nfs with the
 * storage's options), and from there on it is a dir storage, shared by nature. */
#include "storage/net-internal.h"

#define NFS_PORT 2049
#define NFS_EXPORT_MAX 4096
#define NFS_OPTIONS_MAX 1024

static const char *const nfs_fstypes[] = { "nfs", "nfs4", NULL };

/* The server is a host name or an address (IPv6 without brackets, as Proxmox's config has it). */
static int nfs_server(const pve_storage *s, char **ret_host, int *ret_port, pve_error **err)
{
	const char *server = pve_storage_option(s, "server");
	if (!server || !pve_net_server_ok(server) || strchr(server, '['))
		return pve_error_set_param(err, EINVAL, "server",
					   "storage '%s': invalid server '%.100s'", s->id,
					   server ? server : "");
	*ret_host = xstrdup(server);
	*ret_port = pve_net_option_port(pve_storage_option(s, "options"), NFS_PORT);
	return 0;
}

/* Checks what goes into mount's arguments: argv has no shell, but a value must not turn into an
 * option. */
static int nfs_check(const pve_storage *s, const char **ret_export, const char **ret_options,
		     pve_error **err)
{
	const char *server = pve_storage_option(s, "server");
	const char *export = pve_storage_option(s, "export");
	const char *options = pve_storage_option(s, "options");
	if (!server || !pve_net_server_ok(server) || strchr(server, '['))
		return pve_error_set_param(err, EINVAL, "server", "invalid server '%.100s'",
					   server ? server : "");
	if (!export || export[0] != '/' || strlen(export) > NFS_EXPORT_MAX ||
	    strpbrk(export, "\n\r\t"))
		return pve_error_set_param(err, EINVAL, "export", "invalid export '%.100s'",
					   export ? export : "");
	if (options &&
	    (options[0] == '-' || strlen(options) > NFS_OPTIONS_MAX || strpbrk(options, " \t\n\r")))
		return pve_error_set_param(err, EINVAL, "options", "invalid mount options '%.100s'",
					   options);
	*ret_export = export;
	*ret_options = options;
	return 0;
}

static int nfs_mount(const pve_storage *s, const char *path, pve_error **err)
{
	const char *export = NULL, *options = NULL;
	if (nfs_check(s, &export, &options, err) < 0)
		return -EINVAL;
	const char *server = pve_storage_option(s, "server");
	/* an IPv6 address goes in brackets: [addr]:/export */
	_cleanup_free_ char *source = strchr(server, ':') ? xasprintf("[%s]:%s", server, export) :
							    xasprintf("%s:%s", server, export);
	const char *argv[8] = { "/usr/bin/mount", "-t", "nfs", source, path };
	size_t n = 5;
	if (options) {
		argv[n++] = "-o";
		argv[n++] = options;
	}
	argv[n] = NULL;
	int r = pve_net_run(argv, NULL, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err);
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "mount %s failed", source);
	return r;
}

const pve_netfs pve_netfs_nfs = {
	.fstypes = nfs_fstypes,
	.mount = nfs_mount,
	.server = nfs_server,
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
