/* The container's cgroup: <cgroup2 mount>/<parent>/<vmid> holds the limits, its child "ns" the processes
 * (the init's cgroup namespace starts there, so nothing inside can raise its own limits), as LXC does. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

char *lxc_cgroup_dir(const lxc_spec *s, pve_error **err)
{
	_cleanup_free_ char *mount = pve_cgroup2_mount();
	if (!mount) {
		pve_error_set(err, ENOENT, "no cgroup2 file system is mounted");
		return NULL;
	}
	const char *parent = s->cgroup_parent ? s->cgroup_parent : "lxc.slice";
	if (parent[0] == '/' || strstr(parent, "..")) {
		pve_error_set(err, EINVAL,
			      "cgroup parent '%s' is not a path below the cgroup2 mount", parent);
		return NULL;
	}
	return xasprintf("%s/%s/%lld", mount, parent, s->vmid);
}

int lxc_cgroup_write(const char *dir, const char *file, const char *value)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		return -errno;
	return 0;
}

static bool has_controller(const char *dir, const char *ctrl)
{
	_cleanup_free_ char *path = xasprintf("%s/cgroup.controllers", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char buf[512] = "";
	if (!f || !fgets(buf, sizeof(buf), f))
		return false;
	_cleanup_strv_free_ char **v = pve_strv_split(buf, " \n");
	for (char **p = v; *p; p++)
		if (streq(*p, ctrl))
			return true;
	return false;
}

int lxc_cgroup_enable(const char *dir, const char *ctrl, pve_error **err)
{
	if (has_controller(dir, ctrl))
		return 0;
	_cleanup_free_ char *mount = pve_cgroup2_mount();
	size_t ml = mount ? strlen(mount) : 0;
	if (!mount || strncmp(dir, mount, ml) != 0 || dir[ml] != '/')
		return pve_error_set(err, ENOENT, "%s is not below the cgroup2 mount", dir);
	/* top down: each cgroup above dir that has ctrl gives it to its children */
	_cleanup_free_ char *path = xstrdup(dir);
	for (char *p = path + ml + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		_cleanup_free_ char *up = xstrndup(path, (size_t)(strrchr(path, '/') - path));
		bool ok = has_controller(up, ctrl);
		if (ok && !has_controller(path, ctrl)) {
			_cleanup_free_ char *v = xasprintf("+%s", ctrl);
			(void)lxc_cgroup_write(up, "cgroup.subtree_control", v);
		}
		*p = '/';
		if (!ok)
			break;
	}
	_cleanup_free_ char *parent = xstrndup(dir, (size_t)(strrchr(dir, '/') - dir));
	_cleanup_free_ char *v = xasprintf("+%s", ctrl);
	if (has_controller(parent, ctrl))
		(void)lxc_cgroup_write(parent, "cgroup.subtree_control", v);
	if (!has_controller(dir, ctrl))
		return pve_error_set(err, ENOTSUP,
				     "the cgroup controller '%s' is not available for %s", ctrl,
				     dir);
	return 0;
}

size_t lxc_limit_files(const lxc_spec *s, unsigned which, bool reset, lxc_limit_file out[4])
{
	size_t n = 0;
	if (which & LXC_LIMIT_MEMORY) {
		if (s->memory_bytes > 0 || reset) {
			out[n].file = "memory.max";
			if (s->memory_bytes > 0)
				snprintf(out[n++].value, 64, "%" PRIu64, s->memory_bytes);
			else
				snprintf(out[n++].value, 64, "max");
		}
		/* swap is limited only while memory is */
		bool swap = s->memory_bytes > 0 && s->swap_bytes >= 0;
		if (swap || reset) {
			out[n].file = "memory.swap.max";
			if (swap)
				snprintf(out[n++].value, 64, "%" PRId64, s->swap_bytes);
			else
				snprintf(out[n++].value, 64, "max");
		}
	}
	if ((which & LXC_LIMIT_CPU_MAX) && (s->cpu_quota_us > 0 || reset)) {
		out[n].file = "cpu.max";
		if (s->cpu_quota_us > 0)
			snprintf(out[n++].value, 64, "%" PRIu64 " 100000", s->cpu_quota_us);
		else
			snprintf(out[n++].value, 64, "max 100000");
	}
	if ((which & LXC_LIMIT_CPU_WEIGHT) && (s->cpu_weight > 0 || reset)) {
		unsigned w = s->cpu_weight ? s->cpu_weight : 100;
		out[n].file = "cpu.weight";
		snprintf(out[n++].value, 64, "%u", w > 10000 ? 10000 : w);
	}
	return n;
}

bool lxc_limit_is_default(const lxc_limit_file *f)
{
	return startswith(f->value, "max") ||
	       (streq(f->file, "cpu.weight") && streq(f->value, "100"));
}

