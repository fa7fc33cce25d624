/* A running container seen from its run files: its state, stop, freeze and stats, and the run files'
 * format itself. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

char *lxc_run_file(const char *run_dir, long long vmid, const char *suffix)
{
	return xasprintf("%s/%lld.%s", run_dir, vmid, suffix);
}

char *lxc_console_path(const char *run_dir, long long vmid, unsigned tty)
{
	if (tty == 0)
		return lxc_run_file(run_dir, vmid, "console");
	return xasprintf("%s/%lld.tty%u", run_dir, vmid, tty);
}

char *lxc_ctmon_path(void)
{
	const char *env = getenv("PVED_CTMON");
	if (env && *env)
		return xstrdup(env);
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return xstrdup("/usr/local/bin/pved-ctmon");
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	return xasprintf("%s/pved-ctmon", self);
}

unsigned long long lxc_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* after the comm's closing paren: state is field 3, starttime field 22 */
	char *p = strrchr(buf, ')');
	/* a zombie has ended: one nobody reaps (its monitor died) must not look running */
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

int lxc_runinfo_parse(const char *text, size_t len, lxc_runinfo *ret)
{
	lxc_runinfo ri = { 0 };
	bool have_init = false;
	if (len > LXC_RUNINFO_MAX)
		return -EINVAL;
	_cleanup_free_ char *copy = xstrndup(text, len);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ' ');
		if (!v)
			return -EINVAL;
		*v++ = '\0';
		long long a;
		unsigned long long u;
		if (streq(line, "init")) {
			char *sp = strchr(v, ' ');
			if (!sp)
				return -EINVAL;
			*sp++ = '\0';
			if (pve_parse_int(v, 1, INT32_MAX, &a) < 0 ||
			    pve_parse_uint(sp, ULLONG_MAX, &u) < 0)
				return -EINVAL;
			ri.init_pid = (pid_t)a, ri.starttime = u, have_init = true;
		} else if (streq(line, "monitor")) {
			if (pve_parse_int(v, 1, INT32_MAX, &a) < 0)
				return -EINVAL;
			ri.monitor_pid = (pid_t)a;
		} else if (streq(line, "cgroup")) {
			if (v[0] != '/' || strlen(v) >= sizeof(ri.cgroup) || strstr(v, ".."))
				return -EINVAL;
			strcpy(ri.cgroup, v);
		} else if (streq(line, "caps")) {
			if (pve_parse_uint(v, UINT64_MAX, &u) < 0)
				return -EINVAL;
			ri.caps = u;
		} else if (streq(line, "userns")) {
			ri.userns = streq(v, "1");
		} else if (streq(line, "nnp")) {
			ri.no_new_privs = streq(v, "1");
		}
		/* other keys: a newer writer's, ignored */
	}
	if (!have_init)
		return -EINVAL;
	*ret = ri;
	return 0;
}

int lxc_runinfo_write(const char *run_dir, long long vmid, const lxc_runinfo *ri, pve_error **err)
{
	_cleanup_free_ char *path = lxc_run_file(run_dir, vmid, "pid");
	_cleanup_free_ char *tmp = lxc_run_file(run_dir, vmid, "pid.tmp");
	_cleanup_free_ char *text = xasprintf("init %d %llu\nmonitor %d\ncgroup %s\ncaps %" PRIu64
					      "\nuserns %d\nnnp %d\n",
					      (int)ri->init_pid, ri->starttime,
					      (int)ri->monitor_pid, ri->cgroup, ri->caps,
					      ri->userns ? 1 : 0, ri->no_new_privs ? 1 : 0);
	_cleanup_close_ int fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || pve_write_all(fd, text, strlen(text)) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		(void)unlink(tmp);
		return pve_error_set(err, e, "can't write %s: %s", path, strerror(e));
	}
	return 0;
}

