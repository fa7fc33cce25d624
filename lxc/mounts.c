/* The container's file system view, made in its new mount namespace before pivot_root: every target is
 * resolved beneath the rootfs (openat2 RESOLVE_IN_ROOT), so a symlink in a hostile rootfs cannot put a
 * mount outside it; /proc and /sys with crun's and LXC's masked and read-only paths; a tmpfs /dev with
 * the minimal nodes, a devpts of its own and the console. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"

/* Shown as /dev/null (files) or an empty read-only tmpfs (directories): crun's and LXC's lists. */
static const char *const masked[] = { "/proc/acpi",
				      "/proc/kcore",
				      "/proc/keys",
				      "/proc/latency_stats",
				      "/proc/timer_list",
				      "/proc/timer_stats",
				      "/proc/sched_debug",
				      "/proc/scsi",
				      "/proc/sysrq-trigger",
				      "/sys/firmware",
				      "/sys/devices/virtual/powercap" };
/* Read-only: the kernel's global knobs; /proc/sys/net is made writable again (it is the netns's). */
static const char *const readonly[] = { "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
					"/proc/sys" };
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

static int open_beneath(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* Opens path beneath the root as O_PATH, making it (and its parents, as directories) when missing. */
static int make_beneath(int rootfd, const char *path, bool dir, pve_error **err)
{
	_cleanup_free_ char *copy = NULL;
	int fd = open_beneath(rootfd, path, O_PATH);
	if (fd >= 0 || fd != -ENOENT)
		goto out;
	copy = xstrdup(path);
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		char *slash = strrchr(copy, '/');
		_cleanup_free_ char *parent = xstrndup(copy, (size_t)(slash - copy) + 1);
		_cleanup_close_ int pfd = open_beneath(rootfd, parent, O_PATH | O_DIRECTORY);
		if (pfd < 0) {
			fd = pfd;
			goto out;
		}
		if (c || dir) {
			if (mkdirat(pfd, slash + 1, 0755) < 0 && errno != EEXIST) {
				fd = -errno;
				goto out;
			}
		} else {
			int f = openat(pfd, slash + 1,
				       O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
				       0644);
			if (f < 0 && errno != EEXIST) {
				fd = -errno;
				goto out;
			}
			if (f >= 0)
				close(f);
		}
		*p = c;
		if (!c)
			break;
	}
	fd = open_beneath(rootfd, path, O_PATH);
out:
	if (fd < 0)
		pve_error_set(err, -fd, "can't make mount point %s in the rootfs: %s", path,
			      strerror(-fd));
	return fd;
}

static int mount_beneath(int rootfd, const char *src, const char *target, const char *fstype,
			 unsigned long flags, const char *data, bool dir, pve_error **err)
{
	_cleanup_close_ int fd = make_beneath(rootfd, target, dir, err);
	if (fd < 0)
		return fd;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (mount(src, proc, fstype, flags, data) < 0) {
		int e = errno;
		return pve_error_set(err, e, "can't mount %s on %s: %s", src ? src : fstype, target,
				     strerror(e));
	}
	return 0;
}

/* A bind mount made read-only again: the flags the kernel locked on the source (nosuid, nodev... in a
 * user namespace) must be repeated, or the remount fails. */
static int remount_beneath(int rootfd, const char *target, unsigned long extra, pve_error **err)
{
	_cleanup_close_ int fd = open_beneath(rootfd, target, O_PATH);
	if (fd < 0)
		return pve_error_set(err, -fd, "can't open %s: %s", target, strerror(-fd));
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	struct statvfs sv;
	unsigned long keep = 0;
	if (statvfs(proc, &sv) == 0)
		keep = sv.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
				    MS_RELATIME | MS_RDONLY);
	if (mount(NULL, proc, NULL, MS_BIND | MS_REMOUNT | keep | extra, NULL) < 0) {
		int e = errno;
		return pve_error_set(err, e, "can't make %s read-only: %s", target, strerror(e));
	}
	return 0;
}

static bool exists_beneath(int rootfd, const char *path, bool *is_dir)
{
	_cleanup_close_ int fd = open_beneath(rootfd, path, O_PATH);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	*is_dir = S_ISDIR(st.st_mode);
	return true;
}

