/* The inotify-kept listing cache of dir storages (storage/list-cache.c) against the listing without
 * it, after each kind of change to the tree, and the proof that it caches: a change inotify cannot
 * see (a truncate through a hard link in another directory) stays unseen until an event comes. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "storage/storage.h"
#include "tests/unit/storage-image-files.h"
#include "tests/unit/test.h"

static void write_raw(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	check(ftruncate(fd, size) == 0);
	close(fd);
}

/* Appends len bytes of data (blocks, not a hole: used grows with size). */
static void append(const char *path, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	check(fd >= 0);
	_cleanup_free_ char *b = xmalloc(len);
	memset(b, 'x', len);
	check(write(fd, b, len) == (ssize_t)len);
	close(fd);
}

static void mkdirf(const char *fmt, ...) _printf_(1, 2);
static void mkdirf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *p = xvasprintf(fmt, ap);
	va_end(ap);
	check(mkdir(p, 0755) == 0);
}

/* Whether inotify sees every change under path's file system (else the cache lists without
 * caching). */
static bool cacheable_fs(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 &&
	       (sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC ||
		sf.f_type == BTRFS_SUPER_MAGIC || sf.f_type == TMPFS_MAGIC);
}

static bool info_eq(const pve_volume_info *a, const pve_volume_info *b)
{
	return streq(a->volid, b->volid) && streq_ptr(a->format, b->format) && a->size == b->size &&
	       a->used == b->used && a->ctime == b->ctime && a->vmid == b->vmid &&
	       a->content == b->content && streq_ptr(a->parent, b->parent) &&
	       streq_ptr(a->notes, b->notes) && a->protected_ == b->protected_ &&
	       streq_ptr(a->subtype, b->subtype);
}

/* The cached listing equals the uncached one (every field, the order); *ret_n: how many. */
static void same_at(int line, pve_storage_list_cache *c, const pve_storage *st, long long vmid,
		    unsigned content, size_t *ret_n)
{
	pve_volume_info *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	pve_error *err = NULL;
	if (pve_storage_list_volumes(st, vmid, content, &a, &na, &err) < 0 ||
	    pve_storage_list_volumes_cached(c, st, vmid, content, &b, &nb, &err) < 0) {
		test_fail(__FILE__, line, "list: %s", err->message);
		pve_error_free(err);
	} else if (na != nb) {
		test_fail(__FILE__, line, "%zu volumes cached, %zu without", nb, na);
	} else {
		for (size_t i = 0; i < na; i++)
			if (!info_eq(&a[i], &b[i])) {
				test_fail(__FILE__, line,
					  "#%zu: %s size %" PRIu64 " used %" PRIu64 " ctime %lld "
					  "cached, %s %" PRIu64 " %" PRIu64 " %lld without",
					  i, b[i].volid, b[i].size, b[i].used,
					  (long long)b[i].ctime, a[i].volid, a[i].size, a[i].used,
					  (long long)a[i].ctime);
				break;
			}
	}
	if (ret_n)
		*ret_n = na;
	pve_volume_infos_free(a, na);
	pve_volume_infos_free(b, nb);
}
#define same(c, st, vmid, content, n) same_at(__LINE__, c, st, vmid, content, n)

/* Every filter we check after each change. */
static void same_all(int line, pve_storage_list_cache *c, const pve_storage *st, size_t expect)
{
	size_t n = 0;
	same_at(line, c, st, 0, PVE_CONTENT_ALL, &n);
	if (n != expect)
		test_fail(__FILE__, line, "%zu volumes, expected %zu", n, expect);
	same_at(line, c, st, 0, PVE_CONTENT_IMAGES, NULL);
	same_at(line, c, st, 0, PVE_CONTENT_ROOTDIR, NULL);
	same_at(line, c, st, 0, PVE_CONTENT_ISO | PVE_CONTENT_ROOTDIR, NULL);
	same_at(line, c, st, 101, PVE_CONTENT_ALL, NULL);
	same_at(line, c, st, 102, PVE_CONTENT_IMAGES, NULL);
	same_at(line, c, st, 999, PVE_CONTENT_ALL, NULL);
	same_at(line, c, st, 0, PVE_CONTENT_ALL, NULL);
}
#define SAME_ALL(n) same_all(__LINE__, c, &st, n)

/* 6 guests (two threads read the stale directories) of 3 images, a linked clone, a subvol, an
 * iso. */
