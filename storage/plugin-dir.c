/* storage: the dir plugin: a directory laid out as Proxmox's (images/<vmid>/, template/iso/, template/cache/,
 * dump/, snippets/, import/, private/), images in raw, qcow2 and vmdk through qemu-img. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cjson/cJSON.h>

#include "storage/qemu-img-internal.h"
#include "storage/storage-internal.h"

#define NOTES_MAX (64 * 1024)

/* The content types with a directory of their own. */
static const unsigned vtypes[] = { PVE_CONTENT_IMAGES, PVE_CONTENT_ROOTDIR, PVE_CONTENT_ISO,
				   PVE_CONTENT_VZTMPL, PVE_CONTENT_BACKUP,  PVE_CONTENT_SNIPPETS,
				   PVE_CONTENT_IMPORT };

/* images/VMID (or its content-dirs override). */
static char *image_dir(const pve_storage *s, long long vmid)
{
	_cleanup_free_ char *images = pve_storage_subdir(s, PVE_CONTENT_IMAGES);
	return xasprintf("%s/%lld", images, vmid);
}

/* Parses volname and gives its file's path (Proxmox's filesystem_path). */
static int dir_parse(const pve_storage *s, const char *volname, pve_volname *v, char **ret_path,
		     pve_error **err)
{
	int r = pve_storage_parse_volname(volname, v, err);
	if (r < 0)
		return r;
	if (!s->path) {
		pve_volname_clear(v);
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	}
	if (ret_path) {
		_cleanup_free_ char *dir = pve_storage_subdir(s, v->vtype);
		if (v->vtype == PVE_CONTENT_IMAGES)
			*ret_path = xasprintf("%s/%lld/%s", dir, v->vmid, v->name);
		else if (v->vtype == PVE_CONTENT_ROOTDIR)
			*ret_path = xasprintf("%s/%lld", dir, v->vmid);
		else
			*ret_path = xasprintf("%s/%s", dir, v->name);
	}
	return 0;
}

static int dir_activate(const pve_storage *s, pve_error **err)
{
	struct stat st;
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	if (stat(s->path, &st) < 0) {
		bool mk = pve_storage_option_bool(s, "mkdir", true) &&
			  pve_storage_option_bool(s, "create-base-path", true);
		if (!mk)
			return pve_error_set(
				err, ENOENT,
				"unable to activate storage '%s' - directory '%s' does not exist",
				s->id, s->path);
		if (pve_mkdir_p(s->path, 0755, err) < 0)
			return -errno;
	} else if (!S_ISDIR(st.st_mode)) {
		return pve_error_set(err, ENOTDIR,
				     "unable to activate storage '%s' - '%s' is not a directory",
				     s->id, s->path);
	}
	if (pve_storage_option_bool(s, "is_mountpoint", false)) {
		_cleanup_free_ char *parent = xasprintf("%s/..", s->path);
		struct stat ps;
		if (stat(s->path, &st) < 0 || stat(parent, &ps) < 0 || st.st_dev == ps.st_dev)
			return pve_error_set(
				err, EIO,
				"unable to activate storage '%s' - directory is expected to be a mount point but is not mounted: '%s'",
				s->id, s->path);
	}
	if (!pve_storage_option_bool(s, "mkdir", true) ||
	    !pve_storage_option_bool(s, "create-subdirs", true))
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(vtypes); i++) {
		if (!(s->content & vtypes[i]))
			continue;
		_cleanup_free_ char *p = pve_storage_subdir(s, vtypes[i]);
		if (pve_mkdir_p(p, 0755, err) < 0)
			return -EIO;
	}
	return 0;
}

static int dir_deactivate(const pve_storage *s, pve_error **err)
{
	(void)s;
	(void)err;
	return 0;
}

