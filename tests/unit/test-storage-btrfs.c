/* The btrfs plugin on a real btrfs: a sparse file in the case's temp dir on a loop device
 * (auto-cleared), mkfs.btrfs, mounted in this process's private mount namespace (so nothing
 * outlives the test, even when it dies), then the shared plugin table (storage-plugin-test.h), the
 * refusals, and what only btrfs does. */
#include <dirent.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/storage.h"
#include "tests/unit/storage-plugin-test.h"
#include "tests/unit/test.h"

#define FS_SIZE (512LL << 20)

typedef struct btrfs_fs {
	int loopfd;
	char *dev, *mnt;
	pve_sectioncfg *cfg;
	pve_storage st;
} btrfs_fs;

/* A free loop device backed by file, cleared by the kernel when its last user goes. */
static int loop_attach(const char *file, char **ret_dev)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	_cleanup_close_ int back = open(file, O_RDWR | O_CLOEXEC);
	if (ctl < 0 || back < 0)
		return -errno;
	for (int tries = 0; tries < 16; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return -errno;
		_cleanup_free_ char *dev = xasprintf("/dev/loop%d", n);
		int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		struct loop_config c = { .fd = (uint32_t)back };
		c.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(fd, LOOP_CONFIGURE, &c) == 0) {
			*ret_dev = TAKE_PTR(dev);
			return fd;
		}
		int e = errno;
		close(fd);
		if (e != EBUSY) /* another user took it between the two calls: try the next */
			return -e;
	}
	return -EBUSY;
}

static void fs_teardown(btrfs_fs *fs)
{
	if (fs->mnt && umount2(fs->mnt, 0) < 0)
		umount2(fs->mnt, MNT_DETACH);
	if (fs->loopfd >= 0)
		close(fs->loopfd);
	pve_sectioncfg_free(fs->cfg);
	free(fs->dev);
	free(fs->mnt);
	*fs = (btrfs_fs){ .loopfd = -1 };
}

