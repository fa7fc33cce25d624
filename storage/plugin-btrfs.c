/* storage: the btrfs plugin: a directory on a btrfs file system laid out as Proxmox's, where each
 * disk is a subvolume (raw images as images/VMID/vm-VMID-disk-N/disk.raw, container volumes as
 * images/VMID/subvol-VMID-disk-N.subvol) so snapshots, rollback and clones are btrfs snapshots made
 * with the btrfs ioctls; other content (iso, vztmpl, backup, ...) is the dir plugin's. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include "storage/storage-internal.h"

/* A subvolume's root directory always has this inode number. */
#define BTRFS_SUBVOL_INO 256
/* Where a linked clone records its base's volname, and a subvol its size limit. */
#define XATTR_BASE "user.pve.base"
#define XATTR_SIZE "user.pve.size"
#define BTRFS_MAX_VOLUMES (1024 * 1024)
#define BTRFS_MAX_DISKS 1024

#define IMAGE_CONTENT (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)

/* ---- btrfs ioctls ---------------------------------------------------------------------------- */

static int subvol_create(int dirfd, const char *name)
{
	struct btrfs_ioctl_vol_args a = { 0 };
	if (strlen(name) >= sizeof(a.name))
		return -ENAMETOOLONG;
	memcpy(a.name, name, strlen(name));
	return ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE, &a) < 0 ? -errno : 0;
}

static int snap_create(int dirfd, int srcfd, const char *name, bool readonly)
{
	struct btrfs_ioctl_vol_args_v2 a = { .fd = srcfd };
	if (strlen(name) >= sizeof(a.name))
		return -ENAMETOOLONG;
	memcpy(a.name, name, strlen(name));
	if (readonly)
		a.flags = BTRFS_SUBVOL_RDONLY;
	return ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &a) < 0 ? -errno : 0;
}

static int snap_destroy(int dirfd, const char *name)
{
	struct btrfs_ioctl_vol_args a = { 0 };
	if (strlen(name) >= sizeof(a.name))
		return -ENAMETOOLONG;
	memcpy(a.name, name, strlen(name));
	return ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &a) < 0 ? -errno : 0;
}

static int subvol_set_readonly(int fd, bool ro)
{
	uint64_t flags;
	if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
		return -errno;
	flags = ro ? flags | BTRFS_SUBVOL_RDONLY : flags & ~(uint64_t)BTRFS_SUBVOL_RDONLY;
	return ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags) < 0 ? -errno : 0;
}

/* Whether name in dirfd is a read-only subvolume: a container template's (create_base). */
static bool subvol_readonly(int dirfd, const char *name)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	uint64_t flags;
	return fd >= 0 && ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) == 0 &&
	       (flags & BTRFS_SUBVOL_RDONLY);
}

/* Moves a subvolume to another directory. A read-only one (a snapshot) can't change its parent, so
 * it is writable for the move only. */
