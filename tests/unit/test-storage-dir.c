/* The storage layer on a real directory: volume names, storage.cfg checks, and the dir plugin driven through
 * the shared plugin table (storage-plugin-test.h) for each image format, its refusals, and what only the
 * dir plugin does (mkdir, content directories, backup notes and protection). */
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/storage.h"
#include "tests/unit/storage-plugin-test.h"
#include "tests/unit/test.h"

static void volids_and_names(void)
{
	char *sid = NULL, *vn = NULL;
	check(pve_storage_volid_split("local:100/vm-100-disk-0.qcow2", &sid, &vn, NULL) == 0);
	check_streq(sid, "local");
	check_streq(vn, "100/vm-100-disk-0.qcow2");
	free(sid);
	free(vn);
	static const char *const bad[] = { "local",
					   ":x",
					   "local:",
					   "local:/etc/passwd",
					   "local:../x",
					   "local:iso/../../x",
					   "local:a//b",
					   "lo cal:iso/x.iso",
					   "local:iso/x\n.iso",
					   "local:iso/x\t.iso" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error *err = NULL;
		check(pve_storage_volid_split(bad[i], NULL, NULL, &err) == -EINVAL);
		check(err && strstr(err->message, "unable to parse volume ID"));
		pve_error_free(err);
	}

	static const struct {
		const char *volname;
		unsigned vtype;
		long long vmid;
		const char *format;
		bool base;
		const char *basename;
	} good[] = {
		{ "100/vm-100-disk-0.qcow2", PVE_CONTENT_IMAGES, 100, "qcow2", false, NULL },
		{ "100/base-100-disk-0.raw", PVE_CONTENT_IMAGES, 100, "raw", true, NULL },
		{ "100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2", PVE_CONTENT_IMAGES, 101,
		  "qcow2", false, "base-100-disk-0.qcow2" },
		{ "101/subvol-101-disk-0.subvol", PVE_CONTENT_IMAGES, 101, "subvol", false, NULL },
		/* a linked clone of a vm- image (Proxmox's parse_volname_test) */
		{ "100/vm-100-disk-0.qcow2/101/vm-101-disk-0.qcow2", PVE_CONTENT_IMAGES, 101,
		  "qcow2", false, "vm-100-disk-0.qcow2" },
		{ "iso/debian.iso", PVE_CONTENT_ISO, 0, "raw", false, NULL },
		{ "iso/x.IMG", PVE_CONTENT_ISO, 0, "raw", false, NULL },
		{ "iso/ x.iso", PVE_CONTENT_ISO, 0, "raw", false, NULL },
		{ "vztmpl/debian-12.tar.zst", PVE_CONTENT_VZTMPL, 0, "raw", false, NULL },
		{ "vztmpl/x.tar", PVE_CONTENT_VZTMPL, 0, "raw", false, NULL },
		{ "backup/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst", PVE_CONTENT_BACKUP, 100,
		  "raw", false, NULL },
		{ "snippets/user.yaml", PVE_CONTENT_SNIPPETS, 0, "raw", false, NULL },
		{ "import/x.ova", PVE_CONTENT_IMPORT, 0, "ova", false, NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		pve_volname v = { 0 };
		check(pve_storage_parse_volname(good[i].volname, &v, NULL) == 0);
		check_int(v.vtype, good[i].vtype);
		check_int(v.vmid, good[i].vmid);
		check(streq_ptr(v.format, good[i].format));
		check(v.is_base == good[i].base);
		check(streq_ptr(v.basename, good[i].basename));
		pve_volname_clear(&v);
	}
	static const char *const badnames[] = {
		"iso/x.txt",
		"iso/../x.iso",
		"../iso/x.iso",
		"100/vm-100-disk-0.exe",
		"vztmpl/x.tar.lzo",
		"/100/x.raw",
		"100/../101/x.raw",
		"iso/a/b.iso",
		"099/vm-99-disk-0.raw",
		"iso/.iso",
		"backup/x.vma.zst/../y",
		"100/base-100-disk-0.qcow2/101",
		"100/vm-100-disk-0.qcow2/101/snap-a-vm-101-disk-0.qcow2",
		"100/vm 100.raw",
		"",
	};
	for (size_t i = 0; i < ELEMENTSOF(badnames); i++) {
		pve_volname v = { 0 };
		pve_error *err = NULL;
		int r = pve_storage_parse_volname(badnames[i], &v, &err);
		if (r != -EINVAL)
			test_fail(__FILE__, __LINE__, "'%s' accepted", badnames[i]);
		pve_error_free(err);
		pve_volname_clear(&v);
	}

	unsigned m = 0;
	check(pve_storage_content_parse("iso,vztmpl backup;images", &m, NULL) == 0);
	_cleanup_free_ char *s = pve_storage_content_print(m);
	check_streq(s, "backup,images,iso,vztmpl");
	pve_error *err = NULL;
	check(pve_storage_content_parse("iso,bogus", &m, &err) == -EINVAL);
	check(err && streq_ptr(err->param, "content"));
	pve_error_free(err);
}

static void storage_cfg(void)
{
	const char *good =
		"dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\n"
		"lvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent rootdir,images\n\n"
		"zfspool: local-zfs\n\tpool rpool/data\n\tsparse\n\tcontent images,rootdir\n";
	pve_sectioncfg *c = NULL;
	check(pve_storage_cfg_parse(good, strlen(good), &c, NULL) == 0);
	pve_storage st;
	check(pve_storage_get(c, "local", &st, NULL) == 0);
	check_streq(st.type, "dir");
	check_streq(st.path, "/var/lib/vz");
	check_int(st.content, PVE_CONTENT_ISO | PVE_CONTENT_VZTMPL | PVE_CONTENT_BACKUP);
	pve_error *err = NULL;
	check(pve_storage_get(c, "nope", &st, &err) == -ENOENT);
	check(err && strstr(err->message, "storage 'nope' does not exist"));
	pve_error_free(err);
	err = NULL;
	/* a type without ops says why */
	check(pve_storage_get(c, "local-zfs", &st, NULL) == 0);
	pve_storage_status ss;
	check(pve_storage_get_status(&st, &ss, &err) == -ENOSYS);
	check(err && strstr(err->message, "ZFS is not in Debian main"));
	pve_error_free(err);
	pve_sectioncfg_free(c);

	static const char *const bad[] = {
		"dir: local\n\tcontent iso\n", /* no path */
		"dir: local\n\tpath /x\n\tcontent bogus\n", /* unknown content */
		"lvm: l\n\tvgname pve\n\tcontent iso\n", /* content the type can't hold */
		"dir: local\n\tpath relative\n", /* relative path */
		"dir: local\n\tpath /x\n\tvgname x\n", /* property of another type */
		"foo: local\n\tpath /x\n", /* unknown type */
		"dir: local\n\tpath /x\n\tshared maybe\n", /* not a boolean */
		"dir: local\n\tpath /x\n\tformat qed\n", /* unknown format */
		"dir: local\n\tpath /x\n\tprune-backups keep-all=x\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		c = NULL;
		err = NULL;
		if (pve_storage_cfg_parse(bad[i], strlen(bad[i]), &c, &err) == 0)
			test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
		else
			check(err && strstr(err->message, "storage '") == err->message);
		pve_error_free(err);
		pve_sectioncfg_free(c);
	}
}

static bool have_qemu_img(void)
{
	return access("/usr/bin/qemu-img", X_OK) == 0;
}

/* A dir storage on a temporary directory. */
static pve_sectioncfg *make_dir_storage(const char *extra, pve_storage *st)
{
	_cleanup_free_ char *text =
		xasprintf("dir: test\n\tpath %s/store\n\tcontent images,rootdir,iso,backup\n%s",
			  test_tmpdir(), extra);
	pve_sectioncfg *c = NULL;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &c, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		return NULL;
	}
	check(pve_storage_get(c, "test", st, NULL) == 0);
	return c;
}

