/* template: a container's rootfs unpacked from a template archive with libarchive, and the unpack
 * itself, which OCI layers share: every path resolved inside the target (openat2 RESOLVE_IN_ROOT), so
 * that no entry, link or earlier symlink of a hostile archive reaches the host's files. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lxc/rootfs-internal.h"

/* Deeper than any real rootfs; keeps the recursive removal's open directories few. */
#define LXC_UNPACK_MAX_DEPTH 256
/* The id an unmapped owner becomes inside (nobody), as the kernel shows unmapped ids. */
#define LXC_OVERFLOW_ID 65534u

int lxc_open_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root_fd, path[0] ? path : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

bool lxc_idmap_shift(const lxc_idmap *maps, size_t n_maps, char kind, uint32_t id, uint32_t *ret)
{
	if (n_maps == 0) {
		*ret = id;
		return true;
	}
	for (size_t i = 0; i < n_maps; i++) {
		const lxc_idmap *m = &maps[i];
		if (m->kind == kind && id >= m->inside && id - m->inside < m->count) {
			*ret = m->outside + (id - m->inside);
			return true;
		}
	}
	return false;
}

char *lxc_path_clean(const char *path)
{
	size_t len = strlen(path);
	if (len >= LXC_UNPACK_MAX_PATH)
		return NULL;
	char *out = xmalloc(len + 1);
	size_t o = 0, depth = 0;
	const char *p = path;
	/* Leading slashes are dropped, as tar does: "/etc/x" is the rootfs's /etc/x. */
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return NULL;
		}
		if (!(n == 1 && p[0] == '.')) {
			if (++depth > LXC_UNPACK_MAX_DEPTH) {
				free(out);
				return NULL;
			}
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = end;
	}
	out[o] = 0;
	return out;
}

struct archive *lxc_archive_reader(void)
{
	struct archive *a = archive_read_new();
	if (!a)
		return NULL;
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_none(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	return a;
}

/* Removes name below dfd, a directory with all it holds; nothing is followed. */
static int rm_rf_at(int dfd, const char *name, unsigned depth)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth > LXC_UNPACK_MAX_DEPTH + 8)
		return -ELOOP;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		r = rm_rf_at(dirfd(d), de->d_name, depth + 1);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

void lxc_unpack_clear(int root_fd)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
		    streq(de->d_name, "lost+found"))
			continue;
		(void)rm_rf_at(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int lxc_unpack_init(lxc_unpack *u, const char *dir, const lxc_idmap *maps, size_t n_maps,
		    pve_error **err)
{
	*u = (lxc_unpack){ .root_fd = -1, .parent_fd = -1, .maps = maps, .n_maps = n_maps };
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "cannot open rootfs directory '%s': %m", dir);
	/* A new ext4 volume has lost+found; anything else means a rootfs is there already. */
	int dfd = dup(fd);
	if (dfd < 0)
		return pve_error_set(err, errno, "dup: %m");
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return pve_error_set(err, e, "cannot list '%s': %m", dir);
	}
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, "lost+found"))
			empty = false;
	closedir(d);
	if (!empty)
		return pve_error_set(err, EEXIST, "rootfs directory '%s' is not empty", dir);
	struct statvfs sv;
	if (fstatvfs(fd, &sv) < 0)
		return pve_error_set(err, errno, "statvfs '%s': %m", dir);
	u->max_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (n_maps) {
		uint32_t uid, gid;
		if (!lxc_idmap_shift(maps, n_maps, 'u', 0, &uid) ||
		    !lxc_idmap_shift(maps, n_maps, 'g', 0, &gid))
			return pve_error_set(err, EINVAL,
					     "the id map has no root (uid/gid 0) inside");
		if (fchown(fd, uid, gid) < 0)
			return pve_error_set(err, errno, "chown '%s': %m", dir);
	}
	u->root_fd = TAKE_FD(fd);
	return 0;
}

