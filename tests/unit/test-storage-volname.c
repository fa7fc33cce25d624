/* Proxmox's own tables for volume names, carried over as data (pve-storage src/test): every case of
 * parse_volname_test.pm, get_subdir_test.pm, filesystem_path_test.pm and archive_info_test.pm, against
 * pved's storage library. A failing case names Proxmox's description. */
#include <stdarg.h>

#include "storage/storage.h"
#include "tests/unit/test.h"

#define VMID "1234"

/* One parse_volname case: the volume name, and either Proxmox's answer (vtype, name, vmid, basename,
 * basevmid, isBase, format) or its error. */
typedef struct volname_case {
	char description[128];
	char volname[256];
	const char *vtype; /* NULL: an error */
	char name[256];
	long long vmid, basevmid;
	char basename[256];
	bool is_base;
	char format[32];
	char error[512];
} volname_case;

static void case_check(const volname_case *t)
{
	pve_volname v = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	int r = pve_storage_parse_volname(t->volname, &v, &err);
	if (!t->vtype) {
		if (r != -EINVAL || !err || !streq(err->message, t->error))
			test_fail(__FILE__, __LINE__, "%s: '%s': got '%s', expected error '%s'",
				  t->description, t->volname,
				  r < 0 && err ? err->message : "success", t->error);
		pve_volname_clear(&v);
		return;
	}
	if (r < 0) {
		test_fail(__FILE__, __LINE__, "%s: '%s' refused: %s", t->description, t->volname,
			  err ? err->message : "?");
		return;
	}
	const char *vtype = pve_storage_content_name(v.vtype);
	if (!streq_ptr(vtype, t->vtype) || !streq_ptr(v.name, t->name) || v.vmid != t->vmid ||
	    !streq_ptr(v.basename, t->basename[0] ? t->basename : NULL) ||
	    v.basevmid != t->basevmid || v.is_base != t->is_base || !streq_ptr(v.format, t->format))
		test_fail(__FILE__, __LINE__,
			  "%s: '%s' gave [%s, %s, %lld, %s, %lld, %s, %s], expected [%s, %s, %lld, "
			  "%s, %lld, %s, %s]",
			  t->description, t->volname, vtype ? vtype : "?", v.name, v.vmid,
			  v.basename ? v.basename : "undef", v.basevmid,
			  v.is_base ? "base-" : "undef", v.format ? v.format : "undef", t->vtype,
			  t->name, t->vmid, t->basename[0] ? t->basename : "undef", t->basevmid,
			  t->is_base ? "base-" : "undef", t->format);
	pve_volname_clear(&v);
}

static void ok_case(const char *description, const char *volname, const char *vtype,
		    const char *name, long long vmid, const char *basename, long long basevmid,
		    bool is_base, const char *format)
{
	volname_case t = { .vtype = vtype, .vmid = vmid, .basevmid = basevmid, .is_base = is_base };
	snprintf(t.description, sizeof(t.description), "%s", description);
	snprintf(t.volname, sizeof(t.volname), "%s", volname);
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.basename, sizeof(t.basename), "%s", basename ? basename : "");
	snprintf(t.format, sizeof(t.format), "%s", format);
	case_check(&t);
}

static void fail_case(const char *description, const char *volname, const char *error)
{
	volname_case t = { 0 };
	snprintf(t.description, sizeof(t.description), "%s", description);
	snprintf(t.volname, sizeof(t.volname), "%s", volname);
	snprintf(t.error, sizeof(t.error), "%s", error);
	case_check(&t);
}

