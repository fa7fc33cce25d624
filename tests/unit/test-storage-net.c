/* The network storages through the plugin table: what nfs, cifs and iscsi refuse and how an
 * unreachable server fails (anywhere), and against real servers (the lab:
 * tests/storage/lab-storage-net.sh starts them and names them in PVE_TEST_* variables): mount,
 * status, allocate/list/free on the share, LUNs and their paths, the scans, unmount and logout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "storage/net-internal.h"
#include "storage/storage-net.h"
#include "tests/unit/test.h"

typedef struct netcfg {
	pve_sectioncfg *cfg;
	pve_storage st;
} netcfg;

static bool make_storage(netcfg *n, const char *text, const char *id)
{
	pve_error *err = NULL;
	*n = (netcfg){ 0 };
	if (pve_storage_cfg_parse(text, strlen(text), &n->cfg, &err) < 0 ||
	    pve_storage_get(n->cfg, id, &n->st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "storage.cfg: %s", err ? err->message : "?");
		pve_error_free(err);
		return false;
	}
	return true;
}

static void netcfg_clear(netcfg *n)
{
	pve_sectioncfg_free(n->cfg);
	n->cfg = NULL;
}

static const char *const nfs_types[] = { "nfs", "nfs4", NULL };
static const char *const cifs_types[] = { "cifs", "smb3", NULL };

/* Where the real shares get mounted: the lab names a directory outside the harness's temp dir,
 * which is removed recursively after each case and must never reach into a share left mounted. */
static const char *mnt_dir(void)
{
	const char *d = getenv("PVE_TEST_NET_MNT");
	return d ? d : test_tmpdir();
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* The source and the super options of the mount at path in /proc/self/mountinfo (the last one). */
static char *mountinfo_field(const char *path, bool want_source)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	char *found = NULL;
	while (f && fgets(line, sizeof(line), f)) {
		_cleanup_strv_free_ char **fld = pve_strv_split(line, " \n");
		size_t nf = 0, dash = 0;
		while (fld[nf])
			nf++;
		for (size_t i = 6; i < nf && !dash; i++)
			if (streq(fld[i], "-"))
				dash = i;
		if (nf < 7 || !dash || dash + 3 >= nf || !streq(fld[4], path))
			continue;
		free(found);
		found = xstrdup(fld[want_source ? dash + 2 : dash + 3]);
	}
	return found;
}

static char *mount_source(const char *path)
{
	return mountinfo_field(path, true);
}

static char *mount_options(const char *path)
{
	return mountinfo_field(path, false);
}

static bool deactivate_ok(const pve_storage *s)
{
	pve_error *err = NULL;
	int r = pve_storage_deactivate(s, &err);
	if (r < 0)
		printf("# deactivate %s: %s\n", s->id, err ? err->message : "?");
	pve_error_free(err);
	return r == 0;
}

/* ---- without a server ------------------------------------------------------------------------ */

static void net_cfg_checks(void)
{
	static const char *const bad[] = {
		"nfs: nfs0\n\tserver 10.0.0.1\n", /* no export */
		"cifs: cifs0\n\tserver 10.0.0.1\n", /* no share */
		"iscsi: iscsi0\n\tportal 10.0.0.1\n", /* no target */
		"iscsi: iscsi0\n\tportal 1.2.3.4\n\ttarget iqn.x\n\tcontent iso\n", /* content */
		"nfs: nfs0\n\tserver s\n\texport /e\n\tvgname x\n", /* not an nfs property */
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_sectioncfg *c = NULL;
		pve_error *err = NULL;
		check(pve_storage_cfg_parse(bad[i], strlen(bad[i]), &c, &err) == -EINVAL);
		check(err != NULL);
		pve_error_free(err);
		pve_sectioncfg_free(c);
	}
	netcfg n;
	if (!make_storage(&n, "nfs: nfs0\n\tserver 10.0.0.1\n\texport /srv\n\tpath /mnt/x\n",
			  "nfs0"))
		return;
	check(n.st.shared);
	check(n.st.plugin->activate != NULL);
	check_int(n.st.content, PVE_CONTENT_IMAGES);
	/* path is computed without touching the server */
	char *p = NULL;
	check(pve_storage_path(&n.st, "100/vm-100-disk-0.qcow2", NULL, &p, NULL) == 0);
	check_streq(p, "/mnt/x/images/100/vm-100-disk-0.qcow2");
	free(p);
	netcfg_clear(&n);
	/* no path: Proxmox's default mount point */
	if (!make_storage(&n, "cifs: cifs0\n\tserver 10.0.0.1\n\tshare s\n", "cifs0"))
		return;
	p = NULL;
	check(pve_storage_path(&n.st, "iso/x.iso", NULL, &p, NULL) == 0);
	check_streq(p, "/mnt/pve/cifs0/template/iso/x.iso");
	free(p);
	netcfg_clear(&n);
}