int lxc_runinfo_read(const char *run_dir, long long vmid, lxc_runinfo *ret)
{
	_cleanup_free_ char *path = lxc_run_file(run_dir, vmid, "pid");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	char buf[LXC_RUNINFO_MAX + 1];
	ssize_t n = pve_read_full(fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n > LXC_RUNINFO_MAX)
		return -EINVAL;
	return lxc_runinfo_parse(buf, (size_t)n, ret);
}

static int running_info(const char *run_dir, long long vmid, lxc_runinfo *ri)
{
	int r = lxc_runinfo_read(run_dir, vmid, ri);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	unsigned long long st = lxc_proc_starttime(ri->init_pid);
	return st && st == ri->starttime ? 1 : 0;
}

int lxc_state(const char *run_dir, long long vmid, lxc_running *ret)
{
	lxc_runinfo ri;
	int r = running_info(run_dir, vmid, &ri);
	if (r == 1 && ret)
		*ret = (lxc_running){ .init_pid = ri.init_pid,
				      .starttime = ri.starttime,
				      .monitor_pid = ri.monitor_pid,
				      .sync_fd = -1 };
	return r;
}

static bool sig_caught(pid_t pid, int sig)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (startswith(line, "SigCgt:"))
			return (strtoull(line + 7, NULL, 16) >> (sig - 1)) & 1;
	return false;
}

/* The signal that asks this init for a clean poweroff: systemd's SIGRTMIN+3 (what LXC sends it),
 * SIGPWR where the init catches it (LXC's default halt signal; sysvinit), busybox init's SIGUSR2
 * (poweroff; its SIGTERM would reboot), else SIGTERM. An init ignores what it does not catch. */
static int halt_signal(pid_t pid)
{
	char path[64], exe[4096];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (endswith(exe, "/systemd") && sig_caught(pid, SIGRTMIN + 3))
		return SIGRTMIN + 3;
	if (sig_caught(pid, SIGPWR))
		return SIGPWR;
	if (endswith(exe, "/busybox") && sig_caught(pid, SIGUSR2))
		return SIGUSR2;
	return SIGTERM;
}

static bool wait_pidfd(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

int lxc_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = { { "HUP", SIGHUP },   { "INT", SIGINT },	{ "QUIT", SIGQUIT },
		      { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
		      { "TERM", SIGTERM }, { "PWR", SIGPWR },	{ "WINCH", SIGWINCH } };
	if (!s || !*s)
		return -1;
	unsigned long long n;
	if (pve_parse_uint(s, (unsigned long long)SIGRTMAX, &n) == 0)
		return n > 0 ? (int)n : -1;
	if (startswith(s, "SIG"))
		s += 3;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(s, names[i].name))
			return names[i].sig;
	bool min = startswith(s, "RTMIN"), max = startswith(s, "RTMAX");
	if (!min && !max)
		return -1;
	long long off = 0;
	if (s[5] && pve_parse_int(s + 5, -(SIGRTMAX - SIGRTMIN), SIGRTMAX - SIGRTMIN, &off) < 0)
		return -1;
	int sig = (min ? SIGRTMIN : SIGRTMAX) + (int)off;
	return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
}