/* parse_volname_test.pm: 52 cases (its 53rd, the vtype_subdir check, is disabled there). */
static void parse_volname_suite(void)
{
	char a[256], b[256], c[512], d[256];
	ok_case("VM disk image, linked, qcow2, vm- as base-",
		VMID "/vm-" VMID "-disk-0.qcow2/" VMID "/vm-" VMID "-disk-0.qcow2", "images",
		"vm-" VMID "-disk-0.qcow2", 1234, "vm-" VMID "-disk-0.qcow2", 1234, false, "qcow2");
	ok_case("ISO image, iso", "iso/some-installation-disk.iso", "iso",
		"some-installation-disk.iso", 0, NULL, 0, false, "raw");
	ok_case("ISO image, img", "iso/some-other-installation-disk.img", "iso",
		"some-other-installation-disk.img", 0, NULL, 0, false, "raw");
	static const char *const tmpl[] = { "tar", "tar.gz", "tar.xz", "tar.bz2" };
	for (size_t i = 0; i < ELEMENTSOF(tmpl); i++) {
		snprintf(a, sizeof(a), "Container template %s", tmpl[i]);
		snprintf(b, sizeof(b), "vztmpl/debian-10.0-standard_10.0-1_amd64.%s", tmpl[i]);
		ok_case(a, b, "vztmpl", b + 7, 0, NULL, 0, false, "raw");
	}
	ok_case("Container rootdir, subvol", VMID "/subvol-" VMID "-disk-0.subvol", "images",
		"subvol-" VMID "-disk-0.subvol", 1234, NULL, 0, false, "subvol");
	ok_case("Backup archive, no virtualization type",
		"backup/vzdump-none-" VMID "-2020_03_30-21_39_30.tar", "backup",
		"vzdump-none-" VMID "-2020_03_30-21_39_30.tar", 0, NULL, 0, false, "raw");
	ok_case("Snippets, yaml", "snippets/userconfig.yaml", "snippets", "userconfig.yaml", 0,
		NULL, 0, false, "raw");
	ok_case("Snippets, perl", "snippets/hookscript.pl", "snippets", "hookscript.pl", 0, NULL, 0,
		false, "raw");
	ok_case("Import, ova", "import/import.ova", "import", "import.ova", 0, NULL, 0, false,
		"ova");
	ok_case("Import, ovf", "import/import.ovf", "import", "import.ovf", 0, NULL, 0, false,
		"ovf");
	ok_case("Import, innner file of ova", "import/import.ova/disk.qcow2", "import",
		"import.ova/disk.qcow2", 0, NULL, 0, false, "ova+qcow2");
	ok_case("Import, innner file of ova", "import/import.ova/disk.vmdk", "import",
		"import.ova/disk.vmdk", 0, NULL, 0, false, "ova+vmdk");
	ok_case("Import, innner file of ova with whitespace in name",
		"import/import.ova/OS disk.vmdk", "import", "import.ova/OS disk.vmdk", 0, NULL, 0,
		false, "ova+vmdk");
	ok_case("Import, innner file of ova", "import/import.ova/disk.raw", "import",
		"import.ova/disk.raw", 0, NULL, 0, false, "ova+raw");
	fail_case("Failed match: VM disk image, base, raw", "ssss/base-" VMID "-disk-0.raw",
		  "unable to parse directory volume name 'ssss/base-" VMID "-disk-0.raw'");
	fail_case("Failed match: ISO image, dvd", "iso/yet-again-a-installation-disk.dvd",
		  "unable to parse directory volume name 'iso/yet-again-a-installation-disk.dvd'");
	fail_case("Failed match: Container template, zip.gz",
		  "vztmpl/debian-10.0-standard_10.0-1_amd64.zip.gz",
		  "unable to parse directory volume name "
		  "'vztmpl/debian-10.0-standard_10.0-1_amd64.zip.gz'");
	fail_case("Failed match: VM disk image, linked, vhdx",
		  VMID "/base-" VMID "-disk-0.vhdx/" VMID "/vm-" VMID "-disk-0.vhdx",
		  "unable to parse volume filename 'base-" VMID "-disk-0.vhdx'");
	fail_case("Failed match: VM disk image, linked, qcow2, first vmid",
		  "ssss/base-" VMID "-disk-0.qcow2/" VMID "/vm-" VMID "-disk-0.qcow2",
		  "unable to parse directory volume name 'ssss/base-" VMID "-disk-0.qcow2/" VMID
		  "/vm-" VMID "-disk-0.qcow2'");
	fail_case("Failed match: VM disk image, linked, qcow2, second vmid",
		  VMID "/base-" VMID "-disk-0.qcow2/ssss/vm-" VMID "-disk-0.qcow2",
		  "unable to parse volume filename 'base-" VMID "-disk-0.qcow2/ssss/vm-" VMID
		  "-disk-0.qcow2'");
	fail_case("Failed match: import dir but no ova/ovf/disk image", "import/test.foo",
		  "unable to parse directory volume name 'import/test.foo'");

	static const char *const disks[] = { "raw", "qcow2", "vmdk" };
	for (size_t i = 0; i < ELEMENTSOF(disks); i++) {
		const char *s = disks[i];
		snprintf(a, sizeof(a), "VM disk image, %s", s);
		snprintf(b, sizeof(b), VMID "/vm-" VMID "-disk-1.%s", s);
		ok_case(a, b, "images", b + 5, 1234, NULL, 0, false, s);
		snprintf(a, sizeof(a), "VM disk image, linked, %s", s);
		snprintf(b, sizeof(b),
			 VMID "/base-" VMID "-disk-0.%s/" VMID "/vm-" VMID "-disk-0.%s", s, s);
		snprintf(c, sizeof(c), "vm-" VMID "-disk-0.%s", s);
		snprintf(d, sizeof(d), "base-" VMID "-disk-0.%s", s);
		ok_case(a, b, "images", c, 1234, d, 1234, false, s);
		snprintf(a, sizeof(a), "VM disk image, base, %s", s);
		snprintf(b, sizeof(b), VMID "/base-" VMID "-disk-0.%s", s);
		ok_case(a, b, "images", b + 5, 1234, NULL, 0, true, s);
	}

	static const struct {
		const char *virt;
		const char *suffix[7];
	} bkp[] = {
		{ "qemu", { "vma", "vma.gz", "vma.lzo", "vma.zst" } },
		{ "lxc", { "tar", "tgz", "tar.gz", "tar.lzo", "tar.zst", "tar.bz2" } },
		{ "openvz", { "tar", "tgz", "tar.gz", "tar.lzo", "tar.zst" } },
	};
	for (size_t i = 0; i < ELEMENTSOF(bkp); i++)
		for (const char *const *s = bkp[i].suffix; *s; s++) {
			snprintf(a, sizeof(a), "Backup archive, %s, %s", bkp[i].virt, *s);
			snprintf(b, sizeof(b), "backup/vzdump-%s-" VMID "-2020_03_30-21_12_40.%s",
				 bkp[i].virt, *s);
			ok_case(a, b, "backup", b + 7, 1234, NULL, 0, false, "raw");
		}

	static const struct {
		const char *virt;
		const char *suffix[3];
	} nonbkp[] = {
		{ "qemu", { "vms.gz", "vma.xz" } },
		{ "lxc", { "zip.gz", "tgz.lzo" } },
	};
	for (size_t i = 0; i < ELEMENTSOF(nonbkp); i++)
		for (const char *const *s = nonbkp[i].suffix; *s; s++) {
			snprintf(a, sizeof(a), "Failed match: Backup archive, %s, %s",
				 nonbkp[i].virt, *s);
			snprintf(b, sizeof(b), "backup/vzdump-%s-" VMID "-2020_03_30-21_12_40.%s",
				 nonbkp[i].virt, *s);
			snprintf(c, sizeof(c), "unable to parse directory volume name '%s'", b);
			fail_case(a, b, c);
		}
}