static void build(const char *top)
{
	char p[512];
	mkdirf("%s", top);
	mkdirf("%s/images", top);
	for (int g = 100; g < 106; g++) {
		mkdirf("%s/images/%d", top, g);
		for (int k = 0; k < 3; k++) {
			snprintf(p, sizeof(p), "%s/images/%d/vm-%d-disk-%d.raw", top, g, g, k);
			write_raw(p, (off_t)(g + k) << 20);
		}
	}
	snprintf(p, sizeof(p), "%s/images/100/base-100-disk-7.qcow2", top);
	sif_write_qcow2(p, 1u << 30, NULL);
	snprintf(p, sizeof(p), "%s/images/101/vm-101-disk-8.qcow2", top);
	sif_write_qcow2(p, 1u << 30, "../100/base-100-disk-7.qcow2");
	mkdirf("%s/images/103/subvol-103-disk-0.subvol", top);
	mkdirf("%s/template", top);
	mkdirf("%s/template/iso", top);
	snprintf(p, sizeof(p), "%s/template/iso/x.iso", top);
	write_raw(p, 4096);
}

static char *pathf(const char *fmt, ...) _printf_(1, 2);
static char *pathf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

static void follows_changes(void)
{
	_cleanup_free_ char *top = pathf("%s/store", test_tmpdir());
	build(top);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (sif_open_storage(top, "", &cfg, &st) < 0)
		return;
	/* a container's disks are rootdir: the filter on cached entries sees that too */
	static const long long cts[] = { 102, 103 };
	st.containers = cts;
	st.n_containers = ELEMENTSOF(cts);
	pve_storage_list_cache *c = pve_storage_list_cache_new();
	size_t n = 6 * 3 + 2 + 1 + 1;
	SAME_ALL(n);
	SAME_ALL(n); /* all from the cache */

	/* a new file in an existing directory */
	_cleanup_free_ char *f1 = pathf("%s/images/102/vm-102-disk-5.raw", top);
	write_raw(f1, 7 << 20);
	SAME_ALL(++n);
	/* a new guest directory */
	mkdirf("%s/images/106", top);
	_cleanup_free_ char *f2 = pathf("%s/images/106/vm-106-disk-0.raw", top);
	write_raw(f2, 1 << 20);
	SAME_ALL(++n);
	/* a file deleted */
	_cleanup_free_ char *f3 = pathf("%s/images/104/vm-104-disk-1.raw", top);
	check(unlink(f3) == 0);
	SAME_ALL(--n);
	/* a file grown: size and used */
	append(f1, 1 << 20);
	SAME_ALL(n);
	/* a qcow2 made by qemu-img: its virtual size from the header */
	_cleanup_free_ char *f4 = pathf("%s/images/101/vm-101-disk-3.qcow2", top);
	const char *const argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", f4, "3G", NULL };
	pve_error *err = NULL;
	if (pve_qemu_img(argv, NULL, &err) == 0) {
		SAME_ALL(++n);
		pve_volume_info *v = NULL;
		size_t nv = 0;
		check(pve_storage_list_volumes_cached(c, &st, 101, PVE_CONTENT_IMAGES, &v, &nv,
						      NULL) == 0);
		bool found = false;
		for (size_t i = 0; i < nv; i++)
			if (streq(v[i].volid, "st:101/vm-101-disk-3.qcow2"))
				found = v[i].size == 3ull << 30;
		check(found);
		pve_volume_infos_free(v, nv);
	} else {
		printf("# no qemu-img: %s\n", err->message);
		pve_error_free(err);
	}
	/* chmod (ctime, in seconds: wait for the next one), and a file made inside a subvol (its
	 * directory's ctime and used: no event on images/103, which is why it is not cached) */
	sleep(1);
	_cleanup_free_ char *f5 = pathf("%s/images/100/vm-100-disk-0.raw", top);
	check(chmod(f5, 0600) == 0);
	_cleanup_free_ char *f6 = pathf("%s/images/103/subvol-103-disk-0.subvol/big", top);
	write_raw(f6, 0);
	append(f6, 64 << 10);
	SAME_ALL(n);
	/* a directory renamed (to another guest's number) */
	_cleanup_free_ char *d1 = pathf("%s/images/105", top), *d2 = pathf("%s/images/107", top);
	check(rename(d1, d2) == 0);
	SAME_ALL(n);
	/* a directory removed and made again with other files */
	_cleanup_free_ char *f7 = pathf("%s/images/102/vm-102-disk-0.raw", top);
	_cleanup_free_ char *f8 = pathf("%s/images/102/vm-102-disk-1.raw", top);
	_cleanup_free_ char *f9 = pathf("%s/images/102/vm-102-disk-2.raw", top);
	_cleanup_free_ char *d3 = pathf("%s/images/102", top);
	check(unlink(f1) == 0 && unlink(f7) == 0 && unlink(f8) == 0 && unlink(f9) == 0);
	check(rmdir(d3) == 0);
	n -= 4;
	mkdirf("%s/images/102", top);
	_cleanup_free_ char *f10 = pathf("%s/images/102/vm-102-disk-9.qcow2", top);
	sif_write_qcow2(f10, 5ull << 30, NULL);
	SAME_ALL(++n);
	/* a file replaced by another through a rename */
	_cleanup_free_ char *f11 = pathf("%s/images/104/tmp", top);
	_cleanup_free_ char *f12 = pathf("%s/images/104/vm-104-disk-0.raw", top);
	write_raw(f11, 9 << 20);
	check(rename(f11, f12) == 0);
	SAME_ALL(n);
	/* images/ itself gone, and back */
	_cleanup_free_ char *i1 = pathf("%s/images", top), *i2 = pathf("%s/images.old", top);
	check(rename(i1, i2) == 0);
	SAME_ALL(1);
	check(rename(i2, i1) == 0);
	SAME_ALL(n);
	pve_storage_list_cache_free(c);
	pve_sectioncfg_free(cfg);
}

