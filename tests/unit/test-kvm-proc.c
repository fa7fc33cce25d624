/* Tests of QEMU process tracking (a pid file whose process names it, a reused pid refused, /proc figures)
 * and of the per-VM cgroup on the cgroup2 mount (as root, where there is one). */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "kvm/kvm.h"
#include "tests/unit/test.h"

static pid_t spawn(const char *pidfile_arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "sleep 30; :", "x", "-pidfile", pidfile_arg,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void write_pid(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "we");
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

static void test_find(void)
{
	const char *dir = test_tmpdir();
	_cleanup_free_ char *pidfile = kvm_run_path(dir, 123, "pid");
	check_streq(strrchr(pidfile, '/'), "/123.pid");
	kvm_proc p = { 0 };
	check_int(kvm_proc_find(dir, 123, &p), 0);

	pid_t pid = spawn(pidfile);
	usleep(50000);
	write_pid(pidfile, pid);
	check_int(kvm_proc_find(dir, 123, &p), 1);
	check_int(p.pid, pid);
	check(kvm_proc_alive(&p));
	check(kvm_proc_uptime(&p) < 5);
	uint64_t cpu = 1, rss = 0;
	check_int(kvm_proc_stat(pid, &cpu, &rss), 0);
	check(rss > 0);

	/* a process that does not name this pid file is not the VM's QEMU */
	_cleanup_free_ char *other = kvm_run_path(dir, 124, "pid");
	write_pid(other, pid);
	check_int(kvm_proc_find(dir, 124, &p), 0);
	write_pid(other, getpid());
	check_int(kvm_proc_find(dir, 124, &p), 0);

	kvm_proc same = p;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	check(!kvm_proc_alive(&same));
	check_int(kvm_proc_find(dir, 123, &p), 0);
	/* a live process with the pid but another start time is a reuse */
	kvm_proc me = { .pid = getpid() };
	check(kvm_proc_starttime(getpid(), &me.starttime) == 0);
	check(kvm_proc_alive(&me));
	me.starttime++;
	check(!kvm_proc_alive(&me));
}

static void test_cgroup(void)
{
	_cleanup_free_ char *mount = kvm_cgroup2_mount();
	if (!mount)
		return test_skip("no cgroup2 mount");
	if (geteuid() != 0)
		return test_skip("not root");
	const char *root = test_tmpdir();
	_cleanup_free_ char *path = NULL, *note = NULL;
	pve_error *e = NULL;
	int r = kvm_cgroup_create(root, 4242, 100, 1.5, &path, &note, &e);
	if (r < 0) {
		test_skip("can't create a cgroup here: %s", e->message);
		pve_error_free(e);
		return;
	}
	_cleanup_free_ char *expect = kvm_cgroup_path(root, 4242);
	check_streq(path, expect);
	check(startswith(path, mount));
	check(endswith(path, "/qemu.slice/4242.scope"));
	printf("# %s%s%s\n", path, note ? ": " : "", note ? note : "");
	pid_t pid = spawn("none");
	check_int(kvm_cgroup_enter(path, pid, NULL), 0);
	_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", path);
	char buf[64] = "";
	_cleanup_fclose_ FILE *f = fopen(procs, "re");
	check(f && fgets(buf, sizeof(buf), f));
	check_int(atoi(buf), pid);
	/* not empty: stays */
	check(kvm_cgroup_remove(root, 4242) < 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 100 && kvm_cgroup_remove(root, 4242) < 0; i++)
		usleep(10000);
	check(access(path, F_OK) != 0);
	/* the node's slices stay for the next VM; a test root's are removed here */
	char *slice = xstrdup(path);
	for (int i = 0; i < 2; i++) {
		*strrchr(slice, '/') = '\0';
		rmdir(slice);
	}
	free(slice);
	check_int(kvm_cgroup_remove(root, 4242), 0);
}

TEST_MAIN(TEST(test_find), TEST(test_cgroup))
