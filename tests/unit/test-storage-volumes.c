/* Proxmox's own tables for a dir storage's files, carried over as data (pve-storage src/test): every
 * case of list_volumes_test.pm and path_to_volume_id_test.pm, on real files in a test directory.
 * Proxmox's test mocks stat and qemu-img (every size 128 KiB, used 256 KiB, ctime 1234567890); here
 * the files are made 128 KiB and used and ctime are what stat says of them, except a backup's ctime,
 * which is the time in its name whatever the file's times. */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>

#include "storage/storage.h"
#include "tests/unit/storage-image-files.h"
#include "tests/unit/test.h"

#define DEFAULT_SIZE 131072

/* mkdir -p of path's directory, then the file: an image of 128 KiB (qcow2 and vmdk headers saying
 * so, a qcow2 with backing as its backing file), any other file 128 KiB of zeros; a path ending in
 * '/' is only the directory. */
static void make_file(const char *path, const char *backing)
{
	_cleanup_free_ char *dir = xstrdup(path);
	size_t len = strlen(dir);
	bool only_dir = len && dir[len - 1] == '/';
	char *d = only_dir ? dir : dirname(dir);
	pve_error *err = NULL;
	if (pve_mkdir_p(d, 0755, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		return;
	}
	if (only_dir)
		return;
	if (endswith(path, ".qcow2")) {
		sif_write_qcow2(path, DEFAULT_SIZE, backing);
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	if (endswith(path, ".vmdk")) {
		unsigned char h[512] = { 'K', 'D', 'M', 'V' };
		h[12] = (DEFAULT_SIZE / 512) & 0xff;
		h[13] = (DEFAULT_SIZE / 512) >> 8;
		check(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	} else {
		check(ftruncate(fd, DEFAULT_SIZE) == 0);
	}
	close(fd);
}

/* A "local" dir storage at top with the suites' content types. */
static int open_local(const char *top, pve_sectioncfg **cfg, pve_storage *st)
{
	_cleanup_free_ char *text =
		xasprintf("dir: local\n\tpath %s\n\tcontent iso,rootdir,vztmpl,images,snippets,"
			  "backup\n",
			  top);
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), cfg, &err) < 0 ||
	    (st && pve_storage_get(*cfg, "local", st, &err) < 0)) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		return -1;
	}
	return 0;
}

/* ---- list_volumes_test.pm ------------------------------------------------------------------------- */

/* One expected entry; ctime 0: the file's (stat), else the time in a backup's name. */
typedef struct want {
	const char *content, *format, *parent, *subtype, *volid;
	long long vmid;
	time_t ctime;
} want;

typedef struct list_case {
	const char *description;
	long long vmid;
	const char *files[16];
	const char *parents[4];
	want expected[16];
} list_case;

/* get_vmlist(): 16112 is the one container. */
static const long long containers[] = { 16112 };