static int subvol_move(int from, const char *name, int to, const char *newname)
{
	if (renameat2(from, name, to, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EROFS)
		return -errno;
	_cleanup_close_ int fd =
		openat(from, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	int r = subvol_set_readonly(fd, false);
	if (r < 0)
		return r;
	r = renameat2(from, name, to, newname, RENAME_NOREPLACE) < 0 ? -errno : 0;
	int r2 = subvol_set_readonly(fd, true);
	return r < 0 ? r : r2;
}

/* A subvolume's size limit through its qgroup (quotas must be enabled on the file system). */
static int subvol_limit(int fd, uint64_t size)
{
	struct btrfs_ioctl_qgroup_limit_args a = { 0 };
	a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
	a.lim.max_rfer = size;
	return ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a) < 0 ? -errno : 0;
}

static bool is_subvol(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_ino == BTRFS_SUBVOL_INO;
}

/* ---- names and paths ------------------------------------------------------------------------- */

/* An image volume of this storage: "VMID/vm-VMID-disk-N.raw", "VMID/subvol-VMID-disk-N.subvol", and
 * linked clones "BASEVMID/base-...raw/VMID/vm-...raw". sub is the subvolume's name in
 * images/VMID. */
typedef struct btrfs_vol {
	pve_volname v;
	char *imgdir; /* <path>/images/<vmid> */
	char *sub; /* vm-100-disk-0 or subvol-100-disk-0.subvol */
	bool raw;
} btrfs_vol;

static void btrfs_vol_clear(btrfs_vol *b)
{
	pve_volname_clear(&b->v);
	free(b->imgdir);
	free(b->sub);
	*b = (btrfs_vol){ 0 };
}

static char *sub_name(const char *name, bool raw)
{
	return raw ? xstrndup(name, strlen(name) - strlen(".raw")) : xstrdup(name);
}

static int btrfs_image(const pve_storage *s, const char *volname, btrfs_vol *b, pve_error **err)
{
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	if (pve_storage_parse_volname(volname, &b->v, err) < 0)
		return -EINVAL;
	if (b->v.vtype != PVE_CONTENT_IMAGES) {
		btrfs_vol_clear(b);
		return pve_error_set(err, EINVAL, "volume '%s' is not a disk image", volname);
	}
	if (!streq(b->v.format, "raw") && !streq(b->v.format, "subvol")) {
		int r = pve_error_set(err, EINVAL, "storage '%s': unsupported format '%s'", s->id,
				      b->v.format);
		btrfs_vol_clear(b);
		return r;
	}
	b->raw = streq(b->v.format, "raw");
	b->imgdir = xasprintf("%s/images/%lld", s->path, b->v.vmid);
	b->sub = sub_name(b->v.name, b->raw);
	return 0;
}

/* The image's subvolume (or its snapshot) must exist; returns an fd on images/VMID. */
static int open_image(const pve_storage *s, const btrfs_vol *b, const char *snap, pve_error **err)
{
	_cleanup_close_ int dfd = open(b->imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *sub = snap ? xasprintf("%s@%s", b->sub, snap) : xstrdup(b->sub);
	if (dfd < 0 || !is_subvol(dfd, sub)) {
		if (snap)
			return pve_error_set(err, ENOENT,
					     "snapshot '%s' of volume '%s:%s' does not exist", snap,
					     s->id, b->v.name);
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id,
				     b->v.name);
	}
	return TAKE_FD(dfd);
}

static char *image_path(const btrfs_vol *b, const char *snap)
{
	_cleanup_free_ char *sub = snap ? xasprintf("%s@%s", b->sub, snap) : xstrdup(b->sub);
	return b->raw ? xasprintf("%s/%s/disk.raw", b->imgdir, sub) :
			xasprintf("%s/%s", b->imgdir, sub);
}

/* Calls fn for each snapshot NAME@SNAP of sub in dfd; stops at the first error. */
static int for_each_snapshot(int dfd, const char *sub,
			     int (*fn)(int dfd, const char *entry, const char *snap, void *ud),
			     void *ud)
{
	int dup = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup < 0)
		return -errno;
	_cleanup_(closedirp) DIR *d = fdopendir(dup);
	if (!d) {
		close(dup);
		return -errno;
	}
	size_t l = strlen(sub);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, sub, l) == 0 && e->d_name[l] == '@' && e->d_name[l + 1]) {
			int r = fn(dfd, e->d_name, e->d_name + l + 1, ud);
			if (r < 0)
				return r;
		}
	return 0;
}

/* The first free disk number for vmid in images/VMID, over every kind of name and their
 * snapshots. */
static int free_disk_number(const char *imgdir, long long vmid)
{
	_cleanup_(closedirp) DIR *d = opendir(imgdir);
	bool used[BTRFS_MAX_DISKS] = { false };
	struct dirent *e;
	while (d && (e = readdir(d))) {
		static const char *const kinds[] = { "vm", "base", "subvol" };
		for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
			_cleanup_free_ char *p = xasprintf("%s-%lld-disk-", kinds[k], vmid);
			if (!startswith(e->d_name, p))
				continue;
			char *end;
			unsigned long n = strtoul(e->d_name + strlen(p), &end, 10);
			if ((*end == '\0' || *end == '.' || *end == '@') && n < ELEMENTSOF(used))
				used[n] = true;
		}
	}
	for (int n = 0; n < BTRFS_MAX_DISKS; n++)
		if (!used[n])
			return n;
	return -ENOSPC;
}

/* ---- storage --------------------------------------------------------------------------------- */

static const struct {
	unsigned vtype;
	const char *subdir;
} subdirs[] = {
	{ PVE_CONTENT_IMAGES, "images" },    { PVE_CONTENT_ROOTDIR, "images" },
	{ PVE_CONTENT_ISO, "template/iso" }, { PVE_CONTENT_VZTMPL, "template/cache" },
	{ PVE_CONTENT_BACKUP, "dump" },	     { PVE_CONTENT_SNIPPETS, "snippets" },
	{ PVE_CONTENT_IMPORT, "import" },
};

static int btrfs_activate(const pve_storage *s, pve_error **err)
{
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	struct statfs fs;
	struct stat st;
	if (stat(s->path, &st) < 0 || !S_ISDIR(st.st_mode))
		return pve_error_set(
			err, ENOENT,
			"unable to activate storage '%s' - directory '%s' does not exist", s->id,
			s->path);
	if (statfs(s->path, &fs) < 0 || fs.f_type != (typeof(fs.f_type))BTRFS_SUPER_MAGIC)
		return pve_error_set(
			err, EINVAL,
			"unable to activate storage '%s' - '%s' is not on a btrfs file system",
			s->id, s->path);
	if (pve_storage_option_bool(s, "is_mountpoint", false)) {
		_cleanup_free_ char *parent = xasprintf("%s/..", s->path);
		struct stat ps;
		if (stat(parent, &ps) < 0 || st.st_dev == ps.st_dev)
			return pve_error_set(
				err, EIO,
				"unable to activate storage '%s' - directory is expected to be a mount point but is not mounted: '%s'",
				s->id, s->path);
	}
	for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
		if (!(s->content & subdirs[i].vtype))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", s->path, subdirs[i].subdir);
		if (pve_mkdir_p(p, 0755, err) < 0)
			return -EIO;
	}
	return 0;
}