/* A storage with only a path (and content-dirs when given), as the suites' $scfg. */
static pve_storage *path_storage(const char *path, const char *content_dirs, pve_sectioncfg **cfg)
{
	_cleanup_free_ char *text =
		path ? xasprintf("dir: st\n\tpath %s\n\tcontent images,rootdir,iso,vztmpl,backup,"
				 "snippets,import\n%s%s%s",
				 path, content_dirs ? "\tcontent-dirs " : "",
				 content_dirs ? content_dirs : "", content_dirs ? "\n" : "") :
		       xstrdup("");
	static pve_storage st;
	*cfg = NULL;
	if (!path) {
		st = (pve_storage){ .id = "st", .plugin = pve_storage_plugin_find("dir") };
		return &st;
	}
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), cfg, &err) < 0 ||
	    pve_storage_get(*cfg, "st", &st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "storage.cfg: %s", err ? err->message : "?");
		pve_error_free(err);
		return NULL;
	}
	return &st;
}

static void subdir_case(const char *path, const char *content_dirs, const char *vtype,
			const char *expected)
{
	pve_sectioncfg *cfg = NULL;
	pve_storage *st = path_storage(path, content_dirs, &cfg);
	_cleanup_free_ char *got = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (st && pve_storage_get_subdir(st, vtype, &got, &err) < 0)
		got = xstrdup(err ? err->message : "?");
	if (st && !streq_ptr(got, expected))
		test_fail(__FILE__, __LINE__,
			  "get_subdir for %s (content-dirs %s): '%s', expected '%s'", vtype,
			  content_dirs ? content_dirs : "none", got, expected);
	pve_sectioncfg_free(cfg);
}

