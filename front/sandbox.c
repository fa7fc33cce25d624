/* The sandbox of pved-api: an empty chroot, an unprivileged user, no_new_privs and a seccomp allow-list
 * of what libevent, OpenSSL and glibc need to serve connections that are already set up. */
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#include "front/front-internal.h"

/* Everything else kills the process: a compromised front has no way to reach the kernel's wider
 * surface. Sanitizer builds need more (they read /proc, install alternate stacks), so there an
 * unlisted call fails with EPERM instead. */
static const int allowed[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pread64),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(accept),
	SCMP_SYS(accept4),
	SCMP_SYS(close),
	SCMP_SYS(shutdown),
	SCMP_SYS(openat),
	SCMP_SYS(openat2),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(lseek),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(mprotect),
	SCMP_SYS(brk),
	SCMP_SYS(madvise),
	SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	SCMP_SYS(futex),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(getpeername),
	SCMP_SYS(getsockname),
	SCMP_SYS(fcntl),
	SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(timerfd_create),
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime),
	SCMP_SYS(eventfd2),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(tgkill),
	SCMP_SYS(sched_yield),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(sysinfo),
	SCMP_SYS(uname),
	SCMP_SYS(prlimit64),
	SCMP_SYS(getrlimit),
	SCMP_SYS(sigaltstack),
};

int pve_front_seccomp(pve_error **err)
{
#ifdef PVE_SANITIZE
	uint32_t deflt = SCMP_ACT_ERRNO(EPERM);
#else
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
#endif
	scmp_filter_ctx ctx = seccomp_init(deflt);
	if (!ctx)
		return pve_error_set(err, ENOMEM, "seccomp_init failed");
	int r = 0;
	for (size_t i = 0; i < ELEMENTSOF(allowed) && r == 0; i++)
		if (allowed[i] >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* libevent asks how much a socket holds with FIONREAD; no other ioctl. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FIONREAD));
	/* The worker threads exist already: the filter (and no_new_privs with it) covers them all. No
	 * thread or process can be made after it. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return pve_error_set(err, -r, "installing the seccomp filter failed: %s",
				     strerror(-r));
	return 0;
}

int pve_front_sandbox(const char *chroot_dir, const char *user, pve_error **err)
{
	if (geteuid() == 0) {
		errno = 0;
		struct passwd *pw = getpwnam(user ? user : "www-data");
		if (!pw)
			return pve_error_set(err, errno ? errno : ENOENT, "no such user '%s'",
					     user ? user : "www-data");
		uid_t uid = pw->pw_uid;
		gid_t gid = pw->pw_gid;
		if (uid == 0)
			return pve_error_set(err, EINVAL,
					     "refusing to run the front as uid 0 ('%s')", user);
		if (chroot_dir) {
			if (chroot(chroot_dir) < 0)
				return pve_error_set(err, errno, "chroot %s: %m", chroot_dir);
			if (chdir("/") < 0)
				return pve_error_set(err, errno, "chdir /: %m");
		}
		if (setgroups(0, NULL) < 0)
			return pve_error_set(err, errno, "setgroups: %m");
		if (setresgid(gid, gid, gid) < 0)
			return pve_error_set(err, errno, "setresgid %u: %m", (unsigned)gid);
		if (setresuid(uid, uid, uid) < 0)
			return pve_error_set(err, errno, "setresuid %u: %m", (unsigned)uid);
		/* Make sure the way back is closed. */
		if (setuid(0) == 0 || seteuid(0) == 0)
			return pve_error_set(err, EPERM, "could regain root after dropping it");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return pve_error_set(err, errno, "PR_SET_NO_NEW_PRIVS: %m");
	return pve_front_seccomp(err);
}