static int btrfs_deactivate(const pve_storage *s, pve_error **err)
{
	(void)s;
	(void)err;
	return 0;
}

static int btrfs_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	(void)err;
	struct statfs fs;
	if (!s->path || statfs(s->path, &fs) < 0 ||
	    fs.f_type != (typeof(fs.f_type))BTRFS_SUPER_MAGIC) {
		ret->active = false;
		return 0;
	}
	ret->total = (uint64_t)fs.f_blocks * (uint64_t)fs.f_bsize;
	ret->avail = (uint64_t)fs.f_bavail * (uint64_t)fs.f_bsize;
	ret->used = ret->total - (uint64_t)fs.f_bfree * (uint64_t)fs.f_bsize;
	ret->active = true;
	return 0;
}

/* ---- images ---------------------------------------------------------------------------------- */

/* The NOCOW attribute (chattr +C): no data checksums nor copies on write, as Proxmox's nocow. */
static int set_nocow(int fd)
{
	int flags;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	flags |= FS_NOCOW_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}

static int btrfs_alloc_image(const pve_storage *s, long long vmid, const char *fmt,
			     const char *name, uint64_t size, char **ret_volname, pve_error **err)
{
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	bool raw = streq(fmt, "raw");
	_cleanup_free_ char *imgdir = xasprintf("%s/images/%lld", s->path, vmid);
	if (pve_mkdir_p(imgdir, 0755, err) < 0)
		return -EIO;
	_cleanup_free_ char *stem = NULL;
	if (name) {
		const char *dot = strrchr(name, '.');
		if (dot && !streq(dot + 1, fmt))
			return pve_error_set_param(err, EINVAL, "format",
						   "different storage formats (%s != %s)", fmt,
						   dot + 1);
		stem = dot ? xstrndup(name, (size_t)(dot - name)) : xstrdup(name);
		if (!raw && !startswith(stem, "subvol-"))
			return pve_error_set_param(err, EINVAL, "filename",
						   "illegal name '%s' - should be 'subvol-%lld-*'",
						   name, vmid);
		if (raw && !startswith(stem, "vm-"))
			return pve_error_set_param(err, EINVAL, "filename",
						   "illegal name '%s' - should be 'vm-%lld-*'",
						   name, vmid);
		if (strchr(stem, '@') || strchr(stem, '.'))
			return pve_error_set_param(err, EINVAL, "filename", "illegal name '%s'",
						   stem);
	}
	if (raw && size == 0)
		return pve_error_set_param(err, EINVAL, "size", "size must be greater than 0");
	/* the name is picked and its subvolume made under a lock on images/VMID (it goes with the
	 * fd), so concurrent allocations never share a disk number; the subvolume is made only if it
	 * does not exist */
	_cleanup_close_ int dfd = open(imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || flock(dfd, LOCK_EX) < 0)
		return pve_error_set(err, errno, "unable to lock '%s': %m", imgdir);
	_cleanup_free_ char *sub = NULL;
	int r;
	for (int tries = 0;; tries++) {
		if (!name) {
			int n = free_disk_number(imgdir, vmid);
			if (n < 0)
				return pve_error_set(
					err, ENOSPC,
					"unable to allocate an image name for VM %lld in storage '%s'",
					vmid, s->id);
			free(stem);
			stem = xasprintf("%s-%lld-disk-%d", raw ? "vm" : "subvol", vmid, n);
		}
		free(sub);
		sub = raw ? xstrdup(stem) : xasprintf("%s.subvol", stem);
		r = subvol_create(dfd, sub);
		if (r == -EEXIST && !name && tries < BTRFS_MAX_DISKS)
			continue;
		break;
	}
	if (r == -EEXIST)
		return pve_error_set(err, EEXIST, "volume '%s:%lld/%s.%s' already exists", s->id,
				     vmid, stem, fmt);
	if (r < 0)
		return pve_error_set(err, r, "unable to create subvolume '%s/%s': %s", imgdir, sub,
				     strerror(-r));
	_cleanup_close_ int sfd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		r = pve_error_set(err, errno, "unable to open subvolume '%s/%s': %m", imgdir, sub);
		goto undo;
	}
	if (raw) {
		_cleanup_close_ int fd =
			openat(sfd, "disk.raw",
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		const char *pre = pve_storage_option(s, "preallocation");
		bool falloc = pre && (streq(pre, "falloc") || streq(pre, "full"));
		/* nocow: set while the file is empty, the only time btrfs takes it */
		if (fd >= 0 && pve_storage_option_bool(s, "nocow", false) && set_nocow(fd) < 0) {
			int e = errno;
			r = pve_error_set(err, e, "unable to set NOCOW on '%s/%s/disk.raw': %s",
					  imgdir, sub, strerror(e));
			goto undo;
		}
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
		    (falloc && fallocate(fd, 0, 0, (off_t)size) < 0)) {
			int e = errno;
			r = pve_error_set(err, e, "unable to create '%s/%s/disk.raw': %s", imgdir,
					  sub, strerror(e));
			goto undo;
		}
	} else if (size) {
		r = subvol_limit(sfd, size);
		if (r < 0) {
			r = pve_error_set_param(
				err, r == -ENOTCONN || r == -ENOENT ? EINVAL : -r, "size",
				"storage '%s': unable to limit the subvolume's size (btrfs quotas %s): use size 0",
				s->id,
				r == -ENOTCONN || r == -ENOENT ? "are not enabled" : strerror(-r));
			goto undo;
		}
		_cleanup_free_ char *v = xasprintf("%llu", (unsigned long long)size);
		fsetxattr(sfd, XATTR_SIZE, v, strlen(v), 0);
	}
	*ret_volname = xasprintf("%lld/%s.%s", vmid, stem, fmt);
	return 0;