static int dir_status(const pve_storage *s, pve_storage_status *ret, pve_error **err)
{
	struct statvfs v;
	struct stat st;
	if (!s->path || stat(s->path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    statvfs(s->path, &v) < 0) {
		ret->active = false;
		return 0;
	}
	(void)err;
	ret->total = (uint64_t)v.f_blocks * v.f_frsize;
	ret->avail = (uint64_t)v.f_bavail * v.f_frsize;
	ret->used = ret->total - (uint64_t)v.f_bfree * v.f_frsize;
	ret->active = true;
	return 0;
}

/* ---- image headers: sizes and backing files without running qemu-img for each file in a listing --------- */

/* The virtual size of an image file (name relative to dfd, or AT_FDCWD) and, for qcow2, its backing file
 * name. */
static void image_header_at(int dfd, const char *name, const char *fmt, const struct stat *st,
			    uint64_t *size, char **backing)
{
	*size = (uint64_t)st->st_size;
	if (backing)
		*backing = NULL;
	if (streq(fmt, "raw") || streq(fmt, "subvol")) {
		if (streq(fmt, "subvol"))
			*size = 0;
		return;
	}
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char h[64];
	if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return;
	if (streq(fmt, "qcow2") && memcmp(h, "QFI\xfb", 4) == 0) {
		*size = pve_get_be64(h + 24);
		uint64_t off = pve_get_be64(h + 8);
		uint32_t len = pve_get_be32(h + 16);
		if (backing && off && len && len < 1024) {
			char b[1024];
			if (pread(fd, b, len, (off_t)off) == (ssize_t)len) {
				b[len] = '\0';
				if (strlen(b) == len)
					*backing = xstrdup(b);
			}
		}
	} else if (streq(fmt, "vmdk") && memcmp(h, "KDMV", 4) == 0) {
		*size = pve_get_le64(h + 12) * 512;
	}
}

static void image_header(const char *path, const char *fmt, const struct stat *st, uint64_t *size,
			 char **backing)
{
	image_header_at(AT_FDCWD, path, fmt, st, size, backing);
}

/* ---- images ------------------------------------------------------------------------------------------------ */

/* The first free vm-VMID-disk-N (or base-/subvol- prefix) in images/VMID, over every format. */
static char *find_free_diskname(const char *imgdir, long long vmid, const char *prefix,
				const char *fmt)
{
	_cleanup_(closedirp) DIR *d = opendir(imgdir);
	bool used[1024] = { false };
	struct dirent *e;
	while (d && (e = readdir(d))) {
		static const char *const kinds[] = { "vm", "base", "subvol" };
		for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
			_cleanup_free_ char *p = xasprintf("%s-%lld-disk-", kinds[k], vmid);
			if (!startswith(e->d_name, p))
				continue;
			char *end;
			unsigned long n = strtoul(e->d_name + strlen(p), &end, 10);
			if ((*end == '\0' || *end == '.') && n < ELEMENTSOF(used))
				used[n] = true;
		}
	}
	for (size_t n = 0; n < ELEMENTSOF(used); n++)
		if (!used[n])
			return xasprintf("%s-%lld-disk-%zu.%s",
					 streq(fmt, "subvol") ? "subvol" : prefix, vmid, n, fmt);
	return NULL;
}

/* The image's file (or a subvol's directory), created only if it does not exist. */
static int create_exclusive(const char *path, bool subvol)
{
	if (subvol)
		return mkdir(path, 0755) < 0 ? -errno : 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Claims a name in imgdir (the one given, or with name NULL the next free one) by creating its file (a
 * subvol's directory) exclusively, under a lock on imgdir, so concurrent allocations (threads,
 * processes) never share a name or a disk number, and an existing volume is never overwritten: the
 * file is made empty here and filled by the caller. */
static int claim_name(const pve_storage *s, const char *imgdir, long long vmid, const char *fmt,
		      const char *name, char **ret_fname, char **ret_path, pve_error **err)
{
	bool subvol = streq(fmt, "subvol");
	_cleanup_free_ char *fname = NULL, *path = NULL;
	if (name) {
		const char *dot = strrchr(name, '.');
		if (dot && !streq(dot + 1, fmt))
			return pve_error_set_param(err, EINVAL, "format",
						   "different storage formats (%s != %s)", fmt,
						   dot + 1);
		fname = dot ? xstrdup(name) : xasprintf("%s.%s", name, fmt);
	}
	/* the lock goes with the fd */
	_cleanup_close_ int dfd = open(imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || flock(dfd, LOCK_EX) < 0)
		return pve_error_set(err, errno, "unable to lock '%s': %m", imgdir);
	for (int tries = 0;; tries++) {
		if (!name) {
			free(fname);
			fname = find_free_diskname(imgdir, vmid, "vm", fmt);
			if (!fname)
				return pve_error_set(
					err, ENOSPC,
					"unable to allocate an image name for VM %lld in storage '%s'",
					vmid, s->id);
		}
		free(path);
		path = xasprintf("%s/%s", imgdir, fname);
		int r = create_exclusive(path, subvol);
		/* made meanwhile by someone not taking the lock: the next name */
		if (r == -EEXIST && !name && tries < 1024)
			continue;
		if (r == -EEXIST)
			return pve_error_set(err, EEXIST, "volume '%s:%lld/%s' already exists",
					     s->id, vmid, fname);
		if (r < 0)
			return pve_error_set(err, -r, "unable to create '%s': %s", path,
					     strerror(-r));
		*ret_fname = TAKE_PTR(fname);
		*ret_path = TAKE_PTR(path);
		return 0;
	}
}

static int dir_alloc_image(const pve_storage *s, long long vmid, const char *fmt, const char *name,
			   uint64_t size, char **ret_volname, pve_error **err)
{
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	bool subvol = streq(fmt, "subvol");
	if (subvol && size)
		return pve_error_set_param(
			err, EINVAL, "size",
			"storage '%s': a subvol on a directory storage has no size limit: use size 0",
			s->id);
	if (!subvol && size == 0)
		return pve_error_set_param(err, EINVAL, "size", "size must be greater than 0");
	_cleanup_free_ char *imgdir = image_dir(s, vmid);
	if (pve_mkdir_p(imgdir, 0755, err) < 0)
		return -EIO;
	_cleanup_free_ char *fname = NULL, *path = NULL;
	int r = claim_name(s, imgdir, vmid, fmt, name, &fname, &path, err);
	if (r < 0)
		return r;
	if (streq(fmt, "raw")) {
		_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
			int e = errno;
			unlink(path);
			return pve_error_set(err, e, "unable to size '%s': %s", path, strerror(e));
		}
	} else if (!subvol) {
		/* qemu-img writes the image over the empty file that holds the name */
		_cleanup_free_ char *sz = xasprintf("%llu", (unsigned long long)size);
		const char *prealloc = pve_storage_option(s, "preallocation");
		_cleanup_free_ char *opt =
			xasprintf("preallocation=%s", prealloc ? prealloc : "metadata");
		const char *argv[] = { "qemu-img", "create", "-q", "-f", fmt,
				       "-o",	   opt,	     path, sz,	 NULL };
		if (!streq(fmt, "qcow2")) {
			argv[5] = path;
			argv[6] = sz;
			argv[7] = NULL;
		}
		r = pve_qemu_img(argv, NULL, err);
		if (r < 0) {
			unlink(path);
			return r;
		}
	}
	*ret_volname = xasprintf("%lld/%s", vmid, fname);
	return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 ? -1 : 0;
}

