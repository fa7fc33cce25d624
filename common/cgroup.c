/* cgroup2's mount point, found in /proc/self/mountinfo (a hybrid host has it at /sys/fs/cgroup/unified,
 * a pure one at /sys/fs/cgroup), and the slice of a node whose root is not "/": shared by kvm/ and lxc/. */
#include <linux/magic.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <string.h>

#include "common/common.h"

/* The first cgroup2 mount point for which usable() says yes (NULL: the first). */
static char *parse(const char *text, size_t len, bool (*usable)(const char *))
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* a line longer than any real one is skipped, not cut */
		if (n < 4096) {
			char line[4096];
			memcpy(line, p, n);
			line[n] = '\0';
			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
			char *sep = strstr(line, " - ");
			if (sep && strncmp(sep + 3, "cgroup2 ", 8) == 0) {
				*sep = '\0';
				char *save = NULL, *tok = strtok_r(line, " ", &save);
				for (int i = 0; tok && i < 4; i++)
					tok = strtok_r(NULL, " ", &save);
				/* mountinfo escapes spaces as \040; a cgroup2 mount point has none in
				 * practice, and one that has is not guessed at */
				if (tok && tok[0] == '/' && !strchr(tok, '\\') &&
				    (!usable || usable(tok)))
					return xstrdup(tok);
			}
		}
		p += n + 1;
	}
	return NULL;
}

char *pve_cgroup2_mount_parse(const char *text, size_t len)
{
	return parse(text, len, NULL);
}

/* A mount point another mount hides (a tmpfs over /sys/fs/cgroup in a private namespace) is listed
 * all the same: only one that still is cgroup2 counts. */
static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

char *pve_cgroup2_mount(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return NULL;
	pve_buf b = { 0 };
	char chunk[16384];
	size_t n;
	/* mountinfo of a busy host is some hundred KiB at most: 8 MiB bounds a runaway */
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 8u << 20)
		pve_buf_append(&b, chunk, n);
	char *r = parse(b.data ? b.data : "", b.len, is_cgroup2);
	pve_buf_free(&b);
	return r;
}

char *pve_cgroup_node_slice(const char *root)
{
	if (!root || streq(root, "/"))
		return NULL;
	/* FNV-1a of the root: nodes of tests on one machine never share a slice */
	uint32_t h = 2166136261u;
	for (const char *p = root; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return xasprintf("pved-%08x.slice", h);
}