void lxc_unpack_done(lxc_unpack *u)
{
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	if (u->root_fd >= 0)
		close(u->root_fd);
	free(u->parent_path);
	lxc_unpack_next_layer(u);
	free(u->layer_set);
	*u = (lxc_unpack){ .root_fd = -1, .parent_fd = -1 };
}

/* A directory the unpack made on its own belongs to the container's root. */
static int chown_root(const lxc_unpack *u, int dfd, const char *name, int flags)
{
	uint32_t uid = 0, gid = 0;
	if (!u->n_maps)
		return 0;
	(void)lxc_idmap_shift(u->maps, u->n_maps, 'u', 0, &uid);
	(void)lxc_idmap_shift(u->maps, u->n_maps, 'g', 0, &gid);
	return fchownat(dfd, name, uid, gid, flags) < 0 ? -errno : 0;
}

/* The directory that holds path's last component, made (owned by the container's root) where the
 * archive did not list it. Returns an O_PATH fd the unpack keeps, or -errno. */
static int parent_open(lxc_unpack *u, const char *parent, pve_error **err)
{
	if (u->parent_path && streq(u->parent_path, parent))
		return u->parent_fd;
	int fd = lxc_open_in_root(u->root_fd, parent, O_PATH | O_DIRECTORY, 0);
	if (fd == -ENOENT) {
		/* One component at a time, each prefix looked up inside the root, the missing made. */
		_cleanup_free_ char *p = xstrdup(parent);
		_cleanup_close_ int cur = dup(u->root_fd);
		if (cur < 0)
			return pve_error_set(err, errno, "dup: %m");
		for (char *c = p;;) {
			char *next = strchr(c, '/');
			if (next)
				*next = 0;
			if (mkdirat(cur, c, 0755) == 0) {
				int r = chown_root(u, cur, c, AT_SYMLINK_NOFOLLOW);
				if (r < 0)
					return pve_error_set(err, -r, "chown '%s': %s", p,
							     strerror(-r));
			} else if (errno != EEXIST)
				return pve_error_set(err, errno, "mkdir '%s': %m", p);
			int nfd = lxc_open_in_root(u->root_fd, p, O_PATH | O_DIRECTORY, 0);
			if (nfd < 0)
				return pve_error_set(err, -nfd, "'%s' in the rootfs: %s", p,
						     strerror(-nfd));
			close(cur);
			cur = nfd;
			if (!next)
				break;
			*next = '/';
			c = next + 1;
		}
		fd = TAKE_FD(cur);
	}
	if (fd < 0)
		return pve_error_set(err, -fd, "'%s' in the rootfs: %s", parent, strerror(-fd));
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	free(u->parent_path);
	u->parent_fd = fd;
	u->parent_path = xstrdup(parent);
	return fd;
}

void lxc_unpack_next_layer(lxc_unpack *u)
{
	for (size_t i = 0; i < u->layer_set_cap; i++) {
		free(u->layer_set[i]);
		u->layer_set[i] = NULL;
	}
	u->layer_set_n = 0;
}