undo:
	snap_destroy(dfd, sub);
	return r;
}

/* The base volname a linked clone's subvolume records, or NULL. */
static char *read_base(int dfd, const char *sub)
{
	_cleanup_close_ int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	char val[PVE_VOLNAME_MAX + 1];
	ssize_t n = fd < 0 ? -1 : fgetxattr(fd, XATTR_BASE, val, sizeof(val) - 1);
	if (n <= 0)
		return NULL;
	val[n] = '\0';
	return strlen(val) == (size_t)n ? xstrdup(val) : NULL;
}

/* Whether any linked clone in images/ records basevol as its base. */
static bool base_in_use(const pve_storage *s, const char *basevol)
{
	_cleanup_free_ char *images = xasprintf("%s/images", s->path);
	_cleanup_(closedirp) DIR *d = opendir(images);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", images, e->d_name);
		_cleanup_close_ int dfd =
			open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0)
			continue;
		_cleanup_(closedirp) DIR *d2 = opendir(sub);
		struct dirent *f;
		while (d2 && (f = readdir(d2))) {
			if (f->d_name[0] == '.' || strchr(f->d_name, '@'))
				continue;
			_cleanup_free_ char *b = read_base(dfd, f->d_name);
			if (b && streq(b, basevol))
				return true;
		}
	}
	return false;
}

static int destroy_snapshot_cb(int dfd, const char *entry, const char *snap, void *ud)
{
	(void)snap;
	(void)ud;
	return snap_destroy(dfd, entry);
}

static int btrfs_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname pv = { 0 };
	if (pve_storage_parse_volname(volname, &pv, err) < 0)
		return -EINVAL;
	if (pv.vtype != PVE_CONTENT_IMAGES)
		return pve_storage_plugin_dir.free_image(s, volname, err);
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, NULL, err);
	if (dfd < 0)
		return dfd;
	if (b.v.is_base) {
		_cleanup_free_ char *me = xasprintf("%lld/%s", b.v.vmid, b.v.name);
		if (base_in_use(s, me))
			return pve_error_set(err, EBUSY,
					     "base volume '%s' is still in use by linked clone",
					     volname);
	}
	int r = for_each_snapshot(dfd, b.sub, destroy_snapshot_cb, NULL);
	if (r >= 0)
		r = snap_destroy(dfd, b.sub);
	if (r < 0)
		return pve_error_set(err, r, "unable to delete subvolume '%s/%s': %s", b.imgdir,
				     b.sub, strerror(-r));
	return 0;
}

/* ---- listing --------------------------------------------------------------------------------- */

