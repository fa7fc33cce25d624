/* storage: the cifs plugin: pved mounts //server/share at the storage's path (mount -t cifs, the
 * password through the environment, never on a command line), and from there on it is a dir
 * storage. */
#include "storage/net-internal.h"

#define CIFS_PORT 445
#define CIFS_VALUE_MAX 256
#define CIFS_OPTIONS_MAX 1024
#define CIFS_PASSWORD_MAX 1024

static const char *const cifs_fstypes[] = { "cifs", "smb3", NULL };

static int cifs_server(const pve_storage *s, char **ret_host, int *ret_port, pve_error **err)
{
	const char *server = pve_storage_option(s, "server");
	if (!server || !pve_net_server_ok(server) || strchr(server, '['))
		return pve_error_set_param(err, EINVAL, "server",
					   "storage '%s': invalid server '%.100s'", s->id,
					   server ? server : "");
	*ret_host = xstrdup(server);
	*ret_port = pve_net_option_port(pve_storage_option(s, "options"), CIFS_PORT);
	return 0;
}

/* A value that goes into mount's -o list: a ',' or '=' would start another option. */
static bool option_value_ok(const char *v)
{
	if (!v || !*v || strlen(v) > CIFS_VALUE_MAX)
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == '=' || *p == 0x7f)
			return false;
	return true;
}

static bool subdir_ok(const char *v)
{
	if (!v || strlen(v) > CIFS_VALUE_MAX || strstr(v, ".."))
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < ' ' || *p == '\\' || *p == 0x7f)
			return false;
	return true;
}

static int cifs_mount(const pve_storage *s, const char *path, pve_error **err)
{
	const char *server = pve_storage_option(s, "server");
	const char *share = pve_storage_option(s, "share");
	const char *subdir = pve_storage_option(s, "subdir");
	const char *user = pve_storage_option(s, "username");
	const char *domain = pve_storage_option(s, "domain");
	const char *vers = pve_storage_option(s, "smbversion");
	const char *options = pve_storage_option(s, "options");
	/* The daemon passes the password (priv/storage/<id>.pw) in the section it hands over. */
	const char *password = pve_storage_option(s, "password");
	if (!share || !*share || strlen(share) > CIFS_VALUE_MAX || strpbrk(share, "/\\\n\r\t"))
		return pve_error_set_param(err, EINVAL, "share", "invalid share '%.100s'",
					   share ? share : "");
	if (subdir && !subdir_ok(subdir))
		return pve_error_set_param(err, EINVAL, "subdir", "invalid subdir '%.100s'",
					   subdir);
	if (user && !option_value_ok(user))
		return pve_error_set_param(err, EINVAL, "username", "invalid username");
	if (domain && !option_value_ok(domain))
		return pve_error_set_param(err, EINVAL, "domain", "invalid domain '%.100s'",
					   domain);
	if (vers && !option_value_ok(vers))
		return pve_error_set_param(err, EINVAL, "smbversion", "invalid SMB version '%.32s'",
					   vers);
	if (options && (options[0] == '-' || strlen(options) > CIFS_OPTIONS_MAX ||
			strpbrk(options, " \t\n\r")))
		return pve_error_set_param(err, EINVAL, "options", "invalid mount options '%.100s'",
					   options);
	if (password && (strlen(password) > CIFS_PASSWORD_MAX || strpbrk(password, "\n\r")))
		return pve_error_set_param(err, EINVAL, "password", "invalid password");

	_cleanup_free_ char *source = subdir ? xasprintf("//%s/%s/%s", server, share,
							 subdir[0] == '/' ? subdir + 1 : subdir) :
					       xasprintf("//%s/%s", server, share);
	pve_buf o = { 0 };
	pve_buf_puts(&o, "soft");
	if (user)
		pve_buf_printf(&o, ",username=%s", user);
	else
		pve_buf_puts(&o, ",guest,username=guest");
	if (domain)
		pve_buf_printf(&o, ",domain=%s", domain);
	if (vers && !streq(vers, "default"))
		pve_buf_printf(&o, ",vers=%s", vers);
	/* qemu locks bytes of an image and then writes them through another descriptor; with
	 * byte-range locks sent to the server (SMB's are mandatory), the cifs client refuses that
	 * write (EACCES: "Could not write qcow2 header"). Locks stay on this node unless the
	 * options say otherwise ("brl"); the cluster's own guest locks keep two nodes off one
	 * image. */
	bool brl_given = false;
	_cleanup_strv_free_ char **ov = pve_strv_split(options ? options : "", ",");
	for (char **x = ov; *x; x++)
		brl_given |= streq(*x, "brl") || streq(*x, "nobrl");
	if (!brl_given)
		pve_buf_puts(&o, ",nobrl");
	for (char **x = ov; *x; x++)
		if (!streq(*x, "brl"))
			pve_buf_printf(&o, ",%s", *x);
	_cleanup_free_ char *opts = pve_buf_steal(&o);
	_cleanup_free_ char *penv = xasprintf("PASSWD=%s", password ? password : "");
	const char *env[] = { password ? penv : NULL, NULL };
	const char *argv[] = { "/usr/bin/mount", "-t", "cifs", source, path, "-o", opts, NULL };
	int r = pve_net_run(argv, env, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err);
	explicit_bzero(penv, strlen(penv));
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "mount %s failed", source);
	return r;
}

const pve_netfs pve_netfs_cifs = {
	.fstypes = cifs_fstypes,
	.mount = cifs_mount,
	.server = cifs_server,
};

static int cifs_activate(const pve_storage *s, pve_error **err)
{
	return pve_netfs_activate(s, &pve_netfs_cifs, err);
}

static int cifs_deactivate(const pve_storage *s, pve_error **err)
{
	return pve_netfs_deactivate(s, &pve_netfs_cifs, err);
}

static int cifs_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	return pve_netfs_status(s, &pve_netfs_cifs, ret, err);
}

static const char *const cifs_formats[] = { "raw", "qcow2", "vmdk", NULL };
static const char *const cifs_required[] = { "server", "share", NULL };
static const char *const cifs_options[] = { "server",
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

const pve_storage_plugin pve_storage_plugin_cifs = {
	.type = "cifs",
	.content_allowed = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR | PVE_CONTENT_VZTMPL |
			   PVE_CONTENT_ISO | PVE_CONTENT_BACKUP | PVE_CONTENT_SNIPPETS |
			   PVE_CONTENT_IMPORT,
	.content_default = PVE_CONTENT_IMAGES,
	.formats = cifs_formats,
	.default_format = "raw",
	.shared = true,
	.required = cifs_required,
	.options = cifs_options,
	.activate = cifs_activate,
	.deactivate = cifs_deactivate,
	.status = cifs_status,
	PVE_NETFS_DIR_OPS,
};
