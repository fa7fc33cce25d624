/* The container runtime's parsers and pure helpers: the cgroup2 mount from mountinfo, the node slice,
 * the run file, the cgroup directory's checks and the seccomp program. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc/lxc-internal.h"
#include "tests/unit/test.h"

static const char hybrid[] =
	"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
	"25 22 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
	"26 25 0:23 / /sys/fs/cgroup ro shared:8 - tmpfs tmpfs ro,mode=755\n"
	"27 26 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
	"28 26 0:25 / /sys/fs/cgroup/memory rw shared:10 - cgroup cgroup rw,memory";

static void mountinfo_hybrid(void)
{
	_cleanup_free_ char *m = pve_cgroup2_mount_parse(hybrid, strlen(hybrid));
	check_streq(m, "/sys/fs/cgroup/unified");
}

static void mountinfo_pure_and_none(void)
{
	const char *pure = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	_cleanup_free_ char *m = pve_cgroup2_mount_parse(pure, strlen(pure));
	check_streq(m, "/sys/fs/cgroup");
	const char *none = "22 1 254:0 / / rw - ext4 /dev/vda rw\n";
	check(pve_cgroup2_mount_parse(none, strlen(none)) == NULL);
	check(pve_cgroup2_mount_parse("", 0) == NULL);
	/* an escaped mount point is not guessed at; a fstype that only starts so is not cgroup2 */
	const char *odd = "1 1 0:1 / /a\\040b rw - cgroup2 x rw\n2 1 0:1 / /c rw - cgroup2x x rw\n";
	check(pve_cgroup2_mount_parse(odd, strlen(odd)) == NULL);
	/* a line longer than any real one is skipped, the next one still read */
	pve_buf b = { 0 };
	for (int i = 0; i < 5000; i++)
		pve_buf_puts(&b, "x");
	pve_buf_puts(&b, " - cgroup2 y\n3 1 0:1 / /ok rw - cgroup2 cgroup2 rw\n");
	_cleanup_free_ char *m2 = pve_cgroup2_mount_parse(b.data, b.len);
	check_streq(m2, "/ok");
	pve_buf_free(&b);
}

static void node_slice(void)
{
	check(pve_cgroup_node_slice(NULL) == NULL);
	check(pve_cgroup_node_slice("/") == NULL);
	_cleanup_free_ char *a = pve_cgroup_node_slice("/tmp/node1");
	_cleanup_free_ char *b = pve_cgroup_node_slice("/tmp/node2");
	check(a && startswith(a, "pved-") && endswith(a, ".slice") && strlen(a) == 19);
	check(a && b && !streq(a, b));
}

static void runinfo_roundtrip(void)
{
	lxc_runinfo ri = { .init_pid = 1234,
			   .starttime = 98765,
			   .monitor_pid = 1233,
			   .caps = 0x1fcfdfcffffull,
			   .userns = true };
	strcpy(ri.cgroup, "/sys/fs/cgroup/lxc.slice/100");
	_cleanup_(pve_error_freep) pve_error *err = NULL;
	check_int(lxc_runinfo_write(test_tmpdir(), 100, &ri, &err), 0);
	lxc_runinfo got;
	check_int(lxc_runinfo_read(test_tmpdir(), 100, &got), 0);
	check_int(got.init_pid, 1234);
	check_int(got.starttime, 98765);
	check_int(got.monitor_pid, 1233);
	check_streq(got.cgroup, ri.cgroup);
	check(got.caps == ri.caps);
	check(got.userns);
	check_int(lxc_runinfo_read(test_tmpdir(), 101, &got), -ENOENT);
}

static void runinfo_bad(void)
{
	lxc_runinfo ri;
	const char *bad[] = {
		"",
		"monitor 5\n",
		"init 0 5\n",
		"init -3 5\n",
		"init 5\n",
		"init 5 x\n",
		"init 5 6\ncgroup relative/path\n",
		"init 5 6\ncgroup /sys/fs/cgroup/../../etc\n",
		"init 5 6\nnovalue\n",
		"init 5 6\ncaps -1\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (lxc_runinfo_parse(bad[i], strlen(bad[i]), &ri) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
	const char *newer = "init 5 6\nfuture key\n";
	check_int(lxc_runinfo_parse(newer, strlen(newer), &ri), 0);
	_cleanup_free_ char *big = xcalloc(1, LXC_RUNINFO_MAX + 2);
	memset(big, 'a', LXC_RUNINFO_MAX + 1);
	check_int(lxc_runinfo_parse(big, LXC_RUNINFO_MAX + 1, &ri), -EINVAL);
	/* a pid file that is not ours is "stopped", not an error of the caller's making */
	_cleanup_free_ char *p = xasprintf("%s/7.pid", test_tmpdir());
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	check(fd >= 0 && write(fd, "init 1 1\n", 9) == 9);
	check_int(lxc_state(test_tmpdir(), 7, NULL), 0);
}

static void cgroup_dir_checks(void)
{
	_cleanup_free_ char *mount = pve_cgroup2_mount();
	if (!mount) {
		test_skip("no cgroup2 mount");
		return;
	}
	lxc_spec s = { .vmid = 105 };
	_cleanup_(pve_error_freep) pve_error *err = NULL;
	_cleanup_free_ char *d = lxc_cgroup_dir(&s, &err);
	_cleanup_free_ char *want = xasprintf("%s/lxc.slice/105", mount);
	check_streq(d, want);
	char up[] = "../escape", abs_[] = "/abs";
	s.cgroup_parent = up;
	check(lxc_cgroup_dir(&s, &err) == NULL && err && err->code == EINVAL);
	pve_error_free(err);
	err = NULL;
	s.cgroup_parent = abs_;
	check(lxc_cgroup_dir(&s, &err) == NULL && err && err->code == EINVAL);
}

static void seccomp_program(void)
{
	lxc_spec s = { .vmid = 1 };
	_cleanup_(pve_error_freep) pve_error *err = NULL;
	scmp_filter_ctx ctx = lxc_seccomp_build(&s, &err);
	check(ctx != NULL);
	if (!ctx)
		return;
	_cleanup_free_ char *p = xasprintf("%s/bpf", test_tmpdir());
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	check(seccomp_export_bpf(ctx, fd) == 0);
	struct stat st;
	/* pved-ctmon loads it as whole struct sock_filter entries of 8 bytes */
	check(fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size % 8 == 0 && st.st_size < 65536);
	seccomp_release(ctx);
}

static void caps_kept(void)
{
	lxc_spec s = { 0 };
	uint64_t keep = lxc_caps_keep(&s);
	check(!(keep & (1ull << CAP_SYS_MODULE)));
	check(!(keep & (1ull << CAP_SYS_TIME)));
	check(!(keep & (1ull << CAP_SYS_RAWIO)));
	check(!(keep & (1ull << CAP_MAC_ADMIN)) && !(keep & (1ull << CAP_MAC_OVERRIDE)));
	check(keep & (1ull << CAP_SYS_ADMIN));
	check(keep & (1ull << CAP_NET_ADMIN));
}

TEST_MAIN(TEST(mountinfo_hybrid), TEST(mountinfo_pure_and_none), TEST(node_slice),
	  TEST(runinfo_roundtrip), TEST(runinfo_bad), TEST(cgroup_dir_checks),
	  TEST(seccomp_program), TEST(caps_kept))