static void dir_plugin_table(void)
{
	if (!have_qemu_img())
		return test_skip("no /usr/bin/qemu-img");
	pve_storage st;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_dir_storage("", &st);
	if (!c)
		return;
	pve_error *err = NULL;
	check(pve_storage_activate(&st, &err) == 0);
	_cleanup_free_ char *imgdir = xasprintf("%s/store/images", test_tmpdir());
	_cleanup_free_ char *isodir = xasprintf("%s/store/template/iso", test_tmpdir());
	check(access(imgdir, F_OK) == 0 && access(isodir, F_OK) == 0);

	static const char *const fmts[] = { "raw", "qcow2", "vmdk" };
	spt_format formats[ELEMENTSOF(fmts)];
	char *names[ELEMENTSOF(fmts)][5];
	for (size_t i = 0; i < ELEMENTSOF(fmts); i++) {
		const char *fmt = fmts[i];
		bool qcow2 = streq(fmt, "qcow2");
		names[i][0] = xasprintf("100/vm-100-disk-0.%s", fmt);
		names[i][1] = xasprintf("%s/store/images/%s", test_tmpdir(), names[i][0]);
		names[i][2] = xasprintf("100/base-100-disk-0.%s", fmt);
		names[i][3] = xasprintf("%s/101/vm-101-disk-0.qcow2", names[i][2]);
		names[i][4] = xasprintf("102/vm-102-disk-0.%s", fmt);
		formats[i] = (spt_format){
			.fmt = fmt,
			.volname = names[i][0],
			.path = names[i][1],
			.size = 1 << 20,
			.grown = streq(fmt, "vmdk") ? 0 : 2 << 20,
			.snapshots = qcow2,
			.base = names[i][2],
			.clone = names[i][3],
			.base_busy = true,
			.renamed = names[i][4],
		};
	}
	spt_run_table(&st, formats, ELEMENTSOF(formats));
	for (size_t i = 0; i < ELEMENTSOF(fmts); i++)
		for (size_t k = 0; k < ELEMENTSOF(names[i]); k++)
			free(names[i][k]);
}

