/* host.fw's conntrack settings written to the network namespace's /proc/sys/net/netfilter files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fw/fw-internal.h"

/* One setting; the error names its file. */
static int sysctl_set(const char *name, unsigned long long value, pve_error **err)
{
	char path[128], want[32], have[32];
	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	int n = snprintf(want, sizeof(want), "%llu\n", value);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	int rw_errno = fd < 0 ? errno : 0;
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pve_error_set(err, errno, "cannot open %s: %m", path);
	ssize_t got = pread(fd, have, sizeof(have) - 1, 0);
	if (got < 0)
		return pve_error_set(err, errno, "cannot read %s: %m", path);
	have[got] = '\0';
	/* Only what differs is written: a write the namespace refuses (nf_conntrack_max is
	 * the initial namespace's) then fails only when a change is asked for. */
	if (streq(have, want))
		return 0;
	if (rw_errno)
		return pve_error_set(err, rw_errno, "cannot set %s to %llu: %s", path, value,
				     strerror(rw_errno));
	if (pwrite(fd, want, (size_t)n, 0) != n)
		return pve_error_set(err, errno, "cannot set %s to %llu: %m", path, value);
	return 0;
}

int pve_fw_sysctl_apply(const pve_fw_ruleset *rs, pve_error **err)
{
	/* Each is tried: one the namespace refuses leaves the others to be written. The first
	 * error is the answer. */
	int ret = 0;
	for (size_t i = 0; rs->enabled && i < rs->n_sysctls; i++) {
		int r = sysctl_set(rs->sysctls[i].name, rs->sysctls[i].value, err);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}
