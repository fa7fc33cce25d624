/* Fuzzes lxc_template_extract with hostile template archives: the first byte picks a privileged or an
 * unprivileged (shifted) unpack, the rest is the archive. Whatever it holds, nothing may land outside
 * the rootfs directory: a sibling directory (what "../sibling" or a symlink to it would reach) must
 * stay empty, and a failed unpack must leave the rootfs empty. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc/lxc.h"
#include "lxc/rootfs-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzzer's directories, made on the first input: a fuzz target's one piece of global state. */
static char *top, *root, *sibling;

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
	free(root);
	free(sibling);
}

static bool setup(void)
{
	if (top)
		return true;
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = xasprintf("%s/fuzz-lxc-template.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return false;
	top = xstrdup(dir);
	root = xasprintf("%s/root", top);
	sibling = xasprintf("%s/sibling", top);
	atexit(cleanup);
	if (mkdir(root, 0755) < 0 || mkdir(sibling, 0755) < 0)
		abort();
	return true;
}

static size_t count(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		abort();
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const lxc_idmap maps[] = {
		{ 'u', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
		{ 'g', 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT },
	};
	if (size < 1 || size > (4 << 20) || !setup())
		return 0;
	_cleanup_close_ int fd = memfd_create("template", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	_cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", fd);
	pve_error *err = NULL;
	int r = lxc_template_extract(path, root, maps, (data[0] & 1) ? 2 : 0, &err);
	if (r < 0) {
		if (!err || !err->message[0] || count(root) != 0)
			abort();
		pve_error_free(err);
	}
	if (count(sibling) != 0 || count(top) != 2)
		abort();
	_cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		abort();
	lxc_unpack_clear(rfd);
	return 0;
}