static void dir_plugin_refusals(void)
{
	pve_storage st;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_dir_storage("", &st);
	if (!c)
		return;
	check(pve_storage_activate(&st, NULL) == 0);
	spt_refusals(&st, &(spt_names){ .fmt = "raw",
					.name = "vm-100-disk-7",
					.volname = "100/vm-100-disk-7.raw",
					.missing = "100/vm-100-disk-9.raw",
					.size = 1 << 20 });
}

static void dir_plugin_refuses(void)
{
	pve_storage st;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_dir_storage("\tmkdir 0\n", &st);
	if (!c)
		return;
	pve_error *err = NULL;
	check(pve_storage_activate(&st, &err) == -ENOENT);
	check(err && strstr(err->message, "does not exist"));
	pve_error_free(err);
	_cleanup_free_ char *p = xasprintf("%s/store", test_tmpdir());
	check(mkdir(p, 0755) == 0);
	check(pve_storage_activate(&st, NULL) == 0);
	check(pve_storage_deactivate(&st, NULL) == 0);

	char *vn = NULL;
	err = NULL;
	check(pve_storage_alloc_image(&st, 100, "qed", NULL, 1024, &vn, &err) == -EINVAL);
	check(err && streq_ptr(err->param, "format"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(&st, 100, "raw", "vm-101-disk-0", 1024, &vn, &err) ==
	      -EINVAL);
	check(err && streq_ptr(err->param, "filename"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(&st, 100, "raw", "vm-100-../../x", 1024, &vn, &err) ==
	      -EINVAL);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_alloc_image(&st, 100, "raw", "vm-100-disk-3.qcow2", 1024, &vn, &err) ==
	      -EINVAL);
	pve_error_free(err);
	check(pve_storage_alloc_image(&st, 100, "raw", "vm-100-disk-3", 4096, &vn, NULL) == 0);
	check_streq(vn, "100/vm-100-disk-3.raw");
	err = NULL;
	char *vn2 = NULL;
	check(pve_storage_alloc_image(&st, 100, "raw", "vm-100-disk-3", 4096, &vn2, &err) ==
	      -EEXIST);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_snapshot(&st, vn, "s1", &err) == -ENOSYS);
	pve_error_free(err);
	err = NULL;
	char *clone = NULL;
	check(pve_storage_clone_image(&st, vn, 101, NULL, &clone, &err) == -EINVAL);
	check(err && strstr(err->message, "base"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_free_image(&st, "iso/../../x.iso", &err) == -EINVAL);
	pve_error_free(err);

	/* content the storage does not hold */
	err = NULL;
	check(pve_storage_check_content(&st, PVE_CONTENT_VZTMPL, &err) == -EINVAL);
	check(err && strstr(err->message, "does not support content type 'vztmpl'"));
	pve_error_free(err);

	/* rename to another guest */
	char *renamed = NULL;
	check(pve_storage_rename_volume(&st, vn, 102, NULL, &renamed, NULL) == 0);
	check_streq(renamed, "102/vm-102-disk-0.raw");
	check(pve_storage_free_image(&st, renamed, NULL) == 0);
	free(renamed);
	free(vn);
}

/* Two dir storages of one storage.cfg: test (store/) and test2 (store2/). */
static pve_sectioncfg *make_two_dir_storages(pve_storage *a, pve_storage *b)
{
	_cleanup_free_ char *text =
		xasprintf("dir: test\n\tpath %s/store\n\tcontent images,rootdir\n\n"
			  "dir: test2\n\tpath %s/store2\n\tcontent images,rootdir\n",
			  test_tmpdir(), test_tmpdir());
	pve_sectioncfg *c = NULL;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &c, &err) < 0 ||
	    pve_storage_get(c, "test", a, &err) < 0 || pve_storage_get(c, "test2", b, &err) < 0 ||
	    pve_storage_activate(a, &err) < 0 || pve_storage_activate(b, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		pve_sectioncfg_free(c);
		return NULL;
	}
	return c;
}