/* An op that touches data refuses a share that is not mounted, and writes nothing below the mount
 * point. */
static void net_unmounted_refused(void)
{
	const char *dir = test_tmpdir();
	_cleanup_free_ char *mp = xasprintf("%s/mnt", dir);
	check(mkdir(mp, 0755) == 0);
	_cleanup_free_ char *text =
		xasprintf("nfs: nfs0\n\tserver 127.0.0.1\n\texport /srv\n\tpath %s\n", mp);
	netcfg n;
	if (!make_storage(&n, text, "nfs0"))
		return;
	pve_error *err = NULL;
	char *vol = NULL;
	check(pve_storage_alloc_image(&n.st, 100, "raw", NULL, 1 << 20, &vol, &err) == -ENODEV);
	check(err && strstr(err->message, "is not mounted"));
	pve_error_free(err);
	err = NULL;
	pve_volume_info *v = NULL;
	size_t nv = 0;
	check(pve_storage_list_volumes(&n.st, 0, PVE_CONTENT_ALL, &v, &nv, &err) == -ENODEV);
	pve_error_free(err);
	pve_storage_status ss;
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(!ss.active);
	check(deactivate_ok(&n.st));
	_cleanup_free_ char *images = xasprintf("%s/images", mp);
	check(!exists(images));
	netcfg_clear(&n);
}

