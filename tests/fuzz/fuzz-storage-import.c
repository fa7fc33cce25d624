/* Fuzzes the import of volume streams (pvesm import): the first byte picks the stream's format and
 * target (raw+size, qcow2+size or vmdk+size on a dir storage in a temporary directory), the rest is
 * the stream. Whatever it holds, the import either makes a volume that frees cleanly or fails with a
 * message and leaves no volume behind. (tar+size is left out: it runs GNU tar on the input as root.) */
/* memfd_create, MFD_CLOEXEC and nftw's FTW_DP are GNU and XSI extensions: the Makefile's builds pass
 * -D_GNU_SOURCE, `make fuzz`'s clang line does not. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <sys/mman.h>

#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzzer's storage, made on the first input: a fuzz target's one piece of global state. */
static pve_sectioncfg *cfg;
static pve_storage st;
static char *top;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void cleanup(void)
{
	nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(top);
	pve_sectioncfg_free(cfg);
}

static bool setup(void)
{
	if (cfg)
		return true;
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = xasprintf("%s/fuzz-storage-import.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return false;
	top = xstrdup(dir);
	atexit(cleanup);
	_cleanup_free_ char *text = xasprintf("dir: fuzz\n\tpath %s\n\tcontent images\n", dir);
	if (pve_storage_cfg_parse(text, strlen(text), &cfg, NULL) < 0 ||
	    pve_storage_get(cfg, "fuzz", &st, NULL) < 0 || pve_storage_activate(&st, NULL) < 0)
		abort();
	return true;
}

static size_t volumes(void)
{
	pve_volume_info *v = NULL;
	size_t n = 0;
	if (pve_storage_list_volumes(&st, 0, PVE_CONTENT_ALL, &v, &n, NULL) < 0)
		abort();
	pve_volume_infos_free(v, n);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const formats[][2] = {
		{ "raw+size", "100/vm-100-disk-0.raw" },
		{ "qcow2+size", "100/vm-100-disk-0.qcow2" },
		{ "vmdk+size", "100/vm-100-disk-0.vmdk" },
	};
	if (size < 1 || size > (1 << 20) || !setup())
		return 0;
	const char *const *f = formats[data[0] % 3];
	_cleanup_close_ int fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	char *vn = NULL;
	pve_error *err = NULL;
	if (pve_storage_volume_import(&st, f[1], f[0], fd, false, &vn, &err) < 0) {
		if (!err || !err->message[0] || volumes() != 0)
			abort();
		pve_error_free(err);
		return 0;
	}
	if (!streq(vn, f[1]) || pve_storage_free_image(&st, vn, NULL) < 0 || volumes() != 0)
		abort();
	free(vn);
	return 0;
}