static void list_vmid_dir(const pve_storage *s, const char *images, const char *vmid_s,
			  long long owner, unsigned content, listing *l)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", images, vmid_s);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return;
	_cleanup_(closedirp) DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) && l->n < BTRFS_MAX_VOLUMES) {
		const char *n = e->d_name;
		if (n[0] == '.' || strchr(n, '@') || !is_subvol(dfd, n))
			continue;
		bool raw = !endswith(n, ".subvol");
		_cleanup_free_ char *volname = raw ? xasprintf("%s/%s.raw", vmid_s, n) :
						     xasprintf("%s/%s", vmid_s, n);
		_cleanup_(pve_volname_clear) pve_volname v = { 0 };
		if (pve_storage_parse_volname(volname, &v, NULL) < 0 || v.vmid != owner)
			continue;
		if (!(content & IMAGE_CONTENT))
			continue;
		struct stat st;
		_cleanup_free_ char *file = raw ? xasprintf("%s/disk.raw", n) : xstrdup(n);
		if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		pve_volume_info *i = listing_add(l);
		i->size = raw ? (uint64_t)st.st_size : 0;
		i->used = raw ? (uint64_t)st.st_blocks * 512 : 0;
		if (!raw) {
			_cleanup_close_ int sfd =
				openat(dfd, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			char val[32];
			ssize_t len = sfd < 0 ? -1 :
						fgetxattr(sfd, XATTR_SIZE, val, sizeof(val) - 1);
			unsigned long long sz;
			if (len > 0) {
				val[len] = '\0';
				if (pve_parse_uint(val, UINT64_MAX, &sz) == 0)
					i->size = sz;
			}
		}
		i->ctime = st.st_ctime;
		i->vmid = owner;
		/* images or rootdir: the guest's type decides (pve_storage_listing_classify) */
		i->content = PVE_CONTENT_IMAGES;
		i->format = xstrdup(raw ? "raw" : "subvol");
		_cleanup_free_ char *base = read_base(dfd, n);
		_cleanup_(pve_volname_clear) pve_volname bv = { 0 };
		if (base && pve_storage_parse_volname(base, &bv, NULL) == 0 && bv.is_base &&
		    !bv.basename) {
			i->volid = xasprintf("%s:%s/%s", s->id, base, volname);
			i->parent = xasprintf("../%s", base);
		} else {
			i->volid = xasprintf("%s:%s", s->id, volname);
		}
	}
}

static int cmp_volid(const void *a, const void *b)
{
	return strcmp(((const pve_volume_info *)a)->volid, ((const pve_volume_info *)b)->volid);
}

static int btrfs_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			      pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	listing l = { 0 };
	if (content & ~IMAGE_CONTENT) {
		int r = pve_storage_plugin_dir.list_volumes(s, vmid, content & ~IMAGE_CONTENT, &l.v,
							    &l.n, err);
		if (r < 0)
			return r;
		l.cap = l.n;
	}
	if (content & IMAGE_CONTENT) {
		_cleanup_free_ char *images = xasprintf("%s/images", s->path);
		_cleanup_(closedirp) DIR *d = opendir(images);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			long long owner;
			if (e->d_name[0] == '0' || e->d_name[0] == '+' ||
			    pve_parse_int(e->d_name, PVE_VMID_MIN, PVE_VMID_MAX, &owner) < 0 ||
			    (vmid && owner != vmid))
				continue;
			list_vmid_dir(s, images, e->d_name, owner, content, &l);
		}
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_volid);
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}

/* ---- single volumes -------------------------------------------------------------------------- */

static int btrfs_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		      pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname pv = { 0 };
	if (pve_storage_parse_volname(volname, &pv, err) < 0)
		return -EINVAL;
	if (pv.vtype != PVE_CONTENT_IMAGES)
		return pve_storage_plugin_dir.path(s, volname, snap, ret_path, err);
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	*ret_path = image_path(&b, snap);
	return 0;
}

