/* The table-driven test every storage plugin's unit test runs against its real backend (a
 * directory, a btrfs file system, a volume group): for each format the plugin allocates, the same
 * steps (allocate, list, path, size, resize, snapshot with the data checked across a rollback,
 * template, linked clone, rename, free) with what the plugin claims to support, and the same
 * refusals. Included by tests/unit/test-storage-*.c. */
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/storage.h"
#include "tests/unit/test.h"

/* One format of one plugin: what it supports and the names and sizes it must produce. Volumes are
 * made for VMID 100, clones for 101, renames go to 102. */
typedef struct spt_format {
	const char *fmt;
	const char *volname; /* the first free volume's name, e.g. "100/vm-100-disk-0.raw" */
	const char *path; /* its path, or NULL not to compare (it must exist in any case) */
	uint64_t size; /* allocated with this size (a multiple of what the backend rounds to) */
	uint64_t grown; /* then grown to this; 0: resize must be refused */
	bool snapshots; /* snapshot, rollback and delete work */
	bool data; /* the path is the raw data (file or block device): snapshots keep the bytes */
	bool subvol; /* the path is a directory (a container volume) */
	const char *base; /* the name after create_base; NULL: templates must be refused */
	const char *clone; /* the linked clone of base for VMID 101; NULL: it must be refused */
	bool base_busy; /* the base can't be freed while its clone lives */
	const char *renamed; /* the name after a rename of volname to VMID 102, or NULL to skip */
} spt_format;

/* Names for the refusals: a name to allocate, the volname that gives, and a volname that does not
 * exist. */
typedef struct spt_names {
	const char *fmt;
	const char *name; /* "vm-100-disk-7" */
	const char *volname; /* what alloc returns for it */
	const char *missing; /* a well-formed volname that is not there */
	uint64_t size;
} spt_names;

static bool spt_in_listing(const pve_storage *st, long long vmid, const char *volid, uint64_t *size)
{
	pve_volume_info *v = NULL;
	size_t n = 0;
	bool found = false;
	pve_error *err = NULL;
	if (pve_storage_list_volumes(st, vmid, PVE_CONTENT_ALL, &v, &n, &err) < 0) {
		test_fail(__FILE__, __LINE__, "list: %s", err->message);
		pve_error_free(err);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].volid, volid)) {
			found = true;
			if (size)
				*size = v[i].size;
		}
	pve_volume_infos_free(v, n);
	return found;
}

/* Writes 8 bytes of marker at the volume's start (or into a file in a subvolume), synced. */
static bool spt_write(const char *path, bool subvol, const char *marker)
{
	_cleanup_free_ char *f = subvol ? xasprintf("%s/marker", path) : xstrdup(path);
	_cleanup_close_ int fd =
		open(f, O_WRONLY | O_CLOEXEC | (subvol ? O_CREAT | O_TRUNC : 0), 0644);
	return fd >= 0 && pwrite(fd, marker, 8, 0) == 8 && fsync(fd) == 0;
}

static bool spt_has(const char *path, bool subvol, const char *marker)
{
	_cleanup_free_ char *f = subvol ? xasprintf("%s/marker", path) : xstrdup(path);
	_cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
	char buf[8];
	return fd >= 0 && pread(fd, buf, 8, 0) == 8 && memcmp(buf, marker, 8) == 0;
}

/* Fails the case with the error's message when r < 0; true if it succeeded. */
#define spt_ok(what, r, err)                                                      \
	({                                                                        \
		int r_ = (r);                                                     \
		if (r_ < 0)                                                       \
			test_fail(__FILE__, __LINE__, "%s: %s: %s", f->fmt, what, \
				  err ? err->message : "(no message)");           \
		pve_error_free(err);                                              \
		err = NULL;                                                       \
		r_ >= 0;                                                          \
	})