static const list_case list_cases[] = {
	{ "VMID: 16110, VM, qcow2, backup, snippets",
	  16110,
	  { "images/16110/vm-16110-disk-0.qcow2", "images/16110/vm-16110-disk-1.raw",
	    "images/16110/vm-16110-disk-2.vmdk",
	    "dump/vzdump-qemu-16110-2020_03_30-21_11_40.vma.gz",
	    "dump/vzdump-qemu-16110-2020_03_30-21_12_45.vma.lzo",
	    "dump/vzdump-qemu-16110-2020_03_30-21_13_55.vma",
	    "dump/vzdump-qemu-16110-2020_03_30-21_13_55.vma.zst", "snippets/userconfig.yaml",
	    "snippets/hookscript.pl" },
	  { NULL },
	  { { "images", "qcow2", NULL, NULL, "local:16110/vm-16110-disk-0.qcow2", 16110, 0 },
	    { "images", "raw", NULL, NULL, "local:16110/vm-16110-disk-1.raw", 16110, 0 },
	    { "images", "vmdk", NULL, NULL, "local:16110/vm-16110-disk-2.vmdk", 16110, 0 },
	    { "backup", "vma.gz", NULL, "qemu",
	      "local:backup/vzdump-qemu-16110-2020_03_30-21_11_40.vma.gz", 16110, 1585602700 },
	    { "backup", "vma.lzo", NULL, "qemu",
	      "local:backup/vzdump-qemu-16110-2020_03_30-21_12_45.vma.lzo", 16110, 1585602765 },
	    { "backup", "vma", NULL, "qemu",
	      "local:backup/vzdump-qemu-16110-2020_03_30-21_13_55.vma", 16110, 1585602835 },
	    { "backup", "vma.zst", NULL, "qemu",
	      "local:backup/vzdump-qemu-16110-2020_03_30-21_13_55.vma.zst", 16110, 1585602835 },
	    { "snippets", "snippet", NULL, NULL, "local:snippets/hookscript.pl", 0, 0 },
	    { "snippets", "snippet", NULL, NULL, "local:snippets/userconfig.yaml", 0, 0 } } },
	{ "VMID: 16112, lxc, raw, backup",
	  16112,
	  { "images/16112/vm-16112-disk-0.raw", "dump/vzdump-lxc-16112-2020_03_30-21_39_30.tar.lzo",
	    "dump/vzdump-lxc-16112-2020_03_30-21_49_30.tar.gz",
	    "dump/vzdump-lxc-16112-2020_03_30-21_49_30.tar.zst",
	    "dump/vzdump-lxc-16112-2020_03_30-21_59_30.tgz",
	    "dump/vzdump-openvz-16112-2020_03_30-21_39_30.tar.bz2" },
	  { NULL },
	  { { "rootdir", "raw", NULL, NULL, "local:16112/vm-16112-disk-0.raw", 16112, 0 },
	    { "backup", "tar.lzo", NULL, "lxc",
	      "local:backup/vzdump-lxc-16112-2020_03_30-21_39_30.tar.lzo", 16112, 1585604370 },
	    { "backup", "tar.gz", NULL, "lxc",
	      "local:backup/vzdump-lxc-16112-2020_03_30-21_49_30.tar.gz", 16112, 1585604970 },
	    { "backup", "tar.zst", NULL, "lxc",
	      "local:backup/vzdump-lxc-16112-2020_03_30-21_49_30.tar.zst", 16112, 1585604970 },
	    { "backup", "tgz", NULL, "lxc", "local:backup/vzdump-lxc-16112-2020_03_30-21_59_30.tgz",
	      16112, 1585605570 },
	    { "backup", "tar.bz2", NULL, "openvz",
	      "local:backup/vzdump-openvz-16112-2020_03_30-21_39_30.tar.bz2", 16112,
	      1585604370 } } },
	{ "VMID: 16114, VM, qcow2, linked clone",
	  16114,
	  { "images/16114/vm-16114-disk-0.qcow2", "images/16114/vm-16114-disk-1.qcow2" },
	  { "../9004/base-9004-disk-0.qcow2", "../9004/base-9004-disk-1.qcow2" },
	  { { "images", "qcow2", "../9004/base-9004-disk-0.qcow2", NULL,
	      "local:9004/base-9004-disk-0.qcow2/16114/vm-16114-disk-0.qcow2", 16114, 0 },
	    { "images", "qcow2", "../9004/base-9004-disk-1.qcow2", NULL,
	      "local:9004/base-9004-disk-1.qcow2/16114/vm-16114-disk-1.qcow2", 16114, 0 } } },
	{ "VMID: 9004, VM, template, qcow2",
	  9004,
	  { "images/9004/base-9004-disk-0.qcow2", "images/9004/base-9004-disk-1.qcow2" },
	  { NULL },
	  { { "images", "qcow2", NULL, NULL, "local:9004/base-9004-disk-0.qcow2", 9004, 0 },
	    { "images", "qcow2", NULL, NULL, "local:9004/base-9004-disk-1.qcow2", 9004, 0 } } },
	{ "VMID: none, templates, snippets, backup",
	  0,
	  { "dump/vzdump-lxc-19253-2020_02_03-19_57_43.tar.gz",
	    "dump/vzdump-lxc-19254-2019_01_21-19_29_19.tar",
	    "template/iso/archlinux-2020.02.01-x86_64.iso",
	    "template/iso/debian-8.11.1-amd64-DVD-1.iso",
	    "template/iso/debian-9.12.0-amd64-netinst.iso", "template/iso/proxmox-ve_6.1-1.iso",
	    "template/cache/archlinux-base_20190924-1_amd64.tar.gz",
	    "template/cache/debian-10.0-standard_10.0-1_amd64.tar.gz",
	    "template/cache/debian-11.0-standard_11.0-1_amd64.tar.bz2",
	    "template/cache/alpine-3.10-default_20190626_amd64.tar.xz", "snippets/userconfig.yaml",
	    "snippets/hookscript.pl", "private/1234/", "private/1234/subvol-1234-disk-0.subvol/" },
	  { NULL },
	  { { "vztmpl", "txz", NULL, NULL, "local:vztmpl/alpine-3.10-default_20190626_amd64.tar.xz",
	      0, 0 },
	    { "vztmpl", "tgz", NULL, NULL, "local:vztmpl/archlinux-base_20190924-1_amd64.tar.gz", 0,
	      0 },
	    { "vztmpl", "tgz", NULL, NULL, "local:vztmpl/debian-10.0-standard_10.0-1_amd64.tar.gz",
	      0, 0 },
	    { "vztmpl", "tbz2", NULL, NULL,
	      "local:vztmpl/debian-11.0-standard_11.0-1_amd64.tar.bz2", 0, 0 },
	    { "iso", "iso", NULL, NULL, "local:iso/archlinux-2020.02.01-x86_64.iso", 0, 0 },
	    { "iso", "iso", NULL, NULL, "local:iso/debian-8.11.1-amd64-DVD-1.iso", 0, 0 },
	    { "iso", "iso", NULL, NULL, "local:iso/debian-9.12.0-amd64-netinst.iso", 0, 0 },
	    { "iso", "iso", NULL, NULL, "local:iso/proxmox-ve_6.1-1.iso", 0, 0 },
	    { "backup", "tar.gz", NULL, "lxc",
	      "local:backup/vzdump-lxc-19253-2020_02_03-19_57_43.tar.gz", 19253, 1580759863 },
	    { "backup", "tar", NULL, "lxc", "local:backup/vzdump-lxc-19254-2019_01_21-19_29_19.tar",
	      19254, 1548098959 },
	    { "snippets", "snippet", NULL, NULL, "local:snippets/hookscript.pl", 0, 0 },
	    { "snippets", "snippet", NULL, NULL, "local:snippets/userconfig.yaml", 0, 0 } } },
	{ "VMID: none, parent, non-matching",
	  0,
	  { "images/1234/vm-1234-disk-0.qcow2" },
	  { "../ssss/base-4321-disk-0.qcow2" },
	  { { "images", "qcow2", "../ssss/base-4321-disk-0.qcow2", NULL,
	      "local:1234/vm-1234-disk-0.qcow2", 1234, 0 } } },
	{ "VMID: none, non-matching",
	  0,
	  { "images/ssss/base-4321-disk-0.raw", "images/ssss/vm-1234-disk-0.qcow2",
	    "template/iso/yet-again-a-installation-disk.dvd",
	    "template/cache/debian-10.0-standard_10.0-1_amd64.zip.gz",
	    "private/subvol-19254-disk-0/19254",
	    "dump/vzdump-openvz-16112-2020_03_30-21_39_30.zip.gz",
	    "dump/vzdump-openvz-16112-2020_03_30-21_39_30.tgz.lzo",
	    "dump/vzdump-qemu-16110-2020_03_30-21_12_40.vma.xz",
	    "dump/vzdump-qemu-16110-2020_03_30-21_12_40.vms.gz" },
	  { NULL },
	  { { NULL } } },
};

