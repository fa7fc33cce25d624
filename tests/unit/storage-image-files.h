/* What the listing tests share: a dir storage on a test directory, and image files written byte by
 * byte (a header is all a listing reads, and a test needs many of them faster than qemu-img makes
 * them). Included by tests/unit/test-storage-list*.c. */
#pragma once

#include <fcntl.h>
#include <stdint.h>

#include "storage/storage.h"
#include "tests/unit/test.h"

static inline void sif_put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A file with a qcow2 header: virtual size, and a backing file name if given. */
static inline void sif_write_qcow2(const char *path, uint64_t vsize, const char *backing)
{
	unsigned char h[512] = { 'Q', 'F', 'I', 0xfb };
	sif_put_be(h + 4, 3, 4);
	sif_put_be(h + 24, vsize, 8);
	if (backing) {
		sif_put_be(h + 8, 256, 8);
		sif_put_be(h + 16, strlen(backing), 4);
		memcpy(h + 256, backing, strlen(backing));
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0);
	check(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
	close(fd);
}

/* A dir storage "st" at top with content images, rootdir, iso and backup, and extra properties
 * ("\tshared 1\n"); -1 (the test failed) if it can't be made. */
static inline int sif_open_storage(const char *top, const char *extra, pve_sectioncfg **cfg,
				   pve_storage *st)
{
	_cleanup_free_ char *text = xasprintf(
		"dir: st\n\tpath %s\n\tcontent images,rootdir,iso,backup\n%s", top, extra);
	pve_error *err = NULL;
	if (pve_storage_cfg_parse(text, strlen(text), cfg, &err) < 0 ||
	    pve_storage_get(*cfg, "st", st, &err) < 0) {
		test_fail(__FILE__, __LINE__, "%s", err->message);
		pve_error_free(err);
		return -1;
	}
	return 0;
}