static void dir_export_import(void)
{
	if (!have_qemu_img())
		return test_skip("no /usr/bin/qemu-img");
	if (access("/bin/tar", X_OK) < 0)
		return test_skip("no /bin/tar");
	pve_storage a, b;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_two_dir_storages(&a, &b);
	if (!c)
		return;
	const spt_xfer xfers[] = {
		{ &a, "raw", 3 << 20, "raw+size", &b, "103/vm-103-disk-0.raw",
		  "103/vm-103-disk-1.raw" },
		{ &a, "qcow2", 2 << 20, "qcow2+size", &b, "103/vm-103-disk-0.qcow2",
		  "103/vm-103-disk-1.qcow2" },
		{ &a, "vmdk", 2 << 20, "vmdk+size", &b, "103/vm-103-disk-0.vmdk",
		  "103/vm-103-disk-1.vmdk" },
		{ &a, "subvol", 0, "tar+size", &b, "103/subvol-103-disk-0.subvol",
		  "103/subvol-103-disk-1.subvol" },
		/* and into the same storage */
		{ &a, "raw", 1 << 20, "raw+size", &a, "103/vm-103-disk-0.raw",
		  "103/vm-103-disk-1.raw" },
	};
	for (size_t i = 0; i < ELEMENTSOF(xfers); i++)
		spt_export_import(&xfers[i]);
}

