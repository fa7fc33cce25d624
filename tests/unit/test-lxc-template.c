/* Unit tests of lxc_template_extract: archives the test writes with libarchive, each hostile case
 * (absolute paths, "..", symlinks and hard links pointing out, devices, setuid files of unmapped
 * owners, a full volume) checked for what lands where. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lxc/lxc.h"
#include "tests/unit/test.h"

typedef struct ent {
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO; 0 ends the list */
	const char *path;
	const char *data; /* file contents, or the symlink's target */
	const char *hlink; /* a hard link's target */
	mode_t perm;
	uid_t uid;
	gid_t gid;
	int64_t size; /* a declared size beyond data (a header only); 0: data's */
} ent;

static void write_ents(struct archive *a, const ent *ents)
{
	for (const ent *e = ents; e->type; e++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e->path);
		archive_entry_set_filetype(ae, e->hlink ? AE_IFREG : e->type);
		archive_entry_set_perm(ae, e->perm ? e->perm : (e->type == AE_IFDIR ? 0755 : 0644));
		archive_entry_set_uid(ae, e->uid);
		archive_entry_set_gid(ae, e->gid);
		if (e->hlink)
			archive_entry_set_hardlink(ae, e->hlink);
		if (e->type == AE_IFLNK)
			archive_entry_set_symlink(ae, e->data);
		if (e->type == AE_IFCHR)
			archive_entry_set_rdev(ae, makedev(1, 3));
		size_t len = e->type == AE_IFREG && !e->hlink && e->data ? strlen(e->data) : 0;
		archive_entry_set_size(ae, e->size ? e->size : (int64_t)len);
		check(archive_write_header(a, ae) == ARCHIVE_OK);
		if (len)
			check(archive_write_data(a, e->data, len) == (ssize_t)len);
		archive_entry_free(ae);
	}
}

/* What makes an archive a root filesystem to Proxmox's check (an sbin, ten entries), written after a
 * case's own entries. */
static const ent rootfs_pad[] = {
	{ .type = AE_IFDIR, .path = "./sbin/" },
	{ .type = AE_IFREG, .path = "./pad1" },
	{ .type = AE_IFREG, .path = "./pad2" },
	{ .type = AE_IFREG, .path = "./pad3" },
	{ .type = AE_IFREG, .path = "./pad4" },
	{ .type = AE_IFREG, .path = "./pad5" },
	{ .type = AE_IFREG, .path = "./pad6" },
	{ .type = AE_IFREG, .path = "./pad7" },
	{ .type = AE_IFREG, .path = "./pad8" },
	{ .type = AE_IFREG, .path = "./pad9" },
	{ 0 },
};

/* Writes a tar (pax) of ents into path, through the filter given (ARCHIVE_FILTER_*); with pad, the
 * entries a root filesystem needs after them. */
static void write_tar_pad(const char *path, int filter, const ent *ents, bool pad)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter(a, filter);
	check(archive_write_open_filename(a, path) == ARCHIVE_OK);
	write_ents(a, ents);
	if (pad)
		write_ents(a, rootfs_pad);
	archive_write_close(a);
	archive_write_free(a);
}

static void write_tar(const char *path, int filter, const ent *ents)
{
	write_tar_pad(path, filter, ents, true);
}

static char *mkroot(const char *name)
{
	char *p = xasprintf("%s/%s", test_tmpdir(), name);
	check(mkdir(p, 0755) == 0);
	return p;
}

static int extract(const ent *ents, const char *root, const lxc_idmap *maps, size_t n,
		   pve_error **err)
{
	_cleanup_free_ char *ar = xasprintf("%s/t.tar", test_tmpdir());
	write_tar(ar, ARCHIVE_FILTER_NONE, ents);
	return lxc_template_extract(ar, root, maps, n, err);
}