static size_t set_hash(const char *s)
{
	size_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* A hash set, not a list: an opaque whiteout looks up each child of its directory, and a layer may
 * hold hundreds of thousands of entries. */
static bool layer_set_has(const lxc_unpack *u, const char *key)
{
	if (!u->layer_set_cap)
		return false;
	for (size_t i = set_hash(key) & (u->layer_set_cap - 1);;
	     i = (i + 1) & (u->layer_set_cap - 1)) {
		if (!u->layer_set[i])
			return false;
		if (streq(u->layer_set[i], key))
			return true;
	}
}

static void layer_set_add(lxc_unpack *u, char *key)
{
	if (layer_set_has(u, key)) {
		free(key);
		return;
	}
	if ((u->layer_set_n + 1) * 2 > u->layer_set_cap) {
		size_t cap = u->layer_set_cap ? u->layer_set_cap * 2 : 256;
		char **old = u->layer_set;
		size_t old_cap = u->layer_set_cap;
		u->layer_set = xcalloc(cap, sizeof(char *));
		u->layer_set_cap = cap;
		for (size_t i = 0; i < old_cap; i++) {
			if (!old[i])
				continue;
			size_t k = set_hash(old[i]) & (cap - 1);
			while (u->layer_set[k])
				k = (k + 1) & (cap - 1);
			u->layer_set[k] = old[i];
		}
		free(old);
	}
	size_t k = set_hash(key) & (u->layer_set_cap - 1);
	while (u->layer_set[k])
		k = (k + 1) & (u->layer_set_cap - 1);
	u->layer_set[k] = key;
	u->layer_set_n++;
}

/* An opaque whiteout: what lower layers put in the directory goes, this layer's own entries stay.
 * Once per directory and layer: a second marker finds nothing of the lower layers left. */
static int opaque_dir(lxc_unpack *u, int pfd, const char *parent)
{
	char *mark = xasprintf("/%s", parent); /* no entry's cleaned path starts with "/" */
	if (layer_set_has(u, mark)) {
		free(mark);
		return 0;
	}
	layer_set_add(u, mark);
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p = parent[0] ? xasprintf("%s/%s", parent, de->d_name) :
						     xstrdup(de->d_name);
		if (layer_set_has(u, p))
			continue;
		r = rm_rf_at(dirfd(d), de->d_name, 0);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* Makes room for a new entry name in pfd: 1 when an existing directory stays (a directory entry
 * over a directory), 0 when the name is free. */
static int make_room(int pfd, const char *name, bool is_dir)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode) && is_dir)
		return 1;
	return rm_rf_at(pfd, name, 0);
}

static int write_data(lxc_unpack *u, struct archive *a, int fd, const char *path, const char *what,
		      pve_error **err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return pve_error_set(err, EINVAL, "%s: '%s': %s", what, path,
					     archive_error_string(a));
		if (size > u->max_bytes - u->bytes)
			return pve_error_set(err, ENOSPC,
					     "%s: '%s': the rootfs volume is full (%llu bytes)",
					     what, path, (unsigned long long)u->max_bytes);
		u->bytes += size;
		if (off < 0)
			return pve_error_set(err, EINVAL, "%s: '%s': bad data offset", what, path);
		const char *p = buf;
		while (size) {
			ssize_t n = pwrite(fd, p, size, off);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return pve_error_set(err, errno, "%s: writing '%s': %m", what,
						     path);
			}
			p += n;
			size -= (size_t)n;
			off += n;
		}
	}
}