/* get_subdir_test.pm: 16 cases. */
static void get_subdir_suite(void)
{
	static const char *const vtypes[][2] = {
		{ "images", "images" },	   { "rootdir", "private" },
		{ "iso", "template/iso" }, { "vztmpl", "template/cache" },
		{ "backup", "dump" },	   { "snippets", "snippets" },
		{ "import", "import" },
	};
	subdir_case("/some/path", NULL, "none", "unknown vtype 'none'");
	subdir_case(NULL, NULL, "iso", "storage definition has no path");
	for (size_t i = 0; i < ELEMENTSOF(vtypes); i++) {
		_cleanup_free_ char *want = xasprintf("/some/path/%s", vtypes[i][1]);
		subdir_case("/some/path", NULL, vtypes[i][0], want);
	}
	for (size_t i = 0; i < ELEMENTSOF(vtypes); i++) {
		_cleanup_free_ char *over = xasprintf("%s=%s_override", vtypes[i][0], vtypes[i][0]);
		_cleanup_free_ char *want = xasprintf("/some/path/%s_override", vtypes[i][0]);
		subdir_case("/some/path", over, vtypes[i][0], want);
	}
}

static void path_case(const char *volname, const char *snap, const char *path, long long vmid,
		      const char *vtype, const char *error)
{
	pve_sectioncfg *cfg = NULL;
	pve_storage *st = path_storage("/some/path", NULL, &cfg);
	if (!st)
		return;
	_cleanup_free_ char *got = NULL;
	_cleanup_error_ pve_error *err = NULL;
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	int r = pve_storage_path(st, volname, snap, &got, &err);
	if (error) {
		if (r >= 0 || !err || !streq(err->message, error))
			test_fail(__FILE__, __LINE__,
				  "filesystem_path for %s@%s: %s, expected '%s'", volname,
				  snap ? snap : "", r < 0 ? err->message : got, error);
	} else if (r < 0 || pve_storage_volume_parse(st, volname, &v, NULL) < 0 ||
		   !streq(got, path) || v.vmid != vmid ||
		   !streq_ptr(pve_storage_content_name(v.vtype), vtype)) {
		test_fail(__FILE__, __LINE__, "filesystem_path for %s: %s (vmid %lld), expected %s",
			  volname, r < 0 ? err->message : got, v.vmid, path);
	}
	pve_sectioncfg_free(cfg);
}

/* filesystem_path_test.pm: 6 cases (the path, its owner and its type). */
static void filesystem_path_suite(void)
{
	path_case("1234/vm-1234-disk-0.raw", NULL, "/some/path/images/1234/vm-1234-disk-0.raw",
		  1234, "images", NULL);
	path_case("1234/vm-1234-disk-0.raw", "my_snap", NULL, 0, NULL,
		  "can't snapshot this image format");
	path_case("1234/vm-1234-disk-0.qcow2", NULL, "/some/path/images/1234/vm-1234-disk-0.qcow2",
		  1234, "images", NULL);
	path_case("1234/vm-1234-disk-0.qcow2", "my_snap",
		  "/some/path/images/1234/vm-1234-disk-0.qcow2", 1234, "images", NULL);
	path_case("iso/my-awesome-proxmox.iso", NULL,
		  "/some/path/template/iso/my-awesome-proxmox.iso", 0, "iso", NULL);
	path_case("backup/vzdump-qemu-1234-2020_03_30-21_12_40.vma", NULL,
		  "/some/path/dump/vzdump-qemu-1234-2020_03_30-21_12_40.vma", 1234, "backup", NULL);
}