static int cmp_want(const void *a, const void *b)
{
	return strcmp(((const want *)a)->volid, ((const want *)b)->volid);
}

static void list_case_run(const list_case *t, size_t idx)
{
	_cleanup_free_ char *top = xasprintf("%s/case%zu", test_tmpdir(), idx);
	size_t np = 0;
	for (const char *const *f = t->files; *f; f++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", top, *f);
		bool img = startswith(*f, "images/") && !endswith(*f, "/");
		make_file(p, img && t->parents[0] ? t->parents[np++] : NULL);
	}
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (open_local(top, &cfg, &st) < 0)
		return;
	st.containers = containers;
	st.n_containers = ELEMENTSOF(containers);
	want w[16];
	size_t nw = 0;
	while (nw < ELEMENTSOF(t->expected) && t->expected[nw].volid) {
		w[nw] = t->expected[nw];
		nw++;
	}
	qsort(w, nw, sizeof(*w), cmp_want);
	pve_volume_info *v = NULL;
	size_t n = 0;
	_cleanup_error_ pve_error *err = NULL;
	unsigned types = PVE_CONTENT_ROOTDIR | PVE_CONTENT_IMAGES | PVE_CONTENT_VZTMPL |
			 PVE_CONTENT_ISO | PVE_CONTENT_BACKUP | PVE_CONTENT_SNIPPETS;
	if (pve_storage_list_volumes(&st, t->vmid, types, &v, &n, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s: %s", t->description, err->message);
		pve_sectioncfg_free(cfg);
		return;
	}
	if (n != nw)
		test_fail(__FILE__, __LINE__, "%s: %zu volumes, expected %zu", t->description, n,
			  nw);
	for (size_t i = 0; i < n && i < nw; i++) {
		const pve_volume_info *x = &v[i];
		const want *e = &w[i];
		bool image = streq(e->content, "images") || streq(e->content, "rootdir");
		_cleanup_free_ char *file = NULL;
		struct stat sb = { 0 };
		const char *volname = strchr(e->volid, ':') + 1;
		if (pve_storage_path(&st, volname, NULL, &file, NULL) == 0)
			stat(file, &sb);
		time_t ctime = e->ctime ? e->ctime : sb.st_ctime;
		uint64_t used = image ? (uint64_t)sb.st_blocks * 512 : 0;
		if (!streq(x->volid, e->volid) ||
		    !streq_ptr(pve_storage_content_name(x->content), e->content) ||
		    !streq_ptr(x->format, e->format) || !streq_ptr(x->parent, e->parent) ||
		    !streq_ptr(x->subtype, e->subtype) || x->vmid != e->vmid ||
		    x->size != DEFAULT_SIZE || x->ctime != ctime || x->used != used ||
		    x->protected_ || x->notes)
			test_fail(
				__FILE__, __LINE__,
				"%s: got {%s, %s, %s, parent %s, subtype %s, vmid %lld, size %" PRIu64
				", used %" PRIu64 ", ctime %lld}, expected {%s, %s, %s, %s, %s, "
				"%lld, %d, %" PRIu64 ", %lld}",
				t->description, x->volid, pve_storage_content_name(x->content),
				x->format, x->parent ? x->parent : "undef",
				x->subtype ? x->subtype : "-", x->vmid, x->size, x->used,
				(long long)x->ctime, e->volid, e->content, e->format,
				e->parent ? e->parent : "undef", e->subtype ? e->subtype : "-",
				e->vmid, DEFAULT_SIZE, used, (long long)ctime);
	}
	pve_volume_infos_free(v, n);
	pve_sectioncfg_free(cfg);
}

/* list_volumes_test.pm: its 7 listings (its 8th case, that listing leaves the cluster's vmlist as
 * it was, has no counterpart: the listing gets the containers as a const array). In UTC, as its
 * runner. */
static void list_volumes_suite(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < ELEMENTSOF(list_cases); i++)
		list_case_run(&list_cases[i], i);
}