/* false with the case skipped or failed when there is no btrfs to test on. */
static bool fs_setup(btrfs_fs *fs)
{
	*fs = (btrfs_fs){ .loopfd = -1 };
	if (geteuid() != 0)
		return test_skip("needs root (loop devices, mounts)"), false;
	if (access("/usr/sbin/mkfs.btrfs", X_OK) < 0 && access("/sbin/mkfs.btrfs", X_OK) < 0)
		return test_skip("no mkfs.btrfs (btrfs-progs)"), false;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return test_skip("no private mount namespace: %m"), false;
	_cleanup_free_ char *img = xasprintf("%s/btrfs.img", test_tmpdir());
	_cleanup_close_ int fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, FS_SIZE) < 0) {
		test_fail(__FILE__, __LINE__, "%s: %m", img);
		return false;
	}
	fs->loopfd = loop_attach(img, &fs->dev);
	if (fs->loopfd < 0) {
		test_skip("no loop device: %s", strerror(-fs->loopfd));
		return false;
	}
	pve_error *err = NULL;
	const char *mkfs[] = { "mkfs.btrfs", "-q", "-f", fs->dev, NULL };
	if (pve_storage_run(mkfs, NULL, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		fs_teardown(fs);
		return false;
	}
	_cleanup_free_ char *mnt = xasprintf("%s/store", test_tmpdir());
	if (mkdir(mnt, 0755) < 0 || mount(fs->dev, mnt, "btrfs", 0, NULL) < 0) {
		int e = errno;
		fs_teardown(fs);
		if (e == ENODEV)
			return test_skip("the kernel has no btrfs"), false;
		test_fail(__FILE__, __LINE__, "mount %s: %s", mnt, strerror(e));
		return false;
	}
	fs->mnt = TAKE_PTR(mnt);
	_cleanup_free_ char *text = xasprintf(
		"btrfs: test\n\tpath %s\n\tcontent images,rootdir,iso,backup\n\tis_mountpoint 1\n",
		fs->mnt);
	if (pve_storage_cfg_parse(text, strlen(text), &fs->cfg, &err) < 0 ||
	    pve_storage_get(fs->cfg, "test", &fs->st, &err) < 0 ||
	    pve_storage_activate(&fs->st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		fs_teardown(fs);
		return false;
	}
	return true;
}

static void btrfs_plugin_table(void)
{
	btrfs_fs fs;
	if (!fs_setup(&fs))
		return;
	const char *t = fs.mnt;
	_cleanup_free_ char *raw_path = xasprintf("%s/images/100/vm-100-disk-0/disk.raw", t);
	_cleanup_free_ char *sub_path = xasprintf("%s/images/100/subvol-100-disk-0.subvol", t);
	const spt_format formats[] = {
		{
			.fmt = "raw",
			.volname = "100/vm-100-disk-0.raw",
			.path = raw_path,
			.size = 4 << 20,
			.grown = 8 << 20,
			.snapshots = true,
			.data = true,
			.base = "100/base-100-disk-0.raw",
			.clone = "100/base-100-disk-0.raw/101/vm-101-disk-0.raw",
			.base_busy = true,
			.renamed = "102/vm-102-disk-0.raw",
		},
		{
			/* no quotas on this file system: size 0, and no size limit to change */
			.fmt = "subvol",
			.volname = "100/subvol-100-disk-0.subvol",
			.path = sub_path,
			.size = 0,
			.grown = 0,
			.snapshots = true,
			.subvol = true,
			/* Proxmox's: the name kept, the subvolume made read-only */
			.base = "100/subvol-100-disk-0.subvol",
			.renamed = "102/subvol-102-disk-0.subvol",
		},
	};
	spt_run_table(&fs.st, formats, ELEMENTSOF(formats));
	/* nothing left behind: images/100 holds no subvolume, no snapshot, no rollback leftover */
	_cleanup_free_ char *dir = xasprintf("%s/images/100", t);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
			test_fail(__FILE__, __LINE__, "left behind: %s/%s", dir, e->d_name);
	if (d)
		closedir(d);
	fs_teardown(&fs);
}

static void btrfs_plugin_refusals(void)
{
	btrfs_fs fs;
	if (!fs_setup(&fs))
		return;
	spt_refusals(&fs.st, &(spt_names){ .fmt = "raw",
					   .name = "vm-100-disk-7",
					   .volname = "100/vm-100-disk-7.raw",
					   .missing = "100/vm-100-disk-9.raw",
					   .size = 4 << 20 });
	pve_error *err = NULL;
	char *vn = NULL;
	/* formats btrfs does not hold */
	check(pve_storage_alloc_image(&fs.st, 100, "qcow2", NULL, 4 << 20, &vn, &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	/* a subvol size needs quotas, which are off */
	check(pve_storage_alloc_image(&fs.st, 100, "subvol", NULL, 8 << 20, &vn, &err) == -EINVAL);
	check(err && streq_ptr(err->param, "size"));
	pve_error_free(err);
	/* a directory that is not btrfs */
	_cleanup_free_ char *text = xasprintf("btrfs: other\n\tpath %s\n", test_tmpdir());
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	pve_storage st;
	check(pve_storage_cfg_parse(text, strlen(text), &c, NULL) == 0);
	if (c && pve_storage_get(c, "other", &st, NULL) == 0) {
		err = NULL;
		check(pve_storage_activate(&st, &err) == -EINVAL);
		check(err && strstr(err->message, "not on a btrfs file system"));
		pve_error_free(err);
		pve_storage_status ss;
		check(pve_storage_get_status(&st, &ss, NULL) == 0 && !ss.active);
	}
	fs_teardown(&fs);
}

static void btrfs_plugin_extras(void)
{
	btrfs_fs fs;
	if (!fs_setup(&fs))
		return;
	pve_error *err = NULL;
	/* a full clone from a snapshot of a plain volume: independent, no base */
	char *vn = NULL, *clone = NULL, *path = NULL, *cpath = NULL;
	check(pve_storage_alloc_image(&fs.st, 100, "raw", NULL, 4 << 20, &vn, NULL) == 0);
	check(pve_storage_path(&fs.st, vn, NULL, &path, NULL) == 0);
	check(spt_write(path, false, "snapdata"));
	check(pve_storage_volume_snapshot(&fs.st, vn, "s1", NULL) == 0);
	check(spt_write(path, false, "newdata."));
	check(pve_storage_volume_has_feature(&fs.st, PVE_FEATURE_CLONE, vn, "s1"));
	if (pve_storage_clone_image(&fs.st, vn, 101, "s1", &clone, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
	} else {
		check_streq(clone, "101/vm-101-disk-0.raw");
		check(pve_storage_path(&fs.st, clone, NULL, &cpath, NULL) == 0);
		check(cpath && spt_has(cpath, false, "snapdata"));
		check(pve_storage_free_image(&fs.st, clone, NULL) == 0);
	}
	check(spt_has(path, false, "newdata."));
	check(pve_storage_free_image(&fs.st, vn, NULL) == 0);
	free(vn);
	free(clone);
	free(path);
	free(cpath);

	/* with quotas on, a subvol gets a size limit that holds */
	_cleanup_close_ int mfd = open(fs.mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct btrfs_ioctl_quota_ctl_args q = { .cmd = BTRFS_QUOTA_CTL_ENABLE };
	if (mfd < 0 || ioctl(mfd, BTRFS_IOC_QUOTA_CTL, &q) < 0) {
		test_fail(__FILE__, __LINE__, "enabling quotas: %m");
	} else {
		vn = NULL;
		err = NULL;
		if (pve_storage_alloc_image(&fs.st, 100, "subvol", NULL, 8 << 20, &vn, &err) < 0) {
			test_fail(__FILE__, __LINE__, "%s", err->message);
			pve_error_free(err);
		} else {
			uint64_t size = 0;
			check(pve_storage_volume_size(&fs.st, vn, &size, NULL, NULL, NULL) == 0);
			check_int(size, 8 << 20);
			path = NULL;
			check(pve_storage_path(&fs.st, vn, NULL, &path, NULL) == 0);
			_cleanup_free_ char *f = xasprintf("%s/big", path);
			_cleanup_close_ int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			static char buf[1 << 20];
			memset(buf, 'x', sizeof(buf));
			/* writes stop at the limit (8 MiB), long before 32 MiB */
			uint64_t total = 0;
			int e = 0;
			while (fd >= 0 && total < (32 << 20)) {
				ssize_t w = write(fd, buf, sizeof(buf));
				if (w < 0 || (w == 0 && (errno = ENOSPC))) {
					e = errno;
					break;
				}
				total += (uint64_t)w;
			}
			if (!e && fd >= 0 && fsync(fd) < 0)
				e = errno;
			check(total < (16 << 20) && e == EDQUOT);
			check(pve_storage_volume_resize(&fs.st, vn, 64 << 20, NULL) == 0);
			check(pve_storage_volume_size(&fs.st, vn, &size, NULL, NULL, NULL) == 0);
			check_int(size, 64 << 20);
			free(path);
			check(pve_storage_free_image(&fs.st, vn, NULL) == 0);
			free(vn);
		}
	}

	/* other content is the dir plugin's, below the same path */
	_cleanup_free_ char *iso = xasprintf("%s/template/iso/x.iso", fs.mnt);
	FILE *fp = fopen(iso, "we");
	check(fp != NULL);
	if (fp)
		fclose(fp);
	check(spt_in_listing(&fs.st, 0, "test:iso/x.iso", NULL));
	path = NULL;
	check(pve_storage_path(&fs.st, "iso/x.iso", NULL, &path, NULL) == 0);
	check_streq(path, iso);
	free(path);
	check(pve_storage_free_image(&fs.st, "iso/x.iso", NULL) == 0);
	check(access(iso, F_OK) < 0);
	fs_teardown(&fs);
}

/* Streams between btrfs and a dir storage, both ways, raw and subvol, and a snapshot's export. */
static void btrfs_export_import(void)
{
	if (access("/bin/tar", X_OK) < 0)
		return test_skip("no /bin/tar");
	btrfs_fs fs;
	if (!fs_setup(&fs))
		return;
	_cleanup_free_ char *text =
		xasprintf("dir: plain\n\tpath %s/plain\n\tcontent images,rootdir\n", test_tmpdir());
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	pve_storage d;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &c, &err) < 0 ||
	    pve_storage_get(c, "plain", &d, &err) < 0 || pve_storage_activate(&d, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		fs_teardown(&fs);
		return;
	}
	const spt_xfer xfers[] = {
		{ &d, "raw", 4 << 20, "raw+size", &fs.st, "103/vm-103-disk-0.raw",
		  "103/vm-103-disk-1.raw" },
		{ &fs.st, "raw", 4 << 20, "raw+size", &d, "103/vm-103-disk-0.raw",
		  "103/vm-103-disk-1.raw" },
		{ &fs.st, "subvol", 0, "tar+size", &d, "103/subvol-103-disk-0.subvol",
		  "103/subvol-103-disk-1.subvol" },
		{ &d, "subvol", 0, "tar+size", &fs.st, "103/subvol-103-disk-0.subvol",
		  "103/subvol-103-disk-1.subvol" },
	};
	for (size_t i = 0; i < ELEMENTSOF(xfers); i++)
		spt_export_import(&xfers[i]);

	/* a snapshot exports as it was */
	char *vn = NULL, *path = NULL;
	check(pve_storage_alloc_image(&fs.st, 100, "raw", NULL, 4 << 20, &vn, NULL) == 0);
	check(pve_storage_path(&fs.st, vn, NULL, &path, NULL) == 0);
	check(path && spt_write(path, false, "snapdata"));
	check(pve_storage_volume_snapshot(&fs.st, vn, "s1", NULL) == 0);
	check(path && spt_write(path, false, "newdata."));
	spt_snapshot_copy(&fs.st, vn, "s1", &d);
	check(pve_storage_free_image(&fs.st, vn, NULL) == 0);
	free(vn);
	free(path);
	fs_teardown(&fs);
}

/* Whether lsattr shows the C (NOCOW) attribute on path. */
static bool has_nocow(const char *path)
{
	const char *argv[] = { "lsattr", "-d", path, NULL };
	_cleanup_free_ char *out = NULL;
	if (pve_storage_run(argv, &out, NULL) < 0)
		return false;
	return strchr(out, ' ') && memchr(out, 'C', (size_t)(strchr(out, ' ') - out));
}

/* nocow: the raw image file gets the NOCOW attribute, as Proxmox's; without it, none. A value that
 * is no boolean is refused naming nocow. */
static void btrfs_nocow(void)
{
	btrfs_fs fs;
	if (!fs_setup(&fs))
		return;
	if (access("/usr/bin/lsattr", X_OK) < 0 && access("/bin/lsattr", X_OK) < 0) {
		test_skip("no lsattr (e2fsprogs)");
		fs_teardown(&fs);
		return;
	}
	_cleanup_free_ char *text = xasprintf(
		"btrfs: nc\n\tpath %s\n\tcontent images\n\tis_mountpoint 1\n\tnocow 1\n", fs.mnt);
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &cfg, &err) < 0 ||
	    pve_storage_get(cfg, "nc", &st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		fs_teardown(&fs);
		return;
	}
	char *vn = NULL, *path = NULL, *plain = NULL, *ppath = NULL;
	check(pve_storage_alloc_image(&st, 100, "raw", NULL, 4 << 20, &vn, NULL) == 0);
	check(pve_storage_path(&st, vn, NULL, &path, NULL) == 0);
	check(path && has_nocow(path));
	check(path && spt_write(path, false, "nocowdat") && spt_has(path, false, "nocowdat"));
	check(pve_storage_alloc_image(&fs.st, 100, "raw", NULL, 4 << 20, &plain, NULL) == 0);
	check(pve_storage_path(&fs.st, plain, NULL, &ppath, NULL) == 0);
	check(ppath && !has_nocow(ppath));
	check(pve_storage_free_image(&st, vn, NULL) == 0);
	check(pve_storage_free_image(&fs.st, plain, NULL) == 0);
	free(vn);
	free(path);
	free(plain);
	free(ppath);

	_cleanup_sectioncfg_ pve_sectioncfg *bad = NULL;
	_cleanup_free_ char *btext = xasprintf("btrfs: nc\n\tpath %s\n\tnocow maybe\n", fs.mnt);
	check(pve_storage_cfg_parse(btext, strlen(btext), &bad, &err) == -EINVAL);
	check(err && strstr(err->message, "nocow"));
	pve_error_free(err);
	fs_teardown(&fs);
}

/* Two processes allocating 20 volumes each at once: 40 distinct names. */
static void btrfs_alloc_concurrent(void)
{
	btrfs_fs fs;
	if (!fs_setup(&fs))
		return;
	spt_alloc_concurrent(&fs.st, 100, "raw", 4096, 20);
	fs_teardown(&fs);
}

TEST_MAIN(TEST(btrfs_plugin_table), TEST(btrfs_plugin_refusals), TEST(btrfs_plugin_extras),
	  TEST(btrfs_export_import), TEST(btrfs_alloc_concurrent), TEST(btrfs_nocow))