/* Whether a linked clone anywhere in images/ has basevmid/basename as its backing file. */
static bool base_in_use(const pve_storage *s, long long basevmid, const char *basename)
{
	_cleanup_free_ char *images = pve_storage_subdir(s, PVE_CONTENT_IMAGES);
	_cleanup_free_ char *want = xasprintf("../%lld/%s", basevmid, basename);
	_cleanup_(closedirp) DIR *d = opendir(images);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", images, e->d_name);
		_cleanup_(closedirp) DIR *d2 = opendir(sub);
		struct dirent *f;
		while (d2 && (f = readdir(d2))) {
			if (!endswith(f->d_name, ".qcow2"))
				continue;
			_cleanup_free_ char *p = xasprintf("%s/%s", sub, f->d_name);
			_cleanup_free_ char *backing = NULL;
			struct stat st;
			uint64_t size;
			if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			image_header(p, "qcow2", &st, &size, &backing);
			if (backing && streq(backing, want))
				return true;
		}
	}
	return false;
}

static int dir_free_image(const pve_storage *s, const char *volname, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (dir_parse(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	struct stat st;
	if (lstat(path, &st) < 0)
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, volname);
	if (v.vtype == PVE_CONTENT_BACKUP) {
		_cleanup_free_ char *prot = xasprintf("%s.protected", path);
		if (access(prot, F_OK) == 0)
			return pve_error_set(err, EPERM, "volume '%s:%s' is protected", s->id,
					     volname);
	}
	if (v.is_base && base_in_use(s, v.vmid, v.name))
		return pve_error_set(err, EBUSY, "base volume '%s' is still in use by linked clone",
				     volname);
	int r = S_ISDIR(st.st_mode) ? nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) : unlink(path);
	if (r < 0)
		return pve_error_set(err, errno, "unable to remove '%s': %m", path);
	/* its notes and its log go with a backup, as with Proxmox's archive_remove */
	if (v.vtype == PVE_CONTENT_BACKUP)
		pve_storage_archive_remove_auxiliaries(path);
	return 0;
}

/* ---- listing --------------------------------------------------------------------------------------------- */

bool pve_dir_guest_dir(const char *name, long long vmid, long long *ret_owner)
{
	if (pve_parse_int(name, PVE_VMID_MIN, PVE_VMID_MAX, ret_owner) < 0 || name[0] == '0' ||
	    name[0] == '+')
		return false;
	return !vmid || *ret_owner == vmid;
}

DIR *pve_dir_opendir_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

/* Names are looked up relative to the directory (one path component per fstatat, not the whole path):
 * with 10,000 images, the stat calls are most of a listing. */