int lxc_stop(const char *run_dir, long long vmid, bool force, unsigned timeout_s, int halt_sig,
	     pve_error **err)
{
	lxc_runinfo ri;
	int r = running_info(run_dir, vmid, &ri);
	if (r < 0)
		return pve_error_set(err, -r, "can't read CT %lld's run file: %s", vmid,
				     strerror(-r));
	if (r == 0)
		return pve_error_set(err, ENOENT, "CT %lld is not running", vmid);
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, ri.init_pid, 0);
	/* a pid reused between the check and here: its start time differs */
	if (pidfd < 0 || lxc_proc_starttime(ri.init_pid) != ri.starttime)
		return pve_error_set(err, ENOENT, "CT %lld is not running", vmid);
	bool gone = false;
	if (!force) {
		(void)syscall(SYS_pidfd_send_signal, pidfd,
			      halt_sig > 0 ? halt_sig : halt_signal(ri.init_pid), NULL, 0);
		gone = wait_pidfd(pidfd, (int)(timeout_s > 86400 ? 86400 : timeout_s) * 1000);
	}
	if (!gone) {
		if (!ri.cgroup[0] || lxc_cgroup_write(ri.cgroup, "cgroup.kill", "1") < 0)
			(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		if (!wait_pidfd(pidfd, 10000))
			return pve_error_set(err, ETIMEDOUT,
					     "CT %lld's init did not end after SIGKILL", vmid);
	}
	/* the monitor reaps the init and removes what is left; a dead monitor leaves it to us */
	_cleanup_free_ char *pidfile = lxc_run_file(run_dir, vmid, "pid");
	_cleanup_close_ int monfd = (int)syscall(SYS_pidfd_open, ri.monitor_pid, 0);
	if (monfd >= 0)
		(void)wait_pidfd(monfd, 5000);
	if (access(pidfile, F_OK) == 0) {
		if (ri.cgroup[0])
			(void)lxc_cgroup_destroy(ri.cgroup);
		lxc_run_files_remove(run_dir, vmid);
	}
	return 0;
}

int lxc_cgroup_set(const char *run_dir, long long vmid, const char *file, const char *value,
		   pve_error **err)
{
	lxc_runinfo ri;
	int r = running_info(run_dir, vmid, &ri);
	if (r <= 0)
		return pve_error_set(err, r < 0 ? -r : ENOENT, "CT %lld is not running", vmid);
	/* the controller is the file's prefix: memory.max, cpu.weight */
	_cleanup_free_ char *ctrl = xstrndup(file, strcspn(file, "."));
	if (!*ctrl || strchr(file, '/'))
		return pve_error_set(err, EINVAL, "'%s' is no cgroup limit file", file);
	r = lxc_cgroup_enable(ri.cgroup, ctrl, err);
	if (r < 0)
		return r;
	r = lxc_cgroup_write(ri.cgroup, file, value);
	if (r < 0)
		return pve_error_set(err, -r, "can't set %s to %s in %s: %s", file, value,
				     ri.cgroup, strerror(-r));
	return 0;
}

int lxc_freeze(const char *run_dir, long long vmid, bool freeze, pve_error **err)
{
	lxc_runinfo ri;
	int r = running_info(run_dir, vmid, &ri);
	if (r <= 0)
		return pve_error_set(err, r < 0 ? -r : ENOENT, "CT %lld is not running", vmid);
	r = lxc_cgroup_write(ri.cgroup, "cgroup.freeze", freeze ? "1" : "0");
	if (r < 0)
		return pve_error_set(err, -r, "can't %s CT %lld (%s/cgroup.freeze): %s",
				     freeze ? "freeze" : "thaw", vmid, ri.cgroup, strerror(-r));
	/* cgroup.events says "frozen 1" once every task stopped; it changes with POLLPRI */
	_cleanup_free_ char *ev = xasprintf("%s/cgroup.events", ri.cgroup);
	_cleanup_close_ int fd = open(ev, O_RDONLY | O_CLOEXEC);
	const char *want = freeze ? "frozen 1" : "frozen 0";
	int64_t end = pve_now_ms() + 10000;
	while (fd >= 0) {
		char buf[256];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			break;
		buf[n] = '\0';
		if (strstr(buf, want))
			return 0;
		int64_t left = end - pve_now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = fd, .events = POLLPRI };
		(void)poll(&p, 1, left > 100 ? 100 : (int)left);
	}
	return pve_error_set(err, ETIMEDOUT, "CT %lld did not %s within 10 s", vmid,
			     freeze ? "freeze" : "thaw");
}

/* A cgroup file read whole into buf (NUL-terminated), relative to the cgroup's directory; false when
 * it is missing (a controller the cgroup lacks) or empty. */
