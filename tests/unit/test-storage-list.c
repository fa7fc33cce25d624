/* The dir plugin's image listing against what the files on disk say: many guests (the listing splits their
 * directories between two threads), every image kind, names it must skip, filters, order, the sizes
 * read from qcow2 and vmdk headers and from stat, and images or rootdir by the guest's type (the even
 * VMIDs are containers here), as Proxmox decides. */
#include <fcntl.h>
#include <sys/stat.h>

#include "storage/storage.h"
#include "tests/unit/storage-image-files.h"
#include "tests/unit/test.h"

#define GUESTS 13
#define DISKS 7

static void write_vmdk(const char *path, uint64_t sectors)
{
	unsigned char h[512] = { 'K', 'D', 'M', 'V' };
	for (int i = 0; i < 8; i++)
		h[12 + i] = (unsigned char)(sectors >> (8 * i));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	check(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	close(fd);
}

static void write_raw(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	check(ftruncate(fd, size) == 0);
	close(fd);
}

/* The guests taken for containers: every even VMID. */
static unsigned kind(long long vmid)
{
	return vmid % 2 == 0 ? PVE_CONTENT_ROOTDIR : PVE_CONTENT_IMAGES;
}

typedef struct expect {
	char volid[256];
	const char *format;
	uint64_t size;
	long long vmid;
	unsigned content;
	char parent[128];
	char file[512]; /* for used and ctime, from lstat */
} expect;

static int cmp_expect(const void *a, const void *b)
{
	return strcmp(((const expect *)a)->volid, ((const expect *)b)->volid);
}

static expect *add(expect *e, size_t *n, const char *file, const char *volid, const char *format,
		   uint64_t size, long long vmid, unsigned content, const char *parent)
{
	expect *x = &e[(*n)++];
	*x = (expect){ .format = format, .size = size, .vmid = vmid, .content = content };
	snprintf(x->volid, sizeof(x->volid), "%s", volid);
	snprintf(x->file, sizeof(x->file), "%s", file);
	if (parent)
		snprintf(x->parent, sizeof(x->parent), "%s", parent);
	return x;
}

/* The tree: guests 100..112, each with raw, qcow2, vmdk and a subvol, plus names to skip; 101 holds a
 * linked clone of 100's base. Returns the expected listing of everything, sorted. */
static expect *build(const char *top, size_t *ret_n)
{
	expect *e = xcalloc(GUESTS * (DISKS + 2), sizeof(*e));
	size_t n = 0;
	char p[512], v[256];
	snprintf(p, sizeof(p), "%s/images", top);
	check(mkdir(top, 0755) == 0 && mkdir(p, 0755) == 0);
	for (int g = 0; g < GUESTS; g++) {
		long long vmid = 100 + g;
		snprintf(p, sizeof(p), "%s/images/%lld", top, vmid);
		check(mkdir(p, 0755) == 0);
		for (int k = 0; k < DISKS; k++) {
			static const char *const fmts[] = { "raw", "qcow2", "vmdk" };
			const char *fmt = fmts[k % 3];
			uint64_t size = (uint64_t)(g + 1) * (1u << 20) + (uint64_t)k * 512;
			snprintf(p, sizeof(p), "%s/images/%lld/vm-%lld-disk-%d.%s", top, vmid, vmid,
				 k, fmt);
			snprintf(v, sizeof(v), "st:%lld/vm-%lld-disk-%d.%s", vmid, vmid, k, fmt);
			if (k % 3 == 0)
				write_raw(p, (off_t)size);
			else if (k % 3 == 1)
				sif_write_qcow2(p, size, NULL);
			else
				write_vmdk(p, size / 512);
			add(e, &n, p, v, fmt, k % 3 == 2 ? size / 512 * 512 : size, vmid,
			    kind(vmid), NULL);
		}
		snprintf(p, sizeof(p), "%s/images/%lld/subvol-%lld-disk-0.subvol", top, vmid, vmid);
		check(mkdir(p, 0755) == 0);
		snprintf(v, sizeof(v), "st:%lld/subvol-%lld-disk-0.subvol", vmid, vmid);
		add(e, &n, p, v, "subvol", 0, vmid, kind(vmid), NULL);
		/* skipped: hidden, not an image name, no extension */
		static const char *const junk[] = { ".hidden.raw", "notes.txt", "vm-100-disk-9" };
		for (size_t j = 0; j < ELEMENTSOF(junk); j++) {
			snprintf(p, sizeof(p), "%s/images/%lld/%s", top, vmid, junk[j]);
			write_raw(p, 4096);
		}
	}
	/* skipped directories: not a VMID */
	snprintf(p, sizeof(p), "%s/images/099", top);
	check(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/images/099/vm-99-disk-0.raw", top);
	write_raw(p, 1);
	snprintf(p, sizeof(p), "%s/images/lost+found", top);
	check(mkdir(p, 0755) == 0);
	/* a base and its linked clone */
	snprintf(p, sizeof(p), "%s/images/100/base-100-disk-0.qcow2", top);
	sif_write_qcow2(p, 1u << 30, NULL);
	add(e, &n, p, "st:100/base-100-disk-0.qcow2", "qcow2", 1u << 30, 100, kind(100), NULL);
	snprintf(p, sizeof(p), "%s/images/101/vm-101-disk-9.qcow2", top);
	sif_write_qcow2(p, 1u << 30, "../100/base-100-disk-0.qcow2");
	add(e, &n, p, "st:100/base-100-disk-0.qcow2/101/vm-101-disk-9.qcow2", "qcow2", 1u << 30,
	    101, kind(101), "../100/base-100-disk-0.qcow2");
	qsort(e, n, sizeof(*e), cmp_expect);
	*ret_n = n;
	return e;
}

/* The listing for (vmid, content) equals the expected entries that pass the same filter, in order. */
static void compare(const pve_storage *st, const expect *e, size_t n, long long vmid,
		    unsigned content)
{
	pve_volume_info *v = NULL;
	size_t got = 0;
	check(pve_storage_list_volumes(st, vmid, content, &v, &got, NULL) == 0);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if ((vmid && e[i].vmid != vmid) || !(e[i].content & content))
			continue;
		if (k >= got) {
			test_fail(__FILE__, __LINE__, "missing %s", e[i].volid);
			break;
		}
		const pve_volume_info *x = &v[k++];
		struct stat s;
		check(lstat(e[i].file, &s) == 0);
		check_streq(x->volid, e[i].volid);
		check_streq(x->format, e[i].format);
		check(x->size == e[i].size);
		check(x->used == (uint64_t)s.st_blocks * 512);
		check(x->ctime == s.st_ctime);
		check_int(x->vmid, e[i].vmid);
		check_int(x->content, e[i].content);
		if (e[i].parent[0])
			check(x->parent && streq(x->parent, e[i].parent));
		else
			check(!x->parent);
	}
	check_int(got, k);
	pve_volume_infos_free(v, got);
}

static void list_many_guests(void)
{
	_cleanup_free_ char *top = xasprintf("%s/store", test_tmpdir());
	size_t n;
	expect *e = build(top, &n);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	long long cts[GUESTS];
	size_t n_cts = 0;
	for (long long vmid = 100; vmid < 100 + GUESTS; vmid++)
		if (kind(vmid) == PVE_CONTENT_ROOTDIR)
			cts[n_cts++] = vmid;
	if (sif_open_storage(top, "", &cfg, &st) == 0) {
		st.containers = cts;
		st.n_containers = n_cts;
		check_int(n, GUESTS * (DISKS + 1) + 2);
		compare(&st, e, n, 0, PVE_CONTENT_ALL);
		compare(&st, e, n, 0, PVE_CONTENT_IMAGES);
		compare(&st, e, n, 0, PVE_CONTENT_ROOTDIR);
		compare(&st, e, n, 101, PVE_CONTENT_ALL);
		compare(&st, e, n, 112, PVE_CONTENT_IMAGES);
		compare(&st, e, n, 113, PVE_CONTENT_ALL); /* no such guest: empty */
		pve_sectioncfg_free(cfg);
	}
	free(e);
}

/* Fewer guests than the listing splits for: the same answers from one thread. */
static void list_few_guests(void)
{
	_cleanup_free_ char *top = xasprintf("%s/few", test_tmpdir());
	char p[512];
	check(mkdir(top, 0755) == 0);
	snprintf(p, sizeof(p), "%s/images", top);
	check(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/images/200", top);
	check(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/images/200/vm-200-disk-1.raw", top);
	write_raw(p, 3 << 20);
	snprintf(p, sizeof(p), "%s/images/200/vm-200-disk-0.qcow2", top);
	sif_write_qcow2(p, 5ull << 40, NULL);
	pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (sif_open_storage(top, "", &cfg, &st) < 0)
		return;
	pve_volume_info *v = NULL;
	size_t got = 0;
	check(pve_storage_list_volumes(&st, 0, PVE_CONTENT_ALL, &v, &got, NULL) == 0);
	check_int(got, 2);
	if (got == 2) {
		check_streq(v[0].volid, "st:200/vm-200-disk-0.qcow2");
		check(v[0].size == 5ull << 40);
		check_streq(v[1].volid, "st:200/vm-200-disk-1.raw");
		check(v[1].size == 3u << 20);
	}
	pve_volume_infos_free(v, got);
	pve_sectioncfg_free(cfg);
}

TEST_MAIN(TEST(list_many_guests), TEST(list_few_guests))
