/* The lvm and lvmthin plugins on a real volume group: the shared plugin table
 * (storage-plugin-test.h), the refusals, saferemove (paced, in steps), tagged_only, and the lvm
 * options' values (no volume group needed). The volume group (and its thin pool) come from the
 * environment: PVED_TEST_VG and PVED_TEST_THINPOOL, which tests/storage/lab-storage-lvm.sh sets up
 * on loop devices in the lab (this host has no device-mapper); without them every case that needs
 * one skips and says so. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "storage/storage.h"
#include "tests/unit/storage-plugin-test.h"
#include "tests/unit/test.h"

#define MIB (1 << 20)

typedef struct lvm_env {
	pve_sectioncfg *cfg;
	pve_storage st;
	const char *vg;
} lvm_env;

static void env_clear(lvm_env *e)
{
	pve_sectioncfg_free(e->cfg);
	*e = (lvm_env){ 0 };
}

/* A storage of type on the test's volume group; false with the case skipped or failed. */
static bool env_setup(lvm_env *e, const char *type, const char *extra)
{
	*e = (lvm_env){ 0 };
	const char *vg = getenv("PVED_TEST_VG");
	const char *pool = getenv("PVED_TEST_THINPOOL");
	if (!vg || !*vg)
		return test_skip("PVED_TEST_VG is not set: needs a volume group (device-mapper), "
				 "see tests/storage/lab-storage-lvm.sh"),
		       false;
	bool thin = streq(type, "lvmthin");
	if (thin && (!pool || !*pool))
		return test_skip("PVED_TEST_THINPOOL is not set"), false;
	_cleanup_free_ char *text =
		thin ? xasprintf(
			       "lvmthin: test\n\tvgname %s\n\tthinpool %s\n\tcontent images,rootdir\n%s",
			       vg, pool, extra) :
		       xasprintf("lvm: test\n\tvgname %s\n\tcontent images,rootdir\n%s", vg, extra);
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &e->cfg, &err) < 0 ||
	    pve_storage_get(e->cfg, "test", &e->st, &err) < 0 ||
	    pve_storage_activate(&e->st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		env_clear(e);
		return false;
	}
	e->vg = vg;
	return true;
}

static void lvm_plugin_table(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvm", ""))
		return;
	_cleanup_free_ char *path = xasprintf("/dev/%s/vm-100-disk-0", e.vg);
	const spt_format formats[] = { {
		.fmt = "raw",
		.volname = "vm-100-disk-0",
		.path = path,
		.size = 4 * MIB,
		.grown = 8 * MIB,
		.snapshots = false, /* thick LVM: no snapshots, no templates, as Proxmox's */
		.data = true,
		.renamed = "vm-102-disk-0",
	} };
	spt_run_table(&e.st, formats, ELEMENTSOF(formats));
	env_clear(&e);
}