/* A server nothing answers for: a clear error naming it, nothing mounted, no directory made. */
static void net_unreachable(void)
{
	const char *dir = test_tmpdir();
	static const char *const ids[] = { "nfs0", "cifs0", "iscsi0" };
	char *texts[3] = {
		xasprintf("nfs: nfs0\n\tserver 127.0.0.1\n\texport /srv\n"
			  "\toptions vers=4.2,port=1,soft,timeo=10,retrans=1\n\tpath %s/nfs0\n",
			  dir),
		xasprintf("cifs: cifs0\n\tserver 127.0.0.1\n\tshare s\n\tusername u\n\tpassword p\n"
			  "\toptions port=1\n\tpath %s/cifs0\n",
			  dir),
		xstrdup("iscsi: iscsi0\n\tportal 127.0.0.1:1\n\ttarget iqn.2026-11.test:none\n"),
	};
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		const char *text = texts[i];
		netcfg n;
		if (!make_storage(&n, text, ids[i]))
			continue;
		pve_error *err = NULL;
		time_t t0 = time(NULL);
		check(pve_storage_activate(&n.st, &err) == -EHOSTUNREACH);
		check(time(NULL) - t0 < 10);
		check(err && strstr(err->message, "'127.0.0.1'"));
		check(err && strstr(err->message, "is not online"));
		if (err)
			printf("# %s: %s\n", ids[i], err->message);
		pve_error_free(err);
		_cleanup_free_ char *mp = xasprintf("%s/%s", dir, ids[i]);
		check(!exists(mp));
		pve_storage_status ss;
		check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
		check(!ss.active);
		netcfg_clear(&n);
	}
	for (size_t i = 0; i < ELEMENTSOF(texts); i++)
		free(texts[i]);
	/* TEST-NET-1: no route in the lab, no answer elsewhere; either way an error within
	 * seconds */
	pve_error *err = NULL;
	cJSON *r = NULL;
	time_t t0 = time(NULL);
	check(pve_storage_scan_nfs("192.0.2.1", &r, &err) == -EHOSTUNREACH && !r);
	check(time(NULL) - t0 < 10);
	check(err && strstr(err->message, "'192.0.2.1'"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_scan_iscsi("127.0.0.1:1", &r, &err) == -EHOSTUNREACH && !r);
	check(err && strstr(err->message, "'127.0.0.1' port 1"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_scan_nfs("-oProxyCommand=x", &r, &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_scan_iscsi("a b", &r, &err) == -EINVAL);
	pve_error_free(err);
}

/* Values that would turn into options of mount or iscsiadm are refused before anything runs. */
static void net_bad_values(void)
{
	static const char *const bad[] = {
		"nfs: nfs0\n\tserver -oevil\n\texport /srv\n\tpath /nonexistent/x\n",
		"nfs: nfs0\n\tserver a,b\n\texport /srv\n\tpath /nonexistent/x\n",
		"iscsi: nfs0\n\tportal 127.0.0.1\n\ttarget --login\n",
		"iscsi: nfs0\n\tportal -p\n\ttarget iqn.2026-11.x:y\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		netcfg n;
		if (!make_storage(&n, bad[i], "nfs0"))
			continue;
		pve_error *err = NULL;
		check(pve_storage_activate(&n.st, &err) == -EINVAL);
		check(err != NULL);
		pve_error_free(err);
		netcfg_clear(&n);
	}
}

static void iscsi_refuses(void)
{
	netcfg n;
	if (!make_storage(&n, "iscsi: iscsi0\n\tportal 10.0.0.1\n\ttarget iqn.2026-11.test:t1\n",
			  "iscsi0"))
		return;
	pve_error *err = NULL;
	char *vol = NULL;
	check(pve_storage_alloc_image(&n.st, 100, NULL, NULL, 1 << 20, &vol, &err) == -ENOSYS);
	check(err && strstr(err->message, "does not support alloc_image"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_free_image(&n.st, "0.0.1.scsi-abc", &err) == -ENOSYS);
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_snapshot(&n.st, "0.0.1.scsi-abc", "s1", &err) == -ENOSYS);
	pve_error_free(err);
	check(pve_storage_volume_has_feature(&n.st, PVE_FEATURE_COPY, "0.0.1.scsi-abc", NULL));
	check(!pve_storage_volume_has_feature(&n.st, PVE_FEATURE_SNAPSHOT, "0.0.1.scsi-abc", NULL));
	check(!pve_storage_volume_has_feature(&n.st, PVE_FEATURE_CLONE, "0.0.1.scsi-abc", NULL));
	char *p = NULL;
	check(pve_storage_path(&n.st, "0.0.1.scsi-360000000000000000e00000000010001", NULL, &p,
			       NULL) == 0);
	check_streq(p, "/dev/disk/by-id/scsi-360000000000000000e00000000010001");
	free(p);
	static const char *const badvol[] = { "scsi-x",	      "0.0.scsi-x", "0.0.1.",
					      "0.0.1.a/../b", "0.0.1.a b",  "x.0.1.a" };
	for (size_t i = 0; i < ELEMENTSOF(badvol); i++) {
		err = NULL;
		p = NULL;
		check(pve_storage_path(&n.st, badvol[i], NULL, &p, &err) == -EINVAL);
		check(!p);
		pve_error_free(err);
	}
	/* not logged in: inactive, no LUNs */
	pve_storage_status ss;
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(!ss.active);
	pve_volume_info *v = NULL;
	size_t nv = 1;
	check(pve_storage_list_volumes(&n.st, 0, PVE_CONTENT_ALL, &v, &nv, NULL) == 0);
	check_int(nv, 0);
	netcfg_clear(&n);
}

/* iscsidirect: names, paths, refusals, and an unreachable portal, all without a target. */
static void iscsidirect_refuses(void)
{
	netcfg n;
	if (!make_storage(&n,
			  "iscsidirect: d0\n\tportal 127.0.0.1:1\n\ttarget iqn.2026-11.test:t1\n",
			  "d0"))
		return;
	check(n.st.shared);
	check_int(n.st.content, PVE_CONTENT_IMAGES);
	char *p = NULL;
	check(pve_storage_path(&n.st, "lun3", NULL, &p, NULL) == 0);
	check_streq(p, "iscsi://127.0.0.1:1/iqn.2026-11.test:t1/3");
	free(p);
	static const char *const bad[] = { "lun",  "lun-1", "lun01",	"3",
					   "lunx", "lun1 ", "lun99999", "../lun1" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		pve_error *err = NULL;
		p = NULL;
		check(pve_storage_path(&n.st, bad[i], NULL, &p, &err) == -EINVAL);
		check(!p);
		pve_error_free(err);
	}
	pve_error *err = NULL;
	check(pve_storage_path(&n.st, "lun1", "snap", &p, &err) == -EINVAL);
	pve_error_free(err);
	err = NULL;
	char *vol = NULL;
	check(pve_storage_alloc_image(&n.st, 100, NULL, NULL, 1 << 20, &vol, &err) < 0);
	check(err && strstr(err->message, "can't allocate space in iscsi storage"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_free_image(&n.st, "lun1", &err) < 0);
	check(err && strstr(err->message, "can't free space in iscsi storage"));
	pve_error_free(err);
	err = NULL;
	check(pve_storage_volume_snapshot(&n.st, "lun1", "s1", &err) == -ENOSYS);
	pve_error_free(err);
	check(pve_storage_volume_has_feature(&n.st, PVE_FEATURE_COPY, "lun1", NULL));
	check(!pve_storage_volume_has_feature(&n.st, PVE_FEATURE_CLONE, "lun1", NULL));
	/* nothing listens there: a clear error naming the portal, inactive, at once */
	err = NULL;
	time_t t0 = time(NULL);
	check(pve_storage_activate(&n.st, &err) == -EHOSTUNREACH);
	check(err && strstr(err->message, "'127.0.0.1' port 1"));
	pve_error_free(err);
	err = NULL;
	pve_volume_info *v = NULL;
	size_t nv = 0;
	check(pve_storage_list_volumes(&n.st, 0, PVE_CONTENT_IMAGES, &v, &nv, &err) ==
	      -EHOSTUNREACH);
	pve_error_free(err);
	pve_storage_status ss;
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(!ss.active);
	check(time(NULL) - t0 < 10);
	netcfg_clear(&n);
	/* a bad target or portal is refused before anything runs */
	static const char *const badcfg[] = {
		"iscsidirect: d1\n\tportal 127.0.0.1\n\ttarget --x\n",
		"iscsidirect: d1\n\tportal -p\n\ttarget iqn.2026-11.test:t1\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(badcfg); i++) {
		if (!make_storage(&n, badcfg[i], "d1"))
			continue;
		err = NULL;
		check(pve_storage_activate(&n.st, &err) == -EINVAL);
		pve_error_free(err);
		netcfg_clear(&n);
	}
}

/* An NFS or SMB server whose machine takes the connection but never answers: the probe gives up
 * within its time limit, naming the server. */
static void net_probe_silent(void)
{
	_cleanup_close_ int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	check(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0 &&
	      getsockname(l, (struct sockaddr *)&a, &al) == 0);
	int port = ntohs(a.sin_port);
	pve_error *err = NULL;
	time_t t0 = time(NULL);
	check(pve_net_probe_nfs("n1", "127.0.0.1", port, 1000, &err) == -EHOSTUNREACH);
	check(time(NULL) - t0 < 4);
	check(err && strstr(err->message, "storage 'n1' is not online") &&
	      strstr(err->message, "'127.0.0.1'") && strstr(err->message, "no answer"));
	if (err)
		printf("# %s\n", err->message);
	pve_error_free(err);
	err = NULL;
	t0 = time(NULL);
	check(pve_net_probe_smb("c1", "127.0.0.1", port, 1000, &err) == -EHOSTUNREACH);
	check(time(NULL) - t0 < 4);
	check(err && strstr(err->message, "storage 'c1' is not online") &&
	      strstr(err->message, "no answer to an SMB request"));
	if (err)
		printf("# %s\n", err->message);
	pve_error_free(err);
	err = NULL;
	check(pve_net_probe_nfs(NULL, "127.0.0.1", 1, 1000, &err) == -EHOSTUNREACH);
	pve_error_free(err);
	/* statvfs with a time limit, on something that answers */
	pve_storage_status st = { 0 };
	check(pve_net_statvfs("/", 3000, &st) == 0);
	check(st.active && st.total > 0 && st.avail <= st.total);
	check(pve_net_statvfs("/nonexistent/x", 3000, &st) == -ENOENT);
}

/* ---- against real servers -------------------------------------------------------------------- */

static bool in_listing(const pve_storage *st, const char *volid, uint64_t *size)
{
	pve_volume_info *v = NULL;
	size_t n = 0;
	bool found = false;
	if (pve_storage_list_volumes(st, 0, PVE_CONTENT_ALL, &v, &n, NULL) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].volid, volid)) {
			found = true;
			if (size)
				*size = v[i].size;
		}
	pve_volume_infos_free(v, n);
	return found;
}

/* The dir semantics on a mounted share: one table for nfs and cifs. server_dir is the exported
 * directory on the server's side (the same machine in the lab): what the client wrote must be
 * there. */
static void netfs_table(const char *text, const char *id, const char *const *fstypes,
			const char *server_dir)
{
	netcfg n;
	if (!make_storage(&n, text, id))
		return;
	pve_error *err = NULL;
	if (pve_storage_activate(&n.st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "activate: %s", err ? err->message : "?");
		pve_error_free(err);
		netcfg_clear(&n);
		return;
	}
	check(pve_net_is_mounted(n.st.path, fstypes));
	/* again: already mounted is fine */
	check(pve_storage_activate(&n.st, NULL) == 0);
	pve_storage_status ss;
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(ss.active && ss.total > 0 && ss.avail <= ss.total);
	static const char *const fmts[] = { "raw", "qcow2", "vmdk" };
	for (size_t i = 0; i < ELEMENTSOF(fmts); i++) {
		char *vol = NULL;
		err = NULL;
		if (pve_storage_alloc_image(&n.st, 100, fmts[i], NULL, 4 << 20, &vol, &err) < 0) {
			test_fail(__FILE__, __LINE__, "alloc %s: %s", fmts[i],
				  err ? err->message : "?");
			pve_error_free(err);
			continue;
		}
		_cleanup_free_ char *volid = xasprintf("%s:%s", id, vol);
		uint64_t size = 0;
		check(in_listing(&n.st, volid, &size));
		check_int(size, 4 << 20);
		char *path = NULL;
		check(pve_storage_path(&n.st, vol, NULL, &path, NULL) == 0);
		check(path && startswith(path, n.st.path) && exists(path));
		/* it went over the wire: the server's directory has it */
		_cleanup_free_ char *there = xasprintf("%s/images/%s", server_dir, vol);
		check(exists(there));
		uint64_t vs = 0;
		char *f = NULL;
		check(pve_storage_volume_size(&n.st, vol, &vs, NULL, &f, NULL) == 0);
		check_int(vs, 4 << 20);
		check_streq(f, fmts[i]);
		free(f);
		if (streq(fmts[i], "qcow2")) {
			check(pve_storage_volume_resize(&n.st, vol, 8 << 20, NULL) == 0);
			check(pve_storage_volume_snapshot(&n.st, vol, "s1", NULL) == 0);
			check(pve_storage_volume_snapshot_rollback(&n.st, vol, "s1", NULL) == 0);
			check(pve_storage_volume_snapshot_delete(&n.st, vol, "s1", NULL) == 0);
		}
		err = NULL;
		check(pve_storage_free_image(&n.st, vol, &err) == 0);
		if (err)
			printf("# free %s: %s\n", vol, err->message);
		pve_error_free(err);
		check(!in_listing(&n.st, volid, NULL));
		check(!exists(there));
		free(path);
		free(vol);
	}
	err = NULL;
	check(deactivate_ok(&n.st));
	check(!pve_net_is_mounted(n.st.path, fstypes));
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(!ss.active);
	netcfg_clear(&n);
}

static void nfs_real(void)
{
	const char *server = getenv("PVE_TEST_NFS_SERVER"), *export = getenv("PVE_TEST_NFS_EXPORT");
	if (!server || !export) {
		test_skip("no NFS server: PVE_TEST_NFS_SERVER and PVE_TEST_NFS_EXPORT unset "
			  "(tests/storage/lab-storage-net.sh sets them in the lab)");
		return;
	}
	const char *opts = getenv("PVE_TEST_NFS_OPTIONS");
	_cleanup_free_ char *text = xasprintf(
		"nfs: nfs1\n\tserver %s\n\texport %s\n\tpath %s/mnt-nfs\n\tcontent images,iso\n%s%s%s",
		server, export, mnt_dir(), opts ? "\toptions " : "", opts ? opts : "",
		opts ? "\n" : "");
	netfs_table(text, "nfs1", nfs_types, export);

	pve_error *err = NULL;
	cJSON *r = NULL;
	if (pve_storage_scan_nfs(server, &r, &err) < 0) {
		test_fail(__FILE__, __LINE__, "scan: %s", err ? err->message : "?");
		pve_error_free(err);
		return;
	}
	bool found = false;
	cJSON *e;
	cJSON_ArrayForEach (e, r)
		found |= streq_ptr(pve_json_str(e, "path"), export);
	check(found);
	cJSON_Delete(r);
}

static void cifs_real(void)
{
	const char *server = getenv("PVE_TEST_CIFS_SERVER"), *share = getenv("PVE_TEST_CIFS_SHARE");
	const char *user = getenv("PVE_TEST_CIFS_USER"), *pw = getenv("PVE_TEST_CIFS_PASSWORD");
	const char *dir = getenv("PVE_TEST_CIFS_DIR");
	if (!server || !share || !user || !pw || !dir) {
		test_skip("no SMB server: PVE_TEST_CIFS_{SERVER,SHARE,USER,PASSWORD,DIR} unset "
			  "(tests/storage/lab-storage-net.sh sets them in the lab)");
		return;
	}
	_cleanup_free_ char *text = xasprintf(
		"cifs: smb1\n\tserver %s\n\tshare %s\n\tusername %s\n\tpassword %s\n\tsmbversion 3.0\n"
		"\tpath %s/mnt-cifs\n\tcontent images,backup\n",
		server, share, user, pw, mnt_dir());
	netfs_table(text, "smb1", cifs_types, dir);

	/* a directory below the share, SMB 3 asked for: mounted as //server/share/subdir */
	_cleanup_free_ char *subdir = xasprintf("%s/pvesub", dir);
	check(mkdir(subdir, 0777) == 0 || errno == EEXIST);
	_cleanup_free_ char *sub = xasprintf(
		"cifs: smb3\n\tserver %s\n\tshare %s\n\tusername %s\n\tpassword %s\n\tsmbversion 3\n"
		"\tsubdir /pvesub\n\tpath %s/mnt-sub\n\tcontent images\n",
		server, share, user, pw, mnt_dir());
	netcfg ns;
	if (make_storage(&ns, sub, "smb3")) {
		pve_error *err = NULL;
		if (pve_storage_activate(&ns.st, &err) < 0) {
			test_fail(__FILE__, __LINE__, "activate subdir: %s",
				  err ? err->message : "?");
			pve_error_free(err);
		} else {
			_cleanup_free_ char *src = xasprintf("//%s/%s/pvesub", server, share);
			_cleanup_free_ char *opts = mount_options(ns.st.path);
			check(opts && strstr(opts, "vers=3"));
			printf("# subdir mount: %s\n", opts ? opts : "?");
			_cleanup_free_ char *srcseen = mount_source(ns.st.path);
			check_streq(srcseen, src);
			char *vol = NULL;
			check(pve_storage_alloc_image(&ns.st, 101, "raw", NULL, 1 << 20, &vol,
						      NULL) == 0);
			_cleanup_free_ char *there =
				xasprintf("%s/images/%s", subdir, vol ? vol : "?");
			check(exists(there));
			check(pve_storage_free_image(&ns.st, vol, NULL) == 0);
			free(vol);
			check(deactivate_ok(&ns.st));
		}
		netcfg_clear(&ns);
	}
	/* an SMB version Proxmox does not know is refused before anything runs */
	_cleanup_free_ char *badv = xasprintf(
		"cifs: smb4\n\tserver %s\n\tshare %s\n\tsmbversion 1.0\n\tpath %s/mnt-v1\n", server,
		share, mnt_dir());
	if (make_storage(&ns, badv, "smb4")) {
		pve_error *err = NULL;
		check(pve_storage_activate(&ns.st, &err) == -EINVAL);
		check(err && err->param && streq(err->param, "smbversion"));
		pve_error_free(err);
		netcfg_clear(&ns);
	}

	/* a wrong password: refused, nothing mounted, the mount point not left behind */
	_cleanup_free_ char *bad = xasprintf(
		"cifs: smb2\n\tserver %s\n\tshare %s\n\tusername %s\n\tpassword wrong-%s\n"
		"\tpath %s/mnt-bad\n",
		server, share, user, pw, mnt_dir());
	netcfg n;
	if (make_storage(&n, bad, "smb2")) {
		pve_error *err = NULL;
		check(pve_storage_activate(&n.st, &err) < 0);
		check(err && strstr(err->message, "unable to activate storage 'smb2'"));
		if (err)
			printf("# wrong password: %s\n", err->message);
		pve_error_free(err);
		_cleanup_free_ char *mp = xasprintf("%s/mnt-bad", mnt_dir());
		check(!exists(mp));
		netcfg_clear(&n);
	}

	pve_error *err = NULL;
	cJSON *r = NULL;
	if (pve_storage_scan_cifs(server, user, pw, NULL, &r, &err) < 0) {
		test_fail(__FILE__, __LINE__, "scan: %s", err ? err->message : "?");
		pve_error_free(err);
		return;
	}
	bool found = false;
	cJSON *e;
	cJSON_ArrayForEach (e, r)
		found |= streq_ptr(pve_json_str(e, "share"), share);
	check(found);
	cJSON_Delete(r);
}

/* The lab's tgt target (tests/storage/lab-storage-net.sh names it); false, and the test skipped,
 * without one. */
static bool iscsi_env(const char **portal, const char **target, const char **lunsize)
{
	*portal = getenv("PVE_TEST_ISCSI_PORTAL");
	*target = getenv("PVE_TEST_ISCSI_TARGET");
	*lunsize = getenv("PVE_TEST_ISCSI_LUN_SIZE");
	if (*portal && *target && *lunsize)
		return true;
	test_skip("no iSCSI target: PVE_TEST_ISCSI_{PORTAL,TARGET,LUN_SIZE} unset "
		  "(tests/storage/lab-storage-net.sh sets them in the lab)");
	return false;
}

static void iscsi_real(void)
{
	const char *portal, *target, *lunsize;
	if (!iscsi_env(&portal, &target, &lunsize))
		return;
	pve_error *err = NULL;
	cJSON *r = NULL;
	if (pve_storage_scan_iscsi(portal, &r, &err) < 0) {
		test_fail(__FILE__, __LINE__, "scan: %s", err ? err->message : "?");
		pve_error_free(err);
	} else {
		bool found = false;
		cJSON *e;
		cJSON_ArrayForEach (e, r)
			found |= streq_ptr(pve_json_str(e, "target"), target);
		check(found);
		cJSON_Delete(r);
	}

	_cleanup_free_ char *text = xasprintf(
		"iscsi: lun1\n\tportal %s\n\ttarget %s\n\tcontent images\n", portal, target);
	netcfg n;
	if (!make_storage(&n, text, "lun1"))
		return;
	err = NULL;
	if (pve_storage_activate(&n.st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "activate: %s", err ? err->message : "?");
		pve_error_free(err);
		netcfg_clear(&n);
		return;
	}
	pve_storage_status ss;
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(ss.active);
	pve_volume_info *v = NULL;
	size_t nv = 0;
	check(pve_storage_list_volumes(&n.st, 0, PVE_CONTENT_IMAGES, &v, &nv, NULL) == 0);
	check_int(nv, 1);
	unsigned long long want = strtoull(lunsize, NULL, 10);
	for (size_t i = 0; i < nv; i++) {
		printf("# LUN %s size %llu\n", v[i].volid, (unsigned long long)v[i].size);
		const char *volname = strchr(v[i].volid, ':') + 1;
		check(startswith(v[i].volid, "lun1:"));
		check(strstr(volname, ".scsi-") != NULL);
		check_int(v[i].size, want);
		check_streq(v[i].format, "raw");
		char *path = NULL;
		check(pve_storage_path(&n.st, volname, NULL, &path, NULL) == 0);
		check(path && exists(path));
		uint64_t sz = 0;
		check(pve_storage_volume_size(&n.st, volname, &sz, NULL, NULL, NULL) == 0);
		check_int(sz, want);
		free(path);
	}
	pve_volume_infos_free(v, nv);
	/* a listing for one guest: LUNs belong to none */
	v = NULL;
	nv = 1;
	check(pve_storage_list_volumes(&n.st, 100, PVE_CONTENT_IMAGES, &v, &nv, NULL) == 0);
	check_int(nv, 0);
	err = NULL;
	char *vol = NULL;
	check(pve_storage_alloc_image(&n.st, 100, NULL, NULL, 1 << 20, &vol, &err) == -ENOSYS);
	pve_error_free(err);
	check(deactivate_ok(&n.st));
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	check(!ss.active);
	v = NULL;
	nv = 1;
	check(pve_storage_list_volumes(&n.st, 0, PVE_CONTENT_IMAGES, &v, &nv, NULL) == 0);
	check_int(nv, 0);
	netcfg_clear(&n);
}

/* iscsidirect against the lab's tgt target: the LUN listed as lun<N> with its size, its URL, the
 * status from the LUN sizes, and no kernel session made on the way. */
static void iscsidirect_real(void)
{
	const char *portal, *target, *lunsize;
	if (!iscsi_env(&portal, &target, &lunsize))
		return;
	if (access("/usr/bin/iscsi-ls", X_OK) < 0) {
		test_fail(__FILE__, __LINE__,
			  "no /usr/bin/iscsi-ls (libiscsi-bin, tools/setup-deps)");
		return;
	}
	_cleanup_free_ char *text =
		xasprintf("iscsidirect: ld1\n\tportal %s\n\ttarget %s\n", portal, target);
	netcfg n;
	if (!make_storage(&n, text, "ld1"))
		return;
	unsigned long long want = strtoull(lunsize, NULL, 10);
	pve_error *err = NULL;
	check(pve_storage_activate(&n.st, &err) == 0);
	pve_error_free(err);
	pve_storage_status ss;
	check(pve_storage_get_status(&n.st, &ss, NULL) == 0);
	/* iscsi-ls's figures, a little short: the last block's address times the block size, cut
	 * to a whole MiB */
	check(ss.active);
	check(ss.total <= want && ss.total >= want - (2 << 20));
	pve_volume_info *v = NULL;
	size_t nv = 0;
	err = NULL;
	check(pve_storage_list_volumes(&n.st, 0, PVE_CONTENT_IMAGES, &v, &nv, &err) == 0);
	if (err)
		printf("# list: %s\n", err->message);
	pve_error_free(err);
	check_int(nv, 1);
	for (size_t i = 0; i < nv; i++) {
		printf("# LUN %s size %llu\n", v[i].volid, (unsigned long long)v[i].size);
		check_streq(v[i].volid, "ld1:lun1");
		check_int(v[i].size, want);
		check_streq(v[i].format, "raw");
	}
	pve_volume_infos_free(v, nv);
	char *p = NULL;
	check(pve_storage_path(&n.st, "lun1", NULL, &p, NULL) == 0);
	_cleanup_free_ char *url = xasprintf("iscsi://%s/%s/1", portal, target);
	check_streq(p, url);
	free(p);
	uint64_t sz = 0;
	check(pve_storage_volume_size(&n.st, "lun1", &sz, NULL, NULL, NULL) == 0);
	check_int(sz, want);
	err = NULL;
	check(pve_storage_volume_size(&n.st, "lun7", &sz, NULL, NULL, &err) == -ENOENT);
	pve_error_free(err);
	/* a target the portal does not have */
	_cleanup_free_ char *other = xasprintf(
		"iscsidirect: ld2\n\tportal %s\n\ttarget iqn.2026-11.test:none\n", portal);
	netcfg o;
	if (make_storage(&o, other, "ld2")) {
		err = NULL;
		v = NULL;
		check(pve_storage_list_volumes(&o.st, 0, PVE_CONTENT_IMAGES, &v, &nv, &err) < 0);
		check(err && strstr(err->message, "offers no target"));
		pve_error_free(err);
		netcfg_clear(&o);
	}
	/* QEMU reaches the LUN itself: no kernel session of this target */
	static const char *const sess = "/sys/class/iscsi_session";
	_cleanup_(closedirp) DIR *d = opendir(sess);
	struct dirent *e;
	bool session = false;
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *tp = xasprintf("%s/%s/targetname", sess, e->d_name);
		_cleanup_fclose_ FILE *f = fopen(tp, "re");
		char line[256] = "";
		if (f && fgets(line, sizeof(line), f) && startswith(line, target))
			session = true;
	}
	check(!session);
	check(deactivate_ok(&n.st));
	netcfg_clear(&n);
}