static int btrfs_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			     uint64_t *ret_used, char **ret_format, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname pv = { 0 };
	if (pve_storage_parse_volname(volname, &pv, err) < 0)
		return -EINVAL;
	if (pv.vtype != PVE_CONTENT_IMAGES)
		return pve_storage_plugin_dir.volume_size(s, volname, ret_size, ret_used,
							  ret_format, err);
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, NULL, err);
	if (dfd < 0)
		return dfd;
	uint64_t size = 0, used = 0;
	if (b.raw) {
		_cleanup_free_ char *f = xasprintf("%s/disk.raw", b.sub);
		struct stat st;
		if (fstatat(dfd, f, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return pve_error_set(err, ENOENT, "volume '%s:%s' has no disk.raw", s->id,
					     volname);
		size = (uint64_t)st.st_size;
		used = (uint64_t)st.st_blocks * 512;
	} else {
		_cleanup_close_ int sfd =
			openat(dfd, b.sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		char val[32];
		ssize_t len = sfd < 0 ? -1 : fgetxattr(sfd, XATTR_SIZE, val, sizeof(val) - 1);
		unsigned long long sz;
		if (len > 0) {
			val[len] = '\0';
			if (pve_parse_uint(val, UINT64_MAX, &sz) == 0)
				size = sz;
		}
	}
	if (ret_size)
		*ret_size = size;
	if (ret_used)
		*ret_used = used;
	if (ret_format)
		*ret_format = xstrdup(b.v.format);
	return 0;
}

static int btrfs_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			       pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, NULL, err);
	if (dfd < 0)
		return dfd;
	if (b.v.is_base)
		return pve_error_set(err, EINVAL, "can't resize a base image");
	if (!b.raw) {
		_cleanup_close_ int sfd =
			openat(dfd, b.sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		int r = sfd < 0 ? -errno : subvol_limit(sfd, size);
		if (r < 0)
			return pve_error_set_param(err, -r, "size",
						   "unable to limit subvolume '%s': %s", b.sub,
						   strerror(-r));
		_cleanup_free_ char *v = xasprintf("%llu", (unsigned long long)size);
		fsetxattr(sfd, XATTR_SIZE, v, strlen(v), 0);
		return 0;
	}
	_cleanup_free_ char *f = xasprintf("%s/disk.raw", b.sub);
	_cleanup_close_ int fd = openat(dfd, f, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return pve_error_set(err, errno, "unable to open '%s/%s': %m", b.imgdir, f);
	if (size < (uint64_t)st.st_size)
		return pve_error_set_param(err, EINVAL, "size", "shrinking disks is not supported");
	if (ftruncate(fd, (off_t)size) < 0)
		return pve_error_set(err, errno, "unable to resize '%s/%s': %m", b.imgdir, f);
	return 0;
}

static int btrfs_volume_snapshot(const pve_storage *s, const char *volname, const char *snap,
				 pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, NULL, err);
	if (dfd < 0)
		return dfd;
	if (b.v.is_base)
		return pve_error_set(err, EINVAL, "can't snapshot a base image");
	_cleanup_close_ int sfd = openat(dfd, b.sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *name = xasprintf("%s@%s", b.sub, snap);
	int r = sfd < 0 ? -errno : snap_create(dfd, sfd, name, true);
	if (r == -EEXIST)
		return pve_error_set(err, EEXIST, "snapshot '%s' of volume '%s' already exists",
				     snap, volname);
	if (r < 0)
		return pve_error_set(err, r, "unable to snapshot '%s/%s': %s", b.imgdir, b.sub,
				     strerror(-r));
	return 0;
}

/* A writable snapshot of the snapshot replaces the volume in one rename (RENAME_EXCHANGE), then the
 * old state goes: the volume is never missing, and a failure leaves it as it was. */
static int btrfs_volume_snapshot_rollback(const pve_storage *s, const char *volname,
					  const char *snap, pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, snap, err);
	if (dfd < 0)
		return dfd;
	if (!is_subvol(dfd, b.sub))
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, volname);
	_cleanup_free_ char *sname = xasprintf("%s@%s", b.sub, snap);
	_cleanup_free_ char *tmp = xasprintf(".%s.rollback.%d", b.sub, (int)getpid());
	_cleanup_close_ int src = openat(dfd, sname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = src < 0 ? -errno : snap_create(dfd, src, tmp, false);
	if (r < 0)
		return pve_error_set(err, r, "unable to snapshot '%s/%s': %s", b.imgdir, sname,
				     strerror(-r));
	if (renameat2(dfd, tmp, dfd, b.sub, RENAME_EXCHANGE) < 0) {
		int e = errno;
		snap_destroy(dfd, tmp);
		return pve_error_set(err, e, "unable to replace '%s/%s': %s", b.imgdir, b.sub,
				     strerror(e));
	}
	r = snap_destroy(dfd, tmp);
	if (r < 0)
		return pve_error_set(err, r, "unable to delete the old state '%s/%s': %s", b.imgdir,
				     tmp, strerror(-r));
	return 0;
}

static int btrfs_volume_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
					pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, snap, err);
	if (dfd < 0)
		return dfd;
	_cleanup_free_ char *sname = xasprintf("%s@%s", b.sub, snap);
	int r = snap_destroy(dfd, sname);
	if (r < 0)
		return pve_error_set(err, r, "unable to delete snapshot '%s/%s': %s", b.imgdir,
				     sname, strerror(-r));
	return 0;
}

/* A clone of a base (linked: it records its base) or of a snapshot of any volume (independent).
 * Both are writable btrfs snapshots: they share the base's blocks until written. */