/* ---- path_to_volume_id_test.pm ---------------------------------------------------------------------- */

static const struct {
	const char *description, *path, *vtype, *volid;
} path_cases[] = {
	{ "Image, qcow2", "images/16110/vm-16110-disk-0.qcow2", "images",
	  "local:16110/vm-16110-disk-0.qcow2" },
	{ "Image, raw", "images/16112/vm-16112-disk-0.raw", "images",
	  "local:16112/vm-16112-disk-0.raw" },
	{ "Image template, qcow2", "images/9004/base-9004-disk-0.qcow2", "images",
	  "local:9004/base-9004-disk-0.qcow2" },
	{ "Backup, vma.gz", "dump/vzdump-qemu-16110-2020_03_30-21_11_40.vma.gz", "backup",
	  "local:backup/vzdump-qemu-16110-2020_03_30-21_11_40.vma.gz" },
	{ "Backup, vma.lzo", "dump/vzdump-qemu-16110-2020_03_30-21_12_45.vma.lzo", "backup",
	  "local:backup/vzdump-qemu-16110-2020_03_30-21_12_45.vma.lzo" },
	{ "Backup, vma", "dump/vzdump-qemu-16110-2020_03_30-21_13_55.vma", "backup",
	  "local:backup/vzdump-qemu-16110-2020_03_30-21_13_55.vma" },
	{ "Backup, tar.lzo", "dump/vzdump-lxc-16112-2020_03_30-21_39_30.tar.lzo", "backup",
	  "local:backup/vzdump-lxc-16112-2020_03_30-21_39_30.tar.lzo" },
	{ "Backup, vma.zst", "dump/vzdump-qemu-16110-2020_03_30-21_13_55.vma.zst", "backup",
	  "local:backup/vzdump-qemu-16110-2020_03_30-21_13_55.vma.zst" },
	{ "Backup, tar.zst", "dump/vzdump-lxc-16112-2020_03_30-21_39_30.tar.zst", "backup",
	  "local:backup/vzdump-lxc-16112-2020_03_30-21_39_30.tar.zst" },
	{ "Backup, tar.bz2", "dump/vzdump-openvz-16112-2020_03_30-21_39_30.tar.bz2", "backup",
	  "local:backup/vzdump-openvz-16112-2020_03_30-21_39_30.tar.bz2" },
	{ "ISO file", "template/iso/yet-again-a-installation-disk.iso", "iso",
	  "local:iso/yet-again-a-installation-disk.iso" },
	{ "CT template, tar.gz", "template/cache/debian-10.0-standard_10.0-1_amd64.tar.gz",
	  "vztmpl", "local:vztmpl/debian-10.0-standard_10.0-1_amd64.tar.gz" },
	{ "CT template, wrong ending, tar bz2",
	  "template/cache/debian-10.0-standard_10.0-1_amd64.tar.bz2", "vztmpl",
	  "local:vztmpl/debian-10.0-standard_10.0-1_amd64.tar.bz2" },
	{ "Rootdir, folder subvol, legacy naming", "images/1234/subvol-1234-disk-0.subvol/",
	  "images", "local:1234/subvol-1234-disk-0.subvol" },
	{ "Rootdir, folder subvol", "images/1234/subvol-1234-disk-0.subvol/", "images",
	  "local:1234/subvol-1234-disk-0.subvol" },
	{ "Snippets, yaml", "snippets/userconfig.yaml", "snippets",
	  "local:snippets/userconfig.yaml" },
	{ "Snippets, hookscript", "snippets/hookscript.pl", "snippets",
	  "local:snippets/hookscript.pl" },
	{ "CT template, tar.xz", "template/cache/debian-10.0-standard_10.0-1_amd64.tar.xz",
	  "vztmpl", "local:vztmpl/debian-10.0-standard_10.0-1_amd64.tar.xz" },
	{ "Import, ova", "import/import.ova", "import", "local:import/import.ova" },
	{ "Import, ovf", "import/import.ovf", "import", "local:import/import.ovf" },
	{ "Base template, string as vmid in folder name", "images/ssss/base-4321-disk-0.raw", NULL,
	  NULL },
	{ "ISO file, wrong ending", "template/iso/yet-again-a-installation-disk.dvd", NULL, NULL },
	{ "CT template, wrong ending, zip.gz",
	  "template/cache/debian-10.0-standard_10.0-1_amd64.zip.gz", NULL, NULL },
	{ "Backup, wrong format, openvz, zip.gz",
	  "dump/vzdump-openvz-16112-2020_03_30-21_39_30.zip.gz", NULL, NULL },
	{ "Backup, wrong format, openvz, tgz.lzo",
	  "dump/vzdump-openvz-16112-2020_03_30-21_39_30.tgz.lzo", NULL, NULL },
	{ "Backup, wrong ending, qemu, vma.xz", "dump/vzdump-qemu-16110-2020_03_30-21_12_40.vma.xz",
	  NULL, NULL },
	{ "Backup, wrong format, qemu, vms.gz", "dump/vzdump-qemu-16110-2020_03_30-21_12_40.vms.gz",
	  NULL, NULL },
	{ "Image, string as vmid in folder name", "images/ssss/vm-1234-disk-0.qcow2", NULL, NULL },
	{ "Import, non ova/ovf/disk image in import dir", "import/test.foo", NULL, NULL },
};