/* A qcow2 snapshot exports as it was, flattened; a linked clone exports standing alone. */
static void dir_export_snapshot_and_clone(void)
{
	if (!have_qemu_img())
		return test_skip("no /usr/bin/qemu-img");
	pve_storage a, b;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_two_dir_storages(&a, &b);
	if (!c)
		return;
	pve_error *err = NULL;
	char *vn = NULL, *base = NULL, *clone = NULL, *imp = NULL;
	check(pve_storage_alloc_image(&a, 100, "qcow2", NULL, 1 << 20, &vn, NULL) == 0);
	check(pve_storage_volume_snapshot(&a, vn, "s1", NULL) == 0);
	char **formats = NULL;
	check(pve_storage_volume_export_formats(&a, vn, "s1", &formats, NULL) == 0);
	check(formats && formats[0] && streq(formats[0], "qcow2+size"));
	strv_free(formats);
	_cleanup_free_ char *stream = xasprintf("%s/snap.stream", test_tmpdir());
	_cleanup_close_ int out = open(stream, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(pve_storage_volume_export(&a, vn, "qcow2+size", "s1", out, &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(lseek(out, 0, SEEK_SET) == 0);
	check(pve_storage_volume_import(&b, "103/vm-103-disk-0.qcow2", "qcow2+size", out, false,
					&imp, &err) == 0);
	pve_error_free(err);
	err = NULL;
	check_streq(imp, "103/vm-103-disk-0.qcow2");
	/* no temporary file stays next to the volume */
	_cleanup_free_ char *imgdir = xasprintf("%s/store/images/100", test_tmpdir());
	check(spt_count(&a, 100) == 1);
	check(pve_storage_free_image(&b, imp, NULL) == 0);
	free(imp);
	imp = NULL;
	check(pve_storage_volume_export(&a, vn, "qcow2+size", "nosuch", out, &err) < 0);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_export(&a, vn, "raw+size", NULL, out, &err) == -EINVAL);
	check(err && strstr(err->message, "available: qcow2+size"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_snapshot_delete(&a, vn, "s1", NULL) == 0);
	check(pve_storage_volume_export(&a, "100/vm-100-disk-9.raw", "raw+size", NULL, out, &err) ==
	      -ENOENT);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_import_formats(&b, "103/vm-103-disk-0.vmdk", &formats, NULL) == 0);
	check(formats && formats[0] && streq(formats[0], "vmdk+size") && !formats[1]);
	strv_free(formats);
	check(pve_storage_volume_import_formats(&b, "iso/x.iso", &formats, &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;

	/* a linked clone */
	check(pve_storage_create_base(&a, vn, &base, NULL) == 0);
	check(base && pve_storage_clone_image(&a, base, 101, NULL, &clone, NULL) == 0);
	check(ftruncate(out, 0) == 0 && lseek(out, 0, SEEK_SET) == 0);
	check(clone && pve_storage_volume_export(&a, clone, "qcow2+size", NULL, out, &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(lseek(out, 0, SEEK_SET) == 0);
	check(pve_storage_volume_import(&b, "103/vm-103-disk-0.qcow2", "qcow2+size", out, false,
					&imp, &err) == 0);
	pve_error_free(err);
	if (imp)
		check(pve_storage_free_image(&b, imp, NULL) == 0);
	free(imp);
	/* the base stays while its linked clone uses it (Proxmox's vdisk_free), and is asked about */
	if (base && clone) {
		check(pve_storage_check_base_unused(&a, base, &err) == -EBUSY);
		check(err && streq(err->message, "base volume '100/base-100-disk-0.qcow2' is still "
						 "in use by linked clones"));
		pve_error_free(err);
		err = NULL;
		check(pve_storage_free_image(&a, base, &err) == -EBUSY);
		pve_error_free(err);
		err = NULL;
		_cleanup_free_ char *bp = NULL;
		check(pve_storage_path(&a, base, NULL, &bp, NULL) == 0 && bp &&
		      access(bp, F_OK) == 0);
		check(pve_storage_check_base_unused(&a, clone, NULL) == 0);
	}
	if (clone)
		check(pve_storage_free_image(&a, clone, NULL) == 0);
	if (base) {
		check(pve_storage_check_base_unused(&a, base, NULL) == 0);
		check(pve_storage_free_image(&a, base, NULL) == 0);
	}
	free(clone);
	free(base);
	free(vn);
}

/* Two processes allocating 20 volumes each on one storage at once: 40 distinct names, none
 * overwritten. */
static void dir_alloc_concurrent(void)
{
	pve_storage st;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_dir_storage("", &st);
	if (!c)
		return;
	check(pve_storage_activate(&st, NULL) == 0);
	spt_alloc_concurrent(&st, 100, "raw", 4096, 20);
}

static void dir_backup_attributes(void)
{
	pve_storage st;
	_cleanup_sectioncfg_ pve_sectioncfg *c = make_dir_storage("", &st);
	if (!c)
		return;
	check(pve_storage_activate(&st, NULL) == 0);
	const char *vn = "backup/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst";
	_cleanup_free_ char *p = xasprintf(
		"%s/store/dump/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst", test_tmpdir());
	FILE *f = fopen(p, "we");
	check(f != NULL);
	if (f) {
		fputs("data", f);
		fclose(f);
	}
	check(pve_storage_set_attribute(&st, vn, "notes", "hello", NULL) == 0);
	check(pve_storage_set_attribute(&st, vn, "protected", "1", NULL) == 0);
	char *val = NULL;
	check(pve_storage_get_attribute(&st, vn, "notes", &val, NULL) == 0);
	check_streq(val, "hello");
	free(val);
	pve_volume_info *v = NULL;
	size_t n = 0;
	check(pve_storage_list_volumes(&st, 100, PVE_CONTENT_BACKUP, &v, &n, NULL) == 0);
	check_int(n, 1);
	if (n == 1) {
		check_streq(v[0].format, "vma.zst");
		check_streq(v[0].notes, "hello");
		check(v[0].protected_);
		check_int(v[0].vmid, 100);
	}
	pve_volume_infos_free(v, n);
	pve_error *err = NULL;
	check(pve_storage_free_image(&st, vn, &err) == -EPERM);
	pve_error_free(err);
	check(pve_storage_set_attribute(&st, vn, "protected", "0", NULL) == 0);
	check(pve_storage_free_image(&st, vn, NULL) == 0);
	_cleanup_free_ char *notes = xasprintf("%s.notes", p);
	check(access(p, F_OK) < 0 && access(notes, F_OK) < 0);
	err = NULL;
	check(pve_storage_set_attribute(&st, "iso/x.iso", "notes", "x", &err) < 0);
	pve_error_free(err);
}

/* Each type names its volumes its own way; the API parses them through the storage's type. */
static void volume_names_by_type(void)
{
	const char *cfg =
		"dir: local\n\tpath /var/lib/vz\n\tcontent images\n\n"
		"lvm: thick\n\tvgname pve\n\tcontent images\n\n"
		"lvmthin: thin\n\tthinpool data\n\tvgname pve\n\tcontent images\n\n"
		"iscsi: lunsk\n\tportal 127.0.0.1\n\ttarget iqn.2003-01.org.example:t1\n\n"
		"iscsidirect: lunsd\n\tportal 127.0.0.1\n\ttarget iqn.2003-01.org.example:t1\n";
	pve_sectioncfg *c = NULL;
	check(pve_storage_cfg_parse(cfg, strlen(cfg), &c, NULL) == 0);
	static const struct {
		const char *storage, *volname;
		long long vmid;
		bool ok, is_base;
		const char *basename, *format;
	} cases[] = {
		{ "local", "100/vm-100-disk-0.qcow2", 100, true, false, NULL, "qcow2" },
		{ "local", "vm-100-disk-0", 0, false, false, NULL, NULL },
		{ "thick", "vm-100-disk-0", 100, true, false, NULL, "raw" },
		{ "thick", "100/vm-100-disk-0.raw", 0, false, false, NULL, NULL },
		{ "thick", "base-100-disk-0/vm-101-disk-0", 0, false, false, NULL, NULL },
		{ "thin", "base-100-disk-0", 100, true, true, NULL, "raw" },
		{ "thin", "base-100-disk-0/vm-101-disk-0", 101, true, false, "base-100-disk-0",
		  "raw" },
		{ "thin", "../vm-100-disk-0", 0, false, false, NULL, NULL },
		{ "lunsk", "0.0.1.scsi-36001405abcdef", 0, true, false, NULL, "raw" },
		{ "lunsk", "lun1", 0, false, false, NULL, NULL },
		{ "lunsd", "lun1", 0, true, false, NULL, "raw" },
		{ "lunsd", "lun01", 0, false, false, NULL, NULL },
		{ "lunsd", "100/vm-100-disk-0.raw", 0, false, false, NULL, NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		pve_storage st;
		check(pve_storage_get(c, cases[i].storage, &st, NULL) == 0);
		pve_volname v = { 0 };
		pve_error *err = NULL;
		int r = pve_storage_volume_parse(&st, cases[i].volname, &v, &err);
		if (!cases[i].ok) {
			check(r == -EINVAL && err && strstr(err->message, "unable to parse"));
			pve_error_free(err);
			continue;
		}
		check_int(r, 0);
		check_int(v.vtype, PVE_CONTENT_IMAGES);
		check(v.vmid == cases[i].vmid);
		check(v.is_base == cases[i].is_base);
		check_streq(v.format, cases[i].format);
		if (cases[i].basename)
			check_streq(v.basename, cases[i].basename);
		else
			check(!v.basename);
		pve_volname_clear(&v);
	}
	pve_sectioncfg_free(c);
}

/* Where a storage may be: never a root, the config store or a system directory, below / and below the
 * node's root alike; what is inside /var/lib, /mnt, /srv, /home and other roots is fine. */
static void storage_paths(void)
{
	static const struct {
		const char *path, *root;
		bool ok;
	} cases[] = {
		{ "/var/lib/vz", "/", true },
		{ "/mnt/x", "/", true },
		{ "/mnt/pve/nfs1", "/", true },
		{ "/srv/images", "/", true },
		{ "/home/backup", "/", true },
		{ "/data", "/", true },
		{ "/var/lib/vz/", "/", true },
		{ "/tmp/pved-test-1/var/lib/vz", "/tmp/pved-test-1", true },
		{ "/tmp/pved-test-1/stor1", "/tmp/pved-test-1", true },
		{ "/tmp/pved-test-1/mnt/pve/x", "/tmp/pved-test-1/", true },
		{ "/tmp/other/etc", "/tmp/pved-test-1", true }, /* another tree's etc */
		{ "/etcetera", "/", true },
		{ "/", "/", false },
		{ "//", "/", false },
		{ "/etc", "/", false },
		{ "/etc/", "/", false },
		{ "/etc/cron.d", "/", false },
		{ "/etc/pve", "/", false },
		{ "/etc/pve/priv", "/", false },
		{ "/bin", "/", false },
		{ "/boot/efi", "/", false },
		{ "/dev/shm/x", "/", false },
		{ "/lib64", "/", false },
		{ "/proc/1", "/", false },
		{ "/run", "/", false },
		{ "/sbin", "/", false },
		{ "/sys/fs", "/", false },
		{ "/usr", "/", false },
		{ "/usr/lib/x", "/", false },
		{ "/var", "/", false },
		{ "/var/lib", "/", false },
		{ "/var/log/pve", "/", false },
		{ "/tmp", "/", false },
		{ "/mnt", "/", false },
		{ "/mnt/pve", "/", false },
		{ "/mnt/x/../../etc", "/", false },
		{ "/mnt/./x", "/", false },
		{ "/tmp/pved-test-1", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/etc", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/etc/pve", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/etc/pve/nodes/n1", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/var", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/run/pved-api-root", "/tmp/pved-test-1", false },
		{ "/tmp/pved-test-1/usr", "/tmp/pved-test-1", false },
		{ "relative", "/", false },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		pve_error *err = NULL;
		int r = pve_storage_check_path(cases[i].path, cases[i].root, &err);
		if ((r == 0) != cases[i].ok)
			test_fail(__FILE__, __LINE__, "'%s' below '%s': %s", cases[i].path,
				  cases[i].root, err ? err->message : "accepted");
		if (r < 0)
			check(err && err->param && streq(err->param, "path"));
		pve_error_free(err);
	}
}

TEST_MAIN(TEST(volids_and_names), TEST(storage_cfg), TEST(storage_paths), TEST(dir_plugin_table),
	  TEST(dir_plugin_refusals), TEST(dir_plugin_refuses), TEST(dir_backup_attributes),
	  TEST(dir_export_import), TEST(dir_export_snapshot_and_clone), TEST(dir_alloc_concurrent),
	  TEST(volume_names_by_type))