static int btrfs_clone_image(const pve_storage *s, const char *volname, long long vmid,
			     const char *snap, char **ret_volname, pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	if (!snap && (!b.v.is_base || b.v.basename))
		return pve_error_set(err, EINVAL, "clone_image only works on base images");
	_cleanup_close_ int dfd = open_image(s, &b, snap, err);
	if (dfd < 0)
		return dfd;
	_cleanup_free_ char *imgdir = xasprintf("%s/images/%lld", s->path, vmid);
	if (pve_mkdir_p(imgdir, 0755, err) < 0)
		return -EIO;
	int n = free_disk_number(imgdir, vmid);
	if (n < 0)
		return pve_error_set(err, ENOSPC, "unable to allocate an image name for VM %lld",
				     vmid);
	_cleanup_free_ char *stem = xasprintf("%s-%lld-disk-%d", b.raw ? "vm" : "subvol", vmid, n);
	_cleanup_free_ char *sub = b.raw ? xstrdup(stem) : xasprintf("%s.subvol", stem);
	_cleanup_free_ char *src_name = snap ? xasprintf("%s@%s", b.sub, snap) : xstrdup(b.sub);
	_cleanup_close_ int src = openat(dfd, src_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int tfd = open(imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || tfd < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m",
				     src < 0 ? src_name : imgdir);
	int r = snap_create(tfd, src, sub, false);
	if (r < 0)
		return pve_error_set(err, r, "unable to snapshot '%s/%s' to '%s/%s': %s", b.imgdir,
				     src_name, imgdir, sub, strerror(-r));
	_cleanup_close_ int nfd = openat(tfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (snap) {
		if (nfd >= 0)
			fremovexattr(nfd, XATTR_BASE);
		*ret_volname = xasprintf("%lld/%s.%s", vmid, stem, b.v.format);
		return 0;
	}
	_cleanup_free_ char *base = xasprintf("%lld/%s", b.v.vmid, b.v.name);
	if (nfd < 0 || fsetxattr(nfd, XATTR_BASE, base, strlen(base), 0) < 0) {
		int e = errno;
		snap_destroy(tfd, sub);
		return pve_error_set(err, e, "unable to mark '%s/%s' as a clone: %s", imgdir, sub,
				     strerror(e));
	}
	*ret_volname = xasprintf("%s/%lld/%s.%s", base, vmid, stem, b.v.format);
	return 0;
}

static int count_snapshot_cb(int dfd, const char *entry, const char *snap, void *ud)
{
	(void)dfd;
	(void)entry;
	(void)snap;
	(*(int *)ud)++;
	return 0;
}

static int btrfs_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			     pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, NULL, err);
	if (dfd < 0)
		return dfd;
	if (b.v.is_base || (!b.raw && subvol_readonly(dfd, b.sub)))
		return pve_error_set(err, EINVAL, "create_base not possible with base image");
	/* Proxmox renames vm- to base-; a container's subvol- keeps its name, made read-only */
	if (b.raw ? !startswith(b.v.name, "vm-") : !startswith(b.v.name, "subvol-"))
		return pve_error_set(err, EINVAL,
				     "create_base: volume name '%s' must start with '%s'", b.v.name,
				     b.raw ? "vm-" : "subvol-");
	int nsnap = 0;
	for_each_snapshot(dfd, b.sub, count_snapshot_cb, &nsnap);
	if (nsnap)
		return pve_error_set(err, EBUSY,
				     "unable to create base volume - '%s' has snapshots", volname);
	_cleanup_free_ char *newsub = b.raw ? xasprintf("base-%s", b.sub + 3) : xstrdup(b.sub);
	if (b.raw && renameat2(dfd, b.sub, dfd, newsub, RENAME_NOREPLACE) < 0)
		return pve_error_set(err, errno, "rename '%s' to '%s' failed: %m", b.sub, newsub);
	_cleanup_close_ int sfd = openat(dfd, newsub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* a base stands alone: a clone of a clone is linked to the newest base only (and a
	 * read-only subvolume's xattrs cannot change) */
	if (sfd >= 0)
		fremovexattr(sfd, XATTR_BASE);
	int r = sfd < 0 ? -errno : subvol_set_readonly(sfd, true);
	if (r < 0) {
		if (b.raw)
			renameat2(dfd, newsub, dfd, b.sub, RENAME_NOREPLACE);
		return pve_error_set(err, r, "unable to make '%s' read-only: %s", newsub,
				     strerror(-r));
	}
	*ret_volname = b.raw ? xasprintf("%lld/%s.raw", b.v.vmid, newsub) :
			       xasprintf("%lld/%s", b.v.vmid, newsub);
	return 0;
}

static bool btrfs_volume_has_feature(const pve_storage *s, pve_volume_feature feature,
				     const char *volname, const char *snap)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, NULL) < 0)
		return false;
	bool base = b.v.is_base, current = !base && !snap;
	switch (feature) {
	case PVE_FEATURE_SNAPSHOT:
		return !base;
	case PVE_FEATURE_CLONE:
		return (base && !snap) || (!base && snap);
	case PVE_FEATURE_TEMPLATE:
		return current;
	case PVE_FEATURE_COPY:
		return true;
	case PVE_FEATURE_SPARSEINIT:
		return !snap;
	case PVE_FEATURE_RENAME:
		return current;
	}
	return false;
}

typedef struct rename_ctx {
	int to;
	const char *newsub;
} rename_ctx;

static int rename_snapshot_cb(int dfd, const char *entry, const char *snap, void *ud)
{
	rename_ctx *c = ud;
	_cleanup_free_ char *n = xasprintf("%s@%s", c->newsub, snap);
	return subvol_move(dfd, entry, c->to, n);
}