static int unpack_entry(lxc_unpack *u, struct archive *a, struct archive_entry *e, const char *what,
			pve_error **err)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		return pve_error_set(err, EINVAL, "%s: an entry without a name", what);
	_cleanup_free_ char *path = lxc_path_clean(raw);
	if (!path)
		return pve_error_set(err, EINVAL,
				     "%s: entry '%.200s' leaves the rootfs (a '..' or too long)",
				     what, raw);
	mode_t type = archive_entry_filetype(e);
	const char *hardlink = archive_entry_hardlink(e);
	/* Devices are the runtime's to make (its minimal /dev); sockets belong to a running system.
	 * Whatever a template has below dev/ goes too, as Proxmox's tar excludes dev's contents. */
	if (!hardlink && (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK))
		return 0;
	if (startswith(path, "dev/"))
		return 0;
	if (streq(path, "sbin") && (hardlink || type == AE_IFDIR || type == AE_IFLNK))
		u->saw_sbin = true;

	mode_t perm = archive_entry_perm(e) & 07777;
	uint32_t uid = (uint32_t)archive_entry_uid(e), gid = (uint32_t)archive_entry_gid(e);
	/* An owner outside the map becomes nobody (nogroup), and the file loses setuid and setgid: no
	 * id the container does not own gains a privileged file. */
	if (!lxc_idmap_shift(u->maps, u->n_maps, 'u', uid, &uid)) {
		perm &= ~(mode_t)(S_ISUID | S_ISGID);
		(void)lxc_idmap_shift(u->maps, u->n_maps, 'u', LXC_OVERFLOW_ID, &uid);
	}
	if (!lxc_idmap_shift(u->maps, u->n_maps, 'g', gid, &gid)) {
		perm &= ~(mode_t)(S_ISUID | S_ISGID);
		(void)lxc_idmap_shift(u->maps, u->n_maps, 'g', LXC_OVERFLOW_ID, &gid);
	}

	if (path[0] == 0) {
		/* The root itself ("./"): its mode and owner. */
		if (type != AE_IFDIR)
			return pve_error_set(err, EINVAL,
					     "%s: the archive's root is not a directory", what);
		_cleanup_close_ int fd =
			openat(u->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0)
			return pve_error_set(err, errno, "%s: the rootfs's own mode: %m", what);
		return 0;
	}

	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	_cleanup_free_ char *parent = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");

	int pfd = parent_open(u, parent, err);
	if (pfd < 0) {
		if (err && *err)
			pve_error_prefix(*err, "%s: entry '%s': ", what, path);
		return pfd;
	}

	if (u->whiteouts && startswith(name, ".wh.")) {
		int r;
		if (streq(name, ".wh..wh..opq"))
			r = opaque_dir(u, pfd, parent);
		else if (streq(name + 4, "") || streq(name + 4, ".") || streq(name + 4, ".."))
			return pve_error_set(err, EINVAL, "%s: bad whiteout '%s'", what, path);
		else
			r = rm_rf_at(pfd, name + 4, 0);
		if (r < 0)
			return pve_error_set(err, -r, "%s: whiteout '%s': %s", what, path,
					     strerror(-r));
		return 0;
	}
	if (u->whiteouts)
		layer_set_add(u, xstrdup(path));

	bool is_dir = !hardlink && type == AE_IFDIR;
	struct stat old;
	if (u->keep_old && fstatat(pfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(is_dir && S_ISDIR(old.st_mode)))
		return 0;
	int r = make_room(pfd, name, is_dir);
	if (r < 0)
		return pve_error_set(err, -r, "%s: cannot replace '%s': %s", what, path,
				     strerror(-r));

	if (hardlink) {
		_cleanup_free_ char *target = lxc_path_clean(hardlink);
		if (!target || !target[0])
			return pve_error_set(err, EINVAL,
					     "%s: hard link '%s' to '%.200s' leaves the rootfs",
					     what, path, hardlink);
		/* Found inside the root, whatever symlinks lie on the way: the link never names a host
		 * file. */
		_cleanup_close_ int tfd =
			lxc_open_in_root(u->root_fd, target, O_PATH | O_NOFOLLOW, 0);
		if (tfd < 0)
			return pve_error_set(err, -tfd, "%s: hard link '%s' to '%s': %s", what,
					     path, target, strerror(-tfd));
		if (linkat(tfd, "", pfd, name, AT_EMPTY_PATH) < 0)
			return pve_error_set(err, errno, "%s: hard link '%s' to '%s': %m", what,
					     path, target);
		return 0;
	}

	switch (type) {
	case AE_IFDIR: {
		if (r == 0 && mkdirat(pfd, name, 0700) < 0)
			return pve_error_set(err, errno, "%s: mkdir '%s': %m", what, path);
		_cleanup_close_ int fd =
			openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0)
			return pve_error_set(err, errno, "%s: directory '%s': %m", what, path);
		return 0;
	}
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (!target || !target[0] || strlen(target) >= LXC_UNPACK_MAX_PATH)
			return pve_error_set(err, EINVAL,
					     "%s: symlink '%s' without a usable target", what,
					     path);
		/* Its target is kept as written: the unpack never follows it out (RESOLVE_IN_ROOT), and
		 * inside the container it resolves in the container's root. */
		if (symlinkat(target, pfd, name) < 0 ||
		    fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return pve_error_set(err, errno, "%s: symlink '%s': %m", what, path);
		return 0;
	}
	case AE_IFIFO:
		/* Made by this call, so nothing else stands at name for fchmodat to follow. */
		if (mknodat(pfd, name, S_IFIFO | 0600, 0) < 0 ||
		    fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(pfd, name, perm, 0) < 0)
			return pve_error_set(err, errno, "%s: fifo '%s': %m", what, path);
		return 0;
	case AE_IFREG: {
		la_int64_t size = archive_entry_size(e);
		if (size < 0 || (uint64_t)size > u->max_bytes - u->bytes)
			return pve_error_set(
				err, ENOSPC,
				"%s: '%s' (%lld bytes) does not fit the rootfs volume (%llu bytes)",
				what, path, (long long)size, (unsigned long long)u->max_bytes);
		_cleanup_close_ int fd = openat(
			pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return pve_error_set(err, errno, "%s: create '%s': %m", what, path);
		r = write_data(u, a, fd, path, what, err);
		if (r < 0)
			return r;
		if (ftruncate(fd, size) < 0)
			return pve_error_set(err, errno, "%s: '%s': %m", what, path);
		/* The mode after the owner: chown clears setuid bits. */
		struct timespec ts[2] = { { .tv_sec = archive_entry_mtime(e) },
					  { .tv_sec = archive_entry_mtime(e) } };
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0 || futimens(fd, ts) < 0)
			return pve_error_set(err, errno, "%s: '%s': %m", what, path);
		return 0;
	}
	default:
		return 0;
	}
}