/* The tool runner: output, a failure's message, the exit status when asked for, the time limit. */
static void net_runner(void)
{
	char *out = NULL;
	pve_error *err = NULL;
	const char *echo[] = { "/bin/sh", "-c", "echo hello; echo warn >&2", NULL };
	check(pve_storage_run_ex(echo, NULL, 5000, &out, NULL, NULL) == 0);
	check_streq(out, "hello\n");
	free(out);
	const char *fails[] = { "/bin/sh", "-c", "echo one >&2; echo two >&2; exit 3", NULL };
	check(pve_storage_run_ex(fails, NULL, 5000, NULL, NULL, &err) == -EIO);
	check(err && strstr(err->message, "one; two") && strstr(err->message, "exit code 3"));
	if (err)
		printf("# %s\n", err->message);
	pve_error_free(err);
	err = NULL;
	int st = -1;
	check(pve_storage_run_ex(fails, NULL, 5000, NULL, &st, &err) == 0);
	check_int(st, 3);
	check(!err);
	const char *envtest[] = { "/bin/sh", "-c", "test \"$PASSWD\" = s3cret", NULL };
	const char *env[] = { "PASSWD=s3cret", NULL };
	check(pve_storage_run_ex(envtest, env, 5000, NULL, NULL, NULL) == 0);
	check(pve_storage_run_ex(envtest, NULL, 5000, NULL, NULL, NULL) == -EIO);
	/* killed at the limit, with what it started */
	const char *slow[] = { "/bin/sh", "-c", "sleep 30 & sleep 30", NULL };
	time_t t0 = time(NULL);
	check(pve_storage_run_ex(slow, NULL, 300, NULL, NULL, &err) == -ETIMEDOUT);
	check(time(NULL) - t0 < 5);
	pve_error_free(err);
	err = NULL;
	const char *missing[] = { "/nonexistent/tool", NULL };
	check(pve_storage_run_ex(missing, NULL, 5000, NULL, NULL, &err) == -ENOENT);
	pve_error_free(err);
}