static int btrfs_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			       const char *target_name, char **ret_volname, pve_error **err)
{
	_cleanup_(btrfs_vol_clear) btrfs_vol b = { 0 };
	if (btrfs_image(s, volname, &b, err) < 0)
		return -EINVAL;
	_cleanup_close_ int dfd = open_image(s, &b, NULL, err);
	if (dfd < 0)
		return dfd;
	if (b.v.is_base)
		return pve_error_set(err, EINVAL, "rename of a base image is not supported");
	_cleanup_free_ char *imgdir = xasprintf("%s/images/%lld", s->path, target_vmid);
	if (pve_mkdir_p(imgdir, 0755, err) < 0)
		return -EIO;
	_cleanup_free_ char *stem = NULL;
	if (target_name) {
		long long tv;
		_cleanup_free_ char *tf = NULL;
		if (pve_storage_parse_image_name(target_name, true, &tv, NULL, &tf) < 0 ||
		    tv != target_vmid || !streq(tf, b.v.format) || strchr(target_name, '@'))
			return pve_error_set_param(err, EINVAL, "target",
						   "invalid target volume name '%.200s'",
						   target_name);
		stem = xstrndup(target_name, strlen(target_name) - strlen(tf) - 1);
	} else {
		int n = free_disk_number(imgdir, target_vmid);
		if (n < 0)
			return pve_error_set(err, ENOSPC, "no free disk name for VM %lld",
					     target_vmid);
		stem = xasprintf("%s-%lld-disk-%d", b.raw ? "vm" : "subvol", target_vmid, n);
	}
	_cleanup_free_ char *newsub = b.raw ? xstrdup(stem) : xasprintf("%s.subvol", stem);
	_cleanup_close_ int tfd = open(imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return pve_error_set(err, errno, "unable to open '%s': %m", imgdir);
	if (renameat2(dfd, b.sub, tfd, newsub, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			return pve_error_set(err, EEXIST,
					     "rename_volume: target volume '%s' already exists",
					     newsub);
		return pve_error_set(err, errno, "rename '%s' to '%s' failed: %m", b.sub, newsub);
	}
	/* its snapshots follow; if one can't, everything goes back */
	rename_ctx c = { .to = tfd, .newsub = newsub };
	int r = for_each_snapshot(dfd, b.sub, rename_snapshot_cb, &c);
	if (r < 0) {
		rename_ctx back = { .to = dfd, .newsub = b.sub };
		renameat2(tfd, newsub, dfd, b.sub, RENAME_NOREPLACE);
		for_each_snapshot(tfd, newsub, rename_snapshot_cb, &back);
		return pve_error_set(err, r, "unable to rename the snapshots of '%s': %s", b.sub,
				     strerror(-r));
	}
	*ret_volname = b.v.basename ? xasprintf("%lld/%s/%lld/%s.%s", b.v.basevmid, b.v.basename,
						target_vmid, stem, b.v.format) :
				      xasprintf("%lld/%s.%s", target_vmid, stem, b.v.format);
	return 0;
}

static int btrfs_get_attribute(const pve_storage *s, const char *volname, const char *attr,
			       char **ret_value, pve_error **err)
{
	return pve_storage_plugin_dir.get_attribute(s, volname, attr, ret_value, err);
}

static int btrfs_set_attribute(const pve_storage *s, const char *volname, const char *attr,
			       const char *value, pve_error **err)
{
	return pve_storage_plugin_dir.set_attribute(s, volname, attr, value, err);
}

static const char *const btrfs_formats[] = { "raw", "subvol", NULL };
static const char *const btrfs_required[] = { "path", NULL };
static const char *const btrfs_options[] = { "path", "preallocation", "is_mountpoint", "nocow",
					     NULL };

const pve_storage_plugin pve_storage_plugin_btrfs = {
	.type = "btrfs",
	.content_allowed = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR | PVE_CONTENT_VZTMPL |
			   PVE_CONTENT_ISO | PVE_CONTENT_BACKUP | PVE_CONTENT_SNIPPETS |
			   PVE_CONTENT_IMPORT,
	.content_default = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR,
	.formats = btrfs_formats,
	.default_format = "raw",
	.required = btrfs_required,
	.options = btrfs_options,
	.activate = btrfs_activate,
	.deactivate = btrfs_deactivate,
	.status = btrfs_status,
	.alloc_image = btrfs_alloc_image,
	.free_image = btrfs_free_image,
	.list_volumes = btrfs_list_volumes,
	.path = btrfs_path,
	.volume_size = btrfs_volume_size,
	.volume_resize = btrfs_volume_resize,
	.volume_snapshot = btrfs_volume_snapshot,
	.volume_snapshot_rollback = btrfs_volume_snapshot_rollback,
	.volume_snapshot_delete = btrfs_volume_snapshot_delete,
	.clone_image = btrfs_clone_image,
	.create_base = btrfs_create_base,
	.volume_has_feature = btrfs_volume_has_feature,
	.rename_volume = btrfs_rename_volume,
	.get_attribute = btrfs_get_attribute,
	.set_attribute = btrfs_set_attribute,
};
