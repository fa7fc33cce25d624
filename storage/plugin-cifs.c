/* storage: the cifs plugin: pved mounts //server/share at the storage's path (mount -t cifs, the
 * password through the environment, never on a command line), and from there on it is a dir
 * storage. */
#include "storage/net-internal.h"

#define CIFS_PORT 445
#define CIFS_VALUE_MAX 256
#define CIFS_SUBDIR_MAX 4096
#define CIFS_PASSWORD_MAX 1024

static const char *const cifs_fstypes[] = { "cifs", "smb3", NULL };

/* Proxmox's smbversion enum; "default" (and none) lets client and server negotiate SMB2 or later. */
static const char *const smb_versions[] = { "default", "2.0", "2.1", "3", "3.0", "3.11", NULL };

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

/* A directory below the share: "/dir/sub" (Proxmox's form; a missing leading '/' is added). */
static bool subdir_ok(const char *v)
{
	if (!v || !*v || strlen(v) > CIFS_SUBDIR_MAX)
		return false;
	_cleanup_strv_free_ char **parts = pve_strv_split(v, "/");
	for (char **p = parts; *p; p++)
		if (streq(*p, "..") || streq(*p, "."))
			return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < ' ' || *p == '\\' || *p == 0x7f)
			return false;
	return true;
}

static int cifs_mount_args(const pve_storage *s, char **ret_source, char **ret_options,
			   char **ret_env, pve_error **err)
{
	_cleanup_free_ char *server = NULL;
	int port;
	if (pve_netfs_server(s, &pve_netfs_cifs, &server, &port, err) < 0)
		return -EINVAL;
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
	bool vers_known = !vers;
	for (const char *const *v = smb_versions; vers && *v; v++)
		vers_known |= streq(vers, *v);
	if (!vers_known)
		return pve_error_set_param(
			err, EINVAL, "smbversion",
			"invalid SMB version '%.32s' (default, 2.0, 2.1, 3, 3.0 or 3.11)", vers);
	if (password && (strlen(password) > CIFS_PASSWORD_MAX || strpbrk(password, "\n\r")))
		return pve_error_set_param(err, EINVAL, "password", "invalid password");

	/* As Proxmox: //server/share/subdir, [v6] in brackets */
	_cleanup_free_ char *host = strchr(server, ':') ? xasprintf("[%s]", server) :
							  xstrdup(server);
	*ret_source = subdir ? xasprintf("//%s/%s%s%s", host, share, subdir[0] == '/' ? "" : "/",
					 subdir) :
			       xasprintf("//%s/%s", host, share);
	pve_buf o = { 0 };
	pve_buf_puts(&o, "soft");
	/* as Proxmox: a user with a password (priv/storage/<id>.pw), and then the domain, or a
	 * guest */
	if (user && password) {
		pve_buf_printf(&o, ",username=%s", user);
		if (domain)
			pve_buf_printf(&o, ",domain=%s", domain);
	} else {
		pve_buf_puts(&o, ",guest,username=guest");
	}
	pve_buf_printf(&o, ",vers=%s", vers ? vers : "default");
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
	*ret_options = pve_buf_steal(&o);
	/* mount.cifs takes the password from $PASSWD: never on a command line */
	*ret_env = user && password ? xasprintf("PASSWD=%s", password) : NULL;
	return 0;
}

const pve_netfs pve_netfs_cifs = {
	.fstypes = cifs_fstypes,
	.default_port = CIFS_PORT,
	.mount_args = cifs_mount_args,
	.probe = pve_net_probe_smb,
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
