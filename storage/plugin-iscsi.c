/* storage: the iscsi plugin (Proxmox's kernel iSCSI): pved logs in to `target` at `portal` with
 * open-iscsi and offers the target's LUNs as volumes ("0.0.1.scsi-<id>", the device under
 * /dev/disk/by-id/), which it can neither allocate nor free. Proxmox's "iscsidirect" (QEMU talking
 * to the target itself) is storage/plugin-iscsidirect.c. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "storage/net-internal.h"
#include "storage/storage-net.h"

#define ISCSIADM "/usr/sbin/iscsiadm"
#define UDEVADM "/usr/bin/udevadm"
#define ISCSI_SYSFS "/sys/class/iscsi_session"
#define SCSI_DEVICES "/sys/bus/scsi/devices"
#define BY_ID "/dev/disk/by-id"
#define ISCSI_MAX_LUNS 4096

static int storage_target(const pve_storage *s, const char **ret, pve_error **err)
{
	const char *t = pve_storage_option(s, "target");
	if (!pve_net_iscsi_name_ok(t))
		return pve_error_set_param(err, EINVAL, "target",
					   "storage '%s': invalid target '%.100s'", s->id,
					   t ? t : "");
	*ret = t;
	return 0;
}

static char *read_line(const char *path)
{
	char buf[512];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

/* The SCSI host number of each logged-in session of target (-1 ends the list); 0 entries when
 * none. */
static size_t target_hosts(const char *target, int *hosts, size_t max)
{
	_cleanup_(closedirp) DIR *d = opendir(ISCSI_SYSFS);
	size_t n = 0;
	struct dirent *e;
	while (d && n < max && (e = readdir(d))) {
		if (!startswith(e->d_name, "session"))
			continue;
		_cleanup_free_ char *p = xasprintf(ISCSI_SYSFS "/%s/targetname", e->d_name);
		_cleanup_free_ char *name = read_line(p);
		if (!name || !streq(name, target))
			continue;
		/* .../sessionN/device is the session's device, under hostH: its parent's name */
		_cleanup_free_ char *dev = xasprintf(ISCSI_SYSFS "/%s/device", e->d_name);
		_cleanup_free_ char *real = realpath(dev, NULL);
		const char *h = real ? strstr(real, "/host") : NULL;
		long long hn;
		if (!h)
			continue;
		_cleanup_free_ char *num = xstrndup(h + 5, strcspn(h + 5, "/"));
		if (pve_parse_int(num, 0, 1 << 20, &hn) == 0)
			hosts[n++] = (int)hn;
	}
	return n;
}

static bool target_logged_in(const char *target)
{
	int h;
	return target_hosts(target, &h, 1) > 0;
}

static int iscsi_activate(const pve_storage *s, pve_error **err)
{
	const char *target;
	_cleanup_free_ char *host = NULL, *portal = NULL, *out = NULL;
	_cleanup_strv_free_ char **lines = NULL;
	int port;
	if (storage_target(s, &target, err) < 0 ||
	    pve_net_iscsi_portal(pve_storage_option(s, "portal"), &host, &port, &portal, err) < 0)
		return -EINVAL;
	if (target_logged_in(target))
		return 0;
	if (access(ISCSIADM, X_OK) < 0)
		return pve_error_set(err, ENOENT,
				     "unable to activate storage '%s' - no %s (install open-iscsi)",
				     s->id, ISCSIADM);
	if (pve_net_check_connect(s->id, host, port, PVE_NET_CONNECT_TIMEOUT_MS, err) < 0)
		return -EHOSTUNREACH;
	const char *disc[] = { ISCSIADM,      "--mode",	  "discovery", "--type",
			       "sendtargets", "--portal", portal,      NULL };
	if (pve_storage_run_ex(disc, NULL, PVE_NET_CMD_TIMEOUT_MS, &out, NULL, err) < 0)
		goto fail;
	bool found = false;
	lines = pve_strv_split(out, "\n");
	for (char **l = lines; *l && !found; l++) {
		const char *sp = strchr(*l, ' ');
		found = sp && streq(sp + 1, target);
	}
	if (!found)
		return pve_error_set(
			err, ENOENT,
			"unable to activate storage '%s' - portal '%s' offers no target '%s'",
			s->id, portal, target);
	const char *login[] = { ISCSIADM, "--mode",  "node", "--targetname", target, "--portal",
				portal,	  "--login", NULL };
	if (pve_storage_run_ex(login, NULL, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err) < 0)
		goto fail;
	/* The LUNs' /dev/disk/by-id links come from udev: wait for it, when it runs. */
	const char *settle[] = { UDEVADM, "settle", "--timeout=15", NULL };
	int st;
	if (access(UDEVADM, X_OK) == 0)
		pve_storage_run_ex(settle, NULL, 20 * 1000, NULL, &st, NULL);
	return 0;
fail:
	if (err && *err)
		pve_error_prefix(*err, "unable to activate storage '%s'", s->id);
	return -EIO;
}