static void spt_snapshots(const pve_storage *st, const spt_format *f, const char *vn,
			  const char *path)
{
	pve_error *err = NULL;
	int r;
	check(pve_storage_volume_has_feature(st, PVE_FEATURE_SNAPSHOT, vn, NULL) == f->snapshots);
	if (!f->snapshots) {
		check(pve_storage_volume_snapshot(st, vn, "snap1", &err) < 0);
		check(err != NULL);
		pve_error_free(err);
		return;
	}
	if (f->data || f->subvol)
		check(spt_write(path, f->subvol, "before.."));
	if (!spt_ok("snapshot", pve_storage_volume_snapshot(st, vn, "snap1", &err), err))
		return;
	char *spath = NULL;
	/* block snapshots are not activated (Proxmox's thin snapshots skip activation) */
	if (pve_storage_path(st, vn, "snap1", &spath, NULL) == 0 &&
	    (f->subvol || (f->data && !startswith(spath, "/dev/"))))
		check(access(spath, F_OK) == 0);
	free(spath);
	/* twice */
	r = pve_storage_volume_snapshot(st, vn, "snap1", &err);
	pve_error_free(err);
	err = NULL;
	check(r < 0);
	if (f->data || f->subvol) {
		check(spt_write(path, f->subvol, "after..."));
		check(spt_has(path, f->subvol, "after..."));
	}
	spt_ok("rollback", pve_storage_volume_snapshot_rollback(st, vn, "snap1", &err), err);
	if (f->data || f->subvol)
		check(spt_has(path, f->subvol, "before.."));
	spt_ok("snapshot delete", pve_storage_volume_snapshot_delete(st, vn, "snap1", &err), err);
	check(pve_storage_volume_snapshot_rollback(st, vn, "snap1", &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_snapshot_delete(st, vn, "snap1", &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_snapshot(st, vn, "../x", &err) == -EINVAL);
	pve_error_free(err);
	/* a snapshot left behind goes with its volume */
	check(pve_storage_volume_snapshot(st, vn, "keep", NULL) == 0);
}

/* Template, linked clone, and freeing them in the right order; frees vn (or its base). */
static void spt_base_clone(const pve_storage *st, const spt_format *f, const char *vn)
{
	pve_error *err = NULL;
	if (!f->base) {
		check(!pve_storage_volume_has_feature(st, PVE_FEATURE_TEMPLATE, vn, NULL));
		check(pve_storage_create_base(st, vn, NULL, &err) < 0);
		pve_error_free(err);
		err = NULL;
		spt_ok("free", pve_storage_free_image(st, vn, &err), err);
		return;
	}
	/* a volume with snapshots can't become a template on block storages: drop them first */
	if (f->snapshots)
		pve_storage_volume_snapshot_delete(st, vn, "keep", NULL);
	check(pve_storage_volume_has_feature(st, PVE_FEATURE_TEMPLATE, vn, NULL));
	char *base = NULL;
	if (!spt_ok("create_base", pve_storage_create_base(st, vn, &base, &err), err)) {
		pve_storage_free_image(st, vn, NULL);
		return;
	}
	check_streq(base, f->base);
	/* a btrfs subvolume made a template keeps its name (read-only): no base by name, no linked
	 * clone of it (Proxmox's feature table) */
	check(pve_storage_volume_has_feature(st, PVE_FEATURE_CLONE, base, NULL) == !!f->clone);
	if (f->clone)
		check(!pve_storage_volume_has_feature(st, PVE_FEATURE_SNAPSHOT, base, NULL));
	check(pve_storage_volume_resize(st, base, f->grown ? f->grown * 2 : f->size * 2, &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_create_base(st, base, NULL, &err) < 0);
	pve_error_free(err);
	err = NULL;
	char *clone = NULL;
	if (!f->clone) {
		check(pve_storage_clone_image(st, base, 101, NULL, &clone, &err) < 0);
		pve_error_free(err);
		err = NULL;
	} else if (spt_ok("clone", pve_storage_clone_image(st, base, 101, NULL, &clone, &err),
			  err)) {
		check_streq(clone, f->clone);
		_cleanup_free_ char *cvolid = xasprintf("%s:%s", st->id, clone);
		check(spt_in_listing(st, 101, cvolid, NULL));
		char *cpath = NULL;
		check(pve_storage_path(st, clone, NULL, &cpath, NULL) == 0);
		if (cpath && (f->data || f->subvol))
			check(spt_has(cpath, f->subvol, "before.."));
		free(cpath);
		if (f->base_busy) {
			check(pve_storage_free_image(st, base, &err) == -EBUSY);
			pve_error_free(err);
			err = NULL;
		}
		spt_ok("free clone", pve_storage_free_image(st, clone, &err), err);
		free(clone);
	}
	spt_ok("free base", pve_storage_free_image(st, base, &err), err);
	check(pve_storage_free_image(st, base, &err) == -ENOENT);
	pve_error_free(err);
	free(base);
}

static void spt_one_format(const pve_storage *st, const spt_format *f)
{
	pve_error *err = NULL;
	char *vn = NULL;
	if (!spt_ok("alloc", pve_storage_alloc_image(st, 100, f->fmt, NULL, f->size, &vn, &err),
		    err))
		return;
	check_streq(vn, f->volname);
	_cleanup_free_ char *volid = xasprintf("%s:%s", st->id, vn);
	uint64_t lsize = 0;
	check(spt_in_listing(st, 100, volid, &lsize));
	check(!spt_in_listing(st, 101, volid, NULL));
	if (!f->subvol)
		check_int(lsize, f->size);

	char *path = NULL;
	spt_ok("path", pve_storage_path(st, vn, NULL, &path, &err), err);
	if (path && f->path)
		check_streq(path, f->path);
	check(path && access(path, F_OK) == 0);

	uint64_t size = 0;
	char *fmt = NULL;
	if (spt_ok("size", pve_storage_volume_size(st, vn, &size, NULL, &fmt, &err), err)) {
		if (!f->subvol)
			check_int(size, f->size);
		check_streq(fmt, f->fmt);
	}
	free(fmt);

	int r = pve_storage_volume_resize(st, vn, f->grown ? f->grown : f->size * 2, &err);
	check((r == 0) == (f->grown != 0));
	pve_error_free(err);
	err = NULL;
	if (f->grown && !f->subvol) {
		check(pve_storage_volume_size(st, vn, &size, NULL, NULL, NULL) == 0);
		check_int(size, f->grown);
		check(pve_storage_volume_resize(st, vn, f->size, &err) == -EINVAL);
		check(err && strstr(err->message, "shrinking"));
		pve_error_free(err);
		err = NULL;
	}

	spt_snapshots(st, f, vn, path);

	if (f->renamed) {
		char *renamed = NULL;
		if (spt_ok("rename", pve_storage_rename_volume(st, vn, 102, NULL, &renamed, &err),
			   err)) {
			check_streq(renamed, f->renamed);
			check(!spt_in_listing(st, 0, volid, NULL));
			_cleanup_free_ char *rvolid = xasprintf("%s:%s", st->id, renamed);
			check(spt_in_listing(st, 102, rvolid, NULL));
			/* and back, so the template step has its volume */
			char *back = NULL;
			_cleanup_free_ char *stem = NULL;
			const char *slash = strrchr(f->volname, '/');
			stem = xstrdup(slash ? slash + 1 : f->volname);
			spt_ok("rename back",
			       pve_storage_rename_volume(st, renamed, 100, stem, &back, &err), err);
			if (back)
				check_streq(back, f->volname);
			free(back);
			free(renamed);
		}
	}

	spt_base_clone(st, f, vn);
	check(!spt_in_listing(st, 0, volid, NULL));
	check(path && access(path, F_OK) < 0);
	check(pve_storage_free_image(st, vn, &err) == -ENOENT);
	pve_error_free(err);
	free(path);
	free(vn);
}

/* The storage must be active and hold no volumes of VMIDs 100-102. */
_unused_ static void spt_run_table(const pve_storage *st, const spt_format *formats, size_t n)
{
	pve_storage_status ss;
	check(pve_storage_get_status(st, &ss, NULL) == 0);
	check(ss.active && ss.total > 0 && ss.avail <= ss.total && ss.used <= ss.total);
	for (size_t i = 0; i < n; i++)
		spt_one_format(st, &formats[i]);
}

/* What every plugin must refuse, with nothing changed. */
_unused_ static void spt_refusals(const pve_storage *st, const spt_names *nm)
{
	pve_error *err = NULL;
	char *vn = NULL;
	check(pve_storage_alloc_image(st, 100, "qed", NULL, nm->size, &vn, &err) == -EINVAL);
	check(err && streq_ptr(err->param, "format"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(st, 100, nm->fmt, "vm-101-disk-0", nm->size, &vn, &err) ==
	      -EINVAL);
	check(err && streq_ptr(err->param, "filename"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(st, 100, nm->fmt, "vm-100-../../x", nm->size, &vn, &err) ==
	      -EINVAL);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(st, 100, nm->fmt, NULL, 0, &vn, &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(st, 99, nm->fmt, NULL, nm->size, &vn, &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_free_image(st, "../x", &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_free_image(st, nm->missing, &err) == -ENOENT);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_resize(st, nm->missing, nm->size, &err) < 0);
	pve_error_free(err);
	err = NULL;

	if (pve_storage_alloc_image(st, 100, nm->fmt, nm->name, nm->size, &vn, &err) < 0) {
		test_fail(__FILE__, __LINE__, "alloc %s: %s", nm->name, err->message);
		pve_error_free(err);
		return;
	}
	check_streq(vn, nm->volname);
	char *vn2 = NULL;
	err = NULL;
	check(pve_storage_alloc_image(st, 100, nm->fmt, nm->name, nm->size, &vn2, &err) == -EEXIST);
	pve_error_free(err);
	err = NULL;
	char *clone = NULL;
	check(!pve_storage_volume_has_feature(st, PVE_FEATURE_CLONE, vn, NULL));
	check(pve_storage_clone_image(st, vn, 101, NULL, &clone, &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_clone_image(st, vn, 1, NULL, &clone, &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_free_image(st, vn, NULL) == 0);
	free(vn);
}

/* ---- export and import between two storages ---------------------------------------------------------- */

/* One transfer: a volume allocated on src (VMID 100), exported as format, imported on dst as target. */
typedef struct spt_xfer {
	const pve_storage *src;
	const char *fmt;
	uint64_t size;
	const char *format;
	const pve_storage *dst;
	const char *target; /* the volume name to import as (VMID 103) */
	const char *renamed; /* what a second import of the same name with allow_rename gives */
} spt_xfer;

/* Whether the first n bytes of two files or devices are the same (n 0: the whole files, same size). */
static bool spt_same_bytes(const char *a, const char *b, uint64_t n)
{
	_cleanup_close_ int fa = open(a, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int fb = open(b, O_RDONLY | O_CLOEXEC);
	struct stat sa, sb;
	if (fa < 0 || fb < 0 || fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0)
		return false;
	if (n == 0) {
		if (sa.st_size != sb.st_size)
			return false;
		n = (uint64_t)sa.st_size;
	}
	static char ba[65536], bb[65536];
	for (uint64_t off = 0; off < n;) {
		size_t k = n - off < sizeof(ba) ? (size_t)(n - off) : sizeof(ba);
		if (pread(fa, ba, k, (off_t)off) != (ssize_t)k ||
		    pread(fb, bb, k, (off_t)off) != (ssize_t)k || memcmp(ba, bb, k) != 0)
			return false;
		off += k;
	}
	return true;
}

static size_t spt_count(const pve_storage *st, long long vmid)
{
	pve_volume_info *v = NULL;
	size_t n = 0;
	if (pve_storage_list_volumes(st, vmid, PVE_CONTENT_ALL, &v, &n, NULL) < 0)
		return (size_t)-1;
	pve_volume_infos_free(v, n);
	return n;
}

/* Two processes allocating per_child volumes each for vmid on st at once: every allocation succeeds,
 * no name is given twice, and st then holds 2 * per_child volumes of vmid. Frees them. */
static void spt_alloc_concurrent(const pve_storage *st, long long vmid, const char *fmt,
				 uint64_t size, int per_child)
{
	int pipes[2][2];
	pid_t pids[2];
	for (int k = 0; k < 2; k++) {
		check(pipe2(pipes[k], O_CLOEXEC) == 0);
		pids[k] = fork();
		if (pids[k] == 0) {
			FILE *f = fdopen(pipes[k][1], "w");
			for (int i = 0; i < per_child; i++) {
				char *vn = NULL;
				pve_error *err = NULL;
				if (pve_storage_alloc_image(st, vmid, fmt, NULL, size, &vn, &err) <
				    0) {
					fprintf(f, "error %s\n", err->message);
					fclose(f);
					_exit(1);
				}
				fprintf(f, "%s\n", vn);
				free(vn);
			}
			fclose(f);
			_exit(0);
		}
		close(pipes[k][1]);
	}
	char *names[128];
	size_t n = 0;
	for (int k = 0; k < 2; k++) {
		FILE *f = fdopen(pipes[k][0], "r");
		char line[512];
		while (f && fgets(line, sizeof(line), f) && n < ELEMENTSOF(names)) {
			line[strcspn(line, "\n")] = '\0';
			if (startswith(line, "error "))
				test_fail(__FILE__, __LINE__, "%s", line);
			else
				names[n++] = xstrdup(line);
		}
		if (f)
			fclose(f);
		int status;
		check(waitpid(pids[k], &status, 0) == pids[k] && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0);
	}
	check_int(n, 2 * per_child);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (streq(names[i], names[j]))
				test_fail(__FILE__, __LINE__, "%s allocated twice", names[i]);
	check_int(spt_count(st, vmid), 2 * per_child);
	for (size_t i = 0; i < n; i++) {
		check(pve_storage_free_image(st, names[i], NULL) == 0);
		free(names[i]);
	}
}

/* Exports snapshot snap of src's volume vn as raw+size and imports it on the dir storage dst: the copy
 * holds what vn held when the snapshot was taken ("snapdata", written with spt_write), and is freed
 * again. */
_unused_ static void spt_snapshot_copy(const pve_storage *src, const char *vn, const char *snap,
				       const pve_storage *dst)
{
	pve_error *err = NULL;
	_cleanup_free_ char *stream = xasprintf("%s/snap.stream", test_tmpdir());
	_cleanup_free_ char *imp = NULL, *ipath = NULL;
	_cleanup_close_ int fd = open(stream, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(pve_storage_volume_export(src, vn, "raw+size", snap, fd, &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(lseek(fd, 0, SEEK_SET) == 0);
	check(pve_storage_volume_import(dst, "103/vm-103-disk-0.raw", "raw+size", fd, false, &imp,
					&err) == 0);
	pve_error_free(err);
	if (imp && pve_storage_path(dst, imp, NULL, &ipath, NULL) == 0)
		check(spt_has(ipath, false, "snapdata"));
	if (imp)
		check(pve_storage_free_image(dst, imp, NULL) == 0);
}

/* A file holding bytes [0, len) of another, or with a header and body of our own. */
static char *spt_stream_file(const char *name, const char *from, size_t len, const void *data,
			     size_t dlen)
{
	char *p = xasprintf("%s/%s", test_tmpdir(), name);
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (from) {
		_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
		_cleanup_free_ char *buf = xmalloc(len ? len : 1);
		if (in < 0 || pread(in, buf, len, 0) != (ssize_t)len ||
		    write(fd, buf, len) != (ssize_t)len)
			test_fail(__FILE__, __LINE__, "copy of %s failed", from);
	}
	if (data && write(fd, data, dlen) != (ssize_t)dlen)
		test_fail(__FILE__, __LINE__, "write of %s failed", p);
	return p;
}

/* Imports the stream in file as target on dst; the result (and *err) as the call returns them. */
static int spt_import_file(const pve_storage *dst, const char *target, const char *format,
			   const char *file, bool allow_rename, char **ret, pve_error **err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return pve_storage_volume_import(dst, target, format, fd, allow_rename, ret, err);
}

/* A stream import must refuse, leaving no volume of VMID 103 behind. */
static void spt_import_refused(const spt_xfer *x, const char *what, const char *format,
			       const char *file)
{
	size_t before = spt_count(x->dst, 103);
	char *vn = NULL;
	pve_error *err = NULL;
	int r = spt_import_file(x->dst, x->target, format, file, false, &vn, &err);
	if (r >= 0) {
		test_fail(__FILE__, __LINE__, "%s -> %s: %s stream accepted as %s", x->fmt,
			  x->target, what, vn);
		pve_storage_free_image(x->dst, vn, NULL);
	} else if (!err || !err->message[0]) {
		test_fail(__FILE__, __LINE__, "%s: no message", what);
	}
	pve_error_free(err);
	free(vn);
	if (spt_count(x->dst, 103) != before)
		test_fail(__FILE__, __LINE__, "%s -> %s: a %s stream left a volume", x->fmt,
			  x->target, what);
}

_unused_ static void spt_export_import(const spt_xfer *x)
{
	const spt_format fx = { .fmt = x->fmt };
	const spt_format *f = &fx;
	pve_error *err = NULL;
	char *vn = NULL;
	if (!spt_ok("alloc", pve_storage_alloc_image(x->src, 100, x->fmt, NULL, x->size, &vn, &err),
		    err))
		return;
	_cleanup_free_ char *spath = NULL;
	spt_ok("path", pve_storage_path(x->src, vn, NULL, &spath, &err), err);
	bool subvol = streq(x->fmt, "subvol"), raw = streq(x->fmt, "raw");
	if (spath && raw) {
		/* a pattern at the start, the middle and the end */
		_cleanup_close_ int fd = open(spath, O_WRONLY | O_CLOEXEC);
		check(fd >= 0 && pwrite(fd, "start...", 8, 0) == 8 &&
		      pwrite(fd, "middle..", 8, (off_t)x->size / 2) == 8 &&
		      pwrite(fd, "end.....", 8, (off_t)x->size - 8) == 8 && fsync(fd) == 0);
	} else if (spath && subvol) {
		check(spt_write(spath, true, "subvol.."));
	}

	char **formats = NULL;
	if (spt_ok("export formats",
		   pve_storage_volume_export_formats(x->src, vn, NULL, &formats, &err), err))
		check(formats && formats[0] && streq(formats[0], x->format));
	strv_free(formats);
	_cleanup_free_ char *stream = xasprintf("%s/stream.%s", test_tmpdir(), x->format);
	{
		_cleanup_close_ int out =
			open(stream, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		check(out >= 0);
		spt_ok("export", pve_storage_volume_export(x->src, vn, x->format, NULL, out, &err),
		       err);
	}
	/* the header: the virtual size for raw, the file's for images */
	struct stat st;
	unsigned char h[8] = { 0 };
	_cleanup_close_ int sfd = open(stream, O_RDONLY | O_CLOEXEC);
	check(sfd >= 0 && fstat(sfd, &st) == 0 && pread(sfd, h, 8, 0) == 8);
	uint64_t hsize = 0;
	for (int i = 7; i >= 0; i--)
		hsize = hsize << 8 | h[i];
	if (raw)
		check(hsize == x->size && (uint64_t)st.st_size == x->size + 8);
	else if (!subvol)
		check((uint64_t)st.st_size == hsize + 8);

	char *imported = NULL;
	if (spt_ok("import",
		   spt_import_file(x->dst, x->target, x->format, stream, false, &imported, &err),
		   err)) {
		check_streq(imported, x->target);
		_cleanup_free_ char *dpath = NULL;
		spt_ok("path", pve_storage_path(x->dst, imported, NULL, &dpath, &err), err);
		if (dpath && subvol)
			check(spt_has(dpath, true, "subvol.."));
		else if (dpath)
			check(spt_same_bytes(spath, dpath, raw ? x->size : 0));
		uint64_t size = 0;
		if (!subvol &&
		    pve_storage_volume_size(x->dst, imported, &size, NULL, NULL, NULL) == 0)
			check(size >= x->size);

		/* the name is taken now: refused, or the next with allow_rename */
		char *again = NULL;
		check(spt_import_file(x->dst, x->target, x->format, stream, false, &again, &err) ==
		      -EEXIST);
		check(err && strstr(err->message, "already exists"));
		pve_error_free(err);
		err = NULL;
		if (spt_ok("import --allow-rename",
			   spt_import_file(x->dst, x->target, x->format, stream, true, &again,
					   &err),
			   err)) {
			check_streq(again, x->renamed);
			spt_ok("free renamed", pve_storage_free_image(x->dst, again, &err), err);
		}
		free(again);
		spt_ok("free imported", pve_storage_free_image(x->dst, imported, &err), err);
	}
	free(imported);

	/* what must be refused, leaving nothing behind */
	/* a tar stream cut in its end blocks still holds every file: cut it in the first header */
	_cleanup_free_ char *half =
		spt_stream_file("half", stream, subvol ? 8 + 300 : (size_t)st.st_size / 2, NULL, 0);
	spt_import_refused(x, "truncated", x->format, half);
	if (!subvol) {
		_cleanup_free_ char *more =
			spt_stream_file("more", stream, (size_t)st.st_size, "x", 1);
		spt_import_refused(x, "overlong", x->format, more);
	}
	_cleanup_free_ char *tiny = spt_stream_file("tiny", NULL, 0, "\1\0\0", 3);
	spt_import_refused(x, "3-byte", x->format, tiny);
	static const unsigned char huge[8] = { 0, 0, 0, 0, 0, 0, 1, 0 }; /* 2^48 */
	_cleanup_free_ char *big = spt_stream_file("big", NULL, 0, huge, sizeof(huge));
	spt_import_refused(x, "oversized", x->format, big);
	spt_import_refused(x, "wrong-format", subvol ? "raw+size" : "tar+size", stream);
	spt_import_refused(x, "unknown-format", "zfs", stream);
	if (!raw && !subvol) {
		/* an image stream that is no image */
		unsigned char bad[8 + 4096] = { 0, 16 };
		_cleanup_free_ char *junk = spt_stream_file("junk", NULL, 0, bad, sizeof(bad));
		spt_import_refused(x, "junk", x->format, junk);
	}
	spt_ok("free source", pve_storage_free_image(x->src, vn, &err), err);
	free(vn);
}