int lxc_unpack_archive(lxc_unpack *u, struct archive *a, const char *what, pve_error **err)
{
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return pve_error_set(err, EINVAL, "%s: %s", what,
					     archive_error_string(a) ? archive_error_string(a) :
								       "not a tar archive");
		if (++u->entries > LXC_UNPACK_MAX_ENTRIES)
			return pve_error_set(err, E2BIG, "%s: more than %u entries", what,
					     LXC_UNPACK_MAX_ENTRIES);
		r = unpack_entry(u, a, e, what, err);
		if (r < 0)
			return r;
	}
}

int lxc_template_extract(const char *archive, const char *dir, const lxc_idmap *maps, size_t n_maps,
			 pve_error **err)
{
	/* O_NONBLOCK: a FIFO in the archive's place must not hang the task. */
	_cleanup_close_ int afd = open(archive, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat ast;
	if (afd < 0 || fstat(afd, &ast) < 0)
		return pve_error_set(err, errno, "template '%s': %m", archive);
	if (!S_ISREG(ast.st_mode))
		return pve_error_set(err, EINVAL, "template '%s' is not a regular file", archive);
	if (fcntl(afd, F_SETFL, 0) < 0)
		return pve_error_set(err, errno, "template '%s': %m", archive);
	lxc_unpack u;
	int r = lxc_unpack_init(&u, dir, maps, n_maps, err);
	if (r < 0)
		return r;
	struct archive *a = lxc_archive_reader();
	if (!a) {
		lxc_unpack_done(&u);
		return pve_error_set(err, ENOMEM, "libarchive: out of memory");
	}
	u.keep_old = true;
	if (archive_read_open_fd(a, afd, 64 * 1024) != ARCHIVE_OK)
		r = pve_error_set(err, EINVAL, "template '%s': %s", archive,
				  archive_error_string(a));
	else
		r = lxc_unpack_archive(&u, a, archive, err);
	/* Proxmox's check of a template: a root filesystem has an sbin and more than a few entries. */
	if (r == 0 && !u.saw_sbin)
		r = pve_error_set(err, EINVAL,
				  "no 'sbin' directory (or link) found in archive '%s'", archive);
	if (r == 0 && u.entries < 10)
		r = pve_error_set(err, EINVAL, "less than 10 members in archive '%s'", archive);
	archive_read_free(a);
	if (r < 0 && u.entries == 0 && err && *err && (*err)->code == EINVAL)
		pve_error_prefix(*err, "not a template archive: ");
	if (r < 0)
		lxc_unpack_clear(u.root_fd);
	lxc_unpack_done(&u);
	return r;
}