/* The size a cached listing gives for volid. */
static uint64_t size_of(pve_storage_list_cache *c, const pve_storage *st, const char *volid)
{
	pve_volume_info *v = NULL;
	size_t n = 0;
	uint64_t size = UINT64_MAX;
	check(pve_storage_list_volumes_cached(c, st, 0, PVE_CONTENT_ALL, &v, &n, NULL) == 0);
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].volid, volid))
			size = v[i].size;
	pve_volume_infos_free(v, n);
	return size;
}

/* A truncate through a hard link in another directory sends no event to images/300: the cached
 * listing keeps the old size (it does not stat again), until something in images/300 changes. */
static void caches(void)
{
	_cleanup_free_ char *top = pathf("%s/store", test_tmpdir());
	if (!cacheable_fs(test_tmpdir())) {
		test_skip("%s: not a file system the cache keeps", test_tmpdir());
		return;
	}
	mkdirf("%s", top);
	mkdirf("%s/images", top);
	mkdirf("%s/images/300", top);
	mkdirf("%s/other", top);
	_cleanup_free_ char *f = pathf("%s/images/300/vm-300-disk-0.raw", top);
	_cleanup_free_ char *hlink = pathf("%s/other/link", top);
	write_raw(f, 1 << 20);
	check(link(f, hlink) == 0);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (sif_open_storage(top, "", &cfg, &st) < 0)
		return;
	pve_storage_list_cache *c = pve_storage_list_cache_new();
	const char *volid = "st:300/vm-300-disk-0.raw";
	check(size_of(c, &st, volid) == 1 << 20);
	check(truncate(hlink, 2 << 20) == 0);
	check(size_of(c, &st, volid) == 1 << 20);
	check(size_of(c, &st, volid) == 1 << 20);
	/* without the cache, and through the cache of another process (a fresh one) */
	check(size_of(NULL, &st, volid) == 2 << 20);
	pve_storage_list_cache *c2 = pve_storage_list_cache_new();
	check(size_of(c2, &st, volid) == 2 << 20);
	pve_storage_list_cache_free(c2);
	/* an event on the directory: read again */
	_cleanup_free_ char *g = pathf("%s/images/300/vm-300-disk-1.raw", top);
	write_raw(g, 0);
	check(size_of(c, &st, volid) == 2 << 20);
	same(c, &st, 0, PVE_CONTENT_ALL, NULL);

	/* a child forked with the cache (a task) lists without it, and leaves the parent's events */
	_cleanup_free_ char *g2 = pathf("%s/images/300/vm-300-disk-2.raw", top);
	write_raw(g2, 0);
	pid_t pid = fork();
	if (pid == 0) {
		pve_volume_info *v = NULL;
		size_t n = 0;
		int r = pve_storage_list_volumes_cached(c, &st, 0, PVE_CONTENT_ALL, &v, &n, NULL);
		_exit(r == 0 && n == 3 ? 0 : 1);
	}
	int status = -1;
	check(pid > 0 && waitpid(pid, &status, 0) == pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	same(c, &st, 0, PVE_CONTENT_ALL, NULL);
	check(size_of(c, &st, "st:300/vm-300-disk-2.raw") == 0);

	/* a shared storage is not cached */
	pve_sectioncfg *cfg2 = NULL;
	pve_storage st2;
	if (sif_open_storage(top, "\tshared 1\n", &cfg2, &st2) == 0) {
		check(size_of(c, &st2, volid) == 2 << 20);
		check(truncate(hlink, 3 << 20) == 0);
		check(size_of(c, &st2, volid) == 3 << 20);
		pve_sectioncfg_free(cfg2);
	}
	/* the same storage at another path is another entry */
	_cleanup_free_ char *top2 = pathf("%s/store2", test_tmpdir());
	mkdirf("%s", top2);
	mkdirf("%s/images", top2);
	mkdirf("%s/images/300", top2);
	_cleanup_free_ char *h = pathf("%s/images/300/vm-300-disk-0.raw", top2);
	write_raw(h, 5 << 20);
	pve_sectioncfg *cfg3 = NULL;
	pve_storage st3;
	if (sif_open_storage(top2, "", &cfg3, &st3) == 0) {
		check(size_of(c, &st3, volid) == 5 << 20);
		same(c, &st3, 0, PVE_CONTENT_ALL, NULL);
		pve_sectioncfg_free(cfg3);
	}
	pve_storage_list_cache_free(c);
	pve_sectioncfg_free(cfg);
}

/* A NULL cache is the plain listing. */
static void null_cache(void)
{
	_cleanup_free_ char *top = pathf("%s/store", test_tmpdir());
	build(top);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (sif_open_storage(top, "", &cfg, &st) < 0)
		return;
	size_t n = 0;
	same(NULL, &st, 0, PVE_CONTENT_ALL, &n);
	check_int(n, 6 * 3 + 2 + 1 + 1);
	pve_sectioncfg_free(cfg);
}

typedef struct race {
	pve_storage_list_cache *c;
	const pve_storage *st;
	const char *top;
	bool stop; /* atomic */
	int lists, errors;
} race;

static void *lister(void *arg)
{
	race *r = arg;
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		pve_volume_info *v = NULL;
		size_t n = 0;
		if (pve_storage_list_volumes_cached(r->c, r->st, 0, PVE_CONTENT_ALL, &v, &n, NULL) <
		    0)
			__atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
		for (size_t i = 1; i < n; i++)
			if (strcmp(v[i - 1].volid, v[i].volid) >= 0)
				__atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
		pve_volume_infos_free(v, n);
		__atomic_add_fetch(&r->lists, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Two threads listing through one cache while files come and go: afterwards the cache is right. */
static void concurrent(void)
{
	_cleanup_free_ char *top = pathf("%s/store", test_tmpdir());
	build(top);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (sif_open_storage(top, "", &cfg, &st) < 0)
		return;
	race r = { .c = pve_storage_list_cache_new(), .st = &st, .top = top };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		check(pthread_create(&t[i], NULL, lister, &r) == 0);
	char p[512];
	/* at least 2000 changes, and on until the listers ran through 50 listings among them */
	for (int i = 0;
	     i < 2000 || (__atomic_load_n(&r.lists, __ATOMIC_RELAXED) < 50 && i < 1000000); i++) {
		int g = 100 + i % 8, k = 10 + i % 13;
		if (i % 8 >= 6 && i % 13 == 0) {
			snprintf(p, sizeof(p), "%s/images/%d", top, g);
			mkdir(p, 0755);
		}
		snprintf(p, sizeof(p), "%s/images/%d/vm-%d-disk-%d.raw", top, g, g, k);
		if (access(p, F_OK) == 0) {
			if (i % 3)
				unlink(p);
			else
				append(p, 4096);
		} else {
			int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0)
				close(fd);
		}
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	check_int(r.errors, 0);
	check(r.lists >= 50);
	printf("# %d listings during the changes\n", r.lists);
	same(r.c, &st, 0, PVE_CONTENT_ALL, NULL);
	same(r.c, &st, 0, PVE_CONTENT_ALL, NULL);
	pve_storage_list_cache_free(r.c);
	pve_sectioncfg_free(cfg);
}

TEST_MAIN(TEST(follows_changes), TEST(caches), TEST(null_cache), TEST(concurrent))