static int iscsi_deactivate(const pve_storage *s, pve_error **err)
{
	const char *target;
	_cleanup_free_ char *portal = NULL;
	if (storage_target(s, &target, err) < 0 ||
	    pve_net_iscsi_portal(pve_storage_option(s, "portal"), NULL, NULL, &portal, err) < 0)
		return -EINVAL;
	if (!target_logged_in(target))
		return 0;
	const char *logout[] = { ISCSIADM, "--mode",   "node", "--targetname", target, "--portal",
				 portal,   "--logout", NULL };
	int r = pve_storage_run_ex(logout, NULL, PVE_NET_CMD_TIMEOUT_MS, NULL, NULL, err);
	if (r < 0 && err && *err)
		pve_error_prefix(*err, "unable to deactivate storage '%s'", s->id);
	return r;
}

static int iscsi_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	const char *target;
	if (storage_target(s, &target, err) < 0)
		return -EINVAL;
	/* As Proxmox: a LUN storage has no space of its own to report. */
	ret->active = target_logged_in(target);
	return 0;
}

/* A volume name: CHANNEL.ID.LUN.NAME, NAME an entry of /dev/disk/by-id. */
static int iscsi_parse(const char *volname, const char **ret_name, pve_error **err)
{
	const char *p = volname;
	for (int i = 0; i < 3; i++) {
		if (!p || !(*p >= '0' && *p <= '9'))
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != '.')
			goto bad;
	}
	if (!*p || *p == '.' || strlen(p) > PVE_VOLNAME_MAX)
		goto bad;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '/' || *c == 0x7f)
			goto bad;
	*ret_name = p;
	return 0;
bad:
	return pve_error_set(err, EINVAL, "unable to parse iscsi volume name '%.100s'",
			     volname ? volname : "");
}

static int iscsi_parse_volname(const pve_storage *s, const char *volname, pve_volname *ret,
			       pve_error **err)
{
	(void)s;
	const char *name;
	if (iscsi_parse(volname, &name, err) < 0)
		return -EINVAL;
	pve_storage_lun_volname(volname, ret);
	return 0;
}

static int iscsi_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		      pve_error **err)
{
	const char *name;
	if (snap)
		return pve_error_set(err, EINVAL, "storage '%s': iscsi volumes have no snapshots",
				     s->id);
	if (iscsi_parse(volname, &name, err) < 0)
		return -EINVAL;
	*ret_path = xasprintf(BY_ID "/%s", name);
	return 0;
}

static int device_size(const char *path, uint64_t *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	uint64_t sz;
	if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
		return -errno;
	*ret = sz;
	return 0;
}

static int iscsi_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			     uint64_t *ret_used, char **ret_format, pve_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (iscsi_path(s, volname, NULL, &path, err) < 0)
		return -EINVAL;
	uint64_t sz = 0;
	int r = device_size(path, &sz);
	if (r < 0)
		return pve_error_set(err, -r, "storage '%s': volume '%s': %s", s->id, volname,
				     strerror(-r));
	if (ret_size)
		*ret_size = sz;
	if (ret_used)
		*ret_used = sz;
	if (ret_format)
		*ret_format = xstrdup("raw");
	return 0;
}

/* /dev/disk/by-id/scsi-* (and multipath) names by the block device they point to, as Proxmox's
 * load_stable_scsi_paths: the last name in sort order wins. */
