/* QEMU processes: their run files (<root>/run/qemu-server/<vmid>.*), finding a VM's QEMU from its pid file
 * and command line, and what /proc tells of it (start time, CPU time, memory). */
#include <fcntl.h>
#include <time.h>

#include "kvm/kvm-internal.h"

char *kvm_run_path(const char *run_dir, long long vmid, const char *what)
{
	return xasprintf("%s/%lld.%s", run_dir, vmid, what);
}

/* Reads at most size-1 bytes of a small file; the length, or a negative errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = pve_read_full(fd, buf, size - 1);
	if (n < 0)
		return n;
	buf[n] = '\0';
	return n;
}

/* The fields of /proc/PID/stat after the command name, split at spaces: fields[0] is field 3. */
static int proc_stat_fields(pid_t pid, char *buf, size_t size, char **fields, size_t nfields)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = read_small(path, buf, size);
	if (n < 0)
		return (int)n;
	/* the command name may hold spaces and parentheses: what follows its last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	size_t k = 0;
	char *save = NULL;
	for (char *t = strtok_r(p, " \n", &save); t && k < nfields;
	     t = strtok_r(NULL, " \n", &save))
		fields[k++] = t;
	return k == nfields ? 0 : -EIO;
}

int kvm_proc_starttime(pid_t pid, uint64_t *ret)
{
	char buf[1024];
	char *f[20];
	int r = proc_stat_fields(pid, buf, sizeof(buf), f, 20);
	if (r < 0)
		return r;
	*ret = strtoull(f[19], NULL, 10); /* field 22 */
	return 0;
}

int kvm_proc_stat(pid_t pid, uint64_t *ret_cpu_ticks, uint64_t *ret_rss)
{
	char buf[1024];
	char *f[22];
	int r = proc_stat_fields(pid, buf, sizeof(buf), f, 22);
	if (r < 0)
		return r;
	/* utime (14) + stime (15); rss (24) in pages */
	if (ret_cpu_ticks)
		*ret_cpu_ticks = strtoull(f[11], NULL, 10) + strtoull(f[12], NULL, 10);
	if (ret_rss)
		*ret_rss = strtoull(f[21], NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

bool kvm_proc_alive(const kvm_proc *p)
{
	uint64_t st;
	return p->pid > 0 && kvm_proc_starttime(p->pid, &st) == 0 && st == p->starttime;
}

uint64_t kvm_proc_uptime(const kvm_proc *p)
{
	char buf[128];
	if (read_small("/proc/uptime", buf, sizeof(buf)) < 0)
		return 0;
	double up = strtod(buf, NULL);
	double started = (double)p->starttime / (double)sysconf(_SC_CLK_TCK);
	return up > started ? (uint64_t)(up - started) : 0;
}

/* Whether the process's command line holds "-pidfile" followed by pidfile: a QEMU we started for this VM.
 * A reused pid is some other process, whose command line does not name our pid file. */
static bool cmdline_has_pidfile(pid_t pid, const char *pidfile)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* QEMU's command lines are a few KiB; this is room for hundreds of drives */
	size_t cap = 256 * 1024;
	_cleanup_free_ char *buf = xmalloc(cap + 1);
	ssize_t n = pve_read_full(fd, buf, cap);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
		char *next = a + strlen(a) + 1;
		if (streq(a, "-pidfile") && next < buf + n && streq(next, pidfile))
			return true;
	}
	return false;
}

int kvm_proc_find(const char *run_dir, long long vmid, kvm_proc *ret)
{
	_cleanup_free_ char *pidfile = kvm_run_path(run_dir, vmid, "pid");
	char buf[32];
	if (read_small(pidfile, buf, sizeof(buf)) <= 0)
		return 0;
	long long pid;
	buf[strcspn(buf, "\n")] = '\0';
	if (pve_parse_int(buf, 1, INT32_MAX, &pid) < 0)
		return 0;
	if (!cmdline_has_pidfile((pid_t)pid, pidfile))
		return 0;
	kvm_proc p = { .pid = (pid_t)pid };
	if (kvm_proc_starttime(p.pid, &p.starttime) < 0)
		return 0;
	*ret = p;
	return 1;
}