static void lvm_plugin_refusals(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvm", ""))
		return;
	spt_refusals(&e.st, &(spt_names){ .fmt = "raw",
					  .name = "vm-100-disk-7",
					  .volname = "vm-100-disk-7",
					  .missing = "vm-100-disk-9",
					  .size = 4 * MIB });
	pve_error *err = NULL;
	char *vn = NULL;
	/* qcow2 on LVM is Proxmox 9's volume chain, which pved does not do */
	check(pve_storage_alloc_image(&e.st, 100, "qcow2", NULL, 4 * MIB, &vn, &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	/* the API's refusal: no snapshot op for thick volumes */
	check(pve_storage_alloc_image(&e.st, 100, "raw", NULL, 4 * MIB, &vn, NULL) == 0);
	check(!pve_storage_volume_has_feature(&e.st, PVE_FEATURE_SNAPSHOT, vn, NULL));
	check(pve_storage_volume_snapshot(&e.st, vn, "s1", &err) == -ENOSYS);
	check(err && strstr(err->message, "does not support"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_create_base(&e.st, vn, NULL, &err) == -ENOSYS);
	pve_error_free(err);
	err = NULL;
	/* a linked-clone name means nothing on thick LVM */
	check(pve_storage_free_image(&e.st, "base-100-disk-0/vm-101-disk-0", &err) == -EINVAL);
	pve_error_free(err);
	check(pve_storage_free_image(&e.st, vn, NULL) == 0);
	free(vn);
	/* a volume group that does not exist */
	lvm_env bad;
	env_clear(&e);
	_cleanup_free_ char *text = xstrdup("lvm: nope\n\tvgname pved-no-such-vg\n");
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	check(pve_storage_cfg_parse(text, strlen(text), &c, NULL) == 0);
	if (c && pve_storage_get(c, "nope", &bad.st, NULL) == 0) {
		err = NULL;
		check(pve_storage_activate(&bad.st, &err) == -ENOENT);
		check(err && strstr(err->message, "pved-no-such-vg"));
		pve_error_free(err);
		pve_storage_status ss;
		check(pve_storage_get_status(&bad.st, &ss, NULL) == 0 && !ss.active);
	}
}

/* The marker at offset off of a block device. */
static bool marker_at(const char *path, off_t off, const char *marker, bool write)
{
	_cleanup_close_ int fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	char buf[16] = "";
	size_t n = strlen(marker);
	if (fd < 0)
		return false;
	if (write)
		return pwrite(fd, marker, n, off) == (ssize_t)n && fdatasync(fd) == 0;
	return pread(fd, buf, n, off) == (ssize_t)n && memcmp(buf, marker, n) == 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* saferemove with the storage's extra options: a freed volume's data (its first and last bytes)
 * does not reach the next volume on its extents, and each removal takes min_seconds at least. */
static void saferemove_case(const char *extra, double min_seconds)
{
	lvm_env e;
	if (!env_setup(&e, "lvm", extra))
		return;
	for (int round = 0; round < 2; round++) {
		char *vn = NULL, *path = NULL;
		if (pve_storage_alloc_image(&e.st, 100, "raw", NULL, 4 * MIB, &vn, NULL) < 0) {
			test_fail(__FILE__, __LINE__, "alloc failed");
			break;
		}
		check(pve_storage_path(&e.st, vn, NULL, &path, NULL) == 0);
		if (round == 1) {
			check(!marker_at(path, 0, "secret..", false));
			check(!marker_at(path, 4 * MIB - 8, "secret..", false));
		}
		check(marker_at(path, 0, "secret..", true));
		check(marker_at(path, 4 * MIB - 8, "secret..", true));
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		check(pve_storage_free_image(&e.st, vn, NULL) == 0);
		double took = seconds_since(&t0);
		if (took < min_seconds)
			test_fail(__FILE__, __LINE__, "the removal took %.2f s, below %.2f s", took,
				  min_seconds);
		free(path);
		free(vn);
	}
	env_clear(&e);
}

static void lvm_saferemove(void)
{
	saferemove_case("\tsaferemove 1\n", 0);
}

/* In 1 MiB steps at 2 MiB/s: 4 MiB take 2 s at least. */
static void lvm_saferemove_paced(void)
{
	saferemove_case("\tsaferemove 1\n\tsaferemove-stepsize 1\n\tsaferemove_throughput 2m\n",
			2.0);
}

/* tagged_only: an LV without an owner's tag pve-vm-VMID is not listed, one pved allocated is (it
 * carries the tag, which follows it when it moves to another guest); without tagged_only both
 * are. */
static void lvm_tagged_only(void)
{
	lvm_env e, all;
	if (!env_setup(&e, "lvm", "\ttagged_only 1\n"))
		return;
	if (!env_setup(&all, "lvm", "")) {
		env_clear(&e);
		return;
	}
	_cleanup_free_ char *untagged = xasprintf("%s/vm-100-disk-40", e.vg);
	const char *mk[] = { "lvcreate", "-q",	   "-aly",	     "-Wy", "--yes", "--size",
			     "4m",	 "--name", "vm-100-disk-40", e.vg,  NULL };
	const char *rm[] = { "lvremove", "-q", "-f", untagged, NULL };
	char *vn = NULL, *moved = NULL;
	pve_volume_info *v = NULL;
	size_t n = 0;
	check(pve_storage_run(mk, NULL, NULL) == 0);
	check(pve_storage_alloc_image(&e.st, 100, "raw", NULL, 4 * MIB, &vn, NULL) == 0);
	check(pve_storage_list_volumes(&e.st, 100, PVE_CONTENT_ALL, &v, &n, NULL) == 0);
	check_int(n, 1);
	_cleanup_free_ char *want = xasprintf("test:%s", vn ? vn : "");
	check(n == 1 && streq(v[0].volid, want));
	pve_volume_infos_free(v, n);
	check(pve_storage_list_volumes(&all.st, 100, PVE_CONTENT_ALL, &v, &n, NULL) == 0);
	check_int(n, 2);
	pve_volume_infos_free(v, n);
	check(pve_storage_rename_volume(&e.st, vn, 102, NULL, &moved, NULL) == 0);
	check(pve_storage_list_volumes(&e.st, 102, PVE_CONTENT_ALL, &v, &n, NULL) == 0);
	check_int(n, 1);
	pve_volume_infos_free(v, n);
	check(pve_storage_free_image(&e.st, moved ? moved : vn, NULL) == 0);
	check(pve_storage_run(rm, NULL, NULL) == 0);
	free(vn);
	free(moved);
	env_clear(&all);
	env_clear(&e);
}

/* The lvm options' values, checked with storage.cfg (the API's 400 names the option): a step size
 * of Proxmox's enumeration, a throughput cstream -t takes, and no volume chains. Needs no volume
 * group. */
static void lvm_option_refusals(void)
{
	static const struct {
		const char *line, *param;
	} cases[] = {
		{ "saferemove-stepsize 0", "saferemove-stepsize" },
		{ "saferemove-stepsize 3", "saferemove-stepsize" },
		{ "saferemove-stepsize 64", "saferemove-stepsize" },
		{ "saferemove-stepsize abc", "saferemove-stepsize" },
		{ "saferemove_throughput fast", "saferemove_throughput" },
		{ "saferemove_throughput 10x", "saferemove_throughput" },
		{ "saferemove_throughput -", "saferemove_throughput" },
		{ "tagged_only maybe", "tagged_only" },
		{ "saferemove-stepsize 32", NULL },
		{ "saferemove-stepsize 1", NULL },
		{ "saferemove_throughput 10485760", NULL },
		{ "saferemove_throughput -10485760", NULL },
		{ "saferemove_throughput 10m", NULL },
		{ "snapshot-as-volume-chain 0", NULL },
		/* a storage.cfg of Proxmox's with volume chains stays readable; the API refuses 1 */
		{ "snapshot-as-volume-chain 1", NULL },
		{ "tagged_only 1", NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *text =
			xasprintf("lvm: opts\n\tvgname vg0\n\t%s\n", cases[i].line);
		_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
		pve_error *err = NULL;
		int r = pve_storage_cfg_parse(text, strlen(text), &c, &err);
		if (cases[i].param) {
			check(r == -EINVAL);
			if (!err || !strstr(err->message, cases[i].param))
				test_fail(__FILE__, __LINE__, "'%s': %s", cases[i].line,
					  err ? err->message : "accepted");
		} else if (r < 0) {
			test_fail(__FILE__, __LINE__, "'%s': %s", cases[i].line, err->message);
		}
		pve_error_free(err);
	}
}

static void lvmthin_plugin_table(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvmthin", ""))
		return;
	_cleanup_free_ char *path = xasprintf("/dev/%s/vm-100-disk-0", e.vg);
	const spt_format formats[] = { {
		.fmt = "raw",
		.volname = "vm-100-disk-0",
		.path = path,
		.size = 4 * MIB,
		.grown = 8 * MIB,
		.snapshots = true,
		.data = true,
		.base = "base-100-disk-0",
		.clone = "base-100-disk-0/vm-101-disk-0",
		.base_busy = true,
		.renamed = "vm-102-disk-0",
	} };
	spt_run_table(&e.st, formats, ELEMENTSOF(formats));
	env_clear(&e);
}

static void lvmthin_plugin_refusals(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvmthin", ""))
		return;
	spt_refusals(&e.st, &(spt_names){ .fmt = "raw",
					  .name = "vm-100-disk-7",
					  .volname = "vm-100-disk-7",
					  .missing = "vm-100-disk-9",
					  .size = 4 * MIB });
	pve_error *err = NULL;
	char *vn = NULL, *base = NULL, *clone = NULL;
	check(pve_storage_alloc_image(&e.st, 100, "raw", NULL, 4 * MIB, &vn, NULL) == 0);
	/* a volume with snapshots can't become a template */
	check(pve_storage_volume_snapshot(&e.st, vn, "s1", NULL) == 0);
	check(pve_storage_create_base(&e.st, vn, &base, &err) == -EBUSY);
	pve_error_free(err);
	err = NULL;
	/* a clone from a snapshot is a plain volume */
	check(pve_storage_volume_has_feature(&e.st, PVE_FEATURE_CLONE, vn, "s1"));
	if (pve_storage_clone_image(&e.st, vn, 101, "s1", &clone, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
	} else {
		check_streq(clone, "vm-101-disk-0");
		check(pve_storage_free_image(&e.st, clone, NULL) == 0);
	}
	err = NULL;
	check(pve_storage_volume_snapshot_rollback(&e.st, vn, "nope", &err) == -ENOENT);
	pve_error_free(err);
	/* freeing a volume takes its snapshots along */
	check(pve_storage_free_image(&e.st, vn, NULL) == 0);
	pve_volume_info *v = NULL;
	size_t n = 0;
	check(pve_storage_list_volumes(&e.st, 0, PVE_CONTENT_ALL, &v, &n, NULL) == 0);
	check_int(n, 0);
	pve_volume_infos_free(v, n);
	const char *argv[] = { "lvs", "--noheadings", "-o", "lv_name", e.vg, NULL };
	_cleanup_free_ char *out = NULL;
	check(pve_storage_run(argv, &out, NULL) == 0);
	check(out && !strstr(out, "snap_vm-100"));
	free(vn);
	free(clone);
	env_clear(&e);
}

/* The scans behind /nodes/{node}/scan/lvm and .../lvmthin. */
static void lvm_scans(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvmthin", ""))
		return;
	const char *pool = getenv("PVED_TEST_THINPOOL");
	cJSON *j = NULL, *it;
	pve_error *err = NULL;
	bool found = false;
	if (pve_storage_scan_lvm(&j, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
	}
	cJSON_ArrayForEach (it, j) {
		long long size, avail;
		if (streq_ptr(pve_json_str(it, "vg"), e.vg) && pve_json_int(it, "size", &size) &&
		    pve_json_int(it, "free", &avail) && size > 0 && avail < size)
			found = true;
	}
	check(found);
	pve_json_free(j);
	j = NULL;
	found = false;
	err = NULL;
	if (pve_storage_scan_lvmthin(e.vg, &j, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
	}
	check_int(cJSON_GetArraySize(j), 1);
	cJSON_ArrayForEach (it, j) {
		long long size;
		if (streq_ptr(pve_json_str(it, "lv"), pool) && pve_json_int(it, "lv_size", &size) &&
		    size >= 64 * MIB)
			found = true;
	}
	check(found);
	pve_json_free(j);
	err = NULL;
	check(pve_storage_scan_lvmthin("pved-no-such-vg", &j, &err) == -EIO);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_scan_lvmthin("-x", &j, &err) == -EINVAL);
	pve_error_free(err);
	env_clear(&e);
}

/* A dir storage beside the volume group, for streams between the two. */
static pve_sectioncfg *plain_dir(pve_storage *d)
{
	_cleanup_free_ char *text =
		xasprintf("dir: plain\n\tpath %s/plain\n\tcontent images,rootdir\n", test_tmpdir());
	pve_sectioncfg *c = NULL;
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &c, &err) < 0 ||
	    pve_storage_get(c, "plain", d, &err) < 0 || pve_storage_activate(d, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		pve_sectioncfg_free(c);
		return NULL;
	}
	return c;
}

static void export_import(const char *type)
{
	lvm_env e;
	if (!env_setup(&e, type, ""))
		return;
	pve_storage d;
	_cleanup_sectioncfg_ pve_sectioncfg *c = plain_dir(&d);
	if (!c) {
		env_clear(&e);
		return;
	}
	const spt_xfer xfers[] = {
		{ &e.st, "raw", 4 * MIB, "raw+size", &d, "103/vm-103-disk-0.raw",
		  "103/vm-103-disk-1.raw" },
		{ &d, "raw", 4 * MIB, "raw+size", &e.st, "vm-103-disk-0", "vm-103-disk-1" },
	};
	for (size_t i = 0; i < ELEMENTSOF(xfers); i++)
		spt_export_import(&xfers[i]);
	env_clear(&e);
}

static void lvm_export_import(void)
{
	export_import("lvm");
}

static void lvmthin_export_import(void)
{
	export_import("lvmthin");
}

/* activate_volume and deactivate_volume: the device node comes and goes; a thin snapshot (which
 * skips activation) too, and its export reads it as it was. */
static void lvm_activation(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvm", ""))
		return;
	pve_error *err = NULL;
	char *vn = NULL, *path = NULL;
	check(pve_storage_alloc_image(&e.st, 100, "raw", NULL, 4 * MIB, &vn, NULL) == 0);
	check(pve_storage_path(&e.st, vn, NULL, &path, NULL) == 0);
	check(path && access(path, F_OK) == 0);
	check(pve_storage_deactivate_volume(&e.st, vn, NULL, &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(path && access(path, F_OK) < 0);
	check(pve_storage_activate_volume(&e.st, vn, NULL, &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(path && access(path, F_OK) == 0);
	check(pve_storage_activate_volume(&e.st, vn, "s1", &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_activate_volume(&e.st, "vm-100-../x", NULL, &err) == -EINVAL);
	pve_error_free(err);
	check(pve_storage_free_image(&e.st, vn, NULL) == 0);
	free(vn);
	free(path);
	env_clear(&e);
}

static void lvmthin_activation(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvmthin", ""))
		return;
	pve_storage d;
	_cleanup_sectioncfg_ pve_sectioncfg *c = plain_dir(&d);
	if (!c) {
		env_clear(&e);
		return;
	}
	pve_error *err = NULL;
	char *vn = NULL, *path = NULL, *spath = NULL;
	check(pve_storage_alloc_image(&e.st, 100, "raw", NULL, 4 * MIB, &vn, NULL) == 0);
	check(pve_storage_path(&e.st, vn, NULL, &path, NULL) == 0);
	check(path && spt_write(path, false, "snapdata"));
	check(pve_storage_volume_snapshot(&e.st, vn, "s1", NULL) == 0);
	check(path && spt_write(path, false, "newdata."));
	check(pve_storage_path(&e.st, vn, "s1", &spath, NULL) == 0);
	/* a thin snapshot is not active until asked */
	check(spath && access(spath, F_OK) < 0);
	check(pve_storage_activate_volume(&e.st, vn, "s1", &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(spath && spt_has(spath, false, "snapdata"));
	check(pve_storage_deactivate_volume(&e.st, vn, "s1", &err) == 0);
	pve_error_free(err);
	err = NULL;
	check(spath && access(spath, F_OK) < 0);

	/* its export: activated for the export, inactive after */
	spt_snapshot_copy(&e.st, vn, "s1", &d);
	check(spath && access(spath, F_OK) < 0);

	/* the volume itself */
	check(pve_storage_deactivate_volume(&e.st, vn, NULL, NULL) == 0);
	check(path && access(path, F_OK) < 0);
	check(pve_storage_activate_volume(&e.st, vn, NULL, NULL) == 0);
	check(path && spt_has(path, false, "newdata."));
	check(pve_storage_free_image(&e.st, vn, NULL) == 0);
	free(vn);
	free(path);
	free(spath);
	env_clear(&e);
}

/* Two processes allocating at once on one volume group: distinct names, no failure. */
static void lvm_alloc_concurrent(void)
{
	lvm_env e;
	if (!env_setup(&e, "lvmthin", ""))
		return;
	spt_alloc_concurrent(&e.st, 100, "raw", 4 * MIB, 5);
	env_clear(&e);
}

/* base: a volume of an iscsi storage of the same storage.cfg, resolved with Proxmox's errors naming
 * it; a bad volume ID is refused already when storage.cfg is read. */
static void lvm_base(void)
{
	static const char text[] = "iscsi: isc\n\tportal 127.0.0.1\n\ttarget iqn.2026-12.org.t:x\n"
				   "\tdisable 1\n"
				   "dir: dd\n\tpath /srv/dd\n"
				   "lvm: plain\n\tvgname vg0\n"
				   "lvm: ok\n\tvgname vg1\n\tbase isc:0.0.1.scsi-36000\n"
				   "lvm: nostore\n\tvgname vg2\n\tbase gone:0.0.1.scsi-36000\n"
				   "lvm: notiscsi\n\tvgname vg3\n\tbase dd:0.0.1.scsi-36000\n"
				   "lvm: notlun\n\tvgname vg4\n\tbase isc:lun1\n";
	static const struct {
		const char *id, *error;
	} cases[] = {
		{ "plain", NULL },
		{ "ok", NULL },
		{ "nostore", "base storage ID 'gone' does not exist" },
		{ "notiscsi", "unsupported base type 'dir'" },
		{ "notlun", "unable to parse iscsi volume name 'lun1'" },
	};
	_cleanup_sectioncfg_ pve_sectioncfg *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), &c, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		pve_storage st, b;
		_cleanup_free_ char *volname = NULL;
		_cleanup_error_ pve_error *e = NULL;
		check(pve_storage_get(c, cases[i].id, &st, NULL) == 0);
		int r = pve_storage_base(&st, &b, &volname, &e);
		if (cases[i].error) {
			check_int(r, -EINVAL);
			check(e && e->param && streq(e->param, "base"));
			check_streq(e ? e->message : NULL, cases[i].error);
		} else {
			check_int(r, 0);
		}
	}
	pve_storage st, b;
	_cleanup_free_ char *volname = NULL;
	check(pve_storage_get(c, "ok", &st, NULL) == 0);
	check(pve_storage_base(&st, &b, &volname, NULL) == 0);
	check_streq(volname, "0.0.1.scsi-36000");
	check_streq(b.id, "isc");
	/* a disabled base is not activated, and neither is the storage on it */
	_cleanup_error_ pve_error *e = NULL;
	check_int(pve_storage_activate(&st, &e), -EINVAL);
	check_streq(e ? e->message : NULL, "storage 'isc' is disabled");
	check(pve_storage_is_base(c, "isc"));
	check(pve_storage_is_base(c, "dd"));
	check(!pve_storage_is_base(c, "is"));
	check(!pve_storage_is_base(c, "plain"));

	static const char bad[] = "lvm: bb\n\tvgname vg0\n\tbase nocolon\n";
	_cleanup_sectioncfg_ pve_sectioncfg *c2 = NULL;
	_cleanup_error_ pve_error *e2 = NULL;
	check(pve_storage_cfg_parse(bad, strlen(bad), &c2, &e2) == -EINVAL);
	if (!e2 || !strstr(e2->message, "unable to parse volume ID 'nocolon'"))
		test_fail(__FILE__, __LINE__, "%s", e2 ? e2->message : "accepted");
}

TEST_MAIN(TEST(lvm_base), TEST(lvm_plugin_table), TEST(lvm_plugin_refusals), TEST(lvm_saferemove),
	  TEST(lvm_saferemove_paced), TEST(lvm_tagged_only), TEST(lvm_option_refusals),
	  TEST(lvmthin_plugin_table), TEST(lvmthin_plugin_refusals), TEST(lvm_scans),
	  TEST(lvm_export_import), TEST(lvmthin_export_import), TEST(lvm_activation),
	  TEST(lvmthin_activation), TEST(lvm_alloc_concurrent))