/* path_to_volume_id_test.pm: 29 cases (its 30th, the vtype_subdir check, is disabled there). The
 * files are made empty, as there, in one storage directory that grows case by case. */
static void path_to_volume_id_suite(void)
{
	_cleanup_free_ char *top = xasprintf("%s/local", test_tmpdir());
	pve_sectioncfg *cfg = NULL;
	check(mkdir(top, 0755) == 0);
	if (open_local(top, &cfg, NULL) < 0)
		return;
	for (size_t i = 0; i < ELEMENTSOF(path_cases); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", top, path_cases[i].path);
		_cleanup_free_ char *d = xstrdup(p);
		if (!endswith(p, "/")) {
			check(pve_mkdir_p(dirname(d), 0755, NULL) == 0);
			int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			check(fd >= 0);
			close(fd);
		} else {
			check(pve_mkdir_p(p, 0755, NULL) == 0);
		}
		unsigned vtype = 0;
		_cleanup_free_ char *volid = NULL;
		_cleanup_error_ pve_error *err = NULL;
		if (pve_storage_path_to_volume_id(cfg, p, &vtype, &volid, &err) < 0) {
			test_fail(__FILE__, __LINE__, "%s: %s", path_cases[i].description,
				  err->message);
			continue;
		}
		const char *got = vtype ? pve_storage_content_name(vtype) : NULL;
		if (!streq_ptr(got, path_cases[i].vtype) || !streq_ptr(volid, path_cases[i].volid))
			test_fail(__FILE__, __LINE__, "%s: ['%s', '%s'], expected ['%s', '%s']",
				  path_cases[i].description, got ? got : "", volid ? volid : "",
				  path_cases[i].vtype ? path_cases[i].vtype : "",
				  path_cases[i].volid ? path_cases[i].volid : "");
	}
	pve_sectioncfg_free(cfg);
}

TEST_MAIN(TEST(list_volumes_suite), TEST(path_to_volume_id_suite))