static char *slurp(const char *path)
{
	char buf[4096];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	return xstrndup(buf, (size_t)n);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static bool empty_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

static const lxc_idmap unpriv[] = {
	{ 'u', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
	{ 'g', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
};

static void test_basic(void)
{
	_cleanup_free_ char *root = mkroot("root");
	const ent ents[] = {
		{ .type = AE_IFDIR, .path = "./" },
		{ .type = AE_IFDIR, .path = "./etc/" },
		{ .type = AE_IFREG, .path = "./etc/hostname", .data = "box\n" },
		{ .type = AE_IFLNK, .path = "./etc/link", .data = "/etc/hostname" },
		{ .type = AE_IFREG, .path = "./etc/hard", .hlink = "./etc/hostname" },
		{ .type = AE_IFREG,
		  .path = "./deep/er/file",
		  .data = "made parents\n",
		  .perm = 0600 },
		{ .type = AE_IFIFO, .path = "./run/fifo" },
		{ .type = AE_IFREG, .path = "./bin/su", .data = "suid\n", .perm = 04755 },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	check_int(extract(ents, root, NULL, 0, &err), 0);
	check(!err);
	_cleanup_free_ char *p = xasprintf("%s/etc/hostname", root);
	_cleanup_free_ char *c = slurp(p);
	check_streq(c, "box\n");
	struct stat a, b;
	_cleanup_free_ char *h = xasprintf("%s/etc/hard", root);
	check(stat(p, &a) == 0 && stat(h, &b) == 0 && a.st_ino == b.st_ino);
	_cleanup_free_ char *l = xasprintf("%s/etc/link", root);
	char t[64] = { 0 };
	check(readlink(l, t, sizeof(t) - 1) > 0);
	check_streq(t, "/etc/hostname");
	_cleanup_free_ char *d = xasprintf("%s/deep/er/file", root);
	check(stat(d, &a) == 0 && (a.st_mode & 07777) == 0600);
	_cleanup_free_ char *f = xasprintf("%s/run/fifo", root);
	check(lstat(f, &a) == 0 && S_ISFIFO(a.st_mode));
	_cleanup_free_ char *su = xasprintf("%s/bin/su", root);
	check(stat(su, &a) == 0 && (a.st_mode & 07777) == 04755 && a.st_uid == 0);
}

static void test_compressions(void)
{
	static const int filters[] = { ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_ZSTD,
				       ARCHIVE_FILTER_NONE };
	const ent ents[] = { { .type = AE_IFREG, .path = "./f", .data = "data\n" }, { 0 } };
	for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
		/* Named .bin: the compression is found from the content. */
		_cleanup_free_ char *ar = xasprintf("%s/t%zu.bin", test_tmpdir(), i);
		write_tar(ar, filters[i], ents);
		_cleanup_free_ char *name = xasprintf("root%zu", i);
		_cleanup_free_ char *root = mkroot(name);
		_cleanup_error_ pve_error *err = NULL;
		check_int(lxc_template_extract(ar, root, NULL, 0, &err), 0);
		_cleanup_free_ char *p = xasprintf("%s/f", root);
		_cleanup_free_ char *c = slurp(p);
		check_streq(c, "data\n");
	}
}

static void test_unprivileged_shift(void)
{
	_cleanup_free_ char *root = mkroot("root");
	const ent ents[] = {
		{ .type = AE_IFDIR, .path = "./" },
		{ .type = AE_IFREG, .path = "./bin/su", .data = "suid\n", .perm = 04755 },
		{ .type = AE_IFREG,
		  .path = "./home/user",
		  .data = "u\n",
		  .perm = 0640,
		  .uid = 1000,
		  .gid = 1000 },
		{ .type = AE_IFREG,
		  .path = "./bin/evil",
		  .data = "outside\n",
		  .perm = 06755,
		  .uid = 70000,
		  .gid = 0 },
		{ .type = AE_IFLNK, .path = "./lnk", .data = "bin/su", .uid = 1000, .gid = 1000 },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	check_int(extract(ents, root, unpriv, 2, &err), 0);
	struct stat st;
	check(stat(root, &st) == 0 && st.st_uid == 100000 && st.st_gid == 100000);
	_cleanup_free_ char *su = xasprintf("%s/bin/su", root);
	check(stat(su, &st) == 0 && st.st_uid == 100000 && (st.st_mode & 07777) == 04755);
	_cleanup_free_ char *bin = xasprintf("%s/bin", root);
	check(stat(bin, &st) == 0 && st.st_uid == 100000);
	_cleanup_free_ char *u = xasprintf("%s/home/user", root);
	check(stat(u, &st) == 0 && st.st_uid == 101000 && st.st_gid == 101000);
	/* An owner the map does not cover: nobody, and no setuid/setgid. */
	_cleanup_free_ char *ev = xasprintf("%s/bin/evil", root);
	check(stat(ev, &st) == 0 && st.st_uid == 165534 && st.st_gid == 100000);
	check_int(st.st_mode & 07777, 0755);
	_cleanup_free_ char *l = xasprintf("%s/lnk", root);
	check(lstat(l, &st) == 0 && st.st_uid == 101000);
}

static void test_absolute_stripped(void)
{
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_free_ char *host = xasprintf("%s/outside-abs", test_tmpdir());
	_cleanup_free_ char *abs = xasprintf("%s/x", host);
	check(mkdir(host, 0755) == 0);
	const ent ents[] = { { .type = AE_IFREG, .path = abs, .data = "in the rootfs\n" }, { 0 } };
	_cleanup_error_ pve_error *err = NULL;
	check_int(extract(ents, root, NULL, 0, &err), 0);
	check(!exists(abs));
	_cleanup_free_ char *inside = xasprintf("%s%s", root, abs);
	check(exists(inside));
}

static void test_dotdot_refused(void)
{
	_cleanup_free_ char *root = mkroot("root");
	const ent ents[] = {
		{ .type = AE_IFREG, .path = "./ok", .data = "first\n" },
		{ .type = AE_IFREG, .path = "./a/../../escaped", .data = "out\n" },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	check(extract(ents, root, NULL, 0, &err) < 0);
	check(err && strstr(err->message, "leaves the rootfs"));
	_cleanup_free_ char *out = xasprintf("%s/escaped", test_tmpdir());
	check(!exists(out));
	/* A failed unpack leaves the directory as it found it. */
	check(empty_dir(root));
}

/* A symlink to a host directory, then an entry through it: it lands inside, where the symlink
 * resolves in the container's root, never in the host directory. */
static void test_symlink_parent(void)
{
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_free_ char *host = xasprintf("%s/outside", test_tmpdir());
	check(mkdir(host, 0755) == 0);
	const ent ents[] = {
		{ .type = AE_IFLNK, .path = "./abs", .data = host },
		{ .type = AE_IFREG, .path = "./abs/pwned", .data = "x\n" },
		{ .type = AE_IFLNK, .path = "./rel", .data = "../../../../../../../../.." },
		{ .type = AE_IFREG, .path = "./rel/pwned2", .data = "x\n" },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	int r = extract(ents, root, NULL, 0, &err);
	_cleanup_free_ char *p1 = xasprintf("%s/pwned", host);
	check(!exists(p1));
	check(!exists("/pwned2"));
	if (r == 0) {
		_cleanup_free_ char *in = xasprintf("%s%s/pwned", root, host);
		check(exists(in));
		_cleanup_free_ char *in2 = xasprintf("%s/pwned2", root);
		check(exists(in2));
	}
}

/* A symlink to a host file, then a regular file of that name: the second entry is skipped (Proxmox's
 * --skip-old-files), the symlink stays as it is, never written through; the host file untouched. */
static void test_symlink_overwrite(void)
{
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_free_ char *victim = xasprintf("%s/victim", test_tmpdir());
	_cleanup_close_ int fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	check(fd >= 0 && write(fd, "host\n", 5) == 5);
	const ent ents[] = {
		{ .type = AE_IFLNK, .path = "./f", .data = victim },
		{ .type = AE_IFREG, .path = "./f", .data = "container\n" },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	check_int(extract(ents, root, NULL, 0, &err), 0);
	_cleanup_free_ char *c = slurp(victim);
	check_streq(c, "host\n");
	_cleanup_free_ char *f = xasprintf("%s/f", root);
	struct stat st;
	check(lstat(f, &st) == 0 && S_ISLNK(st.st_mode));
}

/* Hard links to host files: by "..", by an absolute path, through a symlink. None may link a host
 * file into the rootfs. */
static void test_hardlink_out(void)
{
	struct stat host;
	check(stat("/etc/passwd", &host) == 0);
	static const char *targets[] = { "../../../../../../etc/passwd", "/etc/passwd",
					 "s/passwd" };
	for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
		_cleanup_free_ char *name = xasprintf("root%zu", i);
		_cleanup_free_ char *root = mkroot(name);
		const ent ents[] = {
			{ .type = AE_IFLNK, .path = "./s", .data = "/etc" },
			{ .type = AE_IFREG, .path = "./hl", .hlink = targets[i] },
			{ 0 },
		};
		_cleanup_error_ pve_error *err = NULL;
		check(extract(ents, root, NULL, 0, &err) < 0);
		_cleanup_free_ char *hl = xasprintf("%s/hl", root);
		struct stat st;
		check(lstat(hl, &st) < 0 || st.st_ino != host.st_ino);
		check(stat("/etc/passwd", &st) == 0 && st.st_nlink == host.st_nlink);
	}
}

static void test_devices_skipped(void)
{
	_cleanup_free_ char *root = mkroot("root");
	const ent ents[] = {
		{ .type = AE_IFCHR, .path = "./dev/mem" },
		{ .type = AE_IFREG, .path = "./after", .data = "x\n" },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	check_int(extract(ents, root, NULL, 0, &err), 0);
	_cleanup_free_ char *d = xasprintf("%s/dev/mem", root);
	check(!exists(d));
	_cleanup_free_ char *a = xasprintf("%s/after", root);
	check(exists(a));
}

static void test_not_empty(void)
{
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_free_ char *lf = xasprintf("%s/lost+found", root);
	check(mkdir(lf, 0700) == 0);
	const ent ents[] = { { .type = AE_IFREG, .path = "./f", .data = "x\n" }, { 0 } };
	_cleanup_error_ pve_error *err = NULL;
	/* lost+found (a new ext4 volume's) is allowed. */
	check_int(extract(ents, root, NULL, 0, &err), 0);
	pve_error_free(err);
	err = NULL;
	check_int(extract(ents, root, NULL, 0, &err), -EEXIST);
	check(err && strstr(err->message, "not empty"));
}

static void test_not_an_archive(void)
{
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_free_ char *ar = xasprintf("%s/junk.tar.gz", test_tmpdir());
	_cleanup_close_ int fd = open(ar, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	const char junk[] = "this is not a tar archive at all, but it is long enough to be read";
	check(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	_cleanup_error_ pve_error *err = NULL;
	check(lxc_template_extract(ar, root, NULL, 0, &err) < 0);
	check(err && strstr(err->message, "not a template archive"));
	pve_error_free(err);
	err = NULL;
	check_int(lxc_template_extract("/nonexistent/t.tar", root, NULL, 0, &err), -ENOENT);
	pve_error_free(err);
	err = NULL;
	/* a FIFO in its place: refused at once, not read (which would wait for a writer) */
	_cleanup_free_ char *fifo = xasprintf("%s/fifo.tar", test_tmpdir());
	check(mkfifo(fifo, 0600) == 0);
	check_int(lxc_template_extract(fifo, root, NULL, 0, &err), -EINVAL);
	check(!lxc_oci_is_image(fifo));
}

/* The volume bounds the unpack: a 1 MiB tmpfs refuses a 4 MiB file by its header, before writing. */
static void test_volume_full(void)
{
	_cleanup_free_ char *root = mkroot("root");
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0) {
		test_skip("cannot mount a tmpfs: %m");
		return;
	}
	const ent ents[] = { { .type = AE_IFREG, .path = "./big", .data = "x", .size = 4 << 20 },
			     { 0 } };
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_free_ char *ar = xasprintf("%s/t.tar", test_tmpdir());
	/* A header that claims 4 MiB with a short body: the check on the size comes first. */
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	check(archive_write_open_filename(a, ar) == ARCHIVE_OK);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, ents[0].path);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, 4 << 20);
	check(archive_write_header(a, ae) == ARCHIVE_OK);
	static char zero[64 * 1024];
	for (int i = 0; i < 64; i++)
		archive_write_data(a, zero, sizeof(zero));
	archive_entry_free(ae);
	archive_write_close(a);
	archive_write_free(a);
	check_int(lxc_template_extract(ar, root, NULL, 0, &err), -ENOSPC);
	check(err && strstr(err->message, "does not fit"));
	check(umount(root) == 0);
}

/* Proxmox's checks of a template: an sbin, ten entries; an entry whose name exists is skipped
 * (--skip-old-files); nothing below dev/ (tar's --exclude of dev's contents). */
static void test_not_a_rootfs(void)
{
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_free_ char *ar = xasprintf("%s/t.tar", test_tmpdir());
	const ent no_sbin[] = {
		{ .type = AE_IFREG, .path = "./a1" },
		{ .type = AE_IFREG, .path = "./a2" },
		{ .type = AE_IFREG, .path = "./a3" },
		{ .type = AE_IFREG, .path = "./a4" },
		{ .type = AE_IFREG, .path = "./a5" },
		{ .type = AE_IFREG, .path = "./a6" },
		{ .type = AE_IFREG, .path = "./a7" },
		{ .type = AE_IFREG, .path = "./a8" },
		{ .type = AE_IFREG, .path = "./a9" },
		{ .type = AE_IFREG, .path = "./a10" },
		{ 0 },
	};
	write_tar_pad(ar, ARCHIVE_FILTER_GZIP, no_sbin, false);
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_template_extract(ar, root, NULL, 0, &err), -EINVAL);
	check(err && strstr(err->message, "no 'sbin' directory (or link) found in archive"));
	check(empty_dir(root));
	pve_error_free(err);
	err = NULL;
	const ent few[] = { { .type = AE_IFLNK, .path = "./sbin", .data = "usr/sbin" },
			    { .type = AE_IFREG, .path = "./a1" },
			    { 0 } };
	write_tar_pad(ar, ARCHIVE_FILTER_NONE, few, false);
	check_int(lxc_template_extract(ar, root, NULL, 0, &err), -EINVAL);
	check(err && strstr(err->message, "less than 10 members in archive"));
	check(empty_dir(root));
}

static void test_skip_old_and_dev(void)
{
	_cleanup_free_ char *root = mkroot("root");
	const ent ents[] = {
		{ .type = AE_IFREG, .path = "./f", .data = "first\n" },
		{ .type = AE_IFREG, .path = "./f", .data = "second\n" },
		{ .type = AE_IFDIR, .path = "./d", .perm = 0700 },
		{ .type = AE_IFDIR, .path = "./d", .perm = 0750 },
		{ .type = AE_IFDIR, .path = "./dev" },
		{ .type = AE_IFREG, .path = "./dev/shm-file", .data = "x" },
		{ .type = AE_IFLNK, .path = "./dev/fd", .data = "/proc/self/fd" },
		{ 0 },
	};
	_cleanup_error_ pve_error *err = NULL;
	check_int(extract(ents, root, NULL, 0, &err), 0);
	_cleanup_free_ char *f = xasprintf("%s/f", root);
	_cleanup_free_ char *c = slurp(f);
	check_streq(c, "first\n");
	struct stat st;
	_cleanup_free_ char *d = xasprintf("%s/d", root);
	check(stat(d, &st) == 0 && (st.st_mode & 0777) == 0750);
	_cleanup_free_ char *dev = xasprintf("%s/dev", root);
	check(stat(dev, &st) == 0 && S_ISDIR(st.st_mode));
	check(empty_dir(dev));
}

/* Runs cmd (a template builder) once: the templates are cached in build/ct-templates/. */
static char *cached_template(const char *name, const char *builder)
{
	char *path = xasprintf("build/ct-templates/%s", name);
	if (access(path, R_OK) == 0 || !builder)
		return path;
	(void)mkdir("build", 0755);
	(void)mkdir("build/ct-templates", 0755);
	_cleanup_free_ char *cmd = xasprintf("%s %s", builder, path);
	if (system(cmd) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

/* mk-busybox-template's rootfs, unprivileged: the container's root owns it, the applets are links to
 * /bin/busybox, and its os-release makes it unmanaged (no set-up writes anything). */
static void test_busybox_template(void)
{
	if (access("tools/ct/mk-busybox-template", X_OK) < 0 || access("/bin/busybox", X_OK) < 0) {
		test_skip(
			"tools/ct/mk-busybox-template or busybox-static missing (run from the checkout)");
		return;
	}
	_cleanup_free_ char *tmpl =
		cached_template("busybox-pved_1.35_amd64.tar.zst", "tools/ct/mk-busybox-template");
	check(tmpl != NULL);
	if (!tmpl)
		return;
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_template_extract(tmpl, root, unpriv, 2, &err), 0);
	struct stat st;
	_cleanup_free_ char *bb = xasprintf("%s/bin/busybox", root);
	check(stat(bb, &st) == 0 && st.st_uid == 100000 && (st.st_mode & 0111));
	_cleanup_free_ char *ls = xasprintf("%s/bin/ls", root);
	char t[64] = { 0 };
	check(readlink(ls, t, sizeof(t) - 1) > 0);
	check_streq(t, "/bin/busybox");
	check_streq(lxc_ostype_detect(root), "unmanaged");
	lxc_setup s = { .hostname = "bb", .nameserver = "1.1.1.1" };
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	_cleanup_free_ char *hnp = xasprintf("%s/etc/hostname", root);
	_cleanup_free_ char *hn = slurp(hnp);
	check_streq(hn, "busybox\n");
}

/* mk-debian-template's rootfs (built once, a minute, with the mirror), unprivileged: detected as
 * debian 12, setuid programs of the container's root kept, and Proxmox's set-up written into it. */
static void test_debian_template(void)
{
	_cleanup_free_ char *tmpl = cached_template("debian-12-pved_12_amd64.tar.zst", NULL);
	if (access(tmpl, R_OK) < 0) {
		test_skip(
			"no %s: build it with tools/ct/mk-debian-template %s (a minute, needs the "
			"Debian mirror)",
			tmpl, tmpl);
		return;
	}
	_cleanup_free_ char *root = mkroot("root");
	_cleanup_error_ pve_error *err = NULL;
	check_int(lxc_template_extract(tmpl, root, unpriv, 2, &err), 0);
	if (err)
		test_fail(__FILE__, __LINE__, "%s", err->message);
	struct stat st;
	_cleanup_free_ char *pw = xasprintf("%s/usr/bin/passwd", root);
	check(stat(pw, &st) == 0 && st.st_uid == 100000 && (st.st_mode & S_ISUID));
	check_streq(lxc_ostype_detect(root), "debian");
	lxc_nic nic = { .name = "eth0", .ip = "10.0.3.2/24", .gw = "10.0.3.1", .ip6 = "auto" };
	lxc_setup s = { .hostname = "deb",
			.nameserver = "10.0.3.1",
			.searchdomain = "lan",
			.root_password_hash = "$6$x$y",
			.nics = &nic,
			.n_nics = 1 };
	check_int(lxc_setup_rootfs(root, &s, &err), 0);
	_cleanup_free_ char *ifp = xasprintf("%s/etc/network/interfaces", root);
	_cleanup_free_ char *ifs = slurp(ifp);
	check(ifs &&
	      strstr(ifs, "iface eth0 inet static\n\taddress 10.0.3.2/24\n\tgateway 10.0.3.1\n"));
	_cleanup_free_ char *sh = xasprintf("%s/etc/shadow", root);
	check(stat(sh, &st) == 0 && st.st_uid == 100000);
	_cleanup_free_ char *shadow = slurp(sh);
	check(shadow && startswith(shadow, "root:$6$x$y:"));
}

TEST_MAIN(TEST(test_basic), TEST(test_compressions), TEST(test_unprivileged_shift),
	  TEST(test_absolute_stripped), TEST(test_dotdot_refused), TEST(test_symlink_parent),
	  TEST(test_symlink_overwrite), TEST(test_hardlink_out), TEST(test_devices_skipped),
	  TEST(test_not_empty), TEST(test_not_an_archive), TEST(test_volume_full),
	  TEST(test_not_a_rootfs), TEST(test_skip_old_and_dev), TEST(test_busybox_template),
	  TEST(test_debian_template))