/* One archive_info case: what Proxmox's hash holds (logfilename NULL: not a standard name), or its
 * error. */
static void archive_case(const char *description, const char *archive, const char *filename,
			 const char *type, const char *format, const char *compression,
			 const char *decomp, long long vmid, long long ctime, bool std,
			 const char *error)
{
	_cleanup_(pve_archive_info_clear) pve_archive_info a = { 0 };
	_cleanup_error_ pve_error *err = NULL;
	int r = pve_storage_archive_info(archive, &a, &err);
	if (error) {
		if (r >= 0 || !err || !streq(err->message, error))
			test_fail(__FILE__, __LINE__, "%s: got %s, expected '%s'", description,
				  r < 0 && err ? err->message : "success", error);
		return;
	}
	if (r < 0) {
		test_fail(__FILE__, __LINE__, "%s: %s", description, err ? err->message : "?");
		return;
	}
	_cleanup_free_ char *got_decomp =
		a.decompressor ? pve_strv_join((char *const *)a.decompressor, " ") : NULL;
	/* a standard name has log and notes files named after it */
	_cleanup_free_ char *stem = NULL, *log = NULL, *notes = NULL;
	if (std) {
		/* the name up to the time, the rest is the extension */
		stem = xstrndup(filename, strlen("vzdump-") + strlen(type) + 1 +
						  (size_t)snprintf(NULL, 0, "%lld", vmid) + 1 + 19);
		log = xasprintf("%s.log", stem);
		notes = xasprintf("%s.notes", filename);
	}
	if (!streq_ptr(a.filename, filename) || !streq_ptr(a.type, type) ||
	    !streq_ptr(a.format, format) || !streq_ptr(a.compression, compression) ||
	    !streq_ptr(got_decomp, decomp) || a.is_std_name != std ||
	    (std && (a.vmid != vmid || (long long)a.ctime != ctime ||
		     !streq_ptr(a.logfilename, log) || !streq_ptr(a.notesfilename, notes))) ||
	    (!std && (a.logfilename || a.notesfilename || a.vmid)))
		test_fail(__FILE__, __LINE__,
			  "%s: {%s, %s, %s, %s, [%s], vmid %lld, ctime %lld, std %d, %s, %s}",
			  description, a.filename, a.type, a.format,
			  a.compression ? a.compression : "undef", got_decomp ? got_decomp : "",
			  a.vmid, (long long)a.ctime, a.is_std_name,
			  a.logfilename ? a.logfilename : "-",
			  a.notesfilename ? a.notesfilename : "-");
}