static void net_addresses(void)
{
	static const struct {
		const char *in, *host;
		int port;
	} good[] = {
		{ "10.0.0.1", "10.0.0.1", 3260 },	  { "10.0.0.1:3261", "10.0.0.1", 3261 },
		{ "host.example", "host.example", 3260 }, { "[fd00::1]:860", "fd00::1", 860 },
		{ "[fd00::1]", "fd00::1", 3260 },	  { "fd00::1", "fd00::1", 3260 },
	};
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		char *h = NULL;
		int port = 3260;
		check(pve_net_split_hostport(good[i].in, &h, &port, NULL) == 0);
		check_streq(h, good[i].host);
		check_int(port, good[i].port);
		free(h);
	}
	static const char *const bad[] = { "",	   "-p",   "a b", "h:0", "h:65536", "h:x",
					   "[::1", "[]:1", "a,b", "a/b", "[::1]x" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *h = NULL;
		int port = 0;
		check(pve_net_split_hostport(bad[i], &h, &port, NULL) == -EINVAL);
		check(!h);
	}
	check_int(pve_net_option_port("vers=3,port=2050,soft", 2049), 2050);
	check_int(pve_net_option_port("vers=3,mountport=1", 2049), 2049);
	check_int(pve_net_option_port(NULL, 445), 445);
	static const char *const proc[] = { "proc", NULL };
	check(pve_net_is_mounted("/proc", proc));
	check(pve_net_is_mounted("/proc/", proc));
	check(!pve_net_is_mounted("/proc", nfs_types));
	check(!pve_net_is_mounted("/nonexistent", proc));
}

TEST_MAIN(TEST(net_runner), TEST(net_addresses), TEST(net_cfg_checks), TEST(net_unmounted_refused),
	  TEST(net_unreachable), TEST(net_bad_values), TEST(iscsi_refuses),
	  TEST(iscsidirect_refuses), TEST(net_probe_silent), TEST(nfs_real), TEST(cifs_real),
	  TEST(iscsi_real), TEST(iscsidirect_real))
