/* The cgroup of each QEMU: qemu.slice/<vmid>.scope below the cgroup2 mount (the v1 hierarchies are never
 * touched), with cpu.weight and cpu.max where the cpu controller is delegated. */
#include <fcntl.h>
#include <sys/stat.h>

#include "kvm/kvm-internal.h"

char *kvm_cgroup2_mount(void)
{
	return pve_cgroup2_mount();
}

/* Nodes of tests share a machine: a root other than "/" gets a slice of its own. FNV-1a of the root. */
static char *base_path(const char *mount, const char *root)
{
	_cleanup_free_ char *slice = pve_cgroup_node_slice(root);
	if (!slice)
		return xasprintf("%s/qemu.slice", mount);
	return xasprintf("%s/%s/qemu.slice", mount, slice);
}

char *kvm_cgroup_path(const char *root, long long vmid)
{
	_cleanup_free_ char *mount = kvm_cgroup2_mount();
	if (!mount)
		return NULL;
	_cleanup_free_ char *base = base_path(mount, root);
	return xasprintf("%s/%lld.scope", base, vmid);
}

static int write_file(const char *dir, const char *name, const char *value)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
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

int kvm_cgroup_create(const char *root, long long vmid, unsigned cpuunits, double cpulimit,
		      char **ret_path, char **ret_note, pve_error **err)
{
	_cleanup_free_ char *mount = kvm_cgroup2_mount();
	if (!mount)
		return pve_error_set(err, ENOENT, "no cgroup2 file system is mounted");
	_cleanup_free_ char *path = kvm_cgroup_path(root, vmid);
	/* mkdir -p below the mount, delegating the cpu controller on the way where it exists */
	bool cpu = has_controller(mount, "cpu");
	for (char *p = path + strlen(mount) + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		_cleanup_free_ char *parent = xstrndup(path, (size_t)(strrchr(path, '/') - path));
		if (cpu)
			(void)write_file(parent, "cgroup.subtree_control", "+cpu");
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
	pve_buf note = { 0 };
	char value[64];
	/* Proxmox's cpuunits on cgroup v2: 1-10000, 100 by default; cpulimit N is N CPUs' time. */
	if (cpuunits) {
		snprintf(value, sizeof(value), "%u", cpuunits > 10000 ? 10000 : cpuunits);
		if (write_file(path, "cpu.weight", value) < 0)
			pve_buf_puts(&note, "cpu.weight (cpuunits)");
	}
	if (cpulimit > 0) {
		snprintf(value, sizeof(value), "%.0f 100000", cpulimit * 100000);
		if (write_file(path, "cpu.max", value) < 0)
			pve_buf_printf(&note, "%scpu.max (cpulimit)", note.len ? ", " : "");
	}
	if (ret_note)
		*ret_note = note.len ? xasprintf("the cgroup has no %s: the cpu controller is not "
						 "delegated here",
						 note.data) :
				       NULL;
	pve_buf_free(&note);
	if (ret_path)
		*ret_path = TAKE_PTR(path);
	return 0;
}

int kvm_cgroup_enter(const char *cgroup_path, pid_t pid, pve_error **err)
{
	char value[32];
	snprintf(value, sizeof(value), "%d", (int)pid);
	int r = write_file(cgroup_path, "cgroup.procs", value);
	if (r < 0)
		return pve_error_set(err, -r, "can't move %d into cgroup %s: %s", (int)pid,
				     cgroup_path, strerror(-r));
	return 0;
}

int kvm_cgroup_remove(const char *root, long long vmid)
{
	_cleanup_free_ char *path = kvm_cgroup_path(root, vmid);
	if (!path)
		return 0;
	if (rmdir(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