int lxc_cgroup_create(const lxc_spec *s, const char *dir, pve_error **err)
{
	/* dir is <mount>/<parent>/<vmid>, the parent never empty (lxc_cgroup_dir) */
	const char *parent = s->cgroup_parent ? s->cgroup_parent : "lxc.slice";
	_cleanup_free_ char *tail = xasprintf("/%s/%lld", parent, s->vmid);
	if (!endswith(dir, tail) || strlen(dir) == strlen(tail))
		return pve_error_set(err, EINVAL, "%s is not CT %lld's cgroup", dir, s->vmid);
	_cleanup_free_ char *mount = xstrndup(dir, strlen(dir) - strlen(tail));
	struct {
		const char *ctrl, *what;
		bool wanted;
	} want[] = {
		{ "memory", "memory", s->memory_bytes > 0 || s->swap_bytes >= 0 },
		{ "cpu", "cpulimit/cpuunits", s->cpu_quota_us > 0 || s->cpu_weight > 0 },
		{ "pids", "a pids limit", s->pids_max > 0 },
		{ "cpuset", "cpuset", s->cpuset && *s->cpuset },
	};
	/* mkdir -p below the mount, enabling each wanted controller on the way down */
	_cleanup_free_ char *path = xstrdup(dir);
	for (char *p = path + strlen(mount) + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		_cleanup_free_ char *up = xstrndup(path, (size_t)(strrchr(path, '/') - path));
		for (size_t i = 0; i < ELEMENTSOF(want); i++) {
			if (!want[i].wanted)
				continue;
			if (!has_controller(up, want[i].ctrl)) {
				int e = ENOTSUP;
				*p = c;
				return pve_error_set(
					err, e,
					"%s needs the cgroup controller '%s', which %s "
					"does not have",
					want[i].what, want[i].ctrl, up);
			}
			_cleanup_free_ char *v = xasprintf("+%s", want[i].ctrl);
			(void)lxc_cgroup_write(up, "cgroup.subtree_control", v);
		}
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			*p = c;
			return pve_error_set(err, e, "can't create cgroup %s: %s", path,
					     strerror(e));
		}
		*p = c;
		if (!c)
			break;
	}
	char v[128];
	lxc_limit_file lim[6];
	size_t n = lxc_limit_files(s, LXC_LIMIT_MEMORY | LXC_LIMIT_CPU_MAX | LXC_LIMIT_CPU_WEIGHT,
				   false, lim);
	if (s->pids_max > 0) {
		lim[n].file = "pids.max";
		snprintf(lim[n++].value, 64, "%" PRIu64, s->pids_max);
	}
	if (s->cpuset && *s->cpuset) {
		lim[n].file = "cpuset.cpus";
		snprintf(lim[n++].value, 64, "%s", s->cpuset);
	}
	for (size_t i = 0; i < n; i++) {
		int r = lxc_cgroup_write(dir, lim[i].file, lim[i].value);
		if (r < 0) {
			lxc_cgroup_destroy(dir);
			return pve_error_set(err, -r, "can't set %s to %s in %s: %s", lim[i].file,
					     lim[i].value, dir, strerror(-r));
		}
	}
	snprintf(v, sizeof(v), "%s/ns", dir);
	if (mkdir(v, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		lxc_cgroup_destroy(dir);
		return pve_error_set(err, e, "can't create cgroup %s: %s", v, strerror(e));
	}
	/* the mapped root owns its namespace's cgroup, so an init inside (systemd) can make its own */
	uid_t u = lxc_idmap_root(s, 'u');
	gid_t g = lxc_idmap_root(s, 'g');
	if (u || g) {
		const char *own[] = { "", "/cgroup.procs", "/cgroup.subtree_control",
				      "/cgroup.threads" };
		for (size_t i = 0; i < ELEMENTSOF(own); i++) {
			_cleanup_free_ char *f = xasprintf("%s%s", v, own[i]);
			if (chown(f, u, g) < 0 && errno != ENOENT)
				return pve_error_set(err, errno,
						     "can't hand %s to the container: %s", f,
						     strerror(errno));
		}
	}
	return 0;
}

static void kill_procs(const char *dir)
{
	_cleanup_free_ char *path = xasprintf("%s/cgroup.procs", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[32];
	while (f && fgets(line, sizeof(line), f)) {
		long long pid;
		line[strcspn(line, "\n")] = '\0';
		if (pve_parse_int(line, 1, INT32_MAX, &pid) == 0)
			(void)kill((pid_t)pid, SIGKILL);
	}
}

static bool populated(const char *dir)
{
	_cleanup_free_ char *path = xasprintf("%s/cgroup.events", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[64];
	while (f && fgets(line, sizeof(line), f))
		if (streq(line, "populated 1\n"))
			return true;
	return false;
}

/* A cgroup and the ones an init made below it (systemd does), deepest first, at most 16 levels. */
static int rm_tree(const char *dir, int depth)
{
	if (depth < 16) {
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_type == DT_DIR && e->d_name[0] != '.') {
				_cleanup_free_ char *c = xasprintf("%s/%s", dir, e->d_name);
				(void)rm_tree(c, depth + 1);
			}
		if (d)
			closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int lxc_cgroup_destroy(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (lxc_cgroup_write(dir, "cgroup.kill", "1") < 0) {
		/* no cgroup.kill (before 5.14): each pid, the init's namespace first */
		_cleanup_free_ char *ns = xasprintf("%s/ns", dir);
		for (int round = 0; round < 20 && populated(dir); round++) {
			kill_procs(ns);
			kill_procs(dir);
			usleep(5000);
		}
	}
	/* dying processes leave the cgroup within milliseconds; 2 s bounds a stuck one */
	for (int i = 0; i < 400 && populated(dir); i++)
		usleep(5000);
	return rm_tree(dir, 0);
}