/* archive_info_test.pm: 31 cases, in the time zone its runner sets (UTC). */
static void archive_info_suite(void)
{
	char a[256], b[512], c[256], e[768];
	archive_case("Backup archive, lxc, tgz, future millenium",
		     "backup/vzdump-lxc-16110-3070_01_01-00_00_00.tgz",
		     "vzdump-lxc-16110-3070_01_01-00_00_00.tgz", "lxc", "tar", "gz", "tar -z",
		     16110, 60LL * 60 * 24 * (365 * 1100 + 267), true, NULL);
	archive_case("Backup archive, lxc, tgz, very old",
		     "backup/vzdump-lxc-16110-1970_01_01-02_00_30.tgz",
		     "vzdump-lxc-16110-1970_01_01-02_00_30.tgz", "lxc", "tar", "gz", "tar -z",
		     16110, 60 * 60 * 2 + 30, true, NULL);
	archive_case("Backup archive, lxc, tgz", "backup/vzdump-lxc-16110-2020_03_30-21_39_30.tgz",
		     "vzdump-lxc-16110-2020_03_30-21_39_30.tgz", "lxc", "tar", "gz", "tar -z",
		     16110, 1585604370, true, NULL);
	archive_case("Backup archive, openvz, tgz",
		     "backup/vzdump-openvz-16110-2020_03_30-21_39_30.tgz",
		     "vzdump-openvz-16110-2020_03_30-21_39_30.tgz", "openvz", "tar", "gz", "tar -z",
		     16110, 1585604370, true, NULL);
	archive_case("Backup archive, custom dump directory, qemu, tgz",
		     "/here/be/Back-ups/vzdump-qemu-16110-2020_03_30-21_39_30.tgz",
		     "vzdump-qemu-16110-2020_03_30-21_39_30.tgz", "qemu", "tar", "gz", "tar -z",
		     16110, 1585604370, true, NULL);
	archive_case("Backup archive, none, tgz",
		     "backup/vzdump-qemu-16110-whatever-the-name_is_here.tgz",
		     "vzdump-qemu-16110-whatever-the-name_is_here.tgz", "qemu", "tar", "gz",
		     "tar -z", 0, 0, false, NULL);

	static const char *const tar_d[][2] = { { "bz2", "tar --bzip2" },
						{ "gz", "tar -z" },
						{ "lzo", "tar --lzop" },
						{ "zst", "tar --zstd" } };
	static const char *const vma_d[][2] = { { "bz2", "bzcat -q" },
						{ "gz", "zcat" },
						{ "lzo", "lzop -d -c" },
						{ "zst", "zstd -q -d -c" } };
	static const char *const virts[][2] = { { "lxc", "tar" },
						{ "openvz", "tar" },
						{ "qemu", "vma" } };
	for (size_t i = 0; i < ELEMENTSOF(virts); i++)
		for (size_t k = 0; k < 4; k++) {
			const char *const *dd = streq(virts[i][1], "tar") ? tar_d[k] : vma_d[k];
			snprintf(a, sizeof(a), "Backup archive, %s, %s.%s", virts[i][0],
				 virts[i][1], dd[0]);
			snprintf(c, sizeof(c), "vzdump-%s-16110-2020_03_30-21_12_40.%s.%s",
				 virts[i][0], virts[i][1], dd[0]);
			snprintf(b, sizeof(b), "backup/%s", c);
			archive_case(a, b, c, virts[i][0], virts[i][1], dd[0], dd[1], 16110,
				     1585602760, true, NULL);
		}

	static const struct {
		const char *virt;
		const char *suffix[5];
	} non[] = {
		{ "lxc", { "zip", "tgz.lzo", "zip.gz", "" } },
		{ "none", { "tar.gz" } },
		{ "openvz", { "zip", "tgz.lzo", "zip.gz", "" } },
		{ "qemu", { "vma.xz", "vms.gz", "vmx.zst", "" } },
	};
	for (size_t i = 0; i < ELEMENTSOF(non); i++)
		for (const char *const *s = non[i].suffix; *s; s++) {
			snprintf(a, sizeof(a), "Failed match: Backup archive, %s, %s", non[i].virt,
				 *s);
			snprintf(b, sizeof(b), "backup/vzdump-%s-16110-2020_03_30-21_12_40.%s",
				 non[i].virt, *s);
			snprintf(e, sizeof(e), "ERROR: couldn't determine archive info from '%s'",
				 b);
			archive_case(a, b, NULL, NULL, NULL, NULL, NULL, 0, 0, false, e);
		}
}

static void utc(void)
{
	/* Proxmox's runner: "to ensure consistent ctime values on all systems" */
	setenv("TZ", "UTC", 1);
	tzset();
}

static void archive_info_suite_utc(void)
{
	utc();
	archive_info_suite();
}

TEST_MAIN(TEST(parse_volname_suite), TEST(get_subdir_suite), TEST(filesystem_path_suite),
	  TEST(archive_info_suite_utc))