void pve_dir_list_image_dir(const pve_storage *s, DIR *d2, const char *owner_name, long long owner,
			    unsigned content, listing *l, bool *ret_watchable)
{
	int dfd = dirfd(d2);
	size_t idlen = strlen(s->id), olen = strlen(owner_name);
	struct stat dst;
	if (ret_watchable)
		*ret_watchable = fstat(dfd, &dst) == 0;
	struct dirent *f;
	while ((f = readdir(d2)) && l->n < DIR_MAX_VOLUMES) {
		if (f->d_name[0] == '.')
			continue;
		/* "STORE:VMID/NAME": the volid, and the volname inside it */
		size_t flen = strlen(f->d_name);
		_cleanup_free_ char *volid = xmalloc(idlen + olen + flen + 3);
		char *volname = volid + idlen + 1;
		memcpy(volid, s->id, idlen);
		volid[idlen] = ':';
		memcpy(volname, owner_name, olen);
		volname[olen] = '/';
		memcpy(volname + olen + 1, f->d_name, flen + 1);
		_cleanup_(pve_volname_clear) pve_volname v = { 0 };
		if (!(content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR)) ||
		    pve_storage_parse_volname(volname, &v, NULL) < 0)
			continue;
		struct stat st;
		if (fstatat(dfd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* What a directory (a subvol), a device or a file of another mount reports can change
		 * with no event on this directory's inotify watch. */
		if (ret_watchable &&
		    ((!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) || st.st_dev != dst.st_dev))
			*ret_watchable = false;
		pve_volume_info *i = listing_add(l);
		char *backing = NULL;
		image_header_at(dfd, f->d_name, v.format, &st, &i->size, &backing);
		i->used = (uint64_t)st.st_blocks * 512;
		i->ctime = st.st_ctime;
		i->vmid = owner;
		/* images or rootdir: the guest's type decides, later (pve_storage_listing_classify) */
		i->content = PVE_CONTENT_IMAGES;
		i->format = TAKE_PTR(v.format);
		/* A backing file "../BASEVMID/BASENAME" makes a linked clone, whose volid names the
		 * base, as Proxmox's; any backing file is the parent. */
		_cleanup_free_ char *linked = backing && startswith(backing, "../") ?
						      xasprintf("%s/%s", backing + 3, volname) :
						      NULL;
		_cleanup_(pve_volname_clear) pve_volname lv = { 0 };
		if (linked && pve_storage_parse_volname(linked, &lv, NULL) == 0 && lv.basename)
			i->volid = xasprintf("%s:%s", s->id, linked);
		else
			i->volid = TAKE_PTR(volid);
		i->parent = backing;
	}
}

/* A share of the images/VMID directories: every step-th from start. */
typedef struct image_share {
	const pve_storage *s;
	int images_fd;
	char **names;
	const long long *owners;
	size_t n, start, step;
	unsigned content;
	listing l;
} image_share;

static void *list_image_share(void *arg)
{
	image_share *j = arg;
	for (size_t k = j->start; k < j->n && j->l.n < DIR_MAX_VOLUMES; k += j->step) {
		_cleanup_(closedirp) DIR *d2 = pve_dir_opendir_at(j->images_fd, j->names[k]);
		if (d2)
			pve_dir_list_image_dir(j->s, d2, j->names[k], j->owners[k], j->content,
					       &j->l, NULL);
	}
	return NULL;
}

/* The images in images/VMID/. Where there are several guests, a second thread takes every other directory: a stat per
 * file is most of a listing's time, and the two halves need nothing from each other. */
static void list_images(const pve_storage *s, long long vmid, unsigned content, listing *l)
{
	_cleanup_free_ char *images = pve_storage_subdir(s, PVE_CONTENT_IMAGES);
	_cleanup_(closedirp) DIR *d = pve_dir_opendir_at(AT_FDCWD, images);
	if (!d)
		return;
	char **names = NULL;
	long long *owners = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < DIR_MAX_VOLUMES) {
		long long owner;
		if (!pve_dir_guest_dir(e->d_name, vmid, &owner))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
			owners = xrealloc(owners, cap * sizeof(*owners));
		}
		names[n] = xstrdup(e->d_name);
		owners[n++] = owner;
	}
	image_share mine = { s, dirfd(d), names, owners, n, 0, 1, content, *l };
	image_share other = mine;
	pthread_t t;
	bool threaded = n >= 4;
	if (threaded) {
		mine.step = other.step = 2;
		other.start = 1;
		other.l = (listing){ 0 };
		threaded = pthread_create(&t, NULL, list_image_share, &other) == 0;
		if (!threaded)
			mine.step = 1;
	}
	list_image_share(&mine);
	*l = mine.l;
	if (threaded) {
		pthread_join(t, NULL);
		for (size_t k = 0; k < other.l.n; k++) {
			if (l->n < DIR_MAX_VOLUMES)
				*listing_add(l) = other.l.v[k];
			else
				pve_volume_info_clear(&other.l.v[k]);
		}
		free(other.l.v);
	}
	for (size_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
	free(owners);
}