static bool read_cg_file(int dirfd, const char *file, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pve_read_full(fd, buf, size - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* A single value ("max": UINT64_MAX), or key's value on a "key value" line. */
static uint64_t read_u64(int dirfd, const char *file, const char *key)
{
	char buf[1024];
	if (!read_cg_file(dirfd, file, buf, sizeof(buf)))
		return 0;
	size_t kl = key ? strlen(key) : 0;
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		const char *v = line;
		if (key && (strncmp(line, key, kl) != 0 || line[kl] != ' ')) {
			line = next;
			continue;
		}
		v += key ? kl + 1 : 0;
		return startswith(v, "max") ? UINT64_MAX : strtoull(v, NULL, 10);
	}
	return 0;
}

/* io.stat: a line per device, "MAJ:MIN rbytes=N wbytes=N rios=N ...". */
static void read_io_stat(int dirfd, uint64_t *ret_read, uint64_t *ret_write)
{
	char buf[8192];
	uint64_t rd = 0, wr = 0;
	if (read_cg_file(dirfd, "io.stat", buf, sizeof(buf))) {
		char *save = NULL;
		for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
			if (startswith(t, "rbytes="))
				rd += strtoull(t + 7, NULL, 10);
			else if (startswith(t, "wbytes="))
				wr += strtoull(t + 7, NULL, 10);
		}
	}
	*ret_read = rd;
	*ret_write = wr;
}

/* The cgroup's figures; the files opened beside one handle on its directory, so a list of many
 * containers walks each long cgroup path once, not once per file. */
static void cgroup_stats(const char *cgroup, lxc_stats *ret)
{
	*ret = (lxc_stats){ 0 };
	_cleanup_close_ int dirfd = open(cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return;
	ret->cpu_usec = read_u64(dirfd, "cpu.stat", "usage_usec");
	ret->mem_bytes = read_u64(dirfd, "memory.current", NULL);
	ret->mem_max = read_u64(dirfd, "memory.max", NULL);
	ret->swap_bytes = read_u64(dirfd, "memory.swap.current", NULL);
	ret->swap_max = read_u64(dirfd, "memory.swap.max", NULL);
	ret->pids = read_u64(dirfd, "pids.current", NULL);
	read_io_stat(dirfd, &ret->io_read_bytes, &ret->io_write_bytes);
}

int lxc_root_usage(const lxc_running *r, uint64_t *ret_used, uint64_t *ret_total)
{
	/* the root the init sees, as Proxmox's df of /proc/<pid>/root */
	char root[64];
	struct statvfs sv;
	snprintf(root, sizeof(root), "/proc/%d/root/", (int)r->init_pid);
	if (statvfs(root, &sv) < 0)
		return -errno;
	/* a pid reused meanwhile: another process's root */
	if (lxc_proc_starttime(r->init_pid) != r->starttime)
		return -ESRCH;
	*ret_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	*ret_total = (uint64_t)sv.f_blocks * sv.f_frsize;
	return 0;
}

int lxc_state_stats(const char *run_dir, long long vmid, lxc_running *ret, lxc_stats *ret_stats)
{
	lxc_runinfo ri;
	int r = running_info(run_dir, vmid, &ri);
	if (r != 1)
		return r;
	*ret = (lxc_running){ .init_pid = ri.init_pid,
			      .starttime = ri.starttime,
			      .monitor_pid = ri.monitor_pid,
			      .sync_fd = -1 };
	cgroup_stats(ri.cgroup, ret_stats);
	return 1;
}

int lxc_stats_read(const char *run_dir, long long vmid, lxc_stats *ret, pve_error **err)
{
	lxc_running run;
	int r = lxc_state_stats(run_dir, vmid, &run, ret);
	if (r <= 0)
		return pve_error_set(err, r < 0 ? -r : ENOENT, "CT %lld is not running", vmid);
	(void)lxc_root_usage(&run, &ret->disk_used, &ret->disk_total);
	return 0;
}