/* A pty of the container's devpts bound onto target; the master and (ret_slave non-NULL) the slave. */
static int make_pty(int rootfd, const char *target, int *ret_master, int *ret_slave,
		    pve_error **err)
{
	_cleanup_close_ int master = open_beneath(rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
	if (master < 0)
		return pve_error_set(err, -master, "can't open the container's ptmx: %s",
				     strerror(-master));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return pve_error_set(err, errno, "can't unlock the pty for %s: %s", target,
				     strerror(errno));
	_cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return pve_error_set(err, errno, "can't open the pty for %s: %s", target,
				     strerror(errno));
	char src[64];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
	int r = mount_beneath(rootfd, src, target, NULL, MS_BIND, NULL, false, err);
	if (r < 0)
		return r;
	*ret_master = TAKE_FD(master);
	if (ret_slave)
		*ret_slave = TAKE_FD(slave);
	return 0;
}

static int setup_dev(const lxc_spec *s, int rootfd, int *masters, int *ret_slave, pve_error **err)
{
	int r = mount_beneath(rootfd, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
			      "mode=755,size=4096k", true, err);
	if (r < 0)
		return r;
	_cleanup_close_ int devfd = open_beneath(rootfd, "/dev", O_PATH | O_DIRECTORY);
	if (devfd < 0)
		return pve_error_set(err, -devfd, "can't open /dev: %s", strerror(-devfd));
	for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
		_cleanup_free_ char *host = xasprintf("/dev/%s", dev_nodes[i]);
		_cleanup_free_ char *in = xasprintf("/dev/%s", dev_nodes[i]);
		struct stat st;
		if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode))
			continue;
		/* a user namespace may not mknod: there the host's node is bound in */
		if (!s->unprivileged &&
		    mknodat(devfd, dev_nodes[i], S_IFCHR | 0666, st.st_rdev) == 0 &&
		    fchmodat(devfd, dev_nodes[i], 0666, 0) == 0)
			continue;
		r = mount_beneath(rootfd, host, in, NULL, MS_BIND, NULL, false, err);
		if (r < 0)
			return r;
	}
	if (s->fuse) {
		r = mount_beneath(rootfd, "/dev/fuse", "/dev/fuse", NULL, MS_BIND, NULL, false,
				  err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < s->n_devs; i++) {
		const lxc_dev *d = &s->devs[i];
		if (!d->path || d->path[0] != '/' || strstr(d->path, ".."))
			return pve_error_set(err, EINVAL, "bad device path '%s'",
					     d->path ? d->path : "");
		r = mount_beneath(rootfd, d->path, d->path, NULL, MS_BIND, NULL, false, err);
		if (r == 0 && d->deny_write)
			r = remount_beneath(rootfd, d->path, MS_RDONLY, err);
		if (r < 0)
			return r;
	}
	const char *links[][2] = { { "pts/ptmx", "ptmx" },
				   { "/proc/self/fd", "fd" },
				   { "/proc/self/fd/0", "stdin" },
				   { "/proc/self/fd/1", "stdout" },
				   { "/proc/self/fd/2", "stderr" } };
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		if (symlinkat(links[i][0], devfd, links[i][1]) < 0 && errno != EEXIST)
			return pve_error_set(err, errno, "can't make /dev/%s: %s", links[i][1],
					     strerror(errno));
	/* gid 5 is tty's in Debian and busybox alike; a map without it makes devpts refuse gid=5 */
	r = mount_beneath(rootfd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0666,mode=0620,gid=5", true, NULL);
	if (r < 0)
		r = mount_beneath(rootfd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
				  "newinstance,ptmxmode=0666,mode=0620", true, err);
	if (r < 0)
		return r;
	r = mount_beneath(rootfd, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=1777", true, err);
	if (r < 0)
		return r;
	(void)mount_beneath(rootfd, "mqueue", "/dev/mqueue", "mqueue",
			    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true, NULL);
	/* the console and the ttys: ptys of the container's own devpts; the monitor holds the masters
	 * (the caller closes what was made when a later one fails) */
	r = make_pty(rootfd, "/dev/console", &masters[0], ret_slave, err);
	for (unsigned i = 1; r == 0 && i <= lxc_ttys(s); i++) {
		char tty[32];
		snprintf(tty, sizeof(tty), "/dev/tty%u", i);
		r = make_pty(rootfd, tty, &masters[i], NULL, err);
	}
	return r;
}

int lxc_mounts_setup(const lxc_spec *s, int *masters, int *ret_slave, pve_error **err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return pve_error_set(err, errno, "can't make / private: %s", strerror(errno));
	if (mount(s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return pve_error_set(err, errno, "can't bind the rootfs %s: %s", s->rootfs,
				     strerror(errno));
	_cleanup_close_ int rootfd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return pve_error_set(err, errno, "can't open the rootfs %s: %s", s->rootfs,
				     strerror(errno));
	int r;
	for (size_t i = 0; i < s->n_mounts; i++) {
		const lxc_mount *m = &s->mounts[i];
		struct stat st;
		if (!m->target || m->target[0] != '/' || !m->source)
			return pve_error_set(err, EINVAL, "mount point %zu has no absolute target",
					     i);
		if (stat(m->source, &st) < 0)
			return pve_error_set(err, errno, "mount source %s: %s", m->source,
					     strerror(errno));
		r = mount_beneath(rootfd, m->source, m->target, NULL, MS_BIND | MS_REC, NULL,
				  S_ISDIR(st.st_mode), err);
		if (r == 0 && (m->ro || m->flags))
			r = remount_beneath(rootfd, m->target, (m->ro ? MS_RDONLY : 0) | m->flags,
					    err);
		if (r < 0)
			return r;
	}
	r = mount_beneath(rootfd, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
			  true, err);
	if (r < 0)
		return r;
	unsigned long sysro = (s->force_rw_sys && !s->unprivileged) ? 0 : MS_RDONLY;
	r = mount_beneath(rootfd, "sysfs", "/sys", "sysfs",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC | sysro, NULL, true, err);
	if (r < 0)
		return r;
	/* the cgroup namespace's root is the container's own ns cgroup: nothing above it shows */
	r = mount_beneath(rootfd, "cgroup2", "/sys/fs/cgroup", "cgroup2",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true, err);
	if (r < 0)
		return r;
	r = setup_dev(s, rootfd, masters, ret_slave, err);
	if (r < 0)
		return r;
	/* Proxmox's nesting exposes /proc and /sys as they are (its documentation says so): a nested
	 * runtime can only mount its own proc where no mount hides part of this one. The user
	 * namespace still guards the host's knobs; a privileged container keeps its masks. */
	if (s->nesting && s->unprivileged)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(masked); i++) {
		bool dir;
		if (!exists_beneath(rootfd, masked[i], &dir))
			continue;
		if (dir)
			r = mount_beneath(rootfd, "tmpfs", masked[i], "tmpfs",
					  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0",
					  true, err);
		else
			r = mount_beneath(rootfd, "/dev/null", masked[i], NULL, MS_BIND, NULL,
					  false, err);
		if (r < 0)
			return r;
	}
	/* /proc/sys/net is the container's own netns: bound onto itself first, so the read-only
	 * recursive bind of /proc/sys below carries it along writable */
	_cleanup_free_ char *net = xasprintf("%s/proc/sys/net", s->rootfs);
	(void)mount_beneath(rootfd, net, "/proc/sys/net", NULL, MS_BIND | MS_REC, NULL, true, NULL);
	for (size_t i = 0; i < ELEMENTSOF(readonly); i++) {
		bool dir;
		if (!exists_beneath(rootfd, readonly[i], &dir))
			continue;
		_cleanup_free_ char *host = xasprintf("%s%s", s->rootfs, readonly[i]);
		r = mount_beneath(rootfd, host, readonly[i], NULL, MS_BIND | MS_REC, NULL, dir,
				  err);
		if (r == 0)
			r = remount_beneath(rootfd, readonly[i], MS_RDONLY, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int lxc_pivot_root(const char *rootfs, pve_error **err)
{
	if (chdir(rootfs) < 0)
		return pve_error_set(err, errno, "can't enter %s: %s", rootfs, strerror(errno));
	/* pivot_root(".", "."): the old root ends up under the new one and is detached right away */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return pve_error_set(err, errno, "pivot_root into %s failed: %s", rootfs,
				     strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return pve_error_set(err, errno, "can't detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		return pve_error_set(err, errno, "chdir /: %s", strerror(errno));
	return 0;
}
