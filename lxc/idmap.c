/* The user namespace's id maps, written by the parent as root into /proc/<pid>/{uid,gid}_map (no
 * newuidmap: the writer has CAP_SETUID in the parent namespace, so setgroups stays allowed inside). */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

static size_t maps_of(const lxc_spec *s, char kind, lxc_idmap *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_idmaps && i < LXC_MAX_IDMAPS; i++)
		if (s->idmaps[i].kind == kind)
			out[n++] = s->idmaps[i];
	if (!n && s->unprivileged)
		out[n++] = (lxc_idmap){ kind, 0, LXC_UNPRIV_BASE, LXC_UNPRIV_COUNT };
	return n;
}

uid_t lxc_idmap_root(const lxc_spec *s, char kind)
{
	if (!s->unprivileged)
		return 0;
	lxc_idmap m[LXC_MAX_IDMAPS];
	size_t n = maps_of(s, kind, m);
	for (size_t i = 0; i < n; i++)
		if (m[i].inside == 0)
			return m[i].outside;
	return 0;
}

static int write_map(pid_t pid, char kind, const lxc_idmap *m, size_t n, pve_error **err)
{
	pve_buf b = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (!m[i].count || m[i].inside + (uint64_t)m[i].count - 1 > UINT32_MAX - 1 ||
		    m[i].outside + (uint64_t)m[i].count - 1 > UINT32_MAX - 1) {
			pve_buf_free(&b);
			return pve_error_set(err, EINVAL, "id map %c %u %u %u is out of range",
					     kind, m[i].inside, m[i].outside, m[i].count);
		}
		/* the kernel refuses overlaps too, but with EINVAL and no word of which */
		for (size_t j = 0; j < i; j++) {
			bool in = m[i].inside < m[j].inside + m[j].count &&
				  m[j].inside < m[i].inside + m[i].count;
			bool out = m[i].outside < m[j].outside + m[j].count &&
				   m[j].outside < m[i].outside + m[i].count;
			if (in || out) {
				pve_buf_free(&b);
				return pve_error_set(err, EINVAL,
						     "id maps %c %u %u %u and %c %u %u %u overlap",
						     kind, m[j].inside, m[j].outside, m[j].count,
						     kind, m[i].inside, m[i].outside, m[i].count);
			}
		}
		pve_buf_printf(&b, "%u %u %u\n", m[i].inside, m[i].outside, m[i].count);
	}
	_cleanup_free_ char *path =
		xasprintf("/proc/%d/%s_map", (int)pid, kind == 'u' ? "uid" : "gid");
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	int r = 0;
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len) {
		int e = errno;
		r = pve_error_set(err, e, "can't write the %cid map (%s): %s", kind,
				  b.len ? b.data : "", strerror(e));
	}
	pve_buf_free(&b);
	return r;
}

int lxc_idmap_write(const lxc_spec *s, pid_t child, pve_error **err)
{
	lxc_idmap m[LXC_MAX_IDMAPS];
	size_t n = maps_of(s, 'u', m);
	if (!n)
		return pve_error_set(err, EINVAL, "an unprivileged container needs a uid map");
	int r = write_map(child, 'u', m, n, err);
	if (r < 0)
		return r;
	n = maps_of(s, 'g', m);
	if (!n)
		return pve_error_set(err, EINVAL, "an unprivileged container needs a gid map");
	return write_map(child, 'g', m, n, err);
}