static char *read_small_file(const char *path, size_t max)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	char *buf = xmalloc(max + 1);
	ssize_t n = read(fd, buf, max);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* The first line of a small file (Proxmox lists a backup's notes so), or NULL. */
static char *read_first_line(const char *path)
{
	char *all = read_small_file(path, NOTES_MAX);
	if (all)
		all[strcspn(all, "\n")] = '\0';
	return all;
}

/* As Proxmox's listing: "tar" for a plain tar, "t" and the compressor's extension else ("tgz",
 * "tzst"). */
static char *vztmpl_format(const char *name)
{
	const char *ext = strrchr(name, '.');
	if (!ext || strcasecmp(ext, ".tar") == 0)
		return xstrdup(ext ? ext + 1 : "tar");
	return xasprintf("t%s", ext + 1);
}

/* Proxmox's filter of backups by guest: the name holds "-VMID-" between other characters. */
static bool backup_of(const char *name, long long vmid)
{
	char needle[32];
	snprintf(needle, sizeof(needle), "-%lld-", vmid);
	size_t nl = strlen(needle);
	for (const char *p = strstr(name, needle); p; p = strstr(p + 1, needle))
		if (p > name && p[-1] != ' ' && p[nl] && p[nl] != ' ')
			return true;
	return false;
}

/* The VMID a backup's name shows without a filter: the first "-VMID-" (three to nine digits, no
 * leading zero) with something before the extension, or 0. */
static long long backup_name_vmid(const char *name, const char *ext)
{
	size_t stem = strlen(name) - strlen(ext) - 1;
	for (const char *p = strchr(name, '-'); p; p = strchr(p + 1, '-')) {
		size_t n = strspn(p + 1, "0123456789");
		if (n >= 3 && n <= 9 && p[1] != '0' && p[1 + n] == '-' &&
		    (size_t)(p - name) + n + 3 <= stem)
			return strtoll(p + 1, NULL, 10);
	}
	return 0;
}

/* One file of a content directory, as Proxmox's get_subdir_files reports it. */
static void list_file(const pve_storage *s, unsigned vtype, long long vmid, const char *dir,
		      const char *n, listing *l)
{
	const char *prefix = pve_storage_content_name(vtype);
	_cleanup_free_ char *volname = xasprintf("%s/%s", prefix, n);
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	if (pve_storage_parse_volname(volname, &v, NULL) < 0 || v.vtype != vtype)
		return;
	/* the listing names no disk inside an OVA, nor an import name with spaces */
	if (vtype == PVE_CONTENT_IMPORT && !pve_storage_name_is_import(n))
		return;
	const char *bext = vtype == PVE_CONTENT_BACKUP ? pve_storage_backup_ext(n) : NULL;
	if (bext && vmid && !backup_of(n, vmid))
		return;
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, n);
	struct stat st;
	if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	pve_volume_info *i = listing_add(l);
	i->volid = xasprintf("%s:%s", s->id, volname);
	i->size = (uint64_t)st.st_size;
	i->ctime = st.st_ctime;
	i->content = vtype;
	switch (vtype) {
	case PVE_CONTENT_ISO:
		i->format = xstrdup("iso");
		break;
	case PVE_CONTENT_VZTMPL:
		i->format = vztmpl_format(n);
		break;
	case PVE_CONTENT_BACKUP: {
		i->format = xstrdup(bext);
		_cleanup_(pve_archive_info_clear) pve_archive_info a = { 0 };
		bool known = pve_storage_archive_info(n, &a, NULL) == 0;
		/* the time in a standard name: a copied backup keeps its time */
		if (known && a.is_std_name)
			i->ctime = a.ctime;
		i->subtype = known ? a.type : "unknown";
		i->vmid = vmid ? vmid : backup_name_vmid(n, bext);
		_cleanup_free_ char *np = xasprintf("%s.notes", p);
		_cleanup_free_ char *pp = xasprintf("%s.protected", p);
		i->notes = read_first_line(np);
		i->protected_ = access(pp, F_OK) == 0;
		break;
	}
	case PVE_CONTENT_SNIPPETS:
		i->format = xstrdup("snippet");
		break;
	default:
		i->format = TAKE_PTR(v.format);
	}
}

/* One content directory (Proxmox's get_subdir_files). */
static void list_files(const pve_storage *s, unsigned vtype, long long vmid, listing *l)
{
	_cleanup_free_ char *dir = pve_storage_subdir(s, vtype);
	_cleanup_(closedirp) DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d)) && l->n < DIR_MAX_VOLUMES)
		if (e->d_name[0] != '.')
			list_file(s, vtype, vmid, dir, e->d_name, l);
}

static int cmp_volid(const void *a, const void *b)
{
	return strcmp(((const pve_volume_info *)a)->volid, ((const pve_volume_info *)b)->volid);
}

static int dir_list_volumes(const pve_storage *s, long long vmid, unsigned content,
			    pve_volume_info **ret, size_t *ret_n, pve_error **err)
{
	if (!s->path)
		return pve_error_set(err, EINVAL, "storage '%s' has no path", s->id);
	listing l = { 0 };
	if (content & (PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR))
		list_images(s, vmid, content, &l);
	/* As Proxmox's: templates and ISOs are no guest's, so a guest's listing has none; snippets
	 * and imports are in every listing; backups are the guest's own. */
	static const unsigned file_types[] = { PVE_CONTENT_ISO, PVE_CONTENT_VZTMPL,
					       PVE_CONTENT_BACKUP, PVE_CONTENT_SNIPPETS,
					       PVE_CONTENT_IMPORT };
	for (size_t i = 0; i < ELEMENTSOF(file_types); i++) {
		bool guest_free = file_types[i] & (PVE_CONTENT_ISO | PVE_CONTENT_VZTMPL);
		if ((content & file_types[i]) && !(vmid && guest_free))
			list_files(s, file_types[i], vmid, &l);
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_volid);
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}

/* ---- single volumes ----------------------------------------------------------------------------------- */