static char *stable_name(const char *bdev)
{
	_cleanup_(closedirp) DIR *d = opendir(BY_ID);
	char *best = NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!(startswith(e->d_name, "scsi-") || startswith(e->d_name, "dm-uuid-mpath-")))
			continue;
		const char *part = strstr(e->d_name, "-part");
		if (part && part[5] >= '0' && part[5] <= '9')
			continue;
		char link[PATH_MAX];
		_cleanup_free_ char *p = xasprintf(BY_ID "/%s", e->d_name);
		ssize_t n = readlink(p, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		const char *b = strrchr(link, '/');
		if (!streq(b ? b + 1 : link, bdev))
			continue;
		if (!best || strcmp(e->d_name, best) > 0) {
			free(best);
			best = xstrdup(e->d_name);
		}
	}
	return best;
}

/* The block device under a SCSI device directory: block/<name>. */
static char *scsi_bdev(const char *scsidev)
{
	_cleanup_free_ char *p = xasprintf(SCSI_DEVICES "/%s/block", scsidev);
	_cleanup_(closedirp) DIR *d = opendir(p);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			return xstrdup(e->d_name);
	return NULL;
}

static int cmp_volid(const void *a, const void *b)
{
	return strcmp(((const pve_volume_info *)a)->volid, ((const pve_volume_info *)b)->volid);
}

static int iscsi_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			      pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	const char *target;
	if (storage_target(s, &target, err) < 0)
		return -EINVAL;
	*ret = NULL;
	*ret_n = 0;
	/* LUNs belong to no guest: a listing for one guest is empty, as in Proxmox. */
	if (!(content & PVE_CONTENT_IMAGES) || vmid)
		return 0;
	int hosts[16];
	size_t nh = target_hosts(target, hosts, ELEMENTSOF(hosts));
	if (!nh)
		return 0;
	_cleanup_(closedirp) DIR *d = opendir(SCSI_DEVICES);
	struct dirent *e;
	pve_volume_info *v = NULL;
	size_t n = 0, cap = 0;
	while (d && (e = readdir(d)) && n < ISCSI_MAX_LUNS) {
		int h, ch, id, lun, end = 0;
		if (sscanf(e->d_name, "%d:%d:%d:%d%n", &h, &ch, &id, &lun, &end) != 4 ||
		    e->d_name[end])
			continue;
		bool ours = false;
		for (size_t i = 0; i < nh; i++)
			ours |= hosts[i] == h;
		if (!ours)
			continue;
		_cleanup_free_ char *tp = xasprintf(SCSI_DEVICES "/%s/type", e->d_name);
		_cleanup_free_ char *type = read_line(tp);
		if (!type || !streq(type, "0")) /* disks only */
			continue;
		_cleanup_free_ char *bdev = scsi_bdev(e->d_name);
		_cleanup_free_ char *name = bdev ? stable_name(bdev) : NULL;
		if (!name)
			continue;
		_cleanup_free_ char *sp = xasprintf("/sys/block/%s/size", bdev);
		_cleanup_free_ char *sectors = read_line(sp);
		unsigned long long sec;
		if (!sectors || pve_parse_uint(sectors, UINT64_MAX / 512, &sec) < 0 || !sec)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (pve_volume_info){
			.volid = xasprintf("%s:%d.%d.%d.%s", s->id, ch, id, lun, name),
			.format = xstrdup("raw"),
			.size = sec * 512,
			.used = sec * 512,
			.content = PVE_CONTENT_IMAGES,
		};
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_volid);
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool iscsi_has_feature(const pve_storage *s, pve_volume_feature feature, const char *volname,
			      const char *snap)
{
	(void)s;
	(void)volname;
	/* As Proxmox: a LUN can be copied from, nothing else. */
	return feature == PVE_FEATURE_COPY && !snap;
}

static const char *const iscsi_formats[] = { "raw", NULL };
static const char *const iscsi_required[] = { "portal", "target", NULL };
static const char *const iscsi_options[] = { "portal", "target", NULL };

const pve_storage_plugin pve_storage_plugin_iscsi = {
	.type = "iscsi",
	.content_allowed = PVE_CONTENT_IMAGES,
	.content_default = PVE_CONTENT_IMAGES,
	.formats = iscsi_formats,
	.default_format = "raw",
	.shared = true,
	.required = iscsi_required,
	.options = iscsi_options,
	.activate = iscsi_activate,
	.deactivate = iscsi_deactivate,
	.status = iscsi_status,
	.parse_volname = iscsi_parse_volname,
	.list_volumes = iscsi_list_volumes,
	.path = iscsi_path,
	.volume_size = iscsi_volume_size,
	.volume_has_feature = iscsi_has_feature,
};