static int dir_path(const pve_storage *s, const char *volname, const char *snap, char **ret_path,
		    pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	if (dir_parse(s, volname, &v, ret_path, err) < 0)
		return -EINVAL;
	/* qcow2 snapshots are inside the file: the same path */
	if (snap && !streq_ptr(v.format, "qcow2")) {
		free(TAKE_PTR(*ret_path));
		return pve_error_set(err, ENOSYS, "can't snapshot this image format");
	}
	return 0;
}

/* An image volume that exists, and its path. */
static int image_volume(const pve_storage *s, const char *volname, pve_volname *v, char **path,
			pve_error **err)
{
	if (dir_parse(s, volname, v, path, err) < 0)
		return -EINVAL;
	if (v->vtype != PVE_CONTENT_IMAGES)
		return pve_error_set(err, EINVAL, "volume '%s' is not a disk image", volname);
	struct stat st;
	if (lstat(*path, &st) < 0)
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, volname);
	return 0;
}

static int dir_volume_size(const pve_storage *s, const char *volname, uint64_t *ret_size,
			   uint64_t *ret_used, char **ret_format, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (dir_parse(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	struct stat st;
	if (stat(path, &st) < 0)
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, volname);
	uint64_t size = (uint64_t)st.st_size;
	_cleanup_free_ char *fmt = xstrdup(v.format ? v.format : "raw");
	if (v.vtype == PVE_CONTENT_IMAGES && !S_ISDIR(st.st_mode)) {
		_cleanup_(pve_qemu_img_info_clear) pve_qemu_img_info i = { 0 };
		if (pve_qemu_img_read_info(path, fmt, &i, err) < 0 || i.virtual_size < 0)
			return pve_error_set(err, EIO, "qemu-img info: no size for '%s'", path);
		size = (uint64_t)i.virtual_size;
	} else if (S_ISDIR(st.st_mode)) {
		size = 0;
	}
	if (ret_size)
		*ret_size = size;
	if (ret_used)
		*ret_used = (uint64_t)st.st_blocks * 512;
	if (ret_format)
		*ret_format = TAKE_PTR(fmt);
	return 0;
}

static int dir_volume_resize(const pve_storage *s, const char *volname, uint64_t size,
			     pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (image_volume(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	if (!streq(v.format, "raw") && !streq(v.format, "qcow2"))
		return pve_error_set(err, ENOSYS, "can't resize this image format");
	if (v.is_base)
		return pve_error_set(err, EINVAL, "can't resize a base image");
	uint64_t cur;
	if (dir_volume_size(s, volname, &cur, NULL, NULL, err) < 0)
		return -EIO;
	if (size < cur)
		return pve_error_set_param(err, EINVAL, "size", "shrinking disks is not supported");
	_cleanup_free_ char *sz = xasprintf("%llu", (unsigned long long)size);
	const char *argv[] = { "qemu-img", "resize", "-q", "-f", v.format, path, sz, NULL };
	return pve_qemu_img(argv, NULL, err);
}

static int snapshot_op(const pve_storage *s, const char *volname, const char *op, const char *snap,
		       pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (image_volume(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	if (!streq(v.format, "qcow2"))
		return pve_error_set(err, ENOSYS, "can't snapshot this image format ('%s')",
				     v.format);
	const char *argv[] = { "qemu-img", "snapshot", "-q", op, snap, path, NULL };
	return pve_qemu_img(argv, NULL, err);
}

/* qemu-img keeps a second internal snapshot of the same name, which rollback and delete could then
 * not tell apart: the name is looked up first (qemu-img info lists the snapshots, parseable as JSON). */
static int snapshot_exists(const char *path, const char *snap, bool *ret, pve_error **err)
{
	_cleanup_(pve_qemu_img_info_clear) pve_qemu_img_info i = { 0 };
	if (pve_qemu_img_read_info(path, "qcow2", &i, err) < 0)
		return -EIO;
	*ret = false;
	for (char **n = i.snapshots; *n; n++)
		*ret |= streq(*n, snap);
	return 0;
}

static int dir_volume_snapshot(const pve_storage *s, const char *volname, const char *snap,
			       pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	bool exists = false;
	if (image_volume(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	if (streq(v.format, "qcow2") && snapshot_exists(path, snap, &exists, err) < 0)
		return -EIO;
	if (exists)
		return pve_error_set(err, EEXIST, "snapshot '%s' already exists on volume '%s:%s'",
				     snap, s->id, volname);
	return snapshot_op(s, volname, "-c", snap, err);
}

static int dir_volume_snapshot_rollback(const pve_storage *s, const char *volname, const char *snap,
					pve_error **err)
{
	return snapshot_op(s, volname, "-a", snap, err);
}

static int dir_volume_snapshot_delete(const pve_storage *s, const char *volname, const char *snap,
				      pve_error **err)
{
	return snapshot_op(s, volname, "-d", snap, err);
}

static int dir_clone_image(const pve_storage *s, const char *volname, long long vmid,
			   const char *snap, char **ret_volname, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (image_volume(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	if (snap)
		return pve_error_set(err, ENOSYS,
				     "this storage type does not support clone_image on snapshot");
	if (streq(v.format, "subvol"))
		return pve_error_set(
			err, ENOSYS,
			"this storage type does not support clone_image on subvolumes");
	if (!v.is_base || v.basename)
		return pve_error_set(err, EINVAL, "clone_image only works on base images");
	_cleanup_free_ char *imgdir = image_dir(s, vmid);
	if (pve_mkdir_p(imgdir, 0755, err) < 0)
		return -EIO;
	/* qemu-img writes the clone over the empty file that holds its name */
	_cleanup_free_ char *name = NULL, *target = NULL;
	int r = claim_name(s, imgdir, vmid, "qcow2", NULL, &name, &target, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *backing = xasprintf("../%lld/%s", v.vmid, v.name);
	/* qemu-img opens a relative backing file from the new image's directory */
	const char *argv[] = { "qemu-img", "create", "-q",    "-b",   backing, "-F",
			       v.format,   "-f",     "qcow2", target, NULL };
	if (pve_qemu_img(argv, NULL, err) < 0) {
		unlink(target);
		return -EIO;
	}
	*ret_volname = xasprintf("%lld/%s/%lld/%s", v.vmid, v.name, vmid, name);
	return 0;
}

static int dir_create_base(const pve_storage *s, const char *volname, char **ret_volname,
			   pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (image_volume(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	if (v.is_base)
		return pve_error_set(err, EINVAL, "create_base not possible with base image");
	if (!startswith(v.name, "vm-"))
		return pve_error_set(err, EINVAL,
				     "create_base: volume name '%s' must start with 'vm-'", v.name);
	_cleanup_free_ char *newname = xasprintf("base-%s", v.name + 3);
	_cleanup_free_ char *imgdir = image_dir(s, v.vmid);
	_cleanup_free_ char *newpath = xasprintf("%s/%s", imgdir, newname);
	if (renameat2(AT_FDCWD, path, AT_FDCWD, newpath, RENAME_NOREPLACE) < 0)
		return pve_error_set(err, errno, "rename '%s' to '%s' failed: %m", path, newpath);
	if (!streq(v.format, "subvol"))
		chmod(newpath, 0444);
	*ret_volname =
		v.basename ? xasprintf("%lld/%s/%lld/%s", v.basevmid, v.basename, v.vmid, newname) :
			     xasprintf("%lld/%s", v.vmid, newname);
	return 0;
}

static bool dir_volume_has_feature(const pve_storage *s, pve_volume_feature feature,
				   const char *volname, const char *snap)
{
	(void)s;
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	if (pve_storage_parse_volname(volname, &v, NULL) < 0 || v.vtype != PVE_CONTENT_IMAGES)
		return false;
	const char *f = v.format;
	bool file = streq(f, "qcow2") || streq(f, "raw") || streq(f, "vmdk");
	bool base = v.is_base, current = !base && !snap;
	switch (feature) {
	case PVE_FEATURE_SNAPSHOT:
		return streq(f, "qcow2") && !base;
	case PVE_FEATURE_CLONE:
		return base && !snap && file;
	case PVE_FEATURE_TEMPLATE:
		return current && (file || streq(f, "subvol"));
	case PVE_FEATURE_COPY:
		return snap ? streq(f, "qcow2") : file;
	case PVE_FEATURE_SPARSEINIT:
		return !snap && file;
	case PVE_FEATURE_RENAME:
		return current && file;
	}
	return false;
}

static int dir_rename_volume(const pve_storage *s, const char *volname, long long target_vmid,
			     const char *target_name, char **ret_volname, pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	_cleanup_free_ char *path = NULL;
	if (image_volume(s, volname, &v, &path, err) < 0)
		return -EINVAL;
	if (v.is_base)
		return pve_error_set(err, EINVAL, "rename of a base image is not supported");
	_cleanup_free_ char *imgdir = image_dir(s, target_vmid);
	if (pve_mkdir_p(imgdir, 0755, err) < 0)
		return -EIO;
	_cleanup_free_ char *name = NULL;
	if (target_name) {
		long long tv;
		_cleanup_free_ char *tf = NULL;
		if (pve_storage_parse_image_name(target_name, true, &tv, NULL, &tf) < 0 ||
		    tv != target_vmid || !streq(tf, v.format))
			return pve_error_set_param(err, EINVAL, "target",
						   "invalid target volume name '%.200s'",
						   target_name);
		name = xstrdup(target_name);
	} else {
		name = find_free_diskname(imgdir, target_vmid, "vm", v.format);
		if (!name)
			return pve_error_set(err, ENOSPC, "no free disk name for VM %lld",
					     target_vmid);
	}
	_cleanup_free_ char *newpath = xasprintf("%s/%s", imgdir, name);
	if (renameat2(AT_FDCWD, path, AT_FDCWD, newpath, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			return pve_error_set(err, EEXIST,
					     "rename_volume: target volume '%s' already exists",
					     name);
		return pve_error_set(err, errno, "rename '%s' to '%s' failed: %m", path, newpath);
	}
	*ret_volname = v.basename ? xasprintf("%lld/%s/%lld/%s", v.basevmid, v.basename,
					      target_vmid, name) :
				    xasprintf("%lld/%s", target_vmid, name);
	return 0;
}

/* ---- attributes: notes and protection, for backups as in Proxmox ------------------------------------- */

static int backup_volume(const pve_storage *s, const char *volname, const char *attr, char **path,
			 pve_error **err)
{
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	if (dir_parse(s, volname, &v, path, err) < 0)
		return -EINVAL;
	if (!streq(attr, "notes") && !streq(attr, "protected"))
		return pve_error_set(err, EINVAL, "unknown volume attribute '%.32s'", attr);
	if (v.vtype != PVE_CONTENT_BACKUP)
		return -ENOSYS;
	struct stat st;
	if (stat(*path, &st) < 0)
		return pve_error_set(err, ENOENT, "volume '%s:%s' does not exist", s->id, volname);
	return 0;
}

static int dir_get_attribute(const pve_storage *s, const char *volname, const char *attr,
			     char **ret_value, pve_error **err)
{
	_cleanup_free_ char *path = NULL;
	int r = backup_volume(s, volname, attr, &path, err);
	if (r == -ENOSYS)
		return 0;
	if (r < 0)
		return r;
	_cleanup_free_ char *f = xasprintf("%s.%s", path, attr);
	if (streq(attr, "notes"))
		*ret_value = read_small_file(f, NOTES_MAX);
	else
		*ret_value = xstrdup(access(f, F_OK) == 0 ? "1" : "0");
	return 0;
}

static int dir_set_attribute(const pve_storage *s, const char *volname, const char *attr,
			     const char *value, pve_error **err)
{
	_cleanup_free_ char *path = NULL;
	int r = backup_volume(s, volname, attr, &path, err);
	if (r == -ENOSYS) {
		_cleanup_(pve_volname_clear) pve_volname v = { 0 };
		pve_storage_parse_volname(volname, &v, NULL);
		return pve_error_set_param(err, EINVAL, attr,
					   "%s is not supported for content type '%s'",
					   streq(attr, "notes") ? "volume notes" : "protection",
					   pve_storage_content_name(v.vtype));
	}
	if (r < 0)
		return r;
	_cleanup_free_ char *f = xasprintf("%s.%s", path, attr);
	bool set;
	if (streq(attr, "protected")) {
		if (pve_parse_bool(value ? value : "0", &set) < 0)
			return pve_error_set_param(err, EINVAL, "protected", "not a boolean");
	} else {
		if (value && strlen(value) > NOTES_MAX)
			return pve_error_set_param(err, E2BIG, "notes", "notes too long");
		set = value && *value;
	}
	if (!set) {
		if (unlink(f) < 0 && errno != ENOENT)
			return pve_error_set(err, errno, "unable to remove '%s': %m", f);
		return 0;
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", f, (int)getpid());
	_cleanup_close_ int fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return pve_error_set(err, errno, "unable to write '%s': %m", tmp);
	const char *data = streq(attr, "notes") ? value : "";
	size_t len = strlen(data);
	if (write(fd, data, len) != (ssize_t)len || rename(tmp, f) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return pve_error_set(err, e, "unable to write '%s': %s", f, strerror(e));
	}
	return 0;
}

static const char *const dir_formats[] = { "raw", "qcow2", "vmdk", "subvol", NULL };
static const char *const dir_required[] = { "path", NULL };
static const char *const dir_options[] = { "path",
					   "mkdir",
					   "create-base-path",
					   "create-subdirs",
					   "is_mountpoint",
					   "preallocation",
					   "content-dirs",
					   "snapshot-as-volume-chain",
					   NULL };

const pve_storage_plugin pve_storage_plugin_dir = {
	.type = "dir",
	.content_allowed = PVE_CONTENT_ALL,
	.content_default = PVE_CONTENT_IMAGES | PVE_CONTENT_ROOTDIR,
	.formats = dir_formats,
	.default_format = "raw",
	.required = dir_required,
	.options = dir_options,
	.activate = dir_activate,
	.deactivate = dir_deactivate,
	.status = dir_status,
	.alloc_image = dir_alloc_image,
	.free_image = dir_free_image,
	.list_volumes = dir_list_volumes,
	.path = dir_path,
	.volume_size = dir_volume_size,
	.volume_resize = dir_volume_resize,
	.volume_snapshot = dir_volume_snapshot,
	.volume_snapshot_rollback = dir_volume_snapshot_rollback,
	.volume_snapshot_delete = dir_volume_snapshot_delete,
	.clone_image = dir_clone_image,
	.create_base = dir_create_base,
	.volume_has_feature = dir_volume_has_feature,
	.rename_volume = dir_rename_volume,
	.get_attribute = dir_get_attribute,
	.set_attribute = dir_set_attribute,
};
